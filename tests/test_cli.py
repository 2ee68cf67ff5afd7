"""The `daisy` command (driver/cli.py): `daisy run`, `daisy passes`, `--version`.

Exit statuses (docs/language.md section 5, cli.py): 0 success, 2 a malformed program or
bad usage, 130 interrupted, 141 output pipe closed. No run may show a Python traceback.
"""
from __future__ import annotations

import os
import re
import select
import shlex
import signal
import subprocess
import time

import pytest

from conftest import clean_env, daisy, daisy_command, finish, restore_sigint

TIMEOUT = 20
INFINITE = "intsfrom = \\n. [n ! intsfrom:inc:n]\nintsfrom:0\n"
LOOP = "loop = \\x. loop:x\nloop:0\n"


def no_traceback(p):
    for text in (p.stdout, p.stderr):
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        assert "Traceback" not in text, text


# --- values and exit status -----------------------------------------------------------

def test_values_one_per_line_definitions_print_nothing(run):
    p = run("f = \\x. inc:x\n"
            "add:[1 2]\n"
            "g = \\[a b]. sub:[a b]\n"
            "f:41  g:[10 4]\n"              # two commands on one line
            "[1 [2 3] ! 4]\n"
            "1.5\n")
    no_traceback(p)
    assert p.returncode == 0
    assert p.stdout == "3\n42\n6\n[1 [2 3] ! 4]\n1.500000e+00\n"
    assert p.stderr == ""


def test_error_values_do_not_change_the_exit_status(run):
    p = run("div:[1 0]\nadd:[1 2]\n")
    no_traceback(p)
    assert p.returncode == 0
    lines = p.stdout.splitlines()
    assert lines[0].startswith("<error: ") and lines[0].endswith(">")
    assert lines[1] == "3"


def test_program_of_only_definitions_prints_nothing(run):
    p = run("f = \\x. inc:x\ng = f:1\n")
    no_traceback(p)
    assert p.returncode == 0
    assert p.stdout == ""


def test_screen_program_prints_only_what_the_screen_writes(run):
    p = run('screen:"hi`n"\nadd:[1 2]\n')
    no_traceback(p)
    assert p.returncode == 0
    assert p.stdout == "hi\n3\n"


# --- output as it is produced -------------------------------------------------------------

