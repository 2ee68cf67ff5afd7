/* rt_selftest.c -- the runtime's built-in self-tests, and the workloads that
 * the benchmarks share with them.
 *
 * Until the JIT exists these drive the runtime the way generated code will:
 * suspensions whose code is C functions, every heap value held across a
 * safepoint kept on the root stack (Note [Roots]).  Each test checks results
 * it can compute independently (closed-form sums), and after every step that
 * the heap holds only valid states (rt_heap_verify: no claims left, nothing
 * malformed).  rt_selftest() is called from pytest through ctypes and from
 * rt_selftest_main.c in the sanitizer builds.
 */
#define _GNU_SOURCE
#include "rt_internal.h"

#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static FILE *out;
static int failures;

#define CHECK(cond, ...)                                                        \
    do {                                                                        \
        if (!(cond)) {                                                          \
            failures++;                                                         \
            fprintf(out, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);        \
            fprintf(out, __VA_ARGS__);                                          \
            fputc('\n', out);                                                   \
        }                                                                       \
    } while (0)

static int64_t env_int(rt_val self, int i)
{
    return rt_fix_value(rt_obj_of(self)->field[RT_SUSP_ENV + i]);
}

/* ---- workloads ---------------------------------------------------------------- */

/* iota [lo, hi): a lazy list, one suspension per tail. */
rt_val rt_test_iota_code(rt_worker *w, rt_val self)
{
    int64_t lo = env_int(self, 0), hi = env_int(self, 1);
    if (lo >= hi)
        return RT_NIL;
    rt_val env[2] = {rt_fix(lo + 1), rt_fix(hi)};
    rt_val rest = rt_susp_new(w, rt_test_iota_code, 2, env);
    return rt_cons(w, rt_fix(lo), rest);
}

/* Sum a lazy list of small integers, forcing as it goes. */
static rt_val sum_list(rt_worker *w, rt_val l)
{
    int64_t acc = 0;
    rt_push_root(w, l);
    for (;;) {
        rt_val v = rt_force(w, w->sp[-1]);
        if (v == RT_NIL)
            break;
        if (!rt_is_type(v, RT_T_CONS)) {
            w->sp--;
            return v;          /* an error value */
        }
        acc += rt_fix_value(rt_obj_of(v)->field[0]);
        w->sp[-1] = rt_obj_of(v)->field[1];
        rt_poll(w);
    }
    w->sp--;
    return rt_fix(acc);
}

/* psum [lo, hi) grain: divide and conquer; spark the left half, force the
 * right, then the left.  Leaves sum a lazy iota. */
rt_val rt_test_psum_code(rt_worker *w, rt_val self)
{
    int64_t lo = env_int(self, 0), hi = env_int(self, 1), grain = env_int(self, 2);
    rt_poll(w);
    if (hi - lo <= grain) {
        rt_val env[2] = {rt_fix(lo), rt_fix(hi)};
        return sum_list(w, rt_susp_new(w, rt_test_iota_code, 2, env));
    }
    int64_t mid = lo + (hi - lo) / 2;
    rt_val le[3] = {rt_fix(lo), rt_fix(mid), rt_fix(grain)};
    rt_push_root(w, rt_susp_new(w, rt_test_psum_code, 3, le));
    rt_val re[3] = {rt_fix(mid), rt_fix(hi), rt_fix(grain)};
    rt_val right = rt_susp_new(w, rt_test_psum_code, 3, re);
    rt_spark(w, w->sp[-1]);
    rt_val r = rt_force(w, right);
    rt_val l = rt_force(w, w->sp[-1]);
    w->sp--;
    if (!rt_is_fix(r))
        return r;
    if (!rt_is_fix(l))
        return l;
    return rt_fix(rt_fix_value(l) + rt_fix_value(r));
}

rt_val rt_test_force_step(rt_worker *w, rt_val arg) { return rt_force(w, arg); }

static int64_t range_sum(int64_t lo, int64_t hi)
{
    return (hi - 1) * hi / 2 - (lo - 1) * lo / 2;
}

/* churn n: allocate n cons cells in windows of 64 (the window restarts at
 * every multiple of 64, the rest is garbage); returns the sum of the last
 * window's heads, which checks that the cells survived local collections. */
rt_val rt_test_churn_code(rt_worker *w, rt_val self)
{
    int64_t n = env_int(self, 0);
    rt_push_root(w, RT_NIL);
    for (int64_t i = 0; i < n; i++) {
        if (i % 64 == 0) {
            w->sp[-1] = RT_NIL;
            rt_poll(w);
        }
        w->sp[-1] = rt_cons(w, rt_fix(i), w->sp[-1]);
    }
    int64_t s = 0;
    for (rt_val p = w->sp[-1]; p != RT_NIL; p = rt_obj_of(p)->field[1])
        s += rt_fix_value(rt_obj_of(p)->field[0]);
    w->sp--;
    return rt_fix(s);
}

static int64_t churn_expect(int64_t n)
{
    int64_t start = n ? (n - 1) - (n - 1) % 64 : 0;
    return n ? range_sum(start, n) : 0;
}

/* spawn k churn sparks of n cells each and force them all; arg is [k n] */
rt_val rt_test_par_churn_step(rt_worker *w, rt_val arg)
{
    int64_t k = rt_fix_value(rt_obj_of(arg)->field[0]);
    int64_t n = rt_fix_value(rt_obj_of(arg)->field[1]);
    size_t base = (size_t)(w->sp - w->sp_base);
    for (int64_t i = 0; i < k; i++) {
        rt_val env[1] = {rt_fix(n)};
        rt_val s = rt_susp_new(w, rt_test_churn_code, 1, env);
        rt_push_root(w, s);
        rt_spark(w, s);
    }
    int64_t total = 0;
    for (int64_t i = k - 1; i >= 0; i--) {
        rt_val v = rt_force(w, w->sp_base[base + (size_t)i]);
        if (!rt_is_fix(v))
            return v;
        total += rt_fix_value(v);
    }
    w->sp = w->sp_base + base;
    return rt_fix(total);
}

static int verify_clean(rt_ctx *ctx, const char *what)
{
    rt_heap_check hc;
    rt_heap_verify(ctx, &hc);
    CHECK(hc.claimed == 0, "%s: %llu claimed suspensions left", what,
          (unsigned long long)hc.claimed);
    CHECK(hc.bad == 0, "%s: %llu malformed objects", what, (unsigned long long)hc.bad);
    return hc.claimed == 0 && hc.bad == 0;
}

static rt_ctx *make_ctx(uint32_t nworkers, uint64_t heap, uint32_t stress, uint64_t inject)
{
    rt_config cfg = {0};
    cfg.nworkers = nworkers;
    cfg.heap_limit = heap;
    cfg.gc_stress = stress;
    cfg.inject_fail_every = inject;
    cfg.root_stack_words = 1 << 20;
    cfg.helper_stack_bytes = 64 << 20;
    rt_ctx *ctx = rt_ctx_new(&cfg);
    if (!ctx) {
        fprintf(out, "FAIL: rt_ctx_new\n");
        failures++;
    }
    return ctx;
}

static rt_val psum_susp(rt_worker *w, int64_t lo, int64_t hi, int64_t grain)
{
    rt_val env[3] = {rt_fix(lo), rt_fix(hi), rt_fix(grain)};
    return rt_susp_new(w, rt_test_psum_code, 3, env);
}

/* Run psum [0, n) as a step and check the answer. */
static int run_psum(rt_ctx *ctx, int64_t n, int64_t grain, const char *what)
{
    rt_worker *w = rt_ctx_main(ctx);
    rt_val s = psum_susp(w, 0, n, grain);
    rt_val r = RT_NULL;
    int st = rt_step(ctx, rt_test_force_step, s, &r);
    CHECK(st == RT_STEP_OK, "%s: step status %d", what, st);
    CHECK(rt_is_fix(r) && rt_fix_value(r) == range_sum(0, n), "%s: psum %lld = %lld, want %lld",
          what, (long long)n, rt_is_fix(r) ? (long long)rt_fix_value(r) : -1LL,
          (long long)range_sum(0, n));
    return verify_clean(ctx, what);
}

/* ---- tests ---------------------------------------------------------------------- */

static void test_values(uint32_t nw, uint64_t scale)
{
    (void)scale;
    rt_ctx *ctx = make_ctx(nw, 0, 0, 0);
    if (!ctx)
        return;
    rt_worker *w = rt_ctx_main(ctx);
    int64_t cases[] = {0, 1, -1, RT_FIX_MAX, RT_FIX_MIN, RT_FIX_MAX + 1, RT_FIX_MIN - 1,
                       INT64_MAX, INT64_MIN};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        rt_val v = rt_int(w, cases[i]);
        int64_t back = 0;
        CHECK(rt_int_get(v, &back) && back == cases[i], "int %lld round trip",
              (long long)cases[i]);
        CHECK(rt_is_fix(v) == rt_fits_fix(cases[i]), "int %lld boxed iff it must be",
              (long long)cases[i]);
    }
    CHECK(rt_atom(ctx, "foo", 3) == rt_atom(ctx, "foo", 3), "atoms are interned");
    CHECK(rt_atom(ctx, "foo", 3) != rt_atom(ctx, "fob", 3), "distinct atoms differ");
    size_t len = 0;
    const char *name = rt_atom_name(ctx, rt_atom(ctx, "hello world", 11), &len);
    CHECK(name && len == 11 && memcmp(name, "hello world", 11) == 0, "atom name");
    for (int i = 0; i < 5000; i++) {
        char buf[32];
        int n = snprintf(buf, sizeof buf, "atom%d", i);
        rt_val a = rt_atom(ctx, buf, (size_t)n);
        CHECK(a == rt_atom(ctx, buf, (size_t)n), "atom %d re-interned", i);
    }
    rt_val f = rt_float(w, 2.5);
    CHECK(rt_is_type(f, RT_T_FLOAT), "float type");
    rt_val e = rt_error_new(w, "division by zero");
    CHECK(rt_is_error(e), "error value");
    CHECK(!rt_is_ptr(RT_NIL) && !rt_is_fix(RT_NIL) && !rt_is_atom(RT_NIL), "nil is a constant");
    CHECK(rt_is_prim(rt_prim_val(7)) && !rt_is_ptr(rt_prim_val(7)), "primitive tag");
    /* closures and quoted forms keep their fields through a compaction */
    rt_val fv[2] = {rt_fix(5), rt_atom(ctx, "x", 1)};
    uint32_t gc = rt_global_new(ctx, rt_closure_new(w, NULL, 1, 2, fv));
    rt_val ff[3] = {rt_atom(ctx, "add", 3), rt_fix(1), rt_global_get(ctx, gc)};
    uint32_t gf = rt_global_new(ctx, rt_form_new(w, RT_FORM_APPLY, 3, ff));
    rt_gc_major(w);
    rt_val c = rt_global_get(ctx, gc), form = rt_global_get(ctx, gf);
    CHECK(rt_is_type(c, RT_T_CLOSURE) && rt_hdr_aux(rt_obj_of(c)->header) == 1 &&
              rt_obj_of(c)->field[RT_CLOSURE_FREE + 1] == rt_atom(ctx, "x", 1),
          "closure survives compaction");
    CHECK(rt_is_type(form, RT_T_FORM) && rt_hdr_aux(rt_obj_of(form)->header) == RT_FORM_APPLY &&
              rt_obj_of(form)->field[2] == c && rt_obj_of(form)->field[1] == rt_fix(1),
          "form survives compaction and shares the closure");
    rt_ctx_free(ctx);
}

/* Local collection keeps what is reachable and reuses what is not. */
static void test_local_gc(uint32_t nw, uint64_t scale)
{
    rt_ctx *ctx = make_ctx(1, 0, 0, 0);
    if (!ctx)
        return;
    (void)nw;
    rt_worker *w = rt_ctx_main(ctx);
    int64_t n = 10000 * (int64_t)scale;
    /* a live list interleaved with garbage */
    rt_push_root(w, RT_NIL);
    for (int64_t i = 0; i < n; i++) {
        rt_val l = rt_cons(w, rt_fix(i), w->sp[-1]);
        w->sp[-1] = l;
        for (int k = 0; k < 3; k++)
            (void)rt_float(w, (double)k);          /* garbage */
    }
    uint64_t before = w->stats.local_gcs;
    for (int round = 0; round < 5; round++) {
        uint64_t freed = rt_gc_local(w);
        CHECK(freed > 0, "round %d reclaimed nothing", round);
        /* allocate into the gaps */
        for (int64_t i = 0; i < n; i++)
            (void)rt_cons(w, rt_fix(i), RT_NIL);
    }
    CHECK(w->stats.local_gcs >= before + 5, "local collections counted");
    int64_t s = 0, count = 0;
    for (rt_val p = w->sp[-1]; p != RT_NIL; p = rt_obj_of(p)->field[1]) {
        CHECK(rt_is_type(p, RT_T_CONS), "list cell type");
        s += rt_fix_value(rt_obj_of(p)->field[0]);
        count++;
    }
    CHECK(count == n && s == range_sum(0, n), "live list intact after local GC: %lld cells",
          (long long)count);
    w->sp--;
    rt_ctx_free(ctx);
}

/* Compaction moves objects, keeps sharing, removes indirections, keeps claims. */
static rt_val const_code(rt_worker *w, rt_val self)
{
    (void)w;
    return rt_obj_of(self)->field[RT_SUSP_ENV];
}

static void test_major_gc(uint32_t nw, uint64_t scale)
{
    rt_ctx *ctx = make_ctx(nw, 0, 0, 0);
    if (!ctx)
        return;
    rt_worker *w = rt_ctx_main(ctx);
    int64_t n = 20000 * (int64_t)scale;
    rt_push_root(w, RT_NIL);
    for (int64_t i = 0; i < n; i++)
        w->sp[-1] = rt_cons(w, rt_fix(i), w->sp[-1]);
    rt_val shared = rt_cons(w, rt_fix(42), RT_NIL);
    uint32_t g1 = rt_global_new(ctx, shared);
    uint32_t g2 = rt_global_new(ctx, rt_cons(w, rt_global_get(ctx, g1), rt_global_get(ctx, g1)));
    rt_val env[1] = {rt_fix(7)};
    rt_val ev = rt_susp_new(w, const_code, 1, env);
    uint32_t g3 = rt_global_new(ctx, ev);
    rt_val seven = rt_force(w, rt_global_get(ctx, g3));
    CHECK(seven == rt_fix(7), "suspension value");
    uint32_t g4 = rt_global_new(ctx, rt_cons(w, rt_global_get(ctx, g3), RT_NIL));
    rt_val old_list = w->sp[-1];
    for (int round = 0; round < 3; round++)
        rt_gc_major(w);
    CHECK(w->sp[-1] != old_list, "the list moved");
    int64_t s = 0, count = 0;
    for (rt_val p = w->sp[-1]; p != RT_NIL; p = rt_obj_of(p)->field[1]) {
        s += rt_fix_value(rt_obj_of(p)->field[0]);
        count++;
    }
    CHECK(count == n && s == range_sum(0, n), "list intact after compaction");
    rt_val pair = rt_global_get(ctx, g2);
    CHECK(rt_obj_of(pair)->field[0] == rt_obj_of(pair)->field[1] &&
              rt_obj_of(pair)->field[0] == rt_global_get(ctx, g1),
          "sharing kept");
    CHECK(rt_global_get(ctx, g3) == rt_fix(7), "global indirection shortcut");
    CHECK(rt_obj_of(rt_global_get(ctx, g4))->field[0] == rt_fix(7), "field indirection shortcut");
    rt_stats st;
    rt_stats_get(ctx, &st);
    CHECK(st.major_gcs == 3, "three compactions counted");
    CHECK(st.live_bytes_after_major >= (uint64_t)n * 24, "live bytes measured");
    w->sp--;
    verify_clean(ctx, "major");
    rt_ctx_free(ctx);
}

/* Note [Selector suspensions]: compaction replaces an unevaluated selector whose
 * source is already a cons by the field it selects, so `hi` no longer keeps `lo`'s
 * list alive; selectors it cannot evaluate without running code stay, and still
 * give the right value when forced. */
static rt_val list_of(rt_worker *w, int64_t n, int64_t first)
{
    rt_push_root(w, RT_NIL);
    for (int64_t i = n - 1; i >= 0; i--)
        w->sp[-1] = rt_cons(w, rt_fix(first + i), w->sp[-1]);
    return *--w->sp;
}

static int64_t list_sum(rt_val p, int64_t *count)
{
    int64_t s = 0;
    *count = 0;
    for (; rt_is_type(p, RT_T_CONS); p = rt_obj_of(p)->field[1], ++*count)
        s += rt_fix_value(rt_obj_of(p)->field[0]);
    return s;
}

static void test_selectors(uint32_t nw, uint64_t scale)
{
    rt_ctx *ctx = make_ctx(nw, 0, 0, 0);
    if (!ctx)
        return;
    rt_worker *w = rt_ctx_main(ctx);
    int64_t n = 20000 * (int64_t)scale;
    size_t base = (size_t)(w->sp - w->sp_base);
#define SLOT(i) w->sp_base[base + (i)]
    /* 0: the pair [lo hi] behind an unevaluated suspension P */
    rt_push_root(w, list_of(w, n, 0));                        /* lo: 0 .. n-1 */
    rt_push_root(w, list_of(w, n, n));                        /* hi: n .. 2n-1 */
    rt_val tail = rt_cons(w, SLOT(1), RT_NIL);
    SLOT(1) = tail;
    rt_val pair = rt_cons(w, SLOT(0), SLOT(1));
    w->sp = w->sp_base + base;
    rt_push_root(w, rt_susp_new(w, const_code, 1, &pair));   /* 0: P */
    /* 1: hi's selector, a selector of a selector as a pattern [lo hi] makes it */
    rt_push_root(w, rt_select(w, SLOT(0), 1));
    SLOT(1) = rt_select(w, SLOT(1), 0);
    /* 2: a selector whose source is never evaluated: it must stay */
    rt_push_root(w, list_of(w, 5, 100));
    rt_val small = rt_cons(w, SLOT(2), RT_NIL);
    SLOT(2) = rt_susp_new(w, const_code, 1, &small);
    SLOT(2) = rt_select(w, SLOT(2), 0);
    /* 3: a selector of an evaluated error: it must stay and give the error */
    rt_val e = rt_error_new(w, "no pair");
    rt_push_root(w, rt_susp_new(w, const_code, 1, &e));
    rt_push_root(w, rt_select(w, SLOT(3), 0));
    SLOT(3) = SLOT(4);
    w->sp--;
    CHECK(rt_is_type(SLOT(1), RT_T_SUSP) && rt_is_type(SLOT(2), RT_T_SUSP) &&
              rt_is_type(SLOT(3), RT_T_SUSP), "selectors made as suspensions");
    (void)rt_force(w, SLOT(0));                               /* P evaluated */
    (void)rt_force(w, rt_obj_of(SLOT(3))->field[RT_SUSP_ENV]); /* the error evaluated */
    SLOT(0) = RT_NIL;                                         /* only hi's selector keeps P */

    rt_heap_check before, after;
    rt_heap_verify(ctx, &before);
    rt_stats st0;
    rt_stats_get(ctx, &st0);
    rt_gc_major(w);
    rt_heap_verify(ctx, &after);
    rt_stats st;
    rt_stats_get(ctx, &st);
    CHECK(before.objects >= (uint64_t)(2 * n), "both lists reachable before (%llu objects)",
          (unsigned long long)before.objects);
    CHECK(rt_is_type(SLOT(1), RT_T_CONS), "hi's selector replaced by hi's list");
    int64_t count;
    int64_t sum = list_sum(SLOT(1), &count);
    CHECK(count == n && sum == range_sum(n, 2 * n), "hi's list intact (%lld cells)",
          (long long)count);
    /* lo is gone: what is left is hi and the small selectors */
    CHECK(after.objects < (uint64_t)n + 100 && before.objects >= (uint64_t)(2 * n),
          "lo's list collected (%llu objects before, %llu after)",
          (unsigned long long)before.objects, (unsigned long long)after.objects);
    CHECK(st.selectors_resolved - st0.selectors_resolved >= 1, "resolved selectors counted");
    CHECK(rt_is_type(SLOT(2), RT_T_SUSP) && rt_is_type(SLOT(3), RT_T_SUSP),
          "selectors of an unevaluated source or an error stay");
    rt_val lo = rt_force(w, SLOT(2));
    sum = list_sum(lo, &count);
    CHECK(count == 5 && sum == range_sum(100, 105), "the remaining selector still selects");
    CHECK(rt_is_error(rt_force(w, SLOT(3))), "a selector of an error gives the error");
#undef SLOT
    w->sp = w->sp_base + base;
    verify_clean(ctx, "selectors");
    rt_ctx_free(ctx);
}

/* Note [Populating fresh regions]: a region taken fresh, past the first two per
 * worker, is resident before anyone touches it (mincore), where the kernel has
 * MADV_POPULATE_WRITE; a region from the free pool is the same region again. */
static void test_populate(uint32_t nw, uint64_t scale)
{
    (void)scale;
    rt_ctx *ctx = make_ctx(nw, 0, 0, 0);
    if (!ctx)
        return;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    uint8_t *probe = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    int supported = probe != MAP_FAILED && madvise(probe, page, 23 /* MADV_POPULATE_WRITE */) == 0;
    if (probe != MAP_FAILED)
        munmap(probe, page);
    /* the first fresh regions are left to fault in: take them first */
    uint32_t early[64], nearly = 0;
    while (ctx->next_fresh < 2 * ctx->nworkers && nearly < 64)
        early[nearly++] = rt_heap_region_take(ctx, RT_OWNER_OLD, 0);
    uint32_t r = rt_heap_region_take(ctx, RT_OWNER_OLD, 0);
    CHECK(r != RT_NO_REGION && r >= 2 * ctx->nworkers, "a region past the first");
    if (r != RT_NO_REGION) {
        size_t npages = RT_REGION_BYTES / page, resident = 0;
        unsigned char *vec = malloc(npages);
        if (vec && mincore(rt_heap_region_base(ctx, r), RT_REGION_BYTES, vec) == 0)
            for (size_t i = 0; i < npages; i++)
                resident += vec[i] & 1;
        free(vec);
        if (supported)
            CHECK(resident == npages, "fresh region populated: %zu of %zu pages resident",
                  resident, npages);
        else
            fprintf(out, "populate: MADV_POPULATE_WRITE unsupported here; %zu of %zu pages "
                    "resident\n", resident, npages);
        pthread_mutex_lock(&ctx->heap_lock);
        rt_heap_region_release_unlocked(ctx, r);
        pthread_mutex_unlock(&ctx->heap_lock);
        uint32_t again = rt_heap_region_take(ctx, RT_OWNER_OLD, 0);
        CHECK(again == r, "the pool's region is taken before a fresh one");
        pthread_mutex_lock(&ctx->heap_lock);
        rt_heap_region_release_unlocked(ctx, again);
        pthread_mutex_unlock(&ctx->heap_lock);
    }
    pthread_mutex_lock(&ctx->heap_lock);
    for (uint32_t i = 0; i < nearly; i++)
        if (early[i] != RT_NO_REGION)
            rt_heap_region_release_unlocked(ctx, early[i]);
    pthread_mutex_unlock(&ctx->heap_lock);
    rt_ctx_free(ctx);
}

/* Note [Parallel compaction]: with every helper busy in a spark that polls, a
 * compaction stops them at safepoints and they join it; the lists it moves (and
 * the selectors it resolves) come out whole, however the copying was shared. */
static _Atomic int pgc_release;

