"""The runtime's ABI as LLVM IR: declarations of its entry points and the inline
fast paths generated code uses (Note [Reserve], Note [Roots], Note [Safepoints]
in rt/daisy_rt.h).

Offsets come from `daisy.rt.native`, whose copy of the layout is checked
against the C library at import, so generated code and the runtime cannot
disagree about where `hp` or `interrupt` live.  Pointers are opaque (`ptr`);
fields are reached with `getelementptr i8` (never `inttoptr`, see
../shared/FIELD-NOTES.md).
"""
from __future__ import annotations

from llvmlite import ir

from ..rt import native

I8, I32, I64 = ir.IntType(8), ir.IntType(32), ir.IntType(64)
PTR = ir.PointerType()
VOID = ir.VoidType()

W_HP = native.Worker.hp.offset
W_LIMIT = native.Worker.limit.offset
W_SP = native.Worker.sp.offset
W_SP_LIMIT = native.Worker.sp_limit.offset
W_INTERRUPT = native.Worker.interrupt.offset
W_CTX = native.Worker.ctx.offset
W_STACK_LIMIT = native.Worker.stack_limit.offset
# offsets past the fixed ABI fields, read from the runtime's layout table: the
# worker's count of suspensions allocated (--stats), Note [Hungry workers]
_LAYOUT = native.layout_table()
W_SUSPS = _LAYOUT["worker.susps"]
W_FX_OFF = _LAYOUT["worker.fx_off"]
W_FX_GIVEUPS = _LAYOUT["worker.fx_giveups"]
W_SPARK_WANTED = _LAYOUT["worker.spark_wanted"]
SUSP_AUX_NF = _LAYOUT["susp.aux_nf"]     # a `#E` suspension: Note [Deep forcing] in rt_prims.c

#: rt_step_fn: the signature of code a step runs, rt_val fn(rt_worker *, rt_val)
STEP_FN = ir.FunctionType(I64, [PTR, I64])


def header(type_name: str, size: int, nraw: int = 0, aux: int = 0) -> int:
    """An object header word (Note [Heap object layout])."""
    return (size << 32) | (nraw << 16) | (aux << 8) | (native.TYPES[type_name] << 1) | 1


def fix(i: int) -> int:
    """A small integer's word (Note [Value tags])."""
    return ((i << 1) | 1) & (2**64 - 1)


def word(v: int) -> ir.Constant:
    """An i64 constant for a word given as unsigned or signed."""
    if v >= 2**63:
        v -= 2**64
    return ir.Constant(I64, v)


