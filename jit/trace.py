"""`daisy run --trace FILE`: the runtime's timeline as a Chrome Trace Event file.

The runtime records, per worker, what it did and when (rt/rt_trace.c: evaluation
steps, sparks run and stolen, local collections, compactions and the helpers' pauses
for them). This module reads those events out of a context (``native.Context
.trace_events``) and writes them in the Chrome Trace Event format, which Perfetto
(https://ui.perfetto.dev, "Open trace file") and chrome://tracing open: one process,
one lane (tid) per worker, "X" complete events for spans, "i" instants for steals and
unwinds, "M" metadata naming the lanes, and the run's summary in "otherData".

    trace = TraceFile.open("out.json")       # None after a message: exit status 2
    ctx = prog.context(threads, heap, trace_events=TRACE_EVENTS)
    ...run...
    trace.write(ctx, program="prog.dsy", status=status)
"""
from __future__ import annotations

import json
import sys

from ..rt import native

# Events each worker may record: at most 24 MiB per worker, allocated 1.5 MiB at a
# time as the run needs it. Beyond that, events are counted as dropped.
TRACE_EVENTS = 1 << 20

# kind -> (name, category, phase, name of the argument or None)
KINDS = {
    native.TRACE_STEP: ("step", "step", "X", "step"),
    native.TRACE_AWAKE: ("awake", "step", "X", None),
    native.TRACE_SPARK_RUN: ("spark", "spark", "X", "spark"),
    native.TRACE_SPARK_STOLEN: ("steal", "spark", "i", "victim"),
    native.TRACE_GC_LOCAL: ("local GC", "gc", "X", "reclaimed_kib"),
    native.TRACE_GC_MAJOR: ("compaction", "gc", "X", "live_kib"),
    native.TRACE_GC_STOPPED: ("stopped for compaction", "gc", "X", "asked"),
    native.TRACE_UNWIND: ("unwind", "step", "i", "reason"),
    native.TRACE_GC_HELP: ("compaction (helping)", "gc", "X", None),
}
UNWIND_REASONS = {1: "allocation failure", 2: "abandoned: the step ended", 3: "interrupted",
                  4: "cancelled: any? has its answer"}


def trace_events_wanted(args) -> int:
    """The per-worker event limit for a context: nonzero only with --trace."""
    return TRACE_EVENTS if getattr(args, "trace", None) else 0


def lane_name(worker: int) -> str:
    return "worker 0 (main)" if worker == 0 else f"worker {worker}"


def chrome_events(ctx: native.Context, process_name: str) -> list[dict]:
    """Every recorded event of every worker as Chrome trace events (times in
    microseconds since the context was made), after the lanes' metadata."""
    epoch = ctx.trace_epoch_ns
    out: list[dict] = [{"name": "process_name", "ph": "M", "pid": 1, "tid": 0,
                        "args": {"name": process_name}}]
    for w in range(ctx.nworkers):
        out.append({"name": "thread_name", "ph": "M", "pid": 1, "tid": w,
                    "args": {"name": lane_name(w)}})
        out.append({"name": "thread_sort_index", "ph": "M", "pid": 1, "tid": w,
                    "args": {"sort_index": w}})
    for w in range(ctx.nworkers):
        for start, end, kind, arg in ctx.trace_events(w):
            name, cat, ph, argname = KINDS.get(kind, (f"kind {kind}", "unknown", "X", "arg"))
            ev = {"name": name, "cat": cat, "ph": ph, "ts": round((start - epoch) / 1000, 3),
                  "pid": 1, "tid": w}
            if ph == "X":
                ev["dur"] = round((end - start) / 1000, 3)
            else:
                ev["s"] = "t"          # an instant on this lane only
            if kind == native.TRACE_SPARK_RUN:
                # rt/daisy_rt.h RT_TRACE_SPARK_*: a spark task's (its worker's other
                # tasks waited), and a later stretch of a run its task left and resumed
                ev["args"] = {"while_waiting": bool(arg & 1), "resumed": bool(arg & 2)}
            elif argname:
                ev["args"] = {argname: UNWIND_REASONS.get(arg, arg)
                              if kind == native.TRACE_UNWIND else arg}
            out.append(ev)
    return out


def chrome_trace(ctx: native.Context, *, process_name: str, other: dict | None = None) -> dict:
    """The whole trace document: events, display unit, and what the run was."""
    dropped = {lane_name(w): ctx.trace_dropped(w) for w in range(ctx.nworkers)}
    stats = ctx.stats()
    other = {
        **(other or {}),
        "workers": ctx.nworkers,
        "heap_limit_bytes": ctx.heap_limit,
        "clock": "CLOCK_MONOTONIC; ts and dur in microseconds since the context was made",
        "events_per_worker_limit": ctx.trace_capacity,
        "dropped_events": dropped,
        "stats": stats,
    }
    return {"traceEvents": chrome_events(ctx, process_name), "displayTimeUnit": "ms",
            "otherData": other}


class TraceFile:
    """The --trace output: opened before the run (so a bad path is a usage error
    before anything runs), written after it, whatever the exit status."""

    def __init__(self, path: str, f):
        self.path = path
        self.f = f

    @classmethod
    def open(cls, path: str) -> "TraceFile | None":
        try:
            return cls(path, open(path, "w", encoding="utf-8"))
        except OSError as e:
            print(f"daisy: cannot write the trace to {path}: {e.strerror or e}", file=sys.stderr)
            return None

    def write(self, ctx: native.Context, *, program: str, status: int) -> bool:
        """Write the trace; False (after a message) if the file could not be written."""
        doc = chrome_trace(ctx, process_name=f"daisy run {program}",
                           other={"program": program, "engine": "jit", "exit_status": status})
        dropped = sum(doc["otherData"]["dropped_events"].values())
        if dropped:
            print(f"daisy: trace: {dropped} events dropped (each worker keeps at most "
                  f"{ctx.trace_capacity}); the trace covers the start of the run",
                  file=sys.stderr)
        try:
            with self.f:
                json.dump(doc, self.f, separators=(",", ":"))
                self.f.write("\n")
        except OSError as e:
            print(f"daisy: cannot write the trace to {self.path}: {e.strerror or e}",
                  file=sys.stderr)
            return False
        return True

    def close(self) -> None:
        self.f.close()
