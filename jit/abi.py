"""The runtime's ABI as the code generator sees it: one source of truth.

Every offset, tag, type number and header field generated code bakes in comes from the
runtime's own layout table (`rt_layout_table` in rt/rt_ctx.c, read through
`daisy.rt.native`, which checks it against its Python copy at import), and every
primitive's number from the runtime's primitive table, matched by name
(`prim_index`): generated code and the runtime cannot disagree about where `hp` lives
or which primitive is number 12 without an error saying so at start-up.

Note [Worker fields]
~~~~~~~~~~~~~~~~~~~~
Generated code reads and writes a few fields of `rt_worker` (daisy_rt.h, Note [Worker
state]): WORKER_FIELDS gives each one's C type; the offset is the layout table's
`worker.NAME`. The fixed ABI fields (hp .. stack_limit) lead the struct; the others
(spark_wanted, fx_off, the statistics counters) are wherever the C compiler put them,
which is why they are read from the table and why the compile cache's key includes
it (jit/cache.py).

The llvmlite helpers at the end (`Runtime`) build the same fast paths with llvmlite's
IR builder, for tests that exercise the ABI without the compiler (tests/test_jit_abi.py).
The compiler itself writes LLVM IR text (jit/emit.py).
"""
from __future__ import annotations

from llvmlite import ir

from ..rt import native

I8, I32, I64 = ir.IntType(8), ir.IntType(32), ir.IntType(64)
PTR = ir.PointerType()
VOID = ir.VoidType()

LAYOUT = native.layout_table()


def _lay(name: str) -> int:
    try:
        return LAYOUT[name]
    except KeyError:
        raise native.RuntimeLayoutError(f"the runtime's layout table has no {name!r}") from None


# ---- values: Note [Value tags] ----
TAG_MASK, TAG_PTR = _lay("tag.mask"), _lay("tag.ptr")
NIL, UNIT = _lay("nil"), _lay("unit")
FIX_MIN, FIX_MAX = _lay("fix.min"), _lay("fix.max")
TYPES = {name: _lay(f"type.{name}")
         for name in ("cons", "susp", "closure", "boxint", "float", "error", "form")}

# ---- heap objects: Note [Heap object layout]; indices of payload words ----
SUSP_STATE, SUSP_CODE = _lay("susp.state"), _lay("susp.code")
SUSP_VALUE, SUSP_ENV = _lay("susp.value"), _lay("susp.env")
SUSP_EVALUATED = _lay("susp.evaluated")
SUSP_AUX_NF = _lay("susp.aux_nf")     # a `#E` suspension: Note [Deep forcing] in rt_prims.c
CLOSURE_CODE, CLOSURE_FREE = _lay("closure.code"), _lay("closure.free")
CONS_HEAD, CONS_TAIL = 0, 1

# ---- the worker: Note [Worker fields] ----
WORKER_FIELDS = {
    "hp": "ptr", "limit": "ptr", "sp": "ptr", "sp_limit": "ptr", "interrupt": "i32",
    "ctx": "ptr", "stack_limit": "i64", "spark_wanted": "i32", "fx_off": "i32",
    "susps": "i64", "fx_giveups": "i64",
}
W_OFFSET = {name: _lay(f"worker.{name}") for name in WORKER_FIELDS}
W_HP, W_LIMIT, W_SP = W_OFFSET["hp"], W_OFFSET["limit"], W_OFFSET["sp"]
W_SP_LIMIT, W_INTERRUPT, W_CTX = W_OFFSET["sp_limit"], W_OFFSET["interrupt"], W_OFFSET["ctx"]
W_STACK_LIMIT = W_OFFSET["stack_limit"]

ROOT_RESERVE = 4096       # root-stack words kept free below sp_limit for C callers

#: rt_step_fn: the signature of code a step runs, rt_val fn(rt_worker *, rt_val)
STEP_FN = ir.FunctionType(I64, [PTR, I64])


def header(type_name: str, size: int, nraw: int = 0, aux: int = 0) -> int:
    """An object header word (Note [Heap object layout])."""
    return (size << 32) | (nraw << 16) | (aux << 8) | (TYPES[type_name] << 1) | 1


