"""Running programs on the JIT: compile (or load from the cache), then evaluate on a
runtime context.

    prog = JitProgram.from_state(state, opt=2)        # front end already run
    status = prog.run(threads=2, heap=0, fd=1)         # print every top-level value

A program is lowered to one LLVM module (jit/lower.py) whose symbols carry a prefix
derived from the source's hash, so the object the cache stores is the same however
many programs share the process. `val` of a form made at run time calls back into
Python (the context's eval hook): the form is read from the heap and compiled as a
module of its own, whose entry the runtime then runs (rt_eval_hook_answer in
rt/rt_prims.c): no Daisy code runs inside the hook, so an unwinding step (Ctrl-C,
an allocation failure) never crosses Python's frames. A definition made this way
evaluates to a unit printed nested as `<defined NAME>`, as in the interpreter.

The top level (`daisy repl`) is `run_screen`: the character stream of the seed's
program, written to a file descriptor by the runtime's screen step.
"""
from __future__ import annotations

import ctypes
import os
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
        if os.environ.get("DAISY_GC_STRESS"):      # debugging: compact at every slow path
            kw.setdefault("gc_stress", True)
        ctx = native.Context(threads, heap, **kw)
        ctx._lib.rt_set_eval_hook(ctx._ctx, ctypes.cast(self._hook, ctypes.c_void_p))
        ctx._lib.rt_streams_init(ctx._ctx)     # `stdin` exists before any helper can ask
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

    def run_screen(self, ctx: native.Context, fd: int = 1) -> int:
        """Write the character stream that the program's first top-level expression
        evaluates to, as `screen:` does, to fd (rt_screen_run_fd: committing after
        every write, so output is never repeated); returns the exit status (0 when
        the stream has ended, 130 when interrupted)."""
        lib = _screen_lib()
        return lib.rt_screen_run_fd(ctx._ctx, self.toplevel, 1, fd)   # 1: the fixnum 0

    def load_form_module(self, compiled) -> int:
        """Compile one expression or definition (dynamic names) as a module of its
        own; returns the address of its entry (code signature)."""
        from .lower import lower_form_module
        self._forms += 1
        low = lower_form_module(compiled, f"{self.prefix}_f{self._forms}")
        self.engine.add(str(low.ir))
        return self.engine.address(low.entry)

    def evaluate(self, ctx: native.Context, expr) -> int:
        """Evaluate a resolved core expression (dynamic names) as one step; returns
        the value's word, valid until the next step."""
        status, value = ctx.step(self.load_form_module(expr), native.NIL)
        if status == ctx.STEP_HEAP_EXHAUSTED:
            raise MemoryError("heap exhausted")
        if status == ctx.STEP_INTERRUPTED:
            raise KeyboardInterrupt
        return value

    # ---- `val` of forms made at run time ----
    def _eval_hook(self, w, form):
        """Compile the form; the runtime runs its entry (rt_eval_hook_answer). Nothing
        here allocates in the heap or runs Daisy code."""
        lib = _screen_lib()
        try:
            from ..interp.forms import core_of_form
            reader = HeapReader(lib, self.ctx._ctx)
            try:
                pyform = reader.form(form)
            except NotReadable as e:
                return self._error_answer(f"val: {e}")
            compiled = core_of_form(pyform)
            if isinstance(compiled, str):
                return self._error_answer(compiled)
            lib.rt_eval_hook_answer(self.load_form_module(compiled), None)
            return 0
        except KeyboardInterrupt:    # a Ctrl-C that reached Python: the step unwinds
            if self.ctx is not None:
                lib.rt_request_interrupt(self.ctx._ctx)
            return self._error_answer("interrupted")
        except Exception as e:       # never let an exception cross into C
            return self._error_answer(f"val: internal error: {type(e).__name__}: {e}")

    @staticmethod
    def _error_answer(msg: str) -> int:
        _screen_lib().rt_eval_hook_answer(None, msg.encode())
        return 0


_DECLARED = False


def _screen_lib():
    """The runtime, with the functions this module adds to rt/native.py's table."""
    global _DECLARED
    lib = native.load()
    if not _DECLARED:
        lib.rt_eval_hook_answer.restype = None
        lib.rt_eval_hook_answer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        lib.rt_screen_run_fd.restype = ctypes.c_int
        lib.rt_screen_run_fd.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint64,
                                         ctypes.c_int]
        lib.rt_set_line_hook.restype = None
        lib.rt_set_line_hook.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        _DECLARED = True
    return lib


