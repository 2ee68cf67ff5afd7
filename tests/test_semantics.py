"""The decisions of docs/language.md, one test (or a few) each, run in-process on the
reference interpreter. Section numbers refer to docs/language.md."""
import pytest

from conftest import interpret, matches

LOOP = "loop = \\x. loop:x\n"
TAKE = "take = \\[n L]. if:[zero?:n [] nil?:L [] let:[[X ! Xs] L [X ! take:[dcr:n Xs]]]]\n"
INTS = "intsfrom = \\n. [n ! intsfrom:inc:n]\n"


def one(src: str) -> str:
    lines = interpret(src)
    assert len(lines) == 1, lines
    return lines[0]


# --- section 3: strict primitives force left to right and stop at the first bad operand

@pytest.mark.parametrize("expr,want", [
    ("add:[div:[1 0] loop:0]", "<error: division by zero in div>"),
    ("add:[^a loop:0]", "<error: add: non-numeric operand (the atom a)>"),
    ("lt?:[^a loop:0]", "<error: lt?: non-numeric operand (the atom a)>"),
    ("and:[1.5 loop:0]", "<error: and: operand is not an integer (the number 1.500000e+00)>"),
    ("add:[9223372036854775807 1 loop:0]", "<error: integer overflow in add>"),
    ("seq:[1 div:[1 0] loop:0]", "<error: division by zero in div>"),
])
def test_strict_primitives_stop_at_the_first_bad_operand(expr, want):
    assert one(LOOP + expr) == want


def test_overflow_is_checked_at_every_step_of_add_and_mpy():
    assert one("add:[9223372036854775807 1 -1]") == "<error: integer overflow in add>"
    assert one("mpy:[4611686018427387904 2 0]") == "<error: integer overflow in mpy>"
    assert one("add:[9223372036854775807 1.0 -1]") == "9.223372e+18"


def test_int_meets_float_as_a_double():
    assert one("eq?:[9007199254740993 9007199254740992.0]") == "true"
    assert one("lt?:[1 1.5]") == "true"


@pytest.mark.parametrize("expr,want", [
    ("eq?:[^a ^a]", "true"), ("eq?:[^a []]", "[]"), ("eq?:[[] nil]", "true"),
    ("eq?:[1 1.0]", "true"), ("ne?:[\"x\" ^x]", "[]"),
])
def test_eq_compares_numbers_by_value_and_atoms_by_identity(expr, want):
    assert one(expr) == want


@pytest.mark.parametrize("expr", ["eq?:[1 ^a]", "eq?:[[1] [1]]", "eq?:[inc inc]", "lt?:[^a ^b]"])
def test_other_pairs_are_not_comparable(expr):
    got = one(expr)
    assert matches("<error: *>", got)
    assert ("not comparable" in got) if expr.startswith("eq?") else ("non-numeric" in got)


def test_shapes_of_list_operands():
    assert one("sub:[1 2 3]") == "<error: sub expects [a b]>"
    assert one("sub:5") == "<error: sub expects [a b]>"
    assert one("add:[1 ! 2]") == "<error: add expects a list>"


@pytest.mark.parametrize("expr,want", [
    ("rem:[-7 2]", "-1"), ("rem:[7 -2]", "1"), ("rem:[-7.5 2]", "-1.500000e+00"),
    ("div:[-7 2]", "-3"), ("div:[1.0 0]", "inf"), ("div:[-1 0.0]", "-inf"),
    ("div:[0.0 0]", "nan"), ("rem:[1.0 0]", "nan"), ("inv:0", "inf"), ("inv:4", "2.500000e-01"),
    ("div:[-9223372036854775808 -1]", "<error: integer overflow in div>"),
    ("neg:-9223372036854775808", "<error: integer overflow in neg>"),
    ("lsh:[1 63]", "-9223372036854775808"), ("rsh:[-1 60]", "15"), ("arsh:[-1 60]", "-1"),
    ("lsh:[1 64]", "<error: shift count out of range: 64>"),
    ("rsh:[1 -1]", "<error: shift count out of range: -1>"),
    ("not:0", "-1"),
])
def test_arithmetic_edges(expr, want):
    assert one(expr) == want