def header_byte(type_name: str) -> int:
    """The low byte of every header of that type: (type << 1) | 1."""
    return (TYPES[type_name] << 1) | 1


def fix(i: int) -> int:
    """A small integer's word (Note [Value tags])."""
    return ((i << 1) | 1) & (2**64 - 1)


def signed(v: int) -> int:
    """A word as LLVM's i64 constants are written (signed)."""
    v &= 2**64 - 1
    return v - 2**64 if v >= 2**63 else v


def word(v: int) -> ir.Constant:
    """An i64 constant for a word given as unsigned or signed."""
    return ir.Constant(I64, signed(v))


# ---- primitives: numbered by the runtime's table, matched by name ----
_PRIM_INDEX: dict[str, int] | None = None


def prim_table() -> dict[str, int]:
    """{name: index} of the runtime's primitive table (rt_prim_name), checked name by
    name against the primitives the front end knows (frontend/primitives.py)."""
    global _PRIM_INDEX
    if _PRIM_INDEX is None:
        from ..frontend.primitives import PRIMITIVES
        lib = native.load()
        table = {}
        for i in range(lib.rt_prim_count()):
            table[lib.rt_prim_name(i).decode()] = i
        missing = sorted(PRIMITIVES - table.keys())
        extra = sorted(table.keys() - PRIMITIVES)
        if missing or extra:
            raise native.RuntimeLayoutError(
                "the runtime's primitives differ from the front end's: "
                + "; ".join(filter(None, [
                    f"not in the runtime: {' '.join(missing)}" if missing else "",
                    f"not in the front end: {' '.join(extra)}" if extra else ""])))
        _PRIM_INDEX = table
    return _PRIM_INDEX


def prim_index(name: str) -> int:
    return prim_table()[name]


def prim_word(name: str) -> int:
    """A primitive's value (Note [Value tags]: its number shifted left 3, tag 100)."""
    return (prim_index(name) << 3) | _lay("tag.prim")


#: The runtime functions generated code calls: C name -> (result, parameters), in
#: LLVM types; "w" is the worker pointer and "ctx" its context, which the emitter
#: supplies, so LIR calls list only the other arguments.
RUNTIME = {
    "rt_reserve_slow": ("ptr", ["w", "i64"]),
    "rt_safepoint_slow": ("void", ["w"]),
    "rt_force_slow": ("i64", ["w", "i64"]),
    "rt_apply": ("i64", ["w", "i64", "i64", "i64", "i64"]),   # the code signature
    "rt_prim_call": ("i64", ["w", "i32", "i64"]),
    "rt_prim_whnf": ("i64", ["w", "i32", "i64"]),
    "rt_prim_list": ("i64", ["w", "i32", "i32", "i64", "i64", "i64"]),
    "rt_select": ("i64", ["w", "i64", "i32"]),
    "rt_deep_force": ("i64", ["w", "i64"]),
    "rt_spark": ("void", ["w", "i64"]),
    "rt_cons": ("i64", ["w", "i64", "i64"]),
    "rt_whnf": ("i64", ["w", "i64"]),
    "rt_cons_set_tail": ("void", ["w", "i64", "i64"]),
    "rt_stack_exhausted": ("i64", ["w"]),
    "rt_error_new": ("i64", ["w", "ptr"]),
    "rt_global_new": ("i32", ["ctx", "i64"]),
    "rt_global_get": ("i64", ["ctx", "i32"]),
    "rt_global_set": ("void", ["ctx", "i32", "i64"]),
    "rt_atom": ("i64", ["ctx", "ptr", "i64"]),
    "rt_toplevel_define": ("void", ["ctx", "i64", "i32"]),
    "rt_toplevel_lookup": ("i64", ["w", "i64"]),
    "rt_code_name_set": ("void", ["ctx", "ptr", "i64"]),
    "rt_prims_register_names": ("void", ["ctx"]),
    "rt_stdin_stream": ("i64", ["w"]),
    "rt_form_codes_forget": ("void", ["ctx"]),
    "rt_form_build": ("i64", ["w", "ptr", "i64", "i32", "ptr"]),
    "rt_closure_new": ("i64", ["w", "ptr", "i32", "i32", "ptr"]),
    "rt_susp_new_uncounted": ("i64", ["w", "ptr", "i32", "ptr"]),
}


