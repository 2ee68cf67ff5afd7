"""Note [Forms with code] (jit/lower.py): `val` of quoted forms on the JIT and in
ahead-of-time executables."""
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
    lines = out.stdout.splitlines()
    assert lines[:2] == ["3", "[6 [4 ! -5]]"]
    # a form made at run time needs a compiler: an error value, not a crash
    assert lines[2].startswith("<error: val: this program cannot compile new code")
    jit = run_source(tmp_path, prog.read_text())
    assert jit.stdout.splitlines() == ["3", "[6 [4 ! -5]]", "2"]


def test_a_definition_made_at_run_time_rebinds_the_files_own_calls(tmp_path):
    # Note [Late binding] in jit/lower.py: g calls f directly in a program that
    # cannot change names; here evlst can, so g must see the new f
    text = "f = \\x. inc:x\ng = \\x. f:x\ng:1\n#evlst:prsis:scnis:stdin\ng:1\n"
    jit = run_source(tmp_path, text, stdin="f = \\x. 42\n")
    interp = run_source(tmp_path, text, "--interp", stdin="f = \\x. 42\n")
    assert jit.returncode == interp.returncode == 0, jit.stderr + interp.stderr
    assert jit.stdout == interp.stdout == "2\n[<defined f>]\n42\n"
