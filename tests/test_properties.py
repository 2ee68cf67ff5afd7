"""Properties, checked on generated input (hypothesis):

* printed quoted forms are re-readable: parse(print(^E)) is E again;
* `screen: scnos: prsos: [v]` prints exactly what `daisy run` prints for v, so the
  REPL and program files show values identically;
* `scnis` tokenises what `scnos` spells back into the same tokens.
"""
import re

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from conftest import interpret
from daisy.frontend import syntax as S
from daisy.frontend.parse import RESERVED, parse_command
from daisy.interp.forms import form_of_syntax, source_text
from daisy.interp.printer import plain_text
from daisy.interp.values import IDENT_RE

IDENT_START = "abcxyzXYZ%"
IDENT_REST = "abz09?-_*+/<>'"

names = st.builds(lambda a, b: a + b, st.sampled_from(IDENT_START),
                  st.text(IDENT_REST, max_size=4)).filter(lambda n: n not in RESERVED)
ints = st.integers(min_value=-(2**63), max_value=2**63 - 1)
floats = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e300, max_value=1e300)
strings = st.text(st.sampled_from('ab `"\n\t!:[]\\'), max_size=6)

patterns = st.recursive(
    names.map(S.PName),
    lambda inner: st.builds(S.PList, st.lists(inner, min_size=0, max_size=3),
                            st.one_of(st.none(), inner)).filter(
        lambda p: p.rest is None or p.items),
    max_leaves=6)


def _distinct(p) -> bool:
    seen = []

    def walk(q):
        if isinstance(q, S.PName):
            seen.append(q.name)
        else:
            for i in q.items:
                walk(i)
            if q.rest is not None:
                walk(q.rest)
    walk(p)
    return len(seen) == len(set(seen))


def exprs():
    leaves = st.one_of(ints.map(S.Num), floats.map(S.Num), strings.map(S.Str), names.map(S.Name))
    return st.recursive(leaves, lambda inner: st.one_of(
        st.builds(S.ListExpr, st.lists(inner, max_size=3), st.none()),
        st.builds(S.ListExpr, st.lists(inner, min_size=1, max_size=3), inner),
        st.builds(S.Apply, inner, inner),
        st.builds(S.Lambda, patterns.filter(_distinct), inner),
        st.builds(S.Prefixed, st.sampled_from("@$#^"), inner),
    ), max_leaves=12)


def _normalise(node):
    """Compare trees as the data a quotation makes: floats as they print (%e, 6 digits),
    a string spelling an identifier as that name,
    and a list tail that is itself a list literal merged in (`[a ! [b]]` is `[a b]`)."""
    if isinstance(node, S.Num) and isinstance(node.value, float):
        return S.Num(float("%e" % node.value))
    if isinstance(node, S.Str) and IDENT_RE.match(node.value):
        return S.Name(node.value)      # "a" and a are one atom
    if isinstance(node, (S.ListExpr, S.PList)):
        slot = "tail" if isinstance(node, S.ListExpr) else "rest"
        while isinstance(getattr(node, slot), type(node)):
            inner = getattr(node, slot)
            node.items = node.items + inner.items
            setattr(node, slot, getattr(inner, slot))
    for slot in getattr(node, "__slots__", ()):
        v = getattr(node, slot)
        if isinstance(v, list):
            setattr(node, slot, [_normalise(x) for x in v])
        elif isinstance(v, S.Node):
            setattr(node, slot, _normalise(v))
    return node


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(exprs())
def test_printed_forms_read_back_as_the_same_tree(tree):
    text = plain_text(form_of_syntax(tree))
    again = parse_command(text)
    assert S.same(_normalise(again), _normalise(tree)), text


# values a program can print: literals, nested and improper lists, quoted forms, errors
value_sources = st.recursive(
    st.one_of(ints.map(str), floats.map(lambda f: "%e" % f),
              strings.map(lambda s: plain_text(form_of_syntax(S.Str(s)))),
              st.sampled_from(["div:[1 0]", "inc", "\\x. x", "[]", "^f:[x ! y]", "^\\[a]. $a",
                               "add:[1 ^z]", "inv:0", "neg:inv:0", "div:[0.0 0]"])),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4).map(lambda xs: "[" + " ".join(xs) + "]"),
        st.tuples(st.lists(inner, min_size=1, max_size=3), inner).map(
            lambda p: "[" + " ".join(p[0]) + " ! " + p[1] + "]")),
    max_leaves=10)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(value_sources, min_size=1, max_size=3))
def test_prsos_and_scnos_print_as_the_top_level_printer_does(values):
    direct = interpret("\n".join(values))
    piped = interpret("screen: scnos: prsos: [" + " ".join(f"({v})" for v in values) + "]")
    assert "\n".join(piped) == "\n".join(direct)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value_sources)
def test_scnis_reads_back_what_scnos_spells(source):
    # tokens -> characters -> tokens: the same token list (printed with prsos's spacing)
    program = (f"toks = prsos:[{source}]\n"
               "screen: scnos: scnis: scnos: toks\n"
               "screen: scnos: toks\n")
    out = interpret(program)
    # text that only printing makes (<function>, <error: ...>, inf, nan) is not source
    assume("<" not in out[1] and not re.search(r"\b(inf|nan)\b", out[1]))
    assert out[0] == out[1]


# arbitrary text, weighted towards Daisy's own characters
daisy_text = st.text(st.one_of(st.sampled_from(list("[]()!:\\.=^@$#`\";\n\t -0123456789eE.xyz%?'<>")),
                               st.characters()), max_size=60)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(daisy_text)
def test_the_front_end_accepts_or_reports_never_crashes(text):
    from daisy.frontend.diagnostics import SourceError
    from daisy.pipeline import compile_source
    try:
        compile_source(text, "fuzz.dsy")
    except SourceError as e:
        rendered = e.render("fuzz.dsy", text)
        assert rendered.startswith("fuzz.dsy")
        if e.pos is not None:
            lines = rendered.splitlines()
            assert lines[0].startswith(f"fuzz.dsy:{e.pos.line}:{e.pos.col}: error: ")
