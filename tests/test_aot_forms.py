"""Forms made at run time in ahead-of-time executables (rt/rt_formeval.c).

An executable has no compiler: `val` of a form that `prsis` made, or of a quoted form
after a definition made at run time, is evaluated by the runtime walking the form.
It must print what the reference interpreter prints, values and error texts alike.
The programs read commands from standard input through the REPL's pipeline
(`screen: scnos: prsos: evlst: prsis: scnis: console: "&"`, examples/repl-pipeline.dsy,
and `#evlst: prsis: scnis: stdin` in a program with definitions of its own); each
corpus runs on the interpreter, an executable and the JIT (which compiles each form
through its eval hook), and all three must agree line for line.

One worker, so that a spark never runs before %SpnHd? looks at it; the corpora
without such probes run again on four workers.
"""
from __future__ import annotations

import pathlib
import subprocess

import pytest

from conftest import ROOT, daisy

PIPELINE = ROOT / "examples" / "repl-pipeline.dsy"
TIMEOUT = 120

# Every topic: commands typed one a line.  Nothing here prints an infinite value.
CORPUS = {
    "lambdas and patterns": r"""
(\x. x):5
(\x. inc:x):5
(\[a b]. add:[a b]):[1 2]
(\[a b]. add:[a b]):[1 2 3]
(\[a ! b]. b):[1 2 3]
(\[[a b] c]. [c b a]):[[1 2] 3]
(\[[a b] c ! d]. [d c b a]):[[1 2] 3 4 5]
(\[]. 7):[1 2]
(\[]. 7):5
(\[a]. a):5
(\[a b]. b):[1]
(\[a b]. a):[1]
(\[a b]. [a b]):div:[1 0]
(\x. \y. [x y]):1
((\x. \y. [x y]):1):2
(\f. f:(f:3)):\x. mpy:[x x]
(\[f x]. f:x):[inc 4]
(\nil. nil):5
(\add. add):5
\x. x
\[a ! b]. [b a]
(\x. x)
[\x. x 1]
5:3
"abc":3
nope:3
(div:[1 0]):3
(\x. x):nope
""",
    "lists and names": r"""
[1 2 ! 3]
[1 [2 [3 [4]]]]
[add:[1 2] mpy:[3 4]]
[]
[[] []]
[1 ! [2 ! [3]]]
"abc"
"a b"
"tab`there"
abc
true
nil
[true nil add]
4611686018427387904
add:[4611686018427387903 1]
mpy:[4611686018427387904 2]
-3
1.5
add:[1.5 2]
div:[1.0 0]
isERR?:nope
""",
    "let rec fix if": r"""
let:[x 1 x]
let:[x 1 let:[y 2 [x y]]]
let:[x 1 let:[x 2 x]]
let:[[a b] [1 2] add:[a b]]
let:[[a ! b] [1 2 3] b]
let:[[a [b c]] [1 [2 3]] [c b a]]
let:[[a b] 5 a]
let:[[a b] 5 7]
let:[[] 5 7]
let:[x div:[1 0] 3]
let:[x div:[1 0] x]
rec:[f \n. if:[zero?:n 0 add:[n f:dcr:n]] f:10]
rec:[[ev od] [\n. if:[zero?:n true od:dcr:n] \n. if:[zero?:n [] ev:dcr:n]] [ev:10 od:10 ev:7]]
rec:[x 5 x]
rec:[x "a b" x]
rec:[x x x]
rec:[[a b] [b 1] a]
rec:[[a b] [1 a] b]
rec:[[a b] [b a] a]
rec:[xs [1 2 ! xs] let:[[a b c d] xs [a b c d]]]
fix:[x ! 5]
fix:[x ! [0 1]]
fix:[x 1 2 3]
fix:[x a b]
fix:[x]
fix:[[a b] 1 a]
fix:[[a b] ! [1 a]]
fix:[f ! \n. if:[zero?:n [] [n ! f:dcr:n]]]
let:[f fix:[f ! \n. if:[zero?:n [] [n ! f:dcr:n]]] f:5]
let:[xs fix:[xs ! [1 2 ! xs]] let:[[a b c d e] xs [a b c d e]]]
let:[[a b c] #fix:[x ! [0 ! x]] [a b c]]
if:[]
if:[5]
if:[[] 1]
if:[[] 1 2]
if:[1 2 3]
if:[[] 1 [] 2]
if:[[] 1 [] 2 3]
if:[div:[1 0] 1 2]
if:[nope 1 2]
if:[zero?:0 a b]
if:[zero?:1 a b]
""",
    "annotations and quotation": r"""
$inc:4
#[1 [2 3]]
@inc:4
@[1 inc:1]
^f:x
^^x
^\x. add:[x 1]
^[1 2 ! 3]
^@f:x
^$f:x
^#f:x
^let:[x]
$[1 2]
#[inc:1 [dcr:1]]
$(\x. x):inc:1
val:^add:[1 2]
val:^(\x. x):5
val:^^x
val:val:^^add:[2 3]
evlst:[^inc:1 ^(\x. [x]):2 3 "a b"]
isFTN?:\x. x
isAPL?:^f:x
isAPL?:\x. x
""",
    "suspended positions": r"""
%SpnHd?:[[] 1]
%SpnHd?:[1 2]
%SpnHd?:[inc:1 2]
%SpnTl?:[1 2]
%SpnTl?:[1 ! inc:2]
%SpnHd?:[[1] 2]
%SpnHd?:$[[1] 2]
%SpnHd?:[$inc:1 2]
%SpnHd?:[#[1] 2]
%SpnHd?:[@inc:1 2]
%SpnHd?:[\x. x 2]
%SpnHd?:[^x 2]
%SpnHd?:[x 2]
%SpnHd?:["a b" 2]
let:[x inc:1 %SpnHd?:[x]]
let:[x $inc:1 %SpnHd?:[x]]
let:[x inc:1 seq:[x %SpnHd?:[x]]]
let:[[a b] [inc:1 2] %SpnHd?:[a]]
let:[l (\x. x):[inc:1 2] seq:[let:[[a b] l %SpnHd?:[a]]]]
let:[[a b] (\x. x):[1 2] %SpnHd?:[a]]
(\x. %SpnHd?:[x]):inc:1
(\x. %SpnHd?:[x]):$inc:1
(\x. %SpnHd?:[x]):@inc:1
%SpnHd?:[$(\x. x):inc:1]
%SpnHd?:[$(\x. $x):inc:1]
%SpnHd?:[$let:[y inc:1 y]]
%SpnHd?:[$if:[1 inc:1]]
let:[y inc:1 %SpnHd?:[$y]]
%SpnTl?:$[1 ! [2]]
%SpnTl?:[1 ! [2]]
%SpnHd?:#[[1] 2]
""",
    "primitives": r"""
div:[1 0]
add:[1 "a"]
add:[^a div:[1 0]]
inc:nope
map:inc
(map:inc):[1 2 3]
(map:\x. mpy:[x x]):[1 2 3]
(smap:\x. [x]):[1 2]
(fc:[inc dcr \x. [x]]):[1 2 3]
seq:[1 2 (\x. x):3]
pcoerce:[inc:1 div:[1 0]]
any?:[[] (\x. x):5]
set:[1 2]
eq?:[^a "a"]
eq?:[\x. x 1]
""",
    "malformed forms": r"""
let
map:if
if
let:[x]
let:[x 1 ! 2]
let:1
let:[x 1 2 3]
rec:[x 1]
rec:x
fix:[]
fix:3
if:[1 2 ! 3]
if:5
\[a a]. a
\[a [b a]]. a
\[a ! a]. a
let:[[a a] 1 2]
let:[1 2 3]
let:[f:x 2 3]
let:["a b" 2 3]
let:[[a 1] 2 3]
let:[\x. x 2 3]
let:[@x 2 3]
\let. 1
\[a if]. 1
let:[rec 1 2]
let:[[a b] 1 let:[x]]
f:let:[x]
[let:[x] fix:[]]
add:[let if]
(\x. let):3
val:^let:[x]
@let:[x]
$if:[1 ! 2]
let:[[a a] let:[x] 1]
let:[[a let] 1 2]
let:[[1 a a] 1 2]
let:[[a> a>] 1 2]
let = 3
if = \x. x
x = let:[y]
x
""",
    "definitions": r"""
f = \x. inc:x
f
f:1
[f g]
g = \n. if:[zero?:n 0 g:dcr:n]
g:200000
h = add:[1 2]
h
[h]
k = 5
k
s = "a b"
s
q = ^f:x
q
val:q
f = \x. dcr:x
f:1
val:q
[f]
sq = \[a b]. mpy:[a b]
map:sq
(map:sq):[[1 2] [3 4]]
count = \[n acc]. if:[zero?:n acc count:[dcr:n add:[acc 1]]]
count:[200000 0]
intsfrom = \n. [n ! intsfrom:inc:n]
take = \[n l]. if:[zero?:n [] let:[[x ! xs] l [x ! take:[dcr:n xs]]]]
take:[5 intsfrom:1]
self = \x. self
self:1
ones = [1 ! ones]
take:[3 ones]
cyc = cyc
cyc
sum = \n. if:[zero?:n 0 add:[n sum:dcr:n]]
sum:10000
append = \[L1 L2]. let:[[X ! Xs] L1 if:[nil?:L1 L2 [X ! $append:[Xs L2]]]]
append:[[1 2 3] [4 5]]
partition = \[p l]. if:[nil?:l [[] []] let:[[x ! xs] l let:[[lo hi] partition:[p xs] if:[lt?:[x p] [[x ! lo] hi] [lo [x ! hi]]]]]]
quick = \L. let:[[X ! Xs] L if:[nil?:L L nil?:Xs L let:[[lo hi] partition:[X Xs] append:[@#quick:lo [X ! @#quick:hi]]]]]
quick:[5 3 8 1 9 2 7 3]
nfib = \n. if:[lt?:[n 2] 1 inc:add:[nfib:dcr:n nfib:sub:[n 2]]]
nfib:15
compose = \[f g]. \x. f:g:x
(compose:[inc sq2]):3
sq2 = \x. mpy:[x x]
(compose:[inc sq2]):3
big = add:[1 2]
%SpnHd?:[big]
[big]
%SpnHd?:[big]
mfact = \n. if:[zero?:n 1 mpy:[n mfact:dcr:n]]
mfact:20
mfact:21
w = \[a b c d e f g h]. [h g f e d c b a]
w:[1 2 3 4 5 6 7 8]
w:[1 2 3]
nest = \[[a b] [c [d e]] ! f]. [a b c d e f]
nest:[[1 2] [3 [4 5]] 6 7]
nest:[[1 2] [3 [4]]]
""",
}

