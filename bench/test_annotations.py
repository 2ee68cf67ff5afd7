"""Benchmarks of issue 5's goals: strictness, `@ $ #`, parallel speedup.

Run with:  python -m pytest bench/test_annotations.py --benchmark-enable -s

Every figure is the time of the evaluation step alone (`--stats`, worker 0's busy
time: no start-up, no compilation), best of the rounds, and every ratio is taken
between runs of the same test on this machine. The runs a ratio compares are
interleaved, round by round (1 worker, 2 workers, 1 worker, ...), so that a slow
spell of the shared machine (one vCPU is sometimes slower than the other for tens of
milliseconds) falls on both sides alike instead of on whichever ran during it.
Figures and goals are reported (`extra_info`, printed with -s), never asserted: the
machines are shared and noisy. What is asserted is every answer. Without
--benchmark-enable (the test suite) each runs once at a small size, as a smoke test.

| figure                                                      | goal              |
|-------------------------------------------------------------|-------------------|
| nfib 32, no annotations, over GHC -O2 (when ghc is on PATH)  | <= 1.5 (goal 1.0) |
| pfib (`@` above a threshold), 1 worker over 2                | >= 1.85           |
| nfib 35 with `@` on every call: 1 worker over 2; sequential over it on 1 and 2 | >= 1.3, >= 1.0 |
| quicksort 10^6: unannotated on 1 worker over annotated on 2 | >= 1.7            |
| quicksort 10^6: annotated on 2 workers over GHC -O2 -N2 (bench/peers/haskell/quicksort-par.hs) | < 1 |
| sum of a `#`-mapped list of 10^7: suspensions; over a C loop (bench/peers/c/sumloop.c, malloc'd cells) | 0 suspensions, <= 2 |
"""
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

import pytest

PROGRAMS = pathlib.Path(__file__).parent / "programs"
PEERS = pathlib.Path(__file__).parent / "peers"
NFIB = "N = 0\nnfib = \\n. if:[lt?:[n 2] 1 add:[nfib:dcr:n nfib:sub:[n 2] 1]]\nnfib:N\n"
PNFIB = "N = 0\nnfib = \\n. if:[lt?:[n 2] 1 add:[@nfib:dcr:n nfib:sub:[n 2] 1]]\nnfib:N\n"
LOOP = """N = 0
map2 = \\[f L]. let:[[X ! Xs] L if:[nil?:L nil [f:X ! map2:[f Xs]]]]
ints = \\[a b]. if:[gt?:[a b] nil [a ! ints:[inc:a b]]]
sum = \\[acc L]. let:[[X ! Xs] L if:[nil?:L acc sum:[add:[acc X] Xs]]]
sum:[0 #map2:[inc #ints:[1 N]]]
"""


def nfib_count(n):
    a, b = 1, 1
    for _ in range(n - 1):
        a, b = b, a + b + 1
    return b if n >= 1 else 1


def _size(benchmark, full, smoke):
    return smoke if getattr(benchmark, "disabled", False) else full


def _rounds(benchmark):
    return 1 if getattr(benchmark, "disabled", False) else ROUNDS


ROUNDS = 5


def daisy_steps(runs: dict, rounds: int, tmp: pathlib.Path) -> dict:
    """{label: (best step seconds, stdout, stats text)} of `daisy run --stats`, where
    runs is {label: (program text, N, workers)} or {label: a peer run (see
    interleaved)}: every run once a round, in turn."""
    calls = {}
    for i, (label, run) in enumerate(runs.items()):
        if callable(run):
            calls[label] = run
            continue
        text, n, threads = run
        prog = tmp / f"prog{i}.dsy"
        prog.write_text(re.sub(r"^N = .*$", f"N = {n}", text, count=1, flags=re.M))
        calls[label] = lambda prog=prog, threads=threads: daisy_step(prog, threads)
    return interleaved(calls, rounds)


