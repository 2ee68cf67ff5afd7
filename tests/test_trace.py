"""`daisy run --trace FILE`: the runtime's timeline as a Chrome Trace Event file
(rt/rt_trace.c records, jit/trace.py writes).

The trace of an annotated quicksort at two workers must show both workers busy; a
program that allocates enough under a small --heap must show collections; every
event must be well formed and the spans on each lane must nest, as the viewers
(Perfetto, chrome://tracing) expect. The runtime's own self-test of the buffers runs
in process and in the ThreadSanitizer and AddressSanitizer builds (the buffers are
written by several threads and read while helpers may still be recording).
"""
import json
import signal
import subprocess

import pytest

from conftest import daisy, daisy_command
from daisy.rt import native

# The thesis's quicksort (README, examples/quicksort.dsy) on 100,000 LCG integers,
# checked in one pass: [count sorted?].
QUICKSORT = """\
quick = \\L. let:[[X ! Xs] L
          if:[nil?:L L  nil?:Xs L
              let:[[lo hi] partition:[X Xs]
                   append:[@#quick:lo [X ! @#quick:hi]]]]]
partition = \\[p L]. part:[p L [] []]
part = \\[p L lo hi]. let:[[X ! Xs] L
          if:[nil?:L [lo hi]
              le?:[X p] part:[p Xs [X ! lo] hi]
              part:[p Xs lo [X ! hi]]]]
append = \\[L1 L2]. let:[[X ! Xs] L1 if:[nil?:L1 L2 [X ! $append:[Xs L2]]]]
randoms = \\[n seed]. if:[zero?:n []
            let:[s rem:[add:[mpy:[seed 1103515245] 12345] 2147483648]
                 [rem:[s 1000000] ! randoms:[dcr:n s]]]]
check = \\[L n prev ok]. let:[[X ! Xs] L
          if:[nil?:L [n ok]
              check:[Xs $inc:n X if:[le?:[prev X] ok []]]]]
check:[quick:randoms:[100000 42] 0 0 true]
"""

# Allocates about 30 MB, keeping almost none of it.
ALLOCATES = """\
randoms = \\[n seed]. if:[zero?:n []
            let:[s rem:[add:[mpy:[seed 1103515245] 12345] 2147483648]
                 [s ! randoms:[dcr:n s]]]]
len = \\[L n]. let:[[X ! Xs] L if:[nil?:L n len:[Xs $inc:n]]]
len:[randoms:[300000 1] 0]
"""

NAMES = {"step", "awake", "spark", "steal", "local GC", "compaction",
         "stopped for compaction", "unwind", "compaction (helping)"}


def traced(tmp_path, source, *flags, timeout=300):
    prog = tmp_path / "prog.dsy"
    prog.write_text(source)
    out = tmp_path / "trace.json"
    p = daisy("run", *flags, "--trace", out, prog, timeout=timeout)
    return p, out


def load(path) -> dict:
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    check_well_formed(doc)
    return doc


def check_well_formed(doc: dict) -> None:
    assert set(doc) >= {"traceEvents", "displayTimeUnit", "otherData"}
    assert doc["displayTimeUnit"] == "ms"
    nworkers = doc["otherData"]["workers"]
    lanes = {}
    for e in doc["traceEvents"]:
        assert e["pid"] == 1 and e["tid"] in range(nworkers), e
        if e["ph"] == "M":
            if e["name"] == "thread_name":
                lanes[e["tid"]] = e["args"]["name"]
            continue
        assert e["ph"] in ("X", "i"), e
        assert e["name"] in NAMES and e["cat"] in ("step", "spark", "gc"), e
        assert isinstance(e["ts"], (int, float)) and e["ts"] >= 0, e
        if e["ph"] == "X":
            assert isinstance(e["dur"], (int, float)) and e["dur"] >= 0, e
        else:
            assert e["s"] == "t" and "dur" not in e, e
    assert lanes == {w: "worker 0 (main)" if w == 0 else f"worker {w}"
                     for w in range(nworkers)}
    for w in range(nworkers):
        assert_nested([e for e in doc["traceEvents"] if e["ph"] == "X" and e["tid"] == w], w)


