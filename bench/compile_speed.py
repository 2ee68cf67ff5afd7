"""Compile speed (issue 17 item 4): LLVM instructions per source line, and cold
`daisy run` time per source line at each -O level, on two programs:

  generated   a generated 300-line program (the templates below: recursion, lists,
              patterns, spread entries, fixnum functions, sparks, `#`, floats, quotation)
  bench       the programs of bench/programs concatenated, each one's definitions
              renamed apart (at the sizes written in the files, which run in
              milliseconds)

and the time to run a 2,000-element integer list literal cold.

    python bench/compile_speed.py                  # the table, 3 rounds, -O0..-O3
    python bench/compile_speed.py --rounds 5 --levels 1 2

A source line is a line that is neither blank nor only a comment. "Instructions" are
the LLVM instructions the back end emits, before any optimisation: those printed by
`daisy run -O0 --emit-llvm` (labels, declarations and metadata not counted). "Cold"
is `DAISY_CACHE_DIR=off daisy run -ON FILE`, wall time of the whole command (Python
start-up, front end, back end, LLVM, running the program); the `warm` column is
the same command with a filled compile cache, i.e. everything but compiling. Runs of
different levels and programs are interleaved round by round, so a busy machine
disturbs them alike; the figure reported is the median of the rounds.
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import programgen

HERE = Path(__file__).resolve().parent
PROGRAMS = HERE / "programs"

# the templates of bench/programgen.py and two more lines: a spread call with `$` and a `#` map
TEMPLATES = programgen.TEMPLATES + [
    "len{i} = \\[L n]. if:[nil?:L n let:[[X ! Xs] L len{i}:[Xs $inc:n]]]",
    "len{i}:[#(map:\\x. mpy:[x 1.5e-3]):take{i}:[{k} from{i}:1] 0]",
]

IDENT_CHARS = r"A-Za-z0-9?\-_*+/<>'"


def generated_program(lines: int = 300) -> str:
    """`lines` lines cycling through TEMPLATES, numbered apart (deterministic)."""
    return programgen.generated_program(lines, TEMPLATES)


def rename_defs(text: str, tag: str) -> str:
    """A program with every name it defines at the top level given the suffix _tag."""
    names = set(re.findall(r"^([A-Za-z%][" + IDENT_CHARS + r"]*) =", text, re.M))
    for name in sorted(names, key=len, reverse=True):
        text = re.sub(rf"(?<![{IDENT_CHARS}]){re.escape(name)}(?![{IDENT_CHARS}])",
                      f"{name}_{tag}", text)
    return text


def bench_programs() -> str:
    parts = []
    for k, path in enumerate(sorted(PROGRAMS.glob("*.dsy"))):
        parts.append(rename_defs(path.read_text(), f"b{k}"))
    return "".join(parts)


def literal_program(n: int = 2000) -> str:
    return "[" + " ".join(str(i) for i in range(n)) + "]\n"


def source_lines(text: str) -> int:
    return sum(1 for line in text.splitlines()
               if line.strip() and not line.lstrip().startswith(";"))


def daisy_command() -> list[str]:
    exe = Path(sys.executable).parent / "daisy"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "daisy.cli"]


INSTRUCTION = re.compile(r"^  (?!;)\S")


def emitted_instructions(path: str) -> int:
    """LLVM instructions the back end emits for a program (before optimisation)."""
    env = dict(os.environ, DAISY_CACHE_DIR="off")
    p = subprocess.run(daisy_command() + ["run", "-O0", "--emit-llvm", path],
                       capture_output=True, text=True, env=env, check=True)
    return sum(1 for line in p.stdout.splitlines() if INSTRUCTION.match(line))


def timed(cmd: list[str], env: dict) -> tuple[float, float]:
    """(wall ms, CPU ms: user + system) of one run of cmd, which must succeed."""
    t = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env)
        _, status, usage = os.wait4(p.pid, 0)
        ms = (time.perf_counter() - t) * 1000
        p.returncode = os.waitstatus_to_exitcode(status)
        if p.returncode != 0:
            err.seek(0)
            raise RuntimeError(f"{' '.join(cmd)} failed: {err.read().decode()[-2000:]}")
    return ms, (usage.ru_utime + usage.ru_stime) * 1000


def measure(levels: list[int], rounds: int, literal: bool = True) -> dict:
    base = dict(os.environ)
    base.pop("DAISY_DEBUG", None)
    # as a user runs it: Python's compiled modules are written once and reused (in an
    # editable checkout with PYTHONDONTWRITEBYTECODE set, every run would recompile the
    # compiler's own modules, about 0.1 s); the warm-up runs below write them
    base.pop("PYTHONDONTWRITEBYTECODE", None)
    cold_env = dict(base, DAISY_CACHE_DIR="off")
    results = {}
    with tempfile.TemporaryDirectory(prefix="daisy-compile-speed-") as tmp:
        progs = {"generated": generated_program(300), "bench": bench_programs()}
        paths = {}
        for name, text in progs.items():
            paths[name] = os.path.join(tmp, f"{name}.dsy")
            Path(paths[name]).write_text(text)
            n = source_lines(text)
            instrs = emitted_instructions(paths[name])
            results[name] = {"lines": n, "instructions": instrs,
                             "per_line": instrs / n, "cold": {}, "warm": {}}
        warm_env = dict(base, DAISY_CACHE_DIR=os.path.join(tmp, "cache"))
        for name in progs:                      # fill the warm cache
            for opt in levels:
                timed(daisy_command() + ["run", f"-O{opt}", paths[name]], warm_env)
        samples = {(name, opt, kind): [] for name in progs for opt in levels
                   for kind in ("cold", "warm")}
        for _ in range(rounds):
            for opt in levels:
                for name in progs:
                    cmd = daisy_command() + ["run", f"-O{opt}", paths[name]]
                    samples[name, opt, "cold"].append(timed(cmd, cold_env))
                    samples[name, opt, "warm"].append(timed(cmd, warm_env))
        for (name, opt, kind), xs in samples.items():
            results[name][kind][opt] = tuple(statistics.median(x) for x in zip(*xs))
        if literal:
            lit = os.path.join(tmp, "literal.dsy")
            Path(lit).write_text(literal_program(2000))
            results["literal"] = {
                opt: timed(daisy_command() + ["run", f"-O{opt}", lit], cold_env)
                for opt in levels}
    return results


def table(results: dict, levels: list[int]) -> str:
    """Per program and level: cold ms per source line as wall / CPU, and the warm
    (cache hit) run's wall / CPU ms, the part that is not compiling."""
    rows = ["| program | lines | LLVM instructions | per line | "
            + " | ".join(f"cold -O{o} ms/line wall / CPU" for o in levels)
            + " | " + " | ".join(f"warm -O{o} ms wall / CPU" for o in levels) + " |",
            "|---" * (4 + 2 * len(levels)) + "|"]
    for name in ("generated", "bench"):
        r = results[name]
        n = r["lines"]
        rows.append(f"| {name} | {n} | {r['instructions']} | {r['per_line']:.0f} | "
                    + " | ".join(f"{r['cold'][o][0] / n:.2f} / {r['cold'][o][1] / n:.2f}"
                                 for o in levels)
                    + " | " + " | ".join(f"{r['warm'][o][0]:.0f} / {r['warm'][o][1]:.0f}"
                                         for o in levels) + " |")
    if "literal" in results:
        rows.append("")
        rows.append("2,000-element list literal, cold, wall / CPU: "
                    + ", ".join(f"-O{o} {results['literal'][o][0] / 1000:.2f} / "
                                f"{results['literal'][o][1] / 1000:.2f} s" for o in levels))
    return "\n".join(rows)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--levels", type=int, nargs="+", default=[0, 1, 2, 3])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-literal", action="store_true",
                    help="skip the 2,000-element literal (30 s before issue 17)")
    args = ap.parse_args(argv)
    results = measure(args.levels, args.rounds, literal=not args.no_literal)
    print(table(results, args.levels))
    return 0


if __name__ == "__main__":
    sys.exit(main())
