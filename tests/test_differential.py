"""Differential testing: the JIT must print exactly what the reference interpreter
prints, at 1, 2 and 4 threads, for generated programs (tests/daisygen.py says what the
generator makes and why every program terminates).

    python -m pytest tests/test_differential.py                 # CI run, deterministic
    python -m pytest tests/test_differential.py -m slow -s      # the long run, random

The default run (pyproject's addopts deselect `slow`) checks a fixed, derandomized set
of programs; the slow one many more, different each time. Each program is compiled
once without the compile cache and run on fresh runtime contexts of 1, 2 and 4
threads, in a child process, so that a crash or a hang in the JIT is reported as a
difference instead of ending the test run.

A mismatch is written, after hypothesis has shrunk it, to tests/differential/
NNN-kind-word.dsy (the prelude cut down to what it uses, and the differing lines in
its header comment); `test_regression` then checks every file there on every run.
Rename the file to say what it is about if you like; keep the number.
    python tests/daisygen.py keep PROGRAM.dsy short-name   # add one by hand
"""
import os
import pathlib

import pytest
from hypothesis import HealthCheck, given, settings

import daisygen as G

THREADS = (1, 2, 4)

# The CI run: ~150 programs of 10-25 top-level expressions (~2,700 expressions).
CI_EXAMPLES = int(os.environ.get("DAISY_DIFF_EXAMPLES", "150"))
SLOW_EXAMPLES = int(os.environ.get("DAISY_DIFF_SLOW_EXAMPLES", "2000"))


@pytest.fixture(scope="module")
def jit():
    runner = G.JitRunner(timeout=30)
    yield runner
    runner.close()


def _is_final() -> bool:
    """True when hypothesis replays the shrunk, minimal failing example."""
    try:
        from hypothesis.control import current_build_context
        return bool(current_build_context().is_final)
    except Exception:
        return False


def check(src: str, jit: G.JitRunner, *, save: bool = False) -> None:
    expected = G.run_interp(src)
    report = G.difference(expected, jit.run(src, THREADS))
    if report is None:
        return
    if save:                   # hypothesis's minimal example: cut it down further, keep it
        sig = G.signature(report)

        def still_fails(text):
            r = G.difference(G.run_interp(text), jit.run(text, THREADS))
            return r is not None and G.signature(r) == sig
        src = G.minimise(src, still_fails)
        report = G.difference(G.run_interp(src), jit.run(src, THREADS)) or report
        path = G.save_regression(src, G.mismatch_name(src, report), report)
        report += f"\n(saved as {path.relative_to(G.HERE.parent)})"
    raise AssertionError("the JIT's output differs from the interpreter's:\n" + report)


@settings(max_examples=CI_EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(G.programs())
def test_jit_matches_interpreter(jit, src):
    check(src, jit, save=_is_final())


@pytest.mark.slow
@settings(max_examples=SLOW_EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(G.programs(min_exprs=10, max_exprs=25, depth=5))
def test_jit_matches_interpreter_long(jit, src):
    check(src, jit, save=_is_final())


REGRESSION_FILES = sorted(G.REGRESSIONS.glob("*.dsy"))


@pytest.mark.parametrize("path", REGRESSION_FILES, ids=[p.stem for p in REGRESSION_FILES])
def test_regression(jit, path: pathlib.Path):
    check(path.read_text(), jit)


def test_generated_programs_are_well_formed():
    """The generator's contract, on the interpreter alone: programs parse, run quickly
    and print one line per top-level expression."""
    from hypothesis import given as given_

    @settings(max_examples=40, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given_(G.programs())
    def each(src):
        out = G.run_interp(src, timeout=10)
        assert len(out.splitlines()) == G.count_expressions(src)
    each()
