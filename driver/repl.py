"""The Daisy top level: the seed's stream program, run as written.

`daisy repl` compiles and runs `screen: scnos: prsos: evlst: prsis: scnis: console: "&"`
(LANGUAGE.md section 6): `console` reads lines (with readline editing and a history
file on a terminal), `scnis`/`prsis` scan and parse them, `evlst` evaluates each form,
`prsos`/`scnos` print the value as characters and `screen` writes them. Nothing here
evaluates Daisy by any other route; definitions typed at the prompt are installed by
`evlst` (interp/interpreter.py, eval_form).

On a terminal, Ctrl-C abandons the command being evaluated or printed and gives a
fresh prompt (definitions are kept); Ctrl-D at the prompt leaves. With piped input,
Ctrl-C ends the top level with status 130, as it ends `daisy run`.
"""
from __future__ import annotations

import os
import sys

from . import __version__
from .cli import EXIT_SOURCE, SEED_TOP_LEVEL

HISTORY = os.path.join(os.path.expanduser("~"), ".daisy_history")


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


def run_repl(max_depth: int) -> int:
    from .frontend.diagnostics import SourceError
    from .interp.interpreter import Interpreter
    from .output import Output
    from .pipeline import compile_source

    out = Output()
    interp = Interpreter(out, max_depth=max_depth)
    readline = None
    if interp.input.interactive:
        readline = _setup_readline()
        print(f"daisy-jit {__version__}, the Daisy top level. Ctrl-D leaves.", file=sys.stderr)
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
