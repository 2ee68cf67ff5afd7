"""`daisy bench`: the benchmark programs of bench/ against GHC, Chez Scheme and CPython.

Every Daisy program in bench/programs runs at growing sizes on 1 and 2 workers
(`daisy run --threads K --stats` in a subprocess, after one warm-up run that fills the
compile cache), and the same algorithm runs in each peer language that is installed
(bench/peers; a missing tool is skipped with a note). Every answer is checked against
CPython's. The results are a table on stdout, DIR/results.json and two charts drawn by
benchcharts.py. A program's size is its line `N = <integer>`, which the harness
replaces (bench/README.md).

    daisy bench [--quick] [--out DIR] [PROGRAM ...]
"""
from __future__ import annotations

import datetime
import hashlib
import json
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import __version__

from .status import EXIT_FAILED, EXIT_SOURCE as EXIT_USAGE
FULL_ROUNDS = 3
TIMEOUT = {"quick": 60, "full": 600}          # seconds per run
SIZE_LINE = re.compile(r"^N = -?\d+$", re.MULTILINE)
SPARKS = re.compile(r"SPARKS: (\d+) \((\d+) converted, (\d+) overflowed, (\d+) dud, "
                    r"(\d+) GC'd, (\d+) fizzled\)")
SPARK_FIELDS = ("created", "converted", "overflowed", "dud", "gcd", "fizzled")
DAISY = [sys.executable, "-m", "daisy.cli"]
# A fixed heap limit for daisy, far above what any program here needs: the default, 3/4
# of physical memory, has let quicksort-par take the machine (bench/RESULTS.md).
DAISY_HEAP = "4G"


@dataclass(frozen=True)
class Program:
    """A benchmark: bench/programs/NAME.dsy and its peers, at growing sizes."""
    name: str
    sizes: tuple[int, ...]

    @property
    def base(self) -> str:
        """The program a `-par` variant annotates: peers without a parallel version of
        their own run the sequential one."""
        return self.name.removesuffix("-par")


SUITE = (
    Program("startup", (0,)),
    Program("nfib", (26, 31, 36)),
    Program("tak", (18, 24, 30)),
    Program("queens", (6, 9, 11)),
    Program("primes", (1000, 2000, 4000)),
    Program("hamming", (1000, 3000, 10000)),
    Program("quicksort", (10_000, 100_000, 1_000_000)),
    Program("quicksort-par", (10_000, 100_000, 1_000_000)),
    Program("sumeuler", (500, 1000, 2000)),
    Program("mandelbrot", (100, 200, 400)),
    Program("loop-map", (10_000, 100_000, 1_000_000)),
    Program("loop-range", (10_000, 100_000, 1_000_000)),
)


# ---- where the suite lives ----

def suite_paths() -> tuple[Path, Path]:
    """(programs, peers): bench/programs and bench/peers beside the package's sources (a
    checkout or an editable install), else the copies installed with the package as
    daisy.bench_programs and daisy.bench_peers."""
    checkout = Path(__file__).resolve().parent.parent / "bench"
    if (checkout / "programs").is_dir():
        return checkout / "programs", checkout / "peers"
    here = Path(__file__).resolve().parent
    return here / "bench_programs", here / "bench_peers"


def sized_source(program: Program, size: int) -> str:
    """The program's text with its size line set to `N = size`."""
    text = (suite_paths()[0] / f"{program.name}.dsy").read_text(encoding="utf-8")
    sized, count = SIZE_LINE.subn(f"N = {size}", text)
    if count != 1:
        raise ValueError(f"{program.name}.dsy must have exactly one line `N = <integer>`")
    return sized


def peer_source(lang: str, program: Program, ext: str) -> Path | None:
    for name in (program.name, program.base):
        path = suite_paths()[1] / lang / f"{name}.{ext}"
        if path.exists():
            return path
    return None


# ---- one run of one command ----

@dataclass
class Run:
    seconds: float
    rss_kb: int
    status: int
    stdout: str
    stderr: str
    timed_out: bool


