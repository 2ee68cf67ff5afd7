/* rt_internal.h -- the context and the pieces shared by the runtime's C files.
 * Not part of the ABI with generated code: only daisy_rt.h is. */
#ifndef DAISY_RT_INTERNAL_H
#define DAISY_RT_INTERNAL_H

#include "daisy_rt.h"

#define RT_CACHE_LINE 64

#if defined(__x86_64__) || defined(__i386__)
#define cpu_relax() __builtin_ia32_pause()
#else
#define cpu_relax() ((void)0)
#endif
#define RT_OWNER_TOSPACE 0xfffdu
#define RT_NO_REGION 0xffffffffu
#define RT_MIN_EXTENT_BYTES 256
#define RT_REMSET_PROMOTE 65536   /* entries: promote rather than re-mark them all */
#ifndef RT_LOCAL_SKIP_MAX         /* -DRT_LOCAL_SKIP_MAX=0: never skip (to measure) */
#define RT_LOCAL_SKIP_MAX 4       /* Note [Skipping poor local collections] */
#endif
/* Worker 0 compacts when the regions in use pass RT_MAJOR_FACTOR times the live
 * data after the last compaction (plus the workers' local budgets).  3, not 2:
 * the thesis quicksort of 10^6 integers compacted 30 times at 2 and 17 at 3
 * (1.75 s against 1.64 s on 1 worker, annotated on 2 workers 1.15 s against
 * 0.90 s), for a peak heap of 328 MB instead of 258 MB (docs/runtime.md). */
#define RT_MAJOR_FACTOR 3
#define RT_ATOM_CHUNK 1024
#define RT_ATOM_CHUNKS 65536

/* Chase-Lev work-stealing deque (rt_spark.c).  top and bottom sit on their own
 * cache lines: thieves write top, the owner writes bottom. */
struct rt_spark_deque {
    _Alignas(RT_CACHE_LINE) _Atomic int64_t top;
    _Alignas(RT_CACHE_LINE) _Atomic int64_t bottom;
    _Alignas(RT_CACHE_LINE) int64_t mask;
    _Atomic(rt_obj *) *buf;
};

/* A task: one evaluation with a C stack and a root stack of its own (Note
 * [Tasks] in rt_task.c).  Each worker has a main task (its step or scheduler
 * loop, on the thread's own stacks) and may own green tasks: the members of
 * set and any?, and sparks it runs while its other tasks wait.  A task never
 * moves to another worker once started (its frames hold the worker pointer). */
enum { RT_TASK_MAIN = 0, RT_TASK_SPARK = 1, RT_TASK_MEMBER = 2 };
enum { RT_TS_FREE = 0, RT_TS_NEW, RT_TS_RUNNABLE, RT_TS_BLOCKED, RT_TS_DONE, RT_TS_TAKEN };
enum { RT_WAIT_NONE = 0, RT_WAIT_SUSP, RT_WAIT_RACE, RT_WAIT_GREEN };

typedef struct rt_task_stack {
    uint8_t *mem;                  /* the mapping: guard, C stack, root stack */
    size_t len, c_bytes, root_words;
} rt_task_stack;

typedef struct rt_task_ref { struct rt_task *t; uint64_t gen; } rt_task_ref;