def assert_nested(spans: list[dict], lane: int) -> None:
    """Complete events on one lane nest (what the viewers draw as a stack)."""
    spans = sorted(spans, key=lambda e: (e["ts"], -e["dur"]))
    stack: list[float] = []          # end times of the open spans
    eps = 0.002                      # rounding to nanoseconds in microseconds
    for e in spans:
        while stack and stack[-1] <= e["ts"] + eps:
            stack.pop()
        end = e["ts"] + e["dur"]
        assert not stack or end <= stack[-1] + eps, f"lane {lane}: {e} overlaps its parent"
        stack.append(end)


def events(doc, tid=None, name=None):
    return [e for e in doc["traceEvents"] if e["ph"] != "M"
            and (tid is None or e["tid"] == tid) and (name is None or e["name"] == name)]


def outermost_busy_us(doc, tid, name) -> float:
    """Total time covered by `name` spans on a lane, nested ones counted once."""
    total, end = 0.0, -1.0
    for e in sorted(events(doc, tid, name), key=lambda e: e["ts"]):
        a, b = e["ts"], e["ts"] + e["dur"]
        if b > end:
            total += b - max(a, end)
            end = b
    return total


# ---- (a) both workers busy in the annotated quicksort ------------------------------------

def test_quicksort_trace_shows_both_workers_busy(tmp_path):
    p, out = traced(tmp_path, QUICKSORT, "--threads", "2", "--heap", "1G")
    assert p.returncode == 0, p.stderr
    assert p.stdout == "[100000 true]\n", p.stdout
    doc = load(out)
    other = doc["otherData"]
    assert other["workers"] == 2 and other["exit_status"] == 0 and other["engine"] == "jit"
    assert other["dropped_events"] == {"worker 0 (main)": 0, "worker 1": 0}
    assert other["stats"]["steps"] == 2
    # worker 0 evaluates the steps; worker 1 runs sparks it stole from worker 0
    step_us = outermost_busy_us(doc, 0, "step")
    spark1_us = outermost_busy_us(doc, 1, "spark")
    assert len(events(doc, 0, "step")) == 2 and step_us > 0
    assert events(doc, 1, "spark") and spark1_us > 0.05 * step_us, (step_us, spark1_us)
    assert events(doc, 1, "steal")
    assert all(e["args"]["victim"] == 0 for e in events(doc, 1, "steal"))
    # worker 0 does nothing outside its steps
    steps = events(doc, 0, "step")
    for e in events(doc, 0):
        assert any(s["ts"] <= e["ts"] and e["ts"] + e.get("dur", 0) <= s["ts"] + s["dur"] + 0.002
                   for s in steps), e


# ---- (b) collections under a small heap ---------------------------------------------------

def test_gc_pauses_appear_with_a_small_heap(tmp_path):
    p, out = traced(tmp_path, ALLOCATES, "--threads", "1", "--heap", "16M")
    assert p.returncode == 0 and p.stdout == "300000\n", p.stderr
    doc = load(out)
    gcs = events(doc, 0, "local GC") + events(doc, 0, "compaction")
    assert events(doc, 0, "compaction"), sorted({e["name"] for e in events(doc)})
    assert all(e["cat"] == "gc" for e in gcs)
    assert sum(e["dur"] for e in gcs) > 0
    assert len(events(doc, 0, "local GC")) == doc["otherData"]["stats"]["local_gcs"]
    assert len(events(doc, 0, "compaction")) == doc["otherData"]["stats"]["major_gcs"]


# ---- the trace is written however the run ends -------------------------------------------

def test_trace_written_when_the_heap_is_exhausted(tmp_path):
    source = ALLOCATES.replace("len:[randoms:[300000 1] 0]",
                               "div:[1 0]\nx = randoms:[3000000 1]\nlen:[x 0]")
    p, out = traced(tmp_path, source, "--threads", "1", "--heap", "16M")
    assert p.returncode == 3 and "heap exhausted" in p.stderr, p.stderr
    assert p.stdout == "<error: division by zero in div>\n"
    doc = load(out)
    assert doc["otherData"]["exit_status"] == 3
    unwinds = events(doc, 0, "unwind")
    assert unwinds and all(e["args"]["reason"] == "allocation failure" for e in unwinds)