static rt_val pgc_spin_code(rt_worker *w, rt_val self)
{
    (void)self;
    while (!atomic_load(&pgc_release))
        rt_poll(w);
    return rt_fix(1);
}

static rt_val pgc_step(rt_worker *w, rt_val arg)
{
    rt_ctx *ctx = w->ctx;
    int64_t nlists = 64, len = 2000 * rt_fix_value(arg);
    size_t base = (size_t)(w->sp - w->sp_base);
    uint32_t nh = ctx->nworkers - 1;
    for (uint32_t i = 0; i < nh; i++) {
        rt_push_root(w, rt_susp_new(w, pgc_spin_code, 0, NULL));
        rt_spark(w, w->sp[-1]);
    }
    for (uint32_t i = 0; i < nh; i++) {          /* every helper holds a spinner */
        rt_obj *o = rt_obj_of(w->sp_base[base + i]);
        while (atomic_load((_Atomic uint64_t *)&o->field[RT_SUSP_STATE]) == RT_SUSP_UNEVALUATED) {
            rt_poll(w);
            cpu_relax();
            o = rt_obj_of(w->sp_base[base + i]);
        }
    }
    for (int64_t l = 0; l < nlists; l++)
        rt_push_root(w, list_of(w, len, l * len));
    for (int round = 0; round < 3; round++)
        rt_gc_major(w);
    int ok = 1;
    for (int64_t l = 0; l < nlists; l++) {
        int64_t count, sum = list_sum(w->sp_base[base + nh + (size_t)l], &count);
        ok &= count == len && sum == range_sum(l * len, (l + 1) * len);
    }
    atomic_store(&pgc_release, 1);
    for (uint32_t i = 0; i < nh; i++)
        ok &= rt_force(w, w->sp_base[base + i]) == rt_fix(1);
    w->sp = w->sp_base + base;
    return ok ? RT_UNIT : RT_NIL;
}

static void test_parallel_gc(uint32_t nw, uint64_t scale)
{
    rt_ctx *ctx = make_ctx(nw, 0, 0, 0);
    if (!ctx)
        return;
    atomic_store(&pgc_release, 0);
    rt_val r = RT_NULL;
    int st = rt_step(ctx, pgc_step, rt_fix((int64_t)scale), &r);
    CHECK(st == RT_STEP_OK && r == RT_UNIT, "lists intact after compactions (status %d)", st);
    rt_stats s;
    rt_stats_get(ctx, &s);
    CHECK(s.major_gcs == 3, "three compactions");
    if (nw > 1)
        CHECK(s.major_joins >= 1, "the spinning helpers joined (%llu joins)",
              (unsigned long long)s.major_joins);
    else
        CHECK(s.major_joins == 0, "no helpers, no joins");
    fprintf(out, "parallel_gc: %u workers, %llu helper joins in %llu compactions, %.1f ms\n", nw,
            (unsigned long long)s.major_joins, (unsigned long long)s.major_gcs,
            s.major_pause_ns / 1e6);
    verify_clean(ctx, "parallel_gc");
    rt_ctx_free(ctx);
}

/* Forcing: values, self-cycles, errors. */
static rt_val self_code(rt_worker *w, rt_val self) { return rt_force(w, self); }

static void test_force(uint32_t nw, uint64_t scale)
{
    (void)scale;
    rt_ctx *ctx = make_ctx(nw, 0, 0, 0);
    if (!ctx)
        return;
    rt_worker *w = rt_ctx_main(ctx);
    rt_val s = rt_susp_new(w, self_code, 0, NULL);
    rt_val r = RT_NULL;
    CHECK(rt_step(ctx, rt_test_force_step, s, &r) == RT_STEP_OK, "step");
    CHECK(rt_is_error(r), "a self-demanding suspension gives an error value");
    if (rt_is_error(r)) {
        size_t len;
        const char *m = rt_atom_name(ctx, rt_obj_of(r)->field[0], &len);
        CHECK(m && strncmp(m, "cycle", 5) == 0, "message names the cycle: %s", m ? m : "?");
    }
    verify_clean(ctx, "force");
    rt_ctx_free(ctx);
}

/* Two suspensions demanding each other, forced from two workers at once:
 * the answer is a cycle error, never a hang. */
static rt_val cyc_code(rt_worker *w, rt_val self)
{
    return rt_force(w, rt_obj_of(self)->field[RT_SUSP_ENV]);
}
static rt_val cyc_step(rt_worker *w, rt_val arg)
{
    /* arg is a pair cell [a b] */
    rt_push_root(w, arg);
    rt_spark(w, rt_obj_of(arg)->field[0]);
    for (volatile int i = 0; i < 200; i++)
        ;
    rt_val r = rt_force(w, rt_obj_of(w->sp[-1])->field[1]);
    w->sp--;
    return r;
}
static void test_cycle(uint32_t nw, uint64_t scale)
{
    rt_ctx *ctx = make_ctx(nw, 0, 0, 0);
    if (!ctx)
        return;
    rt_worker *w = rt_ctx_main(ctx);
    int rounds = (int)(200 * scale);
    int errors = 0;
    for (int i = 0; i < rounds; i++) {
        /* a needs b, b needs a: build with a placeholder, then patch before
         * publication (both are still private to this thread) */
        rt_val env[1] = {RT_NIL};
        rt_val a = rt_susp_new(w, cyc_code, 1, env);
        rt_push_root(w, a);
        rt_val b = rt_susp_new(w, cyc_code, 1, &w->sp[-1]);
        a = w->sp[-1];
        rt_obj_of(a)->field[RT_SUSP_ENV] = b;
        w->sp[-1] = rt_cons(w, a, b);
        rt_val r = RT_NULL;
        rt_val pair = rt_pop_root(w);
        CHECK(rt_step(ctx, cyc_step, pair, &r) == RT_STEP_OK, "cycle step");
        errors += rt_is_error(r);
    }
    CHECK(errors == rounds, "every round gives a cycle error (%d of %d)", errors, rounds);
    verify_clean(ctx, "cycle");
    rt_ctx_free(ctx);
}

/* Many sparks under repeated local and major collections. */
static void test_sparks(uint32_t nw, uint64_t scale)
{
    rt_ctx *ctx = make_ctx(nw, 0, 1, 0);
    if (!ctx)
        return;
    int64_t grain = 8, n = 100000 * grain * (int64_t)scale / 4;
    if (n < 1000)
        n = 1000;
    uint64_t steps = 4;
    for (uint64_t i = 0; i < steps; i++)
        if (!run_psum(ctx, n, grain, "sparks"))
            break;
    rt_stats st;
    rt_stats_get(ctx, &st);
    uint64_t expect = steps * (uint64_t)(n / grain);
    CHECK(st.sparks_created + st.sparks_dud + st.sparks_overflowed >= expect / 2,
          "sparks created %llu", (unsigned long long)st.sparks_created);
    CHECK(st.major_gcs > 0, "compactions happened (%llu)", (unsigned long long)st.major_gcs);
    CHECK(st.sparks_converted + st.sparks_fizzled + st.sparks_gcd <= st.sparks_created + 1000000,
          "spark counters consistent");
    fprintf(out, "sparks: %u workers, %llu created, %llu converted, %llu fizzled, %llu GC'd, "
                 "%llu local GCs, %llu compactions\n",
            nw, (unsigned long long)st.sparks_created, (unsigned long long)st.sparks_converted,
            (unsigned long long)st.sparks_fizzled, (unsigned long long)st.sparks_gcd,
            (unsigned long long)st.local_gcs, (unsigned long long)st.major_gcs);
    rt_ctx_free(ctx);
}

/* Helpers fail every Nth reservation; results stay right and no claim leaks. */
static void test_inject(uint32_t nw, uint64_t scale)
{
    if (nw < 2)
        nw = 2;
    rt_ctx *ctx = make_ctx(nw, 0, 0, 7);
    if (!ctx)
        return;
    uint64_t target = 100000 * scale / 4;
    if (target < 2000)
        target = 2000;
    int64_t grain = 16, n = 40000;
    int steps = 0;
    rt_stats st;
    do {
        if (!run_psum(ctx, n, grain, "inject"))
            break;
        steps++;
        rt_stats_get(ctx, &st);
    } while (st.alloc_failures < target && steps < 100000);
    rt_stats_get(ctx, &st);
    CHECK(st.alloc_failures >= target, "injected failures %llu < %llu",
          (unsigned long long)st.alloc_failures, (unsigned long long)target);
    fprintf(out, "inject: %u workers, %d steps, %llu injected failures, %llu claims released\n",
            nw, steps, (unsigned long long)st.alloc_failures,
            (unsigned long long)st.released_claims);
    rt_ctx_free(ctx);
}

/* Worker 0 fails at the k-th reservation of a step: the step unwinds,
 * compacts and runs again, and the answer is right. */
static void test_main_fail(uint32_t nw, uint64_t scale)
{
    rt_ctx *ctx = make_ctx(nw, 0, 0, 0);
    if (!ctx)
        return;
    rt_worker *w = rt_ctx_main(ctx);
    int rounds = (int)(50 * scale), failed = 0;
    uint64_t seed = 12345;
    for (int i = 0; i < rounds; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        /* Even rounds run without sparks, so worker 0 surely reaches its k-th
         * reservation; odd rounds spark, and helpers may do the work first. */
        int sequential = i % 2 == 0;
        rt_inject_main_failure(w, 1 + (seed >> 33) % (sequential ? 3000 : 100));
        uint64_t unwinds = w->stats.unwinds;
        if (!run_psum(ctx, 20000, sequential ? 20000 : 16, "main_fail"))
            break;
        if (sequential)
            CHECK(w->stats.unwinds == unwinds + 1, "round %d: the step unwound once", i);
        else
            CHECK(w->stats.unwinds <= unwinds + 1, "round %d: unwound at most once", i);
        failed += w->stats.unwinds == unwinds + 1;
    }
    CHECK(failed >= rounds / 2, "only %d of %d rounds failed", failed, rounds);
    CHECK(w->stats.last_resume_ns > 0, "resume time measured");
    rt_inject_main_failure(w, 0);
    rt_ctx_free(ctx);
}

/* Live data that cannot fit: the step reports exhaustion; the context lives on. */
static rt_val hog_step(rt_worker *w, rt_val arg)
{
    int64_t n = rt_fix_value(arg);
    rt_push_root(w, RT_NIL);
    for (int64_t i = 0; i < n; i++)
        w->sp[-1] = rt_cons(w, rt_fix(i), w->sp[-1]);
    rt_val r = rt_pop_root(w);
    return rt_is_type(r, RT_T_CONS) ? rt_obj_of(r)->field[0] : r;
}
static void test_exhausted(uint32_t nw, uint64_t scale)
{
    (void)scale;
    rt_ctx *ctx = make_ctx(nw, 32u << 20, 0, 0);
    if (!ctx)
        return;
    rt_val r = RT_NULL;
    int st = rt_step(ctx, hog_step, rt_fix(4000000), &r);   /* 96 MB live */
    CHECK(st == RT_STEP_HEAP_EXHAUSTED, "exhaustion reported (status %d)", st);
    verify_clean(ctx, "exhausted");
    st = rt_step(ctx, hog_step, rt_fix(10000), &r);
    CHECK(st == RT_STEP_OK && r == rt_fix(9999), "a step that fits still runs (status %d)", st);
    char buf[128] = {0};
    FILE *m = fmemopen(buf, sizeof buf - 1, "w");
    rt_report_heap_exhausted(ctx, m);
    fclose(m);
    CHECK(strcmp(buf, "heap exhausted (limit 32M)\n") == 0, "message: %s", buf);
    rt_ctx_free(ctx);
}

/* Ctrl-C: an interrupt ends a long step at its next safepoint. */
static rt_val spin_code(rt_worker *w, rt_val self)
{
    (void)self;
    for (;;)
        rt_poll(w);
    return RT_NIL;
}
static void *interrupter(void *arg)
{
    struct timespec ts = {0, 20000000};
    nanosleep(&ts, NULL);
    rt_request_interrupt(arg);
    return NULL;
}
static void test_interrupt(uint32_t nw, uint64_t scale)
{
    (void)scale;
    rt_ctx *ctx = make_ctx(nw, 0, 0, 0);
    if (!ctx)
        return;
    rt_worker *w = rt_ctx_main(ctx);
    rt_val s = rt_susp_new(w, spin_code, 0, NULL);
    pthread_t t;
    pthread_create(&t, NULL, interrupter, ctx);
    rt_val r = RT_NULL;
    int st = rt_step(ctx, rt_test_force_step, s, &r);
    pthread_join(t, NULL);
    CHECK(st == RT_STEP_INTERRUPTED, "interrupted (status %d)", st);
    verify_clean(ctx, "interrupt");
    CHECK(run_psum(ctx, 1000, 8, "after interrupt"), "runs after an interrupt");
    rt_ctx_free(ctx);
}

/* Parallel allocation: k sparks churning through cells, under local GC. */
static void test_churn(uint32_t nw, uint64_t scale)
{
    rt_ctx *ctx = make_ctx(nw, 0, 0, 0);
    if (!ctx)
        return;
    int64_t n = 200000 * (int64_t)scale, k = 8;
    rt_val arg = rt_cons(rt_ctx_main(ctx), rt_fix(k), rt_fix(n));
    rt_val r = RT_NULL;
    int st = rt_step(ctx, rt_test_par_churn_step, arg, &r);
    CHECK(st == RT_STEP_OK, "churn status %d", st);
    CHECK(rt_is_fix(r) && rt_fix_value(r) == k * churn_expect(n),
          "churn result");
    rt_stats s;
    rt_stats_get(ctx, &s);
    CHECK(s.local_gcs > 0, "local collections ran");
    verify_clean(ctx, "churn");
    rt_ctx_free(ctx);
}

/* The write barrier.  Helpers evaluate suspensions that worker 0 made, so the
 * values (strict lists) live in the helpers' regions and are reachable only
 * through worker 0's suspensions.  Then the helpers churn through their own
 * regions, collecting locally many times.  Without the barrier their local
 * collector would free those lists and this test would read garbage. */
static rt_val make_list_code(rt_worker *w, rt_val self)
{
    int64_t base = env_int(self, 0);
    rt_push_root(w, RT_NIL);
    for (int64_t j = 99; j >= 0; j--)
        w->sp[-1] = rt_cons(w, rt_fix(base + j), w->sp[-1]);
    return rt_pop_root(w);
}

static rt_val barrier_step(rt_worker *w, rt_val arg)
{
    int64_t k = rt_fix_value(arg);
    size_t base = (size_t)(w->sp - w->sp_base);
    for (int64_t i = 0; i < k; i++) {
        rt_val env[1] = {rt_fix(i * 1000)};
        rt_push_root(w, rt_susp_new(w, make_list_code, 1, env));
        rt_spark(w, w->sp[-1]);
    }
    /* give the helpers the chance to take them all */
    uint64_t t0 = rt_now_ns();
    while (rt_ctx_nworkers(w->ctx) > 1 && rt_now_ns() - t0 < 2000000000ull) {
        int64_t done = 0;
        for (int64_t i = 0; i < k; i++)
            done += atomic_load((_Atomic uint64_t *)&rt_obj_of(w->sp_base[base + (size_t)i])
                                    ->field[RT_SUSP_STATE]) == RT_SUSP_EVALUATED;
        if (done == k)
            break;
        rt_poll(w);
    }
    /* now make every worker collect locally, many times */
    for (int64_t i = 0; i < 16; i++) {
        rt_val env[1] = {rt_fix(400000)};
        rt_push_root(w, rt_susp_new(w, rt_test_churn_code, 1, env));
        rt_spark(w, w->sp[-1]);
    }
    for (int64_t i = 0; i < 16; i++)
        (void)rt_force(w, w->sp_base[base + (size_t)(k + i)]);
    int64_t bad = 0;
    for (int64_t i = 0; i < k; i++) {
        rt_val l = rt_force(w, w->sp_base[base + (size_t)i]);
        for (int64_t j = 0; j < 100; j++) {
            if (!rt_is_type(l, RT_T_CONS) || rt_obj_of(l)->field[0] != rt_fix(i * 1000 + j)) {
                bad++;
                break;
            }
            l = rt_obj_of(l)->field[1];
        }
        bad += l != RT_NIL;
    }
    w->sp = w->sp_base + base;
    return rt_fix(bad);
}

static void test_barrier(uint32_t nw, uint64_t scale)
{
    rt_ctx *ctx = make_ctx(nw, 0, 0, 0);
    if (!ctx)
        return;
    rt_val r = RT_NULL;
    int st = rt_step(ctx, barrier_step, rt_fix(200 * (int64_t)scale), &r);
    CHECK(st == RT_STEP_OK && r == rt_fix(0), "barrier: %lld lists damaged",
          rt_is_fix(r) ? (long long)rt_fix_value(r) : -1LL);
    rt_stats s;
    rt_stats_get(ctx, &s);
    if (nw > 1) {
        CHECK(s.sparks_converted > 0, "helpers evaluated some of worker 0's suspensions");
        CHECK(s.local_gcs > 0, "local collections ran");
    }
    fprintf(out, "barrier: %u workers, %llu converted, %llu local GCs\n", nw,
            (unsigned long long)s.sparks_converted, (unsigned long long)s.local_gcs);
    verify_clean(ctx, "barrier");
    rt_ctx_free(ctx);
}

/* The steal inbox.  Worker 0 sparks suspensions and keeps no reference to
 * them at all (speculation nobody may ever need); each one sums a list that
 * worker 0 built, so once a helper has stolen one, only the helper holds it.
 * Meanwhile worker 0 churns through its own regions, collecting locally.
 * Without the inbox its collector would free the stolen suspension's list under
 * the helper.  The sums travel back through a side table, since nobody keeps
 * the suspensions. */
#define INBOX_K 64
static _Atomic int64_t inbox_sums[INBOX_K];

static rt_val slow_sum_code(rt_worker *w, rt_val self)
{
    int64_t i = env_int(self, 1);
    rt_val l = rt_obj_of(self)->field[RT_SUSP_ENV];
    int64_t acc = 0;
    while (rt_is_type(l, RT_T_CONS)) {
        acc += rt_fix_value(rt_obj_of(l)->field[0]);
        l = rt_obj_of(l)->field[1];
        for (volatile int d = 0; d < 2000; d++)
            ;
    }
    if (l != RT_NIL)
        acc = -1;
    atomic_store(&inbox_sums[i], acc);
    return rt_fix(acc);
}

static rt_val inbox_step(rt_worker *w, rt_val arg)
{
    (void)arg;
    for (int64_t i = 0; i < INBOX_K; i++) {
        atomic_store(&inbox_sums[i], INT64_MIN);
        rt_push_root(w, RT_NIL);
        for (int64_t j = 499; j >= 0; j--)
            w->sp[-1] = rt_cons(w, rt_fix(i * 1000 + j), w->sp[-1]);
        rt_val env[2] = {w->sp[-1], rt_fix(i)};
        rt_val s = rt_susp_new(w, slow_sum_code, 2, env);
        rt_spark(w, s);
        w->sp--;                       /* nobody keeps s but the deque */
    }
    uint64_t t0 = rt_now_ns();
    int64_t done = 0;
    while (rt_ctx_nworkers(w->ctx) > 1 && rt_now_ns() - t0 < 2000000000ull) {
        for (int k = 0; k < 20000; k++)
            (void)rt_cons(w, rt_fix(k), RT_NIL);          /* garbage to reuse */
        rt_gc_local(w);                                    /* however fast they are */
        done = 0;
        for (int64_t i = 0; i < INBOX_K; i++)
            done += atomic_load(&inbox_sums[i]) != INT64_MIN;
        if (done == INBOX_K)
            break;
        rt_poll(w);
    }
    return rt_fix(done);
}

static void test_inbox(uint32_t nw, uint64_t scale)
{
    rt_ctx *ctx = make_ctx(nw, 0, 0, 0);
    if (!ctx)
        return;
    for (uint64_t round = 0; round < scale; round++) {
        rt_val r = RT_NULL;
        CHECK(rt_step(ctx, inbox_step, RT_NIL, &r) == RT_STEP_OK, "inbox step");
        int64_t computed = 0, wrong = 0;
        for (int64_t i = 0; i < INBOX_K; i++) {
            int64_t got = atomic_load(&inbox_sums[i]);
            if (got == INT64_MIN)
                continue;
            computed++;
            wrong += got != 500 * i * 1000 + 499 * 500 / 2;
        }
        CHECK(wrong == 0, "inbox: %lld of %lld stolen sums wrong", (long long)wrong,
              (long long)computed);
        if (round == 0)
            fprintf(out, "inbox: %u workers, %lld of %d sums computed by helpers\n", nw,
                    (long long)computed, INBOX_K);
        if (nw > 1)
            CHECK(computed > 0, "helpers stole and ran some sparks");
    }
    rt_stats s;
    rt_stats_get(ctx, &s);
    if (nw > 1)
        CHECK(s.local_gcs > 0, "worker 0 collected while they ran");
    verify_clean(ctx, "inbox");
    rt_ctx_free(ctx);
}

/* Print the lazy list [0 .. n-1] with rt_print_step (worker 0 failing every
 * fail_every-th reservation, if nonzero) and check the text is exactly
 * "[0 1 ... n-1]\n".  Returns the failures injected. */
static uint64_t print_iota_checked(rt_ctx *ctx, int64_t n, uint64_t fail_every, const char *what,
                                   int eager)
{
    rt_worker *w = rt_ctx_main(ctx);
    FILE *tmp = tmpfile();
    rt_out *o = malloc(sizeof *o);
    rt_out_init(o, fileno(tmp));
    if (eager)          /* the flusher writes whatever is pending, racing the printer */
        o->flush_after_ns = 0;
    rt_set_print_target(ctx, o);
    uint64_t failures_before = w->stats.alloc_failures;
    rt_val env[2] = {rt_fix(0), rt_fix(n)};
    rt_val l = rt_susp_new(w, rt_test_iota_code, 2, env), r;
    if (fail_every)
        rt_inject_main_failures_every(w, fail_every);
    int st = rt_step(ctx, rt_print_step, l, &r);
    rt_inject_main_failure(w, 0);
    rt_out_flush(o);
    CHECK(st == RT_STEP_OK && o->error == 0, "%s: status %d", what, st);
    rt_set_print_target(ctx, NULL);
    free(o);
    fflush(tmp);
    rewind(tmp);
    int64_t expect = 0, bad = 0;
    CHECK(fgetc(tmp) == '[', "%s: opens with [", what);
    for (;;) {
        long long v;
        if (fscanf(tmp, "%lld", &v) != 1)
            break;
        bad += v != expect++;
    }
    CHECK(expect == n && bad == 0, "%s: printed %lld numbers, %lld out of place", what,
          (long long)expect, (long long)bad);
    CHECK(fgetc(tmp) == ']' && fgetc(tmp) == '\n' && fgetc(tmp) == EOF,
          "%s: closes with ] and one newline", what);
    fclose(tmp);
    return w->stats.alloc_failures - failures_before;
}

/* Note [Prompt output]: "[1 2" printed before an element that takes long reaches
 * the pipe while that element is being computed.  The element's code reads the
 * pipe until the text has arrived (10 s at most) and is 3 if it did, -1 if not:
 * the printer is inside the force, so only the flusher can have written it. */
static int prompt_fd = -1;
static rt_val prompt_wait_code(rt_worker *w, rt_val self)
{
    (void)w, (void)self;
    char buf[4];
    size_t got = 0;
    uint64_t until = rt_now_ns() + UINT64_C(10000000000);
    while (got < sizeof buf && rt_now_ns() < until) {
        struct pollfd p = {prompt_fd, POLLIN, 0};
        if (poll(&p, 1, 20) > 0) {
            ssize_t k = read(prompt_fd, buf + got, sizeof buf - got);
            if (k > 0)
                got += (size_t)k;
        }
    }
    return rt_fix(got == sizeof buf && memcmp(buf, "[1 2", 4) == 0 ? 3 : -1);
}

