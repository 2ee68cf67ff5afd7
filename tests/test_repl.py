"""The Daisy top level (docs/language.md section 5, "Programs, the top level and streams").

`daisy repl` runs the seed's stream program `screen: scnos: prsos: evlst: prsis: scnis:
console: "&"` as written. These tests drive it the two ways a user does: through a pipe
(no prompt, lines read without readline) and through a pseudo-terminal (the `&` prompt,
readline, Ctrl-D and Ctrl-C). Every test has a timeout, so a hang fails instead of
blocking the suite.

Every test runs on both engines (the `engine` fixture): the JIT, which `daisy repl`
uses by default, and the reference interpreter (`daisy repl --interp`); they must
behave alike.
"""
from __future__ import annotations

import os
import pty
import select
import shlex
import signal
import subprocess
import time

import pytest

from conftest import daisy, daisy_command, matches, read_until

SEED = 'screen: scnos: prsos: evlst: prsis: scnis: console: "&"'
TIMEOUT = 20

INTSFROM = "intsfrom = \\n. [n ! intsfrom:inc:n]"
TAKE = "take = \\[n l]. if:[zero?:n [] let:[[x ! xs] l [x ! take:[dcr:n xs]]]]"
LOOP = "loop = \\x. loop:x"


def no_traceback(*texts):
    for t in texts:
        if isinstance(t, bytes):
            t = t.decode("utf-8", "replace")
        assert "Traceback" not in t, t


@pytest.fixture(params=["jit", "interp"])
def engine(request):
    """The engine under test: the flags that select it."""
    return [] if request.param == "jit" else ["--interp"]


@pytest.fixture
def repl(tmp_path, engine):
    def _repl(lines: str, *args, cmd=("repl",)):
        """Run the top level with `lines` on a piped standard input."""
        flags = engine if cmd else []
        p = daisy(*cmd, *flags, *args, stdin=lines, timeout=TIMEOUT,
                  env={"HOME": str(tmp_path)})
        no_traceback(p.stdout, p.stderr)
        return p
    return _repl


# --- through a pipe -----------------------------------------------------------------

def test_pipe_one_expression(repl):
    p = repl("add:[1 2]\n")
    assert p.returncode == 0
    assert p.stdout == "3\n"


def test_pipe_no_prompt_or_banner_when_stdin_is_not_a_terminal(repl):
    p = repl("add:[1 2]\nmpy:[2 3]\n")
    assert p.returncode == 0
    assert "&" not in p.stdout
    assert p.stderr == ""
    assert p.stdout == "3\n6\n"


def test_pipe_several_lines_in_order(repl):
    p = repl("add:[1 2]\nsub:[10 4]\n[1 2 ! 3]\n^add:[x 1]\ninc:41\n")
    assert p.returncode == 0
    assert p.stdout.splitlines() == ["3", "6", "[1 2 ! 3]", "add:[x 1]", "42"]


def test_pipe_definitions_print_nothing_and_are_usable(repl):
    p = repl("f = \\x. inc:x\nf:1\nsq = \\x. mpy:[x x]\nsq:f:2\n")
    assert p.returncode == 0
    assert p.stdout == "2\n9\n"


def test_pipe_definition_is_lazy(repl):
    # a definition whose value never converges is installed without being evaluated
    p = repl(f"{LOOP}\np = loop:0\nadd:[1 2]\n")
    assert p.returncode == 0
    assert p.stdout == "3\n"


def test_pipe_redefinition_replaces_old_one_for_earlier_functions(repl):
    p = repl("f = \\x. inc:x\n"
             "g = \\x. f:x\n"
             "g:1\n"
             "f = \\x. mpy:[x 10]\n"
             "g:1\n"
             "n = 1\n"
             "h = \\x. add:[x n]\n"
             "h:1\n"
             "n = 100\n"
             "h:1\n")
    assert p.returncode == 0
    assert p.stdout.splitlines() == ["2", "10", "2", "101"]


