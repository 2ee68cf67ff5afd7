"""The lowered IR (LIR): the back end's IR between core IR and LLVM IR. This file is
its whole definition.

The `lower` pass (jit/lower.py) makes a `Program` from core IR; the passes after it
(`reps`, `allocs`, `roots`) rewrite it; `emit` (jit/emit.py) turns it into LLVM IR
one statement at a time, deciding nothing. `--dump-after PASS` prints it (`dump`).

A Program is its functions (`Fn`) and the tables module initialisation reads: the
top-level definitions, the atoms, the static data and the top-level expressions
(Note [Module initialisation] in jit/emit.py).

Functions
  Fn(name, kind, params, free, blocks)
      Every function has the code signature `i64 (ptr w, i64 a1 .. a4)` (Note [Code
      signature]); `params` name the values it reads from a1.., `free` the captured
      values it loads from its own object (`self`) at entry. By kind:
        closure   closure code: params (self, arg); free from closure fields 1..
        susp      suspension code: params (self); free from suspension fields 3..
        spread    a top-level function's spread entry: params = the items of its
                  list pattern (Note [Spread entries])
        exh       an exhaustive variant (Note [Destination passing]): params as the
                  function's spread entry, or (self, arg)
        fixnum    a fixnum variant: params of rep int, result an int or 0 (gives up);
                  no root frame, no entry checks (Note [Fixnum variants] in jit/reps.py)
        entry     a fixnum entry: tries the fixnum variant, else the generic code
        init      module initialisation and top-level steps (emit.py makes these)
      `checks`: the function checks the C stack at entry (Note [Stack checks] in
      jit/emit.py); a function with a root frame always checks the root stack.
      `frame` is the number of root slots it pushes (the `roots` pass sets it). `cold` marks code that runs at most
      once per context (top-level expressions and what they alone make): it is
      compiled without optimisation (Note [Cold code] in jit/emit.py). `label` is the
      name the runtime prints the code by (`<function f>`).
  Block(label, params, stmts, term)
      A basic block in A-normal form: `params` are bound by the Jumps that reach it
      (phi nodes); statements run in order; `term` ends it. The first block is the
      entry. Every operand is a variable or a constant; a variable is defined once
      and used only where its definition dominates.

Operands
  Var(name, rep)      a variable; rep is its representation:
                        val   a tagged word (Note [Value tags]): any value, maybe an
                              unevaluated suspension
                        int   a small integer's tagged word, known to be one
                        f64   a float64, unboxed (no pass makes one yet)
                        bool  a machine truth value (i1)
  Word(bits, text)    a tagged word known now (a small integer, nil, a primitive)
  Atom(name)          an atom: its word is read from the module's atom table
  Code(fn)            the address of function `fn` of this module
  Str(text)           a C string constant of the module (for the runtime's messages)

Statements (Let binds a variable to an expression)
  Let(var, expr) with expr one of
    Force(x)            x in weak head normal form: the inline probe of Note
                        [Suspension states], else rt_force_slow. A safepoint.
    Select(x, field)    field 0 (head) or 1 (tail) of x selected lazily: x's field when
                        x is a cons, else rt_select (a selector suspension). Safepoint.
    Alloc(kind, fields, code, hp, offset, nf)
                        a new object (kind cons, susp or closure) whose fields are
                        operands; a suspension's or closure's code is `code`. It is
                        placed at hp + offset in the space a Reserve made (the `allocs`
                        pass sets hp and offset); not a safepoint. nf: a `#E`
                        suspension, already normal (SUSP_AUX_NF)
    Reserve(nbytes)     room for the Allocs that follow (one group, no safepoint
                        between): the heap pointer they are placed from. Safepoint.
    Field(x, i)         payload word i of heap object x, unchecked
    Call(mode, target, args, tail)
                        a call; mode:
                          code    `target` is a function of this module (closure code,
                                  spread entry, exhaustive variant, generic code)
                          apply   an unknown function args[0] applied to args[1]: the
                                  closure's code when it is a closure, else rt_apply
                          fixnum  a fixnum variant (rep int in and out; 0: it gave up)
                          rt      the runtime's C function `target` (abi.RUNTIME)
                        Every call but some rt ones is a safepoint.
    Op(op, args)        machine operations, no safepoint (OPS below)
    Global(index)       this module's global slot gbase + index (rt_global_get)
    Root(slot)          root slot `slot` of the frame (a reload, made by `roots`)
    WField(name)        the worker's field `name` (layout table: worker.NAME)
  Guard(cond, fail)     unless cond (bool) holds, continue at block `fail`
  Checked(var, op, x, y, fail)
                        var = x op y on small integers (add sub mpy inc dcr neg), or at
                        block `fail` when the result is not one (overflow)
  Store(obj, i, x)      payload word i of obj := x (a rec group's back-patching:
                        no safepoint since obj was allocated, so no write barrier)
  Effect(call)          a Call whose value is not used
  Poll(keep)            the safepoint poll (Note [Safepoints]); `keep` pairs (x, x'):
                        x held across it on the slow path only, x' its value after
                        (the `roots` pass: Note [Entry polls] in jit/roots.py)
  StackGuard(fail)      continue at `fail` when the C stack is past its limit
  SetWField(name, x)    the worker's field `name` := x (an i32 or i64 field)
  Count(name, n)        add n to the worker's counter `name` (statistics: --stats)
  SaveRoot(slot, x)     root slot := x       \\ made by `roots`
  ClearRoot(slot)       root slot := 0        / (Note [Root frames])

Terminators
  Jump(target, args)    to block target, binding its params
  Branch(cond, yes, no) on a bool; neither target has params
  Return(x)             pop the frame, return x (it may be a suspension: Note [Lazy
                        returns])
  TailCall(call)        pop the frame, `musttail` call: a jump (Note [Code signature])
  Switch(x, cases, default)   on an int-rep word: cases is [(int, label)]
"""
from __future__ import annotations

