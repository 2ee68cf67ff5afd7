"""Pass 1, `parse`: source text to the surface tree (syntax.py), with lark LALR(1).

The grammar is grammar.lark. Lark reports failures as exceptions carrying a position;
`_source_error` turns each into one `SourceError` with a message a person can act on:
unclosed and unmatched brackets name where the bracket opened, malformed numbers and
strings say what is wrong with them, and an unexpected token says what was expected.
"""
from __future__ import annotations

import contextlib
import functools
import gc
import pathlib
import re
import sys

import lark
from lark import Transformer
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from . import syntax as S
from .diagnostics import SourceError

GRAMMAR = pathlib.Path(__file__).with_name("grammar.lark")

INT_MIN, INT_MAX = -(2**63), 2**63 - 1
ESCAPES = {'"': '"', "`": "`", "n": "\n", "t": "\t"}
RESERVED = frozenset({"let", "rec", "fix", "if"})

# How lark names the anonymous punctuation terminals, and how to say them to a person.
TERMINAL_WORDS = {
    "LSQB": "'['", "RSQB": "']'", "LPAR": "'('", "RPAR": "')'", "COLON": "':'",
    "DOT": "'.'", "BANG": "'!'", "EQUAL": "'='", "BACKSLASH": "'\\'",
    "PREFIX": "an annotation", "INT": "a number", "FLOAT": "a number",
    "STRING": "a string", "IDENT": "a name", "$END": "the end of the input",
}
OPENERS = {"[": "]", "(": ")"}


def _grammar_cache():
    """Where lark keeps its analysis of the grammar between runs (about 100 ms of a
    cold start): beside the compile cache, or lark's own temporary file; never when
    caching is off (DAISY_CACHE_DIR=off)."""
    import os
    d = os.environ.get("DAISY_CACHE_DIR")
    if d == "off":
        return False
    base = d or os.path.join(os.environ.get("XDG_CACHE_HOME")
                             or os.path.join(os.path.expanduser("~"), ".cache"), "daisy-jit")
    try:
        os.makedirs(base, exist_ok=True)
    except OSError:
        return True
    import hashlib
    digest = hashlib.sha256(GRAMMAR.read_bytes() + lark.__version__.encode()).hexdigest()[:16]
    return os.path.join(base, f"grammar-{digest}.lark-cache")


@functools.cache
def _parser() -> lark.Lark:
    # The transformer runs inside the LALR parser as each rule is reduced, so no lark
    # tree is built at all: parse() returns syntax.py nodes directly.
    return lark.Lark(
        GRAMMAR.read_text(),
        cache=_grammar_cache(),
        parser="lalr",
        lexer="contextual",
        start=["program", "command_stream"],
        maybe_placeholders=False,
        keep_all_tokens=True,
        transformer=_TRANSFORMER,
    )


def lexer() -> lark.Lark:
    """The shared parser object; its `lex` method tokenises without parsing."""
    return _parser()


def _pos(meta_or_token) -> S.Pos:
    return S.Pos(meta_or_token.line, meta_or_token.column)


def decode_string(token) -> str:
    """Strip the quotes and decode backquote escapes; reject unknown escapes."""
    body = token.value[1:-1]
    out = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "`":
            nxt = body[i + 1]
            if nxt not in ESCAPES:
                raise SourceError(
                    f"unknown escape '`{nxt}' in a string",
                    S.Pos(token.line, token.column + 1 + i),
                    "the escapes are `\" (quote), `` (backquote), `n (newline), `t (tab)",
                )
            out.append(ESCAPES[nxt])
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def number_value(token):
    text = token.value
    if token.type == "INT":
        # more than 19 significant digits is out of range; deciding that before int()
        # keeps Python's limit on converting long digit strings (4,300) out of the way
        digits = text.lstrip("-").lstrip("0") or "0"
        sign = "-" if text.startswith("-") else ""
        value = int(sign + digits) if len(digits) <= 19 else None
        if value is None or not INT_MIN <= value <= INT_MAX:
            raise SourceError(
                f"integer literal {text} is out of range",
                _pos(token),
                "integers are 64-bit: -9223372036854775808 .. 9223372036854775807; "
                "write a float (e.g. 1.0e19) for larger magnitudes",
            )
        return value
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise SourceError(f"float literal {text} is out of range", _pos(token),
                          "the largest double is about 1.8e308")
    return value


