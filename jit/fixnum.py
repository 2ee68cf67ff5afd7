"""Fixnum workers: the code for functions the `fixnum` pass marked (Note [Fixnum
workers] in frontend/fixnum.py says which, and why speculating is sound).

Note [Fixnum entries]
~~~~~~~~~~~~~~~~~~~~~
A marked function `f` has three compiled forms, all with the code signature:

  f        its entry: what closures, direct calls and sparks call. When every value
           it is given is a small integer and `w->fx_off` is clear, it calls f_fx and
           returns a small integer it gets back; otherwise it jumps to f_g.
  f_fx     the fixnum worker: values in, value out, as tagged small-integer words.
           No root frame (it holds no heap pointer, so a collection at its polls
           moves nothing it needs), no suspensions, inline arithmetic. It returns 0
           when it gives up: an overflow, a callee that gave up or returned something
           else, a full C stack.
  f_g      the generic code of issue 4 and Note [Strict arguments] (for a function
           with a worker, f_g is the worker's body and f the worker).

Giving up must not cost more than a constant factor. A worker that gives up deep in a
recursion has done work the generic code will do again; if each generic frame on the
way back tried its worker again, a linear recursion that overflows near its bottom
would cost quadratic time. So the entry that sees 0 sets `w->fx_off` while f_g
recomputes the call, and every entry reached meanwhile goes straight to generic code:
the call is computed once by the worker (wasted) and once generically. The flag is
cleared when f_g returns and by any unwind (rt_unwind_slow), so a failure elsewhere
never leaves workers off.

A worker checks the C stack and polls (Note [Safepoints]) before the first call on
each path through its body, not at entry: a path that makes no call does a bounded
amount of arithmetic and returns, and so needs neither. This keeps leaves cheap (half
of nfib's calls return 1 at once): no frame, no stack check, no poll, and LLVM's
shrink-wrapping keeps the register saves off their path. Every loop and recursion
still polls, because each goes through a call.

`@E` in a worker: while no worker is hungry (Note [Hungry workers] in rt/rt_spark.c) a
spark would be evaluated at once anyway, so the worker evaluates E. When some worker
is hungry, the worker hands its whole call to f_g, which sparks: it calls f_g with its
own arguments and returns what that forces to (a small integer, or 0). The only work
lost is this call's, up to the `@`: in the usual shapes (`add:[@f:x f:y]`, a `let` of a
spark) that is the tests of the `if` around it. f_g's own calls go through entries
again, so the sequential parts below a spark run as workers.
"""
from __future__ import annotations

from llvmlite import ir

from ..frontend import core as C
from ..frontend.fixnum import deferred, fixnum_params
from ..rt import native
from . import smallint
from .abi import I32, I64, W_FX_GIVEUPS, W_FX_OFF, Runtime
from .abi import fix, word as _c


# branch weights for a test whose true side gives up (an overflow, a callee that gave
# up): taken rarely, so the path that goes on stays straight however LLVM merges
# the blocks around it
UNLIKELY = [1, 2000]


