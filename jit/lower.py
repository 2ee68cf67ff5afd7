"""Pass `lower`: core IR (frontend/core.py) to the lowered IR (jit/lir.py).

Every lambda body, every suspended expression and every top-level expression becomes
one LIR function (closure conversion: its free binders are loaded from its object),
written in A-normal form with each evaluation explicit: `force` where a value is
needed, `select` where a pattern binds, `alloc` where a cons, closure or suspension is
made, calls by mode (callmodes.py), small-integer fast paths with their slow paths.
Values are SSA variables here; which of them live in root slots across safepoints is
the `roots` pass's business, how allocations are grouped the `allocs` pass's.

Note [Code signature]
~~~~~~~~~~~~~~~~~~~~~
Closure code, suspension code, spread entries and `rt_apply` share one signature,
`i64 code(ptr w, i64 a1, i64 a2, i64 a3, i64 a4)`, so any of them can `musttail`
call any other: a Daisy call in tail position is a jump and tail recursion runs in
constant stack. Closure code reads `(w, self, arg)`, suspension code `(w, self)`,
a spread entry (Note [Spread entries]) its values from a1..; the runtime's C side
declares and calls them with only the parameters they read (`rt_closure_code`,
`rt_apply`): x86-64 SysV and AArch64 pass the first six arguments in registers and the
caller cleans up, so unread parameters are garbage registers that cost nothing.

Note [Spread entries]
~~~~~~~~~~~~~~~~~~~~~
A top-level function whose parameter is a list pattern, `\\[a b]. E` (up to four
items, a rest included), gets a *spread entry* taking the pattern's items spread into
separate values, and its closure code becomes a wrapper that selects them lazily from
the argument and jumps to the spread entry. A direct call with a list literal,
`f:[x y]`, is a *spread call*: it calls the spread entry, no argument list is built,
and the items the callee demands are evaluated first (Note [Strict arguments]).
Extra items past a pattern without a rest are never selected, so they are not built
either.

Note [Lazy returns]
~~~~~~~~~~~~~~~~~~~
Code may return an unevaluated suspension: a variable reached in tail position is
returned as it is (docs/language.md section 4, Note [Shallow evaluation] in
interp/eval.py). Whoever needs a value forces what a call returns; `$E` in a suspended
position keeps it as it is; `rt_force_slow` forces what a suspension's code returns.
So shallow evaluation costs nothing and every call in tail position can be a jump.

Note [Strict arguments]
~~~~~~~~~~~~~~~~~~~~~~~
The demand pass (frontend/demand.py) marks a binder head-demanded when evaluating its
scope certainly evaluates the binder's value, or does not end (docs/language.md,
"Strictness and errors"). Where the code generator knows the scope -- a direct call
of a top-level function, a `let` -- such a value is evaluated before the scope runs
instead of being suspended (callmodes.py marks which): no suspension is allocated,
none is forced later, and an accumulator such as `sum:[add:[acc X] Xs]` never builds
a chain. An item of a spread call that is demanded only if other items are numbers
(Note [Conditional demands] in demand.py: tak's x if y is) is evaluated after them
(C.demand_order), when they are small integers, and suspended otherwise. The callee
still forces its parameter (a tag test on a value) since closures and other callers
pass suspensions. A sparked argument (`@E`) is left as the spark it asks for.

Note [Evaluated binders]
~~~~~~~~~~~~~~~~~~~~~~~~
When code forces a binder (a parameter, a pattern or `let` name, a captured value), the
binder denotes the forced value from then on, on every path the force dominates: later
uses need no probe, and a closure or suspension made later captures the value, not the
suspension. The binding is saved and restored around each branch of an `if`, whose
code runs only on its own path; at the join, what the first test forced (it runs on
every path) is kept. Replacing a suspension by its value changes nothing anyone can
see: the suspension holds that value too.

Note [Destination passing]
~~~~~~~~~~~~~~~~~~~~~~~~~~
`#f:A` needs f's whole result now, so f gets an *exhaustive variant* (`exh_variant`):
its body lowered in the contexts EXH (a value in normal form) and XTAIL (the variant's
tail). A list in XTAIL is built front to back: its items are evaluated to normal form,
its cells allocated and linked into the tail of the previous cell (the *destination*;
the first cell is the result), and its tail continues in XTAIL. A call of the variant's
own function there is the loop's back edge (a jump to the loop header, which binds
the parameter pattern afresh: result, destination and arguments are its block
parameters); a call of another exhaustive variant is a jump while nothing is built
yet, else a call whose result fills the destination; any other value is made normal
(rt_deep_force) and fills it. So `map`, `append` and list producers under `#` run as
loops that allocate only their result cells, in constant stack. The partial list is
reachable only from this frame until it is returned; a collection in between may
promote its cells, so the link is stored by rt_cons_set_tail with the update's write
barrier (Note [Local collection]).

Note [Sparked operands]
~~~~~~~~~~~~~~~~~~~~~~~
`add:[@nfib:dcr:n nfib:sub:[n 2]]` builds its operand list first, which sparks the
first operand, and then forces the operands in order: taken literally, the worker
that made the spark forces it at once and nothing runs in parallel. Nor may the
worker evaluate the second operand while the spark is out: a strict primitive stops
at the first operand that is an error or not a number (docs/language.md section 3),
and an error in the first would return without the second, which might never end.
So the operands are forced in their written order, and what runs in parallel is
what comes after the first: while some worker is hungry (Note [Hungry workers] in
rt/rt_spark.c), every operand after the first that needs evaluating is suspended
and sparked (the `@` ones and the others alike), then the first is evaluated here,
then each later one is forced in its turn; an idle worker may have taken it by
then. A spark the primitive never forces (the first operand was an error) is left
to whoever took it, and its value is never used. While nobody is hungry nothing is
sparked and the operands are evaluated here in order, so `@` on every call of nfib
costs a load and a branch when every worker is busy.

Note [Static literals]
~~~~~~~~~~~~~~~~~~~~~~
A list literal whose items are all constants (numbers, strings, constant lists), and a
number that is not a small integer, are data, not code: each is built once, when the
module is initialised, by rt_form_build from a compact encoding (as quoted forms are),
into a global slot that the code reads. A 2,000-element list costs 18 kB of data and no
instructions. Sharing the cells between evaluations is invisible: no primitive compares
lists by identity and nothing mutates them.

Note [Observed positions]
~~~~~~~~~~~~~~~~~~~~~~~~~
`%SpnHd?` and `%SpnTl?` tell whether a list's head or tail is still a suspension, so
they see what the interpreter stores in a suspended position (Note [Suspended
positions] in interp/eval.py): a constant as it is, any other expression (`[]`, a
nested list literal) as a suspension. Where a program can ask (it mentions either
probe, or `val`/`evlst`, which can make a form that does: the demand pass's `skipped`;
and every `val` form, REPL command and API expression), lowering is *exact*: a static
literal is only a flat list of constants ending in [], and a list literal in a
suspended position is suspended, as in the interpreter. Elsewhere nobody can tell,
and nested constant lists are static data too.

Note [Late binding]
~~~~~~~~~~~~~~~~~~~
A definition made at run time (`val` or `evlst` of a definition form) rebinds its
name for everyone, the file's own code included, as in the interpreter. A program
that mentions `val` or `evlst` therefore looks every top-level name up when it is
used (rt_toplevel_lookup) and calls no function directly, so it has no direct calls,
exhaustive variants or fixnum variants; other programs bind their names when they are
compiled (core.defines_at_run_time tells which).

Note [Forms with code]
~~~~~~~~~~~~~~~~~~~~~~
`val:^E` must work in an ahead-of-time executable, which has no compiler. Every
compound part of every quotation in the program (an application, function or
annotation form) is therefore compiled with the program, as the expression it
spells in the top-level environment, and registered with the runtime by the global
slot that holds the form (`rt_form_code_register`). `val` of such a form, found by
identity, runs that code; only forms made at run time (by `prsis`) need the
context's compiler hook, which the JIT provides; an executable has none, and the
runtime evaluates such forms by walking them (rt/rt_formeval.c).

Only forms a program can reach get code: the quotation itself and the elements and
tails of quoted lists. No primitive takes an application, function or annotation
form apart, so their parts never reach `val` alone; compiling them too would make a
deep quotation quadratic. The code resolves names as the program file does (a
primitive the file does not redefine is called directly, as in the file's own code).
A definition made at run time (`val` of a definition form, through the hook) could
rebind such a name, so it makes the runtime forget every registered form's code
(`rt_form_codes_forget`): from then on `val` compiles forms through the hook (or
walks them, in an executable), resolving names when they run, as the interpreter
does.
"""
from __future__ import annotations

