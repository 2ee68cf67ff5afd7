"""Pass `reps`: representations. Functions that compute only small integers get a
second body in the int representation (a fixnum variant) and an entry that tries it.

Note [Fixnum variants]
~~~~~~~~~~~~~~~~~~~~~~
A top-level function whose parameter is a name, or a list pattern of up to four
names, and whose body, read with those parameters as small integers, can only make
small integers, gets a second compiled form besides its generic code: a *fixnum
variant*, an LIR function whose variables all have the int representation (a small
integer's tagged word) or bool. It takes the parameters as small integers and returns
one, with no root frame, no suspensions and no heap objects: its arithmetic is the
generic code's fast paths (`add.checked` ...) with giving up where the generic code
has a slow path, its tests are machine comparisons, and its calls go straight to
other fixnum variants. The same LIR statements, the same emitter: one representation,
not a second code generator.

What counts as such a body (`_Check.expr`, `_Check.test`):
  - an integer constant in the small range, a parameter, a `let` binder of such a value;
  - `add`, `sub`, `mpy`, `div`, `rem` of such values; `inc`, `dcr`, `neg` of one;
  - `if` whose tests compare such values (`lt? le? gt? ge? eq? ne?`, `zero? one? pos?
    neg?`) and whose branches, `else` included, are such values;
  - a call of a function that has a fixnum variant, with such values for the names its
    pattern binds (items past the pattern are never selected, so never evaluated),
    where each value either goes to a parameter the callee certainly evaluates
    (frontend/demand.py: outright, or because the parameters it assumes are numbers
    are, which they are in a fixnum variant), or makes no call, or is `$E` or `#E`,
    which the lazy program runs when it builds the argument (for a list, once the
    callee selects from it, which it does when it demands any parameter outright).
    The variant evaluates the values in C.demand_order, so it evaluates nothing the
    lazy program would not, in an order that can only differ where both run;
  - `$E`, `#E` and `@E` of such a value.
A `let` binder must be demanded, or its value must contain no call or be `$E` or `#E`
(which the lazy program runs at the `let` too), or the body must name the binder once:
the variant evaluates a demanded, call-free, `$` or `#` value at once, and any other
where the body names it, in the order the generic code would (an early call
could fail to terminate where the lazy program never asked for the value: in
`let:[a @nfib:dcr:n add:[nfib:sub:[n 2] a 1]]` a is evaluated only when the first
operand is a number, and an error there would return without it).

The set of functions is the greatest fixed point: start from every function whose
parameter is names and drop those whose bodies use anything else, including a
call of a dropped function, until none is dropped. That is sound because the variant
only ever *speculates*: whatever the analysis believes, at run time an overflow, a
value that is not a small integer, a full stack or a hungry worker (`@`) makes the
variant give up, and the generic code computes the call instead. Giving up is never
visible: these bodies have no effects, so computing a call again gives the same value.

Programs whose names can be rebound at run time (`val`, `evlst`, the REPL) get no
fixnum variants: a variant calls other variants directly (Note [Late binding]).

Note [Fixnum entries]
~~~~~~~~~~~~~~~~~~~~~
A marked function `f` has three compiled forms, all with the code signature:

  f        its entry: what closures, direct calls and sparks call (it takes the name
           of f's spread entry, or of f's closure code when f has none). When every
           value it is given is a small integer and `w->fx_off` is clear, it calls
           f_fx and returns a small integer it gets back; otherwise it jumps to f_g.
  f_fx     the fixnum variant: values in, value out, as small integers. It returns 0
           when it gives up: an overflow, a callee that gave up or returned something
           else, a full C stack.
  f_g      the generic code (Note [Strict arguments]).

Giving up must not cost more than a constant factor. A variant that gives up deep in
a recursion has done work the generic code will do again; if each generic frame on the
way back tried its variant again, a linear recursion that overflows near its bottom
would cost quadratic time. So the entry that sees 0 sets `w->fx_off` while f_g
recomputes the call, and every entry reached meanwhile goes straight to generic code:
the call is computed once by the variant (wasted) and once generically. The flag is
cleared when f_g returns and by any unwind (rt_unwind_slow), so a failure elsewhere
never leaves the variants off.

A variant checks the stack and polls (Note [Safepoints]) before the first call on each
path through its body, not at entry: a path that makes no call does a bounded amount
of arithmetic and returns, and so needs neither. This keeps leaves cheap (half of
nfib's calls return 1 at once): no frame, no stack check, no poll, and LLVM's
shrink-wrapping keeps the register saves off their path. Every loop and recursion
still polls, because each goes through a call. A call of a fixnum variant is not a
safepoint for the `roots` pass: everything its caller holds across it is a small
integer, which no collection moves.

`@E` in a fixnum variant: while no worker is hungry (Note [Hungry workers] in
rt/rt_spark.c) a spark would be evaluated at once anyway, so the variant evaluates E.
When some worker is hungry, the variant hands its whole call to f_g, which sparks: it
calls f_g with its own arguments and returns what that forces to (a small integer, or
0). The only work lost is this call's, up to the `@`: in the usual shapes
(`add:[@f:x f:y]`, a `let` of a spark) that is the tests of the `if` around it. f_g's
own calls go through entries again, so the sequential parts below a spark run in
fixnum variants.
"""
from __future__ import annotations

