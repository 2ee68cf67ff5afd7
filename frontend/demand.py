"""Pass 5, `demand`: strictness (demand) analysis by abstract interpretation.

It changes no meaning. It sets two fields of the core IR (core.py):

  PVar.demand, PAs.demand   what the binder's scope (a lambda body, a let body, a
                            rec/fix body) certainly evaluates of the binder's value
                            when the scope itself is evaluated to weak head normal form
  App.demand                what the context demands of this call's result when the
                            code around the call runs

Each is one of "lazy" < "head" < "spine" < "full" (Note [Demand classes]). A lazy item
of a top-level function's list pattern may also get a conditional demand, PVar.guard
and PVar.cdemand (Note [Conditional demands]). Everything else the analysis finds (each
top-level function's demands when its result is demanded completely, for the dump) is
returned by `analyse_module`.

Note [Demand classes]
~~~~~~~~~~~~~~~~~~~~~
  lazy    the value may never be evaluated
  head    whenever the scope is evaluated to WHNF, the value is evaluated to WHNF, or
          the scope does not terminate
  spine   as head, and every tail of the list is evaluated as well (to its end, or once
          round a cycle)
  full    as head, and the value is evaluated completely, as `#` would (once round a
          cycle)
So evaluating a demanded value early changes no value (docs/language.md, "Strictness
and errors"): if it does not terminate, neither does the scope. Errors are values, and
a scope that returns an error before it evaluates the value does not demand it: in
`if:[T A B]` a name that A and B both evaluate is not demanded when T may be an error,
which `if` returns without evaluating either; in `add:[x y]`, y is not demanded when x
may be an error or not a number, which stops add before y. Forcing for spine and full
demand must stop once round a cycle, as `#` does: `\\x. #x` is full in x and terminates
on cyclic data; it stops at an error tail, which ends a spine.

Note [Abstract values]
~~~~~~~~~~~~~~~~~~~~~~
An abstract value is a pair (shape, err) packed into an int, shape * 2 + err. The shape
is Wadler's four-point domain for lists, which is the two-point domain for scalars and
functions (they are 0 or 3), with a fifth point N for numbers: the set of values it
stands for, besides non-termination, is
  0  nothing else (the value does not terminate)
  1  lists whose spine does not terminate (infinite, or a tail that does not terminate)
  2  also lists with a finite spine but an element that does not terminate, deeply
  3  anything that is not an error (numbers, atoms, functions, total lists, cycles)
  N  numbers (4; below 3 and above 0 only: N with 1 or 2 joins to 3, meets to 0)
and err = 1 adds every error value. So DIV (0) is "does not terminate", ERR (1) is "does
not terminate or is an error", NUM (8) is a number, NUME (9) a number or an error (what
arithmetic gives: it may overflow or divide by zero), TOP (7) is anything. Error values
are kept apart from non-termination because errors stop things where divergence does
not end them: a strict primitive stops at the first operand that is an error or of a
wrong kind, so an operand after one that may be (anything but a number, or any operand
of a bitwise operator) adds err to the result when it does not terminate; `if` returns
an error test at once (its err joins the result); type predicates answer errors
(`nil?` of an error is []), and comparisons and numeric tests of numbers are never
errors. A demand of level k on a binder is tested by evaluating the scope with the
binder bound to FAIL_IN[k] (0, 2 or 4: values whose forcing to that level does not
terminate; no errors) and every other free name to TOP: the binder has demand k (in a
context that demands the scope to level c) when the result's shape is at most
FAIL_OUT[c] (0 for WHNF, 1 for the spine, 2 for all of it) *and err is 0* (`fails`):
a result that may be an error may have been returned without the binder.
Cyclic data is class 3, never 1: a rec/fix binder and a top-level value that depends on
itself are TOP; recursion through function calls makes new cells, so the least fixed
point of a function (1 for `intsfrom`) describes what it really builds.

Note [Conditional demands]
~~~~~~~~~~~~~~~~~~~~~~~~~~
Errors cost demands wherever a test or an operand before a use may be an error: tak =
\\[x y z]. if:[lt?:[y x] ...] compares y first, and an error (or an atom) there returns
before x and z are looked at. But such a test is never an error when its operands are
numbers. So, once a top-level function's SCC is solved, each lazy name item b of its
list pattern is tried again with the items already demanded that the body uses as
numbers (operands of a non-bitwise strict primitive, at most MAX_GUARD of them) bound
to NUM: if b is then demanded, the smallest such set found greedily is b's *guard*,
and b is demanded *if* those items are numbers (tak: x if y is, z if x and y are).
Each guard names only items demanded before it, outright or by an earlier guard, so
C.demand_order can evaluate a call's items in an order where every guard is known
before the item it guards. An item whose being a number makes the body fail anyway
proves nothing (a list that could only be a number) and is never a guard.

Callers use it in two ways. The code generator evaluates a guarded argument of a
direct call when the guarding arguments are small integers, and suspends it otherwise
(jit/lower.py, Note [Strict arguments]); a fixnum variant, whose values are all small
integers, evaluates a callee's arguments in C.demand_order (Note [Fixnum variants]).
And the analysis itself: with each guarded binder go the six results of the body with
the binder at each point below TOP and its guard NUM; a call whose argument binds the
guard to NUM (or DIV) meets these too, so `phi = \\n. phiacc:[n 1 0]` is head-strict in
n although phiacc demands n only when k is a number. They are computed once, from the
SCC's final tables, so calls within the SCC do not use them (their arguments are
rarely known numbers: dcr:n may overflow).

Note [Function summaries]
~~~~~~~~~~~~~~~~~~~~~~~~~
Top-level definitions form a call graph; its strongly connected components (Tarjan,
iterative) are solved callees first. A top-level function f = \\P. B is summarised, per
binder b of P, by the table T[b][p] = B# (b = p, every other binder TOP) for the six
points p below TOP, and by B# (all TOP). Only the points 0, 1, 2 and 4 are evaluated:
(s, 1) stands for the union of (s, 0) and (0, 1), so T[b][3] and T[b][5] are joins. A
call f:A binds P against A's abstract value (exactly, element by element, when A is a
list literal) and answers the meet over the binders of T[b][value of b]: monotonicity
makes that an upper bound of the exact answer. An SCC's tables start at DIV and are
iterated to their least fixed point (Kleene, as a worklist: a row is evaluated again
only when a table entry it read has changed). That is how
`len = \\L. if:[nil?:L 0 inc:len:tl:L]` comes out spine-strict: T[L][2] is computed from
itself, starting at DIV. Binding a list pattern to a class-2 value splits into one case
per place the bad element can be (Wadler's case rule), so `append` under `#` is full in
both arguments. A function whose tables cannot be computed (nesting too deep for
Python's stack) is assumed to demand nothing.

Calls of anything else (a parameter, a local closure, a value) are unknown: lazy in the
argument, TOP as a result, but the function expression itself is evaluated. A local
lambda's parameters are analysed like a let's binders (from its body alone), so they are
right for every caller; calls of let-bound lambdas are not followed. `@E` counts as no
demand at all: its value is TOP, so nothing in E is demanded by its context (a spark is
evaluated by whoever takes it). `#E`, `$name` and `$p:[...]` of a primitive that forces
its operands in a suspended position run when the position is built, so a value that
does not terminate there makes the building not terminate (a list literal argument is
itself a suspended position: its items run when the callee first selects from it, so a
call is not assumed to build it); `$E` of anything else is taken as the value of E only (its shallow
evaluation, which hands back suspensions in tail position, is not followed), so
`[X ! $append:[Xs L2]]` does not make append spine-strict in its first argument.

Note [Order of evaluation]
~~~~~~~~~~~~~~~~~~~~~~~~~~
Evaluating a demanded value early changes no value (Note [Demand classes]), but it
changes the order in which things are evaluated. That order is visible through the devices (`screen` writes as it
is evaluated, `console` and `stdin` read), through `%SpnHd?`/`%SpnTl?` (they tell
whether a field is still suspended), and through `val`/`evlst`, which run forms that may
do either and may define top-level names while the program runs. A program that
mentions any of these names is therefore not analysed: every binder and call stays
lazy. Neither is a command at the REPL (`dynamic`), where top-level names are defined
by other commands and can change meaning.

Note [Demand analysis cost]
~~~~~~~~~~~~~~~~~~~~~~~~~~~
One abstract evaluation is linear in the expression it walks. A top-level function costs
at most (4 * binders + 1) evaluations of its body each time its rows are computed (fewer
when a binder's answer reaches the all-TOP answer early); binders never used are lazy
without a look. A let or local lambda costs up to three evaluations of its scope per
binder, and is only analysed when the scope has at most SCOPE_LIMIT nodes (bigger
scopes leave their binders lazy), so deep let nesting stays at most quadratic in
SCOPE_LIMIT. Case splits nest at most MAX_SPLIT_DEPTH deep before they are merged.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from . import core as C
from .primitives import LIST_ARITY

LAZY, HEAD, SPINE, FULL = range(4)
LEVEL_NAMES = ("lazy", "head", "spine", "full")

# --- the abstract domain (Note [Abstract values]) --------------------------------------

DIV, ERR, SAFE, TOP = 0, 1, 6, 7
NUM, NUME = 8, 9                   # numbers; numbers or errors (shape N)
N = 4                              # the shape of numbers
NVALUES = 10
FAIL_IN = (None, 0, 2, 4)          # by level: values whose forcing to it does not end
FAIL_OUT = (None, 0, 1, 2)         # by level: result shapes that fail that demand
SCOPE_LIMIT = 1000                 # Note [Demand analysis cost]
MAX_ALTS = 8                       # case splits per pattern before merging
MAX_SPLIT_DEPTH = 2                # nested case splits before merging
MAX_GUARD = 4                      # binders a conditional demand may assume are numbers


def _shape_lub(a: int, b: int) -> int:
    if a == b or b == 0:
        return a
    if a == 0:
        return b
    if a == N or b == N:                       # numbers with lists: anything
        return 3
    return max(a, b)


def _shape_glb(a: int, b: int) -> int:
    if a == b or b == 3:
        return a
    if a == 3:
        return b
    if a == N or b == N:                       # numbers and lists: only divergence
        return 0
    return min(a, b)


LUB = [[(_shape_lub(a >> 1, b >> 1) << 1) | ((a | b) & 1) for b in range(NVALUES)]
       for a in range(NVALUES)]
GLB = [[(_shape_glb(a >> 1, b >> 1) << 1) | (a & b & 1) for b in range(NVALUES)]
       for a in range(NVALUES)]


def _cons(h: int, t: int) -> int:
    """A cons cell [h ! t] (never an error itself)."""
    hbad = (h >> 1) <= 2                       # the element may not terminate, deeply
    ts = t >> 1
    s = 1 if ts <= 1 else 2 if ts == 2 else (2 if hbad else 3)
    if t & 1:                                  # an error tail ends the spine
        s = max(s, 2 if hbad else 3)
    return s << 1


CONS = [[_cons(h, t) for t in range(NVALUES)] for h in range(NVALUES)]

# --- primitives (LANGUAGE.md section 6; docs/language.md section 3) -----------------

STRICT = set(LIST_ARITY) | {"add", "mpy", "neg", "inc", "dcr", "inv", "not",
                            "zero?", "one?", "neg?", "pos?"}
# strict primitives whose result is `true` or `[]` unless an operand is of a wrong kind:
# given numbers they never give an error (the others may overflow or divide by zero)
TESTS = {"lt?", "le?", "eq?", "ne?", "ge?", "gt?", "zero?", "one?", "neg?", "pos?"}
PREDICATES = {"nil?", "list?", "isLST?", "isNML?", "isIDE?", "isFTN?", "isAPL?", "isERR?"}
PROBES = {"%SpnHd?", "%SpnTl?"}
# everything else is lazy in its operand: seq is handled on its own; set, any?,
# pcoerce, map, smap, fc, val, evlst and the devices and stream stages are left lazy
# Names whose mere presence turns the analysis off (Note [Order of evaluation]).
ORDER_SENSITIVE = {"screen", "console", "stdin", "val", "evlst", "%SpnHd?", "%SpnTl?"}


def _prim_operand_demand(name: str) -> int:
    return HEAD if name in STRICT or name in PREDICATES or name in PROBES or name == "seq" else LAZY


BITWISE = {"and", "or", "xor", "lsh", "rsh", "arsh", "not"}


def _accepts(name: str, v) -> bool:
    """Is constant v an operand that strict primitive `name` checks without an error?"""
    if name in BITWISE:
        return type(v) is int
    if type(v) is str:
        return name in ("eq?", "ne?")
    return True


def _eager(e: C.Expr) -> bool:
    """A suspended position that is evaluated at once, to the end: `#E`, `$name`, and
    `$p:[...]` of a primitive that forces its operands (its shallow evaluation is its
    value)."""
    if type(e) is not C.Ann:
        return False
    if e.op == "#":
        return True
    x = e.expr
    return e.op == "$" and (type(x) in (C.Local, C.Global) or (
        type(x) is C.PrimCall and (x.name in STRICT or x.name in PREDICATES)))


def level_under(r, ctx: int) -> int:
    """The demand on a binder whose scope, evaluated with the binder bound to FAIL_IN
    of head/spine/full, gave results r, when the scope is demanded to level ctx."""
    limit = FAIL_OUT[ctx]
    for k in (FULL, SPINE, HEAD):
        if fails(r[k - 1], limit):
            return k
    return LAZY


def fails(v: int, limit: int) -> bool:
    """Does every value v stands for fail a demand whose failing shapes are those up to
    limit? An error never does: forcing it ends at once (Note [Demand classes])."""
    return not (v & 1) and (v >> 1) <= limit


class Summary:
    """A top-level function's tables (Note [Function summaries])."""
    __slots__ = ("name", "lam", "binders", "table", "top", "solving", "cond", "cond_rows")

    def __init__(self, name: str, lam: C.Lam, binders, used):
        self.name = name
        self.lam = lam
        self.binders = binders
        # per binder slot: six results, or None for a binder the body never uses
        self.table = [[DIV] * 6 if id(b) in used else None for b in binders]
        self.top = DIV
        self.solving = False          # its SCC is being solved: record what reads it
        # Note [Conditional demands]: {binder: (level, guard binders)} when the result
        # is demanded to WHNF, and per such binder (slot, guard slots, six results)
        self.cond: dict = {}
        self.cond_rows: list = []

    def results(self, b) -> tuple[int, int, int]:
        row = self.table[b.index]
        if row is None:
            return (TOP, TOP, TOP)
        return (row[0], row[2], row[4])


