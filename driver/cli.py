"""The `daisy` command.

    daisy run FILE [--interp] [--dump-after PASS]...   run a program, printing each value
    daisy repl                                         the Daisy top level (also bare `daisy`)
    daisy passes                                       list the compiler's passes
    daisy bench [--quick] [--out DIR] [PROGRAM...]     the benchmark suite and its peers

Exit status: 0 success; 2 a malformed program or bad usage (message with file:line:col
and a caret on stderr); 130 interrupted (Ctrl-C); 141 output pipe closed; 70 an
internal error (a bug: please report it; DAISY_DEBUG=1 shows the Python traceback).
"""
from __future__ import annotations

import argparse
import gc
import os
import sys

from . import __version__
from .interp.machine import DEFAULT_MAX_DEPTH

from .status import EXIT_INTERNAL, EXIT_INTERRUPT, EXIT_PIPE, EXIT_SOURCE  # noqa: F401


def _parser() -> argparse.ArgumentParser:
    from .pipeline import PASS_NAMES
    ap = argparse.ArgumentParser(prog="daisy", description="annotated Daisy: compiler and runtime")
    ap.add_argument("--version", action="version", version=f"daisy-jit {__version__}")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="run a program file, printing each top-level value")
    run.add_argument("file", help="the program (.dsy); '-' reads standard input")
    _runtime_flags(run)
    run.add_argument("--stats", action="store_true",
                     help="print what the runtime did (allocation, collections, sparks) to stderr")
    run.add_argument("--trace", default=None, metavar="FILE",
                     help="write a timeline of the run (a lane per worker: steps, sparks, GC "
                          "pauses) to FILE as Chrome Trace Event JSON, for Perfetto")
    run.add_argument("--emit-llvm", action="store_true",
                     help="print the optimised LLVM IR to stdout instead of running")
    run.add_argument("--emit-asm", action="store_true",
                     help="print the generated assembly to stdout instead of running")
    run.add_argument("--no-cache", action="store_true",
                     help="compile afresh, neither reading nor writing the compile cache")
    run.add_argument("--dump-after", action="append", default=[], metavar="PASS",
                     choices=PASS_NAMES + ["all"],
                     help=f"print the IR to stderr after PASS ({', '.join(PASS_NAMES)}, all)")
    run.add_argument("--max-depth", type=int, default=DEFAULT_MAX_DEPTH, metavar="N",
                     help="evaluation depth at which a demand becomes the error "
                          "'stack exhausted' (default %(default)s)")

    comp = sub.add_parser("compile", help="compile a program ahead of time: an object file "
                                           "(-o prog.o) or an executable (-o prog)")
    comp.add_argument("file", help="the program (.dsy)")
    comp.add_argument("-o", dest="output", required=True, metavar="OUT",
                      help="OUT.o: a relocatable object; anything else: an executable "
                           "linked with the runtime by the system C compiler")
    _engine_flags(comp, aot=True)
    comp.add_argument("--cc", default=None, metavar="CC",
                      help="the C compiler that links executables (default: $CC, else cc)")

    repl = sub.add_parser("repl", help="the Daisy top level: & prompt, definitions, expressions")
    _runtime_flags(repl)
    repl.add_argument("--max-depth", type=int, default=DEFAULT_MAX_DEPTH, metavar="N",
                      help="with --interp: evaluation depth at which a demand becomes the "
                           "error 'stack exhausted' (default %(default)s)")

    sub.add_parser("passes", help="list the compiler's passes in order")

    bench = sub.add_parser("bench", help="run the benchmark suite against GHC, Chez Scheme "
                                         "and CPython: a table, results.json and charts")
    bench.add_argument("programs", nargs="*", metavar="PROGRAM",
                       help="only these programs of bench/programs (default: all)")
    bench.add_argument("--quick", action="store_true",
                       help="the smallest size of each program, one round (a smoke test)")
    bench.add_argument("--out", default="bench-results", metavar="DIR",
                       help="where results.json and the charts go (default %(default)s)")

    st = sub.add_parser("selftest", help="run the native runtime's built-in self-tests")
    from .rt.native import SELFTESTS
    st.add_argument("name", nargs="?", default="all",
                    help=f"one test ({', '.join(SELFTESTS)}) or all")
    st.add_argument("--threads", type=int, default=os.cpu_count() or 1, metavar="N",
                    help="workers, including the main one (default: the number of cores)")
    st.add_argument("--scale", type=int, default=1, metavar="K",
                    help="multiply the work of each test by K (default 1)")
    return ap


def _runtime_flags(p: argparse.ArgumentParser) -> None:
    """The engine choice, -O, and the native runtime's workers and heap (run, repl)."""
    p.add_argument("--interp", action="store_true",
                   help="use the reference interpreter instead of the JIT")
    _engine_flags(p)
    p.add_argument("--threads", type=int, default=0, metavar="N",
                   help="workers, including the main one (default: the number of cores)")
    p.add_argument("--heap", default=None, metavar="SIZE",
                   help="heap limit such as 512M or 2G (default: 3/4 of physical memory)")
    p.add_argument("--no-pin", action="store_true",
                   help="leave the helper workers' CPUs to the kernel (default: each helper "
                        "pinned to a CPU of its own when there are enough; see docs/runtime.md)")