from dataclasses import dataclass, field

VAL, INT, F64, BOOL = "val", "int", "f64", "bool"
REPS = (VAL, INT, F64, BOOL)

#: Op names: (result rep, operand count, meaning)
OPS = {
    "fix?": (BOOL, 1, "x is a small integer"),
    "ptr?": (BOOL, 1, "x is a heap pointer"),
    "type?": (BOOL, 2, "x is a heap object of type args[1] (a Word: the type number)"),
    "eq": (BOOL, 2, "the two words are equal"),
    "ne": (BOOL, 2, "the two words differ"),
    "lt": (BOOL, 2, "signed <, of small integers' words"),
    "le": (BOOL, 2, "signed <="),
    "gt": (BOOL, 2, "signed >"),
    "ge": (BOOL, 2, "signed >="),
    "and": (BOOL, 2, "both"),
    "or": (BOOL, 2, "either"),
    "truth": (VAL, 1, "true (the atom) or nil, from a bool"),
    "div": (INT, 2, "truncating quotient of small integers (nonzero divisor, no overflow)"),
    "rem": (INT, 2, "truncating remainder of small integers (nonzero divisor)"),
    "hungry": (BOOL, 0, "some worker would take a spark now (Note [Hungry workers])"),
    "ctx": (VAL, 0, "the worker's context pointer, as a word"),
}


# --- operands ---------------------------------------------------------------------------

@dataclass(eq=False, slots=True)
class Var:
    name: str
    rep: str = VAL

    def __str__(self):
        return f"%{self.name}" if self.rep == VAL else f"%{self.name}:{self.rep}"


@dataclass(frozen=True, slots=True)
class Word:
    bits: int
    text: str = ""

    def __str__(self):
        return self.text or f"#{self.bits:#x}"


@dataclass(frozen=True, slots=True)
class Atom:
    name: str

    def __str__(self):
        return "'" + self.name.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n") + "'"


@dataclass(frozen=True, slots=True)
class Code:
    fn: str

    def __str__(self):
        return f"&{self.fn}"


@dataclass(frozen=True, slots=True)
class Str:
    text: str

    def __str__(self):
        return '"' + self.text.replace("\\", "\\\\").replace('"', '\\"') + '"'


Operand = Var | Word | Atom | Code | Str


# --- expressions --------------------------------------------------------------------------

@dataclass(slots=True)
class Force:
    x: Operand


@dataclass(slots=True)
class Select:
    x: Operand
    field: int