# characters of the commands `g = 4` and `g`, for the stream stages
G_DEF = '["g" " " "=" " " "4" "`n" "g" "`n"]'


def test_pipe_definition_made_by_evlst_is_a_unit_printed_nested(repl):
    # interp interpreter.py eval_form: a definition evaluates to <defined NAME>, which
    # prints nothing at the top level and its text inside another value
    p = repl(f"evlst:prsis:scnis:{G_DEF}\n"
             f"let:[[u] evlst:prsis:scnis:{G_DEF} u]\n"
             "g\n"
             f"let:[[u] evlst:prsis:scnis:{G_DEF} eq?:[u u]]\n"
             f"let:[[u] evlst:prsis:scnis:{G_DEF} add:[u 1]]\n"
             f"let:[[u] evlst:prsis:scnis:{G_DEF} prsis:[u]]\n")
    assert p.returncode == 0
    assert p.stdout.splitlines() == [
        "[<defined g> 4]",
        "4",
        "<error: not comparable: a unit and a unit>",
        "<error: add: non-numeric operand (a unit)>",
        "[<error: syntax error on line 1: a unit is not a token>]",
    ]


def test_pipe_name_in_a_suspended_position_is_not_evaluated(repl):
    # a list holds a defined name's binding as it is: building [big] runs nothing
    p = repl(f"{LOOP}\nbig = loop:0\n%SpnHd?:[big]\nn = add:[1 2]\n%SpnHd?:[n]\nn\n"
             "%SpnHd?:[n]\n")
    assert p.returncode == 0
    assert p.stdout.splitlines() == ["true", "true", "3", "[]"]


@pytest.mark.parametrize("text", [
    "add:[1\n2]\n",                 # unclosed [
    "add:[1\n\n 2\n]\n",            # unclosed [ over a blank line
    "add:\n[1 2]\n",                # line ending in :
    "f = \\x.\n  sub:[x 1]\nf:4\n",  # line ending in \x.
    "f =\n  \\x. sub:[x 1]\nf:4\n",  # line ending in =
    "add:[1 ; a comment\n 2]\n",    # a comment inside the open bracket
])
def test_pipe_command_spanning_lines(repl, text):
    p = repl(text + "mpy:[5 5]\n")
    assert p.returncode == 0
    assert p.stdout.splitlines() == ["3", "25"]


def test_pipe_blank_and_comment_lines_print_nothing(repl):
    p = repl("\n; just a comment\n   \nadd:[1 2]\n")
    assert p.returncode == 0
    assert p.stdout == "3\n"


@pytest.mark.parametrize("bad", [")", "add:[1 2]]", "12abc", "\"unterminated", "]", "f = = 3"])
def test_pipe_syntax_error_is_a_value_and_the_repl_goes_on(repl, bad):
    p = repl(f"add:[1 2]\n{bad}\nadd:[3 4]\n")
    assert p.returncode == 0
    lines = p.stdout.splitlines()
    assert len(lines) == 3, p.stdout
    assert lines[0] == "3"
    assert matches("<error: *>", lines[1]), lines[1]
    assert "syntax error" in lines[1]
    assert lines[2] == "7"


def test_pipe_syntax_error_names_the_line_and_what_came_before(repl):
    # docs/language.md section 5: the line, and the tokens before the offending one
    p = repl("1\nadd:[1 2]]\n")
    assert p.returncode == 0
    assert p.stdout.splitlines()[1] == "<error: syntax error on line 2: unexpected ']' after add:[1 2]>"


def test_pipe_input_ending_inside_a_command(repl):
    p = repl("add:[1 2]\nadd:[1\n")
    assert p.returncode == 0
    lines = p.stdout.splitlines()
    assert lines[0] == "3"
    assert len(lines) == 2 and matches("<error: *>", lines[1]), p.stdout