def daisy_step(prog: pathlib.Path, threads: int):
    """One `daisy run -O2 --stats` of prog: (worker 0's busy seconds, stdout, stats
    text). -O2, as `daisy bench` and executables: the goals are about generated code."""
    done = subprocess.run([sys.executable, "-m", "daisy.cli", "run", "-O2", "--threads",
                           str(threads), "--heap", "4G", "--stats", str(prog)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    busy = float(re.search(r"worker 0 \(main\): busy ([\d.]+) s", done.stderr).group(1))
    return busy, done.stdout, done.stderr


def interleaved(calls: dict, rounds: int) -> dict:
    """{label: (best seconds, stdout, stderr)} where calls is {label: a function of no
    arguments returning (seconds, stdout, stderr)}: each called once a round, in turn,
    and every round's stdout checked against the first's (the answer of every round,
    not only the best's)."""
    best: dict = {}
    for _ in range(rounds):
        for label, call in calls.items():
            secs, out, err = call()
            if label not in best or secs < best[label][0]:
                if label in best:
                    assert out == best[label][1]
                best[label] = (secs, out, err)
            else:
                assert out == best[label][1]
    return best


def susps(stats: str) -> int:
    return int(re.search(r"([\d,]+) suspensions allocated", stats).group(1).replace(",", ""))


def sparks(stats: str) -> str:
    m = re.search(r"SPARKS: (\d+) \((\d+) converted", stats)
    return f"{m.group(2)}/{m.group(1)}"


def ghc_build(src: pathlib.Path, tmp: pathlib.Path):
    """`ghc -O2 -threaded` of src into tmp: the executable, or None without ghc."""
    if shutil.which("ghc") is None:
        return None
    exe = tmp / f"{src.stem}-ghc"
    subprocess.run(["ghc", "-O2", "-threaded", "-rtsopts", f"-i{src.parent}",
                    "-outputdir", str(tmp / f"{src.stem}-build"), str(src), "-o", str(exe)],
                   capture_output=True, check=True, timeout=600)
    return exe


def ghc_step(exe: pathlib.Path, args: list[str], workers: int):
    """One run of a GHC build on `workers` capabilities: (seconds, stdout, stderr), the
    seconds being the mutator's and the collector's wall time from `+RTS -t
    --machine-readable`, so that like daisy's step time they leave out start-up. The
    report is in microseconds, where `+RTS -s` prints milliseconds (a tenth of nfib 32)."""
    done = subprocess.run([str(exe), *args, "+RTS", f"-N{workers}", "-t", "--machine-readable"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    t = sum(float(re.search(rf'"{key}", "([\d.]+)"', done.stderr).group(1))
            for key in ("mut_wall_seconds", "GC_wall_seconds"))
    return t, done.stdout, done.stderr


def ghc_seconds(src: pathlib.Path, args: list[str], workers: int, rounds: int,
                tmp: pathlib.Path, expect: str):
    """GHC -O2's time for `src args` on `workers` capabilities (best of rounds), or None
    without ghc."""
    exe = ghc_build(src, tmp)
    if exe is None:
        return None
    t, out, _ = interleaved({"ghc": lambda: ghc_step(exe, args, workers)}, rounds)["ghc"]
    assert out.strip() == expect
    return t


def c_build(src: pathlib.Path, tmp: pathlib.Path, *flags: str):
    """`cc -O2` of src into tmp: the executable, or None without a C compiler."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        return None
    exe = tmp / src.stem
    subprocess.run([cc, "-O2", *flags, "-o", str(exe), str(src)],
                   capture_output=True, check=True, timeout=120)
    return exe


def two_threads_step(exe: pathlib.Path, n: int, threads: int):
    """One run of bench/peers/c/twothreads.c: (seconds, the count, "")."""
    done = subprocess.run([str(exe), str(n), str(threads)], capture_output=True, text=True,
                          check=True, timeout=600)
    count, secs = done.stdout.split()
    assert int(count) == nfib_count(n)
    return float(secs), count, ""


def ghc_nfib_seconds(n: int, tmp: pathlib.Path):
    """GHC -O2's time for plain nfib n on one capability (best of 7: its times here are
    bimodal, 0.008 or 0.013 s at n = 32), or None without ghc."""
    src = tmp / "nfib.hs"
    src.write_text("import System.Environment (getArgs)\n"
                   "nfib :: Int -> Int\n"
                   "nfib n = if n < 2 then 1 else nfib (n - 1) + nfib (n - 2) + 1\n"
                   "main :: IO ()\nmain = do { [a] <- getArgs; print (nfib (read a)) }\n")
    return ghc_seconds(src, [str(n)], 1, 7, tmp, str(nfib_count(n)))


@pytest.fixture
def tmp():
    with tempfile.TemporaryDirectory() as d:
        yield pathlib.Path(d)


def _ratio(a: float, b: float):
    """a / b to two places; None when b is below the clock's resolution (smoke runs)."""
    return round(a / b, 2) if b > 0 else None


def _report(benchmark, **figures):
    benchmark.extra_info.update(figures)
    print("\n  " + ", ".join(f"{k} = {v}" for k, v in figures.items()))


def test_nfib_against_ghc(benchmark, tmp):
    n = _size(benchmark, 32, 20)
    r = _rounds(benchmark)
    runs = benchmark.pedantic(lambda: daisy_steps({"seq": (NFIB, n, 1)}, r, tmp),
                              rounds=1, iterations=1)
    t, out, err = runs["seq"]
    assert out == f"{nfib_count(n)}\n" and susps(err) == 0
    ghc = None if getattr(benchmark, "disabled", False) else ghc_nfib_seconds(n, tmp)
    _report(benchmark, n=n, daisy_s=t, ns_per_call=round(t * 1e9 / nfib_count(n), 2),
            ghc_s=ghc, daisy_over_ghc=_ratio(t, ghc) if ghc else "ghc not installed")


def idle(stats: str) -> float:
    """The fraction of the workers' busy time they spent idle (waiting for a suspension
    another worker holds, or searching for a spark, with nothing to run): what the
    scheduler, rather than the machine, loses."""
    rows = re.findall(r"busy ([\d.]+) s \(idle ([\d.]+) s\)", stats)
    busy = sum(float(b) for b, _ in rows)
    return round(sum(float(i) for _, i in rows) / busy, 4) if busy else 0.0


def test_parallel_nfib(benchmark, tmp):
    """pfib's speedup, measured beside the machine's own ceiling: in the same rounds, two
    independent C threads against one (bench/peers/c/twothreads.c) and GHC -N2 against
    -N1 on the same program (bench/peers/haskell/nfib.hs, the daisy bench peer). On
    these shared VMs the ceiling moves between about 1.7 and 2.0 from minute to minute,
    so pfib's speedup is reported also as a fraction of it, and with the share of the
    workers' time the scheduler left idle. pfib runs 10 rounds (0.08 s each), the others 5."""
    pfib = (PROGRAMS / "nfib.dsy").read_text()
    smoke = getattr(benchmark, "disabled", False)
    n = _size(benchmark, 36, 22)
    m = _size(benchmark, 35, 20)   # 0.05 s a run: a 10 ms run is mostly noise here
    r = _rounds(benchmark)
    runs = {"p1": (pfib, n, 1), "p2": (pfib, n, 2)}
    if not smoke:
        cexe = c_build(PEERS / "c" / "twothreads.c", tmp, "-pthread")
        if cexe:            # nfib 37 in C: about as long as pfib 36 on one worker
            runs["c1"] = lambda: two_threads_step(cexe, 37, 1)
            runs["c2"] = lambda: two_threads_step(cexe, 37, 2)
        gexe = ghc_build(PEERS / "haskell" / "nfib.hs", tmp)
        if gexe:
            runs["g1"] = lambda: ghc_step(gexe, [str(n)], 1)
            runs["g2"] = lambda: ghc_step(gexe, [str(n)], 2)
    every = {"e1": (PNFIB, m, 1), "e2": (PNFIB, m, 2), "seq": (NFIB, m, 1)}

    def run():
        return daisy_steps(runs, 1 if smoke else 2 * r, tmp), daisy_steps(every, r, tmp)
    got, got_every = benchmark.pedantic(run, rounds=1, iterations=1)
    p1, p2 = got["p1"], got["p2"]
    e1, e2, seq = (got_every[k] for k in every)
    assert p1[1] == p2[1] == f"{nfib_count(n)}\n"
    assert e1[1] == e2[1] == seq[1] == f"{nfib_count(m)}\n"
    speedup = _ratio(p1[0], p2[0])
    ceiling = _ratio(2 * got["c1"][0], got["c2"][0]) if "c1" in got else "no C compiler"
    ghc = "ghc not installed"
    if "g1" in got:
        assert got["g1"][1] == got["g2"][1] == f"{nfib_count(n)}\n"
        ghc = _ratio(got["g1"][0], got["g2"][0])
    _report(benchmark, pfib_n=n, pfib_1w_s=p1[0], pfib_2w_s=p2[0],
            pfib_speedup=speedup, pfib_sparks_2w=sparks(p2[2]), pfib_idle_2w=idle(p2[2]),
            two_c_threads_speedup=ceiling,
            pfib_share_of_ceiling=_ratio(speedup, ceiling) if "c1" in got else None,
            ghc_pfib_speedup=ghc, ghc_pfib_2w_s=got["g2"][0] if "g2" in got else None,
            every_call_n=m, every_1w_s=e1[0], every_2w_s=e2[0],
            every_speedup=_ratio(e1[0], e2[0]),
            sequential_over_every_2w=_ratio(seq[0], e2[0]),
            sequential_over_every_1w=_ratio(seq[0], e1[0]), every_sparks_2w=sparks(e2[2]))


def test_quicksort(benchmark, tmp):
    plain = (PROGRAMS / "quicksort.dsy").read_text()
    annotated = (PROGRAMS / "quicksort-par.dsy").read_text()
    n = _size(benchmark, 1000000, 2000)
    r = _rounds(benchmark)
    runs = {"plain1": (plain, n, 1), "ann1": (annotated, n, 1), "ann2": (annotated, n, 2)}
    got = benchmark.pedantic(lambda: daisy_steps(runs, r, tmp), rounds=1, iterations=1)
    p1, a1, a2 = (got[k] for k in runs)
    assert p1[1] == a1[1] == a2[1]
    ghc = None
    if not getattr(benchmark, "disabled", False):
        ghc = ghc_seconds(PEERS / "haskell" / "quicksort-par.hs", [str(n)], 2, r, tmp,
                          p1[1].strip())
    _report(benchmark, n=n, plain_1w_s=p1[0], annotated_1w_s=a1[0], annotated_2w_s=a2[0],
            plain_1w_over_annotated_2w=_ratio(p1[0], a2[0]),
            ghc_n2_s=ghc, annotated_2w_over_ghc_n2=_ratio(a2[0], ghc) if ghc else "ghc not installed",
            susps_plain=susps(p1[2]), susps_annotated=susps(a2[2]),
            sparks_annotated_2w=sparks(a2[2]))


def c_loop_seconds(n: int, rounds: int, tmp: pathlib.Path):
    """bench/peers/c/sumloop.c's loop time for n (best of rounds), or None without cc."""
    exe = c_build(PEERS / "c" / "sumloop.c", tmp)
    if exe is None:
        return None
    best = None
    for _ in range(rounds):
        done = subprocess.run([str(exe), str(n)], capture_output=True, text=True, check=True)
        total, secs = done.stdout.split()
        assert int(total) == n * (n + 1) // 2 + n
        best = float(secs) if best is None else min(best, float(secs))
    return best


def test_exhaustive_loop(benchmark, tmp):
    n = _size(benchmark, 10000000, 10000)
    r = _rounds(benchmark)
    lazy = LOOP.replace("#", "")
    runs = {"eager": (LOOP, n, 1), "lazy": (lazy, n, 1)}

    def run():
        return daisy_steps(runs, r, tmp), c_loop_seconds(n, r, tmp)
    got, c = benchmark.pedantic(run, rounds=1, iterations=1)
    eager, lz = got["eager"], got["lazy"]
    want = f"{n * (n + 1) // 2 + n}\n"
    assert eager[1] == lz[1] == want
    assert susps(eager[2]) == 0
    _report(benchmark, n=n, exhaustive_s=eager[0], lazy_s=lz[0], c_loop_s=c,
            susps_exhaustive=susps(eager[2]), susps_lazy=susps(lz[2]),
            exhaustive_over_lazy=_ratio(eager[0], lz[0]),
            exhaustive_over_c=_ratio(eager[0], c) if c else "no C compiler")
