"""The native runtime, loaded through ctypes.

The C runtime (`rt/*.c`, one public header `daisy_rt.h`) is built by the
project's install into `_daisyrt*.so` (loaded here, and by the JIT through
llvmlite) and `libdaisyrt.a` (linked into `daisy compile` executables).

At import this module checks that the library's layout table agrees with the
constants below, which are the Python side's copy of the ABI that generated
code relies on (Note [Worker state], Note [Value tags], Note [Heap object
layout] in daisy_rt.h): a mismatch raises ``RuntimeLayoutError`` instead of
letting generated code write into the wrong fields.
"""
from __future__ import annotations

import ctypes
import glob
import os
import struct
import tempfile
from dataclasses import dataclass

HERE = os.path.dirname(os.path.abspath(__file__))

# ---- the ABI, as generated code sees it ------------------------------------------

ABI_VERSION = 1
TAG_MASK, TAG_PTR, TAG_ATOM, TAG_PRIM, TAG_CONST = 7, 0, 2, 4, 6
NIL, UNIT = 0x06, 0x0E
FIX_MIN, FIX_MAX = -(1 << 62), (1 << 62) - 1
TYPES = {"cons": 1, "susp": 2, "closure": 3, "boxint": 4, "float": 5, "error": 6, "form": 7}
SUSP_STATE, SUSP_CODE, SUSP_VALUE, SUSP_ENV = 0, 1, 2, 3
SUSP_UNEVALUATED, SUSP_EVALUATED = 0, 1
CLOSURE_CODE, CLOSURE_FREE = 0, 1
REGION_BYTES = 2 << 20


class Worker(ctypes.Structure):
    """The first fields of rt_worker: the part generated code reads and writes."""
    _fields_ = [
        ("hp", ctypes.c_void_p),
        ("limit", ctypes.c_void_p),
        ("sp", ctypes.c_void_p),
        ("sp_limit", ctypes.c_void_p),
        ("interrupt", ctypes.c_uint32),
        ("id", ctypes.c_uint32),
        ("ctx", ctypes.c_void_p),
        ("stack_limit", ctypes.c_size_t),
    ]


class Config(ctypes.Structure):
    _fields_ = [
        ("nworkers", ctypes.c_uint32),
        ("heap_limit", ctypes.c_uint64),
        ("local_budget", ctypes.c_uint64),
        ("deque_capacity", ctypes.c_uint32),
        ("inject_fail_every", ctypes.c_uint64),
        ("gc_stress", ctypes.c_uint32),
        ("root_stack_words", ctypes.c_size_t),
        ("helper_stack_bytes", ctypes.c_size_t),
        ("main_stack_bytes", ctypes.c_size_t),
        ("trace_events", ctypes.c_uint64),
        ("no_pin", ctypes.c_uint32),
    ]


STAT_FIELDS = (
    "bytes_allocated local_gcs local_pause_ns local_pause_max_ns "
    "major_gcs major_pause_ns major_pause_max_ns "
    "peak_heap_bytes live_bytes_after_major heap_in_use_bytes "
    "sparks_created sparks_dud sparks_overflowed sparks_converted sparks_fizzled sparks_gcd "
    "alloc_failures unwinds released_claims promotions steps susps_allocated fx_giveups "
    "selectors_resolved major_joins local_skips "
    "tasks_members tasks_sparks task_switches preemptions tasks_cancelled").split()


class Stats(ctypes.Structure):
    _fields_ = [(name, ctypes.c_uint64) for name in STAT_FIELDS]


class LayoutEntry(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("value", ctypes.c_int64)]


def expected_layout() -> dict[str, int]:
    """What this Python side believes the C side's layout is."""
    exp = {
        "abi_version": ABI_VERSION,
        "tag.mask": TAG_MASK, "tag.ptr": TAG_PTR, "tag.atom": TAG_ATOM,
        "tag.prim": TAG_PRIM, "tag.const": TAG_CONST,
        "nil": NIL, "unit": UNIT, "fix.min": FIX_MIN, "fix.max": FIX_MAX,
        "susp.state": SUSP_STATE, "susp.code": SUSP_CODE, "susp.value": SUSP_VALUE,
        "susp.env": SUSP_ENV, "susp.unevaluated": SUSP_UNEVALUATED,
        "susp.evaluated": SUSP_EVALUATED,
        "closure.code": CLOSURE_CODE, "closure.free": CLOSURE_FREE,
        "region.bytes": REGION_BYTES, "stats.size": ctypes.sizeof(Stats),
        "config.size": ctypes.sizeof(Config),
    }
    for name, value in TYPES.items():
        exp[f"type.{name}"] = value
    for name, *_ in Worker._fields_:
        exp[f"worker.{name}"] = getattr(Worker, name).offset
    return exp


