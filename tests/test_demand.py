"""The demand (strictness) pass, frontend/demand.py.

Golden dumps: tests/demand/NAME.dsy beside NAME.demand.ir, the IR after `demand`.
Regenerate after an intended change with

    DAISY_BLESS=1 python -m pytest tests/test_demand.py

and read the diff before committing it. Unit tests pin particular demands; the property
tests check soundness with the reference interpreter: a binder the pass calls demanded
(conditionally: given numbers where its condition asks for them) is really evaluated,
or the call does not end; an error the call returns without evaluating it is a failure
(docs/language.md, "Strictness and errors"). tests/demand/early-errors.dsy runs on the
native engine against the interpreter: most of its lines hung when errors counted like
non-termination.
"""
from __future__ import annotations

import os
import signal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ROOT, interpret, run_source
from daisy.frontend import core as C
from daisy.pipeline import compile_source

DEMAND = ROOT / "tests" / "demand"
PROGRAMS = sorted(DEMAND.glob("*.dsy"))


def dump(path) -> str:
    out = {}
    compile_source(path.read_text(), path.name, dump_after=["demand"],
                   dump=lambda name, text: out.__setitem__(name, text))
    return out["demand"]


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.stem)
def test_demand_dump(program):
    got = dump(program)
    expected = program.with_suffix(".demand.ir")
    if os.environ.get("DAISY_BLESS"):
        expected.write_text(got)
    assert expected.exists(), f"no {expected.name}: run with DAISY_BLESS=1"
    assert got == expected.read_text()


def test_the_golden_programs_are_there():
    names = {p.stem for p in PROGRAMS}
    assert {"nfib", "sum", "len", "map", "append", "quicksort", "quicksort-annotated",
            "mutual", "higher-order", "lets", "patterns", "infinite", "cycles",
            "errors", "early-errors", "conditional"} <= names


# --- unit tests: particular demands -------------------------------------------------

def analysed(src: str, dynamic: bool = False):
    return compile_source(src, "<test>", dynamic=dynamic)


def params(src: str, name: str, dynamic: bool = False) -> dict[str, str]:
    """{binder: demand} of top-level function `name`'s parameter pattern; a conditional
    demand as "head if num:y"."""
    state = analysed(src, dynamic)
    lam = state.module.defs()[name].expr
    out = {}
    for b in C.pattern_names(lam.param):
        out[b.name] = b.demand
        if type(b) is C.PVar and b.guard is not None:
            out[b.name] = f"{b.cdemand} if num:" + ",".join(lam.param.items[j].name for j in b.guard)
    return out


def binders(src: str) -> dict[str, str]:
    """{binder: demand} of every binder in the program (names must be unique)."""
    out = {}
    for cmd in analysed(src).module.commands:
        stack = [cmd.expr]
        while stack:
            e = stack.pop()
            if type(e) is C.Lam:
                out.update({b.name: b.demand for b in C.pattern_names(e.param)})
            elif type(e) is C.Let:
                out.update({b.name: b.demand for b in C.pattern_names(e.pattern)})
            stack.extend(C.children(e))
    return out


def calls(src: str) -> list[tuple[str, str]]:
    """(callee text, demand) of every App in the program, in text order."""
    from daisy.frontend.dump import _flat, _tree
    out = []
    for cmd in analysed(src).module.commands:
        stack = [cmd.expr]
        while stack:
            e = stack.pop()
            if type(e) is C.App:
                out.append((_flat(_tree(e.fn)), e.demand))
            stack.extend(reversed(C.children(e)))
    return out


HD = "hd = \\L. let:[[X ! Xs] L X]\ntl = \\L. let:[[X ! Xs] L Xs]\n"


def test_nfib_is_head_strict():
    assert params("nfib = \\n. if:[lt?:[n 2] 1 add:[nfib:dcr:n nfib:sub:[n 2] 1]]",
                  "nfib") == {"n": "head"}


def test_length_is_spine_strict():
    assert params(HD + "len = \\L. if:[nil?:L 0 inc:len:tl:L]", "len") == {"L": "spine"}


def test_accumulating_sum():
    src = HD + "sum = \\[acc xs]. if:[nil?:xs acc sum:[add:[acc hd:xs] tl:xs]]"
    assert params(src, "sum") == {"acc": "head", "xs": "spine"}


def test_map_is_lazy_in_the_function():
    src = HD + "map = \\[f L]. if:[nil?:L nil [f:hd:L ! map:[f tl:L]]]"
    assert params(src, "map") == {"f": "lazy", "L": "head"}


def test_mutual_recursion():
    src = "ev = \\n. if:[zero?:n true od:dcr:n]\nod = \\n. if:[zero?:n [] ev:dcr:n]"
    assert params(src, "ev") == {"n": "head"} and params(src, "od") == {"n": "head"}


