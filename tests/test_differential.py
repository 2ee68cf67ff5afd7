"""Differential testing: the JIT must print exactly what the reference interpreter
prints, at 1, 2 and 4 threads, for generated programs (tests/daisygen.py says what the
generator makes and why every program terminates).

    python -m pytest tests/test_differential.py                 # CI run: 2,000 programs
    python -m pytest tests/test_differential.py -m slow -s      # the long run: 20,000
    python tests/daisygen.py program normal 1234                # one program, by seed
    python tests/daisygen.py search 3600                        # an hour's bug hunt

The normal run checks a fixed set of programs: seeds 0..1999 of daisygen's seeded
generator (the same programs on every machine), small ones (1-3 top-level expressions
and up to three definitions, nesting depth 3). They run in batches of BATCH programs:
one file holds the prelude once and every program of the batch, its definitions
renamed apart (daisygen.Batch), so compiling the prelude and starting an engine happen
once per batch, not once per program. The interpreter runs the batch in this process
while, alongside, `daisy run -O0 --threads K` runs it for K = 1, 2, 4 (the first
compiles into a private cache, the others load the object; the user's cache is never
touched). Each program's lines are compared on their own. The slow run does the same
for more and bigger programs from a random first seed (printed; DAISY_DIFF_SEED=N
repeats it), at -O0 and -O2 in turn.

On a difference the test finds the program (bisecting the batch when a crash or an
internal error leaves no clue), runs it alone to confirm, cuts it down line by line
(daisygen.minimise), saves it as tests/differential/NNN-kind-word.dsy with the first
differing line per thread count in its header comment, and fails with its source.
`test_regression` checks every file there on every run (at -O2, `daisy run`'s
default). Rename a file to say what it is about if you like; keep the number.
    python tests/daisygen.py keep PROGRAM.dsy short-name   # add one by hand
"""
import os
import random
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import HealthCheck, settings

import daisygen as G

THREADS = (1, 2, 4)
BATCH = 250

# The normal run: DAISY_DIFF_PROGRAMS programs (default 2,000) of daisygen's "normal"
# shape, in batches of BATCH; the slow run: DAISY_DIFF_SLOW_PROGRAMS (default 20,000)
# of the "slow" shape (daisygen.SHAPES).
NORMAL_PROGRAMS = int(os.environ.get("DAISY_DIFF_PROGRAMS", "2000"))
SLOW_PROGRAMS = int(os.environ.get("DAISY_DIFF_SLOW_PROGRAMS", "20000"))
SLOW_SEED = int(os.environ.get("DAISY_DIFF_SEED", str(random.randrange(10**9))))

TOTALS = {"programs": 0, "expressions": 0}
MAX_REPORTED = 3          # differing programs explained (minimised, saved) per batch


@pytest.fixture(scope="module")
def runners():
    made = {}

    def get(opt: int) -> G.CliRunner:
        if opt not in made:
            made[opt] = G.CliRunner(opt=opt)
        return made[opt]
    yield get
    for r in made.values():
        r.close()
    if TOTALS["programs"]:
        print(f"\n  differential: {TOTALS['programs']} programs, {TOTALS['expressions']} "
              f"top-level expressions, each at {THREADS} threads")


def cases(shape: str, first: int, n: int) -> list[G.Case]:
    return [G.Case(f"{shape} seed {s}", G.seeded_program(s, **G.SHAPES[shape]))
            for s in range(first, first + n)]


def batch_spec(item) -> tuple | None:
    """(shape, first seed, count, -O level) of a batch test item, else None."""
    params = getattr(getattr(item, "callspec", None), "params", {})
    if item.originalname == "test_jit_matches_interpreter":
        first = params["first"]
        return ("normal", first, min(BATCH, NORMAL_PROGRAMS - first), 0)
    if item.originalname == "test_jit_matches_interpreter_long":
        index = params["index"]
        return ("slow", SLOW_SEED + index * BATCH, min(BATCH, SLOW_PROGRAMS - index * BATCH),
                0 if index % 2 == 0 else 2)
    return None