# --- section 2: patterns select lazily

def test_pattern_selection_is_lazy_and_ignores_extra_elements():
    assert one("(\\[a b]. b):[1 2 3]") == "2"
    assert one("let:[[X ! Xs] [] ^fine]") == "fine"
    assert one("let:[[X ! Xs] 5 X]") == "<error: pattern mismatch: head of the number 5>"
    assert one("let:[[X ! Xs] div:[1 0] X]") == "<error: division by zero in div>"


def test_fix_with_several_elements_binds_the_rest_as_a_list():
    assert one("fix:[x 1 2]") == "[1 2]"
    assert one(TAKE + "take:[5 fix:[x ! [0 1 ! x]]]") == "[0 1 0 1 0]"


def test_if_arities():
    assert one("if:[]") == "[]"
    assert one("if:[7]") == "7"
    assert one("if:[[] 1]") == "[]"
    assert one("if:[div:[1 0] 1 2]") == "<error: division by zero in div>"


# --- section 3: control primitives

def test_seq_forces_in_order_and_returns_the_last():
    assert one("seq:[]") == "[]"
    assert one("seq:[1 [2 div:[1 0]] 3]") == "3"     # a value, not a normal form


def test_pcoerce_returns_the_list_with_errors_as_elements():
    assert one("pcoerce:[1 div:[1 0] add:[1 1]]") == "[1 <error: division by zero in div> 2]"


def test_set_is_fair_a_diverging_member_does_not_block_the_others():
    assert one(LOOP + TAKE + "take:[2 set:[loop:0 add:[1 2] mpy:[3 4]]]") == "[3 12]"


def test_set_yields_in_completion_order():
    src = LOOP + "slow = \\n. if:[zero?:n ^slow slow:dcr:n]\n" + TAKE
    assert one(src + "take:[2 set:[slow:2000 ^fast]]") == "[fast slow]"


def test_any_is_fair_and_abandons_the_losers():
    assert one(LOOP + "any?:[loop:0 [] true]") == "true"
    assert one(LOOP + "any?:[loop:0 loop:1 add:[1 1]]") == "true"
    assert one("any?:[[] []]") == "[]"
    assert one("any?:[[] div:[1 0] div:[2 0]]") == "<error: division by zero in div>"


def test_a_suspension_an_abandoned_member_started_is_evaluated_afresh():
    src = ("count = \\n. if:[zero?:n ^done count:dcr:n]\n"
           "rec:[s count:20000 seq:[any?:[s true] s]]")
    assert one(src) == "done"


def test_cycles_are_errors_not_hangs():
    assert one("rec:[x inc:x x]").startswith("<error: cycle")
    assert one("rec:[[a b] [b a] a]").startswith("<error: cycle")
    assert one("cyc = inc:cyc\ncyc").startswith("<error: cycle")
    # two green threads waiting on each other
    assert one("rec:[[a b] [inc:b inc:a] pcoerce:set:[a b]]").startswith("[<error: cycle")


# --- section 4: annotations never change a value

def test_dollar_hands_back_a_passed_suspension_untouched():
    src = LOOP + TAKE + INTS + (
        "append = \\[L1 L2]. let:[[X ! Xs] L1 if:[nil?:L1 L2 [X ! $append:[Xs L2]]]]\n")
    assert one(src + "take:[1 append:[[1] loop:0]]") == "[1]"
    assert one(src + "take:[4 append:[[1 2] intsfrom:7]]") == "[1 2 7 8]"


def test_dollar_on_a_name_forces_it():
    assert one("let:[x div:[1 0] %SpnHd?:[$x]]") == "[]"
    assert one("let:[x div:[1 0] %SpnHd?:[x]]") == "true"


def test_hash_forces_normal_form_and_terminates_on_cycles():
    assert one(TAKE + "take:[3 #fix:[x ! [0 1 ! x]]]") == "[0 1 0]"
    assert one("let:[L #[add:[1 1] [mpy:[2 3]]] [%SpnHd?:L L]]") == "[[] [2 [6]]]"


