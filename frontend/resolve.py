"""Pass 3, `resolve`: every name gets its meaning.

A name bound by an enclosing lambda or let becomes `Local(depth, index)`: slot `index`
of the frame `depth` frames out, where each lambda and each let/rec makes one frame
holding its pattern's binders in order. Other names are top-level definitions
(`Global`) or predefined (`PrimRef`). In a program file every definition is known in
advance, so a name defined twice is a source error, and a name defined nowhere draws a
warning (it evaluates to an `unbound identifier` error value, LANGUAGE.md section 3).
At the REPL (`dynamic=True`) definitions come and go, so every free name is a `Global`
looked up when it runs, and primitives live in that same table.
"""
from __future__ import annotations

from . import core as C
from .diagnostics import Diagnostic, SourceError
from .primitives import PREDEFINED


class Resolver:
    def __init__(self, globals_: set[str], dynamic: bool):
        self.globals = globals_
        self.dynamic = dynamic
        self.warnings: list[Diagnostic] = []
        self._warned: set[str] = set()

    def expr(self, e: C.Expr, scope: list[dict[str, int]]) -> C.Expr:
        t = type(e)
        if t is C.Var:
            return self.name(e, scope)
        if t is C.Lam:
            frame = self.frame(e.param)
            e.size = len(frame)
            e.body = self.expr(e.body, scope + [frame])
            return e
        if t is C.Let:
            frame = self.frame(e.pattern)
            e.size = len(frame)
            inner = scope + [frame]
            e.value = self.expr(e.value, inner if e.rec else scope)
            e.body = self.expr(e.body, inner)
            return e
        if t is C.App:
            e.fn = self.expr(e.fn, scope)
            e.arg = self.expr(e.arg, scope)
            return e
        if t is C.If:
            e.arms = [(self.expr(c, scope), self.expr(b, scope)) for c, b in e.arms]
            if e.otherwise is not None:
                e.otherwise = self.expr(e.otherwise, scope)
            return e
        if t is C.ListCons:
            e.items = [self.expr(i, scope) for i in e.items]
            if e.tail is not None:
                e.tail = self.expr(e.tail, scope)
            return e
        if t is C.PrimCall:
            e.args = [self.expr(a, scope) for a in e.args]
            return e
        if t is C.Ann:
            e.expr = self.expr(e.expr, scope)
            return e
        return e  # Const, Quote, and names already resolved

    @staticmethod
    def frame(p: C.Pattern) -> dict[str, int]:
        frame = {}
        for i, b in enumerate(C.pattern_names(p)):
            b.index = i
            frame[b.name] = i
        return frame

    def name(self, v: C.Var, scope: list[dict[str, int]]) -> C.Expr:
        for depth, frame in enumerate(reversed(scope)):
            if v.name in frame:
                return C.Local(v.name, depth, frame[v.name], pos=v.pos)
        if self.dynamic or v.name in self.globals:
            return C.Global(v.name, pos=v.pos)
        if v.name in PREDEFINED:
            return C.PrimRef(v.name, pos=v.pos)
        if v.name not in self._warned:
            self._warned.add(v.name)
            self.warnings.append(Diagnostic(
                "warning", f"'{v.name}' is not defined", v.pos,
                "it evaluates to an 'unbound identifier' error value if it is ever demanded"))
        return C.Global(v.name, pos=v.pos)


def resolve_module(module: C.Module, dynamic: bool = False) -> tuple[C.Module, list[Diagnostic]]:
    defs: dict[str, C.Def] = {}
    for cmd in module.commands:
        if isinstance(cmd, C.Def):
            if cmd.name in defs and not dynamic:
                first = defs[cmd.name].pos
                raise SourceError(f"'{cmd.name}' is defined twice", cmd.pos,
                                  f"its first definition is at {first}; a name is defined once in a program")
            defs[cmd.name] = cmd
    r = Resolver(set(defs), dynamic)
    for cmd in module.commands:
        cmd.expr = r.expr(cmd.expr, [])
    return module, r.warnings
