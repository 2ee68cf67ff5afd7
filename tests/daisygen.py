"""Generated Daisy programs for differential testing (tests/test_differential.py).

A program is a fixed PRELUDE of helper definitions that terminate on every argument
they can be given, a few generated top-level definitions (g1, g2, ...), and generated
top-level expressions, one per line: 10-25 of them from hypothesis's draws
(`programs()`, which `search` uses), or the small programs of `seeded_program(seed,
**SHAPES[shape])`, drawn from random.Random(seed), which the test suite runs in
batches (`Batch`: many programs in one file, definitions renamed apart, the output
split back by program; `CliRunner` runs `daisy run` on it). Every generated program
is well formed and terminates:

* expressions are built by a small type discipline (number, finite list, infinite
  list, unary function, curried binary function), so no function is ever applied to
  itself (the simply typed lambda calculus terminates);
* the only recursion is through the prelude, whose recursive helpers either count a
  counter down (counters are small literals or `rem:[E K]`, so at most K steps;
  `ge?:[n 1]` tests stop on nan and on errors) or walk a finite list, stopping on
  anything that is not a cons;
* infinite lists are only consumed through a bounded `take`/`nth`, never printed,
  summed or put under `#` (except literal cycles, `#fix:[x ! [1 2 ! x]]`, which `#`
  forces once round); a value of the wrong kind is only ever a constant (an atom, a
  list literal, a primitive), so type errors give error values, not loops;
* `loop:0` (which never ends) appears only where it must never be demanded (LAZY):
  an unused binding, a list tail `take` stops before, an operand after one that is
  already an error. An engine that evaluates too eagerly hangs there, and the
  runner reports the timeout.

Type errors, division by zero, pattern mismatch, "not a function", overflow at the
edges of the 62-bit immediates and the 64-bit range (BOUNDARY) and the rest come out
as error values, which the engines must print identically. The prelude also has
parallel helpers (`pnfib`, `pmap`, `psum`, `pquick` with `@` and `@#`), and about one
top-level expression in twenty is a long bounded recursion (Gen.big: deep stacks,
long lists, garbage collection, thousands of sparks).

Running (from tests/):
    python daisygen.py sample [N]        print N generated programs (default 3)
    python daisygen.py check [N]         run N programs on the interpreter only
    python daisygen.py search [SECONDS [DEPTH]]   hunt for JIT/interpreter differences
                                         for SECONDS; save each new kind, minimised
    python daisygen.py keep FILE NAME    store FILE as tests/differential/NNN-NAME.dsy
    python daisygen.py program SHAPE SEED   print the seeded program (normal or slow
                                         shape) that tests/test_differential.py names
"""
from __future__ import annotations

import hashlib
import multiprocessing
import os
import pathlib
import re
import shutil
import signal
import sys
import tempfile

from hypothesis import strategies as st

HERE = pathlib.Path(__file__).resolve().parent
REGRESSIONS = HERE / "differential"

# ---------------------------------------------------------------------------------
# The prelude. Names are listed with what they are used for by the generator.
PRELUDE_DEFS = {
    "take": "take = \\[n L]. if:[ge?:[n 1] if:[nil?:L [] let:[[X ! Xs] L [X ! take:[dcr:n Xs]]]] []]",
    "hd": "hd = \\L. let:[[X ! Xs] L X]",
    "tl": "tl = \\L. let:[[X ! Xs] L Xs]",
    "nth": "nth = \\[n L]. if:[ge?:[n 1] nth:[dcr:n tl:L] hd:L]",
    "intsfrom": "intsfrom = \\n. [n ! intsfrom:inc:n]",
    "iterate": "iterate = \\[f x]. [x ! iterate:[f f:x]]",
    "append": "append = \\[L1 L2]. if:[nil?:L1 L2 isLST?:L1 let:[[X ! Xs] L1 [X ! append:[Xs L2]]] L1]",
    "dappend": "dappend = \\[L1 L2]. let:[[X ! Xs] L1 if:[nil?:L1 L2 isLST?:L1 [X ! $dappend:[Xs L2]] L1]]",
    "length": "length = \\L. if:[nil?:L 0 isLST?:L inc:length:tl:L L]",
    "sum": "sum = \\L. if:[nil?:L 0 isLST?:L add:[hd:L sum:tl:L] L]",
    "rev": "rev = \\[L acc]. if:[nil?:L acc isLST?:L let:[[X ! Xs] L rev:[Xs [X ! acc]]] L]",
    "reverse": "reverse = \\L. rev:[L []]",
    "filter": "filter = \\[p L]. if:[nil?:L [] isLST?:L let:[[X ! Xs] L if:[p:X [X ! filter:[p Xs]] filter:[p Xs]]] L]",
    "zipwith": "zipwith = \\[f A B]. if:[nil?:A [] nil?:B [] isLST?:A if:[isLST?:B [(f:hd:A):hd:B ! zipwith:[f tl:A tl:B]] []] []]",
    "foldl": "foldl = \\[f a L]. if:[nil?:L a isLST?:L foldl:[f (f:a):hd:L tl:L] L]",
    "fact": "fact = \\n. if:[ge?:[n 1] mpy:[n fact:dcr:n] 1]",
    "nfib": "nfib = \\n. if:[ge?:[n 2] add:[nfib:dcr:n nfib:sub:[n 2] 1] 1]",
    "countdown": "countdown = \\n. if:[ge?:[n 1] [n ! countdown:dcr:n] []]",
    "compose": "compose = \\[f g]. \\x. f:g:x",
    "twice": "twice = \\f. \\x. f:f:x",
    "flip": "flip = \\f. \\x. \\y. (f:y):x",
    "cycle": "cycle = \\L. fix:[c ! append:[L c]]",
    "ev": "ev = \\n. if:[ge?:[n 1] od:dcr:n true]",
    "od": "od = \\n. if:[ge?:[n 1] ev:dcr:n []]",
    "curadd": "curadd = \\x. \\y. add:[x y]",
    "fsum": "fsum = #sum:[1 2.5 3]",
    "loop": "loop = \\x. loop:x",
    # parallel helpers: sparks that run on other workers at 2 and 4 threads
    "pnfib": "pnfib = \\n. if:[ge?:[n 2] add:[@pnfib:dcr:n pnfib:sub:[n 2] 1] 1]",
    "pmap": "pmap = \\[f L]. if:[nil?:L [] isLST?:L let:[[X ! Xs] L [@f:X ! @pmap:[f Xs]]] L]",
    "psum": "psum = \\L. if:[nil?:L 0 isLST?:L let:[[X ! Xs] L add:[@#X @psum:Xs]] L]",
    "part": "part = \\[p L lo hi]. if:[nil?:L [lo hi] isLST?:L let:[[X ! Xs] L "
            "if:[le?:[X p] part:[p Xs [X ! lo] hi] part:[p Xs lo [X ! hi]]]] [lo hi]]",
    "pquick": "pquick = \\L. let:[[X ! Xs] L if:[nil?:L L isLST?:L if:[nil?:Xs L "
              "let:[[lo hi] part:[X Xs [] []] append:[@#pquick:lo [X ! @#pquick:hi]]]] L]]",
}
PRELUDE = "\n".join(PRELUDE_DEFS.values()) + "\n"