@dataclass(slots=True)
class Alloc:
    kind: str                      # cons | susp | closure
    fields: list                   # operands: cons [head tail]; susp/closure the free values
    code: str | None = None        # susp / closure: the function
    hp: Var | None = None          # set by `allocs`
    offset: int = 0
    nf: bool = False               # a `#E` suspension (SUSP_AUX_NF)

    def words(self) -> int:
        """Its size in words, header included."""
        extra = {"cons": 0, "susp": 3, "closure": 1}[self.kind]
        return 1 + extra + len(self.fields)


@dataclass(slots=True)
class Reserve:
    nbytes: int


@dataclass(slots=True)
class Field:
    x: Operand
    index: int


@dataclass(slots=True)
class Call:
    mode: str                      # code | apply | fixnum | rt
    target: str | None
    args: list
    notail: bool = False           # forbid LLVM's tail-call elimination (fixnum calls)


@dataclass(slots=True)
class Op:
    op: str
    args: list


@dataclass(slots=True)
class Global:
    index: int


@dataclass(slots=True)
class Root:
    slot: int


@dataclass(slots=True)
class WField:
    name: str


Expr = Force | Select | Alloc | Reserve | Field | Call | Op | Global | Root | WField


# --- statements -----------------------------------------------------------------------------

@dataclass(slots=True)
class Let:
    var: Var
    expr: Expr


@dataclass(slots=True)
class Guard:
    cond: Operand
    fail: str


@dataclass(slots=True)
class Checked:
    var: Var
    op: str
    x: Operand
    y: Operand | None
    fail: str


@dataclass(slots=True)
class Store:
    obj: Operand
    index: int
    x: Operand


@dataclass(slots=True)
class Effect:
    call: Call


@dataclass(slots=True)
class Poll:
    keep: list = field(default_factory=list)   # [(value, its name after)]: set by `roots`


@dataclass(slots=True)
class StackGuard:
    fail: str


@dataclass(slots=True)
class SetWField:
    name: str
    x: Operand


@dataclass(slots=True)
class Count:
    name: str
    n: int


@dataclass(slots=True)
class SaveRoot:
    slot: int
    x: Operand


@dataclass(slots=True)
class ClearRoot:
    slot: int


Stmt = (Let | Guard | Checked | Store | Effect | Poll | StackGuard | SetWField | Count | SaveRoot
        | ClearRoot)


# --- terminators ----------------------------------------------------------------------------

@dataclass(slots=True)
class Jump:
    target: str
    args: list = field(default_factory=list)


@dataclass(slots=True)
class Branch:
    cond: Operand
    yes: str
    no: str
    likely: bool | None = None     # None: no hint; False: `yes` is a slow path


@dataclass(slots=True)
class Return:
    x: Operand


@dataclass(slots=True)
class TailCall:
    call: Call


@dataclass(slots=True)
class Switch:
    x: Operand
    cases: list
    default: str


Term = Jump | Branch | Return | TailCall | Switch


# --- functions and programs -------------------------------------------------------------------

@dataclass(eq=False, slots=True)
class Block:
    label: str
    params: list = field(default_factory=list)
    stmts: list = field(default_factory=list)
    term: Term | None = None


@dataclass(eq=False)
class Fn:
    name: str
    kind: str                      # closure susp spread exh fixnum entry init
    params: list                   # Vars bound to a1.. of the code signature
    free: list = field(default_factory=list)
    blocks: list = field(default_factory=list)
    label: str | None = None       # printed name (rt_code_name_set)
    checks: bool = True            # stack and root checks at entry
    frame: int = 0                 # root slots (set by `roots`)
    cold: bool = False             # runs at most once per context (Note [Cold code])
    note: str = ""                 # what the function is, for the dump

    def block(self, label: str) -> Block:
        for b in self.blocks:
            if b.label == label:
                return b
        raise KeyError(label)


@dataclass(eq=False)
class Definition:
    """A top-level definition's initial binding (Note [Module initialisation])."""
    name: str
    kind: str                      # closure | const | susp
    code: str | None = None        # closure / susp: its function
    value: Operand | None = None   # const: the word, or a Global(index) of static data


@dataclass(eq=False)
class Static:
    """Data built at initialisation into global slot `slot` from rt_form_build's
    encoding (rt/rt_jit.c): a quoted form (with the code of the forms `val` can
    reach, Note [Forms with code]) or a literal (Note [Static literals])."""
    slot: int
    encoding: bytes
    codes: list                    # function names, by the encoding's code indices
    text: str                      # what it is, for the dump


