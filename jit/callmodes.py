"""Pass `callmodes`: how each call is made, and which values are evaluated before the
call or the scope that binds them, from the demands (frontend/demand.py).

It changes no IR; it fills a `CallModes` table that `lower` follows and the dump
shows after each call's head word:

  (app{head}/spread f@g ...)   a spread call: a direct call of top-level f's spread
                               entry (Note [Spread entries])
  (app{head}/code f@g ...)     a direct call of top-level f's closure code
  (app{lazy}/apply ...)        an unknown function: the closure's code, or rt_apply
  x@0.0!                       an argument item or `let` value evaluated before the call
                               or the scope, instead of suspended (Note [Strict arguments])

Note [Call modes]
~~~~~~~~~~~~~~~~~
A call `f:A` of a top-level function f (a `Global` naming a lambda definition, in a
program whose names cannot be rebound: Note [Late binding]) is *direct*: it jumps to
f's code without looking f up or testing what it is. When f's parameter is a list
pattern of up to four items (`spread_shape`) and A is a list literal with at least as
many items (exactly as many when the pattern has a rest), the call passes the items
to f's spread entry (a *spread call*); otherwise it passes A to f's closure code with
no closure. Every other call is *apply*: the function value is evaluated and its code
called when it is a closure, else the runtime's rt_apply. A direct call under
exhaustive demand (`#f:A`, or in the tail of an exhaustive variant) calls f's
exhaustive variant instead: that is decided by `lower`, from where the call stands,
since one call can be compiled in both f's generic code and its variant.

What the callee certainly evaluates (its parameter binders' demands) is evaluated
before a direct call; items past a spread entry's pattern are never selected, so
never built. An item of a spread call that the callee demands only when other items are
numbers (Note [Conditional demands] in frontend/demand.py: tak's x when y is one) is
marked `!ifJ,K`: it is evaluated after items J and K, when they are small integers,
and suspended otherwise (C.demand_order). `$E` items run when the argument list is
built, which is when the callee first selects from it: at the call when the callee
certainly selects (`/selects`: it demands an item outright), else each is suspended
whole. App.demand, the demand on each call's *result*, is what `lower`'s contexts
must agree with: a call in a suspended position is `lazy` and compiled into the
suspension's code; every call compiled where its value is needed at once is at least
`head`. The dump shows both, so a disagreement is visible.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..frontend import core as C

NCODE_ARGS = 4          # the value parameters of the code signature (Note [Code signature])


def spread_shape(lam: C.Lam) -> int:
    """How many values a top-level function's spread entry takes (Note [Spread
    entries]), 0 if it has none: the items of a list-pattern parameter (and its
    rest)."""
    p = lam.param
    if type(p) is not C.PList:
        return 0
    n = len(p.items) + (p.rest is not None)
    return n if 1 <= len(p.items) and n <= NCODE_ARGS else 0


def sparked(e: C.Expr) -> bool:
    return type(e) is C.Ann and e.op == "@"


@dataclass
class CallModes:
    defs: dict                     # name -> C.Def, the program's definitions
    late_binding: bool = False     # Note [Late binding]: no direct calls
    mode: dict = field(default_factory=dict)      # id(App) -> spread | code | apply
    strict: set = field(default_factory=set)      # ids of values evaluated early
    conditional: dict = field(default_factory=dict)   # id(item) -> guard positions
    selects: set = field(default_factory=set)     # ids of spread calls whose callee
    #                                               certainly selects from its argument
    spreads: dict = field(default_factory=dict)   # name -> spread_shape, where > 0

    def direct(self, name: str) -> bool:
        """Calls of `name` jump to its code (Note [Call modes])."""
        d = self.defs.get(name)
        return d is not None and type(d.expr) is C.Lam and not self.late_binding

    def fits_spread(self, name: str, arg: C.Expr) -> bool:
        """A direct call can pass its list literal's items to the spread entry."""
        if name not in self.spreads or not self.direct(name):
            return False
        p = self.defs[name].expr.param
        if type(arg) is not C.ListCons or len(arg.items) < len(p.items):
            return False
        return p.rest is None or len(arg.items) == len(p.items)

    def is_strict(self, e: C.Expr) -> bool:
        return id(e) in self.strict

    # ---- the walk ----
    def annotate(self, e: C.Expr) -> None:
        stack = [e]
        while stack:
            x = stack.pop()
            t = type(x)
            if t is C.App:
                self._app(x)
            elif t is C.Let:
                if (not x.rec and C.demanded(x.pattern) and not sparked(x.value)
                        and not (type(x.value) is C.Ann and x.value.op in "$#")):
                    self.strict.add(id(x.value))
            stack.extend(C.children(x))

    def _app(self, e: C.App) -> None:
        fe = e.fn
        if type(fe) is not C.Global or not self.direct(fe.name):
            self.mode[id(e)] = "apply"
            return
        lam = self.defs[fe.name].expr
        if self.fits_spread(fe.name, e.arg):
            self.mode[id(e)] = "spread"
            for p, item in zip(lam.param.items, e.arg.items):
                guard = C.demanded_if(p)
                if guard is None or sparked(item):
                    continue
                if guard:
                    self.conditional[id(item)] = guard
                else:
                    self.strict.add(id(item))
            if any(C.demanded(p) for p in lam.param.items):
                self.selects.add(id(e))
            return
        self.mode[id(e)] = "code"
        param, arg = lam.param, e.arg
        if C.demanded(param):
            self._strict_item(param, arg)
        elif (type(param) is C.PList and type(arg) is C.ListCons
              and len(arg.items) >= len(param.items)
              and any(C.demanded(p) and not sparked(a) for p, a in zip(param.items, arg.items))):
            for p, item in zip(param.items, arg.items):
                self._strict_item(p, item)

    def _strict_item(self, p: C.Pattern, item: C.Expr) -> None:
        if C.demanded(p) and not sparked(item):
            self.strict.add(id(item))

    def note(self, e) -> str | None:
        """The dump's text for node e."""
        m = self.mode.get(id(e))
        if m is not None:
            return "/" + m + ("/selects" if id(e) in self.selects else "")
        if id(e) in self.strict:
            return "!"
        g = self.conditional.get(id(e))
        if g is not None:
            return "!if" + ",".join(str(k) for k in g)
        return None


def analyse_callmodes(module: C.Module, late_binding: bool) -> CallModes:
    defs = {c.name: c for c in module.commands if isinstance(c, C.Def)}
    cm = CallModes(defs, late_binding)
    # late binding too: closure code wraps the spread entry
    for name, d in defs.items():
        if type(d.expr) is C.Lam:
            k = spread_shape(d.expr)
            if k:
                cm.spreads[name] = k
    for c in module.commands:
        cm.annotate(c.expr)
    return cm
