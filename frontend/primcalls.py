"""Pass 4, `primcalls`: a primitive applied to a list literal of its arity becomes a
`PrimCall`, so later passes (strictness, lowering) see the operands directly.

`add:[1 x]` becomes PrimCall('add', [1, x]); `inc:x` becomes PrimCall('inc', [x]).
It changes no meaning: PrimCall(p, args) means App(PrimRef(p), ListCons(args)) for a
list-taking primitive and App(PrimRef(p), args[0]) for a one-operand primitive, and the
reference interpreter evaluates it exactly so.
"""
from __future__ import annotations

from . import core as C
from .primitives import LIST_ARITY, LIST_TAKERS, UNARY, VARIADIC


def rewrite(e: C.Expr) -> C.Expr:
    t = type(e)
    if t is C.App:
        e.fn, e.arg = rewrite(e.fn), rewrite(e.arg)
        if type(e.fn) is C.PrimRef:
            name, arg = e.fn.name, e.arg
            if (name in LIST_TAKERS and type(arg) is C.ListCons and arg.tail is None
                    and (name in VARIADIC or len(arg.items) == LIST_ARITY[name])):
                return C.PrimCall(name, arg.items, pos=e.pos)
            if name in UNARY:
                return C.PrimCall(name, [arg], pos=e.pos)
        return e
    if t is C.Lam:
        e.body = rewrite(e.body)
    elif t is C.Let:
        e.value, e.body = rewrite(e.value), rewrite(e.body)
    elif t is C.If:
        e.arms = [(rewrite(c), rewrite(b)) for c, b in e.arms]
        if e.otherwise is not None:
            e.otherwise = rewrite(e.otherwise)
    elif t is C.ListCons:
        e.items = [rewrite(i) for i in e.items]
        if e.tail is not None:
            e.tail = rewrite(e.tail)
    elif t is C.PrimCall:
        e.args = [rewrite(a) for a in e.args]
    elif t is C.Ann:
        e.expr = rewrite(e.expr)
    return e


def rewrite_module(module: C.Module) -> C.Module:
    for cmd in module.commands:
        cmd.expr = rewrite(cmd.expr)
    return module