@dataclass(eq=False)
class Program:
    prefix: str
    main: bool                     # a program file (else one `val` form's module)
    late_binding: bool = False     # Note [Late binding]
    functions: list = field(default_factory=list)
    definitions: list = field(default_factory=list)
    atoms: list = field(default_factory=list)        # names, by atom-table index
    statics: list = field(default_factory=list)
    nglobals: int = 0              # global slots: definitions, then statics
    evals: list = field(default_factory=list)        # top-level expressions' functions
    entry: str | None = None       # a form module's entry function
    entry_define: str | None = None   # ... which defines this name (its value: Definition)
    aot: bool = False
    top: dict = field(default_factory=dict)          # top-level function -> what calls reach
    fixnum: list = field(default_factory=list)       # functions given fixnum variants (reps)
    fixnum_skipped: str | None = None

    def fn(self, name: str) -> Fn:
        return self._index()[name]

    def _index(self) -> dict:
        idx = getattr(self, "_fn_index", None)
        if idx is None or len(idx) != len(self.functions):
            idx = self._fn_index = {f.name: f for f in self.functions}
        return idx

    def atom_index(self, name: str) -> int:
        try:
            return self.atoms.index(name)
        except ValueError:
            self.atoms.append(name)
            return len(self.atoms) - 1


# --- walking ---------------------------------------------------------------------------------

def operands(s) -> list:
    """The operands a statement, expression or terminator reads."""
    t = type(s)
    if t is Let:
        return operands(s.expr)
    if t in (Force, Select, Field):
        return [s.x]
    if t is Alloc:
        return list(s.fields) + ([s.hp] if s.hp is not None else [])
    if t is Call:
        return list(s.args)
    if t is Op:
        return list(s.args)
    if t is Guard:
        return [s.cond]
    if t is Checked:
        return [s.x] + ([s.y] if s.y is not None else [])
    if t is Store:
        return [s.obj, s.x]
    if t is Effect:
        return list(s.call.args)
    if t in (SetWField, SaveRoot):
        return [s.x]
    if t is Poll:
        return [a for a, _ in s.keep]
    if t is Jump:
        return list(s.args)
    if t is Branch:
        return [s.cond]
    if t is Return:
        return [s.x]
    if t is TailCall:
        return list(s.call.args)
    if t is Switch:
        return [s.x]
    return []


def used_vars(s) -> list:
    return [x for x in operands(s) if type(x) is Var]


def defined_var(s) -> Var | None:
    t = type(s)
    if t is Let or t is Checked:
        return s.var
    return None


PURE = (Select, Field, Op, Global, Root, WField)


def dead_code(fn: "Fn") -> None:
    """Drop the definitions nobody uses whose expressions have no effect (a pattern's
    unused binders: their selections)."""
    while True:
        used = set()
        for b in fn.blocks:
            for s in b.stmts:
                used.update(id(v) for v in used_vars(s))
            used.update(id(v) for v in used_vars(b.term))
        dropped = False
        for b in fn.blocks:
            keep = [s for s in b.stmts
                    if not (type(s) is Let and type(s.expr) in PURE and id(s.var) not in used)]
            if len(keep) != len(b.stmts):
                b.stmts = keep
                dropped = True
        if not dropped:
            return


def successors(b: Block) -> list[str]:
    out = [s.fail for s in b.stmts if type(s) in (Guard, Checked, StackGuard)]
    t = b.term
    if type(t) is Jump:
        out.append(t.target)
    elif type(t) is Branch:
        out += [t.yes, t.no]
    elif type(t) is Switch:
        out += [lbl for _, lbl in t.cases] + [t.default]
    return out


