"""The reference interpreter as one object: a machine plus the top-level environment.

    interp = Interpreter(output=..., input=...)
    interp.load(module)        # install a program's definitions (lazily)
    for text in interp.print_each(module): ...   # or run_module to print to output

Top-level definitions live in `globals` by name, beside the predefined names; a
`Global` is looked up there each time it runs, which is what lets a REPL definition
replace an earlier one for everything evaluated afterwards.
"""
from __future__ import annotations

import sys

from ..frontend import core as C
from ..frontend.parse import deep_recursion
from . import streams  # noqa: F401  (registers the device primitives)
from .eval import const_value, ev
from .forms import core_of_form, form_of_syntax
from .machine import DEFAULT_MAX_DEPTH, Machine
from .prims import PRIMS
from .printer import spell, tokens_of, word_class
from .values import NIL, TRUE, UNSET, Atom, AnnForm, Apl, Closure, Cons, DefForm, Error, FnForm, Thunk, Unit


class Input:
    """Lines from standard input; prompts (with readline editing) only on a terminal."""

    def __init__(self, stream=None, output=None):
        self.stream = stream or sys.stdin
        self.output = output
        self.interactive = bool(getattr(self.stream, "isatty", lambda: False)())

    def readline(self, prompt: str | None) -> str | None:
        if self.output is not None:
            self.output.flush()
        if self.interactive and prompt is not None:
            try:
                return input(prompt) + "\n"
            except EOFError:
                return None
        line = self.stream.readline()
        return line or None


class Interpreter(Machine):
    def __init__(self, output, input=None, max_depth: int = DEFAULT_MAX_DEPTH):
        super().__init__(ev, max_depth)
        self.output = output
        self.input = input or Input(output=output)
        # every predefined name (frontend/primitives.py): what a PrimRef denotes
        self.prims: dict = dict(PRIMS)
        self.prims["true"] = TRUE
        self.prims["nil"] = NIL
        self.prims["stdin"] = streams.stdin_stream(self)
        self.globals: dict = dict(self.prims)
        self._quotes: dict = {}
        # text printed just before a long computation must not wait for the next write
        self.between_slices = output.end_line

    # hooks the evaluator uses
    def global_binding(self, name: str):
        v = self.globals.get(name)
        if v is None:
            return Error(f"unbound identifier {name}")
        return v

    def quoted(self, e: C.Quote):
        form = self._quotes.get(e)
        if form is None:
            try:
                with deep_recursion():   # the quoted text's nesting (Note [Compiling deep nesting])
                    form = self._quotes[e] = form_of_syntax(e.form)
            except RecursionError:
                return Error("quotation nested too deeply")
        return form

    # definitions
    def define(self, name: str, expr: C.Expr):
        """Bind a top-level name, lazily: its value is computed on first demand."""
        t = type(expr)
        if t is C.Lam:
            self.globals[name] = Closure(expr, None)
        elif t is C.Const:
            self.globals[name] = const_value(expr.value)
        else:
            self.globals[name] = Thunk(expr, None)

    def load(self, module: C.Module):
        for cmd in module.commands:
            if isinstance(cmd, C.Def):
                self.define(cmd.name, cmd.expr)

    # evaluation
    def evaluate(self, expr: C.Expr):
        """The value (WHNF) of a resolved top-level expression."""
        return self.run(ev(self, expr, None, False))

    def print_value_gen(self, value, out):
        """Generator: print value with `out(text)` as it is produced; returns whether
        anything was printed (a top-level Unit prints nothing)."""
        co = tokens_of(value, top=True)
        prev = None
        sent = None
        printed = False
        while True:
            try:
                tok = co.send(sent)
            except StopIteration:
                return printed
            if type(tok) is Thunk:
                sent = yield tok
                continue
            sent = None
            out(spell(prev, tok))
            prev = word_class(tok)
            printed = True

    def _print_command(self, expr):
        value = yield (expr, None, False)
        printed = yield self.print_value_gen(value, self.output.write)
        if printed:
            self.output.write("\n")
        self.output.end_line()
        return value

    def run_module(self, module: C.Module):
        """Run a program: define everything, then print each top-level expression."""
        self.load(module)
        for cmd in module.commands:
            if isinstance(cmd, C.Eval):
                self.run(self._print_command(cmd.expr))

    def text_of(self, value) -> str:
        """The printed form of value as a string (forces what printing forces)."""
        parts: list[str] = []
        self.run(self.print_value_gen(value, parts.append))
        return "".join(parts)

    # val and evlst
    def eval_form(self, q):
        """Generator: the value of form q in the top-level environment (`val`)."""
        t = type(q)
        if t is Atom:
            if not q.is_ident:
                return q
            v = self.global_binding(q.name)
            if type(v) is Thunk:
                v = v.value if v.value is not UNSET else (yield v)
            return v
        if t is Cons:
            from .prims import VAL_OF
            return Cons(Thunk(VAL_OF, q.head), Thunk(VAL_OF, q.tail))
        if t in (Apl, FnForm, AnnForm, DefForm):
            compiled = core_of_form(q)
            if isinstance(compiled, str):
                return Error(compiled)
            if isinstance(compiled, C.Def):
                self.define(compiled.name, compiled.expr)
                return Unit(f"<defined {compiled.name}>")
            return (yield (compiled, None, False))
        return q   # numbers, [], functions, errors and other values are themselves
