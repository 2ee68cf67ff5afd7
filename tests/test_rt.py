"""The native runtime (rt/): layout, built-in self-tests, stress, fault injection,
sanitizer builds, and the static library.

The self-tests live in C (rt/rt_selftest.c) and drive the runtime the way the JIT
will: suspensions whose code is C functions.  Every one checks answers it can
compute in closed form, and after each evaluation step that the heap holds only
valid states (no claim left behind, nothing malformed).  Here they run in this
process through ctypes, at 1, 2 and 4 workers and at 8 (more workers than the
machine has cores), and again in separate ASan+UBSan and TSan builds.
"""
import ctypes
import os
import re
import shutil
import subprocess
import sys

import pytest

from conftest import daisy
from daisy.rt import native

RT_DIR = os.path.dirname(native.__file__)
REPO_RT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "rt")
SELFTESTS = list(native.SELFTESTS)
WORKERS = [1, 2, 4, 8]


def rt_sources():
    """The runtime's sources: the installed copy, or the checkout's."""
    for d in (RT_DIR, REPO_RT):
        if os.path.exists(os.path.join(d, "rt_selftest_main.c")):
            return d
    pytest.skip("runtime sources not found")


# ---- layout -------------------------------------------------------------------------

def test_layout_table_matches_python_side():
    table = native.layout_table()
    native.check_layout(table)          # raises on any mismatch
    assert table["worker.hp"] == 0 and table["worker.limit"] == 8
    assert table["sizeof_worker"] > table["worker.stack_limit"]


def test_layout_mismatch_is_reported():
    table = dict(native.layout_table())
    table["worker.limit"] = 16
    with pytest.raises(native.RuntimeLayoutError, match="worker.limit"):
        native.check_layout(table)


def test_tag_constants_are_consistent():
    assert native.NIL & native.TAG_MASK == native.TAG_CONST
    assert native.UNIT & native.TAG_MASK == native.TAG_CONST
    assert native.FIX_MAX == 2**62 - 1 and native.FIX_MIN == -2**62
    assert len(set(native.TYPES.values())) == len(native.TYPES)


# ---- self-tests in process ----------------------------------------------------------

@pytest.mark.parametrize("workers", WORKERS)
@pytest.mark.parametrize("name", SELFTESTS)
def test_selftest(name, workers):
    r = native.selftest(name, workers, 1)
    assert r.failures == 0, r.report
    assert re.search(rf"^ok {name} ", r.report, re.M), r.report


def test_unknown_selftest_is_an_error():
    assert native.selftest("no-such-test", 1, 1).failures == -1


@pytest.mark.parametrize("workers", [1, 2, 4, 8])
def test_stress_many_sparks_under_gc(workers):
    """10^5 sparks per step, four steps, compaction at every slow path of
    worker 0 and local collections in every worker; the sums must be right."""
    r = native.selftest("sparks", workers, 4)
    assert r.failures == 0, r.report
    created = int(re.search(r"(\d+) created", r.report).group(1))
    assert created >= 100_000, r.report
    compactions = int(re.search(r"(\d+) compactions", r.report).group(1))
    assert compactions > 0, r.report


@pytest.mark.parametrize("workers", [2, 4])
def test_fault_injection_1e5_failures(workers):
    """Helpers fail every 7th reservation until 10^5 failures have been
    injected: every step's answer is right and no claim is ever left."""
    r = native.selftest("inject", workers, 4)
    assert r.failures == 0, r.report
    injected = int(re.search(r"(\d+) injected failures", r.report).group(1))
    assert injected >= 100_000, r.report


def test_context_from_python():
    with native.Context(threads=2, heap=64 << 20) as ctx:
        assert ctx.nworkers == 2
        assert ctx.heap_limit == 64 << 20
        w = ctx.main_worker()
        assert w.id == 0 and w.sp is not None
        s = ctx.stats()
        assert s["steps"] == 0 and len(s["busy_ns"]) == 2


def test_stats_summary_after_a_parallel_workload():
    with native.Context(threads=2) as ctx:
        n = 200_000
        assert ctx.psum(n, 16) == n * (n - 1) // 2
        s = ctx.stats()
        assert s["steps"] == 1
        assert s["sparks_created"] >= n // 16 // 2
        assert s["sparks_converted"] + s["sparks_fizzled"] + s["sparks_gcd"] >= s["sparks_created"] // 2
        assert s["bytes_allocated"] >= n * 24          # at least one cell per element
        text = ctx.stats_text()
    assert re.search(r"[\d,]+ bytes allocated in the heap", text), text
    m = re.search(r"SPARKS: (\d+) \((\d+) converted, (\d+) overflowed, (\d+) dud, "
                  r"(\d+) GC'd, (\d+) fizzled\)", text)
    assert m and int(m.group(1)) == s["sparks_created"], text
    assert "worker 1: busy" in text and "Local GC" in text and "Major GC" in text, text