class RuntimeUnavailable(RuntimeError):
    """The native runtime library is not built (install with pip)."""


class RuntimeLayoutError(RuntimeError):
    """The library's layout disagrees with this Python side's."""


def library_path() -> str:
    found = sorted(glob.glob(os.path.join(HERE, "_daisyrt*.so")))
    if not found:
        raise RuntimeUnavailable(
            "the native runtime is not built; install daisy-jit with "
            "`pip install .` (it compiles rt/ with the system C compiler)")
    return found[0]


def static_library_path() -> str:
    return os.path.join(HERE, "libdaisyrt.a")


def source_files() -> list[str]:
    """The runtime library's C sources (packaged with it), without the two
    programs' main()s (rt_main.c, rt_selftest_main.c)."""
    return sorted(p for p in glob.glob(os.path.join(HERE, "rt_*.c"))
                  if not p.endswith("_main.c"))


def parse_size(text: str) -> int:
    """`--heap` sizes: 512M, 2G, 64k, or bytes; 0 when malformed."""
    return load().rt_parse_size(text.encode())


def check_layout(table: dict[str, int], expected: dict[str, int] | None = None) -> None:
    expected = expected_layout() if expected is None else expected
    wrong = [f"{k}: C says {table.get(k)}, Python says {v}"
             for k, v in expected.items() if table.get(k) != v]
    if wrong:
        raise RuntimeLayoutError("runtime layout mismatch:\n  " + "\n  ".join(wrong))


_U64, _U32, _P, _D = ctypes.c_uint64, ctypes.c_uint32, ctypes.c_void_p, ctypes.c_double
_SIGNATURES = {
    "rt_ctx_new": (_P, [ctypes.POINTER(Config)]),
    "rt_ctx_free": (None, [_P]),
    "rt_ctx_main": (_P, [_P]),
    "rt_ctx_nworkers": (_U32, [_P]),
    "rt_stats_get": (None, [_P, ctypes.POINTER(Stats)]),
    "rt_worker_busy_ns": (_U64, [_P, _U32]),
    "rt_heap_limit": (_U64, [_P]),
    "rt_layout_table": (ctypes.POINTER(LayoutEntry), []),
    "rt_selftest_to": (ctypes.c_int, [ctypes.c_char_p, _U32, _U64, ctypes.c_char_p]),
    "rt_step": (ctypes.c_int, [_P, _P, _U64, ctypes.POINTER(_U64)]),
    "rt_request_interrupt": (None, [_P]),
    "rt_global_new": (_U32, [_P, _U64]),
    "rt_global_get": (_U64, [_P, _U32]),
    "rt_gc_major": (None, [_P]),
    "rt_run_toplevel_fd": (ctypes.c_int, [_P, _U32, _P, ctypes.c_int]),
    "rt_parse_size": (_U64, [ctypes.c_char_p]),
    "rt_set_eval_hook": (None, [_P, _P]),
    "rt_sigint_install": (None, [_P]),
    "rt_streams_init": (None, [_P]),
    "rt_error_new": (_U64, [_P, ctypes.c_char_p]),
    "rt_atom_name": (ctypes.c_void_p, [_P, _U64, ctypes.POINTER(ctypes.c_size_t)]),
    "rt_prim_count": (_U32, []),
    "rt_prim_name": (ctypes.c_char_p, [_U32]),
    "rt_test_psum_run": (ctypes.c_int64, [_P, ctypes.c_int64, ctypes.c_int64]),
    "rt_test_print_desc": (ctypes.c_int, [_P, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int]),
    "rt_stats_print_path": (ctypes.c_int, [_P, ctypes.c_char_p]),
    "rt_bench_alloc_ns_per_cell": (_D, [_U64]),
    "rt_bench_c_bump_ns_per_cell": (_D, [_U64]),
    "rt_bench_spark_fizzle_ns": (_D, [_U64, _U32]),
    "rt_bench_local_gc_pause": (ctypes.c_int, [_U32, _U32, ctypes.POINTER(_U64)]),
    "rt_bench_resume": (ctypes.c_int, [_U32, ctypes.POINTER(_U64)]),
    "rt_bench_par_alloc_ns": (_D, [_U32, _U64, _U64]),
    "rt_trace_kind_name": (ctypes.c_char_p, [_U32]),
    "rt_trace_enabled": (ctypes.c_int, [_P]),
    "rt_trace_epoch_ns": (_U64, [_P]),
    "rt_trace_capacity": (_U64, [_P]),
    "rt_trace_count": (_U64, [_P, _U32]),
    "rt_trace_dropped": (_U64, [_P, _U32]),
    "rt_trace_read": (ctypes.c_size_t, [_P, _U32, _U64, _P, ctypes.c_size_t]),
}

