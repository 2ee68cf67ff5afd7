"""The primitives of LANGUAGE.md section 6, for the reference interpreter.

Each primitive is a `Prim` whose `call(m, arg)` returns a value or a generator (run by
the machine) that returns one. One-operand primitives are registered `strict`: the
evaluator forces the operand first. Primitives over lists force what they need
themselves, left to right, and stop at the first operand that is an error or is not of
the kind they need (docs/language.md section 3, "evaluation order").

Streams and devices (console, stdin, screen, scnis, prsis, prsos, scnos) are in
streams.py; they register here through the same `PRIMS` table.
"""
from __future__ import annotations

import math

from .eval import apply, describe, suspended_apply
from .values import (NIL, TRUE, UNSET, Apl, Atom, Closure, Cons, Error, Native, Prim, Thunk)

INT_MIN, INT_MAX = -(2**63), 2**63 - 1
MASK = 2**64 - 1

PRIMS: dict[str, Prim] = {}


def prim(name, strict=False):
    def register(fn):
        PRIMS[name] = Prim(name, fn, strict)
        return fn
    return register


def truth(b: bool):
    return TRUE if b else NIL


def overflow(name: str) -> Error:
    return Error(f"integer overflow in {name}")


def non_numeric(name: str, v) -> Error:
    return v if type(v) is Error else Error(f"{name}: non-numeric operand ({describe(v)})")


def is_num(v) -> bool:
    t = type(v)
    return t is int or t is float


def fits(n: int) -> bool:
    return INT_MIN <= n <= INT_MAX


def force(v):
    """Generator: v's value."""
    if type(v) is Thunk:
        if v.value is not UNSET:
            return v.value
        return (yield v)
    return v


def operands(name: str, arg, n: int, check):
    """Generator: the first n elements of list `arg`, forced left to right; returns a
    list, or the error to answer with: a failed `check(value)`, or a badly shaped list."""
    shape = "[" + " ".join("abcdefgh"[:n]) + "]"
    lst = yield from force(arg)
    out = []
    for _ in range(n):
        if type(lst) is not Cons:
            return lst if type(lst) is Error else Error(f"{name} expects {shape}")
        v = yield from force(lst.head)
        bad = check(name, v)
        if bad is not None:
            return bad
        out.append(v)
        lst = yield from force(lst.tail)
    if lst is not NIL:
        return lst if type(lst) is Error else Error(f"{name} expects {shape}")
    return out


def check_num(name, v):
    return None if is_num(v) else non_numeric(name, v)


def check_int(name, v):
    if type(v) is int:
        return None
    if type(v) is Error:
        return v
    return Error(f"{name}: operand is not an integer ({describe(v)})")


def check_any(name, v):
    return v if type(v) is Error else None


# --- arithmetic ---------------------------------------------------------------------

def _fold(name, unit, step):
    def call(m, arg):
        lst = yield from force(arg)
        acc = unit
        while type(lst) is Cons:
            v = yield from force(lst.head)
            if not is_num(v):
                return non_numeric(name, v)
            acc = step(acc, v)
            if type(acc) is Error:
                return acc
            lst = yield from force(lst.tail)
        if lst is not NIL:
            return lst if type(lst) is Error else Error(f"{name} expects a list")
        return acc
    p = PRIMS[name] = Prim(name, call)
    p.check, p.step, p.unit = check_num, step, unit


def _add(a, b):
    r = a + b
    if type(r) is int and not fits(r):
        return overflow("add")
    return r


def _mpy(a, b):
    r = a * b
    if type(r) is int and not fits(r):
        return overflow("mpy")
    return r


_fold("add", 0, _add)
_fold("mpy", 1, _mpy)


def fdiv(a: float, b: float) -> float:
    if b == 0:
        if a == 0 or math.isnan(a):
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b


def _binary(name, check, fn):
    def call(m, arg):
        ops = yield from operands(name, arg, 2, check)
        if type(ops) is not list:
            return ops
        return fn(*ops)
    p = PRIMS[name] = Prim(name, call)
    p.check, p.fn2 = check, fn


def _sub(a, b):
    r = a - b
    if type(r) is int and not fits(r):
        return overflow("sub")
    return r


def _div(a, b):
    if type(a) is int and type(b) is int:
        if b == 0:
            return Error("division by zero in div")
        q = abs(a) // abs(b)
        q = q if (a < 0) == (b < 0) else -q
        return q if fits(q) else overflow("div")
    return fdiv(float(a), float(b))


def _rem(a, b):
    if type(a) is int and type(b) is int:
        if b == 0:
            return Error("division by zero in rem")
        r = abs(a) % abs(b)
        return -r if a < 0 else r
    a, b = float(a), float(b)
    if b == 0 or math.isinf(a) or math.isnan(a) or math.isnan(b):
        return math.nan
    return math.fmod(a, b)


_binary("sub", check_num, _sub)
_binary("div", check_num, _div)
_binary("rem", check_num, _rem)


