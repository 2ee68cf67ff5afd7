"""The compiler's passes, in order. Read this file first.

A program travels through PASSES as one `CompileState`. Each pass is a small class with
a name (what `--dump-after` takes) and a one-line description (what `daisy passes`
prints); it reads the state, adds its product, and can be dumped afterwards. Later
issues append passes here (lowering to LLVM).

    parse       text -> surface tree               frontend/parse.py
    desugar     surface tree -> core IR            frontend/desugar.py
    resolve     names -> slots, globals, prims     frontend/resolve.py
    primcalls   prim:[args] -> PrimCall            frontend/primcalls.py
    demand      demands on binders and calls       frontend/demand.py
    fixnum      functions with fixnum workers      frontend/fixnum.py
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .frontend import core as C
from .frontend import syntax as S
from .frontend.demand import analyse_module
from .frontend.desugar import desugar_program
from .frontend.diagnostics import Diagnostic, SourceError
from .frontend.dump import dump_module, dump_syntax
from .frontend.fixnum import analyse_fixnum
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
    fixnum: object = None                 # what the fixnum pass found (fixnum.FixnumInfo)


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


class Fixnum(Pass):
    name = "fixnum"
    description = "functions that compute only small integers get fixnum workers"

    def run(self, state):
        state.fixnum = analyse_fixnum(state.module, dynamic=state.dynamic,
                                      late_binding=C.defines_at_run_time(state.module),
                                      demands=state.demands)

    def dump(self, state):
        return dump_module(state.module, demands=state.demands, fixnum=state.fixnum)


PASSES: list[Pass] = [Parse(), Desugar(), Resolve(), PrimCalls(), Demand(), Fixnum()]
PASS_NAMES = [p.name for p in PASSES]


def compile_source(source: str, filename: str = "<input>", *, dump_after=(), dump=None,
                   dynamic: bool = False) -> CompileState:
    """Run every pass over source. `dump_after` names passes (or "all") whose IR is
    given to `dump(pass_name, text)` when that pass has run. Raises SourceError."""
    state = CompileState(filename, source, dynamic)
    wanted = set(PASS_NAMES) if "all" in dump_after else set(dump_after)
    with gc_paused(), deep_recursion():
        for p in PASSES:
            try:
                p.run(state)
            except RecursionError:
                raise SourceError(
                    f"expressions nest too deeply to compile (the {p.name} pass ran out "
                    f"of depth)", None,
                    "give inner parts names with definitions or let; nesting of about "
                    f"{NESTING_LIMIT:,} levels compiles") from None
            if p.name in wanted and dump is not None:
                dump(p.name, p.dump(state))
    return state