INTERESTING = [
    "0", "1", "-1", "2", "3", "7", "10", "-32", "100", "5", "63", "64",
    "4611686018427387903", "4611686018427387904", "-4611686018427387904",
    "-4611686018427387905", "9223372036854775807", "-9223372036854775808",
    "9223372036854775806", "2147483648", "3037000499", "3037000500",
    "1.5", "-2.5", "0.0", "1e6", "3.1415", "1e300", "-0.5", "2.0", "1e-3", "123456789.25",
    "-0.0", "1e-310", "1e308", "0.1", "2.5e-3", "-1e6", "4.611686018427388e18",
]
# integers around the edges of the 62-bit immediate and the 64-bit range
BOUNDARY = ["4611686018427387903", "4611686018427387904", "-4611686018427387904",
            "-4611686018427387905", "9223372036854775807", "-9223372036854775808",
            "2305843009213693952", "-1", "0", "3037000500", "-3037000500"]
BOUNDARY_OPS = ["add:[{a} {b}]", "sub:[{a} {b}]", "mpy:[{a} {b}]", "div:[{a} {b}]",
                "rem:[{a} {b}]", "neg:{a}", "inc:{a}", "dcr:{a}", "mpy:[{a} -1]",
                "div:[{a} -1]", "rem:[{a} -1]", "add:[{a} {b} -1]", "lt?:[{a} {b}]",
                "eq?:[{a} {b}]", "eq?:[add:[{a} 1] inc:{a}]", "ge?:[{a} {b}]",
                "lsh:[{a} 1]", "rsh:[{a} 1]", "arsh:[{a} 63]", "not:{a}", "and:[{a} {b}]",
                "xor:[{a} {b}]", "or:[{a} -4611686018427387904]", "add:[{a} 0.5]",
                "eq?:[{a} 4.611686018427388e18]", "lt?:[{a} 9.3e18]", "mpy:[{a} {a}]",
                "sub:[0 {a}]", "inv:{a}", "[{a} neg:{a} inc:{a}]", "fact:rem:[{a} 25]"]
# lazy positions: `loop:0` never ends, so these only terminate if it is never demanded
LAZY = ["let:[{x} loop:0 {n}]", "(\\{x}. {n}):loop:0", "hd:[{n} loop:0]",
        "if:[true {n} loop:0]", "if:[nil?:[] {n} loop:0 loop:0]", "add:[div:[1 0] loop:0]",
        "sub:[^a loop:0]", "lt?:[[] loop:0]", "mpy:[1 2 inc:^b loop:0]", "and:[1.5 loop:0]",
        "let:[[{x} {y}] [loop:0 {n}] {y}]", "take:[1 [{n} ! loop:0]]", "nth:[0 [{n} ! loop:0]]",
        "seq:[div:[1 0] loop:0]", "length:[loop:0 {n} loop:0]", "(\\[{x} {y}]. {y}):[loop:0 {n}]",
        "isLST?:[loop:0]", "nil?:[loop:0]", "(map:\\{x}. {n}):[loop:0 loop:0]",
        "(fc:[inc \\{x}. {n}]):[div:[1 0] loop:0]", "if:[div:[1 0] loop:0 loop:0]",
        "let:[{x} [{n} ! loop:0] hd:{x}]", "(\\{x}. if:[true {n} {x}]):loop:0",
        "take:[2 [{n} {n} ! loop:0]]", "rec:[{x} [{n} ! loop:0] hd:{x}]",
        "(\\f. {n}):loop", "$let:[{x} loop:0 {n}]", "let:[{x} $[loop:0] length:{x}]",
        "(smap:inc):take:[2 [{n} 3 ! loop:0]]", "if:[[] loop:0 {n}]",
        "pcoerce:take:[1 [{n} loop:0]]", "any?:[{n} ^t]"]
ODD_LEAVES = ['^foo', '"a b"', '"x`"y"', "[]", "true", "nil", "^bar", "[1 2]", "inc",
              "nosuch-name", "[1 ! 2]", '"a`nb"', '"t`tt"', '""', '"``"', "^%SpnHd?",
              "^a'b", '"abc"', "take", "twice", "(map:inc)", "curadd:1", "^^q"]
UNARY_NUM = ["inc", "dcr", "neg", "inv", "not"]
UNARY_TEST = ["zero?", "one?", "neg?", "pos?", "nil?", "isNML?", "isERR?", "list?",
              "isLST?", "isIDE?", "isFTN?", "isAPL?"]
BINARY = ["sub", "div", "rem", "lt?", "le?", "eq?", "ne?", "ge?", "gt?",
          "and", "or", "xor", "lsh", "rsh", "arsh"]
# the lengths of Gen.big's recursions; the normal differential run uses SMALL_BIG_SIZES
BIG_SIZES = [2000, 10000, 500, 30000]
SMALL_BIG_SIZES = [200, 500, 1000, 2000]
FN_PRIMS = ["inc", "dcr", "neg", "inv", "not", "zero?", "nil?", "isERR?", "isNML?", "pos?"]


