/* rt_streams.c -- the devices and stream stages (LANGUAGE.md section 6), natively.
 *
 * The reference is interp/streams.py; this file produces the same cells, tokens,
 * forms, characters and error texts.  The REPL is the stream program
 *     screen: scnos: prsos: evlst: prsis: scnis: console: "&"
 * and every stage is lazy both ways: a cell is made when it is demanded, from only
 * as much input as it needs.
 *
 * Design.  A stage is a chain of suspensions: each produces some cells and, as their
 * tail, the suspension for the rest.  Everything a stage remembers from one cell to
 * the next is in that suspension's environment, as values: the rest of the input
 * stream, a line number, the printer's pending work as a heap list, spacing kinds as
 * fixnums.  Nothing is mutable, so a cell's code can simply run again, which is what
 * happens after an allocation failure or an abandoned step (Note [Resumable allocation
 * failure]: the suspension returns to unevaluated with its environment untouched).
 * While a cell's code runs, the heap values it holds are in slots of the root stack,
 * re-read after every force and allocation (Note [Roots]); C locals hold only
 * immediates (atoms, tokens, fixnums, which never move) and non-heap state.
 *
 * Two kinds of state are not values:
 *   - Input lines.  Reading a line is an effect, which must happen once however often
 *     the code that needs it runs.  A source (console:P or stdin) is a C struct in
 *     the context's table, named by its index in the suspension's environment.  The
 *     suspension for line k of a source reads line k only if the source has read k
 *     lines so far, and stores the line in the source BEFORE it allocates anything;
 *     run again (after a failed allocation), it finds nread == k + 1 and builds its
 *     cells from the stored line.  Only one line per source is kept: line k + 1 can
 *     be read only by the suspension that line k's cells end in, which exists only
 *     once line k's suspension has its value.  Lines of fd 0 are buffered once per
 *     context, so console and stdin streams share one input.
 *   - Scratch text.  Lexing a line, spelling a token and formatting an error need C
 *     buffers.  Each task has one scratch area (buffers that grow and are kept),
 *     used only between two points where its Daisy code may run: filled, then
 *     consumed by allocation, a safepoint where the worker may switch to another
 *     task, which has a scratch of its own (Note [Scratch per task]), so no other
 *     use of the same scratch can come in between.  A buffer that must live
 *     across forcing (nested stages could use the scratch) is never needed: text is
 *     re-read from the heap instead (scnis walks the line's evaluated cells twice).
 *     So an unwind never leaks memory, and nothing is malloc'd per cell.
 *
 * Tokens (daisy_rt.h, RT_TOKEN_TAG) are immediate words indexing a per-context table
 * that is never collected; tokens without a value are interned by (text, kind), so
 * eq? works on them as in the interpreter; string-literal tokens are not interned
 * (the interpreter's Token with a value is a fresh object), so a program that scans
 * or prints many strings grows the table.
 *
 * The stages:
 *   console/stdin  one suspension per line; the line's characters (one-character
 *                  atoms, UTF-8 code points) are made at once when it is read.
 *   screen         forces and writes; rt_screen_step is the same as a step that
 *                  commits after each write, for a top level that must not repeat
 *                  output when a step is retried (Note [Committed progress]).
 *   scnis          a line at a time: collect the characters up to the newline atom,
 *                  lex them (a C lexer for frontend/grammar.lark's terminals, with
 *                  frontend/parse.py's messages), make all the line's token cells.
 *   prsis          a command at a time: a predictive LL(1) recogniser for the
 *                  command_stream rule, its symbol stack kept as fixnums on the root
 *                  stack while tokens are forced, says when a command is complete
 *                  ("$END" acceptable at a newline) or where it goes wrong (the same
 *                  token lark's LALR parser rejects: both detect an error at the
 *                  first token that cannot continue a valid prefix).  A complete
 *                  command is then built by recursive descent over its (evaluated)
 *                  token cells into the forms of interp/forms.py (literal strings).
 *                  Nesting is limited to RT_STREAM_MAX_NESTING symbols, so the C
 *                  recursion of the builder is bounded.
 *   prsos, scnos   the printer of interp/printer.py tokens_of, over a persistent
 *                  stack (a heap list of pending values and markers) that each cell
 *                  passes on to the next, so an infinite value streams.
 * A cell's code reserves what it is about to allocate at once (reserve_for), so it
 * is one reservation, not one per cell it makes: a retry can finish it.
 *
 * Where this differs from the interpreter (tests/ compare the two on the rest):
 *   - scnos spells a value that is not a token as the printer produces it, where
 *     the interpreter makes its whole text first: the same characters, but an
 *     infinite value streams instead of never producing any;
 *   - console:P reads its first line when the stream is first demanded, not when
 *     console:P is evaluated;
 *   - "unexpected character" decides Python's str.isprintable for non-ASCII code
 *     points from a short table (unassigned code points count as printable);
 *   - a character of scnis's input that is not an atom is read as its text when it
 *     is a number or token (a float as Python's repr), else as its description;
 *   - prsis allows RT_STREAM_MAX_NESTING levels; deeper, the command is the error
 *     "syntax error on line N: the command is nested too deeply";
 *   - a float token that is infinite (only prsos of a computed infinity makes one)
 *     makes the command the error "float literal inf is out of range", where the
 *     interpreter's parser raises;
 *   - a stage run by a helper (a spark) writes the print target unsynchronised
 *     (screen) and does not flush it before reading (console): effects belong to
 *     worker 0.
 */
#define _GNU_SOURCE
#include "rt_internal.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RT_STREAM_MAX_NESTING 10000

/* A marker in the printer's pending stack: "the rest of the list whose cell is next".
 * Low byte 0x26: a constant word distinct from [], unit, tokens and rt_print's markers. */
#define PR_REST ((rt_val)((1u << 8) | 0x26))
static_assert((PR_REST & RT_TAG_MASK) == RT_TAG_CONST, "printer marker is a constant");
static_assert((PR_REST & 0xff) != RT_TOKEN_TAG && (PR_REST & 0xff) != RT_MARKER_TAG &&
              PR_REST != RT_NIL && PR_REST != RT_UNIT, "printer marker is no value");
static_assert(RT_PK_NEWLINE < 256, "a spacing kind fits the token table's byte");

/* ---- per-context state ------------------------------------------------------------ */

#define TOK_CHUNK 4096u
#define TOK_CHUNKS 65536u

typedef struct tok_entry {
    char *text;
    uint32_t len;
    uint8_t kind;
    rt_val value;              /* an atom or RT_NULL */
} tok_entry;

typedef struct line_source {
    char *prompt;              /* NULL: never prompts (stdin) */
    size_t prompt_len;
    uint64_t nread;            /* lines read so far; the last is in `line` */
    int eof;                   /* input ended after nread lines */
    char *line;
    size_t len, cap;
} line_source;

enum { LX_IMM, LX_INT, LX_FLOAT, LX_ERROR };
typedef struct lex_tok {
    int type;
    rt_val imm;                /* LX_IMM: the token; LX_ERROR: the message atom */
    int64_t i;
    double d;
} lex_tok;

typedef struct scratch {
    char *text;
    size_t text_cap;
    lex_tok *toks;
    size_t ntoks, toks_cap;
} scratch;

/* Where a console reads its lines when standard input is a terminal (the JIT's
 * `daisy repl` installs Python's readline: line editing and history).  Given the
 * prompt, it returns the line's length and points *text at its bytes (without the
 * newline; valid until the next call), or RT_LINE_EOF, or RT_LINE_INTERRUPTED after
 * requesting an interrupt (rt_request_interrupt): the read then unwinds as an
 * interrupted step does.  Called on worker 0 only; other workers read fd 0. */
typedef int64_t (*rt_line_hook)(const char *prompt, const char **text);
enum { RT_LINE_EOF = -1, RT_LINE_INTERRUPTED = -2 };

struct rt_streams {
    pthread_mutex_t lock;      /* token interning, the source table */
    tok_entry **chunks;
    _Atomic uint64_t ntok;
    uint64_t *hash;            /* interned tokens: index + 1, 0 = empty */
    size_t hash_cap, nhashed;
    rt_val lbrack, rbrack, lparen, rparen, bang, colon, dot, eq, backslash, newline;
    rt_val prefix[4];          /* @ $ # ^ */
    rt_val nl_atom, caret_atom;
    rt_val ascii[128];         /* the one-character atoms of ASCII characters */
    line_source **sources;
    size_t nsources, sources_cap;
    pthread_mutex_t in_lock;   /* fd 0 */
    char *in_buf;
    size_t in_len, in_pos, in_cap;
    int in_eof, in_tty;
    _Atomic int stdin_made;
    uint32_t stdin_global;
    uint32_t nworkers;
    scratch *scratch;          /* one per worker */
    rt_out *fallback_out;      /* when the context has no print target */
    pthread_mutex_t out_lock;
    rt_line_hook line_hook;    /* console lines on a terminal; NULL: read fd 0 */
};
typedef struct rt_streams rt_streams;

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        rt_fatal("out of process memory (streams)");
    return q;
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p)
        rt_fatal("out of process memory (streams)");
    return p;
}

/* ---- the token table ----------------------------------------------------------------- */

static uint64_t tok_hash(const char *t, size_t n, int kind)
{
    uint64_t h = 1469598103934665603ull ^ (uint64_t)kind;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)t[i]) * 1099511628211ull;
    return h;
}

static tok_entry *tok_entry_at(rt_streams *s, uint64_t i)
{
    return &s->chunks[i / TOK_CHUNK][i % TOK_CHUNK];
}

static void tok_rehash_unlocked(rt_streams *s)
{
    size_t cap = s->hash_cap ? 2 * s->hash_cap : 256;
    uint64_t *t = xcalloc(cap, sizeof *t);
    for (size_t j = 0; j < s->hash_cap; j++) {
        uint64_t e = s->hash[j];
        if (!e)
            continue;
        tok_entry *te = tok_entry_at(s, e - 1);
        size_t k = tok_hash(te->text, te->len, te->kind) & (cap - 1);
        while (t[k])
            k = (k + 1) & (cap - 1);
        t[k] = e;
    }
    free(s->hash);
    s->hash = t;
    s->hash_cap = cap;
}

