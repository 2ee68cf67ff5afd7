"""Pass `closures`: which binder each name denotes, and which binders each piece of
code captures (closure conversion's analysis; `lower` does the conversion).

After `resolve`, a name is `Local(depth, index)`: slot `index` of the frame `depth`
frames out. Native code has no frame chains: every lambda body and every suspended
expression becomes a function of its own that copies the values it needs (its *free
binders*) into its closure or suspension when that object is made (flat closures).
So the lowering needs, for every `Local`, the binder (`PVar`/`PAs` node) it denotes,
and for every expression that becomes code, the binders it uses but does not bind.

Binders and expressions are identified by `id(node)`, which is unique only while the
node lives: Closures keeps every tree it linked alive for as long as it is used.
"""
from __future__ import annotations

from ..frontend import core as C


class Closures:
    """Binder links and free-binder sets of one module (or one `val` expression)."""

    def __init__(self):
        self.binder: dict[int, C.Pattern] = {}        # id(Local) -> its binder
        self._free: dict[int, list[C.Pattern]] = {}   # id(expr) -> free binders
        self._roots: list[C.Expr] = []   # keeps every linked tree alive: ids stay unique
        self._linked: set[int] = set()

    # ---- linking names to binders ----
    def link(self, e: C.Expr) -> None:
        """Record the binder of every Local in e (a tree with no enclosing binders)."""
        if id(e) in self._linked:
            return
        self._linked.add(id(e))
        self._roots.append(e)
        self._link(e, ())

    def _link(self, e: C.Expr, frames: tuple) -> None:
        """`frames` is innermost-first, each a list of binders by slot index."""
        t = type(e)
        if t is C.Local:
            self.binder[id(e)] = frames[e.depth][e.index]
        elif t is C.Lam:
            self._link(e.body, (self._frame(e.param),) + frames)
        elif t is C.Let:
            inner = (self._frame(e.pattern),) + frames
            self._link(e.value, inner if e.rec else frames)
            self._link(e.body, inner)
        else:
            for c in C.children(e):
                self._link(c, frames)

    @staticmethod
    def _frame(p: C.Pattern) -> list:
        names = C.pattern_names(p)
        out = [None] * len(names)
        for b in names:
            out[b.index] = b
        return out

    # ---- free binders ----
    def free(self, e: C.Expr) -> list[C.Pattern]:
        """The binders e uses and does not bind, in order of first use. Computed
        bottom-up once per node, so nested suspensions cost linear time in all."""
        key = id(e)
        got = self._free.get(key)
        if got is not None:
            return got
        t = type(e)
        if t is C.Local:
            b = self.binder[key]
            got = [b]
        elif t is C.Lam:
            got = self._minus(self.free(e.body), C.pattern_names(e.param))
        elif t is C.Let:
            names = C.pattern_names(e.pattern)
            value = self.free(e.value)
            if e.rec:
                value = self._minus(value, names)
            got = self._union([value, self._minus(self.free(e.body), names)])
        else:
            got = self._union([self.free(c) for c in C.children(e)])
        self._free[key] = got
        return got

    @staticmethod
    def _minus(xs: list, bound: list) -> list:
        ids = {id(b) for b in bound}
        return [x for x in xs if id(x) not in ids]

    @staticmethod
    def _union(lists: list[list]) -> list:
        if len(lists) == 1:
            return lists[0]
        seen: dict[int, C.Pattern] = {}
        for xs in lists:
            for x in xs:
                seen.setdefault(id(x), x)
        return list(seen.values())


def analyse_closures(module: C.Module) -> Closures:
    cl = Closures()
    for c in module.commands:
        cl.link(c.expr)
    return cl


def closures_note(cl: Closures):
    """The dump's text for a node: a lambda's free binders."""
    def note(e):
        if type(e) is C.Lam:
            free = cl.free(e)
            return "{free " + " ".join(b.name for b in free) + "}" if free else None
        return None
    return note