def measure(cmd: list[str], timeout: float) -> Run:
    """Run cmd to completion: wall time, peak RSS (from wait4), exit status and output."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        expired = threading.Event()
        timer = threading.Timer(timeout, lambda: (expired.set(), proc.kill()))
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)   # reaped: Popen must not wait
        out.seek(0)
        err.seek(0)
        return Run(seconds, usage.ru_maxrss, proc.returncode,
                   out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace"),
                   timed_out=expired.is_set())


def spark_counts(stderr: str) -> dict[str, int] | None:
    m = SPARKS.search(stderr)
    return dict(zip(SPARK_FIELDS, map(int, m.groups()))) if m else None


# ---- the engines: daisy and its peers ----

def _version(cmd: list[str]) -> str:
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    return (p.stdout or p.stderr).strip().splitlines()[0] if p.returncode == 0 else ""


def _git_describe() -> str:
    """` (git COMMIT)` when daisy runs from a git checkout (`-dirty`: with changes not
    committed), else nothing."""
    here = Path(__file__).resolve().parent
    try:
        p = subprocess.run(["git", "-C", str(here), "describe", "--always", "--dirty"],
                           capture_output=True, text=True, timeout=30)
    except OSError:
        return ""
    return f" (git {p.stdout.strip()})" if p.returncode == 0 else ""


class Daisy:
    """`daisy run` on the JIT; the sized sources go to a scratch folder."""
    name, workers, warmup, note = "daisy", (1, 2), True, None

    def __init__(self, scratch: Path):
        self.scratch = scratch
        self.version = __version__ + _git_describe()

    def command(self, program: Program, size: int, workers: int) -> list[str]:
        path = self.scratch / f"{program.name}-{size}.dsy"
        if not path.exists():
            path.write_text(sized_source(program, size), encoding="utf-8")
        return DAISY + ["run", "-O2", "--threads", str(workers), "--heap", DAISY_HEAP, "--stats",
                        str(path)]


class CPython:
    """bench/peers/python, on the Python that runs daisy (always there)."""
    name, workers, warmup, note = "cpython", (1,), False, None

    def __init__(self):
        self.version = platform.python_version()

    def command(self, program: Program, size: int, workers: int) -> list[str] | str:
        src = peer_source("python", program, "py")
        return [sys.executable, str(src), str(size)] if src else "no CPython version"


class Chez:
    """bench/peers/chez, run as scripts by Chez Scheme (`chezscheme` or `scheme`)."""
    name, workers, warmup = "chez", (1,), False

    def __init__(self):
        self.exe, self.version = self._find()
        self.note = None if self.exe else "chez not installed"

    @staticmethod
    def _find() -> tuple[str | None, str]:
        for name in ("chezscheme", "scheme"):
            exe = shutil.which(name)
            # `scheme` may be another Scheme: Chez prints a bare version number
            version = _version([exe, "--version"]) if exe else ""
            if re.fullmatch(r"\d+(\.\d+)+", version):
                return exe, version
        return None, ""

    def command(self, program: Program, size: int, workers: int) -> list[str] | str:
        src = peer_source("chez", program, "ss")
        return [self.exe, "--script", str(src), str(size)] if src else "no Chez version"


class Ghc:
    """bench/peers/haskell, built with `ghc -O2 -threaded` into a cache keyed by the
    sources and the compiler, run with `+RTS -N<workers> -s` (the -s report gives the
    spark counters)."""
    name, workers, warmup = "ghc", (1, 2), False

    def __init__(self, cache: Path, logs: Path):
        self.exe = shutil.which("ghc")
        self.version = _version([self.exe, "--numeric-version"]) if self.exe else ""
        self.note = None if self.exe else "ghc not installed"
        self.cache, self.logs = cache, logs
        self.built: dict[str, Path | str] = {}

    def command(self, program: Program, size: int, workers: int) -> list[str] | str:
        if program.name not in self.built:
            self.built[program.name] = self._build(program)
        exe = self.built[program.name]
        if isinstance(exe, str):
            return exe
        return [str(exe), str(size), "+RTS", f"-N{workers}", "-s", "-RTS"]

    def _build(self, program: Program) -> Path | str:
        src = peer_source("haskell", program, "hs")
        if src is None:
            return "no Haskell version"
        sources = sorted(src.parent.glob("*.hs"))
        digest = hashlib.sha256(self.version.encode())
        for s in sources:
            digest.update(s.name.encode() + s.read_bytes())
        home = self.cache / f"{src.stem}-{digest.hexdigest()[:16]}"
        exe = home / src.stem
        if exe.exists():
            return exe
        home.mkdir(parents=True, exist_ok=True)
        p = subprocess.run([self.exe, "-O2", "-threaded", "-rtsopts", f"-i{src.parent}",
                            "-outputdir", str(home / "build"), "-o", str(exe), str(src)],
                           capture_output=True, text=True, timeout=600)
        if p.returncode != 0:
            log = self.logs / f"ghc-build-{program.name}.log"
            log.write_text(p.stdout + p.stderr, encoding="utf-8")
            return f"ghc build failed (see {log})"
        return exe


# ---- the suite ----

@dataclass
class Result:
    """One program at one size on one engine and worker count."""
    program: str
    size: int
    engine: str
    workers: int
    status: str = "ok"        # ok, wrong, error, timeout, skipped, unchecked
    detail: str = ""
    times: list[float] = field(default_factory=list)
    time: float | None = None         # median of times
    rss_kb: int = 0
    answer: str | None = None
    sparks: dict[str, int] | None = None


class Progress:
    """What is running, on stderr: a bar on a terminal, else one line per step."""

    def __init__(self, total: int, stream=sys.stderr):
        self.total, self.done, self.stream = total, 0, stream
        self.tty = stream.isatty()

    def step(self, label: str) -> None:
        """Show that `label`, the next step, is running."""
        if self.tty:
            filled = 30 * self.done // self.total
            self.stream.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] "
                              f"{self.done + 1}/{self.total} {label:<40.40}")
        else:
            self.stream.write(f"[{self.done + 1}/{self.total}] {label}\n")
        self.stream.flush()
        self.done += 1

    def finish(self) -> None:
        if self.tty:
            self.stream.write(f"\r[{'#' * 30}] {self.done}/{self.total} {'done':<40}\n")
            self.stream.flush()


def run_job(engine, program: Program, size: int, workers: int, rounds: int,
            timeout: float, warm: bool) -> Result:
    """Run one engine `rounds` times (after a warm-up run when `warm`); the answer is
    what the program printed, checked later against the reference."""
    r = Result(program.name, size, engine.name, workers)
    cmd = engine.command(program, size, workers)
    if isinstance(cmd, str):
        r.status, r.detail = "skipped", cmd
        return r
    for i in range(rounds + warm):
        run = measure(cmd, timeout)
        if run.timed_out or run.status != 0:
            r.status = "timeout" if run.timed_out else "error"
            r.detail = (f"timed out after {timeout} s" if run.timed_out else
                        f"exit {run.status}: {_first_line(run.stderr)}")
            return r
        if warm and i == 0:
            continue
        r.times.append(run.seconds)
        r.rss_kb = max(r.rss_kb, run.rss_kb)
        r.answer = run.stdout.strip()
        r.sparks = spark_counts(run.stderr)
    r.time = statistics.median(r.times)
    return r


def _first_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[0].strip() if lines else "(no message)"


def check_answers(results: list[Result]) -> None:
    """The reference answer is CPython's, else the first other peer's; every answer
    that differs from it is `wrong`, and without one daisy's are `unchecked`."""
    answered = [r for r in results if r.status == "ok"]
    reference = next((r.answer for r in answered if r.engine == "cpython"), None)
    if reference is None:
        reference = next((r.answer for r in answered if r.engine != "daisy"), None)
    for r in answered:
        if reference is None:
            r.status, r.detail = "unchecked", "no peer answer to check against"
        elif r.answer != reference:
            r.status, r.detail = "wrong", f"printed {r.answer!r}, expected {reference!r}"