static rt_val prompt_cells_code(rt_worker *w, rt_val self)     /* [i+1 ...] */
{
    int64_t i = env_int(self, 0);
    if (i == 2)
        return rt_cons(w, rt_susp_new(w, prompt_wait_code, 0, NULL), RT_NIL);
    rt_val env[1] = {rt_fix(i + 1)};
    return rt_cons(w, rt_fix(i + 1), rt_susp_new(w, prompt_cells_code, 1, env));
}

static void print_prompt_checked(uint32_t nw)
{
    rt_ctx *ctx = make_ctx(nw, 0, 0, 0);
    int fds[2];
    if (!ctx || pipe(fds) != 0) {
        CHECK(0, "prompt: no context or pipe");
        rt_ctx_free(ctx);
        return;
    }
    prompt_fd = fds[0];
    rt_worker *w = rt_ctx_main(ctx);
    rt_out *o = malloc(sizeof *o);
    rt_out_init(o, fds[1]);
    rt_set_print_target(ctx, o);
    rt_val env[1] = {rt_fix(0)}, r;
    uint64_t t0 = rt_now_ns();
    int st = rt_step(ctx, rt_print_step, rt_susp_new(w, prompt_cells_code, 1, env), &r);
    double ms = (rt_now_ns() - t0) / 1e6;
    rt_out_flush(o);
    rt_set_print_target(ctx, NULL);
    char rest[16] = {0};
    ssize_t k = read(fds[0], rest, sizeof rest - 1);
    int ok = st == RT_STEP_OK && k == 4 && strcmp(rest, " 3]\n") == 0;
    CHECK(ok, "prompt: status %d, the pipe then held %s (-1: [1 2 had not reached it "
              "after %.0f ms)", st, rest, ms);
    if (ok)
        fprintf(out, "print: [1 2 reached the pipe while the next element was computed "
                     "(%.0f ms)\n", ms);
    free(o);
    close(fds[0]);
    close(fds[1]);
    rt_ctx_free(ctx);
}

static void test_print(uint32_t nw, uint64_t scale)
{
    /* The printer forces the list as it prints it, under compaction at every
     * slow path: everything it holds must be on the root stack. */
    rt_ctx *ctx = make_ctx(nw, 0, 1, 0);
    if (!ctx)
        return;
    print_iota_checked(ctx, 100000 * (int64_t)scale, 0, "print under compaction", 0);
    rt_stats s;
    rt_stats_get(ctx, &s);
    CHECK(s.major_gcs > 0, "compactions happened while printing");
    rt_ctx_free(ctx);

    /* Worker 0 fails every 97th reservation (each failure compacts): with its
     * commits (Note [Committed progress]) every token is written exactly once. */
    ctx = make_ctx(nw, 0, 0, 0);
    if (!ctx)
        return;
    int64_t n = 20000 * (int64_t)scale;
    uint64_t failures = print_iota_checked(ctx, n, 97, "print under failures", 0);
    CHECK(failures > (uint64_t)n / 100, "only %llu failures injected", (unsigned long long)failures);
    fprintf(out, "print: %u workers, %lld elements printed once under %llu failures\n", nw,
            (long long)n, (unsigned long long)failures);
    /* The same with the flusher writing out whatever is pending as soon as it can:
     * it writes only committed text (Note [Prompt output]). */
    print_iota_checked(ctx, n, 97, "print under failures, flushed eagerly", 1);
    rt_ctx_free(ctx);
    print_prompt_checked(nw);
}

/* Deep recursion (Note [Step stacks]): suspension i forces suspension i+1,
 * so forcing the first nests `depth` evaluations.  On the step stack a
 * million levels evaluate; on a small stack the answer is the error value
 * "stack exhausted", never a crash; and the context works afterwards. */
static rt_val chain_code(rt_worker *w, rt_val self)
{
    int64_t i = env_int(self, 0), n = env_int(self, 1);
    if (i == n)
        return rt_fix(0);
    rt_val env[2] = {rt_fix(i + 1), rt_fix(n)};
    rt_val next = rt_force(w, rt_susp_new(w, chain_code, 2, env));
    return rt_is_fix(next) ? rt_fix(rt_fix_value(next) + 1) : next;
}

static int64_t run_chain(rt_ctx *ctx, int64_t depth, rt_val *err)
{
    rt_val env[2] = {rt_fix(0), rt_fix(depth)};
    rt_val r = RT_NULL;
    int st = rt_step(ctx, rt_test_force_step, rt_susp_new(rt_ctx_main(ctx), chain_code, 2, env), &r);
    *err = r;
    return st == RT_STEP_OK && rt_is_fix(r) ? rt_fix_value(r) : -1;
}

static void test_deep(uint32_t nw, uint64_t scale)
{
    (void)scale;
#if defined(__SANITIZE_THREAD__)
    /* ThreadSanitizer cannot record stacks over 65,536 frames */
    fprintf(out, "deep: not run under ThreadSanitizer\n");
    (void)nw;
    return;
#endif
    rt_config cfg = {0};
    cfg.nworkers = nw;
    cfg.main_stack_bytes = 8 << 20;
    rt_ctx *ctx = rt_ctx_new(&cfg);
    if (!ctx)
        return;
    rt_val err;
    int64_t got = run_chain(ctx, 1000000, &err);
    CHECK(got == -1 && rt_is_error(err), "a million levels on 8 MiB: an error value");
    if (rt_is_error(err)) {
        const char *m = rt_atom_name(ctx, rt_obj_of(err)->field[0], NULL);
        CHECK(m && strcmp(m, "stack exhausted") == 0, "message: %s", m ? m : "?");
    }
    verify_clean(ctx, "deep (small stack)");
    CHECK(run_chain(ctx, 1000, &err) == 1000, "a shallow chain still works afterwards");
    rt_ctx_free(ctx);

    ctx = make_ctx(nw, 0, 0, 0);
    if (!ctx)
        return;
    if (rt_step_has_own_stack(ctx)) {
        got = run_chain(ctx, 1000000, &err);
        CHECK(got == 1000000, "a million levels on the step stack: %lld", (long long)got);
        fprintf(out, "deep: 1,000,000 nested evaluations on the step stack\n");
    } else {
        fprintf(out, "deep: steps run on the caller's stack in this build\n");
    }
    verify_clean(ctx, "deep");
    rt_ctx_free(ctx);
}

int rt_spark_deque_selftest(uint32_t thieves, uint64_t items, FILE *f);

static void test_deque(uint32_t nw, uint64_t scale)
{
    int bad = rt_spark_deque_selftest(nw < 2 ? 1 : nw - 1, 200000 * scale, out);
    CHECK(bad == 0, "deque: %d items lost or duplicated", bad);
}

/* ---- primitives (rt_prims.c) ------------------------------------------------------------
 * Every primitive against the interpreter's answers and its exact error texts
 * (interp/prims.py, eval.py describe), with compaction at every slow path of
 * worker 0 (gc_stress), so whatever a primitive holds across a safepoint
 * without rooting it shows up as a wrong answer or a malformed heap. */

static rt_ctx *pctx;        /* the context of the running prims test */
static int flag_forced;     /* how often flag_code ran */

static const char *err_text(rt_val v)
{
    return rt_is_error(v) ? rt_atom_name(pctx, rt_obj_of(v)->field[0], NULL) : NULL;
}

static const char *show(rt_val v, char *buf, size_t n)
{
    int64_t i;
    if (rt_int_get(v, &i)) {
        snprintf(buf, n, "%lld%s", (long long)i, rt_is_fix(v) ? "" : " (boxed)");
    } else if (rt_is_type(v, RT_T_FLOAT)) {
        double d;
        memcpy(&d, &rt_obj_of(v)->field[0], 8);
        snprintf(buf, n, "%g", d);
    } else if (v == RT_NIL) {
        snprintf(buf, n, "[]");
    } else if (rt_is_atom(v)) {
        snprintf(buf, n, "the atom %s", rt_atom_name(pctx, v, NULL));
    } else if (rt_is_error(v)) {
        snprintf(buf, n, "<error: %s>", err_text(v));
    } else if (rt_is_type(v, RT_T_CONS)) {
        snprintf(buf, n, "a cell");
    } else if (rt_is_type(v, RT_T_SUSP)) {
        snprintf(buf, n, "a suspension");
    } else {
        snprintf(buf, n, "the word %#llx", (unsigned long long)v);
    }
    return buf;
}

#define EXPECT_INT(expr, want)                                                            \
    do {                                                                                  \
        rt_val v_ = (expr);                                                               \
        int64_t g_ = 0;                                                                   \
        char b_[256];                                                                     \
        CHECK(rt_int_get(v_, &g_) && g_ == (int64_t)(want), "got %s, want %lld",          \
              show(v_, b_, sizeof b_), (long long)(want));                                \
    } while (0)
#define EXPECT_ERR(expr, msg)                                                             \
    do {                                                                                  \
        rt_val v_ = (expr);                                                               \
        const char *m_ = err_text(v_);                                                    \
        char b_[256];                                                                     \
        CHECK(m_ && strcmp(m_, (msg)) == 0, "got %s, want <error: %s>",                   \
              show(v_, b_, sizeof b_), (msg));                                            \
    } while (0)
#define EXPECT_FLOAT(expr, want)                                                          \
    do {                                                                                  \
        rt_val v_ = (expr);                                                               \
        double w_ = (want), g_ = 0;                                                       \
        char b_[256];                                                                     \
        int ok_ = rt_is_type(v_, RT_T_FLOAT);                                             \
        if (ok_)                                                                          \
            memcpy(&g_, &rt_obj_of(v_)->field[0], 8);                                     \
        CHECK(ok_ && ((isnan(w_) && isnan(g_)) ||                                         \
                      (g_ == w_ && signbit(g_) == signbit(w_))),                          \
              "got %s, want %g", show(v_, b_, sizeof b_), w_);                            \
    } while (0)
#define EXPECT_WORD(expr, want)                                                           \
    do {                                                                                  \
        rt_val v_ = (expr), x_ = (want);                                                  \
        char b_[256], c_[256];                                                            \
        CHECK(v_ == x_, "got %s, want %s", show(v_, b_, sizeof b_), show(x_, c_, sizeof c_)); \
    } while (0)
#define TRUE_ATOM rt_atom(pctx, "true", 4)
#define EXPECT_TRUE(expr) EXPECT_WORD(expr, TRUE_ATOM)
#define EXPECT_NIL(expr) EXPECT_WORD(expr, RT_NIL)

/* One operand described by spec: i int, I int64_t, f double, a atom name,
 * e error text, n [], v an rt_val (immediate), r a root-stack offset. */
static rt_val operand(rt_worker *w, char spec, va_list *ap)
{
    switch (spec) {
    case 'i': return rt_int(w, va_arg(*ap, int));
    case 'I': return rt_int(w, va_arg(*ap, int64_t));
    case 'f': return rt_float(w, va_arg(*ap, double));
    case 'a': {
        const char *s = va_arg(*ap, const char *);
        return rt_atom(pctx, s, strlen(s));
    }
    case 'e': return rt_error_new(w, va_arg(*ap, const char *));
    case 'n': return RT_NIL;
    case 'r': return w->sp_base[va_arg(*ap, size_t)];
    default: return va_arg(*ap, rt_val);
    }
}

/* With lazy_operands, operands, list elements and tails are suspensions that
 * allocate when forced: each force is a safepoint, so an operand a primitive
 * holds unrooted while it forces the next one moves under it. */
static int lazy_operands;

static rt_val slow_const_code(rt_worker *w, rt_val self)
{
    rt_push_root(w, rt_obj_of(self)->field[RT_SUSP_ENV]);
    for (int i = 0; i < 3; i++)
        (void)rt_cons(w, rt_fix(i), RT_NIL);
    return rt_pop_root(w);
}

static rt_val maybe_lazy(rt_worker *w, rt_val v)
{
    return lazy_operands ? rt_susp_new(w, slow_const_code, 1, &v) : v;
}

/* The list fmt describes; a '!' makes the next operand the tail. */
static rt_val vmklist(rt_worker *w, const char *fmt, va_list *ap)
{
    size_t mark = (size_t)(w->sp - w->sp_base);
    int tail = 0;
    for (const char *p = fmt; *p; p++) {
        if (*p == '!') {
            tail = 1;
            continue;
        }
        rt_push_root(w, maybe_lazy(w, operand(w, *p, ap)));
    }
    if (!tail)
        rt_push_root(w, maybe_lazy(w, RT_NIL));
    while ((size_t)(w->sp - w->sp_base) > mark + 1) {
        rt_val c = rt_cons(w, w->sp[-2], w->sp[-1]);
        w->sp--;
        w->sp[-1] = maybe_lazy(w, c);
    }
    return rt_pop_root(w);
}

static rt_val mklist(rt_worker *w, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rt_val l = vmklist(w, fmt, &ap);
    va_end(ap);
    return l;
}

static rt_val prim_val_of(const char *name)
{
    int i = rt_prim_lookup(name);
    if (i < 0) {
        fprintf(out, "FAIL: no primitive %s\n", name);
        failures++;
        i = 0;
    }
    return rt_prim_val((uint32_t)i);
}

/* name:[operands...] */
static rt_val prim_on(rt_worker *w, const char *name, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rt_val l = vmklist(w, fmt, &ap);
    va_end(ap);
    return rt_force(w, rt_apply(w, prim_val_of(name), l));
}

/* name:operand, the operand described by one spec */
static rt_val prim1(rt_worker *w, const char *name, const char *spec, ...)
{
    va_list ap;
    va_start(ap, spec);
    rt_val x = maybe_lazy(w, operand(w, spec[0], &ap));
    va_end(ap);
    return rt_force(w, rt_apply(w, prim_val_of(name), x));
}

/* Apply the function below the top of the root stack to the top (popped); the
 * result is forced.  (Both are read from the root stack at the call, after
 * everything that allocates.) */
static rt_val apply_top(rt_worker *w)
{
    rt_val r = rt_force(w, rt_apply(w, w->sp[-2], w->sp[-1]));
    w->sp--;
    return r;
}

static rt_val susp_of(rt_worker *w, rt_val v) { return rt_susp_new(w, const_code, 1, &v); }

static rt_val flag_code(rt_worker *w, rt_val self)
{
    (void)w;
    (void)self;
    flag_forced++;
    return rt_fix(1);
}

/* Sum and length of a list whose heads are integers, forcing everything. */
static int64_t sum_forced(rt_worker *w, rt_val l, int64_t *count)
{
    int64_t acc = 0, n = 0;
    rt_push_root(w, l);
    for (;;) {
        rt_val v = rt_force(w, w->sp[-1]);
        if (v == RT_NIL)
            break;
        if (!rt_is_type(v, RT_T_CONS)) {
            n = -1;
            break;
        }
        w->sp[-1] = v;
        rt_val h = rt_force(w, rt_obj_of(w->sp[-1])->field[0]);
        int64_t i;
        if (!rt_int_get(h, &i)) {
            n = -1;
            break;
        }
        acc += i;
        n++;
        w->sp[-1] = rt_obj_of(w->sp[-1])->field[1];
    }
    w->sp--;
    *count = n;
    return acc;
}

static rt_val iota(rt_worker *w, int64_t lo, int64_t hi)
{
    rt_val env[2] = {rt_fix(lo), rt_fix(hi)};
    return rt_susp_new(w, rt_test_iota_code, 2, env);
}

/* [x x ... x] (k times), lazily */
static rt_val repeat_code(rt_worker *w, rt_val self)
{
    rt_val x = rt_obj_of(self)->field[RT_SUSP_ENV];
    int64_t k = env_int(self, 1);
    if (k == 0)
        return RT_NIL;
    rt_push_root(w, x);
    rt_val env[2] = {x, rt_fix(k - 1)};
    rt_val rest = rt_susp_new(w, repeat_code, 2, env);
    return rt_cons(w, rt_pop_root(w), rest);
}

/* [lo .. hi-1] with every head and tail a suspension */
static rt_val iota2_code(rt_worker *w, rt_val self)
{
    int64_t lo = env_int(self, 0), hi = env_int(self, 1);
    if (lo >= hi)
        return RT_NIL;
    rt_push_root(w, susp_of(w, rt_fix(lo)));
    rt_val env[2] = {rt_fix(lo + 1), rt_fix(hi)};
    rt_val rest = rt_susp_new(w, iota2_code, 2, env);
    return rt_cons(w, rt_pop_root(w), rest);
}

/* rows i..k-1 of a k-row matrix, row r the list [r*m .. r*m+m-1] built by
 * iota2 (so every head is a list and every part is lazy) */
static rt_val rows_code(rt_worker *w, rt_val self)
{
    int64_t i = env_int(self, 0), k = env_int(self, 1), m = env_int(self, 2);
    if (i >= k)
        return RT_NIL;
    rt_val re[2] = {rt_fix(i * m), rt_fix(i * m + m)};
    rt_push_root(w, rt_susp_new(w, iota2_code, 2, re));
    rt_val ne[3] = {rt_fix(i + 1), rt_fix(k), rt_fix(m)};
    rt_val rest = rt_susp_new(w, rows_code, 3, ne);
    return rt_cons(w, rt_pop_root(w), rest);
}

/* [[[...[]...]]] nested k deep through heads, lazily */
static rt_val nest_code(rt_worker *w, rt_val self)
{
    int64_t k = env_int(self, 0);
    if (k == 0)
        return RT_NIL;
    rt_val env[1] = {rt_fix(k - 1)};
    return rt_cons(w, rt_susp_new(w, nest_code, 1, env), RT_NIL);
}

/* x = [7 ! x],  x = [x],  x = [0 1 ! x] */
static rt_val cyc_tail_code(rt_worker *w, rt_val self) { return rt_cons(w, rt_fix(7), self); }
static rt_val cyc_head_code(rt_worker *w, rt_val self) { return rt_cons(w, self, RT_NIL); }
static rt_val cyc3_code(rt_worker *w, rt_val self)
{
    rt_val c1 = rt_cons(w, rt_fix(1), self);
    return rt_cons(w, rt_fix(0), c1);
}

/* x = [0 1 ... n-1 ! x], each tail a suspension: env (i, n, x or nil at x) */
static rt_val cyc_long_code(rt_worker *w, rt_val self)
{
    int64_t i = env_int(self, 0), n = env_int(self, 1);
    rt_val root = rt_obj_of(self)->field[RT_SUSP_ENV + 2];
    if (root == RT_NIL)
        root = self;
    rt_val tail = root;
    if (i + 1 < n) {
        rt_val env[3] = {rt_fix(i + 1), rt_fix(n), root};
        tail = rt_susp_new(w, cyc_long_code, 3, env);
    }
    return rt_cons(w, rt_fix(i), tail);
}

/* The cell after v's, through evaluated suspensions (NULL if none). */
static rt_val next_cell(rt_val v)
{
    rt_val t = rt_obj_of(v)->field[1];
    while (rt_is_type(t, RT_T_SUSP)) {
        if (atomic_load((_Atomic uint64_t *)&rt_obj_of(t)->field[RT_SUSP_STATE]) !=
            RT_SUSP_EVALUATED)
            return RT_NULL;
        t = rt_obj_of(t)->field[RT_SUSP_VALUE];
    }
    return rt_is_type(t, RT_T_CONS) ? t : RT_NULL;
}

/* Is everything reachable from l, through heads and tails, a value already
 * (no suspension left unevaluated)?  Counts the cells; no safepoints. */
static int all_evaluated(rt_val l, int64_t limit, int64_t *cells)
{
    int64_t n = 0;
    rt_val todo[64];
    int ntodo = 0;
    todo[ntodo++] = l;
    while (ntodo) {
        rt_val v = todo[--ntodo];
        for (int64_t k = 0; k < limit; k++) {
            if (rt_is_type(v, RT_T_SUSP)) {
                if (atomic_load((_Atomic uint64_t *)&rt_obj_of(v)->field[RT_SUSP_STATE]) !=
                    RT_SUSP_EVALUATED)
                    return 0;
                v = rt_obj_of(v)->field[RT_SUSP_VALUE];
            }
            if (!rt_is_type(v, RT_T_CONS))
                break;
            n++;
            rt_val h = rt_obj_of(v)->field[0];
            if (rt_is_type(h, RT_T_SUSP) &&
                atomic_load((_Atomic uint64_t *)&rt_obj_of(h)->field[RT_SUSP_STATE]) !=
                    RT_SUSP_EVALUATED)
                return 0;
            v = rt_obj_of(v)->field[1];
        }
    }
    *cells = n;
    return 1;
}

static uint64_t susp_state_of(rt_val s)
{
    return atomic_load((_Atomic uint64_t *)&rt_obj_of(s)->field[RT_SUSP_STATE]);
}

static void expect_printed(rt_worker *w, rt_val v, const char *want)
{
    FILE *tmp = tmpfile();
    rt_out *o = malloc(sizeof *o);
    rt_out_init(o, fileno(tmp));
    rt_print(w, v, o, 0);
    rt_out_flush(o);
    free(o);
    char buf[256] = {0};
    rewind(tmp);
    size_t n = fread(buf, 1, sizeof buf - 1, tmp);
    buf[n] = 0;
    fclose(tmp);
    CHECK(strcmp(buf, want) == 0, "printed %s, want %s", buf, want);
}