class Gen:
    """Builds one program from hypothesis draws (`draw`), or from a seeded
    random.Random (`rng`: fast, and the same programs for the same seed). Choice 0 is
    always the simplest alternative, so shrinking moves towards small programs."""

    def __init__(self, draw=None, rng=None, big_sizes=BIG_SIZES):
        self.draw = draw
        self.rng = rng
        self.big_sizes = big_sizes
        self.fresh = 0
        self.globals = {"num": [], "list": [], "fn": [], "fn2": [], "inf": []}

    # ---- helpers ----
    def integer(self, lo: int, hi: int) -> int:
        if self.rng is not None:
            return self.rng.randint(lo, hi)
        return self.draw(st.integers(lo, hi))

    def choose(self, seq):
        if self.rng is not None:
            return self.rng.choice(seq)
        return self.draw(st.sampled_from(seq))

    def pick(self, n: int) -> int:
        return self.integer(0, n - 1)

    def chance(self, k: int) -> bool:
        """true one time in k (shrinks to false)."""
        return self.integer(0, k - 1) == k - 1

    def name(self, base: str = "v") -> str:
        self.fresh += 1
        return f"{base}{self.fresh}"

    def var(self, env, kind):
        names = env.get(kind, []) + self.globals[kind]
        return self.choose(names) if names else None

    @staticmethod
    def bind(env, kind, name):
        new = {k: list(v) for k, v in env.items()}
        new.setdefault(kind, []).append(name)
        return new

    def number(self) -> str:
        if self.chance(3):
            return str(self.integer(-40, 40))
        return self.choose(INTERESTING)

    def small(self, env, d) -> str:
        """A counter: at most 7 steps of prelude recursion, whatever it evaluates to."""
        c = self.pick(5)
        if c == 0 or d <= 0:
            return str(self.integer(0, 6))
        if c == 1:
            return self.choose(["2.5", "-1", "0.5", "^a"])
        if c == 2:
            return f"length:{self.list(env, d - 1)}"
        return f"rem:[{self.num(env, d - 1)} 7]"

    def cond(self, env, d) -> str:
        c = self.pick(4)
        if c == 0 or d <= 0:
            return f"{self.choose(UNARY_TEST)}:{self.num(env, 0)}"
        if c == 1:
            op = self.choose(["lt?", "le?", "eq?", "ne?", "ge?", "gt?"])
            return f"{op}:[{self.num(env, d - 1)} {self.num(env, d - 1)}]"
        if c == 2:
            return f"nil?:{self.list(env, d - 1)}"
        return self.num(env, d - 1)

    def pattern(self, kinds):
        """A list pattern and the (name, kind) pairs it binds. kinds: element kind."""
        names = []
        items = []
        for _ in range(self.pick(4)):
            if self.chance(6):
                a, b = self.name("p"), self.name("p")
                names += [(a, "num"), (b, "num")]
                items.append(f"[{a} {b}]")
            else:
                a = self.name("p")
                names.append((a, kinds))
                items.append(a)
        if items and self.chance(2):
            r = self.name("r")
            names.append((r, "list"))
            return "[" + " ".join(items) + " ! " + r + "]", names
        return "[" + " ".join(items) + "]", names

    # ---- numbers (any value that is not an infinite list) ----
    def num(self, env, d) -> str:
        if d <= 0:
            return self.num_leaf(env)
        c = self.pick(38)
        if c >= 34:
            if c <= 35:
                a, b = self.choose(BOUNDARY), self.choose(BOUNDARY)
                if self.chance(3):
                    b = self.num(env, d - 1)
                return self.choose(BOUNDARY_OPS).format(a=a, b=b)
            x, y = self.name("z"), self.name("z")
            return self.choose(LAZY).format(x=x, y=y, n=self.num(env, d - 1))
        if c <= 3:
            return self.num_leaf(env)
        if c <= 5:
            op = self.choose(UNARY_NUM + UNARY_TEST)
            return f"{op}:{self.num(env, d - 1)}"
        if c <= 8:
            op = self.choose(BINARY)
            if op in ("lsh", "rsh", "arsh") and self.chance(2):
                return f"{op}:[{self.num(env, d - 1)} {self.integer(-1, 65)}]"
            return f"{op}:[{self.num(env, d - 1)} {self.num(env, d - 1)}]"
        if c <= 10:
            op = self.choose(["add", "mpy"])
            args = " ".join(self.num(env, d - 1) for _ in range(self.pick(5)))
            return f"{op}:[{args}]"
        if c == 11:
            return self.choose(["sub:[{0}]", "div:{0}", "add:{0}", "sub:[{0} 1 2]",
                                "lt?:[{0}]", "div:[{0} 0]", "rem:[{0} 0]",
                                "({0}):3", "(^foo):{0}", "div:[{0} 0.0]"]
                               ).format(self.num(env, d - 1))
        if c == 12:
            parts = []
            for _ in range(self.pick(3) + 1):
                parts += [self.cond(env, d - 1), self.num(env, d - 1)]
            if self.chance(2):
                parts.append(self.num(env, d - 1))
            return "if:[" + " ".join(parts) + "]"
        if c == 13:
            x = self.name("x")
            return f"let:[{x} {self.num(env, d - 1)} {self.num(self.bind(env, 'num', x), d - 1)}]"
        if c == 14:
            pat, names = self.pattern("num")
            body_env = env
            for n, k in names:
                body_env = self.bind(body_env, k, n)
            return f"let:[{pat} {self.list(env, d - 1)} {self.num(body_env, d - 1)}]"
        if c == 15:
            return f"{self.fn(env, d - 1)}:{self.num(env, d - 1)}"
        if c == 16:
            return f"({self.fn2(env, d - 1)}:{self.num(env, d - 1)}):{self.num(env, d - 1)}"
        if c == 17:
            w = self.pick(10)
            if w == 8:
                return f"pnfib:rem:[{self.num(env, d - 1)} 11]"
            if w == 9:
                return f"psum:{self.list(env, d - 1)}"
            if w == 0:
                return f"sum:{self.list(env, d - 1)}"
            if w == 1:
                return f"length:{self.list(env, d - 1)}"
            if w == 2:
                return f"hd:{self.list(env, d - 1)}"
            if w == 3:
                return f"nth:[{self.small(env, d - 1)} {self.inf(env, d - 1)}]"
            if w == 4:
                return f"fact:rem:[{self.num(env, d - 1)} 21]"
            if w == 5:
                return f"nfib:rem:[{self.num(env, d - 1)} 11]"
            if w == 6:
                return f"foldl:[{self.fn2(env, d - 1)} {self.num(env, d - 1)} {self.list(env, d - 1)}]"
            return f"{self.choose(['ev', 'od'])}:{self.small(env, d - 1)}"
        if c == 18:
            x = self.name("x")
            return f"(\\{x}. {self.num(self.bind(env, 'num', x), d - 1)}):{self.num(env, d - 1)}"
        if c == 19:
            pat, names = self.pattern("num")
            body_env = env
            for n, k in names:
                body_env = self.bind(body_env, k, n)
            return f"(\\{pat}. {self.num(body_env, d - 1)}):{self.list(env, d - 1)}"
        if c == 20:
            f = self.name("f")
            return f"(\\{f}. {self.num(self.bind(env, 'fn', f), d - 1)}):{self.fn(env, d - 1)}"
        if c == 21:
            return self.choose("@$#") + self.num(env, d - 1)
        if c == 22:
            items = [self.num(env, d - 1) for _ in range(self.pick(3))] + [self.num(env, d - 1)]
            return "seq:[" + " ".join(items) + "]"
        if c == 23:
            return f"hd:pcoerce:[{self.num(env, d - 1)} {self.num(env, d - 1)}]"
        if c == 24:
            return "val:^" + self.num({} if not self.chance(5) else env, d - 1)
        if c == 25:
            w = self.pick(4)
            a, b = self.name("a"), self.name("b")
            e1 = self.num(env, d - 1)
            e2 = self.num(self.bind(env, "num", a), d - 1)
            if w == 3:
                return f"rec:[{a} inc:{a} {a}]"          # a cycle error
            return f"rec:[[{a} {b}] [{e1} {e2}] {a if w == 0 else b}]"
        if c == 26:
            items = " ".join(self.num(env, d - 1) for _ in range(self.pick(3) + 1))
            return f"any?:[{items}]"
        if c == 27:
            return "^" + self.choose([self.num, self.fn])(env, d - 1)
        if c == 28:
            return f"eq?:[hd:{self.list(env, d - 1)} {self.num(env, d - 1)}]"
        if c == 29:
            return f"nth:[{self.small(env, d - 1)} {self.list(env, d - 1)}]"
        if c == 30:
            f = self.name("f")
            return f"let:[{f} {self.fn(env, d - 1)} {self.num(self.bind(env, 'fn', f), d - 1)}]"
        if c == 31:
            s = self.name("s")
            benv = self.bind(env, "inf", s)
            return f"let:[{s} {self.inf(env, d - 1)} nth:[{self.small(benv, d - 1)} {s}]]"
        if c == 32:
            return f"$({self.fn(env, d - 1)}:{self.num(env, d - 1)})"
        return self.choose(["fsum", "ev:4", "(\\f. f:3):neg", "(map:inc):5",
                            "val:^^x", "isFTN?:map:inc", "(fc:[inc]):5",
                            "eq?:[\"abc\" ^abc]", "eq?:[\"a b\" \"a b\"]",
                            "val:^take", "val:^fsum", "val:hd:^[inc:4]",
                            "val:^g1", "[map:inc fc:[inc] twice:inc]",
                            "neg:0.0", "div:[0.0 0.0]", "div:[-1.0 0]",
                            "mpy:[1e300 1e300]", "sub:[0.0 inf]",
                            "hd:take:[1 #fix:[x ! [1 2 ! x]]]",
                            "take:[5 #rec:[x [7 ! x] x]]",
                            "length:take:[9 #fix:[x ! [1 [2 3] ! x]]]"])

    def num_leaf(self, env) -> str:
        c = self.pick(6)
        if c <= 2:
            return self.number()
        if c <= 4:
            v = self.var(env, "num")
            if v is not None:
                return v
            return self.number()
        return self.choose(ODD_LEAVES)

    # ---- finite lists ----
    def list(self, env, d) -> str:
        if d <= 0:
            return self.list_leaf(env)
        c = self.pick(27)
        if c <= 2:
            return self.list_leaf(env)
        if c <= 4:
            items = [self.num(env, d - 1) for _ in range(self.pick(5))]
            tail = ""
            if items and self.chance(4):
                tail = " ! " + (self.list(env, d - 1) if not self.chance(4) else self.num(env, 0))
            return "[" + " ".join(items) + tail + "]"
        if c == 5:
            return f"take:[{self.small(env, d - 1)} {self.inf(env, d - 1)}]"
        if c == 6:
            return f"take:[{self.small(env, d - 1)} {self.list(env, d - 1)}]"
        if c == 7:
            m = self.choose(["map", "smap"])
            return f"({m}:{self.fn(env, d - 1)}):{self.list(env, d - 1)}"
        if c == 8:
            fs = " ".join(self.fn(env, d - 1) for _ in range(self.pick(3) + 1))
            return f"(fc:[{fs}]):{self.list(env, d - 1)}"
        if c == 9:
            a = self.choose(["append", "dappend"])
            return f"{a}:[{self.list(env, d - 1)} {self.list(env, d - 1)}]"
        if c == 10:
            return f"reverse:{self.list(env, d - 1)}"
        if c == 11:
            return f"filter:[{self.fn(env, d - 1)} {self.list(env, d - 1)}]"
        if c == 12:
            w = self.pick(3)
            if w == 1:
                return f"pmap:[{self.fn(env, d - 1)} {self.list(env, d - 1)}]"
            if w == 2:
                return f"pquick:{self.list(env, d - 1)}"
            return f"countdown:{self.small(env, d - 1)}"
        if c == 13:
            return f"zipwith:[{self.fn2(env, d - 1)} {self.list(env, d - 1)} " \
                   f"{self.choose([self.list, self.inf])(env, d - 1)}]"
        if c == 14:
            return f"tl:{self.list(env, d - 1)}"
        if c == 15:
            return f"if:[{self.cond(env, d - 1)} {self.list(env, d - 1)} {self.list(env, d - 1)}]"
        if c == 16:
            return self.choose("@$#") + self.list(env, d - 1)
        if c == 17:
            items = " ".join(self.num(env, d - 1) for _ in range(self.pick(3) + 1))
            return f"pcoerce:[{items}]"
        if c == 18:
            return f"seq:[{self.num(env, d - 1)} {self.list(env, d - 1)}]"
        if c == 19:
            if self.chance(2):
                items = " ".join(self.num({}, d - 1) for _ in range(self.pick(3) + 1))
                return f"evlst:^[{items}]"
            return f"evlst:[^{self.num({}, d - 1)} {self.number()} ^{self.num({}, d - 1)}]"
        if c == 20:
            x = self.name("x")
            return f"(\\{x}. {self.list(self.bind(env, 'num', x), d - 1)}):{self.num(env, d - 1)}"
        if c == 21:
            s = self.name("s")
            benv = self.bind(env, "inf", s)
            return f"let:[{s} {self.inf(env, d - 1)} {self.list(benv, d - 1)}]"
        if c == 22:
            pat, names = self.pattern("num")
            body_env = env
            for n, k in names:
                body_env = self.bind(body_env, k, n)
            return f"let:[{pat} {self.list(env, d - 1)} {self.list(body_env, d - 1)}]"
        if c == 23:
            a, b = self.name("a"), self.name("b")
            return (f"rec:[[{a} {b}] [{self.list(env, d - 1)} "
                    f"[{self.num(env, d - 1)} ! {a}]] {b}]")
        if c == 24:
            w = self.pick(5)
            if w == 1:
                return "^" + self.choose([self.list, self.inf])(env, d - 1)
            if w == 2:
                items = " ".join(self.num({}, d - 1) for _ in range(self.pick(3) + 1))
                return f"pmap:[val ^[{items}]]"
            if w == 3:
                items = " ".join(self.num({}, d - 1) for _ in range(self.pick(3) + 1))
                return f"(map:val):^[{items}]"
            return "val:^" + self.list({}, d - 1)
        if c == 25:
            x = self.name("l")
            return f"let:[{x} {self.list(env, d - 1)} {self.list(self.bind(env, 'list', x), d - 1)}]"
        items = " ".join(self.choose([self.num, self.fn])(env, d - 1)
                         for _ in range(self.pick(3) + 1))
        return "[" + items + "]"

    def list_leaf(self, env) -> str:
        c = self.pick(5)
        if c == 0:
            return "[]"
        if c <= 2:
            return "[" + " ".join(self.number() for _ in range(self.pick(4) + 1)) + "]"
        if c == 3:
            v = self.var(env, "list")
            if v is not None:
                return v
        return self.choose(["^[a 1 b]", "[1 2 ! 3]", "countdown:3", "^[]",
                            "[^x \"s t\" 2.5]", "nil", "5"])

    # ---- infinite lists (consumed only by take/nth) ----
    def inf(self, env, d) -> str:
        if d <= 0:
            return self.inf_leaf(env)
        c = self.pick(15)
        if c <= 1:
            return self.inf_leaf(env)
        if c == 2:
            return f"intsfrom:{self.num(env, d - 1)}"
        if c == 3:
            return f"iterate:[{self.fn(env, d - 1)} {self.num(env, d - 1)}]"
        if c == 4:
            x = self.name("c")
            items = " ".join(self.num(env, d - 1) for _ in range(self.pick(3) + 1))
            return f"fix:[{x} ! [{items} ! {x}]]"
        if c == 5:
            x = self.name("c")
            return f"rec:[{x} [{self.num(env, d - 1)} ! {x}] {x}]"
        if c == 6:
            x = self.name("c")
            return f"fix:[{x} ! [{self.num(env, d - 1)} ! (map:{self.fn(env, d - 1)}):{x}]]"
        if c == 7:
            m = self.choose(["map", "smap"])
            return f"({m}:{self.fn(env, d - 1)}):{self.inf(env, d - 1)}"
        if c == 8:
            return f"zipwith:[{self.fn2(env, d - 1)} {self.inf(env, d - 1)} {self.inf(env, d - 1)}]"
        if c == 9:
            return f"append:[{self.list(env, d - 1)} {self.inf(env, d - 1)}]"
        if c == 10:
            return f"cycle:[{self.num(env, d - 1)} ! {self.list(env, d - 1)}]"
        if c == 11:
            return f"[{self.num(env, d - 1)} ! {self.inf(env, d - 1)}]"
        if c == 12:
            return f"tl:{self.inf(env, d - 1)}"
        if c == 13:
            return self.choose("@$") + self.inf(env, d - 1)
        return f"if:[{self.cond(env, d - 1)} {self.inf(env, d - 1)} {self.inf(env, d - 1)}]"

    def inf_leaf(self, env) -> str:
        v = self.var(env, "inf")
        if v is not None and self.chance(2):
            return v
        return self.choose(["intsfrom:0", "fix:[x ! [0 1 ! x]]",
                            "rec:[ones [1 ! ones] ones]", "iterate:[dcr 3]",
                            "cycle:[^a ^b]"])

    # ---- unary functions ----
    def fn(self, env, d) -> str:
        if d <= 0:
            return self.fn_leaf(env)
        c = self.pick(12)
        if c <= 2:
            return self.fn_leaf(env)
        if c <= 5:
            x = self.name("x")
            return f"(\\{x}. {self.num(self.bind(env, 'num', x), d - 1)})"
        if c == 6:
            return f"({self.fn2(env, d - 1)}:{self.num(env, d - 1)})"
        if c == 7:
            return f"(compose:[{self.fn(env, d - 1)} {self.fn(env, d - 1)}])"
        if c == 8:
            return f"(twice:{self.fn(env, d - 1)})"
        if c == 9:
            return f"(if:[{self.cond(env, d - 1)} {self.fn(env, d - 1)} {self.fn(env, d - 1)}])"
        if c == 10:
            return "(" + self.choose(["$", "@", "val:^"]) + self.fn({}, d - 1) + ")"
        x = self.name("x")
        return f"(\\[{x}]. {self.num(self.bind(env, 'num', x), d - 1)})"

    def fn_leaf(self, env) -> str:
        c = self.pick(4)
        if c == 1:
            v = self.var(env, "fn")
            if v is not None:
                return v
        if c == 2 and self.chance(4):
            return self.choose(["5", "^f", "[inc]"])   # not a function
        return self.choose(FN_PRIMS)

    def fn2(self, env, d) -> str:
        c = self.pick(5) if d > 0 else 0
        if c == 0:
            v = self.var(env, "fn2")
            if v is not None and self.chance(2):
                return v
            return self.choose(["curadd", "(\\x. \\y. sub:[x y])",
                                "(\\x. \\y. mpy:[y x 2])", "(flip:curadd)"])
        if c <= 2:
            x, y = self.name("x"), self.name("y")
            benv = self.bind(self.bind(env, "num", x), "num", y)
            return f"(\\{x}. \\{y}. {self.num(benv, d - 1)})"
        if c == 3:
            x = self.name("x")
            return f"(\\{x}. {self.fn(self.bind(env, 'num', x), d - 1)})"
        return f"(flip:{self.fn2(env, d - 1)})"

    def big(self) -> str:
        """A top-level expression with a long (but bounded) recursion: deep stacks,
        long lists, garbage collection, many sparks."""
        n = self.choose(self.big_sizes)
        return self.choose([
            "length:countdown:{n}", "sum:take:[{n} intsfrom:{k}]", "hd:reverse:countdown:{n}",
            "nth:[{n} iterate:[inc {k}]]", "psum:countdown:{n}", "length:pmap:[inc countdown:{n}]",
            "sum:take:[{n} fix:[x ! [1 {k} ! x]]]", "take:[5 reverse:countdown:{n}]",
            "length:filter:[\\x. zero?:rem:[x 3] countdown:{n}]", "foldl:[curadd 0 countdown:{n}]",
            "length:pquick:take:[{m} iterate:[\\x. rem:[mpy:[x 75] 65537] {k}]]",
            "pnfib:{p}", "nth:[{n} (map:\\x. [x]):intsfrom:{k}]",
        ]).format(n=n, k=self.number(), m=min(n, 600), p=min(n // 1000 + 8, 18))

    # ---- whole programs ----
    def program(self, min_exprs=10, max_exprs=25, depth=4) -> str:
        return PRELUDE + "\n".join(self.lines(min_exprs, max_exprs, depth)) + "\n"

    def lines(self, min_exprs=10, max_exprs=25, depth=4) -> list[str]:
        """The generated part: definitions (g1, g2, ...), then top-level expressions,
        one per line."""
        lines = []
        for _ in range(self.pick(4)):
            kind = self.choose(["num", "fn", "list", "fn2"])
            name = self.name("g")
            body = {"num": self.num, "fn": self.fn, "list": self.list, "fn2": self.fn2}[kind]({}, depth - 1)
            lines.append(f"{name} = {body}")
            self.globals[kind].append(name)
        n = self.integer(min_exprs, max_exprs)
        for _ in range(n):
            c = self.pick(21)
            if c == 20:
                lines.append(self.big())
            elif c <= 9:
                lines.append(self.num({}, depth))
            elif c <= 16:
                lines.append(self.list({}, depth))
            elif c == 17:
                lines.append(f"take:[{self.integer(0, 8)} {self.inf({}, depth)}]")
            elif c == 18:
                lines.append(self.fn({}, depth - 1))
            else:
                lines.append("^" + self.num({}, depth - 1))
        return lines


@st.composite
def programs(draw, min_exprs=10, max_exprs=25, depth=4, big_sizes=BIG_SIZES):
    return used_prelude(Gen(draw, big_sizes=big_sizes).program(min_exprs, max_exprs, depth))


# Program shapes for seeded_program (tests/test_differential.py): the normal run's
# small programs and the slow run's bigger ones.
SHAPES = {
    "normal": dict(min_exprs=1, max_exprs=3, depth=3, big_sizes=SMALL_BIG_SIZES),
    "slow": dict(min_exprs=1, max_exprs=4, depth=4, big_sizes=BIG_SIZES),
}


def seeded_program(seed: int, min_exprs=1, max_exprs=6, depth=4, big_sizes=BIG_SIZES) -> str:
    """The program of one seed: its generated lines (definitions g1, g2, ... and
    top-level expressions), without the prelude. The same seed gives the same program
    on every machine (random.Random's generator is fixed across Python versions)."""
    import random
    gen = Gen(rng=random.Random(seed), big_sizes=big_sizes)
    return "\n".join(gen.lines(min_exprs, max_exprs, depth)) + "\n"


def expressions(src: str) -> list[str]:
    """The top-level expressions of a generated program (one per line)."""
    return [line for line in src.splitlines()
            if line.strip() and not line.startswith(";")
            and not re.match(r"^[A-Za-z%][^ ]* = ", line)]


def count_expressions(src: str) -> int:
    return len(expressions(src))


def generated_part(src: str, defs: dict | None = None) -> str:
    """src without its prelude definitions."""
    defs = PRELUDE_DEFS if defs is None else defs
    return "\n".join(l for l in src.splitlines() if l not in defs.values()) + "\n"


# ---------------------------------------------------------------------------------
# Running the engines.

class InterpTimeout(Exception):
    pass


def run_interp(src: str, timeout: float = 30.0) -> str:
    """The reference interpreter's output; InterpTimeout if it runs longer than
    timeout seconds (then the generator made a non-terminating program)."""
    import daisy.api as api

    def alarm(signum, frame):
        raise InterpTimeout(f"interpreter ran longer than {timeout}s")

    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        return api.run(src, engine="interp")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _jit_outputs(src: str, threads, cache_dir: str) -> dict:
    """In the worker: compile once, run at each thread count. Each thread count gets
    a Program of its own (a fresh engine and runtime context, as `daisy run` has);
    the first compiles into a private compile cache, the others load that object."""
    import daisy.api as api
    from daisy.jit.cache import CompileCache
    out = {}
    for n in threads:
        try:
            with api.Program(src, threads=n, cache=CompileCache(cache_dir)) as prog:
                text = prog.run()
                if prog.status not in (0, None):
                    text += f"\n<<exit status {prog.status}>>"
            out[n] = text
        except Exception as e:                 # report, do not crash the worker
            out[n] = f"<<JIT raised {type(e).__name__}: {e}>>"
    return out


def _worker(conn, cache_dir):
    os.environ["DAISY_CACHE_DIR"] = "off"
    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        if job is None:
            return
        src, threads = job
        conn.send(_jit_outputs(src, threads, cache_dir))


class JitRunner:
    """The JIT in a child process, so that a crash or a hang in young native code
    becomes a reported difference instead of taking pytest down with it. Compiled
    objects go to a private temporary cache, removed by close(), never the user's."""

    def __init__(self, timeout: float = 60.0):
        self.timeout = timeout
        self.proc = None
        self.conn = None
        self.cache_dir = tempfile.mkdtemp(prefix="daisy-difftest-")

    def _start(self):
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker, args=(child, self.cache_dir), daemon=True)
        self.proc.start()
        child.close()
        self.conn = parent

    def run(self, src: str, threads=(1, 2, 4)) -> dict:
        if self.proc is None or not self.proc.is_alive():
            self._start()
        self.conn.send((src, tuple(threads)))
        if self.conn.poll(self.timeout):
            try:
                return self.conn.recv()
            except (EOFError, OSError):
                pass
            code = self._stop()
            return {n: f"<<JIT worker died (exit code {code})>>" for n in threads}
        self._stop()
        return {n: f"<<JIT timed out after {self.timeout:.0f}s (all thread counts together)>>"
                for n in threads}

    def _stop(self):
        code = None
        if self.proc is not None:
            if self.proc.is_alive():
                self.proc.kill()
            self.proc.join(5)
            code = self.proc.exitcode
        self.proc = self.conn = None
        return code

    def close(self):
        if self.proc is not None and self.proc.is_alive():
            try:
                self.conn.send(None)
            except OSError:
                pass
            self.proc.join(5)
        self._stop()
        shutil.rmtree(self.cache_dir, ignore_errors=True)


def difference(expected: str, outputs: dict) -> str | None:
    """None when every JIT output equals the interpreter's, else a short report."""
    bad = {n: o for n, o in outputs.items() if o != expected}
    if not bad:
        return None
    exp_lines = expected.splitlines()
    lines = []
    for n, got in bad.items():
        got_lines = got.splitlines()
        for i in range(max(len(exp_lines), len(got_lines))):
            e = exp_lines[i] if i < len(exp_lines) else "<missing>"
            g = got_lines[i] if i < len(got_lines) else "<missing>"
            if e != g:
                lines.append(f"threads={n}: output line {i + 1}: interp {e!r} / jit {g!r}")
                break
    return "\n".join(lines)


# ---------------------------------------------------------------------------------
# Batches: many small programs in one file, so the prelude is compiled once for all
# of them and each engine starts once (tests/test_differential.py's normal run).

GLOBAL_NAME = re.compile(r"(?<![\w?%'*+/<>-])g(\d+)(?![\w?'*+/<>-])")


def rename_globals(src: str, prefix: str) -> str:
    """A generated program with its definitions g1, g2, ... renamed PREFIXg1, ... (and
    every mention, quoted ones included), so programs in one file do not collide.
    Generated local names never start with g, so only globals change."""
    return GLOBAL_NAME.sub(lambda m: f"{prefix}g{m.group(1)}", src)


class Case:
    """One generated program: where it comes from and its text (no prelude)."""

    def __init__(self, name: str, src: str):
        self.name = name
        self.src = src
        self.nexprs = count_expressions(src)

    def standalone(self) -> str:
        """The program alone, with the prelude definitions it uses."""
        return used_prelude(PRELUDE + self.src)


class Batch:
    """Programs in one file: the prelude, then each program renamed apart. Every
    top-level expression prints one line, so the output splits back by program."""

    def __init__(self, cases: list[Case]):
        self.cases = cases
        parts = [PRELUDE]
        for k, c in enumerate(cases):
            parts.append(f"; {c.name}\n" + rename_globals(c.src, f"b{k}"))
        self.text = "".join(parts)
        self.offsets = []
        n = 0
        for c in cases:
            self.offsets.append(n)
            n += c.nexprs
        self.nexprs = n

    def lines_of(self, output: str, k: int) -> list[str] | None:
        """Program k's lines of an output; None where the output stops before them."""
        lines = output.splitlines()
        lo = self.offsets[k]
        hi = lo + self.cases[k].nexprs
        return lines[lo:hi] if hi <= len(lines) else None

    def owner(self, line_index: int) -> int:
        """The program whose expression prints output line line_index (0-based)."""
        for k in range(len(self.cases) - 1, -1, -1):
            if self.offsets[k] <= line_index:
                return k
        return 0


def daisy_command() -> list[str]:
    """The `daisy` installed with this Python (tests/conftest.py daisy_command)."""
    exe = pathlib.Path(sys.executable).parent / "daisy"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "daisy.cli"]