def map_operands(s, f) -> None:
    """Replace every operand x that s reads by f(x), in place."""
    t = type(s)
    if t is Let:
        map_operands(s.expr, f)
    elif t in (Force, Select, Field):
        s.x = f(s.x)
    elif t is Alloc:
        s.fields = [f(x) for x in s.fields]
    elif t in (Call, Op):
        s.args = [f(x) for x in s.args]
    elif t is Guard:
        s.cond = f(s.cond)
    elif t is Checked:
        s.x = f(s.x)
        if s.y is not None:
            s.y = f(s.y)
    elif t is Store:
        s.obj, s.x = f(s.obj), f(s.x)
    elif t is Effect:
        s.call.args = [f(x) for x in s.call.args]
    elif t in (SetWField, SaveRoot):
        s.x = f(s.x)
    elif t is Jump:
        s.args = [f(x) for x in s.args]
    elif t in (Branch,):
        s.cond = f(s.cond)
    elif t is Return:
        s.x = f(s.x)
    elif t is TailCall:
        s.call.args = [f(x) for x in s.call.args]
    elif t is Switch:
        s.x = f(s.x)


#: runtime functions that can run Daisy code (and check no stack themselves)
RUNS_CODE = frozenset({"rt_prim_call", "rt_prim_whnf", "rt_apply"})   # not rt_prim_list: it only forces


def call_of(s) -> Call | None:
    """The call a statement or terminator makes, if any."""
    t = type(s)
    if t is Let and type(s.expr) is Call:
        return s.expr
    if t is Effect or t is TailCall:
        return s.call
    return None


def runs_code(c: Call) -> bool:
    """The call can run Daisy code (so can recurse and loop)."""
    return c.mode != "rt" or c.target in RUNS_CODE


# Safepoints: where a collection can move objects (Note [Root frames]).
SAFE_RT = frozenset({"rt_global_get", "rt_code_name_set", "rt_toplevel_define",
                     "rt_global_set", "rt_form_codes_forget", "rt_spark",
                     "rt_cons_set_tail"})


def is_safepoint(s) -> bool:
    """s may move heap objects (or unwind), so values held across it must be rooted."""
    t = type(s)
    if t is Let:
        e = s.expr
        te = type(e)
        if te in (Force, Select, Reserve):
            return True
        if te is Call:
            return not (e.mode == "rt" and e.target in SAFE_RT) and e.mode != "fixnum"
        return False
    if t is Effect:
        c = s.call
        return not (c.mode == "rt" and c.target in SAFE_RT) and c.mode != "fixnum"
    return t is Poll


# --- the dump ---------------------------------------------------------------------------------

def _ops(xs) -> str:
    return " ".join(str(x) for x in xs)


def expr_text(e) -> str:
    t = type(e)
    if t is Force:
        return f"force {e.x}"
    if t is Select:
        return f"select {e.x}.{'head' if e.field == 0 else 'tail'}"
    if t is Alloc:
        what = e.kind + ("/nf" if e.nf else "")
        code = f" {Code(e.code)}" if e.code else ""
        at = f" at {e.hp}+{e.offset}" if e.hp is not None else ""
        return f"alloc {what}{code} [{_ops(e.fields)}]{at}"
    if t is Reserve:
        return f"reserve {e.nbytes}"
    if t is Field:
        return f"field {e.x}.{e.index}"
    if t is Call:
        return call_text(e)
    if t is Op:
        return f"{e.op} {_ops(e.args)}".rstrip()
    if t is Global:
        return f"global {e.index}"
    if t is Root:
        return f"root {e.slot}"
    if t is WField:
        return f"w.{e.name}"
    return f"<{t.__name__}>"


def call_text(c: Call) -> str:
    if c.mode == "apply":
        return f"apply {_ops(c.args)}"
    nt = " notail" if c.notail else ""
    return f"call {c.mode} {c.target}({', '.join(str(a) for a in c.args)}){nt}"


def stmt_text(s) -> str:
    t = type(s)
    if t is Let:
        return f"{s.var} = {expr_text(s.expr)}"
    if t is Guard:
        return f"guard {s.cond} else {s.fail}"
    if t is Checked:
        y = f" {s.y}" if s.y is not None else ""
        return f"{s.var} = {s.op}.checked {s.x}{y} else {s.fail}"
    if t is Store:
        return f"store {s.obj}.{s.index} := {s.x}"
    if t is Effect:
        return call_text(s.call)
    if t is Poll:
        if s.keep:
            return "poll keep(" + ", ".join(f"{a}->{b}" for a, b in s.keep) + ")"
        return "poll"
    if t is StackGuard:
        return f"stackguard else {s.fail}"
    if t is SetWField:
        return f"w.{s.name} := {s.x}"
    if t is Count:
        return f"w.{s.name} += {s.n}"
    if t is SaveRoot:
        return f"root {s.slot} := {s.x}"
    if t is ClearRoot:
        return f"root {s.slot} := 0"
    return f"<{t.__name__}>"


