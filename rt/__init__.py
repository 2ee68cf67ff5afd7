"""The native runtime (issue 3): per-worker allocation, local and compacting GC,
resumable allocation failure and the spark scheduler, in C. Not yet built."""