def test_infinite_producer_is_never_spine_strict():
    assert params("intsfrom = \\n. [n ! intsfrom:inc:n]", "intsfrom") == {"n": "lazy"}


def test_exhaustive_demand():
    assert params("deep = \\x. #x", "deep") == {"x": "full"}
    assert params("d2 = \\x. #[x]", "d2") == {"x": "full"}
    assert params("d3 = \\x. [#x]", "d3") == {"x": "full"}      # built at once: `#` runs
    assert params("d4 = \\x. [inc:x]", "d4") == {"x": "lazy"}   # a suspended element


def test_a_branch_alone_does_not_demand():
    assert params("f = \\[c x]. if:[c x 0]", "f") == {"c": "head", "x": "lazy"}
    # nil? is never an error, so one of the branches runs
    assert params("f = \\[c x]. if:[nil?:c x inc:x]", "f") == {"c": "head", "x": "head"}


def test_a_constant_test_is_known():
    # `if:[true E x]`: the else branch is never taken, so x is not demanded even when E
    # is an error (tests/daisygen.py's LAZY expressions rely on it)
    assert params("f = \\x. if:[true div:[1 0] x]", "f") == {"x": "lazy"}
    assert params("f = \\x. if:[[] 0 x]", "f") == {"x": "head"}


def test_an_error_returned_early_is_no_demand():
    # the issue's example: the test may be an error, and then neither branch runs
    assert params("f = \\[t x]. if:[t inc:x dcr:x]", "f") == {"t": "head", "x": "lazy"}
    # an error (or a non-number) in the first operand stops add before the second
    assert params("f = \\[a b]. add:[a b]", "f") == {"a": "head", "b": "head if num:a"}
    # the same for let binders
    assert binders("f = \\t. let:[x inc:t let:[y dcr:t if:[x y y]]]")["y"] == "lazy"
    # an accumulator after an element that may be an error is not demanded
    src = "s = \\[acc L]. let:[[X ! Xs] L if:[nil?:L acc s:[add:[X acc] Xs]]]"
    assert params(src, "s") == {"acc": "lazy", "L": "spine"}
    # nor behind a counter that may overflow
    src = "c = \\[n acc]. if:[zero?:n acc c:[dcr:n add:[acc 1]]]"
    assert params(src, "c") == {"n": "head", "acc": "lazy"}


def test_tests_that_are_never_errors_keep_their_demands():
    # type predicates answer [] for an error; a comparison of numbers is true or []
    assert params("f = \\[t x]. if:[isNML?:t inc:x dcr:x]", "f") == {"t": "head", "x": "head"}
    assert params("f = \\[t x]. if:[lt?:[t 2] inc:x dcr:x]", "f") == {
        "t": "head", "x": "head if num:t"}
    # constants are numbers: the second test is not an error once the first is not
    src = "f = \\[n x]. if:[lt?:[n 2] x lt?:[n 20] x inc:x]"
    assert params(src, "f") == {"n": "head", "x": "head if num:n"}


def test_conditional_demands():
    tak = "tak = \\[x y z]. if:[lt?:[y x] tak:[tak:[dcr:x y z] tak:[dcr:y z x] tak:[dcr:z x y]] z]"
    assert params(tak, "tak") == {"x": "head if num:y", "y": "head", "z": "head if num:x,y"}
    # a caller that passes numbers where the condition asks for them demands outright
    src = tak + "\nt = \\n. tak:[n 3 2]"
    assert params(src, "t") == {"n": "head"}
    src = tak + "\nt = \\n. tak:[n [] 2]"
    assert params(src, "t") == {"n": "lazy"}
    # conditions only name parameters used as numbers
    assert params("f = \\[L n]. if:[nil?:L [n] let:[[X ! Xs] L f:[Xs n]]]", "f") == {
        "L": "spine", "n": "lazy"}


def test_type_predicates_see_errors():
    # isERR? of an error is true: that is not a failure of the scope
    assert params("f = \\x. if:[isERR?:x 0 1]", "f") == {"x": "head"}
    # an error in y makes add stop before x: x only when y is a number
    assert params("f = \\[x y]. if:[isERR?:add:[y x] 0 1]", "f") == {
        "x": "head if num:y", "y": "head"}


def test_unused_binder_is_lazy():
    assert params("f = \\x. div:[1 0]", "f") == {"x": "lazy"}


def test_unknown_calls_are_lazy_in_the_argument():
    src = "apply = \\[f x]. f:x"
    assert params(src, "apply") == {"f": "head", "x": "lazy"}


def test_sparks_demand_nothing():
    assert params("f = \\x. add:[@inc:x 1]", "f") == {"x": "lazy"}
    assert params("f = \\x. add:[x @inc:x]", "f") == {"x": "head"}
    # the spark may be an error, which stops add before x
    assert params("f = \\x. add:[@inc:x x]", "f") == {"x": "lazy"}


