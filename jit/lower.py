"""Pass `lower`: core IR (frontend/core.py) to LLVM IR over the runtime's ABI.

Every lambda body, every suspended expression and every top-level expression becomes
one LLVM function with the *code signature* `i64 (ptr w, i64 self, i64 arg)`
(Note [Code signature]). Values are `i64` words tagged as in Note [Value tags]
(rt/daisy_rt.h); heap fields are reached with `inttoptr` of the word, never by
re-deriving an address from another pointer.

Note [Code signature]
~~~~~~~~~~~~~~~~~~~~~
Closure code, suspension code, workers and `rt_apply` share one signature,
`i64 code(ptr w, i64 a1, i64 a2, i64 a3, i64 a4)`, so any of them can `musttail`
call any other: a Daisy call in tail position is a jump and tail recursion runs in
constant stack. Closure code reads `(w, self, arg)`, suspension code `(w, self)`,
a worker (Note [Workers]) its values from a1..; the runtime's C side declares and
calls them with only the parameters they read (`rt_closure_code`, `rt_apply`):
x86-64 SysV and AArch64 pass the first six arguments in registers and the caller
cleans up, so unread parameters are garbage registers that cost nothing.

Note [Workers]
~~~~~~~~~~~~~~
A top-level function whose parameter is a list pattern, `\\[a b]. E` (up to four
items, a rest included), gets a *worker* taking the pattern's items as separate
values, and its closure code becomes a wrapper that selects them lazily from the
argument and jumps to the worker. A direct call with a list literal, `f:[x y]`,
calls the worker: no argument list is built, and the items the callee demands are
evaluated first (Note [Strict arguments]). Extra items past a pattern without a rest
are never selected, so they are not built either.

Note [Lazy returns]
~~~~~~~~~~~~~~~~~~~
Code may return an unevaluated suspension: a variable reached in tail position is
returned as it is (docs/language.md section 4, Note [Shallow evaluation] in
interp/eval.py). Whoever needs a value forces what a call returns; `$E` in a suspended
position keeps it as it is; `rt_force_slow` forces what a suspension's code returns.
So shallow evaluation costs nothing and every call in tail position can be a jump.

Note [Root frames]
~~~~~~~~~~~~~~~~~~
Compaction moves objects at any safepoint (an allocation slow path, a poll, any call
that can reach one). Each function therefore keeps every heap value it needs across a
safepoint in a *root frame*: a block of slots it pushes on the worker's root stack at
entry (Note [Roots]) and pops before it returns or jumps. Binders and captured values
live in slots; an SSA value is used only until the next safepoint and re-read from its
slot afterwards. Immediate values (small integers, atoms, primitives, constants) need
no slot. Entry checks the C stack against `w->stack_limit` and the root stack against
`sp_limit`: past either, the call's value is the error `stack exhausted`.

Note [Dead temporaries]
~~~~~~~~~~~~~~~~~~~~~~~
A root frame slot keeps its value alive until the slot is written again or the frame
is popped. The operands of a call (the function and its argument, or a worker's
items) are spilled to temporary slots while they are computed, and are passed in
registers; the callee roots what it keeps. So before a call that returns here, the
caller empties those temporaries (stores 0, which no collector follows). Otherwise
`check:[quick:randoms:[N 42] 0 0]` keeps the whole input list alive in its frame for
as long as quick runs: a million cells of the annotated quicksort's live data at
every compaction. Binder slots are not emptied: a binder lives as long as its scope.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

from llvmlite import ir

from ..frontend import core as C
from ..frontend.parse import deep_recursion
from ..interp.forms import core_of_form, form_of_syntax
from ..frontend.primitives import LIST_ARITY, LIST_TAKERS, PRIMITIVES
from ..rt import native
from .abi import (I8, I32, I64, PTR, SUSP_AUX_NF, VOID, W_CTX, W_SP, W_SP_LIMIT, W_SUSPS,
                  Runtime, fix, header, word as _c)
from .closures import Closures
from ..frontend.fixnum import FIX_MAX, FIX_MIN, small_int
from .fixnum import FixnumGen, emit_entry
from . import smallint
from .smallint import COMPARE, PREDICATE

VAL = I64
CODE_TY = ir.FunctionType(VAL, [PTR, VAL, VAL, VAL, VAL])
NCODE_ARGS = 4          # the value parameters of the code signature
UNDEF = ir.Constant(VAL, ir.Undefined)


def code_args(w, *vals) -> list:
    """Arguments for a call with the code signature (Note [Code signature])."""
    return [w, *vals] + [UNDEF] * (NCODE_ARGS - len(vals))


def worker_shape(lam) -> int:
    """How many values a top-level function's worker takes (Note [Workers]), 0 if
    it has none: the items of a list-pattern parameter (and its rest)."""
    p = lam.param
    if type(p) is not C.PList:
        return 0
    n = len(p.items) + (p.rest is not None)
    return n if 1 <= len(p.items) and n <= NCODE_ARGS else 0
STEP_TY = ir.FunctionType(VAL, [PTR, VAL])

NIL = native.NIL
UNIT = native.UNIT

T_CONS, T_SUSP, T_CLOSURE = native.TYPES["cons"], native.TYPES["susp"], native.TYPES["closure"]
T_ERROR, T_FORM = native.TYPES["error"], native.TYPES["form"]
HDR_CONS = header("cons", 2)
FORM_KIND = {"apply": 1, "function": 2, "annotation": 3, "define": 4}

ROOT_RESERVE = 4096       # root-stack words kept free below sp_limit for C callers

#: primitive values: index in the runtime's table (rt_prim_name), which is sorted
PRIM_INDEX = {name: i for i, name in enumerate(sorted(PRIMITIVES))}


def prim_value(name: str) -> int:
    return (PRIM_INDEX[name] << 3) | 4


@dataclass(frozen=True)
class Imm:
    """An operand known at compile time (an immediate word)."""
    word: int


@dataclass(frozen=True)
class Slot:
    """An operand held in a root-frame slot."""
    index: int


TAIL, LAZY, WHNF = "tail", "lazy", "whnf"
EXH, XTAIL = "exh", "xtail"        # normal form; the tail of an exhaustive variant
TAILS = (TAIL, XTAIL)

SIMPLE = (C.Const, C.Local, C.Global, C.PrimRef, C.Lam)
CHECKED = set(LIST_ARITY) | {"add", "mpy"}     # PrimCalls whose operands are all forced
ARITH = {"add", "sub", "mpy"}
DIVIDE = {"div", "rem"}            # truncating, as C's / and % (jit/smallint.py)
UNARY_FIX = {"inc", "dcr", "neg", "zero?", "one?", "pos?", "neg?"}


def sparked(e: C.Expr) -> bool:
    return type(e) is C.Ann and e.op == "@"


# Note [Destination passing]
# ~~~~~~~~~~~~~~~~~~~~~~~~~~
# `#f:A` needs f's whole result now, so f gets an *exhaustive variant* (ModuleGen.
# exh_variant): its body compiled in the contexts EXH (a value in normal form) and
# XTAIL (the variant's tail). A list in XTAIL is built front to back: its items are
# evaluated to normal form, its cells allocated with a hole for the tail and linked
# into the tail of the previous cell (the *destination*, a root slot; the first cell
# goes to the result slot), and its tail continues in XTAIL. A call of the variant's
# own function there is the loop's back edge (the argument slot is rebound and the
# parameter pattern selected afresh); a call of another exhaustive variant is a jump
# while nothing is built yet, else a call whose result fills the destination; any
# other value is made normal (rt_deep_force) and fills it. So `map`, `append` and
# list producers under `#` run as loops that allocate only their result cells, in
# constant stack. The partial list is reachable only from this frame until it is
# returned; a collection in between may promote its cells, so the link is stored by
# rt_cons_set_tail with the update's write barrier (Note [Local collection]).
# Arguments follow Note [Strict arguments]: demand under `#` includes WHNF demand.

# Note [Evaluated binders]
# ~~~~~~~~~~~~~~~~~~~~~~~~
# When code forces a binder (a parameter, a pattern or `let` name, a captured value)
# it stores the value back into the binder's slot and remembers, while generating
# code, that the binder is evaluated: later uses on every path the force dominates
# read the slot without another probe. The set is saved and restored around each
# branch of an `if`, whose code runs only on its own path, and is empty at the
# entry of every function and at an exhaustive variant's loop header, where
# binders are bound afresh. Overwriting a suspension with its value changes
# nothing anyone can see: the suspension holds that value too.

# Note [Sparked operands]
# ~~~~~~~~~~~~~~~~~~~~~~~
# `add:[@nfib:dcr:n nfib:sub:[n 2]]` builds its operand list first, which sparks the
# first operand, and then forces the operands in order: taken literally, the worker
# that made the spark forces it at once and nothing runs in parallel. Nor may the
# worker evaluate the second operand while the spark is out: a strict primitive stops
# at the first operand that is an error or not a number (docs/language.md section 3),
# and an error in the first would return without the second, which might never end.
# So the operands are forced in their written order, and what runs in parallel is
# what comes after the first: while some worker is hungry (Note [Hungry workers] in
# rt/rt_spark.c), every operand after the first that needs evaluating is suspended
# and sparked (the `@` ones and the others alike), then the first is evaluated here,
# then each later one is forced in its turn; an idle worker may have taken it by
# then. A spark the primitive never forces (the first operand was an error) is left
# to whoever took it, and its value is never used. While nobody is hungry nothing is
# sparked and the operands are evaluated here in order, so `@` on every call of nfib
# costs a load and a branch when every worker is busy.

# Note [Strict arguments]
# ~~~~~~~~~~~~~~~~~~~~~~~
# The demand pass (frontend/demand.py) marks a binder head-demanded when evaluating its
# scope certainly evaluates the binder's value, or does not end (docs/language.md,
# "Strictness and errors"). Where the code generator knows the scope — a direct call
# of a top-level function, a `let` — such a value is evaluated before the scope runs,
# into a root slot, instead of being suspended: no suspension is allocated, none is
# forced later, and an accumulator such as `sum:[add:[acc X] Xs]` never builds
# a chain. An item of a worker call that is demanded only if other items are numbers
# (Note [Conditional demands] in demand.py: tak's x if y is) is evaluated after them
# (C.demand_order), when they are small integers, and suspended otherwise. The callee
# still forces its parameter (a tag test on a value) since closures and other callers
# pass suspensions. A sparked argument (`@E`) is left as the spark it asks for.


class ModuleGen:
    """One LLVM module: a program (static names) or a `val` expression (dynamic)."""

    def __init__(self, prefix: str, closures: Closures, defs: dict[str, C.Def] | None,
                 main: bool):
        self.prefix = prefix
        self.m = ir.Module(name=prefix)
        self.rt = Runtime(self.m)
        self.cl = closures
        self.main = main
        self.defs = defs or {}
        self.def_index = {name: k for k, name in enumerate(self.defs)}
        self.direct: dict[str, ir.Function] = {}     # top-level lambdas: called directly
        self.exh_fns: dict[str, ir.Function] = {}    # their exhaustive variants
        self.workers: dict[str, ir.Function] = {}    # Note [Workers]
        self.fixnum_fns: dict[str, ir.Function] = {}   # Note [Fixnum entries]: f_fx
        self.generic_fns: dict[str, ir.Function] = {}  # and f_g
        self.late_binding = False                    # Note [Late binding]
        self.atoms: dict[str, ir.GlobalVariable] = {}
        self.strings: dict[bytes, ir.GlobalVariable] = {}
        self.quotes: list[tuple[ir.GlobalVariable, object]] = []   # (slot global, form)
        self.code_names: list[tuple[ir.Function, str]] = []
        self.nfn = 0
        self.nglobals = len(self.defs)         # global slots: definitions, then forms
        self._quote_off: dict = {}
        self._selectors: dict = {}
        self.gbase = self._global("gbase", I32, 0)
        self.init_state = self._global("init_state", I32, 0)
        self.init_ctx = self._global("init_ctx", PTR, None)
        self.atom("true")

    # ---- module-level data ----
    def _global(self, name, ty, init):
        g = ir.GlobalVariable(self.m, ty, f"{self.prefix}_{name}")
        g.linkage = "internal"
        g.initializer = ir.Constant(ty, init)
        return g

    def atom(self, name: str) -> ir.GlobalVariable:
        g = self.atoms.get(name)
        if g is None:
            g = self._global(f"atom{len(self.atoms)}", I64, 0)
            self.atoms[name] = g
        return g

    def cstring(self, text: str) -> ir.GlobalVariable:
        data = text.encode("utf-8")
        g = self.strings.get(data)
        if g is None:
            arr = ir.ArrayType(I8, len(data) + 1)
            g = ir.GlobalVariable(self.m, arr, f"{self.prefix}_str{len(self.strings)}")
            g.linkage = "internal"
            g.global_constant = True
            g.initializer = ir.Constant(arr, bytearray(data + b"\0"))
            self.strings[data] = g
        return g

    def new_function(self, hint: str, ty=CODE_TY) -> ir.Function:
        self.nfn += 1
        safe = "".join(ch if ch.isalnum() else "_" for ch in hint)[:24]
        fn = ir.Function(self.m, ty, f"{self.prefix}_{self.nfn}_{safe}")
        fn.linkage = "internal"
        fn.attributes.add("nounwind")
        return fn

    # ---- code for expressions ----
    def code_for(self, body: C.Expr, free: list, param: C.Pattern | None, hint: str,
                 kind: str) -> ir.Function:
        """A function evaluating `body` in tail position. kind 'closure' reads free
        values from closure fields 1.., 'susp' from suspension fields 3.."""
        fn = self.new_function(hint)
        g = FnGen(self, fn, kind)
        g.prologue(free, param)
        g.ev(body, TAIL)
        g.finish()
        return fn

    # ---- quoted forms (built at initialisation; Note [Forms with code]) ----
    def quote_offset(self, e: C.Quote):
        """The global slot (offset from gbase) of a quotation's form, or an error text."""
        key = id(e)
        off = self._quote_off.get(key)
        if off is None:
            try:
                with deep_recursion():
                    form = form_of_syntax(e.form)
            except RecursionError:
                off = "quotation nested too deeply"
            else:
                off = self.nglobals
                self.nglobals += 1
                self.quotes.append((off, form))
            self._quote_off[key] = off
        return off

    def selector(self, which: int) -> ir.Function:
        """Suspension code selecting field `which` of env[0] (recursive patterns)."""
        fn = self._selectors.get(which)
        if fn is None:
            fn = self._selectors[which] = self.new_function("head" if which == 0 else "tail")
            g = FnGen(self, fn, "susp")
            b = g.b
            obj = b.inttoptr(g.self_, PTR)
            src = b.load(b.gep(obj, [ir.Constant(I64, 32)], source_etype=I8), typ=VAL)
            sop = g.spill(src)
            g.poll()
            v = g.force(g.load(sop))
            vop = g.spill(v)
            g.ret(g.select(vop, which))
            g.finish()
        return fn

    def calls_direct(self, name: str) -> bool:
        return name in self.direct and not self.late_binding

    def exh_variant(self, name: str) -> ir.Function:
        """The exhaustive variant of top-level function `name` (Note [Destination
        passing]), made on first use."""
        fn = self.exh_fns.get(name)
        if fn is None:
            fn = self.exh_fns[name] = self.new_function(name + "_exh")
            lam = self.defs[name].expr
            g = FnGen(self, fn, "closure")
            g.exh_prologue(lam, worker_shape(lam) if name in self.workers else 0)
            g.ev(lam.body, XTAIL)
            g.finish()
        return fn

    def lam_code(self, lam: C.Lam, hint: str | None = None) -> ir.Function:
        fn = self.code_for(lam.body, self.cl.free(lam), lam.param, hint or lam.name or "lambda",
                           "closure")
        if lam.name:
            self.code_names.append((fn, lam.name))
        return fn