def _unary_num(name, int_fn, float_fn):
    def call(m, v):
        if type(v) is int:
            r = int_fn(v)
            if type(r) is int and not fits(r):
                return overflow(name)
            return r
        if type(v) is float:
            return float_fn(v)
        return non_numeric(name, v)
    PRIMS[name] = Prim(name, call, strict=True)


_unary_num("neg", lambda a: -a, lambda a: -a)
_unary_num("inc", lambda a: a + 1, lambda a: a + 1.0)
_unary_num("dcr", lambda a: a - 1, lambda a: a - 1.0)
_unary_num("inv", lambda a: fdiv(1.0, float(a)), lambda a: fdiv(1.0, a))


# --- bitwise ---------------------------------------------------------------------------

def signed(u: int) -> int:
    u &= MASK
    return u - (1 << 64) if u >> 63 else u


def _shift(fn):
    def op(a, n):
        if not 0 <= n <= 63:
            return Error(f"shift count out of range: {n}")
        return fn(a, n)
    return op


_binary("and", check_int, lambda a, b: a & b)
_binary("or", check_int, lambda a, b: a | b)
_binary("xor", check_int, lambda a, b: a ^ b)
_binary("lsh", check_int, _shift(lambda a, n: signed(a << n)))
_binary("rsh", check_int, _shift(lambda a, n: signed((a & MASK) >> n)))
_binary("arsh", check_int, _shift(lambda a, n: a >> n))


@prim("not", strict=True)
def _not(m, v):
    if type(v) is int:
        return ~v
    return check_int("not", v)


# --- tests -------------------------------------------------------------------------

def _test(name, fn):
    def call(m, v):
        if is_num(v):
            return truth(fn(v))
        return non_numeric(name, v)
    PRIMS[name] = Prim(name, call, strict=True)


_test("zero?", lambda v: v == 0)
_test("one?", lambda v: v == 1)
_test("neg?", lambda v: v < 0)
_test("pos?", lambda v: v >= 0)


def _ordering(name, fn):
    def cmp(a, b):
        if type(a) is not type(b):
            a, b = float(a), float(b)
        return truth(fn(a, b))
    _binary(name, check_num, cmp)


_ordering("lt?", lambda a, b: a < b)
_ordering("le?", lambda a, b: a <= b)
_ordering("ge?", lambda a, b: a >= b)
_ordering("gt?", lambda a, b: a > b)


def _identity_kind(v) -> bool:
    from .values import Token
    return v is NIL or type(v) is Atom or type(v) is Token


def equal(a, b):
    """`eq?`'s answer as a bool, or an Error for a pair that is not comparable."""
    if is_num(a) and is_num(b):
        if type(a) is not type(b):
            a, b = float(a), float(b)
        return a == b
    if _identity_kind(a) and _identity_kind(b):
        return a is b
    return Error(f"not comparable: {describe(a)} and {describe(b)}")


def _eq_prim(name, negate):
    def call(m, arg):
        ops = yield from operands(name, arg, 2, check_any)
        if type(ops) is not list:
            return ops
        return compare(*ops)

    def compare(a, b):
        r = equal(a, b)
        if type(r) is Error:
            return r
        return truth(r != negate)
    p = PRIMS[name] = Prim(name, call)
    p.check, p.fn2 = check_any, compare


_eq_prim("eq?", False)
_eq_prim("ne?", True)


# --- types ---------------------------------------------------------------------------

def _type_test(name, fn):
    PRIMS[name] = Prim(name, lambda m, v: truth(fn(v)), strict=True)


_type_test("nil?", lambda v: v is NIL)
_type_test("list?", lambda v: v is NIL or type(v) is Cons)
_type_test("isLST?", lambda v: v is NIL or type(v) is Cons)
_type_test("isNML?", is_num)
_type_test("isIDE?", lambda v: type(v) is Atom)
_type_test("isFTN?", lambda v: type(v) in (Closure, Prim))
_type_test("isAPL?", lambda v: type(v) is Apl)
_type_test("isERR?", lambda v: type(v) is Error)


# --- lists and functions ------------------------------------------------------------

def not_a_list(name, v):
    return v if type(v) is Error else Error(f"{name} expects a list, not {describe(v)}")


def _map_gen(m, data):
    f, lst = data
    lst = yield from force(lst)
    if type(lst) is Cons:
        return Cons(suspended_apply(f, lst.head), Thunk(MAP_NEXT, (f, lst.tail)))
    if lst is NIL:
        return NIL
    return not_a_list("map", lst)


MAP_NEXT = Native(_map_gen, "map")


@prim("map")
def _map(m, f):
    return Prim(None, lambda m, lst: _map_gen(m, (f, lst)), data=f)


def _smap_gen(m, data):
    f, lst = data
    lst = yield from force(lst)
    if type(lst) is Cons:
        fv = yield from force(f)
        v = yield apply(m, fv, lst.head)
        return Cons(v, Thunk(SMAP_NEXT, (fv, lst.tail)))
    if lst is NIL:
        return NIL
    return not_a_list("smap", lst)