def term_text(t) -> str:
    tt = type(t)
    if tt is Jump:
        return f"jump {t.target}({', '.join(str(a) for a in t.args)})" if t.args else f"jump {t.target}"
    if tt is Branch:
        hint = "" if t.likely is None else (" likely" if t.likely else " unlikely")
        return f"branch {t.cond} {t.yes} {t.no}{hint}"
    if tt is Return:
        return f"return {t.x}"
    if tt is TailCall:
        return f"tail {call_text(t.call)}"
    if tt is Switch:
        cases = " ".join(f"{k}:{lbl}" for k, lbl in t.cases)
        return f"switch {t.x} [{cases}] else {t.default}"
    return "<no terminator>"


def dump_fn(f: Fn) -> str:
    head = f"fn {f.name} {f.kind}({', '.join(str(p) for p in f.params)})"
    if f.free:
        head += f" free({', '.join(str(v) for v in f.free)})"
    attrs = []
    if f.frame:
        attrs.append(f"frame {f.frame}")
    if not f.checks:
        attrs.append("nochecks")
    if f.cold:
        attrs.append("cold")
    if attrs:
        head += " " + " ".join(attrs)
    lines = [head + (f"   ; {f.note}" if f.note else "")]
    for b in f.blocks:
        params = f"({', '.join(str(p) for p in b.params)})" if b.params else ""
        lines.append(f"  {b.label}{params}:")
        for s in b.stmts:
            lines.append(f"    {stmt_text(s)}")
        lines.append(f"    {term_text(b.term)}")
    return "\n".join(lines)


def dump(p: Program) -> str:
    out = [f";; {'program' if p.main else 'form module'} {p.prefix}"
           + (" (names looked up when used: Note [Late binding])" if p.late_binding else "")]
    if p.fixnum_skipped:
        out.append(f";; fixnum variants: none, {p.fixnum_skipped}")
    elif p.fixnum:
        out.append(f";; fixnum variants: {' '.join(p.fixnum)}")
    for k, d in enumerate(p.definitions):
        what = {"closure": f"closure {Code(d.code) if d.code else ''}",
                "susp": f"suspension {Code(d.code) if d.code else ''}",
                "const": f"{d.value if not isinstance(d.value, Global) else expr_text(d.value)}"}[d.kind]
        out.append(f";; global {k} {d.name} = {what.strip()}")
    for s in p.statics:
        codes = f" codes {' '.join(s.codes)}" if s.codes else ""
        out.append(f";; global {s.slot} = static {s.text} ({len(s.encoding)} bytes){codes}")
    if p.evals:
        out.append(f";; top-level expressions: {' '.join(p.evals)}")
    if p.entry:
        out.append(f";; entry: {p.entry}" + (f" (defines {p.entry_define})" if p.entry_define else ""))
    for f in p.functions:
        out.append(dump_fn(f))
    return "\n".join(out) + "\n"


# --- checks ---------------------------------------------------------------------------------

def verify(p: Program) -> None:
    """Cheap structural checks every pass keeps: labels exist and are unique, every
    block ends in a terminator, variables are defined once."""
    for f in p.functions:
        labels = [b.label for b in f.blocks]
        if len(set(labels)) != len(labels):
            raise AssertionError(f"{f.name}: duplicate block labels")
        known = set(labels)
        defined = {id(v) for v in f.params} | {id(v) for v in f.free}
        for b in f.blocks:
            if b.term is None:
                raise AssertionError(f"{f.name}.{b.label}: no terminator")
            for v in b.params:
                if id(v) in defined:
                    raise AssertionError(f"{f.name}: {v} defined twice")
                defined.add(id(v))
            for s in b.stmts:
                v = defined_var(s)
                if v is not None:
                    if id(v) in defined:
                        raise AssertionError(f"{f.name}: {v} defined twice")
                    defined.add(id(v))
            for lbl in successors(b):
                if lbl not in known:
                    raise AssertionError(f"{f.name}.{b.label}: no block {lbl}")