def run_suite(programs, engines, sizes_of, rounds: int, timeout: float,
              progress: Progress) -> list[Result]:
    results = []
    for program in programs:
        for size in sizes_of(program):
            here = []
            for engine in engines:
                for k, workers in enumerate(engine.workers):
                    progress.step(f"{program.name} {size} {engine.name} {workers}w")
                    here.append(run_job(engine, program, size, workers, rounds, timeout,
                                        warm=engine.warmup and k == 0))
            check_answers(here)
            results.extend(here)
    return results


# ---- reporting ----

def machine() -> dict:
    cpu = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f
                        if line.startswith("model name")), "")
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {"cpu": cpu or platform.processor() or platform.machine(),
            "cores": os.cpu_count(), "memory_gib": round(memory / 2**30, 1),
            "os": _os_name(), "python": platform.python_version()}


def _os_name() -> str:
    try:
        with open("/etc/os-release", encoding="utf-8") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"') + f" ({platform.release()})"
    except OSError:
        pass
    return platform.platform()


COLUMNS = ("program", "size", "daisy 1w", "daisy 2w", "x2", "ghc N1", "ghc N2",
           "daisy/ghc", "chez", "cpython", "RSS MB", "sparks 2w")


def table_rows(results: list[Result]) -> list[tuple[str, ...]]:
    """One row per program and size: times in seconds (medians), daisy's speedup at 2
    workers, its ratio to GHC (both on 1 worker), its peak RSS on 1 worker and its
    spark counters on 2 (converted/created)."""
    index = {(r.program, r.size, r.engine, r.workers): r for r in results}
    rows = []
    for program, size in dict.fromkeys((r.program, r.size) for r in results):
        def get(engine, workers=1):
            return index.get((program, size, engine, workers))
        d1, d2, g1 = get("daisy"), get("daisy", 2), get("ghc")
        sparks = d2.sparks if d2 and d2.sparks else None
        rows.append((program, str(size), _cell(d1), _cell(d2), _ratio(d2, d1),
                     _cell(g1), _cell(get("ghc", 2)), _ratio(g1, d1), _cell(get("chez")),
                     _cell(get("cpython")),
                     f"{d1.rss_kb / 1024:.0f}" if d1 and d1.rss_kb else "-",
                     f"{sparks['converted']}/{sparks['created']}" if sparks else "-"))
    return rows


