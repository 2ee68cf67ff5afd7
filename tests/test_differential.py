"""Differential testing: the JIT must print exactly what the reference interpreter
prints, at 1, 2 and 4 threads, for generated programs (tests/daisygen.py says what the
generator makes and why every program terminates).

    python -m pytest tests/test_differential.py                 # CI run, deterministic
    python -m pytest tests/test_differential.py -m slow -s      # the long run, random
    python tests/daisygen.py search 3600                        # an hour's bug hunt

The default run (pyproject's addopts deselect `slow`) checks a fixed, derandomized set
of programs; the slow one more and bigger ones, different each time; `search` keeps
going after a difference, saving one minimised program per kind of difference.
Each program runs in a child process (a crash or a hang in the JIT is reported as a
difference instead of ending the test run), once per thread count, each time in a
Program of its own; the first compiles it (-O2) into a private temporary compile
cache, the other two load the object from there. The user's cache is never touched.

A mismatch is written, after hypothesis has shrunk it and daisygen.minimise has
dropped every line it does not need, to tests/differential/NNN-kind-word.dsy (with
the first differing line per thread count in its header comment); `test_regression`
then checks every file there on every run. Rename a file to say what it is about if
you like; keep the number.
    python tests/daisygen.py keep PROGRAM.dsy short-name   # add one by hand
"""
import os
import pathlib

import pytest
from hypothesis import HealthCheck, given, settings

import daisygen as G

THREADS = (1, 2, 4)

# The CI run: 40 programs of 10-25 top-level expressions (~650 expressions, ~100 s at
# 2 cores: compiling a program at -O2 takes ~2-3 s on the JIT today, the runs take
# milliseconds). Raise it with DAISY_DIFF_EXAMPLES=N; the long run's count is
# DAISY_DIFF_SLOW_EXAMPLES (default 400, about 20 minutes). With -s, the totals print.
CI_EXAMPLES = int(os.environ.get("DAISY_DIFF_EXAMPLES", "40"))
SLOW_EXAMPLES = int(os.environ.get("DAISY_DIFF_SLOW_EXAMPLES", "400"))


TOTALS = {"programs": 0, "expressions": 0}


@pytest.fixture(scope="module")
def jit():
    runner = G.JitRunner(timeout=30)
    yield runner
    runner.close()
    print(f"\n  differential: {TOTALS['programs']} programs, {TOTALS['expressions']} "
          f"top-level expressions (shrinking included), each at {THREADS} threads")


def _is_final() -> bool:
    """True when hypothesis replays the shrunk, minimal failing example."""
    try:
        from hypothesis.control import current_build_context
        return bool(current_build_context().is_final)
    except Exception:
        return False


def check(src: str, jit: G.JitRunner, *, save: bool = False) -> None:
    TOTALS["programs"] += 1
    TOTALS["expressions"] += G.count_expressions(src)
    expected = G.run_interp(src)
    report = G.difference(expected, jit.run(src, THREADS))
    if report is None:
        return
    if save:                   # hypothesis's minimal example: cut it down further, keep it
        sig = G.signature(report)

        def still_fails(text):
            r = G.difference(G.run_interp(text), jit.run(text, THREADS))
            return r is not None and G.signature(r) == sig
        src = G.minimise(src, still_fails)
        report = G.difference(G.run_interp(src), jit.run(src, THREADS)) or report
        path = G.save_regression(src, G.mismatch_name(src, report), report)
        report += f"\n(saved as {path.relative_to(G.HERE.parent)})"
    raise AssertionError("the JIT's output differs from the interpreter's:\n" + report)


@settings(max_examples=CI_EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(G.programs())
def test_jit_matches_interpreter(jit, src):
    check(src, jit, save=_is_final())


@pytest.mark.slow
@settings(max_examples=SLOW_EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(G.programs(min_exprs=10, max_exprs=25, depth=5))
def test_jit_matches_interpreter_long(jit, src):
    check(src, jit, save=_is_final())


REGRESSION_FILES = sorted(G.REGRESSIONS.glob("*.dsy"))


@pytest.mark.parametrize("path", REGRESSION_FILES, ids=[p.stem for p in REGRESSION_FILES])
def test_regression(jit, path: pathlib.Path):
    check(path.read_text(), jit)


def test_generated_programs_are_well_formed():
    """The generator's contract, on the interpreter alone: programs parse, run quickly
    and print one line per top-level expression."""
    from hypothesis import given as given_

    @settings(max_examples=40, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given_(G.programs())
    def each(src):
        out = G.run_interp(src, timeout=10)
        assert len(out.splitlines()) == G.count_expressions(src)
    each()
