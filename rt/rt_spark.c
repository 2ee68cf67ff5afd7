/* rt_spark.c -- sparks, forcing, waiting, and the helper workers' scheduler.
 *
 * Design.  A spark is a weak reference to a suspension in its creator's
 * Chase-Lev deque: the owner pushes and pops at the bottom (newest first, so
 * a spark it has meanwhile forced itself fizzles at once and costs a push and a
 * pop), thieves take from the top (oldest first: the biggest work in a
 * divide-and-conquer program).  The context tracks only this available work,
 * never running computations: a running computation is a claimed suspension
 * (Note [Suspension states]).
 *
 * Helpers are threads created once with the context.  They are active only
 * during evaluation steps: outside a step, or with no sparks anywhere, they
 * spin briefly and then park on a condition variable (a parked helper is not a
 * reader of the GC lock, so compaction never waits for it).  A push wakes a
 * parked helper only when one is parked, so sparking costs no system call while
 * everyone is busy.  A worker that needs a suspension another worker holds runs
 * other sparks while it waits (bounded nesting), and detects a cycle of workers
 * waiting on each other.
 *
 * Spark counters (GHC's names): created, dud (not an unevaluated suspension
 * when sparked), overflowed (deque full), converted (run from a spark),
 * fizzled (already evaluated or claimed when taken), GC'd (dropped by
 * compaction because nothing else reached it).
 */
#define _GNU_SOURCE
#include "rt_internal.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


/* ==== the deque ============================================================= */

int rt_spark_deque_init(rt_spark_deque *d, uint32_t capacity)
{
    atomic_init(&d->top, 0);
    atomic_init(&d->bottom, 0);
    d->mask = (int64_t)capacity - 1;
    d->buf = calloc(capacity, sizeof *d->buf);
    return d->buf ? 0 : -1;
}

void rt_spark_deque_fini(rt_spark_deque *d) { free(d->buf); }

/* Owner only.  Returns 0 when full. */
int rt_spark_push_nogc(rt_worker *w, rt_obj *s)
{
    rt_spark_deque *d = w->deque;
    int64_t b = atomic_load_explicit(&d->bottom, memory_order_relaxed);
    int64_t t = atomic_load_explicit(&d->top, memory_order_acquire);
    if (b - t > d->mask)
        return 0;
    atomic_store_explicit(&d->buf[b & d->mask], s, memory_order_relaxed);
    /* release: a thief that sees the new bottom sees the suspension's fields */
    atomic_store_explicit(&d->bottom, b + 1, memory_order_release);
    return 1;
}

/* Owner only. */
rt_obj *rt_spark_pop_nogc(rt_worker *w)
{
    rt_spark_deque *d = w->deque;
    int64_t b = atomic_load_explicit(&d->bottom, memory_order_relaxed) - 1;
    /* The store of bottom must be ordered before the load of top (a thief
     * does the mirror image): one locked exchange, cheaper than a fence. */
    atomic_exchange_explicit(&d->bottom, b, memory_order_seq_cst);
    int64_t t = atomic_load_explicit(&d->top, memory_order_seq_cst);
    rt_obj *x = NULL;
    if (t <= b) {
        x = atomic_load_explicit(&d->buf[b & d->mask], memory_order_relaxed);
        if (t == b) {
            if (!atomic_compare_exchange_strong_explicit(&d->top, &t, t + 1, memory_order_seq_cst,
                                                         memory_order_relaxed))
                x = NULL;
            atomic_store_explicit(&d->bottom, b + 1, memory_order_relaxed);
        }
    } else {
        atomic_store_explicit(&d->bottom, b + 1, memory_order_relaxed);
    }
    return x;
}

/* Any worker.  NULL when empty or when it lost a race. */
static rt_obj *steal(rt_spark_deque *d)
{
    int64_t t = atomic_load_explicit(&d->top, memory_order_acquire);
    atomic_thread_fence(memory_order_seq_cst);
    int64_t b = atomic_load_explicit(&d->bottom, memory_order_acquire);
    if (t >= b)
        return NULL;
    rt_obj *x = atomic_load_explicit(&d->buf[t & d->mask], memory_order_relaxed);
    if (!atomic_compare_exchange_strong_explicit(&d->top, &t, t + 1, memory_order_seq_cst,
                                                 memory_order_relaxed))
        return NULL;
    return x;
}

