/* daisy_rt.h -- the Daisy runtime: values, heap layout, workers, the ABI.
 *
 * This is the only header of the runtime and the contract with generated code.
 * Every offset the JIT relies on is fixed here, checked with static_assert, and
 * exported through rt_layout_table() so the Python side can check it at import.
 *
 * Subsystem prefixes:   rt_val_* / RT_*  values and tags        (this file)
 *                       rt_heap_*        regions and allocation  (rt_heap.c)
 *                       rt_gc_local_*    per-worker mark/sweep   (rt_gc.c)
 *                       rt_gc_major_*    compaction by the API thread (rt_gc.c)
 *                       rt_spark_*       deques and scheduling   (rt_spark.c)
 *                       rt_ctx_* rt_step contexts, steps, stats  (rt_ctx.c)
 * Suffixes: _slow  the out-of-line half of an inline fast path;
 *           _nogc  never allocates, never reaches a safepoint;
 *           _unlocked  caller holds the relevant lock.
 * The design essay is docs/runtime.md; the Notes below are the invariants that
 * code in several files relies on, cited as "see Note [Title]".
 */
#ifndef DAISY_RT_H
#define DAISY_RT_H

#include <assert.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <pthread.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RT_ABI_VERSION 1

/* ------------------------------------------------------------------------
 * Note [Value tags]
 *
 * A Daisy value is one 64-bit word, rt_val. Its low three bits say what it is:
 *
 *     ...xx1   small integer: the word arithmetically shifted right by one.
 *              63-bit range; integers outside it are boxed (RT_T_BOXINT) so
 *              that Daisy keeps exact 64-bit semantics.  An integer has ONE
 *              representation: boxed iff it does not fit, so equality of
 *              small integers is word equality.
 *     ...000   pointer to a heap object (8-byte aligned, header first).
 *              The word 0 is RT_NULL: "no value", never a Daisy value.
 *     ...010   atom: index into the context's atom table, shifted left 3.
 *              Atoms are interned, so equality is word equality.
 *     ...100   primitive: primitive number shifted left 3 (the JIT's table).
 *     ...110   constant: RT_NIL ([]), RT_UNIT.
 *
 * The tag tests are single AND/compare instructions the JIT emits inline.
 * ------------------------------------------------------------------------ */
typedef uint64_t rt_val;

#define RT_NULL        ((rt_val)0)
#define RT_TAG_MASK    ((rt_val)7)
#define RT_TAG_PTR     ((rt_val)0)
#define RT_TAG_ATOM    ((rt_val)2)
#define RT_TAG_PRIM    ((rt_val)4)
#define RT_TAG_CONST   ((rt_val)6)
#define RT_NIL         ((rt_val)0x06)
#define RT_UNIT        ((rt_val)0x0e)

#define RT_FIX_MIN     (-(INT64_C(1) << 62))
#define RT_FIX_MAX     ((INT64_C(1) << 62) - 1)

static inline int rt_is_fix(rt_val v) { return (int)(v & 1); }
static inline int rt_is_ptr(rt_val v) { return (v & RT_TAG_MASK) == RT_TAG_PTR && v != 0; }
static inline int rt_is_atom(rt_val v) { return (v & RT_TAG_MASK) == RT_TAG_ATOM; }
static inline int rt_is_prim(rt_val v) { return (v & RT_TAG_MASK) == RT_TAG_PRIM; }
static inline int64_t rt_fix_value(rt_val v) { return ((int64_t)v) >> 1; }
static inline rt_val rt_fix(int64_t i) { return ((rt_val)i << 1) | 1; }
static inline int rt_fits_fix(int64_t i) { return i >= RT_FIX_MIN && i <= RT_FIX_MAX; }
static inline rt_val rt_atom_val(uint32_t index) { return ((rt_val)index << 3) | RT_TAG_ATOM; }
static inline uint32_t rt_atom_index(rt_val v) { return (uint32_t)(v >> 3); }
static inline rt_val rt_prim_val(uint32_t n) { return ((rt_val)n << 3) | RT_TAG_PRIM; }

/* ------------------------------------------------------------------------
 * Note [Heap object layout]
 *
 * Every heap object is a header word followed by `size` payload words:
 *
 *     bit  0       always 1 in a header.  During compaction the header of an
 *                  object that has been copied is replaced by its new address
 *                  (bit 0 clear): see Note [Compaction].
 *     bits 1..7    type, one of RT_T_*  (the low byte is (type << 1) | 1)
 *     bits 8..15   aux: form kind, closure arity
 *     bits 16..31  nraw: how many payload words, counted from the first, hold
 *                  raw bits (code pointers, int64, double, states) that the
 *                  collectors must not read as values
 *     bits 32..63  size: payload words
 *
 * So every collector handles every object the same way: words [nraw, size)
 * are values.  The one exception is the suspension, whose value slot and
 * environment are traced according to its state (Note [Suspension states]).
 *
 *     cons        [head, tail]                                   nraw 0, size 2
 *     suspension  [state, code, value, env0 .. envN-1]           nraw 2, size 3+N
 *     closure     [code, free0 .. freeN-1]        aux = arity    nraw 1, size 1+N
 *     boxint      [int64]                                        nraw 1, size 1
 *     float       [double]                                       nraw 1, size 1
 *     error       [message atom]                                 nraw 0, size 1
 *     form        [field0 .. fieldN-1]            aux = kind     nraw 0, size N
 *                 (a quoted form's fields are values, never suspensions:
 *                 apply [fn arg], function [param body], annotation [op-atom
 *                 form], define [name-atom form])
 *     free        unused words (a filler left by the local collector)
 *
 * Objects are at least two words, so a forwarding address always fits.
 * ------------------------------------------------------------------------ */
typedef enum rt_type {
    RT_T_FREE = 0,
    RT_T_CONS = 1,
    RT_T_SUSP = 2,
    RT_T_CLOSURE = 3,
    RT_T_BOXINT = 4,
    RT_T_FLOAT = 5,
    RT_T_ERROR = 6,
    RT_T_FORM = 7,
    RT_T__COUNT
} rt_type;

/* Quoted form kinds (aux byte of an RT_T_FORM object): see docs/runtime.md. */
enum { RT_FORM_APPLY = 1, RT_FORM_FUNCTION = 2, RT_FORM_ANNOTATION = 3, RT_FORM_DEFINE = 4 };

typedef struct rt_obj {
    uint64_t header;
    rt_val field[];
} rt_obj;

#define RT_HDR(type, aux, nraw, size) \
    (((uint64_t)(size) << 32) | ((uint64_t)(nraw) << 16) | ((uint64_t)(aux) << 8) | \
     ((uint64_t)(type) << 1) | 1u)