static rt_val tok_make(rt_streams *s, const char *text, size_t n, int kind, rt_val value)
{
    pthread_mutex_lock(&s->lock);
    size_t j = 0;
    if (!value) {
        if (2 * (s->nhashed + 1) > s->hash_cap)
            tok_rehash_unlocked(s);
        j = tok_hash(text, n, kind) & (s->hash_cap - 1);
        while (s->hash[j]) {
            tok_entry *te = tok_entry_at(s, s->hash[j] - 1);
            if (te->kind == kind && te->len == n && memcmp(te->text, text, n) == 0) {
                uint64_t idx = s->hash[j] - 1;
                pthread_mutex_unlock(&s->lock);
                return (rt_val)(idx << 8) | RT_TOKEN_TAG;
            }
            j = (j + 1) & (s->hash_cap - 1);
        }
    }
    uint64_t idx = atomic_load_explicit(&s->ntok, memory_order_relaxed);
    if (idx >= (uint64_t)TOK_CHUNK * TOK_CHUNKS || n > UINT32_MAX)
        rt_fatal("too many tokens");
    if (!s->chunks[idx / TOK_CHUNK])
        s->chunks[idx / TOK_CHUNK] = xcalloc(TOK_CHUNK, sizeof(tok_entry));
    tok_entry *te = tok_entry_at(s, idx);
    te->text = xrealloc(NULL, n + 1);
    memcpy(te->text, text, n);
    te->text[n] = 0;
    te->len = (uint32_t)n;
    te->kind = (uint8_t)kind;
    te->value = value;
    if (!value) {
        s->hash[j] = idx + 1;
        s->nhashed++;
    }
    atomic_store_explicit(&s->ntok, idx + 1, memory_order_release);
    pthread_mutex_unlock(&s->lock);
    return (rt_val)(idx << 8) | RT_TOKEN_TAG;
}

/* ---- creating and freeing the state ----------------------------------------------------- */

static rt_streams *streams_new(rt_ctx *ctx)
{
    rt_streams *s = xcalloc(1, sizeof *s);
    pthread_mutex_init(&s->lock, NULL);
    pthread_mutex_init(&s->in_lock, NULL);
    pthread_mutex_init(&s->out_lock, NULL);
    s->chunks = xcalloc(TOK_CHUNKS, sizeof *s->chunks);
    s->lbrack = tok_make(s, "[", 1, RT_PK_OPEN, RT_NULL);
    s->rbrack = tok_make(s, "]", 1, RT_PK_CLOSE, RT_NULL);
    s->lparen = tok_make(s, "(", 1, RT_PK_OPEN, RT_NULL);
    s->rparen = tok_make(s, ")", 1, RT_PK_CLOSE, RT_NULL);
    s->bang = tok_make(s, "!", 1, RT_PK_BANG, RT_NULL);
    s->colon = tok_make(s, ":", 1, RT_PK_COLON, RT_NULL);
    s->dot = tok_make(s, ".", 1, RT_PK_DOT, RT_NULL);
    s->eq = tok_make(s, "=", 1, RT_PK_EQ, RT_NULL);
    s->backslash = tok_make(s, "\\", 1, RT_PK_PREFIX, RT_NULL);
    s->newline = tok_make(s, "\n", 1, RT_PK_NEWLINE, RT_NULL);
    for (int i = 0; i < 4; i++)
        s->prefix[i] = tok_make(s, "@$#^" + i, 1, RT_PK_PREFIX, RT_NULL);
    for (int c = 0; c < 128; c++) {
        char ch = (char)c;
        s->ascii[c] = rt_atom(ctx, &ch, 1);
    }
    s->nl_atom = s->ascii['\n'];
    s->caret_atom = rt_atom(ctx, "^", 1);
    s->nworkers = ctx->nworkers;
    s->scratch = xcalloc(s->nworkers, sizeof *s->scratch);
    s->in_tty = isatty(STDIN_FILENO);
    return s;
}

static void streams_free(rt_streams *s)
{
    uint64_t n = atomic_load(&s->ntok);
    for (uint64_t i = 0; i < n; i++)
        free(tok_entry_at(s, i)->text);
    for (uint32_t c = 0; c < TOK_CHUNKS; c++)
        free(s->chunks[c]);
    free(s->chunks);
    free(s->hash);
    for (size_t i = 0; i < s->nsources; i++) {
        free(s->sources[i]->prompt);
        free(s->sources[i]->line);
        free(s->sources[i]);
    }
    free(s->sources);
    free(s->in_buf);
    for (uint32_t i = 0; i < s->nworkers; i++) {
        free(s->scratch[i].text);
        free(s->scratch[i].toks);
    }
    free(s->scratch);
    if (s->fallback_out) {
        rt_out_flush(s->fallback_out);
        free(s->fallback_out);
    }
    pthread_mutex_destroy(&s->lock);
    pthread_mutex_destroy(&s->in_lock);
    pthread_mutex_destroy(&s->out_lock);
    free(s);
}

static rt_streams *streams_of(rt_ctx *ctx)
{
    rt_streams *s = atomic_load_explicit(&ctx->streams, memory_order_acquire);
    if (__builtin_expect(s != NULL, 1))
        return s;
    s = streams_new(ctx);
    rt_streams *expected = NULL;
    if (!atomic_compare_exchange_strong(&ctx->streams, &expected, s)) {
        streams_free(s);
        return expected;
    }
    return s;
}

void rt_streams_fini(rt_ctx *ctx)
{
    rt_streams *s = atomic_exchange(&ctx->streams, NULL);
    if (s)
        streams_free(s);
}

/* ---- tokens: the public face ------------------------------------------------------------- */

rt_val rt_token(rt_ctx *ctx, const char *text, size_t n, int kind, rt_val value)
{
    return tok_make(streams_of(ctx), text, n, kind, value);
}

const char *rt_token_text(rt_ctx *ctx, rt_val tok, size_t *len, int *kind, rt_val *value)
{
    if (!rt_is_token(tok))
        return NULL;
    rt_streams *s = streams_of(ctx);
    uint64_t i = tok >> 8;
    if (i >= atomic_load_explicit(&s->ntok, memory_order_acquire))
        return NULL;
    tok_entry *te = tok_entry_at(s, i);
    if (len)
        *len = te->len;
    if (kind)
        *kind = te->kind;
    if (value)
        *value = te->value;
    return te->text;
}

static tok_entry *tok_info(rt_streams *s, rt_val tok)
{
    return tok_entry_at(s, tok >> 8);
}

/* Units that carry a text (interp/values.py Unit): what a definition made at run
 * time evaluates to, `<defined NAME>`.  Like RT_UNIT (`<screen>`), one prints no
 * line at the top level and its text when nested, is described as "a unit" and is
 * not comparable.  It is a token whose value is RT_UNIT (a string literal's token
 * has an atom there), so printing it nested needs nothing new. */
rt_val rt_unit_named(rt_ctx *ctx, const char *text, size_t n)
{
    return tok_make(streams_of(ctx), text, n, RT_PK_WORD, RT_UNIT);
}

int rt_is_unit(rt_ctx *ctx, rt_val v)
{
    rt_val value = RT_NULL;
    return v == RT_UNIT || (rt_token_text(ctx, v, NULL, NULL, &value) && value == RT_UNIT);
}

/* ---- small helpers ------------------------------------------------------------------------- */

#define SLOT(i) (w->sp_base[(i)])
static size_t sp_off(rt_worker *w) { return (size_t)(w->sp - w->sp_base); }
static int is_cons(rt_val v) { return rt_is_type(v, RT_T_CONS); }
static rt_val head_of(rt_val c) { return rt_obj_of(c)->field[0]; }
static rt_val tail_of(rt_val c) { return rt_obj_of(c)->field[1]; }

/* The value of v, which has been forced already: never a safepoint. */
static rt_val peek(rt_val v)
{
    if (rt_is_type(v, RT_T_SUSP)) {
        rt_obj *o = rt_obj_of(v);
        if (atomic_load_explicit((_Atomic uint64_t *)&o->field[RT_SUSP_STATE],
                                 memory_order_acquire) != RT_SUSP_EVALUATED)
            rt_fatal("rt_streams: a value expected to be evaluated is not");
        return peek(atomic_load_explicit((_Atomic rt_val *)&o->field[RT_SUSP_VALUE],
                                         memory_order_relaxed));
    }
    return v;
}

/* Note [Scratch per task]
 * ~~~~~~~~~~~~~~~~~~~~~~~~
 * The stages keep text and tokens in a scratch area between writing them and making
 * cells of them, and that making can reach a safepoint (a reservation's slow path),
 * where a time slice may end and the worker switch to another task (Note [Tasks] in
 * rt_task.c), which may run a stage too.  So the scratch belongs to the task running,
 * not to the worker: one area per worker was overwritten by the other task's text
 * (a pipeline's printing cut off mid-list, found by formeval's pipelines in sparks
 * under the sanitizers).  A worker that runs no task uses its own. */
void rt_streams_scratch_free(void *p)
{
    scratch *sc = p;
    if (sc) {
        free(sc->text);
        free(sc->toks);
        free(sc);
    }
}

static scratch *scratch_of(rt_worker *w)
{
    rt_task *t = w->task;
    if (t) {
        if (!t->streams_scratch)
            t->streams_scratch = xcalloc(1, sizeof(scratch));
        return t->streams_scratch;
    }
    rt_streams *s = streams_of(w->ctx);
    if (w->id >= s->nworkers)
        rt_fatal("rt_streams: worker %u out of range", w->id);
    return &s->scratch[w->id];
}

/* A growable string: the worker's scratch text (sb_scratch), or a private one,
 * freed before the next safepoint (messages). */
typedef struct sbuf { char *p; size_t n, cap; } sbuf;

static void sb_reserve(sbuf *b, size_t more)
{
    if (b->n + more + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + more + 1)
            cap *= 2;
        b->p = xrealloc(b->p, cap);
        b->cap = cap;
    }
}
static void sb_add(sbuf *b, const char *t, size_t n)
{
    sb_reserve(b, n);
    memcpy(b->p + b->n, t, n);
    b->n += n;
    b->p[b->n] = 0;
}
static void sb_addc(sbuf *b, char c) { sb_add(b, &c, 1); }
static void sb_adds(sbuf *b, const char *t) { sb_add(b, t, strlen(t)); }
static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char tmp[128];
    int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (k < 0)
        return;
    if ((size_t)k < sizeof tmp) {
        sb_add(b, tmp, (size_t)k);
        return;
    }
    sb_reserve(b, (size_t)k);
    va_start(ap, fmt);
    vsnprintf(b->p + b->n, (size_t)k + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)k;
}

/* The scratch text of worker w as an sbuf, emptied. */
static sbuf sb_scratch(rt_worker *w)
{
    scratch *sc = scratch_of(w);
    return (sbuf){sc->text, 0, sc->text_cap};
}
static void sb_scratch_keep(rt_worker *w, sbuf *b)
{
    scratch *sc = scratch_of(w);
    sc->text = b->p;
    sc->text_cap = b->cap;
}

/* An error message atom: '>' written '}' (values.py Error: `<error: ...>` stays one
 * token).  No safepoint. */
static rt_val msg_atom(rt_ctx *ctx, sbuf *b)
{
    for (size_t i = 0; i < b->n; i++)
        if (b->p[i] == '>')
            b->p[i] = '}';
    return rt_atom(ctx, b->p ? b->p : "", b->n);
}

static rt_val error_of_atom(rt_worker *w, rt_val msg)
{
    rt_obj *o = rt_alloc(w, RT_HDR(RT_T_ERROR, 0, 0, 1));
    o->field[0] = msg;
    return rt_val_of(o);
}

