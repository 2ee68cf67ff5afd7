"""The programs in examples/ print what their .out files say (stdin from NAME.in)."""
import pytest

from conftest import ROOT, daisy

EXAMPLES = sorted((ROOT / "examples").glob("*.dsy"))


def test_the_readme_examples_exist():
    names = {p.stem for p in EXAMPLES}
    assert {"quicksort", "primes", "queens", "hamming"} <= names


@pytest.mark.parametrize("program", EXAMPLES, ids=lambda p: p.stem)
def test_example(program):
    stdin = program.with_suffix(".in").read_text() if program.with_suffix(".in").exists() else ""
    done = daisy("run", program, stdin=stdin)
    assert done.returncode == 0, done.stderr
    assert done.stdout == program.with_suffix(".out").read_text()