static rt_val prims_numbers_step(rt_worker *w, rt_val arg)
{
    lazy_operands = arg == rt_fix(1);
    /* add, mpy: folds; overflow after every step; floats contagious */
    EXPECT_INT(prim_on(w, "add", "iii", 1, 2, 3), 6);
    EXPECT_INT(prim_on(w, "add", ""), 0);
    EXPECT_INT(prim_on(w, "mpy", ""), 1);
    rt_val b = prim_on(w, "add", "Ii", RT_FIX_MAX, 1);
    EXPECT_INT(b, RT_FIX_MAX + 1);
    CHECK(rt_is_type(b, RT_T_BOXINT), "FIX_MAX+1 is boxed");
    b = prim_on(w, "add", "Ii", RT_FIX_MIN, -1);
    EXPECT_INT(b, RT_FIX_MIN - 1);
    CHECK(rt_is_type(b, RT_T_BOXINT), "FIX_MIN-1 is boxed");
    b = prim_on(w, "add", "Ii", RT_FIX_MAX + 1, -1);
    CHECK(b == rt_fix(RT_FIX_MAX), "back in range is a fixnum again");
    EXPECT_ERR(prim_on(w, "add", "Ii", INT64_MAX, 1), "integer overflow in add");
    EXPECT_ERR(prim_on(w, "add", "Iii", INT64_MAX, 1, -1), "integer overflow in add");
    EXPECT_INT(prim_on(w, "add", "Iii", INT64_MAX, -1, 1), INT64_MAX);
    EXPECT_ERR(prim_on(w, "mpy", "Ii", (int64_t)1 << 62, 2), "integer overflow in mpy");
    EXPECT_INT(prim_on(w, "mpy", "Ii", (int64_t)1 << 61, -4), INT64_MIN);
    EXPECT_FLOAT(prim_on(w, "add", "if", 1, 2.5), 3.5);
    EXPECT_FLOAT(prim_on(w, "mpy", "ifi", 2, 0.5, 3), 3.0);
    EXPECT_ERR(prim_on(w, "add", "ai", "foo", 1), "add: non-numeric operand (the atom foo)");
    EXPECT_ERR(prim_on(w, "add", "fa", 1.5, "foo"), "add: non-numeric operand (the atom foo)");
    EXPECT_ERR(prim_on(w, "add", "iea", 1, "boom", "foo"), "boom");
    EXPECT_ERR(prim1(w, "add", "i", 3), "add expects a list");
    EXPECT_ERR(prim_on(w, "add", "i!i", 1, 2), "add expects a list");
    EXPECT_ERR(prim_on(w, "mpy", "i!e", 1, "tail"), "tail");
    /* sub div rem */
    EXPECT_INT(prim_on(w, "sub", "ii", 5, 7), -2);
    EXPECT_ERR(prim_on(w, "sub", "i", 1), "sub expects [a b]");
    EXPECT_ERR(prim_on(w, "sub", "iii", 1, 2, 3), "sub expects [a b]");
    EXPECT_ERR(prim1(w, "sub", "i", 3), "sub expects [a b]");
    EXPECT_ERR(prim_on(w, "div", "i!i", 1, 3), "div expects [a b]");
    EXPECT_ERR(prim_on(w, "sub", "Ii", INT64_MIN, 1), "integer overflow in sub");
    EXPECT_FLOAT(prim_on(w, "sub", "if", 1, 0.5), 0.5);
    EXPECT_ERR(prim_on(w, "sub", "ia", 1, "x"), "sub: non-numeric operand (the atom x)");
    EXPECT_INT(prim_on(w, "div", "ii", 7, -2), -3);
    EXPECT_INT(prim_on(w, "div", "ii", -7, 2), -3);
    EXPECT_INT(prim_on(w, "div", "ii", -7, -2), 3);
    EXPECT_INT(prim_on(w, "rem", "ii", -7, 2), -1);
    EXPECT_INT(prim_on(w, "rem", "ii", 7, -2), 1);
    EXPECT_INT(prim_on(w, "rem", "ii", -7, -2), -1);
    EXPECT_ERR(prim_on(w, "div", "ii", 1, 0), "division by zero in div");
    EXPECT_ERR(prim_on(w, "rem", "ii", 1, 0), "division by zero in rem");
    EXPECT_ERR(prim_on(w, "div", "Ii", INT64_MIN, -1), "integer overflow in div");
    EXPECT_INT(prim_on(w, "rem", "Ii", INT64_MIN, -1), 0);
    EXPECT_INT(prim_on(w, "div", "Ii", INT64_MIN, 2), INT64_MIN / 2);
    EXPECT_FLOAT(prim_on(w, "div", "fi", 1.0, 0), INFINITY);
    EXPECT_FLOAT(prim_on(w, "div", "if", -1, 0.0), -INFINITY);
    EXPECT_FLOAT(prim_on(w, "div", "if", 0, 0.0), NAN);
    EXPECT_FLOAT(prim_on(w, "div", "if", 1, -0.0), -INFINITY);
    EXPECT_FLOAT(prim_on(w, "div", "if", 7, 2.0), 3.5);
    EXPECT_FLOAT(prim_on(w, "rem", "fi", 5.5, 2), 1.5);
    EXPECT_FLOAT(prim_on(w, "rem", "fi", -5.5, 2), -1.5);
    EXPECT_FLOAT(prim_on(w, "rem", "fi", 1.0, 0), NAN);
    EXPECT_FLOAT(prim_on(w, "rem", "ff", INFINITY, 2.0), NAN);
    EXPECT_FLOAT(prim_on(w, "rem", "ff", 2.5, INFINITY), 2.5);
    /* one-operand arithmetic */
    EXPECT_ERR(prim1(w, "neg", "I", INT64_MIN), "integer overflow in neg");
    EXPECT_ERR(prim1(w, "inc", "I", INT64_MAX), "integer overflow in inc");
    EXPECT_ERR(prim1(w, "dcr", "I", INT64_MIN), "integer overflow in dcr");
    b = prim1(w, "inc", "I", RT_FIX_MAX);
    CHECK(rt_is_type(b, RT_T_BOXINT), "inc:FIX_MAX is boxed");
    CHECK(prim1(w, "dcr", "I", RT_FIX_MAX + 1) == rt_fix(RT_FIX_MAX), "dcr back to a fixnum");
    EXPECT_INT(prim1(w, "neg", "I", INT64_MAX), -INT64_MAX);
    EXPECT_FLOAT(prim1(w, "neg", "f", 2.5), -2.5);
    EXPECT_FLOAT(prim1(w, "inc", "f", 2.5), 3.5);
    EXPECT_FLOAT(prim1(w, "inv", "i", 0), INFINITY);
    EXPECT_FLOAT(prim1(w, "inv", "i", 4), 0.25);
    EXPECT_FLOAT(prim1(w, "inv", "f", -0.0), -INFINITY);
    EXPECT_ERR(prim1(w, "inv", "a", "a"), "inv: non-numeric operand (the atom a)");
    EXPECT_ERR(prim1(w, "neg", "e", "err"), "err");
    EXPECT_INT(prim1(w, "not", "i", 5), -6);
    EXPECT_ERR(prim1(w, "not", "f", 1.5), "not: operand is not an integer (the number 1.500000e+00)");
    /* a strict primitive forces its operand */
    rt_push_root(w, susp_of(w, rt_fix(41)));
    EXPECT_INT(rt_force(w, rt_apply(w, prim_val_of("inc"), rt_pop_root(w))), 42);
    /* tests and orderings */
    EXPECT_TRUE(prim1(w, "zero?", "i", 0));
    EXPECT_TRUE(prim1(w, "zero?", "f", -0.0));
    EXPECT_TRUE(prim1(w, "one?", "f", 1.0));
    EXPECT_NIL(prim1(w, "one?", "i", 2));
    EXPECT_TRUE(prim1(w, "neg?", "i", -1));
    EXPECT_TRUE(prim1(w, "pos?", "i", 0));
    EXPECT_NIL(prim1(w, "pos?", "f", NAN));
    EXPECT_ERR(prim1(w, "pos?", "a", "x"), "pos?: non-numeric operand (the atom x)");
    EXPECT_TRUE(prim_on(w, "lt?", "ii", 1, 2));
    EXPECT_NIL(prim_on(w, "lt?", "if", 2, 1.5));
    EXPECT_TRUE(prim_on(w, "ge?", "if", 2, 2.0));
    EXPECT_TRUE(prim_on(w, "le?", "II", INT64_MAX - 1, INT64_MAX));
    EXPECT_NIL(prim_on(w, "gt?", "fi", NAN, 1));
    EXPECT_ERR(prim_on(w, "lt?", "ia", 1, "a"), "lt?: non-numeric operand (the atom a)");
    EXPECT_ERR(prim_on(w, "gt?", "i", 1), "gt? expects [a b]");
    /* eq? ne? */
    EXPECT_TRUE(prim_on(w, "eq?", "if", 1, 1.0));
    EXPECT_TRUE(prim_on(w, "eq?", "II", INT64_MIN, INT64_MIN));
    EXPECT_TRUE(prim_on(w, "eq?", "aa", "a", "a"));
    EXPECT_NIL(prim_on(w, "eq?", "aa", "a", "b"));
    EXPECT_NIL(prim_on(w, "eq?", "an", "a"));
    EXPECT_NIL(prim_on(w, "ne?", "nn"));
    EXPECT_TRUE(prim_on(w, "ne?", "ii", 1, 2));
    EXPECT_NIL(prim_on(w, "eq?", "ff", NAN, NAN));
    rt_push_root(w, mklist(w, "i", 1));
    EXPECT_ERR(prim_on(w, "eq?", "ir", 1, (size_t)(w->sp - w->sp_base - 1)),
               "not comparable: the number 1 and a list");
    w->sp--;
    EXPECT_ERR(prim_on(w, "eq?", "ia", 1, "a b"), "not comparable: the number 1 and the atom (a string)");
    EXPECT_ERR(prim_on(w, "eq?", "fa", 2.5, "x>y"),
               "not comparable: the number 2.500000e+00 and the atom x}y");
    EXPECT_ERR(prim_on(w, "eq?", "vv", prim_val_of("add"), prim_val_of("add")),
               "not comparable: a function and a function");
    EXPECT_ERR(prim_on(w, "eq?", "ia", 1, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
               "not comparable: the number 1 and the atom aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    EXPECT_ERR(prim_on(w, "eq?", "ia", 1, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
               "not comparable: the number 1 and the atom (a string)");
    EXPECT_ERR(prim_on(w, "eq?", "vf", RT_UNIT, INFINITY), "not comparable: a unit and the number inf");
    EXPECT_ERR(prim_on(w, "eq?", "ea", "first", "x"), "first");
    EXPECT_ERR(prim_on(w, "ne?", "ie", 1, "second"), "second");
    /* bits */
    EXPECT_INT(prim_on(w, "and", "ii", 12, 10), 8);
    EXPECT_INT(prim_on(w, "or", "ii", 12, 10), 14);
    EXPECT_INT(prim_on(w, "xor", "ii", 12, 10), 6);
    EXPECT_INT(prim_on(w, "lsh", "ii", 1, 63), INT64_MIN);
    EXPECT_INT(prim_on(w, "lsh", "ii", 3, 62), RT_FIX_MIN);
    EXPECT_INT(prim_on(w, "lsh", "ii", 5, 0), 5);
    EXPECT_ERR(prim_on(w, "lsh", "ii", 1, 64), "shift count out of range: 64");
    EXPECT_ERR(prim_on(w, "lsh", "ii", 1, -1), "shift count out of range: -1");
    EXPECT_ERR(prim_on(w, "arsh", "iI", 1, INT64_MIN), "shift count out of range: -9223372036854775808");
    EXPECT_INT(prim_on(w, "rsh", "ii", -1, 60), 15);
    EXPECT_INT(prim_on(w, "rsh", "ii", -16, 2), INT64_C(4611686018427387900));
    EXPECT_INT(prim_on(w, "arsh", "ii", -16, 2), -4);
    EXPECT_INT(prim_on(w, "arsh", "Ii", INT64_MIN, 63), -1);
    EXPECT_ERR(prim_on(w, "and", "fi", 1.5, 1), "and: operand is not an integer (the number 1.500000e+00)");
    EXPECT_ERR(prim_on(w, "xor", "ia", 1, "a"), "xor: operand is not an integer (the atom a)");
    EXPECT_ERR(prim_on(w, "or", "i", 1), "or expects [a b]");
    /* seq and pcoerce hold heap values across forces too */
    EXPECT_FLOAT(prim_on(w, "seq", "ifif", 1, 2.5, 3, 4.5), 4.5);
    EXPECT_ERR(prim_on(w, "seq", "if!f", 1, 2.5, 4.5), "seq expects a list, not the number 4.500000e+00");
    EXPECT_FLOAT(prim_on(w, "seq", "iIf", 1, INT64_MIN, 4.5), 4.5);
    EXPECT_INT(prim_on(w, "seq", "fI", 4.5, INT64_MIN), INT64_MIN);
    lazy_operands = 0;
    return RT_NIL;
}

static rt_val test_hook(rt_worker *w, rt_val form)
{
    (void)w;
    return rt_is_type(form, RT_T_FORM) ? rt_fix(99) : RT_NIL;
}

static rt_val prims_misc_step(rt_worker *w, rt_val arg)
{
    (void)arg;
    rt_ctx *ctx = pctx;
    /* type tests */
    EXPECT_TRUE(prim1(w, "nil?", "n"));
    EXPECT_TRUE(prim1(w, "list?", "n"));
    rt_push_root(w, mklist(w, "i", 1));
    size_t lslot = (size_t)(w->sp - w->sp_base - 1);
    EXPECT_TRUE(prim1(w, "list?", "r", lslot));
    EXPECT_TRUE(prim1(w, "isLST?", "r", lslot));
    EXPECT_NIL(prim1(w, "isLST?", "i", 5));
    EXPECT_TRUE(prim1(w, "isNML?", "f", 2.5));
    EXPECT_TRUE(prim1(w, "isNML?", "I", INT64_MIN));
    EXPECT_NIL(prim1(w, "isNML?", "a", "x"));
    EXPECT_TRUE(prim1(w, "isIDE?", "a", "x"));
    EXPECT_TRUE(prim1(w, "isIDE?", "a", "a b"));
    EXPECT_TRUE(prim1(w, "isFTN?", "v", prim_val_of("add")));
    EXPECT_NIL(prim1(w, "isFTN?", "i", 5));
    EXPECT_TRUE(prim1(w, "isERR?", "e", "x"));
    EXPECT_NIL(prim1(w, "isERR?", "r", lslot));
    rt_val ff[2] = {rt_atom(ctx, "f", 1), rt_fix(1)};
    rt_push_root(w, rt_form_new(w, RT_FORM_APPLY, 2, ff));
    size_t fslot = (size_t)(w->sp - w->sp_base - 1);
    rt_push_root(w, rt_form_new(w, RT_FORM_FUNCTION, 2, ff));
    size_t fnslot = (size_t)(w->sp - w->sp_base - 1);
    EXPECT_TRUE(prim1(w, "isAPL?", "r", fslot));
    EXPECT_NIL(prim1(w, "isAPL?", "r", fnslot));
    EXPECT_NIL(prim1(w, "isFTN?", "r", fnslot));
    rt_push_root(w, susp_of(w, rt_error_new(w, "late")));
    EXPECT_TRUE(rt_force(w, rt_apply(w, prim_val_of("isERR?"), rt_pop_root(w))));

    /* applying and describing */
    EXPECT_ERR(rt_apply(w, rt_fix(3), RT_NIL), "not a function: the number 3");
    EXPECT_ERR(rt_apply(w, rt_atom(ctx, "foo", 3), RT_NIL), "not a function: the atom foo");
    EXPECT_ERR(rt_apply(w, rt_atom(ctx, "a->b", 4), RT_NIL), "not a function: the atom a-}b");
    EXPECT_ERR(rt_apply(w, RT_NIL, RT_NIL), "not a function: []");
    EXPECT_ERR(rt_apply(w, RT_UNIT, RT_NIL), "not a function: a unit");
    EXPECT_ERR(rt_apply(w, w->sp_base[lslot], RT_NIL), "not a function: a list");
    EXPECT_ERR(rt_apply(w, w->sp_base[fslot], RT_NIL), "not a function: a apl");
    EXPECT_ERR(rt_apply(w, w->sp_base[fnslot], RT_NIL), "not a function: a fnform");
    rt_val af[2] = {rt_atom(ctx, "@", 1), rt_fix(1)};
    EXPECT_ERR(rt_apply(w, rt_form_new(w, RT_FORM_ANNOTATION, 2, af), RT_NIL), "not a function: a annform");
    EXPECT_ERR(rt_apply(w, rt_form_new(w, RT_FORM_DEFINE, 2, ff), RT_NIL), "not a function: a defform");
    EXPECT_ERR(rt_apply(w, rt_float(w, 2.5), RT_NIL), "not a function: the number 2.500000e+00");
    EXPECT_ERR(rt_apply(w, rt_float(w, -INFINITY), RT_NIL), "not a function: the number -inf");
    EXPECT_ERR(rt_apply(w, rt_float(w, NAN), RT_NIL), "not a function: the number nan");
    EXPECT_ERR(rt_apply(w, rt_int(w, INT64_MIN), RT_NIL), "not a function: the number -9223372036854775808");
    rt_val e = rt_error_new(w, "itself");
    CHECK(rt_apply(w, e, RT_NIL) == e, "applying an error gives that error");
    EXPECT_INT(rt_force(w, rt_apply(w, prim_val_of("inc"), rt_fix(4))), 5);
    rt_push_root(w, susp_of(w, prim_val_of("dcr")));
    EXPECT_INT(rt_force(w, rt_apply(w, rt_pop_root(w), rt_fix(4))), 3);
    EXPECT_ERR(rt_describe_error(w, "x: ", rt_atom(ctx, "a>b", 3)), "x: the atom a}b");
    EXPECT_ERR(rt_stack_exhausted(w), "stack exhausted");
    CHECK(rt_truthy(rt_fix(0)) && !rt_truthy(RT_NIL), "truthy");

    /* printed names */
    rt_prims_register_names(ctx);
    expect_printed(w, prim_val_of("add"), "<function add>");
    expect_printed(w, prim_val_of("%SpnHd?"), "<function %SpnHd?>");
    expect_printed(w, prim1(w, "map", "v", prim_val_of("inc")), "<function>");

    /* %SpnHd? %SpnTl? */
    rt_push_root(w, susp_of(w, rt_fix(1)));
    rt_val cell = rt_cons(w, w->sp[-1], rt_fix(2));
    w->sp[-1] = cell;
    size_t cslot = (size_t)(w->sp - w->sp_base - 1);
    EXPECT_TRUE(prim1(w, "%SpnHd?", "r", cslot));
    EXPECT_NIL(prim1(w, "%SpnTl?", "r", cslot));
    rt_force(w, rt_obj_of(w->sp_base[cslot])->field[0]);
    EXPECT_NIL(prim1(w, "%SpnHd?", "r", cslot));
    EXPECT_ERR(prim1(w, "%SpnHd?", "i", 5), "%SpnHd? expects a list, not the number 5");
    EXPECT_ERR(prim1(w, "%SpnTl?", "n"), "%SpnTl? expects a list, not []");

    /* seq: left to right, stops at the first error */
    EXPECT_INT(prim_on(w, "seq", "iii", 1, 2, 3), 3);
    EXPECT_NIL(prim_on(w, "seq", ""));
    flag_forced = 0;
    rt_push_root(w, rt_susp_new(w, flag_code, 0, NULL));
    EXPECT_ERR(prim_on(w, "seq", "ier", 1, "stop", (size_t)(w->sp - w->sp_base - 1)), "stop");
    CHECK(flag_forced == 0, "seq forced past the error");
    EXPECT_INT(prim_on(w, "seq", "ir", 1, (size_t)(w->sp - w->sp_base - 1)), 1);
    CHECK(flag_forced == 1, "seq forced its last element once");
    w->sp--;
    EXPECT_ERR(prim1(w, "seq", "i", 5), "seq expects a list, not the number 5");
    EXPECT_ERR(prim_on(w, "seq", "i!i", 1, 5), "seq expects a list, not the number 5");

    /* pcoerce: forces every element, returns the list itself, errors included */
    rt_push_root(w, susp_of(w, rt_fix(1)));
    rt_push_root(w, susp_of(w, rt_error_new(w, "elem")));
    size_t s0 = (size_t)(w->sp - w->sp_base - 2);
    rt_push_root(w, mklist(w, "rri", s0, s0 + 1, 3));
    rt_push_root(w, susp_of(w, w->sp[-1]));    /* the list behind a suspension */
    rt_val r = prim1(w, "pcoerce", "r", (size_t)(w->sp - w->sp_base - 1));
    CHECK(r == w->sp[-2], "pcoerce returns the list itself");
    CHECK(susp_state_of(w->sp_base[s0]) == RT_SUSP_EVALUATED &&
              susp_state_of(w->sp_base[s0 + 1]) == RT_SUSP_EVALUATED,
          "pcoerce forced every element");
    w->sp -= 4;
    EXPECT_ERR(prim1(w, "pcoerce", "i", 5), "pcoerce expects a list, not the number 5");
    EXPECT_ERR(prim_on(w, "pcoerce", "i!e", 1, "spine"), "spine");

    /* select: never forces */
    flag_forced = 0;
    rt_push_root(w, rt_susp_new(w, flag_code, 0, NULL));
    rt_push_root(w, rt_cons(w, w->sp[-1], rt_fix(2)));
    rt_push_root(w, susp_of(w, w->sp[-1]));              /* S: a suspension of [flag ! 2] */
    size_t sslot = (size_t)(w->sp - w->sp_base - 1);
    rt_val sel = rt_select(w, w->sp_base[sslot], 0);
    CHECK(rt_is_type(sel, RT_T_SUSP), "selecting from a suspension makes a suspension");
    CHECK(susp_state_of(w->sp_base[sslot]) == RT_SUSP_UNEVALUATED, "select forced its source");
    rt_push_root(w, sel);
    rt_push_root(w, rt_select(w, w->sp_base[sslot], 1));
    CHECK(flag_forced == 0, "select forced something");
    EXPECT_INT(rt_force(w, w->sp[-1]), 2);
    CHECK(flag_forced == 0, "selecting the tail forced the head");
    EXPECT_INT(rt_force(w, w->sp[-2]), 1);
    CHECK(flag_forced == 1, "the head was forced once");
    EXPECT_INT(rt_select(w, w->sp_base[sslot], 0), 1);   /* evaluated: looked through */
    EXPECT_INT(rt_select(w, w->sp_base[sslot], 1), 2);
    w->sp -= 5;
    rt_push_root(w, rt_susp_new(w, flag_code, 0, NULL));
    rt_val c2 = rt_cons(w, w->sp[-1], RT_NIL);
    CHECK(rt_select(w, c2, 0) == rt_obj_of(c2)->field[0], "an unevaluated field is handed over as it is");
    w->sp--;
    EXPECT_ERR(rt_select(w, rt_fix(5), 0), "pattern mismatch: head of the number 5");
    EXPECT_ERR(rt_select(w, RT_NIL, 1), "pattern mismatch: tail of []");
    e = rt_error_new(w, "sel");
    CHECK(rt_select(w, e, 1) == e, "selecting from an error gives it");
    rt_push_root(w, rt_select(w, susp_of(w, rt_fix(5)), 1));
    CHECK(rt_is_type(w->sp[-1], RT_T_SUSP), "mismatch is lazy");
    EXPECT_ERR(rt_force(w, rt_pop_root(w)), "pattern mismatch: tail of the number 5");

    /* val and evlst */
    uint32_t gx = rt_global_new(ctx, rt_fix(42));
    rt_toplevel_define(ctx, rt_atom(ctx, "x", 1), gx);
    EXPECT_INT(prim1(w, "val", "a", "x"), 42);
    uint32_t gy = rt_global_new(ctx, susp_of(w, rt_fix(43)));
    rt_toplevel_define(ctx, rt_atom(ctx, "y", 1), gy);
    EXPECT_INT(prim1(w, "val", "a", "y"), 43);
    uint32_t gx2 = rt_global_new(ctx, rt_fix(44));
    rt_toplevel_define(ctx, rt_atom(ctx, "x", 1), gx2);
    EXPECT_INT(prim1(w, "val", "a", "x"), 44);
    for (int i = 0; i < 200; i++) {            /* the table grows */
        char nm[16];
        int n = snprintf(nm, sizeof nm, "name%d", i);
        rt_toplevel_define(ctx, rt_atom(ctx, nm, (size_t)n), gy);
    }
    EXPECT_INT(prim1(w, "val", "a", "name150"), 43);
    EXPECT_INT(prim1(w, "val", "a", "x"), 44);
    EXPECT_ERR(prim1(w, "val", "a", "nope"), "unbound identifier nope");
    EXPECT_ERR(prim1(w, "val", "a", "no>pe"), "unbound identifier no}pe");
    EXPECT_WORD(prim1(w, "val", "a", "a b"), rt_atom(ctx, "a b", 3));
    EXPECT_INT(prim1(w, "val", "i", 5), 5);
    EXPECT_WORD(prim1(w, "val", "a", "add"), prim_val_of("add"));
    EXPECT_TRUE(prim1(w, "val", "a", "true"));
    EXPECT_NIL(prim1(w, "val", "a", "nil"));
    /* val of a list: a list of vals, lazily */
    rt_push_root(w, mklist(w, "aia", "x", 3, "y"));
    rt_push_root(w, prim1(w, "val", "r", (size_t)(w->sp - w->sp_base - 1)));
    CHECK(rt_is_type(w->sp[-1], RT_T_CONS) &&
              rt_is_type(rt_obj_of(w->sp[-1])->field[0], RT_T_SUSP),
          "val of a list is lazy");
    int64_t cnt = 0;
    EXPECT_INT(rt_fix(sum_forced(w, w->sp[-1], &cnt)), 44 + 3 + 43);
    CHECK(cnt == 3, "val of a list: %lld elements", (long long)cnt);
    rt_push_root(w, prim1(w, "evlst", "r", (size_t)(w->sp - w->sp_base - 2)));
    CHECK(rt_is_type(rt_obj_of(w->sp[-1])->field[1], RT_T_SUSP), "evlst is lazy");
    EXPECT_INT(rt_fix(sum_forced(w, w->sp[-1], &cnt)), 44 + 3 + 43);
    CHECK(cnt == 3, "evlst: %lld elements", (long long)cnt);
    w->sp -= 3;
    EXPECT_NIL(prim1(w, "evlst", "n"));
    EXPECT_ERR(prim1(w, "evlst", "i", 5), "evlst expects a list, not the number 5");
    /* no hook: the form evaluator (rt_formeval.c); f is not defined */
    EXPECT_ERR(prim1(w, "val", "r", fslot), "unbound identifier f");
    rt_set_eval_hook(ctx, test_hook);
    EXPECT_INT(prim1(w, "val", "r", fslot), 99);
    rt_set_eval_hook(ctx, NULL);
    w->sp = w->sp_base + lslot;
    return RT_NIL;
}

/* A closure (a heap object, so it moves) adding its free variable. */
static rt_val adder_code(rt_worker *w, rt_val self, rt_val arg)
{
    rt_push_root(w, rt_obj_of(self)->field[RT_CLOSURE_FREE]);
    rt_push_root(w, arg);
    rt_val l = rt_cons(w, w->sp[-1], RT_NIL);
    l = rt_cons(w, w->sp[-2], l);
    w->sp -= 2;
    return rt_apply(w, prim_val_of("add"), l);
}

/* map, smap, fc over n elements, checked in closed form; laziness kept. */
static rt_val prims_lists_step(rt_worker *w, rt_val arg)
{
    int64_t n = rt_fix_value(arg), cnt = 0;
    int64_t want = n * (n - 1) / 2 + n;             /* sum of i+1 for i < n */
    size_t base = (size_t)(w->sp - w->sp_base);
    rt_val one = rt_fix(1);
    rt_push_root(w, rt_closure_new(w, adder_code, 1, 1, &one));
    size_t adder = base;
    base++;
    /* the same with a closure (which moves) for f, and floats */
    rt_push_root(w, prim1(w, "map", "r", adder));
    rt_push_root(w, iota(w, 0, n));
    rt_push_root(w, apply_top(w));
    EXPECT_INT(rt_fix(sum_forced(w, w->sp[-1], &cnt)), want);
    CHECK(cnt == n, "map with a closure: %lld elements", (long long)cnt);
    w->sp = w->sp_base + base;
    rt_push_root(w, prim1(w, "smap", "r", adder));
    rt_push_root(w, iota(w, 0, n));
    rt_push_root(w, apply_top(w));
    EXPECT_INT(rt_fix(sum_forced(w, w->sp[-1], &cnt)), want);
    CHECK(cnt == n, "smap with a closure: %lld elements", (long long)cnt);
    w->sp = w->sp_base + base;
    rt_val renv[2] = {w->sp_base[adder], rt_fix(n)};
    rt_push_root(w, rt_susp_new(w, repeat_code, 2, renv));
    rt_push_root(w, prim1(w, "fc", "r", base));
    rt_push_root(w, iota(w, 0, n + 5));
    rt_push_root(w, apply_top(w));
    EXPECT_INT(rt_fix(sum_forced(w, w->sp[-1], &cnt)), want);
    CHECK(cnt == n, "fc with closures: %lld elements", (long long)cnt);
    w->sp = w->sp_base + base;
    one = rt_float(w, 0.5);
    rt_push_root(w, rt_closure_new(w, adder_code, 1, 1, &one));
    rt_push_root(w, prim1(w, "smap", "r", base));
    rt_push_root(w, iota(w, 0, n));
    rt_push_root(w, apply_top(w));
    rt_push_root(w, rt_apply(w, prim_val_of("add"), w->sp[-1]));
    EXPECT_FLOAT(w->sp[-1], (double)(n * (n - 1) / 2) + 0.5 * (double)n);
    w->sp = w->sp_base + base;

    rt_push_root(w, prim1(w, "map", "v", prim_val_of("inc")));
    rt_push_root(w, iota(w, 0, n));
    rt_push_root(w, apply_top(w));
    EXPECT_TRUE(prim1(w, "%SpnHd?", "r", base + 1));
    EXPECT_TRUE(prim1(w, "%SpnTl?", "r", base + 1));
    EXPECT_INT(rt_fix(sum_forced(w, w->sp[-1], &cnt)), want);
    CHECK(cnt == n, "map: %lld elements", (long long)cnt);
    w->sp = w->sp_base + base;

    rt_push_root(w, prim1(w, "smap", "v", prim_val_of("inc")));
    rt_push_root(w, iota(w, 0, n));
    rt_push_root(w, apply_top(w));
    EXPECT_NIL(prim1(w, "%SpnHd?", "r", base + 1));     /* evaluated as the cell was made */
    EXPECT_TRUE(prim1(w, "%SpnTl?", "r", base + 1));
    EXPECT_INT(rt_fix(sum_forced(w, w->sp[-1], &cnt)), want);
    CHECK(cnt == n, "smap: %lld elements", (long long)cnt);
    w->sp = w->sp_base + base;

    rt_val env[2] = {prim_val_of("inc"), rt_fix(n)};
    rt_push_root(w, prim1(w, "fc", "v", rt_susp_new(w, repeat_code, 2, env)));
    rt_push_root(w, iota(w, 0, 2 * n));
    rt_push_root(w, apply_top(w));
    EXPECT_TRUE(prim1(w, "%SpnHd?", "r", base + 1));
    EXPECT_INT(rt_fix(sum_forced(w, w->sp[-1], &cnt)), want);
    CHECK(cnt == n, "fc stops at the shorter list: %lld elements", (long long)cnt);
    w->sp = w->sp_base + base;

    /* improper lists: the last tail is the error */
    rt_push_root(w, prim1(w, "map", "v", prim_val_of("inc")));
    rt_push_root(w, mklist(w, "i!i", 1, 2));
    rt_push_root(w, apply_top(w));
    EXPECT_INT(rt_force(w, rt_obj_of(w->sp[-1])->field[0]), 2);
    EXPECT_ERR(rt_force(w, rt_obj_of(w->sp[-1])->field[1]), "map expects a list, not the number 2");
    w->sp = w->sp_base + base;
    rt_push_root(w, prim1(w, "smap", "v", prim_val_of("inc")));
    rt_push_root(w, mklist(w, "i!a", 1, "z"));
    rt_push_root(w, apply_top(w));
    EXPECT_ERR(rt_force(w, rt_obj_of(w->sp[-1])->field[1]), "smap expects a list, not the atom z");
    w->sp = w->sp_base + base;
    rt_push_root(w, prim_on(w, "fc", "v!i", prim_val_of("inc"), 5));
    rt_push_root(w, mklist(w, "ii", 1, 2));
    rt_push_root(w, apply_top(w));
    EXPECT_INT(rt_force(w, rt_obj_of(w->sp[-1])->field[0]), 2);
    EXPECT_ERR(rt_force(w, rt_obj_of(w->sp[-1])->field[1]), "fc expects a list, not the number 5");
    w->sp = w->sp_base + base;
    rt_push_root(w, prim_on(w, "fc", "vv", prim_val_of("inc"), prim_val_of("dcr")));
    EXPECT_ERR(rt_force(w, rt_apply(w, w->sp[-1], rt_fix(3))), "fc expects a list, not the number 3");
    EXPECT_NIL(rt_force(w, rt_apply(w, w->sp[-1], RT_NIL)));
    w->sp = w->sp_base + base;
    rt_push_root(w, prim1(w, "map", "v", prim_val_of("inc")));
    EXPECT_ERR(rt_force(w, rt_apply(w, w->sp[-1], rt_fix(3))), "map expects a list, not the number 3");
    EXPECT_NIL(rt_force(w, rt_apply(w, w->sp[-1], RT_NIL)));
    w->sp = w->sp_base + base;
    rt_push_root(w, prim1(w, "map", "i", 3));            /* map:3 is a function ... */
    rt_push_root(w, mklist(w, "i", 1));
    rt_push_root(w, apply_top(w));
    EXPECT_ERR(rt_force(w, rt_obj_of(w->sp[-1])->field[0]), "not a function: the number 3");
    w->sp = w->sp_base + base - 1;
    return RT_NIL;
}

/* `#`: a long list, a deep one, and cyclic ones. */
static rt_val prims_deep_step(rt_worker *w, rt_val arg)
{
    int64_t n = rt_fix_value(arg), cells = 0;
    size_t base = (size_t)(w->sp - w->sp_base);
    rt_val env[2] = {rt_fix(0), rt_fix(n)};
    rt_push_root(w, rt_susp_new(w, iota2_code, 2, env));
    rt_push_root(w, rt_deep_force(w, w->sp[-1]));
    CHECK(rt_is_type(w->sp[-1], RT_T_CONS), "deep force returns the list");
    CHECK(all_evaluated(w->sp[-1], INT64_MAX, &cells) && cells == n,
          "deep force of %lld cells left something unevaluated (%lld cells)", (long long)n,
          (long long)cells);
    int64_t s = sum_forced(w, w->sp[-1], &cells);
    CHECK(cells == n && s == n * (n - 1) / 2, "deep-forced list intact");
    /* again: a list already in normal form */
    rt_val again = rt_deep_force(w, w->sp[-1]);
    CHECK(again == w->sp[-1], "deep force of a normal form");
    w->sp = w->sp_base + base;

    /* a list of lists: every head a list */
    int64_t k = n <= 1000 ? 10 : 100, m = n <= 1000 ? 10 : 1000, rows = 0, total = 0, bad = 0;
    rt_val re[3] = {rt_fix(0), rt_fix(k), rt_fix(m)};
    rt_push_root(w, rt_deep_force(w, rt_susp_new(w, rows_code, 3, re)));
    for (rt_val r = w->sp[-1];;) {
        if (rt_is_type(r, RT_T_SUSP)) {
            if (susp_state_of(r) != RT_SUSP_EVALUATED)
                break;
            r = rt_obj_of(r)->field[RT_SUSP_VALUE];
        }
        if (!rt_is_type(r, RT_T_CONS))
            break;
        rt_val row = rt_obj_of(r)->field[0];
        if (rt_is_type(row, RT_T_SUSP))
            row = susp_state_of(row) == RT_SUSP_EVALUATED ? rt_obj_of(row)->field[RT_SUSP_VALUE]
                                                          : RT_NULL;
        int64_t c = 0;
        if (row && all_evaluated(row, INT64_MAX, &c))
            total += c;
        else
            bad++;
        rows++;
        r = rt_obj_of(r)->field[1];
    }
    CHECK(rows == k && bad == 0 && total == k * m, "deep force of %lld rows of %lld: %lld rows, "
          "%lld unevaluated, %lld cells", (long long)k, (long long)m, (long long)rows,
          (long long)bad, (long long)total);
    w->sp = w->sp_base + base;

    /* nested through heads */
    int64_t depth = n / 10 > 100000 ? 100000 : n / 10;
    rt_val ne[1] = {rt_fix(depth)};
    rt_push_root(w, rt_deep_force(w, rt_susp_new(w, nest_code, 1, ne)));
    int64_t d = 0;
    for (rt_val v = w->sp[-1];; d++) {
        if (rt_is_type(v, RT_T_SUSP)) {
            if (susp_state_of(v) != RT_SUSP_EVALUATED)
                break;
            v = rt_obj_of(v)->field[RT_SUSP_VALUE];
        }
        if (!rt_is_type(v, RT_T_CONS))
            break;
        v = rt_obj_of(v)->field[0];
    }
    CHECK(d == depth, "deep force of a %lld-deep nest reached %lld", (long long)depth, (long long)d);
    w->sp = w->sp_base + base;

    /* cycles: once round */
    rt_val c = rt_deep_force(w, rt_susp_new(w, cyc_tail_code, 0, NULL));
    CHECK(rt_is_type(c, RT_T_CONS) && rt_obj_of(c)->field[0] == rt_fix(7), "x = [7 ! x]");
    rt_val t = rt_obj_of(c)->field[1];
    if (rt_is_type(t, RT_T_SUSP))
        t = rt_obj_of(t)->field[RT_SUSP_VALUE];
    CHECK(t == c, "x = [7 ! x] is its own tail");
    c = rt_deep_force(w, rt_susp_new(w, cyc_head_code, 0, NULL));
    CHECK(rt_is_type(c, RT_T_CONS), "x = [x]");
    rt_push_root(w, rt_deep_force(w, rt_susp_new(w, cyc3_code, 0, NULL)));
    CHECK(all_evaluated(w->sp[-1], 10, &cells) && cells == 10, "x = [0 1 ! x] forced round");
    w->sp--;
    /* the cycle through a list of several deep-forced values */
    rt_push_root(w, rt_susp_new(w, cyc_tail_code, 0, NULL));
    rt_push_root(w, mklist(w, "rrr", base, base, base));
    rt_push_root(w, rt_deep_force(w, w->sp[-1]));
    CHECK(all_evaluated(w->sp[-1], 3, &cells), "shared cycle forced");
    w->sp = w->sp_base + base;
    /* a cycle longer than a walk's hash (rt_prims.c DEEP_BITMAP_AFTER): its cells
     * are marked in region bitmaps, and the walk must still see it close; three
     * heads sharing it must be walked once.  All but its last `lazy` cells are
     * built first with the stress compactions paused (each copies the whole
     * cycle: building all of it under them is quadratic, minutes under TSan);
     * the walk forces the rest, so it still restarts in bitmap mode. */
    int64_t lc = 20000, lazy = 40;
    rt_val ce[3] = {rt_fix(0), rt_fix(lc), RT_NIL};
    rt_push_root(w, rt_susp_new(w, cyc_long_code, 3, ce));
    uint32_t stress = pctx->cfg.gc_stress;
    pctx->cfg.gc_stress = 0;            /* only worker 0 reads it, and this is worker 0 */
    rt_push_root(w, rt_force(w, w->sp[-1]));
    for (int64_t k = 1; k < lc - lazy; k++)
        w->sp[-1] = rt_force(w, rt_obj_of(w->sp[-1])->field[1]);
    w->sp--;
    pctx->cfg.gc_stress = stress;
    rt_push_root(w, mklist(w, "rrr", base, base, base));
    rt_push_root(w, rt_deep_force(w, w->sp[-1]));
    CHECK(all_evaluated(w->sp[-1], 3, &cells) && cells == 3, "list of a long cycle forced");
    rt_val first = rt_obj_of(w->sp[-1])->field[0];
    while (rt_is_type(first, RT_T_SUSP))
        first = rt_obj_of(first)->field[RT_SUSP_VALUE];
    int64_t round = 0;
    rt_val at = first;
    for (; rt_is_type(at, RT_T_CONS) && round < 2 * lc; round++) {
        if (rt_obj_of(at)->field[0] != rt_fix(round % lc))
            break;
        at = next_cell(at);
        if (at == first)
            break;
    }
    CHECK(at == first && round == lc - 1, "x = [0 .. %lld ! x] forced round: %lld cells",
          (long long)(lc - 1), (long long)round);
    w->sp = w->sp_base + base;
    EXPECT_INT(rt_deep_force(w, rt_fix(5)), 5);
    EXPECT_ERR(rt_deep_force(w, susp_of(w, rt_error_new(w, "deep"))), "deep");
    return RT_NIL;
}

/* sum:[lo, hi) as a suspension, for set members */
static rt_val range_code(rt_worker *w, rt_val self)
{
    int64_t lo = env_int(self, 0), hi = env_int(self, 1);
    rt_val env[2] = {rt_fix(lo), rt_fix(hi)};
    return sum_list(w, rt_susp_new(w, rt_test_iota_code, 2, env));
}

static rt_val prims_race_step(rt_worker *w, rt_val arg)
{
    int64_t k = rt_fix_value(arg), cnt = 0;
    size_t base = (size_t)(w->sp - w->sp_base);
    uint32_t nw = rt_ctx_nworkers(pctx);
    /* values come out at once, in list order */
    rt_push_root(w, prim_on(w, "set", "iii", 1, 2, 3));
    EXPECT_INT(rt_fix(sum_forced(w, w->sp[-1], &cnt)), 6);
    CHECK(cnt == 3, "set of values: %lld elements", (long long)cnt);
    EXPECT_INT(rt_obj_of(w->sp[-1])->field[0], 1);
    w->sp = w->sp_base + base;
    rt_push_root(w, susp_of(w, rt_fix(1)));
    rt_push_root(w, susp_of(w, rt_fix(3)));
    rt_push_root(w, prim_on(w, "set", "rir", base, 2, base + 1));
    EXPECT_INT(rt_obj_of(w->sp[-1])->field[0], 2);       /* the value first */
    CHECK(rt_is_type(rt_obj_of(w->sp[-1])->field[1], RT_T_SUSP), "the rest of a set is lazy");
    rt_val second = rt_force(w, rt_obj_of(w->sp[-1])->field[1]);
    if (nw == 1)
        EXPECT_INT(rt_obj_of(second)->field[0], 1);      /* one worker: list order */
    EXPECT_INT(rt_fix(sum_forced(w, w->sp[-1], &cnt)), 6);
    CHECK(cnt == 3, "set: %lld elements", (long long)cnt);
    w->sp = w->sp_base + base;
    EXPECT_NIL(prim_on(w, "set", ""));
    EXPECT_ERR(prim1(w, "set", "i", 5), "set expects a list, not the number 5");
    EXPECT_ERR(prim_on(w, "set", "i!i", 1, 5), "set expects a list, not the number 5");
    rt_push_root(w, prim_on(w, "set", "ie", 1, "member"));   /* errors are elements */
    EXPECT_ERR(rt_force(w, rt_obj_of(rt_force(w, rt_obj_of(w->sp[-1])->field[1]))->field[0]), "member");
    w->sp = w->sp_base + base;

    /* many members racing: every value exactly once */
    for (int64_t i = 0; i < k; i++) {
        rt_val env[2] = {rt_fix(i * 1000), rt_fix((i + 1) * 1000)};
        rt_push_root(w, rt_susp_new(w, range_code, 2, env));
    }
    rt_push_root(w, RT_NIL);
    while ((size_t)(w->sp - w->sp_base) > base + 1) {
        rt_val l = rt_cons(w, w->sp[-2], w->sp[-1]);
        w->sp--;
        w->sp[-1] = l;
    }
    rt_push_root(w, rt_force(w, rt_apply(w, prim_val_of("set"), w->sp[-1])));
    int64_t s = sum_forced(w, w->sp[-1], &cnt);
    CHECK(cnt == k && s == (k * 1000 - 1) * k * 1000 / 2, "set of %lld sums: %lld elements, sum %lld",
          (long long)k, (long long)cnt, (long long)s);
    /* the same members again, all evaluated now: list order */
    rt_push_root(w, rt_force(w, rt_apply(w, prim_val_of("set"), w->sp[-2])));
    EXPECT_INT(rt_obj_of(w->sp[-1])->field[0], 999 * 1000 / 2);
    w->sp = w->sp_base + base;

    /* any? */
    EXPECT_TRUE(prim_on(w, "any?", "nei", "e", 5));
    EXPECT_ERR(prim_on(w, "any?", "ne", "e"), "e");
    EXPECT_ERR(prim_on(w, "any?", "enen", "e1", "e2"), "e1");
    EXPECT_NIL(prim_on(w, "any?", ""));
    EXPECT_NIL(prim_on(w, "any?", "nn"));
    EXPECT_ERR(prim1(w, "any?", "i", 5), "any? expects a list, not the number 5");
    rt_push_root(w, susp_of(w, RT_NIL));
    rt_push_root(w, susp_of(w, rt_fix(7)));
    EXPECT_TRUE(prim_on(w, "any?", "rr", base, base + 1));
    w->sp = w->sp_base + base;
    rt_push_root(w, susp_of(w, RT_NIL));
    rt_push_root(w, susp_of(w, rt_error_new(w, "late")));
    rt_push_root(w, susp_of(w, rt_error_new(w, "later")));
    EXPECT_ERR(prim_on(w, "any?", "rrr", base, base + 2, base + 1), "later");
    w->sp = w->sp_base + base;
    return RT_NIL;
}

static void run_prims_step(rt_ctx *ctx, rt_step_fn fn, rt_val arg, const char *what)
{
    rt_val r = RT_NULL;
    rt_stats s0, s1;
    rt_stats_get(ctx, &s0);
    uint64_t t0 = rt_now_ns();
    int st = rt_step(ctx, fn, arg, &r);
    CHECK(st == RT_STEP_OK, "%s: step status %d", what, st);
    verify_clean(ctx, what);
    rt_stats_get(ctx, &s1);
    if (getenv("DAISY_SELFTEST_VERBOSE"))
        fprintf(out, "prims: %s %.1f ms, %llu compactions\n", what, (rt_now_ns() - t0) / 1e6,
                (unsigned long long)(s1.major_gcs - s0.major_gcs));
}

/* ---- tasks (rt_task.c Note [Tasks]) -------------------------------------------------
 * The members of set and any? as tasks: fair at every worker count, a member that
 * never converges holds back no other, any? abandons what it no longer needs (its
 * claims released, checked inside the step), the step ends every task; and the
 * mechanism that made spark runs nested on a waiting evaluation report a cycle
 * that is not there. */

static _Atomic int spin_forever_runs;

/* A member that never converges: it polls, so it can be switched away from and
 * cancelled, and allocates nothing (env[0] = 0) or a cell per round (1). */
static rt_val diverge_code(rt_worker *w, rt_val self)
{
    int alloc = (int)env_int(self, 0);
    atomic_fetch_add(&spin_forever_runs, 1);
    rt_push_root(w, RT_NIL);
    for (uint64_t i = 0;; i++) {
        if (alloc) {
            w->sp[-1] = rt_cons(w, rt_fix((int64_t)i), RT_NIL);
        }
        rt_poll(w);
    }
    return RT_NIL;     /* never */
}

static rt_val diverge_susp(rt_worker *w, int alloc)
{
    rt_val env[1] = {rt_fix(alloc)};
    return rt_susp_new(w, diverge_code, 1, env);
}

static rt_val sum_range_susp(rt_worker *w, int64_t lo, int64_t hi)
{
    rt_val env[2] = {rt_fix(lo), rt_fix(hi)};
    return rt_susp_new(w, range_code, 2, env);
}

static rt_val list_of_roots(rt_worker *w, size_t base)
{
    rt_push_root(w, RT_NIL);
    while ((size_t)(w->sp - w->sp_base) > base + 1) {
        rt_val l = rt_cons(w, w->sp[-2], w->sp[-1]);
        w->sp--;
        w->sp[-1] = l;
    }
    return rt_pop_root(w);
}

static uint64_t state_of(rt_val s)
{
    return atomic_load((_Atomic uint64_t *)&rt_obj_of(s)->field[RT_SUSP_STATE]);
}

/* any?:[diverge diverge' sum] at every worker count: true, and the divergent
 * members are unevaluated again when any? returns.  arg: 1 to let a helper take
 * a divergent member first (the cancellation crosses workers). */
static rt_val tasks_any_step(rt_worker *w, rt_val arg)
{
    size_t base = (size_t)(w->sp - w->sp_base);
    int remote = (int)rt_fix_value(arg);
    rt_push_root(w, diverge_susp(w, 0));             /* base: never converges */
    rt_push_root(w, diverge_susp(w, 1));             /* base + 1: allocates forever */
    rt_push_root(w, sum_range_susp(w, 0, 20000));    /* base + 2 */
    if (remote) {
        /* a helper takes the first divergent member before the race begins */
        rt_spark(w, w->sp_base[base]);
        uint64_t t0 = rt_now_ns();
        /* allocating: a helper that failed an allocation waits for a compaction */
        while (state_of(w->sp_base[base]) == RT_SUSP_UNEVALUATED && rt_now_ns() - t0 < 5000000000)
            (void)rt_cons(w, RT_NIL, RT_NIL);
        CHECK(state_of(w->sp_base[base]) & RT_SUSP_CLAIMED_BIT, "a helper runs the member");
    }
    rt_val r = prim_on(w, "any?", "rrr", base, base + 1, base + 2);
    EXPECT_TRUE(r);
    for (size_t i = 0; i < 2; i++) {
        rt_val m = w->sp_base[base + i];
        CHECK(rt_is_type(m, RT_T_SUSP) && state_of(m) == RT_SUSP_UNEVALUATED,
              "divergent member %zu is unevaluated again after any? (state %llu)", i,
              rt_is_type(m, RT_T_SUSP) ? (unsigned long long)state_of(m) : 99ull);
    }
    w->sp = w->sp_base + base;
    return RT_NIL;
}

/* set:[slow medium fast] on one worker comes out fastest first: members run in
 * slices of work, not one after another; on more workers it is the same
 * multiset.  The first element of set:[diverge 7 sum] is 7 at once. */
static rt_val tasks_set_step(rt_worker *w, rt_val arg)
{
    size_t base = (size_t)(w->sp - w->sp_base);
    uint32_t nw = rt_ctx_nworkers(pctx);
    rt_push_root(w, sum_range_susp(w, 0, 200000));
    rt_push_root(w, sum_range_susp(w, 0, 2000));
    rt_push_root(w, sum_range_susp(w, 0, 20));
    rt_push_root(w, list_of_roots(w, base));
    rt_val st = rt_prim_call(w, (uint32_t)rt_prim_lookup("set"), w->sp[-1]);
    rt_push_root(w, st);
    int64_t got[3] = {0, 0, 0};
    for (int i = 0; i < 3; i++) {
        rt_val c = rt_force(w, w->sp[-1]);
        if (!rt_is_type(c, RT_T_CONS)) {
            CHECK(0, "set stream ended after %d elements", i);
            break;
        }
        rt_val h = rt_force(w, rt_obj_of(c)->field[0]);
        got[i] = rt_is_fix(h) ? rt_fix_value(h) : -1;
        w->sp[-1] = rt_obj_of(c)->field[1];
    }
    int64_t small = range_sum(0, 20), mid = range_sum(0, 2000), big = range_sum(0, 200000);
    if (nw == 1)
        CHECK(got[0] == small && got[1] == mid && got[2] == big,
              "completion order %lld %lld %lld", (long long)got[0], (long long)got[1],
              (long long)got[2]);
    CHECK(got[0] + got[1] + got[2] == small + mid + big, "set's elements");
    CHECK(rt_force(w, w->sp[-1]) == RT_NIL, "the set ends");
    w->sp = w->sp_base + base;

    /* a divergent member first: the others come out anyway */
    rt_push_root(w, diverge_susp(w, (int)rt_fix_value(arg)));
    rt_push_root(w, sum_range_susp(w, 0, 100));
    rt_push_root(w, susp_of(w, rt_fix(7)));
    rt_push_root(w, list_of_roots(w, base));
    rt_push_root(w, rt_prim_call(w, (uint32_t)rt_prim_lookup("set"), w->sp[-1]));
    rt_val c = rt_force(w, w->sp[-1]);
    int64_t a = rt_fix_value(rt_force(w, rt_obj_of(c)->field[0]));
    c = rt_force(w, rt_obj_of(w->sp[-1])->field[1]);
    int64_t b = rt_fix_value(rt_force(w, rt_obj_of(c)->field[0]));
    CHECK(a + b == 7 + range_sum(0, 100), "two members past a divergent one: %lld %lld",
          (long long)a, (long long)b);
    w->sp = w->sp_base + base;
    return rt_fix(a + b);   /* the divergent member is still a task: the step ends it */
}

/* The mechanism behind issue 16's livelock: a worker waiting for a suspension
 * a helper holds ran a spark on top of its own waiting evaluation; the spark
 * demanded the suspension the waiting evaluation had claimed further down, and
 * got the error `cycle`, which then became a value.  Here: S sparks P, then
 * waits for R, which a helper holds until P runs; P demands S.  With tasks P
 * waits for S (a claim of another task) and both answers are right. */
static _Atomic int p_started;

static rt_val r_code(rt_worker *w, rt_val self)
{
    uint64_t t0 = rt_now_ns();
    while (!atomic_load(&p_started) && rt_now_ns() - t0 < 3000000000ull)
        rt_poll(w);
    return rt_fix(1);
}

static rt_val p_code(rt_worker *w, rt_val self)
{
    atomic_store(&p_started, 1);
    rt_val s = rt_force(w, rt_obj_of(self)->field[RT_SUSP_ENV]);
    return rt_is_fix(s) ? rt_fix(rt_fix_value(s) + 10) : s;
}

static rt_val s_code(rt_worker *w, rt_val self)
{
    /* env: [R P]; P's env is patched to S before S is published */
    rt_push_root(w, self);
    rt_spark(w, rt_obj_of(self)->field[RT_SUSP_ENV + 1]);
    rt_val r = rt_force(w, rt_obj_of(w->sp[-1])->field[RT_SUSP_ENV]);
    w->sp--;
    return rt_is_fix(r) ? rt_fix(rt_fix_value(r) + 1) : r;
}

static rt_val tasks_nested_step(rt_worker *w, rt_val arg)
{
    size_t base = (size_t)(w->sp - w->sp_base);
    atomic_store(&p_started, 0);
    rt_push_root(w, rt_susp_new(w, r_code, 0, NULL));             /* base: R */
    rt_val penv[1] = {RT_NIL};
    rt_push_root(w, rt_susp_new(w, p_code, 1, penv));              /* base + 1: P */
    rt_val senv[2] = {w->sp_base[base], w->sp_base[base + 1]};
    rt_push_root(w, rt_susp_new(w, s_code, 2, senv));              /* base + 2: S */
    rt_obj_of(w->sp_base[base + 1])->field[RT_SUSP_ENV] = w->sp_base[base + 2];
    /* a helper takes R first */
    rt_spark(w, w->sp_base[base]);
    uint64_t t0 = rt_now_ns();
    while (state_of(w->sp_base[base]) == RT_SUSP_UNEVALUATED && rt_now_ns() - t0 < 2000000000)
        rt_poll(w);
    rt_val s = rt_force(w, w->sp_base[base + 2]);
    rt_val p = rt_force(w, w->sp_base[base + 1]);
    EXPECT_INT(s, 2);
    EXPECT_INT(p, 12);
    w->sp = w->sp_base + base;
    return RT_NIL;
}

static void run_tasks_step(rt_ctx *ctx, rt_step_fn fn, rt_val arg, const char *what)
{
    rt_val r = RT_NULL;
    int st = rt_step(ctx, fn, arg, &r);
    CHECK(st == RT_STEP_OK, "%s: step status %d", what, st);
    verify_clean(ctx, what);
}

static void test_tasks(uint32_t nw, uint64_t scale)
{
    for (int stress = 0; stress < 2; stress++) {
        /* with stress: compaction at every slow path of worker 0, and helpers
         * failing every 13th reservation: tasks unwind, and are abandoned */
        rt_ctx *ctx = make_ctx(nw, 0, (uint32_t)stress, stress && nw > 1 ? 13 : 0);
        if (!ctx)
            return;
        pctx = ctx;
        for (uint64_t i = 0; i < scale; i++) {
            run_tasks_step(ctx, tasks_any_step, rt_fix(0), "tasks any?");
            if (nw > 1)
                run_tasks_step(ctx, tasks_any_step, rt_fix(1), "tasks any? (member on a helper)");
            run_tasks_step(ctx, tasks_set_step, rt_fix(0), "tasks set");
            run_tasks_step(ctx, tasks_set_step, rt_fix(1), "tasks set (allocating member)");
            if (nw > 1 && !stress)
                run_tasks_step(ctx, tasks_nested_step, RT_NIL, "tasks: no nested cycle");
        }
        rt_stats s;
        rt_stats_get(ctx, &s);
        CHECK(s.tasks_members > 0, "member tasks started (%llu)", (unsigned long long)s.tasks_members);
        CHECK(s.tasks_cancelled > 0, "any? cancelled members (%llu)",
              (unsigned long long)s.tasks_cancelled);
        fprintf(out, "tasks: %u workers%s, %llu member tasks, %llu spark tasks, %llu switches, "
                     "%llu preemptions, %llu cancelled, %llu compactions\n",
                nw, stress ? " (stress)" : "", (unsigned long long)s.tasks_members,
                (unsigned long long)s.tasks_sparks, (unsigned long long)s.task_switches,
                (unsigned long long)s.preemptions, (unsigned long long)s.tasks_cancelled,
                (unsigned long long)s.major_gcs);
        pctx = NULL;
        rt_ctx_free(ctx);
    }
}

static void test_prims(uint32_t nw, uint64_t scale)
{
    /* the table: sorted by name in byte order, and found by name */
    uint32_t n = rt_prim_count();
    CHECK(n == 51, "%u primitives", n);
    for (uint32_t i = 0; i < n; i++) {
        CHECK(rt_prim_lookup(rt_prim_name(i)) == (int)i, "lookup of %s", rt_prim_name(i));
        if (i)
            CHECK(strcmp(rt_prim_name(i - 1), rt_prim_name(i)) < 0, "order at %s", rt_prim_name(i));
    }
    CHECK(rt_prim_name(n) == NULL && rt_prim_lookup("nope") == -1 && rt_prim_lookup("") == -1,
          "out of range");
    CHECK(strcmp(rt_prim_name(0), "%SpnHd?") == 0 && strcmp(rt_prim_name(n - 1), "zero?") == 0,
          "first and last");

    rt_ctx *ctx = make_ctx(nw, 0, 1, 0);          /* compaction at every slow path */
    if (!ctx)
        return;
    pctx = ctx;
    /* First small sizes with every reservation of worker 0 on the slow path
     * (a failure injected at a reservation never reached keeps the extent
     * one reservation long), so every allocation compacts: whatever a
     * primitive holds unrooted across one moves under it. */
    rt_inject_main_failure(rt_ctx_main(ctx), UINT64_MAX);
    run_prims_step(ctx, prims_numbers_step, rt_fix(0), "numbers");
    run_prims_step(ctx, prims_numbers_step, rt_fix(1), "numbers (lazy operands)");
    run_prims_step(ctx, prims_misc_step, RT_NIL, "misc");
    run_prims_step(ctx, prims_lists_step, rt_fix(100), "lists (small)");
    run_prims_step(ctx, prims_deep_step, rt_fix(1000), "deep (small)");
    run_prims_step(ctx, prims_race_step, rt_fix(8), "race (small)");
    rt_inject_main_failure(rt_ctx_main(ctx), 0);
    rt_stats st;
    rt_stats_get(ctx, &st);
    uint64_t small_gcs = st.major_gcs;
    CHECK(small_gcs > 5000, "only %llu compactions at every allocation",
          (unsigned long long)small_gcs);
    /* Then full sizes, compacting at every slow path. */
    run_prims_step(ctx, prims_lists_step, rt_fix(10000 * (int64_t)scale), "lists");
#if defined(__SANITIZE_THREAD__)
    int64_t deep_n = 100000;        /* ThreadSanitizer runs this part 35 times slower */
#else
    int64_t deep_n = 1000000;
#endif
    run_prims_step(ctx, prims_deep_step, rt_fix(deep_n * (int64_t)scale), "deep");
    run_prims_step(ctx, prims_race_step, rt_fix(200 * (int64_t)scale), "race");
    rt_stats_get(ctx, &st);
    fprintf(out, "prims: %u workers, %llu + %llu compactions, %llu sparks converted\n", nw,
            (unsigned long long)small_gcs, (unsigned long long)(st.major_gcs - small_gcs),
            (unsigned long long)st.sparks_converted);
    pctx = NULL;
    rt_ctx_free(ctx);
}

/* ---- streams (rt_streams.c) -----------------------------------------------------------
 * The stream stages over character streams made from C strings (one suspension per
 * character), checked against texts the reference interpreter produces
 * (interp/streams.py): scnis's tokens, prsis's forms, prsos and scnos against the
 * printer, screen's output.  Run normally, with every allocation of worker 0
 * compacting, and with screen as a committed step under injected failures: every
 * cell a stage makes must be right however often its code runs again. */

static const char *st_src[4];

static void *st_alloc(void *p, size_t n)
{
    p = realloc(p, n);
    if (!p)
        abort();
    return p;
}

/* A lazy stream of the characters (UTF-8 code points) of st_src[i] from offset. */
static rt_val st_chars_code(rt_worker *w, rt_val self)
{
    int64_t i = env_int(self, 0), off = env_int(self, 1);
    const unsigned char *t = (const unsigned char *)st_src[i];
    if (!t[off])
        return RT_NIL;
    int64_t k = t[off] >= 0xf0 ? 4 : t[off] >= 0xe0 ? 3 : t[off] >= 0xc0 ? 2 : 1;
    rt_val env[2] = {rt_fix(i), rt_fix(off + k)};
    rt_val rest = rt_susp_new(w, st_chars_code, 2, env);
    return rt_cons(w, rt_atom(w->ctx, (const char *)t + off, (size_t)k), rest);
}

static rt_val st_chars(rt_worker *w, int i, const char *text)
{
    st_src[i] = text;
    rt_val env[2] = {rt_fix(i), rt_fix(0)};
    return rt_susp_new(w, st_chars_code, 2, env);
}

/* Text written to an rt_out, read back (malloc'd). */
typedef struct st_sink { FILE *f; rt_out *o; } st_sink;
static st_sink st_sink_open(void)
{
    st_sink s = {tmpfile(), st_alloc(NULL, sizeof(rt_out))};
    rt_out_init(s.o, fileno(s.f));
    return s;
}
static char *st_sink_close(st_sink s)
{
    rt_out_flush(s.o);
    free(s.o);
    fflush(s.f);
    long n = ftell(s.f);
    char *text = st_alloc(NULL, (size_t)n + 1);
    rewind(s.f);
    size_t k = fread(text, 1, (size_t)n, s.f);
    text[k] = 0;
    fclose(s.f);
    return text;
}

static char *st_print_text(rt_worker *w, rt_val v, int top)
{
    st_sink s = st_sink_open();
    rt_print(w, v, s.o, top);
    return st_sink_close(s);
}

static void st_append(char **buf, size_t *n, const char *t, size_t k)
{
    *buf = st_alloc(*buf, *n + k + 1);
    memcpy(*buf + *n, t, k);
    *n += k;
    (*buf)[*n] = 0;
}

/* A token as genexp.py renders it: A(atom) N(number) T(text,kind[,value]) E(msg). */
static void st_render(rt_worker *w, rt_val t, char **buf, size_t *n)
{
    rt_ctx *ctx = w->ctx;
    static const char kinds[] = "?wocp:.!=n";     /* by RT_PK_* */
    size_t k = 0;
    if (rt_is_atom(t)) {
        const char *s = rt_atom_name(ctx, t, &k);
        st_append(buf, n, "A(", 2);
        st_append(buf, n, s, k);
    } else if (rt_is_token(t)) {
        int kind = 0;
        rt_val value = 0;
        const char *s = rt_token_text(ctx, t, &k, &kind, &value);
        st_append(buf, n, "T(", 2);
        st_append(buf, n, s, k);
        st_append(buf, n, ",", 1);
        st_append(buf, n, &kinds[kind], 1);
        if (value) {
            s = rt_atom_name(ctx, value, &k);
            st_append(buf, n, ",", 1);
            st_append(buf, n, s, k);
        }
    } else if (rt_is_error(t)) {
        const char *s = rt_atom_name(ctx, rt_obj_of(t)->field[0], &k);
        st_append(buf, n, "E(", 2);
        st_append(buf, n, s, k);
    } else {
        char *s = st_print_text(w, t, 0);
        st_append(buf, n, "N(", 2);
        st_append(buf, n, s, strlen(s));
        free(s);
    }
    st_append(buf, n, ")", 1);
}

static const char *const st_lex_cases[][2] = {
    {"f:[1 2] x = 3", "A(f) T(:,:) T([,o) N(1) N(2) T(],c) A(x) T(=,=) N(3)"},
    {"1.5e3 -3 1e5 007 -0.25 12abc", "N(1.500000e+03) N(-3) N(1.000000e+05) N(7) N(-2.500000e-01) E(syntax error at column 24: malformed number '12abc')"},
    {"\"a`nb`\"c\" \"\" \"abc", "T(\"a`nb`\"c\",w,a\nb\"c) T(\"\",w,) E(syntax error at column 14: unterminated string)"},
    {"\"a`qb\" x 99999999999999999999 y", "E(syntax error at column 1: unknown escape '`q' in a string) A(x) E(syntax error at column 10: integer literal 99999999999999999999 is out of range) A(y)"},
    {"x'?%y a-3 %% ; comment", "A(x'?) A(%y) A(a-3) A(%) A(%)"},
    {"@$#^\\.!=()", "T(@,p) T($,p) T(#,p) T(^,p) T(\\,p) T(.,.) T(!,!) T(=,=) T((,o) T(),c)"},
    {"\t\xc3\xa9", "E(syntax error at column 2: unexpected character '\xc3\xa9')"},
    {"'x", "E(syntax error at column 1: unexpected character \"'\")"},
    {"-x", "E(syntax error at column 1: unexpected '-')"},
    {"1e999 4611686018427387904", "E(syntax error at column 1: float literal 1e999 is out of range) N(4611686018427387904)"},
    {"\"caf\xc3\xa9\" [a ! b]", "T(\"caf\xc3\xa9\",w,caf\xc3\xa9) T([,o) A(a) T(!,!) A(b) T(],c)"},
    {"x\"", "A(x) E(syntax error at column 2: unterminated string)"},
    {"1.e5", "E(syntax error at column 1: malformed number '1.e5')"},
    {"", ""},
};

/* scnis, one line each: the tokens, the end-of-line mark, then the end. */
static rt_val st_lex_step(rt_worker *w, rt_val arg)
{
    (void)arg;
    size_t base = (size_t)(w->sp - w->sp_base);
    for (size_t c = 0; c < sizeof st_lex_cases / sizeof st_lex_cases[0]; c++) {
        char *line = st_alloc(NULL, strlen(st_lex_cases[c][0]) + 2);
        sprintf(line, "%s\n", st_lex_cases[c][0]);
        rt_push_root(w, rt_prim_scnis(w, st_chars(w, 0, line)));
        char *got = NULL;
        size_t n = 0;
        st_append(&got, &n, "", 0);
        int lines = 0;
        for (;;) {
            rt_val l = rt_force(w, w->sp[-1]);
            if (!rt_is_type(l, RT_T_CONS))
                break;
            w->sp[-1] = l;
            rt_val t = rt_force(w, rt_obj_of(l)->field[0]);
            if (rt_is_token(t) && rt_token_text(w->ctx, t, NULL, NULL, NULL)[0] == '\n') {
                lines++;
            } else {
                if (n)
                    st_append(&got, &n, " ", 1);
                st_render(w, t, &got, &n);
            }
            w->sp[-1] = rt_obj_of(w->sp[-1])->field[1];
        }
        CHECK(w->sp[-1] == RT_NIL || rt_force(w, w->sp[-1]) == RT_NIL, "scnis ends in []");
        CHECK(strcmp(got, st_lex_cases[c][1]) == 0 && lines == 1,
              "scnis %s:\n  got  %s\n  want %s", st_lex_cases[c][0], got, st_lex_cases[c][1]);
        free(got);
        free(line);
        w->sp = w->sp_base + base;
    }
    return RT_UNIT;
}

static const char st_prog[] =
    "f:[1 2]\n\\[a b]. add:[a b]\nx = 3\nsq = \\x.\n  mpy:[x x]\n\n[1 2\n \"abc\" \"a b\"] ; list\n"
    "a b\n@\"abc\"\n^[a \"b\"]\nf:g:(h:x):y\n#$f:x\n1.5 2\n\"a`qb\"\n)\ndone\n";
static const char st_prog_forms[] =
    "f:[1 2]\n\\[a b]. add:[a b]\nx = 3\nsq = \\x. mpy:[x x]\n[1 2 ^abc \"a b\"]\n"
    "<error: syntax error on line 9: unexpected 'b' after a>\n@^abc\n^[a b]\nf:g:(h:x):y\n#$f:x\n"
    "<error: syntax error on line 14: unexpected '2' after 1.500000e+00>\n"
    "<error: syntax error at column 1: unknown escape '`q' in a string>\n"
    "<error: syntax error on line 16: unexpected ')'>\ndone\n";

/* The printed forms of a stream of forms, one per line. */
static char *st_forms_text(rt_worker *w, rt_val forms)
{
    char *got = NULL;
    size_t n = 0;
    st_append(&got, &n, "", 0);
    rt_push_root(w, forms);
    for (;;) {
        rt_val l = rt_force(w, w->sp[-1]);
        if (!rt_is_type(l, RT_T_CONS))
            break;
        w->sp[-1] = l;
        char *t = st_print_text(w, rt_obj_of(l)->field[0], 0);
        st_append(&got, &n, t, strlen(t));
        st_append(&got, &n, "\n", 1);
        free(t);
        w->sp[-1] = rt_obj_of(w->sp[-1])->field[1];
    }
    w->sp--;
    return got;
}

/* The characters of a stream, as text. */
static char *st_chars_text(rt_worker *w, rt_val chars, size_t limit)
{
    char *got = NULL;
    size_t n = 0, count = 0;
    st_append(&got, &n, "", 0);
    rt_push_root(w, chars);
    while (count++ < limit) {
        rt_val l = rt_force(w, w->sp[-1]);
        if (!rt_is_type(l, RT_T_CONS))
            break;
        w->sp[-1] = l;
        size_t k = 0;
        const char *s = rt_atom_name(w->ctx, rt_force(w, rt_obj_of(l)->field[0]), &k);
        st_append(&got, &n, s ? s : "?", s ? k : 1);
        w->sp[-1] = rt_obj_of(w->sp[-1])->field[1];
    }
    w->sp--;
    return got;
}

static rt_val st_forms_step(rt_worker *w, rt_val arg)
{
    (void)arg;
    rt_val forms = rt_prim_prsis(w, rt_prim_scnis(w, st_chars(w, 0, st_prog)));
    char *got = st_forms_text(w, forms);
    CHECK(strcmp(got, st_prog_forms) == 0, "prsis:\n%s\nwant:\n%s", got, st_prog_forms);
    free(got);
    /* a command that never ends, and tokens that are not tokens */
    forms = rt_prim_prsis(w, rt_prim_scnis(w, st_chars(w, 0, "x\n[f:x\n")));
    got = st_forms_text(w, forms);
    CHECK(strcmp(got, "x\n<error: syntax error: the input ends inside the command begun on "
                      "line 2>\n") == 0, "prsis at the end: %s", got);
    free(got);
    rt_val toks = rt_cons(w, RT_NIL, RT_NIL);
    toks = rt_cons(w, rt_atom(w->ctx, "x", 1), rt_cons(w, RT_UNIT, toks));
    got = st_forms_text(w, rt_prim_prsis(w, toks));
    CHECK(strcmp(got, "<error: syntax error on line 1: a unit is not a token>\n") == 0,
          "prsis of a non-token: %s", got);
    free(got);
    /* nesting: deep is fine, too deep an error value (never a crash) */
    size_t depth = 3000;
    char *deep = st_alloc(NULL, 2 * depth + 2);
    memset(deep, '[', depth);
    memset(deep + depth, ']', depth);
    strcpy(deep + 2 * depth, "\n");
    got = st_forms_text(w, rt_prim_prsis(w, rt_prim_scnis(w, st_chars(w, 1, deep))));
    CHECK(strcmp(got, deep) == 0, "%zu nested lists read back", depth);
    free(got);
    free(deep);
    depth = 30000;
    deep = st_alloc(NULL, depth + 2);
    memset(deep, '(', depth);
    strcpy(deep + depth, "\n");
    got = st_forms_text(w, rt_prim_prsis(w, rt_prim_scnis(w, st_chars(w, 1, deep))));
    CHECK(strstr(got, "nested too deeply") != NULL, "30000 nested parentheses: %.100s", got);
    free(got);
    free(deep);
    return RT_UNIT;
}

/* A value with a bit of everything, some of it behind suspensions. */
static rt_val st_lazy(rt_worker *w, rt_val v)
{
    return rt_susp_new(w, const_code, 1, &v);
}

static rt_val st_value(rt_worker *w)
{
    rt_ctx *ctx = w->ctx;
    size_t base = (size_t)(w->sp - w->sp_base);
#define PUSH(v) rt_push_root(w, (v))
    PUSH(rt_fix(1));
    PUSH(rt_cons(w, rt_fix(2), rt_cons(w, rt_atom(ctx, "a b", 3), rt_cons(w, rt_float(w, 1.5), RT_NIL))));
    PUSH(st_lazy(w, rt_atom(ctx, "x", 1)));
    PUSH(rt_atom(ctx, "\xc3\xa9`\n\"", 5));
    PUSH(RT_NIL);
    PUSH(rt_error_new(w, "boom} here"));
    rt_val f = rt_atom(ctx, "f", 1), x = rt_atom(ctx, "x", 1);
    rt_val fl[2] = {f, x};
    PUSH(rt_form_new(w, RT_FORM_APPLY, 2, fl));
    rt_val ab = rt_cons(w, rt_atom(ctx, "a", 1), rt_cons(w, rt_atom(ctx, "b", 1), RT_NIL));
    rt_val fn[2] = {ab, rt_atom(ctx, "a", 1)};
    PUSH(rt_form_new(w, RT_FORM_FUNCTION, 2, fn));
    rt_val an[2] = {rt_atom(ctx, "@", 1), x};
    PUSH(rt_form_new(w, RT_FORM_ANNOTATION, 2, an));
    rt_val ap[2] = {w->sp[-3], x};                 /* (f:x):x */
    PUSH(rt_form_new(w, RT_FORM_APPLY, 2, ap));
    rt_val df[2] = {f, rt_fix(3)};
    PUSH(rt_form_new(w, RT_FORM_DEFINE, 2, df));
    PUSH(rt_int(w, INT64_C(4611686018427387904)));
    PUSH(rt_float(w, -0.5));
    PUSH(rt_token(ctx, "[", 1, RT_PK_OPEN, RT_NULL));
    PUSH(rt_token(ctx, "\"s`t\"", 5, RT_PK_WORD, rt_atom(ctx, "s\t", 2)));
    PUSH(RT_UNIT);
    PUSH(rt_cons(w, rt_fix(1), rt_cons(w, rt_fix(2), st_lazy(w, rt_fix(3)))));   /* [1 2 ! 3] */
    PUSH(st_lazy(w, rt_cons(w, RT_NIL, st_lazy(w, RT_NIL))));
#undef PUSH
    rt_val l = RT_NIL;
    rt_push_root(w, l);
    size_t top = (size_t)(w->sp - w->sp_base) - 1;
    for (size_t i = top; i-- > base;)
        w->sp_base[top] = rt_cons(w, w->sp_base[i], w->sp_base[top]);
    l = w->sp_base[top];
    w->sp = w->sp_base + base;
    return l;
}

static const char st_value_text[] =
    "[1 [2 \"a b\" 1.500000e+00] x \"\xc3\xa9```n`\"\" [] <error: boom} here> f:x \\[a b]. a @x "
    "(f:x):x f = 3 4611686018427387904 -5.000000e-01 [\"s`t\" <screen> [1 2 ! 3] [[]]]";

static rt_val st_print_step(rt_worker *w, rt_val arg)
{
    (void)arg;
    rt_push_root(w, st_value(w));
    char *a = st_print_text(w, w->sp[-1], 1);
    CHECK(strcmp(a, st_value_text) == 0, "printed:\n%s\nwant:\n%s", a, st_value_text);
    /* prsos then scnos: the printer's text and a newline; a top-level unit: nothing */
    rt_val vals = rt_cons(w, rt_fix(7), RT_NIL);
    vals = rt_cons(w, RT_UNIT, rt_cons(w, w->sp[-1], vals));
    char *b = st_chars_text(w, rt_prim_scnos(w, rt_prim_prsos(w, vals)), SIZE_MAX);
    char *want = st_alloc(NULL, strlen(a) + 8);
    sprintf(want, "%s\n7\n", a);
    CHECK(strcmp(b, want) == 0, "scnos: prsos:\n%s\nwant:\n%s", b, want);
    free(b);
    /* screen writes the same */
    rt_out *saved = w->ctx->print_out;
    st_sink s = st_sink_open();
    rt_set_print_target(w->ctx, s.o);
    vals = rt_cons(w, w->sp[-1], RT_NIL);
    rt_val r = rt_prim_screen(w, rt_prim_scnos(w, rt_prim_prsos(w, vals)));
    rt_set_print_target(w->ctx, saved);
    b = st_sink_close(s);
    sprintf(want, "%s\n", a);
    CHECK(r == RT_UNIT && strcmp(b, want) == 0, "screen: scnos: prsos:\n%s", b);
    free(b);
    free(want);
    free(a);
    /* screen writes atoms and tokens raw, other values printed; a string whole */
    s = st_sink_open();
    rt_set_print_target(w->ctx, s.o);
    rt_val els = rt_cons(w, st_lazy(w, rt_fix(5)), RT_NIL);
    els = rt_cons(w, rt_token(w->ctx, "(", 1, RT_PK_OPEN, RT_NULL), rt_cons(w, RT_NIL, els));
    els = rt_cons(w, rt_atom(w->ctx, "a b", 3), els);
    rt_prim_screen(w, els);
    rt_prim_screen(w, rt_atom(w->ctx, "!\n", 2));
    r = rt_prim_screen(w, rt_cons(w, rt_fix(1), rt_atom(w->ctx, "x", 1)));
    rt_set_print_target(w->ctx, saved);
    b = st_sink_close(s);
    CHECK(strcmp(b, "a b([]5!\n1") == 0, "screen wrote %s", b);
    CHECK(rt_is_error(r) && strcmp(rt_atom_name(w->ctx, rt_obj_of(r)->field[0], NULL),
                                   "screen expects a list, not the atom x") == 0,
          "screen of an improper list");
    free(b);
    /* an infinite list streams */
    rt_val env[2] = {rt_fix(0), rt_fix(INT64_C(1) << 40)};
    vals = rt_cons(w, rt_susp_new(w, rt_test_iota_code, 2, env), RT_NIL);
    b = st_chars_text(w, rt_prim_scnos(w, rt_prim_prsos(w, vals)), 30);
    CHECK(strcmp(b, "[0 1 2 3 4 5 6 7 8 9 10 11 12 ") == 0, "an infinite list: %s", b);
    free(b);
    /* eq? on tokens: interned by text and kind, string literals never */
    CHECK(rt_token(w->ctx, "(", 1, RT_PK_OPEN, 0) == rt_token(w->ctx, "(", 1, RT_PK_OPEN, 0) &&
          rt_token(w->ctx, "(", 1, RT_PK_OPEN, 0) != rt_token(w->ctx, "(", 1, RT_PK_WORD, 0) &&
          rt_token(w->ctx, "\"a\"", 3, RT_PK_WORD, rt_atom(w->ctx, "a", 1)) !=
              rt_token(w->ctx, "\"a\"", 3, RT_PK_WORD, rt_atom(w->ctx, "a", 1)),
          "token identity");
    w->sp--;
    return RT_UNIT;
}

/* Helpers run the stages too: a spark walks the characters of a whole pipeline
 * (scnos: prsos: prsis: scnis: the program) and hashes them. */
static int64_t st_hash(const char *t, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)t[i]) * 1099511628211ull;
    return (int64_t)(h >> 4);
}

