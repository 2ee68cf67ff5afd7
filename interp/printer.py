"""Printed forms (LANGUAGE.md section 7) as a stream of tokens, and how tokens are spelled.

Printing is split in two so that `daisy run`'s printer and the stream stages
`prsos` (values to tokens) and `scnos` (tokens to characters) are one mechanism:

  tokens_of(v)  a coroutine that yields, in order, each token of v's printed form; when
                it needs a suspension's value it yields the Thunk and is sent the value.
                It keeps its own stack, so arbitrarily deep or long values print
                without recursion, and infinite ones print progressively.
  spell(prev, tok)  the text of tok, preceded by a space when the spacing rule says so.

Tokens are numbers, atoms, and `Token` values (values.py). Spacing classes:
open `[ (`, close `] )`, prefix `\\ ^ @ $ #`, colon, dot, bang, eq, word (numbers,
atoms, strings, printed text), newline. A space separates a word or close from a
following word, open or prefix; follows every dot; surrounds every bang and eq.
"""
from __future__ import annotations

import math

from .values import (NIL, Apl, AnnForm, Atom, Closure, Cons, DefForm, Error, FnForm, Prim,
                     Thunk, Token, Unit)

LBRACK = Token("[", "open")
RBRACK = Token("]", "close")
LPAREN = Token("(", "open")
RPAREN = Token(")", "close")
BANG = Token("!", "bang")
COLON = Token(":", "colon")
DOT = Token(".", "dot")
EQ = Token("=", "eq")
BACKSLASH = Token("\\", "prefix")
NEWLINE = Token("\n", "newline")
PREFIXES = {op: Token(op, "prefix") for op in "@$#^"}
PUNCT = {t.text: t for t in [LBRACK, RBRACK, LPAREN, RPAREN, BANG, COLON, DOT, EQ, BACKSLASH,
                             *PREFIXES.values()]}


def format_number(v) -> str:
    if type(v) is int:
        return str(v)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return "%e" % v


def quote_string(name: str) -> str:
    return '"' + name.replace("`", "``").replace('"', '`"').replace("\n", "`n").replace("\t", "`t") + '"'


def atom_text(a: Atom) -> str:
    return a.name if a.is_ident else quote_string(a.name)


def word_class(tok) -> str:
    return tok.kind if type(tok) is Token else "word"


def token_text(tok) -> str:
    t = type(tok)
    if t is Token:
        return tok.text
    if t is Atom:
        return atom_text(tok)
    return format_number(tok)


_SPACE_BEFORE = {"word", "open", "prefix"}


def needs_space(prev_kind: str | None, kind: str) -> bool:
    if prev_kind is None or prev_kind == "newline" or kind == "newline":
        return False
    if prev_kind in ("bang", "eq", "dot") or kind in ("bang", "eq"):
        return True
    return prev_kind in ("word", "close") and kind in _SPACE_BEFORE


def spell(prev_kind: str | None, tok) -> str:
    text = token_text(tok)
    return " " + text if needs_space(prev_kind, word_class(tok)) else text


def text_token(text: str) -> Token:
    return Token(text, "word")


def function_text(v) -> str:
    name = v.lam.name if type(v) is Closure else v.name
    return f"<function {name}>" if name else "<function>"


# Markers on the printer's own stack, distinct from any value.
class _ListRest:
    __slots__ = ("cell",)

    def __init__(self, cell):
        self.cell = cell


def _needs_parens_as_fn(form) -> bool:
    return type(form) in (Apl, FnForm, AnnForm, DefForm)


def tokens_of(value, top: bool = False):
    """Coroutine: the tokens of value's printed form (see the module docstring).
    With top=True a Unit prints nothing at all (the top-level rule for `screen:`)."""
    stack = [value]
    while stack:
        x = stack.pop()
        t = type(x)
        if t is Thunk:
            x = yield x
            t = type(x)
        if t is Token:               # punctuation pushed by this printer
            yield x
        elif t is int or t is float or t is Atom:
            if t is Atom and not x.is_ident:
                yield Token(quote_string(x.name), "word", x)
            else:
                yield x
        elif t is Cons:
            yield LBRACK
            stack.append(_ListRest(x))
            stack.append(x.head)
        elif t is _ListRest:
            tail = x.cell.tail
            if type(tail) is Thunk:
                tail = yield tail
            if tail is NIL:
                yield RBRACK
            elif type(tail) is Cons:
                stack.append(_ListRest(tail))
                stack.append(tail.head)
            else:
                yield BANG
                stack.append(RBRACK)
                stack.append(tail)
        elif x is NIL:
            yield LBRACK
            yield RBRACK
        elif t is Error:
            yield text_token(f"<error: {x.msg}>")
        elif t is Closure or t is Prim:
            yield text_token(function_text(x))
        elif t is Unit:
            if not (top and x is value):
                yield text_token(x.text)
        elif t is Apl:
            stack.append(x.arg)
            stack.append(COLON)
            if _needs_parens_as_fn(x.fn):
                stack += [RPAREN, x.fn, LPAREN]
            else:
                stack.append(x.fn)
        elif t is FnForm:
            stack += [x.body, DOT, x.param, BACKSLASH]
        elif t is AnnForm:
            stack += [x.form, PREFIXES[x.op]]
        elif t is DefForm:
            stack += [x.form, EQ, Atom(x.name)]
        else:
            yield text_token(f"<{type(x).__name__}>")


def plain_text(value) -> str:
    """The printed form of a value with no suspensions in it (tests, error messages)."""
    out = []
    prev = None
    gen = tokens_of(value)
    for tok in gen:
        if type(tok) is Thunk:
            raise ValueError("plain_text: value contains a suspension")
        out.append(spell(prev, tok))
        prev = word_class(tok)
    return "".join(out)
