"""Whole programs on the runtime: the top-level loop (rt/rt_program.c) from the
JIT through ctypes, and the same program as an ahead-of-time executable linked
with rt/rt_main.c and the runtime library.  Both must print the same text and
end with the same statuses: 0, 3 with `heap exhausted (limit SIZE)`, 141 when
the reader goes away, 2 for bad flags.

The program is LLVM IR built with jit/abi.py: top-level value 0 is the list
[0..9], value 1 a list of a million integers (24 MB live while it prints),
value 2 the number 42.
"""
import os
import re
import shutil
import subprocess

import llvmlite.binding as llvm
import pytest
from llvmlite import ir

from daisy.jit import abi
from daisy.jit.engine import Engine
from daisy.rt import native

from test_jit_abi import build_list_module  # the same generated list builder

BIG = 1_000_000
EXPECTED = ("[" + " ".join(map(str, range(10))) + "]\n"
            + "[" + " ".join(map(str, range(BIG))) + "]\n" + "42\n")


def program_module() -> str:
    extra = ir.Module(name="toplevel")
    build = ir.Function(extra, abi.STEP_FN, "build_list")
    n = ir.GlobalVariable(extra, abi.I32, "daisy_ntoplevel")
    n.initializer = ir.Constant(abi.I32, 3)
    n.global_constant = True
    top = ir.Function(extra, abi.STEP_FN, "daisy_toplevel")
    w, i = top.args
    b = ir.IRBuilder(top.append_basic_block("entry"))
    idx = b.ashr(i, ir.Constant(abi.I64, 1))
    small = top.append_basic_block("small")
    big = top.append_basic_block("big")
    const = top.append_basic_block("const")
    sw = b.switch(idx, const)
    sw.add_case(ir.Constant(abi.I64, 0), small)
    sw.add_case(ir.Constant(abi.I64, 1), big)
    for block, count in ((small, 10), (big, BIG)):
        b.position_at_end(block)
        b.ret(b.call(build, [w, ir.Constant(abi.I64, abi.fix(count))]))
    b.position_at_end(const)
    b.ret(ir.Constant(abi.I64, abi.fix(42)))
    linked = llvm.parse_assembly(build_list_module())
    linked.link_in(llvm.parse_assembly(str(extra)))
    return str(linked)


@pytest.fixture(scope="module")
def executable(tmp_path_factory):
    cc = shutil.which(os.environ.get("CC", "gcc")) or shutil.which("cc")
    if not cc:
        pytest.skip("no C compiler")
    Engine()                                        # initialises LLVM's targets
    tm = llvm.Target.from_default_triple().create_target_machine(reloc="pic", opt=2)
    mod = llvm.parse_assembly(program_module())
    mod.verify()
    d = tmp_path_factory.mktemp("aot")
    obj = d / "prog.o"
    obj.write_bytes(tm.emit_object(mod))
    rt_dir = os.path.dirname(native.__file__)
    lib = native.static_library_path()
    runtime = [lib] if os.path.exists(lib) else native.source_files()
    exe = d / "prog"
    p = subprocess.run([cc, "-O2", "-std=c11", "-pthread", "-I", rt_dir, str(obj),
                        os.path.join(rt_dir, "rt_main.c"), *runtime, "-lm", "-o", str(exe)],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return exe


def run(exe, *args, **kw):
    return subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=120, **kw)


def test_executable_prints_every_toplevel_value(executable):
    p = run(executable)
    assert p.returncode == 0, p.stderr
    assert p.stdout == EXPECTED and p.stderr == ""


@pytest.mark.parametrize("threads", ["1", "2", "4"])
def test_executable_threads_flag(executable, threads):
    p = run(executable, "--threads", threads, "--stats")
    assert p.returncode == 0 and p.stdout == EXPECTED
    assert "bytes allocated in the heap" in p.stderr and "SPARKS:" in p.stderr
    assert f"{threads} workers" in p.stderr


def test_executable_heap_exhausted(executable):
    p = run(executable, "--heap", "8M")
    assert p.returncode == 3
    assert p.stdout.startswith("[0 1 2 3 4 5 6 7 8 9]\n")
    assert "42" not in p.stdout
    assert p.stderr == "heap exhausted (limit 8M)\n"


def test_executable_closed_pipe_is_quiet(executable):
    proc = subprocess.Popen([str(executable)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = proc.stdout.read(30)
    proc.stdout.close()
    code = proc.wait(timeout=60)
    assert first.startswith(b"[0 1 2")
    assert code == 141 and proc.stderr.read() == b""


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two usable CPUs")
def test_executable_pins_helpers_unless_told_not_to(executable):
    """Note [Worker placement]: the executable places its helpers as `daisy run` does."""
    pinned = run(executable, "--threads", "2", "--stats")
    free = run(executable, "--threads", "2", "--stats", "--no-pin")
    assert pinned.stdout == free.stdout == EXPECTED
    cpu = re.search(r"worker 1: .*, on CPU (\d+)\n", pinned.stderr)
    assert cpu and int(cpu.group(1)) in os.sched_getaffinity(0) and "helpers pinned" in pinned.stderr
    assert ", on CPU" not in free.stderr and "helpers not pinned (--no-pin)" in free.stderr


@pytest.mark.parametrize("args", [["--threads", "0"], ["--heap", "12X"], ["--bogus"]])
def test_executable_rejects_bad_flags(executable, args):
    p = run(executable, *args)
    assert p.returncode == 2 and "usage:" in p.stderr and p.stdout == ""


def test_jit_runs_the_same_program_through_the_same_loop(tmp_path):
    e = Engine()
    e.add(program_module())
    out = tmp_path / "out.txt"
    with native.Context(threads=2) as ctx, open(out, "wb") as f:
        code = ctx.run_toplevel(3, e.address("daisy_toplevel"), f.fileno())
    assert code == 0
    assert out.read_text() == EXPECTED


def test_jit_heap_exhausted_status(tmp_path, capfd):
    e = Engine()
    e.add(program_module())
    out = tmp_path / "out.txt"
    with native.Context(threads=1, heap=8 << 20) as ctx, open(out, "wb") as f:
        code = ctx.run_toplevel(3, e.address("daisy_toplevel"), f.fileno())
    assert code == 3
    assert out.read_text() == "[0 1 2 3 4 5 6 7 8 9]\n"
    assert "heap exhausted (limit 8M)" in capfd.readouterr().err


@pytest.mark.parametrize("text, size", [("512M", 512 << 20), ("2G", 2 << 30), ("64k", 64 << 10),
                                        ("1048576", 1 << 20), ("8MB", 8 << 20), ("12X", 0),
                                        ("", 0), ("-5M", 0), ("0", 0)])
def test_parse_size(text, size):
    assert native.parse_size(text) == size


def _limited(executable, *args, kib=3_000_000):
    """Run under an address-space limit (ulimit -v, in KiB)."""
    cmd = f"ulimit -v {kib} && exec {executable} " + " ".join(args)
    return subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=120)


def test_executable_fits_its_defaults_under_an_address_space_limit(executable):
    p = _limited(executable, "--stats")
    assert p.returncode == 0, p.stderr
    assert p.stdout == EXPECTED


def test_executable_explicit_heap_too_large_for_the_limit(executable):
    p = _limited(executable, "--heap", "16G")
    assert p.returncode == 3 and p.stdout == ""
    assert "cannot reserve address space for --heap 16G" in p.stderr