# rt_trace_event (daisy_rt.h): start_ns, end_ns, kind, arg
TRACE_EVENT = struct.Struct("<QQII")
TRACE_STEP, TRACE_AWAKE, TRACE_SPARK_RUN, TRACE_SPARK_STOLEN = 1, 2, 3, 4
TRACE_GC_LOCAL, TRACE_GC_MAJOR, TRACE_GC_STOPPED, TRACE_UNWIND = 5, 6, 7, 8
TRACE_GC_HELP = 9

_lib = None


def load() -> ctypes.CDLL:
    """Load the runtime once, declare its functions, check its layout."""
    global _lib
    if _lib is None:
        lib = ctypes.CDLL(library_path())
        for name, (restype, argtypes) in _SIGNATURES.items():
            fn = getattr(lib, name)
            fn.restype, fn.argtypes = restype, argtypes
        check_layout(layout_table(lib))
        _lib = lib
    return _lib


def layout_table(lib: ctypes.CDLL | None = None) -> dict[str, int]:
    lib = lib or load()
    entries, i = {}, 0
    table = lib.rt_layout_table()
    while table[i].name is not None:
        entries[table[i].name.decode()] = table[i].value
        i += 1
    return entries


SELFTESTS = ("values", "local_gc", "major_gc", "force", "cycle", "deque", "sparks",
             "inject", "main_fail", "exhausted", "interrupt", "churn", "barrier", "inbox",
             "print", "deep", "prims", "streams", "trace", "selectors", "populate", "parallel_gc",
             "tasks", "formeval")


@dataclass
class SelfTestResult:
    failures: int
    report: str


def selftest(name: str = "all", workers: int = 2, scale: int = 1) -> SelfTestResult:
    """Run a built-in self-test (rt_selftest.c) in this process."""
    lib = load()
    failures = None

    def write(path: bytes) -> None:
        nonlocal failures
        failures = lib.rt_selftest_to(name.encode(), workers, scale, path)
    report = _captured(write)
    return SelfTestResult(failures, report)


def _captured(write) -> str:
    """The text a C function writes to the file whose path it is given
    (ctypes has no FILE *)."""
    with tempfile.NamedTemporaryFile("r", suffix=".txt") as f:
        write(f.name.encode())
        return f.read()