class Run:
    """What one `daisy run` printed and how it ended."""

    def __init__(self, out: str, status: int | None, err: str = "", timed_out: bool = False):
        self.out, self.status, self.err, self.timed_out = out, status, err, timed_out

    @property
    def ok(self) -> bool:
        return self.status == 0 and not self.timed_out

    def describe(self) -> str:
        if self.timed_out:
            return "timed out"
        if self.status is not None and self.status < 0:
            return f"killed by signal {-self.status}"
        first = next((l for l in self.err.splitlines() if "warning" not in l
                      and l.startswith("daisy")), "")
        return f"exit status {self.status}" + (f" ({first})" if first else "")


class CliRunner:
    """The JIT as users run it: `daisy run -O N --threads K FILE` in a child process,
    with a private compile cache (the first thread count compiles, the others load
    the object), removed by close(); the user's cache is never touched. On a
    timeout the child gets SIGINT first, so it flushes what it printed: the first
    missing line names the expression that did not finish."""

    def __init__(self, opt: int = 0, timeout: float = 240.0):
        self.opt = opt
        self.timeout = timeout
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="daisy-difftest-"))
        self.runs = 0

    def run(self, text: str, threads: int, timeout: float | None = None) -> Run:
        import subprocess
        self.runs += 1
        digest = hashlib.sha256(text.encode()).hexdigest()[:16]
        path = self.dir / f"{digest}.dsy"
        if not path.exists():
            path.write_text(text)
        env = dict(os.environ, DAISY_CACHE_DIR=str(self.dir / "cache"))
        env.pop("DAISY_DEBUG", None)
        cmd = daisy_command() + ["run", f"-O{self.opt}", "--threads", str(threads), str(path)]
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=env)
        try:
            out, err = p.communicate(timeout=timeout or self.timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            p.send_signal(signal.SIGINT)
            try:
                out, err = p.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                out, err = p.communicate()
            timed_out = True
        return Run(out.decode("utf-8", "replace"), p.returncode, err.decode("utf-8", "replace"),
                   timed_out)

    def outputs(self, text: str, threads=(1, 2, 4), timeout: float | None = None) -> dict:
        """{threads: Run} for one program text."""
        return {n: self.run(text, n, timeout) for n in threads}

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def run_outputs_text(runs: dict) -> dict:
    """{threads: text} as difference() takes it: the output, then how it ended unless
    it ended normally."""
    return {n: r.out + ("" if r.ok else f"\n<<{r.describe()}>>") for n, r in runs.items()}


def batch_mismatches(batch: Batch, expected: str, runs: dict) -> list[tuple[int, str]]:
    """(program index, report) for every program of the batch whose lines differ
    from the interpreter's in some run, in program order. A run that stops early is
    charged to the program of the first missing line when its output was flushed (a
    timeout, after SIGINT; heap exhausted), else to the batch as a whole (index -1:
    a crash or an internal error, whose culprit bisect_cases finds)."""
    found: dict[int, list[str]] = {}
    exp_lines = expected.splitlines()
    for n, r in runs.items():
        got = r.out.splitlines()
        for k in range(len(batch.cases)):
            want = batch.lines_of(expected, k)
            have = batch.lines_of(r.out, k)
            if have is None:                  # the output stops in or before program k
                i = len(got)
                if r.timed_out or r.status in (0, 3, 130):
                    k = batch.owner(i)
                    e = exp_lines[i] if i < len(exp_lines) else "<missing>"
                    found.setdefault(k, []).append(
                        f"threads={n}: output line {i - batch.offsets[k] + 1}: interp {e!r} / "
                        f"jit stops: {r.describe()}")
                else:
                    found.setdefault(-1, []).append(
                        f"threads={n}: {r.describe()} after {i} of {batch.nexprs} lines")
                break
            if have != want:
                i = next(j for j, (e, g) in enumerate(zip(want, have)) if e != g)
                found.setdefault(k, []).append(
                    f"threads={n}: output line {i + 1}: interp {want[i]!r} / jit {have[i]!r}")
        else:
            if len(got) > batch.nexprs:
                found.setdefault(-1, []).append(
                    f"threads={n}: {len(got) - batch.nexprs} more lines than expressions")
            elif not r.ok:
                found.setdefault(-1, []).append(f"threads={n}: all lines printed, then {r.describe()}")
    return sorted((k, "\n".join(v)) for k, v in found.items())


def bisect_cases(cases: list[Case], fails) -> list[Case]:
    """A smallest run of consecutive cases on which fails(cases) still holds, by
    halving (the failure may need company: then the halves together are kept)."""
    while len(cases) > 1:
        half = len(cases) // 2
        if fails(cases[:half]):
            cases = cases[:half]
        elif fails(cases[half:]):
            cases = cases[half:]
        else:
            break
    return cases


# ---------------------------------------------------------------------------------
# Regression files.

def used_prelude(src: str, defs: dict | None = None) -> str:
    """src with the prelude definitions it does not use (transitively) left out.
    defs: the prelude's definitions by name (PRELUDE_DEFS unless given: the families
    of tests/daisyfam.py add helpers of their own)."""
    defs = PRELUDE_DEFS if defs is None else defs
    lines = src.splitlines()
    body = [l for l in lines if l not in defs.values()]
    text = "\n".join(body)
    need = set()
    frontier = [text]
    while frontier:
        t = frontier.pop()
        for name, d in defs.items():
            if name not in need and re.search(r"(?<![\w?%'*+/<>-])" + re.escape(name) + r"(?![\w?'*+/<>-])", t):
                need.add(name)
                frontier.append(d.split(" = ", 1)[1])
    kept = [d for name, d in defs.items() if name in need]
    return "\n".join(kept + body) + "\n"


def next_regression_path(name: str) -> pathlib.Path:
    REGRESSIONS.mkdir(exist_ok=True)
    numbers = [int(p.name[:3]) for p in REGRESSIONS.glob("[0-9][0-9][0-9]-*.dsy")]
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40] or "mismatch"
    return REGRESSIONS / f"{max(numbers, default=0) + 1:03d}-{slug}.dsy"


