"""Front-end throughput: parsing and desugaring a generated 10,000-line program.

    python -m pytest bench/test_frontend.py --benchmark-enable

reports, besides pytest-benchmark's table, `lines_per_second` in each benchmark's
extra_info (and in --benchmark-json output). Under the default `--benchmark-disable`
(the test suite) each function runs once as a smoke test, and asserts its result.
"""
import pytest

from daisy.frontend.desugar import desugar_program
from daisy.frontend.parse import gc_paused, parse_program
from daisy.pipeline import compile_source

LINES = 10_000

TEMPLATES = [
    "f{i} = \\[a b]. let:[[X ! Xs] a if:[nil?:a b [inc:X ! f{i}:[Xs b]]]]",
    "g{i} = \\n. if:[lt?:[n 2] n add:[g{i}:dcr:n g{i}:sub:[n 2] {i}]]",
    "f{j}:[[1 2 3 ! [4 5]] \"a string {i}\"]  ; a comment",
    "h{i} = \\[[p q] ! r]. rec:[s [p ! s] (map:\\x. mpy:[x q {i}.5e-3]):r]",
    "@#g{j}:{i}",
    "^(k{i}:[x y]):\\z. $add:[z -{i}]",
    "fix:[x ! [0 {i} ! x]]",
    "m{i} = \\L. #(smap:\\v. if:[eq?:[v ^a] 1 v]):L",
]


def generated_program(lines: int = LINES) -> str:
    out = []
    for n in range(lines):
        i = n // len(TEMPLATES)
        out.append(TEMPLATES[n % len(TEMPLATES)].format(i=i, j=max(i - 1, 0)))
    return "\n".join(out) + "\n"


@pytest.fixture(scope="module")
def program():
    text = generated_program()
    assert text.count("\n") == LINES
    return text


def _record(benchmark, stage):
    stats = getattr(benchmark, "stats", None)
    if stats is not None and stats.stats.mean:
        benchmark.extra_info["lines_per_second"] = round(LINES / stats.stats.mean)
    benchmark.extra_info["stage"] = stage


def test_parse(benchmark, program):
    tree = benchmark.pedantic(parse_program, args=(program,), rounds=3, iterations=1)
    assert len(tree.commands) == LINES
    _record(benchmark, "parse")


def _parse_and_desugar(text):
    with gc_paused():          # as the pipeline runs them (driver/pipeline.py)
        return desugar_program(parse_program(text))


def test_parse_and_desugar(benchmark, program):
    module = benchmark.pedantic(_parse_and_desugar, args=(program,), rounds=3, iterations=1)
    assert len(module.commands) == LINES
    _record(benchmark, "parse+desugar")


def test_whole_front_end(benchmark, program):
    state = benchmark.pedantic(lambda: compile_source(program, "gen.dsy"), rounds=3, iterations=1)
    assert len(state.module.commands) == LINES
    _record(benchmark, "parse+desugar+resolve+primcalls")