class FnGen:
    """Emits one function: its root frame, its body, its returns."""

    def __init__(self, mg: ModuleGen, fn: ir.Function, kind: str):
        self.mg = mg
        self.rt = mg.rt
        self.fn = fn
        self.kind = kind
        self.w, self.self_, self.arg = fn.args[0], fn.args[1], (fn.args[2] if len(fn.args) > 2 else None)
        entry = fn.append_basic_block("entry")
        self.frame_bb = fn.append_basic_block("frame")
        body = self.body_bb = fn.append_basic_block("body")
        self.b = ir.IRBuilder(entry)
        # C stack check first: nothing is pushed yet, so an early return is clean
        deep = self.rt.stack_deep(self.b, self.w)
        exhausted = fn.append_basic_block("exhausted")
        self.b.cbranch(deep, exhausted, self.frame_bb)
        self.b.position_at_end(exhausted)
        self.b.ret(self.b.call(self.rt.rt_stack_exhausted, [self.w]))
        self.b.position_at_end(self.frame_bb)
        self.base = self.b.load(self.wfield(W_SP), typ=PTR)
        self.b = ir.IRBuilder(body)
        self.nslots = 0
        self.free_slots: list[int] = []
        self.slot_of: dict[int, int] = {}       # id(binder) -> slot
        self.exh_lam = None                     # the function an exhaustive variant runs
        self.evaluated: set[int] = set()        # Note [Evaluated binders]

    # ---- worker fields and slots ----
    def wfield(self, off):
        return Runtime.field(self.b, self.w, off)

    def ctx(self):
        return self.b.load(self.wfield(W_CTX), typ=PTR)

    def new_slot(self) -> int:
        if self.free_slots:
            return self.free_slots.pop()
        self.nslots += 1
        return self.nslots - 1

    def _temporary(self, op) -> bool:
        """op is a temporary slot in use (binder slots are never given back)."""
        return (isinstance(op, Slot) and op.index not in self.free_slots
                and op.index not in self.slot_of.values())

    def release(self, op) -> None:
        """Give a temporary slot back."""
        if self._temporary(op):
            self.free_slots.append(op.index)

    def drop(self, ops, ctx) -> None:
        """Give temporary slots back before a call that does not return here at once,
        emptying them (Note [Dead temporaries]); in TAIL the frame is popped anyway."""
        for op in ops:
            if ctx != TAIL and self._temporary(op):
                self.store_slot(op.index, _c(0))
            self.release(op)

    def slot_addr(self, k: int):
        return self.b.gep(self.base, [ir.Constant(I64, 8 * k)], source_etype=I8)

    def store_slot(self, k: int, v) -> None:
        self.b.store(v, self.slot_addr(k))

    def spill(self, v) -> Slot:
        k = self.new_slot()
        self.store_slot(k, v)
        return Slot(k)

    def load(self, op):
        if isinstance(op, Imm):
            return _c(op.word)
        if isinstance(op, _AtomOp):
            return self.b.load(op.g, typ=I64)
        return self.b.load(self.slot_addr(op.index), typ=VAL)

    def bind_slot(self, binder) -> int:
        k = self.slot_of.get(id(binder))
        if k is None:
            k = self.new_slot()
            self.slot_of[id(binder)] = k
        return k

    # ---- prologue / epilogue ----
    def prologue(self, free: list, param) -> None:
        """Copy captured values and the argument into slots, then poll."""
        b = self.b
        env0 = 1 if self.kind == "closure" else 3
        if free:
            obj = b.inttoptr(self.self_, PTR)
            for i, binder in enumerate(free):
                v = b.load(b.gep(obj, [ir.Constant(I64, 8 * (1 + env0 + i))], source_etype=I8), typ=VAL)
                self.store_slot(self.bind_slot(binder), v)
        argop = None
        if param is not None:
            if type(param) is C.PVar:
                k = self.bind_slot(param)
                self.store_slot(k, self.arg)
                argop = None
            else:
                argop = self.spill(self.arg)
        self.poll()
        if param is not None and argop is not None:
            self.bind(param, argop)

    def poll(self) -> None:
        self.rt.poll(self.b, self.w)

    def wrapper(self, param: C.PList, worker: ir.Function) -> None:
        """Closure code for a function with a worker: select the pattern's items from
        the argument lazily, as binding would, and jump to the worker."""
        src = self.spill(self.arg)
        self.poll()
        vals = []
        cur = src
        for _ in param.items:
            vals.append(self.spill(self.select(cur, 0)))
            cur = self.spill(self.select(cur, 1))
        if param.rest is not None:
            vals.append(cur)
        args = code_args(self.w, *[self.load(v) for v in vals])
        self.pop_frame()
        self.b.ret(self.b.call(worker, args, tail="musttail"))

    def finish(self) -> None:
        """Emit the frame push now that the slot count is known."""
        b = ir.IRBuilder(self.frame_bb)
        n = self.nslots
        newsp = b.gep(self.base, [ir.Constant(I64, 8 * n)], source_etype=I8)
        limit = b.load(b.gep(self.w, [ir.Constant(I64, W_SP_LIMIT)], source_etype=I8), typ=PTR)
        room = b.sub(b.ptrtoint(limit, I64), b.ptrtoint(newsp, I64))
        short = b.icmp_signed("<", room, ir.Constant(I64, 8 * ROOT_RESERVE))
        full = self.fn.append_basic_block("rootfull")
        ok = self.fn.append_basic_block("push")
        b.cbranch(short, full, ok)
        b.position_at_end(full)
        b.ret(b.call(self.rt.rt_stack_exhausted, [self.w]))
        b.position_at_end(ok)
        for k in range(n):
            b.store(_c(NIL), b.gep(self.base, [ir.Constant(I64, 8 * k)], source_etype=I8))
        b.store(newsp, b.gep(self.w, [ir.Constant(I64, W_SP)], source_etype=I8))
        b.branch(self.body_bb)

    def pop_frame(self) -> None:
        self.b.store(self.base, self.wfield(W_SP))

    def ret(self, v) -> None:
        self.pop_frame()
        self.b.ret(v)

    def finish_value(self, v, ctx):
        """Deliver v (already in the form ctx asks for) to ctx."""
        if ctx == TAIL:
            self.ret(v)
            return None
        if ctx == XTAIL:
            self.deliver(v)
            return None
        return v

    # ---- value tests ----
    def is_ptr(self, v):
        b = self.b
        low = b.and_(v, _c(7))
        return b.and_(b.icmp_unsigned("==", low, _c(0)), b.icmp_unsigned("!=", v, _c(0)))

    def hdr_type(self, v):
        b = self.b
        h = b.load(b.inttoptr(v, PTR), typ=I64)
        return b.and_(b.lshr(h, _c(1)), _c(0x7F))

    def if_ptr(self, v, then, otherwise, ty=VAL):
        """then() where v is a heap pointer, else `otherwise`, joined in a phi of ty."""
        b = self.b
        start = b.block
        isp = self.is_ptr(v)
        yes = b.append_basic_block("isptr")
        done = b.append_basic_block("ptrdone")
        b.cbranch(isp, yes, done)
        b.position_at_end(yes)
        r = then()
        yes_end = b.block
        b.branch(done)
        return self.join(done, [(otherwise, start), (r, yes_end)], ty)

    def is_type(self, v, t: int):
        """i1: v is a pointer to an object of type t (two blocks, no phi needed by callers)."""
        return self.if_ptr(v, lambda: self.b.icmp_unsigned("==", self.hdr_type(v), _c(t)),
                           ir.Constant(ir.IntType(1), 0), ir.IntType(1))

    def join(self, done, incoming, ty=VAL):
        """Continue at block `done` with the phi of (value, from-block) pairs."""
        b = self.b
        b.position_at_end(done)
        phi = b.phi(ty)
        for v, blk in incoming:
            phi.add_incoming(v, blk)
        return phi

    def field(self, v, i):
        b = self.b
        return b.load(b.gep(b.inttoptr(v, PTR), [ir.Constant(I64, 8 * (1 + i))], source_etype=I8), typ=VAL)

    def force(self, v):
        """v's value: the inline probe of Note [Suspension states], else rt_force_slow."""
        b = self.b
        issusp = self.is_type(v, T_SUSP)
        probe = b.append_basic_block("probe")
        slow = b.append_basic_block("slowforce")
        done = b.append_basic_block("forced")
        b.cbranch(issusp, probe, done)
        pre = b.block
        b.position_at_end(probe)
        obj = b.inttoptr(v, PTR)
        st = b.load_atomic(b.gep(obj, [ir.Constant(I64, 8)], source_etype=I8), "acquire", 8, typ=I64)
        evald = b.append_basic_block("evaluated")
        b.cbranch(b.icmp_unsigned("==", st, _c(1)), evald, slow)
        b.position_at_end(evald)
        val = b.load(b.gep(obj, [ir.Constant(I64, 24)], source_etype=I8), typ=VAL)
        b.branch(done)
        b.position_at_end(slow)
        sv = b.call(self.rt.rt_force_slow, [self.w, v])
        b.branch(done)
        return self.join(done, [(v, pre), (val, evald), (sv, slow)])

    # ---- allocation ----
    def reserve(self, nbytes: int) -> None:
        self.rt.reserve(self.b, self.w, nbytes)

    def alloc(self, hdr: int, words: list):
        """Bump-allocate after a reserve: header then words (SSA values); returns the
        object's word."""
        obj = self.rt.alloc_nogc(self.b, self.w, hdr, len(words))
        for i, wv in enumerate(words):
            self.rt.store_field(self.b, obj, i, wv)
        return self.b.ptrtoint(obj, I64)

    def make_object(self, hdr: int, parts: list) -> Slot:
        """Allocate an object whose fields are operands (Imm, Slot, or raw SSA consts)."""
        self.reserve(8 * (1 + len(parts)))
        words = [p if isinstance(p, ir.Value) else self.load(p) for p in parts]
        return self.spill(self.alloc(hdr, words))

    def code_word(self, fn):
        return self.b.ptrtoint(fn, I64)

    def make_susp(self, e: C.Expr, hint: str = "susp") -> Slot:
        free = self.mg.cl.free(e)
        fn = self.mg.code_for(e, free, None, hint, "susp")
        parts = [_c(0), self.code_word(fn), _c(0)] + [Slot(self.slot_of[id(x)]) for x in free]
        self.count_susps(1)
        # `#E` makes a normal form: rt_deep_force need not walk it again
        aux = SUSP_AUX_NF if type(e) is C.Ann and e.op == "#" else 0
        return self.make_object(header("susp", 3 + len(free), nraw=2, aux=aux), parts)

    def count_susps(self, n: int) -> None:
        """Add n to the worker's count of suspensions allocated (--stats)."""
        b = self.b
        p = self.wfield(W_SUSPS)
        b.store(b.add(b.load(p, typ=I64), _c(n)), p)

    def make_closure(self, lam: C.Lam) -> Slot:
        free = self.mg.cl.free(lam)
        fn = self.mg.lam_code(lam)
        parts = [self.code_word(fn)] + [Slot(self.slot_of[id(x)]) for x in free]
        return self.make_object(header("closure", 1 + len(free), nraw=1, aux=1), parts)

    def error(self, msg: str):
        g = self.mg.cstring(msg)
        return self.b.call(self.rt.rt_error_new, [self.w, self.b.gep(g, [_c(0), _c(0)])])

    # ---- constants and names ----
    def const(self, value):
        """An operand for a constant."""
        if type(value) is str:
            return self.atom_op(value)
        if type(value) is int:
            if FIX_MIN <= value <= FIX_MAX:
                return Imm(fix(value))
            return self.spill(self.b.call(self.rt.rt_int, [self.w, _c(value)]))
        return self.spill(self.b.call(self.rt.rt_float, [self.w, ir.Constant(ir.DoubleType(), value)]))

    def atom_op(self, name: str):
        """Atoms are immediates but only known at run time: loaded from a module global."""
        return _AtomOp(self.mg.atom(name))

    opval = load

    def global_value(self, name: str):
        """The binding of a top-level name (may be an unevaluated suspension)."""
        mg = self.mg
        b = self.b
        k = mg.def_index.get(name)
        if k is not None and not mg.late_binding:
            return self.global_slot(k)
        return b.call(self.rt.rt_toplevel_lookup, [self.w, b.load(mg.atom(name), typ=I64)])

    def primref(self, name: str):
        if name == "true":
            return self.atom_op("true")
        if name == "nil":
            return Imm(NIL)
        if name == "stdin":
            return self.spill(self.b.call(self.rt.rt_stdin_stream, [self.w]))
        return Imm(prim_value(name))

    # ---- suspended positions: Note [Suspended positions] in interp/eval.py ----
    def delay(self, e: C.Expr, allow_now: bool = True):
        """An operand for e in a suspended position. `$E`/`#E` are evaluated now (or,
        with allow_now False, suspended whole, which gives the same value later)."""
        t = type(e)
        if t is C.Local:
            return Slot(self.slot_of[id(self.mg.cl.binder[id(e)])])
        if t is C.Const:
            return self.const(e.value)
        if t is C.Lam:
            return self.make_closure(e)
        if t is C.Global:
            return self.spill(self.global_value(e.name))
        if t is C.PrimRef:
            return self.primref(e.name)
        if t is C.Quote:
            return self.spill(self.quote(e))
        if t is C.Ann:
            if e.op == "@":
                inner = e.expr
                if type(inner) in SIMPLE or type(inner) is C.Quote:
                    return self.delay(inner, allow_now)
                s = self.make_susp(inner, "spark")
                self.offer_spark(s)
                return s
            if not allow_now:
                return self.make_susp(e, "demand")
            return self.spill(self.now(e))
        if t is C.ListCons:
            return self.build_list_delayed(e)
        return self.make_susp(e)

    def now(self, e: C.Ann):
        """`$E` / `#E` in a suspended position, evaluated where it stands."""
        if e.op == "#":
            return self.ev(e, WHNF)
        inner = e.expr
        if type(inner) in (C.Local, C.Global):
            return self.ev(inner, WHNF)
        return self.ev(inner, LAZY)

    def build_list_delayed(self, e: C.ListCons):
        parts = ([] if e.tail is None else [e.tail]) + list(e.items)
        for p in parts:
            if type(p) is C.Ann and p.op in "$#":
                return self.make_susp(e, "list")
        tail = Imm(NIL) if e.tail is None else self._delay_flat(e.tail)
        ops = [self._delay_flat(item) for item in reversed(e.items)]
        r = self.cons_chain(list(reversed(ops)), tail)
        for op in ops + [tail]:
            self.release(op)
        return r

    def _delay_flat(self, e):
        return self.make_susp(e, "list") if type(e) is C.ListCons else self.delay(e)

    def cons_chain(self, items: list, tail) -> Slot:
        """[items ! tail] from operands, in one reservation."""
        n = len(items)
        if n == 0:
            return tail if isinstance(tail, Slot) else self.spill(self.opval(tail))
        self.reserve(24 * n)
        lst = self.opval(tail)
        for op in reversed(items):
            lst = self.alloc(HDR_CONS, [self.opval(op), lst])
        return self.spill(lst)

    # ---- patterns: Note [Lazy patterns] in interp/eval.py ----
    def select(self, src: Slot, which: int):
        """Field `which` of the value in src, selected without forcing."""
        b = self.b
        v = self.load(src)
        iscons = self.is_type(v, T_CONS)
        fast = b.append_basic_block("selfast")
        slow = b.append_basic_block("selslow")
        done = b.append_basic_block("seldone")
        b.cbranch(iscons, fast, slow)
        b.position_at_end(fast)
        fv = self.field(v, which)
        b.branch(done)
        b.position_at_end(slow)
        sv = b.call(self.rt.rt_select, [self.w, self.load(src), ir.Constant(I32, which)])
        b.branch(done)
        return self.join(done, [(fv, fast), (sv, slow)])

    def bind(self, p: C.Pattern, src: Slot) -> None:
        t = type(p)
        if t is C.PVar:
            self.store_slot(self.bind_slot(p), self.load(src))
        elif t is C.PAs:
            self.store_slot(self.bind_slot(p), self.load(src))
            self.bind(p.pattern, src)
        else:
            cur = src
            for item in p.items:
                head = self.spill(self.select(cur, 0))
                self.bind(item, head)
                self.release(head)
                nxt = self.spill(self.select(cur, 1))
                if cur is not src:
                    self.release(cur)
                cur = nxt
            if p.rest is not None:
                self.bind(p.rest, cur)
            if cur is not src:
                self.release(cur)

    # ---- evaluation ----
    def ev(self, e: C.Expr, ctx: str):
        """Evaluate e. WHNF: its value; LAZY: its value or a suspension of it
        (Note [Lazy returns]); TAIL: return it from this function (returns None);
        EXH: its normal form; XTAIL: its normal form, delivered to the destination
        of an exhaustive variant (Note [Destination passing])."""
        t = type(e)
        if ctx in (EXH, XTAIL):
            return self.exh(e, ctx)
        m = getattr(self, "ev_" + t.__name__)
        return m(e, ctx)

    # ---- exhaustive demand: Note [Destination passing] ----
    def exh(self, e: C.Expr, ctx: str):
        t = type(e)
        if t is C.If:
            return self.ev_If(e, ctx)
        if t is C.Let:
            return self.ev_Let(e, ctx)
        if t is C.Ann:                      # the value is needed whole, now, whatever e asks
            return self.ev(e.expr, ctx)
        if t is C.ListCons and e.items:
            return self.exh_list(e, ctx)
        if t is C.App and type(e.fn) is C.Global and self.mg.calls_direct(e.fn.name):
            return self.exh_call(e, ctx)
        return self.finish_value(self.deep(self.ev(e, WHNF)), ctx)

    def deep(self, v):
        """The normal form of a value in WHNF: immediates are; the rest asks the runtime."""
        return self.if_ptr(v, lambda: self.b.call(self.rt.rt_deep_force, [self.w, v]), v)

    def exh_call(self, e: C.App, ctx: str):
        """A top-level function called under exhaustive demand: its exhaustive variant;
        in the variant's own tail, a call of itself is the loop's back edge."""
        b = self.b
        name = e.fn.name
        lam = self.mg.defs[name].expr
        if name in self.mg.workers:
            if not self.fits_worker(name, e.arg):
                return self.finish_value(self.deep(self.ev(e, WHNF)), ctx)
            ops = self.worker_args(lam.param, e.arg)
        else:
            ops = [self.strict_arg(lam.param, e.arg)]
        vals = [self.opval(op) for op in ops]
        for op in ops:
            self.release(op)
        if ctx == XTAIL and self.exh_lam is lam:
            for slot, v in zip(self.exh_args, vals):
                self.store_slot(slot.index, v)
            b.branch(self.loop_bb)
            return None
        fn = self.mg.exh_variant(name)
        if name not in self.mg.workers:
            vals = [_c(NIL)] + vals
        args = code_args(self.w, *vals)
        if ctx != XTAIL:
            return b.call(fn, args)
        # nothing built yet: a jump, so exhaustive tail calls run in constant stack
        jump = b.append_basic_block("xjump")
        into = b.append_basic_block("xinto")
        b.cbranch(b.icmp_unsigned("==", self.load(self.exh_dst), _c(NIL)), jump, into)
        b.position_at_end(jump)
        self.pop_frame()
        b.ret(b.call(fn, args, tail="musttail"))
        b.position_at_end(into)
        self.deliver(b.call(fn, args))
        return None

    def exh_list(self, e: C.ListCons, ctx: str):
        """[x1 .. xn ! t] in normal form: every item now; in an exhaustive variant's
        tail the cells are linked to the destination and t continues the loop."""
        vals = [self.spill(self.ev(item, EXH)) for item in e.items]
        if ctx == EXH:
            tail = Imm(NIL) if e.tail is None else self.spill(self.ev(e.tail, EXH))
            r = self.cons_chain(vals, tail)
            v = self.load(r)
            for op in vals + [tail, r]:
                self.release(op)
            return v
        b = self.b
        self.reserve(24 * len(vals))
        last = lst = self.alloc(HDR_CONS, [self.load(vals[-1]), _c(NIL)])
        for op in reversed(vals[:-1]):
            lst = self.alloc(HDR_CONS, [self.load(op), lst])
        for op in vals:
            self.release(op)
        dst = self.load(self.exh_dst)
        first = b.append_basic_block("xfirst")
        link = b.append_basic_block("xlink")
        linked = b.append_basic_block("xlinked")
        b.cbranch(b.icmp_unsigned("==", dst, _c(NIL)), first, link)
        b.position_at_end(first)
        self.store_slot(self.exh_res.index, lst)
        b.branch(linked)
        b.position_at_end(link)
        b.call(self.rt.rt_cons_set_tail, [self.w, dst, lst])
        b.branch(linked)
        b.position_at_end(linked)
        self.store_slot(self.exh_dst.index, last)
        if e.tail is None:
            self.ret(self.load(self.exh_res))
            return None
        return self.ev(e.tail, XTAIL)

    def deliver(self, v) -> None:
        """End an exhaustive variant with v as the rest of its result."""
        b = self.b
        dst = self.load(self.exh_dst)
        alone = b.append_basic_block("xalone")
        into = b.append_basic_block("xstore")
        b.cbranch(b.icmp_unsigned("==", dst, _c(NIL)), alone, into)
        b.position_at_end(alone)
        self.ret(v)
        b.position_at_end(into)
        b.call(self.rt.rt_cons_set_tail, [self.w, dst, v])
        self.ret(self.load(self.exh_res))

    def exh_prologue(self, lam: C.Lam, k: int) -> None:
        """An exhaustive variant's frame: result and destination slots, the argument's
        slot (or the k values a worker takes), and the loop header that binds the
        parameter afresh each time round."""
        b = self.b
        self.exh_lam = lam
        self.exh_res = Slot(self.new_slot())          # NIL until the first cell
        self.exh_dst = Slot(self.new_slot())          # the last cell, NIL before it
        p = lam.param
        self.exh_args = [self.spill(a) for a in (self.fn.args[1:1 + k] if k else [self.arg])]
        self.loop_bb = b.append_basic_block("loop")
        b.branch(self.loop_bb)
        b.position_at_end(self.loop_bb)
        self.poll()
        if k:
            self.bind_worker_params(p, self.exh_args)
        elif type(p) is C.PVar:
            self.store_slot(self.bind_slot(p), self.load(self.exh_args[0]))
        else:
            self.bind(p, self.exh_args[0])

    def _deliver(self, v, ctx, lazy: bool):
        """v may be lazy (a suspension) when `lazy`; force it for WHNF."""
        if ctx == WHNF and lazy:
            v = self.force(v)
        return self.finish_value(v, ctx)

    def ev_Local(self, e, ctx):
        binder = self.mg.cl.binder[id(e)]
        slot = Slot(self.slot_of[id(binder)])
        if ctx == WHNF:
            if id(binder) in self.evaluated:
                return self.load(slot)
            v = self.force(self.load(slot))
            self.store_slot(slot.index, v)       # Note [Evaluated binders]
            self.evaluated.add(id(binder))
            return v
        return self._deliver(self.load(slot), ctx, True)

    def ev_Global(self, e, ctx):
        return self._deliver(self.global_value(e.name), ctx, True)

    def ev_Const(self, e, ctx):
        op = self.const(e.value)
        v = self.opval(op)
        self.release(op)
        return self.finish_value(v, ctx)

    def ev_PrimRef(self, e, ctx):
        op = self.primref(e.name)
        v = self.opval(op)
        self.release(op)
        return self._deliver(v, ctx, e.name == "stdin")    # stdin is a lazy stream

    def ev_Lam(self, e, ctx):
        op = self.make_closure(e)
        v = self.load(op)
        self.release(op)
        return self.finish_value(v, ctx)

    def ev_Quote(self, e, ctx):
        return self.finish_value(self.quote(e), ctx)

    def quote(self, e: C.Quote):
        """A quoted form is built once, at initialisation, and kept as a global root."""
        off = self.mg.quote_offset(e)
        if isinstance(off, str):          # the quotation could not be made
            return self.error(off)
        return self.global_slot(off)

    def global_index(self, off: int):
        """The index of this module's global slot `off` (Note [Module initialisation])."""
        b = self.b
        return b.add(b.load(self.mg.gbase, typ=I32), ir.Constant(I32, off))

    def global_slot(self, off: int):
        return self.b.call(self.rt.rt_global_get, [self.ctx(), self.global_index(off)])

    def ev_Ann(self, e, ctx):
        if e.op == "#":
            return self.finish_value(self.ev(e.expr, EXH), ctx)
        if e.op == "$" and type(e.expr) in (C.Local, C.Global):
            return self.finish_value(self.ev(e.expr, WHNF), ctx)
        return self.ev(e.expr, ctx)

    def ev_Let(self, e, ctx):
        if e.rec and type(e.value) is not C.Const:
            self.bind_rec(e)
        else:
            if type(e.value) is C.Ann and e.value.op in "$#":
                val = self.spill(self.now(e.value))
            elif C.demanded(e.pattern) and not sparked(e.value):
                val = self.spill(self.ev(e.value, WHNF))      # Note [Strict arguments]
            else:
                val = self.delay(e.value)
            if not isinstance(val, Slot):
                val = self.spill(self.opval(val))
            self.bind(e.pattern, val)
        return self.ev(e.body, ctx)

    def bind_rec(self, e: C.Let) -> None:
        """A recursive binding: the value's object (closure or suspension) and the
        selections the pattern makes from it are allocated in one group, then the
        captured values that name the group are filled in before anything can see it
        (no safepoint in between, so no write barrier is needed)."""
        value = e.value
        free = self.mg.cl.free(value)
        if type(value) is C.Lam:
            fn = self.mg.lam_code(value)
            env0, hdr = 1, header("closure", 1 + len(free), nraw=1, aux=1)
            fixed = [self.code_word(fn)]
        else:
            fn = self.mg.code_for(value, free, None, "rec", "susp")
            env0, hdr = 3, header("susp", 3 + len(free), nraw=2)
            fixed = [_c(0), self.code_word(fn), _c(0)]
        # the selections: (binder, path of 0/1 steps from the value)
        selections = []

        def walk(p, path):
            if type(p) is C.PVar:
                selections.append((p, path))
            elif type(p) is C.PAs:
                selections.append((p, path))
                walk(p.pattern, path)
            else:
                cur = path
                for item in p.items:
                    walk(item, cur + (0,))
                    cur = cur + (1,)
                if p.rest is not None:
                    walk(p.rest, cur)
        walk(e.pattern, ())
        paths = sorted({path[:i] for _, path in selections for i in range(1, len(path) + 1)},
                       key=lambda q: (len(q), q))
        sel_code = {0: self.mg.selector(0), 1: self.mg.selector(1)}
        sel_hdr = header("susp", 4, nraw=2)
        for binder in free:
            self.bind_slot(binder)           # rec binders get their slots now
        self.count_susps(len(paths) + (env0 == 3))
        self.reserve(8 * (1 + len(fixed) + len(free)) + 40 * len(paths))
        # slots of the group's own binders hold NIL until filled below
        own = {id(b) for b, _ in selections}
        words = fixed + [(_c(NIL) if id(x) in own else self.load(Slot(self.slot_of[id(x)]))) for x in free]
        obj = self.alloc(hdr, words)
        made = {(): obj}
        for path in paths:
            src = made[path[:-1]]
            made[path] = self.alloc(sel_hdr, [_c(0), self.code_word(sel_code[path[-1]]), _c(0), src])
        for binder, path in selections:
            self.store_slot(self.bind_slot(binder), made[path])
        ptr = self.b.inttoptr(obj, PTR)
        for i, x in enumerate(free):
            if id(x) in own:
                v = self.load(Slot(self.slot_of[id(x)]))
                self.b.store(v, self.b.gep(ptr, [ir.Constant(I64, 8 * (1 + env0 + i))], source_etype=I8))

    def ev_If(self, e, ctx):
        b = self.b
        results = []           # (value, block) for non-tail contexts
        done = b.append_basic_block("ifdone") if ctx not in TAILS else None
        after_first = None
        for test, branch in e.arms:
            v = self.ev(test, WHNF)
            if after_first is None:
                after_first = set(self.evaluated)     # what every path has forced
            then = b.append_basic_block("then")
            other = b.append_basic_block("else")
            chk = b.append_basic_block("iferr")
            b.cbranch(b.icmp_unsigned("!=", v, _c(NIL)), chk, other)
            b.position_at_end(chk)
            iserr = self.is_type(v, T_ERROR)
            errb = b.append_basic_block("testerror")
            b.cbranch(iserr, errb, then)
            b.position_at_end(errb)
            if ctx in TAILS:
                self.finish_value(v, ctx)
            else:
                results.append((v, b.block))
                b.branch(done)
            b.position_at_end(then)
            saved, known = list(self.free_slots), set(self.evaluated)
            r = self.ev(branch, ctx)
            self.free_slots, self.evaluated = saved, known
            if ctx not in TAILS:
                results.append((r, b.block))
                b.branch(done)
            b.position_at_end(other)
        if e.otherwise is None:
            r = self.finish_value(_c(NIL), ctx)
        else:
            r = self.ev(e.otherwise, ctx)
        if after_first is not None:
            self.evaluated = after_first
        if ctx in TAILS:
            return None
        results.append((r, b.block))
        b.branch(done)
        return self.join(done, results)

    def ev_ListCons(self, e, ctx):
        tail = Imm(NIL) if e.tail is None else self.delay(e.tail)
        ops = []
        for item in reversed(e.items):
            ops.append(self.delay(item))
        op = self.cons_chain(list(reversed(ops)), tail)
        v = self.load(op)
        for o in ops + [tail, op]:
            self.release(o)
        if not e.items:
            return self._deliver(v, ctx, True)
        return self.finish_value(v, ctx)

    def ev_App(self, e, ctx):
        b = self.b
        fe = e.fn
        direct = None
        if type(fe) is C.Global and self.mg.calls_direct(fe.name):
            direct = self.mg.direct[fe.name]
            fop = None
        else:
            f = self.ev(fe, WHNF)
            fop = self.spill(f)
        if direct is not None and fe.name in self.mg.workers and self.fits_worker(fe.name, e.arg):
            ops = self.worker_args(self.mg.defs[fe.name].expr.param, e.arg)
            vals = [self.opval(op) for op in ops]
            self.drop(ops, ctx)
            return self.call(self.mg.workers[fe.name], code_args(self.w, *vals), ctx)
        if direct is not None:
            argop = self.strict_arg(self.mg.defs[fe.name].expr.param, e.arg)
            arg = self.opval(argop)
            self.drop([argop], ctx)
            return self.call(direct, code_args(self.w, _c(NIL), arg), ctx)
        argop = self.delay(e.arg)
        f = self.load(fop)
        arg = self.opval(argop)
        self.drop([fop, argop], ctx)
        isclo = self.is_type(f, T_CLOSURE)
        clo = b.append_basic_block("closure")
        other = b.append_basic_block("apply")
        b.cbranch(isclo, clo, other)
        b.position_at_end(clo)
        code = b.inttoptr(self.field(f, 0), CODE_TY.as_pointer())
        r1 = self.call(code, code_args(self.w, f, arg), ctx)
        b1 = b.block
        b.position_at_end(other)
        r2 = self.call(self.rt.rt_apply, code_args(self.w, f, arg), ctx)
        b2 = b.block
        if ctx == TAIL:
            return None
        done = b.append_basic_block("applied")
        b.position_at_end(b1)
        b.branch(done)
        b.position_at_end(b2)
        b.branch(done)
        return self.join(done, [(r1, b1), (r2, b2)])

    def strict_arg(self, param: C.Pattern, arg: C.Expr):
        """The argument of a direct call, with what the callee certainly demands
        evaluated now instead of suspended (Note [Strict arguments])."""
        if C.demanded(param):
            return self.arg_op(param, arg, self.delay)
        if (type(param) is C.PList and type(arg) is C.ListCons
                and len(arg.items) >= len(param.items)
                and any(C.demanded(p) and not sparked(a) for p, a in zip(param.items, arg.items))):
            pats = list(param.items) + [None] * (len(arg.items) - len(param.items))
            ops = [self.arg_op(p, item, self._delay_flat) for p, item in zip(pats, arg.items)]
            tail = Imm(NIL) if arg.tail is None else self._delay_flat(arg.tail)
            r = self.cons_chain(ops, tail)
            for op in ops + [tail]:
                self.release(op)
            return r
        return self.delay(arg)

    def arg_op(self, p, item: C.Expr, delay):
        """An operand for `item` bound by pattern p (None: by no pattern): evaluated now
        when p is demanded and item is not a spark, else delay(item)."""
        if p is not None and C.demanded(p) and not sparked(item):
            return self.spill(self.ev(item, WHNF))
        return delay(item)

    def fits_worker(self, name: str, arg: C.Expr) -> bool:
        """A direct call can pass its list literal's items to the worker."""
        p = self.mg.defs[name].expr.param
        if type(arg) is not C.ListCons or len(arg.items) < len(p.items):
            return False
        return p.rest is None or len(arg.items) == len(p.items)

    def worker_args(self, param: C.PList, arg: C.ListCons) -> list:
        """Operands for a worker: the items its pattern names, demanded ones evaluated
        now, conditionally demanded ones when their conditions hold (Note [Strict
        arguments]); items past the pattern are never selected."""
        items = arg.items
        ops: list = [None] * len(param.items)
        for j in C.demand_order(param):
            p, item = param.items[j], items[j]
            guard = C.demanded_if(p)
            if guard is None or sparked(item):
                continue
            gops = [ops[g] for g in guard]
            if any(op is None for op in gops):
                continue                     # a condition on a value not evaluated
            ops[j] = self.ev_if_numbers(item, gops)
        # `$E`/`#E` items run when the argument list is built, which is when the callee
        # first selects from it (interp/eval.py build_list): now, if it certainly
        # selects; else each is suspended whole and runs if its item is selected
        selects = any(C.demanded(p) for p in param.items)
        for j, item in enumerate(items[:len(param.items)]):
            if ops[j] is None:
                # a list literal passed alone is built, not suspended (delay, not _delay_flat)
                ops[j] = self.delay(item, allow_now=selects)
        if param.rest is not None:
            ops.append(Imm(NIL) if arg.tail is None else self.delay(arg.tail, allow_now=selects))
        return ops

    def ev_if_numbers(self, item: C.Expr, gops: list) -> Slot:
        """item's value now when every operand in gops is a small integer (a number,
        so that the callee certainly evaluates item: Note [Strict arguments]), else
        item suspended. With no gops, item's value."""
        b = self.b
        checks = []
        for op in gops:
            if isinstance(op, Imm):
                if op.word & 1 == 0:
                    return self.delay(item)  # a constant that is not a small integer
                continue
            checks.append(op)
        if not checks:
            return self.spill(self.ev(item, WHNF))
        ok = None
        for op in checks:
            isfix = b.icmp_unsigned("!=", b.and_(self.load(op), _c(1)), _c(0))
            ok = isfix if ok is None else b.and_(ok, isfix)
        k = self.new_slot()
        now = b.append_basic_block("numbers")
        later = b.append_basic_block("notnumbers")
        done = b.append_basic_block("argdone")
        b.cbranch(ok, now, later)
        saved, known = list(self.free_slots), set(self.evaluated)
        b.position_at_end(now)
        self.store_slot(k, self.ev(item, WHNF))
        b.branch(done)
        self.free_slots, self.evaluated = list(saved), set(known)
        b.position_at_end(later)
        op = self.delay(item)
        self.store_slot(k, self.opval(op))
        b.branch(done)
        self.free_slots, self.evaluated = saved, known
        b.position_at_end(done)
        return Slot(k)

    def bind_worker_params(self, param: C.PList, ops: list) -> None:
        for p, op in zip(list(param.items) + ([param.rest] if param.rest is not None else []), ops):
            self.bind(p, op)

    def call(self, fn, args, ctx):
        """A call with the code signature; in TAIL a jump (musttail)."""
        b = self.b
        if ctx == TAIL:
            self.pop_frame()
            r = b.call(fn, args, tail="musttail")
            b.ret(r)
            return None
        r = b.call(fn, args)
        if ctx == WHNF:
            r = self.force(r)
        return r

    # ---- primitives ----
    def ev_PrimCall(self, e, ctx):
        name = e.name
        if name in CHECKED:
            return self.finish_value(self.checked_prim(e), ctx)
        if name in UNARY_FIX or name in ("nil?", "list?", "isLST?"):
            return self.finish_value(self.unary_fast(e), ctx)
        if name in LIST_TAKERS:
            ops = [self.delay(a) for a in reversed(e.args)]
            lst = self.cons_chain(list(reversed(ops)), Imm(NIL))
            arg = self.load(lst)
            for o in ops + [lst]:
                self.release(o)
        else:
            a = e.args[0]
            op = self.delay(a)
            arg = self.opval(op)
        r = self.b.call(self.rt.rt_prim_call, [self.w, ir.Constant(I32, PRIM_INDEX[name]), arg])
        return self._deliver(r, ctx, True)

    def prim_slow(self, name, forced: list, rest: list):
        """rt_prim_call with [forced values ! operands still suspended]."""
        ops = [self.delay(a, allow_now=False) for a in reversed(rest)]
        lst = _c(NIL)
        for op in reversed(forced + list(reversed(ops))):
            lst = self.b.call(self.rt.rt_cons, [self.w, self.load(op), lst])   # roots its args
        r = self.b.call(self.rt.rt_prim_call, [self.w, ir.Constant(I32, PRIM_INDEX[name]), lst])
        for o in ops:
            self.release(o)
        return self.b.call(self.rt.rt_whnf, [self.w, r])

    def checked_prim(self, e):
        """Operands forced left to right; small integers take the inline path, anything
        else (or an overflow) hands the operands to the runtime's primitive, which
        checks them in the same order (docs/language.md section 3)."""
        b = self.b
        name = e.name
        args = e.args
        if name not in ARITH and name not in COMPARE and name not in DIVIDE:
            # the bitwise operators: the runtime forces and checks
            return self.prim_slow(name, [], args)
        fast_ok = True
        ready = self.spark_operands(args)
        # an operand after one that is not a small integer is left to the runtime,
        # so only the first is certainly forced here (Note [Evaluated binders])
        known = None
        done = b.append_basic_block(f"{name}done")
        results = []
        forced: list[Slot] = []
        acc = None
        for i, a in enumerate(args):
            if small_int(a):
                op = Imm(fix(a.value))          # a small integer: no check needed
                forced.append(op)
                if name in ARITH and i > 0:
                    acc = self.arith_step(name, acc, self.load(op), forced, args[i + 1:], results, done)
                elif i == 0:
                    acc = self.load(op) if name in ARITH else None
                continue
            if i in ready:
                v = self.speculated(a, ready[i])
                self.release(ready[i])
            else:
                v = self.ev(a, WHNF)
            if known is None:
                known = set(self.evaluated)
            op = self.spill(v)
            forced.append(op)
            if not fast_ok:
                continue
            isfix = b.icmp_unsigned("==", b.and_(v, _c(1)), _c(1))
            nxt = b.append_basic_block("fix")
            slowb = b.append_basic_block("slow")
            b.cbranch(isfix, nxt, slowb)
            b.position_at_end(slowb)
            results.append((self.prim_slow(name, list(forced), args[i + 1:]), b.block))
            b.branch(done)
            b.position_at_end(nxt)
            if name in ARITH and i > 0:
                acc = self.arith_step(name, acc, self.load(op), forced, args[i + 1:], results, done)
            elif i == 0:
                acc = self.load(op) if name in ARITH else None
        if not fast_ok:
            r = self.prim_slow(name, forced, [])
            for op in forced:
                self.release(op)
            return r
        if name in COMPARE:
            x, y = self.load(forced[0]), self.load(forced[1])
            c = b.icmp_signed(COMPARE[name], x, y)
            r = b.select(c, b.load(self.mg.atom("true"), typ=I64), _c(NIL))
        elif name in DIVIDE:
            r = self.divide(name, forced, results, done)
        elif not args:
            r = _c(fix(0 if name == "add" else 1))
        else:
            r = acc
        results.append((r, b.block))
        b.branch(done)
        phi = self.join(done, results)
        if known is not None:
            self.evaluated = known
        for op in forced:
            self.release(op)
        return phi

    def spark_operands(self, args: list) -> dict:
        """Operands of a strict primitive with sparks among them (Note [Sparked
        operands]): while some worker is hungry, every operand after the first that
        needs evaluating is suspended and sparked before that first one is evaluated;
        each is forced in its turn. Returns {index: slot holding the spark, or 0 when
        nobody was hungry and the operand is to be evaluated in its turn}."""
        if not any(sparked(a) for a in args):
            return {}
        later = []
        first = None
        for i, a in enumerate(args):
            if small_int(a):
                continue
            if first is None:
                first = i
                continue
            inner = a.expr if sparked(a) else a
            if type(inner) not in SIMPLE and type(inner) is not C.Quote:
                later.append(i)
        if not later:
            return {}
        b = self.b
        slots = {i: self.new_slot() for i in later}
        spark = b.append_basic_block("hungry")
        busy = b.append_basic_block("busy")
        done = b.append_basic_block("sparked")
        b.cbranch(self.rt.hungry(b, self.w), spark, busy)
        saved, known = list(self.free_slots), set(self.evaluated)
        b.position_at_end(spark)
        for i in later:
            a = args[i]
            s = self.make_susp(a.expr if sparked(a) else a, "spark")
            self.store_slot(slots[i], self.load(s))
            self.release(s)
        for i in later:
            b.call(self.rt.rt_spark, [self.w, self.load(Slot(slots[i]))])
        b.branch(done)
        self.free_slots, self.evaluated = list(saved), set(known)
        b.position_at_end(busy)
        for i in later:
            self.store_slot(slots[i], _c(0))
        b.branch(done)
        self.free_slots, self.evaluated = saved, known
        b.position_at_end(done)
        return {i: Slot(k) for i, k in slots.items()}

    def speculated(self, a: C.Expr, op: Slot):
        """Operand a in its turn: the spark spark_operands made of it, forced, or, when
        it made none, a evaluated here."""
        b = self.b
        v = self.load(op)
        have = b.icmp_unsigned("!=", v, _c(0))
        forced = b.append_basic_block("spark")
        here = b.append_basic_block("inplace")
        done = b.append_basic_block("operand")
        b.cbranch(have, forced, here)
        known = set(self.evaluated)
        b.position_at_end(forced)
        r1 = self.force(self.load(op))
        b1 = b.block
        b.branch(done)
        self.evaluated = set(known)
        b.position_at_end(here)
        r2 = self.ev(a.expr if sparked(a) else a, WHNF)
        b2 = b.block
        b.branch(done)
        self.evaluated = known
        return self.join(done, [(r1, b1), (r2, b2)])

    def offer_spark(self, s: Slot) -> None:
        """Spark the suspension in s if some worker is hungry; it stays a suspension."""
        with self.b.if_then(self.rt.hungry(self.b, self.w), likely=False):
            self.b.call(self.rt.rt_spark, [self.w, self.load(s)])

    def arith_step(self, name, acc, y, forced, rest, results, done):
        """acc (op) y on tagged small integers with an overflow check."""
        b = self.b
        val, ovf = smallint.binary(b, self.mg, name, acc, y)
        okb = b.append_basic_block("noovf")
        slowb = b.append_basic_block("ovf")
        b.cbranch(ovf, slowb, okb)
        b.position_at_end(slowb)
        results.append((self.prim_slow(name, list(forced), rest), b.block))
        b.branch(done)
        b.position_at_end(okb)
        return val

    def divide(self, name, forced, results, done):
        """div or rem of two small integers; a zero divisor (an error value) and the
        one quotient past the range take the runtime's path, which makes them as the
        interpreter does."""
        b = self.b
        slowb = b.append_basic_block("divslow")
        r = smallint.divide(b, self.fn, name, self.load(forced[0]), self.load(forced[1]), slowb)
        okb = b.block
        b.position_at_end(slowb)
        results.append((self.prim_slow(name, list(forced), []), b.block))
        b.branch(done)
        b.position_at_end(okb)
        return r

    def unary_fast(self, e):
        b = self.b
        name = e.name
        v = self.ev(e.args[0], WHNF)
        true = b.load(self.mg.atom("true"), typ=I64)
        if name == "nil?":
            return b.select(b.icmp_unsigned("==", v, _c(NIL)), true, _c(NIL))
        if name in ("list?", "isLST?"):
            isnil = b.icmp_unsigned("==", v, _c(NIL))
            iscons = self.is_type(v, T_CONS)
            return b.select(b.or_(isnil, iscons), b.load(self.mg.atom("true"), typ=I64), _c(NIL))
        op = self.spill(v)
        isfix = b.icmp_unsigned("==", b.and_(v, _c(1)), _c(1))
        fast = b.append_basic_block("fix")
        slow = b.append_basic_block("slow")
        done = b.append_basic_block(f"{name}done")
        b.cbranch(isfix, fast, slow)
        results = []
        b.position_at_end(slow)
        r = b.call(self.rt.rt_prim_call, [self.w, ir.Constant(I32, PRIM_INDEX[name]), self.load(op)])
        results.append((b.call(self.rt.rt_whnf, [self.w, r]), b.block))
        b.branch(done)
        b.position_at_end(fast)
        x = self.load(op)
        if name in PREDICATE:
            r = b.select(smallint.predicate(b, name, x), b.load(self.mg.atom("true"), typ=I64),
                         _c(NIL))
            results.append((r, b.block))
        else:
            val, ovf = smallint.unary(b, self.mg, name, x)
            okb = b.append_basic_block("noovf")
            b.cbranch(ovf, slow, okb)
            b.position_at_end(okb)
            results.append((val, b.block))
        b.branch(done)
        phi = self.join(done, results)
        self.release(op)
        return phi


