/* rt_task.c -- tasks: evaluations with stacks of their own, switched at polls.
 *
 * Note [Tasks]
 *
 * A task is one evaluation with a C stack and a root stack of its own.  Each
 * worker has a main task, which is what it always had: worker 0's evaluation
 * step, a helper's scheduler loop (and the spark it runs).  A worker may also
 * own green tasks, each on a stack from a per-worker pool:
 *
 *   - member tasks, one per unevaluated member of set:[...] and any?:[...]
 *     (rt_prims.c Note [Races]): the members advance in turn, so a member that
 *     never converges holds back no other, at every worker count, one included;
 *   - spark tasks: when a task must wait for a suspension another task holds,
 *     its worker runs a spark as a new task instead of on top of the waiting
 *     one.  Running it on top (as the runtime once did) made the waiting
 *     evaluation unable to resume until the spark's whole evaluation ended, a
 *     dependency no program states: worker A's nested spark waited for a
 *     suspension B had claimed further down its stack while B, nested too,
 *     waited for one of A's outer claims.  Neither could return and the cycle
 *     check, which follows only each worker's innermost claim, saw no cycle.
 *     With tasks no evaluation ever has another on top of it, so the only
 *     waits are the program's own dependencies.
 *
 * Claims are by task (Note [Suspension states]: the claimant id is the task's;
 * a main task has its worker's id), so a task that meets a suspension another
 * task of its own worker holds blocks instead of taking it for a self-demand.
 *
 * Switching.  A switch saves the running task's worker fields (sp and the root
 * stack, stack_limit, claims, the unwind target, fx_off, the `#` frames) into
 * it and loads the next task's, then swaps machine stacks (a few instructions
 * on x86-64; swapcontext elsewhere).  Generated code sees only its worker
 * pointer, which stays right because a task never moves to another worker.
 * Switches happen only where a task could also be stopped for a compaction:
 * at polls, and where it blocks (forcing, a race); everything it holds is on
 * its own root stack.
 *
 * Scheduling.  A worker runs its main task; when the running task blocks, it
 * picks another that is ready: blocked tasks whose wait is over, runnable
 * ones, unstarted members someone waits for.  Waits are by demand, as in the
 * reference interpreter: a task raises the demand of the task it waits for (the
 * claimant of its suspension, or every pending member of its race) and drops
 * it when the wait ends, and a member task runs only while its demand is
 * raised, so a set whose stream nobody reads costs nothing.  Main tasks and
 * demanded tasks come first; spark tasks nobody waits for run when nothing
 * else can.  A ticker thread, started with the context's first green task,
 * raises the interrupt of every worker that has green tasks each millisecond,
 * and at that poll the running task yields to the next ready task of at least
 * its own rank, round robin: that is the time slice.  With nothing ready the
 * worker takes a spark as a new task (at most RT_MAX_SPARK_TASKS at once),
 * else it idles, hungry (Note [Hungry workers]).  Programs that make no green
 * task never see the ticker, and their waits cost what they did.
 *
 * Members are stealable.  A race claims each unevaluated member for an
 * unstarted member task, and sparks it; a thief that takes the spark takes
 * the claim over from the task while the task has not started (a CAS on the
 * task's state, under the task lock so that the task cannot be freed and
 * reused between the check of its generation and the CAS, decides who), and
 * evaluates the member itself.  A waiting race demands each member's claimant;
 * when a claim moves to a task it does not demand, its wait ends and it
 * demands the new claimant (race_ready).  The owner may have picked the task
 * before the thief took it: enter() then declines (a taken task never ran).
 *
 * Ending tasks.  A green task unwinds to its own base (Note [Resumable
 * allocation failure]), releasing its claims.  An allocation failure, an
 * interrupt or an abandoned step there is the worker's: the main task then
 * unwinds as before, and ends every other green task (rt_tasks_abandon: each
 * is resumed once to unwind itself, its spark pushed back).  any? ends the
 * members it no longer needs (rt_task_cancel_member): its own worker's at
 * once, another worker's at that worker's next poll; the member's suspension
 * is unevaluated again when any? returns.  A step ends every green task of
 * worker 0 before it returns, so between steps there are none.
 *
 * Cycles.  rt_wait_cycle (rt_spark.c) follows claimant-to-waited-suspension
 * links across tasks and workers.  Waits it cannot follow (a race waits for
 * any of several members) are caught per worker: when nothing on a worker is
 * ready, it has no spark to run, and every wait of its tasks is on a task of
 * its own, nothing can ever change, and the most recent suspension wait is
 * answered with the error `cycle`, as the interpreter's machine does.
 * ------------------------------------------------------------------------ */
#define _GNU_SOURCE
#include "rt_internal.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define RT_ASAN 1
#else
#define RT_ASAN 0
#endif
#if defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>
#define RT_TSAN 1
#else
#define RT_TSAN 0
#endif

#define RT_MAX_SPARK_TASKS 32          /* spark tasks per worker at once */
#define RT_STACK_POOL 16               /* stacks kept per worker for reuse */
#define RT_TICK_NS 1000000             /* the ticker's period */
#define RT_SLICE_POLLS 40              /* a racing task's slice, in polls */
#define RT_TASK_STACK_RESERVE ((size_t)256 << 10)
#define RT_TASK_ROOT_WORDS ((size_t)16 << 20)

/* ==== the machine-stack switch ================================================ */

#if defined(__x86_64__)
/* rt_task_swap(void **save, void *to): push the callee-saved registers and the
 * floating-point control words, store the stack pointer in *save, load `to`,
 * pop and return there.  A new stack starts at rt_task_boot with the worker in
 * r12 and the entry in r13. */
void rt_task_swap(void **save, void *to);
void rt_task_boot(void);
__asm__(".text\n"
        ".globl rt_task_swap\n"
        ".hidden rt_task_swap\n"
        ".type rt_task_swap,@function\n"
        "rt_task_swap:\n"
        "  pushq %rbp\n"
        "  pushq %rbx\n"
        "  pushq %r12\n"
        "  pushq %r13\n"
        "  pushq %r14\n"
        "  pushq %r15\n"
        "  subq $16, %rsp\n"
        "  stmxcsr 8(%rsp)\n"
        "  fnstcw 12(%rsp)\n"
        "  movq %rsp, (%rdi)\n"
        "  movq %rsi, %rsp\n"
        "  ldmxcsr 8(%rsp)\n"
        "  fldcw 12(%rsp)\n"
        "  addq $16, %rsp\n"
        "  popq %r15\n"
        "  popq %r14\n"
        "  popq %r13\n"
        "  popq %r12\n"
        "  popq %rbx\n"
        "  popq %rbp\n"
        "  ret\n"
        ".size rt_task_swap, .-rt_task_swap\n"
        ".globl rt_task_boot\n"
        ".hidden rt_task_boot\n"
        ".type rt_task_boot,@function\n"
        "rt_task_boot:\n"
        "  movq %r12, %rdi\n"
        "  callq *%r13\n"
        "  ud2\n"
        ".size rt_task_boot, .-rt_task_boot\n");

static void *initial_csp(uint8_t *top, void (*entry)(rt_worker *), rt_worker *w)
{
    uint64_t *sp = (uint64_t *)(((uintptr_t)top & ~(uintptr_t)15) - 16);
    /* after the pops and ret, rsp = sp: 16-aligned at rt_task_boot's call */
    *--sp = (uint64_t)(uintptr_t)rt_task_boot;       /* ret */
    *--sp = 0;                                       /* rbp */
    *--sp = 0;                                       /* rbx */
    *--sp = (uint64_t)(uintptr_t)w;                  /* r12 */
    *--sp = (uint64_t)(uintptr_t)entry;              /* r13 */
    *--sp = 0;                                       /* r14 */
    *--sp = 0;                                       /* r15 */
    uint32_t mxcsr;
    uint16_t fpcw;
    __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
    __asm__ volatile("fnstcw %0" : "=m"(fpcw));
    sp -= 2;
    memset(sp, 0, 16);
    memcpy((uint8_t *)sp + 8, &mxcsr, 4);
    memcpy((uint8_t *)sp + 12, &fpcw, 2);
    return sp;
}
#define SWAP(save, to) rt_task_swap((save), (to))
#else
/* Elsewhere: ucontext, one per task, kept beside it. */
typedef struct uctx_box { ucontext_t uc; } uctx_box;
static void uc_boot(unsigned lo, unsigned hi, unsigned elo, unsigned ehi)
{
    rt_worker *w = (rt_worker *)(((uintptr_t)hi << 32) | lo);
    void (*entry)(rt_worker *) = (void (*)(rt_worker *))(((uintptr_t)ehi << 32) | elo);
    entry(w);
}
static void *initial_csp(uint8_t *top, void (*entry)(rt_worker *), rt_worker *w)
{
    (void)top;
    return NULL;       /* made in start_stack below */
}
static void uc_swap(void **save, void *to)
{
    uctx_box *me = *save;
    if (!me) {
        me = calloc(1, sizeof *me);
        if (!me)
            rt_fatal("out of memory for a task context");
        *save = me;
    }
    swapcontext(&me->uc, &((uctx_box *)to)->uc);
}
#define SWAP(save, to) uc_swap((save), (to))
#endif

/* ==== the task table ========================================================== */

