"""Source errors: every malformed program is reported, never crashed on.

LANGUAGE.md sections 1-2 and docs/language.md sections 1-2 say what a well-formed
program is; this file pins how `daisy run` reports one that is not. For each program:

    * the exit status is 2 and nothing is written to standard output;
    * stderr's first line is `FILE:LINE:COL: error: MESSAGE`;
    * the next line is the offending source line, indented four spaces, and the line
      after it has a `^` exactly under column COL (tabs in the source line are kept,
      so the caret lines up however the terminal expands them);
    * no Python traceback appears.

Every expected LINE:COL below was counted by hand from the program text (1-based
columns counting characters), not recorded from the implementation.

The subprocess table runs the real command; a second, in-process table runs
`daisy.pipeline.compile_source` and checks `SourceError.pos` and its message for many
more programs, quickly.
"""
from __future__ import annotations

import re

import pytest

from conftest import run_source

EXIT_SOURCE = 2


def case(id_, source, line, col, fragment, hint=None, xfail=None):
    """One malformed program. `hint`, if given, must appear somewhere in stderr."""
    marks = [pytest.mark.xfail(strict=True, reason=xfail)] if xfail else []
    return pytest.param(source, line, col, fragment, hint, id=id_, marks=marks)


def source_line(source: str, line: int) -> str:
    """Line `line` of the program as a person (and lark) counts lines: by newlines."""
    return source.split("\n")[line - 1].removesuffix("\r")


def check_caret(caret_line: str, text: str, col: int) -> None:
    """The caret line puts `^` under column `col` of `text`, keeping tabs."""
    assert caret_line.startswith("    "), f"caret line not indented: {caret_line!r}"
    body = caret_line[4:]
    assert body.endswith("^") and body.count("^") == 1, f"no single caret: {caret_line!r}"
    pad = body[:-1]
    assert len(pad) == col - 1, f"caret at column {len(pad) + 1}, expected {col}: {caret_line!r}"
    for i, ch in enumerate(pad):
        want = "\t" if i < len(text) and text[i] == "\t" else " "
        assert ch == want, f"caret padding {ch!r} at {i + 1} does not match source {text!r}"


def no_doubled_word(message: str) -> None:
    doubled = re.search(r"\b(\w+) \1\b", message)
    assert doubled is None, f"doubled word {doubled.group()!r} in {message!r}"


# --- the real command ------------------------------------------------------------------