/* Steal with the victim's collector kept out: Note [Local collection]. */
static rt_obj *steal_from(rt_worker *victim)
{
    rt_spark_deque *d = victim->deque;
    /* look before registering: idle thieves must not bounce the victim's lines */
    if (atomic_load_explicit(&d->top, memory_order_relaxed) >=
        atomic_load_explicit(&d->bottom, memory_order_relaxed))
        return NULL;
    atomic_fetch_add(&victim->thieves, 1);
    if (atomic_load(&victim->gc_local_active)) {
        atomic_fetch_sub(&victim->thieves, 1);
        return NULL;
    }
    rt_obj *x = steal(victim->deque);
    if (x && rt_heap_owner_of(victim->ctx, rt_val_of(x)) == victim->id) {
        pthread_mutex_lock(&victim->inbox_lock);
        RT_GROW(victim->inbox, victim->ninbox, victim->inbox_cap, 256, "steal inbox");
        victim->inbox[victim->ninbox++] = rt_val_of(x);
        pthread_mutex_unlock(&victim->inbox_lock);
    }
    atomic_fetch_sub(&victim->thieves, 1);
    return x;
}

/* The owner's collector: close the door to thieves and drain the inbox into
 * the remembered set.  rt_spark_thieves_readmit reopens it. */
void rt_spark_thieves_exclude(rt_worker *w)
{
    atomic_store(&w->gc_local_active, 1);
    while (atomic_load(&w->thieves) > 0)
        cpu_relax();
    pthread_mutex_lock(&w->inbox_lock);
    for (size_t i = 0; i < w->ninbox; i++)
        rt_remset_push(w, w->inbox[i]);
    w->ninbox = 0;
    pthread_mutex_unlock(&w->inbox_lock);
}

void rt_spark_thieves_readmit(rt_worker *w)
{
    atomic_store(&w->gc_local_active, 0);
}

int rt_sparks_available(rt_ctx *ctx)
{
    for (uint32_t i = 0; i < ctx->nworkers; i++) {
        rt_spark_deque *d = ctx->workers[i]->deque;
        if (atomic_load_explicit(&d->bottom, memory_order_acquire) >
            atomic_load_explicit(&d->top, memory_order_acquire))
            return 1;
    }
    return 0;
}

void rt_spark_wake(rt_ctx *ctx)
{
    pthread_mutex_lock(&ctx->park_lock);
    pthread_cond_signal(&ctx->park_cv);
    pthread_mutex_unlock(&ctx->park_lock);
}

/* Note [Hungry workers]
 *
 * A spark pays only if some worker is free to take it.  ctx->hungry counts the
 * workers that would: helpers that are not running a spark (idle, searching or
 * parked) and workers waiting for a suspension another worker holds.  Generated
 * code reads it at an `@` in a strict operand (jit/lower.py Note [Sparked
 * operands]): when nobody is hungry it evaluates the operand at once, with no
 * suspension, no deque traffic and nothing to fizzle, so `@` on every call costs
 * a load and a branch while every worker is busy; as soon as one goes hungry the
 * next `@` met sparks again.  The load is of the worker's own spark_wanted, a
 * mirror of `hungry > 0` kept on a cache line of its own: the count itself is one
 * pointer further away (w->ctx->hungry), and that dependent load cost @-on-every-
 * call nfib about 18% on one worker.  The count is a hint, read without ordering: a stale
 * read costs one spark too many or too few, never a wrong value.  Each worker
 * writes only its own flag and keeps the count in step with it. */
void rt_spark_set_hungry(rt_worker *w, int hungry)
{
    if (w->hungry == hungry)
        return;
    w->hungry = hungry;
    rt_ctx *ctx = w->ctx;
    int n = atomic_fetch_add(&ctx->hungry, hungry ? 1 : -1) + (hungry ? 1 : -1);
    /* Mirror "some worker is hungry" into every worker's spark_wanted until the
     * count stands still: whoever changes it last writes the mirror last. */
    for (;;) {
        uint32_t want = n > 0;
        for (uint32_t i = 0; i < ctx->nworkers; i++)
            if (atomic_load(&ctx->workers[i]->spark_wanted) != want)
                atomic_store(&ctx->workers[i]->spark_wanted, want);
        int now = atomic_load(&ctx->hungry);
        if (now == n)
            return;
        n = now;
    }
}

