"""The evaluation machine of the reference interpreter.

Design
~~~~~~
Evaluation code is written as Python generators that *yield requests*:

  a Thunk               force it; the generator is sent its value
  (expr, env, shallow)  evaluate a core IR expression in a frame; sent the value
  a generator           run it as a subroutine; sent what it returns
  WaitAny(threads)      block until one of these green threads has finished
  TICK (None)           nothing: it only counts a step, so the time slice can end

The machine keeps each green thread's continuation as an explicit list of generators
(plus claimed Thunks, see Note [Update frames]), so evaluation depth is bounded by
memory, never by Python's stack: a 200,000-deep recursion is 200,000 list entries. A
request that would grow a stack past `max_depth` is answered with the error value
`stack exhausted`, which then propagates like any other error value.

Green threads exist for the fair primitives: `set` and `any?` give each member its own
thread. Threads run only when demanded: the root thread (the top-level printer) runs
until it finishes or blocks; while it is blocked, every runnable thread it transitively
waits for gets a time slice of QUANTUM steps, round-robin, so a member that never
converges cannot starve the others. A blocked set of threads with nothing runnable is a
cycle among suspensions: one of them is answered with the error `cycle`.

Note [Update frames]
~~~~~~~~~~~~~~~~~~~~
When a thread claims a Thunk it pushes the Thunk itself onto its stack, below the
generator computing it. When that generator returns, the machine pops the Thunk and
writes the value into it (values.py, Note [Suspension states]), waking any thread that
waited. Abandoning a thread releases every Thunk on its stack, unevaluated again.
"""
from __future__ import annotations

from types import GeneratorType

from .values import UNSET, Error, Native, Thunk

DEFAULT_MAX_DEPTH = 10_000_000  # machine stack entries (about 250 bytes each)
QUANTUM = 200          # steps per time slice when several threads are demanded
ROOT_SLICE = 1 << 13   # steps the root runs between looks around (tens of ms)

RUNNABLE, BLOCKED, DONE, CANCELLED = range(4)
TICK = None   # request: only count a step; how eval's tail loops stay preemptible


class WaitAny:
    """Request: block until one of `threads` is DONE (at once if one already is)."""
    __slots__ = ("threads",)

    def __init__(self, threads):
        self.threads = threads


class Thread:
    __slots__ = ("stack", "val", "retry", "state", "waits", "result", "watchers", "name")

    def __init__(self, gen, name="thread"):
        self.stack = [gen]
        self.val = None          # what the top generator is sent next
        self.retry = None        # a request to dispatch again when woken (a Thunk)
        self.state = RUNNABLE
        self.waits = ()          # threads this one waits for while BLOCKED
        self.result = None
        self.watchers = []       # threads blocked in WaitAny on this one
        self.name = name


class Stats:
    """What the reference interpreter did: machine steps, suspensions forced, sparks
    offered (`@`), green threads started (`set`, `any?`)."""
    __slots__ = ("steps", "thunks_forced", "sparks", "threads")

    def __init__(self):
        self.steps = self.thunks_forced = self.sparks = self.threads = 0


