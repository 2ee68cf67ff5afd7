"""Pass `emit`: LIR (jit/lir.py) to LLVM IR text, mechanically.

Each LIR statement has one fixed expansion (this file is the list of them); nothing is
decided here that the LIR does not say. The text is written directly (no IR builder
objects), with opaque pointers, `getelementptr i8` for fields and `musttail` for tail
calls (../shared/FIELD-NOTES.md). Offsets, tags and headers come from jit/abi.py.

Note [Root frames]
~~~~~~~~~~~~~~~~~~
Compaction moves objects at any safepoint (an allocation slow path, a poll, any call
that can reach one). A function therefore keeps every heap value it needs across a
safepoint in a *root frame*: a block of slots it pushes on the worker's root stack at
entry (Note [Roots]) and pops before it returns or jumps. The `roots` pass decides
which values those are and writes the saves and reloads; here the frame is pushed,
emptied (the word 0, which no collector follows) and popped. A function with no slots
pushes nothing. Entry checks the C stack against `w->stack_limit` (when the function
makes calls that return to it: Note [Stack checks]) and then the root stack against
`sp_limit`: past either, the call's value is the error `stack exhausted`. A function
that checks no stack makes no call that could come back to it, so at most one such
frame sits on a checked one: up to SMALL_FRAME slots it is pushed without a check,
into the ROOT_RESERVE words every check leaves free.

Note [Stack checks]
~~~~~~~~~~~~~~~~~~~
Only a call that returns to its caller deepens the C stack: a `musttail` call replaces
the caller's frame, and rt_force_slow checks the stack itself before it runs a
suspension's code. So `lower` marks a function `checks` only when it makes a call of
Daisy code that returns to it (FnLowering.finish): every unbounded recursion still
passes through such a function, which checks. Cold code (Note [Cold code]) runs once,
entered from a step or from rt_force_slow, and checks nothing. Fixnum variants check
before their first call on each path instead (Note [Fixnum entries] in jit/reps.py).

Note [Polls]
~~~~~~~~~~~~
A worker must reach a safepoint soon when another asks for a collection (Note
[Safepoints]). Every loop and recursion goes through a call, so `lower` puts a poll at
the entry of every function that makes a call or forces a value, and leaves it out of
the rest, whose work is bounded: cold code (it runs once), a wrapper (it jumps to its
spread entry, which polls), and a leaf such as a suspension of `[X ! lo]`. An exhaustive
variant polls at its loop header.

Note [Type tests]
~~~~~~~~~~~~~~~~~
"x is a heap object of type T" is one load and no branch: the header is read from x
when x is a pointer (low three bits clear) and from a zero word otherwise, and its low
byte, (T << 1) | 1 for every live object of type T, is compared. The word 0 is never a
value, so it is never tested. (A header that compaction has replaced by a forwarding
address is never seen: generated code reads headers only between safepoints.) A second
test of the same variable in the same LIR block (the head and the tail of one list)
reuses the first: everything an LIR block's statements expand to runs in order.

Note [Fast-path helpers]
~~~~~~~~~~~~~~~~~~~~~~~~
The statements that occur everywhere and expand to a branchy fast path with a runtime
call behind it (`force`, `select`, `reserve`, an unknown function's `apply`, the poll's
test of the interrupt flag) are each one call of a small function that the module
defines once (`@P.force`, ...), marked `alwaysinline`. At -O2 LLVM's inliner puts every
one back in place, so the code is what an inline expansion makes; at -O0 and -O1 the
calls stay, and LLVM compiles the fast path once per module instead of once per use:
they were about a third of the instructions `emit` wrote (docs/jit.md, "Compile
speed"). A helper is an ordinary call for the root frames: the values the caller needs
after it are in slots already, as for the runtime call inside it (Note [Root frames]).
`apply` keeps a tail call a tail call: it is entered with `musttail` from a tail
position and leaves with `musttail`, and has the code signature for that.

Note [Cold code]
~~~~~~~~~~~~~~~~
Code that runs at most once per context (top-level expressions, the values of
top-level definitions, the suspensions they alone make, module initialisation) is
marked `cold` by `lower` and compiled `optnone`: LLVM neither optimises it nor selects
its instructions with the full selector (fast instruction selection), which is where
most of a program's compile time would otherwise go for code that runs once.

Note [Hoisted addresses]
~~~~~~~~~~~~~~~~~~~~~~~~
The address of a worker field (`%w.sp`) and of a root slot (`%slot2`) is computed once
per function, in its first block, which dominates every use; offset 0 is the base
itself. Each field or slot access is then one load or store instead of two
instructions: about a tenth of what `emit` wrote before was such address arithmetic
(docs/jit.md, "Compile speed"). LLVM's code generation sinks the addresses back next
to their uses (CodeGenPrepare), so the code it makes is the same at -O1 and above.

Note [Module initialisation]
~~~~~~~~~~~~~~~~~~~~~~~~~~~~
A module's atoms are interned, and its global slots made, when its entry point first
runs (inside a step, so allocation is allowed): `init_atoms` fills the atom table;
`init_values` (state 0 -> 1) takes one run of consecutive global slots (`gbase`): the
definitions in order, then the static data (quoted forms, their reachable parts, and
literals); then (state 1 -> 2) it stores each definition's value (a closure, a
constant, or a suspension of the defining expression: definitions are lazy) and builds
the static data (rt_form_build). A step that fails part-way re-runs from state 1,
which only stores again. The state belongs to one context (`init_ctx`): a program run
in a second context initialises again there, with its own atoms and slots. The
program's step function (`P_toplevel`, rt_step_fn) runs the i-th top-level
expression; a form module's entry (`P_entry`, the code signature) runs the form, or
installs the definition it makes and returns a unit.
"""
from __future__ import annotations

from . import abi
from . import lir as L
from .abi import NIL, UNIT, signed

NCODE_ARGS = 4
SMALL_FRAME = 64          # pushed without a check by code that checks no stack
CODE_PARAMS = "ptr %w, i64 %a1, i64 %a2, i64 %a3, i64 %a4"
LLTYPE = {L.VAL: "i64", L.INT: "i64", L.BOOL: "i1", L.F64: "double", "ptr": "ptr"}
UNLIKELY = "!{!\"branch_weights\", i32 1, i32 2000}"
LIKELY = "!{!\"branch_weights\", i32 2000, i32 1}"
OVF = {"add": "sadd", "sub": "ssub", "mpy": "smul", "inc": "sadd", "dcr": "ssub",
       "neg": "ssub"}
ICMP = {"eq": "eq", "ne": "ne", "lt": "slt", "le": "sle", "gt": "sgt", "ge": "sge"}


def _cstring(data: bytes) -> str:
    return "".join(chr(b) if 32 <= b < 127 and b not in (34, 92) else f"\\{b:02X}"
                   for b in data)


class Uses:
    """What some emitted text refers to: runtime functions and intrinsics, fast-path
    helpers, string constants, the program's functions and atoms. Each part of the
    module (Note [Module parts]) declares or defines what its texts use."""
    __slots__ = ("decls", "helpers", "strings", "fns", "atoms", "globals")

    def __init__(self):
        self.decls: set[str] = set()
        self.helpers: set[str] = set()
        self.strings: set[bytes] = set()
        self.fns: set[str] = set()
        self.atoms: set[int] = set()
        self.globals: list[str] = []          # other definitions (a static's code table)

    def merge(self, other: "Uses") -> None:
        self.decls |= other.decls
        self.helpers |= other.helpers
        self.strings |= other.strings
        self.fns |= other.fns
        self.atoms |= other.atoms
        self.globals += other.globals