class Runtime:
    """llvmlite-builder versions of the runtime's inline fast paths (for the ABI's own
    tests; the compiler writes these as text in jit/emit.py). Entry points are
    declared in one module on first use, by their C names: `rt.rt_force_slow`."""

    def __init__(self, module: ir.Module):
        self.module = module
        self._fns: dict[str, ir.Function] = {}

    _TYPES = {"ptr": PTR, "w": PTR, "ctx": PTR, "i64": I64, "i32": I32, "void": VOID}

    def __getattr__(self, name: str) -> ir.Function:
        if name.startswith("_") or name not in RUNTIME:
            raise AttributeError(name)
        fn = self._fns.get(name)
        if fn is None:
            ret, args = RUNTIME[name]
            fn = ir.Function(self.module, ir.FunctionType(
                self._TYPES[ret], [self._TYPES[a] for a in args]), name)
            fn.attributes.add("nounwind")
            self._fns[name] = fn
        return fn

    @staticmethod
    def field(b: ir.IRBuilder, w, offset: int):
        return b.gep(w, [ir.Constant(I64, offset)], source_etype=I8)

    def reserve(self, b: ir.IRBuilder, w, nbytes: int) -> None:
        """Make [hp, hp + nbytes) free; the slow path is a safepoint (Note [Reserve])."""
        hp = b.load(self.field(b, w, W_HP), typ=PTR)
        limit = b.load(self.field(b, w, W_LIMIT), typ=PTR)
        room = b.sub(b.ptrtoint(limit, I64), b.ptrtoint(hp, I64))
        short = b.icmp_unsigned("<", room, ir.Constant(I64, nbytes))
        with b.if_then(short, likely=False):
            b.call(self.rt_reserve_slow, [w, ir.Constant(I64, nbytes)])

    def alloc_nogc(self, b: ir.IRBuilder, w, hdr: int, size: int):
        """Bump-allocate an object of `size` payload words after a reserve; returns its
        address (a ptr) with the header written."""
        slot = self.field(b, w, W_HP)
        hp = b.load(slot, typ=PTR)
        b.store(ir.Constant(I64, hdr), hp)
        b.store(b.gep(hp, [ir.Constant(I64, 8 * (1 + size))], source_etype=I8), slot)
        return hp

    @staticmethod
    def store_field(b: ir.IRBuilder, obj, index: int, value) -> None:
        b.store(value, b.gep(obj, [ir.Constant(I64, 8 * (1 + index))], source_etype=I8))

    def push_root(self, b: ir.IRBuilder, w, value) -> None:
        """Push on the root stack (Note [Roots]), growing it if full."""
        sp_slot = self.field(b, w, W_SP)
        sp = b.load(sp_slot, typ=PTR)
        limit = b.load(self.field(b, w, W_SP_LIMIT), typ=PTR)
        full = b.icmp_unsigned(">=", b.ptrtoint(sp, I64), b.ptrtoint(limit, I64))
        with b.if_then(full, likely=False):
            b.call(ir.Function(self.module, ir.FunctionType(VOID, [PTR]),
                               "rt_roots_overflow_slow")
                   if "rt_roots_overflow_slow" not in self.module.globals
                   else self.module.get_global("rt_roots_overflow_slow"), [w])
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

    def poll(self, b: ir.IRBuilder, w) -> None:
        """The safepoint poll (Note [Safepoints])."""
        flag = b.load_atomic(self.field(b, w, W_INTERRUPT), "monotonic", 4, typ=I32)
        raised = b.icmp_unsigned("!=", flag, ir.Constant(I32, 0))
        with b.if_then(raised, likely=False):
            b.call(self.rt_safepoint_slow, [w])
