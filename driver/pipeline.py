"""The compiler's passes, in order. Read this file first.

A program travels through PASSES as one `CompileState`. Each pass is a small class with
a name (what `--dump-after` takes) and a one-line description (what `daisy passes`
prints); it reads the state, adds its product, and can be dumped afterwards.

    parse       text -> surface tree               frontend/parse.py
    desugar     surface tree -> core IR            frontend/desugar.py
    resolve     names -> slots, globals, prims     frontend/resolve.py
    primcalls   prim:[args] -> PrimCall            frontend/primcalls.py
    demand      demands on binders and calls       frontend/demand.py
    closures    free binders of code               jit/closures.py
    callmodes   how calls are made                 jit/callmodes.py
    lower       core IR -> LIR                     jit/lower.py (LIR: jit/lir.py)
    reps        fixnum variants (representations)  jit/reps.py
    loops       self tail calls become loops       jit/loops.py
    sparks      sparks for hungry workers          jit/sparks.py
    allocs      one reservation per group          jit/allocs.py
    roots       root frames                        jit/roots.py
    emit        LIR -> LLVM IR text                jit/emit.py
    llvm        LLVM's optimisation at -O N        jit/engine.py
    codegen     LLVM IR -> object code             jit/engine.py

The front end (parse .. demand) is all the reference interpreter needs; the back end
(closures .. codegen) runs when the program is compiled, unless the compile cache
already holds its object code (jit/cache.py). A `val` form, a command typed at the REPL
and an expression given to the embedding API go through the same passes, as a module
of one command (`compile_expr`).
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

from .frontend import core as C
from .frontend import syntax as S
from .frontend.demand import analyse_module
from .frontend.desugar import desugar_program
from .frontend.diagnostics import Diagnostic, SourceError
from .frontend.dump import dump_module, dump_syntax
from .frontend.parse import NESTING_LIMIT, deep_recursion, gc_paused, parse_program
from .frontend.primcalls import rewrite_module
from .frontend.resolve import resolve_module


@dataclass
class CompileState:
    filename: str
    source: str
    dynamic: bool = False                 # REPL name resolution (resolve.py)
    syntax: S.Program | None = None
    module: C.Module | None = None
    warnings: list[Diagnostic] = field(default_factory=list)
    demands: object = None                # what the demand pass found (demand.DemandInfo)
    # the back end
    prefix: str = "d"                     # symbol prefix of the module's code
    form: bool = False                    # a module of one `val` form (lower.lower_form)
    target: object = None                 # jit/engine.py Target: CPU, -O level, AOT or JIT
    closures: object = None               # jit/closures.py Closures
    callmodes: object = None              # jit/callmodes.py CallModes
    lir: object = None                    # jit/lir.py Program
    llvm_ir: list | None = None           # LLVM IR text of each part (emit)
    llvm_module: list | None = None       # llvmlite ModuleRefs, optimised (llvm)
    object_code: list | None = None       # object files, one per module (codegen)
    progress: object = None               # Progress: says what a long compile is doing


class Pass:
    name = ""
    description = ""

    def run(self, state: CompileState) -> None:
        raise NotImplementedError

    def dump(self, state: CompileState) -> str:
        return dump_module(state.module)


class Parse(Pass):
    name = "parse"
    description = "source text to the surface tree (lark LALR); source errors stop here"

    def run(self, state):
        state.syntax = parse_program(state.source)

    def dump(self, state):
        return dump_syntax(state.syntax)


class Desugar(Pass):
    name = "desugar"
    description = "special forms, patterns and quotation: surface tree to core IR"

    def run(self, state):
        state.module = desugar_program(state.syntax)


class Resolve(Pass):
    name = "resolve"
    description = "names to frame slots, top-level definitions and primitives"

    def run(self, state):
        state.module, warnings = resolve_module(state.module, dynamic=state.dynamic)
        state.warnings.extend(warnings)


class PrimCalls(Pass):
    name = "primcalls"
    description = "primitives applied to list literals of their arity become PrimCall"

    def run(self, state):
        state.module = rewrite_module(state.module)


class Demand(Pass):
    name = "demand"
    description = "strictness analysis: the demand on every binder and on every call's result"

    def run(self, state):
        state.demands = analyse_module(state.module, dynamic=state.dynamic)

    def dump(self, state):
        return dump_module(state.module, demands=state.demands)


# --- the back end ------------------------------------------------------------------------

class Closures(Pass):
    name = "closures"
    description = "which binder each name denotes; the free binders of every piece of code"

    def run(self, state):
        from .jit.closures import analyse_closures
        state.closures = analyse_closures(state.module)

    def dump(self, state):
        from .jit.closures import closures_note
        return dump_module(state.module, demands=state.demands,
                           notes=closures_note(state.closures))


class CallModes(Pass):
    name = "callmodes"
    description = ("each call's mode (spread, code, apply) and the values evaluated before "
                   "a call or scope, from the demands")

    def run(self, state):
        from .jit.callmodes import analyse_callmodes
        state.callmodes = analyse_callmodes(state.module, late_binding(state))

    def dump(self, state):
        cm = state.callmodes
        header = ["names are looked up when used (Note [Late binding]): no direct calls"
                  ] if cm.late_binding else []
        if cm.spreads:
            header.append("spreads: " + " ".join(f"{n}/{k}" for n, k in cm.spreads.items()))
        return dump_module(state.module, demands=state.demands, notes=cm.note, header=header)


def late_binding(state) -> bool:
    """Note [Late binding]: names may be rebound at run time."""
    return state.dynamic or state.form or C.defines_at_run_time(state.module)


class Lower(Pass):
    name = "lower"
    description = ("core IR to LIR: closure conversion, A-normal form, explicit force, "
                   "select, alloc, calls by mode, fast paths with slow paths")

    def run(self, state):
        from .jit import lower
        if state.form:
            state.lir = lower.lower_form(form_command(state), state.prefix,
                                            state.closures, state.callmodes)
        else:
            aot = state.target is not None and getattr(state.target, "aot", False)
            # Note [Observed positions] in jit/lower.py: the demand pass skips the
            # programs that can see what a suspended position holds
            exact = state.demands is not None and bool(state.demands.skipped)
            state.lir = lower.lower_program(state.module, state.prefix, state.closures,
                                               state.callmodes, aot=aot, exact=exact)

    def dump(self, state):
        from .jit.lir import dump
        return dump(state.lir)


class LirPass(Pass):
    def dump(self, state):
        from .jit.lir import dump
        return dump(state.lir)


class Reps(LirPass):
    name = "reps"
    description = ("representations: functions that compute only small integers get "
                   "fixnum variants (int in, int out) and entries that try them")

    def run(self, state):
        from .jit.reps import fixnum_variants
        fixnum_variants(state.lir, state.module, state.demands, state.closures)


class Loops(LirPass):
    name = "loops"
    description = "a function's tail calls of itself become jumps to its start"

    def run(self, state):
        from .jit.loops import self_loops
        self_loops(state.lir)


class Sparks(LirPass):
    name = "sparks"
    description = "each spark is offered only while some worker is hungry"

    def run(self, state):
        from .jit.sparks import hungry_sparks
        hungry_sparks(state.lir)


class Allocs(LirPass):
    name = "allocs"
    description = "each run of allocations with no safepoint between reserves its space once"

    def run(self, state):
        from .jit.allocs import group_allocations
        group_allocations(state.lir)


class Roots(LirPass):
    name = "roots"
    description = ("root-frame slots for values live across safepoints, their saves and "
                   "reloads; dead slots emptied before calls")

    def run(self, state):
        from .jit.roots import root_frames
        root_frames(state.lir, progress_tick(state))


class Emit(Pass):
    name = "emit"
    description = "LIR to LLVM IR, one fixed expansion per statement"

    def run(self, state):
        from .jit.emit import emit_program
        state.llvm_ir = emit_program(state.lir, progress_tick(state))

    def dump(self, state):
        return parts_text(state.llvm_ir)


class Optimise(Pass):
    name = "llvm"
    description = ("LLVM parses, verifies and optimises each part at its level, in "
                   "parallel (for an executable: the parts linked into one module)")

    def run(self, state):
        state.llvm_module = ensure_target(state).prepare_parts(state.llvm_ir)

    def dump(self, state):
        return parts_text([str(m) for m in state.llvm_module])


class Codegen(Pass):
    name = "codegen"
    description = "LLVM compiles each module to object code for the target, in parallel"

    def run(self, state):
        state.object_code = ensure_target(state).object_codes(state.llvm_module)

    def dump(self, state):
        return parts_text(assembly(state))


def parts_text(texts: list[str]) -> str:
    """Modules one after another, each under a line naming it (Note [Module parts])."""
    if len(texts) == 1:
        return texts[0]
    return "".join(f";; ---- part {i} of {len(texts)} ----\n{t}" for i, t in enumerate(texts))


def assembly(state) -> list[str]:
    """The assembly of each of state's optimised modules, at its part's level."""
    target = ensure_target(state)
    if len(state.llvm_module) == 1:
        return [target.target_machine.emit_assembly(state.llvm_module[0])]
    return [target.machine(target.part_level(m)).emit_assembly(m)
            for m in state.llvm_module]


def progress_tick(state):
    """The per-function callback of a pass that says how far it is, or None."""
    pr = state.progress
    return pr.item if pr is not None and pr.enabled else None


def ensure_target(state):
    if state.target is None:
        from .jit.engine import Target
        state.target = Target(DEFAULT_OPT)
    return state.target


DEFAULT_OPT = 1          # daisy run, the REPL, the API (Note [Optimisation levels])
DEFAULT_AOT_OPT = 2      # daisy compile

FRONT_END: list[Pass] = [Parse(), Desugar(), Resolve(), PrimCalls(), Demand()]
BACK_END: list[Pass] = [Closures(), CallModes(), Lower(), Reps(), Loops(), Sparks(), Allocs(),
                        Roots(), Emit(), Optimise(), Codegen()]
PASSES: list[Pass] = FRONT_END + BACK_END
PASS_NAMES = [p.name for p in PASSES]
BACK_END_NAMES = {p.name for p in BACK_END}
STREAMED_NAMES = {"loops", "sparks", "allocs", "roots", "emit", "llvm", "codegen"}


def run_passes(state: CompileState, passes: list[Pass], dump_after=(), dump=None) -> None:
    wanted = set(PASS_NAMES) if "all" in dump_after else set(dump_after)
    progress = state.progress
    ok = False
    try:
        with gc_paused(), deep_recursion():
            for p in passes:
                if progress is not None:
                    progress.stage(p.name, passes)
                try:
                    p.run(state)
                except RecursionError:
                    raise SourceError(
                        f"expressions nest too deeply to compile (the {p.name} pass ran "
                        f"out of depth)", None,
                        "give inner parts names with definitions or let; nesting of about "
                        f"{NESTING_LIMIT:,} levels compiles") from None
                if p.name in wanted and dump is not None:
                    dump(p.name, p.dump(state))
        ok = True
    finally:
        if progress is not None:
            progress.done(ok)


def compile_source(source: str, filename: str = "<input>", *, dump_after=(), dump=None,
                   dynamic: bool = False, backend: bool | None = None, target=None,
                   prefix: str | None = None) -> CompileState:
    """Run the front end over source; the back end too when `backend` is set (by
    default: when a back-end pass is to be dumped). `dump_after` names passes (or
    "all") whose IR is given to `dump(pass_name, text)` when that pass has run.
    Raises SourceError."""
    state = CompileState(filename, source, dynamic)
    state.target = target
    state.prefix = prefix or program_prefix(source)
    run_passes(state, FRONT_END, dump_after, dump)
    wanted = set(PASS_NAMES) if "all" in dump_after else set(dump_after)
    if backend:
        compile_backend(state, dump_after, dump)
    elif backend is None and wanted & BACK_END_NAMES:          # as far as the dumps go
        last = max(PASS_NAMES.index(n) for n in wanted & BACK_END_NAMES)
        compile_backend(state, dump_after, dump, upto=PASS_NAMES[last])
    return state


def compile_backend(state: CompileState, dump_after=(), dump=None,
                    upto: str | None = None) -> None:
    """The back end: LIR, LLVM IR and object code (state.object_code); with `upto`,
    only the passes up to that one. Streamed (Note [Streaming back end]) unless a
    pass from `loops` on is to be dumped, or stopped after, or the target is an
    executable's."""
    if state.progress is None:
        state.progress = Progress(state)
    passes = BACK_END
    if upto is not None:
        passes = BACK_END[:[p.name for p in BACK_END].index(upto) + 1]
    wanted = set(PASS_NAMES) if "all" in dump_after else set(dump_after)
    if upto is None and not wanted & STREAMED_NAMES and not ensure_target(state).aot:
        passes = [p for p in BACK_END if p.name not in STREAMED_NAMES] + [Streamed()]
    run_passes(state, passes, dump_after, dump)