@pytest.fixture(scope="module")
def pipeline(request, runners):
    """The JIT's runs of each selected batch, started one batch ahead: while a test
    waits for its batch, the next batch compiles beside it (two cores busy; compiling
    is most of the time). Returns the runs of the test's own batch."""
    specs = [spec for item in request.session.items if (spec := batch_spec(item))]
    pool = ThreadPoolExecutor(2)
    futures = {}

    def start(spec):
        if spec not in futures:
            shape, first, n, opt = spec
            futures[spec] = pool.submit(runners(opt).outputs, G.Batch(cases(shape, first, n)).text,
                                        THREADS)

    def runs_of(spec):
        start(spec)
        i = specs.index(spec) if spec in specs else -1
        if 0 <= i < len(specs) - 1:
            start(specs[i + 1])
        return futures.pop(spec).result()
    yield runs_of
    for f in futures.values():
        f.cancel()
    pool.shutdown(wait=True)


def run_both(text: str, cli: G.CliRunner, timeout: float | None = None):
    """The interpreter's output (here) and the JIT's runs (alongside, in children)."""
    with ThreadPoolExecutor(1) as pool:
        jit = pool.submit(cli.outputs, text, THREADS, timeout)
        try:
            expected = G.run_interp(text, timeout=600)
        finally:
            runs = jit.result()
    return expected, runs


def check_batch(spec: tuple, pipeline, runners) -> None:
    shape, first, n, opt = spec
    cli = runners(opt)
    batch_cases = cases(shape, first, n)
    batch = G.Batch(batch_cases)
    expected = G.run_interp(batch.text, timeout=600)
    runs = pipeline(spec)
    TOTALS["programs"] += len(batch_cases)
    TOTALS["expressions"] += batch.nexprs
    # the generator's contract: one line per top-level expression
    assert len(expected.splitlines()) == batch.nexprs, \
        "the interpreter printed a line count other than the expression count"
    problems = G.batch_mismatches(batch, expected, runs)
    if not problems:
        return
    reports = [explain(batch, k, report, cli) for k, report in problems[:MAX_REPORTED]]
    more = len(problems) - MAX_REPORTED
    raise AssertionError(
        f"the JIT's output differs from the interpreter's (-O{cli.opt}) for "
        f"{len(problems)} program(s) of the batch {batch_cases[0].name}..:\n\n"
        + "\n\n".join(reports) + (f"\n\n(and {more} more)" if more > 0 else ""))


def fails_alone(src: str, cli: G.CliRunner) -> str | None:
    """The difference report for one program run by itself, or None."""
    expected, runs = run_both(src, cli, timeout=60)
    return G.difference(expected, G.run_outputs_text(runs))


def explain(batch: G.Batch, k: int, report: str, cli: G.CliRunner) -> str:
    """Find the program, confirm it alone, minimise and save it; the text to show."""
    if k < 0:                           # no clue which program: bisect the batch
        def fails(cs):
            b = G.Batch(cs)
            expected, runs = run_both(b.text, cli)
            return bool(G.batch_mismatches(b, expected, runs))
        found = G.bisect_cases(batch.cases, fails)
        if len(found) != 1:
            names = ", ".join(c.name for c in found[:5])
            return (f"the batch fails ({report}); no single program alone does. "
                    f"Programs {names}{'...' if len(found) > 5 else ''}")
        case = found[0]
    else:
        case = batch.cases[k]
    src = case.standalone()
    alone = fails_alone(src, cli)
    if alone is None:
        return (f"{case.name}: differs in its batch, not alone:\n{report}\n"
                f"the program:\n{case.src}")
    sig = G.signature(alone)

    def still_fails(text):
        r = fails_alone(text, cli)
        return r is not None and G.signature(r) == sig
    small = G.minimise(src, still_fails)
    final = fails_alone(small, cli) or alone
    path = G.save_regression(small, G.mismatch_name(small, final), final)
    shown = os.path.relpath(path, G.HERE.parent)
    return (f"{case.name}:\n{final}\nminimised, saved as {shown} "
            f"(`python tests/daisygen.py program {case.name.replace(' seed', '')}` prints "
            f"the whole program):\n{G.generated_part(small)}")


