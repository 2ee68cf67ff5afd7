"""Embedding daisy-jit in Python.

    import daisy.api as daisy

    daisy.run("nfib = \\\\n. ...\\nnfib:20")          # what `daisy run` prints, as text
    daisy.run(src, engine="interp")                 # the reference interpreter

    with daisy.Program(src, threads=2) as prog:     # compiled once, kept loaded
        prog.call("nfib", 25)                       # -> 121393 (a Python value)
        prog.eval("take:[3 primes]")                # -> [2, 3, 5]

Values come back as Python values: integers, floats, atoms as `Atom` (a str), lists
as lists (forced to normal form first), `[]` as an empty list, errors as `DaisyError`
instances (returned, not raised: errors are values), functions as `Function`.
Source errors raise `SourceError` (with file:line:column and a caret in its text).
"""
from __future__ import annotations

import tempfile

from .frontend.diagnostics import SourceError
from .pipeline import compile_source

__all__ = ["run", "Program", "Atom", "DaisyError", "Function", "SourceError"]


class Atom(str):
    """A Daisy atom (identifier or string)."""


class DaisyError:
    """A Daisy error value."""

    def __init__(self, message: str):
        self.message = message

    def __eq__(self, other):
        return isinstance(other, DaisyError) and other.message == self.message

    def __repr__(self):
        return f"DaisyError({self.message!r})"


class Function:
    """A Daisy function value (opaque here)."""

    def __repr__(self):
        return "<daisy function>"


def _compile(source: str, filename: str):
    try:
        return compile_source(source, filename)
    except SourceError as e:
        raise SourceError(e.render(filename, source), None) from None


def run(source: str, *, engine: str = "jit", threads: int = 0, heap: int = 0,
        opt: int | None = None, filename: str = "<input>") -> str:
    """Everything the program prints, as `daisy run` would print it."""
    if engine == "interp":
        from .interp.interpreter import Interpreter
        from .output import Capture
        state = _compile(source, filename)
        out = Capture()
        Interpreter(out).run_module(state.module)
        return out.getvalue()
    if engine != "jit":
        raise ValueError(f"no engine {engine!r} (jit or interp)")
    with Program(source, threads=threads, heap=heap, opt=opt, filename=filename) as prog:
        return prog.run()


class Program:
    """A program compiled by the JIT, with its own runtime context."""

    def __init__(self, source: str, *, threads: int = 0, heap: int = 0, opt: int | None = None,
                 filename: str = "<input>", cache=None, pin: bool = True):
        """pin=False leaves the helper threads' CPUs to the kernel, as `--no-pin`
        (docs/runtime.md, Worker placement)."""
        from .jit.program import JitProgram
        self.state = _compile(source, filename)
        self.jit = JitProgram(self.state, opt=opt, cache=cache)
        self.ctx = self.jit.context(threads, heap, no_pin=not pin)
        self.jit.initialise(self.ctx)
        self.status = None

    def run(self) -> str:
        """Evaluate and print every top-level expression; returns the text. The exit
        status (0, 3 heap exhausted, 130 interrupted) is kept in `self.status`."""
        with tempfile.TemporaryFile("w+b") as f:
            self.status = self.jit.run(self.ctx, fd=f.fileno())
            f.seek(0)
            return f.read().decode("utf-8", errors="replace")

    def eval(self, expr: str):
        """The value of a Daisy expression in this program's top-level environment,
        forced to normal form, as a Python value."""
        from .frontend.parse import parse_program
        from .frontend import syntax as S
        from .pipeline import compile_expr
        prog = parse_program(expr)
        if len(prog.commands) != 1 or isinstance(prog.commands[0], S.Define):
            raise SourceError(f"eval takes one expression, not {expr!r}", None)
        state = compile_expr(S.Prefixed("#", prog.commands[0]))
        return self._value(self.jit.evaluate(self.ctx, state))

    def call(self, name: str, *args):
        """name applied to the arguments (Python ints, floats, strs as atoms, lists)."""
        text = name + "".join(":" + _literal(a) for a in args) if len(args) <= 1 else \
            name + ":[" + " ".join(_literal(a) for a in args) + "]"
        return self.eval(text)

    def _value(self, v):
        from .jit.program import HeapReader
        from .rt import native
        return HeapReader(native.load(), self.ctx._ctx).python(v)

    def close(self):
        if self.ctx is not None:
            self.ctx.close()
            self.ctx = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _literal(a) -> str:
    if isinstance(a, bool):
        raise TypeError("Daisy has no booleans: pass 'true' or []")
    if isinstance(a, int):
        return str(a)
    if isinstance(a, float):
        return repr(a)
    if isinstance(a, str):
        return '"' + a.replace("`", "``").replace('"', '`"').replace("\n", "`n").replace("\t", "`t") + '"'
    if isinstance(a, (list, tuple)):
        return "[" + " ".join(_literal(x) for x in a) + "]"
    raise TypeError(f"cannot pass a {type(a).__name__} to Daisy")