def test_trace_written_after_ctrl_c(tmp_path):
    prog = tmp_path / "nats.dsy"
    prog.write_text("nats = \\n. [n ! nats:inc:n]\nnats:0\n")
    out = tmp_path / "trace.json"
    p = subprocess.Popen(daisy_command() + ["run", "--threads", "2", "--trace", str(out),
                                            str(prog)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdout.read(20000)                     # it is running and printing
    p.send_signal(signal.SIGINT)
    try:
        p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        raise
    assert p.returncode == 130
    doc = load(out)
    assert doc["otherData"]["exit_status"] == 130
    assert events(doc, 0, "step")


# ---- usage errors -------------------------------------------------------------------------

def test_trace_with_interp_is_a_usage_error(tmp_path):
    p, out = traced(tmp_path, "1\n", "--interp")
    assert p.returncode == 2 and not p.stdout
    assert "--trace" in p.stderr and "--interp" in p.stderr and "Traceback" not in p.stderr
    assert not out.exists()


def test_unwritable_trace_path_fails_before_running(tmp_path):
    prog = tmp_path / "prog.dsy"
    prog.write_text("1\n")
    p = daisy("run", "--trace", tmp_path / "no" / "such" / "dir.json", prog)
    assert p.returncode == 2 and not p.stdout, p.stdout
    assert "cannot write the trace" in p.stderr and "Traceback" not in p.stderr


def test_trace_with_emit_llvm_is_a_usage_error(tmp_path):
    p, out = traced(tmp_path, "1\n", "--emit-llvm")
    assert p.returncode == 2 and not p.stdout and "--emit-llvm" in p.stderr


# ---- (c) the runtime's self-test ----------------------------------------------------------

@pytest.mark.parametrize("workers", [1, 2, 4])
def test_trace_selftest(workers):
    r = native.selftest("trace", workers, 1)
    assert r.failures == 0, r.report
    assert "ok trace" in r.report, r.report


def test_python_and_runtime_name_the_events_alike():
    from daisy.jit.trace import KINDS
    assert {k: native.trace_kind_name(k) for k in KINDS} == {k: v[0] for k, v in KINDS.items()}
    assert native.trace_kind_name(0) is None and native.trace_kind_name(len(KINDS) + 1) is None


def test_context_without_tracing_records_nothing():
    with native.Context(threads=2) as ctx:
        assert not ctx.tracing and ctx.trace_events(0) == [] and ctx.trace_dropped(0) == 0
        assert ctx.psum(100_000, 16) == 100_000 * 99_999 // 2
        assert ctx.trace_events(0) == [] and ctx.trace_events(1) == []


def test_events_read_through_ctypes():
    with native.Context(threads=2, trace_events=1000) as ctx:
        assert ctx.tracing and ctx.trace_capacity == 1000
        assert ctx.psum(100_000, 16) == 100_000 * 99_999 // 2
        evs = ctx.trace_events(0)
        steps = [e for e in evs if e[2] == native.TRACE_STEP]
        assert len(steps) == 1 and steps[0][0] >= ctx.trace_epoch_ns and steps[0][1] > steps[0][0]
        assert ctx.trace_events(0, first=len(evs)) == []
        assert ctx.trace_events(0, first=1) == evs[1:]


def _sanitized(tmp_path, name, flags, env):
    from test_rt import _build, _run
    exe = _build(tmp_path, name, flags)
    return _run(exe, ["trace", "2", "1"], env=env)


def test_trace_selftest_under_thread_sanitizer(tmp_path):
    code, out = _sanitized(tmp_path, "rt_tsan", ["-O1", "-fsanitize=thread", "-Wno-tsan"],
                           {"TSAN_OPTIONS": "halt_on_error=1 second_deadlock_stack=1"})
    assert "WARNING: ThreadSanitizer" not in out, out[-6000:]
    assert code == 0 and "ok trace" in out, out[-4000:]


def test_trace_selftest_under_address_sanitizer(tmp_path):
    code, out = _sanitized(tmp_path, "rt_asan", ["-O1", "-fsanitize=address,undefined",
                                                 "-fno-omit-frame-pointer",
                                                 "-fno-sanitize-recover=all"],
                           {"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0"})
    assert code == 0 and "ok trace" in out, out[-4000:]
    assert "ERROR: AddressSanitizer" not in out and "runtime error" not in out, out[-4000:]
