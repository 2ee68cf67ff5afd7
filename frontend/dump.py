"""Text form of the IR for `--dump-after PASS` and the golden IR tests.

The core IR prints as indented S-expressions. A node that fits in the line width prints
on one line; otherwise its children go on their own lines, two spaces deeper.
Names print by what they are: `x` (unresolved Var), `x@0.1` (Local: depth 0, slot 1),
`quick@g` (Global), `add@p` (PrimRef). Patterns print as Daisy patterns, with each
binder's slot after resolve (`[X@0 ! Xs@1]`). Quoted forms print as their source text.
"""
from __future__ import annotations

from . import core as C
from . import syntax as S

WIDTH = 88


def dump_module(m: C.Module) -> str:
    out = []
    for cmd in m.commands:
        if isinstance(cmd, C.Def):
            out.append(_layout(["def", cmd.name, _tree(cmd.expr)], 0))
        else:
            out.append(_layout(["eval", _tree(cmd.expr)], 0))
    return "\n".join(out) + "\n"


def dump_syntax(p: S.Program) -> str:
    from ..interp.forms import source_text  # the printer of forms knows surface syntax
    out = []
    for cmd in p.commands:
        if isinstance(cmd, S.Define):
            out.append(f"{cmd.name} = {source_text(cmd.expr)}")
        else:
            out.append(source_text(cmd))
    return "\n".join(out) + "\n"


def pattern_text(p: C.Pattern) -> str:
    if isinstance(p, C.PVar):
        return p.name if p.index < 0 else f"{p.name}@{p.index}"
    if isinstance(p, C.PAs):
        name = p.name if p.index < 0 else f"{p.name}@{p.index}"
        return f"{name}={pattern_text(p.pattern)}"
    items = " ".join(pattern_text(i) for i in p.items)
    if p.rest is not None:
        items += " ! " + pattern_text(p.rest)
    return f"[{items}]"


def _const(v) -> str:
    if isinstance(v, str):
        return '"' + v.replace("`", "``").replace('"', '`"').replace("\n", "`n").replace("\t", "`t") + '"'
    if isinstance(v, float):
        return "%e" % v
    return str(v)


def _tree(e: C.Expr):
    """A nested list: head word, then children (strings or nested lists)."""
    t = type(e)
    if t is C.Const:
        return _const(e.value)
    if t is C.Var:
        return e.name
    if t is C.Local:
        return f"{e.name}@{e.depth}.{e.index}"
    if t is C.Global:
        return f"{e.name}@g"
    if t is C.PrimRef:
        return f"{e.name}@p"
    if t is C.Lam:
        resolved = any(b.index >= 0 for b in C.pattern_names(e.param))
        return [f"lam/{e.size}" if resolved else "lam", pattern_text(e.param), _tree(e.body)]
    if t is C.App:
        return ["app", _tree(e.fn), _tree(e.arg)]
    if t is C.Let:
        return ["letrec" if e.rec else "let", pattern_text(e.pattern), _tree(e.value), _tree(e.body)]
    if t is C.If:
        parts = ["if"]
        for c, b in e.arms:
            parts += [_tree(c), _tree(b)]
        parts.append("else" if e.otherwise is None else ["else", _tree(e.otherwise)])
        return parts
    if t is C.ListCons:
        parts = ["list"] + [_tree(i) for i in e.items]
        if e.tail is not None:
            parts += ["!", _tree(e.tail)]
        return parts
    if t is C.PrimCall:
        return ["prim", e.name] + [_tree(a) for a in e.args]
    if t is C.Ann:
        return [e.op, _tree(e.expr)]
    if t is C.Quote:
        from ..interp.forms import source_text
        return ["quote", source_text(e.form)]
    return f"<{t.__name__}>"


def _flat(tree) -> str:
    if isinstance(tree, str):
        return tree
    # a list, not a generator: recursion stays in Python frames, off the C stack
    return "(" + " ".join([_flat(x) for x in tree]) + ")"


def _layout(tree, indent: int) -> str:
    flat = _flat(tree)
    if isinstance(tree, str) or indent + len(flat) <= WIDTH:
        return " " * indent + flat
    head, *rest = tree
    lines = [" " * indent + "(" + _flat(head)]
    # keep short leading atoms (names, patterns) on the head line
    while rest and isinstance(rest[0], str) and len(lines[0]) + len(rest[0]) < WIDTH // 2:
        lines[0] += " " + rest.pop(0)
    for child in rest:
        lines.append(_layout(child, indent + 2))
    lines[-1] += ")"
    return "\n".join(lines)
