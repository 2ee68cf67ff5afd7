"""The LLVM execution engine over the native runtime.

One MCJIT engine per Engine object, for the host CPU.  The runtime library is
loaded into the process once (`load_library_permanently`), so generated code
resolves `rt_*` symbols to the same library `daisy.rt.native` uses through
ctypes.  An Engine keeps every module it compiled referenced: once an engine
is collected its code is unmapped (../shared/FIELD-NOTES.md).
"""
from __future__ import annotations

import llvmlite.binding as llvm

from ..rt import native

_ready = False


def _initialise() -> None:
    global _ready
    if not _ready:
        llvm.initialize_native_target()
        llvm.initialize_native_asmprinter()
        native.load()                               # checks the layout first
        llvm.load_library_permanently(native.library_path())
        _ready = True


# Note [Optimisation levels]
# ~~~~~~~~~~~~~~~~~~~~~~~~~~~
#   -O0  no IR optimisation; LLVM's fast instruction selection and register allocation
#   -O1  LEAN_PASSES, a few passes that clean up what `emit` writes (the LIR is already
#        simplified: SSA values, one test per fact), then code generation at level 1
#   -O2  LLVM's standard -O2 pipeline and code generation (the default)
#   -O3  LLVM's -O3
# -O1 exists for compile time: LLVM's standard -O1 pipeline cost about as much as its
# -O2 one and bought nothing the short list does not on the benchmark programs. -O2
# stays the default because its inliner (a small function such as primes' `intsfrom`
# inlined into the suspension that calls it) makes primes 10% faster than -O1 does;
# docs/jit.md, "Compile speed", has the figures.
LEAN_PASSES = ("simplify_cfg", "instruction_combine", "simplify_cfg")


class Target:
    """What the `llvm` and `codegen` passes compile for: this machine's CPU, for the JIT
    (`jit=True`) or for an object file (`aot=True`: position-independent), or a fixed
    generic CPU (`generic=True`: the same code on every x86-64 machine, for the golden
    tests)."""

    def __init__(self, opt: int = 2, *, aot: bool = False, generic: bool = False):
        _initialise()
        self.opt = opt
        self.aot = aot
        target = llvm.Target.from_default_triple()
        if generic:
            self.cpu_name, self.cpu_features = "", ""
        else:
            self.cpu_name = llvm.get_host_cpu_name()
            self.cpu_features = llvm.get_host_cpu_features().flatten()
        cg = opt
        if aot:
            self.target_machine = target.create_target_machine(
                cpu=self.cpu_name, features=self.cpu_features, opt=cg, reloc="pic",
                codemodel="default")
        else:
            self.target_machine = target.create_target_machine(
                cpu=self.cpu_name, features=self.cpu_features, opt=cg, jit=True)

    def optimise(self, module: llvm.ModuleRef) -> None:
        """LLVM's IR passes at the -O level (Note [Optimisation levels])."""
        if not self.opt:
            return
        pto = llvm.create_pipeline_tuning_options(speed_level=self.opt)
        pb = llvm.create_pass_builder(self.target_machine, pto)
        if self.opt == 1:
            mpm = llvm.create_new_module_pass_manager()
            for name in LEAN_PASSES:
                getattr(mpm, f"add_{name}_pass")()
            mpm.run(module, pb)
        else:
            pb.getModulePassManager().run(module, pb)

    def parse(self, ir_text: str) -> llvm.ModuleRef:
        module = llvm.parse_assembly(ir_text)
        module.triple = llvm.get_process_triple()
        module.verify()
        return module

    def prepare(self, ir_text: str) -> llvm.ModuleRef:
        """Parse, verify and optimise (what --emit-llvm prints)."""
        module = self.parse(ir_text)
        self.optimise(module)
        return module

    def object_code(self, module: llvm.ModuleRef) -> bytes:
        return self.target_machine.emit_object(module)


class Engine(Target):
    """Compile LLVM IR text to native code in this process."""

    def __init__(self, opt: int = 2):
        super().__init__(opt)
        backing = llvm.parse_assembly("")
        backing.triple = llvm.get_process_triple()
        self._engine = llvm.create_mcjit_compiler(backing, self.target_machine)
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

    def add_object(self, obj: bytes) -> None:
        """Load an object file this engine's target emitted (the compile cache)."""
        self._engine.add_object_file(llvm.ObjectFileRef.from_data(obj))
        self._engine.finalize_object()

    def add_cached(self, cache, key_source: str, build_object, extra: str = "") -> bool:
        """Load the code for `key_source` from the cache, or compile it with
        build_object() (the object file's bytes), store that, and load it.
        Returns True on a cache hit."""
        key = cache.key(key_source, self, extra)
        obj = cache.load(key)
        if obj is not None:
            self.add_object(obj)
            return True
        obj = build_object()
        cache.store(key, obj)
        self.add_object(obj)
        return False

    def address(self, name: str) -> int:
        addr = self._engine.get_function_address(name)
        if not addr:
            raise KeyError(f"no compiled function named {name!r}")
        return addr