void rt_spark(rt_worker *w, rt_val v)
{
    if (!rt_is_type(v, RT_T_SUSP) ||
        atomic_load_explicit((_Atomic uint64_t *)&rt_obj_of(v)->field[RT_SUSP_STATE],
                             memory_order_relaxed) != RT_SUSP_UNEVALUATED) {
        w->stats.sparks_dud++;
        return;
    }
    if (!rt_spark_push_nogc(w, rt_obj_of(v))) {
        w->stats.sparks_overflowed++;
        return;
    }
    w->stats.sparks_created++;
    /* Wake a parked helper, but only one wake-up at a time is in flight. */
    rt_ctx *ctx = w->ctx;
    if (__builtin_expect(atomic_load_explicit(&ctx->sleepers, memory_order_relaxed) > 0, 0) &&
        !atomic_load_explicit(&ctx->wake_pending, memory_order_relaxed) &&
        !atomic_exchange(&ctx->wake_pending, 1))
        rt_spark_wake(ctx);
}

/* ==== claims and forcing ===================================================== */

void rt_claims_push(rt_worker *w, rt_obj *s)
{
    RT_GROW(w->claims, w->nclaims, w->claims_cap, 1024, "claim stack");
    w->claims[w->nclaims++] = s;
    atomic_store_explicit(&w->task->top_claim, s, memory_order_relaxed);
}

/* Run the suspension on top of the running task's claim stack and publish its
 * value: the common end of forcing, running a spark and starting a member task. */
rt_val rt_spark_eval_claimed_top(rt_worker *w)
{
    rt_obj *s = w->claims[w->nclaims - 1];
    rt_push_root(w, rt_val_of(s));
    rt_susp_code code = (rt_susp_code)(uintptr_t)s->field[RT_SUSP_CODE];
    rt_val r = code(w, rt_val_of(s));
    if (rt_is_type(r, RT_T_SUSP)) {
        rt_push_root(w, r);
        r = rt_force(w, r);
        w->sp--;
    }
    s = rt_obj_of(rt_pop_root(w));
    w->nclaims--;
    atomic_store_explicit(&w->task->top_claim, w->nclaims ? w->claims[w->nclaims - 1] : NULL,
                          memory_order_relaxed);
    rt_susp_update(w, s, r);
    return r;
}

/* Run a suspension this task has just claimed; returns its value. */
static rt_val eval_claimed(rt_worker *w, rt_obj *s)
{
    rt_claims_push(w, s);
    return rt_spark_eval_claimed_top(w);
}

/* Is there a cycle of waits from task `me` back to itself?  Each link: the
 * suspension is claimed by task c, and c is blocked on the next suspension.
 * Since a task runs nothing but its own evaluation (Note [Tasks]: no work is
 * ever nested on top of a blocked one), every claim on c's stack is needed by
 * the claims below it, so c's wait is on behalf of every one of them: a chain
 * that comes back to me is a real cyclic dependency between suspensions, which
 * sequential evaluation would meet as a self-demand.  Each link is checked
 * while it is read (the waiter still waits on it, the state is unchanged), so
 * a stale task-table entry cannot fake a link. */
int rt_wait_cycle(rt_worker *w, rt_task *me, rt_obj *s)
{
    rt_ctx *ctx = w->ctx;
    rt_task *holder = NULL;            /* who waits on s; NULL: me */
    for (uint32_t hops = 0; hops < 4096; hops++) {
        uint64_t st = atomic_load((_Atomic uint64_t *)&s->field[RT_SUSP_STATE]);
        if (holder && atomic_load(&holder->waiting_on) != s)
            return 0;
        if (!(st & RT_SUSP_CLAIMED_BIT))
            return 0;
        uint32_t c = rt_susp_claimant(st);
        if (c == me->id)
            return 1;
        rt_task *ct = rt_task_lookup(ctx, c);
        if (!ct)
            return 0;
        rt_obj *next = atomic_load(&ct->waiting_on);
        if (!next || atomic_load((_Atomic uint64_t *)&s->field[RT_SUSP_STATE]) != st)
            return 0;
        holder = ct;
        s = next;
    }
    return 0;
}