typedef struct rt_task {
    uint32_t id;                   /* its claims: rt_susp_claimed_by(id) */
    _Atomic uint8_t kind;          /* RT_TASK_*; atomic, as owner: a reused task struct
                                    * may still be looked at through a stale id */
    _Atomic int state;             /* RT_TS_*; NEW -> RUNNABLE or TAKEN by CAS */
    _Atomic uint64_t gen;          /* bumped on reuse: stale records (demand, a member's
                                    * spark) skip it */
    _Atomic(rt_worker *) owner;
    /* read by other workers (wait_cycle, cancellation, demand) */
    _Atomic(rt_obj *) top_claim;   /* innermost claim */
    _Atomic(rt_obj *) waiting_on;  /* the suspension it waits for, if any */
    _Atomic(rt_obj *) root;        /* the suspension it evaluates from its base */
    _Atomic(rt_obj *) cancel;      /* cancel it while its root is this */
    _Atomic uint32_t demand;       /* tasks blocked on it (Note [Tasks]: demand) */
    /* the worker fields it runs with, saved while it does not run */
    void *csp;                     /* machine stack pointer at its last switch */
    rt_val *sp, *sp_base, *sp_limit;
    uintptr_t stack_limit;
    rt_obj **claims;
    size_t nclaims, claims_cap;
    jmp_buf *unwind;
    size_t unwind_sp, unwind_claims;
    uint32_t fx_off;
    struct rt_deep_state *deep;
    void *streams_scratch;         /* rt_streams.c's scratch of this task (Note [Scratch
                                    * per task] there), made when first used */
    /* while BLOCKED */
    int wait_kind;                 /* RT_WAIT_* */
    uint64_t wait_state;           /* RT_WAIT_SUSP: the state it saw */
    size_t wait_slot;              /* root-stack offset of the suspension / pending list */
    int cycle;                     /* the cycle breaker answered its wait */
    uint64_t blocked_seq;
    rt_task_ref *demanded;         /* tasks whose demand it raised */
    size_t ndemanded, demanded_cap;
    rt_task_stack *stack;          /* NULL: a main task */
    void *san_fiber;               /* ThreadSanitizer's fiber, AddressSanitizer's fake stack */
    const void *stack_bottom;      /* for AddressSanitizer's fiber switches */
    size_t stack_size;
    struct rt_task *next_free;
    /* tracing: the start of the running stretch of a spark run (0: none), and
     * that run's event argument (RT_TRACE_SPARK_*) */
    uint64_t trace_t0;
    uint32_t trace_arg;
    int trace_resumed;             /* switched away from in the middle of a run */
} rt_task;

typedef struct rt_atom_entry { char *name; uint32_t len; } rt_atom_entry;
typedef struct rt_code_name { const void *code; rt_val name; } rt_code_name;

/* Note [Worker placement] in rt_ctx.c: whether helpers are pinned, and why not. */
enum { RT_PLACE_PINNED, RT_PLACE_ONE_WORKER, RT_PLACE_OFF, RT_PLACE_TOO_FEW_CPUS };

/* Compaction's team: worker 0 and the helpers that join it (Note [Parallel
 * compaction] in rt_gc.c).  Everything but the atomics is under `lock`. */
typedef struct rt_gc_span { uint8_t *start, *end; } rt_gc_span;
typedef struct rt_gc_team {
    pthread_mutex_t lock;
    pthread_cond_t cv;              /* idle members wait here for spans or the end */
    rt_gc_span *spans;              /* copied objects nobody has scanned yet */
    size_t nspans, spans_cap;
    uint32_t *regions;              /* every to-space region taken, for the live count */
    size_t nregions, regions_cap;
    uint32_t members;               /* joined this compaction, worker 0 included */
    _Atomic uint32_t idle;          /* members waiting in team_take */
    _Atomic uint32_t inside;        /* helpers that joined and have not left */
    _Atomic int open;               /* helpers may join */
    _Atomic int done;
    uint64_t selectors, joins;      /* summed as members leave */
} rt_gc_team;

struct rt_ctx {
    rt_config cfg;
    uint32_t nworkers;
    rt_worker **workers;

    /* ---- heap: Note [Regions] ---- */
    uint8_t *heap_base;
    size_t heap_reserved;
    uint32_t nregions_total;
    _Atomic uint16_t *owner;
    uint64_t **markbits;            /* per region, allocated on first local use */
    uint32_t *region_fill;          /* old/tospace: words used (Cheney scan end) */
    pthread_mutex_t heap_lock;
    uint32_t *free_pool;
    size_t nfree_pool;
    uint32_t next_fresh;
    _Atomic uint64_t regions_in_use;
    uint64_t limit_regions;
    _Atomic uint64_t peak_regions;
    uint64_t major_threshold_regions;
    uint64_t live_bytes_after_major;

    /* ---- the collection handshake: Note [Safepoints] ---- */
    _Alignas(RT_CACHE_LINE) _Atomic int busy;
    _Atomic int gc_pending;
    _Atomic int gc_request;
    _Atomic uint64_t gc_count;
    pthread_mutex_t gc_lock;
    pthread_cond_t gc_cv;
    rt_gc_team gc_team;

