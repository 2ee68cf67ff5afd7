"""Devices and stream stages (LANGUAGE.md section 6; docs/language.md, streams).

The top level is the stream program `screen: scnos: prsos: evlst: prsis: scnis:
console: "&"`: demand starts at `screen` and ripples back to `console`. Every stage
here is lazy in both directions: it produces a cell only when that cell is demanded,
and demands only as much input as that cell needs. A line typed at the console is
therefore scanned, parsed, evaluated and printed before the next line is read.

Characters are one-character atoms. Tokens are numbers, atoms (identifiers) and Token
values (printer.py); `scnis` tokenises with the same lexer as the file parser, one line
at a time, and `prsis` parses with the same LALR parser, fed token by token.
"""
from __future__ import annotations

from lark import Token as LarkToken
from lark.exceptions import UnexpectedInput

from ..frontend import parse as P
from ..frontend.diagnostics import SourceError
from .eval import describe
from .forms import form_of_syntax
from .prims import PRIMS, force, not_a_list
from .printer import NEWLINE, PREFIXES, PUNCT, format_number, quote_string, spell, text_token, tokens_of, word_class
from .values import NIL, SCREEN_DONE, Atom, Cons, Error, Native, Prim, Thunk, Token, Unit

NL = Atom("\n")


# --- console and stdin ----------------------------------------------------------------

class LineSource:
    """One line at a time from the interpreter's input (see interpreter.Input)."""

    def __init__(self, m, prompt: str | None):
        self.m = m
        self.prompt = prompt
        self.chars: list[str] = []
        self.pos = 0
        self.eof = False


def _chars_gen(m, src: LineSource):
    if src.pos >= len(src.chars):
        if src.eof:
            return NIL
        line = m.input.readline(src.prompt)
        if line is None:
            src.eof = True
            return NIL
        src.chars, src.pos = list(line), 0
        if not src.chars:
            return NIL
    ch = src.chars[src.pos]
    src.pos += 1
    return Cons(Atom(ch), Thunk(CHARS_NEXT, src))
    yield  # a generator, like every Native


CHARS_NEXT = Native(_chars_gen, "console")


def _console(m, prompt):
    text = prompt.name if type(prompt) is Atom else format_number(prompt) if type(prompt) in (int, float) else "&"
    return _chars_gen(m, LineSource(m, text))


PRIMS["console"] = Prim("console", _console, strict=True)


def stdin_stream(m):
    """The value of the predefined name `stdin`: one shared lazy stream."""
    return Thunk(CHARS_NEXT, LineSource(m, None))


# --- screen -------------------------------------------------------------------------

def text_of(m, v):
    """Generator: the printed text of value v (forcing what printing forces)."""
    out = []
    prev = None
    co = tokens_of(v)
    sent = None
    while True:
        try:
            tok = co.send(sent)
        except StopIteration:
            return "".join(out)
        if type(tok) is Thunk:
            sent = yield tok
            continue
        sent = None
        out.append(spell(prev, tok))
        prev = word_class(tok)


def _screen(m, s):
    lst = yield from force(s)
    out = m.output
    if type(lst) is Atom:          # a string is written whole, as its characters would be
        out.write(lst.name)
        out.flush()
        return SCREEN_DONE
    while type(lst) is Cons:
        v = yield from force(lst.head)
        if type(v) is Atom:
            out.write(v.name)
        elif type(v) is Token:
            out.write(v.text)
        else:
            out.write((yield text_of(m, v)))
        lst = yield from force(lst.tail)
    out.flush()
    if lst is not NIL:
        return not_a_list("screen", lst)
    return SCREEN_DONE


PRIMS["screen"] = Prim("screen", _screen)


# --- scnis: characters to tokens -------------------------------------------------------

class _Scan:
    def __init__(self, chars):
        self.chars = chars
        self.pending: list = []


def lex_line(line: str) -> list:
    """Daisy tokens of one line of text (no newline mark)."""
    out = []
    try:
        for tok in P.lexer().lex(line):
            out.append(_daisy_token(tok))
    except UnexpectedInput as e:
        err = P.source_error(line, e)
        out.append(Error(f"syntax error at column {err.pos.col}: {err.diagnostic.message}"))
    return out


def _daisy_token(tok):
    try:
        if tok.type in ("INT", "FLOAT"):
            return P.number_value(tok)
        if tok.type == "IDENT":
            return Atom(tok.value)
        if tok.type == "STRING":
            return Token(tok.value, "word", Atom(P.decode_string(tok)))
        if tok.type == "PREFIX":
            return PREFIXES[tok.value]
        return PUNCT[tok.value]
    except SourceError as e:
        return Error(f"syntax error at column {tok.column}: {e.diagnostic.message}")


def _scan_gen(m, st: _Scan):
    if not st.pending:
        text = []
        lst = yield from force(st.chars)
        while type(lst) is Cons:
            c = yield from force(lst.head)
            if c is NL:
                st.chars = lst.tail
                break
            text.append(c.name if type(c) is Atom else str(c))
            lst = yield from force(lst.tail)
        else:
            st.chars = NIL
            if not text:
                return NIL if lst is NIL else not_a_list("scnis", lst)
        st.pending = lex_line("".join(text)) + [NEWLINE]
    tok = st.pending.pop(0)
    return Cons(tok, Thunk(SCAN_NEXT, st))


SCAN_NEXT = Native(_scan_gen, "scnis")
PRIMS["scnis"] = Prim("scnis", lambda m, chars: _scan_gen(m, _Scan(chars)))


# --- prsis: tokens to forms --------------------------------------------------------

