"""The LLVM execution engine over the native runtime.

One MCJIT engine per Engine object, for the host CPU.  The runtime library is
loaded into the process once (`load_library_permanently`), so generated code
resolves `rt_*` symbols to the same library `daisy.rt.native` uses through
ctypes.  An Engine keeps every module it compiled referenced: once an engine
is collected its code is unmapped (../shared/FIELD-NOTES.md).
"""
from __future__ import annotations

import ctypes
import os

import llvmlite.binding as llvm

from ..rt import native

_ready = False


def _initialise() -> None:
    global _ready
    if not _ready:
        llvm.initialize_native_target()
        llvm.initialize_native_asmprinter()
        llvm.set_option("", "-optimize-regalloc")   # see Note [Optimisation levels]
        native.load()                               # checks the layout first
        llvm.load_library_permanently(native.library_path())
        _ready = True


# Note [Optimisation levels]
# ~~~~~~~~~~~~~~~~~~~~~~~~~~~
#   -O0  no IR optimisation; code generation at level 0: LLVM's fast instruction
#        selection, and its optimising register allocator (below)
#   -O1  LEAN_PASSES: the fast-path helpers inlined (Note [Fast-path helpers] in
#        jit/emit.py) and a clean-up of what `emit` writes (the LIR is already
#        simplified: SSA values, one test per fact); code generation as -O0's.
#        The default of `daisy run`, the REPL and the Python API.
#   -O2  LLVM's standard -O2 pipeline and code generation at level 2. The default of
#        `daisy compile`, and what `daisy bench` measures.
#   -O3  LLVM's -O3
# The cold part of a program (Note [Module parts] in jit/emit.py) is compiled as -O0 at
# every level. LLVM's code generation at level 1 and above costs about 1.8 ms per
# function of a program, most of it fixed per function; at level 0 with the optimising
# register allocator (`-optimize-regalloc`, set once for the process: the fast
# allocator it replaces spills every value across a block boundary) it costs half of
# that, and the code is within 2-8% of -O2's on the benchmark programs (executables,
# geometric mean; queens 1.3x), where -O0's without the IR passes was 1.5x slower.
# docs/jit.md, "Compile speed", has the figures and the commands that measure them.
LEAN_PASSES = ("always_inliner", "simplify_cfg", "instruction_combine", "simplify_cfg")
CODEGEN_LEVEL = {0: 0, 1: 0, 2: 2, 3: 3}


# Note [Code model]
# ~~~~~~~~~~~~~~~~~
# The JIT compiles for MCJIT's default (large) code model: every address outside a
# function (the runtime's functions, another part's functions and globals: Note [Module
# parts] in jit/emit.py) is a 64-bit absolute constant, which RuntimeDyld can fill in
# wherever it put the sections. The small code model would be cheaper to compile (LLVM's
# fast instruction selector gives up on a global's address in the large model and hands
# the rest of that block to the full one), but its PLT stubs each take a GOT entry that
# RuntimeDyld does not count when it asks llvmlite's memory manager for room, which
# then aborts (llvmlite 0.50, a program of a few hundred functions), and without that
# manager nothing keeps an object's code and data within the 2 GiB its PC-relative
# offsets reach. Cold code (the fast selector's main customer) is a small share of the
# time since it has a part of its own. `daisy compile` makes position-independent code
# in the small model, which the system linker lays out.
#
# Note [Parallel code generation]
# ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
# A program's parts are parsed, optimised and compiled to object code on as many threads
# as there are CPUs, one part per thread at a time. LLVM allows this when nothing is
# shared: each part has its own LLVMContext (parse_assembly into a fresh one), its own
# pass builder and its own TargetMachine. llvmlite serialises every call behind one
# lock (../shared/FIELD-NOTES.md), so the calls that take the time (parsing,
# verifying, the pass pipeline, code generation) are made through the ctypes function
# under llvmlite's wrapper (`_unlocked`), which releases the GIL and takes no lock;
# every other call, cheap, goes through the lock as usual. Without the unwrapped
# function (another llvmlite) the calls are made locked, which is correct and serial.
def _unlocked(name: str):
    fn = getattr(llvm.ffi.lib, name)
    return getattr(fn, "_cfn", fn)