static rt_val st_par_code(rt_worker *w, rt_val self)
{
    (void)self;
    rt_val env[2] = {rt_fix(2), rt_fix(0)};          /* st_src[2], set before the sparks */
    rt_val c = rt_susp_new(w, st_chars_code, 2, env);
    rt_val p = rt_prim_scnos(w, rt_prim_prsos(w, rt_prim_prsis(w, rt_prim_scnis(w, c))));
    char *text = st_chars_text(w, p, SIZE_MAX);
    int64_t h = st_hash(text, strlen(text));
    free(text);
    return rt_fix(h);
}

/* k sparks of `code`, each hashing a pipeline over st_src[slot] = prog: every one
 * must come out as the hash of `want` (shared by the stages' and formeval's tests). */
static void par_pipelines_check(rt_worker *w, int k, rt_susp_code code, int slot,
                                const char *prog, const char *want_text)
{
    size_t base = (size_t)(w->sp - w->sp_base);
    st_src[slot] = prog;
    for (int i = 0; i < k; i++) {
        rt_push_root(w, rt_susp_new(w, code, 0, NULL));
        rt_spark(w, w->sp[-1]);
    }
    int64_t want = st_hash(want_text, strlen(want_text)), bad = 0;
    for (int i = 0; i < k; i++)
        bad += rt_force(w, w->sp_base[base + (size_t)i]) != rt_fix(want);
    CHECK(bad == 0, "%lld of %d pipelines on helpers came out wrong", (long long)bad, k);
    w->sp = w->sp_base + base;
}