static rt_val stream_error(rt_worker *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static rt_val stream_error(rt_worker *w, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char tmp[512];
    int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    sbuf b = {0};
    if (k >= 0 && (size_t)k < sizeof tmp) {
        sb_add(&b, tmp, (size_t)k);
    } else if (k >= 0) {
        sb_reserve(&b, (size_t)k);
        va_start(ap, fmt);
        vsnprintf(b.p, (size_t)k + 1, fmt, ap);
        va_end(ap);
        b.n = (size_t)k;
    }
    rt_val a = msg_atom(w->ctx, &b);
    free(b.p);
    return error_of_atom(w, a);      /* the only safepoint, after the free */
}

/* Python's repr() of a float: the shortest text that reads back the same. */
static void py_float_repr(double d, sbuf *b)
{
    if (isnan(d)) {
        sb_adds(b, "nan");
        return;
    }
    if (isinf(d)) {
        sb_adds(b, d > 0 ? "inf" : "-inf");
        return;
    }
    char e[40];
    int p;
    for (p = 1; p <= 17; p++) {
        snprintf(e, sizeof e, "%.*e", p - 1, d);
        if (strtod(e, NULL) == d)
            break;
    }
    /* e is [-]D[.DDD]e[+-]XX */
    const char *q = e;
    if (*q == '-') {
        sb_addc(b, '-');
        q++;
    }
    char digits[24];
    int nd = 0;
    for (; *q && *q != 'e'; q++)
        if (*q != '.')
            digits[nd++] = *q;
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    int x = atoi(q + 1);
    if (x < -4 || x >= 16) {
        sb_addc(b, digits[0]);
        if (nd > 1) {
            sb_addc(b, '.');
            sb_add(b, digits + 1, (size_t)nd - 1);
        }
        sb_printf(b, "e%c%02d", x < 0 ? '-' : '+', x < 0 ? -x : x);
    } else if (x < 0) {
        sb_adds(b, "0.");
        for (int i = 0; i < -x - 1; i++)
            sb_addc(b, '0');
        sb_add(b, digits, (size_t)nd);
    } else {
        for (int i = 0; i <= x; i++)
            sb_addc(b, i < nd ? digits[i] : '0');
        sb_addc(b, '.');
        if (nd > x + 1)
            sb_add(b, digits + x + 1, (size_t)(nd - x - 1));
        else
            sb_addc(b, '0');
    }
}

static int is_number(rt_val v)
{
    return rt_is_fix(v) || rt_is_type(v, RT_T_BOXINT) || rt_is_type(v, RT_T_FLOAT);
}

static double float_of(rt_val v)
{
    double d;
    memcpy(&d, &rt_obj_of(v)->field[0], 8);
    return d;
}

/* printer.format_number */
static void format_number(rt_val v, sbuf *b)
{
    int64_t i;
    if (rt_int_get(v, &i)) {
        sb_printf(b, "%lld", (long long)i);
    } else {
        char buf[64];
        rt_format_float(float_of(v), buf, sizeof buf);
        sb_adds(b, buf);
    }
}

/* printer.quote_string */
static void quote_string(const char *s, size_t n, sbuf *b)
{
    sb_addc(b, '"');
    for (size_t i = 0; i < n; i++) {
        switch (s[i]) {
        case '`': sb_add(b, "``", 2); break;
        case '"': sb_add(b, "`\"", 2); break;
        case '\n': sb_add(b, "`n", 2); break;
        case '\t': sb_add(b, "`t", 2); break;
        default: sb_addc(b, s[i]);
        }
    }
    sb_addc(b, '"');
}

/* printer.token_text for a number, an atom or a token value. */
static void token_text(rt_ctx *ctx, rt_val t, sbuf *b)
{
    if (rt_is_atom(t)) {
        size_t n = 0;
        const char *s = rt_atom_name(ctx, t, &n);
        if (rt_atom_is_ident(s, n))
            sb_add(b, s, n);
        else
            quote_string(s, n, b);
    } else if (rt_is_token(t)) {
        tok_entry *te = tok_info(streams_of(ctx), t);
        sb_add(b, te->text, te->len);
    } else {
        format_number(t, b);
    }
}

/* printer.word_class */
static int word_class(rt_ctx *ctx, rt_val t)
{
    return rt_is_token(t) ? tok_info(streams_of(ctx), t)->kind : RT_PK_WORD;
}

/* printer.spell: the text of t after a token of kind prev. */
static void spell(rt_ctx *ctx, int prev, rt_val t, sbuf *b)
{
    if (rt_print_needs_space(prev, word_class(ctx, t)))
        sb_addc(b, ' ');
    token_text(ctx, t, b);
}

static const char *form_type_name(rt_val v)
{
    switch (rt_hdr_aux(rt_obj_of(v)->header)) {
    case RT_FORM_APPLY: return "apl";
    case RT_FORM_FUNCTION: return "fnform";
    case RT_FORM_ANNOTATION: return "annform";
    case RT_FORM_DEFINE: return "defform";
    }
    return "form";
}

/* eval.describe */
static void describe(rt_ctx *ctx, rt_val v, sbuf *b)
{
    if (is_number(v)) {
        sb_adds(b, "the number ");
        format_number(v, b);
    } else if (v == RT_NIL) {
        sb_adds(b, "[]");
    } else if (rt_is_atom(v)) {
        size_t n = 0;
        const char *s = rt_atom_name(ctx, v, &n);
        sb_adds(b, "the atom ");
        if (s && rt_atom_is_ident(s, n) && n < 40)
            sb_add(b, s, n);
        else
            sb_adds(b, "(a string)");
    } else if (is_cons(v)) {
        sb_adds(b, "a list");
    } else if (rt_is_prim(v) || rt_is_type(v, RT_T_CLOSURE)) {
        sb_adds(b, "a function");
    } else if (rt_is_error(v)) {
        sb_adds(b, "an error");
    } else if (rt_is_unit(ctx, v)) {
        sb_adds(b, "a unit");
    } else if (rt_is_token(v)) {
        sb_adds(b, "a token");
    } else if (rt_is_type(v, RT_T_FORM)) {
        sb_adds(b, "a ");
        sb_adds(b, form_type_name(v));
    } else {
        sb_adds(b, "a value");
    }
}

/* prims.not_a_list: an error passes through. */
static rt_val not_a_list(rt_worker *w, const char *name, rt_val v)
{
    if (rt_is_error(v))
        return v;
    sbuf b = {0};
    sb_printf(&b, "%s expects a list, not ", name);
    describe(w->ctx, v, &b);
    rt_val a = msg_atom(w->ctx, &b);
    free(b.p);
    return error_of_atom(w, a);
}

/* Reserve room for what a cell's code is about to allocate (up to 1 MiB at once):
 * one safepoint, after which its allocations take the fast path.  So the code of a
 * cell is usually one reservation, which a retry after a failure can complete
 * (every heap value the caller holds must be in a root slot). */
static void reserve_for(rt_worker *w, size_t bytes)
{
    rt_reserve(w, bytes < ((size_t)1 << 20) ? bytes : ((size_t)1 << 20));
}

static size_t utf8_len(unsigned char c)
{
    return c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
}

/* The list of the characters (UTF-8 code points, as atoms) of text[0, n), ending in
 * the value in root slot `tail_slot`, which is replaced by the result.  text must
 * stay put across allocations: it is scratch, a source's line or a token's text. */
static void chars_onto(rt_worker *w, const char *text, size_t n, size_t tail_slot)
{
    rt_ctx *ctx = w->ctx;
    rt_streams *s = streams_of(ctx);
    size_t i = n;
    reserve_for(w, 8 * RT_CONS_WORDS * n);
    while (i > 0) {
        size_t j = i - 1, k = j;
        while (k > 0 && i - k < 4 && ((unsigned char)text[k] & 0xc0) == 0x80)
            k--;
        if (((unsigned char)text[k] & 0xc0) != 0x80 && utf8_len((unsigned char)text[k]) == i - k)
            j = k;                          /* else not well-formed: one byte */
        unsigned char c = (unsigned char)text[j];
        rt_val a = i - j == 1 && c < 128 ? s->ascii[c] : rt_atom(ctx, text + j, i - j);
        SLOT(tail_slot) = rt_cons(w, a, SLOT(tail_slot));
        i = j;
    }
}

static rt_out *print_target(rt_ctx *ctx)
{
    if (ctx->print_out)
        return ctx->print_out;
    rt_streams *s = streams_of(ctx);
    pthread_mutex_lock(&s->out_lock);
    if (!s->fallback_out) {
        s->fallback_out = xcalloc(1, sizeof *s->fallback_out);
        rt_out_init(s->fallback_out, STDOUT_FILENO);
    }
    pthread_mutex_unlock(&s->out_lock);
    return s->fallback_out;
}

/* ---- console and stdin ---------------------------------------------------------------------- */

static line_source *source_get(rt_streams *s, uint64_t i)
{
    pthread_mutex_lock(&s->lock);
    line_source *src = i < s->nsources ? s->sources[i] : NULL;
    pthread_mutex_unlock(&s->lock);
    if (!src)
        rt_fatal("rt_streams: no source %llu", (unsigned long long)i);
    return src;
}

static uint64_t source_new(rt_streams *s, const char *prompt, size_t n)
{
    line_source *src = xcalloc(1, sizeof *src);
    if (prompt) {
        src->prompt = xrealloc(NULL, n + 1);
        memcpy(src->prompt, prompt, n);
        src->prompt[n] = 0;
        src->prompt_len = n;
    }
    pthread_mutex_lock(&s->lock);
    RT_GROW(s->sources, s->nsources, s->sources_cap, 4, "streams");
    uint64_t i = s->nsources;
    s->sources[s->nsources++] = src;
    pthread_mutex_unlock(&s->lock);
    return i;
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return;
        p += k;
        n -= (size_t)k;
    }
}

/* Read the next line of fd 0 into src (interpreter.Input.readline): the program's
 * output is flushed first, the prompt written only when standard input is a
 * terminal.  A line ends at \n (as sys.stdin.readline: a \r stays in the line).
 * A read interrupted by a signal polls the worker (Ctrl-C unwinds from there) with
 * the lock released and nothing stored, so it simply happens again. */