static inline rt_type rt_hdr_type(uint64_t h) { return (rt_type)((h >> 1) & 0x7f); }
static inline uint32_t rt_hdr_aux(uint64_t h) { return (uint32_t)((h >> 8) & 0xff); }
static inline uint32_t rt_hdr_nraw(uint64_t h) { return (uint32_t)((h >> 16) & 0xffff); }
static inline uint32_t rt_hdr_size(uint64_t h) { return (uint32_t)(h >> 32); }
static inline rt_obj *rt_obj_of(rt_val v) { return (rt_obj *)(uintptr_t)v; }
static inline rt_val rt_val_of(rt_obj *o) { return (rt_val)(uintptr_t)o; }
static inline int rt_is_type(rt_val v, rt_type t)
{
    return rt_is_ptr(v) && rt_hdr_type(rt_obj_of(v)->header) == t;
}

#define RT_CONS_WORDS 3
/* A suspension whose code makes a normal form (`#E`, made by the JIT) has this
 * aux bit, set when it is allocated and never written after: Note [Deep forcing]
 * does not walk its value again. */
#define RT_SUSP_AUX_NF 1
#define RT_SUSP_STATE 0
#define RT_SUSP_CODE 1
#define RT_SUSP_VALUE 2
#define RT_SUSP_ENV 3
#define RT_CLOSURE_CODE 0
#define RT_CLOSURE_FREE 1

/* ------------------------------------------------------------------------
 * Note [Suspension states]
 *
 * A suspension's state word (field 0) is the only word of the heap that is
 * written after the object is published, and it is always accessed atomically:
 *
 *     RT_SUSP_UNEVALUATED (0)  code and env are live; nobody is running it.
 *     claimed  (id << 8) | 2    task `id` is running it (Note [Tasks]; a
 *                               worker's main task has the worker's id).
 *                               Claimed only by a successful CAS from
 *                               UNEVALUATED, so it runs once at a time.
 *     RT_SUSP_EVALUATED (1)    the value slot holds the result in weak head
 *                               normal form; code and env are dead and no
 *                               collector reads them any more.
 *
 * The claim protocol (rt_force, rt_spark.c):
 *   1. load state (acquire).  EVALUATED: read the value slot.
 *   2. UNEVALUATED: CAS to claimed(me); push the suspension on my claim stack.
 *   3. run code; store the value slot, then store EVALUATED with release, so
 *      a reader that sees EVALUATED sees the value (and everything it points to).
 *   4. a worker unwinding (allocation failure, abandoned step) stores
 *      UNEVALUATED back into every suspension above its unwind mark on the claim
 *      stack: env is untouched, so the suspension can simply run again.  Only
 *      valid states are ever visible: unevaluated, claimed by a live worker,
 *      or evaluated with a complete value.
 *   5. claimed(me) found while forcing: the suspension demands its own value:
 *      the result is the error value "cycle: ...".
 *   6. claimed(another task): the forcing task blocks (Note [Tasks]); its
 *      worker runs other tasks or sparks meanwhile, and a cycle is reported
 *      when the chain of tasks waiting on each other comes back to itself.
 * The update is also where the write barrier sits: Note [Local collection].
 * ------------------------------------------------------------------------ */
#define RT_SUSP_UNEVALUATED ((uint64_t)0)
#define RT_SUSP_EVALUATED ((uint64_t)1)
#define RT_SUSP_CLAIMED_BIT ((uint64_t)2)
static inline uint64_t rt_susp_claimed_by(uint32_t id) { return ((uint64_t)id << 8) | RT_SUSP_CLAIMED_BIT; }
static inline uint32_t rt_susp_claimant(uint64_t state) { return (uint32_t)(state >> 8); }

struct rt_worker;
/* The code of a suspension.  `self` is the suspension; env is its fields from
 * RT_SUSP_ENV.  Returns the value (a suspension result is forced in turn). */
typedef rt_val (*rt_susp_code)(struct rt_worker *w, rt_val self);

/* ------------------------------------------------------------------------
 * Note [Regions]
 *
 * The heap is one reserved range of address space, carved into 2 MiB regions
 * aligned to 2 MiB.  A region's number is (address - heap base) >> 21, and a
 * 16-bit word per region in ctx->owner says who owns it:
 *
 *     0 .. nworkers-1   a worker's local region: only that worker allocates
 *                       in it and only that worker's local collector frees
 *                       in it (non-moving, into free extents)
 *     RT_OWNER_OLD      the shared old space: filled by compaction and by
 *                       promotion; reclaimed only by compaction
 *     RT_OWNER_FREE     in the free pool; memory stays mapped and is reused
 *                       (first touch of a fresh region costs milliseconds)
 *
 * The reservation is MAP_NORESERVE, so only touched pages cost memory.
 * ------------------------------------------------------------------------ */
#define RT_REGION_SHIFT 21
#define RT_REGION_BYTES ((size_t)1 << RT_REGION_SHIFT)
#define RT_REGION_WORDS (RT_REGION_BYTES / 8)
#define RT_OWNER_OLD 0xfffeu
#define RT_OWNER_FREE 0xffffu
#define RT_MAX_WORKERS 256

/* ------------------------------------------------------------------------
 * Note [Worker state]
 *
 * Every entry point and every piece of generated code takes the worker as its
 * first argument: the JIT never uses thread-local storage (llvmlite's engines
 * abort on it), and the C runtime needs none either.  The first fields are
 * the ABI with generated code, at fixed offsets:
 *
 *     hp, limit      bump allocation: [hp, limit) is free; see Note [Reserve]
 *     sp, sp_limit   the root stack: Note [Roots]
 *     interrupt      nonzero asks the worker to call rt_safepoint_slow at its
 *                    next poll (function entry, loop back-edge, allocation
 *                    slow path): Note [Safepoints]
 *     id             0 is the API thread; helpers are 1 .. nworkers-1
 *     ctx            the context
 *     stack_limit    lowest safe C stack address: deeper recursion gives the
 *                    error value "stack exhausted"
 * ------------------------------------------------------------------------ */
typedef struct rt_spark_deque rt_spark_deque;
typedef struct rt_ctx rt_ctx;

typedef struct rt_worker_stats {
    uint64_t bytes_allocated;
    uint64_t local_gcs, local_pause_ns, local_pause_max_ns;
    uint64_t local_reclaimed_bytes, promotions;
    uint64_t local_skips;      /* promotions without a collection first */
    uint64_t sparks_created, sparks_dud, sparks_overflowed;
    uint64_t sparks_converted, sparks_fizzled;
    uint64_t steals, alloc_failures, unwinds, released_claims;
    uint64_t busy_ns;
    uint64_t idle_ns;          /* of busy_ns: waiting or searching with nothing to run */
    uint64_t susps_allocated;  /* generated code counts its own: "worker.susps" */
    uint64_t fx_giveups;       /* fixnum variants given up on: "worker.fx_giveups" */
    uint64_t last_resume_ns;  /* failed allocation to re-entered evaluation */
    /* tasks: Note [Tasks] */
    uint64_t tasks_members;    /* started for members of set / any? */
    uint64_t tasks_sparks;     /* started to run a spark while the others wait */
    uint64_t task_switches, preemptions, tasks_cancelled;
} rt_worker_stats;

typedef struct rt_extent { uint8_t *start, *end; } rt_extent;

