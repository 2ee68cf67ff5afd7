"""Fixnum variants (Note [Fixnum variants] and Note [Fixnum entries] in jit/reps.py):
they compute the same values as the interpreter, including where they
must give up (overflow, values that are not small integers, a full stack), giving up
costs one recomputation and not one per frame, a hungry worker still gets sparks, and
they survive injected allocation failures and a compaction at every slow path."""
import functools
import re
import signal
import subprocess
import tempfile
import time

import pytest

from conftest import clean_env, daisy_command, interpret, restore_sigint, run_source
from daisy.jit.program import JitProgram
from daisy.pipeline import compile_source

FUNCTIONS = """\
nfib = \\n. if:[lt?:[n 2] 1 add:[nfib:dcr:n nfib:sub:[n 2] 1]]
pfib = \\n. if:[lt?:[n 12] nfib:n let:[a @pfib:dcr:n add:[pfib:sub:[n 2] a 1]]]
enfib = \\n. if:[lt?:[n 2] 1 add:[@enfib:dcr:n enfib:sub:[n 2] 1]]
tak = \\[x y z]. if:[lt?:[y x] tak:[tak:[dcr:x y z] tak:[dcr:y z x] tak:[dcr:z x y]] z]
fact = \\n. if:[zero?:n 1 mpy:[n fact:dcr:n]]
count = \\n. if:[zero?:n 0 inc:count:dcr:n]
shift = \\[a b]. if:[le?:[b 0] a shift:[mpy:[a 2] dcr:b]]
down = \\[a b]. if:[ge?:[a b] sub:[a b] neg:down:[inc:a b]]
digits = \\[n b]. if:[lt?:[n b] 1 inc:digits:[div:[n b] b]]
gcd = \\[a b]. if:[zero?:b a gcd:[b rem:[a b]]]
quot = \\[a b]. add:[div:[a b] rem:[a b]]
"""
BIG = 2**62 - 1           # the largest small integer (Note [Value tags])

# each line one top-level expression: the answers the interpreter gives
CASES = [
    "nfib:15", "pfib:16", "enfib:14", "tak:[12 8 4]", "nfib:2.5",
    "fact:20",                       # fits
    "fact:21", "fact:30",            # overflow on the way back up: given up on
    "shift:[1 61]", "shift:[1 62]", "shift:[3 70]",
    "down:[-5 7]", "down:[-20 3]", f"down:[{BIG} {-BIG}]",
    'nfib:"a"', "nfib:[1]", "tak:[1.5 2 3]",   # not small integers
    "fact:add:[2 3]", "let:[k 10 nfib:k]",
    "digits:[1000000 10]", "digits:[-77 -3]", "digits:[5 0]",   # 0: division by zero
    "gcd:[1071 462]", "gcd:[-48 18]", "gcd:[7 0]", f"quot:[{-BIG - 1} -1]", "quot:[-7 2]", "quot:[1 0]",
]


def program(lines):
    return FUNCTIONS + "".join(line + "\n" for line in lines)


@functools.cache
def interpreted(text: str) -> str:
    return "".join(line + "\n" for line in interpret(text))


def giveups(stderr: str) -> int:
    m = re.search(r"fixnum variants given up on: ([\d,]+)", stderr)
    return int(m.group(1).replace(",", "")) if m else 0


@pytest.mark.parametrize("threads", ["1", "2", "4"])
def test_values_agree_with_the_interpreter(tmp_path, threads):
    text = program(CASES)
    want = interpreted(text)
    done = run_source(tmp_path, text, "--threads", threads)
    assert done.returncode == 0, done.stderr
    assert done.stdout == want


def reps(text):
    """The LIR program after the `reps` pass."""
    return compile_source(text, dump_after=["reps"], dump=lambda name, text: None).lir


def test_the_pass_marks_the_functions(tmp_path):
    assert reps(program(["nfib:3"])).fixnum == ["nfib", "pfib", "enfib", "tak", "fact",
                                                "count", "shift", "down", "digits", "gcd",
                                                "quot"]
    # b is not demanded (a may not be a number): a fixnum variant may take it as a
    # value (its entry checks that it is one), but a variant calling pick must not
    # evaluate a call in b's place early; a call-free value or a `$E` is evaluated anyway
    lazy = reps("spin = \\n. spin:n\npick = \\[a b]. if:[lt?:[a 0] 0 b]\n"
                "u1 = \\n. pick:[n spin:n]\nu2 = \\n. pick:[n inc:n]\n"
                "u3 = \\n. pick:[n $spin:n]\npick:[1 2]\n")
    assert lazy.fixnum == ["spin", "pick", "u2", "u3"]
    # a let value a fixnum variant may compute where the body names it, but `$E` runs
    # at the let in the lazy program too, so it does there
    from daisy.jit.reps import deferred
    lets = compile_source("spin = \\n. spin:n\nf = \\n. let:[a spin:n if:[lt?:[n 0] a 0]]\n"
                          "g = \\n. let:[a $spin:n if:[lt?:[n 0] a 0]]\nf:1\n").module.defs()
    assert deferred(lets["f"].expr.body) and not deferred(lets["g"].expr.body)
    late = reps(FUNCTIONS + "val:^nfib:3\n")
    assert late.fixnum == [] and "run time" in late.fixnum_skipped