# Patterns with more binders than a frame keeps inline, deep nesting (the
# interpreter's prsis reads commands up to about 1000 levels deep), long lists.  The
# JIT takes minutes to compile some of these, so only the executable runs them.
_NAMES = " ".join(f"a{i}" for i in range(100))
_NUMS = " ".join(str(i) for i in range(100))
LARGE = "\n".join([
    rf"(\[{_NAMES}]. [a99 a50 a0]):[{_NUMS}]",
    rf"(\[{_NAMES}]. [a99 a50 a0]):[1 2]",
    rf"rec:[[{_NAMES}] [{' '.join(str(i) for i in range(99))} a0] [a98 a99]]",
    rf"let:[[{_NAMES} ! more] [{_NUMS} x y] more]",
    "[" * 500 + "1" + "]" * 500,
    "#(\\[x]. x):[" + "[" * 400 + "2" + "]" * 401,
    "(" * 300 + "\\x. inc:x" + ")" * 300 + ":1",
    "inc:" * 800 + "0",
    "let:[f \\x. x " + "f:" * 800 + "7]",
    "[" + " ".join(f"inc:{i}" for i in range(3000)) + "]",
]) + "\n"

# Lines whose answer depends on when a spark runs: only on one worker.
TIMING = {"%SpnHd?:[@inc:1 2]", "(\\x. %SpnHd?:[x]):@inc:1"}