class _AtomOp:
    """An atom operand: an immediate word read from the module's atom table."""
    __slots__ = ("g",)

    def __init__(self, g):
        self.g = g


# --- whole modules ---------------------------------------------------------------------
#
# Note [Module initialisation]
# ~~~~~~~~~~~~~~~~~~~~~~~~~~~~
# A module's atoms are interned, and its global slots made, when its entry point first
# runs (inside a step, so allocation is allowed): `init_atoms` fills the atom table;
# `init_values` (state 0 -> 1) takes one run of consecutive global slots (`gbase`):
# the definitions in order, then every quoted form and each of its compound parts;
# then (state 1 -> 2) it stores each definition's value (a closure, a constant, or a
# suspension of the defining expression: definitions are lazy) and builds the forms.
# A step that fails part-way re-runs from state 1, which only stores again. The state
# belongs to one context (`init_ctx`): a program run in a second context initialises
# again there, with its own atoms and slots.
#
# Note [Forms with code]
# ~~~~~~~~~~~~~~~~~~~~~~
# `val:^E` must work in an ahead-of-time executable, which has no compiler. Every
# compound part of every quotation in the program (an application, function or
# annotation form) is therefore compiled with the program, as the expression it
# spells in the top-level environment, and registered with the runtime by the global
# slot that holds the form (`rt_form_code_register`). `val` of such a form, found by
# identity, runs that code; only forms made at run time (by `prsis`) need the
# context's compiler hook, which the JIT provides; an executable has none, and the
# runtime evaluates such forms by walking them (rt/rt_formeval.c).
#
# Only forms a program can reach get code: the quotation itself and the elements and
# tails of quoted lists. No primitive takes an application, function or annotation
# form apart, so their parts never reach `val` alone; compiling them too would make a
# deep quotation quadratic. The code resolves names as the program file does (a
# primitive the file does not redefine is called directly, as in the file's own code).
# A definition made at run time (`val` of a definition form, through the hook) could
# rebind such a name, so it makes the runtime forget every registered form's code
# (`rt_form_codes_forget`): from then on `val` compiles forms through the hook (or
# walks them, in an executable), resolving names when they run, as the interpreter
# does.


