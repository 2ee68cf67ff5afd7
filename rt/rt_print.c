/* rt_print.c -- printed forms (LANGUAGE.md section 7) and buffered output.
 *
 * Design.  Printing forces: a lazy list prints as far as it has been demanded,
 * element by element, so an infinite list prints progressively.  The printer
 * therefore evaluates, and every value it still has to print lives on the
 * worker's root stack, never in a C local across a force (Note [Roots]); the
 * same stack makes arbitrarily deep or long values print without recursion.
 * Markers on that stack (what to print after a list head, a closing bracket)
 * are constant words (tag RT_TAG_CONST) that no Daisy value uses.
 *
 * Spelling follows interp/printer.py exactly, which the tests check: spacing
 * classes open `[ (`, close `] )`, prefix `\ ^ @ $ #`, colon, dot, bang, eq,
 * word; a space separates a word or close from a following word, open or
 * prefix, follows every dot, and surrounds every bang and eq.  Numbers print
 * as C's %lld and %e (inf, -inf, nan), atoms bare when they are identifiers and
 * otherwise quoted with backquote escapes.
 *
 * Output is buffered: written when 64 KiB are pending, at every write on a
 * terminal, on demand, and by the context's flusher thread once output has
 * waited 50 ms, whatever the program is doing (Note [Prompt output]).
 */
#define _GNU_SOURCE
#include "rt_internal.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
int rt_is_unit(rt_ctx *ctx, rt_val v);   /* rt_streams.c: a unit token */

/* ---- output -------------------------------------------------------------------- */

/* ------------------------------------------------------------------------
 * Note [Prompt output]
 *
 * Output to a pipe or a file is buffered, since a write(2) per token would
 * cost more than the printing; yet output appears as it is produced
 * (LANGUAGE.md section 4): a printed line or a partial list such as `[1 2`
 * reaches a pipe within 50 ms whatever the program does next (docs/language.md
 * section 5).  The writer alone cannot promise that: after `[1 2` the printer
 * may force an element that never returns (a compiled loop that never writes,
 * allocates or polls), so a check made at each write never runs again.  So a
 * context has a flusher thread, started the first time an out that is not a
 * terminal becomes its print target (rt_set_print_target):
 *
 *   - While an out is the print target (o->fl set), its buffer (n, buf,
 *     first_pending_ns) is under the flusher's mutex: the writer takes it once
 *     per token, the flusher only to flush.  Uncontended, it costs less than
 *     the clock read at each write that it replaced.
 *   - When the buffer goes from empty to pending, the writer notes the time and
 *     wakes the flusher if it sleeps without a deadline.  The flusher sleeps
 *     until 50 ms after that time and writes what is still pending then.  The
 *     writer still writes by itself when 64 KiB are pending; a terminal gets
 *     every write at once and needs no flusher.
 *   - In the steps that commit (rt_print_step, rt_screen_step) only committed
 *     text is ever in the buffer: the text of a token goes in just before the
 *     commit, with nothing in between that can unwind (Note [Committed
 *     progress]).  So which thread writes the buffer out changes nothing about
 *     retries: a retried step never writes text twice.
 *   - A failed write (EPIPE) is recorded in o->error, an atomic, whichever
 *     thread made it; the printer reads it between tokens and stops forcing.
 *   - The flusher blocks every signal, so SIGINT and SIGPIPE reach the workers
 *     as before.  It never touches the heap or takes part in steps.  When a
 *     step ends interrupted, the caller flushes (rt_run_toplevel) or discards
 *     (rt_screen_run_fd) what is pending, under the lock.
 *
 * An out that is not a print target (the streams' fallback, a self-test's), or
 * any out when the thread cannot be started, keeps the older rule: flushed
 * when output has waited 50 ms, checked at each write.
 * ------------------------------------------------------------------------ */
struct rt_flusher {
    pthread_mutex_t lock;
    pthread_cond_t cv;           /* on CLOCK_MONOTONIC, as rt_now_ns */
    pthread_t thread;
    rt_out *target;              /* the out it watches, or NULL */
    int stop;
    int sleeping;                /* waiting with no deadline: a writer must signal */
};