typedef struct rt_worker {
    /* ---- ABI with generated code: offsets fixed, see rt_layout_table ---- */
    uint8_t *hp;
    uint8_t *limit;
    rt_val *sp;
    rt_val *sp_limit;
    _Atomic uint32_t interrupt;
    uint32_t id;
    rt_ctx *ctx;
    uintptr_t stack_limit;
    /* nonzero while some worker is hungry: a mirror of ctx->hungry on a line of its
     * own, so generated code tests it with one load (Note [Hungry workers]) */
    _Alignas(64) _Atomic uint32_t spark_wanted;
    /* ---- runtime-private ---- */
    uint8_t *extent_start;     /* where the current extent began (stats) */
    rt_val *sp_base;           /* root stack bottom */
    size_t sp_words;           /* its size */
    /* claims: Note [Suspension states] */
    rt_obj **claims;
    size_t nclaims, claims_cap;
    /* unwinding: Note [Resumable allocation failure] */
    jmp_buf *unwind;           /* innermost unwind target, NULL outside steps */
    size_t unwind_sp, unwind_claims;
    size_t step_base;          /* root-stack offset just above a step's argument */
    uint64_t progress;         /* commits: Note [Committed progress] */
    int unwind_reason;
    uint64_t fail_t0;
    /* nonzero while generic code recomputes a call its fixnum variant gave up on:
     * entries then skip the variants (Note [Fixnum entries] in jit/reps.py);
     * generated code reads and writes it ("worker.fx_off") */
    uint32_t fx_off;
    /* allocation */
    rt_extent *free_extents;   /* from the last local GC, in address order */
    size_t nfree, free_next, free_cap;
    uint32_t *regions;         /* local regions owned */
    size_t nregions, regions_cap;
    uint32_t local_skip;       /* promote without collecting this many more times, */
    uint32_t local_skip_next;  /* then this many: Note [Skipping poor local collections] */
    uint64_t inject_counter;
    uint64_t main_fail_at;     /* fail this reservation of the step (main only) */
    uint64_t main_fail_every;  /* then again this many reservations later */
    uintptr_t inject_extent_end;  /* real end of the extent while injecting */
    /* the write barrier's remembered set: Note [Local collection] */
    rt_val *remset;
    size_t nremset, remset_cap;
    /* local GC mark stack */
    rt_val *mark_stack;
    size_t mark_cap;
    /* sparks */
    rt_spark_deque *deque;
    _Alignas(64) _Atomic int thieves;  /* registered thieves: Note [Local collection] */
    _Atomic int gc_local_active;
    pthread_mutex_t inbox_lock;
    rt_val *inbox;                 /* stolen sparks, drained by the local GC */
    size_t ninbox, inbox_cap;
    _Alignas(64) char thieves_end_[1];   /* keep the thieves' lines apart */
    uint64_t rng;
    rt_obj *current_spark;         /* helper: the spark its scheduler runs */
    /* tasks: Note [Tasks] (rt_task.c).  The fields above from sp to fx_off, the
     * claims and `deep` are the running task's: a switch saves them into the task
     * it leaves and loads the next task's. */
    struct rt_task *task;          /* the task running on this worker */
    struct rt_task *main_task;     /* the step (worker 0) or the scheduler loop */
    struct rt_task **green;        /* the other tasks this worker owns */
    size_t ngreen, green_cap;
    size_t rr;                     /* round-robin cursor over main + green */
    _Atomic uint32_t nlive;        /* green tasks not finished: the ticker's test */
    _Atomic uint32_t preempt;      /* the ticker asks for a time-slice switch */
    _Atomic uint32_t cancel_pending;   /* another worker cancelled a task of ours */
    int slice_armed;               /* tasks race here: every poll counts (Note [Tasks]) */
    int slice_left;                /* polls left in the running task's time slice */
    int pending_unwind;            /* a green task unwound: the main task follows */
    int abandoning;                /* the main task is ending every green task */
    uint32_t nspark_tasks;         /* green tasks running sparks */
    struct rt_task *resume_after;  /* switch here when the running task ends */
    struct rt_task *zombie;        /* ended; its stack is freed by the next task */
    struct rt_task_stack **stack_pool;   /* stacks kept for reuse */
    size_t npool, pool_cap;
    struct rt_deep_state *deep;    /* the running task's `#` frames (rt_prims.c) */
    uint64_t backoff_gc;       /* helper: sleep until this major GC count */
    _Atomic int running;       /* helper: holds spark work (and maybe claims) */
    pthread_t thread;
    uint64_t *pause_log;       /* benchmarks: every local GC pause, if set */
    size_t pause_log_n, pause_log_cap;
    jmp_buf sched_jmp;
    rt_worker_stats stats;
    struct rt_trace_buf *trace;    /* NULL: not tracing; written by this worker only
                                      (Note [Trace buffers] in rt_trace.c) */
    int hungry;                /* counted in ctx->hungry: Note [Hungry workers] */
    int cpu;                   /* helper: the CPU it is pinned to, -1 none (Note [Worker placement]) */
} rt_worker;

/* ------------------------------------------------------------------------
 * Note [Roots]
 *
 * The collectors are precise.  Roots are:
 *   - each worker's root stack [sp_base, sp): generated code pushes every
 *     heap value it needs across a call that can reach a safepoint, and
 *     reloads it afterwards, because compaction moves objects;
 *   - each worker's claim stack (claimed suspensions are also on its root stack);
 *   - the context's global roots (top-level definitions) and handles (values
 *     held by the Python API);
 *   - the spark deques, WEAKLY: compaction drops a spark whose suspension is
 *     otherwise dead (counted "GC'd").  A worker's local collector treats its
 *     own deque as strong, because thieves read it concurrently.
 * A value that is not reachable from these may be reclaimed at any safepoint.
 * ------------------------------------------------------------------------ */

/* ------------------------------------------------------------------------
 * Note [Reserve]
 *
 * Allocation is "reserve, then allocate": rt_reserve(w, bytes) makes sure
 * [hp, hp + bytes) is free, calling rt_reserve_slow when it is not; after it,
 * rt_alloc_nogc bumps hp with no check and no safepoint.  So a failure (a
 * long jump, Note [Resumable allocation failure]) or a collection can happen
 * only at a reserve point, before any object of the group exists: no
 * half-built object is ever visible.  Generated code reserves once per basic
 * block for everything the block allocates.  rt_reserve_slow is a safepoint:
 * every heap value the caller holds must be on the root stack.
 * ------------------------------------------------------------------------ */
uint8_t *rt_reserve_slow(rt_worker *w, size_t bytes);

static inline void rt_reserve(rt_worker *w, size_t bytes)
{
    if (__builtin_expect((size_t)(w->limit - w->hp) < bytes, 0))
        rt_reserve_slow(w, bytes);
}
static inline rt_obj *rt_alloc_nogc(rt_worker *w, uint64_t header)
{
    rt_obj *o = (rt_obj *)w->hp;
    w->hp += 8 * (1 + (size_t)rt_hdr_size(header));
    o->header = header;
    return o;
}
/* Reserve and allocate one object: a safepoint. */
static inline rt_obj *rt_alloc(rt_worker *w, uint64_t header)
{
    rt_reserve(w, 8 * (1 + (size_t)rt_hdr_size(header)));
    return rt_alloc_nogc(w, header);
}