@dataclass
class Lowered:
    """A lowered module: its LLVM IR and the names of what to call."""
    ir: ir.Module
    entry: str           # P_toplevel (rt_step_fn) or P_entry (code signature)
    ntoplevel: int = 0


class ProgramGen(ModuleGen):
    def __init__(self, prefix: str, defs: dict, main: bool):
        super().__init__(prefix, Closures(), defs, main)
        self.f_atoms = self.new_function("init_atoms", ir.FunctionType(VOID, [PTR]))
        self.f_vals = self.new_function("init_values")

    # ---- definitions and expressions ----
    def define_all(self) -> None:
        for name, d in self.defs.items():
            self.cl.link(d.expr)
            if type(d.expr) is C.Lam:
                self.direct[name] = self.new_function(name)
                if worker_shape(d.expr):
                    self.workers[name] = self.new_function(name + "_w")
                if d.expr.fixnum and not self.late_binding:
                    self.fixnum_fns[name] = self.new_function(name + "_fx")
        for name, fn in self.fixnum_fns.items():
            # Note [Fixnum entries]: the entry is what everyone calls; the generic
            # code below becomes f_g
            lam = self.defs[name].expr
            entry = self.workers.get(name, self.direct[name])
            generic = self.new_function(name + "_g")
            FixnumGen(self, name, lam, fn, generic, code_args).emit()
            emit_entry(self, entry, lam, fn, generic, code_args)
            self.generic_fns[name] = generic
        for name, entry in self.direct.items():
            lam = self.defs[name].expr
            fn = entry if name in self.workers else self.generic_fns.get(name, entry)
            g = FnGen(self, fn, "closure")
            if name in self.workers:
                g.wrapper(lam.param, self.workers[name])
                g.finish()
                g = FnGen(self, self.generic_fns.get(name, self.workers[name]), "closure")
                ops = [g.spill(a) for a in self.workers[name].args[1:1 + worker_shape(lam)]]
                g.poll()
                g.bind_worker_params(lam.param, ops)
            else:
                g.prologue([], lam.param)
            g.ev(lam.body, TAIL)
            g.finish()
            self.code_names.append((entry, name))
        self.def_code = {}
        for name, d in self.defs.items():
            if type(d.expr) not in (C.Lam, C.Const):
                self.def_code[name] = self.code_for(d.expr, [], None, name, "susp")

    def expression(self, e: C.Expr, hint: str) -> ir.Function:
        self.cl.link(e)
        return self.code_for(e, [], None, hint, "susp")

    def error_code(self, msg: str) -> ir.Function:
        fn = self.new_function("valerror")
        g = FnGen(self, fn, "susp")
        g.ret(g.error(msg))
        g.finish()
        return fn

    # ---- initialisation: Note [Module initialisation] ----
    def init_functions(self):
        atoms, vals = self.f_atoms, self.f_vals
        g = FnGen(self, vals, "susp")
        b = g.b
        alloc_bb = b.append_basic_block("allocglobals")
        fill_bb = b.append_basic_block("fill")
        st = self.state_here(g)           # a new context starts from state 0
        b.store(g.ctx(), self.init_ctx)
        b.cbranch(b.icmp_unsigned("==", st, ir.Constant(I32, 0)), alloc_bb, fill_bb)
        b.position_at_end(fill_bb)
        ctx = g.ctx()
        if self.main:
            b.call(self.rt.rt_prims_register_names, [ctx])
        for fn, name in self.code_names:
            b.call(self.rt.rt_code_name_set, [g.ctx(), fn, b.load(self.atom(name), typ=I64)])
        for k, (name, d) in enumerate(self.defs.items()):
            e = d.expr
            if type(e) is C.Lam:
                op = g.make_object(header("closure", 1, nraw=1, aux=1), [g.code_word(self.direct[name])])
            elif type(e) is C.Const:
                op = g.const(e.value)
            else:
                op = g.make_object(header("susp", 3, nraw=2), [_c(0), g.code_word(self.def_code[name]), _c(0)])
            idx = g.global_index(k)
            b.call(self.rt.rt_global_set, [g.ctx(), idx, g.load(op)])
            b.call(self.rt.rt_toplevel_define, [g.ctx(), b.load(self.atom(name), typ=I64), idx])
            g.release(op)
        self.build_forms(g)
        b.store(ir.Constant(I32, 2), self.init_state)
        g.ret(_c(NIL))
        # the slots, now that their number is known
        b.position_at_end(alloc_bb)
        ctx = g.ctx()
        n = self.nglobals
        if n:
            base = b.call(self.rt.rt_global_new, [ctx, _c(NIL)])
            b.store(base, self.gbase)
            if n > 1:
                loop = b.append_basic_block("more")
                after = b.append_basic_block("allocated")
                pre = b.block
                b.branch(loop)
                b.position_at_end(loop)
                phi = b.phi(I32)
                phi.add_incoming(ir.Constant(I32, 1), pre)
                b.call(self.rt.rt_global_new, [ctx, _c(NIL)])
                nxt = b.add(phi, ir.Constant(I32, 1))
                phi.add_incoming(nxt, loop)
                b.cbranch(b.icmp_unsigned("<", nxt, ir.Constant(I32, n)), loop, after)
                b.position_at_end(after)
        b.store(ir.Constant(I32, 1), self.init_state)
        b.branch(fill_bb)
        g.finish()
        # atoms last: every atom is known only now
        ab = ir.IRBuilder(atoms.append_basic_block())
        ctx = ab.load(ab.gep(atoms.args[0], [ir.Constant(I64, W_CTX)], source_etype=I8), typ=PTR)
        for name, gv in list(self.atoms.items()):
            data = name.encode("utf-8")
            s = self.cstring(name)
            v = ab.call(self.rt.rt_atom, [ctx, ab.gep(s, [_c(0), _c(0)]), _c(len(data))])
            ab.store(v, gv)
        ab.ret_void()
        return atoms, vals

    def encode_form(self, form, out: bytearray, codes: list, slot: int | None = None,
                    reachable: bool = True) -> None:
        """A form in rt_form_build's postfix encoding (rt/rt_jit.c). A compound form a
        program can reach (the quotation itself, or an element or tail of a quoted
        list) gets a global slot and compiled code (Note [Forms with code]); the parts
        of a compound form cannot be taken out by any primitive, so they get neither,
        which keeps deep quotations linear to compile."""
        from ..interp.values import NIL as PNIL, AnnForm, Apl, Atom, Cons, FnForm
        t = type(form)
        code = None
        if t is int:
            out += b"i" + struct.pack("<q", form)
        elif t is float:
            out += b"f" + struct.pack("<d", form)
        elif t is Atom:
            data = form.name.encode("utf-8")
            out += b"a" + struct.pack("<I", len(data)) + data
        elif form is PNIL:
            out += b"n"
        elif t is Cons:
            n = 0
            while type(form) is Cons:
                self.encode_form(form.head, out, codes, None, reachable)
                form = form.tail
                n += 1
            self.encode_form(form, out, codes, None, reachable)
            out += b"c" * n
        else:
            if t is Apl:
                kind, parts = 1, [form.fn, form.arg]
            elif t is FnForm:
                kind, parts = 2, [form.param, form.body]
            elif t is AnnForm:
                kind, parts = 3, [Atom(form.op), form.form]
            else:
                raise TypeError(f"no native form for {t.__name__}")
            for x in parts:
                self.encode_form(x, out, codes, None, False)
            out += b"F" + bytes([kind, len(parts)])
            if reachable:
                compiled = core_of_form(form, set(self.defs) if self.main else None)
                if isinstance(compiled, str):
                    code = self.error_code(compiled)
                elif isinstance(compiled, C.Def):
                    code = self.error_code("val: a definition cannot be quoted")
                else:
                    code = self.expression(compiled, "val")
                if slot is None:
                    slot = self.nglobals
                    self.nglobals += 1
        if slot is not None:
            k = 0xFFFFFFFF
            if code is not None:
                k = len(codes)
                codes.append(code)
            out += b"g" + struct.pack("<II", slot, k)

    def build_forms(self, g: FnGen) -> None:
        """Every quotation's form, built from its encoding into its slot."""
        i = 0
        while i < len(self.quotes):          # code for forms may quote more forms
            off, form = self.quotes[i]
            i += 1
            enc, codes = bytearray(), []
            self.encode_form(form, enc, codes, off)
            data = self._data(f"form{i}", ir.ArrayType(I8, len(enc)), bytearray(enc))
            table = self._data(f"formcodes{i}", ir.ArrayType(PTR, len(codes)), codes)
            b = g.b
            b.call(self.rt.rt_form_build, [g.w, data, _c(len(enc)),
                                           b.load(self.gbase, typ=I32), table])

    def _data(self, name, ty, init):
        gv = ir.GlobalVariable(self.m, ty, f"{self.prefix}_{name}")
        gv.linkage = "internal"
        gv.global_constant = True
        gv.initializer = ir.Constant(ty, init)
        return gv

    def state_here(self, g: FnGen):
        """The initialisation state for the running context: the module's globals
        (gbase, atoms) belong to the context that initialised it last, so another
        context sees state 0 and initialises afresh (Note [Module initialisation])."""
        b = g.b
        same = b.icmp_unsigned("==", b.load(self.init_ctx, typ=PTR), g.ctx())
        return b.select(same, b.load(self.init_state, typ=I32), ir.Constant(I32, 0))

    def ensure_init(self, g: FnGen) -> None:
        atoms, vals = self.f_atoms, self.f_vals
        b = g.b
        st = self.state_here(g)
        with b.if_then(b.icmp_unsigned("!=", st, ir.Constant(I32, 2)), likely=False):
            b.call(atoms, [g.w])
            b.call(vals, code_args(g.w, _c(NIL), _c(NIL)))


