"""Text form of the IR for `--dump-after PASS` and the golden IR tests.

The core IR prints as indented S-expressions. A node that fits in the line width prints
on one line; otherwise its children go on their own lines, two spaces deeper.
Names print by what they are: `x` (unresolved Var), `x@0.1` (Local: depth 0, slot 1),
`quick@g` (Global), `add@p` (PrimRef). Patterns print as Daisy patterns, with each
binder's slot after resolve (`[X@0 ! Xs@1]`). Quoted forms print as their source text.
After the `demand` pass (`demands=`), every binder shows its demand (`L@0{spine}`), every
call the demand on its result (`(app{head} ...)`), and each top-level function is
preceded by a summary line: its parameters' demands when its result is demanded to
WHNF, and when it is demanded completely (`#`). The back end's passes over core IR
(jit/closures.py, jit/callmodes.py) add their findings after head words (`notes=`).
"""
from __future__ import annotations

from . import core as C
from . import syntax as S

WIDTH = 88


def dump_module(m: C.Module, demands=None, notes=None, header=()) -> str:
    """The module's text; with `demands` (the DemandInfo frontend/demand.py's
    analyse_module returns) also the demands, as the demand pass left them. The back
    end's passes over core IR add `notes`: a function of a node giving text to print
    after its head word (`(app{head}/spread ...)`), or None; and `header` lines."""
    global _NOTES
    _NOTES = notes
    try:
        return _dump_module(m, demands, header)
    finally:
        _NOTES = None


_NOTES = None


def _note(e, head: str) -> str:
    if _NOTES is None:
        return head
    extra = _NOTES(e)
    return head + extra if extra else head


def _dump_module(m, demands, header) -> str:
    shown = demands is not None
    out = [f";; {line}" for line in header]
    if shown and demands.skipped:
        out.append(f";; demand: not analysed, {demands.skipped}: everything is lazy")
    for cmd in m.commands:
        if isinstance(cmd, C.Def):
            if shown and cmd.name in demands.functions:
                out.append(_summary(cmd.name, demands.functions[cmd.name]))
            out.append(_layout(["def", cmd.name, _tree(cmd.expr, shown)], 0))
        else:
            out.append(_layout(["eval", _tree(cmd.expr, shown)], 0))
    return "\n".join(out) + "\n"


def _summary(name: str, d: dict) -> str:
    def params(pairs):
        return " ".join(f"{b}={level}" for b, level in pairs) or "(no binders)"
    line = f";; demand {name}: {params(d['head'])}"
    if d.get("full") is not None:
        line += f" | under #: {params(d['full'])}"
    return line


def dump_syntax(p: S.Program) -> str:
    from ..interp.forms import source_text  # the printer of forms knows surface syntax
    out = []
    for cmd in p.commands:
        if isinstance(cmd, S.Define):
            out.append(f"{cmd.name} = {source_text(cmd.expr)}")
        else:
            out.append(source_text(cmd))
    return "\n".join(out) + "\n"


def pattern_text(p: C.Pattern, demands: bool = False) -> str:
    if isinstance(p, C.PVar):
        name = p.name if p.index < 0 else f"{p.name}@{p.index}"
        return f"{name}{{{p.demand}}}" if demands else name
    if isinstance(p, C.PAs):
        name = p.name if p.index < 0 else f"{p.name}@{p.index}"
        if demands:
            name += f"{{{p.demand}}}"
        return f"{name}={pattern_text(p.pattern, demands)}"
    items = " ".join([_guarded_text(i, p.items) if demands and type(i) is C.PVar
                      and i.guard is not None else pattern_text(i, demands)
                      for i in p.items])
    if p.rest is not None:
        items += " ! " + pattern_text(p.rest, demands)
    return f"[{items}]"


def _guarded_text(b: C.PVar, items) -> str:
    """A conditionally demanded item: `x@0{head if num:y}`."""
    name = b.name if b.index < 0 else f"{b.name}@{b.index}"
    return f"{name}{{{b.cdemand} if num:{','.join(items[j].name for j in b.guard)}}}"


def _const(v) -> str:
    if isinstance(v, str):
        return '"' + v.replace("`", "``").replace('"', '`"').replace("\n", "`n").replace("\t", "`t") + '"'
    if isinstance(v, float):
        return "%e" % v
    return str(v)


def _tree(e: C.Expr, demands: bool = False):
    """A nested list: head word, then children (strings or nested lists)."""
    t = type(e)
    if t is C.Const:
        return _note(e, _const(e.value))
    if t is C.Var:
        return e.name
    if t is C.Local:
        return _note(e, f"{e.name}@{e.depth}.{e.index}")
    if t is C.Global:
        return _note(e, f"{e.name}@g")
    if t is C.PrimRef:
        return _note(e, f"{e.name}@p")
    if t is C.Lam:
        resolved = any(b.index >= 0 for b in C.pattern_names(e.param))
        return [_note(e, f"lam/{e.size}" if resolved else "lam"), pattern_text(e.param, demands),
                _tree(e.body, demands)]
    if t is C.App:
        return [_note(e, f"app{{{e.demand}}}" if demands else "app"), _tree(e.fn, demands),
                _tree(e.arg, demands)]
    if t is C.Let:
        return [_note(e, "letrec" if e.rec else "let"), pattern_text(e.pattern, demands),
                _tree(e.value, demands), _tree(e.body, demands)]
    if t is C.If:
        parts = ["if"]
        for c, b in e.arms:
            parts += [_tree(c, demands), _tree(b, demands)]
        parts.append("else" if e.otherwise is None else ["else", _tree(e.otherwise, demands)])
        return parts
    if t is C.ListCons:
        parts = [_note(e, "list")] + [_tree(i, demands) for i in e.items]
        if e.tail is not None:
            parts += ["!", _tree(e.tail, demands)]
        return parts
    if t is C.PrimCall:
        return [_note(e, "prim"), e.name] + [_tree(a, demands) for a in e.args]
    if t is C.Ann:
        return [_note(e, e.op), _tree(e.expr, demands)]
    if t is C.Quote:
        from ..interp.forms import source_text
        return [_note(e, "quote"), source_text(e.form)]
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