COMMAND_CASES = [
    # brackets
    case("unclosed-bracket-multiline", "xs = [1 2\n      3\n      4\n", 1, 6,
         "'[' is never closed", hint="']'"),
    case("unclosed-paren", "y = add:(1\n", 1, 9, "'(' is never closed", hint="')'"),
    case("unmatched-close-bracket", "x = [1 2]]\n", 1, 10, "unmatched ']'"),
    case("unmatched-close-paren", "x = 1 2)\n", 1, 8, "unmatched ')'"),
    case("paren-closed-by-bracket", "f = g:(1]\n", 1, 9,
         "']' does not match the '(' opened at 1:7", hint="')'"),
    case("definition-inside-open-list", "foo = [1 2\nbar = 3\n", 2, 5,
         "unexpected '='", hint="'[' opened at 1:7"),
    # numbers
    case("malformed-number-12abc", "x = 12abc\n", 1, 5, "malformed number '12abc'"),
    case("malformed-number-1.5.3", "x = [1.5.3]\n", 1, 6, "malformed number '1.5.3'"),
    case("int-too-large", "x = 9223372036854775808\n", 1, 5,
         "integer literal 9223372036854775808 is out of range"),
    case("int-too-small", "x = [1 -9223372036854775809]\n", 1, 8,
         "integer literal -9223372036854775809 is out of range"),
    case("float-out-of-range", "x = 1e999\n", 1, 5, "float literal 1e999 is out of range"),
    # past Python's 4,300-digit limit on int() (issue 18): still a source error
    case("int-5000-digits", "x = [1 " + "7" * 5000 + "]\n", 1, 8,
         "integer literal " + "7" * 5000 + " is out of range", hint="64-bit"),
    case("int-leading-zeros", "x = -" + "0" * 40 + "9223372036854775809\n", 1, 5,
         "integer literal -" + "0" * 40 + "9223372036854775809 is out of range"),
    case("number-then-dot", "x = 1.\n", 1, 5, "malformed number"),
    # strings and characters
    case("unterminated-string", 'greeting = "hello\nworld"\n', 1, 12, "unterminated string"),
    case("unknown-escape", 's = "ab`qc"\n', 1, 8, "unknown escape '`q'"),
    case("lone-minus", "x = [1 - 2]\n", 1, 8, "unexpected '-'"),
    case("tilde", "x = 1 ~ 2\n", 1, 7, "unexpected character '~'"),
    case("brace", "x = {1}\n", 1, 5, "unexpected character '{'"),
    case("control-character", "x = [1 \x7f]\n", 1, 8, "U+007F"),
    # patterns and special forms
    case("number-as-pattern", "f = \\1. x\n", 1, 6, "expected a pattern"),
    case("let-wrong-count", "y = let:[a 1]\n", 1, 9, "'let' takes exactly three elements, got 2"),
    case("let-not-a-list", "y = let:x\n", 1, 9, "'let' must be applied to a list literal"),
    case("if-with-tail", "y = if:[a b ! c]\n", 1, 15, "'if' takes a list without a '!' tail"),
    case("fix-empty", "y = fix:[]\n", 1, 9, "'fix' needs a pattern"),
    case("reserved-as-value", "y = map:if\n", 1, 9, "'if' is a special form, not a value"),
    case("define-reserved", "let = 3\n", 1, 1, "'let' is a reserved word and cannot be defined"),
    case("bind-reserved", "f = \\[x rec]. x\n", 1, 9, "'rec' is a reserved word and cannot be bound"),
    case("bound-twice", "f = \\[a a]. a\n", 1, 9, "'a' is bound twice in one pattern"),
    case("defined-twice", "f = 1\ng = 2\nf = 3\n", 3, 1, "'f' is defined twice",
         hint="first definition is at 1:1"),
    case("let-non-pattern", "let:[3 4 5]\n", 1, 6, "not a pattern"),
    # end of input
    case("eof-after-colon", "x = f: ; more to come\n\n", 1, 7, "unexpected end of input",
         hint="expected an expression"),
    case("eof-after-lambda-dot", "f = \\x.\n", 1, 8, "unexpected end of input",
         hint="expected an expression"),
    # tabs before the error
    case("tab-before-error", "\tx = [1\t2 ~]\n", 1, 11, "unexpected character '~'"),
    case("tabs-before-malformed-number", "f = \\x.\tadd:[x\t12abc]\n", 1, 16,
         "malformed number '12abc'"),
    case("tab-indented-redefinition", "f = 1\n\tf = 2\n", 2, 2, "'f' is defined twice",
         hint="1:1"),
    # line counting
    case("crlf-line-endings", "x = 1\r\ny = [\r\n", 2, 5, "'[' is never closed"),
    case("form-feed-before-error", "x = 1 ; page\x0c break\ny = ~\n", 2, 5,
         "unexpected character '~'"),
]


@pytest.mark.parametrize("source,line,col,fragment,hint", COMMAND_CASES)
def test_daisy_run_reports_source_error(tmp_path, source, line, col, fragment, hint):
    done = run_source(tmp_path, source, timeout=60)
    path = tmp_path / "prog.dsy"
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == EXIT_SOURCE, done.stderr
    assert done.stdout == ""
    lines = done.stderr.split("\n")
    assert len(lines) >= 3, done.stderr
    head = f"{path}:{line}:{col}: error: "
    assert lines[0].startswith(head), f"expected {head!r}..., got {lines[0]!r}"
    message = lines[0][len(head):]
    assert fragment in message, f"{fragment!r} not in {message!r}"
    no_doubled_word(message)
    text = source_line(source, line)
    assert lines[1] == "    " + text, f"source line {lines[1]!r}, expected {'    ' + text!r}"
    check_caret(lines[2], text, col)
    if hint is not None:
        assert hint in done.stderr, done.stderr