void rt_out_init(rt_out *o, int fd)
{
    memset(o, 0, sizeof *o);
    o->fd = fd;
    o->is_tty = isatty(fd);
    o->flush_after_ns = 50000000u;
    o->prev_kind = RT_PK_NONE;
}

/* The buffer's owner: the flusher's lock while it watches o.  o->fl changes only
 * in rt_set_print_target, on the thread that prints. */
static struct rt_flusher *out_lock(rt_out *o)
{
    struct rt_flusher *fl = o->fl;
    if (fl)
        pthread_mutex_lock(&fl->lock);
    return fl;
}

static void out_unlock(struct rt_flusher *fl)
{
    if (fl)
        pthread_mutex_unlock(&fl->lock);
}

static int flush_locked(rt_out *o)
{
    size_t done = 0;
    while (done < o->n && !o->error) {
        ssize_t k = write(o->fd, o->buf + done, o->n - done);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            o->error = errno;
            break;
        }
        done += (size_t)k;
    }
    o->n = 0;
    return o->error ? -1 : 0;
}

int rt_out_flush(rt_out *o)
{
    struct rt_flusher *fl = out_lock(o);
    int r = flush_locked(o);
    out_unlock(fl);
    return r;
}

void rt_out_discard(rt_out *o)
{
    struct rt_flusher *fl = out_lock(o);
    o->n = 0;
    out_unlock(fl);
}

/* Append to the buffer, the lock held if o is watched. */
static void put_locked(rt_out *o, const char *s, size_t n)
{
    if (o->error || n == 0)
        return;
    if (o->n == 0) {
        o->first_pending_ns = rt_now_ns();
        if (o->fl && o->fl->sleeping)
            pthread_cond_signal(&o->fl->cv);
    }
    while (n) {
        size_t room = sizeof o->buf - o->n;
        size_t k = n < room ? n : room;
        memcpy(o->buf + o->n, s, k);
        o->n += k;
        s += k;
        n -= k;
        if (o->n == sizeof o->buf && flush_locked(o) != 0)
            return;
        if (o->n == 0 && n)
            o->first_pending_ns = rt_now_ns();
    }
    if (o->is_tty || (!o->fl && rt_now_ns() - o->first_pending_ns >= o->flush_after_ns))
        flush_locked(o);
}

void rt_out_write(rt_out *o, const char *s, size_t n)
{
    struct rt_flusher *fl = out_lock(o);
    put_locked(o, s, n);
    out_unlock(fl);
}

static void *flusher_main(void *arg)
{
    struct rt_flusher *fl = arg;
    pthread_mutex_lock(&fl->lock);
    while (!fl->stop) {
        rt_out *o = fl->target;
        if (!o || o->n == 0 || o->error) {
            fl->sleeping = 1;
            pthread_cond_wait(&fl->cv, &fl->lock);
            fl->sleeping = 0;
            continue;
        }
        uint64_t due = o->first_pending_ns + o->flush_after_ns;
        if (rt_now_ns() >= due) {
            flush_locked(o);
            continue;
        }
        struct timespec ts = {(time_t)(due / 1000000000u), (long)(due % 1000000000u)};
        pthread_cond_timedwait(&fl->cv, &fl->lock, &ts);
    }
    pthread_mutex_unlock(&fl->lock);
    return NULL;
}

/* ctx's flusher, started on first use; NULL if no thread can be started. */
static struct rt_flusher *flusher_get(rt_ctx *ctx)
{
    if (ctx->flusher)
        return ctx->flusher;
    struct rt_flusher *fl = calloc(1, sizeof *fl);
    if (!fl)
        return NULL;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&fl->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&fl->lock, NULL);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, (size_t)256 << 10);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);     /* the thread starts with all blocked */
    int rc = pthread_create(&fl->thread, &attr, flusher_main, fl);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    if (rc != 0) {          /* no room for a thread (ulimit): flush at writes only */
        pthread_cond_destroy(&fl->cv);
        pthread_mutex_destroy(&fl->lock);
        free(fl);
        return NULL;
    }
    return ctx->flusher = fl;
}