def _lines(topic: str) -> list[str]:
    return [ln for ln in CORPUS[topic].strip().splitlines() if ln.strip()]


@pytest.fixture(scope="module")
def pipeline_exe(tmp_path_factory):
    exe = tmp_path_factory.mktemp("aot") / "repl-pipeline"
    done = daisy("compile", PIPELINE, "-o", exe, timeout=300)
    assert done.returncode == 0, done.stderr
    return exe


def _run_exe(exe, text: str, threads: int = 1) -> subprocess.CompletedProcess:
    return subprocess.run([str(exe), "--threads", str(threads)], input=text,
                          capture_output=True, text=True, timeout=TIMEOUT)


def _three_ways(exe, prog, text: str, threads: int = 1):
    interp = daisy("run", "--interp", prog, stdin=text, timeout=TIMEOUT)
    aot = _run_exe(exe, text, threads)
    jit = daisy("run", "--threads", str(threads), prog, stdin=text, timeout=TIMEOUT)
    for p in (interp, aot, jit):
        assert p.returncode == 0, p.stderr[-2000:]
    return interp.stdout.splitlines(), aot.stdout.splitlines(), jit.stdout.splitlines()


def _assert_same(name, text, want, got):
    if got == want:
        return
    for i, (w, g) in enumerate(zip(want, got)):
        assert g == w, f"{name}: output line {i + 1} differs\n  want {w[:300]}\n  got  {g[:300]}"
    assert len(got) == len(want), f"{name}: {len(got)} lines, the interpreter printed {len(want)}"


