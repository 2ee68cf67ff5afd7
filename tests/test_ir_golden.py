"""Golden IR: tests/ir/NAME.dsy beside NAME.PASS.ir, the IR dump after PASS.

Regenerate the expected files after an intended change with

    DAISY_BLESS=1 python -m pytest tests/test_ir_golden.py

and read the diff before committing it. Every pass in the pipeline has its own file
for every program, so a change to any pass shows up here.
"""
import os

import pytest

from conftest import ROOT
from daisy.pipeline import PASS_NAMES, compile_source

IR = ROOT / "tests" / "ir"
CASES = [(p, name) for p in sorted(IR.glob("*.dsy")) for name in PASS_NAMES]


def dumps(program):
    out = {}
    compile_source(program.read_text(), program.name, dump_after=PASS_NAMES,
                   dump=lambda name, text: out.__setitem__(name, text))
    return out


@pytest.mark.parametrize("program,pass_name", CASES, ids=lambda x: getattr(x, "stem", x))
def test_ir_after_pass(program, pass_name):
    got = dumps(program)[pass_name]
    expected_file = program.with_suffix(f".{pass_name}.ir")
    if os.environ.get("DAISY_BLESS"):
        expected_file.write_text(got)
    assert expected_file.exists(), f"no {expected_file.name}: run with DAISY_BLESS=1"
    assert got == expected_file.read_text()


def test_every_program_has_goldens():
    assert len(list(IR.glob("*.dsy"))) >= 5
