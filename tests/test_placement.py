"""Worker placement (Note [Worker placement] in rt/rt_ctx.c): with at least as many
usable CPUs as workers, each helper is pinned to a CPU of its own, other than the one
worker 0 is on when a step starts; worker 0 (the caller's thread) is never pinned.
`--no-pin` and too few CPUs leave placement to the kernel; `--stats` says which."""
import os
import re

import pytest

import daisy.api as daisy
from conftest import run_source

PFIB = """nfib = \\n. if:[lt?:[n 2] 1 lt?:[n 12] add:[nfib:dcr:n nfib:sub:[n 2] 1]
               let:[a @nfib:dcr:n add:[nfib:sub:[n 2] a 1]]]
nfib:22
"""
CPUS = sorted(os.sched_getaffinity(0))
needs_two = pytest.mark.skipif(len(CPUS) < 2, reason="needs two usable CPUs")


def stats(tmp_path, *flags, **kw):
    done = run_source(tmp_path, PFIB, "--stats", *flags, **kw)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "57313\n"
    return done.stderr


def helper_cpus(err):
    return [int(c) for c in re.findall(r"^\s*worker [1-9]\d*: .*, on CPU (\d+)$", err, re.M)]


@needs_two
def test_helpers_pinned_to_distinct_cpus_they_may_use(tmp_path):
    n = len(CPUS)
    err = stats(tmp_path, "--threads", str(n))
    assert f"{n} workers" in err and "helpers pinned" in err
    cpus = helper_cpus(err)
    assert len(cpus) == n - 1                 # every helper says where it ran
    assert len(set(cpus)) == n - 1            # each on a CPU of its own
    assert set(cpus) <= set(CPUS)


@needs_two
def test_no_pin_leaves_placement_to_the_kernel(tmp_path):
    err = stats(tmp_path, "--threads", "2", "--no-pin")
    assert "helpers not pinned (--no-pin)" in err and helper_cpus(err) == []


@needs_two
def test_more_workers_than_cpus_are_not_pinned(tmp_path):
    err = stats(tmp_path, "--threads", str(len(CPUS) + 1))
    assert "helpers not pinned (fewer CPUs than workers)" in err and helper_cpus(err) == []


@needs_two
def test_a_process_limited_to_one_cpu_is_not_pinned(tmp_path):
    # the process may use one CPU only (as under `taskset -c`): two workers share it
    err = stats(tmp_path, "--threads", "2",
                preexec_fn=lambda: os.sched_setaffinity(0, {CPUS[0]}))
    assert "helpers not pinned (fewer CPUs than workers)" in err and helper_cpus(err) == []


def test_one_worker_has_no_helpers(tmp_path):
    err = stats(tmp_path, "--threads", "1")
    assert "1 workers" in err and "no helpers" in err and helper_cpus(err) == []


def _pinned_threads():
    """This process's threads whose CPU set is a single CPU."""
    out = []
    for tid in os.listdir("/proc/self/task"):
        try:
            cpus = os.sched_getaffinity(int(tid))
        except OSError:                        # the thread ended meanwhile
            continue
        if len(cpus) == 1:
            out.append((int(tid), next(iter(cpus))))
    return out


@needs_two
@pytest.mark.parametrize("pin", [True, False])
def test_embedded_program_pins_only_its_helpers(pin):
    """In-process (the API): the helpers' real CPU sets, read back from the kernel;
    the calling thread keeps the CPUs it had."""
    before = _pinned_threads()
    mine = os.sched_getaffinity(0)
    with daisy.Program(PFIB, threads=2, pin=pin) as prog:
        assert prog.run() == "57313\n"
        new = [t for t in _pinned_threads() if t not in before]
        if pin:
            assert len(new) == 1 and new[0][1] in CPUS
        else:
            assert new == []
        assert os.sched_getaffinity(0) == mine