class Streamed(Pass):
    """Note [Streaming back end]
    ~~~~~~~~~~~~~~~~~~~~~~~~~~~~
    The passes from `loops` to `codegen` work on one function at a time, and LLVM
    compiles each part of the program on its own (Note [Module parts] in jit/emit.py).
    So, when none of them is to be dumped, they run function by function: each
    function goes through loops, sparks, allocs, roots and emit in turn, and as soon
    as emit closes a hot part, LLVM parses, optimises and compiles that part on another
    thread (jit/engine.py, PartPool) while Python goes on with the next functions; the
    cold part, which holds the module's initialisation, goes last. The result is the
    same LLVM IR and object code as the passes run one after another over the whole
    program (tests/test_parts.py checks that), in less time on a machine with a
    second core: Python's share of the back end overlaps LLVM's."""
    name = "loops..codegen"
    description = "the passes from loops to codegen, function by function, parts compiled as they close"

    def run(self, state):
        from .jit.allocs import group_allocation
        from .jit.emit import ModuleEmitter
        from .jit.engine import PartPool
        from .jit.loops import self_loop
        from .jit.roots import root_frame
        from .jit.sparks import hungry_spark
        pool = PartPool(ensure_target(state))
        em = ModuleEmitter(state.lir)
        tick = progress_tick(state)
        fns = state.lir.functions
        try:
            for closed in em.init_parts():      # Note [Initialisation in pieces]
                pool.submit(*closed)
            for i, fn in enumerate(fns):
                if tick is not None:
                    tick(i, len(fns), fn.name)
                self_loop(fn)
                hungry_spark(fn)
                group_allocation(fn)
                root_frame(fn)
                closed = em.function(fn)
                if closed is not None:
                    pool.submit(*closed)
            for i, text in em.finish():
                pool.submit(i, text)
            texts = em.texts()
            if state.progress is not None:
                state.progress.detail_fn = \
                    lambda: f"LLVM, parts done: {pool.done()} of {len(texts)}"
        except BaseException:
            pool.abandon()
            raise
        state.llvm_ir = texts
        state.llvm_module, state.object_code = pool.results()

    def dump(self, state):
        return parts_text(state.llvm_ir)


