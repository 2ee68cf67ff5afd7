"""Generated code against the runtime's ABI (jit/abi.py over rt/).

LLVM IR built with the inline fast paths of jit/abi.py (bump allocation,
root stack, safepoint poll) runs as evaluation steps on the real runtime,
under compaction at every allocation slow path.  If an offset, a header or the
root discipline were wrong, the lists below would come back damaged.
"""
import ctypes
import threading
import time

import pytest
from llvmlite import ir

from daisy.jit import abi
from daisy.jit.engine import Engine
from daisy.rt import native


def _word(addr: int) -> int:
    return ctypes.c_uint64.from_address(addr).value


def build_list_module() -> str:
    """build_list(w, n): the list [0 .. n-1] of small integers, built back to
    front, its accumulator kept on the root stack across every reservation."""
    m = ir.Module(name="abi_test")
    rt = abi.Runtime(m)
    fn = ir.Function(m, abi.STEP_FN, "build_list")
    w, n_tagged = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    n = b.ashr(n_tagged, ir.Constant(abi.I64, 1))
    rt.push_root(b, w, ir.Constant(abi.I64, native.NIL))
    entry = b.block
    loop = fn.append_basic_block("loop")
    body = fn.append_basic_block("body")
    done = fn.append_basic_block("done")
    b.branch(loop)
    b.position_at_end(loop)
    i = b.phi(abi.I64)
    i.add_incoming(n, entry)
    more = b.icmp_signed(">", i, ir.Constant(abi.I64, 0))
    b.cbranch(more, body, done)
    b.position_at_end(body)
    k = b.sub(i, ir.Constant(abi.I64, 1))
    rt.poll(b, w)                                  # a loop back-edge
    rt.reserve(b, w, 24)
    acc = b.load(rt.root_slot(b, w, 1), typ=abi.I64)   # reload after the safepoint
    cell = rt.alloc_nogc(b, w, abi.header("cons", 2), 2)
    rt.store_field(b, cell, 0, b.or_(b.shl(k, ir.Constant(abi.I64, 1)), ir.Constant(abi.I64, 1)))
    rt.store_field(b, cell, 1, acc)
    b.store(b.ptrtoint(cell, abi.I64), rt.root_slot(b, w, 1))
    i.add_incoming(k, b.block)
    b.branch(loop)
    b.position_at_end(done)
    result = b.load(rt.root_slot(b, w, 1), typ=abi.I64)
    rt.pop_roots(b, w, 1)
    b.ret(result)
    return str(m)


def spin_module() -> str:
    """spin(w, x): loop forever, polling at the back-edge."""
    m = ir.Module(name="spin")
    rt = abi.Runtime(m)
    fn = ir.Function(m, abi.STEP_FN, "spin")
    w, _ = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    loop = fn.append_basic_block("loop")
    b.branch(loop)
    b.position_at_end(loop)
    rt.poll(b, w)
    b.branch(loop)
    return str(m)


@pytest.fixture(scope="module")
def engine():
    e = Engine(opt=2)
    e.add(build_list_module())
    e.add(spin_module())
    return e


def walk(v: int) -> list[int]:
    cons = abi.header("cons", 2)
    out = []
    while v != native.NIL:
        assert v & native.TAG_MASK == native.TAG_PTR, hex(v)
        assert _word(v) == cons, hex(_word(v))
        head = _word(v + 8)
        assert head & 1, hex(head)
        out.append(head >> 1)
        v = _word(v + 16)
    return out


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("stress", [False, True])
def test_generated_code_allocates_on_the_runtime(engine, threads, stress):
    n = 300_000                        # 7 MB of cells: several slow paths
    with native.Context(threads=threads, gc_stress=stress) as ctx:
        status, v = ctx.step(engine.address("build_list"), abi.fix(n))
        assert status == ctx.STEP_OK
        assert walk(v) == list(range(n))
        s = ctx.stats()
        assert s["bytes_allocated"] >= 24 * n
        if stress:
            assert s["major_gcs"] >= 3, s      # the list moved, more than once