void rt_idle_pause(uint64_t *spins)
{
    (*spins)++;
    if (*spins < 2000)
        cpu_relax();
    else if (*spins < 4000)
        sched_yield();
    else {
        struct timespec ts = {0, 50000};
        nanosleep(&ts, NULL);
    }
}

rt_obj *rt_spark_find(rt_worker *w)
{
    rt_obj *s = rt_spark_pop_nogc(w);
    if (s)
        return s;
    rt_ctx *ctx = w->ctx;
    uint32_t n = ctx->nworkers;
    if (n < 2)
        return NULL;
    w->rng ^= w->rng << 13;
    w->rng ^= w->rng >> 7;
    w->rng ^= w->rng << 17;
    uint32_t start = (uint32_t)(w->rng % n);
    for (uint32_t k = 0; k < n; k++) {
        uint32_t v = (start + k) % n;
        if (v == w->id)
            continue;
        s = steal_from(ctx->workers[v]);
        if (s) {
            w->stats.steals++;
            rt_trace_instant_nogc(w, RT_TRACE_SPARK_STOLEN, v);
            return s;
        }
    }
    return NULL;
}

/* Run one spark's suspension if it is still unevaluated. */
void rt_spark_run(rt_worker *w, rt_obj *s)
{
    /* the root first, so that a cancellation that sees the claim sees it too */
    rt_obj *root_before = atomic_load(&w->task->root);
    if (!root_before)
        atomic_store(&w->task->root, s);
    uint64_t expected = RT_SUSP_UNEVALUATED;
    if (atomic_load_explicit((_Atomic uint64_t *)&s->field[RT_SUSP_STATE], memory_order_acquire) !=
            RT_SUSP_UNEVALUATED ||
        !atomic_compare_exchange_strong_explicit((_Atomic uint64_t *)&s->field[RT_SUSP_STATE],
                                                 &expected, rt_susp_claimed_by(w->task->id),
                                                 memory_order_acq_rel, memory_order_acquire)) {
        if (!root_before)
            atomic_store(&w->task->root, NULL);
        w->stats.sparks_fizzled++;
        return;
    }
    w->stats.sparks_converted++;
    rt_task *me = w->task;
    /* traced in pieces, one per stretch the task runs (rt_task.c switch_to) */
    me->trace_t0 = rt_trace_clock(w);
    me->trace_arg = me->kind == RT_TASK_SPARK ? RT_TRACE_SPARK_WHILE_WAITING : 0;
    eval_claimed(w, s);
    if (!root_before)
        atomic_store(&w->task->root, NULL);
    me = w->task;
    if (rt_trace_on(w) && me->trace_t0)
        rt_trace_emit_nogc(w, RT_TRACE_SPARK_RUN, me->trace_t0, rt_now_ns(), me->trace_arg);
    me->trace_t0 = 0;
}

int rt_spark_run_one(rt_worker *w)
{
    rt_obj *s = rt_spark_find(w);
    if (!s)
        return 0;
    rt_spark_run(w, s);
    return 1;
}

/* A worker forcing the suspension it sparked last takes the spark back at
 * once (it fizzles): so a spark nobody was hungry for costs a push and a pop,
 * and the deque does not fill with dead sparks.  Only the owner writes the
 * bottom slots, so if the newest entry is s, a pop returns s or, when a thief
 * took it meanwhile, nothing (and the thief's claim fails: it fizzles there). */
static inline void drop_own_spark(rt_worker *w, rt_obj *s)
{
    rt_spark_deque *d = w->deque;
    int64_t b = atomic_load_explicit(&d->bottom, memory_order_relaxed);
    if (b > atomic_load_explicit(&d->top, memory_order_relaxed) &&
        atomic_load_explicit(&d->buf[(b - 1) & d->mask], memory_order_relaxed) == s &&
        rt_spark_pop_nogc(w) == s) {
        w->stats.sparks_fizzled++;
    }
}

/* Wait for a suspension claimed by another task: block this task (Note
 * [Tasks]) until the suspension is evaluated or released.  The worker runs its
 * other tasks meanwhile, or sparks as new tasks, never on top of this one. */