import struct

from ..frontend import core as C
from ..frontend.parse import deep_recursion
from ..frontend.primitives import LIST_ARITY, LIST_TAKERS
from . import lir as L
from .abi import (CLOSURE_FREE, FIX_MAX, FIX_MIN, NIL, SUSP_ENV, TYPES, fix, prim_index,
                  prim_word)
from .callmodes import CallModes, sparked
from .closures import Closures

TAIL, LAZY, WHNF = "tail", "lazy", "whnf"
EXH, XTAIL = "exh", "xtail"        # normal form; the tail of an exhaustive variant
TAILS = (TAIL, XTAIL)

SIMPLE = (C.Const, C.Local, C.Global, C.PrimRef, C.Lam)
CHECKED = set(LIST_ARITY) | {"add", "mpy"}     # PrimCalls whose operands are all forced
ARITH = {"add", "sub", "mpy"}
DIVIDE = {"div", "rem"}            # truncating, as C's / and %
COMPARE = {"lt?": "lt", "le?": "le", "gt?": "gt", "ge?": "ge", "eq?": "eq", "ne?": "ne"}
PREDICATE = {"zero?": ("eq", 0), "one?": ("eq", 1), "pos?": ("ge", 0), "neg?": ("lt", 0)}
UNARY_FIX = {"inc", "dcr", "neg"} | set(PREDICATE)

NILW = L.Word(NIL, "nil")


def small_int(e) -> bool:
    """e is an integer constant a word holds unboxed (Note [Value tags])."""
    return type(e) is C.Const and type(e.value) is int and FIX_MIN <= e.value <= FIX_MAX


def fixw(n: int) -> L.Word:
    return L.Word(fix(n), str(n))


def is_static(e, exact: bool = False) -> bool:
    """e is a literal that Note [Static literals] makes data: a number that is not a
    small integer, or a list of constants; when `exact`, only a list whose items are
    all constants and whose tail is [] (Note [Observed positions])."""
    t = type(e)
    if t is C.Const:
        return type(e.value) is float or (type(e.value) is int and not small_int(e))
    if t is C.ListCons:
        if exact:
            return bool(e.items) and e.tail is None and all(type(x) is C.Const for x in e.items)
        return bool(e.items) and _constant(e)
    return False


def _constant(e) -> bool:
    stack = [e]
    while stack:
        x = stack.pop()
        t = type(x)
        if t is C.Const:
            continue
        if t is not C.ListCons:
            return False
        stack.extend(x.items)
        if x.tail is not None:
            stack.append(x.tail)
    return True


def safe_name(text: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in text)[:24] or "f"