SMAP_NEXT = Native(_smap_gen, "smap")


@prim("smap")
def _smap(m, f):
    return Prim(None, lambda m, lst: _smap_gen(m, (f, lst)), data=f)


def _fc_gen(m, data):
    fs, args = data
    fs = yield from force(fs)
    if type(fs) is not Cons:
        return NIL if fs is NIL else not_a_list("fc", fs)
    args = yield from force(args)
    if type(args) is not Cons:
        return NIL if args is NIL else not_a_list("fc", args)
    return Cons(suspended_apply(fs.head, args.head), Thunk(FC_NEXT, (fs.tail, args.tail)))


FC_NEXT = Native(_fc_gen, "fc")


@prim("fc")
def _fc(m, fs):
    return Prim(None, lambda m, args: _fc_gen(m, (fs, args)), data=fs)


# --- control ---------------------------------------------------------------------------

@prim("seq")
def _seq(m, arg):
    lst = yield from force(arg)
    last = NIL
    while type(lst) is Cons:
        last = yield from force(lst.head)
        if type(last) is Error:
            return last
        lst = yield from force(lst.tail)
    if lst is not NIL:
        return not_a_list("seq", lst)
    return last


def _members(name, arg):
    """Generator: the member bindings of a control primitive's list (spine forced)."""
    lst = yield from force(arg)
    out = []
    while type(lst) is Cons:
        out.append(lst.head)
        lst = yield from force(lst.tail)
    if lst is not NIL:
        return not_a_list(name, lst)
    return out


@prim("pcoerce")
def _pcoerce(m, arg):
    members = yield from _members("pcoerce", arg)
    if type(members) is not list:
        return members
    for x in members:
        yield from force(x)
    return (yield from force(arg))


def _member_gen(m, x):
    return (yield from force(x))


class _Race:
    """Members of `set` or `any?` running as green threads (machine.py)."""

    def __init__(self, m, members):
        self.pending = []       # (index, thread) still running
        self.done = []          # values in completion order, not yet taken
        self.results = {}       # index -> value
        for i, x in enumerate(members):
            v = x.value if type(x) is Thunk and x.value is not UNSET else x
            if type(v) is Thunk:
                self.pending.append((i, m.spawn(_member_gen(m, v), f"member {i}")))
            else:
                self.done.append(v)
                self.results[i] = v

    def collect(self):
        from .machine import DONE
        still = []
        for i, th in self.pending:
            if th.state == DONE:
                self.done.append(th.result)
                self.results[i] = th.result
            else:
                still.append((i, th))
        self.pending = still


def _set_next(m, race):
    from .machine import WaitAny
    while True:
        race.collect()
        if race.done:
            v = race.done.pop(0)
            return Cons(v, Thunk(SET_NEXT, race))
        if not race.pending:
            return NIL
        yield WaitAny([th for _, th in race.pending])


SET_NEXT = Native(_set_next, "set")


@prim("set")
def _set(m, arg):
    members = yield from _members("set", arg)
    if type(members) is not list:
        return members
    return (yield _set_next(m, _Race(m, members)))


@prim("any?")
def _any(m, arg):
    from .machine import WaitAny
    members = yield from _members("any?", arg)
    if type(members) is not list:
        return members
    race = _Race(m, members)
    while True:
        race.collect()
        for v in race.done:
            if v is not NIL and type(v) is not Error:
                for _, th in race.pending:
                    m.cancel(th)
                return TRUE
        race.done.clear()
        if not race.pending:
            for i in range(len(members)):
                if type(race.results[i]) is Error:
                    return race.results[i]
            return NIL
        yield WaitAny([th for _, th in race.pending])


# --- evaluation ----------------------------------------------------------------------

@prim("val")
def _val(m, q):
    q = yield from force(q)
    return (yield m.eval_form(q))


def _evlst_gen(m, lst):
    lst = yield from force(lst)
    if type(lst) is Cons:
        return Cons(Thunk(VAL_OF, lst.head), Thunk(EVLST_NEXT, lst.tail))
    if lst is NIL:
        return NIL
    return not_a_list("evlst", lst)


def _val_of(m, q):
    q = yield from force(q)
    return (yield m.eval_form(q))


VAL_OF = Native(_val_of, "val")
EVLST_NEXT = Native(_evlst_gen, "evlst")


@prim("evlst")
def _evlst(m, lst):
    return _evlst_gen(m, lst)


# --- experimental ---------------------------------------------------------------------

def _spine_probe(name, which):
    def call(m, v):
        if type(v) is not Cons:
            return not_a_list(name, v)
        f = v.head if which == 0 else v.tail
        return truth(type(f) is Thunk and f.value is UNSET)
    PRIMS[name] = Prim(name, call, strict=True)


_spine_probe("%SpnHd?", 0)
_spine_probe("%SpnTl?", 1)
