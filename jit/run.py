"""`daisy run` on the JIT: flags to a context, a compiled program, its exit status."""
from __future__ import annotations

import os
import sys

from ..rt import native
from .cache import CompileCache
from .engine import Engine
from .trace import TraceFile, trace_events_wanted

from ..status import EXIT_HEAP, EXIT_SOURCE as EXIT_USAGE


def heap_bytes(text: str | None) -> int | None:
    """--heap SIZE in bytes (0: the runtime's default); None when malformed."""
    if text is None:
        return 0
    n = native.parse_size(text)
    return n or None


def check_flags(args) -> int | None:
    """--threads and --heap: the heap in bytes (0: default), or None after saying
    what is wrong on stderr."""
    if args.threads < 0 or args.threads > 256:
        print("daisy: --threads takes a number from 1 to 256", file=sys.stderr)
        return None
    heap = heap_bytes(args.heap)
    if heap is None:
        print(f"daisy: --heap takes a size such as 512M or 2G, not {args.heap!r}",
              file=sys.stderr)
    return heap


def open_context(prog, args, heap: int):
    """The program's runtime context, or None after saying why there is none."""
    try:
        return prog.context(args.threads, heap, trace_events=trace_events_wanted(args),
                            no_pin=args.no_pin)
    except MemoryError:
        what = f"--heap {args.heap}" if args.heap else "the heap"
        print(f"daisy: cannot reserve address space for {what} "
              "(the heap reserves twice its limit)", file=sys.stderr)
        return None


def quiet_closed_pipe() -> None:
    """After the output pipe closed: say nothing more, as SIGPIPE would."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass


def dump(name, text):
    sys.stderr.write(f";; ---- IR after {name} ----\n{text}")


def run_jit(state, args) -> int:
    from .program import JitProgram
    heap = check_flags(args)
    if heap is None:
        return EXIT_USAGE
    trace = None
    if getattr(args, "trace", None):
        if args.emit_llvm or args.emit_asm:
            print("daisy: --trace records a run; --emit-llvm and --emit-asm do not run it",
                  file=sys.stderr)
            return EXIT_USAGE
        trace = TraceFile.open(args.trace)
        if trace is None:
            return EXIT_USAGE
    from ..pipeline import BACK_END_NAMES, compile_backend
    engine = Engine(args.opt)
    if args.emit_llvm or args.emit_asm:
        state.target = engine
        compile_backend(state, args.dump_after, dump)
        from ..pipeline import assembly, parts_text
        sys.stdout.write(parts_text([str(m) for m in state.llvm_module] if args.emit_llvm
                                    else assembly(state)))
        return 0
    if set(args.dump_after) & (BACK_END_NAMES | {"all"}):
        state.target = engine                   # dumps: compile afresh, for this engine
        compile_backend(state, args.dump_after, dump)
    cache = CompileCache(None if args.no_cache else "default")
    prog = JitProgram(state, opt=args.opt, cache=cache, engine=engine)
    ctx = open_context(prog, args, heap)
    if ctx is None:
        return EXIT_HEAP
    sys.stdout.flush()
    lib = native.load()
    lib.rt_sigint_install(ctx._ctx)
    try:
        status = prog.run(ctx, fd=sys.stdout.fileno())
    finally:
        lib.rt_sigint_install(None)
    if trace is not None and not trace.write(ctx, program=args.file, status=status):
        status = status or 1
    if args.stats:
        sys.stderr.write(ctx.stats_text())
        sys.stderr.write(f"  compile: {'cache hit' if prog.cache_hit else 'compiled'}"
                         f" (-O{args.opt})\n")
    sys.stderr.flush()
    if status == 141:
        quiet_closed_pipe()
    ctx.close()
    return status