/* Root stack (Note [Roots]). */
void rt_roots_overflow_slow(rt_worker *w);
static inline void rt_push_root(rt_worker *w, rt_val v)
{
    if (__builtin_expect(w->sp >= w->sp_limit, 0))
        rt_roots_overflow_slow(w);
    *w->sp++ = v;
}
static inline rt_val rt_pop_root(rt_worker *w) { return *--w->sp; }

/* ------------------------------------------------------------------------
 * Note [Safepoints]
 *
 * Compaction needs every busy worker stopped with its roots on its root
 * stack.  Busy helper workers are the readers of a reader-writer lock
 * (ctx->busy counts them), the compactor (always the API thread, worker 0) is
 * the writer.  To compact, worker 0 sets ctx->gc_pending, raises every
 * helper's interrupt word and waits until ctx->busy is 0.  A helper polls its
 * interrupt word at function entries, loop back-edges and in the allocation
 * slow path; rt_safepoint_slow then leaves the lock (busy--), waits for the
 * compaction to end and re-enters.  Parked helpers are not busy, so they need
 * not be woken.  Entering the lock is busy++ then a check of gc_pending, both
 * sequentially consistent, so a helper and the compactor can never both
 * proceed.  A helper that needs a collection asks worker 0 for one (gc_request
 * and worker 0's interrupt word) and waits.
 * ------------------------------------------------------------------------ */
void rt_safepoint_slow(rt_worker *w);
static inline void rt_poll(rt_worker *w)
{
    if (__builtin_expect(atomic_load_explicit(&w->interrupt, memory_order_relaxed) != 0, 0))
        rt_safepoint_slow(w);
}

/* ------------------------------------------------------------------------
 * Note [Resumable allocation failure]
 *
 * When a worker cannot get memory (the heap limit is reached even after a
 * collection, or a fault is injected), it does not return: rt_unwind_slow
 * releases every claim above the worker's unwind mark (storing UNEVALUATED,
 * Note [Suspension states]), resets its root stack to the mark, and long-jumps
 * to the unwind target.  Nothing half-done was ever written into the shared
 * heap, so dropping the work is safe:
 *   - a helper lands in its scheduler loop; the spark it was running is pushed
 *     back (its suspension is unevaluated again), and it takes no new work until
 *     the next compaction;
 *   - worker 0 lands at the boundary of the evaluation step (rt_step), which
 *     compacts and runs the step again once; a second failure means the live
 *     data does not fit and rt_step returns RT_STEP_HEAP_EXHAUSTED.
 * The same path ends work when a step is abandoned (RT_UNWIND_ABANDON) or
 * interrupted (Ctrl-C, RT_UNWIND_INTERRUPT).
 * ------------------------------------------------------------------------ */

/* ------------------------------------------------------------------------
 * Note [Committed progress]
 *
 * Some steps have effects that must not happen twice: the printer writes
 * text.  Such a step commits after each effect with rt_step_commit, which
 * moves worker 0's unwind mark up to the current root-stack top: an unwind
 * then keeps everything below the mark (the step's pending work, which are
 * ordinary roots and so survive the compaction in between), and rt_step calls
 * the step function again, which sees rt_step_resuming() and carries on from
 * that state instead of starting over.  Work between two commits is redone,
 * but its effects come only at the commits.  A failure after new progress
 * counts as a first failure again, so only a step that cannot make progress
 * at all ends as heap exhausted.
 * ------------------------------------------------------------------------ */
static inline void rt_step_commit(rt_worker *w)
{
    if (w->unwind) {
        w->unwind_sp = (size_t)(w->sp - w->sp_base);
        w->unwind_claims = w->nclaims;
        w->progress++;
    }
}
static inline int rt_step_resuming(rt_worker *w)
{
    return (size_t)(w->sp - w->sp_base) > w->step_base;
}
enum { RT_UNWIND_NONE = 0, RT_UNWIND_ALLOC = 1, RT_UNWIND_ABANDON = 2, RT_UNWIND_INTERRUPT = 3,
       RT_UNWIND_CANCEL = 4 };
_Noreturn void rt_unwind_slow(rt_worker *w, int reason);

/* ------------------------------------------------------------------------
 * Note [Local collection]
 *
 * A worker reclaims garbage in its own regions by mark-sweep, without stopping
 * anyone, and without moving anything (other workers may hold pointers into
 * its regions).  It is safe because of one invariant:
 *
 *   (L) an object in worker A's regions that another worker can reach is
 *       reachable, through A's regions, from A's local roots: A's root stack,
 *       A's spark deque, A's remembered set (and for worker 0 the context's
 *       global roots and handles).
 *
 * The heap is immutable except for suspension updates, so a value can leave a
 * worker in only two ways, and each records it:
 *   - a stolen spark: a thief first registers with the victim (victim->thieves),
 *     and after a successful steal leaves the suspension in the victim's steal
 *     inbox, which the victim's collector drains into its remembered set.  The
 *     collector first closes the door (gc_local_active) and waits for
 *     registered thieves to finish, so a suspension is always in the deque or
 *     in the inbox while a thief can be between the two.  Sparks nobody steals
 *     cost the remembered set nothing;
 *   - an update (the write barrier): when worker A stores value V into a
 *     suspension S that is not in A's regions, A adds V to its remembered set.
 *     (An update of a suspension in A's own regions needs nothing: if anyone
 *     else can reach S, (L) already makes A's collector trace S, and with it V.)
 * The local marker follows pointers only into the worker's own regions, with
 * a side mark bitmap per region (no header is written, so concurrent readers of
 * escaped objects see no change), and sweeps by scanning the bitmap: the gaps
 * between marked objects become free extents, which the bump allocator fills
 * in turn.  Entries in the remembered set live until the worker's regions are
 * promoted or the heap is compacted.  When a collection reclaims less than a
 * quarter of the local heap, the worker promotes: all its regions become old
 * space (their owner word changes; nothing moves) and it starts afresh (and may
 * skip the next collections: Note [Skipping poor local collections]).
 * ------------------------------------------------------------------------ */

