/* rt_heap.c -- regions, the allocation slow path, safepoints, unwinding.
 *
 * Design.  The heap is one MAP_NORESERVE reservation cut into 2 MiB regions
 * (Note [Regions]).  A worker bump-allocates in an extent [hp, limit): first a
 * whole fresh region, later the gaps its local collector found (Note [Local
 * collection]).  The fast path is two compares and an add, inline in generated
 * code (Note [Reserve]); everything else is here, in rt_reserve_slow, which
 * is also a safepoint and the one place where allocation can fail.  Failing
 * means long-jumping out (Note [Resumable allocation failure]), so nothing in
 * this file ever returns "no memory" to its caller.
 *
 * Policy, in the order the slow path tries it:
 *   1. the next free extent left by the last local collection;
 *   2. a fresh region, while the worker's local heap is under its budget;
 *   3. a local collection; if it reclaimed less than a quarter of the local
 *      heap in usable extents (or the remembered set has grown past
 *      RT_REMSET_PROMOTE entries), promote the local regions to old space and
 *      go to 2;
 *   4. over the heap limit: worker 0 compacts in place (it is at a safepoint),
 *      a helper asks worker 0 to and waits; then 1-2 once more;
 *   5. fail: unwind.
 * Worker 0 also compacts when the regions in use pass the major threshold
 * (RT_MAJOR_FACTOR times the live data after the last compaction, at least
 * 8 regions).
 */
#define _GNU_SOURCE
#include "rt_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

uint64_t rt_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