def test_context_defaults_to_the_number_of_cores():
    with native.Context() as ctx:
        assert ctx.nworkers == (os.cpu_count() or 1)
        assert ctx.heap_limit > 0


# ---- the C library outside Python: static archive and sanitizers ------------------------

def _cc():
    cc = shutil.which(os.environ.get("CC", "gcc")) or shutil.which("cc")
    if not cc:
        pytest.skip("no C compiler")
    return cc


def _build(tmp_path, name, flags):
    src = rt_sources()
    files = sorted(os.path.join(src, f) for f in os.listdir(src)
                   if f.endswith(".c") and f != "rt_main.c")
    exe = tmp_path / name
    cmd = [_cc(), "-std=c11", "-g", "-pthread", *flags, *files, "-o", str(exe), "-lm"]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0 and "sanitize" in " ".join(flags) and "cannot find" in p.stderr:
        pytest.skip(f"sanitizer runtime not installed: {p.stderr.strip()[:200]}")
    assert p.returncode == 0, p.stderr
    return exe


def _run(exe, args, env=None, timeout=600):
    p = subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=timeout,
                       env={**os.environ, **(env or {})})
    return p.returncode, p.stdout + p.stderr


def test_static_library_links_a_standalone_program(tmp_path):
    lib = native.static_library_path()
    if not os.path.exists(lib):
        pytest.skip("libdaisyrt.a is built by a regular (non-editable) install")
    exe = tmp_path / "selftest"
    p = subprocess.run([_cc(), "-std=c11", "-pthread", "-I", rt_sources(),
                        os.path.join(rt_sources(), "rt_selftest_main.c"), lib,
                        "-o", str(exe), "-lm"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    code, out = _run(exe, ["values", "1"])
    assert code == 0 and "ok values" in out, out


ASAN_FLAGS = ["-O1", "-fsanitize=address,undefined", "-fno-omit-frame-pointer",
              "-fno-sanitize-recover=all"]
ASAN_ENV = {"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0"}


@pytest.mark.parametrize("workers", [1, 2, 4])
def test_under_address_sanitizer(tmp_path, workers):
    exe = _build(tmp_path, "rt_asan", ASAN_FLAGS)
    code, out = _run(exe, ["all", str(workers), "1"], env=ASAN_ENV)
    assert code == 0, out[-4000:]
    assert "ERROR: AddressSanitizer" not in out and "runtime error" not in out, out[-4000:]
    assert out.count("\nok ") + out.startswith("ok ") >= len(SELFTESTS) - 1, out[-2000:]


@pytest.mark.parametrize("workers", [2, 4])
def test_under_thread_sanitizer(tmp_path, workers):
    exe = _build(tmp_path, "rt_tsan", ["-O1", "-fsanitize=thread", "-Wno-tsan"])
    code, out = _run(exe, ["all", str(workers), "1"],
                     env={"TSAN_OPTIONS": "halt_on_error=1 second_deadlock_stack=1"})
    assert "WARNING: ThreadSanitizer" not in out, out[-6000:]
    assert code == 0, out[-4000:]


def test_pipelines_on_tasks_keep_their_scratch(tmp_path):
    """Note [Scratch per task] (rt/rt_streams.c): with one scratch per worker, a task
    switch at a reservation between a stage writing its scratch and reading it back
    let another task's stage overwrite it, and formeval's pipelines in sparks came
    out cut short in about 1 run in 8 under ASan at 2 workers. Repeated runs, each
    16 pipelines on helpers and tasks: every one must come out whole."""
    exe = _build(tmp_path, "rt_asan", ASAN_FLAGS)
    for _ in range(6):
        code, out = _run(exe, ["formeval", "2", "1"], env=ASAN_ENV)
        assert "ERROR: AddressSanitizer" not in out and "runtime error" not in out, out[-4000:]
        assert code == 0 and "ok formeval" in out, out[-4000:]


# ---- the command line ------------------------------------------------------------------

def test_daisy_selftest_command():
    p = daisy("selftest", "values", "--threads", "2")
    assert p.returncode == 0 and "ok values (2 workers" in p.stdout, p.stdout + p.stderr


def test_daisy_selftest_unknown_name():
    p = daisy("selftest", "nope")
    assert p.returncode == 2 and "no such test: nope" in p.stderr and not p.stdout
