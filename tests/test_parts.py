"""A program as several LLVM modules compiled in parallel (Note [Module parts] in
jit/emit.py, Note [Parallel code generation] in jit/engine.py), the fast-path
helpers (Note [Fast-path helpers]) and the -O levels (Note [Optimisation levels]).

A program large enough to have several hot parts must print what the interpreter
prints at every level, on the JIT and as an executable; the parts must declare what
they use from each other and define it once; the compile cache must keep every part.
"""
import os
import re
import shutil
import subprocess
import sys

import pytest

from daisy.jit import emit as E
from daisy.jit.cache import CompileCache, pack_objects, unpack_objects
from daisy.jit.engine import _parallel
from daisy.pipeline import compile_source

TEMPLATES = [
    "sq{i} = \\n. mpy:[n n]",
    "fib{i} = \\n. if:[lt?:[n 2] n add:[fib{i}:dcr:n fib{i}:sub:[n 2]]]",
    "take{i} = \\[n L]. if:[zero?:n [] nil?:L [] let:[[X ! Xs] L [X ! take{i}:[dcr:n Xs]]]]",
    "from{i} = \\n. [n ! from{i}:add:[n {k}]]",
    "take{i}:[4 (map:sq{i}):from{i}:{k}]",
    "sum{i} = \\L. if:[nil?:L 0 let:[[X ! Xs] L add:[X sum{i}:Xs]]]",
    "sum{i}:take{j}:[3 from{j}:{k}]",
    "@#fib{i}:9",
    "(\\f. f:{k}):sq{j}",
]


def program(lines: int) -> str:
    """`lines` lines of TEMPLATES, numbered apart; later lines call earlier
    definitions ({j}), so that parts call each other."""
    out = []
    for n in range(lines):
        i = n // len(TEMPLATES)
        out.append(TEMPLATES[n % len(TEMPLATES)].format(i=i, j=max(0, i - 3), k=n % 31 + 1))
    return "\n".join(out) + "\n"


BIG = program(180)


def daisy(*args, **kw):
    env = dict(os.environ, DAISY_CACHE_DIR="off")
    return subprocess.run([sys.executable, "-m", "daisy", *args], capture_output=True,
                          text=True, timeout=300, env=env, **kw)


@pytest.fixture(scope="module")
def big_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("parts") / "big.dsy"
    path.write_text(BIG)
    return path


@pytest.fixture(scope="module")
def expected(big_file):
    r = daisy("run", "--interp", str(big_file))
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_a_large_program_is_several_parts_that_declare_what_they_share():
    state = compile_source(BIG, "big.dsy", backend=True)
    texts = state.llvm_ir
    assert len(texts) >= 3                       # the cold part and at least two hot ones
    defined = [set(re.findall(r"^define \S+ (?:\S+ )?@([\w.]+)\(", t, re.M)) for t in texts]
    for i, a in enumerate(defined):              # each function is defined once
        for b in defined[i + 1:]:
            assert not (a & b & {n for n in a if not n.endswith(tuple(
                "." + h for h in ("force", "select", "reserve", "apply", "interrupted")))})
    everything = set().union(*defined)
    for i, t in enumerate(texts):
        declared = set(re.findall(r"^declare \S+ @([\w.]+)\(", t, re.M))
        mine = {n for n in declared if n.startswith(state.prefix)}
        assert mine <= everything                # declared here, defined in another part
        assert not (mine & defined[i])
        for name in mine:                        # and reached from outside its part
            owner = next(k for k, d in enumerate(defined) if name in d)
            assert re.search(rf"^define dso_local \S+ @{re.escape(name)}\(", texts[owner], re.M)
    for t in texts:                              # cold code only in cold parts
        cold = re.search(r'^source_filename = ".*\.cold"$', t, re.M) is not None
        assert cold or not re.search(r"^define .*#1 \{", t, re.M)
    assert re.search(r"@\w+_toplevel\(", texts[-1])          # the last part: the entry


@pytest.mark.parametrize("level", ["-O0", "-O1", "-O2"])
def test_a_program_of_several_parts_prints_what_the_interpreter_prints(big_file, expected,
                                                                        level):
    r = daisy("run", level, str(big_file))
    assert r.returncode == 0, r.stderr
    assert r.stdout == expected


def test_an_executable_of_several_parts_prints_the_same(big_file, expected, tmp_path):
    if shutil.which(os.environ.get("CC", "cc")) is None:
        pytest.skip("no C compiler")
    exe = tmp_path / "big"
    r = daisy("compile", str(big_file), "-o", str(exe))
    assert r.returncode == 0, r.stderr
    run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and run.stdout == expected


