/* rt_trace.c -- a timeline of what each worker did: steps, sparks, collections.
 *
 * Design.  `daisy run --trace out.json` shows, one lane per worker, when each
 * worker was evaluating, which sparks it ran and stole, and when it was paused
 * for a collection: the questions the statistics summary cannot answer ("was
 * worker 1 idle while worker 0 sorted?", "which pause was the long one?").
 * The runtime only records; the Python side (jit/trace.py) reads the events
 * out with rt_trace_read and writes the Chrome Trace Event file.
 *
 * Recording must not change what it measures, so it follows the runtime's
 * rule for per-worker state: no locks, no thread-local storage, the worker
 * passed explicitly.  Each worker appends to a buffer only it writes (Note
 * [Trace buffers]).  An event is a complete record written once, when the
 * thing it describes ends: (kind, start, end, argument).  So a span never needs
 * a matching "end" later, and a span cut short by unwinding (Note [Resumable
 * allocation failure]) is simply not recorded; the unwind itself is, as an
 * instant.  Spans on one worker nest properly, because the hooks are nested
 * the way the C code is: a step contains the sparks worker 0 runs while it
 * waits, a spark contains the local collections it triggers.
 *
 * Off (rt_config.trace_events == 0, the default), every hook is a test of
 * w->trace, which is NULL: one predictable branch and no clock read.  On, a
 * span costs two clock reads and a 24-byte store: about 100 ns on the 2-core
 * development machine, where clock_gettime takes about 50 ns.
 * Hooks sit where things happen: rt_step (rt_ctx.c); running, stealing and
 * waiting for a compaction, and the helpers' scheduler loop (rt_spark.c); a
 * helper waiting for the compaction it asked for (rt_heap.c); the two
 * collectors (rt_gc.c).
 */
#define _GNU_SOURCE
#include "rt_internal.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------
 * Note [Trace buffers]
 *
 * Each worker owns one buffer, w->trace, made with the worker before any
 * helper thread starts and freed with it after the helpers are joined: the
 * pointer never changes while threads run, so testing it needs no atomics.
 *
 *   - One writer.  Only the owning worker's thread appends.  An event is
 *     written in full and then published by a release store of `count`; a
 *     reader loads `count` with acquire and reads only [0, count).  Published
 *     events never change, so any thread may read at any time without a lock
 *     (the Python side reads after the run, while helpers may still be
 *     recording that they went to sleep).
 *   - Bounded memory.  Storage grows in chunks of RT_TRACE_CHUNK events
 *     (1.5 MiB), allocated by the owner when it needs the next one, up to the
 *     capacity the context was given.  The chunk table is allocated up front,
 *     so each chunk pointer is written once, before the count that makes it
 *     readable.  When the buffer is full (or a chunk cannot be allocated) the
 *     event is counted in `dropped` instead: recording never blocks and never
 *     grows without bound, and the trace says how much is missing.  A full
 *     buffer keeps the beginning of the run, not the end.
 * ------------------------------------------------------------------------ */
#define RT_TRACE_CHUNK_SHIFT 16
#define RT_TRACE_CHUNK ((uint64_t)1 << RT_TRACE_CHUNK_SHIFT)

typedef struct rt_trace_buf rt_trace_buf;
struct rt_trace_buf {
    rt_trace_event **chunks;       /* nchunks entries; chunk k holds events k*CHUNK.. */
    uint64_t nchunks, capacity;
    _Atomic uint64_t count;        /* published events: [0, count) */
    _Atomic uint64_t dropped;      /* events not recorded: the buffer was full */
};

static_assert((RT_TRACE_CHUNK & (RT_TRACE_CHUNK - 1)) == 0, "chunks are a power of two");
static_assert(offsetof(rt_trace_event, kind) == 16 && offsetof(rt_trace_event, arg) == 20,
              "event layout read by rt/native.py as <QQII");
static_assert(RT_TRACE__KINDS <= 32, "kinds fit the self-test's tally");

/* The names the trace file shows (jit/trace.py uses the same: tests check). */
static const char *const kind_names[RT_TRACE__KINDS] = {
    [RT_TRACE_STEP] = "step",
    [RT_TRACE_AWAKE] = "awake",
    [RT_TRACE_SPARK_RUN] = "spark",
    [RT_TRACE_SPARK_STOLEN] = "steal",
    [RT_TRACE_GC_LOCAL] = "local GC",
    [RT_TRACE_GC_MAJOR] = "compaction",
    [RT_TRACE_GC_STOPPED] = "stopped for compaction",
    [RT_TRACE_UNWIND] = "unwind",
    [RT_TRACE_GC_HELP] = "compaction (helping)",
};