def test_at_sparks_count_and_change_nothing():
    from daisy.interp.interpreter import Interpreter
    from daisy.output import Capture
    from daisy.pipeline import compile_source
    src = "nfib = \\n. if:[lt?:[n 2] 1 add:[@nfib:dcr:n nfib:sub:[n 2] 1]]\nnfib:15"
    out = Capture()
    interp = Interpreter(out)
    interp.run_module(compile_source(src).module)
    assert out.getvalue() == "1973\n"
    assert interp.stats.sparks == 986        # one per call with n >= 2


# --- section 3: quotation and val

@pytest.mark.parametrize("src,want", [
    ("val:^let:[x 2 mpy:[x x]]", "4"),
    ("val:^(\\x. inc:x):1", "2"),
    ("val:^foo", "<error: unbound identifier foo>"),
    ("val:\"a b\"", "\"a b\""),
    ("val:5", "5"),
    ("val:^[add:[1 1] ! [3]]", "[2 3]"),
    ("val:^^x", "x"),
    ("evlst:[^add:[1 2] 7 ^nil]", "[3 7 []]"),
    ("val:^let:5", "<error: val: 'let' must be applied to a list literal>"),
])
def test_val(src, want):
    assert one(src) == want


@pytest.mark.parametrize("src,want", [
    ("isAPL?:^\\x. x", "[]"), ("isFTN?:^\\x. x", "[]"), ("isAPL?:^@f:x", "[]"),
    ("isAPL?:^f:x", "true"), ("isIDE?:\"x y\"", "true"),
])
def test_form_kinds(src, want):
    assert one(src) == want


# --- section 5: printing

def test_functions_print_with_their_names():
    assert interpret("f = \\x. x\nf\n\\x. x\nmap\nmap:inc") == [
        "<function f>", "<function>", "<function map>", "<function>"]


def test_screen_value_prints_no_line_at_top_level_but_prints_nested():
    # the printer writes '[' before it forces the element, whose forcing writes 'c'
    assert interpret('screen:"ab"\n[screen:"c"]') == ["ab[c<screen>]"]


def test_stack_exhaustion_is_an_error_value_and_evaluation_goes_on():
    from daisy.interp.interpreter import Interpreter
    from daisy.output import Capture
    from daisy.pipeline import compile_source
    src = "deep = \\n. if:[zero?:n 0 inc:deep:dcr:n]\ndeep:100000\ndeep:10\n"
    out = Capture()
    Interpreter(out, max_depth=5000).run_module(compile_source(src).module)
    assert out.getvalue().splitlines() == ["<error: stack exhausted>", "10"]


def test_the_interpreter_defines_exactly_the_predefined_names():
    from daisy.frontend.primitives import PREDEFINED
    from daisy.interp.interpreter import Interpreter
    from daisy.output import Capture
    assert set(Interpreter(Capture()).prims) == set(PREDEFINED)


@pytest.mark.parametrize("name", sorted(__import__("daisy.frontend.primitives",
                                                    fromlist=["PRIMITIVES"]).PRIMITIVES))
def test_every_primitive_is_a_first_class_function(name):
    assert one(f"isFTN?:{name}") == "true"
    assert one(name) == f"<function {name}>"


def test_interpreter_evaluate_gives_a_top_level_expressions_value():
    # Machine keeps its evaluator as `_ev`: an attribute named `evaluate` once hid
    # this method on every Interpreter
    from daisy.frontend import core as C
    from daisy.interp.interpreter import Interpreter
    from daisy.output import Capture
    from daisy.pipeline import compile_source
    interp = Interpreter(Capture())
    module = compile_source("sq = \\x. mpy:[x x]\nsq:add:[3 4]").module
    interp.load(module)
    expr = next(c.expr for c in module.commands if isinstance(c, C.Eval))
    assert interp.text_of(interp.evaluate(expr)) == "49"