from ..frontend import core as C
from . import lir as L
from .abi import FIX_MAX, FIX_MIN, NIL, fix

ARITH = {"add", "sub", "mpy", "div", "rem"}
UNARY = {"inc", "dcr", "neg"}
COMPARE = {"lt?": "lt", "le?": "le", "gt?": "gt", "ge?": "ge", "eq?": "eq", "ne?": "ne"}
PREDICATE = {"zero?": ("eq", 0), "one?": ("eq", 1), "pos?": ("ge", 0), "neg?": ("lt", 0)}
MAX_ITEMS = 4            # a fixnum variant's values: the code signature's four


def fixnum_params(lam: C.Lam) -> list | None:
    """The binders a fixnum variant takes, in order, or None when the parameter is
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
    """A `let` whose value a fixnum variant evaluates where its binder is used (once),
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


def choose(defs: dict[str, C.Def]) -> list[str]:
    """The functions that get fixnum variants (the greatest fixed point)."""
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
    return [n for n in defs if n in candidates]


class FixnumLowering:
    """f_fx's body: core IR in the int representation."""

    def __init__(self, p: L.Program, cl, names: dict, fn: L.Fn, lam: C.Lam, generic: str):
        self.p, self.cl, self.names = p, cl, names
        self.fn, self.lam, self.generic = fn, lam, generic
        self.nvar = 0
        self.labels: set[str] = set()
        self.cur = None
        self._giveup = None
        self._handoff = None
        self.guarded = False       # has this path checked the stack and polled yet?

    def var(self, hint, rep=L.INT) -> L.Var:
        self.nvar += 1
        return L.Var(f"{hint}.{self.nvar}", rep)

    def block(self, hint, params=()) -> L.Block:
        label, k = hint, 0
        while label in self.labels:
            k += 1
            label = f"{hint}.{k}"
        self.labels.add(label)
        b = L.Block(label, list(params))
        self.fn.blocks.append(b)
        return b

    def emit(self, s):
        self.cur.stmts.append(s)

    def term(self, t):
        self.cur.term = t
        self.cur = None

    # ---- shared exits ----
    def giveup(self) -> str:
        """The block that gives up: the caller's entry recomputes generically."""
        if self._giveup is None:
            b = self.block("giveup")
            b.term = L.Return(L.Word(0, "giveup"))
            self._giveup = b.label
        return self._giveup

    def handoff(self) -> str:
        """The block that hands this call to the generic code (a hungry `@`)."""
        if self._handoff is None:
            here = self.cur
            b = self.block("handoff")
            self.cur = b
            vals = list(self.fn.params)
            args = [L.Word(NIL, "nil"), vals[0]] if type(self.lam.param) is C.PVar else vals
            r = self.var("r", L.VAL)
            self.emit(L.Let(r, L.Call("code", self.generic, args)))
            v = self.var("v", L.VAL)
            self.emit(L.Let(v, L.Call("rt", "rt_whnf", [r])))
            c = self.var("c", L.BOOL)
            self.emit(L.Let(c, L.Op("fix?", [v])))
            ok = self.block("handedback")
            ok.term = L.Return(v)
            self.term(L.Branch(c, ok.label, self.giveup()))
            self._handoff = b.label
            self.cur = here
        return self._handoff

    def guard(self) -> None:
        """Before a call: the stack check and the poll, once per path (Note [Fixnum
        entries])."""
        if self.guarded:
            return
        self.emit(L.StackGuard(self.giveup()))
        self.emit(L.Poll())
        self.guarded = True

    # ---- the body ----
    def lower(self) -> None:
        self.cur = self.block("entry")
        env = {id(p): v for p, v in zip(fixnum_params(self.lam), self.fn.params)}
        self.ev(self.lam.body, env, tail=True)

    def ev(self, e, env: dict, tail: bool = False):
        t = type(e)
        if t is C.Const:
            v = L.Word(fix(e.value), str(e.value))
        elif t is C.Local:
            v = env[id(self.cl.binder[id(e)])]
            if type(v) is tuple:               # a deferred let value, named once
                v = self.ev(v[0], v[1])
        elif t is C.PrimCall:
            v = self.prim(e, env)
        elif t is C.App:
            return self.call(e, env, tail)
        elif t is C.If:
            return self.if_(e, env, tail)
        elif t is C.Let:
            inner = dict(env)
            if deferred(e):
                # evaluated where the body names it (Note [Fixnum variants]); a hungry
                # `@` still hands the call over here, before any work is done
                value = e.value
                while type(value) is C.Ann and value.op == "@":
                    self.spark_check()
                    value = value.expr
                inner[id(e.pattern)] = (value, env)
            else:
                inner[id(e.pattern)] = self.ev(e.value, env)
            return self.ev(e.body, inner, tail)
        elif t is C.Ann:
            if e.op == "@":
                self.spark_check()
            return self.ev(e.expr, env, tail)
        else:
            raise AssertionError(f"not a fixnum expression: {t.__name__}")
        if tail:
            self.term(L.Return(v))
            return None
        return v

    def spark_check(self) -> None:
        """`@`: while some worker is hungry, hand the call to the generic code."""
        h = self.var("hungry", L.BOOL)
        self.emit(L.Let(h, L.Op("hungry", [])))
        go = self.block("busy")
        self.term(L.Branch(h, self.handoff(), go.label, likely=False))
        self.cur = go

    def checked(self, op: str, x, y=None):
        v = self.var(op)
        self.emit(L.Checked(v, op, x, y, self.giveup()))
        return v

    def prim(self, e: C.PrimCall, env):
        if e.name in UNARY:
            return self.checked(e.name, self.ev(e.args[0], env))
        acc = self.ev(e.args[0], env)
        for a in e.args[1:]:
            acc = self.checked(e.name, acc, self.ev(a, env))
        return acc

    def test(self, e, env):
        """An `if` test as a bool."""
        if type(e) is C.Ann:
            return self.test(e.expr, env)
        c = self.var("c", L.BOOL)
        if e.name in COMPARE:
            x = self.ev(e.args[0], env)
            y = self.ev(e.args[1], env)
            self.emit(L.Let(c, L.Op(COMPARE[e.name], [x, y])))
        else:
            op, k = PREDICATE[e.name]
            self.emit(L.Let(c, L.Op(op, [self.ev(e.args[0], env), L.Word(fix(k), str(k))])))
        return c

    def if_(self, e: C.If, env, tail: bool):
        done = r = None
        if not tail:
            r = self.var("if")
            done = self.block("ifdone", [r])
        joined = True              # guarded on every path into `done`
        for test, branch in e.arms:
            c = self.test(test, env)
            then, other = self.block("then"), self.block("else")
            self.term(L.Branch(c, then.label, other.label))
            self.cur = then
            after_test = self.guarded
            v = self.ev(branch, env, tail)
            if not tail:
                self.term(L.Jump(done.label, [v]))
                joined = joined and self.guarded
            self.guarded = after_test
            self.cur = other
        v = self.ev(e.otherwise, env, tail)
        if tail:
            return None
        self.term(L.Jump(done.label, [v]))
        self.guarded = joined and self.guarded
        self.cur = done
        return r

    def call(self, e: C.App, env, tail: bool):
        callee = e.fn.name
        lam = self.p_defs[callee].expr
        if type(lam.param) is C.PVar:
            vals = [self.ev(e.arg, env)]
        else:
            # in the order the callee demands them (Note [Fixnum variants]): an item
            # demanded only when others are numbers comes after them
            vals = [None] * len(lam.param.items)
            for j in C.demand_order(lam.param):
                vals[j] = self.ev(e.arg.items[j], env)
        target = self.names[callee]
        self.guard()
        # notail: the stack check reads the frame address, and a call eliminated as
        # tail recursion would keep one frame forever (an endless loop, not the error)
        c = L.Call("fixnum", target, vals, notail=not tail)
        if tail:
            self.term(L.TailCall(c))
            return None
        r = self.var("r")
        self.emit(L.Let(r, c))
        ok = self.var("ok", L.BOOL)
        self.emit(L.Let(ok, L.Op("fix?", [r])))
        self.emit(L.Guard(ok, self.giveup()))
        return r


