"""Golden programs: tests/golden/NAME.dsy must print exactly NAME.out.

Each .out line may use the conformance wildcards `<error: *>` and `<function*>`. The
expected outputs were derived by hand from the language reference, not recorded from
the interpreter; regenerate nothing here. Programs reading standard input get none.
"""
import pytest

from conftest import GOLDEN, daisy, matches

PROGRAMS = sorted(GOLDEN.glob("*.dsy"))


def test_there_are_enough_golden_programs():
    assert len(PROGRAMS) >= 40


ENGINES = {"interp": ["--interp"], "jit": [], "jit-threads-4": ["--threads", "4"],
           "jit-O1": ["-O1"]}         # -O1 runs its own short LLVM pipeline (jit/engine.py)


@pytest.mark.parametrize("engine", sorted(ENGINES))
@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.stem)
def test_golden_program(program, engine):
    expected = program.with_suffix(".out").read_text().splitlines()
    done = daisy("run", *ENGINES[engine], program, timeout=300)
    assert done.returncode == 0, done.stderr
    got = done.stdout.splitlines()
    for i, want in enumerate(expected):
        assert i < len(got), f"line {i + 1}: expected {want!r}, got end of output"
        assert matches(want, got[i]), f"line {i + 1}: expected {want!r}, got {got[i]!r}"
    assert len(got) == len(expected), f"extra output: {got[len(expected):]!r}"
    assert "Traceback" not in done.stderr
