"""Pass `allocs`: each run of allocations reserves its space once.

Note [Reserve] (rt/daisy_rt.h): generated code makes room for a group of objects with
one reservation, a safepoint, and then places the objects with no check and no
safepoint. Here every maximal run of `alloc` statements in a block with no safepoint
and no side exit (guard, checked arithmetic, stack guard) between them becomes one
group: a `reserve` of their total size before the first, which moves the heap pointer
past them all, and each `alloc` placed at an offset from what it returned. Nothing in
between can collect or leave the block, so no half-built object is ever seen.
"""
from __future__ import annotations

from . import lir as L

SIDE_EXITS = (L.Guard, L.Checked, L.StackGuard)


def group_allocations(p: L.Program) -> None:
    for fn in p.functions:
        group_allocation(fn)


def group_allocation(fn: L.Fn) -> None:
    n = 0
    for b in fn.blocks:
        out = []
        group = None            # (reserve statement, offset so far)
        for s in b.stmts:
            if type(s) is L.Let and type(s.expr) is L.Alloc:
                if group is None:
                    n += 1
                    hp = L.Var(f"hp.{n}", "ptr")
                    group = [L.Let(hp, L.Reserve(0)), 0]
                    out.append(group[0])
                a = s.expr
                a.hp, a.offset = group[0].var, group[1]
                group[1] += 8 * a.words()
                out.append(s)
                continue
            if group is not None and (L.is_safepoint(s) or type(s) in SIDE_EXITS):
                group[0].expr.nbytes = group[1]
                group = None
            out.append(s)
        if group is not None:
            group[0].expr.nbytes = group[1]
        b.stmts = out
