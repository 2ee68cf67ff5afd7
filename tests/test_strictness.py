"""What the demand pass buys at run time (issue 5), seen through `--stats`:
strict arguments allocate no suspensions, an accumulator builds no chain, and a
function under `#` runs as a loop that allocates none (jit/lower.py Notes [Strict
arguments], [Destination passing], [Sparked operands]). Values are checked against
the reference interpreter."""
import pathlib
import re

import pytest

from conftest import run_source

LISTS = """\
map2 = \\[f L]. let:[[X ! Xs] L if:[nil?:L nil [f:X ! map2:[f Xs]]]]
ints = \\[a b]. if:[gt?:[a b] nil [a ! ints:[inc:a b]]]
sum = \\[acc L]. let:[[X ! Xs] L if:[nil?:L acc sum:[add:[acc X] Xs]]]
"""
NFIB = "nfib = \\n. if:[lt?:[n 2] 1 add:[nfib:dcr:n nfib:sub:[n 2] 1]]\n"
N = 20000


def stats_run(tmp_path, text, *flags, threads="1", report=None):
    """(stdout, suspensions allocated) of a run with --stats; the whole report is
    appended to `report` when one is given."""
    done = run_source(tmp_path, text, "--stats", "--threads", threads, *flags)
    assert done.returncode == 0, done.stderr
    m = re.search(r"^\s*([\d,]+) suspensions allocated", done.stderr, re.M)
    assert m, done.stderr
    if report is not None:
        report.append(done.stderr)
    return done.stdout, int(m.group(1).replace(",", ""))


def sparks(report):
    """(created, converted) from a --stats report."""
    return tuple(map(int, re.search(r"SPARKS: (\d+) \((\d+) converted", report).groups()))


def interp(tmp_path, text):
    done = run_source(tmp_path, text, "--interp")
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_strict_arguments_allocate_no_suspensions(tmp_path):
    text = NFIB + "nfib:20\n"
    out, susps = stats_run(tmp_path, text)
    assert out == interp(tmp_path, text) == "21891\n"
    assert susps == 0            # nfib:20 makes 21,891 calls, each with a strict argument


def test_an_exhaustive_loop_allocates_no_suspensions(tmp_path):
    lazy = LISTS + f"sum:[0 map2:[inc ints:[1 {N}]]]\n"
    eager = LISTS + f"sum:[0 #map2:[inc #ints:[1 {N}]]]\n"
    want = f"{N * (N + 1) // 2 + N}\n"
    out_lazy, susps_lazy = stats_run(tmp_path, lazy)
    out_eager, susps_eager = stats_run(tmp_path, eager)
    assert out_lazy == out_eager == interp(tmp_path, eager) == want
    assert susps_lazy >= 2 * N   # the lazy producers suspend every tail and element
    assert susps_eager == 0      # the accumulator is strict and both lists are loops


@pytest.mark.parametrize("threads", ["1", "2"])
def test_a_spark_in_a_strict_operand_is_made_only_for_a_hungry_worker(tmp_path, threads):
    # rt/rt_spark.c Note [Hungry workers]: with one worker nobody could take a spark,
    # so `@` costs nothing; with two, the idle helper gets the first one at once
    text = ("pfib = \\n. if:[lt?:[n 2] 1 add:[@pfib:dcr:n pfib:sub:[n 2] 1]]\n"
            "pfib:16\n")
    report = []
    out, _ = stats_run(tmp_path, text, threads=threads, report=report)
    assert out == "3193\n", report[0]
    created, _ = sparks(report[0])
    if threads == "1":
        assert created == 0
    else:
        assert created >= 1


def test_the_annotated_thesis_quicksort_runs_in_parallel_with_fewer_suspensions(tmp_path):
    # issue 5, item 4: bench/programs/quicksort-par.dsy is the thesis quicksort with
    # `@#` on both halves and `$` in append; quicksort.dsy is the same without them
    bench = pathlib.Path(__file__).resolve().parent.parent / "bench" / "programs"
    plain, annotated = ((bench / f"{name}.dsy").read_text().replace("N = 1000\n", "N = 20000\n")
                        for name in ("quicksort", "quicksort-par"))
    assert "N = 20000\n" in plain and "N = 20000\n" in annotated
    want = interp(tmp_path, plain)
    assert want.startswith("[20000 ")
    reports = []
    out_p, susps_p = stats_run(tmp_path, plain, threads="2", report=reports)
    out_a, susps_a = stats_run(tmp_path, annotated, threads="2", report=reports)
    (created_p, _), (created_a, converted_a) = map(sparks, reports)
    assert out_p == out_a == want
    assert created_p == 0                      # nothing to spark without `@`
    assert created_a > 0 and converted_a > 0   # the idle helper took halves
    # `$append` copies each sorted half once, and `#` leaves no suspended cells
    # behind for the printer to force: fewer than 0.7 of the plain program's
    # suspensions (284,550 against 159,988 when this was written)
    assert susps_a < 0.7 * susps_p, (susps_a, susps_p)
