"""Idle time in `--stats` (docs/runtime.md, Statistics): of each worker's busy time, the
part spent waiting for a suspension another worker holds with nothing else to run, or
searching the deques and finding nothing. It is what the scheduler loses, so it must
never exceed the busy time it is part of, must be nothing on one worker (there is no
one to wait for), and must be all the busy time of a helper that found no spark."""
import os
import re

import pytest

from conftest import run_source

PFIB = """nfib = \\n. if:[lt?:[n 2] 1 lt?:[n 14] add:[nfib:dcr:n nfib:sub:[n 2] 1]
               let:[a @nfib:dcr:n add:[nfib:sub:[n 2] a 1]]]
nfib:27
"""
PLAIN = "nfib = \\n. if:[lt?:[n 2] 1 add:[nfib:dcr:n nfib:sub:[n 2] 1]]\nnfib:27\n"
ROW = re.compile(r"^\s*worker (\d+)[^:]*: busy ([\d.]+) s \(idle ([\d.]+) s\), (\d+) sparks run",
                 re.M)
needs_two = pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two CPUs")


def rows(tmp_path, text, threads):
    done = run_source(tmp_path, text, "--stats", "--threads", str(threads))
    assert done.returncode == 0, done.stderr
    assert done.stdout == "635621\n"
    got = [(int(w), float(b), float(i), int(s)) for w, b, i, s in ROW.findall(done.stderr)]
    assert [w for w, *_ in got] == list(range(threads)), done.stderr
    return got


def test_one_worker_is_never_idle(tmp_path):
    [(_, busy, idle, _)] = rows(tmp_path, PFIB, 1)
    assert busy > 0 and idle == 0


@needs_two
def test_idle_is_part_of_busy(tmp_path):
    for _, busy, idle, _ in rows(tmp_path, PFIB, 2):
        assert 0 <= idle <= busy


@needs_two
def test_a_helper_without_sparks_was_idle_all_its_busy_time(tmp_path):
    (_, b0, i0, _), (_, b1, i1, s1) = rows(tmp_path, PLAIN, 2)
    assert s1 == 0
    assert i1 == b1                       # searched, found nothing, every time
    assert i0 == 0 and b0 > 0             # worker 0 never waited: nobody held anything