static void read_line(rt_worker *w, rt_streams *s, line_source *src)
{
    if (w->id == 0 && w->ctx->print_out)
        rt_out_flush(w->ctx->print_out);      /* worker 0 owns the print target */
    if (src->prompt && s->in_tty && s->line_hook && w->id == 0) {
        for (;;) {
            const char *text = NULL;
            int64_t k = s->line_hook(src->prompt, &text);
            if (k == RT_LINE_INTERRUPTED) {
                rt_poll(w);                   /* unwinds: the interrupt is requested */
                continue;
            }
            if (k < 0 || !text) {
                src->eof = 1;
                return;
            }
            size_t need = (size_t)k + 1;
            if (need > src->cap) {
                src->line = xrealloc(src->line, need);
                src->cap = need;
            }
            memcpy(src->line, text, (size_t)k);
            src->line[k] = '\n';
            src->len = need;
            src->nread++;
            return;
        }
    }
    if (src->prompt && s->in_tty)
        write_all(STDOUT_FILENO, src->prompt, src->prompt_len);
    pthread_mutex_lock(&s->in_lock);
    for (;;) {
        size_t end = SIZE_MAX;
        const char *nl = s->in_len > s->in_pos
                             ? memchr(s->in_buf + s->in_pos, '\n', s->in_len - s->in_pos) : NULL;
        if (nl)
            end = (size_t)(nl - s->in_buf);
        if (end != SIZE_MAX || (s->in_eof && s->in_pos < s->in_len)) {
            size_t len = end != SIZE_MAX ? end - s->in_pos : s->in_len - s->in_pos;
            size_t need = len + 1;
            if (need > src->cap) {
                src->line = xrealloc(src->line, need);
                src->cap = need;
            }
            memcpy(src->line, s->in_buf + s->in_pos, len);
            src->len = len;
            if (end != SIZE_MAX)
                src->line[src->len++] = '\n';
            s->in_pos = end != SIZE_MAX ? end + 1 : s->in_len;
            src->nread++;
            break;
        }
        if (s->in_eof) {
            src->eof = 1;
            break;
        }
        /* more input: keep the unread part, read after it */
        if (s->in_pos) {
            memmove(s->in_buf, s->in_buf + s->in_pos, s->in_len - s->in_pos);
            s->in_len -= s->in_pos;
            s->in_pos = 0;
        }
        if (s->in_cap - s->in_len < 4096) {
            s->in_cap = s->in_cap ? 2 * s->in_cap : 65536;
            s->in_buf = xrealloc(s->in_buf, s->in_cap);
        }
        ssize_t k = read(STDIN_FILENO, s->in_buf + s->in_len, s->in_cap - s->in_len);
        if (k < 0 && errno == EINTR) {
            pthread_mutex_unlock(&s->in_lock);
            rt_poll(w);
            pthread_mutex_lock(&s->in_lock);
            continue;
        }
        if (k <= 0)
            s->in_eof = 1;
        else
            s->in_len += (size_t)k;
    }
    pthread_mutex_unlock(&s->in_lock);
}

/* Line k of source i: env [i, k]. */
static rt_val console_code(rt_worker *w, rt_val self)
{
    rt_streams *s = streams_of(w->ctx);
    rt_obj *o = rt_obj_of(self);
    uint64_t i = (uint64_t)rt_fix_value(o->field[RT_SUSP_ENV]);
    uint64_t k = (uint64_t)rt_fix_value(o->field[RT_SUSP_ENV + 1]);
    line_source *src = source_get(s, i);
    if (src->nread == k && !src->eof)
        read_line(w, s, src);           /* stored before anything is allocated */
    if (src->nread == k && src->eof)
        return RT_NIL;
    if (src->nread != k + 1)
        return stream_error(w, "console: line %llu of the input is gone",
                            (unsigned long long)k + 1);
    if (src->len == 0)
        return RT_NIL;
    size_t base = sp_off(w);
    reserve_for(w, 8 * (RT_CONS_WORDS * src->len + 6));
    rt_val env[2] = {rt_fix((int64_t)i), rt_fix((int64_t)k + 1)};
    rt_push_root(w, rt_susp_new(w, console_code, 2, env));
    chars_onto(w, src->line, src->len, base);
    rt_val r = SLOT(base);
    w->sp = w->sp_base + base;
    return r;
}

rt_val rt_prim_console(rt_worker *w, rt_val arg)
{
    rt_val p = rt_force(w, arg);
    rt_streams *s = streams_of(w->ctx);
    sbuf b = {0};
    if (rt_is_atom(p)) {
        size_t n = 0;
        const char *name = rt_atom_name(w->ctx, p, &n);
        sb_add(&b, name, n);
    } else if (is_number(p)) {
        format_number(p, &b);
    } else {
        sb_adds(&b, "&");
    }
    uint64_t i = source_new(s, b.p, b.n);
    free(b.p);
    rt_val env[2] = {rt_fix((int64_t)i), rt_fix(0)};
    return rt_susp_new(w, console_code, 2, env);
}

rt_val rt_stdin_stream(rt_worker *w)
{
    rt_ctx *ctx = w->ctx;
    rt_streams *s = streams_of(ctx);
    if (!atomic_load_explicit(&s->stdin_made, memory_order_acquire)) {
        if (w->id != 0)
            return stream_error(w, "stdin: not set up on this worker (rt_streams_init)");
        uint64_t i = source_new(s, NULL, 0);
        rt_val env[2] = {rt_fix((int64_t)i), rt_fix(0)};
        /* The context's own stream, made when it is set up (rt_streams_init), before
         * any program runs: `--stats` counts the program's suspensions, not this one. */
        rt_val v = rt_susp_new_uncounted(w, console_code, 2, env);
        s->stdin_global = rt_global_new(ctx, v);
        atomic_store_explicit(&s->stdin_made, 1, memory_order_release);
    }
    return rt_global_get(ctx, s->stdin_global);
}

void rt_streams_init(rt_ctx *ctx)
{
    rt_stdin_stream(rt_ctx_main(ctx));
}

void rt_set_line_hook(rt_ctx *ctx, rt_line_hook hook) { streams_of(ctx)->line_hook = hook; }

/* ---- screen ---------------------------------------------------------------------------------- */

/* Write an atom's name or a token's text raw; 0 if v is neither. */
static int write_raw(rt_ctx *ctx, rt_out *o, rt_val v)
{
    size_t n = 0;
    const char *t;
    if (rt_is_atom(v))
        t = rt_atom_name(ctx, v, &n);
    else if (rt_is_token(v))
        t = rt_token_text(ctx, v, &n, NULL, NULL);
    else
        return 0;
    if (t)
        rt_out_write(o, t, n);
    return 1;
}

rt_val rt_prim_screen(rt_worker *w, rt_val arg)
{
    rt_ctx *ctx = w->ctx;
    rt_out *o = print_target(ctx);
    size_t base = sp_off(w);
    rt_push_root(w, arg);
    rt_val lst = rt_force(w, SLOT(base));
    int saved = o->prev_kind;        /* an enclosing printer's spacing state */
    if (rt_is_atom(lst)) {            /* a string is written whole */
        write_raw(ctx, o, lst);
        rt_out_flush(o);
        w->sp = w->sp_base + base;
        return RT_UNIT;
    }
    while (is_cons(lst) && !o->error) {
        SLOT(base) = lst;
        rt_val v = rt_force(w, head_of(lst));
        if (!write_raw(ctx, o, v)) {
            o->prev_kind = RT_PK_NONE;            /* text_of: its own spacing */
            rt_print(w, v, o, 0);
        }
        lst = rt_force(w, tail_of(SLOT(base)));
    }
    o->prev_kind = saved;
    rt_out_flush(o);
    w->sp = w->sp_base + base;
    if (lst != RT_NIL && !o->error)
        return not_a_list(w, "screen", lst);
    return RT_UNIT;
}

/* screen:arg as a step with commits.  The root stack above the step's base holds
 * the rest of the list and, while an element prints, the printer's work above it. */
rt_val rt_screen_step(rt_worker *w, rt_val arg)
{
    rt_ctx *ctx = w->ctx;
    rt_out *o = print_target(ctx);
    size_t sb = w->step_base;
    if (!rt_step_resuming(w)) {
        rt_val v = rt_force(w, arg);
        if (rt_is_atom(v)) {
            write_raw(ctx, o, v);
            rt_out_flush(o);
            return RT_UNIT;
        }
        rt_push_root(w, v);
        rt_step_commit(w);
        /* From here on the step resumes from its stack, not its argument: let the
         * written part of the stream go (rt_step keeps the argument in the slot just
         * below the step's base, and passes it again when the step resumes). */
        w->sp_base[sb - 1] = RT_NIL;
    }
    for (;;) {
        if (o->error)
            break;
        if (sp_off(w) > sb + 1) {                 /* an element is printing */
            rt_print_loop(w, o, sb + 1, 0, 1);
            continue;
        }
        rt_val lst = rt_force(w, SLOT(sb));
        SLOT(sb) = lst;
        if (!is_cons(lst))
            break;
        rt_val v = rt_force(w, head_of(lst));
        SLOT(sb) = tail_of(SLOT(sb));
        if (!write_raw(ctx, o, v)) {             /* else written: commit that */
            rt_push_root(w, v);                   /* print it, from the next round */
            o->prev_kind = RT_PK_NONE;
        }
        rt_step_commit(w);
    }
    rt_out_flush(o);
    rt_val lst = SLOT(sb);
    if (o->error || lst == RT_NIL || is_cons(lst))
        return RT_UNIT;
    return not_a_list(w, "screen", lst);
}

/* The JIT's top level (driver/repl.py): printing to fd, one step evaluates `make`
 * (a compiled program's top-level step, given arg) to the character stream that
 * `screen:` would write, and a second step writes it as rt_screen_step does,
 * committing after every write, so a step retried after an allocation failure
 * repeats no output and loses no input.  Returns an exit status as rt_run_toplevel
 * does (0 when the stream has ended); when interrupted, output buffered but not yet
 * written is dropped, as the interpreter's top level drops it. */
int rt_screen_run_fd(rt_ctx *ctx, rt_step_fn make, rt_val arg, int fd)
{
    rt_out *out = malloc(sizeof *out);
    if (!out)
        return RT_EXIT_IO;
    rt_out_init(out, fd);
    rt_set_print_target(ctx, out);
    rt_val stream = RT_NIL, ignored;
    int st = rt_step(ctx, make, arg, &stream);
    if (st == RT_STEP_OK)      /* nothing moves between steps: stream is still valid */
        st = rt_step(ctx, rt_screen_step, stream, &ignored);
    int code = RT_EXIT_OK;
    if (st == RT_STEP_HEAP_EXHAUSTED)
        code = RT_EXIT_HEAP;
    else if (st == RT_STEP_INTERRUPTED)
        code = RT_EXIT_INTERRUPT, rt_out_discard(out);
    if (!out->error)
        rt_out_flush(out);
    if (out->error)
        code = out->error == EPIPE ? RT_EXIT_PIPE : RT_EXIT_IO;
    rt_set_print_target(ctx, NULL);
    if (code == RT_EXIT_HEAP)
        rt_report_heap_exhausted(ctx, stderr);
    if (code == RT_EXIT_IO)
        fprintf(stderr, "daisy: cannot write the output: %s\n", strerror(out->error));
    fflush(stderr);
    free(out);
    return code;
}

/* ---- scnis: the lexer ------------------------------------------------------------------------
 *
 * frontend/grammar.lark's terminals, as lark's lexer applies them to one line: at
 * each position the first terminal that matches (FLOAT, then INT, by priority; the
 * others begin with distinct characters), whitespace [ \t\f\r\n] and `;` comments
 * skipped.  A number must not run into [0-9A-Za-z_%.?'*+/<>-]; since every way a
 * number pattern can stop short leaves such a character next, the greedy match
 * either stands or the text there is the malformed number of parse.py _number_here.
 * Columns count code points from the start of the line (or the last newline inside
 * it), from 1, as lark's do.  An error the lexer meets (UnexpectedCharacters) ends
 * the line's tokens; an error in one token (its value) is that token, and lexing
 * goes on, as streams.lex_line does. */