/* ------------------------------------------------------------------------
 * Note [Skipping poor local collections]
 *
 * A local collection's cost is the live data it marks, so the collections that
 * reclaim least cost most: a phase that builds a long list (a partition, a `#`
 * loop) keeps all it allocates, and each collection marks a full region only to
 * promote it.  What survived the last collection is the best guess at what
 * survives the next, so after a poor one (one that promoted) the worker promotes
 * its next full region without marking it, then two, then four
 * (RT_LOCAL_SKIP_MAX) while the collections in between stay poor, and collects
 * every region again as soon as one collection pays (local_skip,
 * local_skip_next; rt_reserve_slow).  Skipping changes only when garbage is
 * found: promoted garbage waits for the next compaction, which copies only live
 * data, so it costs heap, not time.  Measured (AOT, best of 5, interleaved):
 * the plain quicksort of 10^6 on one worker spent 518 ms in local collections
 * and 330 with skipping, 1.52 -> 1.40 s in all; the annotated one on two
 * workers 351 -> 201 ms, 0.85 -> 0.74 s, for a peak heap 20% higher (438 ->
 * 524 MB); nothing changed for programs whose collections pay.  A skipped
 * collection leaves the steal inbox undrained; its entries are then old
 * objects, which the next collection's marker ignores.  `--stats` counts the
 * promotions made without collecting.
 * ------------------------------------------------------------------------ */

/* ------------------------------------------------------------------------
 * Note [Values made elsewhere]
 *
 * (L) must survive updates.  When worker B evaluates a suspension S that lives
 * in A's regions, it reads A's objects through S's environment and may build
 * its value V, in B's regions, with pointers back to them (the elements of a
 * list it sorted, say).  Once S says EVALUATED, A's marker would follow only V,
 * and it never follows pointers out of its own regions: the objects V points
 * back to would be reachable by B but swept by A.  So A's marker keeps the
 * environment of an evaluated suspension whose value is a pointer outside A's
 * regions (rt_gc.c trace_local): every path through A's regions that B could
 * have read stays a path.  The environment lives until the next compaction,
 * which replaces S by V everywhere.  (Found by the differential tests: batch
 * `normal` seeds 500..749 at 2-4 workers crashed or printed wrong values about
 * one run in two; tests/test_gc_escapes.py keeps it.)
 * ------------------------------------------------------------------------ */

/* ------------------------------------------------------------------------
 * Note [Compaction]
 *
 * Worker 0 compacts the whole context (all local regions and old space) into
 * fresh old-space regions by Cheney copying, with the world stopped as Note
 * [Safepoints] describes, and the stopped helpers join the copy (Note
 * [Parallel compaction] in rt_gc.c).  A copied object's header becomes its new address
 * (bit 0 clear).  A reference to an evaluated suspension is replaced by its
 * value, so indirections disappear.  Claimed suspensions are copied with their
 * state, so claims survive and their claimants find them through their root
 * stacks.  Afterwards every worker's remembered set, free extents and local
 * regions are empty, and sparks are filtered: an evaluated suspension is
 * fizzled, a suspension nobody else reaches is dropped ("GC'd").  The copy
 * may need as much space again as the live data, beyond the --heap limit;
 * after it the live data alone must fit.  Unevaluated selector suspensions
 * whose source is already a list are replaced by what they select: Note
 * [Selector suspensions].
 * ------------------------------------------------------------------------ */

/* ------------------------------------------------------------------------
 * Note [Selector suspensions]
 *
 * A lazy pattern, `let:[[lo hi] partition:[X Xs] ...]`, binds each name to a
 * selector: a suspension (code rt_select_code, environment [source, which])
 * that will take the head (which 0) or tail (1) of the source's value.  Until
 * it runs, a selector keeps the whole source alive, not only the part it
 * selects: once `partition` has made its pair, `hi`'s selector keeps `lo`'s
 * list alive through the pair long after `lo` has been sorted and dropped (the
 * selector space leak; Wadler, "Fixing some space leaks with a garbage
 * collector", 1987).
 *
 * So compaction, which sees the whole heap with the world stopped, evaluates
 * selectors itself when that takes no allocation and no code: when evacuating
 * an unevaluated selector whose source is, after following evaluated
 * suspensions and (to a bounded depth) other such selectors, a cons, the
 * reference is replaced by the selected field, and the selector is not copied.
 * The field is what the selector's code would have returned (a value, or a
 * suspension the forcer then forces), so nothing observable changes; every
 * reference to the same selector is replaced alike.  A claimed selector is
 * running and is left alone, as is one whose source is not a cons yet (still
 * suspended, an error or a mismatch: its code must run to say which).
 * Consequences code relies on: a root slot or environment word that held an
 * unevaluated suspension may hold a value after a safepoint, exactly as one
 * that held an evaluated suspension already could; only the claimant of a
 * suspension may assume it stays a suspension.  The local collector moves
 * nothing and leaves selectors as they are.
 * ------------------------------------------------------------------------ */

/* ---- contexts ------------------------------------------------------------ */
typedef struct rt_config {
    uint32_t nworkers;          /* total including worker 0; 0 means cores */
    uint64_t heap_limit;        /* bytes; 0 means 3/4 of physical memory */
    uint64_t local_budget;      /* local heap bytes before a local GC; 0 = 2 MiB */
    uint32_t deque_capacity;    /* sparks per worker, a power of two; 0 = 8192 */
    uint64_t inject_fail_every; /* fault injection: helpers fail every Nth allocation */
    uint32_t gc_stress;         /* nonzero: compact at every worker-0 slow path */
    size_t root_stack_words;    /* 0 = 32M words */
    size_t helper_stack_bytes;  /* 0 = 256 MiB */
    size_t main_stack_bytes;    /* worker 0's step stack, Note [Step stacks]; 0 = 4 GiB,
                                   RT_STEP_ON_CALLER_STACK = none */
    uint64_t trace_events;      /* events each worker may record (rt_trace.c); 0 = off */
    uint32_t no_pin;            /* nonzero: leave the helpers' CPUs to the kernel
                                   (Note [Worker placement] in rt_ctx.c) */
} rt_config;

enum { RT_STEP_OK = 0, RT_STEP_HEAP_EXHAUSTED = 1, RT_STEP_INTERRUPTED = 2 };
#define RT_STEP_ON_CALLER_STACK ((size_t)-1)

/* ------------------------------------------------------------------------
 * Note [Step stacks]
 *
 * Lazy evaluation recurses deeply: forcing a chain of a million suspensions
 * nests a million calls.  So every step of worker 0 runs on a stack of its own,
 * 1 GiB of reserved address space (only touched pages cost memory) with a guard
 * page, switched to with swapcontext on the API thread itself; helpers get
 * 256 MiB thread stacks.  Each worker's stack_limit sits 256 KiB above the
 * bottom, and rt_force_slow (and generated code at function entry) compares
 * the stack pointer with it: past it, a demand gives the error value "stack
 * exhausted" instead of a crash.  Sanitizer builds run steps on the caller's
 * stack (ThreadSanitizer does not follow swapcontext); the guard works the same.
 * ------------------------------------------------------------------------ */
int rt_step_has_own_stack(rt_ctx *ctx);

rt_ctx *rt_ctx_new(const rt_config *cfg);
void rt_ctx_free(rt_ctx *ctx);
rt_worker *rt_ctx_main(rt_ctx *ctx);
uint32_t rt_ctx_nworkers(rt_ctx *ctx);
rt_worker *rt_ctx_worker(rt_ctx *ctx, uint32_t id);

/* An evaluation step (Note [Resumable allocation failure]): run fn(w0, arg)
 * on worker 0 with the helpers active, store its result in *out. */