class Runtime:
    """The runtime's entry points, declared in one module on first use (by their C
    names: `rt.rt_force_slow`), and the emitters of the fast paths that call them."""

    SIGS = {
        "rt_reserve_slow": (PTR, [PTR, I64]),
        "rt_safepoint_slow": (VOID, [PTR]),
        "rt_roots_overflow_slow": (VOID, [PTR]),
        "rt_force_slow": (I64, [PTR, I64]),
        # the code signature (jit/lower.py Note [Code signature]): C reads three
        "rt_apply": (I64, [PTR, I64, I64, I64, I64]),
        "rt_prim_call": (I64, [PTR, I32, I64]),
        "rt_select": (I64, [PTR, I64, I32]),
        "rt_deep_force": (I64, [PTR, I64]),
        "rt_spark": (VOID, [PTR, I64]),
        "rt_cons": (I64, [PTR, I64, I64]),
        "rt_whnf": (I64, [PTR, I64]),
        "rt_cons_set_tail": (VOID, [PTR, I64, I64]),
        "rt_stack_exhausted": (I64, [PTR]),
        "rt_error_new": (I64, [PTR, PTR]),
        "rt_int": (I64, [PTR, I64]),
        "rt_float": (I64, [PTR, ir.DoubleType()]),
        "rt_global_new": (I32, [PTR, I64]),
        "rt_global_get": (I64, [PTR, I32]),
        "rt_global_set": (VOID, [PTR, I32, I64]),
        "rt_atom": (I64, [PTR, PTR, I64]),
        "rt_toplevel_define": (VOID, [PTR, I64, I32]),
        "rt_toplevel_lookup": (I64, [PTR, I64]),
        "rt_code_name_set": (VOID, [PTR, PTR, I64]),
        "rt_prims_register_names": (VOID, [PTR]),
        "rt_stdin_stream": (I64, [PTR]),
        "rt_form_code_register": (VOID, [PTR, I32, PTR]),
        "rt_form_codes_forget": (VOID, [PTR]),
        "rt_form_build": (I64, [PTR, PTR, I64, I32, PTR]),
    }

    def __init__(self, module: ir.Module):
        self.module = module
        self._fns: dict[str, ir.Function] = {}

    def __getattr__(self, name: str) -> ir.Function:
        if name.startswith("_") or name not in self.SIGS:
            raise AttributeError(name)
        fn = self._fns.get(name)
        if fn is None:
            ret, args = self.SIGS[name]
            fn = ir.Function(self.module, ir.FunctionType(ret, args), name)
            fn.attributes.add("nounwind")
            self._fns[name] = fn
        return fn

    def intrinsic(self, name: str, ret, args) -> ir.Function:
        """An LLVM intrinsic's declaration in this module, made on first use."""
        try:
            return self.module.get_global(name)
        except KeyError:
            return ir.Function(self.module, ir.FunctionType(ret, args), name)

    # ---- worker fields ----
    @staticmethod
    def field(b: ir.IRBuilder, w, offset: int):
        return b.gep(w, [ir.Constant(I64, offset)], source_etype=I8)

    # ---- allocation: Note [Reserve] ----
    def reserve(self, b: ir.IRBuilder, w, nbytes: int) -> None:
        """Make [hp, hp + nbytes) free; the slow path is a safepoint."""
        hp = b.load(self.field(b, w, W_HP), typ=PTR)
        limit = b.load(self.field(b, w, W_LIMIT), typ=PTR)
        room = b.sub(b.ptrtoint(limit, I64), b.ptrtoint(hp, I64))
        short = b.icmp_unsigned("<", room, ir.Constant(I64, nbytes))
        with b.if_then(short, likely=False):
            b.call(self.rt_reserve_slow, [w, ir.Constant(I64, nbytes)])

    def alloc_nogc(self, b: ir.IRBuilder, w, hdr: int, size: int):
        """Bump-allocate an object of `size` payload words after a reserve;
        returns its address (a ptr) with the header written."""
        slot = self.field(b, w, W_HP)
        hp = b.load(slot, typ=PTR)
        b.store(ir.Constant(I64, hdr), hp)
        b.store(b.gep(hp, [ir.Constant(I64, 8 * (1 + size))], source_etype=I8), slot)
        return hp

    @staticmethod
    def store_field(b: ir.IRBuilder, obj, index: int, value) -> None:
        b.store(value, b.gep(obj, [ir.Constant(I64, 8 * (1 + index))], source_etype=I8))

    # ---- the root stack: Note [Roots] ----
    def push_root(self, b: ir.IRBuilder, w, value) -> None:
        sp_slot = self.field(b, w, W_SP)
        sp = b.load(sp_slot, typ=PTR)
        limit = b.load(self.field(b, w, W_SP_LIMIT), typ=PTR)
        full = b.icmp_unsigned(">=", b.ptrtoint(sp, I64), b.ptrtoint(limit, I64))
        with b.if_then(full, likely=False):
            b.call(self.rt_roots_overflow_slow, [w])
        sp = b.load(sp_slot, typ=PTR)
        b.store(value, sp)
        b.store(b.gep(sp, [ir.Constant(I64, 8)], source_etype=I8), sp_slot)

    def root_slot(self, b: ir.IRBuilder, w, depth: int):
        """Address of the root `depth` entries below the top (1 = the top)."""
        sp = b.load(self.field(b, w, W_SP), typ=PTR)
        return b.gep(sp, [ir.Constant(I64, -8 * depth)], source_etype=I8)

    def pop_roots(self, b: ir.IRBuilder, w, n: int) -> None:
        slot = self.field(b, w, W_SP)
        sp = b.load(slot, typ=PTR)
        b.store(b.gep(sp, [ir.Constant(I64, -8 * n)], source_etype=I8), slot)

    def hungry(self, b: ir.IRBuilder, w):
        """i1: some worker would take a spark now (Note [Hungry workers] in rt_spark.c)."""
        n = b.load(self.field(b, w, W_SPARK_WANTED), typ=I32)
        return b.icmp_unsigned("!=", n, ir.Constant(I32, 0))

    def stack_deep(self, b: ir.IRBuilder, w):
        """i1: this frame is past w->stack_limit, where a demand is the error `stack
        exhausted` (Note [Step stacks] in daisy_rt.h).  llvm.stacksave would do
        as well and spare a frame pointer: measured 2026-12-05, an AOT nfib 36 went
        from 0.074 to 0.067 s, but the JIT's pfib 36 on one worker from 0.069 to
        0.075 s and plain nfib did not move, with code that differed only in %rbp:
        layout luck either way, so it stays as it is."""
        fa = b.call(self.intrinsic("llvm.frameaddress.p0", PTR, [I32]), [ir.Constant(I32, 0)])
        lim = b.load(self.field(b, w, W_STACK_LIMIT), typ=I64)
        return b.icmp_unsigned("<", b.ptrtoint(fa, I64), lim)

    # ---- safepoints: Note [Safepoints] ----
    def poll(self, b: ir.IRBuilder, w) -> None:
        flag = b.load_atomic(self.field(b, w, W_INTERRUPT), "monotonic", 4, typ=I32)
        raised = b.icmp_unsigned("!=", flag, ir.Constant(I32, 0))
        with b.if_then(raised, likely=False):
            b.call(self.rt_safepoint_slow, [w])