def test_int_range_limits_are_accepted(run):
    done = run("9223372036854775807\n-9223372036854775808\n"
               "[9223372036854775807 -9223372036854775808]\n")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout.splitlines() == [
        "9223372036854775807",
        "-9223372036854775808",
        "[9223372036854775807 -9223372036854775808]",
    ]


def test_leading_zeros_do_not_make_an_integer_out_of_range(run):
    done = run("-" + "0" * 40 + "9223372036854775808\n" + "0" * 5000 + "42\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["-9223372036854775808", "42"]


def test_undefined_name_is_only_a_warning(tmp_path):
    source = "1\nx = [1 nope]\nx\n"
    done = run_source(tmp_path, source, timeout=60)
    path = tmp_path / "prog.dsy"
    assert "Traceback" not in done.stderr
    assert done.returncode == 0, done.stderr
    lines = done.stderr.split("\n")
    assert lines[0] == f"{path}:2:8: warning: 'nope' is not defined"
    assert lines[1] == "    x = [1 nope]"
    check_caret(lines[2], "x = [1 nope]", 8)
    assert "error:" not in done.stderr
    out = done.stdout.splitlines()
    assert out[0] == "1"
    assert out[1].startswith("[1 <error:") and "nope" in out[1]


# --- in process: many more programs ---------------------------------------------------

def compile_error(source):
    from daisy.frontend.diagnostics import SourceError
    from daisy.pipeline import compile_source
    with pytest.raises(SourceError) as info:
        compile_source(source, "t.dsy")
    return info.value


PARSER_CASES = [
    # brackets: unclosed ones name the innermost bracket still open where it opened
    case("unclosed-outer", "[1 [2]\n", 1, 1, "'[' is never closed"),
    case("unclosed-inner-paren", "x = [1 (2\n", 1, 8, "'(' is never closed"),
    case("unclosed-after-blank-lines", "\n\n  (\n", 3, 3, "'(' is never closed"),
    case("unclosed-bracket-in-string-ignored", 'x = [1 "]"\n', 1, 5, "'[' is never closed"),
    case("bracket-in-comment-ignored", "x = [1 ; ]\n", 1, 5, "'[' is never closed"),
    case("unclosed-lambda-body-list", "\\[a b]. [a b\n", 1, 9, "'[' is never closed"),
    case("unclosed-tail-list", "x = [1 2 ! 3\n", 1, 5, "'[' is never closed"),
    case("unclosed-paren-around-lambda", "f = (\\x. x\n", 1, 5, "'(' is never closed"),
    case("unclosed-no-final-newline", "x = [1 2\n  3", 1, 5, "'[' is never closed"),
    case("mismatch-inner", "[1 (2]]\n", 1, 6, "']' does not match the '(' opened at 1:4"),
    case("mismatch-across-lines", "x = [1\n  (2\n]]\n", 3, 1,
         "']' does not match the '(' opened at 2:3"),
    case("mismatch-immediate", "(]\n", 1, 2, "']' does not match the '(' opened at 1:1"),
    case("unmatched-paren-only", "x = )\n", 1, 5, "unmatched ')'"),
    case("two-exprs-in-parens", "(1 2)\n", 1, 4, "expected ')'"),
    case("empty-parens", "()\n", 1, 2, "unexpected ')'"),
    case("two-tails", "x = [1 ! 2 ! 3]\n", 1, 12, "unexpected '!'"),
    case("tail-of-two", "x = [1 2 ! 3 4]\n", 1, 14, "unexpected number 4; expected ']'"),
    case("tail-missing", "x = [1 2 !]\n", 1, 11, "unexpected ']'; expected an expression"),
    case("tail-without-head", "x = [! 3]\n", 1, 6, "unexpected '!'"),
    case("definition-in-list-later", "x = \\f. f:[1\n\ny = 2\n", 3, 3, "unexpected '='"),
    case("equals-in-list", "x = [1 =]\n", 1, 8, "unexpected '='"),
    case("equals-at-start", "= 3\n", 1, 1, "unexpected '='"),
    case("double-equals", "x = 3 =\n", 1, 7, "unexpected '='"),
    case("leading-colon", "x = :3\n", 1, 5, "unexpected ':'"),
    case("double-colon", "x = f::3\n", 1, 7, "unexpected ':'"),
    case("stray-dot", "x = 1 . 2\n", 1, 7, "unexpected '.'"),
    case("stray-bang", "x = 1 ! 2\n", 1, 7, "unexpected '!'"),
    # numbers
    case("malformed-1e", "x = 1e\n", 1, 5, "malformed number '1e'"),
    case("malformed-1e+", "x = 1e+\n", 1, 5, "malformed number '1e+'"),
    case("malformed-1.5e", "x = 1.5e\n", 1, 5, "malformed number '1.5e'"),
    case("malformed-1.e5", "x = 1.e5\n", 1, 5, "malformed number '1.e5'"),
    case("malformed-12-3", "x = 12-3\n", 1, 5, "malformed number '12-3'"),
    case("malformed-hex", "x = 0x10\n", 1, 5, "malformed number '0x10'"),
    case("malformed-underscore", "x = 1_000\n", 1, 5, "malformed number '1_000'"),
    case("malformed-percent", "x = 5%\n", 1, 5, "malformed number '5%'"),
    case("malformed-exponent-name", "1e5x\n", 1, 1, "malformed number '1e5x'"),
    case("malformed-in-list", "x = [12abc]\n", 1, 6, "malformed number '12abc'"),
    case("malformed-after-tabs", "  \t  12abc\n", 1, 6, "malformed number '12abc'"),
    case("malformed-first-only", "x = 3abc def\n", 1, 5, "malformed number '3abc'"),
    case("int-too-large-bare", "9223372036854775808\n", 1, 1, "out of range"),
    case("int-too-small-bare", "-9223372036854775809\n", 1, 1, "out of range"),
    case("int-far-too-large", "x = 99999999999999999999999\n", 1, 5, "out of range"),
    case("float-2e308", "x = 2e308\n", 1, 5, "float literal 2e308 is out of range"),
    case("float-negative-overflow", "-1e999\n", 1, 1, "float literal -1e999 is out of range"),
    case("number-then-dot-in-list", "x = [1. 2]\n", 1, 6, "malformed number"),
    case("number-then-two-dots", "x = 1.5.\n", 1, 5, "malformed number"),
    # strings and characters
    case("unterminated-at-eof", '"abc', 1, 1, "unterminated string"),
    case("escaped-quote-unterminated", 'x = "ab`"\n', 1, 5, "unterminated string"),
    case("backquote-at-line-end", 'x = "a`\n', 1, 5, "unterminated string"),
    case("string-spans-lines", 's = "ab\ncd"\n', 1, 5, "unterminated string"),
    case("unknown-escape-tab", 'x = "a`\tb"\n', 1, 7, "unknown escape"),
    case("unknown-escape-after-tab", 'x = "\t`z"\n', 1, 7, "unknown escape '`z'"),
    case("backquote-outside-string", "x = `a\n", 1, 5, "unexpected '`'"),
    case("minus-alone", "-\n", 1, 1, "unexpected '-'"),
    case("minus-at-eol", "x = -\n", 1, 5, "unexpected '-'"),
    case("minus-space-digit", "x = - 3\n", 1, 5, "unexpected '-'"),
    case("minus-name", "x = -a\n", 1, 5, "unexpected '-'"),
    case("double-minus", "--3\n", 1, 1, "unexpected '-'"),
    case("minus-after-colon", "x = a:-\n", 1, 7, "unexpected '-'"),
    case("quote-char", "x = 'a\n", 1, 5, "unexpected character \"'\""),
    case("comma", "x = a,b\n", 1, 6, "unexpected character ','"),
    case("close-brace-in-list", "x = [1 2 } 3]\n", 1, 10, "unexpected character '}'"),
    case("pipe", "x = |\n", 1, 5, "unexpected character '|'"),
    case("non-ascii-letter", "x = \u00e9\n", 1, 5, "unexpected character"),
    case("after-non-ascii-string", 'x = "\u00e9" ~\n', 1, 9, "unexpected character '~'"),
    case("tab-then-tilde", "x = \t~\n", 1, 6, "unexpected character '~'"),
    case("nul-character", "x = \x00\n", 1, 5, "U+0000"),
    # patterns
    case("number-in-list-pattern", "\\[a 1]. a\n", 1, 5, "expected a pattern"),
    case("two-params", "\\x y. 1\n", 1, 4, "unexpected name 'y'; expected '.'"),
    case("missing-pattern", "x = \\ . 1\n", 1, 7, "expected a pattern"),
    case("unclosed-pattern", "x = \\[a b. a\n", 1, 10, "expected a pattern"),
    case("pattern-two-rests", "\\[a b ! c d]. a\n", 1, 11, "unexpected name 'd'"),
    case("bound-twice-nested", "\\[a [b a]]. 1\n", 1, 8, "'a' is bound twice"),
    case("bound-twice-rest", "\\[a ! [b a]]. 1\n", 1, 10, "'a' is bound twice"),
    case("bound-twice-let", "let:[[a ! a] 1 a]\n", 1, 11, "'a' is bound twice"),
    case("bound-twice-rec", "rec:[[a a] 1 2]\n", 1, 9, "'a' is bound twice"),
    case("bound-twice-fix", "fix:[[a a] ! 1]\n", 1, 9, "'a' is bound twice"),
    case("let-pattern-lambda", "let:[\\x. x 1 2]\n", 1, 6, "not a pattern"),
    case("let-pattern-application", "let:[f:x 1 2]\n", 1, 6, "not a pattern"),
    case("let-pattern-string", 'let:["s" 1 2]\n', 1, 6, "not a pattern"),
    case("let-pattern-nested-number", "let:[[a 3] 1 a]\n", 1, 9, "not a pattern"),
    case("fix-pattern-number", "fix:[3 ! 4]\n", 1, 6, "not a pattern"),
    # special forms and reserved words
    case("let-four", "let:[x 1 2 3]\n", 1, 5, "got 4"),
    case("let-with-tail", "let:[x ! y]\n", 1, 5, "got 1 and a tail"),
    case("rec-two", "rec:[a b]\n", 1, 5, "'rec' takes exactly three elements, got 2"),
    case("rec-not-a-list", "rec:x\n", 1, 5, "'rec' must be applied to a list literal"),
    case("fix-not-a-list", "fix:x\n", 1, 5, "'fix' must be applied to a list literal"),
    case("if-not-a-list", "if:x\n", 1, 4, "'if' must be applied to a list literal"),
    case("let-applied-then-applied", "let:[1 2 3]:4\n", 1, 5, "must be applied to a list literal"),
    case("if-bare", "if\n", 1, 1, "'if' is a special form, not a value"),
    case("rec-as-argument", "x = map:rec\n", 1, 9, "'rec' is a special form, not a value"),
    case("let-as-body", "let:[a 1 let]\n", 1, 10, "'let' is a special form, not a value"),
    case("define-rec", "rec = 1\n", 1, 1, "'rec' is a reserved word and cannot be defined"),
    case("bind-fix-lambda", "\\fix. 1\n", 1, 2, "'fix' is a reserved word and cannot be bound"),
    case("bind-if-in-list", "\\[if]. 1\n", 1, 3, "'if' is a reserved word and cannot be bound"),
    case("bind-let-in-rec", "rec:[let 1 2]\n", 1, 6, "'let' is a reserved word and cannot be bound"),
    case("defined-three-times", "x = 1\nx = 2\nx = 3\n", 2, 1, "'x' is defined twice"),
    # end of input
    case("eof-after-colon-no-newline", "f:", 1, 3, "unexpected end of input"),
    case("eof-after-dot-no-newline", "\\x.", 1, 4, "unexpected end of input"),
    case("eof-after-dot-comment", "f = \\x.\n\n; end\n", 1, 8, "unexpected end of input"),
    case("eof-after-prefix", "x = ^\n", 1, 6, "unexpected end of input"),
    case("eof-after-two-prefixes", "@@\n", 1, 3, "unexpected end of input"),
    case("eof-after-equals", "x =\n", 1, 4, "unexpected end of input"),
    # line counting
    case("vertical-tab-in-string", 'x = "a\x0bb"\ny = ~\n', 2, 5, "unexpected character '~'"),
    case("line-separator-in-comment", "x = 1 ; a\u2028b\ny = ~\n", 2, 5,
         "unexpected character '~'"),
]


@pytest.mark.parametrize("source,line,col,fragment,hint", PARSER_CASES)
def test_compile_source_error(source, line, col, fragment, hint):
    err = compile_error(source)
    assert err.pos is not None
    assert (err.pos.line, err.pos.col) == (line, col), f"at {err.pos}, expected {line}:{col}"
    message = err.diagnostic.message
    assert fragment in message, f"{fragment!r} not in {message!r}"
    no_doubled_word(message)
    rendered = err.render("t.dsy", source).split("\n")
    assert rendered[0] == f"t.dsy:{line}:{col}: error: {message}"
    text = source_line(source, line)
    assert rendered[1] == "    " + text
    check_caret(rendered[2], text, col)
    if hint is not None:
        assert hint in (err.diagnostic.hint or ""), err.diagnostic.hint


@pytest.mark.parametrize("source", [
    pytest.param("x = [(x) 1]\nlet:[(y) 1 y]\n", id="parenthesised-pattern-name"),
    pytest.param("\\[]. 1\n", id="empty-list-pattern"),
    pytest.param("fix:[a ! a]\n", id="fix-tail-only"),
    pytest.param("fix:[x a b]\n", id="fix-without-bang"),
    pytest.param("if:[]\nif:[1]\n", id="if-short"),
    pytest.param("\\x. \\x. x\n", id="shadowing-is-not-binding-twice"),
    pytest.param("\\[a b]. \\[a b]. a\n", id="same-names-in-two-patterns"),
    pytest.param("x = -0\ny = 1e308\nz = 1e-999\nw = -1.5e-3\nv = 1E5\n", id="number-forms"),
    pytest.param("x = 9223372036854775807\ny = -9223372036854775808\n", id="int-limits"),
    pytest.param("x = 3 ; comment with [ and ( and \"\n", id="brackets-in-comment"),
    pytest.param('x = "[ ( ; ~ { `" `` `n `t"\n', id="specials-in-string"),
    pytest.param("x = %a\ny = nil?\nz = a-b*c+d/e<f>g'\n", id="identifier-characters"),
    pytest.param("\tx = [1\t2]\r\ny = x\r\n", id="tabs-and-crlf"),
    pytest.param("^let\n^map:if\n", id="quoted-reserved-words"),
])
def test_compile_source_accepts(source):
    from daisy.pipeline import compile_source
    compile_source(source, "t.dsy")