def _cell(r: Result | None) -> str:
    if r is None or r.status == "skipped":
        return "-"
    if r.time is None or r.status == "wrong":
        return r.status.upper()
    return f"{r.time:.3g}"


def _ratio(denominator: Result | None, numerator: Result | None) -> str:
    ok = all(r is not None and r.time and r.status in ("ok", "unchecked")
             for r in (denominator, numerator))
    return f"{numerator.time / denominator.time:.3g}" if ok else "-"


def format_table(results: list[Result], engines) -> str:
    rows = [COLUMNS] + table_rows(results)
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                       for i, (cell, w) in enumerate(zip(row, widths))).rstrip()
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    notes = [e.note for e in engines if e.note]
    notes += [f"{r.engine} {r.program} {r.size} {r.workers}w: {r.status}: {r.detail}"
              for r in results if r.status not in ("ok", "skipped")]
    notes += sorted({f"{r.engine} {r.program}: {r.detail}"
                     for r in results if r.status == "skipped"})
    return "\n".join(lines + ([""] + notes if notes else [])) + "\n"


def write_json(path: Path, info: dict, results: list[Result], engines,
               charts: list[Path]) -> None:
    data = dict(info,
                date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                machine=machine(),
                engines={e.name: {"version": e.version, "note": e.note} for e in engines},
                charts=[c.name for c in charts],
                results=[asdict(r) for r in results])
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


# ---- the command ----

def bench_command(args) -> int:
    known = {p.name: p for p in SUITE}
    unknown = [name for name in args.programs if name not in known]
    if unknown:
        print(f"daisy: bench: no such program: {', '.join(unknown)} "
              f"(choose from {', '.join(known)})", file=sys.stderr)
        return EXIT_USAGE
    out = Path(args.out)
    problem = _writable(out)
    if problem:
        print(f"daisy: bench: cannot write to {out}: {problem}", file=sys.stderr)
        return EXIT_USAGE
    programs = [known[n] for n in args.programs] or list(SUITE)
    mode = "quick" if args.quick else "full"
    rounds = 1 if args.quick else FULL_ROUNDS

    def sizes_of(p: Program):
        return p.sizes[:1] if args.quick else p.sizes

    started, load = time.perf_counter(), _load()
    with tempfile.TemporaryDirectory(prefix="daisy-bench-") as scratch:
        engines = [CPython(), Chez(), Ghc(_cache_dir() / "ghc", out), Daisy(Path(scratch))]
        present = [e for e in engines if e.note is None]
        total = sum(len(sizes_of(p)) * len(e.workers) for p in programs for e in present)
        progress = Progress(total)
        try:
            results = run_suite(programs, present, sizes_of, rounds, TIMEOUT[mode], progress)
        finally:
            progress.finish()
    from .benchcharts import draw_charts
    charts = draw_charts(results, out)
    command = shlex.join(["daisy", "bench"] + ["--quick"] * args.quick + ["--out", args.out]
                         + args.programs)
    info = {"command": command, "mode": mode, "rounds": rounds,
            "seconds": round(time.perf_counter() - started, 1),
            "load_average": {"start": load, "end": _load()}}
    write_json(out / "results.json", info, results, engines, charts)
    sys.stdout.write(format_table(results, engines))
    print(f"\nresults: {out / 'results.json'}; charts: "
          f"{', '.join(str(out / c.name) for c in charts)}")
    failed = [r for r in results if r.status == "wrong"
              or (r.engine == "daisy" and r.status in ("error", "timeout"))]
    return EXIT_FAILED if failed else 0


def _load() -> list[float]:
    """The load averages over 1, 5 and 15 minutes: the machine may be shared."""
    return [round(x, 2) for x in os.getloadavg()]


def _writable(out: Path) -> str | None:
    """Why results cannot be written to `out`, or None when they can."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as e:
        return e.strerror or str(e)
    return None


def _cache_dir() -> Path:
    """Where peers' builds are kept between runs: $XDG_CACHE_HOME/daisy-bench."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "daisy-bench"