class _ToSyntax(Transformer):
    """Builds syntax.py nodes as the LALR parser reduces each rule. Punctuation tokens
    arrive too (keep_all_tokens) and give list and lambda nodes their positions."""

    def program(self, children):
        return S.Program(list(children), pos=S.Pos(1, 1))

    def command_stream(self, children):
        return children[0]

    def define(self, children):
        name, _eq, expr = children
        return S.Define(name.value, expr, pos=_pos(name))

    def apply(self, children):
        fn, _colon, arg = children
        return S.Apply(fn, arg, pos=fn.pos)

    def lambda_(self, children):
        backslash, param, _dot, body = children
        return S.Lambda(param, body, pos=_pos(backslash))

    def prefixed(self, children):
        op, expr = children
        return S.Prefixed(op.value, expr, pos=_pos(op))

    def int_(self, children):
        return S.Num(number_value(children[0]), pos=_pos(children[0]))

    float_ = int_

    def string(self, children):
        return S.Str(decode_string(children[0]), pos=_pos(children[0]))

    def name(self, children):
        return S.Name(children[0].value, pos=_pos(children[0]))

    def paren(self, children):
        return children[1]

    def list_(self, children):
        return S.ListExpr(children[1:-1], None, pos=_pos(children[0]))

    def list_tail(self, children):
        return S.ListExpr(children[1:-3], children[-2], pos=_pos(children[0]))

    def pname(self, children):
        return S.PName(children[0].value, pos=_pos(children[0]))

    def plist(self, children):
        return S.PList(children[1:-1], None, pos=_pos(children[0]))

    def plist_tail(self, children):
        return S.PList(children[1:-3], children[-2], pos=_pos(children[0]))


_TRANSFORMER = _ToSyntax()


def parse_program(text: str) -> S.Program:
    """Parse a whole program file. Raises SourceError."""
    return _run(text, "program")


def parse_command(text: str) -> S.Node:
    """Parse exactly one command (an expression or a definition)."""
    return _run(text, "command_stream")