# Note [Late binding]
# ~~~~~~~~~~~~~~~~~~~
# A definition made at run time (`val` or `evlst` of a definition form) rebinds its
# name for everyone, the file's own code included, as in the interpreter. A program
# that mentions `val` or `evlst` therefore looks every top-level name up when it is
# used (rt_toplevel_lookup) and calls no function directly, so it has no workers,
# exhaustive variants or fixnum workers (frontend/fixnum.py); other programs bind
# their names when they are compiled (core.defines_at_run_time tells which).


def lower_program(module: C.Module, prefix: str, aot: bool = False) -> Lowered:
    """A whole program: its definitions, and one step function that evaluates its
    i-th top-level expression (rt_step_fn), as rt_run_toplevel expects."""
    defs: dict[str, C.Def] = {}
    for cmd in module.commands:
        if isinstance(cmd, C.Def):
            defs[cmd.name] = cmd
    pg = ProgramGen(prefix, defs, main=True)
    pg.late_binding = C.defines_at_run_time(module)
    with deep_recursion():
        pg.define_all()
        evals = [pg.expression(cmd.expr, f"eval{k}")
                 for k, cmd in enumerate(c for c in module.commands if isinstance(c, C.Eval))]
        pg.init_functions()
    name = "daisy_toplevel" if aot else f"{prefix}_toplevel"
    top = ir.Function(pg.m, STEP_TY, name)
    g = FnGen(pg, top, "step")
    pg.ensure_init(g)
    b = g.b
    default = b.append_basic_block("none")
    sw = b.switch(g.self_, default)
    for k, fn in enumerate(evals):
        bb = b.append_basic_block(f"eval{k}")
        sw.add_case(_c(fix(k)), bb)
        b.position_at_end(bb)
        r = b.call(fn, code_args(g.w, _c(NIL), _c(NIL)))
        g.ret(b.call(pg.rt.rt_whnf, [g.w, r]))
    b.position_at_end(default)
    g.ret(_c(NIL))
    g.finish()
    if aot:
        n = ir.GlobalVariable(pg.m, I32, "daisy_ntoplevel")
        n.global_constant = True
        n.initializer = ir.Constant(I32, len(evals))
    return Lowered(pg.m, name, len(evals))