def test_generated_code_survives_compaction_while_holding_roots(engine):
    """A second step's compaction must find the first step's cells only through
    roots: a global root keeps this list, so compaction moves it intact."""
    with native.Context(threads=1) as ctx:
        status, v = ctx.step(engine.address("build_list"), abi.fix(50_000))
        assert status == ctx.STEP_OK
        g = ctx.global_new(v)
        ctx.compact()
        moved = ctx.global_get(g)
        assert moved != v
        assert walk(moved) == list(range(50_000))


def test_generated_loop_stops_at_its_safepoint_poll(engine):
    with native.Context(threads=2) as ctx:
        timer = threading.Timer(0.05, ctx.request_interrupt)
        timer.start()
        t0 = time.monotonic()
        status, _ = ctx.step(engine.address("spin"), native.NIL)
        timer.join()
        assert status == ctx.STEP_INTERRUPTED
        assert time.monotonic() - t0 < 5


# ---- the compile cache ----------------------------------------------------------------

from daisy.jit.cache import CompileCache  # noqa: E402


def build_list_object() -> bytes:
    """build_list's object code: what the cache stores (Engine.add_cached)."""
    e = Engine(opt=2)
    return e.object_code(e.prepare(build_list_module()))


def test_compile_cache_second_load_skips_compilation(tmp_path):
    cache = CompileCache(str(tmp_path))
    source = "build_list program text"
    built = []

    def build():
        built.append(1)
        return build_list_object()

    e1 = Engine(opt=2)
    assert e1.add_cached(cache, source, build) is False
    e2 = Engine(opt=2)
    assert e2.add_cached(cache, source, build) is True
    assert len(built) == 1 and cache.hits == 1
    with native.Context(threads=1, gc_stress=True) as ctx:
        status, v = ctx.step(e2.address("build_list"), abi.fix(100_000))
        assert status == ctx.STEP_OK and walk(v) == list(range(100_000))


def test_compile_cache_key_covers_source_and_options(tmp_path):
    cache = CompileCache(str(tmp_path))
    e2, e0 = Engine(opt=2), Engine(opt=0)
    k = cache.key("a", e2)
    assert k == cache.key("a", Engine(opt=2))
    assert k != cache.key("b", e2)
    assert k != cache.key("a", e0)
    assert k != cache.key("a", e2, extra="--threads 4")


def test_compile_cache_key_covers_the_runtime_layout(tmp_path, monkeypatch):
    # generated code bakes in the worker's field offsets: a runtime rebuilt with a
    # field moved must not load code cached against the old offsets
    import daisy.jit.cache as cache_module
    cache = CompileCache(str(tmp_path))
    e = Engine(opt=2)
    k = cache.key("a", e)
    layout = dict(native.layout_table())
    layout["worker.fx_giveups"] += 8
    monkeypatch.setattr(cache_module, "_LAYOUT", repr(sorted(layout.items())))
    assert cache.key("a", e) != k


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage"])
def test_compile_cache_damaged_entry_is_a_miss(tmp_path, damage):
    cache = CompileCache(str(tmp_path))
    e = Engine(opt=2)
    e.add_cached(cache, "src", build_list_object)
    [path] = list(tmp_path.rglob("*.o"))
    blob = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(blob[: len(blob) // 2])
    elif damage == "flip":
        path.write_bytes(blob[:-10] + bytes([blob[-10] ^ 0xFF]) + blob[-9:])
    else:
        path.write_bytes(b"not an object at all")
    e2 = Engine(opt=2)
    assert e2.add_cached(cache, "src", build_list_object) is False   # recompiled, no crash
    assert e2.address("build_list")
    assert cache.load(cache.key("src", e2)) is not None              # and stored afresh


def test_compile_cache_off(tmp_path, monkeypatch):
    monkeypatch.setenv("DAISY_CACHE_DIR", "off")
    cache = CompileCache()
    assert not cache.enabled
    assert Engine(opt=2).add_cached(cache, "src", build_list_object) is False
    assert Engine(opt=2).add_cached(cache, "src", build_list_object) is False
    assert cache.hits == 0
