/* rt_ctx.c -- contexts, evaluation steps, global roots, atoms, statistics.
 *
 * Design.  A program has one context.  It owns the heap, the workers and the
 * atom table.  Worker 0 is whichever thread calls the API (the "API thread");
 * helpers 1..N-1 are threads made once in rt_ctx_new and joined in
 * rt_ctx_free.  Work happens in evaluation steps (rt_step): the helpers take
 * sparks only while a step is active, and a step that ends abandons whatever
 * speculative work they still hold, through the same unwinding that handles a
 * failed allocation (Note [Resumable allocation failure]).  Between steps the
 * context holds only valid states: no claims, values in the heap, sparks in
 * the deques.
 */
#define _GNU_SOURCE
#include "rt_internal.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <ucontext.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define RT_SWITCH_STACKS 0        /* Note [Step stacks] */
#else
#define RT_SWITCH_STACKS 1
#endif
#define RT_STACK_RESERVE ((size_t)256 << 10)

uintptr_t rt_thread_stack_limit(void)
{
    pthread_attr_t attr;
    void *addr = NULL;
    size_t size = 0;
    if (pthread_getattr_np(pthread_self(), &attr) != 0)
        return 0;
    pthread_attr_getstack(&attr, &addr, &size);
    pthread_attr_destroy(&attr);
    /* Keep 256 KiB for the runtime's own frames and the error path. */
    size_t reserve = size > (1u << 20) ? (256u << 10) : size / 4;
    return (uintptr_t)addr + reserve;
}

/* Three quarters of physical memory, and under an address-space limit
 * (ulimit -v) at most a quarter of it, since the reservation is twice the heap
 * limit and stacks need room too. */
static uint64_t default_heap_limit(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    uint64_t lim = (pages <= 0 || page <= 0) ? (uint64_t)8 << 30
                                             : (uint64_t)pages * (uint64_t)page / 4 * 3;
    struct rlimit rl;
    if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        lim > (uint64_t)rl.rlim_cur / 4)
        lim = (uint64_t)rl.rlim_cur / 4;
    return lim;
}