class Target:
    """What the `llvm` and `codegen` passes compile for: this machine's CPU, for the JIT
    or for an executable (`aot=True`: position-independent, Note [Code model]), or a
    fixed generic CPU (`generic=True`: the same code on every x86-64 machine, for the
    golden tests)."""

    def __init__(self, opt: int = 2, *, aot: bool = False, generic: bool = False):
        _initialise()
        self.opt = opt
        self.aot = aot
        if generic:
            self.cpu_name, self.cpu_features = "", ""
        else:
            self.cpu_name = llvm.get_host_cpu_name()
            self.cpu_features = llvm.get_host_cpu_features().flatten()
        self.target_machine = self.machine(opt)

    def machine(self, level: int) -> llvm.TargetMachine:
        """A new target machine for the -O level (one per thread): code generation at
        CODEGEN_LEVEL[level]."""
        level = CODEGEN_LEVEL[level]
        target = llvm.Target.from_default_triple()
        if self.aot:                                # Note [Code model]
            return target.create_target_machine(
                cpu=self.cpu_name, features=self.cpu_features, opt=level, reloc="pic",
                codemodel="default")
        return target.create_target_machine(
            cpu=self.cpu_name, features=self.cpu_features, opt=level, jit=True)

    def optimise(self, module: llvm.ModuleRef, level: int | None = None,
                 machine: llvm.TargetMachine | None = None) -> None:
        """LLVM's IR passes at the -O level (Note [Optimisation levels])."""
        level = self.opt if level is None else level
        if not level:
            return
        pto = llvm.create_pipeline_tuning_options(speed_level=level)
        pb = llvm.create_pass_builder(machine or self.target_machine, pto)
        if level == 1:
            mpm = llvm.create_new_module_pass_manager()
            for name in LEAN_PASSES:
                getattr(mpm, f"add_{name}_pass")()
        else:
            mpm = pb.getModulePassManager()
        _unlocked("LLVMPY_RunNewModulePassManager")(mpm, module, pb)

    def parse(self, ir_text: str, context=None) -> llvm.ModuleRef:
        if context is None:
            module = llvm.parse_assembly(ir_text)
        else:
            with llvm.ffi.OutputString() as err:
                ref = _unlocked("LLVMPY_ParseAssembly")(
                    context, ctypes.c_char_p(ir_text.encode("utf-8")), err)
                module = llvm.ModuleRef(ref, context)
                if err:
                    module.close()
                    raise RuntimeError(f"LLVM IR parsing error\n{err}")
        module.triple = llvm.get_process_triple()
        with llvm.ffi.OutputString() as err:
            if _unlocked("LLVMPY_VerifyModule")(module, err):
                raise RuntimeError(str(err))
        return module

    def prepare(self, ir_text: str) -> llvm.ModuleRef:
        """Parse, verify and optimise (what --emit-llvm prints)."""
        module = self.parse(ir_text)
        self.optimise(module)
        return module

    def object_code(self, module: llvm.ModuleRef, machine=None) -> bytes:
        tm = machine or self.target_machine
        with llvm.ffi.OutputString() as err:
            buf = _unlocked("LLVMPY_TargetMachineEmitToMemory")(tm, module, 1, err)
            if not buf:
                raise RuntimeError(str(err))
        lib = llvm.ffi.lib
        try:
            return ctypes.string_at(lib.LLVMPY_GetBufferStart(buf), lib.LLVMPY_GetBufferSize(buf))
        finally:
            lib.LLVMPY_DisposeMemoryBuffer(buf)

    # ---- a program's parts (Note [Module parts], Note [Parallel code generation]) ----
    def part_level(self, module: llvm.ModuleRef) -> int:
        """The -O level of a part, by its source_filename (Note [Module parts]): 0 for
        a cold one."""
        return 0 if module.source_file.endswith(".cold") else self.opt

    def prepare_parts(self, texts: list[str]) -> list[llvm.ModuleRef]:
        """Each part parsed into a context of its own, verified and optimised at its
        level, on parallel threads. For an executable (`aot`), the parts are first
        linked into one module, optimised at the -O level: one object, and LLVM
        inlines across what were parts."""
        if self.aot and len(texts) > 1:
            context = llvm.create_context()
            modules = [self.parse(t, context) for t in texts]
            for m in modules[1:]:
                modules[0].link_in(m)
            self.optimise(modules[0])
            return [modules[0]]

        def one(i: int) -> llvm.ModuleRef:
            module = self.parse(texts[i], llvm.create_context())
            level = self.part_level(module)
            self.optimise(module, level, self.machine(level) if level else None)
            return module
        return _parallel(one, [len(t) for t in texts])

    def compile_part(self, index: int, text: str) -> tuple[llvm.ModuleRef, bytes]:
        """One part, start to finish, on the calling thread: its optimised module and
        its object code."""
        module = self.parse(text, llvm.create_context())
        level = self.part_level(module)
        self.optimise(module, level, self.machine(level) if level else None)
        return module, self.object_code(module, self.machine(level))

    def object_codes(self, modules: list[llvm.ModuleRef]) -> list[bytes]:
        """Object code for each module, on parallel threads."""
        if len(modules) == 1 and self.aot:
            return [self.object_code(modules[0])]
        return _parallel(lambda i: self.object_code(modules[i], self.machine(
            self.part_level(modules[i]))), [1] * len(modules))