class Context:
    """A runtime context: the heap, the workers, the statistics."""

    def __init__(self, threads: int = 0, heap: int = 0, *, gc_stress: bool = False,
                 inject_fail_every: int = 0, trace_events: int = 0, no_pin: bool = False):
        """trace_events > 0 records a timeline (rt_trace.c): at most that many
        events per worker, read with trace_events().  no_pin leaves the helpers'
        CPUs to the kernel (Note [Worker placement] in rt_ctx.c)."""
        self._lib = load()
        cfg = Config(nworkers=threads, heap_limit=heap, gc_stress=int(gc_stress),
                     inject_fail_every=inject_fail_every, trace_events=trace_events,
                     no_pin=int(no_pin))
        self._ctx = self._lib.rt_ctx_new(ctypes.byref(cfg))
        if not self._ctx:
            raise MemoryError("could not create a runtime context")

    @property
    def nworkers(self) -> int:
        return self._lib.rt_ctx_nworkers(self._ctx)

    @property
    def heap_limit(self) -> int:
        return self._lib.rt_heap_limit(self._ctx)

    def main_worker(self) -> Worker:
        return Worker.from_address(self._lib.rt_ctx_main(self._ctx))

    def stats(self) -> dict[str, int]:
        s = Stats()
        self._lib.rt_stats_get(self._ctx, ctypes.byref(s))
        out = {name: getattr(s, name) for name in STAT_FIELDS}
        out["busy_ns"] = [self._lib.rt_worker_busy_ns(self._ctx, i) for i in range(self.nworkers)]
        return out

    STEP_OK, STEP_HEAP_EXHAUSTED, STEP_INTERRUPTED = 0, 1, 2

    def step(self, fn_address: int, arg: int) -> tuple[int, int]:
        """Run native code `rt_val fn(rt_worker *, rt_val)` as an evaluation step
        (the GIL is released meanwhile); returns (status, value)."""
        out = ctypes.c_uint64(0)
        status = self._lib.rt_step(self._ctx, fn_address, arg, ctypes.byref(out))
        return status, out.value

    def request_interrupt(self) -> None:
        self._lib.rt_request_interrupt(self._ctx)

    def global_new(self, value: int) -> int:
        """Make `value` a global root (a top-level definition); returns its index."""
        return self._lib.rt_global_new(self._ctx, value)

    def global_get(self, index: int) -> int:
        return self._lib.rt_global_get(self._ctx, index)

    def compact(self) -> None:
        """A compaction now (worker 0, between steps)."""
        self._lib.rt_gc_major(self._lib.rt_ctx_main(self._ctx))

    def stats_text(self) -> str:
        """The summary `--stats` prints (rt_stats_print)."""
        return _captured(lambda path: self._lib.rt_stats_print_path(self._ctx, path))

    def run_toplevel(self, n: int, fn_address: int, fd: int) -> int:
        """Evaluate and print a program's n top-level values to file descriptor
        fd, as `daisy run` does (rt_program.c); returns the exit status."""
        return self._lib.rt_run_toplevel_fd(self._ctx, n, fn_address, fd)

    def print_described(self, desc: bytes) -> str:
        """Build a value from a description (see rt_selftest.c) inside a step and
        return what the runtime's printer writes for it at the top level."""
        with tempfile.TemporaryFile("w+b") as f:
            status = self._lib.rt_test_print_desc(self._ctx, desc, len(desc), f.fileno())
            if status != 0:
                raise RuntimeError(f"printing failed ({status})")
            f.seek(0)
            return f.read().decode("utf-8", errors="replace")

    def psum(self, n: int, grain: int) -> int:
        """A test workload: sum 0..n-1 by divide and conquer, sparking one half
        of every range longer than `grain`, as one evaluation step."""
        return self._lib.rt_test_psum_run(self._ctx, n, grain)

    # ---- the timeline (rt_trace.c) ----
    @property
    def tracing(self) -> bool:
        return bool(self._lib.rt_trace_enabled(self._ctx))

    @property
    def trace_epoch_ns(self) -> int:
        """CLOCK_MONOTONIC when the context was made: the trace's time zero."""
        return self._lib.rt_trace_epoch_ns(self._ctx)

    @property
    def trace_capacity(self) -> int:
        return self._lib.rt_trace_capacity(self._ctx)

    def trace_dropped(self, worker: int) -> int:
        """Events worker could not record because its buffer was full."""
        return self._lib.rt_trace_dropped(self._ctx, worker)

    def trace_events(self, worker: int, first: int = 0) -> list[tuple[int, int, int, int]]:
        """Worker's recorded events from index `first` on, as (start_ns, end_ns, kind,
        arg) in the order they ended (TRACE_* kinds; an instant has end == start)."""
        n = self._lib.rt_trace_count(self._ctx, worker)
        if n <= first:
            return []
        buf = ctypes.create_string_buffer((n - first) * TRACE_EVENT.size)
        got = self._lib.rt_trace_read(self._ctx, worker, first, buf, n - first)
        return list(TRACE_EVENT.iter_unpack(buf.raw[:got * TRACE_EVENT.size]))

    def close(self) -> None:
        if self._ctx:
            self._lib.rt_ctx_free(self._ctx)
            self._ctx = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()


def trace_kind_name(kind: int) -> str | None:
    """The runtime's name for a TRACE_* kind (rt_trace_kind_name)."""
    name = load().rt_trace_kind_name(kind)
    return name.decode() if name is not None else None