class Lowering:
    """One Program: a program file (static names) or one `val` form (dynamic)."""

    def __init__(self, prefix: str, cl: Closures, cm: CallModes, main: bool,
                 late_binding: bool, aot: bool = False, exact: bool = False):
        self.p = L.Program(prefix, main, late_binding, aot=aot)
        self.exact = exact or late_binding       # Note [Observed positions]
        self.cl, self.cm = cl, cm
        self.defs = cm.defs
        self.def_index = {name: k for k, name in enumerate(self.defs)}
        self.p.nglobals = len(self.defs)
        self.names: set[str] = set()
        self.code_of: dict[str, str] = {}       # top-level function -> its closure code
        self.spread_of: dict[str, str] = {}     # Note [Spread entries]
        self.exh_of: dict[str, str] = {}        # Note [Destination passing]
        self.selectors: dict[int, str] = {}
        self.quote_slot: dict[int, object] = {}
        self.static_slot: dict[int, int] = {}
        self.p.atom_index("true")

    # ---- functions ----
    def fresh_name(self, hint: str) -> str:
        base = safe_name(hint)
        name, k = base, 1
        while name in self.names:
            k += 1
            name = f"{base}_{k}"
        self.names.add(name)
        return name

    def new_fn(self, hint: str, kind: str, params: list, free: list = (), *,
               cold: bool = False, label: str | None = None, note: str = "",
               name: str | None = None) -> L.Fn:
        name = name or self.fresh_name(hint)
        fn = L.Fn(name, kind, params, list(free), label=label, cold=cold, note=note)
        self.p.functions.append(fn)
        return fn

    def code_for(self, body: C.Expr, free: list, param: C.Pattern | None, hint: str,
                 kind: str, cold: bool, label: str | None = None, note: str = "") -> str:
        """A function evaluating `body` in tail position. kind 'closure' reads free
        values from closure fields 1.., 'susp' from suspension fields 3.."""
        fv = [L.Var(safe_name(b.name)) for b in free]
        params = [L.Var("self"), L.Var("arg")] if kind == "closure" else [L.Var("self")]
        fn = self.new_fn(hint, kind, params, fv, cold=cold, label=label, note=note)
        g = FnLowering(self, fn)
        g.prologue(free, fv, param)
        g.ev(body, TAIL)
        g.finish()
        return fn.name

    def lam_code(self, lam: C.Lam, cold: bool = False) -> str:
        return self.code_for(lam.body, self.cl.free(lam), lam.param, lam.name or "lambda",
                             "closure", False, label=lam.name,
                             note=f"\\{_pattern_text(lam.param)}.")

    def exh_variant(self, name: str) -> str:
        """The exhaustive variant of top-level function `name` (Note [Destination
        passing]), made on first use."""
        fn_name = self.exh_of.get(name)
        if fn_name is None:
            lam = self.defs[name].expr
            k = self.cm.spreads.get(name, 0)
            params = ([L.Var(f"a{i + 1}") for i in range(k)] if k
                      else [L.Var("self"), L.Var("arg")])
            fn = self.new_fn(name + "_exh", "exh", params,
                             note=f"{name} under #: destination passing")
            self.exh_of[name] = fn.name
            g = FnLowering(self, fn)
            g.exh_prologue(lam, params if k else [params[1]], k)
            g.ev(lam.body, XTAIL)
            g.finish()
            fn_name = fn.name
        return fn_name

    def selector(self, which: int) -> str:
        """Suspension code selecting field `which` of env[0] (recursive patterns)."""
        name = self.selectors.get(which)
        if name is None:
            src = L.Var("src")
            fn = self.new_fn("head" if which == 0 else "tail", "susp", [L.Var("self")], [src],
                             note=f"selects the {'head' if which == 0 else 'tail'} of a rec binding")
            self.selectors[which] = name = fn.name
            g = FnLowering(self, fn)
            g.start()
            g.emit(L.Poll())
            v = g.force(src)
            g.term(L.Return(g.select(v, which)))
            g.finish()
        return name

    def error_code(self, msg: str) -> str:
        fn = self.new_fn("valerror", "susp", [L.Var("self")], note="val: an error")
        g = FnLowering(self, fn)
        g.start()
        g.term(L.Return(g.error(msg)))
        g.finish()
        return fn.name

    # ---- statics: Note [Static literals], Note [Forms with code] ----
    def new_global(self) -> int:
        k = self.p.nglobals
        self.p.nglobals += 1
        return k

    def static(self, e: C.Expr, slot: int | None = None) -> int:
        """The global slot a static literal is built into."""
        k = self.static_slot.get(id(e))
        if k is None:
            k = self.new_global() if slot is None else slot
            enc = bytearray()
            self._encode_literal(e, enc)
            enc += b"g" + struct.pack("<II", k, 0xFFFFFFFF)
            self.p.statics.append(L.Static(k, bytes(enc), [], _literal_text(e)))
            self.static_slot[id(e)] = k
        return k

    def _encode_literal(self, e, out: bytearray) -> None:
        """rt_form_build's postfix encoding of a literal (no recursion: literals nest
        as deep as the parser allows)."""
        stack = [e]
        while stack:
            x = stack.pop()
            if type(x) is bytes:
                out += x
            elif type(x) is C.Const:
                v = x.value
                if type(v) is int:
                    out += b"i" + struct.pack("<q", v)
                elif type(v) is float:
                    out += b"f" + struct.pack("<d", v)
                else:
                    data = v.encode("utf-8")
                    out += b"a" + struct.pack("<I", len(data)) + data
            else:
                stack.append(b"c" * len(x.items))
                stack.append(b"n" if x.tail is None else x.tail)
                stack.extend(reversed(x.items))

    def quote(self, e: C.Quote):
        """The global slot of a quotation's form, or an error text."""
        key = id(e)
        got = self.quote_slot.get(key)
        if got is None:
            from ..interp.forms import form_of_syntax
            try:
                with deep_recursion():
                    form = form_of_syntax(e.form)
            except RecursionError:
                got = "quotation nested too deeply"
            else:
                got = self.new_global()
                self._quote_form(got, form)
            self.quote_slot[key] = got
        return got

    def _quote_form(self, slot: int, form) -> None:
        enc, codes = bytearray(), []
        self.encode_form(form, enc, codes, slot)
        from ..interp.forms import source_text  # noqa: F401  (the dump's text below)
        self.p.statics.append(L.Static(slot, bytes(enc), codes, "form " + _form_text(form)))

    def encode_form(self, form, out: bytearray, codes: list, slot: int | None = None,
                    reachable: bool = True) -> None:
        """A form in rt_form_build's postfix encoding (rt/rt_jit.c). A compound form a
        program can reach (the quotation itself, or an element or tail of a quoted
        list) gets a global slot and compiled code (Note [Forms with code]); the parts
        of a compound form cannot be taken out by any primitive, so they get neither,
        which keeps deep quotations linear to compile."""
        from ..interp.values import NIL as PNIL, AnnForm, Apl, Atom, Cons, FnForm
        t = type(form)
        code = None
        if t is int:
            out += b"i" + struct.pack("<q", form)
        elif t is float:
            out += b"f" + struct.pack("<d", form)
        elif t is Atom:
            data = form.name.encode("utf-8")
            out += b"a" + struct.pack("<I", len(data)) + data
        elif form is PNIL:
            out += b"n"
        elif t is Cons:
            n = 0
            while type(form) is Cons:
                self.encode_form(form.head, out, codes, None, reachable)
                form = form.tail
                n += 1
            self.encode_form(form, out, codes, None, reachable)
            out += b"c" * n
        else:
            if t is Apl:
                kind, parts = 1, [form.fn, form.arg]
            elif t is FnForm:
                kind, parts = 2, [form.param, form.body]
            elif t is AnnForm:
                kind, parts = 3, [Atom(form.op), form.form]
            else:
                raise TypeError(f"no native form for {t.__name__}")
            for x in parts:
                self.encode_form(x, out, codes, None, False)
            out += b"F" + bytes([kind, len(parts)])
            if reachable:
                code = self.form_code(form)
                if slot is None:
                    slot = self.new_global()
        if slot is not None:
            k = 0xFFFFFFFF
            if code is not None:
                k = len(codes)
                codes.append(code)
            out += b"g" + struct.pack("<II", slot, k)

    def form_code(self, form) -> str:
        """The code `val` runs for a quoted form (Note [Forms with code])."""
        from ..interp.forms import core_of_form
        compiled = core_of_form(form, set(self.defs) if self.p.main else None)
        if isinstance(compiled, str):
            return self.error_code(compiled)
        if isinstance(compiled, C.Def):
            return self.error_code("val: a definition cannot be quoted")
        return self.expression(compiled, "val", cold=False)

    # ---- the program ----
    def expression(self, e: C.Expr, hint: str, cold: bool = True) -> str:
        self.cl.link(e)
        self.cm.annotate(e)
        return self.code_for(e, [], None, hint, "susp", cold, note="top-level expression"
                             if cold else "the code of a quoted form")

    def define_all(self) -> None:
        cm = self.cm
        for name, d in self.defs.items():
            e = d.expr
            if type(e) is C.Lam:
                self.code_of[name] = self.fresh_name(name)
                if name in cm.spreads:
                    self.spread_of[name] = self.fresh_name(name + "_s")
                self.p.top[name] = self.spread_of.get(name, self.code_of[name])
        for name, d in self.defs.items():
            e = d.expr
            k = self.def_index[name]
            if type(e) is C.Lam:
                self.top_function(name, e)
                self.p.definitions.append(L.Definition(name, "closure", code=self.code_of[name]))
            elif type(e) is C.Const and not is_static(e, self.exact):
                self.p.definitions.append(L.Definition(name, "const", value=self.const_word(e.value)))
            elif is_static(e, self.exact):
                self.static(e, slot=k)
                self.p.definitions.append(L.Definition(name, "static"))
            else:
                self.p.definitions.append(L.Definition(name, "susp"))
        # the value definitions' code last: their bodies may make exhaustive variants
        for d in self.p.definitions:
            if d.kind == "susp":
                e = self.defs[d.name].expr
                d.code = self.code_for(e, [], None, d.name, "susp", True,
                                       note=f"the value of {d.name}")

    def top_function(self, name: str, lam: C.Lam) -> None:
        """A top-level function: its closure code and, with a spread entry, the spread
        entry (Note [Spread entries]); closure code then selects the items and jumps to
        it."""
        k = self.cm.spreads.get(name, 0)
        if not k:
            fn = self.new_fn(name, "closure", [L.Var("self"), L.Var("arg")], label=name,
                             note=f"{name} = \\{_pattern_text(lam.param)}.",
                             name=self.code_of[name])
            g = FnLowering(self, fn)
            g.prologue([], [], lam.param)
            g.ev(lam.body, TAIL)
            g.finish()
            return
        wrapper = self.new_fn(name, "closure", [L.Var("self"), L.Var("arg")], label=name,
                              note=f"{name}: selects the items and jumps to the spread entry",
                              name=self.code_of[name])
        spread_params = [L.Var(safe_name(b.name) if type(b) is not C.PList else f"a{i + 1}")
                         for i, b in enumerate(_spread_binders(lam.param))]
        spread = self.new_fn(name + "_s", "spread", spread_params,
                             note=f"{name} = \\{_pattern_text(lam.param)}.",
                             name=self.spread_of[name])
        g = FnLowering(self, wrapper)
        g.wrapper(lam.param, spread.name)
        g.finish(wrapper=True)
        g = FnLowering(self, spread)
        g.start()
        g.emit(L.Poll())
        g.bind_spread_params(lam.param, list(spread_params))
        g.ev(lam.body, TAIL)
        g.finish()

    def const_word(self, value):
        if type(value) is str:
            self.p.atom_index(value)
            return L.Atom(value)
        return fixw(value)