def test_lazy_patterns_select():
    src = "f = \\[a b ! r]. b\ng = \\[a b ! r]. len:r\n" \
          "len = \\L. if:[nil?:L 0 let:[[X ! Xs] L inc:len:Xs]]"
    assert params(src, "f") == {"a": "lazy", "b": "head", "r": "lazy"}
    assert params(src, "g") == {"a": "lazy", "b": "lazy", "r": "spine"}


def test_let_binders():
    src = "f = \\[a b]. let:[c add:[a 1] let:[d mpy:[b 2] if:[zero?:c d 0]]]"
    got = binders(src)
    assert got["c"] == "head" and got["d"] == "lazy" and got["a"] == "head"


def test_local_lambda_parameters():
    got = binders("f = \\n. let:[sq \\x. mpy:[x x] sq:n]")
    assert got["x"] == "head"          # from sq's own body
    assert got["sq"] == "head"         # it is called
    assert got["n"] == "lazy"          # the call through sq is unknown


def test_rec_and_fix_binders():
    got = binders("f = \\a. fix:[c ! [a ! c]]\ng = \\b. rec:[x [b ! x] #x]")
    assert got["#fix"] == "head" and got["c"] == "lazy"
    assert got["x"] == "full"


def test_call_site_demands():
    src = HD + "sum = \\[acc xs]. if:[nil?:xs acc sum:[add:[acc hd:xs] tl:xs]]\n" \
               "map = \\[f L]. if:[nil?:L nil [f:hd:L ! map:[f tl:L]]]\n" \
               "sum:[0 map:[inc [1 2]]]\n#map:[inc [1 2]]\n"
    got = calls(src)
    # sum's tail call is demanded; hd:xs is an operand of add, demanded too
    assert ("sum@g", "head") in got and ("hd@g", "head") in got
    # tl:xs is demanded by sum, which is spine-strict in xs
    assert ("tl@g", "spine") in got
    # inside map: f:hd:L is a suspended element, map's own recursion a suspended tail
    assert ("f@0.0", "lazy") in got and ("map@g", "lazy") in got
    # under #, map is demanded completely
    assert got[-1] == ("map@g", "full")


def test_effects_turn_the_analysis_off():
    src = "f = \\x. seq:[x screen:\"a\"]\nnfib = \\n. if:[lt?:[n 2] 1 nfib:dcr:n]"
    assert params(src, "nfib") == {"n": "lazy"}
    assert params("nfib = \\n. if:[lt?:[n 2] 1 nfib:dcr:n]", "nfib", dynamic=True) == {"n": "lazy"}


def test_dumps_before_demand_are_unchanged():
    out = {}
    compile_source("f = \\x. inc:x\nf:1", "<t>", dump_after=["primcalls"],
                   dump=lambda name, text: out.__setitem__(name, text))
    assert "{" not in out["primcalls"]


# --- the native engine against the reference interpreter ---------------------------

