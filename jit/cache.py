"""The compile cache: native code keyed by what determines it.

An entry is the object file LLVM emitted for a module, stored under a key that
hashes everything the code depends on: the source, daisy-jit's version, a
fingerprint of the compiler's own code (so a changed pass never reuses code the
old one made), the runtime ABI version and layout table, LLVM's version, the target triple, the host CPU and its
features, and the optimisation level (plus whatever the caller adds, such as
flags that change code generation).  A second run of an unchanged program on
the same machine loads the object instead of compiling.

Entries are written atomically (a temporary file, then a rename) and carry a
SHA-256 of their payload, checked before LLVM ever sees the bytes: a damaged
or truncated entry is a miss and is removed, never a crash.

The directory is $DAISY_CACHE_DIR, else $XDG_CACHE_HOME/daisy-jit, else
~/.cache/daisy-jit.  DAISY_CACHE_DIR=off disables the cache.
"""
from __future__ import annotations

import hashlib
import os
import struct
import tempfile

import llvmlite
import llvmlite.binding as llvm

from .. import __version__
from ..rt import native

MAGIC = b"DAISYOBJ2\n"             # 2: a list of object files (pack_objects)
_FINGERPRINT: str | None = None


def compiler_fingerprint() -> str:
    """A hash of the front end's and the code generator's source files (read once)."""
    global _FINGERPRINT
    if _FINGERPRINT is None:
        h = hashlib.sha256()
        from .. import frontend, interp, jit
        for d in (os.path.dirname(m.__file__) for m in (frontend, jit, interp)):
            for name in sorted(os.listdir(d)):
                if name.endswith((".py", ".lark")):
                    with open(os.path.join(d, name), "rb") as f:
                        h.update(name.encode() + b"\0" + f.read())
        _FINGERPRINT = h.hexdigest()
    return _FINGERPRINT


_LAYOUT: str | None = None


def runtime_layout() -> str:
    """The runtime's layout table (every struct offset and tag the generated code
    bakes in, rt_layout_table), as text: a runtime rebuilt with a field added moves
    offsets without any version changing, and code cached before it would read and
    write the wrong words of the worker (it did: a stats field added before
    worker.fx_giveups sent the cached code's count elsewhere)."""
    global _LAYOUT
    if _LAYOUT is None:
        _LAYOUT = repr(sorted(native.layout_table().items()))
    return _LAYOUT


def default_directory() -> str | None:
    d = os.environ.get("DAISY_CACHE_DIR")
    if d:
        return None if d == "off" else d
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "daisy-jit")


class CompileCache:
    def __init__(self, directory: str | None = "default"):
        self.directory = default_directory() if directory == "default" else directory
        self.hits = self.misses = 0

    @property
    def enabled(self) -> bool:
        return self.directory is not None

    def key(self, source: str, engine, extra: str = "") -> str:
        h = hashlib.sha256()
        for part in (source, __version__, compiler_fingerprint(), str(native.ABI_VERSION),
                     runtime_layout(), llvmlite.__version__,
                     ".".join(map(str, llvm.llvm_version_info)), llvm.get_process_triple(),
                     engine.cpu_name, engine.cpu_features, str(engine.opt), extra):
            h.update(part.encode())
            h.update(b"\0")
        return h.hexdigest()

    def _path(self, key: str) -> str:
        return os.path.join(self.directory, key[:2], key + ".o")

    def load(self, key: str) -> list[bytes] | None:
        """The object files stored under key, or None (a miss)."""
        if not self.enabled:
            return None
        path = self._path(key)
        try:
            with open(path, "rb") as f:
                blob = f.read()
        except OSError:
            self.misses += 1
            return None
        head = len(MAGIC) + 32
        objs = None
        if (len(blob) >= head and blob.startswith(MAGIC)
                and hashlib.sha256(blob[head:]).digest() == blob[len(MAGIC):head]):
            objs = unpack_objects(blob[head:])
        if objs is None:
            try:
                os.unlink(path)            # damaged: drop it, compile afresh
            except OSError:
                pass
            self.misses += 1
            return None
        self.hits += 1
        return objs

    def store(self, key: str, objs: bytes | list[bytes]) -> None:
        if not self.enabled:
            return
        obj = pack_objects(objs if isinstance(objs, list) else [objs])
        path = self._path(key)
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
            with os.fdopen(fd, "wb") as f:
                f.write(MAGIC + hashlib.sha256(obj).digest() + obj)
            os.replace(tmp, path)
        except OSError:
            pass                            # a cache that cannot be written is only slower


def pack_objects(objs: list[bytes]) -> bytes:
    """Object files in one blob: a count, then each one's length and bytes."""
    out = [struct.pack("<I", len(objs))]
    for o in objs:
        out += [struct.pack("<Q", len(o)), o]
    return b"".join(out)


def unpack_objects(blob: bytes) -> list[bytes] | None:
    """pack_objects' list again, or None when the blob is not one."""
    try:
        (n,), at, objs = struct.unpack_from("<I", blob), 4, []
        for _ in range(n):
            (size,) = struct.unpack_from("<Q", blob, at)
            objs.append(blob[at + 8:at + 8 + size])
            at += 8 + size
    except struct.error:
        return None
    return objs if at == len(blob) and all(objs) else None
