"""The surface syntax tree: what the parser builds, before any meaning is assigned.

Every node carries the position where its text starts (`Pos`), so every later pass can
point at source. Special forms (`let rec fix if`) are *not* recognised here: `let:[...]`
is an ordinary `Apply` whose function is the name `let`. The desugar pass gives them
their meaning (see desugar.py); quotation (`^E`) keeps the surface tree of E as data.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Pos:
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.line}:{self.col}"


NOPOS = Pos(0, 0)


@dataclass(slots=True, eq=False)
class Node:
    pos: Pos = field(default=NOPOS, kw_only=True, compare=False, repr=False)


# --- expressions -------------------------------------------------------------------

@dataclass(slots=True, eq=False)
class Num(Node):
    value: int | float


@dataclass(slots=True, eq=False)
class Str(Node):
    value: str            # with escapes already decoded


@dataclass(slots=True, eq=False)
class Name(Node):
    name: str


@dataclass(slots=True, eq=False)
class ListExpr(Node):
    items: list[Node]
    tail: Node | None     # the expression after `!`, if any


@dataclass(slots=True, eq=False)
class Apply(Node):
    fn: Node
    arg: Node


@dataclass(slots=True, eq=False)
class Lambda(Node):
    param: Node           # a pattern: PName or PList
    body: Node


@dataclass(slots=True, eq=False)
class Prefixed(Node):
    op: str               # one of @ $ # ^
    expr: Node


# --- patterns ----------------------------------------------------------------------

@dataclass(slots=True, eq=False)
class PName(Node):
    name: str


@dataclass(slots=True, eq=False)
class PList(Node):
    items: list[Node]
    rest: Node | None


# --- commands ----------------------------------------------------------------------

@dataclass(slots=True, eq=False)
class Define(Node):
    name: str
    expr: Node


@dataclass(slots=True, eq=False)
class Program(Node):
    commands: list[Node]  # Define or an expression


def same(a: Node | None, b: Node | None) -> bool:
    """Structural equality, ignoring positions (used by tests and the REPL)."""
    if type(a) is not type(b):
        return False
    if a is None:
        return True
    for name in a.__slots__:
        x, y = getattr(a, name), getattr(b, name)
        if isinstance(x, list):
            if len(x) != len(y):
                return False
            for p, q in zip(x, y):     # a loop, not all(...): no recursion through C
                if not same(p, q):
                    return False
        elif isinstance(x, Node) or x is None:
            if not same(x, y):
                return False
        elif isinstance(x, float) and isinstance(y, float) and x != x and y != y:
            continue
        elif type(x) is not type(y) or x != y:
            return False
    return True
