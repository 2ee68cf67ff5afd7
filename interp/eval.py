"""The evaluator: core IR (frontend/core.py) to values, by need.

`ev(m, e, env, shallow)` is a generator run by the machine (machine.py); it yields
requests and returns a value. Tail positions (an `if` branch, a `let` body, a closure's
body) loop inside one generator, so tail calls take no machine stack.

Frames are Python lists: slot 0 is the enclosing frame, slots 1.. hold the pattern's
binders in resolve's order (`Local(depth, index)` is slot index+1 of the frame `depth`
links out). A slot holds a value or a Thunk.

Note [Suspended positions]
~~~~~~~~~~~~~~~~~~~~~~~~~~
List elements and tails, function arguments and let values are *suspended*. `delay`
decides what goes into such a position without evaluating anything: constants, lambdas
and names (already bound) are stored as they are; `@E` becomes a Thunk and counts a
spark; anything else becomes a Thunk. `$E` and `#E` there mean "evaluate now": the
caller asks the machine to evaluate them (shallow, or to normal form) and stores the
result. LANGUAGE.md section 4; the strictness pass (issue 5) may evaluate more positions
early, never fewer.

Note [Shallow evaluation]
~~~~~~~~~~~~~~~~~~~~~~~~~
`$E` evaluates E where it stands, but "what the call returns is taken as it is": in
shallow mode a variable reached in tail position is returned without forcing, so a
suspension a function merely passes back stays suspended (`$append:[Xs L2]` hands back
L2 untouched). A bare name under `$` is forced. docs/language.md section 4.

Note [Lazy patterns]
~~~~~~~~~~~~~~~~~~~~
Binding a pattern selects, it does not inspect: each binder gets the selected field
if the value is already a cons cell, or a selection Thunk otherwise. Selecting from a
non-list is the error `pattern mismatch`, but only when the binder is demanded, because
an error is a value and a value stored in a slot is never looked at until then.
"""
from __future__ import annotations

from types import GeneratorType

from ..frontend import core as C
from ..frontend.primitives import LIST_TAKERS
from .machine import TICK
from .values import (NIL, UNSET, Atom, Closure, Cons, Error, Native, Prim, Thunk)

_Const, _Local, _Global, _PrimRef = C.Const, C.Local, C.Global, C.PrimRef
_Lam, _App, _Let, _If, _ListCons = C.Lam, C.App, C.Let, C.If, C.ListCons
_PrimCall, _Ann, _Quote = C.PrimCall, C.Ann, C.Quote
_PVar, _PList, _PAs = C.PVar, C.PList, C.PAs

SIMPLE = (_Const, _Local, _Global, _PrimRef, _Lam)


def const_value(v):
    return Atom(v) if type(v) is str else v


def lookup(env, e):
    d = e.depth
    while d:
        env = env[0]
        d -= 1
    return env[e.index + 1]


# --- selection (Note [Lazy patterns]) -------------------------------------------------

def _select_gen(m, data):
    src, which = data
    v = src
    if type(v) is Thunk:
        v = v.value if v.value is not UNSET else (yield v)
    if type(v) is Cons:
        f = v.head if which == 0 else v.tail
        if type(f) is Thunk:
            f = f.value if f.value is not UNSET else (yield f)
        return f
    if type(v) is Error:
        return v
    return Error("pattern mismatch: " + ("head" if which == 0 else "tail")
                 + " of " + describe(v))


SELECT = Native(_select_gen, "select")


def select(src, which):
    """Field `which` (0 head, 1 tail) of src, without forcing anything."""
    v = src
    if type(v) is Thunk:
        if v.value is UNSET:
            return Thunk(SELECT, (src, which))
        v = v.value
    if type(v) is Cons:
        f = v.head if which == 0 else v.tail
        if type(f) is Thunk and f.value is not UNSET:
            return f.value
        return f
    if type(v) is Error:
        return v
    return Error("pattern mismatch: " + ("head" if which == 0 else "tail") + " of " + describe(v))


def bind(p, v, frame):
    t = type(p)
    if t is _PVar:
        frame[p.index + 1] = v
    elif t is _PList:
        for item in p.items:
            bind(item, select(v, 0), frame)
            v = select(v, 1)
        if p.rest is not None:
            bind(p.rest, v, frame)
    else:  # PAs
        frame[p.index + 1] = v
        bind(p.pattern, v, frame)


def describe(v) -> str:
    from .printer import format_number
    t = type(v)
    if t is int or t is float:
        return "the number " + format_number(v)
    if v is NIL:
        return "[]"
    if t is Atom:
        return "the atom " + (v.name if v.is_ident and len(v.name) < 40 else "(a string)")
    if t is Cons:
        return "a list"
    if t is Closure or t is Prim:
        return "a function"
    if t is Error:
        return "an error"
    return "a " + type(v).__name__.lower()