class Machine:
    def __init__(self, evaluate, max_depth: int = DEFAULT_MAX_DEPTH):
        self._ev = evaluate          # eval.ev: (machine, expr, env, shallow) -> generator
        self.max_depth = max_depth
        self.threads: list[Thread] = []
        self.stats = Stats()
        self.between_slices = None    # called between the root's time slices (output)
        self.stack_error = Error("stack exhausted")
        self.cycle_error = Error("cycle: a suspension demands its own value")

    # --- running ----------------------------------------------------------------------

    def run(self, gen):
        """Run generator `gen` as the root thread; return what it returns.

        If the run is interrupted (Ctrl-C, out of memory), every suspension any thread
        had claimed is released, unevaluated again, before the exception goes on: the
        heap is left holding only valid states, so the REPL can carry on with it."""
        root = Thread(gen, "root")
        try:
            while True:
                if root.state == RUNNABLE:
                    self._step(root, ROOT_SLICE)
                if root.state == DONE:
                    return root.result
                if self.between_slices is not None:
                    self.between_slices()
                if root.state == BLOCKED:
                    self._run_demanded(root)
        except BaseException:
            for th in [root] + self.threads:
                self.cancel(th)
            self.threads = []
            raise

    def spawn(self, gen, name="member") -> Thread:
        th = Thread(gen, name)
        self.threads.append(th)
        self.stats.threads += 1
        return th

    def _run_demanded(self, root: Thread):
        """One round: a time slice for each runnable thread the root waits for."""
        seen = {id(root)}
        order = []
        frontier = [root]
        while frontier:
            th = frontier.pop()
            if th.state == RUNNABLE:
                order.append(th)
            elif th.state == BLOCKED:
                for w in th.waits:
                    if id(w) not in seen:
                        seen.add(id(w))
                        frontier.append(w)
        if not order:
            self._break_cycle(root, seen)
            return
        for th in order:
            if th.state == RUNNABLE:
                self._step(th, QUANTUM)
        self.threads = [t for t in self.threads if t.state in (RUNNABLE, BLOCKED)]

    def _break_cycle(self, root: Thread, seen: set[int]):
        """Every demanded thread is blocked: answer one thunk-waiter with `cycle`."""
        candidates = [root] + [t for t in self.threads if id(t) in seen]
        for th in reversed(candidates):
            if th.state == BLOCKED and type(th.retry) is Thunk:
                t = th.retry
                if t.waiters and th in t.waiters:
                    t.waiters.remove(th)
                th.retry = None
                th.val = self.cycle_error
                th.state = RUNNABLE
                th.waits = ()
                return
        raise RuntimeError("deadlock with no suspension to blame")

    def _step(self, th: Thread, budget: int):
        """Run thread th for at most `budget` steps, until it blocks or finishes."""
        stack = th.stack
        val = th.val
        req = th.retry
        th.retry = None
        evaluate = self._ev
        max_depth = self.max_depth
        steps = 0
        while True:
            if req is None:
                if steps >= budget:
                    th.val = val
                    self.stats.steps += steps
                    return
                steps += 1
                top = stack[-1]
                try:
                    req = top.send(val)
                except StopIteration as stop:
                    val = stop.value
                    stack.pop()
                    while stack and type(stack[-1]) is Thunk:
                        self._update(stack.pop(), val)
                    if not stack:
                        self.stats.steps += steps
                        self._finish(th, val)
                        return
                    continue
            # dispatch the request
            tr = type(req)
            if tr is Thunk:
                v = req.value
                if v is not UNSET:
                    val = v
                elif req.owner is None:
                    if len(stack) >= max_depth:
                        val = self.stack_error
                    else:
                        req.owner = th
                        stack.append(req)
                        code = req.code
                        if type(code) is Native:
                            stack.append(code.fn(self, req.env))
                        else:
                            stack.append(evaluate(self, code, req.env, False))
                        self.stats.thunks_forced += 1
                        val = None
                elif req.owner is th:
                    val = self.cycle_error
                else:
                    owner = req.owner
                    if req.waiters is None:
                        req.waiters = []
                    req.waiters.append(th)
                    th.state = BLOCKED
                    th.retry = req
                    th.waits = (owner,)
                    self.stats.steps += steps
                    return
            elif tr is tuple:
                if len(stack) >= max_depth:
                    val = self.stack_error
                else:
                    stack.append(evaluate(self, *req))
                    val = None
            elif tr is GeneratorType:
                if len(stack) >= max_depth:
                    val = self.stack_error
                else:
                    stack.append(req)
                    val = None
            elif req is TICK:
                val = None
            elif tr is WaitAny:
                if any(t.state == DONE for t in req.threads) or not req.threads:
                    val = None
                else:
                    for t in req.threads:
                        t.watchers.append(th)
                    th.state = BLOCKED
                    th.waits = tuple(req.threads)
                    th.val = None
                    self.stats.steps += steps
                    return
            else:
                raise TypeError(f"evaluation yielded {req!r}")
            req = None

    def _update(self, t: Thunk, val):
        t.value = val
        t.owner = None
        t.code = None
        t.env = None
        if t.waiters:
            for w in t.waiters:
                if w.state == BLOCKED:
                    w.state = RUNNABLE
                    w.waits = ()
            t.waiters = None

    def _finish(self, th: Thread, val):
        th.result = val
        th.state = DONE
        th.stack = []
        for w in th.watchers:
            if w.state == BLOCKED:
                w.state = RUNNABLE
                w.waits = ()
        th.watchers = []

    def cancel(self, th: Thread):
        """Abandon a thread: drop its work and release its claims (Note [Update frames])."""
        if th.state in (DONE, CANCELLED):
            return
        for item in th.stack:
            if type(item) is Thunk and item.owner is th:
                item.owner = None
                if item.waiters:
                    for w in item.waiters:
                        if w.state == BLOCKED:
                            w.state = RUNNABLE
                            w.waits = ()
                    item.waiters = None
        if th.retry is not None and th.retry.waiters and th in th.retry.waiters:
            th.retry.waiters.remove(th)
        th.stack = []
        th.retry = None
        th.state = CANCELLED