@pytest.mark.parametrize("topic", sorted(CORPUS))
def test_forms_made_at_run_time_as_the_interpreter(topic, pipeline_exe):
    text = "\n".join(_lines(topic)) + "\n"
    want, aot, jit = _three_ways(pipeline_exe, PIPELINE, text)
    assert want, "the interpreter printed nothing"
    _assert_same("executable", text, want, aot)
    _assert_same("JIT", text, want, jit)


def test_large_forms_made_at_run_time(pipeline_exe):
    want = daisy("run", "--interp", PIPELINE, stdin=LARGE, timeout=TIMEOUT)
    assert want.returncode == 0, want.stderr
    aot = _run_exe(pipeline_exe, LARGE)
    assert aot.returncode == 0, aot.stderr
    _assert_same("executable", LARGE, want.stdout.splitlines(), aot.stdout.splitlines())


def test_forms_made_at_run_time_on_four_workers(pipeline_exe):
    lines = [ln for t in sorted(CORPUS) if t != "definitions" for ln in _lines(t)
             if ln not in TIMING]
    text = "\n".join(lines) + "\n"
    want = daisy("run", "--interp", PIPELINE, stdin=text, timeout=TIMEOUT)
    assert want.returncode == 0, want.stderr
    for _ in range(2):
        aot = _run_exe(pipeline_exe, text, threads=4)
        assert aot.returncode == 0, aot.stderr
        _assert_same("executable on four workers", text, want.stdout.splitlines(),
                     aot.stdout.splitlines())


PROGRAM = """double = \\x. mpy:[x 2]
q = ^double:21
val:q
r = ^[double:1 inc:2]
evlst:r
#evlst:prsis:scnis:stdin
val:q
evlst:r
double:5
"""

PROGRAM_INPUT = r"""double:4
(map:double):[1 2 3]
val:q
double = \x. mpy:[x 3]
double:4
val:q
evlst:r
inc = \x. 42
inc:1
twice = \x. double:double:x
twice:1
let:[x]
\[a a]. 1
f = \x. x
[f]
"""


def test_a_program_with_its_own_definitions_and_quoted_forms(tmp_path):
    # the forms typed use the file's functions; a definition typed rebinds them for the
    # file's own code and for its quoted forms (whose compiled code is then forgotten)
    prog = tmp_path / "prog.dsy"
    prog.write_text(PROGRAM)
    exe = tmp_path / "prog"
    done = daisy("compile", prog, "-o", exe, timeout=300)
    assert done.returncode == 0, done.stderr
    want, aot, jit = _three_ways(exe, prog, PROGRAM_INPUT)
    assert want[:2] == ["42", "[2 3]"] and "<defined double>" in want[2], want
    _assert_same("executable", PROGRAM_INPUT, want, aot)
    _assert_same("JIT", PROGRAM_INPUT, want, jit)