def test_pipe_runtime_errors_are_printed_values(repl):
    p = repl("div:[1 0]\nzzz\nadd:[1 2]\n")
    assert p.returncode == 0
    lines = p.stdout.splitlines()
    assert len(lines) == 3
    assert matches("<error: *>", lines[0])
    assert lines[1] == "<error: unbound identifier zzz>"
    assert lines[2] == "3"


def test_pipe_infinite_list_with_take(repl):
    p = repl(f"{INTSFROM}\n{TAKE}\ntake:[5 intsfrom:0]\ntake:[3 intsfrom:10]\n")
    assert p.returncode == 0
    assert p.stdout == "[0 1 2 3 4]\n[10 11 12]\n"


def test_pipe_screen_at_the_repl(repl):
    # screen writes its characters and the top level prints no line of its own for it
    p = repl('screen:"hi`n"\nadd:[1 1]\n')
    assert p.returncode == 0
    assert p.stdout == "hi\n2\n"


@pytest.mark.parametrize("line, expected", [
    ('"abc"', "abc\n"),
    ('screen:"hi"', "hi"),
    ('let:[s "xyz" s]', "xyz\n"),
    ('abc = 5\n"abc"', "abc\n"),
    ('^["abc" x]', "[abc x]\n"),
])
def test_pipe_string_literal_spelling_an_identifier(repl, line, expected):
    # the same command in a program file prints `expected`
    p = repl(line + "\n")
    assert p.stdout == expected


def test_pipe_repl_prints_like_daisy_run(repl, run, engine):
    program = ("1e300\n-2.5e-3\n-9223372036854775808\n[1 ! 2]\n^\\x. add:[x 1]\n"
               "(map:inc):[1 2 3]\nf = \\[a b]. sub:[a b]\nf:[10 3]\nadd\nf\n\\x. x\n"
               "^(f:g):x\n^#f:x\n^@f:x\n^$f:x\n^^f\n[\\x. x 1]\nif:[[] 1 2]\n\"a b\"\n")
    from_file = run(program, *engine)
    at_repl = repl(program)
    assert from_file.returncode == at_repl.returncode == 0
    assert at_repl.stdout == from_file.stdout
    assert at_repl.stdout.splitlines()[:3] == ["1.000000e+300", "-2.500000e-03", "-9223372036854775808"]


def test_pipe_seed_line_typed_at_the_repl_starts_a_nested_top_level(repl):
    p = repl(f"add:[1 2]\n{SEED}\nadd:[3 4]\nf = \\x. inc:x\nf:5\n")
    assert p.returncode == 0
    assert p.stdout == "3\n7\n6\n"


def test_pipe_crlf_line_endings(repl):
    p = repl("add:[1 2]\r\nf = \\x. inc:x\r\nf:1\r\n")
    assert p.returncode == 0
    assert p.stdout == "3\n2\n"


def test_bare_daisy_with_piped_stdin_is_the_repl(tmp_path):
    # bare `daisy` is `daisy repl`, on the JIT
    p = daisy(stdin="add:[1 2]\nf = \\x. inc:x\nf:1\n", timeout=TIMEOUT,
              env={"HOME": str(tmp_path)})
    no_traceback(p.stdout, p.stderr)
    assert p.returncode == 0
    assert p.stdout == "3\n2\n"
    assert p.stderr == ""


@pytest.mark.parametrize("threads", ["1", "2", "4"])
def test_pipe_repl_on_several_workers(tmp_path, threads):
    p = daisy("repl", "--threads", threads, stdin=f"{INTSFROM}\n{TAKE}\n"
              "take:[4 intsfrom:7]\nf = \\x. @mpy:[x x]\n(map:f):[1 2 3]\n",
              timeout=TIMEOUT, env={"HOME": str(tmp_path)})
    no_traceback(p.stdout, p.stderr)
    assert p.returncode == 0
    assert p.stdout == "[7 8 9 10]\n[1 4 9]\n"


