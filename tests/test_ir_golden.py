"""Golden IR: tests/ir/NAME.dsy beside NAME.PASS.ir, the IR dump after PASS.

Regenerate the expected files after an intended change with

    DAISY_BLESS=1 python -m pytest tests/test_ir_golden.py

and read the diff before committing it. Every pass in the pipeline has its own file
for every program, so a change to any pass shows up here; the dumps of the last two
passes (`llvm`: LLVM's optimised IR, `codegen`: assembly) are large and say more
about LLVM than about daisy, so only the programs in MACHINE_LEVEL have them. The back
end compiles for a generic x86-64 CPU here (jit/engine.py Target(generic=True)), so
the files do not depend on the machine the tests run on.
"""
import functools
import os
import platform

import pytest

from conftest import ROOT
from daisy.pipeline import DEFAULT_OPT, PASS_NAMES, compile_source

IR = ROOT / "tests" / "ir"
MACHINE = {"llvm", "codegen"}
MACHINE_LEVEL = {"fixnum"}
CASES = [(p, name) for p in sorted(IR.glob("*.dsy")) for name in PASS_NAMES
         if name not in MACHINE or p.stem in MACHINE_LEVEL]


@functools.cache
def dumps(program):
    from daisy.jit.engine import Target
    out = {}
    machine = program.stem in MACHINE_LEVEL
    wanted = PASS_NAMES if machine else [n for n in PASS_NAMES if n not in MACHINE]
    compile_source(program.read_text(), program.name, dump_after=wanted,
                   dump=lambda name, text: out.__setitem__(name, text),
                   target=Target(DEFAULT_OPT, generic=True))
    return out


@pytest.mark.parametrize("program,pass_name", CASES, ids=lambda x: getattr(x, "stem", x))
def test_ir_after_pass(program, pass_name):
    if pass_name in MACHINE and platform.machine() not in ("x86_64", "AMD64"):
        pytest.skip("machine-level goldens are for x86-64")
    got = dumps(program)[pass_name]
    expected_file = program.with_suffix(f".{pass_name}.ir")
    if os.environ.get("DAISY_BLESS"):
        expected_file.write_text(got)
    assert expected_file.exists(), f"no {expected_file.name}: run with DAISY_BLESS=1"
    assert got == expected_file.read_text()


def test_every_program_has_goldens():
    assert len(list(IR.glob("*.dsy"))) >= 5


def test_no_stale_goldens():
    """Every .ir file belongs to a program and a pass that exist."""
    stems = {p.stem for p in IR.glob("*.dsy")}
    for f in IR.glob("*.ir"):
        stem, pass_name = f.name[:-3].rsplit(".", 1)
        assert stem in stems and pass_name in PASS_NAMES, f"stale golden {f.name}"
