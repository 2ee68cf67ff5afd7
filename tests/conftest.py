"""Shared helpers for the test suite.

`daisy(*args, stdin=...)` runs the installed `daisy` command (the thing users run) in a
subprocess and returns the CompletedProcess; `run_source(text)` writes a program to a
temporary file and runs it. `matches(expected, got)` applies the conformance suite's
wildcards (`<error: *>`, `<function*>`) to one output line.
"""
from __future__ import annotations

import os
import pathlib
import re
import select
import signal
import subprocess
import sys
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
GOLDEN = ROOT / "tests" / "golden"
WILDCARDS = {"<error: *>": "<error:[^>]*>", "<function*>": "<function[^>]*>"}


def daisy_command() -> list[str]:
    """The `daisy` installed with the Python running the tests, never another one."""
    exe = pathlib.Path(sys.executable).parent / "daisy"
    if exe.exists():
        return [str(exe)]
    return [sys.executable, "-m", "daisy.cli"]


def clean_env(**extra) -> dict:
    """The environment for a daisy child: DAISY_DEBUG (tracebacks) removed."""
    env = dict(os.environ)
    env.pop("DAISY_DEBUG", None)
    env.update(extra)
    return env


def restore_sigint() -> None:
    """preexec_fn: a process started from a non-interactive shell may inherit SIGINT
    ignored; give daisy the default disposition a terminal would."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def daisy(*args, stdin: str | None = "", timeout: float = 120, env=None,
          preexec_fn=None) -> subprocess.CompletedProcess:
    return subprocess.run(daisy_command() + [str(a) for a in args], input=stdin,
                          capture_output=True, text=True, timeout=timeout,
                          env=clean_env(**(env or {})),
                          preexec_fn=preexec_fn)


def read_until(p: subprocess.Popen, done, timeout: float, chunk: int = 1 << 20,
               on_first=None) -> bytes:
    """Read p's stdout (a pipe) until done(data) holds, and return what was read.
    Fails if nothing more arrives within `timeout` seconds in all, or at the end of
    the output. on_first() is called when the first bytes arrive."""
    data = b""
    deadline = time.monotonic() + timeout
    while not done(data):
        r, _, _ = select.select([p.stdout], [], [], max(0.0, deadline - time.monotonic()))
        assert r, f"not there within {timeout} s; got {len(data)} bytes, the end: {data[-40:]!r}"
        got = os.read(p.stdout.fileno(), chunk)
        assert got, f"the output ended: {data[-40:]!r}"
        if not data and on_first:
            on_first()
        data += got
    return data


def finish(p: subprocess.Popen, timeout: float, signal_to_send=None):
    """Send a signal (if given) and collect p's remaining (stdout, stderr); p is killed
    if it has not ended within `timeout`."""
    try:
        if signal_to_send is not None:
            p.send_signal(signal_to_send)
        return p.communicate(timeout=timeout)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()


def run_source(tmp_path, text: str, *flags, name="prog.dsy", **kw) -> subprocess.CompletedProcess:
    path = tmp_path / name
    path.write_text(text)
    return daisy("run", *flags, path, **kw)


def matches(expected: str, got: str) -> bool:
    pattern = re.escape(expected)
    for wildcard, regex in WILDCARDS.items():
        pattern = pattern.replace(re.escape(wildcard), regex)
    return re.fullmatch(pattern, got) is not None


def interpret(text: str) -> list[str]:
    """Run a program in-process with the reference interpreter; the printed lines."""
    from daisy.interp.interpreter import Interpreter
    from daisy.output import Capture
    from daisy.pipeline import compile_source
    state = compile_source(text, "<test>")
    out = Capture()
    Interpreter(out).run_module(state.module)
    return out.getvalue().splitlines()


@pytest.fixture
def run(tmp_path):
    def _run(text, *flags, **kw):
        return run_source(tmp_path, text, *flags, **kw)
    return _run
