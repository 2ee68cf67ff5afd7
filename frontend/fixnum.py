"""Pass `fixnum`: which top-level functions compute only small integers.

Note [Fixnum workers]
~~~~~~~~~~~~~~~~~~~~~
A top-level function whose parameter is a name, or a list pattern of up to four names,
and whose body, read with those parameters as
small integers, can only make small integers, gets a second compiled form besides its
generic code: a *fixnum worker* (jit/fixnum.py). The worker takes the parameters as
tagged small-integer words and returns one, with no root frame, no suspensions and no
heap objects: its arithmetic is inline with overflow checks, its tests are machine
comparisons and its calls go straight to other fixnum workers.

What counts as such a body (`fixnum_expr`, `fixnum_test`):
  - an integer constant in the small range, a parameter, a `let` binder of such a value;
  - `add`, `sub`, `mpy`, `div`, `rem` of such values; `inc`, `dcr`, `neg` of one;
  - `if` whose tests compare such values (`lt? le? gt? ge? eq? ne?`, `zero? one? pos?
    neg?`) and whose branches, `else` included, are such values;
  - a call of a function that has a fixnum worker, with such values for the names its
    pattern binds (items past the pattern are never selected, so never evaluated),
    where each value either goes to a parameter the callee certainly evaluates
    (frontend/demand.py: outright, or because the parameters it assumes are numbers
    are, which they are in a worker), or makes no call, or is `$E` or `#E`, which the
    lazy program runs when it builds the argument (for a list, once the callee
    selects from it, which it does when it demands any parameter outright). The
    worker evaluates the values in C.demand_order, so it evaluates nothing the lazy
    program would not, in an order that can only differ where both run;
  - `$E`, `#E` and `@E` of such a value.
A `let` binder must be demanded, or its value must contain no call or be `$E` or `#E`
(which the lazy program runs at the `let` too), or the body must name the binder once:
the worker evaluates a demanded, call-free, `$` or `#` value at once, and any other
where the body names it, in the order the generic code would (an early call
could fail to terminate where the lazy program never asked for the value: in
`let:[a @nfib:dcr:n add:[nfib:sub:[n 2] a 1]]` a is evaluated only when the first
operand is a number, and an error there would return without it).

The set of functions is the greatest fixed point: start from every function whose
parameter is names and drop those whose bodies use anything else, including a
call of a dropped function, until none is dropped. That is sound because the worker
only ever *speculates*: whatever the analysis believes, at run time an overflow, a
value that is not a small integer, a full stack or a hungry worker (`@`) makes the
worker give up, and the generic code computes the call instead. Giving up is never
visible: these bodies have no effects, so computing a call again gives the same value
(jit/fixnum.py tells how it is kept cheap).

Programs whose names can be rebound at run time (`val`, `evlst`, the REPL) get no
fixnum workers: a worker calls other workers directly (Note [Late binding] in
jit/lower.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from . import core as C

FIX_MIN, FIX_MAX = -(1 << 62), (1 << 62) - 1
ARITH = {"add", "sub", "mpy", "div", "rem"}
UNARY = {"inc", "dcr", "neg"}
COMPARE = {"lt?", "le?", "gt?", "ge?", "eq?", "ne?"}
PREDICATE = {"zero?", "one?", "pos?", "neg?"}
MAX_ITEMS = 4            # a worker's values: the code signature's four (jit/lower.py)


@dataclass
class FixnumInfo:
    """What the pass found: names with fixnum workers, and why others have none."""
    functions: list[str] = field(default_factory=list)
    skipped: str | None = None


def fixnum_params(lam: C.Lam) -> list | None:
    """The binders a fixnum worker takes, in order, or None when the parameter is
    not a name or a list of names."""
    p = lam.param
    if type(p) is C.PVar:
        return [p]
    if (type(p) is C.PList and p.rest is None and 1 <= len(p.items) <= MAX_ITEMS
            and all(type(i) is C.PVar for i in p.items)):
        return list(p.items)
    return None


def strict_params(lam: C.Lam) -> set[int]:
    """id() of the parameters lam's body certainly evaluates, outright or because the
    others it assumes are numbers are evaluated before them (C.demand_order)."""
    p = lam.param
    if type(p) is C.PVar:
        return {id(p)} if C.demanded(p) else set()
    out = {id(p.items[j]) for j in C.demand_order(p) if C.demanded(p.items[j])}
    for j in C.demand_order(p):
        guard = C.demanded_if(p.items[j])
        if guard and all(id(p.items[g]) in out for g in guard):
            out.add(id(p.items[j]))
    return out


def evaluated_when_built(e) -> bool:
    """`$E` and `#E` in a suspended position run when the position is built."""
    return type(e) is C.Ann and e.op in "$#"


def small_int(e) -> bool:
    """e is an integer constant a word holds unboxed (Note [Value tags])."""
    return type(e) is C.Const and type(e.value) is int and FIX_MIN <= e.value <= FIX_MAX


def uses(body, index: int) -> int:
    """How many times body names slot `index` of the frame just outside it."""
    n = 0
    stack = [(body, 0)]
    while stack:
        e, depth = stack.pop()
        t = type(e)
        if t is C.Local:
            n += e.depth == depth and e.index == index
        elif t is C.Let:
            stack.append((e.value, depth + 1 if e.rec else depth))
            stack.append((e.body, depth + 1))
        else:
            inner = depth + 1 if t is C.Lam else depth
            stack.extend((c, inner) for c in C.children(e))
    return n


def deferred(e: C.Let) -> bool:
    """A `let` whose value a fixnum worker evaluates where its binder is used (once),
    not at the `let`: the binder is not demanded, the value makes calls, and it is not
    `$E` or `#E`, which run at the `let` in the lazy program too."""
    return (not C.demanded(e.pattern) and has_call(e.value)
            and not evaluated_when_built(e.value))


def has_call(e) -> bool:
    stack = [e]
    while stack:
        x = stack.pop()
        if type(x) is C.App:
            return True
        stack.extend(C.children(x))
    return False


class _Check:
    """One pass over a body with a candidate set of functions."""

    def __init__(self, candidates: dict[str, C.Lam]):
        self.candidates = candidates

    def expr(self, e, scopes: list, fx: set[int]) -> bool:
        t = type(e)
        if t is C.Const:
            return small_int(e)
        if t is C.Local:
            k = len(scopes) - 1 - e.depth
            return 0 <= k and e.index < len(scopes[k]) and id(scopes[k][e.index]) in fx
        if t is C.PrimCall:
            if e.name in ARITH:
                return len(e.args) >= 1 and all(self.expr(a, scopes, fx) for a in e.args)
            if e.name in UNARY:
                return len(e.args) == 1 and self.expr(e.args[0], scopes, fx)
            return False
        if t is C.App:
            return self.call(e, scopes, fx)
        if t is C.If:
            return (e.otherwise is not None and self.expr(e.otherwise, scopes, fx)
                    and all(self.test(c, scopes, fx) and self.expr(b, scopes, fx)
                            for c, b in e.arms))
        if t is C.Let:
            p = e.pattern
            if e.rec or type(p) is not C.PVar:
                return False
            value = e.value
            if not self.expr(value, scopes, fx):
                return False
            if deferred(e) and uses(e.body, p.index) != 1:
                return False
            scopes.append(C.pattern_names(p))
            ok = self.expr(e.body, scopes, fx | {id(p)})
            scopes.pop()
            return ok
        if t is C.Ann:
            return self.expr(e.expr, scopes, fx)
        return False

    def test(self, e, scopes, fx) -> bool:
        if type(e) is C.Ann and e.op == "$":
            return self.test(e.expr, scopes, fx)
        if type(e) is not C.PrimCall:
            return False
        if e.name in COMPARE:
            return len(e.args) == 2 and all(self.expr(a, scopes, fx) for a in e.args)
        if e.name in PREDICATE:
            return len(e.args) == 1 and self.expr(e.args[0], scopes, fx)
        return False

    def call(self, e: C.App, scopes, fx) -> bool:
        f = e.fn
        if type(f) is not C.Global or f.name not in self.candidates:
            return False
        lam = self.candidates[f.name]
        p = lam.param
        strict = strict_params(lam)
        if type(p) is C.PVar:
            return self.expr(e.arg, scopes, fx) and (
                id(p) in strict or evaluated_when_built(e.arg) or not has_call(e.arg))
        a = e.arg
        if type(a) is not C.ListCons or len(a.items) < len(p.items):
            return False
        # the argument list is built (and its `$E` items run) once the callee selects
        # from it, which it certainly does when it demands a parameter outright
        built = any(C.demanded(i) for i in p.items)
        return all(self.expr(x, scopes, fx) and (
                       id(i) in strict or not has_call(x)
                       or (built and evaluated_when_built(x)))
                   for i, x in zip(p.items, a.items))


def analyse_fixnum(module: C.Module, dynamic: bool = False, late_binding: bool = False,
                   demands=None) -> FixnumInfo:
    """Mark `Lam.fixnum` on the top-level functions that get fixnum workers."""
    defs: dict[str, C.Def] = {}
    for cmd in module.commands:
        if isinstance(cmd, C.Def):
            defs[cmd.name] = cmd
    for d in defs.values():
        if type(d.expr) is C.Lam:
            d.expr.fixnum = False
    if dynamic:
        return FixnumInfo(skipped="names are looked up when used (the REPL)")
    if late_binding:
        return FixnumInfo(skipped="the program can define names at run time (val, evlst)")
    if demands is not None and getattr(demands, "skipped", None):
        return FixnumInfo(skipped=f"no demands: {demands.skipped}")
    candidates = {name: d.expr for name, d in defs.items()
                  if type(d.expr) is C.Lam and fixnum_params(d.expr) is not None}
    changed = True
    while changed:
        changed = False
        check = _Check(candidates)
        for name, lam in list(candidates.items()):
            params = fixnum_params(lam)
            scope = C.pattern_names(lam.param)
            if not check.expr(lam.body, [scope], {id(b) for b in params}):
                del candidates[name]
                changed = True
    for lam in candidates.values():
        lam.fixnum = True
    return FixnumInfo(functions=[n for n in defs if n in candidates])