void rt_flusher_free(rt_ctx *ctx)
{
    struct rt_flusher *fl = ctx->flusher;
    if (!fl)
        return;
    pthread_mutex_lock(&fl->lock);
    fl->stop = 1;
    if (fl->target)
        fl->target->fl = NULL;
    fl->target = NULL;
    pthread_cond_signal(&fl->cv);
    pthread_mutex_unlock(&fl->lock);
    pthread_join(fl->thread, NULL);
    pthread_cond_destroy(&fl->cv);
    pthread_mutex_destroy(&fl->lock);
    free(fl);
    ctx->flusher = NULL;
}

void rt_set_print_target(rt_ctx *ctx, rt_out *out)
{
    rt_out *old = ctx->print_out;
    ctx->print_out = out;
    if (old == out)
        return;
    struct rt_flusher *fl = ctx->flusher;
    if (old && old->fl) {                   /* no longer watched */
        pthread_mutex_lock(&fl->lock);
        old->fl = NULL;
        fl->target = NULL;
        pthread_mutex_unlock(&fl->lock);
    }
    if (out && !out->is_tty && (fl = flusher_get(ctx))) {
        pthread_mutex_lock(&fl->lock);
        out->fl = fl;
        fl->target = out;
        pthread_cond_signal(&fl->cv);       /* it may hold text already */
        pthread_mutex_unlock(&fl->lock);
    }
}

/* ---- spelling -------------------------------------------------------------------- */

int rt_print_needs_space(int prev, int kind)
{
    if (prev == RT_PK_NONE || prev == RT_PK_NEWLINE || kind == RT_PK_NEWLINE)
        return 0;
    if (prev == RT_PK_BANG || prev == RT_PK_EQ || prev == RT_PK_DOT || kind == RT_PK_BANG ||
        kind == RT_PK_EQ)
        return 1;
    return (prev == RT_PK_WORD || prev == RT_PK_CLOSE) &&
           (kind == RT_PK_WORD || kind == RT_PK_OPEN || kind == RT_PK_PREFIX);
}

/* One token, its space before it included, under one lock (Note [Prompt output]). */
static void token(rt_out *o, int kind, const char *text, size_t n)
{
    struct rt_flusher *fl = out_lock(o);
    if (rt_print_needs_space(o->prev_kind, kind))
        put_locked(o, " ", 1);
    put_locked(o, text, n);
    o->prev_kind = kind;
    out_unlock(fl);
}

void rt_print_newline(rt_out *o)
{
    token(o, RT_PK_NEWLINE, "\n", 1);
}

int rt_atom_is_ident(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    unsigned char c = (unsigned char)s[0];
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '%'))
        return 0;
    for (size_t i = 1; i < n; i++) {
        c = (unsigned char)s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              strchr("?-_*+/<>'", c)) || c == 0)
            return 0;
    }
    return 1;
}

static void print_atom(rt_ctx *ctx, rt_out *o, rt_val a)
{
    size_t n = 0;
    const char *s = rt_atom_name(ctx, a, &n);
    if (!s) {
        token(o, RT_PK_WORD, "<atom?>", 7);
        return;
    }
    if (rt_atom_is_ident(s, n)) {
        token(o, RT_PK_WORD, s, n);
        return;
    }
    /* quoted, with backquote escapes: `` `" `n `t */
    struct rt_flusher *fl = out_lock(o);
    if (rt_print_needs_space(o->prev_kind, RT_PK_WORD))
        put_locked(o, " ", 1);
    put_locked(o, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        switch (s[i]) {
        case '`': put_locked(o, "``", 2); break;
        case '"': put_locked(o, "`\"", 2); break;
        case '\n': put_locked(o, "`n", 2); break;
        case '\t': put_locked(o, "`t", 2); break;
        default: put_locked(o, s + i, 1);
        }
    }
    put_locked(o, "\"", 1);
    o->prev_kind = RT_PK_WORD;
    out_unlock(fl);
}

