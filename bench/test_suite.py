"""The benchmark programs of bench/programs under pytest-benchmark: every program at each
of its sizes, on 1 and 2 workers.

    python -m pytest bench/test_suite.py --benchmark-enable -s   # every size, timed
    python -m pytest bench/test_suite.py                         # smallest sizes, once

Each program runs as `daisy run --threads K --stats` in a subprocess, as `daisy bench`
runs it, and its answer must equal the CPython peer's. Under --benchmark-disable (the
test suite's default) only each program's smallest size runs, once. Peak RSS and the
spark counters go to `extra_info`; no timing is asserted. The peers in other languages
and the comparison table are `daisy bench`'s (driver/bench.py).
"""
import functools

import pytest

from daisy import bench

TIMEOUT = 600
ROUNDS = 3


def _enabled(config) -> bool:
    return not (config.getoption("benchmark_disable")
                and not config.getoption("benchmark_enable"))


def pytest_generate_tests(metafunc):
    if "case" in metafunc.fixturenames:
        full = _enabled(metafunc.config)
        cases = [(p, size, workers) for p in bench.SUITE
                 for size in (p.sizes if full else p.sizes[:1]) for workers in (1, 2)]
        metafunc.parametrize("case", cases,
                             ids=[f"{p.name}-{size}-{w}w" for p, size, w in cases])


@functools.cache
def expected(program: bench.Program, size: int) -> str:
    """The answer, as the CPython peer prints it."""
    run = bench.measure(bench.CPython().command(program, size, 1), TIMEOUT)
    assert run.status == 0, run.stderr
    return run.stdout.strip()


@pytest.fixture(scope="module")
def daisy_engine(tmp_path_factory):
    return bench.Daisy(tmp_path_factory.mktemp("sized"))


def test_program(benchmark, case, daisy_engine):
    program, size, workers = case
    cmd = daisy_engine.command(program, size, workers)
    runs = []
    timed = not benchmark.disabled
    benchmark.pedantic(lambda: runs.append(bench.measure(cmd, TIMEOUT)),
                       rounds=ROUNDS if timed else 1, warmup_rounds=int(timed), iterations=1)
    for run in runs:
        assert run.status == 0, run.stderr
        assert run.stdout.strip() == expected(program, size)
    benchmark.extra_info.update(rss_kb=max(r.rss_kb for r in runs),
                                sparks=bench.spark_counts(runs[-1].stderr))