static rt_val st_par_step(rt_worker *w, rt_val arg)
{
    (void)arg;
    par_pipelines_check(w, 32, st_par_code, 2, st_prog, st_prog_forms);
    return RT_UNIT;
}

static void st_run(rt_ctx *ctx, rt_step_fn fn, const char *what)
{
    rt_val r = RT_NULL;
    int st = rt_step(ctx, fn, RT_NIL, &r);
    CHECK(st == RT_STEP_OK, "%s: step status %d", what, st);
    verify_clean(ctx, what);
}

/* The REPL's stages but evlst over a program, written by screen as a committed step;
 * returns the failures injected. */
static uint64_t st_screen_program(rt_ctx *ctx, uint64_t fail_every, int commit, const char *what)
{
    rt_worker *w = rt_ctx_main(ctx);
    rt_val p = rt_prim_scnos(w, rt_prim_prsos(w, rt_prim_prsis(w, rt_prim_scnis(w, st_chars(w, 0, st_prog)))));
    uint32_t g = rt_global_new(ctx, p);
    st_sink s = st_sink_open();
    rt_set_print_target(ctx, s.o);
    uint64_t before = w->stats.alloc_failures;
    if (fail_every)
        rt_inject_main_failures_every(w, fail_every);
    rt_val r = RT_NULL;
    int st = rt_step(ctx, commit ? rt_screen_step : rt_prim_screen, rt_global_get(ctx, g), &r);
    rt_inject_main_failure(w, 0);
    rt_set_print_target(ctx, NULL);
    rt_global_set(ctx, g, RT_NIL);
    char *text = st_sink_close(s);
    CHECK(st == RT_STEP_OK && r == RT_UNIT, "%s: status %d", what, st);
    CHECK(strcmp(text, st_prog_forms) == 0, "%s: wrote\n%s", what, text);
    free(text);
    verify_clean(ctx, what);
    return w->stats.alloc_failures - before;
}