class FixnumGen:
    """Emits f_fx for one marked function (module mg, its generic code `generic`)."""

    def __init__(self, mg, name: str, lam: C.Lam, fn: ir.Function, generic: ir.Function,
                 code_args):
        self.mg, self.rt = mg, mg.rt
        self.name, self.lam, self.fn = name, lam, fn
        self.generic = generic
        self.code_args = code_args
        self.w = fn.args[0]
        self.params = fixnum_params(lam)
        entry = fn.append_basic_block("entry")
        self.b = ir.IRBuilder(entry)
        self._bail = None
        self._handoff = None
        self.guarded = False       # has this path checked the stack and polled yet?

    # ---- shared exits ----
    def bail(self) -> ir.Block:
        """The block that gives up: the caller's entry recomputes generically."""
        if self._bail is None:
            here = self.b.block
            self._bail = self.fn.append_basic_block("giveup")
            self.b.position_at_end(self._bail)
            self.b.ret(_c(0))
            self.b.position_at_end(here)
        return self._bail

    def handoff(self) -> ir.Block:
        """The block that hands this call to the generic code (a hungry `@`)."""
        if self._handoff is None:
            here = self.b.block
            b = self.b
            self._handoff = self.fn.append_basic_block("handoff")
            b.position_at_end(self._handoff)
            args = self.generic_args()
            r = b.call(self.generic, args)
            r = b.call(self.rt.rt_whnf, [self.w, r])
            isfix = b.icmp_unsigned("!=", b.and_(r, _c(1)), _c(0))
            b.ret(b.select(isfix, r, _c(0)))
            b.position_at_end(here)
        return self._handoff

    def generic_args(self) -> list:
        vals = list(self.fn.args[1:1 + len(self.params)])
        if type(self.lam.param) is C.PVar:            # closure code reads (w, self, arg)
            return self.code_args(self.w, _c(native.NIL), vals[0])
        return self.code_args(self.w, *vals)

    # ---- the function ----
    def emit(self) -> None:
        env = {id(p): self.fn.args[1 + i] for i, p in enumerate(self.params)}
        self.ev(self.lam.body, env, tail=True)

    def guard(self) -> None:
        """Before a call: the stack check and the poll, once per path (Note [Fixnum
        entries])."""
        if self.guarded:
            return
        b = self.b
        deep = self.rt.stack_deep(b, self.w)
        body = self.fn.append_basic_block("guarded")
        b.cbranch(deep, self.bail(), body)
        b.position_at_end(body)
        self.rt.poll(b, self.w)
        self.guarded = True

    def ev(self, e, env: dict, tail: bool = False):
        """e's small-integer word; in tail position, returned (and None is given)."""
        b = self.b
        t = type(e)
        if t is C.Const:
            v = _c(fix(e.value))
        elif t is C.Local:
            v = env[id(self.mg.cl.binder[id(e)])]
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
                # evaluated where the body names it (Note [Fixnum workers]); a hungry
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
            b.ret(v)
            return None
        return v

    def spark_check(self) -> None:
        """`@`: while some worker is hungry, hand the call to the generic code."""
        b = self.b
        go = self.fn.append_basic_block("busy")
        b.cbranch(self.rt.hungry(b, self.w), self.handoff(), go)
        b.position_at_end(go)

    def checked(self, result):
        """A (word, overflowed) pair from jit/smallint.py: an overflow gives up."""
        val, ovf = result
        ok = self.fn.append_basic_block("noovf")
        self.b.cbranch(ovf, self.bail(), ok).set_weights(UNLIKELY)
        self.b.position_at_end(ok)
        return val

    def prim(self, e: C.PrimCall, env):
        b = self.b
        if e.name in ("inc", "dcr", "neg"):
            return self.checked(smallint.unary(b, self.mg, e.name, self.ev(e.args[0], env)))
        acc = self.ev(e.args[0], env)
        for a in e.args[1:]:
            y = self.ev(a, env)
            if e.name in ("div", "rem"):
                acc = smallint.divide(b, self.fn, e.name, acc, y, self.bail())
            else:
                acc = self.checked(smallint.binary(b, self.mg, e.name, acc, y))
        return acc

    def test(self, e, env):
        """An `if` test as an i1."""
        b = self.b
        if type(e) is C.Ann:
            return self.test(e.expr, env)
        if e.name in smallint.COMPARE:
            x = self.ev(e.args[0], env)
            y = self.ev(e.args[1], env)
            return b.icmp_signed(smallint.COMPARE[e.name], x, y)
        return smallint.predicate(b, e.name, self.ev(e.args[0], env))

    def if_(self, e: C.If, env, tail: bool):
        b = self.b
        done = None if tail else self.fn.append_basic_block("ifdone")
        results = []
        joined = True              # guarded on every path into `done`
        for test, branch in e.arms:
            c = self.test(test, env)
            then = self.fn.append_basic_block("then")
            other = self.fn.append_basic_block("else")
            b.cbranch(c, then, other)
            b.position_at_end(then)
            after_test = self.guarded
            r = self.ev(branch, env, tail)
            if not tail:
                results.append((r, b.block))
                b.branch(done)
                joined = joined and self.guarded
            self.guarded = after_test
            b.position_at_end(other)
        r = self.ev(e.otherwise, env, tail)
        if tail:
            return None
        results.append((r, b.block))
        b.branch(done)
        self.guarded = joined and self.guarded
        b.position_at_end(done)
        phi = b.phi(I64)
        for v, bb in results:
            phi.add_incoming(v, bb)
        return phi

    def call(self, e: C.App, env, tail: bool):
        b = self.b
        callee = e.fn.name
        lam = self.mg.defs[callee].expr
        if type(lam.param) is C.PVar:
            vals = [self.ev(e.arg, env)]
        else:
            # in the order the callee demands them (Note [Fixnum workers]): an item
            # demanded only when others are numbers comes after them
            vals = [None] * len(lam.param.items)
            for j in C.demand_order(lam.param):
                vals[j] = self.ev(e.arg.items[j], env)
        fn = self.mg.fixnum_fns[callee]
        args = self.code_args(self.w, *vals)
        self.guard()
        if tail:
            b.ret(b.call(fn, args, tail="musttail"))
            return None
        # notail: the stack check reads the frame address, and a call eliminated as
        # tail recursion would keep one frame forever (an endless loop, not the error)
        r = b.call(fn, args, tail="notail")
        ok = self.fn.append_basic_block("fixret")
        b.cbranch(b.icmp_unsigned("==", b.and_(r, _c(1)), _c(0)), self.bail(), ok).set_weights(
            UNLIKELY)
        b.position_at_end(ok)
        return r


def emit_entry(mg, fn: ir.Function, lam: C.Lam, fx: ir.Function, generic: ir.Function,
               code_args) -> None:
    """f: the entry of Note [Fixnum entries]."""
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    w = fn.args[0]
    n = len(fixnum_params(lam))
    vals = [fn.args[2]] if type(lam.param) is C.PVar else list(fn.args[1:1 + n])
    off_p = Runtime.field(b, w, W_FX_OFF)
    ok = b.icmp_unsigned("==", b.load(off_p, typ=I32), ir.Constant(I32, 0))
    for v in vals:
        ok = b.and_(ok, b.icmp_unsigned("!=", b.and_(v, _c(1)), _c(0)))
    try_bb = fn.append_basic_block("tryfixnum")
    gen_bb = fn.append_basic_block("generic")
    b.cbranch(ok, try_bb, gen_bb)
    b.position_at_end(gen_bb)
    b.ret(b.call(generic, list(fn.args), tail="musttail"))
    b.position_at_end(try_bb)
    r = b.call(fx, code_args(w, *vals))
    again = fn.append_basic_block("recompute")
    done = fn.append_basic_block("fixnum")
    b.cbranch(b.icmp_unsigned("==", r, _c(0)), again, done)
    b.position_at_end(done)
    b.ret(r)
    b.position_at_end(again)
    count = Runtime.field(b, w, W_FX_GIVEUPS)
    b.store(b.add(b.load(count, typ=I64), _c(1)), count)
    b.store(ir.Constant(I32, 1), off_p)
    r2 = b.call(generic, list(fn.args))
    b.store(ir.Constant(I32, 0), off_p)
    b.ret(r2)