VARIANT_ORDER = """\
spin = \\n. spin:n
less = \\[x y]. if:[lt?:[y x] 0 1]
order = \\n. less:[spin:n mpy:[n 4611686018427387903 4]]
deferred = \\n. let:[a spin:n add:[mpy:[n 4611686018427387903 4] a]]
order:1
deferred:1
"""


@pytest.mark.parametrize("threads", ["1", "2"])
def test_variants_evaluate_in_the_order_the_generic_code_would(tmp_path, threads):
    # less demands x only when y is a number: a fixnum variant computes y first, which
    # overflows, gives up, and the generic code returns the error without x; a let
    # value the body names once is computed where it is named, after the operand
    # before it has overflowed. Computing spin:n first would never end.
    assert reps(VARIANT_ORDER).fixnum == ["spin", "less", "order", "deferred"]
    want = interpreted(VARIANT_ORDER)
    assert want == "<error: integer overflow in mpy>\n" * 2
    try:
        done = run_source(tmp_path, VARIANT_ORDER, "--threads", threads, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("a fixnum variant evaluated spin:n before the value that stops the "
                    "call")
    assert done.returncode == 0, done.stderr
    assert done.stdout == want


def test_giving_up_is_paid_once_not_per_frame(tmp_path):
    # fact:200 overflows at fact:21, 180 frames below the top: the entry that sees
    # the variant give up recomputes generically with the variants off, so one give-up;
    # retrying in every frame on the way back would give up 180 times
    done = run_source(tmp_path, program(["fact:200"]), "--stats", "--threads", "1")
    assert done.returncode == 0, done.stderr
    assert done.stdout == interpreted(program(["fact:200"]))
    assert giveups(done.stderr) == 1
    # the flag is cleared afterwards: a second overflow gives up again
    done = run_source(tmp_path, program(["fact:200", "fact:100", "nfib:15"]), "--stats",
                      "--threads", "1")
    assert giveups(done.stderr) == 2


def test_small_integers_never_give_up(tmp_path):
    done = run_source(tmp_path, program(["nfib:22", "tak:[18 12 6]", "count:1000"]),
                      "--stats", "--threads", "1")
    assert done.returncode == 0
    assert done.stdout == "57313\n7\n1000\n"
    assert "given up" not in done.stderr
    assert re.search(r"^\s*0 suspensions allocated", done.stderr, re.M), done.stderr


def test_a_full_stack_gives_the_error_value(tmp_path):
    # a fixnum variant at the C stack's end gives up; the generic code then reaches the end
    # too and makes the error value (tests/test_deep.py: deep recursion works or
    # ends with `stack exhausted`)
    done = run_source(tmp_path, program(["count:10000000", "count:10"]), "--stats",
                      "--threads", "1")
    assert done.returncode == 0, done.stderr
    first, second = done.stdout.splitlines()
    assert first in ("10000000", "<error: stack exhausted>")
    assert second == "10"


def test_a_hungry_worker_gets_sparks(tmp_path):
    # with two workers the helper is hungry: a fixnum variant reaching `@` hands its
    # call to the generic code, which sparks; the helper converts some
    done = run_source(tmp_path, program(["enfib:24", "pfib:26"]), "--stats", "--threads", "2")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "150049\n392835\n"
    m = re.search(r"SPARKS: (\d+) \((\d+) converted", done.stderr)
    assert int(m.group(2)) >= 1, done.stderr


@pytest.mark.parametrize("threads", [1, 2, 4])
def test_faults_and_compactions(threads):
    # allocation failures injected in helpers and a compaction at every slow path,
    # while fixnum variants run: the values stay the interpreter's
    lines = ["pfib:16", "enfib:14", "fact:25", "tak:[12 8 4]", "shift:[1 62]"]
    text = program(lines)
    want = interpreted(text)
    state = compile_source(text)
    prog = JitProgram(state, opt=1)
    ctx = prog.context(threads, 0, gc_stress=True, inject_fail_every=7)
    with tempfile.TemporaryFile() as out:
        status = prog.run(ctx, fd=out.fileno())
        out.seek(0)
        got = out.read().decode()
    ctx.close()
    assert status == 0
    assert got == want


@pytest.mark.parametrize("text", [
    "nfib:80\n",                                              # non-tail recursion
    "spin = \\n. if:[lt?:[n 0] 0 spin:inc:n]\nspin:0\n",      # a loop of tail calls
], ids=["recursion", "tail-loop"])
def test_variants_poll_so_ctrl_c_stops_them(tmp_path, text):
    """Fixnum variants poll before the first call on each path, not at entry (Note [Fixnum
    entries]): every recursion and loop still reaches a poll, so an interrupt ends
    the run with status 130."""
    prog = tmp_path / "prog.dsy"
    prog.write_text(FUNCTIONS + text)
    p = subprocess.Popen(daisy_command() + ["run", "--threads", "2", str(prog)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=clean_env(),
                         preexec_fn=restore_sigint)
    try:
        time.sleep(1.5)
        assert p.poll() is None, "the endless computation ended by itself"
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    assert p.returncode == 130 and out == b"" and b"Traceback" not in err