static rt_val force_wait_slow(rt_worker *w, rt_val v)
{
    rt_push_root(w, v);
    rt_task *me = w->task;
    size_t slot = (size_t)(w->sp - w->sp_base) - 1;
    for (;;) {
        rt_val cur = w->sp_base[slot];
        /* Compaction may have replaced the suspension by its value. */
        if (!rt_is_type(cur, RT_T_SUSP))
            return rt_pop_root(w);
        rt_obj *s = rt_obj_of(cur);
        uint64_t st = atomic_load_explicit((_Atomic uint64_t *)&s->field[RT_SUSP_STATE],
                                           memory_order_acquire);
        if (!(st & RT_SUSP_CLAIMED_BIT))
            return rt_force(w, rt_pop_root(w));     /* evaluated, or released */
        if (rt_susp_claimant(st) == me->id) {
            w->sp--;
            return rt_error_new(w, "cycle: a suspension demands its own value");
        }
        atomic_store(&me->waiting_on, s);
        if (rt_wait_cycle(w, me, s)) {
            atomic_store(&me->waiting_on, NULL);
            w->sp--;
            return rt_error_new(w, "cycle: a suspension demands its own value");
        }
        rt_task *holder = rt_task_lookup(w->ctx, rt_susp_claimant(st));
        me->wait_kind = RT_WAIT_SUSP;
        me->wait_state = st;
        me->wait_slot = slot;
        me->cycle = 0;
        if (holder)
            rt_task_demand(me, holder);
        atomic_store(&me->state, RT_TS_BLOCKED);
        rt_sched_block(w);
        rt_task_undemand_all(me);
        atomic_store(&me->waiting_on, NULL);
        if (me->cycle) {
            me->cycle = 0;
            w->sp--;
            return rt_error_new(w, "cycle: a suspension demands its own value");
        }
    }
}

rt_val rt_force_slow(rt_worker *w, rt_val v)
{
    rt_obj *s = rt_obj_of(v);
    if ((uintptr_t)__builtin_frame_address(0) < w->stack_limit ||
        w->sp_limit - w->sp < 4096)
        return rt_error_new(w, "stack exhausted");
    uint32_t me = w->task->id;
    for (;;) {
        uint64_t st = atomic_load_explicit((_Atomic uint64_t *)&s->field[RT_SUSP_STATE],
                                           memory_order_acquire);
        if (st == RT_SUSP_EVALUATED)
            return atomic_load_explicit((_Atomic rt_val *)&s->field[RT_SUSP_VALUE],
                                        memory_order_relaxed);
        if (st == RT_SUSP_UNEVALUATED) {
            if (atomic_compare_exchange_strong_explicit(
                    (_Atomic uint64_t *)&s->field[RT_SUSP_STATE], &st, rt_susp_claimed_by(me),
                    memory_order_acq_rel, memory_order_acquire)) {
                drop_own_spark(w, s);
                return eval_claimed(w, s);
            }
            continue;
        }
        if (rt_susp_claimant(st) == me)
            return rt_error_new(w, "cycle: a suspension demands its own value");
        return force_wait_slow(w, v);
    }
}

/* ==== the GC reader lock: Note [Safepoints] ================================== */

void rt_spark_enter_busy(rt_worker *w)
{
    rt_ctx *ctx = w->ctx;
    for (;;) {
        atomic_fetch_add(&ctx->busy, 1);
        if (!atomic_load(&ctx->gc_pending))
            return;
        atomic_fetch_sub(&ctx->busy, 1);
        uint64_t t_trace = rt_trace_clock(w);
        pthread_mutex_lock(&ctx->gc_lock);
        while (atomic_load(&ctx->gc_pending)) {
            if (rt_gc_team_open(ctx))
                rt_gc_assist_locked(w);     /* Note [Parallel compaction] in rt_gc.c */
            else
                pthread_cond_wait(&ctx->gc_cv, &ctx->gc_lock);
        }
        pthread_mutex_unlock(&ctx->gc_lock);
        rt_trace_span_nogc(w, RT_TRACE_GC_STOPPED, t_trace, 0);
    }
}

void rt_spark_leave_busy(rt_worker *w)
{
    atomic_fetch_sub(&w->ctx->busy, 1);
}

/* ==== helpers ================================================================ */

