"""Pass `roots`: root-frame slots for the values live across safepoints.

Note [Root frames] (jit/emit.py) says why: compaction moves objects at safepoints, so
a heap value a function still needs after one must be in a root slot, where the
collector finds and updates it, and must be read back from there afterwards. This
pass decides which values those are, from liveness, and writes it down:

  root K := %x      after %x is defined (or at the block start for a block parameter,
                    at entry for a parameter or captured value), when %x is live
                    across some safepoint; K is %x's slot
  %x' = root K      before a use of %x that a safepoint may separate from its
                    definition (on any path); later uses in the block, up to the
                    next safepoint, use %x'
  root K := 0       Note [Dead temporaries]

Values of rep int, bool or ptr are never heap pointers a collector moves, and the
operands of a call are passed in registers (the callee roots what it keeps), so a
value used last by a call is not rooted for it. Two values share a slot when they are
never live at the same time. `frame` is the number of slots; a function with none
pushes no frame.

Note [Entry polls]
~~~~~~~~~~~~~~~~~~
Many small functions (a suspension of `add:[n 31]`, `sq = \n. mpy:[n n]`) hold a value
across no safepoint but the poll at their entry. A slot for it would cost a frame:
pushing, checking and emptying it, a save and a reload, on every call. So the entry
poll keeps such values itself, on its slow path only: when the poll fires it pushes
them on the root stack around rt_safepoint_slow and takes their new values back
(`poll keep(%n->%n.k1)`); the fast path does nothing. The entry poll comes before
everything else, so the new names simply replace the old ones everywhere after it.
A function the `loops` pass made a loop opens with a lone jump to its loop head, whose
poll runs every round: that poll keeps the head's parameters the same way.
Values that need a slot anyway (live across another safepoint) use the slot.

Note [Dead temporaries]
~~~~~~~~~~~~~~~~~~~~~~~
A root slot keeps its value alive until the slot is written again or the frame is
popped. So before a call of Daisy code that returns here (which may run long and
collect often), every slot whose value is dead after the call is emptied (the word
0, which no collector follows). Otherwise `check:[quick:randoms:[N 42] 0 0]` would keep
the whole input list alive in its frame for as long as quick runs: a million cells of
the annotated quicksort's live data at every compaction.
"""
from __future__ import annotations

from . import lir as L

SIDE_EXITS = (L.Guard, L.Checked, L.StackGuard)
CLEARS_BEFORE = ("code", "apply")
MAX_KEEP = 16             # values an entry poll keeps itself (Note [Entry polls])


def _tracked(v) -> bool:
    return type(v) is L.Var and v.rep == L.VAL


def _call_of(s):
    if type(s) is L.Let and type(s.expr) is L.Call:
        return s.expr
    if type(s) is L.Effect:
        return s.call
    return None


