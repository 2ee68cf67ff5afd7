"""The native runtime (issue 3), written in C: per-worker allocation regions,
local free-list and compacting collection, resumable allocation failure and the
spark scheduler.  `daisy.rt.native` loads it through ctypes; the design is in
docs/runtime.md and the invariants in rt/daisy_rt.h."""