def save_regression(src: str, name: str, note: str = "") -> pathlib.Path:
    """Store a program whose JIT output differs as tests/differential/NNN-name.dsy,
    unless the same program is stored already. Returns its path."""
    digest = hashlib.sha256(src.encode()).hexdigest()[:12]
    for p in REGRESSIONS.glob("*.dsy"):
        if digest in p.read_text().splitlines()[0]:
            return p
    path = next_regression_path(name)
    header = f"; differential regression {digest}: the JIT must print what the interpreter prints\n"
    if note:
        header += "".join(f"; {l}\n" for l in note.splitlines())
    path.write_text(header + src)
    return path


def mismatch_name(src: str, report: str) -> str:
    """A short file name for a mismatch: what went wrong and the first word of the
    first top-level expression whose output differs."""
    if "timed out" in report:
        kind = "timeout"
    elif "died" in report:
        kind = "crash"
    elif "raised" in report:
        kind = "raises"
    else:
        kind = "output"
    m = re.search(r"output line (\d+)", report)
    word = ""
    if m:
        exprs = expressions(src)
        k = int(m.group(1)) - 1
        if k < len(exprs):
            word = re.match(r"[\^@$#(\\]*([A-Za-z%?]*)", exprs[k]).group(1)
    return f"{kind}-{word}" if word else kind