def _spread_binders(p: C.PList) -> list:
    return list(p.items) + ([p.rest] if p.rest is not None else [])


def _pattern_text(p) -> str:
    from ..frontend.dump import pattern_text
    return pattern_text(p)


def _literal_text(e, depth: int = 0) -> str:
    """A literal's text for the dump, cut short."""
    from ..frontend.dump import _const
    if type(e) is C.Const:
        return _const(e.value)
    if depth >= 3:
        return "[..]"
    items = " ".join([_literal_text(i, depth + 1) for i in e.items[:8]])
    items += " .." if len(e.items) > 8 else ""
    tail = "" if e.tail is None else " ! " + _literal_text(e.tail, depth + 1)
    return f"[{items}{tail}]"


def _form_text(form) -> str:
    from ..interp.printer import plain_text
    text = plain_text(form)
    return text if len(text) <= 40 else text[:37] + "..."


class FnLowering:
    """Lowers one function's body into its blocks."""

    def __init__(self, low: Lowering, fn: L.Fn):
        self.low = low
        self.fn = fn
        self.cl, self.cm = low.cl, low.cm
        self.exact = low.exact                  # Note [Observed positions]
        self.nvar = 0
        self.nblock = 0
        self.cur: L.Block | None = None
        self.env: dict[int, object] = {}       # id(binder) -> operand
        self.evaluated: set[int] = set()       # Note [Evaluated binders]
        self.whnf: set[int] = set()            # ids of Vars known to be in WHNF
        self.truths: dict[int, L.Var] = {}     # id of a `truth` result -> its bool
        self.exh = None                        # ExhLoop in an exhaustive variant
        self.labels: set[str] = set()

    # ---- blocks and variables ----
    def var(self, hint: str = "t", rep: str = L.VAL) -> L.Var:
        self.nvar += 1
        return L.Var(f"{safe_name(hint)}.{self.nvar}", rep)

    def block(self, hint: str, params=()) -> L.Block:
        label = hint
        if label in self.labels:
            self.nblock += 1
            label = f"{hint}.{self.nblock}"
            while label in self.labels:
                self.nblock += 1
                label = f"{hint}.{self.nblock}"
        self.labels.add(label)
        b = L.Block(label, list(params))
        self.fn.blocks.append(b)
        return b

    def start(self) -> None:
        self.at(self.block("entry"))

    def at(self, b: L.Block) -> None:
        self.cur = b

    def emit(self, s) -> None:
        self.cur.stmts.append(s)

    def let(self, expr, hint: str = "t", rep: str = L.VAL, whnf: bool = False) -> L.Var:
        v = self.var(hint, rep)
        self.emit(L.Let(v, expr))
        if whnf:
            self.whnf.add(id(v))
        return v

    def term(self, t) -> None:
        self.cur.term = t
        self.cur = None

    def jump(self, b: L.Block, *args) -> None:
        self.term(L.Jump(b.label, list(args)))

    def branch(self, cond, yes: L.Block, no: L.Block, likely=None) -> None:
        self.term(L.Branch(cond, yes.label, no.label, likely))

    def join(self, hint: str = "join", whnf: bool = False, rep: str = L.VAL):
        v = self.var(hint, rep)
        if whnf:
            self.whnf.add(id(v))
        return self.block(hint, [v]), v

    def snapshot(self):
        return dict(self.env), set(self.evaluated)

    def restore(self, snap) -> None:
        self.env, self.evaluated = dict(snap[0]), set(snap[1])

    def op(self, name: str, *args, hint: str = "c"):
        rep = L.OPS[name][0]
        v = self.let(L.Op(name, list(args)), hint, rep, whnf=(rep == L.VAL))
        if name == "truth":
            self.truths[id(v)] = args[0]       # an `if` on v branches on the bool
        return v

    def rt(self, target: str, *args, hint: str = "r", whnf: bool = False) -> L.Var:
        return self.let(L.Call("rt", target, list(args)), hint, whnf=whnf)

    def value_of(self, binder) -> object:
        return self.env[id(binder)]

    def finish(self, wrapper: bool = False) -> None:
        """The entry's checks (Note [Stack checks]) and poll (Note [Polls] in
        jit/emit.py), now that the body is known."""
        fn = self.fn
        calls = returning = forces = False
        for b in fn.blocks:
            for s in b.stmts + [b.term]:
                c = L.call_of(s)
                if c is not None and L.runs_code(c):
                    calls = True
                    returning = returning or type(s) is not L.TailCall
                elif type(s) is L.Let and type(s.expr) is L.Force:
                    forces = True
        fn.checks = returning and not fn.cold
        L.dead_code(fn)
        if fn.cold or wrapper or not (calls or forces):
            entry = fn.blocks[0]
            for i, s in enumerate(entry.stmts):
                if type(s) is L.Poll:
                    del entry.stmts[i]
                    break

    # ---- prologues ----
    def prologue(self, free: list, fv: list, param) -> None:
        """Bind captured values and the argument, then poll."""
        self.start()
        for b, v in zip(free, fv):
            self.env[id(b)] = v
        arg = self.fn.params[1] if self.fn.kind == "closure" else None
        if param is not None and type(param) is C.PVar:
            self.env[id(param)] = arg
        self.emit(L.Poll())
        if param is not None and type(param) is not C.PVar:
            self.bind(param, arg)

    def wrapper(self, param: C.PList, spread: str) -> None:
        """Closure code for a function with a spread entry: select the pattern's items
        from the argument lazily, as binding would, and jump to the spread entry."""
        self.start()
        self.emit(L.Poll())
        vals = []
        cur = self.fn.params[1]
        for i, item in enumerate(param.items):
            vals.append(self.select(cur, 0, _binder_hint(item)))
            if i + 1 < len(param.items) or param.rest is not None:
                cur = self.select(cur, 1, "rest")
        if param.rest is not None:
            vals.append(cur)
        self.term(L.TailCall(L.Call("code", spread, vals)))

    def bind_spread_params(self, param: C.PList, ops: list) -> None:
        for p, op in zip(_spread_binders(param), ops):
            self.bind(p, op)

    # ---- values ----
    def force(self, x, hint: str = "v"):
        """x in WHNF (a probe unless x is known to be in WHNF)."""
        if type(x) is not L.Var or x.rep != L.VAL or id(x) in self.whnf:
            return x
        return self.let(L.Force(x), hint, whnf=True)

    def select(self, x, which: int, hint: str = "s"):
        return self.let(L.Select(x, which), hint)

    def error(self, msg: str):
        return self.rt("rt_error_new", L.Str(msg), hint="err", whnf=True)

    def const(self, value):
        """An operand for a constant (Note [Static literals] for the big ones)."""
        if type(value) is str:
            self.low.p.atom_index(value)
            return L.Atom(value)
        if type(value) is int and FIX_MIN <= value <= FIX_MAX:
            return fixw(value)
        k = self.low.static(C.Const(value))
        return self.let(L.Global(k), "k", whnf=True)

    def static_list(self, e: C.ListCons):
        return self.let(L.Global(self.low.static(e)), "lit", whnf=True)

    def global_value(self, name: str):
        """The binding of a top-level name (may be an unevaluated suspension)."""
        k = self.low.def_index.get(name)
        if k is not None and not self.low.p.late_binding:
            return self.let(L.Global(k), safe_name(name))
        self.low.p.atom_index(name)
        return self.rt("rt_toplevel_lookup", L.Atom(name), hint=safe_name(name))

    def primref(self, name: str):
        if name == "true":
            self.low.p.atom_index("true")
            return L.Atom("true")
        if name == "nil":
            return NILW
        if name == "stdin":
            return self.rt("rt_stdin_stream", hint="stdin")
        return L.Word(prim_word(name), f"prim:{name}")

    def quote(self, e: C.Quote):
        """A quoted form is built once, at initialisation, and kept as a global root."""
        slot = self.low.quote(e)
        if isinstance(slot, str):
            return self.error(slot)
        return self.let(L.Global(slot), "form", whnf=True)

    def make_susp(self, e: C.Expr, hint: str = "susp"):
        free = self.cl.free(e)
        fn = self.low.code_for(e, free, None, hint, "susp", self.fn.cold,
                               note=_susp_note(e))
        self.emit(L.Count("susps", 1))
        # `#E` makes a normal form: rt_deep_force need not walk it again
        nf = type(e) is C.Ann and e.op == "#"
        return self.let(L.Alloc("susp", [self.value_of(b) for b in free], fn, nf=nf), hint)

    def make_closure(self, lam: C.Lam):
        free = self.cl.free(lam)
        fn = self.low.lam_code(lam)
        return self.let(L.Alloc("closure", [self.value_of(b) for b in free], fn),
                        lam.name or "clo", whnf=True)

    def deep(self, v):
        """The normal form of a value in WHNF: immediates are; the rest asks the runtime."""
        if type(v) is not L.Var or v.rep != L.VAL:
            return v
        c = self.op("ptr?", v)
        yes, no = self.block("deep"), self.block("shallow")
        done, r = self.join("normal", whnf=True)
        self.branch(c, yes, no)
        self.at(yes)
        self.jump(done, self.rt("rt_deep_force", v, hint="nf"))
        self.at(no)
        self.jump(done, v)
        self.at(done)
        return r

    # ---- suspended positions: Note [Suspended positions] in interp/eval.py ----
    def delay(self, e: C.Expr, allow_now: bool = True):
        """An operand for e in a suspended position. `$E`/`#E` are evaluated now (or,
        with allow_now False, suspended whole, which gives the same value later)."""
        t = type(e)
        if t is C.Local:
            return self.value_of(self.cl.binder[id(e)])
        if t is C.Const:
            return self.const(e.value)
        if t is C.Lam:
            return self.make_closure(e)
        if t is C.Global:
            return self.global_value(e.name)
        if t is C.PrimRef:
            return self.primref(e.name)
        if t is C.Quote:
            return self.quote(e)
        if t is C.Ann:
            if e.op == "@":
                inner = e.expr
                if type(inner) in SIMPLE or type(inner) is C.Quote:
                    return self.delay(inner, allow_now)
                s = self.make_susp(inner, "spark")
                self.emit(L.Effect(L.Call("rt", "rt_spark", [s])))    # the `sparks` pass
                return s
            if not allow_now:
                return self.make_susp(e, "demand")
            return self.now(e)
        if t is C.ListCons:
            return self.build_list_delayed(e)
        return self.make_susp(e)

    def now(self, e: C.Ann):
        """`$E` / `#E` in a suspended position, evaluated where it stands."""
        if e.op == "#":
            return self.ev(e, WHNF)
        inner = e.expr
        if type(inner) in (C.Local, C.Global):
            return self.ev(inner, WHNF)
        return self.ev(inner, LAZY)

    def build_list_delayed(self, e: C.ListCons):
        if is_static(e, self.exact):
            return self.static_list(e)
        parts = ([] if e.tail is None else [e.tail]) + list(e.items)
        for p in parts:
            if type(p) is C.Ann and p.op in "$#":
                return self.make_susp(e, "list")
        tail = NILW if e.tail is None else self._delay_flat(e.tail)
        ops = [self._delay_flat(item) for item in reversed(e.items)]
        return self.cons_chain(list(reversed(ops)), tail)

    def _delay_flat(self, e):
        if type(e) is C.ListCons:
            if self.exact or not is_static(e):      # Note [Observed positions]
                return self.make_susp(e, "list")
            return self.static_list(e)
        return self.delay(e)

    def cons_chain(self, items: list, tail):
        """[items ! tail] from operands (one group of allocations)."""
        lst = tail
        for op in reversed(items):
            lst = self.let(L.Alloc("cons", [op, lst]), "cons", whnf=True)
        return lst

    # ---- patterns: Note [Lazy patterns] in interp/eval.py ----
    def bind(self, p: C.Pattern, src) -> None:
        t = type(p)
        if t is C.PVar:
            self.env[id(p)] = src
        elif t is C.PAs:
            self.env[id(p)] = src
            self.bind(p.pattern, src)
        else:
            cur = src
            for i, item in enumerate(p.items):
                self.bind(item, self.select(cur, 0, _binder_hint(item)))
                if i + 1 < len(p.items) or p.rest is not None:
                    cur = self.select(cur, 1, _binder_hint(p.rest) if i + 1 == len(p.items)
                                      and p.rest is not None else "rest")
            if p.rest is not None:
                self.bind(p.rest, cur)

    # ---- evaluation ----
    def finish_value(self, v, ctx):
        """Deliver v (already in the form ctx asks for) to ctx."""
        if ctx == TAIL:
            self.term(L.Return(v))
            return None
        if ctx == XTAIL:
            self.deliver(v)
            return None
        return v

    def _deliver(self, v, ctx, lazy: bool):
        """v may be lazy (a suspension) when `lazy`; force it for WHNF."""
        if ctx == WHNF and lazy:
            v = self.force(v)
        return self.finish_value(v, ctx)

    def ev(self, e: C.Expr, ctx: str):
        """Evaluate e. WHNF: its value; LAZY: its value or a suspension of it
        (Note [Lazy returns]); TAIL: return it from this function (returns None);
        EXH: its normal form; XTAIL: its normal form, delivered to the destination
        of an exhaustive variant (Note [Destination passing])."""
        if ctx in (EXH, XTAIL):
            return self.exh_ev(e, ctx)
        return getattr(self, "ev_" + type(e).__name__)(e, ctx)

    def ev_Local(self, e, ctx):
        binder = self.cl.binder[id(e)]
        x = self.value_of(binder)
        if ctx == WHNF:
            if id(binder) in self.evaluated:
                return x
            v = self.force(x, _binder_hint(binder))
            self.env[id(binder)] = v             # Note [Evaluated binders]
            self.evaluated.add(id(binder))
            return v
        return self._deliver(x, ctx, True)

    def ev_Global(self, e, ctx):
        return self._deliver(self.global_value(e.name), ctx, True)

    def ev_Const(self, e, ctx):
        return self.finish_value(self.const(e.value), ctx)

    def ev_PrimRef(self, e, ctx):
        return self._deliver(self.primref(e.name), ctx, e.name == "stdin")

    def ev_Lam(self, e, ctx):
        return self.finish_value(self.make_closure(e), ctx)

    def ev_Quote(self, e, ctx):
        return self.finish_value(self.quote(e), ctx)

    def ev_Ann(self, e, ctx):
        if e.op == "#":
            return self.finish_value(self.ev(e.expr, EXH), ctx)
        if e.op == "$" and type(e.expr) in (C.Local, C.Global):
            return self.finish_value(self.ev(e.expr, WHNF), ctx)
        return self.ev(e.expr, ctx)

    def ev_Let(self, e, ctx):
        if e.rec and type(e.value) is not C.Const:
            self.bind_rec(e)
        else:
            v = e.value
            if type(v) is C.Ann and v.op in "$#":
                val = self.now(v)
            elif self.cm.is_strict(v):
                val = self.ev(v, WHNF)                # Note [Strict arguments]
            else:
                val = self.delay(v)
            self.bind(e.pattern, val)
        return self.ev(e.body, ctx)

    def bind_rec(self, e: C.Let) -> None:
        """A recursive binding: the value's object (closure or suspension) and the
        selections the pattern makes from it are allocated in one group, then the
        captured values that name the group are filled in before anything can see it
        (no safepoint in between, so no write barrier is needed)."""
        value = e.value
        free = self.cl.free(value)
        if type(value) is C.Lam:
            fn = self.low.lam_code(value)
            kind, env0 = "closure", CLOSURE_FREE
        else:
            fn = self.low.code_for(value, free, None, "rec", "susp", self.fn.cold,
                                   note="a recursive binding's value")
            kind, env0 = "susp", SUSP_ENV
        selections = []

        def walk(p, path):
            if type(p) is C.PVar:
                selections.append((p, path))
            elif type(p) is C.PAs:
                selections.append((p, path))
                walk(p.pattern, path)
            else:
                cur = path
                for item in p.items:
                    walk(item, cur + (0,))
                    cur = cur + (1,)
                if p.rest is not None:
                    walk(p.rest, cur)
        walk(e.pattern, ())
        paths = sorted({path[:i] for _, path in selections for i in range(1, len(path) + 1)},
                       key=lambda q: (len(q), q))
        sel_code = {0: self.low.selector(0), 1: self.low.selector(1)}
        own = {id(b) for b, _ in selections}
        self.emit(L.Count("susps", len(paths) + (kind == "susp")))
        words = [(NILW if id(x) in own else self.value_of(x)) for x in free]
        obj = self.let(L.Alloc(kind, words, fn), "rec", whnf=(kind == "closure"))
        made = {(): obj}
        for path in paths:
            src = made[path[:-1]]
            made[path] = self.let(L.Alloc("susp", [src], sel_code[path[-1]]), "sel")
        for binder, path in selections:
            self.env[id(binder)] = made[path]
        for i, x in enumerate(free):
            if id(x) in own:
                self.emit(L.Store(obj, env0 + i, self.value_of(x)))

    def ev_If(self, e, ctx):
        done = r = None
        if ctx not in TAILS:
            done, r = self.join("ifdone", whnf=(ctx == WHNF))

        def on_error(v):                  # an error as a test is the `if`'s value
            if ctx in TAILS:
                self.finish_value(v, ctx)
            else:
                self.jump(done, v)
        after_first = None
        for test, branch in e.arms:
            then, other = self.block("then"), self.block("else")
            self.test_branch(test, then, other, on_error)
            if after_first is None:
                after_first = self.snapshot()     # what every path has forced
            self.at(then)
            snap = self.snapshot()
            rv = self.ev(branch, ctx)
            self.restore(snap)
            if ctx not in TAILS:
                self.jump(done, rv)
            self.at(other)
        if e.otherwise is None:
            rv = self.finish_value(NILW, ctx)
        else:
            rv = self.ev(e.otherwise, ctx)
        if after_first is not None:
            self.restore(after_first)
        if ctx in TAILS:
            return None
        self.jump(done, rv)
        self.at(done)
        return r

    def test_branch(self, test, then: L.Block, other: L.Block, on_error) -> None:
        """Evaluate an `if` test and go to `then` when it is true (not nil), to
        `other` when it is nil, and to on_error(value) when it is an error value. A
        comparison's fast path, and any test that makes a truth value from a machine
        comparison (`nil?`), branch on the comparison itself."""
        if (type(test) is C.PrimCall and test.name in COMPARE
                and not any(sparked(a) for a in test.args)):
            v = self.checked_prim(test, branch=(then, other))
        else:
            v = self.ev(test, WHNF)
            c = self.truths.get(id(v))
            if c is not None:
                self.branch(c, then, other)
                return
        chk, errb = self.block("iferr"), self.block("testerror")
        self.branch(self.op("ne", v, NILW), chk, other)
        self.at(chk)
        self.branch(self.op("type?", v, L.Word(TYPES["error"], "error")), errb, then,
                    likely=False)
        self.at(errb)
        on_error(v)

    def ev_ListCons(self, e, ctx):
        if is_static(e, self.exact):
            return self.finish_value(self.static_list(e), ctx)
        tail = NILW if e.tail is None else self.delay(e.tail)
        ops = [self.delay(item) for item in reversed(e.items)]
        v = self.cons_chain(list(reversed(ops)), tail)
        if not e.items:
            return self._deliver(v, ctx, True)
        return self.finish_value(v, ctx)

    def ev_App(self, e, ctx):
        fe = e.fn
        mode = self.cm.mode.get(id(e))
        if mode is None:                       # code made after the pass (forms' code)
            self.cm.annotate(e)
            mode = self.cm.mode[id(e)]
        if mode == "spread":
            ops = self.spread_args(self.low.defs[fe.name].expr.param, e.arg, e)
            return self.call(L.Call("code", self.low.spread_of[fe.name], ops), ctx)
        if mode == "code":
            argop = self.strict_arg(self.low.defs[fe.name].expr.param, e.arg)
            return self.call(L.Call("code", self.low.code_of[fe.name], [NILW, argop]), ctx)
        f = self.ev(fe, WHNF)
        argop = self.delay(e.arg)
        return self.call(L.Call("apply", None, [f, argop]), ctx)

    def strict_arg(self, param: C.Pattern, arg: C.Expr):
        """The argument of a direct call, with what the callee certainly demands
        evaluated now instead of suspended (Note [Strict arguments])."""
        if self.cm.is_strict(arg):
            return self.ev(arg, WHNF)
        if (type(param) is C.PList and type(arg) is C.ListCons
                and any(self.cm.is_strict(a) for a in arg.items)):
            ops = [self.ev(item, WHNF) if self.cm.is_strict(item) else self._delay_flat(item)
                   for item in arg.items]
            tail = NILW if arg.tail is None else self._delay_flat(arg.tail)
            return self.cons_chain(ops, tail)
        return self.delay(arg)

    def spread_args(self, param: C.PList, arg: C.ListCons, call: C.App) -> list:
        """Operands for a spread entry: the items its pattern names, demanded ones
        evaluated now, conditionally demanded ones when their conditions hold (Note
        [Strict arguments]); items past the pattern are never selected."""
        items = arg.items
        ops: list = [None] * len(param.items)
        cm = self.cm
        for j in C.demand_order(param):
            item = items[j]
            if cm.is_strict(item):
                ops[j] = self.ev(item, WHNF)
            elif id(item) in cm.conditional:
                gops = [ops[g] for g in cm.conditional[id(item)]]
                if any(op is None for op in gops):
                    continue                     # a condition on a value not evaluated
                ops[j] = self.ev_if_numbers(item, gops)
        # `$E`/`#E` items run when the argument list is built, which is when the callee
        # first selects from it (interp/eval.py build_list): now, if it certainly
        # selects; else each is suspended whole and runs if its item is selected
        selects = id(call) in cm.selects
        for j, item in enumerate(items[:len(param.items)]):
            if ops[j] is None:
                # a list literal passed alone is built, not suspended (delay, not _delay_flat)
                ops[j] = self.delay(item, allow_now=selects)
        if param.rest is not None:
            ops.append(NILW if arg.tail is None else self.delay(arg.tail, allow_now=selects))
        return ops

    def ev_if_numbers(self, item: C.Expr, gops: list):
        """item's value now when every operand in gops is a small integer (a number,
        so that the callee certainly evaluates item: Note [Strict arguments]), else
        item suspended."""
        checks = []
        for op in gops:
            if type(op) is not L.Var:
                if type(op) is not L.Word or op.bits & 1 == 0:
                    return self.delay(item)  # a constant that is not a small integer
                continue
            if op.rep != L.INT:
                checks.append(op)
        if not checks:
            return self.ev(item, WHNF)
        ok = self.op("fix?", checks[0])
        for op in checks[1:]:
            ok = self.op("and", ok, self.op("fix?", op))
        now, later = self.block("numbers"), self.block("notnumbers")
        done, r = self.join("argdone")
        self.branch(ok, now, later)
        snap = self.snapshot()
        self.at(now)
        self.jump(done, self.ev(item, WHNF))
        self.restore(snap)
        self.at(later)
        self.jump(done, self.delay(item))
        self.restore(snap)
        self.at(done)
        return r

    def call(self, c: L.Call, ctx):
        """A call with the code signature; in TAIL a jump (musttail)."""
        if ctx == TAIL:
            self.term(L.TailCall(c))
            return None
        r = self.let(c, "r")
        if ctx == WHNF:
            r = self.force(r)
        return r

    # ---- exhaustive demand: Note [Destination passing] ----
    def exh_ev(self, e: C.Expr, ctx: str):
        t = type(e)
        if t is C.If:
            return self.ev_If(e, ctx)
        if t is C.Let:
            return self.ev_Let(e, ctx)
        if t is C.Ann:                      # the value is needed whole, now, whatever e asks
            return self.ev(e.expr, ctx)
        if t is C.ListCons and e.items:
            if is_static(e, self.exact):
                return self.finish_value(self.static_list(e), ctx)
            return self.exh_list(e, ctx)
        if t is C.App and type(e.fn) is C.Global and self.cm.direct(e.fn.name):
            return self.exh_call(e, ctx)
        return self.finish_value(self.deep(self.ev(e, WHNF)), ctx)

    def exh_call(self, e: C.App, ctx: str):
        """A top-level function called under exhaustive demand: its exhaustive variant;
        in the variant's own tail, a call of itself is the loop's back edge."""
        name = e.fn.name
        lam = self.low.defs[name].expr
        spread = name in self.cm.spreads
        if spread:
            if not self.cm.fits_spread(name, e.arg):
                return self.finish_value(self.deep(self.ev(e, WHNF)), ctx)
            ops = self.spread_args(lam.param, e.arg, e)
        else:
            ops = [self.strict_arg(lam.param, e.arg)]
        x = self.exh
        if ctx == XTAIL and x.lam is lam:
            self.jump(x.loop, x.res, x.dst, *ops)
            return None
        fn = self.low.exh_variant(name)
        args = ops if spread else [NILW] + ops
        if ctx != XTAIL:
            return self.let(L.Call("code", fn, args), "nf", whnf=True)
        # nothing built yet: a jump, so exhaustive tail calls run in constant stack
        jump, into = self.block("xjump"), self.block("xinto")
        self.branch(self.op("eq", x.dst, NILW), jump, into)
        self.at(jump)
        self.term(L.TailCall(L.Call("code", fn, list(args))))
        self.at(into)
        self.deliver(self.let(L.Call("code", fn, list(args)), "nf", whnf=True))
        return None

    def exh_list(self, e: C.ListCons, ctx: str):
        """[x1 .. xn ! t] in normal form: every item now; in an exhaustive variant's
        tail the cells are linked to the destination and t continues the loop."""
        vals = [self.ev(item, EXH) for item in e.items]
        if ctx == EXH:
            tail = NILW if e.tail is None else self.ev(e.tail, EXH)
            return self.cons_chain(vals, tail)
        x = self.exh
        last = lst = self.let(L.Alloc("cons", [vals[-1], NILW]), "cell", whnf=True)
        for op in reversed(vals[:-1]):
            lst = self.let(L.Alloc("cons", [op, lst]), "cell", whnf=True)
        first, link = self.block("xfirst"), self.block("xlink")
        linked, res = self.join("xlinked", whnf=True)
        self.branch(self.op("eq", x.dst, NILW), first, link)
        self.at(first)
        self.jump(linked, lst)
        self.at(link)
        self.emit(L.Effect(L.Call("rt", "rt_cons_set_tail", [x.dst, lst])))
        self.jump(linked, x.res)
        self.at(linked)
        x.res, x.dst = res, last
        if e.tail is None:
            self.term(L.Return(res))
            return None
        return self.ev(e.tail, XTAIL)

    def deliver(self, v) -> None:
        """End an exhaustive variant with v as the rest of its result."""
        x = self.exh
        alone, into = self.block("xalone"), self.block("xstore")
        self.branch(self.op("eq", x.dst, NILW), alone, into)
        self.at(alone)
        self.term(L.Return(v))
        self.at(into)
        self.emit(L.Effect(L.Call("rt", "rt_cons_set_tail", [x.dst, v])))
        self.term(L.Return(x.res))

    def exh_prologue(self, lam: C.Lam, args: list, k: int) -> None:
        """An exhaustive variant's loop header: the result and destination (nil until
        the first cell) and the arguments are its parameters; it binds the function's
        parameter afresh each time round."""
        self.start()
        res, dst = self.var("res"), self.var("dst")
        self.whnf.update((id(res), id(dst)))
        loop_args = [self.var(a.name) for a in args]
        loop = self.block("loop", [res, dst] + loop_args)
        self.jump(loop, NILW, NILW, *args)
        self.at(loop)
        self.exh = ExhLoop(lam, loop, res, dst)
        self.emit(L.Poll())
        p = lam.param
        if k:
            self.bind_spread_params(p, loop_args)
        elif type(p) is C.PVar:
            self.env[id(p)] = loop_args[0]
        else:
            self.bind(p, loop_args[0])

    # ---- primitives ----
    def ev_PrimCall(self, e, ctx):
        name = e.name
        if name in CHECKED:
            return self.finish_value(self.checked_prim(e), ctx)
        if name in UNARY_FIX or name in ("nil?", "list?", "isLST?"):
            return self.finish_value(self.unary_fast(e), ctx)
        if name in LIST_TAKERS:
            ops = [self.delay(a) for a in reversed(e.args)]
            arg = self.cons_chain(list(reversed(ops)), NILW)
        else:
            arg = self.delay(e.args[0])
        if ctx == WHNF:
            return self.rt("rt_prim_whnf", L.Word(prim_index(name), name), arg, whnf=True)
        r = self.rt("rt_prim_call", L.Word(prim_index(name), name), arg)
        return self._deliver(r, ctx, True)

    def prim_slow(self, name, forced: list, rest: list):
        """The primitive applied to [forced values ! operands still suspended], in WHNF
        (Note [Primitive slow paths])."""
        snap = self.snapshot()
        ops = [self.delay(a, allow_now=False) for a in reversed(rest)]
        vals = forced + list(reversed(ops))
        idx = L.Word(prim_index(name), name)
        if len(vals) <= 3:
            r = self.rt("rt_prim_list", idx, L.Word(len(vals), str(len(vals))),
                        *(vals + [NILW] * (3 - len(vals))), whnf=True)
        else:
            lst = NILW
            for op in reversed(vals):
                lst = self.rt("rt_cons", op, lst, hint="arg")       # roots its operands
            r = self.rt("rt_prim_whnf", idx, lst, whnf=True)
        self.restore(snap)
        return r

    def checked_prim(self, e, branch=None):
        """Operands forced left to right; small integers take the inline path, anything
        else (or an overflow) hands the operands to the runtime's primitive, which
        checks them in the same order (docs/language.md section 3). With `branch`
        (then, else blocks: a comparison as an `if` test), the fast path branches on
        the comparison itself and the value of a slow path is returned, unjumped."""
        name = e.name
        args = e.args
        if name not in ARITH and name not in COMPARE and name not in DIVIDE:
            # the bitwise operators: the runtime forces and checks
            return self.prim_slow(name, [], args)
        ready = self.spark_operands(args)
        # an operand after one that is not a small integer is left to the runtime,
        # so only the first is certainly forced here (Note [Evaluated binders])
        known = None
        done, result = self.join(f"{safe_name(name)}done", whnf=True)
        slow_of: dict[int, L.Block] = {}      # operands forced -> its slow path

        def slow(k: int) -> str:
            b = slow_of.get(k)
            if b is None:
                here = self.cur
                b = slow_of[k] = self.block("slow")
                self.at(b)
                self.jump(done, self.prim_slow(name, list(forced[:k]), args[k:]))
                self.at(here)
            return b.label

        forced: list = []
        acc = None
        for i, a in enumerate(args):
            if small_int(a):
                v = fixw(a.value)               # a small integer: no check needed
            else:
                if i in ready:
                    v = self.speculated(a, ready[i])
                else:
                    v = self.ev(a, WHNF)
                if known is None:
                    known = self.snapshot()
            forced.append(v)
            if not small_int(a):
                nxt = self.block("fix")
                self.term(L.Branch(self.op("fix?", v), nxt.label, slow(i + 1), True))
                self.at(nxt)
            if name in ARITH:
                acc = v if i == 0 else self.arith_step(name, acc, v, slow(i + 1))
        if name in COMPARE:
            c = self.op(COMPARE[name], forced[0], forced[1])
            if branch is not None:
                self.branch(c, branch[0], branch[1])
            else:
                self.jump(done, self.op("truth", c, hint="b"))
        else:
            if name in DIVIDE:
                r = self.arith_step(name, forced[0], forced[1], slow(2))
            elif not args:
                r = fixw(0 if name == "add" else 1)
            else:
                r = acc
            self.jump(done, r)
        self.at(done)
        if known is not None:
            self.restore(known)
        return result

    def spark_operands(self, args: list) -> dict:
        """Operands of a strict primitive with sparks among them (Note [Sparked
        operands]): while some worker is hungry, every operand after the first that
        needs evaluating is suspended and sparked before that first one is evaluated;
        each is forced in its turn. Returns {index: the spark, or 0 when nobody was
        hungry and the operand is to be evaluated in its turn}."""
        if not any(sparked(a) for a in args):
            return {}
        later = []
        first = None
        for i, a in enumerate(args):
            if small_int(a):
                continue
            if first is None:
                first = i
                continue
            inner = a.expr if sparked(a) else a
            if type(inner) not in SIMPLE and type(inner) is not C.Quote:
                later.append(i)
        if not later:
            return {}
        spark, busy = self.block("hungry"), self.block("busy")
        done = self.block("sparked", [self.var("spark") for _ in later])
        self.branch(self.op("hungry"), spark, busy, likely=False)
        snap = self.snapshot()
        self.at(spark)
        made = []
        for i in later:
            a = args[i]
            made.append(self.make_susp(a.expr if sparked(a) else a, "spark"))
        for s in made:
            self.emit(L.Effect(L.Call("rt", "rt_spark", [s])))   # hungry already
        self.jump(done, *made)
        self.restore(snap)
        self.at(busy)
        self.jump(done, *[L.Word(0, "none") for _ in later])
        self.at(done)
        return dict(zip(later, done.params))

    def speculated(self, a: C.Expr, op):
        """Operand a in its turn: the spark spark_operands made of it, forced, or, when
        it made none, a evaluated here."""
        forced, here = self.block("spark"), self.block("inplace")
        done, r = self.join("operand", whnf=True)
        self.branch(self.op("ne", op, L.Word(0, "none")), forced, here)
        snap = self.snapshot()
        self.at(forced)
        self.jump(done, self.force(op))
        self.restore(snap)
        self.at(here)
        self.jump(done, self.ev(a.expr if sparked(a) else a, WHNF))
        self.restore(snap)
        self.at(done)
        return r

    def arith_step(self, name, x, y, fail: str):
        """x (op) y on small integers, or the block `fail` when the result is not one
        (an overflow; for div and rem also a zero divisor, and the one quotient past
        the range), where the runtime's primitive makes what the interpreter makes."""
        v = self.var(name, L.INT)
        self.whnf.add(id(v))
        self.emit(L.Checked(v, name, x, y, fail))
        return v

    def unary_fast(self, e):
        name = e.name
        v = self.ev(e.args[0], WHNF)
        if name == "nil?":
            return self.op("truth", self.op("eq", v, NILW), hint="b")
        if name in ("list?", "isLST?"):
            isnil = self.op("eq", v, NILW)
            iscons = self.op("type?", v, L.Word(TYPES["cons"], "cons"))
            return self.op("truth", self.op("or", isnil, iscons), hint="b")
        fast, slow = self.block("fix"), self.block("slow")
        done, r = self.join(f"{safe_name(name)}done", whnf=True)
        self.branch(self.op("fix?", v), fast, slow, likely=True)
        self.at(slow)
        self.jump(done, self.rt("rt_prim_whnf", L.Word(prim_index(name), name), v, whnf=True))
        self.at(fast)
        if name in PREDICATE:
            cmp, k = PREDICATE[name]
            self.jump(done, self.op("truth", self.op(cmp, v, fixw(k)), hint="b"))
        else:
            x = self.var(name, L.INT)
            self.whnf.add(id(x))
            self.emit(L.Checked(x, name, v, None, slow.label))
            self.jump(done, x)
        self.at(done)
        return r