class PartPool:
    """The streaming back end's compiler (Note [Streaming back end] in
    driver/pipeline.py): each part submitted is parsed, verified, optimised and compiled
    on a thread of its own while the caller goes on emitting; `results` waits for all
    of them. With one CPU, each part is compiled when it is submitted."""

    def __init__(self, target: "Target"):
        self.target = target
        self.futures: dict[int, object] = {}
        cpus = _cpus()
        self.pool = None
        if cpus > 1:
            from concurrent.futures import ThreadPoolExecutor
            self.pool = ThreadPoolExecutor(max_workers=cpus)

    def submit(self, index: int, text: str) -> None:
        if self.pool is None:
            self.futures[index] = self.target.compile_part(index, text)
        else:
            self.futures[index] = self.pool.submit(self.target.compile_part, index, text)

    def done(self) -> int:
        """How many of the parts submitted are compiled."""
        return sum(1 for f in self.futures.values()
                   if not hasattr(f, "done") or f.done())

    def abandon(self) -> None:
        """Stop: parts not yet started are dropped (an error ended the compile)."""
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)

    def results(self) -> tuple[list, list]:
        """(modules, objects), part 0 first."""
        try:
            done = [self.futures[i] for i in sorted(self.futures)]
            if self.pool is not None:
                done = [f.result() for f in done]
        finally:
            if self.pool is not None:
                self.pool.shutdown(wait=True)
        return [m for m, _ in done], [o for _, o in done]


def _cpus() -> int:
    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, n or 1)


def _parallel(job, costs: list) -> list:
    """[job(0), ..., job(n-1)] for n = len(costs), on up to one thread per CPU, the
    costliest first (so that no thread is left with a long job at the end)."""
    n = len(costs)
    cpus = _cpus()
    if n <= 1 or cpus <= 1:
        return [job(i) for i in range(n)]
    from concurrent.futures import ThreadPoolExecutor
    order = sorted(range(n), key=lambda i: -costs[i])
    with ThreadPoolExecutor(max_workers=min(n, cpus)) as pool:
        futures = {i: pool.submit(job, i) for i in order}
        return [futures[i].result() for i in range(n)]


class Engine(Target):
    """Compile LLVM IR text to native code in this process."""

    def __init__(self, opt: int = 2):
        super().__init__(opt)
        backing = llvm.parse_assembly("")
        backing.triple = llvm.get_process_triple()
        self._engine = llvm.create_mcjit_compiler(backing, self.target_machine, )
        self._modules: list[llvm.ModuleRef] = []

    def _prepare(self, ir_text: str) -> llvm.ModuleRef:
        return self.prepare(ir_text)

    def add(self, ir_text: str) -> llvm.ModuleRef:
        """Parse, verify, optimise and compile a module; its functions are then
        available through `address`."""
        module = self._prepare(ir_text)
        self._engine.add_module(module)
        self._engine.finalize_object()
        self._modules.append(module)
        return module

    def add_object(self, obj: bytes | list[bytes]) -> None:
        """Load object files this engine's target emitted (a program's parts, the
        compile cache), then resolve their symbols."""
        for o in (obj if isinstance(obj, list) else [obj]):
            self._engine.add_object_file(llvm.ObjectFileRef.from_data(o))
        self._engine.finalize_object()

    def add_cached(self, cache, key_source: str, build_objects, extra: str = "") -> bool:
        """Load the code for `key_source` from the cache, or compile it with
        build_objects() (object files' bytes, a list or one), store that, and load
        it. Returns True on a cache hit."""
        key = cache.key(key_source, self, extra)
        objs = cache.load(key)
        if objs is not None:
            self.add_object(objs)
            return True
        objs = build_objects()
        cache.store(key, objs)
        self.add_object(objs)
        return False

    def address(self, name: str) -> int:
        addr = self._engine.get_function_address(name)
        if not addr:
            raise KeyError(f"no compiled function named {name!r}")
        return addr