def signature(report: str) -> str:
    """What kind of difference a report shows, without the particular numbers: two
    mismatches with one signature are probably one bug."""
    kind = mismatch_name("", report).split("-")[0]
    m = re.search(r"interp (.*) / jit (.*)$", report.splitlines()[0])
    if kind == "output" and m:
        shape = lambda t: re.sub(r"-?\d[\d.e+-]*", "N", t)[:48]     # noqa: E731
        return f"output: {shape(m.group(1))} -> {shape(m.group(2))}"
    return kind


def minimise(src: str, still_fails) -> str:
    """Drop top-level expressions and generated definitions, one at a time, while
    still_fails(program) holds (and the prelude definitions nothing uses then)."""
    lines = used_prelude(src).splitlines()
    changed = True
    while changed:
        changed = False
        for i in range(len(lines) - 1, -1, -1):
            if i >= len(lines) or lines[i] in PRELUDE_DEFS.values():
                continue
            text = used_prelude("\n".join(lines[:i] + lines[i + 1:]) + "\n")
            try:
                ok = bool(expressions(text)) and still_fails(text)
            except Exception:
                ok = False
            if ok:
                lines = text.splitlines()
                changed = True
    return "\n".join(lines) + "\n"


def search(seconds: float, depth: int = 4, chunk: int = 25) -> list:
    """Look for differences for about `seconds`, in runs of `chunk` random programs;
    each new kind of difference is shrunk by hypothesis, then minimised line by line,
    and saved. Returns the saved paths."""
    import time
    from hypothesis import HealthCheck, given, settings
    known = {signature(p.read_text().split("\n", 2)[1].lstrip("; "))
             for p in REGRESSIONS.glob("*.dsy")}
    saved = []
    runner = JitRunner(timeout=30)
    start = time.monotonic()
    stats = {"programs": 0, "exprs": 0}
    try:
        while time.monotonic() < start + seconds:
            found = {}

            @settings(max_examples=chunk, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck), report_multiple_bugs=False)
            @given(programs(depth=depth))
            def each(src):
                stats["programs"] += 1
                stats["exprs"] += count_expressions(src)
                report = difference(run_interp(src), runner.run(src))
                if report is None:
                    return
                sig = signature(report)
                if sig in known:
                    return
                found["src"], found["report"] = src, report
                raise AssertionError(sig)

            try:
                each()
            except AssertionError:
                pass
            print(f"[{time.monotonic() - start:.0f}s] {stats['programs']} programs, "
                  f"{stats['exprs']} expressions", flush=True)
            if not found:
                continue
            src, report = found["src"], found["report"]
            sig = signature(report)

            def still(text):
                r = difference(run_interp(text), runner.run(text))
                return r is not None and signature(r) == sig

            src = minimise(src, still)
            report = difference(run_interp(src), runner.run(src)) or report
            path = save_regression(src, mismatch_name(src, report), report)
            known.add(sig)
            saved.append(path)
            print(f"saved {path.name}: {sig}", flush=True)
    finally:
        runner.close()
    print(f"searched {stats['programs']} programs (shrinking included), {stats['exprs']} "
          f"expressions; {len(saved)} new differences", flush=True)
    return saved