def entry_fn(name: str, target: L.Fn, lam: C.Lam, fx: str, generic: str) -> L.Fn:
    """f: the entry of Note [Fixnum entries], in place of `target` (renamed generic)."""
    params = [L.Var(v.name, v.rep) for v in target.params]
    fn = L.Fn(name, target.kind, params, checks=False, label=target.label,
              note=f"tries {fx} when every value is a small integer, else {generic}")
    fn.kind = "entry"
    n = len(fixnum_params(lam))
    vals = [params[1]] if type(lam.param) is C.PVar else params[:n]
    b0 = L.Block("entry")
    off = L.Var("off.1")
    b0.stmts.append(L.Let(off, L.WField("fx_off")))
    ok = L.Var("ok.2", L.BOOL)
    b0.stmts.append(L.Let(ok, L.Op("eq", [off, L.Word(0, "0")])))
    for i, v in enumerate(vals):
        f = L.Var(f"fix.{3 + 2 * i}", L.BOOL)
        b0.stmts.append(L.Let(f, L.Op("fix?", [v])))
        ok2 = L.Var(f"ok.{4 + 2 * i}", L.BOOL)
        b0.stmts.append(L.Let(ok2, L.Op("and", [ok, f])))
        ok = ok2
    b0.term = L.Branch(ok, "tryfixnum", "generic")
    gen = L.Block("generic", term=L.TailCall(L.Call("code", generic, list(params))))
    r = L.Var("r", L.VAL)
    gave = L.Var("gaveup", L.BOOL)
    try_ = L.Block("tryfixnum", stmts=[L.Let(r, L.Call("fixnum", fx, list(vals))),
                                       L.Let(gave, L.Op("eq", [r, L.Word(0, "giveup")]))],
                   term=L.Branch(gave, "recompute", "fixnum", likely=False))
    done = L.Block("fixnum", term=L.Return(r))
    r2 = L.Var("r2")
    again = L.Block("recompute", stmts=[
        L.Count("fx_giveups", 1),
        L.SetWField("fx_off", L.Word(1, "1")),
        L.Let(r2, L.Call("code", generic, list(params))),
        L.SetWField("fx_off", L.Word(0, "0"))], term=L.Return(r2))
    fn.blocks = [b0, gen, try_, done, again]
    return fn


