"""Running programs on the JIT: compile (or load from the cache), then evaluate on a
runtime context.

    prog = JitProgram(state, opt=1)                    # front end already run
    ctx = prog.context(threads=2)
    status = prog.run(ctx, fd=1)                       # print every top-level value

A program is compiled by the back end's passes (driver/pipeline.py) to one object file
whose symbols carry a prefix derived from the source's hash, so the object the cache
stores is the same however many programs share the process. `val` of a form made at
run time calls back into Python (the context's eval hook): the form is read from the
heap and compiled through the same passes as a module of its own (pipeline.compile_form),
whose entry the runtime then runs (rt_eval_hook_answer in
rt/rt_prims.c): no Daisy code runs inside the hook, so an unwinding step (Ctrl-C,
an allocation failure) never crosses Python's frames. A definition made this way
evaluates to a unit printed nested as `<defined NAME>`, as in the interpreter.

The top level (`daisy repl`) is `run_screen`: the character stream of the seed's
program, written to a file descriptor by the runtime's screen step.
"""
from __future__ import annotations

import ctypes
import os
import struct

from ..frontend import core as C
from ..rt import native
from .cache import CompileCache
from .engine import Engine

HOOK_TYPE = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_void_p, ctypes.c_uint64)


def program_prefix(source: str) -> str:
    from ..pipeline import program_prefix as prefix
    return prefix(source)


class JitProgram:
    """One compiled program in one engine: `state` is what the front end made of it
    (pipeline.compile_source); the back end runs unless the cache has the object, or
    already ran (state.object_code)."""

    def __init__(self, state, *, opt: int | None = None,
                 cache: CompileCache | None = None, engine: Engine | None = None):
        from ..pipeline import DEFAULT_OPT
        self.state = state
        self.module = state.module
        self.source = state.source
        self.engine = engine or Engine(DEFAULT_OPT if opt is None else opt)
        self.prefix = state.prefix
        self.ntoplevel = sum(1 for c in self.module.commands if isinstance(c, C.Eval))
        cache = cache if cache is not None else CompileCache()
        if state.object_code is not None:
            self.engine.add_object(state.object_code)
            self.cache_hit = False
        else:
            self.cache_hit = self.engine.add_cached(cache, self.source, self.object_code,
                                                    extra=self.prefix)
        self.toplevel = self.engine.address(f"{self.prefix}_toplevel")
        self._forms = 0
        self._hook = HOOK_TYPE(self._eval_hook)
        self.ctx: native.Context | None = None

    def object_code(self) -> bytes:
        """The back end's passes, for this engine's target (not needed on a cache hit)."""
        from ..pipeline import compile_backend
        if self.state.object_code is None:
            self.state.target = self.engine
            compile_backend(self.state)
        return self.state.object_code

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

    def load_form(self, state) -> int:
        """Compile one command (pipeline.compile_expr's state: dynamic names) as a
        module of its own; returns the address of its entry (code signature)."""
        from ..pipeline import compile_backend
        self._forms += 1
        state.prefix = f"{self.prefix}_f{self._forms}"
        state.target = self.engine
        compile_backend(state)
        self.engine.add_object(state.object_code)
        return self.engine.address(f"{state.prefix}_entry")

    def evaluate(self, ctx: native.Context, state) -> int:
        """Evaluate a command compiled by pipeline.compile_expr (dynamic names) as one
        step; returns the value's word, valid until the next step."""
        status, value = ctx.step(self.load_form(state), native.NIL)
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
            from ..pipeline import compile_form
            reader = HeapReader(lib, self.ctx._ctx)
            try:
                pyform = reader.form(form)
            except NotReadable as e:
                return self._error_answer(f"val: {e}")
            state = compile_form(pyform)
            if isinstance(state, str):
                return self._error_answer(state)
            lib.rt_eval_hook_answer(self.load_form(state), None)
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
