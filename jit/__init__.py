"""The LLVM back end (issue 4).  So far: `engine.py`, an MCJIT engine over the
native runtime; `abi.py`, the runtime's ABI as LLVM IR (declarations and the
inline fast paths for allocation, the root stack and safepoint polls); and
`cache.py`, the compile cache of object files.  Tested by running generated code
on the runtime (tests/test_jit_abi.py).  Lowering Daisy itself comes next."""