def _engine_flags(p, aot: bool = False) -> None:
    from .pipeline import DEFAULT_AOT_OPT, DEFAULT_OPT
    default = DEFAULT_AOT_OPT if aot else DEFAULT_OPT
    p.add_argument("-O", dest="opt", type=int, default=default, choices=range(4),
                   metavar="N", help=f"LLVM optimisation level 0-3 (-O0 .. -O3, default "
                                     f"-O{default}; docs/jit.md, 'Optimisation levels')")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # Evaluation makes millions of short-lived objects (frames, suspensions, cells):
    # a larger young generation means far fewer collections (10-14% faster runs).
    gc.set_threshold(100_000, 50, 100)
    try:
        code = _main(argv)
    except KeyboardInterrupt:
        _quiet_stdout()
        return _exit(EXIT_INTERRUPT)
    except BrokenPipeError:
        _quiet_stdout()
        return _exit(EXIT_PIPE)
    except MemoryError:
        _quiet_stdout()
        print("daisy: out of memory", file=sys.stderr)
        return _exit(3)
    except Exception as e:  # a bug in daisy, never the user's program
        if os.environ.get("DAISY_DEBUG"):
            raise
        print(f"daisy: internal error: {type(e).__name__}: {e}\n"
              "this is a bug in daisy-jit; DAISY_DEBUG=1 shows where it happened",
              file=sys.stderr)
        return _exit(EXIT_INTERNAL)
    return _exit(code)


def _exit(code: int) -> int:
    try:
        sys.stdout.flush()
    except (BrokenPipeError, ValueError):
        _quiet_stdout()
    return code


def _quiet_stdout():
    """After a closed pipe: point stdout at /dev/null so the interpreter's own final
    flush cannot raise again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _main(argv: list[str]) -> int:
    ap = _parser()
    if not argv:
        return _repl(ap.parse_args(["repl"]))
    args = ap.parse_args(argv)
    if args.command == "run":
        return _run(args)
    if args.command == "compile":
        from .jit.aot import compile_command
        return compile_command(args)
    if args.command == "repl":
        return _repl(args)
    if args.command == "selftest":
        return _selftest(args)
    if args.command == "bench":
        from .bench import bench_command
        return bench_command(args)
    if args.command == "passes":
        from .pipeline import FRONT_END, PASSES
        for p in PASSES:
            if p is PASSES[len(FRONT_END)]:
                print("-- the back end (when compiling)")
            print(f"{p.name:<10} {p.description}")
        print("-- loops to codegen run function by function, each part compiled as it "
              "closes,\n-- unless one of them is dumped (Note [Streaming back end])")
        return 0
    ap.print_help()
    return EXIT_SOURCE


def _selftest(args) -> int:
    from .rt import native
    if args.name != "all" and args.name not in native.SELFTESTS:
        print(f"daisy: selftest: no such test: {args.name} "
              f"(choose from {', '.join(native.SELFTESTS)}, all)", file=sys.stderr)
        return EXIT_SOURCE
    if args.threads < 1 or args.scale < 1:
        print("daisy: selftest: --threads and --scale must be at least 1", file=sys.stderr)
        return EXIT_SOURCE
    try:
        r = native.selftest(args.name, args.threads, args.scale)
    except native.RuntimeUnavailable as e:
        print(f"daisy: {e}", file=sys.stderr)
        return EXIT_INTERNAL
    sys.stdout.write(r.report)
    if r.failures < 0:
        return EXIT_SOURCE
    return 0 if r.failures == 0 else 1


def _read(path: str) -> str | None:
    try:
        if path == "-":
            return sys.stdin.read()
        with open(path, encoding="utf-8-sig") as f:   # a byte-order mark is not program text
            return f.read()
    except (OSError, UnicodeDecodeError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        print(f"daisy: cannot read {path}: {reason}", file=sys.stderr)
        return None


def _run(args) -> int:
    from .frontend.diagnostics import SourceError
    from .pipeline import compile_source

    if args.interp and args.trace:
        print("daisy: --trace records the native runtime; it cannot be used with --interp",
              file=sys.stderr)
        return EXIT_SOURCE
    source = _read(args.file)
    if source is None:
        return EXIT_SOURCE
    filename = "<stdin>" if args.file == "-" else args.file

    def dump(name, text):
        sys.stderr.write(f";; ---- IR after {name} ----\n{text}")

    try:
        state = compile_source(source, filename, dump=dump, dump_after=args.dump_after,
                               backend=False)
    except SourceError as e:
        print(e.render(filename, source), file=sys.stderr)
        return EXIT_SOURCE
    for w in state.warnings:
        print(w.render(filename, source), file=sys.stderr)

    if not args.interp:
        from .jit.run import run_jit
        return run_jit(state, args)
    from .pipeline import BACK_END_NAMES, compile_backend
    if set(args.dump_after) & (BACK_END_NAMES | {"all"}):
        compile_backend(state, args.dump_after, dump)

    from .interp.interpreter import Interpreter
    from .output import Output
    out = Output()
    interp = Interpreter(out, max_depth=args.max_depth)
    try:
        interp.run_module(state.module)
    finally:
        out.flush()     # a closed pipe raises here too; main() ends quietly with 141
    return 0


def _repl(args) -> int:
    from .repl import run_repl
    return run_repl(args)


if __name__ == "__main__":
    sys.exit(main())