class NotReadable(Exception):
    pass


class HeapReader:
    """Values in the heap read through ctypes, for the `val` hook (as form values of
    interp/values.py) and the embedding API (as Python values). Only while nothing
    can move them: inside the hook before any allocation, or between steps."""

    def __init__(self, lib, ctx):
        self.lib = lib
        self.ctx = ctx

    @staticmethod
    def word(addr: int) -> int:
        return ctypes.c_uint64.from_address(addr).value

    def atom_name(self, v: int) -> str:
        size = ctypes.c_size_t(0)
        p = self.lib.rt_atom_name(self.ctx, v, ctypes.byref(size))
        return ctypes.string_at(p, size.value).decode("utf-8")

    def decode(self, v: int) -> tuple:
        """(kind, *payload), looking through evaluated suspensions. Kinds: int, float,
        atom, nil, prim, cons (head, tail), form (form kind, fields), error (text),
        closure, pending (an unevaluated suspension), other."""
        T = native.TYPES
        while True:
            if v & 1:
                n = v >> 1
                return ("int", n - (1 << 63) if n >= (1 << 62) else n)
            tag = v & 7
            if tag == native.TAG_ATOM:
                return ("atom", self.atom_name(v))
            if v == native.NIL:
                return ("nil",)
            if tag == native.TAG_PRIM:
                return ("prim",)
            if tag != native.TAG_PTR or v == 0:
                return ("other",)
            hdr = self.word(v)
            typ = (hdr >> 1) & 0x7F
            field = lambda i: self.word(v + 8 * (1 + i))   # noqa: E731
            if typ != T["susp"]:
                break
            if field(native.SUSP_STATE) != native.SUSP_EVALUATED:
                return ("pending",)
            v = field(native.SUSP_VALUE)
        if typ == T["cons"]:
            return ("cons", field(0), field(1))
        if typ == T["boxint"]:
            return ("int", struct.unpack("<q", struct.pack("<Q", field(0)))[0])
        if typ == T["float"]:
            return ("float", struct.unpack("<d", struct.pack("<Q", field(0)))[0])
        if typ == T["form"]:
            return ("form", (hdr >> 8) & 0xFF, [field(i) for i in range(hdr >> 32)])
        if typ == T["error"]:
            return ("error", self.atom_name(field(0)))
        if typ == T["closure"]:
            return ("closure",)
        return ("other",)

    def form(self, v: int):
        """The form value of interp/values.py that `val` compiles."""
        from ..interp import values as V
        d = self.decode(v)
        items = []
        while d[0] == "cons":                      # long lists without recursion
            items.append(self.form(d[1]))
            d = self.decode(d[2])
        kind = d[0]
        if kind in ("int", "float"):
            r = d[1]
        elif kind == "atom":
            r = V.Atom(d[1])
        elif kind == "nil":
            r = V.NIL
        elif kind == "pending":
            raise NotReadable("a form still being computed")
        elif kind == "form" and 1 <= d[1] <= 4:
            f = d[2]
            if d[1] == 1:
                r = V.Apl(self.form(f[0]), self.form(f[1]))
            elif d[1] == 2:
                r = V.FnForm(self.form(f[0]), self.form(f[1]))
            elif d[1] == 3:
                op = self.form(f[0])
                r = V.AnnForm(op.name if isinstance(op, V.Atom) else str(op), self.form(f[1]))
            else:
                r = V.DefForm(self.form(f[0]).name, self.form(f[1]))
        else:
            what = {"prim": "function", "closure": "function", "error": "error"}.get(kind, "value")
            raise NotReadable(f"a {what} is not a form")
        for x in reversed(items):
            r = V.Cons(x, r)
        return r

    def python(self, v: int):
        """The embedding API's Python value (see daisy.api)."""
        from ..api import Atom, DaisyError, Function
        d = self.decode(v)
        kind = d[0]
        if kind in ("int", "float"):
            return d[1]
        if kind == "atom":
            return Atom(d[1])
        if kind == "nil":
            return []
        if kind == "cons":
            out = []
            while d[0] == "cons":
                out.append(self.python(d[1]))
                d = self.decode(d[2])
            return out
        if kind == "error":
            return DaisyError(d[1])
        if kind in ("prim", "closure"):
            return Function()
        return None