@pytest.mark.parametrize("threads", ["1", "2", "4"])
def test_errors_returned_early_on_the_native_engine(tmp_path, threads):
    """Eleven of the first thirteen lines of tests/demand/early-errors.dsy hung
    natively while the analysis let errors count like non-termination (s1 and s2 while
    sparked operands were forced out of order); sumr and part did not only because the
    code generator does not force spines early. The fourteenth hung while a spread call
    ran the `$` items of its argument list before the callee selected from it. The
    interpreter answers every one at once."""
    import subprocess
    text = (DEMAND / "early-errors.dsy").read_text()
    want = "".join(line + "\n" for line in interpret(text))
    assert want.count("\n") == 15
    try:
        done = run_source(tmp_path, text, "--threads", threads, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("the native engine did not end: it evaluated a value too early")
    assert done.returncode == 0, done.stderr
    assert done.stdout == want


# --- soundness against the reference interpreter ------------------------------------

class Demanded(Exception):
    """The marker's value was demanded."""


class Timeout(Exception):
    pass


def _marker_thunk():
    from daisy.interp.values import Native, Thunk

    def gen(m, data):
        raise Demanded()
        yield  # pragma: no cover  (a generator)
    return Thunk(Native(gen, "marker"), None)


SAMPLES = ["0", "1", "3", "-2", "2.5", "[]", "[1 2 3]", "[[1] 2]", "inc", "\\x. x", "^a",
           "\\x. 0", "\\x. [x]",
           "[1 ! 2]", "true", "div:[1 0]", "[1 div:[1 0]]", "[1 ! div:[1 0]]"]


NUMBERS = ["0", "1", "3", "-2", "2.5", "-9223372036854775808"]


def _argument(p, target, level, choose, numbers=(), number=None):
    """Source text of an argument for pattern p: the marker in target's place (as the
    value for head, in the spine's last tail for spine, as an element for full), and
    numbers for the items of p at the positions in `numbers`."""
    if isinstance(p, (C.PVar, C.PAs)):
        if p is target:
            return {"head": "MARK", "spine": "[1 2 ! MARK]", "full": "[1 MARK 3]"}[level]
        if isinstance(p, C.PAs) and _contains(p.pattern, target):
            return _argument(p.pattern, target, level, choose)
        return choose()
    items = [_argument(i, target, level, number if j in numbers else choose)
             for j, i in enumerate(p.items)]
    if p.rest is not None:
        return "[" + " ".join(items) + " ! " + _argument(p.rest, target, level, choose) + "]"
    return "[" + " ".join(items) + "]"


def _contains(p, target) -> bool:
    return any(b is target for b in C.pattern_names(p))


def check_sound(src: str, rng, tries: int = 3, timeout: float = 0.5,
                skip=("loop", "spin")) -> int:
    """For every top-level function binder the pass marks demanded, call the function
    with the binder's value replaced by a marker whose evaluation raises Demanded (at
    the level the demand names) and the other binders drawn from SAMPLES (numbers for
    the items a conditional demand assumes are numbers): evaluating the call to WHNF
    must raise Demanded or not end in time. Returns how many calls were checked."""
    from daisy.interp.eval import describe, ev
    from daisy.interp.interpreter import Interpreter
    from daisy.output import Capture
    state = compile_source(src, "<prop>")
    checked = 0
    for name, d in state.module.defs().items():
        if type(d.expr) is not C.Lam or name in skip:
            continue
        for b in C.pattern_names(d.expr.param):
            level, numbers = b.demand, ()
            if level == "lazy" and type(b) is C.PVar and b.guard is not None:
                level, numbers = b.cdemand, b.guard
            if level == "lazy":
                continue
            for _ in range(tries):
                arg = _argument(d.expr.param, b, level, lambda: rng.choice(SAMPLES), numbers,
                                lambda: rng.choice(NUMBERS))
                # the call goes with the program, so that its names mean the same
                module = compile_source(f"{src}\n{name}:{arg}\n", "<call>").module
                call = module.commands[-1].expr
                interp = Interpreter(Capture())
                interp.load(module)
                interp.globals["MARK"] = _marker_thunk()

                def alarm(signum, frame):
                    raise Timeout()
                old = signal.signal(signal.SIGALRM, alarm)
                signal.setitimer(signal.ITIMER_REAL, timeout)
                try:
                    v = interp.run(ev(interp, call, None, False))
                except (Demanded, Timeout):
                    v = None
                finally:
                    signal.setitimer(signal.ITIMER_REAL, 0)
                    signal.signal(signal.SIGALRM, old)
                checked += 1
                assert v is None, (
                    f"{name}:{arg} gave {describe(v)} without evaluating MARK, "
                    f"but {b.name} is marked {level}"
                    + (" (given numbers)" if numbers else ""))
    return checked


def test_sound_on_the_golden_programs():
    import random
    rng = random.Random(5)
    total = 0
    for program in PROGRAMS:
        total += check_sound(program.read_text(), rng)
    assert total > 50


def test_sound_on_the_differential_prelude():
    import random
    from daisygen import PRELUDE
    assert check_sound(PRELUDE, random.Random(7)) > 40


@settings(max_examples=80, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(st.data())
def test_sound_on_generated_programs(data):
    """Functions whose bodies are the differential generator's expressions (which
    terminate, tests/daisygen.py), over a number, a list, or both. The generator uses
    `val` and `evlst`, which turn the analysis off (Note [Order of evaluation]); its
    programs do no input or output and define nothing while running, so here the
    analysis is kept on for them: that order does not matter to their values."""
    import random
    from daisy.frontend import demand
    saved, demand.ORDER_SENSITIVE = demand.ORDER_SENSITIVE, set()
    try:
        _check_generated(data, random)
    finally:
        demand.ORDER_SENSITIVE = saved


def _check_generated(data, random):
    from daisygen import Gen, used_prelude
    g = Gen(data.draw)
    num = {"num": ["x"]}
    lst = {"list": ["L"]}
    both = {"num": ["x"], "list": ["L"]}
    defs = [f"h1 = \\x. {g.num(num, 4)}", f"h2 = \\L. {g.list(lst, 3)}",
            f"h3 = \\[x L]. {g.num(both, 4)}", f"h4 = \\[x ! L]. {g.list(both, 3)}"]
    src = used_prelude(g.program(min_exprs=1, max_exprs=1, depth=3) + "\n".join(defs) + "\n")
    check_sound(src, random.Random(len(src)), tries=2)