class Analysis:
    def __init__(self, module: C.Module, dynamic: bool):
        self.module = module
        self.defs: dict[str, C.Def] = {}
        for cmd in module.commands:
            if isinstance(cmd, C.Def):
                self.defs[cmd.name] = cmd
        # why nothing is analysed (Note [Order of evaluation]), or None
        self.skipped = "at the REPL, top-level names can change meaning" if dynamic else None
        self.used: set[int] = set()            # id() of binders some Local names
        self.size: dict[int, int] = {}         # id() of a Lam/Let -> nodes in its scope
        self.edges: dict[str, set[str]] = {}
        self.summaries: dict[str, Summary] = {}
        self.values: dict[str, int] = {}
        self.names: dict[int, list] = {}       # id(pattern) -> pattern_names
        self.slot_lists: dict[int, list] = {}  # id(pattern) -> its binders' slots
        self.flat_patterns: set[int] = set()   # id() of `[a b ...]` without a rest
        self.suffixes: dict = {}               # (id(pattern), j) -> its items from j on
        self.splitting = 0
        self.reads = None                      # while solving an SCC: what was read
        self.eager_lits: set[int] = set()      # id() of list literals with `#E`/`$x` items

    # --- the pre-pass: uses, sizes, the call graph --------------------------------------

    def scan(self, e, scopes, refs) -> int:
        t = type(e)
        if t is C.Local:
            k = len(scopes) - 1 - e.depth
            if k >= 0:
                frame = scopes[k]
                if e.index < len(frame):
                    self.used.add(id(frame[e.index]))
            return 1
        if t is C.Global:
            refs.add(e.name)
            return 1
        if t is C.PrimRef:
            if e.name in ORDER_SENSITIVE and self.skipped is None:
                self.skipped = f"the program uses {e.name}"
            return 1
        if t is C.App:
            return 1 + self.scan(e.fn, scopes, refs) + self.scan(e.arg, scopes, refs)
        if t is C.PrimCall:
            if e.name in ORDER_SENSITIVE and self.skipped is None:
                self.skipped = f"the program uses {e.name}"
            n = 1
            for a in e.args:
                n += self.scan(a, scopes, refs)
            return n
        if t is C.Lam:
            scopes.append(self.binders(e.param))
            n = self.scan(e.body, scopes, refs)
            scopes.pop()
            self.size[id(e)] = n
            return n + 1
        if t is C.Let:
            frame = self.binders(e.pattern)
            if e.rec:
                scopes.append(frame)
                n = self.scan(e.value, scopes, refs)
            else:
                n = self.scan(e.value, scopes, refs)
                scopes.append(frame)
            body = self.scan(e.body, scopes, refs)
            scopes.pop()
            self.size[id(e)] = body
            return n + body + 1
        if t is C.If:
            n = 1
            for c, b in e.arms:
                n += self.scan(c, scopes, refs) + self.scan(b, scopes, refs)
            if e.otherwise is not None:
                n += self.scan(e.otherwise, scopes, refs)
            return n
        if t is C.ListCons:
            n = 1
            for i in e.items:
                n += self.scan(i, scopes, refs)
                if type(i) is C.Ann and _eager(i):
                    self.eager_lits.add(id(e))
            if e.tail is not None:
                n += self.scan(e.tail, scopes, refs)
                if _eager(e.tail):
                    self.eager_lits.add(id(e))
            return n
        if t is C.Ann:
            return 1 + self.scan(e.expr, scopes, refs)
        return 1

    def binders(self, p) -> list:
        names = self.names.get(id(p))
        if names is None:
            names = self.names[id(p)] = C.pattern_names(p)
            if type(p) is C.PList and all(type(i) is C.PVar for i in p.items):
                self.flat_patterns.add(id(p))
        return names

    def suffix(self, p, j: int):
        """The pattern p without its first j items, made once: the caches here are
        keyed by id(), so a pattern must live as long as the analysis."""
        key = (id(p), j)
        out = self.suffixes.get(key)
        if out is None:
            out = self.suffixes[key] = C.PList(p.items[j:], p.rest)
        return out

    def slots(self, p) -> list[int]:
        out = self.slot_lists.get(id(p))
        if out is None:
            out = self.slot_lists[id(p)] = [b.index for b in self.binders(p)]
        return out

    # --- abstract evaluation ------------------------------------------------------------

    def ev(self, e, env) -> int:
        t = type(e)
        if t is C.Local:
            d = e.depth
            while d:
                if env is None:
                    return TOP
                env = env[0]
                d -= 1
            return TOP if env is None else env[e.index + 1]
        if t is C.Const:
            return SAFE if type(e.value) is str else NUM
        if t is C.Lam or t is C.Quote:
            return SAFE
        if t is C.PrimCall:
            return self.ev_prim(e, env)
        if t is C.App:
            return self.ev_app(e, env)
        if t is C.If:
            res = DIV
            for c, b in e.arms:
                fail, may_true, may_false = self.cond(c, env)
                res = LUB[res][fail]
                if may_true:
                    res = LUB[res][self.ev(b, env)]
                if not may_false:
                    return res
            return LUB[res][SAFE if e.otherwise is None else self.ev(e.otherwise, env)]
        if t is C.Let:
            if e.rec:           # cycles: every rec binder is TOP (Note [Abstract values])
                return self.ev(e.body, [env] + [TOP] * e.size)
            value = e.value
            if _eager(value):
                desc = self.ev(value, env)
                if desc == DIV:
                    return DIV
            else:
                desc = self.desc(value, env)
            return self.enter(e.pattern, e.size, desc, e.body, env)
        if t is C.ListCons:
            return self.value((e, 0, env))
        if t is C.Global:
            return self.global_value(e.name)
        if t is C.PrimRef:
            return TOP if e.name == "stdin" else SAFE
        if t is C.Ann:
            if e.op == "@":
                return TOP                      # a spark demands nothing of E
            v = self.ev(e.expr, env)
            if e.op == "#":
                return v if (v >> 1) >= 3 else (v & 1)
            return v
        return TOP

    def global_value(self, name: str) -> int:
        d = self.defs.get(name)
        if d is None:
            return ERR                           # unbound identifier: an error value
        if type(d.expr) is C.Lam:
            return SAFE
        return self.values.get(name, TOP)

    def cond(self, c, env):
        """An `if` test: (what a failing test contributes, may it be true, may it be
        false)."""
        if type(c) is C.PrimCall and c.name in PREDICATES and len(c.args) == 1:
            x = self.ev(c.args[0], env)
            if x == DIV:
                return DIV, False, False
            s, err = x >> 1, x & 1
            name = c.name
            if name == "nil?":                   # only class 3 holds []
                return DIV, s == 3, True
            if name in ("list?", "isLST?"):      # classes 1 and 2 are lists
                return DIV, 1 <= s <= 3, bool(err) or s >= 3
            if name == "isERR?":                 # only the err part is an error
                return DIV, bool(err), s >= 1
            if name == "isNML?":                 # class N is numbers only
                return DIV, s >= 3, bool(err) or s <= 3
            return DIV, True, True
        tc = type(c)
        if tc is C.Const or tc is C.Lam:         # never []
            return DIV, True, False
        if tc is C.PrimRef and c.name in ("true", "nil"):
            return DIV, c.name == "true", c.name == "nil"
        if tc is C.ListCons:
            if not c.items:                      # `[]`, or a bare tail
                return (DIV, False, True) if c.tail is None else self.cond(c.tail, env)
            v = self.ev(c, env)                  # a cons cell, once built
            return DIV, v != DIV, False
        v = self.ev(c, env)
        s = v >> 1
        if s == 0:
            return v, False, False
        return v & 1, True, s == 3

    def ev_prim(self, e, env) -> int:
        name, args = e.name, e.args
        if name in STRICT:
            # operands forced left to right; the first that is an error or of a wrong
            # kind is the answer, and the operands after it are not forced (err). A
            # constant the primitive accepts and, but for the bitwise operators, a
            # number stop nothing (Note [Abstract values])
            err = 0
            numbers = name not in BITWISE     # operands all known to be numbers
            for a in args:
                if type(a) is C.Const and _accepts(name, a.value):
                    if type(a.value) is str:
                        numbers = False
                    continue
                v = self.ev(a, env)
                if (v >> 1) == 0:
                    return v | err
                if v != NUM or name in BITWISE:
                    err = 1
                    numbers = False
            if name in TESTS:
                return SAFE if numbers else TOP
            return NUME
        if name in PREDICATES:
            return DIV if self.ev(args[0], env) == DIV else SAFE
        if name in PROBES:
            v = self.ev(args[0], env)
            return v if (v >> 1) == 0 else TOP
        if name == "seq":
            err = 0
            last = len(args) - 1
            for i, a in enumerate(args):
                v = self.ev(a, env)
                if i == last:
                    return LUB[err][v]
                if (v >> 1) == 0:
                    return v | err
                err |= v & 1
            return SAFE
        for a in args:
            if _eager(a) and self.ev(a, env) == DIV:
                return DIV
        return TOP

    def ev_app(self, e, env) -> int:
        fn, arg = e.fn, e.arg
        if _eager(arg) and self.ev(arg, env) == DIV:
            return DIV
        tf = type(fn)
        if tf is C.Global:
            s = self.summaries.get(fn.name)
            if s is not None:
                return self.call(s, self.desc(arg, env))
            fv = self.global_value(fn.name)
            return fv if (fv >> 1) == 0 else TOP
        if tf is C.Lam:
            return self.enter(fn.param, fn.size, self.desc(arg, env), fn.body, env)
        if tf is C.PrimRef:
            name = fn.name
            if name in STRICT or name in PROBES or name == "seq":
                v = self.ev(arg, env)
                return v if (v >> 1) == 0 else TOP
            if name in PREDICATES:
                return DIV if self.ev(arg, env) == DIV else SAFE
            return TOP
        fv = self.ev(fn, env)
        return fv if (fv >> 1) == 0 else TOP

    def desc(self, e, env):
        """What binds a pattern: a list literal (kept apart, element by element), or
        an abstract value."""
        if type(e) is C.ListCons:
            return (e, 0, env)
        return self.ev(e, env)

    def builds_forever(self, lit, env) -> bool:
        """Building list literal lit runs its `#E`/`$x` items now: does that not end?"""
        for item in lit.items:
            if _eager(item) and self.ev(item, env) == DIV:
                return True
        return _eager(lit.tail) and self.ev(lit.tail, env) == DIV

    def value(self, desc) -> int:
        if type(desc) is not tuple:
            return desc
        lit, k, env = desc
        items = lit.items
        if id(lit) in self.eager_lits and self.builds_forever(lit, env):
            return DIV                           # building the list runs it now
        t = SAFE if lit.tail is None else self.ev(lit.tail, env)
        for j in range(len(items) - 1, k - 1, -1):
            t = CONS[self.ev(items[j], env)][t]
        return t

    # --- binding patterns -----------------------------------------------------------

    def bind(self, p, desc) -> list[list[tuple[int, int]]]:
        """The ways p can bind: a list of alternatives, each (slot, value) pairs."""
        tp = type(p)
        if tp is C.PVar:
            return [[(p.index, self.value(desc))]]
        if tp is C.PAs:
            whole = (p.index, self.value(desc))
            return [[whole] + a for a in self.bind(p.pattern, desc)]
        if type(desc) is tuple:
            lit, k, env = desc
            items = lit.items
            pitems = p.items
            if (p.rest is None and k + len(pitems) <= len(items)
                    and id(p) in self.flat_patterns):   # `\[a b]` given `[x y ...]`
                out = []
                for j, ip in enumerate(pitems):
                    item = items[k + j]
                    out.append((ip.index, self.value((item, 0, env)) if type(item) is C.ListCons
                                else self.ev(item, env)))
                return [out]
            alts = [[]]
            for j, ip in enumerate(p.items):
                if k < len(items):
                    item = items[k]
                    k += 1
                    alts = self.product(alts, self.bind(ip, self.desc(item, env)))
                    continue
                rest = self.suffix(p, j)
                if lit.tail is None:             # selecting from []: pattern mismatch
                    return self.product(alts, self.bind(rest, ERR))
                return self.product(alts, self.bind(rest, self.desc(lit.tail, env)))
            if p.rest is not None:
                if k < len(items):
                    sub = self.bind(p.rest, (lit, k, env))
                elif lit.tail is None:
                    sub = self.bind(p.rest, SAFE)
                else:
                    sub = self.bind(p.rest, self.desc(lit.tail, env))
                alts = self.product(alts, sub)
            return alts
        v = desc
        s = v >> 1
        if s == 0:      # selecting from a value that does not terminate, or an error
            return [[(i, v) for i in self.slots(p)]]
        if s == N:      # selecting from a number: pattern mismatch
            return [[(i, ERR) for i in self.slots(p)]]
        if s == 3:
            return [[(i, TOP) for i in self.slots(p)]]
        item_tops = [(b.index, TOP) for ip in p.items for b in self.binders(ip)]
        if s == 1:      # every element may be anything; the rest is as bad as v
            if p.rest is None:
                return [item_tops]
            return [item_tops + a for a in self.bind(p.rest, v)]
        # s == 2: the bad element is one of the items, or further on (Wadler's case)
        rest_tops = [] if p.rest is None else [(b.index, TOP) for b in self.binders(p.rest)]
        alts = []
        for i, ip in enumerate(p.items):
            others = [(b.index, TOP) for j, jp in enumerate(p.items) if j != i
                      for b in self.binders(jp)] + rest_tops
            alts.extend(others + a for a in self.bind(ip, v))
        if p.rest is None:
            alts.append(item_tops)
        else:
            alts.extend(item_tops + a for a in self.bind(p.rest, v))
        return alts if len(alts) <= MAX_ALTS else [self.merge(alts)]

    @staticmethod
    def merge(alts) -> list[tuple[int, int]]:
        acc: dict[int, int] = {}
        for alt in alts:
            for i, v in alt:
                acc[i] = LUB[acc.get(i, DIV)][v]
        return list(acc.items())

    def product(self, alts, sub):
        if len(sub) == 1:
            s0 = sub[0]
            return [a + s0 for a in alts]
        out = [a + b for a in alts for b in sub]
        return out if len(out) <= MAX_ALTS else [self.merge(out)]

    def enter(self, pattern, size, desc, body, env) -> int:
        """Evaluate body in a new frame (child of env) that binds pattern to desc."""
        if type(pattern) is C.PVar:
            frame = [env] + [TOP] * size
            frame[pattern.index + 1] = desc if type(desc) is int else self.value(desc)
            return self.ev(body, frame)
        alts = self.bind(pattern, desc)
        if len(alts) == 1:
            frame = [env] + [TOP] * size
            for i, v in alts[0]:
                frame[i + 1] = v
            return self.ev(body, frame)
        if self.splitting >= MAX_SPLIT_DEPTH:
            alts = [self.merge(alts)]
        res = DIV
        self.splitting += 1
        try:
            for alt in alts:
                frame = [env] + [TOP] * size
                for i, v in alt:
                    frame[i + 1] = v
                res = LUB[res][self.ev(body, frame)]
                if res == TOP:
                    break
        finally:
            self.splitting -= 1
        return res

    def call(self, s: Summary, desc) -> int:
        table, top = s.table, s.top
        reads = self.reads if s.solving else None
        if reads is not None:
            reads.append((s, -1))
        res = DIV
        for alt in self.bind(s.lam.param, desc):
            r = top
            for i, v in alt:
                if v < SAFE:
                    row = table[i]
                    if row is not None:
                        r = GLB[r][row[v]]
                        if reads is not None:
                            reads.append((s, i))
            if s.cond_rows:
                vals = dict(alt)
                for i, guard, row in s.cond_rows:
                    v = vals.get(i, TOP)
                    if v < SAFE and all(vals.get(g, TOP) in (DIV, NUM) for g in guard):
                        r = GLB[r][row[v]]
            res = LUB[res][r]
        return res

    # --- phase 1: top-level summaries, SCC by SCC --------------------------------------

    def summarise(self):
        for name, d in self.defs.items():
            refs: set[str] = set()
            self.scan(d.expr, [], refs)
            self.edges[name] = {r for r in refs if r in self.defs}
        for cmd in self.module.commands:
            if isinstance(cmd, C.Eval):
                self.scan(cmd.expr, [], set())
        if self.skipped is not None:
            return
        for name, d in self.defs.items():
            if type(d.expr) is C.Lam:
                self.summaries[name] = Summary(name, d.expr, self.binders(d.expr.param), self.used)
        for scc in sccs(list(self.defs), self.edges):
            try:
                self.solve(scc)
                for name in scc:
                    s = self.summaries.get(name)
                    if s is not None:
                        self.conditional_rows(s)
            except RecursionError:
                for name in scc:             # too deep to follow: assume nothing
                    s = self.summaries.get(name)
                    if s is not None:
                        s.table = [None] * len(s.table)
                        s.top = TOP
                    else:
                        self.values[name] = TOP

    def solve(self, scc: list[str]):
        """Kleene iteration from DIV, as a worklist: a row is computed again only when
        something it read has changed (Note [Function summaries])."""
        recursive = len(scc) > 1 or scc[0] in self.edges[scc[0]]
        funcs = []
        for name in scc:
            s = self.summaries.get(name)
            if s is not None:
                funcs.append(s)
            elif recursive:
                self.values[name] = TOP          # may be cyclic data
            else:
                self.values[name] = self.ev(self.defs[name].expr, None)
        work = []
        for s in funcs:
            work.append((s, -1))
            work.extend((s, i) for i, row in enumerate(s.table) if row is not None)
        if not recursive:
            for item in work:
                self.compute(item)
            return
        for s in funcs:
            s.solving = True
        readers: dict = {}
        queued = set(work)
        work.reverse()
        try:
            while work:
                item = work.pop()
                queued.discard(item)
                self.reads = []
                changed = self.compute(item)
                for r in self.reads:
                    readers.setdefault(r, set()).add(item)
                if changed:
                    for d in readers.get(item, ()):
                        if d not in queued:
                            queued.add(d)
                            work.append(d)
        finally:
            self.reads = None
            for s in funcs:
                s.solving = False

    def compute(self, item) -> bool:
        """Evaluate one row of a summary (or its all-TOP answer); whether it changed.
        Only the points 0, 1, 2 and 4 are evaluated: (s, 1) stands for the union of
        (s, 0) and (0, 1), so its row entry is the join of theirs."""
        s, i = item
        body, size = s.lam.body, s.lam.size
        if i < 0:
            top = self.ev(body, [None] + [TOP] * size)
            if top == s.top:
                return False
            s.top = top
            return True
        top = s.top
        if self.reads is not None:
            self.reads.append((s, -1))
        new = [top] * 6
        for p in (0, 1, 2, 4):
            if p and (new[0] == top or (p == 4 and new[2] == top)):
                continue                          # monotone: already at the top
            frame = [None] + [TOP] * size
            frame[i + 1] = p
            new[p] = self.ev(body, frame)
        new[3] = LUB[new[2]][new[1]]
        new[5] = LUB[new[4]][new[1]]
        row = s.table[i]
        if new == row:
            return False
        row[:] = new
        return True

    # --- phase 2: binders and calls ---------------------------------------------------

    def annotate(self):
        if self.skipped is not None:
            return                               # everything stays lazy
        for cmd in self.module.commands:
            try:
                if isinstance(cmd, C.Def) and cmd.name in self.summaries:
                    s = self.summaries[cmd.name]
                    for b in s.binders:
                        b.demand = LEVEL_NAMES[level_under(s.results(b), HEAD)]
                    items = s.lam.param.items if type(s.lam.param) is C.PList else []
                    for b, (level, guard) in s.cond.items():
                        b.cdemand = LEVEL_NAMES[level]
                        b.guard = tuple(sorted(next(j for j, i in enumerate(items) if i is g)
                                               for g in guard))
                    self.visit(s.lam.body, HEAD)
                else:
                    self.visit(cmd.expr, HEAD)
            except RecursionError:
                pass                             # what is left stays lazy, which is sound

    def conditional_rows(self, s: Summary):
        """s's conditional demands, and what s gives with each such binder bound to each
        point below TOP and its guard to numbers (for calls: Note [Conditional
        demands]). Computed once s's SCC is solved, from its final tables."""
        s.cond = self.conditional(s, HEAD)
        size = s.lam.size
        for b, (level, guard) in s.cond.items():
            row = [s.top] * 6
            for p in (0, 1, 2, 4):
                frame = [None] + [TOP] * size
                for g in guard:
                    frame[g.index + 1] = NUM
                frame[b.index + 1] = p
                row[p] = self.ev(s.lam.body, frame)
            row[3] = LUB[row[2]][row[1]]
            row[5] = LUB[row[4]][row[1]]
            s.cond_rows.append((b.index, [g.index for g in guard], row))

    def conditional(self, s: Summary, ctx: int) -> dict:
        """The conditional demands of s's parameters that are not demanded outright
        (Note [Conditional demands]), when s's result is demanded to level ctx:
        {binder: (level, [the binders it assumes are numbers])}, in the order they were
        found, each assuming only binders found before it or demanded outright."""
        p = s.lam.param
        if type(p) is not C.PList:
            return {}
        items = [i for i in p.items if type(i) is C.PVar]
        numeric = self.numeric_params(s.lam)
        out = {}
        try:
            known = [b for b in items if level_under(s.results(b), ctx) > LAZY
                     and id(b) in numeric and not self.vacuous(s, b, ctx)]
            pending = [b for b in items if level_under(s.results(b), ctx) == LAZY
                       and s.table[b.index] is not None]
            progress = True
            while progress and pending and known:
                progress = False
                for b in list(pending):
                    got = self.guarded(s, b, known[:MAX_GUARD], ctx)
                    if got is not None:
                        out[b] = got
                        if id(b) in numeric and not self.vacuous(s, b, ctx):
                            known.append(b)
                        pending.remove(b)
                        progress = True
        except RecursionError:
            pass                                 # what was found so far is sound
        return out

    def numeric_params(self, lam: C.Lam) -> set[int]:
        """id() of the parameters lam's body uses as an operand of a primitive that
        wants numbers: the only ones worth assuming are numbers."""
        out: set[int] = set()
        binders = self.binders(lam.param)
        stack = [(lam.body, 0)]
        while stack:
            e, depth = stack.pop()
            t = type(e)
            if t is C.PrimCall and e.name in STRICT and e.name not in BITWISE:
                for a in e.args:
                    if type(a) is C.Local and a.depth == depth and a.index < len(binders):
                        out.add(id(binders[a.index]))
            inner = depth + 1 if t is C.Lam else depth
            if t is C.Let:
                stack.append((e.value, depth + 1 if e.rec else depth))
                stack.append((e.body, depth + 1))
                continue
            for c in C.children(e):
                stack.append((c, inner))
        return out

    def vacuous(self, s: Summary, g, ctx: int) -> bool:
        """Does s's body fail a demand of level ctx whenever g is a number, whatever
        the other parameters are? Then assuming g is a number proves nothing."""
        frame = [None] + [TOP] * s.lam.size
        frame[g.index + 1] = NUM
        return fails(self.ev(s.lam.body, frame), FAIL_OUT[ctx])

    def guarded(self, s: Summary, b, candidates: list, ctx: int):
        """(level, guard) when s's body certainly evaluates b, to that level, given that
        the binders in guard (a smallest subset of candidates found greedily) are
        numbers; None when it does not even given all of them."""
        limit = FAIL_OUT[ctx]

        def demands(guard, level) -> bool:
            frame = [None] + [TOP] * s.lam.size
            for g in guard:
                frame[g.index + 1] = NUM
            frame[b.index + 1] = FAIL_IN[level]
            return fails(self.ev(s.lam.body, frame), limit)

        guard = list(candidates)
        if not demands(guard, HEAD):
            return None
        for g in list(guard):
            rest = [x for x in guard if x is not g]
            if demands(rest, HEAD):
                guard = rest
        level = HEAD
        for k in (SPINE, FULL):
            if demands(guard, k):
                level = k
        return level, sorted(guard, key=lambda g: g.index)

    def scope_results(self, node, pattern, body) -> dict[int, tuple]:
        """Per binder of pattern (by id): the scope's results with the binder bound to
        FAIL_IN of head, spine and full, every other name TOP. Sets binder demands."""
        out = {}
        small = self.size.get(id(node), SCOPE_LIMIT + 1) <= SCOPE_LIMIT
        for b in self.binders(pattern):
            r = (TOP, TOP, TOP)
            if small and id(b) in self.used:
                got = []
                for k in (HEAD, SPINE, FULL):
                    frame = [None] + [TOP] * node.size
                    frame[b.index + 1] = FAIL_IN[k]
                    v = self.ev(body, frame)
                    got.append(v)
                    if (v >> 1) >= 3:
                        break
                r = tuple(got + [TOP] * (3 - len(got)))
            b.demand = LEVEL_NAMES[level_under(r, HEAD)]
            out[id(b)] = r
        return out

    def pattern_demand(self, p, dem) -> int:
        """The demand on the value a pattern matches, from its binders' demands."""
        tp = type(p)
        if tp is C.PVar:
            return dem(p)
        if tp is C.PAs:
            return max(dem(p), self.pattern_demand(p.pattern, dem))
        ds = [self.pattern_demand(i, dem) for i in p.items]
        r = LAZY if p.rest is None else self.pattern_demand(p.rest, dem)
        d = HEAD if (r >= HEAD or any(x >= HEAD for x in ds)) else LAZY
        if r >= SPINE:
            d = SPINE
        if r == FULL and ds and all(x == FULL for x in ds):
            d = FULL
        return d

    def visit_arg(self, p, arg, dem):
        """A suspended argument (or let value) matched by pattern p."""
        if type(arg) is C.ListCons and type(p) is C.PList:
            self.match_literal(p, arg, 0, dem)
        else:
            self.visit(arg, self.pattern_demand(p, dem))

    def match_literal(self, p, lit, k, dem):
        """Visit lit's items from k and its tail, each with what p demands of it."""
        items = lit.items
        if type(p) is not C.PList:
            self.visit_suffix(lit, k, self.pattern_demand(p, dem))
            return
        for j, ip in enumerate(p.items):
            if k >= len(items):
                d = self.pattern_demand(self.suffix(p, j), dem)
                if lit.tail is not None:
                    self.visit(lit.tail, d)
                return
            item = items[k]
            k += 1
            if type(item) is C.ListCons and type(ip) is C.PList:
                self.match_literal(ip, item, 0, dem)
            else:
                self.visit(item, self.pattern_demand(ip, dem))
        if p.rest is not None:
            self.match_literal(p.rest, lit, k, dem)
        else:
            self.visit_suffix(lit, k, LAZY)

    def visit_suffix(self, lit, k, d):
        item_d = FULL if d == FULL else LAZY
        for item in lit.items[k:]:
            self.visit(item, item_d)
        if lit.tail is not None:
            self.visit(lit.tail, d if (d >= SPINE or k >= len(lit.items)) else LAZY)

    def visit(self, e, ctx):
        """Set App.demand in e, whose value the context demands to level ctx (LAZY: e
        is a suspended position nobody is sure to force; its insides then run when it
        is forced, so they are visited as if demanded to WHNF)."""
        t = type(e)
        c = ctx or HEAD
        if t is C.App:
            e.demand = LEVEL_NAMES[ctx]
            fn, arg = e.fn, e.arg
            tf = type(fn)
            s = self.summaries.get(fn.name) if tf is C.Global else None
            if s is not None:
                self.visit_arg(s.lam.param, arg, lambda b: level_under(s.results(b), c))
            elif tf is C.Lam:
                res = self.scope_results(fn, fn.param, fn.body)
                self.visit(fn.body, c)
                self.visit_arg(fn.param, arg, lambda b: level_under(res[id(b)], c))
            elif tf is C.PrimRef:
                self.visit(arg, _prim_operand_demand(fn.name))
            else:
                self.visit(fn, HEAD)
                self.visit(arg, LAZY)
        elif t is C.PrimCall:
            name = e.name
            d = _prim_operand_demand(name)
            last = len(e.args) - 1
            for i, a in enumerate(e.args):
                self.visit(a, c if (name == "seq" and i == last) else d)
        elif t is C.If:
            for cond, b in e.arms:
                self.visit(cond, HEAD)
                self.visit(b, c)
            if e.otherwise is not None:
                self.visit(e.otherwise, c)
        elif t is C.Let:
            res = self.scope_results(e, e.pattern, e.body)
            if e.rec:               # the value runs only after its own binders exist
                self.visit(e.value, LAZY)
            else:
                self.visit_arg(e.pattern, e.value, lambda b: level_under(res[id(b)], c))
            self.visit(e.body, c)
        elif t is C.ListCons:
            item_d = FULL if c == FULL else LAZY
            for i in e.items:
                self.visit(i, item_d)
            if e.tail is not None:
                self.visit(e.tail, c if c >= SPINE else LAZY)
        elif t is C.Ann:
            if e.op == "#":
                self.visit(e.expr, FULL)
            elif e.op == "$":
                self.visit(e.expr, c)
            else:
                self.visit(e.expr, LAZY)
        elif t is C.Lam:
            self.scope_results(e, e.param, e.body)
            self.visit(e.body, HEAD)