def test_helpers_are_calls_at_O0_and_inlined_at_O1_and_O2(tmp_path):
    src = tmp_path / "h.dsy"
    src.write_text("len = \\L. if:[nil?:L 0 let:[[X ! Xs] L inc:len:Xs]]\n"
                   "len:[1 2 3 ! fix:[x ! []]]\n")
    calls = {}
    for level in ("-O0", "-O1", "-O2"):
        r = daisy("run", level, "--emit-llvm", str(src))
        assert r.returncode == 0, r.stderr
        parts = re.split(r"^;; ---- part \d+ of \d+ ----$", r.stdout, flags=re.M)[1:]
        hot = [t for t in parts if not re.search(r'^source_filename = ".*\.cold"$', t, re.M)]
        assert len(hot) == 1                     # cold parts are -O0 at every level
        calls[level] = len(re.findall(r"call \S+ @[\w]+\.(force|select|reserve)\(",
                                      hot[0]))
    assert calls["-O0"] > 0
    assert calls["-O1"] == calls["-O2"] == 0


def test_the_cache_keeps_every_part(tmp_path):
    objs = [b"\x7fELF one", b"", b"\x7fELF three" * 100]
    assert unpack_objects(pack_objects(objs)) is None          # an empty object: not ours
    objs[1] = b"\x7fELF two"
    assert unpack_objects(pack_objects(objs)) == objs
    assert unpack_objects(pack_objects(objs)[:-1]) is None     # cut short
    assert unpack_objects(pack_objects(objs) + b"x") is None   # trailing bytes
    cache = CompileCache(str(tmp_path))
    cache.store("k" * 64, objs)
    assert cache.load("k" * 64) == objs
    path = cache._path("k" * 64)
    data = bytearray(open(path, "rb").read())
    data[-1] ^= 1                                              # damaged: a miss, removed
    open(path, "wb").write(bytes(data))
    assert cache.load("k" * 64) is None and not os.path.exists(path)


def test_parallel_jobs_come_back_in_order_costliest_first():
    import threading
    started = []
    lock = threading.Lock()

    def job(i):
        with lock:
            started.append(i)
        return i * i
    costs = [1, 5, 3, 9, 2]
    assert _parallel(job, costs) == [0, 1, 4, 9, 16]
    assert started[0] == 3                       # the costliest was submitted first


def test_the_streaming_back_end_makes_what_the_passes_one_after_another_make():
    """Note [Streaming back end]: function by function, parts compiled as they close;
    asking for a dump runs the passes one after another over the whole program."""
    streamed = compile_source(BIG, "big.dsy", backend=True)
    dumped = {}
    passes = compile_source(BIG, "big.dsy", backend=True, dump_after=["roots", "emit"],
                            dump=lambda name, text: dumped.__setitem__(name, text))
    assert set(dumped) == {"roots", "emit"}
    assert streamed.llvm_ir == passes.llvm_ir
    assert len(streamed.object_code) == len(passes.object_code) == len(streamed.llvm_ir)
    assert all(streamed.object_code)


def test_part_size_decides_the_split_not_the_machine(monkeypatch):
    a = compile_source(BIG, "big.dsy", backend=True).llvm_ir
    monkeypatch.setattr(E, "HOT_PART_SIZE", 10 ** 9)
    b = compile_source(BIG, "big.dsy", backend=True).llvm_ir
    # the initialisation's fill functions, hot, cold, last: when the size allows
    assert len(b) == 4 and len(a) > 4


def test_initialisation_is_in_pieces_compiled_before_the_rest():
    """Note [Initialisation in pieces]: init_values calls fill functions of at most
    FILL_STEPS steps, which come in the first parts; it makes no value itself."""
    texts = compile_source(BIG, "big.dsy", backend=True).llvm_ir
    init = re.search(r"^define \S+ i64 @[\w.]+\.init_values\(.*?^}", texts[-1], re.M | re.S)
    assert init and "rt_closure_new" not in init.group(0)
    fills = re.findall(r"call i64 @[\w.]+\.init_fill(\d+)\(", init.group(0))
    assert len(fills) >= 2 and fills == [str(k) for k in range(len(fills))]
    first = texts[0]
    assert "init_fill0(" in first and not re.search(r"^define .*_g\(", first, re.M)
    for body in re.findall(r"^define \S+ i64 @[\w.]+\.init_fill\d+\(.*?^}", "".join(texts),
                           re.M | re.S):
        steps = len(re.findall(r"call void @rt_(code_name_set|toplevel_define)\(", body))
        steps += len(re.findall(r"call i64 @rt_form_build\(", body))
        assert 0 < steps <= E.FILL_STEPS * 2     # a definition is one step, two calls
