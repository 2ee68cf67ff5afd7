"""Deep structures (issue 2): evaluation depth is bounded by memory, not by Python's
stack, so none of these may raise RecursionError or crash. Each runs the real command.

They are the slowest tests (tens of seconds each on the reference interpreter): the
2,000,000-step walk ends by forcing a 2,000,000-deep chain of `inc` suspensions, and
the accumulator sum forces a 1,000,000-deep chain of `add` suspensions, because
nothing in the unannotated programs demands them earlier (call by need).
"""
import pytest

RANGE = "range = \\[a b]. if:[gt?:[a b] [] [a ! range:[inc:a b]]]\n"

CASES = {
    "sum a 1,000,000-element list with add": (RANGE + "add:range:[1 1000000]", "500000500000"),
    "sum a 1,000,000-element list with an accumulator": (
        RANGE + "sumacc = \\[acc L]. let:[[X ! Xs] L if:[nil?:L acc sumacc:[add:[acc X] Xs]]]\n"
                "sumacc:[0 range:[1 1000000]]", "500000500000"),
    "200,000-deep non-tail recursion": (
        "deep = \\n. if:[zero?:n 0 inc:deep:dcr:n]\ndeep:200000", "200000"),
    "200,000-deep non-tail list recursion": (
        RANGE + "sumr = \\L. let:[[X ! Xs] L if:[nil?:L 0 add:[X sumr:Xs]]]\n"
                "sumr:range:[1 200000]", "20000100000"),
    "2,000,000-step walk down an infinite stream": (
        "intsfrom = \\n. [n ! intsfrom:inc:n]\n"
        "walk = \\[n L]. let:[[X ! Xs] L if:[nil?:L [] zero?:n X walk:[dcr:n Xs]]]\n"
        "walk:[2000000 intsfrom:0]", "2000000"),
    "a 100,000-deep nested list prints": (
        "nest = \\n. if:[zero?:n [] [nest:dcr:n]]\n"
        "let:[s nest:100000 seq:[#s 0]]", "0"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_deep(run, name):
    source, want = CASES[name]
    done = run(source, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == want
    assert "Recursion" not in done.stderr and "Traceback" not in done.stderr


def test_deeply_nested_list_prints_without_recursion(run):
    done = run("nest = \\n. if:[zero?:n [] [nest:dcr:n]]\nnest:50000", timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout == "[" * 50001 + "]" * 50001 + "\n"   # the innermost [] too


def test_a_runaway_recursion_ends_as_an_error_value(run):
    done = run("up = \\n. inc:up:n\nup:0\nadd:[1 1]", "--max-depth", "100000", timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines() == ["<error: stack exhausted>", "2"]


# Deep nesting in the *source* (Note [Compiling deep nesting] in frontend/parse.py):
# the passes recurse over the tree, and must neither crash nor leak a RecursionError.

def test_deeply_nested_list_literal(run):
    n = 20_000
    done = run("[" * n + "]" * n, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout == "[" * n + "]" * n + "\n"


def test_long_application_chain(run):
    done = run("inc:" * 30_000 + "0", timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout == "30000\n"


def test_deeply_nested_quotation_and_val(run):
    done = run("val:^" + "inc:" * 20_000 + "0\n" + "^" + "[" * 20_000 + "]" * 20_000, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines() == ["20000", "[" * 20_000 + "]" * 20_000]


def test_nesting_beyond_the_limit_is_a_source_error(run):
    done = run("[" * 400_000 + "]" * 400_000, timeout=300)
    assert done.returncode == 2
    assert "nest too deeply" in done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr
