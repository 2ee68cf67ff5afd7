/* rt_bench.c -- benchmark kernels for bench/test_runtime_kernels.py.
 *
 * Each kernel times its own loop in C and returns nanoseconds, so that the
 * ctypes call costs nothing in the figure; pytest-benchmark times the calls
 * around them, and the benchmarks compare ratios measured in one run (a plain
 * C bump allocator, the same loop without the spark, one worker against two).
 */
#define _GNU_SOURCE
#include "rt_internal.h"

#include <stdlib.h>
#include <string.h>

rt_val rt_test_churn_code(rt_worker *w, rt_val self);
rt_val rt_test_par_churn_step(rt_worker *w, rt_val arg);
rt_val rt_test_psum_code(rt_worker *w, rt_val self);
rt_val rt_test_force_step(rt_worker *w, rt_val arg);

static rt_ctx *bench_ctx(uint32_t nworkers)
{
    rt_config cfg = {0};
    cfg.nworkers = nworkers;
    cfg.root_stack_words = 1 << 20;
    return rt_ctx_new(&cfg);
}

/* ---- allocation fast path -------------------------------------------------- */

static uint64_t alloc_cells;
static uint64_t alloc_ns;

/* The loop generated code will run: reserve, bump, initialise.  A window of
 * 64 cells stays reachable; the rest is garbage for the local collector. */
static rt_val alloc_step(rt_worker *w, rt_val arg)
{
    (void)arg;
    uint64_t n = alloc_cells;
    rt_push_root(w, RT_NIL);
    uint64_t t0 = rt_now_ns();
    rt_val l = RT_NIL;
    for (uint64_t i = 0; i < n; i++) {
        if ((i & 63) == 0)
            l = RT_NIL;
        if (__builtin_expect((size_t)(w->limit - w->hp) < 24, 0)) {
            w->sp[-1] = l;
            rt_reserve_slow(w, 24);
            l = w->sp[-1];
        }
        rt_obj *o = rt_alloc_nogc(w, RT_HDR(RT_T_CONS, 0, 0, 2));
        o->field[0] = rt_fix((int64_t)i);
        o->field[1] = l;
        l = rt_val_of(o);
    }
    alloc_ns = rt_now_ns() - t0;
    w->sp--;
    return l;
}

double rt_bench_alloc_ns_per_cell(uint64_t n)
{
    rt_ctx *ctx = bench_ctx(1);
    if (!ctx)
        return -1;
    rt_val r;
    alloc_cells = n / 4;                    /* warm the regions first */
    rt_step(ctx, alloc_step, RT_NIL, &r);
    alloc_cells = n;
    rt_step(ctx, alloc_step, RT_NIL, &r);
    rt_ctx_free(ctx);
    return (double)alloc_ns / (double)n;
}

/* The floor: the same cells from a plain C bump allocator in one reused 2 MiB
 * buffer, no collector at all. */
double rt_bench_c_bump_ns_per_cell(uint64_t n)
{
    size_t words = RT_REGION_WORDS;
    uint64_t *buf = aligned_alloc(RT_REGION_BYTES, RT_REGION_BYTES);
    if (!buf)
        return -1;
    memset(buf, 0, RT_REGION_BYTES);
    volatile uint64_t sink = 0;
    uint64_t t0 = rt_now_ns();
    uint64_t *hp = buf, *limit = buf + words;
    uint64_t prev = 0;
    for (uint64_t i = 0; i < n; i++) {
        if (__builtin_expect(limit - hp < 3, 0)) {
            sink += prev;
            hp = buf;
        }
        hp[0] = RT_HDR(RT_T_CONS, 0, 0, 2);
        hp[1] = ((uint64_t)i << 1) | 1;
        hp[2] = (i & 63) ? prev : RT_NIL;
        prev = (uint64_t)(uintptr_t)hp;
        hp += 3;
    }
    uint64_t dt = rt_now_ns() - t0;
    sink += prev;
    free(buf);
    return (double)dt / (double)n;
}

/* ---- spark create + fizzle ------------------------------------------------- */

static rt_val unit_code(rt_worker *w, rt_val self)
{
    (void)w;
    (void)self;
    return RT_UNIT;
}

static uint64_t spark_iters, spark_with_ns, spark_without_ns;

static rt_val spark_step(rt_worker *w, rt_val arg)
{
    (void)arg;
    for (int with = 0; with < 2; with++) {
        uint64_t t0 = rt_now_ns();
        for (uint64_t i = 0; i < spark_iters; i++) {
            rt_val s = rt_susp_new(w, unit_code, 0, NULL);
            if (with)
                rt_spark(w, s);
            (void)rt_force(w, s);
        }
        uint64_t dt = rt_now_ns() - t0;
        if (with)
            spark_with_ns = dt;
        else
            spark_without_ns = dt;
    }
    return RT_NIL;
}

/* Returns the extra cost per iteration of sparking a suspension that its own
 * worker then forces (the spark fizzles): create, push, pop, count. */
double rt_bench_spark_fizzle_ns(uint64_t n, uint32_t nworkers)
{
    rt_ctx *ctx = bench_ctx(nworkers);
    if (!ctx)
        return -1;
    rt_val r;
    spark_iters = n / 4;
    rt_step(ctx, spark_step, RT_NIL, &r);
    spark_iters = n;
    rt_step(ctx, spark_step, RT_NIL, &r);
    rt_ctx_free(ctx);
    return ((double)spark_with_ns - (double)spark_without_ns) / (double)n;
}