def lower_form_module(compiled, prefix: str) -> Lowered:
    """A module for one form `val` met at run time (the JIT's compiler hook): its entry
    has the code signature and returns the form's value, or installs a definition and
    returns unit."""
    pg = ProgramGen(prefix, {}, main=False)
    entry = ir.Function(pg.m, CODE_TY, f"{prefix}_entry")
    with deep_recursion():
        g = FnGen(pg, entry, "susp")
        pg.ensure_init(g)
        b = g.b
        if isinstance(compiled, C.Def):
            e = compiled.expr
            pg.cl.link(e)
            if type(e) is C.Lam:
                op = g.make_closure(e)
            elif type(e) is C.Const:
                op = g.const(e.value)
            else:
                op = g.make_susp(e, compiled.name)
            idx = b.call(pg.rt.rt_global_new, [g.ctx(), g.load(op)])
            b.call(pg.rt.rt_toplevel_define, [g.ctx(), b.load(pg.atom(compiled.name), typ=I64), idx])
            b.call(pg.rt.rt_form_codes_forget, [g.ctx()])    # Note [Forms with code]
            g.ret(_c(UNIT))
        else:
            pg.cl.link(compiled)
            g.ev(compiled, TAIL)
        g.finish()
        pg.init_functions()
    return Lowered(pg.m, f"{prefix}_entry", 0)