typedef struct lexer {
    rt_ctx *ctx;
    rt_streams *s;
    scratch *sc;
    const char *t;
    size_t n;
    size_t line_start;         /* byte offset where the current line began */
} lexer;

static int is_digit(int c) { return c >= '0' && c <= '9'; }
static int is_alpha(int c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
static int is_ident_rest(int c)
{
    return is_alpha(c) || is_digit(c) || (c && strchr("?-_*+/<>'", c));
}
static int is_number_cont(int c)
{
    return is_alpha(c) || is_digit(c) || (c && strchr("_%.?'*+/<>-", c));
}

static int64_t lx_column(lexer *lx, size_t pos)
{
    int64_t col = 1;
    for (size_t i = lx->line_start; i < pos; i++)
        col += ((unsigned char)lx->t[i] & 0xc0) != 0x80;
    return col;
}

static void lx_push(lexer *lx, lex_tok t)
{
    scratch *sc = lx->sc;
    RT_GROW(sc->toks, sc->ntoks, sc->toks_cap, 64, "streams");
    sc->toks[sc->ntoks++] = t;
}

static void lx_imm(lexer *lx, rt_val v) { lx_push(lx, (lex_tok){LX_IMM, v, 0, 0}); }

static void lx_error(lexer *lx, size_t pos, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void lx_error(lexer *lx, size_t pos, const char *fmt, ...)
{
    sbuf b = {0};
    sb_printf(&b, "syntax error at column %lld: ", (long long)lx_column(lx, pos));
    va_list ap;
    va_start(ap, fmt);
    char tmp[256];
    int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (k >= 0 && (size_t)k < sizeof tmp) {
        sb_add(&b, tmp, (size_t)k);
    } else if (k >= 0) {
        sb_reserve(&b, (size_t)k);
        va_start(ap, fmt);
        vsnprintf(b.p + b.n, (size_t)k + 1, fmt, ap);
        va_end(ap);
        b.n += (size_t)k;
    }
    rt_val a = msg_atom(lx->ctx, &b);
    free(b.p);
    lx_push(lx, (lex_tok){LX_ERROR, a, 0, 0});
}

/* The code point at t[i] (of *len bytes); a malformed byte stands for itself. */
static uint32_t code_point(const char *t, size_t n, size_t i, size_t *len)
{
    unsigned char c = (unsigned char)t[i];
    size_t k = utf8_len(c);
    if (k == 1 || i + k > n) {
        *len = 1;
        return c;
    }
    uint32_t cp = c & (0xff >> (k + 1));
    for (size_t j = 1; j < k; j++) {
        unsigned char d = (unsigned char)t[i + j];
        if ((d & 0xc0) != 0x80) {
            *len = 1;
            return c;
        }
        cp = (cp << 6) | (d & 0x3f);
    }
    *len = k;
    return cp;
}

/* Python's str.isprintable for one code point, approximately: not the categories
 * Cc Cf Cs Co Zl Zp and Zs other than space (unassigned code points, Cn, are not
 * known here and count as printable). */
static int cp_printable(uint32_t c)
{
    if (c < 0x20 || (c >= 0x7f && c <= 0xa0) || c == 0xad)
        return 0;
    if ((c >= 0x600 && c <= 0x605) || c == 0x61c || c == 0x6dd || c == 0x70f || c == 0x890 ||
        c == 0x891 || c == 0x8e2 || c == 0x180e || c == 0x1680)
        return 0;
    if ((c >= 0x2000 && c <= 0x200f) || (c >= 0x2028 && c <= 0x202f) ||
        (c >= 0x205f && c <= 0x2064) || (c >= 0x2066 && c <= 0x206f) || c == 0x3000)
        return 0;
    if ((c >= 0xd800 && c <= 0xf8ff) || c == 0xfeff || (c >= 0xfff9 && c <= 0xfffb))
        return 0;
    if (c == 0x110bd || c == 0x110cd || (c >= 0x13430 && c <= 0x1343f) ||
        (c >= 0x1bca0 && c <= 0x1bca3) || (c >= 0x1d173 && c <= 0x1d17a) || c == 0xe0001 ||
        (c >= 0xe0020 && c <= 0xe007f) || c >= 0xf0000)
        return 0;
    return 1;
}

static void lx_number(lexer *lx, size_t i, size_t j, int is_float)
{
    const char *t = lx->t;
    size_t len = j - i;
    char buf[64], *text = len < sizeof buf ? buf : xrealloc(NULL, len + 1);
    memcpy(text, t + i, len);
    text[len] = 0;
    if (!is_float) {
        /* int(text) in 64 bits */
        size_t k = text[0] == '-';
        uint64_t mag = 0, limit = text[0] == '-' ? (uint64_t)1 << 63 : ((uint64_t)1 << 63) - 1;
        int over = 0;
        for (; k < len; k++) {
            uint64_t d = (uint64_t)(text[k] - '0');
            if (mag > (limit - d) / 10) {
                over = 1;
                break;
            }
            mag = mag * 10 + d;
        }
        if (over) {
            lx_error(lx, i, "integer literal %s is out of range", text);
        } else {
            int64_t v = text[0] == '-' ? (int64_t)(0 - mag) : (int64_t)mag;
            if (rt_fits_fix(v))
                lx_imm(lx, rt_fix(v));
            else
                lx_push(lx, (lex_tok){LX_INT, 0, v, 0});
        }
    } else {
        double d = strtod(text, NULL);
        if (isinf(d))
            lx_error(lx, i, "float literal %s is out of range", text);
        else
            lx_push(lx, (lex_tok){LX_FLOAT, 0, 0, d});
    }
    if (text != buf)
        free(text);
}

/* A string literal at t[i] (t[i] == '"').  Returns the end (past the closing quote),
 * or 0 when it is unterminated (the caller reports it). */
static size_t lx_string(lexer *lx, size_t i)
{
    const char *t = lx->t;
    size_t n = lx->n, j = i + 1;
    for (;;) {
        if (j >= n || t[j] == '\n')
            return 0;
        if (t[j] == '`') {
            if (j + 1 >= n || t[j + 1] == '\n')
                return 0;
            size_t k;
            code_point(t, n, j + 1, &k);
            j += 1 + k;
            continue;
        }
        if (t[j] == '"')
            break;
        j++;
    }
    size_t end = j + 1;
    /* decode_string */
    sbuf b = {0};
    sb_reserve(&b, end - i);
    for (size_t k = i + 1; k < j;) {
        if (t[k] != '`') {
            sb_addc(&b, t[k++]);
            continue;
        }
        char c = t[k + 1];
        const char *rep = c == '"' ? "\"" : c == '`' ? "`" : c == 'n' ? "\n" : c == 't' ? "\t" : NULL;
        if (!rep) {
            size_t cl;
            code_point(t, n, k + 1, &cl);
            lx_error(lx, i, "unknown escape '`%.*s' in a string", (int)cl, t + k + 1);
            free(b.p);
            return end;
        }
        sb_addc(&b, rep[0]);
        k += 2;
    }
    rt_val value = rt_atom(lx->ctx, b.p ? b.p : "", b.n);
    free(b.p);
    lx_imm(lx, tok_make(lx->s, t + i, end - i, RT_PK_WORD, value));
    return end;
}

/* The tokens of text t[0, n) onto the worker's scratch token list. */
static void lex_line(lexer *lx)
{
    const char *t = lx->t;
    size_t n = lx->n, i = 0;
    rt_streams *s = lx->s;
    lx->line_start = 0;
    while (i < n) {
        unsigned char c = (unsigned char)t[i];
        if (c == ' ' || c == '\t' || c == '\f' || c == '\r' || c == '\n') {
            if (c == '\n')
                lx->line_start = i + 1;
            i++;
            continue;
        }
        if (c == ';') {
            while (i < n && t[i] != '\n')
                i++;
            continue;
        }
        if (is_digit(c) || (c == '-' && i + 1 < n && is_digit((unsigned char)t[i + 1]))) {
            size_t j = i + (c == '-');
            int is_float = 0;
            while (j < n && is_digit((unsigned char)t[j]))
                j++;
            if (j + 1 < n && t[j] == '.' && is_digit((unsigned char)t[j + 1])) {
                j += 2;
                while (j < n && is_digit((unsigned char)t[j]))
                    j++;
                is_float = 1;
            }
            if (j < n && (t[j] == 'e' || t[j] == 'E')) {
                size_t k = j + 1;
                if (k < n && (t[k] == '-' || t[k] == '+'))
                    k++;
                if (k < n && is_digit((unsigned char)t[k])) {
                    while (k < n && is_digit((unsigned char)t[k]))
                        k++;
                    j = k;
                    is_float = 1;
                }
            }
            if (j < n && is_number_cont((unsigned char)t[j])) {
                size_t k = i + (c == '-') + 1;
                while (k < n && is_number_cont((unsigned char)t[k]))
                    k++;
                lx_error(lx, i, "malformed number '%.*s'", (int)(k - i), t + i);
                return;
            }
            lx_number(lx, i, j, is_float);
            i = j;
            continue;
        }
        if (c == '"') {
            size_t end = lx_string(lx, i);
            if (!end) {
                lx_error(lx, i, "unterminated string");
                return;
            }
            i = end;
            continue;
        }
        if (is_alpha(c) || c == '%') {
            size_t j = i + 1;
            while (j < n && is_ident_rest((unsigned char)t[j]))
                j++;
            lx_imm(lx, rt_atom(lx->ctx, t + i, j - i));
            i = j;
            continue;
        }
        rt_val tok = RT_NULL;
        switch (c) {
        case '[': tok = s->lbrack; break;
        case ']': tok = s->rbrack; break;
        case '(': tok = s->lparen; break;
        case ')': tok = s->rparen; break;
        case ':': tok = s->colon; break;
        case '.': tok = s->dot; break;
        case '!': tok = s->bang; break;
        case '=': tok = s->eq; break;
        case '\\': tok = s->backslash; break;
        case '@': tok = s->prefix[0]; break;
        case '$': tok = s->prefix[1]; break;
        case '#': tok = s->prefix[2]; break;
        case '^': tok = s->prefix[3]; break;
        }
        if (tok) {
            lx_imm(lx, tok);
            i++;
            continue;
        }
        if (c == '-') {
            lx_error(lx, i, "unexpected '-'");
        } else if (c == '`') {
            lx_error(lx, i, "unexpected '`'");
        } else {
            size_t k;
            uint32_t cp = code_point(t, n, i, &k);
            if (!cp_printable(cp))
                lx_error(lx, i, "unexpected character U+%04X", (unsigned)cp);
            else if (cp == '\'')
                lx_error(lx, i, "unexpected character \"'\"");
            else
                lx_error(lx, i, "unexpected character '%.*s'", (int)k, t + i);
        }
        return;
    }
}

/* The value of a lexed token: allocates for big integers, floats and errors. */
static rt_val lex_value(rt_worker *w, lex_tok *t)
{
    switch (t->type) {
    case LX_INT: return rt_int(w, t->i);
    case LX_FLOAT: return rt_float(w, t->d);
    case LX_ERROR: return error_of_atom(w, t->imm);
    default: return t->imm;
    }
}

/* A character of scnis's input as text: an atom's name, else str() of it. */
static void char_text(rt_ctx *ctx, rt_val c, sbuf *b)
{
    if (rt_is_atom(c)) {
        size_t n = 0;
        const char *s = rt_atom_name(ctx, c, &n);
        sb_add(b, s, n);
    } else if (rt_is_type(c, RT_T_FLOAT)) {
        py_float_repr(float_of(c), b);
    } else if (is_number(c)) {
        format_number(c, b);
    } else if (rt_is_token(c)) {
        token_text(ctx, c, b);
    } else {
        describe(ctx, c, b);
    }
}

/* One line: env [chars at the line's start]. */
static rt_val scnis_code(rt_worker *w, rt_val self)
{
    rt_ctx *ctx = w->ctx;
    rt_streams *s = streams_of(ctx);
    size_t base = sp_off(w);
    rt_push_root(w, rt_obj_of(self)->field[RT_SUSP_ENV]);     /* base: the line */
    rt_push_root(w, SLOT(base));                              /* base+1: cursor */
    size_t nchars = 0;
    int newline = 0;
    rt_val lst;
    for (;;) {
        lst = rt_force(w, SLOT(base + 1));
        if (!is_cons(lst))
            break;
        SLOT(base + 1) = lst;
        rt_val c = rt_force(w, head_of(lst));
        lst = SLOT(base + 1);
        SLOT(base + 1) = tail_of(lst);
        if (c == s->nl_atom) {
            newline = 1;
            break;
        }
        nchars++;
    }
    if (!newline) {
        if (nchars == 0) {
            rt_val r = lst == RT_NIL ? RT_NIL : not_a_list(w, "scnis", lst);
            w->sp = w->sp_base + base;
            return r;
        }
        SLOT(base + 1) = RT_NIL;       /* the last line had no newline: then the end */
    }
    /* The text: the line's cells again, all evaluated now (no safepoint). */
    sbuf b = sb_scratch(w);
    rt_val cell = peek(SLOT(base));
    for (size_t k = 0; k < nchars; k++) {
        char_text(ctx, peek(head_of(cell)), &b);
        cell = peek(tail_of(cell));
    }
    sb_scratch_keep(w, &b);
    scratch *sc = scratch_of(w);
    sc->ntoks = 0;
    lexer lx = {ctx, s, sc, b.p ? b.p : "", b.n, 0};
    lex_line(&lx);
    lx_imm(&lx, s->newline);
    /* The cells, last first; the scratch tokens stay put (no Daisy code runs). */
    reserve_for(w, 8 * ((RT_CONS_WORDS + 2) * sc->ntoks + 5));
    rt_val env[1] = {SLOT(base + 1)};
    SLOT(base) = rt_susp_new(w, scnis_code, 1, env);
    for (size_t k = sc->ntoks; k-- > 0;) {
        rt_val v = lex_value(w, &sc->toks[k]);
        SLOT(base) = rt_cons(w, v, SLOT(base));
    }
    rt_val r = SLOT(base);
    w->sp = w->sp_base + base;
    return r;
}

rt_val rt_prim_scnis(rt_worker *w, rt_val arg)
{
    return rt_susp_new(w, scnis_code, 1, &arg);
}

/* ---- prsis: tokens to forms ---------------------------------------------------------------------
 *
 * The terminals of grammar.lark that a token value stands for (streams._lark_token):
 * a number is INT or FLOAT, an identifier atom IDENT, another atom or a token with a
 * value STRING, a token by its text one of PREFIX and the punctuation; anything else
 * is not a token. */
enum { T_INT, T_FLOAT, T_STRING, T_IDENT, T_PREFIX, T_LSQB, T_RSQB, T_LPAR, T_RPAR, T_COLON,
       T_DOT, T_BANG, T_EQUAL, T_BACKSLASH, T_NONE = -1 };

static int classify(rt_ctx *ctx, rt_val t)
{
    if (rt_is_fix(t) || rt_is_type(t, RT_T_BOXINT))
        return T_INT;
    if (rt_is_type(t, RT_T_FLOAT))
        return T_FLOAT;
    if (rt_is_atom(t)) {
        size_t n = 0;
        const char *s = rt_atom_name(ctx, t, &n);
        return rt_atom_is_ident(s, n) ? T_IDENT : T_STRING;
    }
    if (!rt_is_token(t))
        return T_NONE;
    tok_entry *te = tok_info(streams_of(ctx), t);
    if (te->value == RT_UNIT)
        return T_NONE;                 /* a unit (rt_unit_named) */
    if (te->value)
        return T_STRING;
    if (te->len != 1)
        return T_NONE;
    switch (te->text[0]) {
    case '@': case '$': case '#': case '^': return T_PREFIX;
    case '[': return T_LSQB;
    case ']': return T_RSQB;
    case '(': return T_LPAR;
    case ')': return T_RPAR;
    case ':': return T_COLON;
    case '.': return T_DOT;
    case '!': return T_BANG;
    case '=': return T_EQUAL;
    case '\\': return T_BACKSLASH;
    }
    return T_NONE;
}

/* The lark token's value, as parse errors quote it. */
static void terminal_text(rt_ctx *ctx, rt_val t, sbuf *b)
{
    if (rt_is_type(t, RT_T_FLOAT))
        py_float_repr(float_of(t), b);
    else
        token_text(ctx, t, b);
}

/* The recogniser: a predictive parser for command_stream.  Symbols (fixnums on the
 * root stack, innermost on top):
 *   S_END        nothing more may come; "$END" accepted here
 *   S_CMD        a command: IDENT "=" expr | expr
 *   S_CMD_IDENT  after a command's first IDENT: "=", ":" or the end
 *   S_EXPR       an expr
 *   S_AFTER_ATOM an atom in expr position: ":" continues it, else it is done
 *   S_NEST       a finished level (a prefix, lambda or application): transparent
 *   S_LIST_FIRST S_LIST_MORE S_PLIST_FIRST S_PLIST_MORE   inside "[" ... "]"
 *   S_PATTERN, S_EXPECT_RSQB, S_EXPECT_RPAR, S_EXPECT_DOT
 * A symbol that is complete without more input (S_AFTER_ATOM, S_CMD_IDENT, S_NEST)
 * gives the token to the symbol below it. */
enum { S_END, S_CMD, S_CMD_IDENT, S_EXPR, S_AFTER_ATOM, S_NEST, S_LIST_FIRST, S_LIST_MORE,
       S_PLIST_FIRST, S_PLIST_MORE, S_PATTERN, S_EXPECT_RSQB, S_EXPECT_RPAR, S_EXPECT_DOT };

static int starts_expr(int t)
{
    return t == T_INT || t == T_FLOAT || t == T_STRING || t == T_IDENT || t == T_LSQB ||
           t == T_LPAR || t == T_BACKSLASH || t == T_PREFIX;
}

#define SYM_TOP (rt_fix_value(w->sp[-1]))
#define SYM_SET(x) (w->sp[-1] = rt_fix(x))
#define SYM_PUSH(x) rt_push_root(w, rt_fix(x))
#define SYM_POP() (w->sp--)

/* Feed terminal t to the symbol stack [sym0, sp): 0 taken, -1 a syntax error there,
 * -2 nested too deeply. */
static int rec_feed(rt_worker *w, size_t sym0, int t)
{
    for (;;) {
        if (sp_off(w) - sym0 > RT_STREAM_MAX_NESTING)
            return -2;
        switch (SYM_TOP) {
        case S_END:
            return -1;
        case S_CMD:
            if (t == T_IDENT) {
                SYM_SET(S_CMD_IDENT);
                return 0;
            }
            if (!starts_expr(t))
                return -1;
            SYM_SET(S_EXPR);
            continue;
        case S_CMD_IDENT:
            if (t == T_EQUAL) {
                SYM_SET(S_EXPR);
                return 0;
            }
            if (t == T_COLON) {
                SYM_SET(S_NEST);
                SYM_PUSH(S_EXPR);
                return 0;
            }
            SYM_POP();
            continue;
        case S_EXPR:
            switch (t) {
            case T_INT: case T_FLOAT: case T_STRING: case T_IDENT:
                SYM_SET(S_AFTER_ATOM);
                return 0;
            case T_LSQB:
                SYM_SET(S_AFTER_ATOM);
                SYM_PUSH(S_LIST_FIRST);
                return 0;
            case T_LPAR:
                SYM_SET(S_AFTER_ATOM);
                SYM_PUSH(S_EXPECT_RPAR);
                SYM_PUSH(S_EXPR);
                return 0;
            case T_BACKSLASH:
                SYM_SET(S_NEST);
                SYM_PUSH(S_EXPR);
                SYM_PUSH(S_EXPECT_DOT);
                SYM_PUSH(S_PATTERN);
                return 0;
            case T_PREFIX:
                SYM_SET(S_NEST);
                SYM_PUSH(S_EXPR);
                return 0;
            }
            return -1;
        case S_AFTER_ATOM:
            if (t == T_COLON) {
                SYM_SET(S_NEST);
                SYM_PUSH(S_EXPR);
                return 0;
            }
            SYM_POP();
            continue;
        case S_NEST:
            SYM_POP();
            continue;
        case S_LIST_FIRST:
        case S_LIST_MORE:
            if (t == T_RSQB) {
                SYM_POP();
                return 0;
            }
            if (t == T_BANG && SYM_TOP == S_LIST_MORE) {
                SYM_SET(S_EXPECT_RSQB);
                SYM_PUSH(S_EXPR);
                return 0;
            }
            if (!starts_expr(t))
                return -1;
            SYM_SET(S_LIST_MORE);
            SYM_PUSH(S_EXPR);
            continue;
        case S_PATTERN:
            if (t == T_IDENT) {
                SYM_POP();
                return 0;
            }
            if (t == T_LSQB) {
                SYM_SET(S_PLIST_FIRST);
                return 0;
            }
            return -1;
        case S_PLIST_FIRST:
        case S_PLIST_MORE:
            if (t == T_RSQB) {
                SYM_POP();
                return 0;
            }
            if (t == T_BANG && SYM_TOP == S_PLIST_MORE) {
                SYM_SET(S_EXPECT_RSQB);
                SYM_PUSH(S_PATTERN);
                return 0;
            }
            if (t != T_IDENT && t != T_LSQB)
                return -1;
            SYM_SET(S_PLIST_MORE);
            SYM_PUSH(S_PATTERN);
            continue;
        case S_EXPECT_RSQB:
        case S_EXPECT_RPAR:
        case S_EXPECT_DOT: {
            int want = SYM_TOP == S_EXPECT_RSQB ? T_RSQB : SYM_TOP == S_EXPECT_RPAR ? T_RPAR : T_DOT;
            if (t != want)
                return -1;
            SYM_POP();
            return 0;
        }
        default:
            return -1;
        }
    }
}

/* Would "$END" be accepted: is the command complete? */
static int rec_complete(rt_worker *w, size_t sym0)
{
    for (rt_val *p = w->sp; p-- > w->sp_base + sym0;) {
        int64_t x = rt_fix_value(*p);
        if (x == S_END)
            return 1;
        if (x != S_AFTER_ATOM && x != S_NEST && x != S_CMD_IDENT)
            return 0;
    }
    return 0;
}

/* The builder: recursive descent over a complete command's token cells, which are
 * all evaluated, so reading them is no safepoint; the forms of forms.py
 * form_of_syntax(node, literal_strings) as they are made stay on the root stack. */
typedef struct builder {
    rt_worker *w;
    rt_streams *s;
    size_t cur;                /* root slot: the cell of the next token */
    int64_t left;              /* tokens of the command not yet taken */
    int bad;                   /* a float literal out of range, or too deep */
} builder;

static rt_val b_peek(builder *b)
{
    rt_worker *w = b->w;
    while (b->left > 0 && b->bad != 2) {
        rt_val cell = peek(SLOT(b->cur));
        rt_val t = peek(head_of(cell));
        if (t != b->s->newline)
            return t;
        SLOT(b->cur) = tail_of(cell);
    }
    return RT_NULL;
}

static int b_peek_term(builder *b)
{
    rt_val t = b_peek(b);
    return t ? classify(b->w->ctx, t) : T_NONE;
}

static void b_advance(builder *b)
{
    rt_worker *w = b->w;
    if (!b_peek(b))
        return;                                    /* abandoned: too deep */
    SLOT(b->cur) = tail_of(peek(SLOT(b->cur)));
    b->left--;
}

static rt_val b_form(builder *b, uint32_t kind, rt_val f0, rt_val f1)
{
    rt_val f[2] = {f0, f1};
    return rt_form_new(b->w, kind, 2, f);     /* roots its fields */
}

static int b_too_deep(builder *b)
{
    char here;
    if ((uintptr_t)&here < b->w->stack_limit + 65536) {
        b->bad = 2;
        return 1;
    }
    return 0;
}

static rt_val b_expr(builder *b, int ls);

/* "[" items ("!" tail)? "]", the "[" taken; items by item(b, ls). */
static rt_val b_list(builder *b, int ls, rt_val (*item)(builder *, int))
{
    rt_worker *w = b->w;
    size_t k = sp_off(w);
    rt_val tail = RT_NIL;
    for (;;) {
        int t = b_peek_term(b);
        if (t == T_RSQB || t == T_NONE) {
            b_advance(b);
            break;
        }
        if (t == T_BANG) {
            b_advance(b);
            tail = item(b, ls);
            b_advance(b);                          /* "]" */
            break;
        }
        rt_push_root(w, item(b, ls));
    }
    rt_push_root(w, tail);
    size_t last = sp_off(w) - 1;
    for (size_t i = last; i-- > k;)
        SLOT(last) = rt_cons(w, SLOT(i), SLOT(last));
    rt_val r = SLOT(last);
    w->sp = w->sp_base + k;
    return r;
}

static rt_val b_pattern(builder *b, int ls)
{
    (void)ls;
    rt_val t = b_peek(b);
    b_advance(b);
    if (t == b->s->lbrack)
        return b_too_deep(b) ? RT_NIL : b_list(b, 0, b_pattern);
    return t ? t : RT_NIL;                         /* a name: its atom */
}

static rt_val b_atom(builder *b, int ls)
{
    rt_ctx *ctx = b->w->ctx;
    rt_val t = b_peek(b);
    int term = classify(ctx, t);
    b_advance(b);
    switch (term) {
    case T_FLOAT:
        if (isinf(float_of(t)))
            b->bad = 1;                            /* number_value rejects it */
        return t;
    case T_STRING: {
        rt_val a = rt_is_token(t) ? tok_info(b->s, t)->value : t;
        size_t n = 0;
        const char *s = rt_atom_name(ctx, a, &n);
        if (ls && rt_atom_is_ident(s, n))
            return b_form(b, RT_FORM_ANNOTATION, b->s->caret_atom, a);
        return a;
    }
    case T_LSQB:
        return b_list(b, ls, b_expr);
    case T_LPAR: {
        rt_val e = b_expr(b, ls);
        b_advance(b);                              /* ")" */
        return e;
    }
    default:                                       /* INT, IDENT */
        return t ? t : RT_NIL;
    }
}

static rt_val b_expr(builder *b, int ls)
{
    rt_worker *w = b->w;
    if (b_too_deep(b))
        return RT_NIL;
    rt_val t = b_peek(b);
    int term = classify(w->ctx, t);
    if (term == T_PREFIX) {
        b_advance(b);
        size_t n = 0;
        const char *op = rt_token_text(w->ctx, t, &n, NULL, NULL);
        rt_val e = b_expr(b, ls && op[0] != '^');
        return b_form(b, RT_FORM_ANNOTATION, rt_atom(w->ctx, op, n), e);
    }
    if (term == T_BACKSLASH) {
        b_advance(b);
        rt_push_root(w, b_pattern(b, 0));
        b_advance(b);                              /* "." */
        rt_val body = b_expr(b, ls);
        rt_val param = rt_pop_root(w);
        return b_form(b, RT_FORM_FUNCTION, param, body);
    }
    rt_val a = b_atom(b, ls);
    if (b_peek_term(b) != T_COLON)
        return a;
    b_advance(b);
    rt_push_root(w, a);
    rt_val arg = b_expr(b, ls);
    a = rt_pop_root(w);
    return b_form(b, RT_FORM_APPLY, a, arg);
}

/* The form of the command of `n` tokens whose first cell is in root slot `start`. */
static rt_val b_command(rt_worker *w, rt_streams *s, size_t start, int64_t n, int64_t line)
{
    builder b = {w, s, sp_off(w), n, 0};
    rt_push_root(w, SLOT(start));
    rt_val r;
    rt_val t = b_peek(&b);
    int define = 0;
    if (classify(w->ctx, t) == T_IDENT && n >= 2) {
        /* the token after the name, without moving */
        rt_val cell = peek(tail_of(peek(SLOT(b.cur))));
        rt_val u;
        while ((u = peek(head_of(cell))) == s->newline)
            cell = peek(tail_of(cell));
        define = u == s->eq;
    }
    if (define) {
        b_advance(&b);
        b_advance(&b);
        rt_val e = b_expr(&b, 1);
        r = b_form(&b, RT_FORM_DEFINE, t, e);
    } else {
        r = b_expr(&b, 1);
    }
    w->sp = w->sp_base + b.cur;
    if (b.bad == 2)
        return stream_error(w, "syntax error on line %lld: the command is nested too deeply",
                            (long long)line);
    if (b.bad)
        return stream_error(w, "syntax error on line %lld: float literal inf is out of range",
                            (long long)line);
    return r;
}

/* The last (up to) 8 tokens of the command of n tokens from the cell in slot
 * `start`, spelled (streams._spelled). */
static void spelled_tail(rt_worker *w, rt_streams *s, size_t start, int64_t n, sbuf *b)
{
    rt_val ring[8];
    int64_t seen = 0;
    rt_val cell = peek(SLOT(start));
    while (seen < n) {
        rt_val t = peek(head_of(cell));
        if (t != s->newline)
            ring[seen++ % 8] = t;
        if (seen < n)
            cell = peek(tail_of(cell));
    }
    int prev = RT_PK_NONE;
    int64_t from = seen > 8 ? seen - 8 : 0;
    for (int64_t i = from; i < seen; i++) {
        spell(w->ctx, prev, ring[i % 8], b);
        prev = word_class(w->ctx, ring[i % 8]);
    }
}

/* One command: env [tokens, line]. */
static rt_val prsis_code(rt_worker *w, rt_val self)
{
    rt_ctx *ctx = w->ctx;
    rt_streams *s = streams_of(ctx);
    size_t base = sp_off(w);
    int64_t line = rt_fix_value(rt_obj_of(self)->field[RT_SUSP_ENV + 1]);
    rt_push_root(w, RT_NIL);                                  /* base: the command's start */
    rt_push_root(w, rt_obj_of(self)->field[RT_SUSP_ENV]);     /* base+1: cursor */
    rt_push_root(w, RT_NIL);                                  /* base+2: the cell in hand */
    size_t sym0 = base + 3;
    int64_t nfed = 0, first_line = 0;
    rt_val r;
    for (;;) {
        rt_val lst = rt_force(w, SLOT(base + 1));
        if (!is_cons(lst)) {
            if (nfed) {
                rt_val e = stream_error(w, "syntax error: the input ends inside the command "
                                           "begun on line %lld", (long long)first_line);
                r = rt_cons(w, e, RT_NIL);
            } else {
                r = lst == RT_NIL ? RT_NIL : not_a_list(w, "prsis", lst);
            }
            break;
        }
        SLOT(base + 2) = lst;
        rt_val tok = rt_force(w, head_of(lst));
        lst = SLOT(base + 2);
        SLOT(base + 1) = tail_of(lst);
        if (tok == s->newline) {
            line++;
            if (nfed && rec_complete(w, sym0)) {
                w->sp = w->sp_base + sym0;
                reserve_for(w, 8 * (2 * RT_CONS_WORDS * (size_t)nfed + 12));
                rt_val form = b_command(w, s, base, nfed, line);
                rt_push_root(w, form);
                rt_val env[2] = {SLOT(base + 1), rt_fix(line)};
                rt_val next = rt_susp_new(w, prsis_code, 2, env);
                r = rt_cons(w, rt_pop_root(w), next);
                break;
            }
            continue;
        }
        rt_val problem;
        int term = rt_is_error(tok) ? T_NONE : classify(ctx, tok);
        if (rt_is_error(tok)) {
            problem = tok;
        } else if (term == T_NONE) {
            sbuf b = {0};
            sb_printf(&b, "syntax error on line %lld: ", (long long)line + 1);
            describe(ctx, tok, &b);
            sb_adds(&b, " is not a token");
            rt_val a = msg_atom(ctx, &b);
            free(b.p);
            problem = error_of_atom(w, a);
        } else {
            if (nfed == 0) {
                SLOT(base) = lst;
                first_line = line + 1;
                w->sp = w->sp_base + sym0;
                SYM_PUSH(S_END);
                SYM_PUSH(S_CMD);
            }
            int fed = rec_feed(w, sym0, term);
            if (fed == 0) {
                nfed++;
                continue;
            }
            sbuf b = {0};
            if (fed == -2) {
                sb_printf(&b, "syntax error on line %lld: the command is nested too deeply",
                          (long long)line + 1);
            } else {
                sb_printf(&b, "syntax error on line %lld: unexpected '", (long long)line + 1);
                terminal_text(ctx, tok, &b);
                sb_adds(&b, "'");
                if (nfed) {
                    sb_adds(&b, " after ");
                    spelled_tail(w, s, base, nfed, &b);
                }
            }
            rt_val a = msg_atom(ctx, &b);
            free(b.p);
            problem = error_of_atom(w, a);
        }
        /* skip the rest of the line, then hand the problem on as the form */
        w->sp = w->sp_base + sym0;
        rt_push_root(w, problem);
        for (;;) {
            lst = rt_force(w, SLOT(base + 1));
            if (!is_cons(lst))
                break;
            SLOT(base + 2) = lst;
            rt_val t = rt_force(w, head_of(lst));
            SLOT(base + 1) = tail_of(SLOT(base + 2));
            if (t == s->newline) {
                line++;
                break;
            }
        }
        rt_val env[2] = {SLOT(base + 1), rt_fix(line)};
        rt_val next = rt_susp_new(w, prsis_code, 2, env);
        r = rt_cons(w, SLOT(sym0), next);
        break;
    }
    w->sp = w->sp_base + base;
    return r;
}

rt_val rt_prim_prsis(rt_worker *w, rt_val arg)
{
    rt_val env[2] = {arg, rt_fix(0)};
    return rt_susp_new(w, prsis_code, 2, env);
}

/* ---- the printer over a persistent stack: prsos and scnos ------------------------------------
 *
 * printer.tokens_of, with its stack as a heap list in a root slot: a cell's code
 * takes the list from its environment, pops and pushes (consing a new list, never
 * changing the old), and leaves the list for the next cell in that cell's
 * environment.  Items are values still to print, punctuation tokens, and PR_REST
 * followed by a list cell: "the rest of this list". */

static void pr_push(rt_worker *w, size_t ps, rt_val v)
{
    SLOT(ps) = rt_cons(w, v, SLOT(ps));
}

/* The next token of the printing in slot ps, or RT_NULL when it is done.  A token
 * that is a heap value (a big integer, a float) is returned unrooted. */
static rt_val pr_next(rt_worker *w, size_t ps)
{
    rt_ctx *ctx = w->ctx;
    rt_streams *s = streams_of(ctx);
    for (;;) {
        rt_val pend = SLOT(ps);
        if (pend == RT_NIL)
            return RT_NULL;
        rt_val x = head_of(pend);
        SLOT(ps) = tail_of(pend);
        if (x == PR_REST) {
            rt_val cell = head_of(SLOT(ps));
            SLOT(ps) = tail_of(SLOT(ps));
            rt_val tail = rt_force(w, tail_of(cell));
            if (tail == RT_NIL)
                return s->rbrack;
            rt_push_root(w, tail);
            if (is_cons(tail)) {
                pr_push(w, ps, w->sp[-1]);
                pr_push(w, ps, PR_REST);
                pr_push(w, ps, head_of(w->sp[-1]));
                w->sp--;
                continue;
            }
            pr_push(w, ps, s->rbrack);
            pr_push(w, ps, w->sp[-1]);
            w->sp--;
            return s->bang;
        }
        x = rt_force(w, x);
        if (rt_is_token(x) || is_number(x))
            return x;
        if (rt_is_atom(x)) {
            size_t n = 0;
            const char *name = rt_atom_name(ctx, x, &n);
            if (rt_atom_is_ident(name, n))
                return x;
            sbuf b = sb_scratch(w);
            quote_string(name, n, &b);
            sb_scratch_keep(w, &b);
            return tok_make(s, b.p, b.n, RT_PK_WORD, x);
        }
        if (x == RT_NIL) {
            pr_push(w, ps, s->rbrack);
            return s->lbrack;
        }
        if (x == RT_UNIT)
            return tok_make(s, "<screen>", 8, RT_PK_WORD, RT_NULL);
        if (rt_is_error(x)) {
            size_t n = 0;
            const char *m = rt_atom_name(ctx, rt_obj_of(x)->field[0], &n);
            sbuf b = sb_scratch(w);
            sb_adds(&b, "<error: ");
            sb_add(&b, m ? m : "?", m ? n : 1);
            sb_adds(&b, ">");
            sb_scratch_keep(w, &b);
            return tok_make(s, b.p, b.n, RT_PK_WORD, RT_NULL);
        }
        if (rt_is_prim(x) || rt_is_type(x, RT_T_CLOSURE)) {
            char buf[256];
            size_t n = rt_print_function_text(ctx, x, buf, sizeof buf);
            return tok_make(s, buf, n, RT_PK_WORD, RT_NULL);
        }
        rt_push_root(w, x);
        if (is_cons(x)) {
            pr_push(w, ps, w->sp[-1]);
            pr_push(w, ps, PR_REST);
            pr_push(w, ps, head_of(w->sp[-1]));
            w->sp--;
            return s->lbrack;
        }
        if (rt_is_type(x, RT_T_FORM)) {
#define FIELD(i) (rt_obj_of(w->sp[-1])->field[(i)])
            switch (rt_hdr_aux(rt_obj_of(x)->header)) {
            case RT_FORM_APPLY:
                pr_push(w, ps, FIELD(1));
                pr_push(w, ps, s->colon);
                if (rt_is_type(FIELD(0), RT_T_FORM)) {
                    pr_push(w, ps, s->rparen);
                    pr_push(w, ps, FIELD(0));
                    pr_push(w, ps, s->lparen);
                } else {
                    pr_push(w, ps, FIELD(0));
                }
                break;
            case RT_FORM_FUNCTION:
                pr_push(w, ps, FIELD(1));
                pr_push(w, ps, s->dot);
                pr_push(w, ps, FIELD(0));
                pr_push(w, ps, s->backslash);
                break;
            case RT_FORM_ANNOTATION: {
                pr_push(w, ps, FIELD(1));
                size_t n = 0;
                const char *op = rt_atom_name(ctx, FIELD(0), &n);
                const char *at = op && n == 1 ? strchr("@$#^", op[0]) : NULL;
                pr_push(w, ps, s->prefix[at && *at ? at - "@$#^" : 3]);
                break;
            }
            case RT_FORM_DEFINE:
                pr_push(w, ps, FIELD(1));
                pr_push(w, ps, s->eq);
                pr_push(w, ps, FIELD(0));
                break;
            default:
                w->sp--;
                return tok_make(s, "<form>", 6, RT_PK_WORD, RT_NULL);
            }
#undef FIELD
            w->sp--;
            continue;
        }
        w->sp--;
        return tok_make(s, "<value>", 7, RT_PK_WORD, RT_NULL);
    }
}

/* prsos: env [values, pending, mode]; mode 0: take the next value, 1: printing one
 * (pending is its printer stack). */
static rt_val prsos_code(rt_worker *w, rt_val self)
{
    rt_streams *s = streams_of(w->ctx);
    size_t base = sp_off(w);
    rt_obj *o = rt_obj_of(self);
    int64_t mode = rt_fix_value(o->field[RT_SUSP_ENV + 2]);
    rt_push_root(w, o->field[RT_SUSP_ENV]);          /* base: values */
    rt_push_root(w, rt_obj_of(self)->field[RT_SUSP_ENV + 1]);   /* base+1: pending */
    rt_val r, tok;
    for (;;) {
        if (mode == 0) {
            rt_val lst = rt_force(w, SLOT(base));
            if (!is_cons(lst)) {
                if (lst == RT_NIL) {
                    r = RT_NIL;
                } else {
                    rt_val t = tok_make(s, "<error: prsos expects a list>", 29, RT_PK_WORD, RT_NULL);
                    r = rt_cons(w, t, RT_NIL);
                }
                goto done;
            }
            SLOT(base) = lst;
            rt_val v = rt_force(w, head_of(lst));
            SLOT(base) = tail_of(SLOT(base));
            if (rt_is_unit(w->ctx, v))
                continue;                  /* a top-level unit: no tokens, no newline */
            SLOT(base + 1) = rt_cons(w, v, RT_NIL);
            mode = 1;
        }
        tok = pr_next(w, base + 1);
        if (tok)
            break;
        tok = s->newline;
        mode = 0;
        break;
    }
    rt_push_root(w, tok);
    {
        rt_val env[3] = {SLOT(base), SLOT(base + 1), rt_fix(mode)};
        rt_val next = rt_susp_new(w, prsos_code, 3, env);
        r = rt_cons(w, SLOT(base + 2), next);
    }
done:
    w->sp = w->sp_base + base;
    return r;
}

rt_val rt_prim_prsos(rt_worker *w, rt_val arg)
{
    rt_val env[3] = {arg, RT_NIL, rt_fix(0)};
    return rt_susp_new(w, prsos_code, 3, env);
}

/* scnos: env [tokens, pending, prev, inner, mode]; prev is the spacing kind of the
 * last token spelled; mode 1 spells a value that is not a token (text_of), its
 * printer stack in pending and its own spacing in inner. */
static rt_val scnos_code(rt_worker *w, rt_val self)
{
    rt_ctx *ctx = w->ctx;
    size_t base = sp_off(w);
    rt_obj *o = rt_obj_of(self);
    int prev = (int)rt_fix_value(o->field[RT_SUSP_ENV + 2]);
    int inner = (int)rt_fix_value(o->field[RT_SUSP_ENV + 3]);
    int mode = (int)rt_fix_value(o->field[RT_SUSP_ENV + 4]);
    rt_push_root(w, o->field[RT_SUSP_ENV]);                     /* base: tokens */
    rt_push_root(w, rt_obj_of(self)->field[RT_SUSP_ENV + 1]);   /* base+1: pending */
    rt_val r;
    for (;;) {
        rt_val tok;
        int *kind;
        if (mode == 0) {
            rt_val lst = rt_force(w, SLOT(base));
            if (!is_cons(lst)) {
                r = lst == RT_NIL ? RT_NIL : not_a_list(w, "scnos", lst);
                break;
            }
            SLOT(base) = lst;
            tok = rt_force(w, head_of(lst));
            SLOT(base) = tail_of(SLOT(base));
            if (!(is_number(tok) || rt_is_atom(tok) || rt_is_token(tok))) {
                SLOT(base + 1) = rt_cons(w, tok, RT_NIL);
                mode = 1;
                inner = RT_PK_NONE;
                continue;
            }
            kind = &prev;
        } else {
            tok = pr_next(w, base + 1);
            if (!tok) {
                mode = 0;
                prev = RT_PK_WORD;
                continue;
            }
            kind = &inner;
        }
        /* spell it into the scratch text: no safepoint until the cells are made */
        sbuf b = sb_scratch(w);
        spell(ctx, *kind, tok, &b);
        sb_scratch_keep(w, &b);
        *kind = word_class(ctx, tok);
        if (b.n == 0)
            continue;
        reserve_for(w, 8 * (RT_CONS_WORDS * b.n + 9));
        rt_val env[5] = {SLOT(base), SLOT(base + 1), rt_fix(prev), rt_fix(inner), rt_fix(mode)};
        rt_push_root(w, rt_susp_new(w, scnos_code, 5, env));
        chars_onto(w, scratch_of(w)->text, b.n, base + 2);
        r = SLOT(base + 2);
        break;
    }
    w->sp = w->sp_base + base;
    return r;
}

rt_val rt_prim_scnos(rt_worker *w, rt_val arg)
{
    rt_val env[5] = {arg, RT_NIL, rt_fix(RT_PK_NONE), rt_fix(RT_PK_NONE), rt_fix(0)};
    return rt_susp_new(w, scnos_code, 5, env);
}
