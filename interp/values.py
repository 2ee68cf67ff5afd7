"""The value kinds of the reference interpreter (LANGUAGE.md section 3).

Integers and floats are Python `int` and `float` (integers kept within 64 bits by every
operation that makes one); everything else is one of the classes below. A field of a
cons cell, a frame slot or a global may hold a `Thunk` (a suspension) instead of a value;
evaluation never returns a Thunk except in `$`'s shallow mode (eval.py).

Note [Suspension states]
~~~~~~~~~~~~~~~~~~~~~~~~
A Thunk is in one of three states, read off its fields:
  unevaluated   value is UNSET, owner is None; code/env say what to compute
  claimed       value is UNSET, owner is the green thread evaluating it (machine.py);
                a second demand from the same thread is the error `cycle`, a demand from
                another thread waits for it
  evaluated     value is set; code and env are dropped so what they held can be freed
A claim is released without a value only when its thread is abandoned (`any?`); the
thunk is then unevaluated again, code and env intact. The native runtime (issue 3)
keeps the same three states in its suspension header.
"""
from __future__ import annotations

import re

UNSET = object()   # a Thunk's value before it has one

IDENT_RE = re.compile(r"[A-Za-z%][A-Za-z0-9?\-_*+/<>']*\Z")


class Atom:
    """An interned atom: an identifier or a string. Compare atoms with `is`."""
    __slots__ = ("name", "is_ident", "__weakref__")
    _table: dict[str, "Atom"] = {}

    def __new__(cls, name: str):
        a = cls._table.get(name)
        if a is None:
            a = object.__new__(cls)
            a.name = name
            a.is_ident = IDENT_RE.match(name) is not None
            cls._table[name] = a
        return a

    def __repr__(self):
        return f"Atom({self.name!r})"


atom = Atom
TRUE = Atom("true")


class NilType:
    __slots__ = ()

    def __repr__(self):
        return "NIL"


NIL = NilType()


class Cons:
    """A cons cell. `nf` marks a cell already forced to normal form by `#`."""
    __slots__ = ("head", "tail", "nf")

    def __init__(self, head, tail):
        self.head = head
        self.tail = tail
        self.nf = False


class Thunk:
    """A suspension; see Note [Suspension states]. `code` is a core IR expression
    (evaluated in frame `env`) or a `Native` (run as `code.fn(machine, env)`)."""
    __slots__ = ("code", "env", "value", "owner", "waiters")

    def __init__(self, code, env):
        self.code = code
        self.env = env
        self.value = UNSET
        self.owner = None
        self.waiters = None


class Native:
    """Thunk code written in Python: `fn(machine, data)` returns a generator."""
    __slots__ = ("fn", "name")

    def __init__(self, fn, name: str):
        self.fn = fn
        self.name = name


class Closure:
    __slots__ = ("lam", "env")

    def __init__(self, lam, env):
        self.lam = lam
        self.env = env


class Prim:
    """A primitive function, or a function a primitive made (`map:inc`).

    `call(machine, arg)` returns a value or a generator producing one. With `strict`,
    the evaluator forces the argument to a value first (one-operand primitives).

    Primitives over a list of numbers also describe themselves so the evaluator can
    run a `PrimCall` without building the list: `check(name, v)` says whether an operand
    is acceptable (None) or what error to answer; then either `fn2(a, b)` (exactly two
    operands) or `step(acc, v)` from `unit` (a fold: add, mpy)."""
    __slots__ = ("name", "call", "strict", "data", "check", "fn2", "step", "unit")

    def __init__(self, name, call, strict=False, data=None):
        self.name = name
        self.call = call
        self.strict = strict
        self.data = data
        self.check = self.fn2 = self.step = self.unit = None


class Error:
    __slots__ = ("msg",)

    def __init__(self, msg: str):
        self.msg = msg.replace(">", "}")   # keep `<error: ...>` one token (docs/language.md)

    def __repr__(self):
        return f"Error({self.msg!r})"


class Unit:
    """What `screen:S` returns and what a definition evaluates to at the REPL: prints
    no line at the top level, and `text` when nested in another value."""
    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text


SCREEN_DONE = Unit("<screen>")


# --- quoted forms (made by `^`, by `prsis`, read by `val`) -----------------------------

class Apl:
    """An application object `fn:arg`."""
    __slots__ = ("fn", "arg")

    def __init__(self, fn, arg):
        self.fn = fn
        self.arg = arg


class FnForm:
    """The form of a lambda `\\param. body`."""
    __slots__ = ("param", "body")

    def __init__(self, param, body):
        self.param = param
        self.body = body


class AnnForm:
    """`@E`, `$E`, `#E` or `^E` as a form (op is the prefix character)."""
    __slots__ = ("op", "form")

    def __init__(self, op, form):
        self.op = op
        self.form = form


class DefForm:
    """A top-level definition `name = form`, as `prsis` reads it at the REPL."""
    __slots__ = ("name", "form")

    def __init__(self, name, form):
        self.name = name
        self.form = form


class Token:
    """A token that is not a number or an identifier (docs/language.md, streams):
    punctuation, a string literal, the end-of-line mark, or printed text. `kind` is the
    spacing class the printer uses; `value` is the decoded atom for string literals."""
    __slots__ = ("text", "kind", "value")
    _table: dict[tuple[str, str], "Token"] = {}

    def __new__(cls, text: str, kind: str, value=None):
        key = (text, kind)
        t = cls._table.get(key) if value is None else None
        if t is None:
            t = object.__new__(cls)
            t.text, t.kind, t.value = text, kind, value
            if value is None:
                cls._table[key] = t
        return t

    def __repr__(self):
        return f"Token({self.text!r}, {self.kind})"


def is_function(v) -> bool:
    return type(v) in (Closure, Prim)


def is_number(v) -> bool:
    t = type(v)
    return t is int or t is float