_Noreturn void rt_fatal(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("daisy runtime: fatal: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

void rt_grow_slow(void **array, size_t *cap, size_t elem, size_t first, const char *what)
{
    size_t c = *cap ? *cap * 2 : first;
    void *p = realloc(*array, c * elem);
    if (!p)
        rt_fatal("out of process memory (%s)", what);
    *array = p;
    *cap = c;
}

/* ---- the reservation and the region pool ---------------------------------- */

int rt_heap_init(rt_ctx *ctx)
{
    /* Room for the limit twice over (compaction copies) plus slack per worker. */
    size_t want = (size_t)ctx->limit_regions * 2 + 4 * (size_t)ctx->nworkers + 16;
    ctx->nregions_total = (uint32_t)want;
    ctx->heap_reserved = want * RT_REGION_BYTES;
    /* Over-reserve by one region so the base can be aligned. */
    size_t len = ctx->heap_reserved + RT_REGION_BYTES;
    uint8_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return -1;
    uintptr_t aligned = ((uintptr_t)p + RT_REGION_BYTES - 1) & ~(uintptr_t)(RT_REGION_BYTES - 1);
    size_t head = aligned - (uintptr_t)p;
    if (head)
        munmap(p, head);
    size_t tail = len - head - ctx->heap_reserved;
    if (tail)
        munmap((uint8_t *)aligned + ctx->heap_reserved, tail);
    ctx->heap_base = (uint8_t *)aligned;
    ctx->owner = calloc(want, sizeof *ctx->owner);
    ctx->markbits = calloc(want, sizeof *ctx->markbits);
    ctx->region_fill = calloc(want, sizeof *ctx->region_fill);
    ctx->free_pool = calloc(want, sizeof *ctx->free_pool);
    if (!ctx->owner || !ctx->markbits || !ctx->region_fill || !ctx->free_pool) {
        munmap(ctx->heap_base, ctx->heap_reserved);
        free(ctx->owner);
        free(ctx->markbits);
        free(ctx->region_fill);
        free(ctx->free_pool);
        ctx->heap_base = NULL;
        ctx->owner = NULL;
        ctx->markbits = NULL;
        ctx->region_fill = NULL;
        ctx->free_pool = NULL;
        return -1;
    }
    for (size_t i = 0; i < want; i++)
        atomic_init(&ctx->owner[i], RT_OWNER_FREE);
    pthread_mutex_init(&ctx->heap_lock, NULL);
    ctx->major_threshold_regions = 8;
    return 0;
}

void rt_heap_fini(rt_ctx *ctx)
{
    if (!ctx->heap_base)
        return;                     /* never initialised, or undone by rt_heap_init */
    munmap(ctx->heap_base, ctx->heap_reserved);
    if (ctx->markbits)
        for (uint32_t i = 0; i < ctx->nregions_total; i++)
            free(ctx->markbits[i]);
    free(ctx->markbits);
    free(ctx->owner);
    free(ctx->region_fill);
    free(ctx->free_pool);
    pthread_mutex_destroy(&ctx->heap_lock);
}

/* Note [Populating fresh regions]
 *
 * The first touch of a page of the reservation costs a page fault, and on these
 * virtual machines a fault costs several microseconds, mostly the host's work of
 * backing the page: the annotated quicksort of 10^6 took 125,000 faults, a quarter
 * of its CPU time, half of it inside compactions (which copy into regions nobody
 * has touched yet).  Regions are reused once touched (the free pool is taken
 * before fresh regions), so faults come only from fresh regions, and a fresh region
 * is about to be filled from end to end by bump allocation or by the copier.  So a
 * fresh region is populated in one system call, MADV_POPULATE_WRITE (Linux 5.14),
 * instead of 512 faults: the quicksort's faults fall to 15,000 and its compactions
 * from about 400 to 260 ms.  On an older kernel the call fails with EINVAL and
 * pages fault in as before; failure is never an error (the memory is reserved
 * either way, and an allocation's failure is decided by the region count).
 * The first two fresh regions per worker are not populated: a small program (or
 * a helper that allocates a few suspensions for its sparks, as pfib's do) touches
 * a few pages of them, and populating 2 MiB it will never use costs it up to a
 * millisecond inside its step. */
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
static void rt_heap_populate_nogc(uint8_t *base)
{
    (void)madvise(base, RT_REGION_BYTES, MADV_POPULATE_WRITE);
}

/* Take a region for `owner`.  Regions counted against the limit are all that are
 * not free; compaction's to-space may go beyond it (Note [Compaction]). */
uint32_t rt_heap_region_take(rt_ctx *ctx, uint16_t owner, int beyond_limit)
{
    uint32_t r = RT_NO_REGION;
    int fresh = 0;
    pthread_mutex_lock(&ctx->heap_lock);
    uint64_t used = atomic_load_explicit(&ctx->regions_in_use, memory_order_relaxed);
    if (beyond_limit || used < ctx->limit_regions) {
        if (ctx->nfree_pool)
            r = ctx->free_pool[--ctx->nfree_pool];
        else if (ctx->next_fresh < ctx->nregions_total)
            r = ctx->next_fresh++, fresh = 1;
    }
    if (r != RT_NO_REGION) {
        used++;
        atomic_store_explicit(&ctx->regions_in_use, used, memory_order_relaxed);
        if (used > atomic_load_explicit(&ctx->peak_regions, memory_order_relaxed))
            atomic_store_explicit(&ctx->peak_regions, used, memory_order_relaxed);
        ctx->region_fill[r] = 0;
        atomic_store_explicit(&ctx->owner[r], owner, memory_order_relaxed);
    }
    pthread_mutex_unlock(&ctx->heap_lock);
    if (fresh && r >= 2 * ctx->nworkers)     /* a growing heap: Note [Populating fresh regions] */
        rt_heap_populate_nogc(rt_heap_region_base(ctx, r));
    return r;
}

void rt_heap_region_release_unlocked(rt_ctx *ctx, uint32_t r)
{
    atomic_store_explicit(&ctx->owner[r], RT_OWNER_FREE, memory_order_relaxed);
    ctx->free_pool[ctx->nfree_pool++] = r;
    atomic_fetch_sub_explicit(&ctx->regions_in_use, 1, memory_order_relaxed);
}

/* Close the current extent: count what was allocated in it. */
void rt_heap_retire_extent(rt_worker *w)
{
    if (w->extent_start && w->hp)
        w->stats.bytes_allocated += (uint64_t)(w->hp - w->extent_start);
    w->extent_start = w->hp;
}

static void set_extent(rt_worker *w, uint8_t *start, uint8_t *end)
{
    w->hp = start;
    w->limit = end;
    w->extent_start = start;
}

static void region_list_push(rt_worker *w, uint32_t r)
{
    RT_GROW(w->regions, w->nregions, w->regions_cap, 16, "region list");
    w->regions[w->nregions++] = r;
}

/* Steps 1-2 of the policy: a free extent, or a fresh region under budget. */
static int try_extent(rt_worker *w, size_t bytes, int allow_new_region)
{
    rt_ctx *ctx = w->ctx;
    while (w->free_next < w->nfree) {
        rt_extent e = w->free_extents[w->free_next++];
        if ((size_t)(e.end - e.start) >= bytes) {
            set_extent(w, e.start, e.end);
            return 1;
        }
    }
    uint64_t budget_regions = ctx->cfg.local_budget / RT_REGION_BYTES;
    if (budget_regions < 1)
        budget_regions = 1;
    if (!allow_new_region && w->nregions >= budget_regions)
        return 0;
    uint32_t r = rt_heap_region_take(ctx, (uint16_t)w->id, 0);
    if (r == RT_NO_REGION)
        return 0;
    region_list_push(w, r);
    uint8_t *base = rt_heap_region_base(ctx, r);
    set_extent(w, base, base + RT_REGION_BYTES);
    return 1;
}

static int over_major_threshold(rt_ctx *ctx)
{
    return atomic_load_explicit(&ctx->regions_in_use, memory_order_relaxed) >
           ctx->major_threshold_regions;
}

/* A helper cannot compact: it asks worker 0 and waits, not busy, until a
 * compaction has happened or the step is over. */
static void helper_wait_for_major(rt_worker *w)
{
    rt_ctx *ctx = w->ctx;
    uint64_t seen = atomic_load(&ctx->gc_count);
    atomic_store(&ctx->gc_request, 1);
    atomic_store_explicit(&ctx->workers[0]->interrupt, 1, memory_order_relaxed);
    rt_spark_leave_busy(w);
    uint64_t t_trace = rt_trace_clock(w);
    pthread_mutex_lock(&ctx->gc_lock);
    while (atomic_load(&ctx->gc_count) == seen && atomic_load(&ctx->step_active) &&
           !atomic_load(&ctx->shutdown)) {
        if (rt_gc_team_open(ctx)) {
            rt_gc_assist_locked(w);         /* Note [Parallel compaction] in rt_gc.c */
            continue;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 2000000;
        if (ts.tv_nsec >= 1000000000) { ts.tv_sec++; ts.tv_nsec -= 1000000000; }
        pthread_cond_timedwait(&ctx->gc_cv, &ctx->gc_lock, &ts);
    }
    pthread_mutex_unlock(&ctx->gc_lock);
    rt_trace_span_nogc(w, RT_TRACE_GC_STOPPED, t_trace, 1);
    rt_spark_enter_busy(w);
}

static _Noreturn void alloc_fail(rt_worker *w)
{
    w->stats.alloc_failures++;
    w->fail_t0 = rt_now_ns();
    rt_unwind_slow(w, RT_UNWIND_ALLOC);
}

uint8_t *rt_reserve_slow(rt_worker *w, size_t bytes)
{
    rt_ctx *ctx = w->ctx;
    if (bytes > RT_REGION_BYTES)
        rt_fatal("object of %zu bytes is larger than a region", bytes);

    /* Fault injection (tests): with injection on, limit is kept equal to the
     * end of the last reservation, so every reservation comes here. */
    int injecting = (w->id != 0 && ctx->cfg.inject_fail_every) || (w->id == 0 && w->main_fail_at);
    if (injecting && (w->id != 0 || w->unwind)) {   /* worker 0: only inside steps */
        w->inject_counter++;
        if ((w->id != 0 && w->inject_counter % ctx->cfg.inject_fail_every == 0) ||
            (w->id == 0 && w->inject_counter == w->main_fail_at)) {
            if (w->id == 0)
                w->main_fail_at = w->main_fail_every ? w->inject_counter + w->main_fail_every : 0;
            alloc_fail(w);
        }
    }

    rt_poll(w);
    if (w->id == 0 && (atomic_load_explicit(&ctx->gc_request, memory_order_relaxed) ||
                       ctx->cfg.gc_stress || over_major_threshold(ctx)))
        rt_gc_major(w);
    else if (w->id != 0 && over_major_threshold(ctx) &&
             !atomic_load_explicit(&ctx->gc_request, memory_order_relaxed)) {
        /* Worker 0 may be waiting for this helper and allocating nothing: ask it
         * to compact at its next safepoint, and carry on meanwhile, so the heap
         * keeps to RT_MAJOR_FACTOR times the live data rather than growing to
         * the limit. */
        atomic_store(&ctx->gc_request, 1);
        atomic_store_explicit(&ctx->workers[0]->interrupt, 1, memory_order_relaxed);
    }

    /* While injecting, limit is the end of the last reservation and the
     * extent's real end is kept in inject_extent_end. */
    if (injecting && w->hp && (size_t)((uint8_t *)w->inject_extent_end - w->hp) >= bytes) {
        w->limit = w->hp + bytes;
        return w->hp;
    }

    rt_heap_retire_extent(w);
    int ok = try_extent(w, bytes, 0);
    if (!ok) {
        uint64_t local_bytes = (uint64_t)w->nregions * RT_REGION_BYTES;
        if (w->nregions && w->local_skip) {
            /* Note [Skipping poor local collections] */
            w->local_skip--;
            w->stats.local_skips++;
            rt_gc_local_promote(w);
            ok = try_extent(w, bytes, 0);
        } else if (w->nregions) {
            uint64_t reclaimed = rt_gc_local(w);
            /* Too little room back, or a remembered set so big that every
             * collection re-marks it: promote, and start afresh. */
            if (reclaimed * 4 < local_bytes || w->nremset > RT_REMSET_PROMOTE) {
                rt_gc_local_promote(w);
                uint32_t next = w->local_skip_next ? 2 * w->local_skip_next : 1;
                w->local_skip = w->local_skip_next = next < RT_LOCAL_SKIP_MAX ? next : RT_LOCAL_SKIP_MAX;
            } else {
                w->local_skip_next = 0;
            }
            ok = try_extent(w, bytes, 0);
        }
        if (!ok)
            ok = try_extent(w, bytes, 1);
    }
    if (!ok) {
        /* Over the heap limit. */
        if (w->id == 0)
            rt_gc_major(w);
        else
            helper_wait_for_major(w);
        rt_poll(w);
        ok = try_extent(w, bytes, 1);
        if (!ok)
            alloc_fail(w);
    }
    if (injecting) {
        w->inject_extent_end = (uintptr_t)w->limit;
        w->limit = w->hp + bytes;
    }
    return w->hp;
}

/* Fault injection for worker 0: fail its k-th reservation from now on. */
void rt_inject_main_failures_every(rt_worker *w, uint64_t every)
{
    rt_inject_main_failure(w, every);
    w->main_fail_every = every;
}

void rt_inject_main_failure(rt_worker *w, uint64_t k)
{
    w->inject_counter = 0;
    w->main_fail_at = k;
    w->main_fail_every = 0;
    if (k && w->hp) {
        w->inject_extent_end = (uintptr_t)w->limit;
        w->limit = w->hp;          /* the next reservation takes the slow path */
    }
}

/* ---- the remembered set: Note [Local collection] -------------------------- */

void rt_remset_push(rt_worker *w, rt_val v)
{
    RT_GROW(w->remset, w->nremset, w->remset_cap, 1024, "remembered set");
    w->remset[w->nremset++] = v;
}

void rt_susp_update(rt_worker *w, rt_obj *s, rt_val v)
{
    rt_ctx *ctx = w->ctx;
    atomic_store_explicit((_Atomic rt_val *)&s->field[RT_SUSP_VALUE], v, memory_order_relaxed);
    atomic_store_explicit((_Atomic uint64_t *)&s->field[RT_SUSP_STATE], RT_SUSP_EVALUATED,
                          memory_order_release);
    /* The write barrier. */
    if (rt_is_ptr(v) && rt_heap_owner_of(ctx, rt_val_of(s)) != w->id &&
        rt_heap_owner_of(ctx, v) == w->id)
        rt_remset_push(w, v);
}

/* ---- safepoints and unwinding --------------------------------------------- */

void rt_safepoint_slow(rt_worker *w)
{
    rt_ctx *ctx = w->ctx;
    /* Sequentially consistent: the flags are read after the clear.  A relaxed
     * clear may sit in the store buffer past those reads (x86 reorders a store
     * with a later load), then land after a writer set a flag and raised the
     * interrupt, and erase that interrupt: a helper then ran a spark on past
     * the end of its step, and the step waited for it for ever. */
    atomic_store_explicit(&w->interrupt, 0, memory_order_seq_cst);
    if (w->id == 0) {
        if (atomic_load(&ctx->interrupt_requested) && w->unwind)
            rt_unwind_slow(w, RT_UNWIND_INTERRUPT);
        if (atomic_load(&ctx->gc_request))
            rt_gc_major(w);
    } else {
        if (atomic_load(&ctx->gc_pending)) {
            rt_spark_leave_busy(w);
            rt_spark_enter_busy(w);    /* waits for the compaction to end */
        }
        if (!atomic_load(&ctx->step_active) && w->unwind)
            rt_unwind_slow(w, RT_UNWIND_ABANDON);
    }
    /* Note [Tasks]: a cancelled task ends here; a time slice may end here */
    if (atomic_load_explicit(&w->task->cancel, memory_order_relaxed))
        rt_task_check_cancel(w);
    if (atomic_load_explicit(&w->preempt, memory_order_relaxed) ||
        atomic_load_explicit(&w->cancel_pending, memory_order_relaxed))
        rt_sched_preempt(w);
    else if (w->slice_armed)
        rt_sched_slice_poll(w);
}

_Noreturn void rt_unwind_slow(rt_worker *w, int reason)
{
    if (!w->unwind)
        rt_fatal("worker %u unwound outside an evaluation step", w->id);
    while (w->nclaims > w->unwind_claims) {
        rt_obj *s = w->claims[--w->nclaims];
        atomic_store_explicit((_Atomic uint64_t *)&s->field[RT_SUSP_STATE], RT_SUSP_UNEVALUATED,
                              memory_order_release);
        w->stats.released_claims++;
    }
    rt_task *t = w->task;
    atomic_store(&t->top_claim, w->nclaims ? w->claims[w->nclaims - 1] : NULL);
    atomic_store(&t->waiting_on, NULL);
    rt_task_undemand_all(t);           /* it may have been blocked */
    t->wait_kind = RT_WAIT_NONE;
    t->cycle = 0;
    t->trace_t0 = 0;                   /* a run cut short is not traced */
    t->trace_resumed = 0;
    atomic_store(&t->state, RT_TS_RUNNABLE);
    w->fx_off = 0;        /* no recomputation survives an unwind: jit/reps.py */
    w->sp = w->sp_base + w->unwind_sp;
    w->unwind_reason = reason;
    w->stats.unwinds++;
    longjmp(*w->unwind, reason);
}

void rt_roots_overflow_slow(rt_worker *w)
{
    rt_fatal("root stack overflow in worker %u (%zu words)", w->id,
             (size_t)(w->sp_limit - w->sp_base));
}

/* ---- values -------------------------------------------------------------- */

rt_val rt_int(rt_worker *w, int64_t i)
{
    if (rt_fits_fix(i))
        return rt_fix(i);
    rt_obj *o = rt_alloc(w, RT_HDR(RT_T_BOXINT, 0, 1, 1));
    memcpy(&o->field[0], &i, 8);
    return rt_val_of(o);
}

int rt_int_get(rt_val v, int64_t *out)
{
    if (rt_is_fix(v)) {
        *out = rt_fix_value(v);
        return 1;
    }
    if (rt_is_type(v, RT_T_BOXINT)) {
        memcpy(out, &rt_obj_of(v)->field[0], 8);
        return 1;
    }
    return 0;
}

rt_val rt_float(rt_worker *w, double d)
{
    rt_obj *o = rt_alloc(w, RT_HDR(RT_T_FLOAT, 0, 1, 1));
    memcpy(&o->field[0], &d, 8);
    return rt_val_of(o);
}

/* An object whose words from `at` on are copied from vals.  The caller's
 * array may point into the root stack or hold unrooted heap values, so when
 * the reservation can reach a safepoint the values are rooted across it and
 * copied back from the root stack. */
static rt_obj *alloc_with_values(rt_worker *w, uint64_t header, uint32_t at, uint32_t n,
                                 const rt_val *vals)
{
    size_t bytes = 8 * (1 + (size_t)rt_hdr_size(header));
    if ((size_t)(w->limit - w->hp) >= bytes) {
        rt_obj *o = rt_alloc_nogc(w, header);
        if (n)
            memcpy(&o->field[at], vals, 8 * (size_t)n);
        return o;
    }
    rt_val *mark = w->sp;
    for (uint32_t i = 0; i < n; i++)
        rt_push_root(w, vals[i]);
    rt_reserve_slow(w, bytes);
    rt_obj *o = rt_alloc_nogc(w, header);
    if (n)
        memcpy(&o->field[at], mark, 8 * (size_t)n);
    w->sp = mark;
    return o;
}

/* The cell is the hottest allocation of C code: two stores, no copying. */
rt_val rt_cons(rt_worker *w, rt_val head, rt_val tail)
{
    if ((size_t)(w->limit - w->hp) < 24) {
        rt_push_root(w, head);
        rt_push_root(w, tail);
        rt_reserve_slow(w, 24);
        tail = rt_pop_root(w);
        head = rt_pop_root(w);
    }
    rt_obj *o = rt_alloc_nogc(w, RT_HDR(RT_T_CONS, 0, 0, 2));
    o->field[0] = head;
    o->field[1] = tail;
    return rt_val_of(o);
}

rt_val rt_susp_new_uncounted(rt_worker *w, rt_susp_code code, uint32_t nenv, const rt_val *env)
{
    rt_obj *o = alloc_with_values(w, RT_HDR(RT_T_SUSP, 0, 2, 3 + nenv), RT_SUSP_ENV, nenv, env);
    o->field[RT_SUSP_STATE] = RT_SUSP_UNEVALUATED;
    o->field[RT_SUSP_CODE] = (rt_val)(uintptr_t)code;
    o->field[RT_SUSP_VALUE] = RT_NULL;
    return rt_val_of(o);
}

rt_val rt_susp_new(rt_worker *w, rt_susp_code code, uint32_t nenv, const rt_val *env)
{
    w->stats.susps_allocated++;
    return rt_susp_new_uncounted(w, code, nenv, env);
}

rt_val rt_closure_new(rt_worker *w, rt_closure_code code, uint32_t arity, uint32_t nfree,
                      const rt_val *free_vars)
{
    rt_obj *o = alloc_with_values(w, RT_HDR(RT_T_CLOSURE, arity, 1, 1 + nfree), RT_CLOSURE_FREE,
                                  nfree, free_vars);
    o->field[RT_CLOSURE_CODE] = (rt_val)(uintptr_t)code;
    return rt_val_of(o);
}

rt_val rt_form_new(rt_worker *w, uint32_t kind, uint32_t nfields, const rt_val *fields)
{
    return rt_val_of(alloc_with_values(w, RT_HDR(RT_T_FORM, kind, 0, nfields), 0, nfields,
                                       fields));
}

rt_val rt_error_new(rt_worker *w, const char *message)
{
    rt_val a = rt_atom(w->ctx, message, strlen(message));
    rt_obj *o = rt_alloc(w, RT_HDR(RT_T_ERROR, 0, 0, 1));
    o->field[0] = a;
    return rt_val_of(o);
}

int rt_is_error(rt_val v) { return rt_is_type(v, RT_T_ERROR); }