class Part:
    """One LLVM module of a program (Note [Module parts])."""

    def __init__(self, index: int, cold: bool, init: bool = False):
        self.index = index
        self.cold = cold
        self.init = init                      # the last part: initialisation and entry
        self.texts: list[str] = []
        self.names: list[str] = []            # the functions it defines
        self.uses = Uses()
        self.size = 0                         # instructions

    def add(self, name: str | None, text: str, uses: Uses) -> None:
        self.texts.append(text)
        if name is not None:
            self.names.append(name)
        self.uses.merge(uses)
        self.size += text.count("\n  ")


# Note [Module parts]
# ~~~~~~~~~~~~~~~~~~~
# A program is emitted as several LLVM modules ("parts"), compiled separately and in
# parallel (jit/engine.py, Note [Parallel code generation]) and loaded or linked
# together. Functions go to parts in program order, cold code (Note [Cold code]) and the
# rest apart, a part closing once it holds HOT_PART_SIZE instructions; the last part
# holds the module's initialisation and entry, which must know every atom. A cold part
# (source_filename `P.partK.cold`, and the last) is compiled without IR passes at code
# generation level 0 whatever -O is; the others at the -O level. LLVM's code
# generation costs about a millisecond per function at level 2 however small the
# function, a third of that at level 0 with the fast register allocator; most of a
# program's functions are small and many are cold (docs/jit.md, "Compile speed"). The
# split depends only on the program, never on the machine, so dumps and golden tests
# are the same everywhere. A part's text is final when it closes (the streaming back
# end, driver/pipeline.py, compiles it while later functions are emitted), so every
# function outside the last part is defined `dso_local` (external linkage, reached
# directly from its own part) and declared in the parts that use it, as are the atoms
# and the global base the last part defines when another part uses them; the rest stays
# `internal`. Each part defines its own copies of the fast-path helpers and strings it
# uses. LLVM inlines only within a part: a program whose hot code fits one part (every
# benchmark program) loses nothing, and `daisy compile` links the parts into one module
# before optimising.
HOT_PART_SIZE = 5000
FILL_STEPS = 40           # Note [Initialisation in pieces]


