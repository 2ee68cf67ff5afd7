"""Source diagnostics: errors and warnings that point at program text.

A `SourceError` stops compilation; the driver prints it and exits with status 2.
Warnings are collected on the compile state and printed without changing the status.
Both render as

    prog.dsy:3:14: error: unclosed '['
        quick = \\L. let:[[X ! Xs] L
                     ^
    hint: the '[' at 3:14 is never closed

Columns are 1-based and count characters; a tab in the source line is kept in the
caret line so the caret stays under its character.
"""
from __future__ import annotations

from dataclasses import dataclass

from .syntax import Pos


@dataclass
class Diagnostic:
    severity: str          # "error" or "warning"
    message: str
    pos: Pos | None
    hint: str | None = None

    def render(self, filename: str, source: str) -> str:
        where = filename if self.pos is None else f"{filename}:{self.pos.line}:{self.pos.col}"
        out = [f"{where}: {self.severity}: {self.message}"]
        if self.pos is not None and self.pos.line > 0:
            lines = source.split("\n")   # lark counts lines by \n alone; so must we
            if self.pos.line <= len(lines):
                text = lines[self.pos.line - 1].rstrip("\r")
                pad = "".join("\t" if ch == "\t" else " " for ch in text[: self.pos.col - 1])
                out.append("    " + text)
                out.append("    " + pad + "^")
        if self.hint:
            out.append(f"hint: {self.hint}")
        return "\n".join(out)


class SourceError(Exception):
    """A malformed program. Carries one diagnostic."""

    def __init__(self, message: str, pos: Pos | None, hint: str | None = None):
        super().__init__(message)
        self.diagnostic = Diagnostic("error", message, pos, hint)

    @property
    def pos(self) -> Pos | None:
        return self.diagnostic.pos

    def render(self, filename: str, source: str) -> str:
        return self.diagnostic.render(filename, source)