def sccs(nodes: list[str], edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components, without recursion; callees come before
    their callers."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, it = work[-1]
            advanced = False
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(edges[w]))))
                    advanced = True
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                u = work[-1][0]
                low[u] = min(low[u], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                out.append(comp)
    return out


def _conditional_text(level: int, guard: list) -> str:
    return f"{LEVEL_NAMES[level]} if num:{','.join(g.name for g in guard)}"


@dataclass
class DemandInfo:
    """What `analyse_module` found besides the IR fields: per top-level function, its
    parameter binders' demands when its result is demanded to WHNF ("head") and
    completely ("full", None when not analysed), as {name: {"head": [(binder, level)],
    "full": [...]}}; and why the module was not analysed at all, if it was not."""
    functions: dict = field(default_factory=dict)
    skipped: str | None = None


def analyse_module(module: C.Module, dynamic: bool = False) -> DemandInfo:
    """Set every binder's and every call's demand in module (Note [Demand classes])."""
    a = Analysis(module, dynamic)
    a.summarise()
    a.annotate()
    out = {}
    for cmd in module.commands:
        if isinstance(cmd, C.Def) and type(cmd.expr) is C.Lam:
            binders = a.binders(cmd.expr.param)
            s = a.summaries.get(cmd.name)
            full = None
            if s is not None:
                cond = a.conditional(s, FULL)
                full = [(b.name, LEVEL_NAMES[level_under(s.results(b), FULL)]
                         if b not in cond else _conditional_text(*cond[b]))
                        for b in binders]
            head = [(b.name, b.demand if getattr(b, "guard", None) is None else
                     f"{b.cdemand} if num:{','.join(cmd.expr.param.items[j].name for j in b.guard)}")
                    for b in binders]
            out[cmd.name] = {"head": head, "full": full}
    return DemandInfo(out, a.skipped)