    /* ---- scheduling ---- */
    _Alignas(RT_CACHE_LINE) _Atomic int step_active;
    _Atomic int shutdown;
    _Atomic int sleepers;
    _Atomic int hungry;             /* workers wanting sparks: Note [Hungry workers] */
    _Atomic rt_val nil_mismatch[2]; /* the atoms of "pattern mismatch: head/tail of []",
                                     * made once (rt_prims.c mismatch) */
    _Atomic int wake_pending;       /* a wake-up is on its way to a parked helper */
    _Atomic int interrupt_requested;
    pthread_mutex_t park_lock;
    pthread_cond_t park_cv;
    int in_step;
    uint8_t *main_stack;            /* Note [Step stacks]; NULL: the caller's */
    size_t main_stack_len;
    /* ---- placement: Note [Worker placement] (rt_ctx.c) ---- */
    int placement;                  /* RT_PLACE_*: whether and why (not) helpers are pinned */
    int *cpus;                      /* the CPUs this process may use, when pinning */
    uint32_t ncpus;
    int placed_around;              /* worker 0's CPU the helpers were placed around; -1 */

    /* ---- roots ---- */
    rt_val *globals;
    size_t nglobals, globals_cap;

    /* ---- atoms ---- */
    pthread_mutex_t atom_lock;
    rt_atom_entry **atom_chunks;
    _Atomic uint32_t natoms;
    uint32_t *atom_hash;            /* open addressing: index + 1, 0 = empty */
    size_t atom_hash_cap;
    rt_out *print_out;              /* rt_print_step's target */
    struct rt_flusher *flusher;     /* Note [Prompt output] (rt_print.c); made lazily */
    _Atomic(struct rt_streams *) streams;   /* rt_streams.c: tokens, input, scratch */
    rt_code_name *code_names;       /* under atom_lock */
    size_t ncode_names, code_names_cap;
    /* forms compiled with the program: Note [Forms with code] in jit/lower.py */
    struct rt_form_code { uint32_t global; rt_closure_code code; } *form_codes;
    size_t nform_codes, form_codes_cap;

    /* ---- statistics ---- */
    uint64_t major_gcs, major_pause_ns, major_pause_max_ns;
    uint64_t sparks_gcd, sparks_fizzled_gc, steps;
    uint64_t selectors_resolved;    /* by compaction: Note [Selector suspensions] */
    uint64_t major_joins;           /* helpers that joined compactions */
    uint64_t trace_epoch_ns;        /* rt_trace.c: when the context was made */

    /* ---- primitives (rt_prims.c) ---- */
    _Atomic rt_val atom_true;                 /* the atom `true`, once interned */
    rt_eval_hook eval_hook;                   /* `val` of a form; NULL: none */
    struct rt_toplevel_entry *toplevel;       /* under atom_lock: name -> global */
    size_t ntoplevel, toplevel_cap;

    /* ---- tasks: Note [Tasks] (rt_task.c) ---- */
    pthread_mutex_t task_lock;      /* the table's free lists */
    _Atomic(rt_task *) *task_table; /* id -> task, RT_MAX_TASKS entries */
    uint32_t task_next_id;
    uint32_t *task_free_ids;
    size_t ntask_free_ids, task_free_ids_cap;
    rt_task *task_free_list;
    uint64_t task_gen;
    _Atomic uint64_t block_seq;
    pthread_mutex_t tick_lock;      /* the ticker: time slices for tasks */
    pthread_cond_t tick_cv;
    pthread_t ticker;
    _Atomic int ticker_started;     /* 0 no, 1 running, 2 could not start */
    _Atomic uint32_t green_live;    /* green tasks in the whole context */

    /* ---- the form evaluator (rt_formeval.c) ---- */
    _Atomic rt_val formeval_atoms[8];         /* let rec fix if ^ @ $ #, interned once */
};

#define RT_MAX_TASKS ((uint32_t)1 << 22)

/* Make room for one more element in a malloc'd array of *cap elements, holding
 * *n: doubles the capacity (first to `first`).  The runtime's own bookkeeping
 * lives outside the heap; running out of process memory for it is fatal. */
void rt_grow_slow(void **array, size_t *cap, size_t elem, size_t first, const char *what);
static inline void rt_grow(void **array, size_t n, size_t *cap, size_t elem, size_t first,
                           const char *what)
{
    if (n == *cap)
        rt_grow_slow(array, cap, elem, first, what);
}
#define RT_GROW(arr, n, cap, first, what) \
    rt_grow((void **)&(arr), (n), &(cap), sizeof *(arr), (first), (what))

/* rt_heap.c */
int rt_heap_init(rt_ctx *ctx);
void rt_heap_fini(rt_ctx *ctx);
uint32_t rt_heap_region_take(rt_ctx *ctx, uint16_t owner, int beyond_limit);
void rt_heap_region_release_unlocked(rt_ctx *ctx, uint32_t r);
void rt_heap_retire_extent(rt_worker *w);
static inline uint32_t rt_heap_region_of(rt_ctx *ctx, const void *p)
{
    return (uint32_t)(((const uint8_t *)p - ctx->heap_base) >> RT_REGION_SHIFT);
}
static inline uint8_t *rt_heap_region_base(rt_ctx *ctx, uint32_t r)
{
    return ctx->heap_base + ((size_t)r << RT_REGION_SHIFT);
}
static inline int rt_heap_contains(rt_ctx *ctx, const void *p)
{
    return (const uint8_t *)p >= ctx->heap_base &&
           (const uint8_t *)p < ctx->heap_base + ctx->heap_reserved;
}
static inline uint16_t rt_heap_owner_of(rt_ctx *ctx, rt_val v)
{
    return atomic_load_explicit(&ctx->owner[rt_heap_region_of(ctx, rt_obj_of(v))],
                                memory_order_relaxed);
}
void rt_remset_push(rt_worker *w, rt_val v);
void rt_spark_set_hungry(rt_worker *w, int hungry);   /* Note [Hungry workers] */

/* rt_heap.c: rt_susp_new without counting it in --stats (the runtime's own) */
rt_val rt_susp_new_uncounted(rt_worker *w, rt_susp_code code, uint32_t nenv, const rt_val *env);

/* rt_gc.c */
void rt_gc_local_promote(rt_worker *w);
/* A helper stopped for a compaction joins it if it may (Note [Parallel
 * compaction]); call with gc_lock held, which it releases while it works. */
int rt_gc_team_open(rt_ctx *ctx);
void rt_gc_assist_locked(rt_worker *w);
void rt_gc_team_init(rt_gc_team *t);
void rt_gc_team_fini(rt_gc_team *t);

/* rt_task.c: Note [Tasks] */
int rt_tasks_init(rt_ctx *ctx);
void rt_tasks_fini(rt_ctx *ctx);
int rt_task_main_init(rt_worker *w);          /* the worker's main task */
static inline rt_task *rt_task_lookup(rt_ctx *ctx, uint32_t id)
{
    return id < RT_MAX_TASKS ? atomic_load_explicit(&ctx->task_table[id], memory_order_acquire)
                             : NULL;
}
/* rt_prim_list's fast path: an arithmetic primitive or ordering applied to n
 * operands that are numbers already; RT_NULL when it does not apply (rt_prims.c). */
rt_val rt_prim_numbers(rt_worker *w, uint32_t prim, uint32_t n, const rt_val *ops);
/* Block the running task (its state and wait set by the caller) until its wait
 * is over, running other tasks, or sparks, meanwhile. */
void rt_sched_block(rt_worker *w);
/* A time slice is over or a cancellation is pending: maybe switch. */
void rt_sched_preempt(rt_worker *w);
/* A poll while tasks race (w->slice_armed): count it against the slice. */
void rt_sched_slice_poll(rt_worker *w);
/* End every green task of w (the main task is running): their claims released,
 * their sparks pushed back. */
void rt_tasks_abandon(rt_worker *w);
/* A green task for set/any? member m, holding its claim; NULL if m is not an
 * unevaluated suspension any more (or no task can be made). */
rt_task *rt_task_member_new(rt_worker *w, rt_obj *m);
void rt_streams_scratch_free(void *scratch);
/* The same for the member in root slot `slot`, with a spark that lets a thief
 * take the member over while its task has not started (a safepoint). */
rt_task *rt_task_member_start(rt_worker *w, size_t slot);
/* Raise and drop the demand of a task blocked on: Note [Tasks]. */
void rt_task_demand(rt_task *by, rt_task *t);
void rt_task_undemand_all(rt_task *by);
/* Cancel the task evaluating m from its base, if any (any? abandoning a
 * member); returns once m is no longer claimed by it. */
void rt_task_cancel_member(rt_worker *w, rt_obj *m);
/* Is the running task (w->task) cancelled?  Then unwind it. */
void rt_task_check_cancel(rt_worker *w);
/* Visit every root slot of every task of w, running or not: root-stack words and
 * claims (a claim slot holds a suspension pointer, which is its value word).  The
 * visitor may rewrite the slot (compaction does). */
typedef void (*rt_root_visit)(void *arg, rt_val *slot);
void rt_task_each_root(rt_worker *w, rt_root_visit visit, void *arg);
/* Claims and what other workers read moved: each task's top_claim again, and its
 * waiting_on and root/cancel marks through `relocate` (compaction). */