def fixnum_variants(p: L.Program, module: C.Module, demands, cl) -> None:
    """Choose the functions (Note [Fixnum variants]) and give each its fixnum variant
    and entry; the generic code keeps its body under the name f_g."""
    if p.late_binding:
        p.fixnum_skipped = "names can be rebound at run time (val, evlst, the REPL)"
        return
    if demands is not None and getattr(demands, "skipped", None):
        p.fixnum_skipped = f"no demands: {demands.skipped}"
        return
    defs = {c.name: c for c in module.commands if isinstance(c, C.Def)}
    chosen = choose(defs)
    p.fixnum = chosen
    if not chosen:
        return
    # the function each call goes to: the spread entry, else the closure code
    targets = {name: p.top[name] for name in chosen}
    # f_fx, not f_s_fx; only a spread entry's suffix goes (a name may end in `-s`)
    fx_names = {name: _fresh(p, _fx_base(p, targets[name]) + "_fx") for name in chosen}
    new = []
    for name in chosen:
        target = p.fn(targets[name])
        generic = _fresh(p, target.name + "_g")
        entry = entry_fn(target.name, target, defs[name].expr, fx_names[name], generic)
        target.name, target.label = generic, None
        lam = defs[name].expr
        fx = L.Fn(fx_names[name], "fixnum",
                  [L.Var(b.name, L.INT) for b in fixnum_params(lam)], checks=False,
                  note=f"{name} on small integers: gives up with 0")
        g = FixnumLowering(p, cl, fx_names, fx, lam, generic)
        g.p_defs = defs
        g.lower()
        new.append((target, entry, fx))
    p._fn_index = None
    for target, entry, fx in new:
        i = p.functions.index(target)
        p.functions[i:i] = [entry, fx]


def _fx_base(p: L.Program, target: str) -> str:
    if p.fn(target).kind == "spread" and target.endswith("_s"):
        return target[:-2]
    return target


def _fresh(p: L.Program, name: str) -> str:
    names = {f.name for f in p.functions}
    base, k = name, 1
    while name in names:
        k += 1
        name = f"{base}_{k}"
    return name
