"""The runtime's printer (rt/rt_print.c) against the reference printer.

Values are generated as the interpreter represents them, printed by
interp/printer.py, and built in the runtime from a description (with random
parts behind suspensions, so the printer must force as it goes) and printed by
the C printer: the texts must be equal, byte for byte.
"""
import math
import struct

import pytest
from hypothesis import given, settings, strategies as st

from daisy.interp.printer import plain_text
from daisy.interp.values import (NIL, SCREEN_DONE, AnnForm, Apl, Atom, Cons, DefForm, Error,
                                 FnForm)
from daisy.rt import native


@pytest.fixture(scope="module")
def ctx():
    with native.Context(threads=2) as c:
        yield c


def describe(v, lazy) -> bytes:
    """The runtime's description of interpreter value v (rt_selftest.c);
    lazy() says whether to put this part behind a suspension."""
    out = bytearray()

    def go(x, may_be_lazy=True):
        if may_be_lazy and lazy():
            out.extend(b"S")
        t = type(x)
        if t is bool:
            raise TypeError
        if t is int:
            out.extend(b"I" + struct.pack("<q", x))
        elif t is float:
            out.extend(b"F" + struct.pack("<d", x))
        elif t is Atom:
            b = x.name.encode()
            out.extend(b"A" + struct.pack("<I", len(b)) + b)
        elif x is NIL:
            out.extend(b"N")
        elif x is SCREEN_DONE:
            out.extend(b"U")
        elif t is Error:
            b = x.msg.encode()
            out.extend(b"E" + struct.pack("<I", len(b)) + b)
        elif t is Cons:
            out.extend(b"C")
            go(x.head)
            go(x.tail)
        elif t is Apl:
            # The printer looks at a form's function and operator without
            # forcing them: forms hold evaluated fields (daisy_rt.h).
            out.extend(b"P\x01\x02")
            go(x.fn, False)
            go(x.arg)
        elif t is FnForm:
            out.extend(b"P\x02\x02")
            go(x.param)
            go(x.body)
        elif t is AnnForm:
            out.extend(b"P\x03\x02")
            go(Atom(x.op), False)
            go(x.form)
        elif t is DefForm:
            out.extend(b"P\x04\x02")
            go(Atom(x.name))
            go(x.form)
        else:
            raise TypeError(t)
    go(v)
    return bytes(out)


def expected(v) -> str:
    return "" if v is SCREEN_DONE else plain_text(v) + "\n"


atoms = st.one_of(
    st.from_regex(r"[A-Za-z%][A-Za-z0-9?\-_*+/<>']{0,6}", fullmatch=True),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126) | st.sampled_from("\n\t`\"é"),
            max_size=8),
).map(Atom)
scalars = st.one_of(
    st.integers(min_value=-2**63, max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    atoms,
    st.just(NIL),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=12).map(Error),
)


def lists(children):
    def build(items_tail):
        items, tail = items_tail
        v = tail
        for x in reversed(items):
            v = Cons(x, v)
        return v
    return st.tuples(st.lists(children, max_size=5),
                     st.one_of(st.just(NIL), st.just(NIL), scalars)).map(build)


def forms(children):
    return st.one_of(
        st.builds(Apl, children, children),
        st.builds(FnForm, atoms, children),
        st.builds(AnnForm, st.sampled_from("@$#^"), children),
        st.builds(lambda n, f: DefForm(n.name, f), atoms, children),
    )


values = st.recursive(scalars, lambda c: st.one_of(lists(c), forms(c)), max_leaves=30)


@settings(max_examples=400, deadline=None)
@given(v=values, seed=st.integers(0, 2**32 - 1))
def test_c_printer_matches_reference_printer(ctx, v, seed):
    import random
    rnd = random.Random(seed)
    desc = describe(v, lambda: rnd.random() < 0.3)
    assert ctx.print_described(desc) == expected(v)


@pytest.mark.parametrize("v, text", [
    (Cons(1, Cons(Atom("a b"), NIL)), '[1 "a b"]\n'),
    (Cons(1, 2), "[1 ! 2]\n"),
    (1.5, "1.500000e+00\n"),
    (-0.0, "-0.000000e+00\n"),
    (math.inf, "inf\n"),
    (Error("division by zero in div"), "<error: division by zero in div>\n"),
    (SCREEN_DONE, ""),
    (Cons(SCREEN_DONE, NIL), "[<screen>]\n"),
    (Apl(Apl(Atom("f"), Atom("x")), NIL), "(f:x):[]\n"),
    (FnForm(Atom("x"), Apl(Atom("inc"), Atom("x"))), "\\x. inc:x\n"),
    (2**62, "4611686018427387904\n"),
    (-2**63, "-9223372036854775808\n"),
])
def test_printed_forms(ctx, v, text):
    assert expected(v) == text                         # the reference agrees
    assert ctx.print_described(describe(v, lambda: True)) == text


def test_closure_prints_its_registered_name(ctx):
    desc = b"CK" + struct.pack("<I", 5) + b"quick" + b"N"
    assert ctx.print_described(desc) == "[<function quick>]\n"


def test_long_and_deep_values_print_without_recursion(ctx):
    n = 200_000
    long_list = b"C" + b"".join(b"I" + struct.pack("<q", i) + b"C" for i in range(n - 1)) \
        + b"I" + struct.pack("<q", n - 1) + b"N"
    text = ctx.print_described(long_list)
    assert text.startswith("[0 1 2 ") and text.endswith(f" {n - 1}]\n")
    depth = 20_000             # (the test's builder recurses on heads; the printer does not)
    deep = b"C" * depth + b"I" + struct.pack("<q", 7) + b"N" * depth
    assert ctx.print_described(deep) == "[" * depth + "7" + "]" * depth + "\n"
