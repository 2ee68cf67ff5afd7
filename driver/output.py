"""Program output: written as it is produced, buffered, flushed often enough to watch.

On a terminal every write is flushed at once, so an infinite list streams visibly. To a
pipe or file, writes are buffered and flushed when 64 KiB have gathered or 50 ms have
passed since the last flush. That is checked at each write, at the end of each
top-level value, and between the evaluation machine's time slices (every few tens of
milliseconds), so text printed before a long computation does not wait for the next
write, and `daisy run x | head` sees lines promptly without a system call per token.
"""
from __future__ import annotations

import sys
import time

FLUSH_BYTES = 1 << 16
FLUSH_SECONDS = 0.05


class Output:
    def __init__(self, stream=None):
        self.stream = stream if stream is not None else sys.stdout
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.parts: list[str] = []
        self.size = 0
        self.last = time.monotonic()

    def write(self, text: str) -> None:
        self.parts.append(text)
        self.size += len(text)
        if self.tty or self.size >= FLUSH_BYTES or time.monotonic() - self.last >= FLUSH_SECONDS:
            self.flush()

    def end_line(self) -> None:
        if self.parts and (self.tty or time.monotonic() - self.last >= FLUSH_SECONDS):
            self.flush()

    def discard(self) -> None:
        """Drop what is buffered (an interrupted command's partial output)."""
        self.parts.clear()
        self.size = 0

    def flush(self) -> None:
        if self.parts:
            self.stream.write("".join(self.parts))
            self.parts.clear()
            self.size = 0
        self.stream.flush()
        self.last = time.monotonic()


class Capture(Output):
    """Output kept in memory (tests, the embedding API)."""

    def __init__(self):
        super().__init__(stream=_Null())
        self.text: list[str] = []

    def write(self, text: str) -> None:
        self.text.append(text)

    def end_line(self) -> None:
        pass

    def flush(self) -> None:
        pass

    def getvalue(self) -> str:
        return "".join(self.text)


class _Null:
    def write(self, _):
        pass

    def flush(self):
        pass

    def isatty(self):
        return False
