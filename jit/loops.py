"""Pass `loops`: a function's tail calls of itself become jumps to its start.

Note [Self tail calls]
~~~~~~~~~~~~~~~~~~~~~~
`gcd = \\[a b]. if:[zero?:b a gcd:[b rem:[a b]]]` and every tail-recursive function (an
accumulator loop such as `count`'s spread entry, an exhaustive variant's other calls,
a fixnum variant) call themselves in tail position. A `musttail` call already runs
them in constant stack, but each round still leaves and re-enters the function: its
entry checks, its root frame pushed and popped, its arguments moved to the registers of
a call. Here such a call becomes a jump back to the function's first block, which takes
the parameters as block parameters: the loop LLVM would otherwise find only at -O2
(its tail-call elimination), at no compile-time cost. The first block keeps its poll,
so every round still polls (Note [Polls] in jit/emit.py); the frame is pushed once,
and the roots pass, which runs after this one, sees the loop: its liveness and its
reload analysis iterate to a fixed point over the back edge. A function with captured
values is left alone: they are loaded from the closure (or suspension) of the call at
entry, and a call of the same code may pass another closure.
"""
from __future__ import annotations

from . import lir as L


def self_loops(p: L.Program) -> None:
    for fn in p.functions:
        self_loop(fn)


def self_loop(fn: L.Fn) -> None:
    if fn.kind in ("entry",):
        return
    tails = [b for b in fn.blocks if type(b.term) is L.TailCall
             and b.term.call.mode in ("code", "fixnum") and b.term.call.target == fn.name]
    if not tails or fn.blocks[0].params or fn.free:
        return                   # captured values are loaded from this call's self
    head = fn.blocks[0]
    new_params = [L.Var(f"{v.name}.loop", v.rep) for v in fn.params]
    rename = {id(v): nv for v, nv in zip(fn.params, new_params)}

    def sub(x):
        return rename.get(id(x), x) if type(x) is L.Var else x
    for b in fn.blocks:
        for s in b.stmts:
            L.map_operands(s, sub)
        L.map_operands(b.term, sub)
    for b in tails:
        args = list(b.term.call.args)
        b.term = L.Jump(head.label, args + [L.Word(0, "undef")] * (len(fn.params) - len(args)))
    head.params = new_params
    start = L.Block("start", [], [], L.Jump(head.label, list(fn.params)))
    fn.blocks.insert(0, start)