static int helper_has_work(rt_worker *w)
{
    rt_ctx *ctx = w->ctx;
    return atomic_load(&ctx->step_active) &&
           w->backoff_gc <= atomic_load(&ctx->gc_count) && rt_sparks_available(ctx);
}

static void park(rt_worker *w)
{
    rt_ctx *ctx = w->ctx;
    pthread_mutex_lock(&ctx->park_lock);
    atomic_fetch_add(&ctx->sleepers, 1);
    if (!atomic_load(&ctx->shutdown) && !helper_has_work(w)) {
        /* A push that missed our sleeper count is found by the timeout. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 5000000;
        if (ts.tv_nsec >= 1000000000) { ts.tv_sec++; ts.tv_nsec -= 1000000000; }
        pthread_cond_timedwait(&ctx->park_cv, &ctx->park_lock, &ts);
    }
    atomic_fetch_sub(&ctx->sleepers, 1);
    atomic_store(&ctx->wake_pending, 0);
    pthread_mutex_unlock(&ctx->park_lock);
}

/* Tracing: a helper's "awake" span runs from when it finds a step active
 * until it parks. */
static void trace_awake_end(rt_worker *w, volatile uint64_t *since)
{
    if (rt_trace_on(w) && *since) {
        rt_trace_emit_nogc(w, RT_TRACE_AWAKE, *since, rt_now_ns(), 0);
        *since = 0;
    }
}

void *rt_spark_helper_main(void *arg)
{
    rt_worker *w = arg;
    rt_ctx *ctx = w->ctx;
    w->stack_limit = rt_thread_stack_limit();
    w->unwind = &w->sched_jmp;
    w->unwind_sp = 0;
    w->unwind_claims = 0;
    volatile int busy = 0;
    volatile uint64_t t0 = 0;
    volatile uint64_t t_awake = 0;
    int reason = setjmp(w->sched_jmp);
    if (reason) {
        rt_trace_instant_nogc(w, RT_TRACE_UNWIND, (uint32_t)reason);
        /* Note [Resumable allocation failure]: the claims are released; the
         * spark stays available, unless it was cancelled (any? has its answer). */
        rt_obj *s = w->current_spark;
        w->current_spark = NULL;
        atomic_store(&w->task->root, NULL);
        atomic_store(&w->task->cancel, NULL);
        atomic_store(&w->task->state, RT_TS_RUNNABLE);
        rt_task_undemand_all(w->task);
        if (reason == RT_UNWIND_CANCEL) {
            w->stats.tasks_cancelled++;
        } else {
            /* the helper's other tasks go too: Note [Tasks] */
            rt_tasks_abandon(w);
            if (s && atomic_load((_Atomic uint64_t *)&s->field[RT_SUSP_STATE]) ==
                         RT_SUSP_UNEVALUATED)
                rt_spark_push_nogc(w, s);
            if (reason == RT_UNWIND_ALLOC && !ctx->cfg.inject_fail_every)
                w->backoff_gc = atomic_load(&ctx->gc_count) + 1;
        }
        if (atomic_load(&w->nlive) == 0)
            atomic_store(&w->running, 0);
        rt_spark_set_hungry(w, 1);
        if (busy) {
            w->stats.busy_ns += rt_now_ns() - t0;
            rt_spark_leave_busy(w);
            busy = 0;
        }
    }
    uint64_t spins = 0;
    while (!atomic_load(&ctx->shutdown)) {
        if (!atomic_load(&ctx->step_active) || w->backoff_gc > atomic_load(&ctx->gc_count)) {
            if (atomic_load(&w->nlive) == 0) {      /* a green task left from a cancel ends first */
                trace_awake_end(w, &t_awake);
                park(w);
                continue;
            }
        }
        if (rt_trace_on(w) && !t_awake)
            t_awake = rt_now_ns();
        rt_spark_enter_busy(w);
        busy = 1;
        t0 = rt_now_ns();
        int ran = 0;
        if (atomic_load(&w->nlive)) {
            /* Tasks this worker started while its spark waited, still running: they
             * hold claims others may wait for, so they finish before new work. */
            atomic_store(&w->running, 1);
            rt_spark_set_hungry(w, 0);
            w->task->wait_kind = RT_WAIT_GREEN;
            atomic_store(&w->task->state, RT_TS_BLOCKED);
            rt_sched_block(w);
            rt_spark_set_hungry(w, 1);
            ran = 1;
        }
        /* busy++ then this check, against quiesce's step_active = 0 then its
         * check of busy: one of the two sees the other */
        rt_obj *s = atomic_load(&ctx->step_active) && w->backoff_gc <= atomic_load(&ctx->gc_count)
                        ? rt_spark_find(w) : NULL;
        if (s) {
            atomic_store(&w->running, 1);
            w->current_spark = s;
            rt_spark_set_hungry(w, 0);
            rt_spark_run(w, s);
            rt_spark_set_hungry(w, 1);
            w->current_spark = NULL;
            spins = 0;
            ran = 1;
        }
        if (atomic_load(&w->nlive) == 0)
            atomic_store(&w->running, 0);
        uint64_t t1 = rt_now_ns();
        w->stats.busy_ns += t1 - t0;
        if (!ran)
            w->stats.idle_ns += t1 - t0;
        busy = 0;
        rt_spark_leave_busy(w);
        if (!ran) {
            if (++spins < 4000)
                cpu_relax();
            else {
                trace_awake_end(w, &t_awake);
                park(w);
                spins = 0;
            }
        }
    }
    trace_awake_end(w, &t_awake);
    return NULL;
}

/* ==== self-test of the deque alone (called by rt_selftest "deque") ============ */

typedef struct deque_test {
    rt_worker *owner;
    _Atomic uint8_t *taken;
    uint64_t items;
    _Atomic int done;
    _Atomic uint64_t stolen;
} deque_test;

static void *deque_thief(void *arg)
{
    deque_test *t = arg;
    uint64_t n = 0;
    while (!atomic_load(&t->done) || atomic_load(&t->owner->deque->bottom) >
                                         atomic_load(&t->owner->deque->top)) {
        rt_obj *x = steal(t->owner->deque);
        if (x) {
            atomic_fetch_add(&t->taken[(uintptr_t)x >> 3], 1);
            n++;
        }
    }
    atomic_fetch_add(&t->stolen, n);
    return NULL;
}

int rt_spark_deque_selftest(uint32_t thieves, uint64_t items, FILE *f)
{
    rt_worker w = {0};
    rt_spark_deque d;
    if (rt_spark_deque_init(&d, 256) != 0)
        return -1;
    w.deque = &d;
    deque_test t = {.owner = &w, .items = items};
    t.taken = calloc(items + 1, 1);
    pthread_t th[64];
    if (thieves > 64)
        thieves = 64;
    for (uint32_t i = 0; i < thieves; i++)
        pthread_create(&th[i], NULL, deque_thief, &t);
    uint64_t popped = 0, overflow = 0;
    for (uint64_t i = 1; i <= items; i++) {
        /* items are fake pointers i << 3: never dereferenced */
        while (!rt_spark_push_nogc(&w, (rt_obj *)(uintptr_t)(i << 3))) {
            overflow++;
            rt_obj *x = rt_spark_pop_nogc(&w);
            if (x) {
                atomic_fetch_add(&t.taken[(uintptr_t)x >> 3], 1);
                popped++;
            }
        }
        if (i % 3 == 0) {
            rt_obj *x = rt_spark_pop_nogc(&w);
            if (x) {
                atomic_fetch_add(&t.taken[(uintptr_t)x >> 3], 1);
                popped++;
            }
        }
    }
    rt_obj *x;
    while ((x = rt_spark_pop_nogc(&w))) {
        atomic_fetch_add(&t.taken[(uintptr_t)x >> 3], 1);
        popped++;
    }
    atomic_store(&t.done, 1);
    for (uint32_t i = 0; i < thieves; i++)
        pthread_join(th[i], NULL);
    int bad = 0;
    for (uint64_t i = 1; i <= items; i++)
        bad += atomic_load(&t.taken[i]) != 1;
    fprintf(f, "deque: %llu items, %llu popped, %llu stolen by %u thieves, %d wrong\n",
            (unsigned long long)items, (unsigned long long)popped,
            (unsigned long long)atomic_load(&t.stolen), thieves, bad);
    free((void *)t.taken);
    rt_spark_deque_fini(&d);
    return bad;
}
