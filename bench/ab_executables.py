"""Generated code of several checkouts side by side, on executables.

    python bench/ab_executables.py ROUNDS NAME=CHECKOUT [NAME=CHECKOUT ...]
    PROGS=nfib,mandelbrot python bench/ab_executables.py 12 main=. other=../wt
    python bench/ab_executables.py 8 o2=. o1=.@-O1 o0=.@-O0      # levels of one checkout
    python bench/ab_executables.py 8 a=. b=.@-O1,DAISY_X=1         # VAR=VALUE: environment

Each checkout's own `.venv/bin/daisy compile` builds the programs of bench/programs
at the largest size of the suite (driver/bench.py SUITE); the executables run
interleaved round by round, so a busy machine disturbs every engine alike, at one
worker, and quicksort-par and nfib also at two. The figure is CPU time (user +
system, from wait4), best of the rounds, beside wall time. The table gives each
engine's ratio to the first and the suspensions `--stats` counted, and flags a
program whose output differs between engines.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time

from daisy.bench import SUITE


def main(argv: list[str]) -> int:
    rounds = int(argv[0])
    engines = [a.split("=", 1) for a in argv[1:]]
    flags = {}                                  # NAME=CHECKOUT@FLAG,FLAG: compile flags
    for e in engines:
        e[1], _, f = e[1].partition("@")
        flags[e[0]] = f.split(",") if f else []
    sizes = {p.name: p.sizes[-1] for p in SUITE if p.name != "startup"}
    cases = [(p, 1) for p in sizes] + [("quicksort-par", 2), ("nfib", 2)]
    if os.environ.get("PROGS"):
        sizes = {p: sizes[p] for p in os.environ["PROGS"].split(",")}
        cases = [(p, 1) for p in sizes]
    work = tempfile.mkdtemp(prefix="daisy-ab-")
    root = engines[0][1]
    exes = {}
    for name, path in engines:
        for p, size in sizes.items():
            text = open(f"{root}/bench/programs/{p}.dsy").read()
            text, n = re.subn(r"(?m)^N = \d+", f"N = {size}", text)
            assert n == 1, p
            src = f"{work}/{p}.dsy"
            open(src, "w").write(text)
            exe = f"{work}/{name}-{p}"
            env = dict(os.environ, **dict(f.split("=", 1) for f in flags[name] if "=" in f))
            r = subprocess.run([f"{path}/.venv/bin/daisy", "compile", src, "-o", exe,
                                *[f for f in flags[name] if "=" not in f]], env=env,
                               capture_output=True, text=True)
            assert r.returncode == 0, (name, p, r.stderr)
            exes[name, p] = exe
    res, outs, susp = {}, {}, {}
    for r in range(rounds):
        for p, t in cases:
            for name, _ in engines:
                t0 = time.perf_counter()
                with open(f"{work}/out", "wb") as fo, open(f"{work}/err", "wb") as fe:
                    proc = subprocess.Popen([exes[name, p], "--threads", str(t), "--heap", "4G",
                                             "--stats"], stdout=fo, stderr=fe)
                    _, status, ru = os.wait4(proc.pid, 0)
                    proc.returncode = status
                wall = time.perf_counter() - t0
                m = re.search(rb"([\d,]+) suspensions allocated", open(f"{work}/err", "rb").read())
                susp.setdefault((p, t, name), set()).add(m.group(1).decode() if m else "?")
                res.setdefault((p, t, name), []).append((ru.ru_utime + ru.ru_stime, wall))
                outs.setdefault((p, t), set()).add(open(f"{work}/out", "rb").read())
        print(f"round {r + 1} done", file=sys.stderr, flush=True)
    base = engines[0][0]
    print("| program | workers | " + " | ".join(f"{n} CPU s (wall)" for n, _ in engines) + " | "
          + " | ".join(f"{n}/{base} CPU" for n, _ in engines[1:]) + " | suspensions |")
    ratios = {n: [] for n, _ in engines[1:]}
    for p, t in cases:
        best = {n: min(c for c, _ in res[p, t, n]) for n, _ in engines}
        row = [p, str(t)]
        row += [f"{best[n]:.3f} ({min(w for _, w in res[p, t, n]):.3f})" for n, _ in engines]
        for n, _ in engines[1:]:
            ratios[n].append(best[n] / best[base])
            row.append(f"{best[n] / best[base]:.3f}")
        row.append(" / ".join(",".join(sorted(susp[p, t, n])) for n, _ in engines))
        flag = "" if len(outs[p, t]) == 1 else " OUTPUT DIFFERS"
        print("| " + " | ".join(row) + " |" + flag)
    for n, rs in ratios.items():
        g = 1.0
        for x in rs:
            g *= x
        print(f"geometric mean {n}/{base}: {g ** (1 / len(rs)):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
