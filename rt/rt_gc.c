/* rt_gc.c -- the two collectors and the heap checker.
 *
 * Local collection (rt_gc_local_*): a worker's own mark-sweep of its own
 * regions, concurrent with everyone else.  It moves nothing and writes no
 * header; marks live in a side bitmap per region and the sweep reads only the
 * bitmap and the headers of live objects, so its cost is the live data plus
 * 32 KiB of bitmap per region.  Why this is safe: Note [Local collection].
 *
 * Compaction (rt_gc_major_*): worker 0 stops the helpers at safepoints (Note
 * [Safepoints]) and copies everything reachable into fresh old-space regions,
 * Cheney style, shortcutting evaluated suspensions; then filters the spark
 * deques, which are weak roots (Note [Compaction], Note [Roots]).
 */
#define _GNU_SOURCE
#include "rt_internal.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>

/* ==== local collection ===================================================== */

static void mark_push(rt_worker *w, size_t *n, rt_val v)
{
    RT_GROW(w->mark_stack, *n, w->mark_cap, 4096, "mark stack");
    w->mark_stack[(*n)++] = v;
}

static inline void mark_val(rt_worker *w, size_t *n, rt_val v)
{
    if (!rt_is_ptr(v))
        return;
    rt_ctx *ctx = w->ctx;
    rt_obj *o = rt_obj_of(v);
    uint32_t r = rt_heap_region_of(ctx, o);
    if (atomic_load_explicit(&ctx->owner[r], memory_order_relaxed) != w->id)
        return;
    size_t idx = (size_t)((uint8_t *)o - rt_heap_region_base(ctx, r)) >> 3;
    uint64_t *bits = ctx->markbits[r];
    uint64_t bit = (uint64_t)1 << (idx & 63);
    if (bits[idx >> 6] & bit)
        return;
    bits[idx >> 6] |= bit;
    mark_push(w, n, v);
}

static void trace_local(rt_worker *w, size_t *n, rt_obj *o)
{
    uint64_t h = o->header;
    uint32_t size = rt_hdr_size(h);
    if (rt_hdr_type(h) == RT_T_SUSP) {
        uint64_t st = atomic_load_explicit((_Atomic uint64_t *)&o->field[RT_SUSP_STATE],
                                           memory_order_acquire);
        if (st == RT_SUSP_EVALUATED) {
            rt_val v = atomic_load_explicit((_Atomic rt_val *)&o->field[RT_SUSP_VALUE],
                                            memory_order_relaxed);
            mark_val(w, n, v);
            /* Note [Values made elsewhere]: a value outside this worker's regions
             * may point back into them, through objects this marker does not
             * follow; the environment that value was computed from keeps those
             * objects reachable through our own regions, as (L) requires. */
            if (!rt_is_ptr(v) || rt_heap_owner_of(w->ctx, v) == w->id)
                return;
        }
        for (uint32_t i = RT_SUSP_ENV; i < size; i++)
            mark_val(w, n, o->field[i]);
        return;
    }
    for (uint32_t i = rt_hdr_nraw(h); i < size; i++)
        mark_val(w, n, o->field[i]);
}

static void add_extent(rt_worker *w, uint8_t *start, uint8_t *end)
{
    RT_GROW(w->free_extents, w->nfree, w->free_cap, 256, "free extents");
    w->free_extents[w->nfree++] = (rt_extent){start, end};
}

/* Sweep one region by its bitmap: the gaps between marked objects are free.
 * Returns the bytes in gaps big enough to allocate into (RT_MIN_EXTENT_BYTES);
 * smaller gaps stay unused until the region is promoted and compacted. */
