"""Pass 2, `desugar`: surface tree (syntax.py) to core IR (core.py).

It gives the special forms their meaning (they are reserved words applied to list
literals, recognised here rather than in the grammar), turns pattern-shaped expressions
in `let`/`rec`/`fix` into patterns, splits annotations from quotation, and checks the
shape rules of docs/language.md section 2. Names stay unresolved (`Var`).
"""
from __future__ import annotations

from . import core as C
from . import syntax as S
from .diagnostics import SourceError
from .parse import RESERVED

FORM_SHAPES = {
    "let": "let:[PATTERN VALUE BODY]",
    "rec": "rec:[PATTERN VALUE BODY]",
    "fix": "fix:[PATTERN ! VALUE]",
    "if": "if:[TEST THEN TEST THEN ... ELSE]",
}


def desugar_program(prog: S.Program) -> C.Module:
    commands: list[C.Def | C.Eval] = []
    for cmd in prog.commands:
        commands.append(desugar_command(cmd))
    return C.Module(commands)


def desugar_command(cmd: S.Node) -> C.Def | C.Eval:
    if isinstance(cmd, S.Define):
        if cmd.name in RESERVED:
            raise SourceError(f"'{cmd.name}' is a reserved word and cannot be defined", cmd.pos,
                              "the special forms are let, rec, fix and if")
        expr = desugar(cmd.expr)
        if isinstance(expr, C.Lam):
            expr.name = cmd.name
        return C.Def(cmd.name, expr, cmd.pos)
    return C.Eval(desugar(cmd), cmd.pos)


def desugar(e: S.Node) -> C.Expr:
    """Desugar one expression. Recursion depth follows source nesting, not data."""
    t = type(e)
    if t is S.Num:
        return C.Const(e.value, pos=e.pos)
    if t is S.Str:
        return C.Const(e.value, pos=e.pos)
    if t is S.Name:
        if e.name in RESERVED:
            raise SourceError(f"'{e.name}' is a special form, not a value", e.pos,
                              f"use it applied to a list: {FORM_SHAPES[e.name]}")
        return C.Var(e.name, pos=e.pos)
    if t is S.ListExpr:
        return C.ListCons([desugar(i) for i in e.items],
                          None if e.tail is None else desugar(e.tail), pos=e.pos)
    if t is S.Apply:
        if type(e.fn) is S.Name and e.fn.name in RESERVED:
            return _special_form(e.fn.name, e)
        return C.App(desugar(e.fn), desugar(e.arg), pos=e.pos)
    if t is S.Lambda:
        param = pattern(e.param)
        _check_distinct(param)
        return C.Lam(param, desugar(e.body), pos=e.pos)
    if t is S.Prefixed:
        if e.op == "^":
            return C.Quote(e.expr, pos=e.pos)
        return C.Ann(e.op, desugar(e.expr), pos=e.pos)
    raise SourceError(f"unexpected {type(e).__name__} in an expression", e.pos)


def _special_form(word: str, e: S.Apply) -> C.Expr:
    arg = e.arg
    shape = FORM_SHAPES[word]
    if type(arg) is not S.ListExpr:
        raise SourceError(f"'{word}' must be applied to a list literal", arg.pos,
                          f"write {shape}")
    items = arg.items
    if word in ("let", "rec"):
        if arg.tail is not None or len(items) != 3:
            raise SourceError(f"'{word}' takes exactly three elements, got "
                              f"{len(items)}{' and a tail' if arg.tail is not None else ''}",
                              arg.pos, f"write {shape}")
        pat = pattern(items[0])
        _check_distinct(pat)
        return C.Let(pat, desugar(items[1]), desugar(items[2]), rec=(word == "rec"), pos=e.pos)
    if word == "fix":
        if not items:
            raise SourceError("'fix' needs a pattern before its '!'", arg.pos, f"write {shape}")
        pat = pattern(items[0])
        _check_distinct(pat)
        rest = items[1:]
        if rest:
            value = S.ListExpr(rest, arg.tail, pos=rest[0].pos)
        elif arg.tail is not None:
            value = arg.tail
        else:
            value = S.ListExpr([], None, pos=arg.pos)
        whole = "#fix"  # not a valid identifier, so it can never capture a user name
        body = C.Var(whole, pos=e.pos)
        return C.Let(C.PAs(whole, pat, pos=pat.pos), desugar(value), body, rec=True, pos=e.pos)
    # if
    if arg.tail is not None:
        raise SourceError("'if' takes a list without a '!' tail", arg.tail.pos, f"write {shape}")
    parts = [desugar(i) for i in items]
    arms = [(parts[i], parts[i + 1]) for i in range(0, len(parts) - 1, 2)]
    otherwise = parts[-1] if len(parts) % 2 == 1 else None
    return C.If(arms, otherwise, pos=e.pos)


def pattern(e: S.Node) -> C.Pattern:
    """A pattern from a lambda parameter or from a pattern-shaped expression."""
    t = type(e)
    if t in (S.PName, S.Name):
        if e.name in RESERVED:
            raise SourceError(f"'{e.name}' is a reserved word and cannot be bound", e.pos)
        return C.PVar(e.name, pos=e.pos)
    if t is S.PList:
        return C.PList([pattern(i) for i in e.items],
                       None if e.rest is None else pattern(e.rest), pos=e.pos)
    if t is S.ListExpr:
        return C.PList([pattern(i) for i in e.items],
                       None if e.tail is None else pattern(e.tail), pos=e.pos)
    raise SourceError("this is not a pattern", e.pos,
                      "a pattern is a name or a list of patterns, like [X ! Xs] or [[a b] c]")


def _check_distinct(p: C.Pattern) -> None:
    seen: dict[str, object] = {}
    for b in C.pattern_names(p):
        if b.name in seen:
            raise SourceError(f"'{b.name}' is bound twice in one pattern", b.pos)
        seen[b.name] = b
