"""`daisy compile`: ahead-of-time objects and executables.

    daisy compile prog.dsy -o prog.o    a relocatable object (ELF here) defining
                                        daisy_toplevel and daisy_ntoplevel
    daisy compile prog.dsy -o prog      that object linked with rt_main.c and the
                                        runtime by the system C compiler

The executable takes the flags `daisy run` takes for the runtime (--threads N,
--heap SIZE, --stats, --no-pin) and prints exactly what `daisy run` prints: both go through
rt_run_toplevel (rt/rt_program.c). It has no compiler inside: `val` runs the code
compiled with the program for every form the program quotes (Note [Forms with code]
in jit/lower.py), and the runtime evaluates a form made at run time by walking it
(rt/rt_formeval.c), with the interpreter's values and error texts.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile

from ..rt import native

from ..status import EXIT_FAILED as EXIT_TOOL, EXIT_SOURCE as EXIT_USAGE


def object_code(state, opt: int) -> bytes:
    """The program as a relocatable object for this machine: the back end's passes
    for a position-independent target (driver/pipeline.py)."""
    from ..pipeline import compile_backend
    from .engine import Target
    state.target = Target(opt, aot=True)
    compile_backend(state)
    (obj,) = state.object_code                  # the parts linked into one module
    return obj


def link(obj_path: str, out: str, cc: str) -> subprocess.CompletedProcess:
    """obj + rt_main.c + the runtime (libdaisyrt.a, else its C sources) -> out."""
    rt_dir = os.path.dirname(native.__file__)
    lib = native.static_library_path()
    runtime = [lib] if os.path.exists(lib) else native.source_files()
    cmd = [cc, "-O2", "-pthread", "-std=c11", f"-I{rt_dir}", obj_path,
           os.path.join(rt_dir, "rt_main.c"), *runtime, "-lm", "-o", out]
    return subprocess.run(cmd, capture_output=True, text=True)


def compile_command(args) -> int:
    from ..cli import _read
    from ..frontend.diagnostics import SourceError
    from ..pipeline import compile_source
    source = _read(args.file)
    if source is None:
        return EXIT_USAGE
    try:
        state = compile_source(source, args.file)
    except SourceError as e:
        print(e.render(args.file, source), file=sys.stderr)
        return EXIT_USAGE
    for w in state.warnings:
        print(w.render(args.file, source), file=sys.stderr)
    obj = object_code(state, args.opt)
    if args.output.endswith(".o"):
        with open(args.output, "wb") as f:
            f.write(obj)
        return 0
    cc = args.cc or os.environ.get("CC") or "cc"
    if shutil.which(cc) is None:
        print(f"daisy: compile: no C compiler '{cc}' to link with (set --cc or $CC, "
              "or write an object with -o prog.o)", file=sys.stderr)
        return EXIT_TOOL
    with tempfile.TemporaryDirectory() as tmp:
        obj_path = os.path.join(tmp, "prog.o")
        with open(obj_path, "wb") as f:
            f.write(obj)
        done = link(obj_path, args.output, cc)
    if done.returncode != 0:
        print(f"daisy: compile: linking failed:\n{done.stderr.strip()}", file=sys.stderr)
        return EXIT_TOOL
    return 0
