"""Note [Forms with code] (jit/lower.py): `val` of quoted forms on the JIT and in
ahead-of-time executables, and of forms made at run time (rt/rt_formeval.c in an
executable; tests/test_aot_forms.py compares many with the interpreter)."""
import subprocess

from conftest import daisy, run_source

REDEFINE = """q = ^inc:1
val:q
#evlst:prsis:scnis:stdin
val:q
"""


def test_a_definition_made_at_run_time_rebinds_names_in_quoted_forms(tmp_path):
    # q's code was compiled with the program, calling inc directly; the definition
    # read from stdin must make val:q use the new inc, as the interpreter does
    jit = run_source(tmp_path, REDEFINE, stdin="inc = \\x. 42\n")
    interp = run_source(tmp_path, REDEFINE, "--interp", stdin="inc = \\x. 42\n")
    assert jit.returncode == interp.returncode == 0, jit.stderr + interp.stderr
    got, want = jit.stdout.splitlines(), interp.stdout.splitlines()
    assert got[0] == want[0] == "2"
    assert got[2] == want[2] == "42"


def test_executables_evaluate_quoted_forms_without_a_compiler(tmp_path):
    prog = tmp_path / "forms.dsy"
    prog.write_text('val:^add:[1 2]\nevlst:^[mpy:[2 3] [4 ! neg:5]]\n'
                    'val:#head:prsis:scnis:["a" "d" "d" ":" "[" "1" " " "1" "]" "`n"]\n'
                    'head = \\[x ! r]. x\n')
    exe = tmp_path / "forms"
    done = daisy("compile", prog, "-o", exe)
    assert done.returncode == 0, done.stderr
    out = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    # a form made at run time has no code: the runtime evaluates it (rt_formeval.c),
    # and prints what the interpreter and the JIT print
    interp = run_source(tmp_path, prog.read_text(), "--interp")
    jit = run_source(tmp_path, prog.read_text())
    assert interp.stdout.splitlines() == ["3", "[6 [4 ! -5]]", "2"]
    assert out.stdout == jit.stdout == interp.stdout


def test_executables_evaluate_forms_made_at_run_time(tmp_path):
    # the REPL's pipeline as a program: every form typed is made by prsis at run time
    prog = tmp_path / "repl.dsy"
    prog.write_text('screen: scnos: prsos: evlst: prsis: scnis: console: "&"\n')
    exe = tmp_path / "repl"
    done = daisy("compile", prog, "-o", exe)
    assert done.returncode == 0, done.stderr
    typed = ("sq = \\x. mpy:[x x]\nsq:7\n[sq \\y. y]\nlet:[[a ! b] [1 2 3] [b a]]\n"
             "rec:[x x x]\nlet:[x]\n(map:sq):[1 2 3]\n")
    out = subprocess.run([str(exe)], input=typed, capture_output=True, text=True, timeout=60)
    interp = run_source(tmp_path, prog.read_text(), "--interp", stdin=typed)
    assert out.returncode == interp.returncode == 0, out.stderr + interp.stderr
    assert out.stdout.splitlines() == interp.stdout.splitlines() == [
        "49", "[<function sq> <function>]", "[[2 3] 1]",
        "<error: cycle: a suspension demands its own value>",
        "<error: val: 'let' takes exactly three elements, got 1>", "[1 4 9]"]


def test_a_definition_made_at_run_time_rebinds_the_files_own_calls(tmp_path):
    # Note [Late binding] in jit/lower.py: g calls f directly in a program that
    # cannot change names; here evlst can, so g must see the new f
    text = "f = \\x. inc:x\ng = \\x. f:x\ng:1\n#evlst:prsis:scnis:stdin\ng:1\n"
    jit = run_source(tmp_path, text, stdin="f = \\x. 42\n")
    interp = run_source(tmp_path, text, "--interp", stdin="f = \\x. 42\n")
    assert jit.returncode == interp.returncode == 0, jit.stderr + interp.stderr
    assert jit.stdout == interp.stdout == "2\n[<defined f>]\n42\n"