typedef rt_val (*rt_step_fn)(rt_worker *w, rt_val arg);
int rt_step(rt_ctx *ctx, rt_step_fn fn, rt_val arg, rt_val *out);
void rt_request_interrupt(rt_ctx *ctx);   /* async-signal-safe */

/* Global roots and handles (Note [Roots]); only worker 0 calls these. */
uint32_t rt_global_new(rt_ctx *ctx, rt_val v);
rt_val rt_global_get(rt_ctx *ctx, uint32_t index);
void rt_global_set(rt_ctx *ctx, uint32_t index, rt_val v);

/* Atoms: interned forever; thread-safe. */
rt_val rt_atom(rt_ctx *ctx, const char *name, size_t len);
const char *rt_atom_name(rt_ctx *ctx, rt_val atom, size_t *len);

/* Values. */
rt_val rt_int(rt_worker *w, int64_t i);           /* boxes when needed */
int rt_int_get(rt_val v, int64_t *out);           /* 1 if v is an integer */
rt_val rt_float(rt_worker *w, double d);
rt_val rt_cons(rt_worker *w, rt_val head, rt_val tail);   /* safepoint: roots its args */
rt_val rt_susp_new(rt_worker *w, rt_susp_code code, uint32_t nenv, const rt_val *env);
rt_val rt_error_new(rt_worker *w, const char *message);
typedef rt_val (*rt_closure_code)(struct rt_worker *w, rt_val self, rt_val arg);
rt_val rt_closure_new(rt_worker *w, rt_closure_code code, uint32_t arity, uint32_t nfree,
                      const rt_val *free_vars);
rt_val rt_form_new(rt_worker *w, uint32_t kind, uint32_t nfields, const rt_val *fields);
int rt_is_error(rt_val v);

/* Forcing: Note [Suspension states]. */
rt_val rt_force_slow(rt_worker *w, rt_val s);
static inline rt_val rt_force(rt_worker *w, rt_val v)
{
    if (rt_is_type(v, RT_T_SUSP)) {
        rt_obj *o = rt_obj_of(v);
        if (atomic_load_explicit((_Atomic uint64_t *)&o->field[RT_SUSP_STATE],
                                 memory_order_acquire) == RT_SUSP_EVALUATED)
            return atomic_load_explicit((_Atomic rt_val *)&o->field[RT_SUSP_VALUE],
                                        memory_order_relaxed);
        return rt_force_slow(w, v);
    }
    return v;
}
/* Store a suspension's value and release waiters: the write barrier. */
void rt_susp_update(rt_worker *w, rt_obj *s, rt_val v);

/* Sparks (rt_spark.c). */
void rt_spark(rt_worker *w, rt_val v);
int rt_spark_run_one(rt_worker *w);   /* run one spark if any; 1 if it did */

/* Fault injection (tests): worker 0 fails its k-th reservation from now. */
void rt_inject_main_failure(rt_worker *w, uint64_t k);
void rt_inject_main_failures_every(rt_worker *w, uint64_t every);

/* Collections on demand (worker 0 / the owner only). */
uint64_t rt_gc_local(rt_worker *w);     /* returns the bytes it made usable */
void rt_gc_major(rt_worker *w0);

/* Printed forms and buffered output (rt_print.c). */
enum { RT_PK_NONE = 0, RT_PK_WORD, RT_PK_OPEN, RT_PK_CLOSE, RT_PK_PREFIX, RT_PK_COLON,
       RT_PK_DOT, RT_PK_BANG, RT_PK_EQ, RT_PK_NEWLINE };
typedef struct rt_out {
    int fd, is_tty, prev_kind;
    _Atomic int error;                    /* errno of a failed write (any thread's) */
    /* the context's flusher while this is its print target, else NULL: then the
     * fields below are under the flusher's lock (Note [Prompt output], rt_print.c) */
    struct rt_flusher *fl;
    size_t n;
    uint64_t first_pending_ns, flush_after_ns;
    char buf[65536];
} rt_out;
void rt_out_init(rt_out *o, int fd);
void rt_out_write(rt_out *o, const char *s, size_t n);
int rt_out_flush(rt_out *o);
void rt_out_discard(rt_out *o);          /* drop what is buffered, unwritten */
/* Print v, forcing as it goes (a safepoint); with top, a unit prints nothing. */
void rt_print(rt_worker *w, rt_val v, rt_out *o, int top);
/* A step that prints arg's printed form and a newline to *out, committing
 * after each token (Note [Committed progress]): even when allocation fails
 * part-way, every token is written exactly once.  `out` is ctx's print target. */
rt_val rt_print_step(rt_worker *w, rt_val arg);
/* Make out (or NULL) ctx's print target; a target that is not a terminal is
 * flushed by the context's flusher thread too (Note [Prompt output]), so detach it
 * (set another target or NULL) before freeing it. */
void rt_set_print_target(rt_ctx *ctx, rt_out *out);
void rt_print_newline(rt_out *o);
int rt_atom_is_ident(const char *s, size_t n);
void rt_format_float(double d, char *buf, size_t n);
/* Name a function for printing: key is a code address or a primitive value. */
void rt_code_name_set(rt_ctx *ctx, const void *key, rt_val name_atom);

/* ------------------------------------------------------------------------
 * Primitives (rt_prims.c)
 *
 * Every primitive is an immediate rt_prim_val(i), i its index in the table,
 * which is sorted by name in byte order (Python's sorted() of
 * frontend/primitives.py PRIMITIVES).  A primitive receives its operand
 * exactly as interp/prims.py Prim.call does: possibly a suspension; the
 * one-operand `strict` primitives force it themselves.  Primitives answer in
 * weak head normal form.  Functions that primitives make (map:f, smap:f,
 * fc:fs) are closures of arity 1 whose code is C; they print as <function>.
 * Error texts are byte for byte those of interp/prims.py and eval.py
 * `describe`, with every '>' written '}'.
 * ------------------------------------------------------------------------ */
typedef rt_val (*rt_prim_fn)(rt_worker *w, rt_val arg);
uint32_t rt_prim_count(void);
const char *rt_prim_name(uint32_t i);          /* NULL if out of range */
int rt_prim_lookup(const char *name);           /* index or -1 */
/* rt_code_name_set for every primitive value, so each prints <function NAME>. */
void rt_prims_register_names(rt_ctx *ctx);
/* f:arg.  f may be a suspension (forced first).  A closure runs its code (the
 * result may be an unevaluated suspension: force it when WHNF is needed); a
 * primitive runs rt_prim_call; an error is the answer itself; anything else
 * is the error "not a function: ...". */
rt_val rt_apply(rt_worker *w, rt_val f, rt_val arg);
rt_val rt_prim_call(rt_worker *w, uint32_t prim, rt_val arg);
/* Field 0 (head) or 1 (tail) of src without forcing anything (Note [Lazy
 * patterns] in interp/eval.py): evaluated suspensions are looked through; an
 * unevaluated one gives a new suspension that selects when forced; an error
 * gives itself; any other value the error "pattern mismatch: ...". */
