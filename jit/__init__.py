"""The LLVM back end (issue 4): core IR to native code with llvmlite, over the runtime
in daisy.rt. Not yet built: `daisy run` uses the reference interpreter until it is."""