int rt_tasks_init(rt_ctx *ctx)
{
    pthread_mutex_init(&ctx->task_lock, NULL);
    pthread_mutex_init(&ctx->tick_lock, NULL);
    pthread_cond_init(&ctx->tick_cv, NULL);
    void *t = mmap(NULL, (size_t)RT_MAX_TASKS * sizeof *ctx->task_table,
                   PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (t == MAP_FAILED)
        return -1;
    ctx->task_table = t;
    ctx->task_next_id = RT_MAX_WORKERS;     /* below: the main tasks' */
    return 0;
}

static void stack_unmap(rt_task_stack *st)
{
    if (st) {
        munmap(st->mem, st->len);
        free(st);
    }
}

static void task_release_memory(rt_task *t)
{
    free(t->claims);
    free(t->demanded);
    if (t->deep)
        rt_deep_state_free(t->deep);
    rt_streams_scratch_free(t->streams_scratch);
#if !defined(__x86_64__)
    free(t->csp);
#endif
    free(t);
}

void rt_tasks_fini(rt_ctx *ctx)
{
    if (atomic_load(&ctx->ticker_started) == 1) {
        pthread_mutex_lock(&ctx->tick_lock);
        pthread_cond_broadcast(&ctx->tick_cv);
        pthread_mutex_unlock(&ctx->tick_lock);
        pthread_join(ctx->ticker, NULL);
    }
    if (ctx->workers)
        for (uint32_t i = 0; i < ctx->cfg.nworkers && i < RT_MAX_WORKERS; i++) {
            rt_worker *w = ctx->workers[i];
            if (!w)
                continue;
            for (size_t k = 0; k < w->npool; k++)
                stack_unmap(w->stack_pool[k]);
            free(w->stack_pool);
            for (size_t k = 0; k < w->ngreen; k++) {     /* none between steps */
                stack_unmap(w->green[k]->stack);
                task_release_memory(w->green[k]);
            }
            free(w->green);
            if (w->main_task) {
                /* the worker's claims and `#` frames are its main task's */
                w->main_task->claims = NULL;
                w->main_task->deep = NULL;
                task_release_memory(w->main_task);
            }
            if (w->deep)
                rt_deep_state_free(w->deep);
        }
    while (ctx->task_free_list) {
        rt_task *t = ctx->task_free_list;
        ctx->task_free_list = t->next_free;
        task_release_memory(t);
    }
    free(ctx->task_free_ids);
    if (ctx->task_table)
        munmap((void *)ctx->task_table, (size_t)RT_MAX_TASKS * sizeof *ctx->task_table);
    pthread_mutex_destroy(&ctx->task_lock);
    pthread_mutex_destroy(&ctx->tick_lock);
    pthread_cond_destroy(&ctx->tick_cv);
}

static rt_task *task_alloc(rt_ctx *ctx)
{
    pthread_mutex_lock(&ctx->task_lock);
    uint32_t id;
    if (ctx->ntask_free_ids)
        id = ctx->task_free_ids[--ctx->ntask_free_ids];
    else if (ctx->task_next_id < RT_MAX_TASKS)
        id = ctx->task_next_id++;
    else {
        pthread_mutex_unlock(&ctx->task_lock);
        return NULL;
    }
    rt_task *t = ctx->task_free_list;
    if (t)
        ctx->task_free_list = t->next_free;
    uint64_t gen = ++ctx->task_gen;
    pthread_mutex_unlock(&ctx->task_lock);
    if (!t) {
        t = calloc(1, sizeof *t);
        if (!t) {
            pthread_mutex_lock(&ctx->task_lock);
            RT_GROW(ctx->task_free_ids, ctx->ntask_free_ids, ctx->task_free_ids_cap, 64,
                    "task ids");
            ctx->task_free_ids[ctx->ntask_free_ids++] = id;
            pthread_mutex_unlock(&ctx->task_lock);
            return NULL;
        }
    }
    /* keep the buffers of a reused task, reset the rest */
    rt_obj **claims = t->claims;
    size_t claims_cap = t->claims_cap;
    rt_task_ref *dem = t->demanded;
    size_t dem_cap = t->demanded_cap;
    struct rt_deep_state *deep = t->deep;
    void *scratch = t->streams_scratch;
    memset(t, 0, sizeof *t);
    t->claims = claims;
    t->claims_cap = claims_cap;
    t->demanded = dem;
    t->demanded_cap = dem_cap;
    t->deep = deep;
    t->streams_scratch = scratch;
    t->id = id;
    atomic_store(&t->gen, gen);
    atomic_init(&t->state, RT_TS_NEW);
    atomic_store_explicit(&ctx->task_table[id], t, memory_order_release);
    return t;
}

static void task_free(rt_ctx *ctx, rt_task *t)
{
    pthread_mutex_lock(&ctx->task_lock);
    atomic_store_explicit(&ctx->task_table[t->id], NULL, memory_order_release);
    RT_GROW(ctx->task_free_ids, ctx->ntask_free_ids, ctx->task_free_ids_cap, 64, "task ids");
    ctx->task_free_ids[ctx->ntask_free_ids++] = t->id;
    atomic_store(&t->state, RT_TS_FREE);
    atomic_store(&t->gen, ++ctx->task_gen);   /* stale records now skip it */
    t->next_free = ctx->task_free_list;
    ctx->task_free_list = t;
    pthread_mutex_unlock(&ctx->task_lock);
}

int rt_task_main_init(rt_worker *w)
{
    rt_task *t = calloc(1, sizeof *t);
    if (!t)
        return -1;
    t->id = w->id;
    t->kind = RT_TASK_MAIN;
    t->owner = w;
    atomic_init(&t->state, RT_TS_RUNNABLE);
    w->main_task = w->task = t;
    atomic_store_explicit(&w->ctx->task_table[w->id], t, memory_order_release);
    return 0;
}

/* ==== stacks ================================================================== */

static rt_task_stack *stack_get(rt_worker *w)
{
    if (w->npool)
        return w->stack_pool[--w->npool];
    rt_ctx *ctx = w->ctx;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t c_bytes = ctx->cfg.helper_stack_bytes, words = RT_TASK_ROOT_WORDS;
    for (;;) {
        size_t len = page + c_bytes + words * 8;
        void *mem = mmap(NULL, len, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
        if (mem != MAP_FAILED) {
            mprotect(mem, page, PROT_NONE);          /* the guard page */
            rt_task_stack *st = malloc(sizeof *st);
            if (!st) {
                munmap(mem, len);
                return NULL;
            }
            *st = (rt_task_stack){mem, len, c_bytes, words};
            return st;
        }
        /* under an address-space limit: smaller stacks, down to a floor */
        if (c_bytes <= ((size_t)1 << 20))
            return NULL;
        c_bytes /= 2;
        words /= 2;
    }
}

static void stack_put(rt_worker *w, rt_task_stack *st)
{
    if (!st)
        return;
    if (w->npool < RT_STACK_POOL) {
        RT_GROW(w->stack_pool, w->npool, w->pool_cap, RT_STACK_POOL, "stack pool");
        w->stack_pool[w->npool++] = st;
    } else {
        stack_unmap(st);
    }
}

/* ==== switching =============================================================== */

/* The worker fields that belong to the running task: a switch saves them into
 * the task it leaves and loads the next one's (Note [Tasks]). */
#define TASK_FIELDS(X) \
    X(sp) X(sp_base) X(sp_limit) X(stack_limit) X(claims) X(nclaims) X(claims_cap) \
    X(unwind) X(unwind_sp) X(unwind_claims) X(fx_off) X(deep)

static void ctx_save(rt_worker *w, rt_task *t)
{
#define SAVE(f) t->f = w->f;
    TASK_FIELDS(SAVE)
#undef SAVE
}

static void ctx_load(rt_worker *w, rt_task *t)
{
#define LOAD(f) w->f = t->f;
    TASK_FIELDS(LOAD)
#undef LOAD
}

/* Task k of w: the green tasks, then the main task. */
static inline rt_task *task_at(rt_worker *w, size_t k)
{
    return k == w->ngreen ? w->main_task : w->green[k];
}

/* A task's claims, whether it runs (they are in w) or not. */
static rt_obj **task_claims(rt_worker *w, rt_task *t, size_t *n)
{
    if (t == w->task) {
        *n = w->nclaims;
        return w->claims;
    }
    int st = atomic_load_explicit(&t->state, memory_order_relaxed);
    /* a taken member's claim belongs to the thief now, which roots it too */
    *n = (st == RT_TS_DONE || st == RT_TS_FREE) ? 0 : t->nclaims;
    return t->claims;
}

void rt_task_each_root(rt_worker *w, rt_root_visit visit, void *arg)
{
    for (size_t k = 0; k <= w->ngreen; k++) {
        rt_task *t = task_at(w, k);
        int running = t == w->task, started = t->kind == RT_TASK_MAIN || t->stack;
        rt_val *base = running ? w->sp_base : started ? t->sp_base : NULL;
        rt_val *top = running ? w->sp : started ? t->sp : NULL;
        for (rt_val *p = base; p < top; p++)
            visit(arg, p);
        size_t n;
        rt_obj **claims = task_claims(w, t, &n);
        for (size_t i = 0; i < n; i++)
            visit(arg, (rt_val *)&claims[i]);
    }
}

static rt_obj *relocated_susp(rt_obj *o, rt_val (*relocate)(void *, rt_val), void *arg)
{
    if (!o)
        return NULL;
    rt_val v = relocate(arg, rt_val_of(o));
    return rt_is_type(v, RT_T_SUSP) ? rt_obj_of(v) : NULL;
}

void rt_task_relocated(rt_worker *w, rt_val (*relocate)(void *arg, rt_val v), void *arg)
{
    for (size_t k = 0; k <= w->ngreen; k++) {
        rt_task *t = task_at(w, k);
        size_t n;
        rt_obj **claims = task_claims(w, t, &n);
        atomic_store(&t->top_claim, n ? claims[n - 1] : NULL);
        /* a waiter sets it again from its root slot (wait_over) */
        atomic_store(&t->waiting_on, NULL);
        atomic_store(&t->root, relocated_susp(atomic_load(&t->root), relocate, arg));
        atomic_store(&t->cancel, relocated_susp(atomic_load(&t->cancel), relocate, arg));
    }
}

static void task_entry(rt_worker *w);

/* The main task's machine stack, for AddressSanitizer's switches. */
static void main_stack_bounds(rt_task *t)
{
#if RT_ASAN
    if (!t->stack_bottom) {
        pthread_attr_t attr;
        void *addr = NULL;
        size_t size = 0;
        if (pthread_getattr_np(pthread_self(), &attr) == 0) {
            pthread_attr_getstack(&attr, &addr, &size);
            pthread_attr_destroy(&attr);
        }
        t->stack_bottom = addr;
        t->stack_size = size;
    }
#else
    (void)t;
#endif
}

/* Give a new task its stacks and an initial machine context. */
static int start_stack(rt_worker *w, rt_task *t)
{
    rt_task_stack *st = stack_get(w);
    if (!st)
        return -1;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    t->stack = st;
    uint8_t *c_lo = st->mem + page, *c_hi = c_lo + st->c_bytes;
    t->sp_base = t->sp = (rt_val *)c_hi;
    t->sp_limit = t->sp_base + st->root_words;
    t->stack_limit = (uintptr_t)c_lo + RT_TASK_STACK_RESERVE;
    t->stack_bottom = c_lo;
    t->stack_size = st->c_bytes;
    t->unwind = NULL;
    t->unwind_sp = t->unwind_claims = 0;
    t->fx_off = 0;
#if RT_ASAN
    /* a reused stack keeps the poisoned redzones of frames that never returned */
    __asan_unpoison_memory_region(c_lo, st->c_bytes);
#endif
#if defined(__x86_64__)
    t->csp = initial_csp(c_hi, task_entry, w);
#else
    uctx_box *b = t->csp ? t->csp : calloc(1, sizeof *b);
    if (!b)
        return -1;
    getcontext(&b->uc);
    b->uc.uc_stack.ss_sp = c_lo;
    b->uc.uc_stack.ss_size = st->c_bytes;
    b->uc.uc_link = NULL;
    uintptr_t wp = (uintptr_t)w, ep = (uintptr_t)task_entry;
    makecontext(&b->uc, (void (*)(void))uc_boot, 4, (unsigned)wp, (unsigned)(wp >> 32),
                (unsigned)ep, (unsigned)(ep >> 32));
    t->csp = b;
#endif
#if RT_TSAN
    t->san_fiber = __tsan_create_fiber(0);
#endif
    return 0;
}

static void after_resume(rt_worker *w);

/* Leave the running task for `to` (ready; started or not).  Returns when some
 * task switches back to this one.  `finished`: the running task has ended and
 * never runs again. */
static void switch_to(rt_worker *w, rt_task *to, int finished)
{
    rt_task *from = w->task;
    if (rt_trace_on(w)) {
        /* a spark run's span ends where its task stops running, and goes on as
         * a new stretch when it runs again: spans on a worker's lane nest */
        uint64_t now = rt_now_ns();
        if (from->trace_t0) {
            rt_trace_emit_nogc(w, RT_TRACE_SPARK_RUN, from->trace_t0, now, from->trace_arg);
            from->trace_t0 = 0;
            from->trace_resumed = 1;
        }
        if (to->trace_resumed) {
            to->trace_t0 = now;
            to->trace_arg |= RT_TRACE_SPARK_RESUMED;
            to->trace_resumed = 0;
        }
    }
    ctx_save(w, from);
    ctx_load(w, to);
    w->task = to;
    w->stats.task_switches++;
    if (from->kind == RT_TASK_MAIN)
        main_stack_bounds(from);
#if RT_TSAN
    if (!from->san_fiber && from->kind == RT_TASK_MAIN)
        from->san_fiber = __tsan_get_current_fiber();
    __tsan_switch_to_fiber(to->san_fiber, 0);
#endif
#if RT_ASAN
    void *fake = NULL;
    __sanitizer_start_switch_fiber(finished ? NULL : &fake, to->stack_bottom, to->stack_size);
#endif
    SWAP(&from->csp, to->csp);
#if RT_ASAN
    __sanitizer_finish_switch_fiber(fake, NULL, NULL);
#endif
    (void)finished;
    after_resume(w);
}

/* A task ended: free its stack, once we no longer run on it. */
static void bury_zombie(rt_worker *w)
{
    rt_task *z = w->zombie;
    if (!z)
        return;
    w->zombie = NULL;
#if RT_TSAN
    if (z->san_fiber)
        __tsan_destroy_fiber(z->san_fiber);
    z->san_fiber = NULL;
#endif
    stack_put(w, z->stack);
    z->stack = NULL;
}

/* Remove ended tasks from the worker's list and free them. */
static void reap(rt_worker *w)
{
    for (size_t i = 0; i < w->ngreen;) {
        rt_task *t = w->green[i];
        int st = atomic_load(&t->state);
        if ((st == RT_TS_DONE || st == RT_TS_TAKEN) && t != w->zombie && t != w->task) {
            w->green[i] = w->green[--w->ngreen];
            t->nclaims = 0;
            t->ndemanded = 0;
            if (t->deep) {
                rt_deep_state_free(t->deep);
                t->deep = NULL;
            }
            if (st == RT_TS_TAKEN)
                atomic_fetch_sub(&w->nlive, 1), atomic_fetch_sub(&w->ctx->green_live, 1);
            task_free(w->ctx, t);
            continue;
        }
        i++;
    }
}

static _Noreturn void task_finish(rt_worker *w);

/* Slices by work (Note [Tasks]): while another task of this worker is ready to
 * run and ranks high (members someone waits for), every poll of the running
 * task traps, and after RT_SLICE_POLLS of them the task yields.  A poll is a
 * function entry or a loop's back-edge, so a slice is a bounded amount of the
 * member's work, as the interpreter's are, whatever the machine's speed. */
static void arm_slices(rt_worker *w)
{
    int others = 0;
    for (size_t i = 0; i <= w->ngreen && !others; i++) {
        rt_task *t = task_at(w, i);
        if (t == w->task)
            continue;
        int st = atomic_load_explicit(&t->state, memory_order_relaxed);
        others = (st == RT_TS_RUNNABLE || st == RT_TS_NEW) &&
                 (t->kind == RT_TASK_MAIN || atomic_load_explicit(&t->demand,
                                                                  memory_order_relaxed) > 0);
    }
    w->slice_armed = others;
    if (others) {
        w->slice_left = RT_SLICE_POLLS;
        atomic_store_explicit(&w->interrupt, 1, memory_order_relaxed);
    }
}

void rt_sched_slice_poll(rt_worker *w)
{
    atomic_store_explicit(&w->interrupt, 1, memory_order_relaxed);
    if (--w->slice_left > 0)
        return;
    w->slice_left = RT_SLICE_POLLS;
    rt_sched_preempt(w);
}

static void after_resume(rt_worker *w)
{
    bury_zombie(w);
    arm_slices(w);
    rt_task *me = w->task;
    if (me->kind == RT_TASK_MAIN) {
        if (w->pending_unwind) {
            int r = w->pending_unwind;
            w->pending_unwind = 0;
            rt_unwind_slow(w, r);
        }
        rt_obj *c = atomic_load(&me->cancel);
        if (c && c == atomic_load(&me->root) && w->unwind)
            rt_unwind_slow(w, RT_UNWIND_CANCEL);
        return;
    }
    if (w->abandoning)
        rt_unwind_slow(w, RT_UNWIND_ABANDON);
    rt_task_check_cancel(w);
}

void rt_task_check_cancel(rt_worker *w)
{
    rt_task *me = w->task;
    rt_obj *c = atomic_load_explicit(&me->cancel, memory_order_relaxed);
    if (!c)
        return;
    if (c == atomic_load(&me->root) && w->unwind)
        rt_unwind_slow(w, RT_UNWIND_CANCEL);
    atomic_store(&me->cancel, NULL);          /* stale: its root moved on */
}

/* ==== demand ==================================================================== */

void rt_task_demand(rt_task *by, rt_task *t)
{
    RT_GROW(by->demanded, by->ndemanded, by->demanded_cap, 4, "task demands");
    by->demanded[by->ndemanded++] = (rt_task_ref){t, atomic_load(&t->gen)};
    atomic_fetch_add(&t->demand, 1);
    if (t->owner && t->owner != by->owner && t->kind != RT_TASK_MAIN) {
        /* another worker's task: make its worker look at its tasks again */
        atomic_store_explicit(&t->owner->preempt, 1, memory_order_relaxed);
        atomic_store_explicit(&t->owner->interrupt, 1, memory_order_relaxed);
    }
}

void rt_task_undemand_all(rt_task *by)
{
    for (size_t i = 0; i < by->ndemanded; i++) {
        rt_task *t = by->demanded[i].t;
        /* a task ended and reused meanwhile has a new gen: skip it */
        if (atomic_load(&t->gen) == by->demanded[i].gen)
            atomic_fetch_sub(&t->demand, 1);
    }
    by->ndemanded = 0;
}

/* ==== readiness and choice ======================================================= */

static inline uint64_t susp_state(rt_obj *s)
{
    return atomic_load_explicit((_Atomic uint64_t *)&s->field[RT_SUSP_STATE], memory_order_acquire);
}

static inline rt_val task_slot(rt_worker *w, rt_task *t, size_t off)
{
    return (t == w->task ? w->sp_base : t->sp_base)[off];
}

/* Does t's wait raise the demand of task c (as it is now, not a reuse)? */
static int demands(rt_task *t, rt_task *c)
{
    for (size_t i = 0; i < t->ndemanded; i++)
        if (t->demanded[i].t == c && atomic_load(&c->gen) == t->demanded[i].gen)
            return 1;
    return 0;
}

/* Is a race's wait over: some pending member has a value, or is free to be
 * claimed, or is this task's own (a cycle, answered as such)?  It is over too
 * when a member's claim has moved to a task the wait does not demand (a thief
 * took the member over from its unstarted task, Note [Tasks]): the race then
 * looks again and demands the new claimant, which may be a spark task that
 * would otherwise rank low and never run. */
static int race_ready(rt_worker *w, rt_task *t)
{
    rt_val l = task_slot(w, t, t->wait_slot);
    while (rt_is_type(l, RT_T_CONS)) {
        rt_val m = rt_obj_of(l)->field[0];
        if (!rt_is_type(m, RT_T_SUSP))
            return 1;
        uint64_t st = susp_state(rt_obj_of(m));
        if (!(st & RT_SUSP_CLAIMED_BIT) || rt_susp_claimant(st) == t->id)
            return 1;
        rt_task *c = rt_task_lookup(w->ctx, rt_susp_claimant(st));
        if (c && !demands(t, c))
            return 1;
        l = rt_obj_of(l)->field[1];
        if (rt_is_type(l, RT_T_SUSP)) {   /* the pending list is made whole: never */
            if (susp_state(rt_obj_of(l)) != RT_SUSP_EVALUATED)
                return 1;
            l = rt_obj_of(l)->field[RT_SUSP_VALUE];
        }
    }
    return 0;
}

/* Is t's wait over?  (t is this worker's and not running, or is the running
 * task inside rt_sched_block.) */
static int wait_over(rt_worker *w, rt_task *t)
{
    if (t->cycle)
        return 1;
    switch (t->wait_kind) {
    case RT_WAIT_SUSP: {
        rt_val v = task_slot(w, t, t->wait_slot);
        if (!rt_is_type(v, RT_T_SUSP) || susp_state(rt_obj_of(v)) != t->wait_state)
            return 1;
        /* (a compaction clears waiting_on: the suspension may have moved) */
        atomic_store(&t->waiting_on, rt_obj_of(v));
        if (rt_wait_cycle(w, t, rt_obj_of(v))) {
            t->cycle = 1;
            return 1;
        }
        return 0;
    }
    case RT_WAIT_RACE:
        return race_ready(w, t);
    case RT_WAIT_GREEN:
        return atomic_load(&w->nlive) == 0;
    default:
        return 1;
    }
}

static int cancel_due(rt_task *t)
{
    rt_obj *c = atomic_load_explicit(&t->cancel, memory_order_relaxed);
    return c && c == atomic_load_explicit(&t->root, memory_order_relaxed);
}

/* 2: ready, high rank (a main task, demanded, or to be cancelled); 1: ready,
 * low rank (a spark task nobody waits for); 0: not ready. */
static int readiness(rt_worker *w, rt_task *t)
{
    int st = atomic_load(&t->state);
    int high = t->kind == RT_TASK_MAIN || atomic_load(&t->demand) > 0;
    switch (st) {
    case RT_TS_RUNNABLE:
        if (cancel_due(t))
            return 2;
        if (t->kind == RT_TASK_MEMBER && !high)
            return 0;                     /* dormant: nobody waits for it */
        return high ? 2 : 1;
    case RT_TS_NEW:
        if (cancel_due(t))
            return 2;
        return atomic_load(&t->demand) > 0 ? 2 : 0;
    case RT_TS_BLOCKED:
        if (cancel_due(t))
            return 2;
        if (!wait_over(w, t))
            return 0;
        if (t->kind == RT_TASK_MEMBER && !high)
            return 0;
        return high ? 2 : 1;
    default:
        return 0;
    }
}

/* The next task to run, other than the running one: the first ready one of
 * rank >= min_rank after the round-robin cursor, high rank first. */
static rt_task *pick(rt_worker *w, int min_rank)
{
    reap(w);
    size_t n = w->ngreen + 1;
    rt_task *low = NULL;
    size_t low_at = 0;
    for (size_t k = 0; k < n; k++) {
        size_t i = (w->rr + k) % n;
        rt_task *t = task_at(w, i);
        if (t == w->task)
            continue;
        int r = readiness(w, t);
        if (r == 2) {
            w->rr = i + 1;
            return t;
        }
        if (r == 1 && !low) {
            low = t;
            low_at = i;
        }
    }
    if (low && min_rank <= 1) {
        w->rr = low_at + 1;
        return low;
    }
    return NULL;
}

/* Make `to` run: a NEW task needs its stacks first.  0 if it cannot start (no
 * memory for a stack, or a thief took it): the caller looks again. */
static int enter(rt_worker *w, rt_task *to, int finished)
{
    int st = atomic_load(&to->state);
    if (st != RT_TS_NEW && st != RT_TS_RUNNABLE && st != RT_TS_BLOCKED)
        return 0;                         /* a thief took it since pick() looked: it
                                             never started and has no stack */
    if (st == RT_TS_NEW) {
        int expected = RT_TS_NEW;
        if (!atomic_compare_exchange_strong(&to->state, &expected, RT_TS_RUNNABLE))
            return 0;                     /* taken by a thief */
        if (start_stack(w, to) != 0) {
            /* No stack: give the member back, unevaluated; the race forces it
             * where it stands (rt_prims.c race_pick). */
            rt_obj *m = to->nclaims ? to->claims[0] : NULL;
            to->nclaims = 0;
            if (m)
                atomic_store((_Atomic uint64_t *)&m->field[RT_SUSP_STATE], RT_SUSP_UNEVALUATED);
            atomic_store(&to->state, RT_TS_DONE);
            atomic_fetch_sub(&w->nlive, 1);
            atomic_fetch_sub(&w->ctx->green_live, 1);
            return 0;
        }
        w->stats.tasks_members++;
    }
    switch_to(w, to, finished);
    return 1;
}

/* ==== the local cycle breaker ==================================================== */

/* Is v a suspension that a task of this worker holds? */
static int held_here(rt_worker *w, rt_val v)
{
    if (!rt_is_type(v, RT_T_SUSP))
        return 0;
    uint64_t s = susp_state(rt_obj_of(v));
    if (!(s & RT_SUSP_CLAIMED_BIT))
        return 0;
    rt_task *h = rt_task_lookup(w->ctx, rt_susp_claimant(s));
    return h && atomic_load(&h->owner) == w;
}

/* Is every wait of this worker's tasks on a task of its own, so that nothing
 * anywhere else can end one? */
static int only_local_waits(rt_worker *w)
{
    size_t n = w->ngreen + 1;
    for (size_t i = 0; i < n; i++) {
        rt_task *t = task_at(w, i);
        int st = atomic_load(&t->state);
        if (t == w->task)
            st = RT_TS_BLOCKED;
        if (st != RT_TS_BLOCKED)
            continue;
        if (t->wait_kind == RT_WAIT_SUSP) {
            if (!held_here(w, task_slot(w, t, t->wait_slot)))
                return 0;
        } else if (t->wait_kind == RT_WAIT_RACE) {
            for (rt_val l = task_slot(w, t, t->wait_slot); rt_is_type(l, RT_T_CONS);
                 l = rt_obj_of(l)->field[1])
                if (!held_here(w, rt_obj_of(l)->field[0]))
                    return 0;
        } else if (t->wait_kind != RT_WAIT_GREEN) {
            return 0;
        }
    }
    return 1;
}

/* Answer the most recent wait of this worker with `cycle`. */
static int break_cycle(rt_worker *w)
{
    rt_task *best = NULL;
    size_t n = w->ngreen + 1;
    for (size_t i = 0; i < n; i++) {
        rt_task *t = task_at(w, i);
        int st = t == w->task ? RT_TS_BLOCKED : atomic_load(&t->state);
        if (st == RT_TS_BLOCKED &&
            (t->wait_kind == RT_WAIT_SUSP || t->wait_kind == RT_WAIT_RACE) &&
            (!best || t->blocked_seq > best->blocked_seq))
            best = t;
    }
    if (!best)
        return 0;
    best->cycle = 1;
    return 1;
}

/* ==== blocking, yielding, ending ================================================== */

static void ticker_ensure(rt_ctx *ctx);

static rt_task *spark_task_new(rt_worker *w, rt_obj *s)
{
    rt_task *t = task_alloc(w->ctx);
    if (!t)
        return NULL;
    t->kind = RT_TASK_SPARK;
    t->owner = w;
    t->nclaims = 0;
    atomic_store(&t->root, s);
    if (start_stack(w, t) != 0) {
        task_free(w->ctx, t);
        return NULL;
    }
    atomic_store(&t->state, RT_TS_RUNNABLE);
    RT_GROW(w->green, w->ngreen, w->green_cap, 8, "tasks");
    w->green[w->ngreen++] = t;
    w->nspark_tasks++;
    atomic_fetch_add(&w->nlive, 1);
    atomic_fetch_add(&w->ctx->green_live, 1);
    w->stats.tasks_sparks++;
    ticker_ensure(w->ctx);
    return t;
}

void rt_sched_block(rt_worker *w)
{
    rt_task *me = w->task;
    me->blocked_seq = atomic_fetch_add(&w->ctx->block_seq, 1) + 1;
    uint64_t spins = 0;
    int was_hungry = w->hungry;
    uint64_t t_idle = 0;
    for (;;) {
        if (wait_over(w, me))
            break;
        /* another task ready here, else a spark as a new task */
        rt_task *next = pick(w, 1);
        if (!next && w->nspark_tasks < RT_MAX_SPARK_TASKS && atomic_load(&w->ctx->step_active)) {
            rt_obj *s = rt_spark_find(w);
            if (s && !(next = spark_task_new(w, s)))
                rt_spark_push_nogc(w, s);     /* no stack for it: leave it to others */
        }
        if (next) {
            if (t_idle)
                w->stats.idle_ns += rt_now_ns() - t_idle, t_idle = 0;
            rt_spark_set_hungry(w, 0);
            enter(w, next, 0);
            spins = 0;
            continue;
        }
        if (only_local_waits(w) && break_cycle(w))
            continue;
        if (!t_idle)
            t_idle = rt_now_ns();
        rt_spark_set_hungry(w, 1);
        /* a helper's work ends with the step, whether or not the interrupt
         * that says so was seen (a switch may have taken it) */
        if (w->id != 0 && !atomic_load(&w->ctx->step_active) && w->unwind)
            rt_unwind_slow(w, RT_UNWIND_ABANDON);
        rt_poll(w);
        rt_idle_pause(&spins);
    }
    if (t_idle)
        w->stats.idle_ns += rt_now_ns() - t_idle;
    rt_spark_set_hungry(w, was_hungry);
    atomic_store(&me->state, RT_TS_RUNNABLE);
    me->wait_kind = RT_WAIT_NONE;
}

void rt_sched_preempt(rt_worker *w)
{
    atomic_store_explicit(&w->preempt, 0, memory_order_relaxed);
    atomic_store_explicit(&w->cancel_pending, 0, memory_order_relaxed);
    rt_task *me = w->task;
    if (atomic_load(&me->state) != RT_TS_RUNNABLE || w->abandoning || !w->unwind)
        return;                           /* inside the scheduler already, or between steps */
    if (w->ngreen == 0) {
        w->slice_armed = 0;
        return;
    }
    int mine = me->kind == RT_TASK_MAIN || atomic_load(&me->demand) > 0 ? 2 : 1;
    rt_task *next = pick(w, mine);
    if (next) {
        w->stats.preemptions++;
        enter(w, next, 0);
    } else {
        w->slice_armed = 0;               /* nobody to yield to */
    }
}

static _Noreturn void task_finish(rt_worker *w)
{
    rt_task *me = w->task;
    rt_task_undemand_all(me);
    atomic_store(&me->waiting_on, NULL);
    atomic_store(&me->top_claim, NULL);
    atomic_store(&me->root, NULL);
    me->nclaims = w->nclaims = 0;
    if (me->kind == RT_TASK_SPARK)
        w->nspark_tasks--;
    atomic_fetch_sub(&w->nlive, 1);
    atomic_fetch_sub(&w->ctx->green_live, 1);
    atomic_store(&me->state, RT_TS_DONE);
    w->zombie = me;
    for (;;) {
        rt_task *next = NULL;
        if (w->pending_unwind || w->abandoning)
            next = w->main_task;
        else if (w->resume_after) {
            next = w->resume_after;
            w->resume_after = NULL;
        } else
            next = pick(w, 1);
        if (!next)
            next = w->main_task;          /* it is blocked: it will look again */
        if (next == me)
            continue;
        if (!enter(w, next, 1))
            continue;                     /* a thief took it: look again */
        rt_fatal("an ended task was resumed");
    }
}

/* The first code on a green task's stack. */
static void task_entry(rt_worker *w)
{
#if RT_ASAN
    __sanitizer_finish_switch_fiber(NULL, NULL, NULL);
#endif
    bury_zombie(w);
    arm_slices(w);
    rt_task *me = w->task;
    jmp_buf jb;
    w->unwind = &jb;
    w->unwind_sp = 0;
    w->unwind_claims = 0;
    int reason = setjmp(jb);
    if (!reason) {
        if (w->abandoning)
            rt_unwind_slow(w, RT_UNWIND_ABANDON);
        rt_task_check_cancel(w);
        if (me->kind == RT_TASK_MEMBER) {
            /* it holds its member's claim from the start: claims[0] */
            atomic_store(&me->top_claim, w->claims[0]);
            (void)rt_spark_eval_claimed_top(w);
        } else {
            rt_obj *s = atomic_load(&me->root);
            atomic_store(&me->root, NULL);
            rt_push_root(w, rt_val_of(s));
            w->current_spark = NULL;
            rt_spark_run(w, rt_obj_of(w->sp_base[0]));
        }
    } else {
        rt_trace_instant_nogc(w, RT_TRACE_UNWIND, (uint32_t)reason);
        if (reason == RT_UNWIND_CANCEL)
            w->stats.tasks_cancelled++;
        else if (!w->abandoning)
            w->pending_unwind = reason;   /* the worker's: its main task follows */
        if (me->kind == RT_TASK_SPARK && w->sp > w->sp_base) {
            rt_val s = w->sp_base[0];      /* the spark stays available */
            if (rt_is_type(s, RT_T_SUSP) && susp_state(rt_obj_of(s)) == RT_SUSP_UNEVALUATED &&
                reason != RT_UNWIND_CANCEL)
                rt_spark_push_nogc(w, rt_obj_of(s));
        }
    }
    w->sp = w->sp_base;
    task_finish(w);
}

/* ==== members, cancelling, abandoning ============================================= */

/* A member's spark (Note [Tasks]: members are stealable): a suspension whose
 * code takes the evaluation of member m over from its unstarted task, if that
 * task (id, gen) has not started or ended meanwhile, and evaluates m.  Its own
 * value is []: only m's matters.  A thief takes it like any spark; the owner's
 * own worker finds its task not to be taken and lets it fizzle. */
static rt_val member_spark_code(rt_worker *w, rt_val self)
{
    rt_obj *o = rt_obj_of(self);
    rt_val mv = o->field[RT_SUSP_ENV];
    uint32_t id = (uint32_t)rt_fix_value(o->field[RT_SUSP_ENV + 1]);
    uint64_t gen = (uint64_t)rt_fix_value(o->field[RT_SUSP_ENV + 2]);
    if (!rt_is_type(mv, RT_T_SUSP))
        return RT_NIL;
    /* The check of x's generation and the take are one step under the task
     * lock: without it, x could end, be freed and be allocated again (the same
     * id, NEW again, another member's task) between the two, and the take
     * would steal that task instead. */
    pthread_mutex_lock(&w->ctx->task_lock);
    rt_task *x = rt_task_lookup(w->ctx, id);
    int expected = RT_TS_NEW;
    int took = x && (atomic_load(&x->gen) & (((uint64_t)1 << 61) - 1)) == gen &&
               x->owner != w &&
               atomic_compare_exchange_strong(&x->state, &expected, RT_TS_TAKEN);
    pthread_mutex_unlock(&w->ctx->task_lock);
    if (!took)
        return RT_NIL;
    /* x can no longer start or be ended by its owner: its claim is ours */
    rt_obj *m = rt_obj_of(mv);
    uint64_t want = rt_susp_claimed_by(id);
    if (!atomic_compare_exchange_strong((_Atomic uint64_t *)&m->field[RT_SUSP_STATE], &want,
                                        rt_susp_claimed_by(w->task->id)))
        rt_fatal("a member's claim changed under its unstarted task");
    rt_task *me = w->task;
    rt_obj *root = atomic_load(&me->root);
    atomic_store(&me->root, m);          /* what any? cancels: Note [Races] */
    rt_push_root(w, root ? rt_val_of(root) : RT_NIL);
    rt_claims_push(w, m);
    (void)rt_spark_eval_claimed_top(w);
    rt_val r = rt_pop_root(w);
    atomic_store(&me->root, r == RT_NIL ? NULL : rt_obj_of(r));
    return RT_NIL;
}

rt_task *rt_task_member_new(rt_worker *w, rt_obj *m)
{
    if (susp_state(m) != RT_SUSP_UNEVALUATED)
        return NULL;
    rt_task *t = task_alloc(w->ctx);
    if (!t)
        return NULL;
    t->kind = RT_TASK_MEMBER;
    t->owner = w;
    if (t->claims_cap < 1) {
        rt_obj **c = realloc(t->claims, 16 * sizeof *c);
        if (!c) {
            task_free(w->ctx, t);
            return NULL;
        }
        t->claims = c;
        t->claims_cap = 16;
    }
    t->claims[0] = m;
    t->nclaims = 1;
    atomic_store(&t->root, m);
    atomic_store(&t->top_claim, m);
    uint64_t expected = RT_SUSP_UNEVALUATED;
    if (!atomic_compare_exchange_strong((_Atomic uint64_t *)&m->field[RT_SUSP_STATE], &expected,
                                        rt_susp_claimed_by(t->id))) {
        t->nclaims = 0;
        task_free(w->ctx, t);
        return NULL;
    }
    RT_GROW(w->green, w->ngreen, w->green_cap, 8, "tasks");
    w->green[w->ngreen++] = t;
    atomic_fetch_add(&w->nlive, 1);
    atomic_fetch_add(&w->ctx->green_live, 1);
    ticker_ensure(w->ctx);
    return t;
}

rt_task *rt_task_member_start(rt_worker *w, size_t slot)
{
    /* the member's spark first: an allocation, so a safepoint */
    rt_val env[3] = {w->sp_base[slot], RT_NIL, RT_NIL};
    rt_val sp = rt_susp_new_uncounted(w, member_spark_code, 3, env);
    rt_val m = w->sp_base[slot];
    if (!rt_is_type(m, RT_T_SUSP))
        return NULL;
    rt_task *t = rt_task_member_new(w, rt_obj_of(m));
    if (!t)
        return NULL;
    rt_obj *o = rt_obj_of(sp);
    o->field[RT_SUSP_ENV] = m;                 /* as the compaction left it */
    o->field[RT_SUSP_ENV + 1] = rt_fix((int64_t)t->id);
    o->field[RT_SUSP_ENV + 2] = rt_fix((int64_t)(atomic_load(&t->gen) & (((uint64_t)1 << 61) - 1)));
    if (w->ctx->nworkers > 1)
        rt_spark(w, sp);
    return t;
}

/* End task t of this worker now (it is not running): an unstarted one gives
 * its claim back, a started one is resumed once to unwind itself. */
static void end_local(rt_worker *w, rt_task *t)
{
    int expected = RT_TS_NEW;
    if (atomic_compare_exchange_strong(&t->state, &expected, RT_TS_DONE)) {
        rt_obj *m = t->nclaims ? t->claims[0] : NULL;
        t->nclaims = 0;
        if (m) {
            atomic_store((_Atomic uint64_t *)&m->field[RT_SUSP_STATE], RT_SUSP_UNEVALUATED);
            w->stats.released_claims++;
        }
        atomic_fetch_sub(&w->nlive, 1);
        atomic_fetch_sub(&w->ctx->green_live, 1);
        return;
    }
    int st = atomic_load(&t->state);
    if (st == RT_TS_RUNNABLE || st == RT_TS_BLOCKED) {
        w->resume_after = w->task;
        switch_to(w, t, 0);
        w->resume_after = NULL;
    }
}

void rt_tasks_abandon(rt_worker *w)
{
    if (w->task != w->main_task)
        rt_fatal("tasks abandoned from a green task");
    w->abandoning = 1;
    for (size_t i = 0; i < w->ngreen; i++)
        end_local(w, w->green[i]);
    w->abandoning = 0;
    w->pending_unwind = 0;
    bury_zombie(w);
    reap(w);
    if (w->ngreen)
        rt_fatal("worker %u kept %zu tasks after abandoning them", w->id, w->ngreen);
    w->nspark_tasks = 0;
}

void rt_task_cancel_member(rt_worker *w, rt_obj *m)
{
    uint64_t st = susp_state(m);
    if (!(st & RT_SUSP_CLAIMED_BIT))
        return;
    rt_task *t = rt_task_lookup(w->ctx, rt_susp_claimant(st));
    if (!t || t == w->task || atomic_load(&t->root) != m)
        return;
    if (t->owner == w) {
        atomic_store(&t->cancel, m);
        end_local(w, t);
        return;
    }
    /* another worker's: it unwinds at its next poll (its running task) or when
     * it next looks at its tasks; wait until the claim is gone */
    rt_worker *o = t->owner;
    atomic_store(&t->cancel, m);
    atomic_store(&o->cancel_pending, 1);
    atomic_store_explicit(&o->interrupt, 1, memory_order_relaxed);
    uint64_t spins = 0;
    size_t mark = (size_t)(w->sp - w->sp_base);
    rt_push_root(w, rt_val_of(m));
    for (;;) {
        rt_val v = w->sp_base[mark];
        if (!rt_is_type(v, RT_T_SUSP) || susp_state(rt_obj_of(v)) != st)
            break;
        rt_poll(w);
        rt_idle_pause(&spins);
        if (spins % 64 == 0)
            atomic_store_explicit(&o->interrupt, 1, memory_order_relaxed);
    }
    w->sp = w->sp_base + mark;
}

/* ==== the ticker ================================================================== */

static void *ticker_main(void *arg)
{
    rt_ctx *ctx = arg;
    pthread_mutex_lock(&ctx->tick_lock);
    while (!atomic_load(&ctx->shutdown)) {
        if (atomic_load(&ctx->green_live) == 0) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1;
            pthread_cond_timedwait(&ctx->tick_cv, &ctx->tick_lock, &ts);
            continue;
        }
        pthread_mutex_unlock(&ctx->tick_lock);
        struct timespec ts = {0, RT_TICK_NS};
        nanosleep(&ts, NULL);
        for (uint32_t i = 0; i < ctx->nworkers; i++) {
            rt_worker *w = ctx->workers[i];
            if (atomic_load_explicit(&w->nlive, memory_order_relaxed) > 0) {
                atomic_store_explicit(&w->preempt, 1, memory_order_relaxed);
                atomic_store_explicit(&w->interrupt, 1, memory_order_relaxed);
            }
        }
        pthread_mutex_lock(&ctx->tick_lock);
    }
    pthread_mutex_unlock(&ctx->tick_lock);
    return NULL;
}

static void ticker_ensure(rt_ctx *ctx)
{
    if (atomic_load(&ctx->ticker_started) == 1) {
        if (atomic_load(&ctx->green_live) == 1) {   /* it may be waiting */
            pthread_mutex_lock(&ctx->tick_lock);
            pthread_cond_signal(&ctx->tick_cv);
            pthread_mutex_unlock(&ctx->tick_lock);
        }
        return;
    }
    pthread_mutex_lock(&ctx->tick_lock);
    if (!atomic_load(&ctx->ticker_started)) {
        /* without a ticker (no thread to spare) tasks still switch when they
         * block, only not by time */
        atomic_store(&ctx->ticker_started,
                     pthread_create(&ctx->ticker, NULL, ticker_main, ctx) == 0 ? 1 : 2);
    }
    pthread_cond_signal(&ctx->tick_cv);
    pthread_mutex_unlock(&ctx->tick_lock);
}