rt_val rt_select(rt_worker *w, rt_val src, int which);
/* `#`: v forced to normal form, left to right, once round any cycle; returns
 * v's value (WHNF of the top).  No C recursion over long or deep lists. */
rt_val rt_deep_force(rt_worker *w, rt_val v);
/* The error "PREFIX" + describe(v), e.g. prefix "not a function: ". */
rt_val rt_describe_error(rt_worker *w, const char *prefix, rt_val v);
rt_val rt_stack_exhausted(rt_worker *w);        /* the error value "stack exhausted" */
static inline int rt_truthy(rt_val v) { return v != RT_NIL; }
/* Token values (rt_streams.c, rt_is_token below): eq? compares them by identity
 * and describe calls them "a token". */

/* `val` and `evlst` in the top-level environment.  A top-level definition is
 * registered under its name (an identifier atom) with the global root that
 * holds its binding; a later definition of the same name replaces the earlier
 * one.  rt_toplevel_lookup gives the binding as it is (maybe a suspension),
 * else a predefined name (a primitive, true, nil, stdin), else the error "unbound identifier NAME".  Forms
 * (application, function, annotation, definition) run the code compiled with
 * the program for them (Note [Forms with code] in jit/lower.py), else go to the
 * eval hook, which the JIT installs to compile them, else (an ahead-of-time
 * executable) to rt_formeval, which evaluates the form by walking it. */
void rt_toplevel_define(rt_ctx *ctx, rt_val name_atom, uint32_t global_index);
rt_val rt_toplevel_lookup(rt_worker *w, rt_val name_atom);
typedef rt_val (*rt_eval_hook)(rt_worker *w, rt_val form);
void rt_set_eval_hook(rt_ctx *ctx, rt_eval_hook hook);
/* `val` of an application, function, annotation or definition form in the
 * top-level environment, without a compiler (rt_formeval.c): its value (WHNF), or
 * the error value the interpreter gives for a malformed form. */
rt_val rt_formeval(rt_worker *w, rt_val form);

/* The device primitives (rt_prim_console ... rt_prim_scnos) are declared with
 * the streams below. */

/* Whole programs (rt_program.c): evaluate and print n top-level values. */
enum { RT_EXIT_OK = 0, RT_EXIT_IO = 1, RT_EXIT_HEAP = 3, RT_EXIT_INTERRUPT = 130,
       RT_EXIT_PIPE = 141 };
int rt_run_toplevel(rt_ctx *ctx, uint32_t n, rt_step_fn toplevel, rt_out *out, FILE *err);
uint64_t rt_parse_size(const char *s);   /* "512M" -> bytes; 0 if malformed */

/* Statistics (Note: printed in the spirit of GHC's +RTS -s). */
typedef struct rt_stats {
    uint64_t bytes_allocated, local_gcs, local_pause_ns, local_pause_max_ns;
    uint64_t major_gcs, major_pause_ns, major_pause_max_ns;
    uint64_t peak_heap_bytes, live_bytes_after_major, heap_in_use_bytes;
    uint64_t sparks_created, sparks_dud, sparks_overflowed;
    uint64_t sparks_converted, sparks_fizzled, sparks_gcd;
    uint64_t alloc_failures, unwinds, released_claims, promotions, steps;
    uint64_t susps_allocated, fx_giveups;
    uint64_t selectors_resolved;   /* Note [Selector suspensions] */
    uint64_t major_joins;          /* helpers that joined compactions */
    uint64_t local_skips;          /* Note [Skipping poor local collections] */
    uint64_t tasks_members, tasks_sparks;   /* green tasks started: Note [Tasks] */
    uint64_t task_switches, preemptions, tasks_cancelled;
} rt_stats;
void rt_stats_get(rt_ctx *ctx, rt_stats *out);
void rt_stats_print(rt_ctx *ctx, FILE *f);
uint64_t rt_worker_busy_ns(rt_ctx *ctx, uint32_t id);
uint64_t rt_heap_limit(rt_ctx *ctx);
void rt_report_heap_exhausted(rt_ctx *ctx, FILE *f);

/* Tracing (rt_trace.c): a timeline of what each worker did, recorded only when
 * rt_config.trace_events is nonzero.  Each worker records into its own bounded
 * buffer; when it is full, further events are counted as dropped.  Times are
 * CLOCK_MONOTONIC nanoseconds (rt_now_ns); an instant has end_ns == start_ns. */
enum {
    RT_TRACE_STEP = 1,          /* worker 0: an evaluation step (rt_step); arg: step number */
    RT_TRACE_AWAKE = 2,         /* a helper awake during a step (not parked) */
    RT_TRACE_SPARK_RUN = 3,     /* a spark's suspension evaluated, or one stretch of it
                                   when its task was switched away from and back
                                   (Note [Tasks]); arg: RT_TRACE_SPARK_* bits */
    RT_TRACE_SPARK_STOLEN = 4,  /* instant: a spark taken from another deque; arg: victim */
    RT_TRACE_GC_LOCAL = 5,      /* a local collection; arg: KiB made usable */
    RT_TRACE_GC_MAJOR = 6,      /* a compaction, on worker 0; arg: KiB live after it */
    RT_TRACE_GC_STOPPED = 7,    /* a helper paused for a compaction; arg: 0 held at a
                                   safepoint, 1 waiting for one it asked for (no room) */
    RT_TRACE_UNWIND = 8,        /* instant: work dropped by unwinding; arg: RT_UNWIND_* */
    RT_TRACE_GC_HELP = 9,       /* a helper copying and scanning in a compaction (Note
                                   [Parallel compaction] in rt_gc.c); arg: 0 */
    RT_TRACE__KINDS
};
/* RT_TRACE_SPARK_RUN's argument: run by a spark task, while the worker's other tasks
 * waited; a stretch after the first of a run switched away from. */
enum { RT_TRACE_SPARK_WHILE_WAITING = 1, RT_TRACE_SPARK_RESUMED = 2 };
typedef struct rt_trace_event {
    uint64_t start_ns, end_ns;
    uint32_t kind, arg;
} rt_trace_event;
const char *rt_trace_kind_name(uint32_t kind);       /* NULL if unknown */
int rt_trace_enabled(rt_ctx *ctx);
uint64_t rt_trace_epoch_ns(rt_ctx *ctx);              /* when the context was made */
uint64_t rt_trace_capacity(rt_ctx *ctx);              /* events per worker at most */
uint64_t rt_trace_count(rt_ctx *ctx, uint32_t worker);     /* events recorded so far */
uint64_t rt_trace_dropped(rt_ctx *ctx, uint32_t worker);   /* events lost: buffer full */
/* Copy worker's events [first, first + max) that exist into out; returns how many.
 * Any thread, at any time (recorded events never change); the events of one
 * worker are in the order they ended. */
size_t rt_trace_read(rt_ctx *ctx, uint32_t worker, uint64_t first, rt_trace_event *out,
                     size_t max);