# ---------------------------------------------------------------------------------

def _main(argv):
    from hypothesis import HealthCheck, given, settings
    cmd = argv[1] if len(argv) > 1 else "sample"
    if cmd == "keep":
        src = pathlib.Path(argv[2]).read_text()
        print(save_regression(src, argv[3]))
        return
    if cmd == "program":            # program SHAPE SEED: one seeded program, runnable
        print(used_prelude(PRELUDE + seeded_program(int(argv[3]), **SHAPES[argv[2]])), end="")
        return
    if cmd == "search":
        search(float(argv[2]) if len(argv) > 2 else 600, int(argv[3]) if len(argv) > 3 else 4)
        return
    n = int(argv[2]) if len(argv) > 2 else 3
    stats = {"programs": 0, "exprs": 0, "errors": 0, "lines": 0}

    @settings(max_examples=n, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(programs())
    def each(src):
        if cmd == "sample":
            print(generated_part(src))
            print("-" * 60)
            return
        import time
        t = time.perf_counter()
        out = run_interp(src, timeout=20)
        dt = time.perf_counter() - t
        stats["programs"] += 1
        stats["exprs"] += count_expressions(src)
        stats["lines"] += len(out.splitlines())
        stats["errors"] += out.count("<error:")
        if dt > 2:
            print(f"slow ({dt:.1f}s):\n{generated_part(src)}")
    each()
    if cmd == "check":
        print(stats)


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    _main(sys.argv)