static uint64_t sweep_region(rt_worker *w, uint32_t r)
{
    rt_ctx *ctx = w->ctx;
    uint8_t *base = rt_heap_region_base(ctx, r);
    uint64_t *bits = ctx->markbits[r];
    size_t pos = 0;
    uint64_t freed = 0;
    for (size_t wi = 0; wi < RT_REGION_WORDS / 64; wi++) {
        uint64_t b = bits[wi];
        while (b) {
            size_t idx = wi * 64 + (size_t)__builtin_ctzll(b);
            b &= b - 1;
            if (idx > pos) {
                size_t bytes = (idx - pos) * 8;
                if (bytes >= RT_MIN_EXTENT_BYTES) {
                    freed += bytes;
                    add_extent(w, base + pos * 8, base + idx * 8);
                }
            }
            rt_obj *o = (rt_obj *)(base + idx * 8);
            pos = idx + 1 + rt_hdr_size(o->header);
        }
    }
    if (pos < RT_REGION_WORDS) {
        size_t bytes = (RT_REGION_WORDS - pos) * 8;
        if (bytes >= RT_MIN_EXTENT_BYTES) {
            freed += bytes;
            add_extent(w, base + pos * 8, base + RT_REGION_BYTES);
        }
    }
    return freed;
}

typedef struct local_marker { rt_worker *w; size_t n; } local_marker;

static void mark_root(void *arg, rt_val *slot)
{
    local_marker *lm = arg;
    mark_val(lm->w, &lm->n, *slot);
}

uint64_t rt_gc_local(rt_worker *w)
{
    rt_ctx *ctx = w->ctx;
    uint64_t t0 = rt_now_ns();
    rt_heap_retire_extent(w);
    w->hp = w->limit = w->extent_start = NULL;
    for (size_t i = 0; i < w->nregions; i++) {
        uint32_t r = w->regions[i];
        if (!ctx->markbits[r]) {
            ctx->markbits[r] = malloc(RT_REGION_WORDS / 8);
            if (!ctx->markbits[r])
                rt_fatal("out of process memory (mark bitmap)");
        }
        memset(ctx->markbits[r], 0, RT_REGION_WORDS / 8);
    }
    rt_spark_thieves_exclude(w);
    local_marker lm = {w, 0};
    rt_task_each_root(w, mark_root, &lm);          /* every task's: Note [Tasks] */
    size_t n = lm.n;
    for (size_t i = 0; i < w->nremset; i++)
        mark_val(w, &n, w->remset[i]);
    if (w->current_spark)
        mark_val(w, &n, rt_val_of(w->current_spark));
    {
        rt_spark_deque *d = w->deque;
        int64_t t = atomic_load_explicit(&d->top, memory_order_acquire);
        int64_t b = atomic_load_explicit(&d->bottom, memory_order_relaxed);
        for (int64_t i = t; i < b; i++)
            mark_val(w, &n, rt_val_of(atomic_load_explicit(&d->buf[i & d->mask],
                                                           memory_order_relaxed)));
    }
    if (w->id == 0)
        for (size_t i = 0; i < ctx->nglobals; i++)
            mark_val(w, &n, ctx->globals[i]);
    while (n)
        trace_local(w, &n, rt_obj_of(w->mark_stack[--n]));
    rt_spark_thieves_readmit(w);

    w->nfree = w->free_next = 0;
    uint64_t freed = 0;
    for (size_t i = 0; i < w->nregions; i++)
        freed += sweep_region(w, w->regions[i]);

    uint64_t dt = rt_now_ns() - t0;
    w->stats.local_gcs++;
    w->stats.local_pause_ns += dt;
    if (dt > w->stats.local_pause_max_ns)
        w->stats.local_pause_max_ns = dt;
    w->stats.local_reclaimed_bytes += freed;
    if (w->pause_log && w->pause_log_n < w->pause_log_cap)
        w->pause_log[w->pause_log_n++] = dt;
    if (rt_trace_on(w))
        rt_trace_emit_nogc(w, RT_TRACE_GC_LOCAL, t0, t0 + dt, (uint32_t)(freed >> 10));
    return freed;
}