@contextlib.contextmanager
def gc_paused():
    """The front end allocates a node or more per token and builds no cycles, so
    Python's cyclic collector would only rescan the growing trees again and again (a
    third of the parse time on a 10,000-line program). Compilation pauses it."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# Note [Compiling deep nesting]
# ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
# The passes recurse over the tree, so source nesting (brackets, `f:g:h:x` chains,
# lambda bodies) becomes Python recursion. On CPython 3.11 a Python-to-Python call
# keeps its frame on the heap, not the C stack, so a high recursion limit is safe
# as long as no recursive pass calls back into itself through a C builtin (no
# `all(genexpr)`, no `join(genexpr)`; use loops or list comprehensions). Deeper
# nesting than the limit allows is a source error, never a crash.
RECURSION_LIMIT = 200_000
NESTING_LIMIT = 40_000      # about five frames a level fit in the limit


@contextlib.contextmanager
def deep_recursion():
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, RECURSION_LIMIT))
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def _run(text: str, start: str):
    with gc_paused():
        try:
            return _parser().parse(text, start=start)
        except UnexpectedInput as e:
            raise source_error(text, e) from None


# --- turning lark's failures into messages -------------------------------------------

def _open_brackets(text: str, upto_line: int, upto_col: int) -> list[tuple[str, S.Pos]]:
    """The brackets still open just before (line, col), innermost last."""
    stack: list[tuple[str, S.Pos]] = []
    try:
        for tok in _parser().lex(text):
            if (tok.line, tok.column) >= (upto_line, upto_col):
                break
            if tok.value in OPENERS:
                stack.append((tok.value, S.Pos(tok.line, tok.column)))
            elif tok.value in (")", "]") and stack:
                stack.pop()
    except UnexpectedInput:
        pass  # the lexer stopped at the bad spot; what it saw so far is enough
    return stack


def _describe(tok) -> str:
    if tok.type == "$END":
        return "end of input"
    if tok.type in ("INT", "FLOAT"):
        return f"number {tok.value}"
    if tok.type == "IDENT":
        return f"name '{tok.value}'"
    if tok.type == "STRING":
        return f"string {tok.value}"
    return f"'{tok.value}'"


def _expected(names) -> str:
    names = set(names)
    if {"IDENT", "LSQB"} <= names and "INT" not in names:
        return "a pattern (a name or a list of patterns)"
    if {"IDENT", "INT", "LSQB"} <= names:
        return "an expression"
    words = sorted({TERMINAL_WORDS.get(n, n) for n in names})
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " or " + words[-1]


def source_error(text: str, e: UnexpectedInput) -> SourceError:
    line, col = e.line, e.column
    if isinstance(e, UnexpectedCharacters):
        ch = text[e.pos_in_stream] if e.pos_in_stream < len(text) else ""
        here = S.Pos(line, col)
        if ch == '"':
            return SourceError("unterminated string", here,
                               "a string ends with '\"' on the same line; write `\" for a quote inside it")
        after = text[e.pos_in_stream + 1:e.pos_in_stream + 2]
        if ch in DIGITS or (ch == "-" and after and after in DIGITS):   # not isdigit(): '²' is one
            return _number_here(text, e, here)
        if ch == "-":
            return SourceError("unexpected '-'", here,
                               "'-' only starts a number when a digit follows it directly (-5)")
        if ch == "`":
            return SourceError("unexpected '`'", here, "backquote escapes belong inside strings")
        if not ch:
            return SourceError("unexpected end of input", here)
        shown = repr(ch) if ch.isprintable() else f"U+{ord(ch):04X}"
        return SourceError(f"unexpected character {shown}", here)
    if isinstance(e, UnexpectedToken):
        tok = e.token
        if tok.type == "$END":
            opened = _open_brackets(text, 10**9, 0)
            if opened:
                br, where = opened[-1]
                return SourceError(f"'{br}' is never closed", where,
                                   f"the input ends before its '{OPENERS[br]}'")
            last = _last_token(text)
            here = S.Pos(last.end_line, last.end_column) if last else S.Pos(line, col)
            return SourceError("unexpected end of input", here,
                               f"expected {_expected(e.expected)} after this")
        here = S.Pos(tok.line, tok.column)
        opened = _open_brackets(text, tok.line, tok.column)
        if tok.value in (")", "]"):
            if not opened:
                return SourceError(f"unmatched '{tok.value}'", here, "nothing open here to close")
            br, where = opened[-1]
            if OPENERS[br] != tok.value:
                return SourceError(f"'{tok.value}' does not match the '{br}' opened at {where}",
                                   here, f"close it with '{OPENERS[br]}'")
        hint = None
        if opened and tok.value not in (")", "]"):
            br, where = opened[-1]
            hint = f"inside the '{br}' opened at {where}; is a '{OPENERS[br]}' missing?"
        if tok.type == "EQUAL":
            hint = "a definition 'NAME = expression' must stand at the top level" + (
                f"; the '{opened[-1][0]}' opened at {opened[-1][1]} is still open" if opened else "")
        return SourceError(f"unexpected {_describe(tok)}; expected {_expected(e.expected)}",
                           here, hint)
    return SourceError(str(e).splitlines()[0], S.Pos(line, col))


DIGITS = "0123456789"
NUMBER_RE = re.compile(r"-?[0-9]+(\.[0-9]+([eE][-+]?[0-9]+)?|[eE][-+]?[0-9]+)?")
WORD_RE = re.compile(r"-?[0-9][0-9A-Za-z_%.?'*+/<>-]*")


def _number_here(text: str, e: UnexpectedCharacters, here: S.Pos) -> SourceError:
    """A digit the lexer would not take: a malformed number, or a number out of place."""
    allowed = e.allowed or set()
    word = WORD_RE.match(text, e.pos_in_stream).group()
    if not allowed & {"INT", "FLOAT"}:
        word = word.rstrip(".")      # `\1. x`: the dot is the lambda's, the number is misplaced
    number = NUMBER_RE.match(text, e.pos_in_stream).group()
    if number != word:
        return SourceError(f"malformed number '{word}'", here,
                           "a number is digits with an optional fraction and exponent, "
                           "and must not run into a name")
    return SourceError(f"unexpected number {number}; expected {_expected(allowed)}", here)


def _last_token(text: str):
    last = None
    try:
        for tok in _parser().lex(text):
            last = tok
    except UnexpectedInput:
        pass
    return last