static void test_streams(uint32_t nw, uint64_t scale)
{
    (void)scale;
    rt_ctx *ctx = make_ctx(nw, 0, 0, 0);
    if (!ctx)
        return;
    st_run(ctx, st_lex_step, "scnis");
    st_run(ctx, st_forms_step, "prsis");
    st_run(ctx, st_print_step, "prsos, scnos, screen");
    st_run(ctx, st_par_step, "stages in sparks");
    st_screen_program(ctx, 0, 0, "screen");
    st_screen_program(ctx, 0, 1, "screen step");
    uint64_t injected = 0;
    /* (A commit must come within two failures: the characters of a line come
     * before the first character of its form is written.) */
    for (uint64_t every = 97; every > 50; every -= 12) {
        char what[64];
        snprintf(what, sizeof what, "screen step failing every %llu", (unsigned long long)every);
        injected += st_screen_program(ctx, every, 1, what);
    }
    CHECK(injected > 25, "only %llu failures injected", (unsigned long long)injected);
    rt_ctx_free(ctx);

    /* Every allocation of worker 0 compacts: whatever a stage holds unrooted moves. */
    ctx = make_ctx(nw, 0, 1, 0);
    if (!ctx)
        return;
    rt_inject_main_failure(rt_ctx_main(ctx), UINT64_MAX);
    st_run(ctx, st_lex_step, "scnis (compacting)");
    st_run(ctx, st_print_step, "prsos, scnos, screen (compacting)");
    st_screen_program(ctx, 0, 1, "screen step (compacting)");
    st_run(ctx, st_par_step, "stages in sparks (compacting)");
    rt_inject_main_failure(rt_ctx_main(ctx), 0);
    st_run(ctx, st_forms_step, "prsis (compacting at slow paths)");
    rt_stats s;
    rt_stats_get(ctx, &s);
    fprintf(out, "streams: %u workers, %llu compactions, %llu failures injected in a committed "
            "screen, %llu pipelines run by helpers\n", nw, (unsigned long long)s.major_gcs,
            (unsigned long long)injected, (unsigned long long)s.sparks_converted);
    rt_ctx_free(ctx);
}

/* ---- tracing (rt_trace.c) ------------------------------------------------------ */

typedef struct trace_tally {
    uint64_t n[RT_TRACE__KINDS], ns[RT_TRACE__KINDS];
} trace_tally;

static int span_order(const void *a, const void *b)
{
    const rt_trace_event *x = a, *y = b;
    if (x->start_ns != y->start_ns)
        return x->start_ns < y->start_ns ? -1 : 1;
    return x->end_ns > y->end_ns ? -1 : x->end_ns < y->end_ns;   /* outer first */
}

/* Read worker id's events (in two pieces, so `first` is exercised) and check
 * each: a known kind on the right kind of worker, inside [t_lo, t_hi], instants
 * instant, a steal naming another worker; and that its spans nest properly. */
static void trace_check_worker(rt_ctx *ctx, uint32_t id, uint64_t t_lo, trace_tally *tl)
{
    uint64_t n = rt_trace_count(ctx, id);
    rt_trace_event *ev = malloc((n + 1) * sizeof *ev);
    if (!ev)
        return;
    size_t half = (size_t)(n / 2);
    size_t got = rt_trace_read(ctx, id, 0, ev, half);
    got += rt_trace_read(ctx, id, half, ev + half, (size_t)(n - half));
    uint64_t t_hi = rt_now_ns();
    CHECK(got == n, "worker %u: read %zu of %llu events", id, got, (unsigned long long)n);
    uint32_t nw = rt_ctx_nworkers(ctx);
    size_t nspans = 0;
    for (size_t i = 0; i < got; i++) {
        rt_trace_event e = ev[i];
        int ok_kind = e.kind > 0 && e.kind < RT_TRACE__KINDS;
        CHECK(ok_kind, "worker %u event %zu: kind %u", id, i, e.kind);
        if (!ok_kind)
            continue;
        CHECK(e.start_ns >= t_lo && e.start_ns <= e.end_ns && e.end_ns <= t_hi,
              "worker %u %s: times %llu..%llu outside the run", id, rt_trace_kind_name(e.kind),
              (unsigned long long)(e.start_ns - t_lo), (unsigned long long)(e.end_ns - t_lo));
        int instant = e.kind == RT_TRACE_SPARK_STOLEN || e.kind == RT_TRACE_UNWIND;
        CHECK(!instant || e.start_ns == e.end_ns, "worker %u: an instant with a duration", id);
        if (e.kind == RT_TRACE_SPARK_STOLEN)
            CHECK(e.arg < nw && e.arg != id, "worker %u stole from worker %u", id, e.arg);
        if (e.kind == RT_TRACE_STEP || e.kind == RT_TRACE_GC_MAJOR)
            CHECK(id == 0, "worker %u recorded a %s", id, rt_trace_kind_name(e.kind));
        if (e.kind == RT_TRACE_AWAKE || e.kind == RT_TRACE_GC_STOPPED)
            CHECK(id != 0, "worker 0 recorded a %s", rt_trace_kind_name(e.kind));
        if (e.kind != RT_TRACE_SPARK_RUN || !(e.arg & RT_TRACE_SPARK_RESUMED))
            tl->n[e.kind]++;          /* a run's later stretches are not runs */
        tl->ns[e.kind] += e.end_ns - e.start_ns;
        if (!instant)
            ev[nspans++] = e;
    }
    /* Spans on one worker nest: each lies inside the innermost open span that
     * has not ended before it starts. */
    qsort(ev, nspans, sizeof *ev, span_order);
    rt_trace_event *stack[64];
    int depth = 0, bad = 0;
    for (size_t i = 0; i < nspans; i++) {
        while (depth && stack[depth - 1]->end_ns <= ev[i].start_ns)
            depth--;
        if (depth && ev[i].end_ns > stack[depth - 1]->end_ns)
            bad++;
        if (depth < 64)
            stack[depth++] = &ev[i];
    }
    CHECK(bad == 0, "worker %u: %d spans overlap without nesting", id, bad);
    free(ev);
}

static void test_trace(uint32_t nw, uint64_t scale)
{
    /* On, with a compaction at every slow path of worker 0, so helpers are
     * stopped in the middle of sparks; then churn for local collections. */
    rt_config cfg = {.nworkers = nw, .gc_stress = 1, .root_stack_words = 1 << 20,
                     .helper_stack_bytes = 64 << 20, .trace_events = 1 << 20};
    uint64_t t_lo = rt_now_ns();
    rt_ctx *ctx = rt_ctx_new(&cfg);
    CHECK(ctx != NULL, "rt_ctx_new with tracing");
    if (!ctx)
        return;
    CHECK(rt_trace_enabled(ctx) && rt_trace_capacity(ctx) == 1 << 20 &&
              rt_trace_epoch_ns(ctx) >= t_lo, "tracing on");
    run_psum(ctx, 20000 * (int64_t)scale, 16, "trace psum");
    rt_val arg = rt_cons(rt_ctx_main(ctx), rt_fix(8), rt_fix(200000 * (int64_t)scale));
    rt_val r = RT_NULL;
    int st = rt_step(ctx, rt_test_par_churn_step, arg, &r);
    CHECK(st == RT_STEP_OK, "trace churn status %d", st);
    ctx->cfg.gc_stress = 0;        /* between steps; only worker 0 reads it */
    run_psum(ctx, 20000 * (int64_t)scale, 16, "trace psum");
    rt_gc_major(rt_ctx_main(ctx));      /* between steps: a compaction outside any step */
    trace_tally all = {{0}, {0}};
    uint64_t events = 0, dropped = 0;
    for (uint32_t id = 0; id < nw; id++) {
        trace_tally tl = {{0}, {0}};
        trace_check_worker(ctx, id, t_lo, &tl);
        rt_worker_stats *ws = &rt_ctx_worker(ctx, id)->stats;
        CHECK(tl.n[RT_TRACE_SPARK_STOLEN] == ws->steals, "worker %u: %llu steal events, %llu "
              "steals", id, (unsigned long long)tl.n[RT_TRACE_SPARK_STOLEN],
              (unsigned long long)ws->steals);
        CHECK(tl.n[RT_TRACE_SPARK_RUN] <= ws->sparks_converted &&
                  tl.n[RT_TRACE_SPARK_RUN] + ws->unwinds >= ws->sparks_converted,
              "worker %u: %llu spark runs recorded, %llu converted", id,
              (unsigned long long)tl.n[RT_TRACE_SPARK_RUN],
              (unsigned long long)ws->sparks_converted);
        CHECK(tl.n[RT_TRACE_GC_LOCAL] == ws->local_gcs, "worker %u: %llu local GC events, %llu "
              "collections", id, (unsigned long long)tl.n[RT_TRACE_GC_LOCAL],
              (unsigned long long)ws->local_gcs);
        for (uint32_t k = 0; k < RT_TRACE__KINDS; k++)
            all.n[k] += tl.n[k], all.ns[k] += tl.ns[k];
        events += rt_trace_count(ctx, id);
        dropped += rt_trace_dropped(ctx, id);
    }
    rt_stats s;
    rt_stats_get(ctx, &s);
    CHECK(dropped == 0, "%llu events dropped", (unsigned long long)dropped);
    CHECK(all.n[RT_TRACE_STEP] == s.steps && s.steps == 3, "%llu step events, %llu steps",
          (unsigned long long)all.n[RT_TRACE_STEP], (unsigned long long)s.steps);
    CHECK(all.n[RT_TRACE_GC_MAJOR] == s.major_gcs && s.major_gcs > 1,
          "%llu compaction events, %llu compactions", (unsigned long long)all.n[RT_TRACE_GC_MAJOR],
          (unsigned long long)s.major_gcs);
    CHECK(all.ns[RT_TRACE_STEP] > 0, "steps took no time");
    if (nw > 1)
        CHECK(all.n[RT_TRACE_AWAKE] > 0, "no helper was ever awake");
    rt_ctx_free(ctx);

    /* A full buffer counts what it drops; reading crosses chunks. */
    uint64_t cap = 65536 + 100, emit = 70000;
    rt_config small = {.nworkers = 1, .root_stack_words = 1 << 20, .trace_events = cap};
    ctx = rt_ctx_new(&small);
    CHECK(ctx != NULL, "rt_ctx_new with a small trace");
    if (!ctx)
        return;
    rt_worker *w0 = rt_ctx_main(ctx);
    for (uint64_t i = 0; i < emit; i++)
        rt_trace_emit_nogc(w0, RT_TRACE_SPARK_RUN, i, i + 1, (uint32_t)i);
    CHECK(rt_trace_count(ctx, 0) == cap && rt_trace_dropped(ctx, 0) == emit - cap,
          "full buffer: %llu kept, %llu dropped", (unsigned long long)rt_trace_count(ctx, 0),
          (unsigned long long)rt_trace_dropped(ctx, 0));
    rt_trace_event piece[1000];
    uint64_t seen = 0, wrong = 0;
    size_t k;
    while ((k = rt_trace_read(ctx, 0, seen, piece, 1000)) > 0)
        for (size_t i = 0; i < k; i++, seen++)
            wrong += piece[i].arg != seen || piece[i].start_ns != seen ||
                     piece[i].kind != RT_TRACE_SPARK_RUN;
    CHECK(seen == cap && wrong == 0, "read back %llu events, %llu wrong",
          (unsigned long long)seen, (unsigned long long)wrong);
    CHECK(rt_trace_read(ctx, 1, 0, piece, 1000) == 0 && rt_trace_count(ctx, 7) == 0,
          "no such worker: no events");
    rt_ctx_free(ctx);

    /* Off: nothing recorded. */
    ctx = make_ctx(nw, 0, 0, 0);
    if (!ctx)
        return;
    run_psum(ctx, 20000, 16, "untraced psum");
    CHECK(!rt_trace_enabled(ctx) && rt_trace_count(ctx, 0) == 0 &&
              rt_trace_read(ctx, 0, 0, piece, 1000) == 0, "tracing off records nothing");
    rt_ctx_free(ctx);
    fprintf(out, "trace: %u workers, %llu events (%llu spark runs, %llu steals, %llu local GCs, "
            "%llu compactions, %llu helper stops), busy in spark runs %.1f ms\n", nw,
            (unsigned long long)events, (unsigned long long)all.n[RT_TRACE_SPARK_RUN],
            (unsigned long long)all.n[RT_TRACE_SPARK_STOLEN],
            (unsigned long long)all.n[RT_TRACE_GC_LOCAL], (unsigned long long)all.n[RT_TRACE_GC_MAJOR],
            (unsigned long long)all.n[RT_TRACE_GC_STOPPED], all.ns[RT_TRACE_SPARK_RUN] / 1e6);
}

