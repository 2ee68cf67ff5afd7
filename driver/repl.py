"""The Daisy top level: the seed's stream program, run as written.

`daisy repl` runs `screen: scnos: prsos: evlst: prsis: scnis: console: "&"`
(LANGUAGE.md section 6): `console` reads lines (with readline editing and a history
file on a terminal), `scnis`/`prsis` scan and parse them, `evlst` evaluates each form,
`prsos`/`scnos` print the value as characters and `screen` writes them. Nothing here
evaluates Daisy by any other route; definitions typed at the prompt are installed by
`evlst`.

Two engines run it, with the same behaviour (tests/test_repl.py runs both):

- the JIT (the default): the stream stages are the native runtime's
  (rt/rt_streams.c). The program `scnos: ... console: "&"` is compiled, and the
  runtime's screen step writes its stream (rt_screen_run_fd: `screen:` at the top,
  committing after every write, so a step retried after an allocation failure
  repeats no output). Each form typed is compiled by the eval hook (jit/program.py)
  and run by the runtime; on a terminal, `console` reads its lines through a hook
  that calls Python's readline.
- the reference interpreter (`daisy repl --interp`): interp/, evaluating the whole
  seed line (interp/interpreter.py, eval_form).

On a terminal, Ctrl-C abandons the command being evaluated or printed and gives a
fresh prompt (definitions are kept); Ctrl-D at the prompt leaves. With piped input,
Ctrl-C ends the top level with status 130, as it ends `daisy run`.
"""
from __future__ import annotations

import ctypes
import os
import signal
import sys

from . import __version__
from .status import EXIT_INTERRUPT, EXIT_SOURCE

# The seed's top level, as written there: the console stage reads lines, the pipeline
# parses and evaluates each one, the screen shows what comes back.
SEED_TOP_LEVEL = 'screen: scnos: prsos: evlst: prsis: scnis: console: "&"'

HISTORY = os.path.join(os.path.expanduser("~"), ".daisy_history")
BANNER = f"daisy-jit {__version__}, the Daisy top level. Ctrl-D leaves."


def _setup_readline():
    try:
        import readline
    except ImportError:        # not on every platform; the REPL still works without it
        return None
    try:
        readline.read_history_file(HISTORY)
    except OSError:
        pass
    readline.set_history_length(1000)
    return readline


def _save_history(readline):
    if readline is not None:
        try:
            readline.write_history_file(HISTORY)
        except OSError:
            pass


def run_repl(args) -> int:
    """`daisy repl` (args: the repl subcommand's flags)."""
    if args.interp:
        return _run_interp(args.max_depth)
    return _run_jit(args)


# --- on the reference interpreter ----------------------------------------------------

def _run_interp(max_depth: int) -> int:
    from .frontend.diagnostics import SourceError
    from .interp.interpreter import Interpreter
    from .output import Output
    from .pipeline import compile_source

    out = Output()
    interp = Interpreter(out, max_depth=max_depth)
    readline = None
    if interp.input.interactive:
        readline = _setup_readline()
        print(BANNER, file=sys.stderr)
    try:
        state = compile_source(SEED_TOP_LEVEL, "<top level>", dynamic=True)
    except SourceError as e:   # the line is fixed, so this would be a bug
        print(e.render("<top level>", SEED_TOP_LEVEL), file=sys.stderr)
        return EXIT_SOURCE
    try:
        while True:
            try:
                interp.run_module(state.module)
                break
            except KeyboardInterrupt:
                # On a terminal, Ctrl-C abandons the command under way (the machine has
                # released its claims) and starts the top level afresh; definitions stay.
                if not interp.input.interactive:
                    raise
                out.discard()
                print("\ninterrupted", file=sys.stderr)
    finally:
        _save_history(readline)
        out.flush()
    if interp.input.interactive:
        out.write("\n")
        out.flush()
    return 0


# --- on the JIT ------------------------------------------------------------------------

SCREEN = "screen:"
LINE_HOOK = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p))
LINE_EOF, LINE_INTERRUPTED = -1, -2


class TerminalLines:
    """The console's lines on a terminal (rt_set_line_hook in rt/rt_streams.c): read
    with Python's readline. While it waits, Ctrl-C is Python's KeyboardInterrupt,
    which asks the runtime to interrupt the step (a fresh prompt follows); otherwise
    the runtime's own SIGINT handler is installed."""

    def __init__(self, lib, ctx):
        self.lib = lib
        self.ctx = ctx
        self.buf = ctypes.create_string_buffer(1)
        self.hook = LINE_HOOK(self._read)

    def _read(self, prompt, text):
        try:
            try:
                signal.signal(signal.SIGINT, signal.default_int_handler)
                line = input(prompt.decode("utf-8", "replace"))
            finally:
                self.lib.rt_sigint_install(self.ctx)
        except EOFError:
            return LINE_EOF
        except KeyboardInterrupt:
            self.lib.rt_request_interrupt(self.ctx)
            return LINE_INTERRUPTED
        except BaseException:      # never let an exception cross into C
            return LINE_EOF
        data = line.encode("utf-8", "surrogateescape")
        self.buf = ctypes.create_string_buffer(data, len(data) + 1)
        text[0] = ctypes.addressof(self.buf)
        return len(data)


def _run_jit(args) -> int:
    from .frontend.diagnostics import SourceError
    from .jit.cache import CompileCache
    from .jit.program import JitProgram, _screen_lib
    from .jit.run import check_flags, open_context, quiet_closed_pipe
    from .pipeline import compile_source

    heap = check_flags(args)
    if heap is None:
        return EXIT_SOURCE
    # `screen:` at the top is the runtime's screen step; the rest is compiled
    assert SEED_TOP_LEVEL.startswith(SCREEN)
    stream = SEED_TOP_LEVEL[len(SCREEN):].strip()
    try:
        state = compile_source(stream, "<top level>", dynamic=True)
    except SourceError as e:   # the line is fixed, so this would be a bug
        print(e.render("<top level>", stream), file=sys.stderr)
        return EXIT_SOURCE
    prog = JitProgram(state, opt=args.opt, cache=CompileCache("default"))
    ctx = open_context(prog, args, heap)
    if ctx is None:
        return 3
    lib = _screen_lib()
    interactive = sys.stdin.isatty()
    readline = lines = None
    if interactive:
        readline = _setup_readline()
        lines = TerminalLines(lib, ctx._ctx)
        lib.rt_set_line_hook(ctx._ctx, ctypes.cast(lines.hook, ctypes.c_void_p))
        print(BANNER, file=sys.stderr)
    sys.stdout.flush()
    lib.rt_sigint_install(ctx._ctx)
    try:
        while True:
            try:
                status = prog.run_screen(ctx, sys.stdout.fileno())
            except KeyboardInterrupt:  # a Ctrl-C that reached Python between steps
                status = EXIT_INTERRUPT
            if status == EXIT_INTERRUPT and interactive:
                # the command under way is abandoned (the step released its claims);
                # the top level starts afresh and definitions stay
                print("\ninterrupted", file=sys.stderr)
                continue
            break
    finally:
        lib.rt_sigint_install(None)
        if lines is not None:
            lib.rt_set_line_hook(ctx._ctx, None)
        _save_history(readline)
    if status == 141:
        quiet_closed_pipe()
    elif interactive and status == 0:
        sys.stdout.write("\n")
    ctx.close()
    return status
