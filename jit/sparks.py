"""Pass `sparks`: a spark is offered only while some worker is hungry.

`lower` writes `call rt rt_spark(s)` where `@E` asks for a spark of suspension s (a
suspended position: Note [Suspended positions]; a strict operand: Note [Sparked
operands]). Pushing a spark that no worker wants costs a deque operation and a
suspension nobody else will run, and forcing it later finds it still there: so each
offer becomes a test of the worker's `spark_wanted` word (Note [Hungry workers] in
rt/rt_spark.c) and the push only on the hungry side. With one worker, or every worker
busy, `@` costs that load and a branch. Offers `lower` makes on the hungry side of its
own test (Note [Sparked operands]) are left as they are.
"""
from __future__ import annotations

from . import lir as L


def is_offer(s) -> bool:
    return type(s) is L.Effect and s.call.mode == "rt" and s.call.target == "rt_spark"


def hungry_blocks(fn: L.Fn) -> set[str]:
    """Blocks entered only when a `hungry` test succeeded (Note [Sparked operands]
    in jit/lower.py makes its sparks there): their offers need no test of their own."""
    preds: dict[str, int] = {}
    for b in fn.blocks:
        for s in L.successors(b):
            preds[s] = preds.get(s, 0) + 1
    out = set()
    for b in fn.blocks:
        t = b.term
        if type(t) is L.Branch and type(t.cond) is L.Var and preds.get(t.yes) == 1:
            if any(type(s) is L.Let and s.var is t.cond and type(s.expr) is L.Op
                   and s.expr.op == "hungry" for s in b.stmts):
                out.add(t.yes)
    return out


def hungry_sparks(p: L.Program) -> None:
    for fn in p.functions:
        hungry_spark(fn)


def hungry_spark(fn: L.Fn) -> None:
    n = 0
    i = 0
    already = hungry_blocks(fn)
    while i < len(fn.blocks):
        b = fn.blocks[i]
        if b.label in already:
            i += 1
            continue
        k = next((j for j, s in enumerate(b.stmts) if is_offer(s)), None)
        if k is None:
            i += 1
            continue
        n += 1
        offer = b.stmts[k]
        push = L.Block(f"offer.{n}", [], [offer], None)
        cont = L.Block(f"offered.{n}", [], b.stmts[k + 1:], b.term)
        push.term = L.Jump(cont.label)
        h = L.Var(f"hungry.{n}", L.BOOL)
        b.stmts = b.stmts[:k] + [L.Let(h, L.Op("hungry", []))]
        b.term = L.Branch(h, push.label, cont.label, likely=False)
        fn.blocks[i + 1:i + 1] = [push, cont]
        i += 2                  # on to the rest of the block, past the offer