def test_infinite_list_output_is_progressive(tmp_path):
    prog = tmp_path / "ints.dsy"
    prog.write_text(INFINITE)
    p = subprocess.Popen(daisy_command() + ["run", str(prog)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=clean_env())
    data = b""
    try:
        deadline = time.monotonic() + TIMEOUT
        while len(data) < 400:
            r, _, _ = select.select([p.stdout], [], [], max(0.0, deadline - time.monotonic()))
            assert r, f"no progressive output within {TIMEOUT}s; got {data!r}"
            chunk = os.read(p.stdout.fileno(), 4096)
            assert chunk, f"daisy ended its output; got {data!r}, stderr {p.stderr.read()!r}"
            data += chunk
        assert p.poll() is None   # still printing: the output came before the end
    finally:
        p.kill()
        _, err = p.communicate(timeout=TIMEOUT)
    assert data.startswith(b"[0 1 2 3 4 5 6 7 8 9 10 ")
    assert b"Traceback" not in err


def test_closed_output_pipe_ends_quietly_with_141(tmp_path):
    prog = tmp_path / "ints.dsy"
    prog.write_text(INFINITE)
    cmd = shlex.join(daisy_command())
    script = (f'{cmd} run ints.dsy 2>err.txt | head -c 100 > head.txt; '
              'echo "${PIPESTATUS[0]}" > status.txt')
    subprocess.run(["bash", "-c", script], cwd=tmp_path, timeout=TIMEOUT, check=True,
                   env=clean_env())
    head = (tmp_path / "head.txt").read_bytes()
    assert len(head) == 100 and head.startswith(b"[0 1 2 3 ")
    err = (tmp_path / "err.txt").read_text()
    assert "Traceback" not in err
    assert "Error" not in err
    assert err == ""
    assert (tmp_path / "status.txt").read_text().strip() == "141"


def test_closed_output_pipe_after_a_finite_program(tmp_path):
    # far more output than a pipe holds; the reader takes the first line only
    prog = tmp_path / "many.dsy"
    prog.write_text("take = \\[n L]. if:[zero?:n [] let:[[X ! Xs] L [X ! take:[dcr:n Xs]]]]\n"
                    "from = \\n. [n ! from:inc:n]\n1\n"
                    + "".join(f"take:[300 from:{i}]\n" for i in range(300)))
    cmd = shlex.join(daisy_command())
    script = (f'{cmd} run many.dsy 2>err.txt | head -n 1 > head.txt; '
              'echo "${PIPESTATUS[0]}" > status.txt')
    subprocess.run(["bash", "-c", script], cwd=tmp_path, timeout=TIMEOUT * 3, check=True,
                   env=clean_env())
    assert (tmp_path / "head.txt").read_text() == "1\n"
    err = (tmp_path / "err.txt").read_text()
    assert "Traceback" not in err and "Error" not in err
    assert (tmp_path / "status.txt").read_text().strip() in ("0", "141")


def test_ctrl_c_exits_130_without_traceback(tmp_path):
    prog = tmp_path / "loop.dsy"
    prog.write_text(LOOP)
    p = subprocess.Popen(daisy_command() + ["run", str(prog)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=clean_env(), preexec_fn=restore_sigint)
    time.sleep(1.0)
    assert p.poll() is None, "the endless loop ended by itself"
    out, err = finish(p, TIMEOUT, signal.SIGINT)
    assert p.returncode == 130
    assert b"Traceback" not in err and b"Traceback" not in out
    assert b"Error" not in err


def test_ctrl_c_while_printing_an_infinite_list(tmp_path):
    prog = tmp_path / "ints.dsy"
    prog.write_text(INFINITE)
    p = subprocess.Popen(daisy_command() + ["run", str(prog)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=clean_env(), preexec_fn=restore_sigint)
    try:
        r, _, _ = select.select([p.stdout], [], [], TIMEOUT)
        assert r, "no output"
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=TIMEOUT)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    assert p.returncode == 130
    assert b"Traceback" not in err
    assert out.startswith(b"[0 1 2")


# --- bad files and usage --------------------------------------------------------------------

def test_missing_file(tmp_path):
    missing = tmp_path / "missing.dsy"
    p = daisy("run", missing)
    no_traceback(p)
    assert p.returncode == 2
    assert "missing.dsy" in p.stderr
    assert p.stdout == ""


def test_directory_instead_of_a_file(tmp_path):
    p = daisy("run", tmp_path)
    no_traceback(p)
    assert p.returncode == 2
    assert str(tmp_path) in p.stderr


def test_file_that_is_not_utf8(tmp_path):
    bad = tmp_path / "latin.dsy"
    bad.write_bytes(b"\xff\xfe add:[1 2]\n")
    p = daisy("run", bad)
    no_traceback(p)
    assert p.returncode == 2
    assert "latin.dsy" in p.stderr


def test_source_error_reports_position_and_runs_nothing(run):
    p = run("add:[1 2]\nf = \\x. add:[x 1\n", name="bad.dsy")
    no_traceback(p)
    assert p.returncode == 2
    assert p.stdout == ""           # the file is parsed whole before anything runs
    assert re.search(r"bad\.dsy:2:\d+: error", p.stderr), p.stderr


def test_name_defined_twice_is_a_source_error(run):
    p = run("f = 1\nf = 2\nf\n", name="dup.dsy")
    no_traceback(p)
    assert p.returncode == 2
    assert "dup.dsy:2:1" in p.stderr
    assert p.stdout == ""


@pytest.mark.parametrize("args", [["frob"], ["run"], ["run", "--dump-after", "bogus", "x.dsy"]])
def test_bad_usage_exits_2(args):
    p = daisy(*args)
    no_traceback(p)
    assert p.returncode == 2
    assert "usage" in p.stderr


# --- --dump-after ----------------------------------------------------------------------------

DUMP_PROG = "f = \\x. add:[x 1]\nf:2\n"


@pytest.mark.parametrize("pass_name", ["parse", "desugar", "resolve", "primcalls"])
def test_dump_after_one_pass(run, pass_name):
    p = run(DUMP_PROG, "--dump-after", pass_name)
    no_traceback(p)
    assert p.returncode == 0
    assert p.stdout == "3\n"
    headers = re.findall(r";; ---- IR after (\w+) ----", p.stderr)
    assert headers == [pass_name]
    assert ";;" not in p.stdout


def test_dump_after_resolve_shows_slots_and_globals(run):
    p = run(DUMP_PROG, "--dump-after", "resolve")
    no_traceback(p)
    assert p.returncode == 0
    assert p.stdout == "3\n"
    assert ";; ---- IR after resolve ----" in p.stderr
    assert "x@0.0" in p.stderr      # a local: frame 0, slot 0
    assert "f@g" in p.stderr        # a top-level definition
    assert "add@p" in p.stderr      # a primitive


def test_dump_after_primcalls_shows_prim_calls(run):
    p = run(DUMP_PROG, "--dump-after", "primcalls")
    no_traceback(p)
    assert "(prim add x@0.0 1)" in p.stderr
    assert p.stdout == "3\n"


def test_dump_after_all_in_pass_order(run):
    p = run(DUMP_PROG, "--dump-after", "all")
    no_traceback(p)
    assert p.returncode == 0
    assert p.stdout == "3\n"
    headers = re.findall(r";; ---- IR after (\w+) ----", p.stderr)
    from daisy.pipeline import PASS_NAMES
    assert headers == PASS_NAMES


def test_dump_after_repeated(run):
    p = run(DUMP_PROG, "--dump-after", "primcalls", "--dump-after", "parse")
    no_traceback(p)
    headers = re.findall(r";; ---- IR after (\w+) ----", p.stderr)
    assert headers == ["parse", "primcalls"]     # always in pass order
    assert p.stdout == "3\n"


# --- daisy passes, --version ------------------------------------------------------------------

def test_passes_lists_the_passes_in_order():
    p = daisy("passes")
    no_traceback(p)
    assert p.returncode == 0
    names = [line.split()[0] for line in p.stdout.splitlines()
             if line.strip() and not line.startswith("--")]
    assert names == ["parse", "desugar", "resolve", "primcalls", "demand", "closures",
                     "callmodes", "lower", "reps", "loops", "sparks", "allocs", "roots", "emit",
                     "llvm", "codegen"]


def test_self_tail_calls_become_loops(tmp_path):
    """Note [Self tail calls] (jit/loops.py): count_s's call of itself is a jump back
    to its start after the loops pass, and the loop allocates, collects and polls
    as the calls did (its answer under a collection at every allocation)."""
    prog = tmp_path / "count.dsy"
    prog.write_text("count = \\[n acc]. if:[zero?:n acc count:[dcr:n [n ! acc]]]\n"
                    "let:[[X ! Xs] count:[100000 []] X]\n"
                    "let:[[A B ! R] count:[3 []] B]\n")
    p = daisy("run", "--dump-after", "reps", "--dump-after", "loops", prog)
    no_traceback(p)
    assert p.stdout.splitlines() == ["1", "2"]
    before, after = p.stderr.split("loops", 1)
    assert "tail call code count_s(%dcrdone" in before
    spread = after[after.index("fn count_s"):]
    spread = spread[:spread.index("\nfn ")]
    assert "tail call code count_s" not in spread
    assert "jump entry(%dcrdone" in spread
    p = daisy("run", prog, env={"DAISY_GC_STRESS": "1"})
    no_traceback(p)
    assert p.stdout.splitlines() == ["1", "2"]


def test_version():
    from daisy import __version__
    p = daisy("--version")
    no_traceback(p)
    assert p.returncode == 0
    assert p.stdout.strip() == f"daisy-jit {__version__}"


# --- warnings ----------------------------------------------------------------------------------

def test_undefined_name_warns_on_stderr_and_prints_an_error_value(run):
    p = run("f = \\x. add:[x y]\nf:1\nadd:[1 2]\n", name="warn.dsy")
    no_traceback(p)
    assert p.returncode == 0
    assert p.stdout == "<error: unbound identifier y>\n3\n"
    err = p.stderr.splitlines()
    i = next(k for k, line in enumerate(err) if "warn.dsy:1:16:" in line)
    assert "warning" in err[i] and "'y'" in err[i]
    source_line, caret_line = err[i + 1], err[i + 2]
    assert source_line.strip() == "f = \\x. add:[x y]"
    # the caret stands under the `y`
    assert caret_line.strip() == "^"
    assert source_line[caret_line.index("^")] == "y"


def test_undefined_name_never_demanded_still_warns(run):
    p = run("f = \\x. zork\nadd:[1 2]\n", name="w2.dsy")
    no_traceback(p)
    assert p.returncode == 0
    assert p.stdout == "3\n"
    assert "w2.dsy:1:9:" in p.stderr


# --- daisy run - --------------------------------------------------------------------------------

def test_run_reads_the_program_from_stdin():
    p = daisy("run", "-", stdin="add:[1 2]\nf = \\x. inc:x\nf:1\n")
    no_traceback(p)
    assert p.returncode == 0
    assert p.stdout == "3\n2\n"


def test_run_stdin_warnings_name_stdin():
    p = daisy("run", "-", stdin="abc\n")
    no_traceback(p)
    assert p.returncode == 0
    assert p.stdout == "<error: unbound identifier abc>\n"
    assert p.stderr.startswith("<stdin>:1:1:")


def test_text_printed_before_a_long_computation_is_not_held_back(tmp_path):
    # `[1 ` is printed, then the second element takes seconds: to a pipe, the first
    # element must arrive while the computation is still running
    prog = tmp_path / "slow.dsy"
    prog.write_text("slow = \\n. if:[zero?:n 0 slow:dcr:n]\n[1 slow:3000000]\n")
    p = subprocess.Popen(daisy_command() + ["run", str(prog)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=clean_env())
    try:
        r, _, _ = select.select([p.stdout], [], [], 3.0)
        assert r, "nothing arrived within 3 s"
        first = os.read(p.stdout.fileno(), 100)
        assert first.startswith(b"[1")
        assert p.poll() is None, "the computation was expected to take longer"
    finally:
        p.kill()
        p.communicate()


def _run_on_pty(args: list, timeout: float = 300) -> tuple[int, str, bytes]:
    """(status, stdout, what was written to stderr) of daisy with stderr a terminal."""
    import pty
    master, slave = pty.openpty()
    p = subprocess.Popen(daisy_command() + [str(a) for a in args], stdout=subprocess.PIPE,
                         stderr=slave, env=clean_env(DAISY_CACHE_DIR="off"))
    os.close(slave)
    err = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:                       # the child closed its end
            break
        if not chunk:
            break
        err += chunk
    os.close(master)
    out = p.stdout.read().decode()
    return p.wait(timeout=timeout), out, err


def test_a_long_compile_says_how_far_it_is_on_a_terminal(tmp_path):
    """Note [Compile progress] (driver/pipeline.py): past a second, the pass by number
    and, in the passes that go function by function, the function; then the time."""
    prog = tmp_path / "big.dsy"
    lines = [f"fib{i} = \\n. if:[lt?:[n 2] n add:[fib{i}:dcr:n fib{i}:sub:[n 2]]]"
             for i in range(200)]
    prog.write_text("\n".join(lines) + "\nfib199:10\n")
    status, out, err = _run_on_pty(["run", "-O2", prog])
    assert status == 0, err
    assert out == "55\n"
    text = err.decode()
    # the streamed back end (Note [Streaming back end]): which function, then how many
    # of the program's parts LLVM has compiled
    assert re.search(r"daisy: compiling .*big\.dsy: \[5 of 5\] loops\.\.codegen, "
                     r"(function \d+ of \d+: \S+|LLVM, parts done: \d+ of \d+) \(\d+\.\d s\)",
                     text), text[-500:]
    assert re.search(r"LLVM, parts done: \d+ of \d+ \(", text), text[-500:]
    assert re.search(r"daisy: compiled .*big\.dsy in \d+\.\d s\r?\n$", text), text[-500:]
    # off a terminal, nothing
    p = daisy("run", "-O2", prog, env={"DAISY_CACHE_DIR": "off"})
    assert p.stdout == "55\n" and "compil" not in p.stderr