/* ---- the form evaluator (rt_formeval.c) -----------------------------------------
 * `val` with no eval hook, as in an executable: the REPL's pipeline
 *     scnos: prsos: evlst: prsis: scnis: TEXT
 * over lines whose answers the reference interpreter gave (daisy run --interp
 * examples/repl-pipeline.dsy).  Run plainly, with every allocation of worker 0
 * compacting, as a committed screen step under injected allocation failures (every
 * suspension and closure the evaluator makes must give the same answer however
 * often its code runs again), and as pipelines in sparks run by helpers. */

/* FE_PURE: defines and uses no name (run concurrently); FE_LIGHT: a few dozen
 * allocations at most (run under injected failures, which need a commit every so
 * often). */
enum { FE_PURE = 1, FE_LIGHT = 2 };
typedef struct fe_case { const char *line, *want; int flags; } fe_case;
static const fe_case fe_cases[] = {
    {"(\\x. x):5", "5", FE_PURE | FE_LIGHT},
    {"(\\[a b]. add:[a b]):[1 2 3]", "3", FE_PURE | FE_LIGHT},
    {"(\\[[a b] c ! d]. [d c b a]):[[1 2] 3 4 5]", "[[4 5] 3 2 1]", FE_PURE | FE_LIGHT},
    {"let:[[a b] 5 7]", "7", FE_PURE | FE_LIGHT},
    {"(\\[a]. a):5", "<error: pattern mismatch: head of the number 5>", FE_PURE | FE_LIGHT},
    {"rec:[[ev od] [\\n. if:[zero?:n true od:dcr:n] \\n. if:[zero?:n [] ev:dcr:n]] [ev:10 od:7]]",
     "[true true]", FE_PURE},
    {"let:[xs fix:[xs ! [1 2 ! xs]] let:[[a b c] xs [a b c]]]", "[1 2 1]", FE_PURE | FE_LIGHT},
    {"rec:[x x x]", "<error: cycle: a suspension demands its own value>", FE_PURE | FE_LIGHT},
    {"if:[[] 1 div:[1 0] 2 3]", "<error: division by zero in div>", FE_PURE | FE_LIGHT},
    {"[$inc:1 #[1 [2]] @inc:2 ^f:x ^\\y. [y]]", "[2 [1 [2]] 3 f:x \\y. [y]]", FE_PURE | FE_LIGHT},
    {"[%SpnHd?:[[] 1] %SpnHd?:$[[1] 2] %SpnHd?:[inc:1] %SpnHd?:[$inc:1]]", "[true [] true []]", FE_PURE | FE_LIGHT},
    {"f = \\n. if:[zero?:n 0 f:dcr:n]", NULL, FE_LIGHT},
    {"f", "<function f>", FE_LIGHT},
    {"f:100000", "0", 0},
    {"[f \\x. x map:f]", "[<function f> <function> <function>]", FE_LIGHT},
    {"let:[x]", "<error: val: 'let' takes exactly three elements, got 1>", FE_PURE | FE_LIGHT},
    {"\\[a a]. a", "<error: val: 'a' is bound twice in one pattern>", FE_PURE | FE_LIGHT},
    {"let:[\"a b\" 1 2]", "<error: val: this is not a pattern>", FE_PURE | FE_LIGHT},
    {"let = 1", "<error: val: 'let' is a reserved word and cannot be defined>", FE_PURE | FE_LIGHT},
    {"map:if", "<error: val: 'if' is a special form, not a value>", FE_PURE | FE_LIGHT},
    {"(map:\\x. mpy:[x x]):[1 2 3]", "[1 4 9]", FE_PURE | FE_LIGHT},
    {"sum = \\n. if:[zero?:n 0 add:[n sum:dcr:n]]", NULL, FE_LIGHT},
    {"sum:1000", "500500", 0},
};

/* The program and its answers: the cases with all the flags in mask, then (mask 0
 * and FE_PURE) a 70-binder lambda and rec (frames that keep their binders in a list)
 * and a list 300 deep. */
static void fe_texts(int mask, char **prog, char **want)
{
    char *p = NULL, *a = NULL;
    size_t np = 0, na = 0;
    st_append(&p, &np, "", 0);
    st_append(&a, &na, "", 0);
    for (size_t i = 0; i < sizeof fe_cases / sizeof fe_cases[0]; i++) {
        if ((fe_cases[i].flags & mask) != mask)
            continue;
        st_append(&p, &np, fe_cases[i].line, strlen(fe_cases[i].line));
        st_append(&p, &np, "\n", 1);
        if (fe_cases[i].want) {
            st_append(&a, &na, fe_cases[i].want, strlen(fe_cases[i].want));
            st_append(&a, &na, "\n", 1);
        }
    }
    *prog = p;
    *want = a;
    if (mask & FE_LIGHT)
        return;
    char buf[64];
    const char *parts[] = {"(\\[", "]. [a69 a0]):[", "]\nrec:[[", "] [", " a0] [a68 a69]]\n"};
    for (int part = 0; part < 5; part++) {
        st_append(&p, &np, parts[part], strlen(parts[part]));
        for (int i = 0; part < 4 && i < (part == 3 ? 69 : 70); i++) {
            int k = snprintf(buf, sizeof buf, part == 0 || part == 2 ? "%sa%d" : "%s%d",
                             i ? " " : "", i);
            st_append(&p, &np, buf, (size_t)k);
        }
    }
    st_append(&a, &na, "[69 0]\n[68 0]\n", 14);
    st_append(&p, &np, "#(\\[x]. x):[", 12);
    for (int i = 0; i < 300; i++)
        st_append(&p, &np, "[", 1);
    st_append(&p, &np, "1", 1);
    for (int i = 0; i < 301; i++)
        st_append(&p, &np, "]", 1);
    st_append(&p, &np, "\n", 1);
    for (int i = 0; i < 300; i++)
        st_append(&a, &na, "[", 1);
    st_append(&a, &na, "1", 1);
    for (int i = 0; i < 300; i++)
        st_append(&a, &na, "]", 1);
    st_append(&a, &na, "\n", 1);
    *prog = p;
    *want = a;
}

static char *fe_prog, *fe_want, *fe_pure_prog, *fe_pure_want, *fe_light_prog, *fe_light_want;

static rt_val fe_evlst(rt_worker *w, rt_val forms)
{
    return rt_prim_call(w, (uint32_t)rt_prim_lookup("evlst"), forms);
}

static rt_val fe_pipeline(rt_worker *w, rt_val chars)
{
    return rt_prim_scnos(w, rt_prim_prsos(w, fe_evlst(w, rt_prim_prsis(w, rt_prim_scnis(w, chars)))));
}

static rt_val fe_check_pipeline(rt_worker *w, const char *prog, const char *want)
{
    char *got = st_chars_text(w, fe_pipeline(w, st_chars(w, 0, prog)), SIZE_MAX);
    CHECK(strcmp(got, want) == 0, "evlst without a compiler:\n%s\nwant:\n%s", got, want);
    free(got);
    return RT_UNIT;
}

static rt_val fe_pipeline_step(rt_worker *w, rt_val arg)
{
    (void)arg;
    return fe_check_pipeline(w, fe_prog, fe_want);
}

static rt_val fe_light_step(rt_worker *w, rt_val arg)
{
    (void)arg;
    return fe_check_pipeline(w, fe_light_prog, fe_light_want);
}

/* Forms no prsis makes: the interpreter's syntax_of_form errors. */
static rt_val fe_direct_step(rt_worker *w, rt_val arg)
{
    (void)arg;
    rt_ctx *ctx = pctx = w->ctx;               /* err_text's */
    size_t base = (size_t)(w->sp - w->sp_base);
    rt_val x = rt_atom(ctx, "x", 1);
    rt_val fa[2] = {x, prim_val_of("inc")};
    EXPECT_ERR(rt_formeval(w, rt_form_new(w, RT_FORM_APPLY, 2, fa)), "val: a prim is not a form");
    rt_val fn[2] = {rt_fix(5), x};
    EXPECT_ERR(rt_formeval(w, rt_form_new(w, RT_FORM_FUNCTION, 2, fn)),
               "val: a number is not a pattern");
    rt_push_root(w, rt_form_new(w, RT_FORM_APPLY, 2, fa));
    rt_val fn2[2] = {w->sp[-1], x};
    EXPECT_ERR(rt_formeval(w, rt_form_new(w, RT_FORM_FUNCTION, 2, fn2)), "val: not a pattern");
    rt_push_root(w, rt_cons(w, susp_of(w, rt_fix(1)), RT_NIL));   /* [<unevaluated>] */
    rt_val fa2[2] = {x, w->sp[-1]};
    EXPECT_ERR(rt_formeval(w, rt_form_new(w, RT_FORM_APPLY, 2, fa2)),
               "val: a form still being computed");
    /* the same error first, wherever it is: the whole form is checked before it runs */
    rt_val an[2] = {rt_atom(ctx, "#", 1), rt_atom(ctx, "let", 3)};
    rt_push_root(w, rt_form_new(w, RT_FORM_ANNOTATION, 2, an));
    rt_val fa3[2] = {w->sp[-1], w->sp[-2]};
    EXPECT_ERR(rt_formeval(w, rt_form_new(w, RT_FORM_APPLY, 2, fa3)),
               "val: a form still being computed");
    EXPECT_ERR(rt_formeval(w, w->sp[-1]), "val: 'let' is a special form, not a value");
    /* a closure made here: named by a definition, else anonymous; applied from C */
    rt_val id[2] = {x, x};
    rt_push_root(w, rt_formeval(w, rt_form_new(w, RT_FORM_FUNCTION, 2, id)));
    char *t = st_print_text(w, w->sp[-1], 0);
    CHECK(strcmp(t, "<function>") == 0, "a lambda printed %s", t);
    free(t);
    EXPECT_INT(rt_force(w, rt_apply(w, w->sp[-1], rt_fix(7))), 7);
    rt_val df[2] = {rt_atom(ctx, "ident", 5), rt_form_new(w, RT_FORM_FUNCTION, 2, id)};
    rt_push_root(w, rt_form_new(w, RT_FORM_DEFINE, 2, df));
    rt_val u = rt_formeval(w, w->sp[-1]);
    CHECK(rt_is_unit(ctx, u), "a definition's value is a unit");
    t = st_print_text(w, rt_force(w, rt_toplevel_lookup(w, rt_atom(ctx, "ident", 5))), 0);
    CHECK(strcmp(t, "<function ident>") == 0, "a defined lambda printed %s", t);
    free(t);
    w->sp = w->sp_base + base;
    return RT_UNIT;
}

/* The pipeline in a spark: a hash of its text. */
static rt_val fe_par_code(rt_worker *w, rt_val self)
{
    (void)self;
    rt_val env[2] = {rt_fix(3), rt_fix(0)};          /* st_src[3], set before the sparks */
    rt_val c = rt_susp_new(w, st_chars_code, 2, env);
    char *text = st_chars_text(w, fe_pipeline(w, c), SIZE_MAX);
    int64_t h = st_hash(text, strlen(text));
    free(text);
    return rt_fix(h);
}

static rt_val fe_par_step(rt_worker *w, rt_val arg)
{
    (void)arg;
    par_pipelines_check(w, 16, fe_par_code, 3, fe_pure_prog, fe_pure_want);
    return RT_UNIT;
}

/* The pipeline written by screen as a committed step; returns the failures injected. */
static uint64_t fe_screen_program(rt_ctx *ctx, uint64_t fail_every, const char *what)
{
    rt_worker *w = rt_ctx_main(ctx);
    uint32_t g = rt_global_new(ctx, fe_pipeline(w, st_chars(w, 0, fe_light_prog)));
    st_sink s = st_sink_open();
    rt_set_print_target(ctx, s.o);
    uint64_t before = w->stats.alloc_failures;
    if (fail_every)
        rt_inject_main_failures_every(w, fail_every);
    rt_val r = RT_NULL;
    int st = rt_step(ctx, rt_screen_step, rt_global_get(ctx, g), &r);
    rt_inject_main_failure(w, 0);
    rt_set_print_target(ctx, NULL);
    rt_global_set(ctx, g, RT_NIL);
    char *text = st_sink_close(s);
    CHECK(st == RT_STEP_OK && r == RT_UNIT, "%s: status %d", what, st);
    CHECK(strcmp(text, fe_light_want) == 0, "%s: wrote\n%s", what, text);
    free(text);
    verify_clean(ctx, what);
    return w->stats.alloc_failures - before;
}

/* Tail calls take no C stack: on a 2 MiB step stack 100000-deep tail loops run
 * (through a closure's body, a let body, a rec-bound closure), while recursion as
 * deep that is not a tail call runs out, as the error value. */
#define FE_TAIL_PROG                                                            \
    "g = \\n. if:[zero?:n 0 g:dcr:n]\ng:100000\n"                                  \
    "h = \\n. let:[m dcr:n if:[zero?:n 0 h:m]]\nh:100000\n"                        \
    "rec:[l \\n. if:[zero?:n 0 l:dcr:n] l:100000]\n"
#if defined(__SANITIZE_THREAD__)
/* ThreadSanitizer cannot record stacks over 65,536 frames: no deep recursion */
static const char fe_stack_prog[] = FE_TAIL_PROG;
static const char fe_stack_want[] = "0\n0\n0\n";
#else
static const char fe_stack_prog[] =
    FE_TAIL_PROG "s = \\n. if:[zero?:n 0 add:[n s:dcr:n]]\ns:100000\ns:100\n";
static const char fe_stack_want[] = "0\n0\n0\n<error: stack exhausted>\n5050\n";
#endif

static rt_val fe_stack_step(rt_worker *w, rt_val arg)
{
    (void)arg;
    return fe_check_pipeline(w, fe_stack_prog, fe_stack_want);
}

static void test_formeval(uint32_t nw, uint64_t scale)
{
    (void)scale;
    fe_texts(0, &fe_prog, &fe_want);
    fe_texts(FE_PURE, &fe_pure_prog, &fe_pure_want);
    fe_texts(FE_LIGHT, &fe_light_prog, &fe_light_want);
    rt_ctx *ctx = make_ctx(nw, 0, 0, 0);
    if (ctx) {
        st_run(ctx, fe_pipeline_step, "evlst without a compiler");
        st_run(ctx, fe_pipeline_step, "evlst without a compiler, with the definitions made");
        st_run(ctx, fe_direct_step, "forms no prsis makes");
        st_run(ctx, fe_par_step, "pipelines in sparks");
        fe_screen_program(ctx, 0, "screen step");
        /* (A commit must come within two failures, and reading a line makes two
         * objects a character before anything of its answer is written.) */
        uint64_t injected = 0;
        for (uint64_t every = 311; every > 120; every -= 19) {
            char what[64];
            snprintf(what, sizeof what, "screen step failing every %llu", (unsigned long long)every);
            injected += fe_screen_program(ctx, every, what);
        }
        CHECK(injected > 25, "only %llu failures injected", (unsigned long long)injected);
        rt_stats s;
        rt_stats_get(ctx, &s);
        fprintf(out, "formeval: %u workers, %llu failures injected in a committed screen, "
                "%llu pipelines run by helpers\n", nw, (unsigned long long)injected,
                (unsigned long long)s.sparks_converted);
        rt_ctx_free(ctx);
    }
    rt_config small = {.nworkers = nw, .root_stack_words = 1 << 20, .helper_stack_bytes = 64 << 20,
                       .main_stack_bytes = 2 << 20};
    ctx = rt_ctx_new(&small);
    CHECK(ctx != NULL, "a context with a small step stack");
    if (ctx) {
        st_run(ctx, fe_stack_step, "tail calls on a small stack");
        rt_ctx_free(ctx);
    }
    /* Every allocation of worker 0 compacts: whatever the evaluator holds unrooted moves. */
    ctx = make_ctx(nw, 0, 1, 0);
    if (ctx) {
        rt_inject_main_failure(rt_ctx_main(ctx), UINT64_MAX);
        st_run(ctx, fe_light_step, "evlst without a compiler (compacting)");
        st_run(ctx, fe_direct_step, "forms no prsis makes (compacting)");
        st_run(ctx, fe_par_step, "pipelines in sparks (compacting)");
        rt_inject_main_failure(rt_ctx_main(ctx), 0);
        rt_ctx_free(ctx);
    }
    free(fe_prog);
    free(fe_want);
    free(fe_pure_prog);
    free(fe_pure_want);
    free(fe_light_prog);
    free(fe_light_want);
}

typedef struct { const char *name; void (*fn)(uint32_t, uint64_t); } test_entry;
static const test_entry tests[] = {
    {"values", test_values},     {"local_gc", test_local_gc},   {"major_gc", test_major_gc},
    {"force", test_force},       {"cycle", test_cycle},         {"deque", test_deque},
    {"sparks", test_sparks},     {"inject", test_inject},       {"main_fail", test_main_fail},
    {"exhausted", test_exhausted}, {"interrupt", test_interrupt}, {"churn", test_churn},
    {"barrier", test_barrier},   {"inbox", test_inbox},     {"print", test_print},
    {"deep", test_deep},         {"prims", test_prims},       {"streams", test_streams},
    {"trace", test_trace},       {"selectors", test_selectors},
    {"populate", test_populate}, {"parallel_gc", test_parallel_gc},
    {"tasks", test_tasks},       {"formeval", test_formeval},
    {NULL, NULL},
};

int rt_selftest(const char *name, uint32_t nworkers, uint64_t scale, FILE *f)
{
    out = f ? f : stderr;
    failures = 0;
    if (!scale)
        scale = 1;
    int found = 0;
    for (const test_entry *t = tests; t->name; t++) {
        if (strcmp(name, "all") != 0 && strcmp(name, t->name) != 0)
            continue;
        found = 1;
        int before = failures;
        uint64_t t0 = rt_now_ns();
        t->fn(nworkers, scale);
        fprintf(out, "%s %s (%u workers, %.1f ms)\n", failures == before ? "ok" : "FAILED",
                t->name, nworkers, (rt_now_ns() - t0) / 1e6);
    }
    if (!found) {
        fprintf(out, "no such self-test: %s\n", name);
        return -1;
    }
    fflush(out);
    return failures;
}

/* For ctypes: run with output to a file descriptor path. */
int rt_selftest_to(const char *name, uint32_t nworkers, uint64_t scale, const char *path)
{
    FILE *f = path ? fopen(path, "w") : NULL;
    int r = rt_selftest(name, nworkers, scale, f ? f : stderr);
    if (f)
        fclose(f);
    return r;
}

/* For the Python side (daisy.rt.native.Context.psum): run psum [0, n) as one
 * step on an existing context.  Returns the sum, or -1 if the step failed. */
int64_t rt_test_psum_run(rt_ctx *ctx, int64_t n, int64_t grain)
{
    rt_worker *w = rt_ctx_main(ctx);
    rt_val r = RT_NULL;
    if (rt_step(ctx, rt_test_force_step, psum_susp(w, 0, n, grain), &r) != RT_STEP_OK ||
        !rt_is_fix(r))
        return -1;
    return rt_fix_value(r);
}

/* rt_stats_print into a file (ctypes has no FILE *). */
int rt_stats_print_path(rt_ctx *ctx, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    rt_stats_print(ctx, f);
    fclose(f);
    return 0;
}

/* ---- printing from a description (tests/test_rt_print.py) ----------------------------
 * A value described in a small prefix code is built inside a step and printed:
 *   I int64 | F double | A len bytes (atom) | E len bytes (error) | N | U |
 *   C head tail | S value (a suspension of it) | P kind n field... | K len name (closure) */

static char fake_code[256];
static int nfake;

static rt_val build_desc(rt_worker *w, const uint8_t **p, const uint8_t *end)
{
    if (*p >= end)
        return RT_NIL;
    uint8_t op = *(*p)++;
    switch (op) {
    case 'I': { int64_t i; memcpy(&i, *p, 8); *p += 8; return rt_int(w, i); }
    case 'F': { double d; memcpy(&d, *p, 8); *p += 8; return rt_float(w, d); }
    case 'A': case 'E': case 'K': {
        uint32_t n; memcpy(&n, *p, 4); *p += 4;
        const char *s = (const char *)*p; *p += n;
        if (op == 'A') return rt_atom(w->ctx, s, n);
        if (op == 'K') {
            void *code = &fake_code[nfake++ % 256];
            rt_code_name_set(w->ctx, code, rt_atom(w->ctx, s, n));
            return rt_closure_new(w, (rt_closure_code)code, 1, 0, NULL);
        }
        char *m = malloc(n + 1); memcpy(m, s, n); m[n] = 0;
        rt_val e = rt_error_new(w, m); free(m); return e;
    }
    case 'N': return RT_NIL;
    case 'U': return RT_UNIT;
    case 'C': {
        /* a spine of cells iteratively (long lists), heads recursively */
        rt_val *mark = w->sp;
        rt_push_root(w, build_desc(w, p, end));
        while (*p < end && **p == 'C') {
            (*p)++;
            rt_push_root(w, build_desc(w, p, end));
        }
        rt_val t = build_desc(w, p, end);
        while (w->sp > mark) {
            rt_val h = rt_pop_root(w);
            t = rt_cons(w, h, t);
        }
        return t;
    }
    case 'S': {
        rt_val env[1] = {build_desc(w, p, end)};
        return rt_susp_new(w, const_code, 1, env);
    }
    case 'P': {
        uint8_t kind = *(*p)++, n = *(*p)++;
        rt_val *mark = w->sp;
        for (uint8_t i = 0; i < n; i++)
            rt_push_root(w, build_desc(w, p, end));
        rt_val f = rt_form_new(w, kind, n, mark);
        w->sp = mark;
        return f;
    }
    }
    return RT_NIL;
}

static const uint8_t *desc_ptr;
static size_t desc_len;
static rt_out *desc_out;

static rt_val print_desc_step(rt_worker *w, rt_val arg)
{
    (void)arg;
    const uint8_t *p = desc_ptr;
    rt_val v = build_desc(w, &p, desc_ptr + desc_len);
    rt_print(w, v, desc_out, 1);
    return RT_NIL;
}

/* Build the described value and print it to fd as `daisy run` prints a
 * top-level value: its printed form, then a newline (none for a unit). */
int rt_test_print_desc(rt_ctx *ctx, const uint8_t *desc, size_t len, int fd)
{
    rt_out *o = malloc(sizeof *o);
    if (!o)
        return -1;
    rt_out_init(o, fd);
    desc_ptr = desc;
    desc_len = len;
    desc_out = o;
    rt_val r;
    int st = rt_step(ctx, print_desc_step, RT_NIL, &r);
    if (o->prev_kind != RT_PK_NONE)
        rt_print_newline(o);
    rt_out_flush(o);
    int err = o->error;
    free(o);
    return st != RT_STEP_OK ? -2 : err ? -3 : 0;
}