class ModuleEmitter:
    def __init__(self, p: L.Program):
        self.p = p
        self.P = p.prefix
        self.strings: dict[bytes, tuple[str, str]] = {}     # data -> (global, definition)
        self.atom_ix = {name: i for i, name in enumerate(p.atoms)}
        self.uses = Uses()                    # of the text being emitted
        self.done: dict[int, str] = {}        # part index -> its text, once closed
        self.nfill = None                     # init_fill functions (init_parts)
        self.parts: list[Part] = []           # in order of creation: their indices
        self.open: dict[bool, Part | None] = {True: None, False: None}   # by coldness

    # ---- module-level names ----
    def fname(self, name: str) -> str:
        self.uses.fns.add(name)
        return f"@{self.P}.{name}"

    def atom_global(self, name: str) -> str:
        k = self.atom_ix.get(name)
        if k is None:
            k = self.atom_ix[name] = len(self.p.atoms)
            self.p.atoms.append(name)
        self.uses.atoms.add(k)
        return f"@{self.P}.atom{k}"

    def cstring(self, text: str | bytes, nul: bool = True) -> tuple[str, int]:
        data = text.encode("utf-8") if isinstance(text, str) else text
        key = data + (b"\0" if nul else b"")
        got = self.strings.get(key)
        if got is None:
            g = f"@{self.P}.str{len(self.strings)}"
            got = self.strings[key] = (g, f"{g} = internal constant [{len(key)} x i8] "
                                          f"c\"{_cstring(key)}\"")
        self.uses.strings.add(key)
        return got[0], len(data)

    def declare(self, name: str) -> None:
        self.uses.decls.add(name)

    def helper(self, name: str) -> str:
        """The name of a fast-path helper (Note [Fast-path helpers]), emitted once per
        part that uses it."""
        self.uses.helpers.add(name)
        return f"@{self.P}.{name}"

    def rt_sig(self, name: str) -> tuple[str, list[str]]:
        self.declare(name)
        return abi.RUNTIME[name]

    def emitted(self, make) -> tuple[str, Uses]:
        """make()'s text and what it uses."""
        self.uses = Uses()
        text = make()
        uses, self.uses = self.uses, Uses()
        return text, uses

    # ---- the module, part by part (Note [Module parts]) ----
    def emit(self, tick=None) -> list[str]:
        """The program's LLVM modules, in order."""
        self.init_parts()
        fns = self.p.functions
        for i, fn in enumerate(fns):
            if tick is not None:
                tick(i, len(fns), fn.name)
            self.function(fn)
        self.finish()
        return self.texts()

    def function(self, fn: L.Fn) -> tuple[int, str] | None:
        """Emit one function into its part; when that closes a part (the function
        begins the next one of its kind), that part's (index, text), which no later
        function changes (the streaming back end compiles it at once:
        driver/pipeline.py)."""
        text, uses = self.emitted(FnEmitter(self, fn).emit)
        part = self.open[fn.cold]
        closed = None
        if part is None or part.size >= HOT_PART_SIZE:
            closed = part
            part = self.open[fn.cold] = Part(len(self.parts), fn.cold)
            self.parts.append(part)
        part.add(fn.name, text, uses)
        return (closed.index, self.part_text(closed)) if closed else None

    def finish(self) -> list[tuple[int, str]]:
        """The parts still open and the last one (the module's initialisation and
        entry), as (index, text); the program's parts are then self.parts."""
        p = self.p
        assert self.nfill is not None, "init_parts comes first"
        last = Part(len(self.parts), True, init=True)
        self.parts.append(last)
        last.add("init_values", *self.emitted(self.init_values))
        last.add("ensure_init", *self.emitted(self.ensure_init))
        last.add(None, *self.emitted(self.toplevel if p.main else self.entry))
        last.add("init_atoms", *self.emitted(self.init_atoms))   # last: all atoms known
        others = Uses()
        for part in self.parts[:-1]:
            others.merge(part.uses)
        self.atoms_out = bool(others.atoms)
        self.gbase_out = "rt_global_get" in others.decls
        return [(part.index, self.part_text(part)) for part in self.open.values()
                if part is not None] + [(last.index, self.part_text(last))]

    def texts(self) -> list[str]:
        """Every part's text, in order (after finish)."""
        return [self.done[i] for i in range(len(self.parts))]

    def part_text(self, part: Part) -> str:
        P = self.P
        u = part.uses
        mine = set(part.names)
        name = f"{P}.part{part.index}{'.cold' if part.cold else ''}"
        head = [f"; ModuleID = '{name}'", f'source_filename = "{name}"']
        if part.init:
            link = "dso_local" if self.gbase_out else "internal"
            head += [f"@{P}.gbase = {link} global i32 0",
                     f"@{P}.init_state = internal global i32 0",
                     f"@{P}.init_ctx = internal global ptr null"]
            link = "dso_local" if self.atoms_out else "internal"
            head += [f"@{P}.atom{k} = {link} global i64 0" for k in range(len(self.p.atoms))]
        else:
            if "rt_global_get" in u.decls:
                head.append(f"@{P}.gbase = external global i32")
            head += [f"@{P}.atom{k} = external global i64" for k in sorted(u.atoms)]
        head.append(f"@{P}.zero = internal constant i64 0")     # Note [Type tests]
        head += [self.strings_def(data) for data in sorted(u.strings)]
        head += u.globals
        body = []
        for name, text in zip(part.names, part.texts):
            if not part.init:
                text = text.replace("define internal ", "define dso_local ", 1)
            body.append(text)
        body += part.texts[len(part.names):]
        decls_used = set(u.decls)
        for h in sorted(u.helpers):
            text, uses = self.emitted(lambda: self.helper_text(h))
            decls_used |= uses.decls
            body.append(text)
        decls = [f"declare i64 @{P}.{name}(ptr, i64, i64, i64, i64)"
                 for name in sorted(u.fns) if name not in mine]
        for name in sorted(decls_used):
            if name in abi.RUNTIME:
                ret, params = abi.RUNTIME[name]
                ps = ", ".join("ptr" if x in ("w", "ctx") else x for x in params)
                decls.append(f"declare {ret} @{name}({ps}) #0")
            else:
                decls.append(INTRINSICS[name])
        tail = ["attributes #0 = { nounwind }",
                "attributes #1 = { nounwind noinline optnone }",
                "attributes #2 = { nounwind alwaysinline }",
                f"!0 = {UNLIKELY}", f"!1 = {LIKELY}"]
        text = "\n".join(head + [""] + body + decls + tail) + "\n"
        self.done[part.index] = text
        return text

    def strings_def(self, data: bytes) -> str:
        return self.strings[data][1]

    # ---- Note [Fast-path helpers] ----
    def helper_text(self, name: str) -> str:
        P = self.P
        zero = f"@{P}.zero"

        def type_test(x: str, type_name: str) -> list[str]:
            return type_test_lines(x, type_name, zero, "%t %isptr %p %s %h %is".split())

        def field(index: int) -> int:
            return 8 * (1 + index)

        if name == "force":                 # Note [Suspension states]
            self.declare("rt_force_slow")
            return "\n".join([
                f"define internal i64 @{P}.force(ptr %w, i64 %x) #2 {{", "entry:",
                *type_test("%x", "susp"),
                "  br i1 %is, label %probe, label %done", "probe:",
                f"  %sp = getelementptr i8, ptr %p, i64 {field(abi.SUSP_STATE)}",
                "  %st = load atomic i64, ptr %sp acquire, align 8",
                f"  %vp = getelementptr i8, ptr %p, i64 {field(abi.SUSP_VALUE)}",
                "  %val = load atomic i64, ptr %vp monotonic, align 8",
                f"  %ev = icmp eq i64 %st, {abi.SUSP_EVALUATED}",
                "  br i1 %ev, label %done, label %slow, !prof !1", "slow:",
                "  %r = call i64 @rt_force_slow(ptr %w, i64 %x)",
                "  br label %done", "done:",
                "  %v = phi i64 [ %x, %entry ], [ %val, %probe ], [ %r, %slow ]",
                "  ret i64 %v", "}"])
        if name == "select":                # Note [Lazy patterns]
            self.declare("rt_select")
            return "\n".join([
                f"define internal i64 @{P}.select(ptr %w, i64 %x, i32 %which) #2 {{",
                "entry:", *type_test("%x", "cons"),
                "  br i1 %is, label %fast, label %slow, !prof !1", "fast:",
                "  %k = zext i32 %which to i64",
                "  %k1 = add i64 %k, 1",
                "  %fp = getelementptr i64, ptr %p, i64 %k1",
                "  %f = load i64, ptr %fp",
                "  ret i64 %f", "slow:",
                "  %r = call i64 @rt_select(ptr %w, i64 %x, i32 %which)",
                "  ret i64 %r", "}"])
        if name == "reserve":               # Note [Reserve]
            self.declare("rt_reserve_slow")
            return "\n".join([
                f"define internal ptr @{P}.reserve(ptr %w, i64 %n) #2 {{", "entry:",
                f"  %hpp = getelementptr i8, ptr %w, i64 {abi.W_HP}",
                "  %hp0 = load ptr, ptr %hpp",
                "  %end0 = getelementptr i8, ptr %hp0, i64 %n",
                f"  %limp = getelementptr i8, ptr %w, i64 {abi.W_LIMIT}",
                "  %lim = load ptr, ptr %limp",
                "  %short = icmp ugt ptr %end0, %lim",
                "  br i1 %short, label %slow, label %ok, !prof !0", "slow:",
                "  %hp1 = call ptr @rt_reserve_slow(ptr %w, i64 %n)",
                "  %end1 = getelementptr i8, ptr %hp1, i64 %n",
                "  br label %ok", "ok:",
                "  %hp = phi ptr [ %hp0, %entry ], [ %hp1, %slow ]",
                "  %end = phi ptr [ %end0, %entry ], [ %end1, %slow ]",
                "  store ptr %end, ptr %hpp",
                "  ret ptr %hp", "}"])
        if name == "apply":                 # an unknown function applied
            self.declare("rt_apply")
            args = "ptr %w, i64 %a1, i64 %a2, i64 undef, i64 undef"
            return "\n".join([
                f"define internal i64 @{P}.apply({CODE_PARAMS}) #2 {{", "entry:",
                *type_test("%a1", "closure"),
                "  br i1 %is, label %clo, label %other, !prof !1", "clo:",
                f"  %cp = getelementptr i8, ptr %p, i64 {field(abi.CLOSURE_CODE)}",
                "  %code = load ptr, ptr %cp",
                f"  %r1 = musttail call i64 %code({args})",
                "  ret i64 %r1", "other:",
                f"  %r2 = musttail call i64 @rt_apply({args})",
                "  ret i64 %r2", "}"])
        if name == "interrupted":           # Note [Polls]
            return "\n".join([
                f"define internal i1 @{P}.interrupted(ptr %w) #2 {{", "entry:",
                f"  %fp = getelementptr i8, ptr %w, i64 {abi.W_INTERRUPT}",
                "  %f = load atomic i32, ptr %fp monotonic, align 4",
                "  %c = icmp ne i32 %f, 0",
                "  ret i1 %c", "}"])
        raise KeyError(name)

    # ---- Note [Module initialisation] ----
    def init_atoms(self) -> str:
        P = self.P
        lines = [f"define internal void @{P}.init_atoms(ptr %w) #1 {{", "entry:",
                 f"  %cp = getelementptr i8, ptr %w, i64 {abi.W_CTX}",
                 "  %ctx = load ptr, ptr %cp"]
        self.declare("rt_atom")
        for k, name in enumerate(list(self.p.atoms)):
            g, n = self.cstring(name)
            lines.append(f"  %a{k} = call i64 @rt_atom(ptr %ctx, ptr {g}, i64 {n})")
            lines.append(f"  store i64 %a{k}, ptr @{P}.atom{k}")
        lines += ["  ret void", "}"]
        return "\n".join(lines)

    def init_values(self) -> str:
        P = self.P
        p = self.p
        e = Lines()
        e.add(f"define internal i64 @{P}.init_values({CODE_PARAMS}) #1 {{")
        e.add("entry:")
        e.add(f"  %cp = getelementptr i8, ptr %w, i64 {abi.W_CTX}")
        e.add("  %ctx = load ptr, ptr %cp")
        e.add(f"  %ic = load ptr, ptr @{P}.init_ctx")
        e.add("  %same = icmp eq ptr %ic, %ctx")
        e.add(f"  %st0 = load i32, ptr @{P}.init_state")
        e.add("  %st = select i1 %same, i32 %st0, i32 0")
        e.add(f"  store ptr %ctx, ptr @{P}.init_ctx")
        e.add("  %fresh = icmp eq i32 %st, 0")
        e.add("  br i1 %fresh, label %alloc, label %fill")
        e.add("alloc:")
        n = p.nglobals
        for name in ("rt_global_new", "rt_global_get", "rt_global_set", "rt_toplevel_define",
                     "rt_code_name_set", "rt_closure_new", "rt_susp_new_uncounted",
                     "rt_form_build", "rt_prims_register_names"):
            self.declare(name)
        if n:
            e.add(f"  %base = call i32 @rt_global_new(ptr %ctx, i64 {NIL})")
            e.add(f"  store i32 %base, ptr @{P}.gbase")
            if n > 1:
                e.add("  br label %more")
                e.add("more:")
                e.add("  %i = phi i32 [ 1, %alloc ], [ %i1, %more ]")
                e.add(f"  %g = call i32 @rt_global_new(ptr %ctx, i64 {NIL})")
                e.add("  %i1 = add i32 %i, 1")
                e.add(f"  %again = icmp ult i32 %i1, {n}")
                e.add("  br i1 %again, label %more, label %allocated")
                e.add("allocated:")
        e.add(f"  store i32 1, ptr @{P}.init_state")
        e.add("  br label %fill")
        e.add("fill:")
        e.add(f"  %gb = load i32, ptr @{P}.gbase")
        e.add("  %gb64 = zext i32 %gb to i64")
        if p.main:
            e.add("  call void @rt_prims_register_names(ptr %ctx)")
        for k in range(self.nfill):
            e.add(f"  call i64 {self.fname(f'init_fill{k}')}(ptr %w, i64 %gb64, i64 undef, "
                  "i64 undef, i64 undef)")
        e.add(f"  store i32 2, ptr @{P}.init_state")
        e.add(f"  ret i64 {NIL}")
        e.add("}")
        return e.text()

    # Note [Initialisation in pieces]
    # ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
    # What init_values fills in (each code's name, each definition's value and name,
    # the static data) is a long run of calls, one or two per definition. As one
    # function it was the largest of a program (1,272 instructions for the 300-line
    # generated one), and LLVM's register allocator costs more than linearly in a
    # function's size; and it could only be compiled last. So the steps go into
    # functions `init_fillK` of FILL_STEPS steps each, in parts of their own emitted
    # before any other function (their text needs only names), which the streaming
    # back end compiles while the rest is emitted; init_values calls them in order.
    # Nothing a step makes is held across the next: each value goes to its global slot.
    def fill_steps(self) -> list:
        """The steps of filling the globals in, in order: functions of (Lines)."""
        p = self.p
        steps = []
        for fn in p.functions:
            if fn.label:
                def name(e, fn=fn):
                    a = e.tmp()
                    e.add(f"  {a} = load i64, ptr {self.atom_global(fn.label)}")
                    e.add(f"  call void @rt_code_name_set(ptr %ctx, ptr {self.fname(fn.name)}, "
                          f"i64 {a})")
                steps.append(name)
        for k, d in enumerate(p.definitions):
            def define(e, k=k, d=d):
                idx = e.tmp()
                e.add(f"  {idx} = add i32 %gb, {k}")
                if d.kind == "closure":
                    v = e.tmp()
                    e.add(f"  {v} = call i64 @rt_closure_new(ptr %w, ptr {self.fname(d.code)}, "
                          "i32 1, i32 0, ptr null)")
                elif d.kind == "susp":
                    v = e.tmp()
                    e.add(f"  {v} = call i64 @rt_susp_new_uncounted(ptr %w, "
                          f"ptr {self.fname(d.code)}, i32 0, ptr null)")
                elif d.kind == "const":
                    v = self.operand_text(e, d.value)
                else:
                    v = None                       # static: built into its slot below
                if v is not None:
                    e.add(f"  call void @rt_global_set(ptr %ctx, i32 {idx}, i64 {v})")
                a = e.tmp()
                e.add(f"  {a} = load i64, ptr {self.atom_global(d.name)}")
                e.add(f"  call void @rt_toplevel_define(ptr %ctx, i64 {a}, i32 {idx})")
            steps.append(define)
        for k, st in enumerate(p.statics):
            def build(e, k=k, st=st):
                data, nbytes = self.cstring(st.encoding, nul=False)
                table = "null"
                if st.codes:
                    table = f"@{self.P}.codes{k}"
                    elems = ", ".join(f"ptr {self.fname(c)}" for c in st.codes)
                    self.uses.globals.append(
                        f"{table} = internal constant [{len(st.codes)} x ptr] [{elems}]")
                e.add(f"  call i64 @rt_form_build(ptr %w, ptr {data}, i64 {nbytes}, i32 %gb, "
                      f"ptr {table})")
            steps.append(build)
        return steps

    def fill_function(self, k: int, steps: list) -> str:
        e = Lines()
        e.add(f"define internal i64 @{self.P}.init_fill{k}({CODE_PARAMS}) #1 {{")
        e.add("entry:")
        e.add(f"  %cp = getelementptr i8, ptr %w, i64 {abi.W_CTX}")
        e.add("  %ctx = load ptr, ptr %cp")
        e.add("  %gb = trunc i64 %a1 to i32")
        for name in ("rt_global_set", "rt_toplevel_define", "rt_code_name_set",
                     "rt_closure_new", "rt_susp_new_uncounted", "rt_form_build"):
            self.declare(name)
        for step in steps:
            step(e)
        e.add(f"  ret i64 {NIL}")
        e.add("}")
        return e.text()

    def init_parts(self) -> list[tuple[int, str]]:
        """Note [Initialisation in pieces]: the fill functions in cold parts of their
        own, closed at once; (index, text) of each."""
        steps = self.fill_steps()
        chunks = [steps[i:i + FILL_STEPS] for i in range(0, len(steps), FILL_STEPS)]
        self.nfill = len(chunks)
        done, part = [], None
        for k, chunk in enumerate(chunks):
            if part is None or part.size >= HOT_PART_SIZE // 2:
                if part is not None:
                    done.append((part.index, self.part_text(part)))
                part = Part(len(self.parts), True)
                self.parts.append(part)
            part.add(f"init_fill{k}", *self.emitted(lambda: self.fill_function(k, chunk)))
        if part is not None:
            done.append((part.index, self.part_text(part)))
        return done

    def operand_text(self, e: "Lines", x) -> str:
        t = type(x)
        if t is L.Word:
            return str(signed(x.bits))
        if t is L.Atom:
            a = e.tmp()
            e.add(f"  {a} = load i64, ptr {self.atom_global(x.name)}")
            return a
        raise TypeError(f"not a constant operand: {x}")

    def ensure_init(self) -> str:
        P = self.P
        return "\n".join([
            f"define internal void @{P}.ensure_init(ptr %w) #0 {{",
            "entry:",
            f"  %cp = getelementptr i8, ptr %w, i64 {abi.W_CTX}",
            "  %ctx = load ptr, ptr %cp",
            f"  %ic = load ptr, ptr @{P}.init_ctx",
            "  %same = icmp eq ptr %ic, %ctx",
            f"  %st0 = load i32, ptr @{P}.init_state",
            "  %st = select i1 %same, i32 %st0, i32 0",
            "  %done = icmp eq i32 %st, 2",
            "  br i1 %done, label %ready, label %init, !prof !1",
            "init:",
            f"  call void @{P}.init_atoms(ptr %w)",
            f"  call i64 @{P}.init_values(ptr %w, i64 {NIL}, i64 {NIL}, i64 undef, i64 undef)",
            "  br label %ready",
            "ready:",
            "  ret void",
            "}"])

    def toplevel(self) -> str:
        P = self.P
        name = "daisy_toplevel" if self.p.aot else f"{P}_toplevel"
        self.declare("rt_whnf")
        lines = [f"define i64 @{name}(ptr %w, i64 %k) #0 {{", "entry:",
                 f"  call void @{P}.ensure_init(ptr %w)"]
        cases = " ".join(f"i64 {signed(abi.fix(k))}, label %eval{k}"
                         for k in range(len(self.p.evals)))
        lines.append(f"  switch i64 %k, label %none [ {cases} ]")
        for k, fn in enumerate(self.p.evals):
            lines += [f"eval{k}:",
                      f"  %r{k} = call i64 {self.fname(fn)}(ptr %w, i64 {NIL}, i64 {NIL}, "
                      "i64 undef, i64 undef)",
                      f"  %v{k} = call i64 @rt_whnf(ptr %w, i64 %r{k})",
                      f"  ret i64 %v{k}"]
        lines += ["none:", f"  ret i64 {NIL}", "}"]
        if self.p.aot:
            lines.append(f"@daisy_ntoplevel = constant i32 {len(self.p.evals)}")
        return "\n".join(lines)

    def entry(self) -> str:
        P = self.P
        p = self.p
        lines = [f"define i64 @{P}_entry({CODE_PARAMS}) #0 {{", "entry:",
                 f"  call void @{P}.ensure_init(ptr %w)"]
        call = f"call i64 {self.fname(p.entry)}(ptr %w, i64 {NIL}, i64 {NIL}, i64 undef, i64 undef)"
        if p.entry_define is None:
            lines += [f"  %r = musttail {call}", "  ret i64 %r", "}"]
            return "\n".join(lines)
        for name in ("rt_global_new", "rt_toplevel_define", "rt_form_codes_forget"):
            self.declare(name)
        lines += [f"  %v = {call}",
                  f"  %cp = getelementptr i8, ptr %w, i64 {abi.W_CTX}",
                  "  %ctx = load ptr, ptr %cp",
                  "  %idx = call i32 @rt_global_new(ptr %ctx, i64 %v)",
                  f"  %a = load i64, ptr {self.atom_global(p.entry_define)}",
                  "  call void @rt_toplevel_define(ptr %ctx, i64 %a, i32 %idx)",
                  "  call void @rt_form_codes_forget(ptr %ctx)",    # Note [Forms with code]
                  f"  ret i64 {UNIT}", "}"]
        return "\n".join(lines)