void rt_task_relocated(rt_worker *w, rt_val (*relocate)(void *arg, rt_val v), void *arg);

/* rt_spark.c */
int rt_spark_deque_init(rt_spark_deque *d, uint32_t capacity);
void rt_spark_deque_fini(rt_spark_deque *d);
int rt_spark_push_nogc(rt_worker *w, rt_obj *s);
rt_obj *rt_spark_pop_nogc(rt_worker *w);
int rt_sparks_available(rt_ctx *ctx);
void *rt_spark_helper_main(void *arg);
void rt_spark_enter_busy(rt_worker *w);
void rt_spark_leave_busy(rt_worker *w);
void rt_spark_wake(rt_ctx *ctx);
void rt_spark_thieves_exclude(rt_worker *w);
void rt_spark_thieves_readmit(rt_worker *w);
rt_obj *rt_spark_find(rt_worker *w);                 /* own deque, else steal */
void rt_spark_run(rt_worker *w, rt_obj *s);          /* claim and run, or fizzle */
/* Run the suspension on top of the claim stack (claimed by the running task) and
 * store its value. */
rt_val rt_spark_eval_claimed_top(rt_worker *w);
int rt_wait_cycle(rt_worker *w, rt_task *me, rt_obj *s);
void rt_idle_pause(uint64_t *spins);

/* rt_prims.c */
void rt_prims_ctx_fini(rt_ctx *ctx);
void rt_deep_state_free(struct rt_deep_state *st);
/* The code of a selector suspension made by rt_select, environment [source, which]:
 * compaction recognises selectors by it (Note [Selector suspensions]). */
rt_val rt_select_code(rt_worker *w, rt_val self);

/* What a run-time definition of name evaluates to: a unit printed nested as
 * `<defined NAME>`. */
rt_val rt_defined_unit(rt_ctx *ctx, rt_val name);
int rt_is_unit(rt_ctx *ctx, rt_val v);        /* rt_streams.c: RT_UNIT or a named unit */

/* rt_formeval.c: 1 if f is a closure the form evaluator made, with *name its name
 * atom (a definition's lambda) or RT_NULL. */
int rt_formeval_closure_name(rt_val f, rt_val *name);

/* rt_print.c */
int rt_print_needs_space(int prev, int kind);
/* The printer's loop over the work on the root stack above base_off. */
void rt_print_loop(rt_worker *w, rt_out *o, size_t base_off, int top, int commit);
/* `<function NAME>` for a closure or primitive f; returns the length. */
size_t rt_print_function_text(rt_ctx *ctx, rt_val f, char *buf, size_t cap);
/* Stop and free ctx's flusher thread (rt_ctx_free). */
void rt_flusher_free(rt_ctx *ctx);

/* rt_streams.c */
void rt_streams_fini(rt_ctx *ctx);

/* rt_trace.c: Note [Trace buffers].  A hook costs one predictable branch when
 * tracing is off:
 *     uint64_t t0 = rt_trace_clock(w);  ...work...  rt_trace_span_nogc(w, KIND, t0, arg); */
int rt_trace_worker_init(rt_worker *w, uint64_t capacity);
void rt_trace_worker_fini(rt_worker *w);
void rt_trace_emit_nogc(rt_worker *w, uint32_t kind, uint64_t start_ns, uint64_t end_ns,
                        uint32_t arg);
static inline int rt_trace_on(rt_worker *w) { return __builtin_expect(w->trace != NULL, 0); }
static inline uint64_t rt_trace_clock(rt_worker *w) { return rt_trace_on(w) ? rt_now_ns() : 0; }
static inline void rt_trace_span_nogc(rt_worker *w, uint32_t kind, uint64_t start_ns,
                                      uint32_t arg)
{
    if (rt_trace_on(w))
        rt_trace_emit_nogc(w, kind, start_ns, rt_now_ns(), arg);
}
static inline void rt_trace_instant_nogc(rt_worker *w, uint32_t kind, uint32_t arg)
{
    if (rt_trace_on(w)) {
        uint64_t t = rt_now_ns();
        rt_trace_emit_nogc(w, kind, t, t, arg);
    }
}

/* rt_ctx.c */
void rt_claims_push(rt_worker *w, rt_obj *s);
void rt_stop_helpers(rt_ctx *ctx);       /* worker 0: wait until no helper is busy */
_Noreturn void rt_fatal(const char *fmt, ...);
uintptr_t rt_thread_stack_limit(void);

#endif