void rt_format_float(double d, char *buf, size_t n)
{
    if (isnan(d))
        snprintf(buf, n, "nan");
    else if (isinf(d))
        snprintf(buf, n, d > 0 ? "inf" : "-inf");
    else
        snprintf(buf, n, "%e", d);
}

/* ---- names of functions -------------------------------------------------------------
 * Generated code registers each function's code address with its name; a
 * closure or primitive prints as <function NAME>. */

void rt_code_name_set(rt_ctx *ctx, const void *code, rt_val name_atom)
{
    pthread_mutex_lock(&ctx->atom_lock);
    RT_GROW(ctx->code_names, ctx->ncode_names, ctx->code_names_cap, 64, "code names");
    ctx->code_names[ctx->ncode_names++] = (rt_code_name){code, name_atom};
    pthread_mutex_unlock(&ctx->atom_lock);
}

static rt_val code_name(rt_ctx *ctx, const void *code)
{
    rt_val r = RT_NULL;
    pthread_mutex_lock(&ctx->atom_lock);
    for (size_t i = ctx->ncode_names; i-- > 0;)
        if (ctx->code_names[i].code == code) {
            r = ctx->code_names[i].name;
            break;
        }
    pthread_mutex_unlock(&ctx->atom_lock);
    return r;
}

static size_t function_text(rt_ctx *ctx, rt_val name, char *buf, size_t cap)
{
    size_t n = 0;
    const char *s = name ? rt_atom_name(ctx, name, &n) : NULL;
    int k = s ? snprintf(buf, cap, "<function %.*s>", (int)(n > 200 ? 200 : n), s)
              : snprintf(buf, cap, "<function>");
    return k < 0 ? 0 : (size_t)k < cap ? (size_t)k : cap - 1;
}

static void print_function(rt_ctx *ctx, rt_out *o, rt_val name)
{
    char buf[256];
    size_t k = function_text(ctx, name, buf, sizeof buf);
    token(o, RT_PK_WORD, buf, k);
}

/* A closure's name: its code's, or for a closure the form evaluator made (one
 * code for all) the name it carries (rt_formeval.c). */
static rt_val closure_name(rt_ctx *ctx, rt_val f)
{
    rt_val name;
    if (rt_formeval_closure_name(f, &name))
        return name;
    return code_name(ctx, (const void *)(uintptr_t)rt_obj_of(f)->field[RT_CLOSURE_CODE]);
}

size_t rt_print_function_text(rt_ctx *ctx, rt_val f, char *buf, size_t cap)
{
    rt_val name = rt_is_prim(f) ? code_name(ctx, (const void *)(uintptr_t)f) : closure_name(ctx, f);
    return function_text(ctx, name, buf, cap);
}

/* ---- the printer ----------------------------------------------------------------------- */

/* Stack markers: constant words no value uses (Note [Value tags]): the low
 * byte RT_MARKER_TAG is kept for the runtime's own markers. */
#define MARK(k) ((rt_val)(((uint64_t)(k) << 8) | RT_MARKER_TAG))
#define MARK_KIND(v) ((v) >> 8)
enum { M_REST = 64, M_RBRACK, M_LPAREN, M_RPAREN, M_COLON, M_DOT, M_EQ, M_BACKSLASH,
       M_AT, M_DOLLAR, M_HASH, M_CARET, M_NEWLINE };
static int is_marker(rt_val v)
{
    return (v & 0xff) == RT_MARKER_TAG && MARK_KIND(v) >= M_REST;
}

static int is_form(rt_val v) { return rt_is_type(v, RT_T_FORM); }

static void emit_marker(rt_out *o, rt_val m)
{
    switch (MARK_KIND(m)) {
    case M_RBRACK: token(o, RT_PK_CLOSE, "]", 1); break;
    case M_LPAREN: token(o, RT_PK_OPEN, "(", 1); break;
    case M_RPAREN: token(o, RT_PK_CLOSE, ")", 1); break;
    case M_COLON: token(o, RT_PK_COLON, ":", 1); break;
    case M_DOT: token(o, RT_PK_DOT, ".", 1); break;
    case M_EQ: token(o, RT_PK_EQ, "=", 1); break;
    case M_BACKSLASH: token(o, RT_PK_PREFIX, "\\", 1); break;
    case M_AT: token(o, RT_PK_PREFIX, "@", 1); break;
    case M_DOLLAR: token(o, RT_PK_PREFIX, "$", 1); break;
    case M_HASH: token(o, RT_PK_PREFIX, "#", 1); break;
    case M_CARET: token(o, RT_PK_PREFIX, "^", 1); break;
    case M_NEWLINE: token(o, RT_PK_NEWLINE, "\n", 1); break;
    }
}

