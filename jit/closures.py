"""Closure analysis for the `lower` pass: which binder each name denotes, and which
binders each piece of code captures.

After `resolve`, a name is `Local(depth, index)`: slot `index` of the frame `depth`
frames out. Native code has no frame chains: every lambda body and every suspended
expression becomes a function of its own that copies the values it needs (its *free
binders*) into its closure or suspension when that object is made (flat closures).
So the lowering needs, for every `Local`, the binder (`PVar`/`PAs` node) it denotes,
and for every expression that becomes code, the binders it uses but does not bind.

Binders are identified by the pattern node object itself (`id(node)`), which is unique
within a program.
"""
from __future__ import annotations

from ..frontend import core as C


class Closures:
    """Binder links and free-binder sets of one module (or one `val` expression)."""

    def __init__(self):
        self.binder: dict[int, C.Pattern] = {}        # id(Local) -> its binder
        self._free: dict[int, list[C.Pattern]] = {}   # id(expr) -> free binders

    # ---- linking names to binders ----
    def link(self, e: C.Expr, frames: tuple = ()) -> None:
        """Record the binder of every Local in e; `frames` is innermost-first, each a
        list of binders by slot index."""
        t = type(e)
        if t is C.Local:
            self.binder[id(e)] = frames[e.depth][e.index]
        elif t is C.Lam:
            self.link(e.body, (self._frame(e.param),) + frames)
        elif t is C.Let:
            inner = (self._frame(e.pattern),) + frames
            self.link(e.value, inner if e.rec else frames)
            self.link(e.body, inner)
        else:
            for c in C.children(e):
                self.link(c, frames)

    @staticmethod
    def _frame(p: C.Pattern) -> list:
        names = C.pattern_names(p)
        out = [None] * len(names)
        for b in names:
            out[b.index] = b
        return out

    # ---- free binders ----
    def free(self, e: C.Expr) -> list[C.Pattern]:
        """The binders e uses and does not bind, in order of first use."""
        key = id(e)
        got = self._free.get(key)
        if got is None:
            used: dict[int, C.Pattern] = {}
            bound: set[int] = set()
            self._collect(e, used, bound)
            got = [b for k, b in used.items() if k not in bound]
            self._free[key] = got
        return got

    def _collect(self, e: C.Expr, used: dict, bound: set) -> None:
        t = type(e)
        if t is C.Local:
            b = self.binder[id(e)]
            used.setdefault(id(b), b)
            return
        if t is C.Lam:
            bound.update(id(b) for b in C.pattern_names(e.param))
        elif t is C.Let:
            bound.update(id(b) for b in C.pattern_names(e.pattern))
        for c in C.children(e):
            self._collect(c, used, bound)
