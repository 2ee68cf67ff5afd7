"""How much heap a program keeps and touches, seen from outside: dead temporaries in
root frames (jit/lower.py Note [Dead temporaries]), selectors resolved by compaction
(rt/daisy_rt.h Note [Selector suspensions]; the exact case is the `selectors`
self-test). Fresh regions populated in one system call (rt/rt_heap.c Note
[Populating fresh regions]) are checked by the `populate` self-test with mincore:
the process's fault counters cannot tell, since the kernel counts a populated page
as a minor fault too. Local collections that find nothing to free are skipped for a
while (rt/daisy_rt.h Note [Skipping poor local collections])."""
import re

import pytest

from conftest import run_source

COUNT = """\
N = 3000000
ints = \\[a b]. if:[gt?:[a b] nil [a ! ints:[inc:a b]]]
count = \\[n L]. let:[[X ! Xs] L if:[nil?:L n count:[inc:n Xs]]]
inc:count:[0 ints:[1 N]]
"""

QUICKSORT = """\
N = 200000
quick = \\L. let:[[X ! Xs] L
          if:[nil?:L L  nil?:Xs L
              let:[[lo hi] partition:[X Xs]
                   append:[quick:lo [X ! quick:hi]]]]]
append = \\[L1 L2]. let:[[X ! Xs] L1 if:[nil?:L1 L2 [X ! append:[Xs L2]]]]
partition = \\[p L]. part:[p L [] []]
part = \\[p L lo hi]. let:[[X ! Xs] L
          if:[nil?:L [lo hi]
              le?:[X p] part:[p Xs [X ! lo] hi]
              part:[p Xs lo [X ! hi]]]]
randoms = \\[n seed]. if:[zero?:n []
            let:[s rem:[add:[mpy:[seed 1103515245] 12345] 2147483648]
                 [s ! randoms:[dcr:n s]]]]
check = \\[L n acc]. if:[nil?:L [n acc]
          let:[[X ! Xs] L check:[Xs $inc:n $rem:[add:[mpy:[acc 31] X] 1000000007]]]]
check:[quick:randoms:[N 42] 0 0]
"""


def stat(text: str, label: str) -> int:
    m = re.search(r"^\s*([\d,]+) " + re.escape(label), text, re.M)
    assert m, text
    return int(m.group(1).replace(",", ""))


def test_a_strict_argument_is_not_kept_by_its_callers_frame(tmp_path):
    # inc:count:[...] is not a tail call, so its frame stays while count walks the
    # list; the list's head, evaluated into a temporary for the call, must not stay
    # with it: 3,000,000 cells (72 MB) in a 48 MB heap
    done = run_source(tmp_path, COUNT, "--stats", "--threads", "1", "--heap", "48M")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "3000001\n"
    assert stat(done.stderr, "bytes maximum heap in use (peak)") < 16 << 20


@pytest.mark.parametrize("threads", ["1", "2"])
def test_lazy_pattern_selectors_do_not_keep_the_other_half(tmp_path, threads):
    # the thesis quicksort binds [lo hi] lazily; compaction resolves the selectors
    small = QUICKSORT.replace("N = 200000", "N = 2000")
    interp = run_source(tmp_path, small, "--interp")
    assert interp.stdout == sorted_check(2000)      # the oracle agrees with the language
    done = run_source(tmp_path, QUICKSORT, "--stats", "--threads", threads, "--heap", "1G")
    assert done.returncode == 0, done.stderr
    assert done.stdout == sorted_check(200000)
    resolved = re.search(r"\((\d+) selectors resolved", done.stderr)
    assert resolved and int(resolved.group(1)) > 0, done.stderr


def sorted_check(n: int) -> str:
    """What QUICKSORT prints for N = n, computed here: [length checksum] of the sorted
    pseudo-random integers."""
    xs, seed = [], 42
    for _ in range(n):
        seed = (seed * 1103515245 + 12345) % 2147483648
        xs.append(seed)
    acc = 0
    for x in sorted(xs):
        acc = (acc * 31 + x) % 1000000007
    return f"[{n} {acc}]\n"


@pytest.mark.parametrize("threads", ["2", "4"])
def test_compaction_at_every_slow_path_with_helpers_joining(tmp_path, threads):
    # DAISY_GC_STRESS compacts at every allocation slow path; with the helpers busy
    # in sparks, the compactions are shared with them (rt/rt_gc.c Note [Parallel
    # compaction]): the sorted list must come out right
    text = (QUICKSORT.replace("N = 200000", "N = 50000")
            .replace("append:[quick:lo [X ! quick:hi]]", "append:[@#quick:lo [X ! @#quick:hi]]"))
    done = run_source(tmp_path, text, "--stats", "--threads", threads,
                      env={"DAISY_GC_STRESS": "1"})
    assert done.returncode == 0, done.stderr
    assert done.stdout == sorted_check(50000)
    compactions = int(re.search(r"Major GC\s+(\d+) compactions", done.stderr).group(1))
    assert compactions >= 5, done.stderr


KEEP = """\
N = 1000000
ints = \\[a b]. if:[gt?:[a b] nil [a ! ints:[inc:a b]]]
count = \\[n L]. let:[[X ! Xs] L if:[nil?:L n count:[inc:n Xs]]]
let:[L #ints:[1 N] [count:[0 L] count:[0 L]]]
"""


def local_gc(stats: str):
    """(collections, promotions, promotions made without collecting) from --stats."""
    m = re.search(r"Local GC\s+(\d+) collections.*\((\d+) promotions(?:, (\d+) without "
                  r"collecting)?\)", stats)
    assert m, stats
    return int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)


def test_a_phase_that_keeps_everything_skips_its_collections(tmp_path):
    # rt/daisy_rt.h Note [Skipping poor local collections]: a `#` list of 10^6 cells
    # (24 MB), all alive, fills twelve regions; after the first collection finds
    # nothing to free, most regions are promoted without being marked again
    done = run_source(tmp_path, KEEP, "--stats", "--threads", "1")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "[1000000 1000000]\n"
    collections, promotions, skipped = local_gc(done.stderr)
    assert skipped >= promotions // 2 and collections + skipped >= promotions, done.stderr


def test_collections_that_pay_are_never_skipped(tmp_path):
    # a list consumed as it is made: every collection frees nearly all it looks at
    done = run_source(tmp_path, COUNT, "--stats", "--threads", "1")
    assert done.returncode == 0, done.stderr
    collections, promotions, skipped = local_gc(done.stderr)
    assert collections > 50 and promotions == 0 and skipped == 0, done.stderr