class FnRoots:
    def __init__(self, fn: L.Fn):
        self.fn = fn
        self.blocks = {b.label: b for b in fn.blocks}
        self.preds: dict[str, list] = {b.label: [] for b in fn.blocks}
        for b in fn.blocks:
            for s in L.successors(b):
                self.preds[s].append(b.label)

    # ---- liveness (backward) ----
    def liveness(self) -> None:
        """live_in of every block: a worklist from the exits backwards, a block
        revisited only when the live-in of one of its successors grew."""
        live_in = {b.label: set() for b in self.fn.blocks}
        self.vars: dict[int, L.Var] = {}
        work = [b.label for b in self.fn.blocks]          # popped from the end: last first
        queued = set(work)
        while work:
            label = work.pop()
            queued.discard(label)
            live = self._block_live(self.blocks[label], live_in, None)
            if live != live_in[label]:
                live_in[label] = live
                for p in self.preds[label]:
                    if p not in queued:
                        queued.add(p)
                        work.append(p)
        self.live_in = live_in

    def _term_succs(self, b: L.Block) -> list[str]:
        t = b.term
        if type(t) is L.Jump:
            return [t.target]
        if type(t) is L.Branch:
            return [t.yes, t.no]
        if type(t) is L.Switch:
            return [lbl for _, lbl in t.cases] + [t.default]
        return []

    def _block_live(self, b: L.Block, live_in: dict, record) -> set:
        """Walk b backwards from its live-out; with record, store each statement's
        live-after set (record[i]; record[len] for the terminator)."""
        live = set()
        for s in self._term_succs(b):
            live |= live_in[s]
        if record is not None:
            record[len(b.stmts)] = set(live)
        for v in L.used_vars(b.term):
            if _tracked(v):
                live.add(id(v))
                self.vars[id(v)] = v
        for i in range(len(b.stmts) - 1, -1, -1):
            s = b.stmts[i]
            if type(s) in SIDE_EXITS:
                live |= live_in[s.fail]
            if record is not None:
                record[i] = set(live)
            d = L.defined_var(s)
            if d is not None:
                live.discard(id(d))
            for v in L.used_vars(s):
                if _tracked(v):
                    live.add(id(v))
                    self.vars[id(v)] = v
        if record is not None:
            record[-1] = set(live)           # block parameters defined, nothing run yet
        for v in b.params:
            live.discard(id(v))
        return live

    def poll_block(self) -> L.Block:
        """The block whose opening poll may keep values (Note [Entry polls]): the
        entry, or the loop head when the entry only jumps there (jit/loops.py)."""
        first = self.fn.blocks[0]
        if not first.stmts and type(first.term) is L.Jump and first.term.args:
            head = self.blocks[first.term.target]
            if head.params and head is not first:
                return head
        return first

    def entry_poll(self) -> int | None:
        """The index of the poll that opens the function (Note [Entry polls])."""
        for i, s in enumerate(self.poll_block().stmts):
            if type(s) is L.Poll:
                return i
            if L.is_safepoint(s):
                return None
        return None

    # ---- which values, which slots ----
    def choose(self) -> None:
        self.after: dict[str, dict] = {}
        rooted: set[int] = set()
        poll = self.entry_poll()
        poll_at = self.poll_block()
        keep: set[int] = set()
        for b in self.fn.blocks:
            rec: dict[int, set] = {}
            self._block_live(b, self.live_in, rec)
            self.after[b.label] = rec
            for i, s in enumerate(b.stmts):
                if L.is_safepoint(s):
                    across = set(rec[i])
                    d = L.defined_var(s)
                    if d is not None:
                        across.discard(id(d))
                    if b is poll_at and i == poll:
                        keep = across
                    else:
                        rooted |= across
        keep -= rooted
        if len(keep) > MAX_KEEP:
            rooted |= keep
            keep = set()
        self.rooted = rooted
        if keep:
            self.keep_at_poll(poll, keep)
        self.slot: dict[int, int] = {}
        if not rooted:                     # nothing lives across a safepoint: no frame
            self.fn.frame = 0
            return
        # interference: rooted values live at the same point
        inter: dict[int, set] = {k: set() for k in rooted}
        for b in self.fn.blocks:
            rec = self.after[b.label]
            points = [self.live_in[b.label]] + [rec[i] for i in sorted(rec)]   # -1 first
            for live in points:
                here = [k for k in live if k in rooted]
                if len(here) > 1:
                    for k in here:
                        inter[k].update(here)
        # defined-at-entry values are live together at entry even when unused later
        entry_defs = [id(v) for v in self.fn.params + self.fn.free if id(v) in rooted]
        for k in entry_defs:
            inter[k].update(entry_defs)
        # greedy colouring in order of definition
        order = [id(v) for v in self.fn.params + self.fn.free]
        for b in self.fn.blocks:
            order += [id(v) for v in b.params]
            order += [id(d) for s in b.stmts if (d := L.defined_var(s)) is not None]
        nslots = 0
        for k in order:
            if k not in rooted or k in self.slot:
                continue
            taken = {self.slot[j] for j in inter[k] if j in self.slot and j != k}
            s = 0
            while s in taken:
                s += 1
            self.slot[k] = s
            nslots = max(nslots, s + 1)
        self.fn.frame = nslots

    def keep_at_poll(self, index: int, keep: set) -> None:
        entry = self.poll_block()
        poll = entry.stmts[index]
        # every block but the entry's lone jump comes after the loop head's poll
        defined = entry.params if entry is not self.fn.blocks[0] else self.fn.params + self.fn.free
        order = [v for v in defined if id(v) in keep]
        new = {}
        for v in order:
            nv = L.Var(f"{v.name}.k", v.rep)
            new[id(v)] = nv
            poll.keep.append((v, nv))

        def rename(x):
            return new.get(id(x), x) if type(x) is L.Var else x
        for b in self.fn.blocks:
            for j, s in enumerate(b.stmts):
                if b is entry and j <= index:
                    continue
                L.map_operands(s, rename)
            L.map_operands(b.term, rename)

    # ---- reloads and clears (forward) ----
    def rewrite(self) -> None:
        if not self.rooted:
            return
        entry = self.fn.blocks[0].label
        state_in = {b.label: None for b in self.fn.blocks}
        state_in[entry] = (frozenset(), frozenset())
        work = [entry]
        queued = {entry}
        while work:                              # the may-analysis: stale and dirty sets
            label = work.pop(0)
            queued.discard(label)
            for succ, st in self._transfer(self.blocks[label], state_in[label], False):
                old = state_in[succ]
                new = st if old is None else (old[0] | st[0], old[1] | st[1])
                if new != old:
                    state_in[succ] = new
                    if succ not in queued:
                        work.append(succ)
                        queued.add(succ)
        self.nreloads = 0
        for b in self.fn.blocks:
            st = state_in[b.label]
            if st is None:                        # unreachable
                continue
            self._transfer(b, st, True)

    def _reload_name(self, x: L.Var) -> str:
        self.nreloads = getattr(self, "nreloads", 0) + 1
        return f"{x.name}.r{self.nreloads}"

    def _save(self, v) -> L.SaveRoot:
        return L.SaveRoot(self.slot[id(v)], v)

    def _transfer(self, b: L.Block, state, rewrite: bool):
        """Run b forward from (stale, dirty); returns [(successor, state)]. With
        rewrite, also rewrite b's statements."""
        stale, dirty = set(state[0]), set(state[1])
        renamed: dict[int, L.Var] = {}
        rooted, slot = self.rooted, self.slot
        out_edges = []
        new: list = []
        rec = self.after[b.label]
        is_entry = b is self.fn.blocks[0]

        def fresh(x):
            if type(x) is not L.Var or id(x) not in rooted:
                return x
            r = renamed.get(id(x))
            if r is not None:
                return r
            if id(x) in stale:
                r = L.Var(self._reload_name(x), x.rep)
                new.append(L.Let(r, L.Root(slot[id(x)])))
                renamed[id(x)] = r
                return r
            return x

        def define(v):
            if v is not None and id(v) in rooted:
                stale.discard(id(v))
                renamed.pop(id(v), None)
                new.append(self._save(v))
                dirty.add(slot[id(v)])

        if is_entry:
            for v in self.fn.params + self.fn.free:
                define(v)
        for v in b.params:
            define(v)
        for i, s in enumerate(b.stmts):
            if rewrite:
                L.map_operands(s, fresh)
            else:
                for v in L.used_vars(s):
                    fresh(v)
            c = _call_of(s)
            if c is not None and c.mode in CLEARS_BEFORE and L.is_safepoint(s):
                live = set(rec[i])
                d = L.defined_var(s)
                if d is not None:
                    live.discard(id(d))
                held = {slot[k] for k in live if k in rooted}
                for k in sorted(dirty - held):
                    new.append(L.ClearRoot(k))
                dirty &= held
            new.append(s)
            if type(s) in SIDE_EXITS:
                out_edges.append((s.fail, (frozenset(stale | set(renamed)), frozenset(dirty))))
            if L.is_safepoint(s):
                stale = set(rooted)
                renamed.clear()
            define(L.defined_var(s))
        if rewrite:
            L.map_operands(b.term, fresh)
        else:
            for v in L.used_vars(b.term):
                fresh(v)
        out = (frozenset(stale | set(renamed)), frozenset(dirty))
        for succ in self._term_succs(b):
            out_edges.append((succ, out))
        if rewrite:
            b.stmts = new
        return out_edges


def root_frames(p: L.Program, tick=None) -> None:
    """Root frames for every function; tick(i, n, name), if given, before each."""
    for i, fn in enumerate(p.functions):
        if tick is not None:
            tick(i, len(p.functions), fn.name)
        root_frame(fn)


def root_frame(fn: L.Fn) -> None:
    """Root frame slots, saves, reloads and clears for one function."""
    r = FnRoots(fn)
    r.liveness()
    r.choose()
    r.rewrite()
