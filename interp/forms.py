"""Quoted forms: between the surface tree (frontend/syntax.py) and form values.

`^E` makes E's form (LANGUAGE.md section 3): a name gives its atom, a number or string
itself, a list the list of its elements' forms (tail included), `f:x` an application
object (Apl), a lambda a function form (FnForm), `@E $E #E ^E` an AnnForm. `prsis`
builds the same forms from what is typed, plus DefForm for a definition. `val` goes
the other way: form to surface tree, then through the front end's passes.
"""
from __future__ import annotations

from ..frontend import syntax as S
from .values import NIL, AnnForm, Apl, Atom, Cons, DefForm, FnForm, Thunk


class NotAForm(Exception):
    pass


def form_of_syntax(node: S.Node, literal_strings: bool = False):
    """The form of a surface tree. As data, a string and a name that spell the same
    are one atom; `prsis` passes literal_strings=True so that a string literal typed at
    the REPL (outside any quotation) still evaluates to itself: it becomes `^atom`."""
    t = type(node)
    if t is S.Num:
        return node.value
    if t is S.Str:
        a = Atom(node.value)
        return AnnForm("^", a) if literal_strings and a.is_ident else a
    if t in (S.Name, S.PName):
        return Atom(node.name)
    ls = literal_strings
    if t in (S.ListExpr, S.PList):
        tail = getattr(node, "tail", None) if t is S.ListExpr else node.rest
        lst = NIL if tail is None else form_of_syntax(tail, ls)
        for item in reversed(node.items):
            lst = Cons(form_of_syntax(item, ls), lst)
        return lst
    if t is S.Apply:
        return Apl(form_of_syntax(node.fn, ls), form_of_syntax(node.arg, ls))
    if t is S.Lambda:
        return FnForm(form_of_syntax(node.param), form_of_syntax(node.body, ls))
    if t is S.Prefixed:   # inside a quotation strings are data again
        return AnnForm(node.op, form_of_syntax(node.expr, ls and node.op != "^"))
    if t is S.Define:
        return DefForm(node.name, form_of_syntax(node.expr, ls))
    raise TypeError(f"no form for {t.__name__}")


def _field(v):
    if type(v) is Thunk:
        raise NotAForm("a form still being computed")
    return v


def syntax_of_form(v, pattern: bool = False) -> S.Node:
    """The surface tree a form spells. Raises NotAForm for values that spell nothing."""
    t = type(v)
    if t is int or t is float:
        if pattern:
            raise NotAForm("a number is not a pattern")
        return S.Num(v)
    if t is Atom:
        if pattern:
            return S.PName(v.name)
        return S.Name(v.name) if v.is_ident else S.Str(v.name)
    if v is NIL or t is Cons:
        items = []
        while type(v) is Cons:
            items.append(syntax_of_form(_field(v.head), pattern))
            v = _field(v.tail)
        tail = None if v is NIL else syntax_of_form(v, pattern)
        return S.PList(items, tail) if pattern else S.ListExpr(items, tail)
    if pattern:
        raise NotAForm("not a pattern")
    if t is Apl:
        return S.Apply(syntax_of_form(v.fn), syntax_of_form(v.arg))
    if t is FnForm:
        return S.Lambda(syntax_of_form(v.param, pattern=True), syntax_of_form(v.body))
    if t is AnnForm:
        return S.Prefixed(v.op, syntax_of_form(v.form))
    if t is DefForm:
        return S.Define(v.name, syntax_of_form(v.form))
    raise NotAForm(f"a {type(v).__name__.lower()} is not a form")


def source_text(node: S.Node) -> str:
    """Surface syntax back to re-readable source text."""
    from .printer import plain_text
    return plain_text(form_of_syntax(node))


def core_of_form(form, defined: set[str] | None = None):
    """What `val` evaluates: a form as resolved core IR in the top-level environment,
    a Def for a definition form, or the text of the error value `val` gives (a form
    that spells nothing, a source error, too deep). Names are looked up when they run
    (REPL resolution), unless `defined` gives a program file's definitions: then they
    resolve as in that file (primitives directly; see Note [Forms with code] in
    jit/lower.py). The front end's passes are the pipeline's (compile_expr)."""
    from ..pipeline import compile_form, form_command
    state = compile_form(form, defined)
    return state if isinstance(state, str) else form_command(state)