INTRINSICS = {
    "llvm.frameaddress.p0": "declare ptr @llvm.frameaddress.p0(i32)",
    "llvm.memset.p0.i64": "declare void @llvm.memset.p0.i64(ptr, i8, i64, i1)",
    "llvm.sadd.with.overflow.i64": "declare {i64, i1} @llvm.sadd.with.overflow.i64(i64, i64)",
    "llvm.ssub.with.overflow.i64": "declare {i64, i1} @llvm.ssub.with.overflow.i64(i64, i64)",
    "llvm.smul.with.overflow.i64": "declare {i64, i1} @llvm.smul.with.overflow.i64(i64, i64)",
}


class Lines:
    def __init__(self):
        self.lines: list[str] = []
        self.n = 0

    def add(self, line: str) -> None:
        self.lines.append(line)

    def tmp(self) -> str:
        self.n += 1
        return f"%_{self.n}"

    def text(self) -> str:
        return "\n".join(self.lines)


class FnEmitter:
    """One function's text."""

    def __init__(self, me: ModuleEmitter, fn: L.Fn):
        self.me = me
        self.fn = fn
        self.P = me.P
        self.lines: list[str] = []
        self.n = 0
        self.names: dict[int, str] = {}
        self.used: set[str] = {"w", "a1", "a2", "a3", "a4"}    # the signature's names
        self.cur = ""                      # the LLVM block being written
        self.phis: dict[str, list] = {}    # label -> [(param index, value text, pred)]
        self.block_params: dict[str, list] = {}
        self.tests: dict = {}
        self.phi_at: dict[str, int] = {}   # label -> index in lines where its phis go
        self.addrs: dict = {}              # Note [Hoisted addresses]: key -> name
        self.addr_lines: list[str] = []
        self.slot_lines: list[str] = []
        self.slot_at = -1

    # ---- names ----
    def stack_too_deep(self) -> str:
        """An i1: the C stack is past the worker's limit (Note [Stack checks])."""
        self.me.declare("llvm.frameaddress.p0")
        fa = self.tmp()
        self.add(f"  {fa} = call ptr @llvm.frameaddress.p0(i32 0)")
        fai = self.tmp()
        self.add(f"  {fai} = ptrtoint ptr {fa} to i64")
        lim = self.wload("stack_limit")
        deep = self.tmp()
        self.add(f"  {deep} = icmp ult i64 {fai}, {lim}")
        return deep

    def tmp(self) -> str:
        self.n += 1
        return f"%_{self.n}"

    def label(self) -> str:
        self.n += 1
        return f"_{self.n}"

    def name(self, v: L.Var) -> str:
        got = self.names.get(id(v))
        if got is None:
            base = v.name
            got = base
            k = 1
            while got in self.used:
                k += 1
                got = f"{base}.d{k}"
            self.used.add(got)
            got = f"%\"{got}\"" if not _plain(got) else f"%{got}"
            self.names[id(v)] = got
        return got

    def alias(self, v: L.Var, text: str) -> None:
        """v is the value already written as `text` (no instruction for the copy)."""
        self.names[id(v)] = text

    def op(self, x) -> str:
        """An operand as an i64 (or i1 / ptr by its rep) value text."""
        t = type(x)
        if t is L.Var:
            return self.name(x)
        if t is L.Word:
            return str(signed(x.bits))
        if t is L.Atom:
            a = self.tmp()
            self.add(f"  {a} = load i64, ptr {self.me.atom_global(x.name)}")
            return a
        if t is L.Code:
            a = self.tmp()
            self.add(f"  {a} = ptrtoint ptr {self.me.fname(x.fn)} to i64")
            return a
        if t is L.Str:
            g, _ = self.me.cstring(x.text)
            return g
        raise TypeError(f"no operand {x!r}")

    def add(self, line: str) -> None:
        self.lines.append(line)

    def start_block(self, label: str) -> None:
        self.add(f"{label}:")
        self.cur = label

    def br(self, target: str) -> None:
        self.add(f"  br label %{target}")

    def cbr(self, cond: str, yes: str, no: str, likely=None) -> None:
        prof = "" if likely is None else (", !prof !1" if likely else ", !prof !0")
        self.add(f"  br i1 {cond}, label %{yes}, label %{no}{prof}")

    def wfield(self, name: str) -> str:
        """Address of the worker's field (Note [Worker fields]), computed once per
        function (Note [Hoisted addresses])."""
        off = abi.W_OFFSET[name]
        if off == 0:
            return "%w"
        a = self.addrs.get(name)
        if a is None:
            a = self.addrs[name] = f"%w.{name}"
            self.addr_lines.append(f"  {a} = getelementptr i8, ptr %w, i64 {off}")
        return a

    def gep(self, base: str, offset: int) -> str:
        """base + offset bytes (base itself at offset 0)."""
        if offset == 0:
            return base
        a = self.tmp()
        self.add(f"  {a} = getelementptr i8, ptr {base}, i64 {offset}")
        return a

    def wload(self, name: str) -> str:
        ty = abi.WORKER_FIELDS[name]
        p = self.wfield(name)
        v = self.tmp()
        self.add(f"  {v} = load {ty}, ptr {p}")
        return v

    def objptr(self, x: str) -> str:
        p = self.tmp()
        self.add(f"  {p} = inttoptr i64 {x} to ptr")
        return p

    def fieldptr(self, obj: str, index: int) -> str:
        """Address of payload word `index` of an object (obj a ptr)."""
        a = self.tmp()
        self.add(f"  {a} = getelementptr i8, ptr {obj}, i64 {8 * (1 + index)}")
        return a

    def type_test(self, x: str, type_name: str) -> tuple[str, str]:
        """(i1: x is a heap object of the type, x as a ptr): Note [Type tests]."""
        got = self.tests.get((x, type_name))
        if got is not None:
            return got
        names = [self.tmp() for _ in range(6)]
        self.lines += type_test_lines(x, type_name, f"@{self.P}.zero", names)
        p, r = names[2], names[5]
        self.tests[(x, type_name)] = (r, p)
        return r, p

    # ---- the function ----
    def emit(self) -> str:
        fn = self.fn
        attrs = "#1" if fn.cold else "#0"
        head = f"define internal i64 {self.me.fname(fn.name)}({CODE_PARAMS}) {attrs} {{"
        self.start_block("_start")
        for i, v in enumerate(fn.params):
            self.names[id(v)] = f"%a{i + 1}"
        self.prologue()
        for b in fn.blocks:
            self.block_params[b.label] = b.params
        for b in fn.blocks:
            self.emit_block(b)
        # phi nodes, now that every predecessor is known
        out = [head]
        inserts = {}
        for label, idx in self.phi_at.items():
            params = self.block_params[label]
            incoming = self.phis.get(label, [])
            phi_lines = []
            for i, v in enumerate(params):
                ty = LLTYPE[v.rep]
                srcs = ", ".join(f"[ {val}, %{pred} ]" for j, val, pred in incoming if j == i)
                phi_lines.append(f"  {self.name(v)} = phi {ty} {srcs}")
            inserts[idx] = phi_lines
        if self.addr_lines:
            inserts.setdefault(0, []).extend(self.addr_lines)
        if self.slot_lines:
            inserts.setdefault(self.slot_at, []).extend(self.slot_lines)
        for i, line in enumerate(self.lines):
            out.append(line)
            if i in inserts:
                out.extend(inserts[i])
        out.append("}")
        return "\n".join(out)

    def prologue(self) -> None:
        fn = self.fn
        w_check = fn.checks
        frame = fn.frame
        bad = []
        if w_check:
            bad.append(self.stack_too_deep())
        if frame:
            base = self.wload("sp")
            self.base = base
            self.slot_at = len(self.lines) - 1   # slot addresses go after this line
            newsp = self.tmp()
            self.add(f"  {newsp} = getelementptr i8, ptr {base}, i64 {8 * frame}")
            self.newsp = newsp
        if frame and (w_check or frame > SMALL_FRAME):
            lim = self.wload("sp_limit")
            a, b = self.tmp(), self.tmp()
            self.add(f"  {a} = ptrtoint ptr {lim} to i64")
            self.add(f"  {b} = ptrtoint ptr {newsp} to i64")
            room = self.tmp()
            self.add(f"  {room} = sub i64 {a}, {b}")
            short = self.tmp()
            self.add(f"  {short} = icmp slt i64 {room}, {8 * abi.ROOT_RESERVE}")
            bad.append(short)
        if bad:
            cond = bad[0]
            if len(bad) == 2:
                cond = self.tmp()
                self.add(f"  {cond} = or i1 {bad[0]}, {bad[1]}")
            exhausted, push = self.label(), self.label()
            self.cbr(cond, exhausted, push, likely=False)
            self.start_block(exhausted)
            self.me.declare("rt_stack_exhausted")
            e = self.tmp()
            self.add(f"  {e} = call i64 @rt_stack_exhausted(ptr %w)")
            self.add(f"  ret i64 {e}")
            self.start_block(push)
        if frame:
            if frame <= 4:
                for k in range(frame):
                    self.add(f"  store i64 0, ptr {self.slot(k)}")
            else:
                self.me.declare("llvm.memset.p0.i64")
                self.add(f"  call void @llvm.memset.p0.i64(ptr {self.base}, i8 0, "
                         f"i64 {8 * frame}, i1 false)")
            spp = self.wfield("sp")
            self.add(f"  store ptr {self.newsp}, ptr {spp}")
        if fn.free:
            env0 = 1 + (abi.CLOSURE_FREE if fn.kind == "closure" else abi.SUSP_ENV)
            obj = self.objptr(self.name(fn.params[0]))
            for i, v in enumerate(fn.free):
                a = self.tmp()
                self.add(f"  {a} = getelementptr i8, ptr {obj}, i64 {8 * (env0 + i)}")
                self.add(f"  {self.name(v)} = load i64, ptr {a}")
        self.br(lbl(fn.blocks[0].label))

    def pop_frame(self) -> None:
        if self.fn.frame:
            spp = self.wfield("sp")
            self.add(f"  store ptr {self.base}, ptr {spp}")

    def slot(self, k: int) -> str:
        """Address of root slot k, computed once per function after the frame's base
        (Note [Hoisted addresses])."""
        if k == 0:
            return self.base
        a = self.addrs.get(("slot", k))
        if a is None:
            a = self.addrs[("slot", k)] = f"%slot{k}"
            self.slot_lines.append(f"  {a} = getelementptr i8, ptr {self.base}, i64 {8 * k}")
        return a

    def emit_block(self, b: L.Block) -> None:
        self.tests = {}            # type tests made in this block, which dominate the rest
        self.start_block(lbl(b.label))
        if b.params:
            self.phi_at[b.label] = len(self.lines) - 1
        for s in b.stmts:
            self.stmt(s)
        self.terminator(b.term)

    # ---- statements ----
    def stmt(self, s) -> None:
        t = type(s)
        if t is L.Let:
            self.let(s.var, s.expr)
        elif t is L.Guard:
            cont = self.label()
            self.cbr(self.op(s.cond), cont, lbl(s.fail), likely=True)
            self.start_block(cont)
        elif t is L.Checked:
            self.checked(s)
        elif t is L.Store:
            p = self.fieldptr(self.objptr(self.op(s.obj)), s.index)
            self.add(f"  store i64 {self.op(s.x)}, ptr {p}")
        elif t is L.Effect:
            self.call(s.call, None)
        elif t is L.Poll:
            c = self.tmp()
            self.add(f"  {c} = call i1 {self.me.helper('interrupted')}(ptr %w)")
            here = self.cur
            slow, cont = self.label(), self.label()
            self.cbr(c, slow, cont, likely=False)
            self.start_block(slow)
            self.me.declare("rt_safepoint_slow")
            if s.keep:                  # Note [Entry polls]: pushed, polled, popped
                spp = self.wfield("sp")
                sp = self.tmp()
                self.add(f"  {sp} = load ptr, ptr {spp}")
                addrs = [self.gep(sp, 8 * i) for i in range(len(s.keep))]
                for (x, _), a in zip(s.keep, addrs):
                    self.add(f"  store i64 {self.op(x)}, ptr {a}")
                top = self.gep(sp, 8 * len(s.keep))
                self.add(f"  store ptr {top}, ptr {spp}")
            self.add("  call void @rt_safepoint_slow(ptr %w)")
            back = []
            if s.keep:
                for a in addrs:
                    y = self.tmp()
                    self.add(f"  {y} = load i64, ptr {a}")
                    back.append(y)
                self.add(f"  store ptr {sp}, ptr {spp}")
            self.br(cont)
            self.start_block(cont)
            for (x, nx), y in zip(s.keep, back):
                self.add(f"  {self.name(nx)} = phi i64 [ {self.op(x)}, %{here} ], [ {y}, %{slow} ]")
        elif t is L.StackGuard:
            deep = self.stack_too_deep()
            cont = self.label()
            self.cbr(deep, lbl(s.fail), cont, likely=False)
            self.start_block(cont)
        elif t is L.SetWField:
            ty = abi.WORKER_FIELDS[s.name]
            x = self.op(s.x)
            if ty == "i32" and not _const(x):
                y = self.tmp()
                self.add(f"  {y} = trunc i64 {x} to i32")
                x = y
            self.add(f"  store {ty} {x}, ptr {self.wfield(s.name)}")
        elif t is L.Count:
            p = self.wfield(s.name)
            v, v2 = self.tmp(), self.tmp()
            self.add(f"  {v} = load i64, ptr {p}")
            self.add(f"  {v2} = add i64 {v}, {s.n}")
            self.add(f"  store i64 {v2}, ptr {p}")
        elif t is L.SaveRoot:
            x = self.op(s.x)
            self.add(f"  store i64 {x}, ptr {self.slot(s.slot)}")
        elif t is L.ClearRoot:
            self.add(f"  store i64 0, ptr {self.slot(s.slot)}")
        else:
            raise TypeError(f"no statement {t.__name__}")

    def let(self, v: L.Var, e) -> None:
        t = type(e)
        dst = self.name(v)
        if t is L.Force:
            self.force(dst, self.op(e.x))
        elif t is L.Select:
            self.select(dst, self.op(e.x), e.field)
        elif t is L.Alloc:
            self.alloc(dst, e)
        elif t is L.Reserve:
            self.reserve(dst, e.nbytes)
        elif t is L.Field:
            p = self.fieldptr(self.objptr(self.op(e.x)), e.index)
            self.add(f"  {dst} = load i64, ptr {p}")
        elif t is L.Call:
            self.call(e, dst)
        elif t is L.Op:
            self.operation(dst, e, v)
        elif t is L.Global:
            gb = self.tmp()
            self.add(f"  {gb} = load i32, ptr @{self.P}.gbase")
            i = self.tmp()
            self.add(f"  {i} = add i32 {gb}, {e.index}")
            ctx = self.wload("ctx")
            self.me.declare("rt_global_get")
            self.add(f"  {dst} = call i64 @rt_global_get(ptr {ctx}, i32 {i})")
        elif t is L.Root:
            self.add(f"  {dst} = load i64, ptr {self.slot(e.slot)}")
        elif t is L.WField:
            ty = abi.WORKER_FIELDS[e.name]
            x = self.wload(e.name)
            if ty == "i32":
                self.add(f"  {dst} = zext i32 {x} to i64")
            else:
                self.alias(v, x)
        else:
            raise TypeError(f"no expression {t.__name__}")

    def force(self, dst: str, x: str) -> None:
        """Note [Suspension states]: the probe, then rt_force_slow (Note [Fast-path
        helpers])."""
        self.add(f"  {dst} = call i64 {self.me.helper('force')}(ptr %w, i64 {x})")

    def select(self, dst: str, x: str, which: int) -> None:
        """Note [Lazy patterns]: a cons's field, else rt_select."""
        self.add(f"  {dst} = call i64 {self.me.helper('select')}(ptr %w, i64 {x}, "
                 f"i32 {which})")

    def reserve(self, dst: str, nbytes: int) -> None:
        """Note [Reserve]: room for a group of objects; the heap pointer moves past
        them at once (nothing in the group is a safepoint)."""
        self.add(f"  {dst} = call ptr {self.me.helper('reserve')}(ptr %w, i64 {nbytes})")

    def alloc(self, dst: str, e: L.Alloc) -> None:
        o = self.gep(self.op(e.hp), e.offset)
        n = e.words() - 1
        if e.kind == "cons":
            hdr = abi.header("cons", 2)
            words = list(e.fields)
            first = 0
        elif e.kind == "susp":
            hdr = abi.header("susp", n, nraw=2, aux=abi.SUSP_AUX_NF if e.nf else 0)
            first = abi.SUSP_ENV
            words = list(e.fields)
        else:
            hdr = abi.header("closure", n, nraw=1, aux=1)
            first = abi.CLOSURE_FREE
            words = list(e.fields)
        self.add(f"  store i64 {signed(hdr)}, ptr {o}")
        if e.kind == "susp":
            self.add(f"  store i64 0, ptr {self.fieldptr(o, abi.SUSP_STATE)}")
            self.add(f"  store ptr {self.me.fname(e.code)}, ptr {self.fieldptr(o, abi.SUSP_CODE)}")
            self.add(f"  store i64 0, ptr {self.fieldptr(o, abi.SUSP_VALUE)}")
        elif e.kind == "closure":
            self.add(f"  store ptr {self.me.fname(e.code)}, ptr "
                     f"{self.fieldptr(o, abi.CLOSURE_CODE)}")
        for i, x in enumerate(words):
            self.add(f"  store i64 {self.op(x)}, ptr {self.fieldptr(o, first + i)}")
        self.add(f"  {dst} = ptrtoint ptr {o} to i64")

    def args(self, xs) -> str:
        vals = [f"i64 {self.op(x)}" for x in xs]
        vals += ["i64 undef"] * (NCODE_ARGS - len(vals))
        return ", ".join(["ptr %w"] + vals)

    def call(self, c: L.Call, dst: str | None, tail: bool = False) -> None:
        """A call; with tail, a `musttail` jump that ends the block."""
        m = c.mode
        lhs = f"{dst} = " if dst else ""
        if m == "apply":
            args = f"ptr %w, i64 {self.op(c.args[0])}, i64 {self.op(c.args[1])}, " \
                   "i64 undef, i64 undef"
            if tail:
                r = self.tmp()
                self.add(f"  {r} = musttail call i64 {self.me.helper('apply')}({args})")
                self.add(f"  ret i64 {r}")
            else:
                self.add(f"  {lhs}call i64 {self.me.helper('apply')}({args})")
            return
        if m in ("code", "fixnum"):
            args = self.args(c.args)
            kw = "musttail " if tail else ("notail " if c.notail else "")
            if tail:
                r = self.tmp()
                self.add(f"  {r} = musttail call i64 {self.me.fname(c.target)}({args})")
                self.add(f"  ret i64 {r}")
            else:
                self.add(f"  {lhs}{kw}call i64 {self.me.fname(c.target)}({args})")
            return
        # a runtime function
        ret, params = self.me.rt_sig(c.target)
        vals = []
        xs = list(c.args)
        for ty in params:
            if ty == "w":
                vals.append("ptr %w")
            elif ty == "ctx":
                vals.append(f"ptr {self.wload('ctx')}")
            elif ty == "i32":
                x = xs.pop(0)
                if type(x) is L.Word:
                    vals.append(f"i32 {signed(x.bits)}")
                else:
                    y = self.tmp()
                    self.add(f"  {y} = trunc i64 {self.op(x)} to i32")
                    vals.append(f"i32 {y}")
            elif ty == "ptr":
                vals.append(f"ptr {self.op(xs.pop(0))}")
            else:
                vals.append(f"i64 {self.op(xs.pop(0)) if xs else 'undef'}")
        call = f"call {ret} @{c.target}({', '.join(vals)})"
        if tail:
            r = self.tmp()
            self.add(f"  {r} = musttail {call}")
            self.add(f"  ret i64 {r}")
        elif ret == "void" or not dst:
            self.add(f"  {call}")
        else:
            self.add(f"  {dst} = {call}")

    def operation(self, dst: str, e: L.Op, e_var: L.Var) -> None:
        o = e.op
        a = [self.op(x) for x in e.args]
        if o == "fix?":                         # the low bit: a small integer
            self.add(f"  {dst} = trunc i64 {a[0]} to i1")
        elif o == "ptr?":
            t, c1, c2 = self.tmp(), self.tmp(), self.tmp()
            self.add(f"  {t} = and i64 {a[0]}, {abi.TAG_MASK}")
            self.add(f"  {c1} = icmp eq i64 {t}, {abi.TAG_PTR}")
            self.add(f"  {c2} = icmp ne i64 {a[0]}, 0")
            self.add(f"  {dst} = and i1 {c1}, {c2}")
        elif o == "type?":
            name = {v: k for k, v in abi.TYPES.items()}[e.args[1].bits]
            r, _ = self.type_test(a[0], name)
            self.alias(e_var, r)
        elif o in ICMP:
            self.add(f"  {dst} = icmp {ICMP[o]} i64 {a[0]}, {a[1]}")
        elif o in ("and", "or"):
            self.add(f"  {dst} = {o} i1 {a[0]}, {a[1]}")
        elif o == "truth":
            t = self.tmp()
            self.add(f"  {t} = load i64, ptr {self.me.atom_global('true')}")
            self.add(f"  {dst} = select i1 {a[0]}, i64 {t}, i64 {NIL}")
        elif o == "hungry":
            n = self.wload("spark_wanted")
            self.add(f"  {dst} = icmp ne i32 {n}, 0")
        else:
            raise TypeError(f"no op {o}")

    def minus1(self, x: str) -> str:
        """x - 1 (folded when x is a constant)."""
        if _const(x):
            return str(int(x) - 1)
        t = self.tmp()
        self.add(f"  {t} = sub i64 {x}, 1")
        return t

    def overflow(self, name: str, x: str, y: str) -> tuple[str, str]:
        f = f"llvm.{name}.with.overflow.i64"
        self.me.declare(f)
        r = self.tmp()
        self.add(f"  {r} = call {{i64, i1}} @{f}(i64 {x}, i64 {y})")
        v, o = self.tmp(), self.tmp()
        self.add(f"  {v} = extractvalue {{i64, i1}} {r}, 0")
        self.add(f"  {o} = extractvalue {{i64, i1}} {r}, 1")
        return v, o

    def checked(self, s: L.Checked) -> None:
        """Tagged small-integer arithmetic (a small integer n is the word 2n+1): sums,
        differences and products on the words directly, with LLVM's overflow
        intrinsics; truncating div and rem as the interpreter (interp/prims.py)."""
        dst = self.name(s.var)
        x = self.op(s.x)
        y = self.op(s.y) if s.y is not None else None
        op = s.op
        if op in ("div", "rem"):
            cont = self.label()
            z = self.tmp()
            self.add(f"  {z} = icmp eq i64 {y}, {signed(abi.fix(0))}")
            self.cbr(z, lbl(s.fail), cont, likely=False)
            self.start_block(cont)
            a, d = self.tmp(), self.tmp()
            self.add(f"  {a} = ashr i64 {x}, 1")
            self.add(f"  {d} = ashr i64 {y}, 1")
            if op == "rem":
                r, sh = self.tmp(), self.tmp()
                self.add(f"  {r} = srem i64 {a}, {d}")
                self.add(f"  {sh} = shl i64 {r}, 1")
                self.add(f"  {dst} = or i64 {sh}, 1")
                return
            q, sh, back, fits = self.tmp(), self.tmp(), self.tmp(), self.tmp()
            self.add(f"  {q} = sdiv i64 {a}, {d}")
            self.add(f"  {sh} = shl i64 {q}, 1")
            self.add(f"  {dst} = or i64 {sh}, 1")
            self.add(f"  {back} = ashr i64 {dst}, 1")
            self.add(f"  {fits} = icmp eq i64 {back}, {q}")
            ok = self.label()
            self.cbr(fits, ok, lbl(s.fail), likely=True)
            self.start_block(ok)
            return
        if op == "add":                         # (2a+1) - 1 + (2b+1)
            if _const(y):                       # (2a+1) + 2b
                v, o = self.overflow("sadd", x, str(int(y) - 1))
            else:
                v, o = self.overflow("sadd", self.minus1(x), y)
        elif op == "sub":                       # (2a+1) - ((2b+1) - 1)
            v, o = self.overflow("ssub", x, self.minus1(y))
        elif op == "mpy":                       # a * 2b, then the tag
            t = self.tmp()
            self.add(f"  {t} = ashr i64 {x}, 1")
            v, o = self.overflow("smul", t, self.minus1(y))
        elif op == "inc":
            v, o = self.overflow("sadd", x, "2")
        elif op == "dcr":
            v, o = self.overflow("ssub", x, "2")
        elif op == "neg":                       # -(2n+1) + 2 = 2(-n)+1
            v, o = self.overflow("ssub", "2", x)
        else:
            raise TypeError(f"no checked op {op}")
        cont = self.label()
        self.cbr(o, lbl(s.fail), cont, likely=False)
        self.start_block(cont)
        if op == "mpy":
            self.add(f"  {dst} = or i64 {v}, 1")
        else:
            self.alias(s.var, v)

    # ---- terminators ----
    def terminator(self, t) -> None:
        tt = type(t)
        if tt is L.Jump:
            params = self.block_params[t.target]
            for i, (x, p) in enumerate(zip(t.args, params)):
                self.phis.setdefault(t.target, []).append((i, self.op(x), self.cur))
            self.br(lbl(t.target))
        elif tt is L.Branch:
            self.cbr(self.op(t.cond), lbl(t.yes), lbl(t.no), t.likely)
        elif tt is L.Return:
            x = self.op(t.x)
            self.pop_frame()
            self.add(f"  ret i64 {x}")
        elif tt is L.TailCall:
            self.pop_frame()             # the operands are SSA values, not slots
            self.call(t.call, None, tail=True)
        elif tt is L.Switch:
            cases = " ".join(f"i64 {k}, label %{lbl(x)}" for k, x in t.cases)
            self.add(f"  switch i64 {self.op(t.x)}, label %{lbl(t.default)} [ {cases} ]")
        else:
            raise TypeError(f"no terminator {tt.__name__}")