/* Checking (tests): walk everything reachable; count claimed suspensions and
 * malformed objects.  Only between steps. */
typedef struct rt_heap_check {
    uint64_t objects, claimed, bad, sparks;
} rt_heap_check;
void rt_heap_verify(rt_ctx *ctx, rt_heap_check *out);

/* Layout table for the Python side: NULL-terminated names and values. */
typedef struct rt_layout_entry { const char *name; int64_t value; } rt_layout_entry;
const rt_layout_entry *rt_layout_table(void);

/* Built-in self-tests (rt_selftest.c): returns the number of failures and
 * writes a report to f. */
int rt_selftest(const char *name, uint32_t nworkers, uint64_t scale, FILE *f);

/* For generated code (rt_jit.c): Note [Forms with code] in jit/lowering.py. */
void rt_form_code_register(rt_ctx *ctx, uint32_t global, rt_closure_code code);
rt_closure_code rt_form_code_find(rt_ctx *ctx, rt_val form);
void rt_form_codes_forget(rt_ctx *ctx);
rt_val rt_form_build(rt_worker *w, const uint8_t *enc, size_t n, uint32_t gbase,
                     rt_closure_code const *codes);
rt_val rt_whnf(rt_worker *w, rt_val v);   /* rt_force, out of line */
void rt_cons_set_tail(rt_worker *w, rt_val cell, rt_val v);   /* with the write barrier */
/* The slow paths of generated code's inline primitives (Note [Primitive slow paths]
 * in jit/lowering.py): primitive `prim` applied to the list of the first n (<= 3)
 * of a, b, c, or to arg itself, and forced: the value in WHNF. */
rt_val rt_prim_list(rt_worker *w, uint32_t prim, uint32_t n, rt_val a, rt_val b, rt_val c);
rt_val rt_prim_whnf(rt_worker *w, uint32_t prim, rt_val arg);
void rt_sigint_install(rt_ctx *ctx);      /* Ctrl-C interrupts ctx; NULL: default */

/* Monotonic clock in nanoseconds. */
uint64_t rt_now_ns(void);

/* ---- Devices and streams (rt_streams.c) ----------------------------------------
 * The devices and stream stages of LANGUAGE.md section 6 (interp/streams.py).  Each
 * rt_prim_* takes its argument possibly unforced and returns a value or a suspension.
 *
 * Token values (docs/language.md, streams) are the tokens that are neither numbers
 * nor identifiers: punctuation, prefixes, the end-of-line mark, string literals and
 * printed text such as `<function f>`.  A token is an immediate constant word,
 *     (index << 8) | RT_TOKEN_TAG
 * indexing the context's token table {text, spacing kind RT_PK_*, value}.  Tokens
 * without a value are interned by (text, kind), so eq? is word equality; a string
 * literal token carries its decoded atom as value and is never interned.  The low
 * byte RT_MARKER_TAG is reserved for markers the runtime keeps on its own stacks
 * (rt_print.c): no Daisy value has it. */
#define RT_TOKEN_TAG   ((rt_val)0x16)
#define RT_MARKER_TAG  ((rt_val)0x1e)
static inline int rt_is_token(rt_val v) { return (v & 0xff) == RT_TOKEN_TAG; }
rt_val rt_token(rt_ctx *ctx, const char *text, size_t n, int kind, rt_val value);
/* A token's text (not NUL-terminated; stable for the context's life), its spacing
 * kind and value atom (RT_NULL for none); NULL if tok is not a token. */
const char *rt_token_text(rt_ctx *ctx, rt_val tok, size_t *len, int *kind, rt_val *value);

rt_val rt_prim_console(rt_worker *w, rt_val arg);
rt_val rt_prim_screen(rt_worker *w, rt_val arg);
rt_val rt_prim_scnis(rt_worker *w, rt_val arg);
rt_val rt_prim_prsis(rt_worker *w, rt_val arg);
rt_val rt_prim_prsos(rt_worker *w, rt_val arg);
rt_val rt_prim_scnos(rt_worker *w, rt_val arg);
/* The value of the predefined name `stdin`: one shared lazy stream per context,
 * kept as a global root.  The first call creates it and must be on worker 0 (it
 * calls rt_global_new); rt_streams_init does that ahead of time. */
rt_val rt_stdin_stream(rt_worker *w);
void rt_streams_init(rt_ctx *ctx);
/* A step that writes the stream arg as screen:arg does, to ctx's print target,
 * committing after each write (Note [Committed progress]): under allocation
 * failures every character is written exactly once.  rt_prim_screen called from
 * generated code cannot commit, so a step that is retried writes again. */
rt_val rt_screen_step(rt_worker *w, rt_val arg);

static_assert((RT_TOKEN_TAG & RT_TAG_MASK) == RT_TAG_CONST, "tokens are constants");
static_assert((RT_MARKER_TAG & RT_TAG_MASK) == RT_TAG_CONST, "markers are constants");
static_assert(RT_TOKEN_TAG != RT_NIL && RT_TOKEN_TAG != RT_UNIT && RT_MARKER_TAG != RT_NIL &&
              RT_MARKER_TAG != RT_UNIT && RT_TOKEN_TAG != RT_MARKER_TAG,
              "token and marker words differ from [] and unit");
static_assert(RT_NIL < 0x100 && RT_UNIT < 0x100, "[] and unit are one-byte words");

/* ---- layout assumptions ---- */
static_assert(sizeof(rt_val) == 8, "values are one word");
static_assert(sizeof(void *) == 8, "64-bit targets only");
static_assert(sizeof(rt_obj) == 8, "header is one word");
static_assert(offsetof(rt_worker, hp) == 0, "JIT ABI: hp");
static_assert(offsetof(rt_worker, limit) == 8, "JIT ABI: limit");
static_assert(offsetof(rt_worker, sp) == 16, "JIT ABI: sp");
static_assert(offsetof(rt_worker, sp_limit) == 24, "JIT ABI: sp_limit");
static_assert(offsetof(rt_worker, interrupt) == 32, "JIT ABI: interrupt");
static_assert(offsetof(rt_worker, id) == 36, "JIT ABI: id");
static_assert(offsetof(rt_worker, ctx) == 40, "JIT ABI: ctx");
static_assert(offsetof(rt_worker, stack_limit) == 48, "JIT ABI: stack_limit");
static_assert(offsetof(rt_worker, spark_wanted) == 64, "JIT ABI: spark_wanted, a line of its own");
static_assert(offsetof(rt_worker, trace) > offsetof(rt_worker, stack_limit),
              "tracing is runtime-private, after the ABI fields");
static_assert(sizeof(rt_trace_event) == 24, "trace events are three words (rt/native.py)");
static_assert(RT_T__COUNT <= 128, "type fits in 7 bits");
static_assert((RT_NIL & RT_TAG_MASK) == RT_TAG_CONST, "nil is a constant");
static_assert((RT_REGION_BYTES & (RT_REGION_BYTES - 1)) == 0, "regions are a power of two");

#ifdef __cplusplus
}
#endif
#endif