/* Promotion: all local regions become old space, in place. */
void rt_gc_local_promote(rt_worker *w)
{
    rt_ctx *ctx = w->ctx;
    rt_heap_retire_extent(w);
    for (size_t i = 0; i < w->nregions; i++)
        atomic_store_explicit(&ctx->owner[w->regions[i]], RT_OWNER_OLD, memory_order_relaxed);
    w->nregions = 0;
    w->nfree = w->free_next = 0;
    w->nremset = 0;
    w->hp = w->limit = w->extent_start = NULL;
    w->stats.promotions++;
}

/* ==== compaction ============================================================ */

/* Note [Parallel compaction]
 *
 * Compaction copies every live object, Cheney style, into fresh to-space
 * regions.  It stops the world, so the helpers would otherwise sit idle through
 * it: worker 0 lets them join.  After copying the roots, worker 0 opens the
 * team and wakes the helpers waiting at safepoints (rt_spark_enter_busy,
 * helper_wait_for_major); each that joins becomes a member with a copier of its
 * own, until the work runs out.  Parked helpers stay parked.
 *
 *   - Copying.  A member copies into its own current to-space region (bump
 *     allocation, no lock), then installs the forwarding address in the
 *     from-space header with a CAS.  Two members may copy the same object at
 *     once; the loser takes the winner's address and gives its copy back (it
 *     was the last thing it allocated).  The copy is complete before the CAS
 *     publishes it (release; readers acquire), and the header word itself is
 *     never copied by memcpy, only the fields, so no byte a CAS may change is
 *     read without an atomic.
 *   - Scanning.  Copied objects are scanned once, by one member: either in the
 *     member's own region, behind its scan pointer, or in a span (a run of
 *     whole copied objects) taken from the team's list.  A member exports half
 *     of its unscanned window as a span when another member is idle, and the
 *     unscanned rest of a region it has filled, so one member's long list does
 *     not leave the others waiting.  Scanning writes only the fields of
 *     objects it owns; the selector shortcut (Note [Selector suspensions])
 *     reads fields another member may be writing, so those accesses are atomic.
 *   - Ending.  A member with nothing of its own waits on the team; when every
 *     member waits and no span is left, the copy is complete.  Worker 0 closes
 *     the team, waits for the helpers to leave, and does the rest alone (spark
 *     filtering, regions, thresholds).
 *
 * With one worker there is no team and no CAS: the same code runs with plain
 * stores.  A context's to-space may end with one partly filled region per
 * member.
 */

typedef struct copier {
    rt_ctx *ctx;
    rt_gc_team *team;
    int shared;              /* members may race: CAS the forwarding address */
    uint32_t region;         /* current to-space region, RT_NO_REGION before the first */
    uint8_t *hp, *limit;     /* its allocation pointer and end */
    uint8_t *scan;           /* the first object in it not scanned yet */
    uint64_t selectors;      /* references to selectors replaced by their fields */
} copier;

#define RT_EXPORT_MIN_BYTES 256

static size_t obj_bytes(const rt_obj *o) { return 8 * (1 + (size_t)rt_hdr_size(o->header)); }

static uint64_t load_header(rt_obj *o)
{
    return __atomic_load_n(&o->header, __ATOMIC_ACQUIRE);
}

static void team_push(rt_gc_team *t, uint8_t *start, uint8_t *end)
{
    pthread_mutex_lock(&t->lock);
    RT_GROW(t->spans, t->nspans, t->spans_cap, 64, "compaction spans");
    t->spans[t->nspans++] = (rt_gc_span){start, end};
    if (atomic_load_explicit(&t->idle, memory_order_relaxed))
        pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->lock);
}

/* A span to scan, or 0 when the copy is complete. */
static int team_take(rt_gc_team *t, rt_gc_span *out)
{
    pthread_mutex_lock(&t->lock);
    for (;;) {
        if (t->nspans) {
            *out = t->spans[--t->nspans];
            pthread_mutex_unlock(&t->lock);
            return 1;
        }
        if (atomic_load(&t->done))
            break;
        uint32_t idle = atomic_fetch_add(&t->idle, 1) + 1;
        if (idle == t->members) {
            atomic_store(&t->done, 1);
            pthread_cond_broadcast(&t->cv);
            break;
        }
        pthread_cond_wait(&t->cv, &t->lock);
        atomic_fetch_sub(&t->idle, 1);
    }
    pthread_mutex_unlock(&t->lock);
    return 0;
}