def compile_expr(node, *, defined: set[str] | None = None, prefix: str = "dform",
                 backend: bool = False, target=None, dump_after=(), dump=None) -> CompileState:
    """One command (a surface-tree expression or definition, as `val` and the REPL
    have) through the same passes as a program file: a module of that one command, its
    names resolved as a program file's `defined` names do, or looked up when used
    (defined None). With `backend`, compiled as a form module (lower.lower_form)."""
    from .frontend.desugar import desugar, desugar_command
    from .frontend.primcalls import rewrite
    from .frontend.resolve import Resolver
    resolver = Resolver(set(), dynamic=True) if defined is None else Resolver(defined, False)
    state = CompileState("<form>", "", dynamic=defined is None)
    state.prefix = prefix
    state.target = target
    state.form = True
    with deep_recursion():
        if isinstance(node, S.Define):
            cmd = desugar_command(node)
            cmd.expr = rewrite(resolver.expr(cmd.expr, []))
        else:
            cmd = C.Eval(rewrite(resolver.expr(desugar(node), [])))
    state.module = C.Module([cmd])
    run_passes(state, [Demand()], dump_after, dump)
    if backend:
        compile_backend(state, dump_after, dump)
    return state


def compile_form(form, defined: set[str] | None = None):
    """A form value (interp/values.py), as `val` evaluates it: the front end's state
    of its one command (compile_expr), or the text of the error value `val` gives (a
    form that spells nothing, a source error, too deep)."""
    from .interp.forms import NotAForm, syntax_of_form
    try:
        with deep_recursion():
            node = syntax_of_form(form)
            return compile_expr(node, defined=defined)
    except RecursionError:
        return "val: form nested too deeply"
    except SourceError as e:
        return f"val: {e.diagnostic.message}"
    except NotAForm as e:
        return f"val: {e}"