@pytest.mark.parametrize("flags", [["--threads", "-1"], ["--heap", "lots"]])
def test_repl_bad_flags_are_usage_errors(tmp_path, flags):
    p = daisy("repl", *flags, stdin="add:[1 2]\n", timeout=TIMEOUT, env={"HOME": str(tmp_path)})
    no_traceback(p.stdout, p.stderr)
    assert p.returncode == 2
    assert p.stdout == ""
    assert p.stderr.startswith("daisy: --")


def test_empty_input_ends_with_status_zero(repl):
    p = repl("")
    assert p.returncode == 0
    assert p.stdout == ""


def test_pipe_each_line_is_answered_before_the_next_is_read(tmp_path, engine):
    """The stream stages are lazy: a line's value is printed (and flushed) while the
    top level waits for the next line, with standard input still open."""
    env = dict(os.environ, HOME=str(tmp_path))
    env.pop("DAISY_DEBUG", None)
    p = subprocess.Popen(daisy_command() + ["repl", *engine], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        def read_line():
            return read_until(p, lambda d: d.endswith(b"\n"), TIMEOUT, chunk=1)

        p.stdin.write(b"add:[1 2]\n")
        p.stdin.flush()
        assert read_line() == b"3\n"
        p.stdin.write(b"f = \\x. inc:x\nf:41\n")
        p.stdin.flush()
        assert read_line() == b"42\n"

        # an infinite list streams: its first elements arrive while it is still printing
        p.stdin.write(f"{INTSFROM}\nintsfrom:0\n".encode())
        p.stdin.flush()
        data = read_until(p, lambda d: len(d) >= 300, TIMEOUT, chunk=4096)
        assert data.startswith(b"[0 1 2 3 4 5 ")
    finally:
        p.kill()
        p.communicate(timeout=TIMEOUT)


def test_repl_output_into_a_closed_pipe_exits_141_quietly(tmp_path, engine):
    cmd = shlex.join(daisy_command() + ["repl", *engine])
    script = (f"yes 'add:[1 2]' | {cmd} 2>err.txt | head -n 2 > head.txt;"
              ' echo "${PIPESTATUS[1]}" > status.txt')
    env = dict(os.environ, HOME=str(tmp_path))
    env.pop("DAISY_DEBUG", None)
    subprocess.run(["bash", "-c", script], cwd=tmp_path, timeout=TIMEOUT, env=env, check=True)
    assert (tmp_path / "head.txt").read_text() == "3\n3\n"
    assert (tmp_path / "status.txt").read_text().strip() == "141"
    err = (tmp_path / "err.txt").read_text()
    no_traceback(err)
    assert "Error" not in err


# --- the same program as a file -----------------------------------------------------

def test_seed_line_as_a_program_file(run, engine):
    p = run(SEED + "\n", *engine, stdin="add:[2 3]\n", timeout=TIMEOUT)
    no_traceback(p.stdout, p.stderr)
    assert p.returncode == 0
    assert p.stdout == "5\n"


def test_seed_line_as_a_program_file_with_definitions(run, engine):
    p = run("; the top level as a program\n" + SEED + "\n", *engine,
            stdin="f = \\x. mpy:[x x]\nf:12\nadd:[1\n 2]\n)\nf:3\n", timeout=TIMEOUT)
    no_traceback(p.stdout, p.stderr)
    assert p.returncode == 0
    lines = p.stdout.splitlines()
    assert lines[:2] == ["144", "3"]
    assert matches("<error: *>", lines[2])
    assert lines[3:] == ["9"]


# --- through a pseudo-terminal --------------------------------------------------------

class Terminal:
    """`daisy ARGS` on a pseudo-terminal: what the user types, what the user sees."""

    def __init__(self, args, home):
        env = dict(os.environ, HOME=str(home), TERM="dumb")
        env.pop("DAISY_DEBUG", None)
        cmd = daisy_command() + list(args)
        pid, fd = pty.fork()
        if pid == 0:  # the child: never return into pytest
            try:
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                os.execve(cmd[0], cmd, env)
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        self.buf = b""          # read but not yet consumed by expect
        self.transcript = b""   # everything the terminal showed
        self.status = None

    def _read(self, deadline) -> bool:
        r, _, _ = select.select([self.fd], [], [], max(0.0, deadline - time.monotonic()))
        if not r:
            return False
        try:
            data = os.read(self.fd, 4096)
        except OSError:     # EIO: the child has gone and the terminal is closed
            data = b""
        if not data:
            raise EOFError
        self.buf += data
        self.transcript += data
        return True

    def expect(self, pattern: bytes, timeout=TIMEOUT) -> bytes:
        """Everything up to and including the next `pattern`."""
        deadline = time.monotonic() + timeout
        while pattern not in self.buf:
            try:
                if not self._read(deadline):
                    pytest.fail(f"timed out waiting for {pattern!r}; the terminal showed "
                                f"{self.transcript!r}")
            except EOFError:
                pytest.fail(f"the terminal closed before {pattern!r}; it showed {self.transcript!r}")
        i = self.buf.index(pattern) + len(pattern)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def send(self, data: bytes):
        os.write(self.fd, data)

    def drain(self, timeout):
        """Read until the terminal closes (or timeout): the rest of what it shows."""
        deadline = time.monotonic() + timeout
        try:
            while self._read(deadline):
                pass
        except EOFError:
            pass
        out, self.buf = self.buf, b""
        return out

    def wait(self, timeout=TIMEOUT) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(status)
                return self.status
            time.sleep(0.05)
        pytest.fail(f"daisy did not exit within {timeout}s; the terminal showed {self.transcript!r}")

    def close(self):
        if self.status is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
        os.close(self.fd)


@pytest.fixture
def terminal(tmp_path, engine):
    """start("repl") or start("run", FILE): on the engine under test."""
    opened = []

    def start(*args):
        args = args or ("repl",)
        t = Terminal((args[0], *engine, *args[1:]), tmp_path)
        opened.append(t)
        return t
    yield start
    for t in opened:
        t.close()


def test_terminal_prompt_expression_definition_and_ctrl_d(terminal, tmp_path):
    t = terminal("repl")
    banner = t.expect(b"&")
    assert b"daisy-jit" in banner
    t.send(b"add:[1 2]\n")
    assert t.expect(b"&") == b"add:[1 2]\r\n3\r\n&"
    t.send(b"f = \\x. mpy:[x x]\n")
    # a definition prints nothing: the echoed line is followed by the next prompt
    assert t.expect(b"&") == b"f = \\x. mpy:[x x]\r\n&"
    t.send(b"f:12\n")
    assert t.expect(b"&") == b"f:12\r\n144\r\n&"
    t.send(b"\x04")
    rest = t.drain(TIMEOUT)
    assert t.wait() == 0
    assert b"&" not in rest
    no_traceback(t.transcript)
    # readline's history file goes to $HOME
    history = (tmp_path / ".daisy_history").read_text()
    assert "add:[1 2]" in history and "f:12" in history


def test_terminal_continuation_lines_are_prompted(terminal):
    t = terminal("repl")
    t.expect(b"&")
    t.send(b"add:[1\n")
    assert t.expect(b"&") == b"add:[1\r\n&"        # no value yet: the command goes on
    t.send(b"2]\n")
    assert t.expect(b"&") == b"2]\r\n3\r\n&"
    t.send(b"\x04")
    t.drain(TIMEOUT)
    assert t.wait() == 0
    no_traceback(t.transcript)


def test_terminal_nested_top_level(terminal):
    # the seed line typed at the prompt starts a top level inside the top level; its
    # Ctrl-D ends only the nested one
    t = terminal("repl")
    t.expect(b"&")
    t.send(b'screen: scnos: prsos: evlst: prsis: scnis: console: "> "\n')
    t.expect(b'console: "> "\r\n')    # the echo of the line typed
    assert t.expect(b"> ") == b"> "      # at once the nested prompt, no value printed
    t.send(b"add:[1 2]\n")
    assert t.expect(b"> ") == b"add:[1 2]\r\n3\r\n> "
    t.send(b"\x04")
    t.expect(b"&")
    t.send(b"add:[3 4]\n")
    assert t.expect(b"&").endswith(b"7\r\n&")
    t.send(b"\x04")
    t.drain(TIMEOUT)
    assert t.wait() == 0
    no_traceback(t.transcript)


def test_terminal_ctrl_c_abandons_the_computation_and_keeps_definitions(terminal):
    t = terminal("repl")
    t.expect(b"&")
    t.send(f"{LOOP}\n".encode())
    t.expect(b"&")
    t.send(b"big = loop:0\n")          # a top-level suspension the interrupted run claims
    t.expect(b"&")
    t.send(b"big\n")
    t.expect(b"big\r\n")
    time.sleep(1.0)                     # the evaluation is under way
    t.send(b"\x03")
    assert b"interrupted" in t.expect(b"&")
    t.send(b"loop\n")                   # the definition survived
    assert t.expect(b"&").endswith(b"<function loop>\r\n&")
    t.send(b"%SpnHd?:[big]\n")          # and big is unevaluated again, not stuck claimed
    assert t.expect(b"&").endswith(b"true\r\n&")
    t.send(b"\x04")
    t.drain(TIMEOUT)
    assert t.wait() == 0
    no_traceback(t.transcript)


def test_terminal_ctrl_c_in_a_typed_application_then_more_work(terminal):
    # the command is compiled when typed (on the JIT, by the eval hook) and interrupted
    # while it runs, printing an infinite list; then the top level goes on
    t = terminal("repl")
    t.expect(b"&")
    t.send(f"{LOOP}\n".encode())
    t.expect(b"&")
    t.send(b"loop:0\n")
    t.expect(b"loop:0\r\n")
    time.sleep(1.0)
    t.send(b"\x03")
    assert b"interrupted" in t.expect(b"&")
    t.send(f"{INTSFROM}\n".encode())
    t.expect(b"&")
    t.send(b"intsfrom:0\n")
    t.expect(b"[0 1 2 3 4 5 ")
    t.send(b"\x03")
    assert b"interrupted" in t.expect(b"&")
    t.send(b"f = \\x. add:[x 1]\n")
    t.expect(b"&")
    t.send(b"f:41\n")
    assert t.expect(b"&").endswith(b"42\r\n&")
    t.send(b"\x04")
    t.drain(TIMEOUT)
    assert t.wait() == 0
    no_traceback(t.transcript)


def test_terminal_ctrl_c_at_the_prompt_gives_a_fresh_prompt(terminal):
    t = terminal("repl")
    t.expect(b"&")
    t.send(b"add:[1")                   # a half-typed line, then Ctrl-C
    time.sleep(0.3)
    t.send(b"\x03")
    t.expect(b"&")
    t.send(b"add:[2 2]\n")
    assert t.expect(b"&").endswith(b"4\r\n&")
    t.send(b"\x04")
    t.drain(TIMEOUT)
    assert t.wait() == 0
    no_traceback(t.transcript)


def test_terminal_run_seed_file(terminal, tmp_path):
    # the seed as a program file prompts with its own prompt on a terminal
    prog = tmp_path / "top.dsy"
    prog.write_text('screen: scnos: prsos: evlst: prsis: scnis: console: "%"\n')
    t = terminal("run", str(prog))
    t.expect(b"%")
    t.send(b"add:[2 3]\n")
    assert t.expect(b"%") == b"add:[2 3]\r\n5\r\n%"
    t.send(b"\x04")
    t.drain(TIMEOUT)
    assert t.wait() == 0
    no_traceback(t.transcript)