const char *rt_trace_kind_name(uint32_t kind)
{
    return kind < RT_TRACE__KINDS ? kind_names[kind] : NULL;
}

int rt_trace_worker_init(rt_worker *w, uint64_t capacity)
{
    if (!capacity)
        return 0;
    rt_trace_buf *b = calloc(1, sizeof *b);
    if (!b)
        return -1;
    b->capacity = capacity;
    b->nchunks = (capacity + RT_TRACE_CHUNK - 1) >> RT_TRACE_CHUNK_SHIFT;
    b->chunks = calloc(b->nchunks, sizeof *b->chunks);
    if (!b->chunks) {
        free(b);
        return -1;
    }
    atomic_init(&b->count, 0);
    atomic_init(&b->dropped, 0);
    w->trace = b;
    return 0;
}

void rt_trace_worker_fini(rt_worker *w)
{
    rt_trace_buf *b = w->trace;
    if (!b)
        return;
    for (uint64_t k = 0; k < b->nchunks; k++)
        free(b->chunks[k]);
    free(b->chunks);
    free(b);
    w->trace = NULL;
}

/* The owner only.  Never allocates in the Daisy heap, never reaches a
 * safepoint: callable from inside the collectors. */
void rt_trace_emit_nogc(rt_worker *w, uint32_t kind, uint64_t start_ns, uint64_t end_ns,
                        uint32_t arg)
{
    rt_trace_buf *b = w->trace;
    uint64_t n = atomic_load_explicit(&b->count, memory_order_relaxed);
    uint64_t k = n >> RT_TRACE_CHUNK_SHIFT;
    if (n >= b->capacity || (!b->chunks[k] &&
                             !(b->chunks[k] = malloc(RT_TRACE_CHUNK * sizeof(rt_trace_event))))) {
        atomic_store_explicit(&b->dropped,
                              atomic_load_explicit(&b->dropped, memory_order_relaxed) + 1,
                              memory_order_relaxed);
        return;
    }
    b->chunks[k][n & (RT_TRACE_CHUNK - 1)] = (rt_trace_event){start_ns, end_ns, kind, arg};
    atomic_store_explicit(&b->count, n + 1, memory_order_release);
}

/* ---- reading ------------------------------------------------------------------ */

static rt_trace_buf *buf_of(rt_ctx *ctx, uint32_t id)
{
    return id < ctx->nworkers ? ctx->workers[id]->trace : NULL;
}

int rt_trace_enabled(rt_ctx *ctx) { return ctx->workers[0]->trace != NULL; }
uint64_t rt_trace_epoch_ns(rt_ctx *ctx) { return ctx->trace_epoch_ns; }
uint64_t rt_trace_capacity(rt_ctx *ctx) { return ctx->cfg.trace_events; }

uint64_t rt_trace_count(rt_ctx *ctx, uint32_t id)
{
    rt_trace_buf *b = buf_of(ctx, id);
    return b ? atomic_load_explicit(&b->count, memory_order_acquire) : 0;
}

uint64_t rt_trace_dropped(rt_ctx *ctx, uint32_t id)
{
    rt_trace_buf *b = buf_of(ctx, id);
    return b ? atomic_load_explicit(&b->dropped, memory_order_relaxed) : 0;
}

size_t rt_trace_read(rt_ctx *ctx, uint32_t id, uint64_t first, rt_trace_event *out, size_t max)
{
    rt_trace_buf *b = buf_of(ctx, id);
    if (!b)
        return 0;
    uint64_t n = atomic_load_explicit(&b->count, memory_order_acquire);
    size_t done = 0;
    while (first < n && done < max) {
        uint64_t k = first >> RT_TRACE_CHUNK_SHIFT, off = first & (RT_TRACE_CHUNK - 1);
        uint64_t run = RT_TRACE_CHUNK - off;
        if (run > n - first)
            run = n - first;
        if (run > max - done)
            run = max - done;
        memcpy(out + done, b->chunks[k] + off, run * sizeof *out);
        done += run;
        first += run;
    }
    return done;
}