def form_command(state: CompileState):
    """The one command of compile_expr's module: a C.Def, or the expression."""
    cmd = state.module.commands[0]
    return cmd if isinstance(cmd, C.Def) else cmd.expr


def program_prefix(source: str) -> str:
    import hashlib
    return "d" + hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest()[:12]


class Progress:
    """Note [Compile progress]
    ~~~~~~~~~~~~~~~~~~~~~~~~~~
    A compile that takes more than a second says so on a terminal (stderr), as ghc's
    `[1 of N]` does: `daisy: compiling FILE: [5 of 5] loops..codegen (2.4 s)`, the
    back end's pass by number, and in the passes that go function by function (roots,
    emit, the streamed ones: Note [Streaming back end]) which function and how far
    (`function 120 of 690: fib3_g`), then how many of the program's parts LLVM has
    compiled (`LLVM, parts done: 3 of 5`). One line, rewritten in place, and on
    success replaced by `daisy: compiled FILE in 3.1 s`. LLVM's
    passes are single calls that hold no Python lock, so a thread writes the line: it
    starts with the back end when stderr is a terminal, wakes every TICK seconds,
    and is stopped and joined when the back end ends; the passes only set fields.
    Off a terminal nothing is written and no thread starts."""

    TICK = 0.25

    def __init__(self, state, after: float = 1.0, stream=None):
        self.stream = stream or sys.stderr
        self.enabled = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.t0 = time.monotonic()
        self.after = after
        self.shown = False
        self.state = state
        self.pass_name = ""
        self.pass_at = (0, 0)
        self.detail = ""
        self.detail_fn = None                # a detail that changes while Python waits
        self._stop = None
        self._thread = None
        if self.enabled:
            import threading
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._run, name="daisy-progress",
                                            daemon=True)
            self._thread.start()

    def stage(self, name: str, passes=()) -> None:
        names = [p.name for p in passes]
        self.pass_at = (names.index(name) + 1, len(names)) if name in names else (0, 0)
        self.pass_name = name
        self.detail = ""
        self.detail_fn = None

    def item(self, i: int, n: int, what: str) -> None:
        self.detail = f"function {i + 1} of {n}: {what}"

    def line(self) -> str:
        k, n = self.pass_at
        at = f"[{k} of {n}] " if n else ""
        detail = self.detail_fn() if self.detail_fn is not None else self.detail
        detail = f", {detail}" if detail else ""
        return (f"daisy: compiling {self.state.filename}: {at}{self.pass_name}{detail} "
                f"({time.monotonic() - self.t0:.1f} s)")

    def _run(self) -> None:
        while not self._stop.wait(self.TICK):
            if time.monotonic() - self.t0 >= self.after:
                self.shown = True
                self.stream.write(f"\r\x1b[K{self.line()}")
                self.stream.flush()

    def done(self, ok: bool = True) -> None:
        """Stop the thread; say how long the compile took (on failure, only clear the
        line: the error follows)."""
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
        if self.enabled and self.shown:
            text = (f"daisy: compiled {self.state.filename} in "
                    f"{time.monotonic() - self.t0:.1f} s\n") if ok else ""
            self.stream.write(f"\r\x1b[K{text}")
            self.stream.flush()
            self.shown = False