static rt_worker *worker_new(rt_ctx *ctx, uint32_t id)
{
    rt_worker *w = aligned_alloc(RT_CACHE_LINE, (sizeof(rt_worker) + RT_CACHE_LINE - 1) &
                                                    ~(size_t)(RT_CACHE_LINE - 1));
    if (!w)
        return NULL;
    memset(w, 0, sizeof *w);
    w->id = id;
    w->ctx = ctx;
    w->rng = 0x9E3779B97F4A7C15ull * (id + 1);
    size_t words = ctx->cfg.root_stack_words;
    w->sp_base = mmap(NULL, words * 8, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    while (w->sp_base == MAP_FAILED && words > ((size_t)1 << 20)) {
        words /= 2;                 /* under an address-space limit: a smaller stack */
        w->sp_base = mmap(NULL, words * 8, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    }
    if (w->sp_base == MAP_FAILED)
        return NULL;
    w->sp_words = words;
    w->sp = w->sp_base;
    w->sp_limit = w->sp_base + words;
    w->deque = aligned_alloc(RT_CACHE_LINE, sizeof(rt_spark_deque));
    if (!w->deque || rt_spark_deque_init(w->deque, ctx->cfg.deque_capacity) != 0)
        return NULL;
    atomic_init(&w->interrupt, 0);
    atomic_init(&w->thieves, 0);
    atomic_init(&w->running, 0);
    atomic_init(&w->gc_local_active, 0);
    pthread_mutex_init(&w->inbox_lock, NULL);
    if (rt_task_main_init(w) != 0)
        return NULL;
    if (rt_trace_worker_init(w, ctx->cfg.trace_events) != 0)
        return NULL;
    return w;
}

static void worker_free(rt_ctx *ctx, rt_worker *w)
{
    if (!w)
        return;
    munmap(w->sp_base, w->sp_words * 8);
    if (w->deque) {
        rt_spark_deque_fini(w->deque);
        free(w->deque);
    }
    free(w->claims);
    free(w->free_extents);
    free(w->regions);
    free(w->remset);
    free(w->mark_stack);
    free(w->inbox);
    pthread_mutex_destroy(&w->inbox_lock);
    rt_trace_worker_fini(w);
    free(w);
}

/* ---- worker placement ------------------------------------------------------ */

/* Note [Worker placement]
 *
 * Helpers park between steps and are woken by futex when work appears.  The
 * kernel tends to wake a thread on the CPU of the thread that woke it, and on
 * the 2-vCPU machines we measure on it then took 15-75 ms to move one of the
 * two busy threads to the idle CPU: a split of nfib into two halves ran 1.6x
 * slower than its longer half in a third of the runs, with both threads
 * sharing one CPU (seen with `perf record -e sched:sched_switch -a`).
 *
 * So when there are at least as many usable CPUs (sched_getaffinity) as
 * workers, every step starts by pinning each helper to a CPU of its own other
 * than the one worker 0 is on: one sched_getcpu (vDSO) per step, and a
 * pthread_setaffinity_np per helper only when worker 0 is on a different CPU
 * than at the last placement.  Worker 0, the API thread, is never pinned: it
 * belongs to the caller.  With more workers than CPUs the kernel shares them
 * out as it likes (pinning would only stop it from balancing), and
 * rt_config.no_pin (`--no-pin`) turns placement off, for machines shared with
 * other busy processes.  `--stats` says which CPU each helper had. */
static void placement_init(rt_ctx *ctx)
{
    ctx->placed_around = -1;
    for (uint32_t i = 0; i < ctx->nworkers; i++)
        ctx->workers[i]->cpu = -1;
    cpu_set_t set;
    CPU_ZERO(&set);
    if (ctx->nworkers < 2) {
        ctx->placement = RT_PLACE_ONE_WORKER;
        return;
    }
    if (ctx->cfg.no_pin) {
        ctx->placement = RT_PLACE_OFF;
        return;
    }
    int n = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 0;
    if (n < (int)ctx->nworkers || !(ctx->cpus = malloc((size_t)n * sizeof *ctx->cpus))) {
        ctx->placement = RT_PLACE_TOO_FEW_CPUS;
        return;
    }
    for (int c = 0; c < CPU_SETSIZE && ctx->ncpus < (uint32_t)n; c++)
        if (CPU_ISSET(c, &set))
            ctx->cpus[ctx->ncpus++] = c;
    ctx->placement = RT_PLACE_PINNED;
}

/* Before a step, on worker 0's thread: helpers onto the CPUs worker 0 is not on. */
static void place_helpers(rt_ctx *ctx)
{
    if (ctx->placement != RT_PLACE_PINNED)
        return;
    int here = sched_getcpu();
    if (here == ctx->placed_around)
        return;
    uint32_t k = 0;
    for (uint32_t i = 1; i < ctx->nworkers; i++, k++) {
        if (ctx->cpus[k] == here)
            k++;               /* ncpus >= nworkers: at most one CPU is skipped */
        rt_worker *h = ctx->workers[i];
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(ctx->cpus[k], &one);
        h->cpu = pthread_setaffinity_np(h->thread, sizeof one, &one) == 0 ? ctx->cpus[k] : -1;
    }
    ctx->placed_around = here;
}

rt_ctx *rt_ctx_new(const rt_config *cfg_in)
{
    rt_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return NULL;
    rt_config cfg = cfg_in ? *cfg_in : (rt_config){0};
    if (!cfg.nworkers) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        cfg.nworkers = n > 0 ? (uint32_t)n : 1;
    }
    if (cfg.nworkers > RT_MAX_WORKERS)
        cfg.nworkers = RT_MAX_WORKERS;
    if (!cfg.heap_limit)
        cfg.heap_limit = default_heap_limit();
    if (!cfg.local_budget)
        cfg.local_budget = RT_REGION_BYTES;   /* one region: stays in cache */
    if (!cfg.deque_capacity || (cfg.deque_capacity & (cfg.deque_capacity - 1)))
        cfg.deque_capacity = 8192;
    if (!cfg.root_stack_words)
        cfg.root_stack_words = (size_t)32 << 20;   /* 256 MiB reserved, touched as used */
    if (!cfg.helper_stack_bytes)
        cfg.helper_stack_bytes = (size_t)256 << 20;
    if (!cfg.main_stack_bytes)
        cfg.main_stack_bytes = (size_t)4 << 30;
    ctx->cfg = cfg;
    ctx->nworkers = cfg.nworkers;
    ctx->trace_epoch_ns = rt_now_ns();
    /* The limit in regions; at least one region per worker plus one. */
    ctx->limit_regions = cfg.heap_limit / RT_REGION_BYTES;
    if (ctx->limit_regions < ctx->nworkers + 1)
        ctx->limit_regions = ctx->nworkers + 1;
    pthread_mutex_init(&ctx->gc_lock, NULL);
    pthread_cond_init(&ctx->gc_cv, NULL);
    rt_gc_team_init(&ctx->gc_team);
    pthread_mutex_init(&ctx->park_lock, NULL);
    pthread_cond_init(&ctx->park_cv, NULL);
    pthread_mutex_init(&ctx->atom_lock, NULL);
    ctx->atom_chunks = calloc(RT_ATOM_CHUNKS, sizeof *ctx->atom_chunks);
    ctx->workers = calloc(ctx->nworkers, sizeof *ctx->workers);
    if (!ctx->atom_chunks || !ctx->workers || rt_tasks_init(ctx) != 0)
        goto fail;
    /* The reservation is twice the limit.  Under an address-space limit
     * (ulimit -v) a default-sized one may not fit: halve the default until it
     * does.  A limit the user asked for is never silently reduced. */
    while (rt_heap_init(ctx) != 0) {
        if (cfg_in && cfg_in->heap_limit)
            goto fail;
        if (ctx->limit_regions / 2 < (uint64_t)ctx->nworkers + 1)
            goto fail;
        ctx->limit_regions /= 2;
        ctx->cfg.heap_limit = ctx->limit_regions * RT_REGION_BYTES;
    }
    for (uint32_t i = 0; i < ctx->nworkers; i++)
        if (!(ctx->workers[i] = worker_new(ctx, i)))
            goto fail;
    if (RT_SWITCH_STACKS && cfg.main_stack_bytes != RT_STEP_ON_CALLER_STACK) {
        size_t page = (size_t)sysconf(_SC_PAGESIZE);
        size_t len = (cfg.main_stack_bytes + page - 1) / page * page;
        void *st = mmap(NULL, len, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
        if (st != MAP_FAILED) {
            mprotect(st, page, PROT_NONE);        /* the guard page */
            ctx->main_stack = st;
            ctx->main_stack_len = len;
        }   /* else: no room for it (ulimit -v); steps use the caller's stack */
    }
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, cfg.helper_stack_bytes);
    for (uint32_t i = 1; i < ctx->nworkers; i++) {
        rt_spark_set_hungry(ctx->workers[i], 1);     /* idle: Note [Hungry workers] */
        if (pthread_create(&ctx->workers[i]->thread, &attr, rt_spark_helper_main,
                           ctx->workers[i]) != 0) {
            /* No room for another thread: run with the helpers that started. */
            for (uint32_t j = i; j < ctx->nworkers; j++) {
                rt_spark_set_hungry(ctx->workers[j], 0);
                worker_free(ctx, ctx->workers[j]), ctx->workers[j] = NULL;
            }
            ctx->nworkers = i;
            break;
        }
    }
    pthread_attr_destroy(&attr);
    placement_init(ctx);
    return ctx;
fail:
    rt_ctx_free(ctx);
    return NULL;
}

void rt_ctx_free(rt_ctx *ctx)
{
    if (!ctx)
        return;
    rt_flusher_free(ctx);
    atomic_store(&ctx->shutdown, 1);
    pthread_mutex_lock(&ctx->park_lock);
    pthread_cond_broadcast(&ctx->park_cv);
    pthread_mutex_unlock(&ctx->park_lock);
    pthread_mutex_lock(&ctx->gc_lock);
    pthread_cond_broadcast(&ctx->gc_cv);
    pthread_mutex_unlock(&ctx->gc_lock);
    if (ctx->workers) {
        for (uint32_t i = 1; i < ctx->nworkers; i++)
            if (ctx->workers[i] && ctx->workers[i]->thread)
                pthread_join(ctx->workers[i]->thread, NULL);
    }
    if (ctx->task_table)
        rt_tasks_fini(ctx);
    if (ctx->workers) {
        for (uint32_t i = 0; i < ctx->cfg.nworkers && i < RT_MAX_WORKERS; i++)
            worker_free(ctx, ctx->workers[i]);
    }
    free(ctx->workers);
    free(ctx->cpus);
    if (ctx->main_stack)
        munmap(ctx->main_stack, ctx->main_stack_len);
    rt_heap_fini(ctx);
    rt_streams_fini(ctx);
    if (ctx->atom_chunks) {
        uint32_t n = atomic_load(&ctx->natoms);
        for (uint32_t i = 0; i < n; i++)
            free(ctx->atom_chunks[i / RT_ATOM_CHUNK][i % RT_ATOM_CHUNK].name);
        for (uint32_t c = 0; c < RT_ATOM_CHUNKS; c++)
            free(ctx->atom_chunks[c]);
        free(ctx->atom_chunks);
    }
    rt_prims_ctx_fini(ctx);
    free(ctx->atom_hash);
    free(ctx->code_names);
    free(ctx->form_codes);
    free(ctx->globals);
    pthread_mutex_destroy(&ctx->gc_lock);
    pthread_cond_destroy(&ctx->gc_cv);
    rt_gc_team_fini(&ctx->gc_team);
    pthread_mutex_destroy(&ctx->park_lock);
    pthread_cond_destroy(&ctx->park_cv);
    pthread_mutex_destroy(&ctx->atom_lock);
    free(ctx);
}

rt_worker *rt_ctx_main(rt_ctx *ctx) { return ctx->workers[0]; }
uint32_t rt_ctx_nworkers(rt_ctx *ctx) { return ctx->nworkers; }
rt_worker *rt_ctx_worker(rt_ctx *ctx, uint32_t id)
{
    return id < ctx->nworkers ? ctx->workers[id] : NULL;
}
uint64_t rt_heap_limit(rt_ctx *ctx) { return ctx->limit_regions * RT_REGION_BYTES; }

/* ---- stopping the helpers (the writer side of Note [Safepoints]) ---------- */

static void interrupt_helpers(rt_ctx *ctx)
{
    for (uint32_t i = 1; i < ctx->nworkers; i++)
        atomic_store_explicit(&ctx->workers[i]->interrupt, 1, memory_order_seq_cst);
}

static int helpers_running(rt_ctx *ctx)
{
    for (uint32_t i = 1; i < ctx->nworkers; i++)
        if (atomic_load(&ctx->workers[i]->running))
            return 1;
    return 0;
}

/* Wait until no helper is busy and, with also_running, none holds spark work
 * (a helper waiting for a compaction is not busy but may hold claims). */
static void wait_for_helpers(rt_ctx *ctx, int also_running)
{
    uint64_t spins = 0;
    while (atomic_load(&ctx->busy) > 0 || (also_running && helpers_running(ctx))) {
        if (++spins < 1000)
            cpu_relax();
        else
            sched_yield();
    }
}

void rt_stop_helpers(rt_ctx *ctx)
{
    atomic_store(&ctx->gc_pending, 1);
    interrupt_helpers(ctx);
    wait_for_helpers(ctx, 0);
}

/* End of a step: helpers abandon speculative work at their next safepoint,
 * releasing their claims. */
static void quiesce_helpers(rt_ctx *ctx)
{
    atomic_store(&ctx->step_active, 0);
    interrupt_helpers(ctx);
    pthread_mutex_lock(&ctx->gc_lock);
    pthread_cond_broadcast(&ctx->gc_cv);      /* helpers waiting for a compaction */
    pthread_mutex_unlock(&ctx->gc_lock);
    wait_for_helpers(ctx, 1);
}

/* ---- evaluation steps ------------------------------------------------------ */

static int step_body(rt_ctx *ctx, rt_step_fn fn, rt_val arg, rt_val *out)
{
    rt_worker *w = ctx->workers[0];
    size_t sp0 = (size_t)(w->sp - w->sp_base);
    rt_push_root(w, arg);
    jmp_buf jb;
    w->unwind = &jb;
    w->unwind_sp = sp0 + 1;
    w->step_base = sp0 + 1;
    w->unwind_claims = w->nclaims;
    volatile int attempts = 0;
    volatile uint64_t progress_at_failure = w->progress;
    volatile int status = RT_STEP_OK;
    volatile uint64_t t_fail = 0, t_gc_end = 0;
    uint64_t t_start = rt_now_ns();
    int reason = setjmp(jb);
    if (reason)
        rt_trace_instant_nogc(w, RT_TRACE_UNWIND, (uint32_t)reason);
    if (reason)
        rt_tasks_abandon(w);         /* Note [Tasks]: green tasks end with the attempt */
    if (reason == RT_UNWIND_ALLOC) {
        if (w->progress != progress_at_failure)
            attempts = 0;            /* it got further: Note [Committed progress] */
        progress_at_failure = w->progress;
        attempts++;
        if (attempts >= 2) {
            status = RT_STEP_HEAP_EXHAUSTED;
            goto done;
        }
        quiesce_helpers(ctx);
        t_fail = rt_now_ns() - w->fail_t0;     /* failure to the step boundary */
        rt_gc_major(w);
        t_gc_end = rt_now_ns();
    } else if (reason == RT_UNWIND_INTERRUPT) {
        status = RT_STEP_INTERRUPTED;
        goto done;
    } else if (reason) {
        rt_fatal("worker 0 unwound with reason %d", reason);
    }
    atomic_store(&ctx->step_active, 1);
    if (atomic_load(&ctx->sleepers) && rt_sparks_available(ctx))
        rt_spark_wake(ctx);
    {
        rt_val a = w->sp_base[sp0];
        if (attempts)   /* compaction excluded */
            w->stats.last_resume_ns = t_fail + (rt_now_ns() - t_gc_end);
        *out = fn(w, a);
    }
done:
    rt_tasks_abandon(w);
    quiesce_helpers(ctx);
    atomic_store(&ctx->interrupt_requested, 0);
    w->unwind = NULL;
    w->sp = w->sp_base + sp0;
    w->stats.busy_ns += rt_now_ns() - t_start;
    return status;
}

typedef struct step_call {
    rt_ctx *ctx;
    rt_step_fn fn;
    rt_val arg;
    rt_val *out;
    int status;
} step_call;

static void step_trampoline(unsigned lo, unsigned hi)
{
    step_call *c = (step_call *)(((uintptr_t)hi << 32) | (uintptr_t)lo);
    c->status = step_body(c->ctx, c->fn, c->arg, c->out);
}

int rt_step_has_own_stack(rt_ctx *ctx) { return ctx->main_stack != NULL; }

int rt_step(rt_ctx *ctx, rt_step_fn fn, rt_val arg, rt_val *out)
{
    rt_worker *w = ctx->workers[0];
    if (ctx->in_step)
        rt_fatal("rt_step called inside a step");
    ctx->in_step = 1;
    ctx->steps++;
    rt_spark_set_hungry(w, 0);     /* an unwound wait may have left it set */
    place_helpers(ctx);
    uint64_t t_trace = rt_trace_clock(w);
    int status;
    if (!ctx->main_stack) {
        w->stack_limit = rt_thread_stack_limit();
        status = step_body(ctx, fn, arg, out);
    } else {
        /* Note [Step stacks]: the same thread, on the step stack. */
        step_call c = {ctx, fn, arg, out, RT_STEP_OK};
        ucontext_t caller, callee;
        getcontext(&callee);
        callee.uc_stack.ss_sp = ctx->main_stack;
        callee.uc_stack.ss_size = ctx->main_stack_len;
        callee.uc_link = &caller;
        makecontext(&callee, (void (*)(void))step_trampoline, 2,
                    (unsigned)(uintptr_t)&c, (unsigned)((uintptr_t)&c >> 32));
        w->stack_limit = (uintptr_t)ctx->main_stack + RT_STACK_RESERVE;
        if (swapcontext(&caller, &callee) != 0)
            rt_fatal("cannot switch to the step stack");
        status = c.status;
    }
    rt_trace_span_nogc(w, RT_TRACE_STEP, t_trace, (uint32_t)ctx->steps);
    ctx->in_step = 0;
    return status;
}

void rt_request_interrupt(rt_ctx *ctx)
{
    atomic_store(&ctx->interrupt_requested, 1);
    atomic_store_explicit(&ctx->workers[0]->interrupt, 1, memory_order_relaxed);
}

/* ---- global roots ------------------------------------------------------------ */

uint32_t rt_global_new(rt_ctx *ctx, rt_val v)
{
    RT_GROW(ctx->globals, ctx->nglobals, ctx->globals_cap, 256, "globals");
    ctx->globals[ctx->nglobals] = v;
    return (uint32_t)ctx->nglobals++;
}

rt_val rt_global_get(rt_ctx *ctx, uint32_t index) { return ctx->globals[index]; }
void rt_global_set(rt_ctx *ctx, uint32_t index, rt_val v) { ctx->globals[index] = v; }

/* ---- atoms ---------------------------------------------------------------------
 * Names live in chunks that never move, so a reader needs no lock: an index
 * is published (release) only after its entry is written. */

static uint64_t hash_name(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
    return h;
}

static rt_atom_entry *atom_entry(rt_ctx *ctx, uint32_t i)
{
    return &ctx->atom_chunks[i / RT_ATOM_CHUNK][i % RT_ATOM_CHUNK];
}

static void atom_rehash_unlocked(rt_ctx *ctx)
{
    size_t cap = ctx->atom_hash_cap ? ctx->atom_hash_cap * 2 : 1024;
    uint32_t *t = calloc(cap, sizeof *t);
    if (!t)
        rt_fatal("out of process memory (atoms)");
    uint32_t n = atomic_load_explicit(&ctx->natoms, memory_order_relaxed);
    for (uint32_t i = 0; i < n; i++) {
        rt_atom_entry *e = atom_entry(ctx, i);
        size_t j = hash_name(e->name, e->len) & (cap - 1);
        while (t[j]) j = (j + 1) & (cap - 1);
        t[j] = i + 1;
    }
    free(ctx->atom_hash);
    ctx->atom_hash = t;
    ctx->atom_hash_cap = cap;
}

rt_val rt_atom(rt_ctx *ctx, const char *name, size_t len)
{
    pthread_mutex_lock(&ctx->atom_lock);
    uint32_t n = atomic_load_explicit(&ctx->natoms, memory_order_relaxed);
    if (2 * ((size_t)n + 1) > ctx->atom_hash_cap)
        atom_rehash_unlocked(ctx);
    size_t cap = ctx->atom_hash_cap;
    size_t j = hash_name(name, len) & (cap - 1);
    while (ctx->atom_hash[j]) {
        rt_atom_entry *e = atom_entry(ctx, ctx->atom_hash[j] - 1);
        if (e->len == len && memcmp(e->name, name, len) == 0) {
            uint32_t idx = ctx->atom_hash[j] - 1;
            pthread_mutex_unlock(&ctx->atom_lock);
            return rt_atom_val(idx);
        }
        j = (j + 1) & (cap - 1);
    }
    if (n >= (uint32_t)RT_ATOM_CHUNK * RT_ATOM_CHUNKS)
        rt_fatal("too many atoms");
    if (!ctx->atom_chunks[n / RT_ATOM_CHUNK] &&
        !(ctx->atom_chunks[n / RT_ATOM_CHUNK] = calloc(RT_ATOM_CHUNK, sizeof(rt_atom_entry))))
        rt_fatal("out of process memory (atoms)");
    rt_atom_entry *e = atom_entry(ctx, n);
    e->name = malloc(len + 1);
    if (!e->name)
        rt_fatal("out of process memory (atoms)");
    memcpy(e->name, name, len);
    e->name[len] = 0;
    e->len = (uint32_t)len;
    ctx->atom_hash[j] = n + 1;
    atomic_store_explicit(&ctx->natoms, n + 1, memory_order_release);
    pthread_mutex_unlock(&ctx->atom_lock);
    return rt_atom_val(n);
}

const char *rt_atom_name(rt_ctx *ctx, rt_val atom, size_t *len)
{
    uint32_t i = rt_atom_index(atom);
    if (!rt_is_atom(atom) || i >= atomic_load_explicit(&ctx->natoms, memory_order_acquire))
        return NULL;
    rt_atom_entry *e = atom_entry(ctx, i);
    if (len)
        *len = e->len;
    return e->name;
}

/* ---- statistics ---------------------------------------------------------------- */

void rt_stats_get(rt_ctx *ctx, rt_stats *s)
{
    memset(s, 0, sizeof *s);
    for (uint32_t i = 0; i < ctx->nworkers; i++) {
        rt_worker *w = ctx->workers[i];
        rt_worker_stats *ws = &w->stats;
        s->bytes_allocated += ws->bytes_allocated;
        if (w->extent_start && w->hp)
            s->bytes_allocated += (uint64_t)(w->hp - w->extent_start);
        s->local_gcs += ws->local_gcs;
        s->local_pause_ns += ws->local_pause_ns;
        if (ws->local_pause_max_ns > s->local_pause_max_ns)
            s->local_pause_max_ns = ws->local_pause_max_ns;
        s->sparks_created += ws->sparks_created;
        s->sparks_dud += ws->sparks_dud;
        s->sparks_overflowed += ws->sparks_overflowed;
        s->sparks_converted += ws->sparks_converted;
        s->sparks_fizzled += ws->sparks_fizzled;
        s->alloc_failures += ws->alloc_failures;
        s->unwinds += ws->unwinds;
        s->released_claims += ws->released_claims;
        s->promotions += ws->promotions;
        s->local_skips += ws->local_skips;
        s->susps_allocated += ws->susps_allocated;
        s->fx_giveups += ws->fx_giveups;
        s->tasks_members += ws->tasks_members;
        s->tasks_sparks += ws->tasks_sparks;
        s->task_switches += ws->task_switches;
        s->preemptions += ws->preemptions;
        s->tasks_cancelled += ws->tasks_cancelled;
    }
    s->sparks_fizzled += ctx->sparks_fizzled_gc;
    s->sparks_gcd = ctx->sparks_gcd;
    s->major_gcs = ctx->major_gcs;
    s->major_pause_ns = ctx->major_pause_ns;
    s->major_pause_max_ns = ctx->major_pause_max_ns;
    s->peak_heap_bytes = atomic_load(&ctx->peak_regions) * RT_REGION_BYTES;
    s->heap_in_use_bytes = atomic_load(&ctx->regions_in_use) * RT_REGION_BYTES;
    s->live_bytes_after_major = ctx->live_bytes_after_major;
    s->steps = ctx->steps;
    s->selectors_resolved = ctx->selectors_resolved;
    s->major_joins = ctx->major_joins;
}

uint64_t rt_worker_busy_ns(rt_ctx *ctx, uint32_t id)
{
    return id < ctx->nworkers ? ctx->workers[id]->stats.busy_ns : 0;
}

static void print_bytes(FILE *f, const char *label, uint64_t b)
{
    /* digits grouped by thousands, as GHC prints them */
    char buf[32], out[48];
    int n = snprintf(buf, sizeof buf, "%llu", (unsigned long long)b), k = 0;
    for (int i = 0; i < n; i++) {
        if (i && (n - i) % 3 == 0)
            out[k++] = ',';
        out[k++] = buf[i];
    }
    out[k] = 0;
    fprintf(f, "%22s %s\n", out, label);
}

void rt_stats_print(rt_ctx *ctx, FILE *f)
{
    rt_stats s;
    rt_stats_get(ctx, &s);
    print_bytes(f, "bytes allocated in the heap", s.bytes_allocated);
    print_bytes(f, "suspensions allocated", s.susps_allocated);
    print_bytes(f, "bytes maximum heap in use (peak)", s.peak_heap_bytes);
    print_bytes(f, "bytes live after the last compaction", s.live_bytes_after_major);
    fprintf(f, "%22s %s\n", "", "");
    fprintf(f, "  Local GC  %8llu collections  %9.3f ms total  %8.3f ms max pause  (%llu promotions",
            (unsigned long long)s.local_gcs, s.local_pause_ns / 1e6, s.local_pause_max_ns / 1e6,
            (unsigned long long)s.promotions);
    if (s.local_skips)
        fprintf(f, ", %llu without collecting", (unsigned long long)s.local_skips);
    fputs(")\n", f);
    fprintf(f, "  Major GC  %8llu compactions  %9.3f ms total  %8.3f ms max pause",
            (unsigned long long)s.major_gcs, s.major_pause_ns / 1e6, s.major_pause_max_ns / 1e6);
    if (s.selectors_resolved || s.major_joins)
        fprintf(f, "  (%llu selectors resolved, %llu helper joins)",
                (unsigned long long)s.selectors_resolved, (unsigned long long)s.major_joins);
    fputc('\n', f);
    fprintf(f, "\n  SPARKS: %llu (%llu converted, %llu overflowed, %llu dud, %llu GC'd, %llu fizzled)\n",
            (unsigned long long)s.sparks_created, (unsigned long long)s.sparks_converted,
            (unsigned long long)s.sparks_overflowed, (unsigned long long)s.sparks_dud,
            (unsigned long long)s.sparks_gcd, (unsigned long long)s.sparks_fizzled);
    if (s.fx_giveups)
        fprintf(f, "  fixnum variants given up on: %llu (computed again generically)\n",
                (unsigned long long)s.fx_giveups);
    if (s.tasks_members || s.tasks_sparks)
        fprintf(f, "  TASKS: %llu for set/any? members, %llu for sparks while waiting "
                   "(%llu switches, %llu preemptions, %llu cancelled)\n",
                (unsigned long long)s.tasks_members, (unsigned long long)s.tasks_sparks,
                (unsigned long long)s.task_switches, (unsigned long long)s.preemptions,
                (unsigned long long)s.tasks_cancelled);
    if (s.alloc_failures || s.unwinds)
        fprintf(f, "  allocation failures %llu, unwinds %llu, claims released %llu\n",
                (unsigned long long)s.alloc_failures, (unsigned long long)s.unwinds,
                (unsigned long long)s.released_claims);
    fputc('\n', f);
    for (uint32_t i = 0; i < ctx->nworkers; i++) {
        rt_worker *w = ctx->workers[i];
        char where[32] = "";
        if (w->cpu >= 0)
            snprintf(where, sizeof where, ", on CPU %d", w->cpu);
        fprintf(f, "  worker %u%s: busy %.4f s (idle %.4f s), %llu sparks run, %llu steals%s\n", i,
                i == 0 ? " (main)" : "", w->stats.busy_ns / 1e9, w->stats.idle_ns / 1e9,
                (unsigned long long)w->stats.sparks_converted, (unsigned long long)w->stats.steals,
                where);
    }
    static const char *const placement[] = {
        [RT_PLACE_PINNED] = "helpers pinned",
        [RT_PLACE_ONE_WORKER] = "no helpers",
        [RT_PLACE_OFF] = "helpers not pinned (--no-pin)",
        [RT_PLACE_TOO_FEW_CPUS] = "helpers not pinned (fewer CPUs than workers)",
    };
    fprintf(f, "  heap limit %.1f MiB, %u workers, %llu steps, %s\n",
            rt_heap_limit(ctx) / 1048576.0, ctx->nworkers, (unsigned long long)s.steps,
            placement[ctx->placement]);
}

void rt_report_heap_exhausted(rt_ctx *ctx, FILE *f)
{
    uint64_t lim = rt_heap_limit(ctx);
    if (lim % (1u << 30) == 0)
        fprintf(f, "heap exhausted (limit %lluG)\n", (unsigned long long)(lim >> 30));
    else
        fprintf(f, "heap exhausted (limit %lluM)\n", (unsigned long long)(lim >> 20));
}

/* ---- the layout table (checked by the Python side at import) ------------------ */

#define L(name, value) {name, (int64_t)(value)}
static const rt_layout_entry layout[] = {
    L("abi_version", RT_ABI_VERSION),
    L("sizeof_worker", sizeof(rt_worker)),
    L("worker.hp", offsetof(rt_worker, hp)),
    L("worker.limit", offsetof(rt_worker, limit)),
    L("worker.sp", offsetof(rt_worker, sp)),
    L("worker.sp_limit", offsetof(rt_worker, sp_limit)),
    L("worker.interrupt", offsetof(rt_worker, interrupt)),
    L("worker.id", offsetof(rt_worker, id)),
    L("worker.ctx", offsetof(rt_worker, ctx)),
    L("worker.stack_limit", offsetof(rt_worker, stack_limit)),
    L("worker.susps", offsetof(rt_worker, stats.susps_allocated)),
    L("worker.fx_off", offsetof(rt_worker, fx_off)),
    L("worker.fx_giveups", offsetof(rt_worker, stats.fx_giveups)),
    L("worker.spark_wanted", offsetof(rt_worker, spark_wanted)),
    L("tag.mask", RT_TAG_MASK), L("tag.ptr", RT_TAG_PTR), L("tag.atom", RT_TAG_ATOM),
    L("tag.prim", RT_TAG_PRIM), L("tag.const", RT_TAG_CONST),
    L("nil", RT_NIL), L("unit", RT_UNIT),
    L("fix.min", RT_FIX_MIN), L("fix.max", RT_FIX_MAX),
    L("type.cons", RT_T_CONS), L("type.susp", RT_T_SUSP), L("type.closure", RT_T_CLOSURE),
    L("type.boxint", RT_T_BOXINT), L("type.float", RT_T_FLOAT), L("type.error", RT_T_ERROR),
    L("type.form", RT_T_FORM),
    L("susp.state", RT_SUSP_STATE), L("susp.code", RT_SUSP_CODE),
    L("susp.value", RT_SUSP_VALUE), L("susp.env", RT_SUSP_ENV),
    L("susp.unevaluated", RT_SUSP_UNEVALUATED), L("susp.evaluated", RT_SUSP_EVALUATED),
    L("susp.aux_nf", RT_SUSP_AUX_NF),
    L("closure.code", RT_CLOSURE_CODE), L("closure.free", RT_CLOSURE_FREE),
    L("region.bytes", RT_REGION_BYTES),
    L("stats.size", sizeof(rt_stats)),
    L("config.size", sizeof(rt_config)),
    {NULL, 0},
};
#undef L

const rt_layout_entry *rt_layout_table(void) { return layout; }