/* ---- local collection pause ------------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint32_t pause_rounds, pause_live_pct;

/* Allocate cells for `pause_rounds` regions' worth; every k-th cell joins a
 * live list that is dropped once per region, so about live_pct percent of the
 * region is live when its collection runs. */
static rt_val pause_step(rt_worker *w, rt_val arg)
{
    (void)arg;
    uint64_t cells = RT_REGION_BYTES / 24;
    uint64_t every = pause_live_pct ? 100 / pause_live_pct : cells + 1;
    rt_push_root(w, RT_NIL);
    for (uint64_t i = 0; i < cells * pause_rounds; i++) {
        if (i % cells == 0)
            w->sp[-1] = RT_NIL;
        rt_reserve(w, 24);
        rt_obj *o = rt_alloc_nogc(w, RT_HDR(RT_T_CONS, 0, 0, 2));
        o->field[0] = rt_fix((int64_t)i);
        if (i % every == 0) {
            o->field[1] = w->sp[-1];
            w->sp[-1] = rt_val_of(o);
        } else {
            o->field[1] = RT_NIL;
        }
    }
    w->sp--;
    return RT_NIL;
}

/* Local GC pauses of one 2 MiB region with live_pct percent of its cells live;
 * writes p50, p99, max (ns) and the number of collections to out[0..3]. */
int rt_bench_local_gc_pause(uint32_t rounds, uint32_t live_pct, uint64_t *out)
{
    rt_config cfg = {0};
    cfg.nworkers = 1;
    cfg.local_budget = RT_REGION_BYTES;
    rt_ctx *ctx = rt_ctx_new(&cfg);
    if (!ctx)
        return -1;
    rt_worker *w = rt_ctx_main(ctx);
    size_t cap = (size_t)rounds * 4 + 16;
    w->pause_log = calloc(cap, sizeof *w->pause_log);
    w->pause_log_cap = cap;
    pause_rounds = rounds;
    pause_live_pct = live_pct;
    rt_val r;
    rt_step(ctx, pause_step, RT_NIL, &r);
    size_t k = w->pause_log_n;
    uint64_t *p = w->pause_log;
    qsort(p, k, sizeof *p, cmp_u64);
    out[0] = k ? p[k / 2] : 0;
    out[1] = k ? p[(k * 99) / 100 < k ? (k * 99) / 100 : k - 1] : 0;
    out[2] = k ? p[k - 1] : 0;
    out[3] = k;
    out[4] = w->stats.promotions;
    free(p);
    w->pause_log = NULL;
    rt_ctx_free(ctx);
    return 0;
}

/* ---- failed allocation to resumed evaluation ------------------------------- */

/* Median and max of `rounds` resumptions (ns, compaction excluded) of a step
 * that fails at a pseudo-random reservation: out[0] median, out[1] max. */
int rt_bench_resume(uint32_t rounds, uint64_t *out)
{
    rt_ctx *ctx = bench_ctx(1);
    if (!ctx)
        return -1;
    rt_worker *w = rt_ctx_main(ctx);
    uint64_t *s = calloc(rounds, sizeof *s);
    uint64_t seed = 99;
    uint32_t k = 0;
    for (uint32_t i = 0; i < rounds; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        rt_val env[3] = {rt_fix(0), rt_fix(4000), rt_fix(4000)};
        rt_val susp = rt_susp_new(w, rt_test_psum_code, 3, env);
        rt_inject_main_failure(w, 1 + (seed >> 33) % 4000);
        w->stats.last_resume_ns = 0;
        rt_val r;
        rt_step(ctx, rt_test_force_step, susp, &r);
        if (w->stats.last_resume_ns)
            s[k++] = w->stats.last_resume_ns;
    }
    rt_inject_main_failure(w, 0);
    qsort(s, k, sizeof *s, cmp_u64);
    out[0] = k ? s[k / 2] : 0;
    out[1] = k ? s[k - 1] : 0;
    out[2] = k;
    free(s);
    rt_ctx_free(ctx);
    return 0;
}

/* ---- parallel allocation ----------------------------------------------------- */

/* Wall time of k sparks each allocating n cells, on nworkers workers. */
double rt_bench_par_alloc_ns(uint32_t nworkers, uint64_t k, uint64_t n)
{
    rt_ctx *ctx = bench_ctx(nworkers);
    if (!ctx)
        return -1;
    rt_worker *w = rt_ctx_main(ctx);
    rt_val r;
    /* warm-up: every worker touches its regions once */
    rt_step(ctx, rt_test_par_churn_step, rt_cons(w, rt_fix((int64_t)k), rt_fix(100000)), &r);
    rt_val arg = rt_cons(w, rt_fix((int64_t)k), rt_fix((int64_t)n));
    uint64_t t0 = rt_now_ns();
    rt_step(ctx, rt_test_par_churn_step, arg, &r);
    uint64_t dt = rt_now_ns() - t0;
    rt_ctx_free(ctx);
    return rt_is_fix(r) ? (double)dt : -1;
}