/* The copier's current region: record how far it is filled. */
static void copier_finish(copier *cp)
{
    if (cp->region != RT_NO_REGION)
        cp->ctx->region_fill[cp->region] =
            (uint32_t)((cp->hp - rt_heap_region_base(cp->ctx, cp->region)) >> 3);
}

static void copier_new_region(copier *cp)
{
    rt_ctx *ctx = cp->ctx;
    copier_finish(cp);
    if (cp->region != RT_NO_REGION && cp->scan < cp->hp)
        team_push(cp->team, cp->scan, cp->hp);      /* the region's unscanned rest is anyone's */
    uint32_t r = rt_heap_region_take(ctx, RT_OWNER_TOSPACE, 1);
    if (r == RT_NO_REGION)
        rt_fatal("address space reservation exhausted during compaction");
    rt_gc_team *t = cp->team;
    pthread_mutex_lock(&t->lock);
    RT_GROW(t->regions, t->nregions, t->regions_cap, 64, "compaction");
    t->regions[t->nregions++] = r;
    pthread_mutex_unlock(&t->lock);
    cp->region = r;
    cp->hp = cp->scan = rt_heap_region_base(ctx, r);
    cp->limit = cp->hp + RT_REGION_BYTES;
}

/* ---- selectors: Note [Selector suspensions] ---- */

#define RT_SELECTOR_DEPTH 16

static int is_selector_nogc(const rt_obj *o, uint64_t h)
{
    return rt_hdr_type(h) == RT_T_SUSP && rt_hdr_size(h) == 5 &&
           o->field[RT_SUSP_STATE] == RT_SUSP_UNEVALUATED &&
           o->field[RT_SUSP_CODE] == (rt_val)(uintptr_t)rt_select_code;
}

/* The object as it stands now, its to-space copy once it has been copied, and that
 * object's header (read once: another member may forward o meanwhile). */
static rt_obj *current_nogc(rt_obj *o, uint64_t *header)
{
    uint64_t h = load_header(o);
    if (!(h & 1)) {
        o = (rt_obj *)(uintptr_t)h;
        h = o->header;                  /* a copy's header never changes */
    }
    *header = h;
    return o;
}

/* A field of an object another member may be scanning. */
static rt_val field_nogc(rt_obj *o, uint32_t i)
{
    return __atomic_load_n(&o->field[i], __ATOMIC_ACQUIRE);
}

static rt_val selected_nogc(rt_obj *sel, int depth);

/* v's weak head normal form if compaction can know it without running code, else
 * RT_NULL.  v and the result may point into from-space or to-space. */
static rt_val whnf_nogc(rt_val v, int depth)
{
    for (int hops = 0; hops < 1000; hops++) {
        if (!rt_is_ptr(v))
            return v;
        uint64_t h;
        rt_obj *o = current_nogc(rt_obj_of(v), &h);
        if (rt_hdr_type(h) != RT_T_SUSP)
            return v;
        if (o->field[RT_SUSP_STATE] == RT_SUSP_EVALUATED)
            v = field_nogc(o, RT_SUSP_VALUE);
        else if (depth < RT_SELECTOR_DEPTH && is_selector_nogc(o, h))
            v = selected_nogc(o, ++depth);
        else
            return RT_NULL;
        if (v == RT_NULL)
            return RT_NULL;
    }
    return RT_NULL;
}

/* What the unevaluated selector sel would return, or RT_NULL when its source is
 * not known to be a cons. */