static rt_val prefix_marker(rt_ctx *ctx, rt_val op)
{
    size_t n = 0;
    const char *s = rt_atom_name(ctx, op, &n);
    if (s && n == 1)
        switch (s[0]) {
        case '@': return MARK(M_AT);
        case '$': return MARK(M_DOLLAR);
        case '#': return MARK(M_HASH);
        case '^': return MARK(M_CARET);
        }
    return MARK(M_CARET);
}

/* The printer's loop over the work on the root stack above base_off.  Each
 * item is forced where it lies, then popped and printed, so that after a
 * commit (Note [Committed progress]) the stack is exactly the work left. */
void rt_print_loop(rt_worker *w, rt_out *o, size_t base_off, int top, int commit)
{
    rt_ctx *ctx = w->ctx;
    char buf[64];
    while ((size_t)(w->sp - w->sp_base) > base_off) {
        if (o->error)
            break;                          /* the reader went away: stop forcing */
        rt_val x = w->sp[-1];
        if (is_marker(x)) {
            if (MARK_KIND(x) == M_REST) {
                /* the cell below: continue with its tail */
                rt_val tail = rt_force(w, rt_obj_of(w->sp[-2])->field[1]);
                w->sp -= 2;
                if (tail == RT_NIL) {
                    token(o, RT_PK_CLOSE, "]", 1);
                } else if (rt_is_type(tail, RT_T_CONS)) {
                    rt_push_root(w, tail);
                    rt_push_root(w, MARK(M_REST));
                    rt_push_root(w, rt_obj_of(tail)->field[0]);
                } else {
                    token(o, RT_PK_BANG, "!", 1);
                    rt_push_root(w, MARK(M_RBRACK));
                    rt_push_root(w, tail);
                }
            } else {
                w->sp--;
                emit_marker(o, x);
            }
            if (commit)
                rt_step_commit(w);
            continue;
        }
        x = rt_force(w, x);
        w->sp--;
        /* The value at the bottom (above a final newline) is the top value. */
        size_t off = (size_t)(w->sp - w->sp_base);
        int was_top = top && (off == base_off ||
                              (off == base_off + 1 && w->sp[-1] == MARK(M_NEWLINE)));
        if (rt_is_fix(x)) {
            int k = snprintf(buf, sizeof buf, "%lld", (long long)rt_fix_value(x));
            token(o, RT_PK_WORD, buf, (size_t)k);
        } else if (rt_is_atom(x)) {
            print_atom(ctx, o, x);
        } else if (x == RT_NIL) {
            token(o, RT_PK_OPEN, "[", 1);
            token(o, RT_PK_CLOSE, "]", 1);
        } else if (x == RT_UNIT || (was_top && rt_is_unit(ctx, x))) {
            if (!was_top)
                token(o, RT_PK_WORD, "<screen>", 8);
            else if (w->sp - w->sp_base > (ptrdiff_t)base_off && w->sp[-1] == MARK(M_NEWLINE))
                w->sp--;                /* a top-level unit prints no line at all */
        } else if ((x & 0xff) == RT_TOKEN_TAG) {   /* a token value: its text */
            size_t n = 0;
            int kind = RT_PK_WORD;
            const char *t = rt_token_text(ctx, x, &n, &kind, NULL);
            if (t)
                token(o, kind, t, n);
            else
                token(o, RT_PK_WORD, "<token?>", 8);
        } else if (rt_is_prim(x)) {
            print_function(ctx, o, code_name(ctx, (const void *)(uintptr_t)x));
        } else if (rt_is_ptr(x)) {
            rt_obj *ob = rt_obj_of(x);
            switch (rt_hdr_type(ob->header)) {
            case RT_T_CONS:
                token(o, RT_PK_OPEN, "[", 1);
                rt_push_root(w, x);
                rt_push_root(w, MARK(M_REST));
                rt_push_root(w, ob->field[0]);
                break;
            case RT_T_BOXINT: {
                int64_t i;
                memcpy(&i, &ob->field[0], 8);
                int k = snprintf(buf, sizeof buf, "%lld", (long long)i);
                token(o, RT_PK_WORD, buf, (size_t)k);
                break;
            }
            case RT_T_FLOAT: {
                double d;
                memcpy(&d, &ob->field[0], 8);
                rt_format_float(d, buf, sizeof buf);
                token(o, RT_PK_WORD, buf, strlen(buf));
                break;
            }
            case RT_T_ERROR: {
                size_t n = 0;
                const char *m = rt_atom_name(ctx, ob->field[0], &n);
                struct rt_flusher *fl = out_lock(o);
                if (rt_print_needs_space(o->prev_kind, RT_PK_WORD))
                    put_locked(o, " ", 1);
                put_locked(o, "<error: ", 8);
                put_locked(o, m ? m : "?", m ? n : 1);
                put_locked(o, ">", 1);
                o->prev_kind = RT_PK_WORD;
                out_unlock(fl);
                break;
            }
            case RT_T_CLOSURE:
                print_function(ctx, o, closure_name(ctx, x));
                break;
            case RT_T_FORM:
                switch (rt_hdr_aux(ob->header)) {
                case RT_FORM_APPLY:          /* [fn arg] -> fn:arg, (fn):arg */
                    rt_push_root(w, ob->field[1]);
                    rt_push_root(w, MARK(M_COLON));
                    if (is_form(ob->field[0])) {
                        rt_push_root(w, MARK(M_RPAREN));
                        rt_push_root(w, rt_obj_of(x)->field[0]);
                        rt_push_root(w, MARK(M_LPAREN));
                    } else {
                        rt_push_root(w, rt_obj_of(x)->field[0]);
                    }
                    break;
                case RT_FORM_FUNCTION:       /* [param body] -> \param.body */
                    rt_push_root(w, ob->field[1]);
                    rt_push_root(w, MARK(M_DOT));
                    rt_push_root(w, rt_obj_of(x)->field[0]);
                    rt_push_root(w, MARK(M_BACKSLASH));
                    break;
                case RT_FORM_ANNOTATION:     /* [op form] -> @form */
                    rt_push_root(w, ob->field[1]);
                    rt_push_root(w, prefix_marker(ctx, rt_obj_of(x)->field[0]));
                    break;
                case RT_FORM_DEFINE:         /* [name form] -> name = form */
                    rt_push_root(w, ob->field[1]);
                    rt_push_root(w, MARK(M_EQ));
                    rt_push_root(w, rt_obj_of(x)->field[0]);
                    break;
                default:
                    token(o, RT_PK_WORD, "<form>", 6);
                }
                break;
            default:
                token(o, RT_PK_WORD, "<object>", 8);
            }
        } else {
            token(o, RT_PK_WORD, "<value>", 7);
        }
        if (commit)
            rt_step_commit(w);
    }
}

void rt_print(rt_worker *w, rt_val v, rt_out *o, int top)
{
    size_t base_off = (size_t)(w->sp - w->sp_base);
    rt_push_root(w, v);
    rt_print_loop(w, o, base_off, top, 0);
    w->sp = w->sp_base + base_off;
}

rt_val rt_print_step(rt_worker *w, rt_val arg)
{
    rt_out *o = w->ctx->print_out;
    if (!o)
        rt_fatal("rt_print_step without a print target");
    if (!rt_step_resuming(w)) {
        rt_push_root(w, MARK(M_NEWLINE));
        rt_push_root(w, arg);
        rt_step_commit(w);
    }
    rt_print_loop(w, o, w->step_base, 1, 1);
    return RT_UNIT;
}

