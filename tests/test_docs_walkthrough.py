"""docs/jit.md follows tests/ir/walkthrough.dsy through the back end's passes and
quotes the dumps. Each quoted block that opens with `;; walkthrough.PASS.ir` must be
a run of consecutive lines of that golden file (tests/test_ir_golden.py keeps the
golden files equal to what the compiler prints), and the program it shows must be
the program's own lines: so the walkthrough cannot drift from the compiler."""
import re

from conftest import ROOT

DOC = ROOT / "docs" / "jit.md"
IR = ROOT / "tests" / "ir"


def code_blocks():
    return re.findall(r"^```\n(.*?)^```\n", DOC.read_text(), flags=re.S | re.M)


def quoted_dumps():
    out = []
    for block in code_blocks():
        lines = block.rstrip("\n").split("\n")
        m = re.fullmatch(r";; (walkthrough\.\w+\.ir)", lines[0])
        if m:
            out.append((m.group(1), lines[1:]))
    return out


def is_run_of(part: list[str], whole: list[str]) -> bool:
    n = len(part)
    return any(whole[i:i + n] == part for i in range(len(whole) - n + 1))


def test_the_walkthrough_quotes_several_passes():
    passes = {name.split(".")[1] for name, _ in quoted_dumps()}
    assert {"callmodes", "lower", "reps", "loops", "sparks", "allocs", "roots"} <= passes


def test_every_quoted_dump_is_what_the_compiler_prints():
    for name, lines in quoted_dumps():
        golden = (IR / name).read_text().split("\n")
        assert lines and is_run_of(lines, golden), (
            f"docs/jit.md quotes {name}, but these lines are not in it as written:\n"
            + "\n".join(lines))


def test_the_program_shown_is_the_program_compiled():
    source = (IR / "walkthrough.dsy").read_text().split("\n")
    shown = [b for b in code_blocks() if b.startswith("nfib = ")]
    assert len(shown) == 1
    for line in shown[0].rstrip("\n").split("\n"):
        assert line in source, line