LARK_TYPES = {"[": "LSQB", "]": "RSQB", "(": "LPAR", ")": "RPAR", ":": "COLON", ".": "DOT",
              "!": "BANG", "=": "EQUAL", "\\": "BACKSLASH"}


class _Parse:
    def __init__(self, tokens):
        self.tokens = tokens
        self.line = 0


def _lark_token(t, line, col):
    ty = type(t)
    if ty is int:
        return LarkToken("INT", str(t), 0, line, col)
    if ty is float:
        return LarkToken("FLOAT", repr(t), 0, line, col)
    if ty is Atom:
        if t.is_ident:
            return LarkToken("IDENT", t.name, 0, line, col)
        return LarkToken("STRING", quote_string(t.name), 0, line, col)
    if ty is Token:
        if t.value is not None:
            return LarkToken("STRING", t.text, 0, line, col)
        if t.text in PREFIXES:
            return LarkToken("PREFIX", t.text, 0, line, col)
        if t.text in LARK_TYPES:
            return LarkToken(LARK_TYPES[t.text], t.text, 0, line, col)
    return None


def _spelled(tokens) -> str:
    out, prev = [], None
    for t in tokens:
        out.append(spell(prev, t))
        prev = word_class(t)
    return "".join(out)


def _parse_gen(m, st: _Parse):
    parser = None
    fed = []              # the tokens of this command so far
    first_line = None     # the line it began on
    while True:
        lst = yield from force(st.tokens)
        if type(lst) is not Cons:
            if fed:
                return Cons(Error(f"syntax error: the input ends inside the command begun on "
                                  f"line {first_line}"), NIL)
            return NIL if lst is NIL else not_a_list("prsis", lst)
        tok = yield from force(lst.head)
        st.tokens = lst.tail
        if tok is NEWLINE:
            st.line += 1
            if fed and "$END" in parser.accepts():
                try:
                    form = form_of_syntax(parser.feed_eof(), literal_strings=True)
                except SourceError as e:
                    form = Error(f"syntax error on line {st.line}: {e.diagnostic.message}")
                return Cons(form, Thunk(PARSE_NEXT, st))
            continue
        problem = None
        if type(tok) is Error:
            problem = tok
        else:
            lt = _lark_token(tok, st.line + 1, len(fed) + 1)
            if lt is None:
                problem = Error(f"syntax error on line {st.line + 1}: {describe(tok)} is not a token")
            else:
                if parser is None:
                    parser = P.lexer().parse_interactive(start="command_stream")
                    first_line = st.line + 1
                try:
                    parser.feed_token(lt)
                    fed.append(tok)
                    continue
                except UnexpectedInput:
                    # stream tokens carry no columns (a number token is just the number),
                    # so say what came before the bad token instead
                    before = f" after {_spelled(fed[-8:])}" if fed else ""
                    problem = Error(f"syntax error on line {st.line + 1}: unexpected "
                                    f"'{lt.value}'{before}")
        # skip the rest of the line, then hand the error on as the form
        while True:
            lst = yield from force(st.tokens)
            if type(lst) is not Cons:
                break
            t = yield from force(lst.head)
            st.tokens = lst.tail
            if t is NEWLINE:
                st.line += 1
                break
        return Cons(problem, Thunk(PARSE_NEXT, st))


PARSE_NEXT = Native(_parse_gen, "prsis")
PRIMS["prsis"] = Prim("prsis", lambda m, toks: _parse_gen(m, _Parse(toks)))


# --- prsos: values to tokens ---------------------------------------------------------

class _Print:
    def __init__(self, values):
        self.values = values
        self.co = None
        self.sent = None
        self.newline = True


def _print_gen(m, st: _Print):
    while True:
        if st.co is None:
            lst = yield from force(st.values)
            if type(lst) is not Cons:
                return NIL if lst is NIL else Cons(text_token(f"<error: prsos expects a list>"), NIL)
            v = yield from force(lst.head)
            st.values = lst.tail
            st.co = tokens_of(v, top=True)
            st.sent = None
            st.newline = type(v) is not Unit
        try:
            tok = st.co.send(st.sent)
        except StopIteration:
            st.co = None
            if st.newline:
                return Cons(NEWLINE, Thunk(PRINT_NEXT, st))
            continue
        if type(tok) is Thunk:
            st.sent = yield tok
            continue
        st.sent = None
        return Cons(tok, Thunk(PRINT_NEXT, st))


PRINT_NEXT = Native(_print_gen, "prsos")
PRIMS["prsos"] = Prim("prsos", lambda m, vals: _print_gen(m, _Print(vals)))


# --- scnos: tokens to characters -------------------------------------------------------

class _Spell:
    def __init__(self, tokens):
        self.tokens = tokens
        self.prev = None
        self.pending = ""
        self.pos = 0


def _spell_gen(m, st: _Spell):
    while st.pos >= len(st.pending):
        lst = yield from force(st.tokens)
        if type(lst) is not Cons:
            return NIL if lst is NIL else not_a_list("scnos", lst)
        tok = yield from force(lst.head)
        st.tokens = lst.tail
        if type(tok) in (int, float, Atom, Token):
            st.pending = spell(st.prev, tok)
            st.prev = word_class(tok)
        else:
            st.pending = yield text_of(m, tok)
            st.prev = "word"
        st.pos = 0
    ch = st.pending[st.pos]
    st.pos += 1
    return Cons(Atom(ch), Thunk(SPELL_NEXT, st))


SPELL_NEXT = Native(_spell_gen, "scnos")
PRIMS["scnos"] = Prim("scnos", lambda m, toks: _spell_gen(m, _Spell(toks)))
