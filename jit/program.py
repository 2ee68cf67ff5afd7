"""Running programs on the JIT: compile (or load from the cache), then evaluate on a
runtime context.

    prog = JitProgram.from_state(state, opt=2)        # front end already run
    status = prog.run(threads=2, heap=0, fd=1)         # print every top-level value

A program is lowered to one LLVM module (jit/lower.py) whose symbols carry a prefix
derived from the source's hash, so the object the cache stores is the same however
many programs share the process. `val` of a form made at run time calls back into
Python (the context's eval hook): the form is read from the heap, compiled as a module
of its own, and run in place.
"""
from __future__ import annotations

import ctypes
import hashlib
import struct

from ..frontend import core as C
from ..rt import native
from .cache import CompileCache
from .engine import Engine

HOOK_TYPE = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_void_p, ctypes.c_uint64)


def program_prefix(source: str) -> str:
    return "d" + hashlib.sha256(source.encode()).hexdigest()[:12]


class JitProgram:
    """One compiled program in one engine."""

    def __init__(self, module: C.Module, source: str, *, opt: int = 2,
                 cache: CompileCache | None = None, engine: Engine | None = None):
        self.module = module
        self.source = source
        self.engine = engine or Engine(opt)
        self.prefix = program_prefix(source)
        self.ntoplevel = sum(1 for c in module.commands if isinstance(c, C.Eval))
        self._ir_text: str | None = None
        cache = cache if cache is not None else CompileCache()
        self.cache_hit = self.engine.add_cached(cache, source, self.ir_text, extra=self.prefix)
        self.toplevel = self.engine.address(f"{self.prefix}_toplevel")
        self._forms = 0
        self._hook = HOOK_TYPE(self._eval_hook)
        self.ctx: native.Context | None = None

    def ir_text(self) -> str:
        if self._ir_text is None:
            from .lower import lower_program      # not needed when the cache hits
            self._ir_text = str(lower_program(self.module, self.prefix).ir)
        return self._ir_text

    # ---- running ----
    def context(self, threads: int = 0, heap: int = 0, **kw) -> native.Context:
        ctx = native.Context(threads, heap, **kw)
        ctx._lib.rt_set_eval_hook(ctx._ctx, ctypes.cast(self._hook, ctypes.c_void_p))
        self.ctx = ctx
        return ctx

    def initialise(self, ctx: native.Context) -> None:
        """Install the program's definitions without evaluating anything (the
        top-level step with an index past the last expression only initialises)."""
        status, _ = ctx.step(self.toplevel, (self.ntoplevel << 1) | 1)
        if status != ctx.STEP_OK:
            raise MemoryError("heap exhausted while installing the definitions")

    def run(self, ctx: native.Context, fd: int = 1) -> int:
        """Evaluate and print every top-level expression; returns the exit status."""
        return ctx.run_toplevel(self.ntoplevel, self.toplevel, fd)

    def evaluate(self, ctx: native.Context, expr) -> int:
        """Evaluate a resolved core expression (dynamic names) as one step; returns
        the value's word, valid until the next step."""
        from .lower import lower_form_module
        self._forms += 1
        low = lower_form_module(expr, f"{self.prefix}_e{self._forms}")
        self.engine.add(str(low.ir))
        status, value = ctx.step(self.engine.address(low.entry), native.NIL)
        if status == ctx.STEP_HEAP_EXHAUSTED:
            raise MemoryError("heap exhausted")
        if status == ctx.STEP_INTERRUPTED:
            raise KeyboardInterrupt
        return value

    # ---- `val` of forms made at run time ----
    def _eval_hook(self, w, form):
        try:
            from .lower import _compile_form, lower_form_module
            lib = native.load()
            reader = HeapReader(lib, self.ctx._ctx)
            try:
                pyform = reader.form(form)
            except NotReadable as e:
                return self._error_value(w, f"val: {e}")
            compiled = _compile_form(pyform)
            if isinstance(compiled, str):
                return self._error_value(w, compiled)
            self._forms += 1
            prefix = f"{self.prefix}_v{self._forms}"
            low = lower_form_module(compiled, prefix)
            self.engine.add(str(low.ir))
            fn = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_void_p, ctypes.c_uint64,
                                  ctypes.c_uint64)(self.engine.address(low.entry))
            return fn(w, native.NIL, native.NIL)
        except Exception as e:       # never let an exception cross into C
            return self._error_value(w, f"val: internal error: {type(e).__name__}: {e}")

    @staticmethod
    def _error_value(w, msg: str) -> int:
        return native.load().rt_error_new(w, msg.replace(">", "}").encode())


class NotReadable(Exception):
    pass


class HeapReader:
    """Values in the heap as Python form values (interp/values.py), read through
    ctypes. Only while the value cannot move (inside the hook, before any allocation)."""

    def __init__(self, lib, ctx):
        self.lib = lib
        self.ctx = ctx

    def word(self, addr: int) -> int:
        return ctypes.c_uint64.from_address(addr).value

    def form(self, v: int):
        from ..interp import values as V
        if v & 1:
            n = v >> 1
            return n - (1 << 63) if n >= (1 << 62) else n
        tag = v & 7
        if tag == native.TAG_ATOM:
            size = ctypes.c_size_t(0)
            p = self.lib.rt_atom_name(self.ctx, v, ctypes.byref(size))
            return V.Atom(ctypes.string_at(p, size.value).decode("utf-8"))
        if v == native.NIL:
            return V.NIL
        if tag != native.TAG_PTR or v == 0:
            raise NotReadable(f"a {'function' if tag == native.TAG_PRIM else 'value'} is not a form")
        hdr = self.word(v)
        typ = (hdr >> 1) & 0x7F
        field = lambda i: self.word(v + 8 * (1 + i))   # noqa: E731
        T = native.TYPES
        if typ == T["susp"]:
            if field(native.SUSP_STATE) != native.SUSP_EVALUATED:
                raise NotReadable("a form still being computed")
            return self.form(field(native.SUSP_VALUE))
        if typ == T["cons"]:
            return V.Cons(self.form(field(0)), self.form(field(1)))
        if typ == T["boxint"]:
            return struct.unpack("<q", struct.pack("<Q", field(0)))[0]
        if typ == T["float"]:
            return struct.unpack("<d", struct.pack("<Q", field(0)))[0]
        if typ == T["form"]:
            kind = (hdr >> 8) & 0xFF
            if kind == 1:
                return V.Apl(self.form(field(0)), self.form(field(1)))
            if kind == 2:
                return V.FnForm(self.form(field(0)), self.form(field(1)))
            if kind == 3:
                op = self.form(field(0))
                return V.AnnForm(op.name if isinstance(op, V.Atom) else str(op), self.form(field(1)))
            if kind == 4:
                name = self.form(field(0))
                return V.DefForm(name.name, self.form(field(1)))
        raise NotReadable("a " + {T["closure"]: "function", T["error"]: "error"}.get(typ, "value")
                          + " is not a form")
