"""The core IR: annotated Daisy after desugaring. This file is its whole definition.

Every pass after `desugar` reads and writes these dataclasses; `--dump-after PASS`
prints them (dump.py). A program is a `Module`: an ordered list of commands, each a
`Def` (a top-level definition) or an `Eval` (a top-level expression to print).

Expressions
  Const(value)          a number (int or float) or an atom (str: a string literal)
  Var(name)             a name, before `resolve`; after it, one of
    Local(name, depth, index)   slot `index` of the frame `depth` frames out
    Global(name)                a top-level definition, looked up by name when run
    PrimRef(name)               a primitive of LANGUAGE.md section 6 (or true/nil)
  Lam(param, body)      a one-argument function; `param` is a pattern; after
                        `resolve`, `size` is the number of slots its frame holds
  App(fn, arg, demand)  application `fn:arg`; the argument is suspended. After the
                        `demand` pass, `demand` is what the context demands of the
                        call's result when the code around it runs (below)
  Let(pattern, value, body, rec)
                        lazy binding; with rec the value sees its own bindings.
                        `fix:[P ! E]` is Let(PAs(v, P), E, Local v, rec=True)
  If(arms, otherwise)   arms is a list of (test, branch); otherwise may be None (nil)
  ListCons(items, tail) list construction `[a b ! t]`; tail None means nil.
                        Every item and the tail are suspended (see Note [Suspended
                        positions] in interp/eval.py)
  PrimCall(name, args)  a primitive applied to a list literal of its arity, made
                        by `primcalls`; means exactly App(PrimRef(name), ListCons(args))
  Ann(op, expr)         an annotation: '@' spark, '$' demand, '#' exhaustive demand
  Quote(form)           `^E`: the form of E as data; `form` is E's surface tree

Patterns (bind by selection, lazily: nothing is inspected until a name is demanded)
  PVar(name)            binds the whole value
  PList(items, rest)    selects heads along the spine; rest (or None) binds the tail
  PAs(name, pattern)    binds the whole value to `name` and matches `pattern` (internal)
After `resolve`, PVar and PAs carry the frame slot `index` they fill. After `demand`
(frontend/demand.py), they carry `demand`: what the binder's scope (the lambda body,
the let or rec body) certainly evaluates of the value bound, whenever the scope itself
is evaluated to weak head normal form.

Demands, ordered "lazy" < "head" < "spine" < "full" (Note [Demand classes] in demand.py):
  lazy    the value may never be evaluated (the default; always safe)
  head    whenever the scope is evaluated, the value is evaluated to WHNF too, or
          the scope does not terminate (docs/language.md, "Strictness and errors": an
          error the scope returns without evaluating the value does not count)
  spine   as head, and every tail of the list (once round a cycle)
  full    as head, and completely, as `#` would
An item of a top-level function's list pattern that is lazy may carry a *conditional*
demand (`guard`, `cdemand`): the demand holds when the items at the positions in
`guard` are numbers (Note [Conditional demands] in demand.py): `tak = \\[x y z]. ...`
is head-strict in y, in x if y is a number, and in z if x and y are.
App.demand is "lazy" for a call that is itself a suspended position no one is sure to
force (an argument, list element or let value); the code inside such a position is
marked as it runs when forced. Every other call is marked with the demand on its value
when it is reached: "head" for a call whose value is needed, "full" under `#`, etc.

Every node has `pos`, the source position it came from (NOPOS for synthesised nodes).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .syntax import NOPOS, Node as SyntaxNode, Pos


@dataclass(slots=True, eq=False)
class Expr:
    pos: Pos = field(default=NOPOS, kw_only=True, repr=False)


@dataclass(slots=True, eq=False)
class Const(Expr):
    value: int | float | str


@dataclass(slots=True, eq=False)
class Var(Expr):
    name: str


@dataclass(slots=True, eq=False)
class Local(Expr):
    name: str
    depth: int
    index: int


@dataclass(slots=True, eq=False)
class Global(Expr):
    name: str


@dataclass(slots=True, eq=False)
class PrimRef(Expr):
    name: str


@dataclass(slots=True, eq=False)
class Lam(Expr):
    param: "Pattern"
    body: Expr
    size: int = 0
    name: str | None = None   # the top-level name it is defined as, for printing


@dataclass(slots=True, eq=False)
class App(Expr):
    fn: Expr
    arg: Expr
    demand: str = "lazy"      # set by `demand`: what the context demands of the result


@dataclass(slots=True, eq=False)
class Let(Expr):
    pattern: "Pattern"
    value: Expr
    body: Expr
    rec: bool = False
    size: int = 0


@dataclass(slots=True, eq=False)
class If(Expr):
    arms: list[tuple[Expr, Expr]]
    otherwise: Expr | None


@dataclass(slots=True, eq=False)
class ListCons(Expr):
    items: list[Expr]
    tail: Expr | None


@dataclass(slots=True, eq=False)
class PrimCall(Expr):
    name: str
    args: list[Expr]


@dataclass(slots=True, eq=False)
class Ann(Expr):
    op: str
    expr: Expr


@dataclass(slots=True, eq=False)
class Quote(Expr):
    form: SyntaxNode


# --- patterns ------------------------------------------------------------------------

@dataclass(slots=True, eq=False)
class Pattern:
    pos: Pos = field(default=NOPOS, kw_only=True, repr=False)


@dataclass(slots=True, eq=False)
class PVar(Pattern):
    name: str
    index: int = -1
    demand: str = "lazy"      # set by `demand`: lazy < head < spine < full
    # set by `demand` on an item of a top-level function's list pattern that is not
    # demanded outright: the items (by position) whose values must be numbers for the
    # body to certainly evaluate this one to level cdemand (conditional demand)
    guard: tuple[int, ...] | None = None
    cdemand: str = "lazy"


@dataclass(slots=True, eq=False)
class PList(Pattern):
    items: list[Pattern]
    rest: Pattern | None


@dataclass(slots=True, eq=False)
class PAs(Pattern):
    name: str
    pattern: Pattern
    index: int = -1
    demand: str = "lazy"


def pattern_names(p: Pattern) -> list[PVar | PAs]:
    """The binders of a pattern, left to right (the order of their frame slots)."""
    out: list = []
    stack = [p]
    while stack:
        q = stack.pop()
        if isinstance(q, PVar):
            out.append(q)
        elif isinstance(q, PAs):
            out.append(q)
            stack.append(q.pattern)
        else:
            if q.rest is not None:
                stack.append(q.rest)
            stack.extend(reversed(q.items))
    return out


# --- commands ------------------------------------------------------------------------

@dataclass(slots=True, eq=False)
class Def:
    name: str
    expr: Expr
    pos: Pos = NOPOS


@dataclass(slots=True, eq=False)
class Eval:
    expr: Expr
    pos: Pos = NOPOS


@dataclass(slots=True, eq=False)
class Module:
    commands: list[Def | Eval]

    def defs(self) -> dict[str, Def]:
        return {c.name: c for c in self.commands if isinstance(c, Def)}


def children(e: Expr) -> list[Expr]:
    """The direct subexpressions of e, in evaluation-text order (for generic walks)."""
    t = type(e)
    if t is Lam:
        return [e.body]
    if t is App:
        return [e.fn, e.arg]
    if t is Let:
        return [e.value, e.body]
    if t is If:
        out = []
        for c, b in e.arms:
            out += [c, b]
        return out + ([e.otherwise] if e.otherwise is not None else [])
    if t is ListCons:
        return list(e.items) + ([e.tail] if e.tail is not None else [])
    if t is PrimCall:
        return list(e.args)
    if t is Ann:
        return [e.expr]
    return []


def defines_at_run_time(module: Module) -> bool:
    """The program mentions `val` or `evlst`, so its names may be rebound."""
    stack = [c.expr for c in module.commands]
    while stack:
        e = stack.pop()
        t = type(e)
        if (t is PrimRef or t is PrimCall) and e.name in ("val", "evlst"):
            return True
        stack.extend(children(e))
    return False


def demanded(p: "Pattern") -> bool:
    """The demand pass found that p's scope certainly evaluates what p binds."""
    return type(p) in (PVar, PAs) and p.demand != "lazy"


def demanded_if(p: "Pattern") -> tuple[int, ...] | None:
    """For an item of a list pattern: the positions of the items whose values must be
    numbers for the scope to certainly evaluate what p binds (() when it always does),
    or None when it may not."""
    if demanded(p):
        return ()
    if type(p) is PVar and p.guard is not None:
        return p.guard
    return None


def demand_order(p: "PList") -> list[int]:
    """The positions of p's items in an order a caller may evaluate them in: the items
    demanded outright, then each conditionally demanded item after the items its
    condition names (the demand pass finds them in such an order), then the rest."""
    first = [j for j, i in enumerate(p.items) if demanded(i)]
    placed = set(first)
    cond = [j for j, i in enumerate(p.items) if j not in placed and demanded_if(i) is not None]
    order = list(first)
    while cond:
        ready = [j for j in cond if set(p.items[j].guard) <= placed]
        if not ready:
            break
        for j in ready:
            order.append(j)
            placed.add(j)
            cond.remove(j)
    return order + [j for j in range(len(p.items)) if j not in placed]