def type_test_lines(x: str, type_name: str, zero: str, names: list[str]) -> list[str]:
    """Note [Type tests], with names (masked tag, is a pointer, x as a ptr, the header's
    address, its low byte, the answer) for its six values."""
    t, c, p, s, h, r = names
    return [f"  {t} = and i64 {x}, {abi.TAG_MASK}",
            f"  {c} = icmp eq i64 {t}, {abi.TAG_PTR}",
            f"  {p} = inttoptr i64 {x} to ptr",
            f"  {s} = select i1 {c}, ptr {p}, ptr {zero}",
            f"  {h} = load i8, ptr {s}",
            f"  {r} = icmp eq i8 {h}, {abi.header_byte(type_name)}"]


def lbl(label: str) -> str:
    """A LIR block's LLVM label: `b.` before it keeps labels apart from values (LLVM
    names both from one space) and from the emitter's own `_N` blocks."""
    return "b." + label


def _const(x: str) -> bool:
    """x is an integer constant's text."""
    return x.lstrip("-").isdigit()


def _plain(name: str) -> bool:
    return all(ch.isalnum() or ch in "._$-" for ch in name) and not name[0].isdigit()


def emit_program(p: L.Program, tick=None) -> list[str]:
    """The program's LLVM modules as text (Note [Module parts]); tick(i, n, name), if
    given, before each function."""
    return ModuleEmitter(p).emit(tick)