class ExhLoop:
    """An exhaustive variant's loop: its function, header block, and the current
    result and destination (Note [Destination passing])."""

    def __init__(self, lam, loop, res, dst):
        self.lam, self.loop, self.res, self.dst = lam, loop, res, dst


def _binder_hint(p) -> str:
    if type(p) in (C.PVar, C.PAs):
        return safe_name(p.name)
    return "s"


def _susp_note(e) -> str:
    from ..frontend.dump import _flat, _tree
    text = _flat(_tree(e))
    return "suspends " + (text if len(text) <= 60 else text[:57] + "...")


# --- the pass ----------------------------------------------------------------------------

def lower_program(module: C.Module, prefix: str, cl: Closures, cm: CallModes,
                  aot: bool = False, exact: bool = False) -> L.Program:
    """A whole program: its definitions, and one function per top-level expression
    (the emitted step function evaluates the i-th, as rt_run_toplevel expects)."""
    low = Lowering(prefix, cl, cm, main=True, late_binding=cm.late_binding, aot=aot,
                   exact=exact)
    with deep_recursion():
        low.define_all()
        evals = [c for c in module.commands if isinstance(c, C.Eval)]
        for k, cmd in enumerate(evals):
            low.p.evals.append(low.expression(cmd.expr, f"eval{k}"))
    return low.p


def lower_form(compiled, prefix: str, cl: Closures, cm: CallModes) -> L.Program:
    """A module for one form `val` met at run time (the JIT's compiler hook): its entry
    returns the form's value, or the value a definition binds (the emitted entry then
    installs it: Note [Module initialisation] in jit/emit.py)."""
    low = Lowering(prefix, cl, cm, main=False, late_binding=True)
    with deep_recursion():
        if isinstance(compiled, C.Def):
            e = compiled.expr
            low.p.entry_define = compiled.name
            low.p.atom_index(compiled.name)
            cl.link(e)
            cm.annotate(e)
            fn = low.new_fn("entry", "susp", [L.Var("self")], cold=True,
                            note=f"the value of {compiled.name}, defined at run time")
            g = FnLowering(low, fn)
            g.start()
            if type(e) is C.Lam:
                v = g.make_closure(e)
            elif type(e) is C.Const:
                v = g.const(e.value)
            else:
                v = g.make_susp(e, compiled.name)
            g.term(L.Return(v))
            g.finish()
            low.p.entry = fn.name
        else:
            low.p.entry = low.expression(compiled, "entry")
    return low.p