# --- suspended positions (Note [Suspended positions]) ----------------------------------

EVAL_NOW = object()   # delay's answer for `$E` and `#E`: the caller must evaluate


def delay(m, e, env):
    t = type(e)
    if t is _Local:
        v = lookup(env, e)
        if type(v) is Thunk and v.value is not UNSET:
            return v.value
        return v
    if t is _Const:
        return const_value(e.value)
    if t is _Lam:
        return Closure(e, env)
    if t is _Global:
        return m.global_binding(e.name)
    if t is _PrimRef:
        return m.prims[e.name]
    if t is _Ann:
        if e.op == "@":
            m.stats.sparks += 1
            return delay_thunk(m, e.expr, env)
        return EVAL_NOW
    if t is _Quote:
        return m.quoted(e)
    if t is _ListCons:
        return build_list(m, e, env)
    return Thunk(e, env)


def build_list(m, e, env):
    """A list literal whose elements all delay: built now, since building a cons
    computes nothing (Note [Suspended positions]). Else a Thunk of it. One level at a
    time: an inner list literal stays a Thunk, so nesting never recurses here."""
    lst = NIL if e.tail is None else _delay_flat(m, e.tail, env)
    if lst is EVAL_NOW:
        return Thunk(e, env)
    for item in reversed(e.items):
        v = _delay_flat(m, item, env)
        if v is EVAL_NOW:
            return Thunk(e, env)
        lst = Cons(v, lst)
    return lst


def _delay_flat(m, e, env):
    return Thunk(e, env) if type(e) is _ListCons else delay(m, e, env)


def delay_thunk(m, e, env):
    """`@E`'s suspension: a Thunk even for a name, so there is something to spark."""
    if type(e) in SIMPLE or type(e) is _Quote:
        return delay(m, e, env)
    return Thunk(e, env)


def now(e, env):
    """The request that evaluates `$E` or `#E` in a suspended position."""
    inner = e.expr
    if e.op == "#":
        return (e, env, False)
    if type(inner) in (_Local, _Global):
        return (inner, env, False)   # `$x` forces the name
    return (inner, env, True)


# --- applying a function value ---------------------------------------------------------

def apply(m, f, arg):
    """Generator: the value of f:arg (f already a value)."""
    tf = type(f)
    if tf is Closure:
        lam = f.lam
        frame = [f.env] + [None] * lam.size
        bind(lam.param, arg, frame)
        return (yield (lam.body, frame, False))
    if tf is Prim:
        if f.strict and type(arg) is Thunk:
            arg = arg.value if arg.value is not UNSET else (yield arg)
        r = f.call(m, arg)
        if type(r) is GeneratorType:
            r = yield r
        return r
    if tf is Error:
        return f
    return Error("not a function: " + describe(f))


def _apply_gen(m, data):
    f, arg = data
    if type(f) is Thunk:
        f = f.value if f.value is not UNSET else (yield f)
    return (yield apply(m, f, arg))


APPLY = Native(_apply_gen, "apply")


def suspended_apply(f, arg):
    """A Thunk of f:arg (f a value or a binding)."""
    return Thunk(APPLY, (f, arg))


# --- the evaluator ------------------------------------------------------------------