static rt_val selected_nogc(rt_obj *sel, int depth)
{
    rt_val src = whnf_nogc(field_nogc(sel, RT_SUSP_ENV), depth);
    if (!rt_is_ptr(src))
        return RT_NULL;
    uint64_t h;
    rt_obj *c = current_nogc(rt_obj_of(src), &h);
    if (rt_hdr_type(h) != RT_T_CONS)
        return RT_NULL;
    return field_nogc(c, rt_fix_value(sel->field[RT_SUSP_ENV + 1]) ? 1 : 0);
}

static rt_val evacuate(copier *cp, rt_val v)
{
    for (int hops = 0;; hops++) {
        if (!rt_is_ptr(v))
            return v;
        if (rt_heap_owner_of(cp->ctx, v) == RT_OWNER_TOSPACE)
            return v;                             /* a selected field already copied */
        rt_obj *o = rt_obj_of(v);
        uint64_t h = load_header(o);
        if (!(h & 1))
            return (rt_val)h;                     /* already copied */
        if (rt_hdr_type(h) == RT_T_SUSP && o->field[RT_SUSP_STATE] == RT_SUSP_EVALUATED &&
            hops < 1000) {
            v = o->field[RT_SUSP_VALUE];          /* shortcut the indirection */
            continue;
        }
        if (hops < 1000 && is_selector_nogc(o, h)) {
            rt_val f = selected_nogc(o, 0);
            if (f != RT_NULL) {
                cp->selectors++;
                v = f;                            /* replace the selector by its field */
                continue;
            }
        }
        size_t bytes = 8 * (1 + (size_t)rt_hdr_size(h));
        if ((size_t)(cp->limit - cp->hp) < bytes)
            copier_new_region(cp);
        rt_obj *d = (rt_obj *)cp->hp;
        cp->hp += bytes;
        d->header = h;
        memcpy(d->field, o->field, bytes - 8);
        if (!cp->shared) {
            o->header = (uint64_t)(uintptr_t)d;
            return rt_val_of(d);
        }
        uint64_t want = h;
        if (__atomic_compare_exchange_n(&o->header, &want, (uint64_t)(uintptr_t)d, 0,
                                        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            return rt_val_of(d);
        cp->hp -= bytes;                          /* another member copied it first */
        return (rt_val)want;
    }
}

static void scan_copied(copier *cp, rt_obj *o)
{
    uint64_t h = o->header;
    uint32_t size = rt_hdr_size(h);
    uint32_t from = rt_hdr_type(h) == RT_T_SUSP ? RT_SUSP_ENV : rt_hdr_nraw(h);
    for (uint32_t i = from; i < size; i++)
        __atomic_store_n(&o->field[i], evacuate(cp, o->field[i]), __ATOMIC_RELEASE);
}

/* Give the older half of the unscanned window [scan, hp) to the team. */
static void export_half(copier *cp)
{
    uint8_t *mid = cp->scan + (cp->hp - cp->scan) / 2, *p = cp->scan;
    while (p < mid)
        p += obj_bytes((rt_obj *)p);
    if (p >= cp->hp)
        return;                                   /* one object: nothing to split */
    team_push(cp->team, cp->scan, p);
    cp->scan = p;
}

/* A member's work: its own window first, then spans, until the copy is complete. */
static void team_work(copier *cp)
{
    rt_gc_team *t = cp->team;
    for (;;) {
        if (cp->scan < cp->hp) {
            if (cp->shared && atomic_load_explicit(&t->idle, memory_order_relaxed) &&
                cp->hp - cp->scan >= RT_EXPORT_MIN_BYTES)
                export_half(cp);
            rt_obj *o = (rt_obj *)cp->scan;
            cp->scan += obj_bytes(o);
            scan_copied(cp, o);
            continue;
        }
        rt_gc_span s;
        if (!team_take(t, &s))
            return;
        for (uint8_t *p = s.start; p < s.end;) {
            rt_obj *o = (rt_obj *)p;
            p += obj_bytes(o);
            scan_copied(cp, o);
        }
    }
}

void rt_gc_team_init(rt_gc_team *t)
{
    memset(t, 0, sizeof *t);
    pthread_mutex_init(&t->lock, NULL);
    pthread_cond_init(&t->cv, NULL);
}

void rt_gc_team_fini(rt_gc_team *t)
{
    pthread_mutex_destroy(&t->lock);
    pthread_cond_destroy(&t->cv);
    free(t->spans);
    free(t->regions);
}

int rt_gc_team_open(rt_ctx *ctx)
{
    return atomic_load(&ctx->gc_team.open) && !atomic_load(&ctx->gc_team.done);
}

void rt_gc_assist_locked(rt_worker *w)
{
    rt_ctx *ctx = w->ctx;
    rt_gc_team *t = &ctx->gc_team;
    pthread_mutex_unlock(&ctx->gc_lock);
    pthread_mutex_lock(&t->lock);
    int join = rt_gc_team_open(ctx);
    if (join) {
        t->members++;
        atomic_fetch_add(&t->inside, 1);
    }
    pthread_mutex_unlock(&t->lock);
    if (join) {
        uint64_t t0 = rt_trace_clock(w);
        copier cp = {.ctx = ctx, .team = t, .shared = 1, .region = RT_NO_REGION};
        team_work(&cp);
        copier_finish(&cp);
        pthread_mutex_lock(&t->lock);
        t->selectors += cp.selectors;
        t->joins++;
        pthread_mutex_unlock(&t->lock);
        rt_trace_span_nogc(w, RT_TRACE_GC_HELP, t0, 0);
        atomic_fetch_sub(&t->inside, 1);
    }
    pthread_mutex_lock(&ctx->gc_lock);
}

static void filter_sparks(rt_ctx *ctx, rt_worker *w)
{
    rt_spark_deque *d = w->deque;
    int64_t t = atomic_load(&d->top), b = atomic_load(&d->bottom);
    if (b <= t) {
        atomic_store(&d->top, 0);
        atomic_store(&d->bottom, 0);
        return;
    }
    size_t n = (size_t)(b - t), k = 0;
    rt_obj **tmp = malloc(n * sizeof *tmp);
    if (!tmp)
        rt_fatal("out of process memory (spark filter)");
    for (int64_t i = t; i < b; i++) {
        rt_obj *o = atomic_load_explicit(&d->buf[i & d->mask], memory_order_relaxed);
        uint64_t h = o->header;
        if (!(h & 1))
            tmp[k++] = (rt_obj *)(uintptr_t)h;
        else if (o->field[RT_SUSP_STATE] == RT_SUSP_EVALUATED)
            ctx->sparks_fizzled_gc++;
        else
            ctx->sparks_gcd++;
    }
    for (size_t i = 0; i < k; i++)
        atomic_store_explicit(&d->buf[i], tmp[i], memory_order_relaxed);
    free(tmp);
    atomic_store(&d->top, 0);
    atomic_store(&d->bottom, (int64_t)k);
}

static void evacuate_root(void *arg, rt_val *slot) { *slot = evacuate(arg, *slot); }
static rt_val evacuate_value(void *arg, rt_val v) { return evacuate(arg, v); }

void rt_gc_major(rt_worker *w0)
{
    rt_ctx *ctx = w0->ctx;
    if (w0->id != 0)
        rt_fatal("compaction requested by worker %u; only worker 0 compacts", w0->id);
    uint64_t t0 = rt_now_ns();
    rt_stop_helpers(ctx);

    rt_gc_team *t = &ctx->gc_team;
    t->nspans = t->nregions = 0;
    t->members = 1;
    t->selectors = t->joins = 0;
    atomic_store(&t->idle, 0);
    atomic_store(&t->done, 0);
    copier cp = {.ctx = ctx, .team = t, .shared = ctx->nworkers > 1, .region = RT_NO_REGION};
    copier_new_region(&cp);
    for (size_t i = 0; i < ctx->nglobals; i++)
        ctx->globals[i] = evacuate(&cp, ctx->globals[i]);
    for (uint32_t id = 0; id < ctx->nworkers; id++) {
        rt_worker *w = ctx->workers[id];
        rt_heap_retire_extent(w);
        rt_task_each_root(w, evacuate_root, &cp);      /* every task's: Note [Tasks] */
        rt_task_relocated(w, evacuate_value, &cp);
        if (w->current_spark) {
            rt_val c = evacuate(&cp, rt_val_of(w->current_spark));
            w->current_spark = rt_is_type(c, RT_T_SUSP) ? rt_obj_of(c) : NULL;
        }
    }
    /* The roots are copied: the stopped helpers may join the scan. */
    if (cp.shared) {
        atomic_store(&t->open, 1);
        pthread_mutex_lock(&ctx->gc_lock);
        pthread_cond_broadcast(&ctx->gc_cv);
        pthread_mutex_unlock(&ctx->gc_lock);
    }
    team_work(&cp);
    copier_finish(&cp);
    pthread_mutex_lock(&t->lock);
    atomic_store(&t->open, 0);
    pthread_mutex_unlock(&t->lock);
    while (atomic_load(&t->inside) > 0)
        cpu_relax();
    for (uint32_t id = 0; id < ctx->nworkers; id++)
        filter_sparks(ctx, ctx->workers[id]);

    /* From-space back to the pool; to-space becomes old space. */
    uint64_t live = 0;
    pthread_mutex_lock(&ctx->heap_lock);
    for (uint32_t r = 0; r < ctx->next_fresh; r++) {
        uint16_t o = atomic_load_explicit(&ctx->owner[r], memory_order_relaxed);
        if (o != RT_OWNER_FREE && o != RT_OWNER_TOSPACE)
            rt_heap_region_release_unlocked(ctx, r);
    }
    for (size_t i = 0; i < t->nregions; i++) {
        atomic_store_explicit(&ctx->owner[t->regions[i]], RT_OWNER_OLD, memory_order_relaxed);
        live += 8 * (uint64_t)ctx->region_fill[t->regions[i]];
    }
    pthread_mutex_unlock(&ctx->heap_lock);

    for (uint32_t id = 0; id < ctx->nworkers; id++) {
        rt_worker *w = ctx->workers[id];
        w->hp = w->limit = w->extent_start = NULL;
        w->nregions = 0;
        w->nfree = w->free_next = 0;
        w->nremset = 0;
        w->ninbox = 0;
    }
    uint64_t budget = ctx->cfg.local_budget / RT_REGION_BYTES;
    uint64_t thr = RT_MAJOR_FACTOR * (uint64_t)t->nregions + 2 * ctx->nworkers * (budget ? budget : 1);
    ctx->major_threshold_regions = thr < 8 ? 8 : thr;
    ctx->live_bytes_after_major = live;
    ctx->selectors_resolved += cp.selectors + t->selectors;
    ctx->major_joins += t->joins;

    uint64_t dt = rt_now_ns() - t0;
    ctx->major_gcs++;
    ctx->major_pause_ns += dt;
    if (dt > ctx->major_pause_max_ns)
        ctx->major_pause_max_ns = dt;
    if (rt_trace_on(w0))
        rt_trace_emit_nogc(w0, RT_TRACE_GC_MAJOR, t0, t0 + dt,
                           live >> 10 > UINT32_MAX ? UINT32_MAX : (uint32_t)(live >> 10));
    atomic_store(&ctx->gc_request, 0);
    pthread_mutex_lock(&ctx->gc_lock);
    atomic_fetch_add(&ctx->gc_count, 1);
    atomic_store(&ctx->gc_pending, 0);
    pthread_cond_broadcast(&ctx->gc_cv);
    pthread_mutex_unlock(&ctx->gc_lock);
}

/* ==== the heap checker (tests) ============================================= */

typedef struct ptrset { uintptr_t *slots; size_t cap, n; } ptrset;

static int ptrset_add(ptrset *s, uintptr_t p)
{
    if (2 * (s->n + 1) > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        uintptr_t *n = calloc(cap, sizeof *n);
        if (!n)
            rt_fatal("out of process memory (heap check)");
        for (size_t i = 0; i < s->cap; i++)
            if (s->slots[i]) {
                size_t j = (s->slots[i] >> 3) * 0x9E3779B97F4A7C15ull & (cap - 1);
                while (n[j]) j = (j + 1) & (cap - 1);
                n[j] = s->slots[i];
            }
        free(s->slots);
        s->slots = n;
        s->cap = cap;
    }
    size_t j = (p >> 3) * 0x9E3779B97F4A7C15ull & (s->cap - 1);
    while (s->slots[j]) {
        if (s->slots[j] == p)
            return 0;
        j = (j + 1) & (s->cap - 1);
    }
    s->slots[j] = p;
    s->n++;
    return 1;
}

static void check_push(rt_ctx *ctx, ptrset *seen, rt_val **stack, size_t *n, size_t *cap,
                       rt_val v, rt_heap_check *out)
{
    if (!rt_is_ptr(v))
        return;
    if (!rt_heap_contains(ctx, rt_obj_of(v)) || rt_heap_owner_of(ctx, v) == RT_OWNER_FREE) {
        out->bad++;
        return;
    }
    if (!ptrset_add(seen, (uintptr_t)v))
        return;
    RT_GROW(*stack, *n, *cap, 1024, "heap check");
    (*stack)[(*n)++] = v;
}

typedef struct check_roots {
    rt_ctx *ctx;
    ptrset *seen;
    rt_val **stack;
    size_t *n, *cap;
    rt_heap_check *out;
} check_roots;

static void check_root(void *arg, rt_val *slot)
{
    check_roots *c = arg;
    check_push(c->ctx, c->seen, c->stack, c->n, c->cap, *slot, c->out);
}

void rt_heap_verify(rt_ctx *ctx, rt_heap_check *out)
{
    memset(out, 0, sizeof *out);
    ptrset seen = {0};
    rt_val *stack = NULL;
    size_t n = 0, cap = 0;
#define PUSH(v) check_push(ctx, &seen, &stack, &n, &cap, (v), out)
    for (size_t i = 0; i < ctx->nglobals; i++)
        PUSH(ctx->globals[i]);
    for (uint32_t id = 0; id < ctx->nworkers; id++) {
        rt_worker *w = ctx->workers[id];
        check_roots cr = {ctx, &seen, &stack, &n, &cap, out};
        rt_task_each_root(w, check_root, &cr);
        rt_spark_deque *d = w->deque;
        for (int64_t i = atomic_load(&d->top); i < atomic_load(&d->bottom); i++) {
            out->sparks++;
            PUSH(rt_val_of(atomic_load(&d->buf[i & d->mask])));
        }
    }
    while (n) {
        rt_obj *o = rt_obj_of(stack[--n]);
        uint64_t h = o->header;
        out->objects++;
        if (!(h & 1) || rt_hdr_type(h) >= RT_T__COUNT || rt_hdr_type(h) == RT_T_FREE ||
            rt_hdr_size(h) == 0 || rt_hdr_size(h) > RT_REGION_WORDS) {
            out->bad++;
            continue;
        }
        uint32_t size = rt_hdr_size(h);
        if (rt_hdr_type(h) == RT_T_SUSP) {
            uint64_t st = atomic_load((_Atomic uint64_t *)&o->field[RT_SUSP_STATE]);
            if (st == RT_SUSP_EVALUATED) {
                PUSH(o->field[RT_SUSP_VALUE]);
                continue;
            }
            if (st != RT_SUSP_UNEVALUATED)
                out->claimed++;
            for (uint32_t i = RT_SUSP_ENV; i < size; i++)
                PUSH(o->field[i]);
            continue;
        }
        for (uint32_t i = rt_hdr_nraw(h); i < size; i++)
            PUSH(o->field[i]);
    }
#undef PUSH
    free(stack);
    free(seen.slots);
}