@pytest.mark.parametrize("first", range(0, NORMAL_PROGRAMS, BATCH))
def test_jit_matches_interpreter(request, pipeline, runners, first):
    check_batch(batch_spec(request.node), pipeline, runners)


@pytest.mark.slow
@pytest.mark.parametrize("index", range((SLOW_PROGRAMS + BATCH - 1) // BATCH))
def test_jit_matches_interpreter_long(request, pipeline, runners, index):
    if index == 0:
        print(f"\n  slow differential run: seeds from {SLOW_SEED} (DAISY_DIFF_SEED={SLOW_SEED})")
    check_batch(batch_spec(request.node), pipeline, runners)


# (files saved by the families of tests/daisyfam.py have their own test, which
# watches for hangs: test_differential_families.py)
REGRESSION_FILES = sorted(p for p in G.REGRESSIONS.glob("*.dsy")
                          if not any(l.startswith("; family ") for l in p.read_text().splitlines()[:4]))


@pytest.mark.parametrize("path", REGRESSION_FILES, ids=[p.stem for p in REGRESSION_FILES])
def test_regression(runners, path):
    src = path.read_text()
    expected, runs = run_both(src, runners(2), timeout=120)
    report = G.difference(expected, G.run_outputs_text(runs))
    assert report is None, f"{path.name}: the JIT's output differs again:\n{report}"


def test_batches_split_back_into_programs():
    """The batch machinery itself: renaming keeps programs apart, outputs split back
    by program, and a difference is charged to the program that printed it."""
    a = G.Case("a", "g1 = 5\nadd:[g1 1]\n^g1\n")
    b = G.Case("b", "g1 = \\x. inc:x\ng1:1\n")
    batch = G.Batch([a, b])
    assert "b0g1 = 5" in batch.text and "b1g1 = \\x. inc:x" in batch.text
    out = G.run_interp(batch.text)
    assert out.splitlines() == ["6", "b0g1", "2"]
    assert batch.lines_of(out, 1) == ["2"]
    assert G.batch_mismatches(batch, out, {1: G.Run(out, 0)}) == []
    wrong = G.batch_mismatches(batch, out, {1: G.Run("6\nb0g1\n3\n", 0)})
    assert [k for k, _ in wrong] == [1] and "jit '3'" in wrong[0][1]
    stopped = G.batch_mismatches(batch, out, {2: G.Run("6\n", 130, timed_out=True)})
    assert [k for k, _ in stopped] == [0] and "timed out" in stopped[0][1]
    crashed = G.batch_mismatches(batch, out, {4: G.Run("", -11)})
    assert [k for k, _ in crashed] == [-1] and "signal 11" in crashed[0][1]
    assert G.bisect_cases([a, b], lambda cs: b in cs) == [b]


def test_seeded_programs_are_reproducible():
    shape = G.SHAPES["normal"]
    assert G.seeded_program(7, **shape) == G.seeded_program(7, **shape)
    assert G.seeded_program(7, **shape) != G.seeded_program(8, **shape)


def test_generated_programs_are_well_formed():
    """The generator's contract, on the interpreter alone: programs parse, run quickly
    and print one line per top-level expression (hypothesis's draws, which `search`
    uses; the seeded ones are checked by every batch)."""
    from hypothesis import given as given_

    @settings(max_examples=40, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given_(G.programs(big_sizes=G.SMALL_BIG_SIZES))
    def each(src):
        out = G.run_interp(src, timeout=10)
        assert len(out.splitlines()) == G.count_expressions(src)
    each()