def ev(m, e, env, shallow):
    ticks = 0
    while True:
        t = type(e)
        if t is _Local:
            v = lookup(env, e)
            if type(v) is Thunk:
                if v.value is not UNSET:
                    return v.value
                if shallow:
                    return v
                v = yield v
            return v
        if t is _App:
            fe = e.fn
            if type(fe) in SIMPLE:
                f = delay(m, fe, env)
                if type(f) is Thunk:
                    f = yield f
            else:
                f = yield (fe, env, False)
            a = e.arg
            arg = delay(m, a, env)
            if arg is EVAL_NOW:
                arg = yield now(a, env)
            tf = type(f)
            if tf is Closure:
                lam = f.lam
                env = [f.env] + [None] * lam.size
                bind(lam.param, arg, env)
                e = lam.body
                ticks += 1
                if not ticks & 63:
                    # A tail loop runs inside this one generator; yielding now and then
                    # lets the machine give other green threads their turn (fairness).
                    yield TICK
                continue
            if tf is Prim:
                if f.strict and type(arg) is Thunk:
                    arg = arg.value if arg.value is not UNSET else (yield arg)
                r = f.call(m, arg)
                if type(r) is GeneratorType:
                    r = yield r
                return r
            if tf is Error:
                return f
            return Error("not a function: " + describe(f))
        if t is _If:
            for c, b in e.arms:
                tc = type(c)
                if tc in SIMPLE:
                    v = delay(m, c, env)
                    if type(v) is Thunk:
                        v = yield v
                elif (tc is _PrimCall and (p := m.prims[c.name]).strict
                      and type(c.args[0]) in SIMPLE):
                    # `nil?:L`, `zero?:n`: a one-operand test on a name, run right here
                    # rather than in a generator of its own (same forcing, same result)
                    v = delay(m, c.args[0], env)
                    if type(v) is Thunk:
                        v = v.value if v.value is not UNSET else (yield v)
                    v = p.call(m, v)
                    if type(v) is GeneratorType:
                        v = yield v
                else:
                    v = yield (c, env, False)
                if v is not NIL:
                    if type(v) is Error:
                        return v
                    e = b
                    break
            else:
                if e.otherwise is None:
                    return NIL
                e = e.otherwise
            continue
        if t is _Let:
            frame = [env] + [None] * e.size
            if e.rec:
                # The frame's slots are empty until bind fills them, so the value must
                # not look at them now: only a lambda or a constant is made at once.
                value = delay(m, e.value, frame) if type(e.value) in (_Lam, _Const) else Thunk(e.value, frame)
            else:
                value = delay(m, e.value, env)
                if value is EVAL_NOW:
                    value = yield now(e.value, env)
            bind(e.pattern, value, frame)
            env = frame
            e = e.body
            continue
        if t is _ListCons:
            if e.tail is None:
                lst = NIL
            else:
                lst = delay(m, e.tail, env)
                if lst is EVAL_NOW:
                    lst = yield now(e.tail, env)
            for item in reversed(e.items):
                v = delay(m, item, env)
                if v is EVAL_NOW:
                    v = yield now(item, env)
                lst = Cons(v, lst)
            if type(lst) is Thunk:      # `[! x]` cannot be written, but a bare tail can
                lst = yield lst
            return lst
        if t is _PrimCall:
            prim = m.prims[e.name]
            check = prim.check
            if check is not None:
                # Operands forced left to right; the first bad one is the answer
                # (docs/language.md section 3). Same as the primitive's own loop.
                step = prim.step
                acc = prim.unit
                vals = []
                for a in e.args:
                    v = delay(m, a, env)
                    if v is EVAL_NOW:
                        v = yield now(a, env)
                    if type(v) is Thunk:
                        v = v.value if v.value is not UNSET else (yield v)
                    bad = check(prim.name, v)
                    if bad is not None:
                        return bad
                    if step is not None:               # add, mpy: fold as we go
                        acc = step(acc, v)
                        if type(acc) is Error:
                            return acc
                    else:
                        vals.append(v)
                return acc if step is not None else prim.fn2(vals[0], vals[1])
            if e.name in LIST_TAKERS:
                arg = NIL
                for item in reversed(e.args):
                    v = delay(m, item, env)
                    if v is EVAL_NOW:
                        v = yield now(item, env)
                    arg = Cons(v, arg)
            else:
                a = e.args[0]
                arg = delay(m, a, env)
                if arg is EVAL_NOW:
                    arg = yield now(a, env)
                if prim.strict and type(arg) is Thunk:
                    arg = arg.value if arg.value is not UNSET else (yield arg)
            r = prim.call(m, arg)
            if type(r) is GeneratorType:
                r = yield r
            return r
        if t is _Const:
            return const_value(e.value)
        if t is _Global:
            v = m.global_binding(e.name)
            if type(v) is Thunk:
                if v.value is not UNSET:
                    return v.value
                if shallow:
                    return v
                v = yield v
            return v
        if t is _Lam:
            return Closure(e, env)
        if t is _PrimRef:
            return m.prims[e.name]
        if t is _Ann:
            op = e.op
            if op == "#":
                v = yield (e.expr, env, False)
                return (yield deep_force(m, v))
            if op == "@":
                m.stats.sparks += 1
            elif type(e.expr) in (_Local, _Global):
                shallow = False      # `$x` forces the name
            e = e.expr
            continue
        if t is _Quote:
            return m.quoted(e)
        raise TypeError(f"cannot evaluate {t.__name__}")


def deep_force(m, v):
    """Generator: force v to normal form (`#`), left to right, once round any cycle."""
    if type(v) is not Cons:
        return v
    todo = [v]
    while todo:
        cell = todo.pop()
        while type(cell) is Cons and not cell.nf:
            cell.nf = True
            h = cell.head
            if type(h) is Thunk:
                h = h.value if h.value is not UNSET else (yield h)
                cell.head = h
            tl = cell.tail
            if type(tl) is Thunk:
                tl = tl.value if tl.value is not UNSET else (yield tl)
                cell.tail = tl
            if type(h) is Cons and not h.nf:
                todo.append(tl)
                cell = h
            else:
                cell = tl
    return v
