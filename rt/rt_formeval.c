/* rt_formeval.c -- `val` of a form without a compiler.
 *
 * The JIT evaluates a form made at run time (by `prsis`, or a quoted form whose
 * code the runtime has forgotten, Note [Forms with code] in jit/lower.py) by
 * compiling it through the context's eval hook.  An ahead-of-time executable has
 * no compiler and installs no hook; `val` then comes here, and the form is
 * evaluated by walking it.  The reference is the interpreter's `eval_form`
 * (interp/interpreter.py): core_of_form (interp/forms.py, frontend/desugar.py,
 * frontend/resolve.py) turns the form into core IR or an error text, and
 * interp/eval.py evaluates the IR.  This file does both on the form itself.
 *
 * Design.
 *   - Checking first.  The interpreter converts the whole form before running
 *     any of it, so a malformed part anywhere is the answer, whatever would have
 *     run first: rt_formeval checks the whole form in two passes without
 *     allocating (so raw pointers stay valid), one for what syntax_of_form
 *     rejects, one for desugar's shape rules, each finding the first problem in
 *     the order that pass meets it, with its message.  The walks keep their work
 *     on malloc'd stacks, never in C recursion.  What passes both cannot go wrong
 *     while it runs.
 *   - Evaluation over the form (fe_eval): Note [Evaluating forms].
 *   - Environments are heap objects (form objects of a private kind), so
 *     compaction moves them: an environment frame is
 *         [parent, pattern, v0 .. vk-1]      (FE_ENV, binders inline)
 *         [parent, pattern, [v0 .. vk-1]]    (FE_ENV_LIST, a pattern with many)
 *     where v0.. are the pattern's binders in interp's pattern_names order,
 *     selected when the frame is made, as interp/eval.py bind does (Note [Lazy
 *     patterns] there): a field of a value that is still suspended is a selector
 *     suspension, so a binder is a suspension exactly when the interpreter's is.
 *     A name is looked up by walking the frames and each pattern (no allocation);
 *     a name bound by no frame is rt_toplevel_lookup's.
 *   - Every heap value held across a safepoint is in a slot of the root stack
 *     (Note [Roots]), addressed from a mark taken on entry, and re-read after
 *     each call that can allocate or force.
 *   - Closures made here print as <function> (or <function NAME> for a
 *     definition's, as interp names a top-level lambda): their code is
 *     fe_closure_code and their name a free variable (rt_print.c asks
 *     rt_formeval_closure_name).
 *
 * Note [Evaluating forms]
 * ~~~~~~~~~~~~~~~~~~~~~~~
 * fe_eval(w, form, env, shallow) is interp/eval.py `ev` over the form instead of
 * core IR.  A name is a local binder or a top-level name (every free name is
 * looked up when it runs: REPL resolution); a string (an atom that is not an
 * identifier) and a number are themselves; a list is a list expression; an
 * application whose function is `let rec fix if` is that special form with
 * desugar's meaning (fix:[P ! E] is rec with the whole value as its result; E is
 * the rest of the list after P); `^E` is E as it stands (the interpreter's round
 * trip through the surface tree makes an equal form, and forms are compared by
 * nothing); `@E` in an evaluated position is E; `$E` evaluates E where it
 * stands; `#E` is rt_deep_force of E's value.
 *
 * Suspended positions (arguments, `let` values, list elements and tails) follow
 * eval.py `delay` exactly, because %SpnHd? and %SpnTl? can tell a suspension from
 * a value: numbers, strings, names (their binding as it is), lambdas and `^E` are
 * stored as they are, `@E` is a suspension that is sparked (unless E is one of
 * those), a list literal is built at once when nothing in it is `$` or `#`, with
 * its nested list literals suspended (build_list), everything else is a
 * suspension of the form in its environment (fe_susp_code).  `$E` and `#E` in a
 * suspended position are evaluated at once (fe_now): `$` in shallow mode, where a
 * name in tail position is handed back unforced.  An evaluated list literal
 * makes its `$`/`#` elements from the last to the first, as eval.py does.
 *
 * Tail positions (a closure's body, `if` branches, `let` bodies) loop inside
 * fe_eval, so a tail call of a closure made here takes no C stack; a closure the
 * program compiled is called through rt_apply, whose result may be lazy (the
 * JIT's code returns lazily), so it is forced unless in shallow mode.  Closure
 * and suspension code evaluate in shallow mode and leave the last force to the
 * caller, as generated code does.  Every entry checks the C and root stacks, as
 * generated code does: past them the value is the error `stack exhausted`.
 *
 * rec and fix make their frame and the value's suspension (or closure) in one
 * reservation, each pointing at the other, then select the binders from the
 * value and store them into the frame: the one write into an object after it is
 * made, before anything else can reach the frame, with the write barrier in case
 * a collection promoted the frame meanwhile (as rt_cons_set_tail does).
 *
 * A definition form makes a new global root for the name (rt_toplevel_define),
 * makes the runtime forget the code compiled for quoted forms (they may call the
 * name directly), and evaluates to the unit `<defined NAME>`, as the JIT does.
 */
#define _GNU_SOURCE
#include "rt_internal.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Environment frames: form objects of kinds no form has (describe: "a value"). */
enum { FE_ENV = 16, FE_ENV_LIST = 17 };
#define FE_INLINE_MAX 64          /* binders kept inline in a frame */
/* Deeper than this, the interpreter's passes exceed their recursion limit
 * (frontend/parse.py RECURSION_LIMIT: at least one Python frame a level); no
 * form the runtime can make is nearly this deep (source nesting is at most
 * NESTING_LIMIT, prsis's RT_STREAM_MAX_NESTING less). */
#define FE_MAX_NESTING 200000
#define FE_ROOM 4096              /* root-stack words kept free, as rt_force_slow */

/* closure free variables */
enum { CL_ENV = RT_CLOSURE_FREE, CL_PARAM, CL_BODY, CL_NAME, CL_NFREE = 4 };

/* ==== small helpers ================================================================= */

static inline size_t sp_off(rt_worker *w) { return (size_t)(w->sp - w->sp_base); }
#define SLOT(i) (w->sp_base[(i)])

static inline int is_cons(rt_val v) { return rt_is_type(v, RT_T_CONS); }
static inline int is_susp(rt_val v) { return rt_is_type(v, RT_T_SUSP); }
static inline int is_num(rt_val v)
{
    return rt_is_fix(v) || rt_is_type(v, RT_T_BOXINT) || rt_is_type(v, RT_T_FLOAT);
}
static inline uint32_t form_kind(rt_val v)
{
    return rt_is_type(v, RT_T_FORM) ? rt_hdr_aux(rt_obj_of(v)->header) : 0;
}
static inline rt_val field(rt_val v, int i) { return rt_obj_of(v)->field[i]; }

/* v, or an evaluated suspension's value (forms never hold suspensions the runtime
 * made them with; one a compaction has not replaced yet is looked through, as the
 * JIT's HeapReader does).  An unevaluated one is returned as it is. */
static inline rt_val fld(rt_val v)
{
    while (is_susp(v) &&
           atomic_load_explicit((_Atomic uint64_t *)&rt_obj_of(v)->field[RT_SUSP_STATE],
                                memory_order_acquire) == RT_SUSP_EVALUATED)
        v = atomic_load_explicit((_Atomic rt_val *)&rt_obj_of(v)->field[RT_SUSP_VALUE],
                                 memory_order_relaxed);
    return v;
}
static inline int unevaluated(rt_val v) { return is_susp(v); }   /* after fld */

/* A binding as eval.py delay hands it on: an evaluated suspension's value. */
static inline rt_val peek(rt_val v) { return fld(v); }

static inline int stack_low(rt_worker *w)
{
    return (uintptr_t)__builtin_frame_address(0) < w->stack_limit ||
           w->sp_limit - w->sp < FE_ROOM;
}

/* ---- the atoms the evaluator compares with, interned once per context ---- */
enum { A_LET, A_REC, A_FIX, A_IF, A_QUOTE, A_SPARK, A_NOW, A_DEEP, A__N };
static const char *const atom_text[A__N] = {"let", "rec", "fix", "if", "^", "@", "$", "#"};

static rt_val fe_atom(rt_ctx *ctx, int i)
{
    rt_val a = atomic_load_explicit(&ctx->formeval_atoms[i], memory_order_relaxed);
    if (!a) {
        a = rt_atom(ctx, atom_text[i], strlen(atom_text[i]));
        atomic_store_explicit(&ctx->formeval_atoms[i], a, memory_order_relaxed);
    }
    return a;
}

/* A_LET .. A_IF for a reserved word, else -1. */
static int reserved(rt_ctx *ctx, rt_val v)
{
    if (!rt_is_atom(v))
        return -1;
    for (int i = A_LET; i <= A_IF; i++)
        if (v == fe_atom(ctx, i))
            return i;
    return -1;
}

static int is_ident(rt_ctx *ctx, rt_val v)
{
    size_t n = 0;
    const char *s = rt_is_atom(v) ? rt_atom_name(ctx, v, &n) : NULL;
    return s && rt_atom_is_ident(s, n);
}

/* `$E` or `#E`: evaluated at once in a suspended position. */
static int is_now(rt_ctx *ctx, rt_val f)
{
    if (form_kind(f) != RT_FORM_ANNOTATION)
        return 0;
    rt_val op = fld(field(f, 0));
    return op == fe_atom(ctx, A_NOW) || op == fe_atom(ctx, A_DEEP);
}

/* ---- messages ---- */

/* A malloc'd message; '>' is written '}' when the error value is made. */
static char *msgf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *msgf(const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *m = malloc(n < 0 ? 1 : (size_t)n + 1);
    if (!m)
        rt_fatal("out of memory for a message");
    if (n < 0)
        m[0] = 0;
    else
        vsnprintf(m, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    return m;
}

/* The atom's name, at most 200 bytes of it, for a message. */
static const char *name_of(rt_ctx *ctx, rt_val a, int *len)
{
    size_t n = 0;
    const char *s = rt_is_atom(a) ? rt_atom_name(ctx, a, &n) : NULL;
    if (!s) {
        *len = 1;
        return "?";
    }
    *len = (int)(n > 100000 ? 100000 : n);
    return s;
}

/* The error value "val: MSG" (the message freed first: nothing leaks if the
 * allocation unwinds). */
static rt_val val_error(rt_worker *w, char *msg)
{
    size_t n = strlen(msg);
    char *t = malloc(n + 6);
    if (!t)
        rt_fatal("out of memory for a message");
    memcpy(t, "val: ", 5);
    memcpy(t + 5, msg, n + 1);
    free(msg);
    for (char *p = t; *p; p++)
        if (*p == '>')
            *p = '}';
    rt_val a = rt_atom(w->ctx, t, n + 5);
    free(t);
    rt_obj *o = rt_alloc(w, RT_HDR(RT_T_ERROR, 0, 0, 1));
    o->field[0] = a;
    return rt_val_of(o);
}

/* ==== checking (no allocation, no safepoint) ========================================= */

/* A work stack in C memory: nothing here can unwind, so it cannot leak. */
typedef struct fe_item { rt_val v; uint32_t depth; uint8_t tag, list; } fe_item;
typedef struct fe_stack { fe_item *a; size_t n, cap; } fe_stack;

static void st_push(fe_stack *s, rt_val v, uint32_t depth, int tag, int list)
{
    RT_GROW(s->a, s->n, s->cap, 64, "form check");
    s->a[s->n++] = (fe_item){v, depth, (uint8_t)tag, (uint8_t)list};
}

/* interp/values.py class names, for "a X is not a form". */
static const char *class_name(rt_ctx *ctx, rt_val v)
{
    if (rt_is_prim(v))
        return "prim";
    if (rt_is_type(v, RT_T_CLOSURE))
        return "closure";
    if (rt_is_type(v, RT_T_ERROR))
        return "error";
    if (rt_is_token(v))
        return "token";
    if (v == RT_UNIT || rt_is_unit(ctx, v))
        return "unit";
    if (is_susp(v))
        return "thunk";
    return "value";
}

/* Pass 1, interp/forms.py syntax_of_form: what spells no surface tree.  tag is 1
 * for a pattern (a lambda's parameter); list marks the rest of a list. */
static char *check_syntax(rt_ctx *ctx, rt_val form)
{
    fe_stack s = {0};
    char *err = NULL;
    st_push(&s, form, 0, 0, 0);
    while (s.n && !err) {
        fe_item it = s.a[--s.n];
        rt_val v = fld(it.v);
        int pattern = it.tag;
        if (it.depth > FE_MAX_NESTING) {
            err = msgf("form nested too deeply");
            break;
        }
        if (it.list) {                             /* a list's rest: its fields */
            if (is_cons(v)) {
                rt_val h = fld(field(v, 0)), t = fld(field(v, 1));
                if (unevaluated(h) || unevaluated(t)) {
                    err = msgf("a form still being computed");
                    break;
                }
                st_push(&s, t, it.depth, pattern, 1);
                st_push(&s, h, it.depth + 1, pattern, 0);
                continue;
            }
            if (v == RT_NIL)
                continue;
        }
        if (is_num(v)) {
            if (pattern)
                err = msgf("a number is not a pattern");
        } else if (rt_is_atom(v) || v == RT_NIL) {
            /* a name, a string, [] */
        } else if (is_cons(v)) {
            st_push(&s, v, it.depth, pattern, 1);
        } else if (pattern) {
            err = msgf(unevaluated(v) ? "a form still being computed" : "not a pattern");
        } else {
            uint32_t d = it.depth + 1;
            switch (form_kind(v)) {
            case RT_FORM_APPLY:
                st_push(&s, field(v, 1), d, 0, 0);
                st_push(&s, field(v, 0), d, 0, 0);
                break;
            case RT_FORM_FUNCTION:
                st_push(&s, field(v, 1), d, 0, 0);
                st_push(&s, field(v, 0), d, 1, 0);
                break;
            case RT_FORM_ANNOTATION:
            case RT_FORM_DEFINE:
                st_push(&s, field(v, 1), d, 0, 0);
                break;
            default:
                err = unevaluated(v) ? msgf("a form still being computed")
                                     : msgf("a %s is not a form", class_name(ctx, v));
            }
        }
    }
    free(s.a);
    return err;
}

/* A set of atoms (open addressing), for "bound twice". */
typedef struct atom_set { rt_val *t; size_t cap, n; } atom_set;

static int set_add(atom_set *s, rt_val a)
{
    if ((s->n + 1) * 2 > s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 32;
        rt_val *t = calloc(cap, sizeof *t);
        if (!t)
            rt_fatal("out of memory (pattern check)");
        for (size_t i = 0; i < s->cap; i++)
            if (s->t[i]) {
                size_t j = (size_t)((s->t[i] >> 3) * UINT64_C(0x9E3779B97F4A7C15) >> 20) & (cap - 1);
                while (t[j])
                    j = (j + 1) & (cap - 1);
                t[j] = s->t[i];
            }
        free(s->t);
        s->t = t;
        s->cap = cap;
    }
    size_t j = (size_t)((a >> 3) * UINT64_C(0x9E3779B97F4A7C15) >> 20) & (s->cap - 1);
    while (s->t[j]) {
        if (s->t[j] == a)
            return 0;
        j = (j + 1) & (s->cap - 1);
    }
    s->t[j] = a;
    s->n++;
    return 1;
}

/* desugar.py pattern() then _check_distinct(): lambda says the pattern is a
 * lambda's parameter (every atom a name, syntax_of_form's pattern mode), else it
 * is an expression used as a pattern (let, rec, fix). */
static char *check_pattern(rt_ctx *ctx, rt_val p, int lambda)
{
    fe_stack s = {0};
    char *err = NULL;
    int len;
    /* pattern(): the first node that is no pattern, depth first, left to right */
    st_push(&s, p, 0, 0, 0);
    while (s.n && !err) {
        rt_val v = fld(s.a[--s.n].v);
        if (is_cons(v)) {
            rt_val t = fld(field(v, 1));
            if (t != RT_NIL)
                st_push(&s, t, 0, 0, 0);
            st_push(&s, field(v, 0), 0, 0, 0);
        } else if (v == RT_NIL) {
        } else if (rt_is_atom(v) && (lambda || is_ident(ctx, v))) {
            if (reserved(ctx, v) >= 0) {
                const char *n = name_of(ctx, v, &len);
                err = msgf("'%.*s' is a reserved word and cannot be bound", len, n);
            }
        } else {
            err = msgf("this is not a pattern");
        }
    }
    /* _check_distinct(): the first name met a second time */
    atom_set seen = {0};
    s.n = 0;
    if (!err)
        st_push(&s, p, 0, 0, 0);
    while (s.n && !err) {
        rt_val v = fld(s.a[--s.n].v);
        if (is_cons(v)) {
            rt_val t = fld(field(v, 1));
            if (t != RT_NIL)
                st_push(&s, t, 0, 0, 0);
            st_push(&s, field(v, 0), 0, 0, 0);
        } else if (rt_is_atom(v) && !set_add(&seen, v)) {
            const char *n = name_of(ctx, v, &len);
            err = msgf("'%.*s' is bound twice in one pattern", len, n);
        }
    }
    free(seen.t);
    free(s.a);
    return err;
}

/* Pass 2, desugar.py desugar(): the shape rules, in desugar's order. */
static char *check_desugar(rt_ctx *ctx, rt_val form)
{
    static const char *const shapes[] = {"let", "rec", "fix", "if"};
    fe_stack s = {0};
    char *err = NULL;
    int len;
    st_push(&s, form, 0, 0, 0);
    while (s.n && !err) {
        fe_item it = s.a[--s.n];
        rt_val v = fld(it.v);
        if (it.list) {                             /* items, then the tail */
            if (is_cons(v)) {
                st_push(&s, field(v, 1), 0, 0, 1);
                st_push(&s, field(v, 0), 0, 0, 0);
                continue;
            }
            if (v == RT_NIL)
                continue;
        }
        if (rt_is_atom(v)) {
            if (reserved(ctx, v) >= 0) {
                const char *n = name_of(ctx, v, &len);
                err = msgf("'%.*s' is a special form, not a value", len, n);
            }
            continue;
        }
        if (is_cons(v)) {
            st_push(&s, v, 0, 0, 1);
            continue;
        }
        switch (form_kind(v)) {
        case RT_FORM_APPLY: {
            rt_val fn = fld(field(v, 0)), arg = fld(field(v, 1));
            int word = reserved(ctx, fn);
            if (word < 0) {
                st_push(&s, arg, 0, 0, 0);
                st_push(&s, fn, 0, 0, 0);
                break;
            }
            const char *w = shapes[word];
            if (arg != RT_NIL && !is_cons(arg)) {
                err = msgf("'%s' must be applied to a list literal", w);
                break;
            }
            size_t n = 0;
            rt_val items[3] = {RT_NIL, RT_NIL, RT_NIL}, t = arg;
            while (is_cons(t)) {
                if (n < 3)
                    items[n] = field(t, 0);
                n++;
                t = fld(field(t, 1));
            }
            if (word == A_LET || word == A_REC) {
                if (t != RT_NIL || n != 3) {
                    err = msgf("'%s' takes exactly three elements, got %zu%s", w, n,
                               t != RT_NIL ? " and a tail" : "");
                    break;
                }
                if ((err = check_pattern(ctx, items[0], 0)))
                    break;
                st_push(&s, items[2], 0, 0, 0);
                st_push(&s, items[1], 0, 0, 0);
            } else if (word == A_FIX) {
                if (n == 0) {
                    err = msgf("'fix' needs a pattern before its '!'");
                    break;
                }
                if ((err = check_pattern(ctx, items[0], 0)))
                    break;
                st_push(&s, field(arg, 1), 0, 0, 1);   /* the value: the rest of the list */
            } else {
                if (t != RT_NIL) {
                    err = msgf("'if' takes a list without a '!' tail");
                    break;
                }
                st_push(&s, arg, 0, 0, 1);
            }
            break;
        }
        case RT_FORM_FUNCTION:
            if ((err = check_pattern(ctx, field(v, 0), 1)))
                break;
            st_push(&s, field(v, 1), 0, 0, 0);
            break;
        case RT_FORM_ANNOTATION:
            if (fld(field(v, 0)) != fe_atom(ctx, A_QUOTE))   /* a quotation: data */
                st_push(&s, field(v, 1), 0, 0, 0);
            break;
        case RT_FORM_DEFINE:
            err = msgf("unexpected Define in an expression");
            break;
        default:                                   /* numbers, [] */
            break;
        }
    }
    free(s.a);
    return err;
}

/* The error text `val` gives for form (core_of_form's), or NULL. */
static char *check_form(rt_ctx *ctx, rt_val form)
{
    char *err = check_syntax(ctx, form);
    if (err)
        return err;
    if (form_kind(form) == RT_FORM_DEFINE) {
        rt_val name = fld(field(form, 0));
        if (reserved(ctx, name) >= 0) {
            int len;
            const char *n = name_of(ctx, name, &len);
            return msgf("'%.*s' is a reserved word and cannot be defined", len, n);
        }
        return check_desugar(ctx, field(form, 1));
    }
    return check_desugar(ctx, form);
}

/* ==== patterns and environments ===================================================== */

/* A depth-first walk of a pattern's binders (interp core.py pattern_names order)
 * without allocating: the pending rests on a small stack. */
typedef struct pat_walk { rt_val small[32]; rt_val *st; size_t n, cap; } pat_walk;

static void pw_push(pat_walk *p, rt_val v)
{
    if (p->n == p->cap) {
        size_t cap = p->cap * 2;
        rt_val *t = malloc(cap * sizeof *t);
        if (!t)
            rt_fatal("out of memory (pattern)");
        memcpy(t, p->st, p->n * sizeof *t);
        if (p->st != p->small)
            free(p->st);
        p->st = t;
        p->cap = cap;
    }
    p->st[p->n++] = v;
}

/* The index of name among pattern p's binders, or -1; with name RT_NULL, -1 - the
 * number of binders. */
static long pat_index(rt_val p, rt_val name)
{
    p = fld(p);
    if (rt_is_atom(p))
        return p == name ? 0 : name ? -1 : -2;
    pat_walk w;
    w.st = w.small;
    w.n = 0;
    w.cap = 32;
    long i = 0, found = -1;
    rt_val cur = p;
    for (;;) {
        if (is_cons(cur)) {
            rt_val t = fld(field(cur, 1));
            if (t != RT_NIL)
                pw_push(&w, t);
            cur = fld(field(cur, 0));
            continue;
        }
        if (rt_is_atom(cur)) {
            if (cur == name) {
                found = i;
                break;
            }
            i++;
        }
        if (!w.n)
            break;
        cur = w.st[--w.n];
    }
    if (w.st != w.small)
        free(w.st);
    return found >= 0 ? found : name ? -1 : -1 - i;
}

static size_t pat_count(rt_val p) { return (size_t)(-1 - pat_index(p, RT_NULL)); }

/* name's binding in env (as it is, perhaps a suspension), else RT_NULL. */
static rt_val env_find(rt_val env, rt_val name)
{
    for (rt_val f = env; rt_is_type(f, RT_T_FORM); f = field(f, 0)) {
        long i = pat_index(field(f, 1), name);
        if (i < 0)
            continue;
        if (form_kind(f) == FE_ENV)
            return field(f, 2 + (int)i);
        rt_val l = field(f, 2);
        while (i-- > 0)
            l = field(l, 1);
        return field(l, 0);
    }
    return RT_NULL;
}

/* A name's binding: local, else top level (a safepoint: the top level may make an
 * error value). */
static rt_val lookup(rt_worker *w, rt_val name, rt_val env)
{
    rt_val v = env_find(env, name);
    return v ? v : rt_toplevel_lookup(w, name);
}

/* The binders of the pattern in slot ps selected from the value in slot vs, into
 * the k slots from out (eval.py bind).  The walk's work is pairs (pattern, value)
 * on the root stack above. */
static void bind_values(rt_worker *w, size_t ps, size_t vs, size_t out)
{
    size_t base = sp_off(w), idx = 0;
    rt_push_root(w, SLOT(ps));
    rt_push_root(w, SLOT(vs));
    while (sp_off(w) > base) {
        size_t i = sp_off(w) - 2;
        rt_val p = fld(SLOT(i));
        if (rt_is_atom(p)) {
            SLOT(out + idx++) = SLOT(i + 1);
            w->sp -= 2;
        } else if (!is_cons(p)) {                 /* [] binds nothing */
            w->sp -= 2;
        } else if (fld(field(p, 1)) == RT_NIL) {   /* the last item */
            rt_val x = rt_select(w, SLOT(i + 1), 0);
            SLOT(i + 1) = x;
            SLOT(i) = fld(field(fld(SLOT(i)), 0));
        } else {                                   /* an item, then the rest */
            if (w->sp_limit - w->sp < FE_ROOM)
                rt_fatal("a pattern nested too deeply for the root stack");
            rt_push_root(w, field(p, 0));
            rt_push_root(w, RT_NIL);
            rt_val x = rt_select(w, SLOT(i + 1), 0);
            SLOT(i + 3) = x;
            x = rt_select(w, SLOT(i + 1), 1);
            SLOT(i + 1) = x;
            SLOT(i) = fld(field(fld(SLOT(i)), 1));
        }
    }
    w->sp = w->sp_base + base;
}

/* A frame binding the pattern to value under parent (eval.py bind into a new
 * frame); a pattern that binds nothing gives parent itself. */
static rt_val make_frame(rt_worker *w, rt_val parent, rt_val pattern, rt_val value)
{
    size_t k = pat_count(pattern);
    if (k == 0)
        return parent;
    if (w->sp_limit - w->sp < (ptrdiff_t)(k + FE_ROOM))
        return rt_stack_exhausted(w);
    size_t base = sp_off(w);
    rt_push_root(w, parent);                   /* base: the frame's fields, in order */
    rt_push_root(w, pattern);
    for (size_t i = 0; i < k; i++)
        rt_push_root(w, RT_NIL);
    rt_push_root(w, value);
    size_t vs = sp_off(w) - 1;
    if (rt_is_atom(fld(pattern)))
        SLOT(base + 2) = value;
    else
        bind_values(w, base + 1, vs, base + 2);
    rt_val f;
    if (k <= FE_INLINE_MAX) {
        f = rt_form_new(w, FE_ENV, (uint32_t)(2 + k), &SLOT(base));
    } else {
        rt_val l = RT_NIL;
        for (size_t i = k; i-- > 0;)
            l = rt_cons(w, SLOT(base + 2 + i), l);
        SLOT(base + 2) = l;
        f = rt_form_new(w, FE_ENV_LIST, 3, &SLOT(base));
    }
    w->sp = w->sp_base + base;
    return f;
}

/* ==== evaluation ====================================================================== */

static rt_val fe_eval(rt_worker *w, rt_val form, rt_val env, int shallow);
static rt_val fe_delay(rt_worker *w, rt_val form, rt_val env);

static rt_val fe_susp_code(rt_worker *w, rt_val self)
{
    rt_obj *o = rt_obj_of(self);
    return fe_eval(w, o->field[RT_SUSP_ENV], o->field[RT_SUSP_ENV + 1], 1);
}

static rt_val fe_closure_code(rt_worker *w, rt_val self, rt_val arg)
{
    rt_obj *o = rt_obj_of(self);
    rt_push_root(w, self);
    rt_val f = make_frame(w, o->field[CL_ENV], o->field[CL_PARAM], arg);
    self = rt_pop_root(w);
    if (rt_is_error(f))                        /* stack exhausted */
        return f;
    return fe_eval(w, rt_obj_of(self)->field[CL_BODY], f, 1);
}

int rt_formeval_closure_name(rt_val f, rt_val *name)
{
    if (!rt_is_type(f, RT_T_CLOSURE) ||
        rt_obj_of(f)->field[RT_CLOSURE_CODE] != (rt_val)(uintptr_t)fe_closure_code)
        return 0;
    rt_val n = rt_obj_of(f)->field[CL_NAME];
    *name = rt_is_atom(n) ? n : RT_NULL;
    return 1;
}

static rt_val make_susp(rt_worker *w, rt_val form, rt_val env)
{
    rt_val e[2] = {form, env};
    return rt_susp_new(w, fe_susp_code, 2, e);
}

static rt_val make_closure(rt_worker *w, rt_val env, rt_val fnform, rt_val name)
{
    rt_val fv[CL_NFREE] = {env, fld(field(fnform, 0)), fld(field(fnform, 1)), name};
    return rt_closure_new(w, fe_closure_code, 1, CL_NFREE, fv);
}

/* `$E` or `#E` in a suspended position: evaluated now (eval.py now). */
static rt_val fe_now(rt_worker *w, rt_val ann, rt_val env)
{
    rt_ctx *ctx = w->ctx;
    if (fld(field(ann, 0)) == fe_atom(ctx, A_DEEP))
        return fe_eval(w, ann, env, 0);
    rt_val inner = fld(field(ann, 1));
    return fe_eval(w, inner, env, !is_ident(ctx, inner));   /* `$x` forces the name */
}

/* A suspended position: delay, or fe_now for `$E` and `#E`. */
static rt_val fe_arg(rt_worker *w, rt_val form, rt_val env)
{
    form = fld(form);
    return is_now(w->ctx, form) ? fe_now(w, form, env) : fe_delay(w, form, env);
}

/* eval.py build_list: a list literal in a suspended position, made at once unless
 * something in it must be evaluated now; nested list literals are suspended. */
static rt_val build_list(rt_worker *w, rt_val lst, rt_val env)
{
    rt_ctx *ctx = w->ctx;
    size_t n = 0;
    rt_val c = lst;
    for (; is_cons(c); c = fld(field(c, 1)), n++)
        if (is_now(ctx, fld(field(c, 0))))
            return make_susp(w, lst, env);
    if (c != RT_NIL && is_now(ctx, c))
        return make_susp(w, lst, env);
    if (w->sp_limit - w->sp < (ptrdiff_t)(n + FE_ROOM))
        return rt_stack_exhausted(w);
    size_t base = sp_off(w);
    rt_push_root(w, env);                      /* base */
    rt_push_root(w, lst);                      /* base + 1: the cursor */
    for (size_t i = 0; i < n; i++) {
        rt_val item = fld(field(SLOT(base + 1), 0));
        rt_val v = item == RT_NIL || is_cons(item) ? make_susp(w, item, SLOT(base))
                                                   : fe_delay(w, item, SLOT(base));
        SLOT(base + 1) = fld(field(SLOT(base + 1), 1));
        rt_push_root(w, v);
    }
    rt_val t = SLOT(base + 1);
    rt_val l = t == RT_NIL ? RT_NIL : fe_delay(w, t, SLOT(base));
    for (size_t i = n; i-- > 0;)
        l = rt_cons(w, SLOT(base + 2 + i), l);
    w->sp = w->sp_base + base;
    return l;
}

/* eval.py delay: what a suspended position holds (never `$E` or `#E`). */
static rt_val fe_delay(rt_worker *w, rt_val form, rt_val env)
{
    rt_ctx *ctx = w->ctx;
    rt_val f = fld(form);
    if (is_num(f))
        return f;
    if (rt_is_atom(f))
        return is_ident(ctx, f) ? peek(lookup(w, f, env)) : f;
    if (f == RT_NIL || is_cons(f))
        return build_list(w, f, env);
    switch (form_kind(f)) {
    case RT_FORM_FUNCTION:
        return make_closure(w, env, f, RT_NIL);
    case RT_FORM_ANNOTATION: {
        rt_val op = fld(field(f, 0)), e = fld(field(f, 1));
        if (op == fe_atom(ctx, A_QUOTE))
            return e;
        /* `@E` (eval.py delay_thunk): a suspension to spark, unless E is a name,
         * a constant, a lambda or a quotation, which are stored as they are */
        if (is_num(e) || rt_is_atom(e) || form_kind(e) == RT_FORM_FUNCTION ||
            (form_kind(e) == RT_FORM_ANNOTATION && fld(field(e, 0)) == fe_atom(ctx, A_QUOTE)))
            return fe_delay(w, e, env);
        rt_val s = make_susp(w, e, env);
        rt_spark(w, s);
        return s;
    }
    default:
        return make_susp(w, f, env);
    }
}

/* eval.py ev's ListCons: a list literal in an evaluated position.  The tail and
 * then the elements from the last to the first are delayed, or evaluated now. */
static rt_val eval_list(rt_worker *w, rt_val lst, rt_val env)
{
    rt_ctx *ctx = w->ctx;
    size_t n = 0;
    rt_val c = lst;
    for (; is_cons(c); c = fld(field(c, 1)))
        n++;
    if (w->sp_limit - w->sp < (ptrdiff_t)(n + FE_ROOM))
        return rt_stack_exhausted(w);
    size_t base = sp_off(w);
    rt_push_root(w, env);                      /* base */
    rt_push_root(w, RT_NIL);                   /* base + 1: the tail's value */
    for (c = lst; is_cons(c); c = fld(field(c, 1)))
        rt_push_root(w, fld(field(c, 0)));     /* base + 2 + i: item i's form, then value */
    if (c != RT_NIL) {
        rt_val v = is_now(ctx, c) ? fe_now(w, c, SLOT(base)) : fe_delay(w, c, SLOT(base));
        SLOT(base + 1) = v;
    }
    for (size_t i = n; i-- > 0;) {
        rt_val item = SLOT(base + 2 + i);
        rt_val v = is_now(ctx, item) ? fe_now(w, item, SLOT(base))
                                     : fe_delay(w, item, SLOT(base));
        SLOT(base + 2 + i) = v;
    }
    rt_val l = SLOT(base + 1);
    for (size_t i = n; i-- > 0;)
        l = rt_cons(w, SLOT(base + 2 + i), l);
    w->sp = w->sp_base + base;
    return l;
}

/* Store v into field i of frame, made by this worker and reachable by nobody else
 * yet, which a collection may have promoted since: the write barrier. */
static void frame_store(rt_worker *w, rt_val frame, uint32_t i, rt_val v)
{
    rt_obj_of(frame)->field[i] = v;
    rt_ctx *ctx = w->ctx;
    if (rt_is_ptr(v) && rt_heap_owner_of(ctx, frame) != w->id && rt_heap_owner_of(ctx, v) == w->id)
        rt_remset_push(w, v);
}

/* rec (and fix): a frame binding pattern to the value of vform evaluated in that
 * same frame.  Returns the frame; *value is the value (a suspension, a closure or
 * a constant) for fix. */
static rt_val rec_frame(rt_worker *w, rt_val parent, rt_val pattern, rt_val vform, rt_val *value)
{
    rt_ctx *ctx = w->ctx;
    vform = fld(vform);
    if (is_num(vform) || (rt_is_atom(vform) && !is_ident(ctx, vform))) {
        *value = vform;                        /* a constant needs no frame */
        return make_frame(w, parent, pattern, vform);
    }
    int lam = form_kind(vform) == RT_FORM_FUNCTION;
    size_t k = pat_count(pattern);
    if (w->sp_limit - w->sp < (ptrdiff_t)(k + FE_ROOM))
        return *value = rt_stack_exhausted(w);
    int inline_ = k <= FE_INLINE_MAX;
    uint32_t nf = inline_ ? (uint32_t)(2 + k) : 3;
    size_t base = sp_off(w);
    rt_push_root(w, parent);
    rt_push_root(w, pattern);
    rt_push_root(w, vform);
    /* the frame and the value, each pointing at the other: one reservation */
    rt_reserve(w, 8 * ((1 + (size_t)nf) + (lam ? 1 + 1 + CL_NFREE : 1 + 3 + 2)));
    rt_obj *f = rt_alloc_nogc(w, RT_HDR(RT_T_FORM, inline_ ? FE_ENV : FE_ENV_LIST, 0, nf));
    f->field[0] = SLOT(base);
    f->field[1] = SLOT(base + 1);
    for (uint32_t i = 2; i < nf; i++)
        f->field[i] = RT_NIL;
    rt_obj *o;
    if (lam) {
        o = rt_alloc_nogc(w, RT_HDR(RT_T_CLOSURE, 1, 1, 1 + CL_NFREE));
        o->field[RT_CLOSURE_CODE] = (rt_val)(uintptr_t)fe_closure_code;
        o->field[CL_ENV] = rt_val_of(f);
        o->field[CL_PARAM] = fld(field(SLOT(base + 2), 0));
        o->field[CL_BODY] = fld(field(SLOT(base + 2), 1));
        o->field[CL_NAME] = RT_NIL;
    } else {
        o = rt_alloc_nogc(w, RT_HDR(RT_T_SUSP, 0, 2, 3 + 2));
        w->stats.susps_allocated++;
        o->field[RT_SUSP_STATE] = RT_SUSP_UNEVALUATED;
        o->field[RT_SUSP_CODE] = (rt_val)(uintptr_t)fe_susp_code;
        o->field[RT_SUSP_VALUE] = RT_NULL;
        o->field[RT_SUSP_ENV] = SLOT(base + 2);
        o->field[RT_SUSP_ENV + 1] = rt_val_of(f);
    }
    SLOT(base) = rt_val_of(f);                 /* base: the frame, base + 2: the value */
    SLOT(base + 2) = rt_val_of(o);
    if (k) {
        size_t out = sp_off(w);
        for (size_t i = 0; i < k; i++)
            rt_push_root(w, RT_NIL);
        if (rt_is_atom(fld(SLOT(base + 1))))
            SLOT(out) = SLOT(base + 2);
        else
            bind_values(w, base + 1, base + 2, out);
        if (inline_) {
            for (size_t i = 0; i < k; i++)
                frame_store(w, SLOT(base), (uint32_t)(2 + i), SLOT(out + i));
        } else {
            rt_val l = RT_NIL;
            for (size_t i = k; i-- > 0;)
                l = rt_cons(w, SLOT(out + i), l);
            frame_store(w, SLOT(base), 2, l);
        }
    }
    rt_val fr = SLOT(base);
    *value = SLOT(base + 2);
    w->sp = w->sp_base + base;
    return fr;
}

/* Note [Evaluating forms]: the value of form in env; in shallow mode a name in
 * tail position may give its binding unforced. */
static rt_val fe_eval(rt_worker *w, rt_val form, rt_val env, int shallow)
{
    if (stack_low(w))
        return rt_stack_exhausted(w);
    rt_ctx *ctx = w->ctx;
    size_t base = sp_off(w);
    rt_push_root(w, form);                     /* F: the form in tail position */
    rt_push_root(w, env);                      /* E: its environment */
    rt_push_root(w, RT_NIL);                   /* T, U: temporaries */
    rt_push_root(w, RT_NIL);
#define F SLOT(base)
#define E SLOT(base + 1)
#define T SLOT(base + 2)
#define U SLOT(base + 3)
    rt_val r;
    for (;;) {
        rt_val f = fld(F);
        if (is_num(f) || f == RT_NIL) {
            r = f;
            break;
        }
        if (rt_is_atom(f)) {
            if (!is_ident(ctx, f)) {
                r = f;
                break;
            }
            r = lookup(w, f, E);
            r = shallow ? peek(r) : rt_force(w, r);
            break;
        }
        if (is_cons(f)) {
            r = eval_list(w, f, E);
            break;
        }
        uint32_t kind = form_kind(f);
        if (kind == RT_FORM_FUNCTION) {
            r = make_closure(w, E, f, RT_NIL);
            break;
        }
        if (kind == RT_FORM_ANNOTATION) {
            rt_val op = fld(field(f, 0)), e = fld(field(f, 1));
            if (op == fe_atom(ctx, A_QUOTE)) {
                r = e;
                break;
            }
            if (op == fe_atom(ctx, A_DEEP)) {
                r = fe_eval(w, e, E, 0);
                r = rt_deep_force(w, r);
                break;
            }
            if (op == fe_atom(ctx, A_NOW) && is_ident(ctx, e))
                shallow = 0;                   /* `$x` forces the name */
            F = e;                             /* `@E` and `$E` where they stand */
            continue;
        }
        if (kind != RT_FORM_APPLY) {           /* checked away: cannot happen */
            r = f;
            break;
        }
        rt_val fn = fld(field(f, 0));
        int word = reserved(ctx, fn);
        if (word < 0) {                        /* fn:arg */
            r = fe_eval(w, fn, E, 0);
            T = r;
            r = fe_arg(w, field(fld(F), 1), E);
            U = r;
            rt_val fv = T;
            if (rt_is_type(fv, RT_T_CLOSURE) &&
                rt_obj_of(fv)->field[RT_CLOSURE_CODE] == (rt_val)(uintptr_t)fe_closure_code) {
                /* a closure made here: its body in tail position */
                rt_obj *o = rt_obj_of(fv);
                r = make_frame(w, o->field[CL_ENV], o->field[CL_PARAM], U);
                if (rt_is_error(r))            /* stack exhausted */
                    break;
                E = r;
                F = rt_obj_of(T)->field[CL_BODY];
                rt_poll(w);
                continue;
            }
            rt_val a = U;
            w->sp = w->sp_base + base;
            if (shallow)                       /* a tail call: no frame of ours below it */
                return rt_apply(w, fv, a);
            return rt_force(w, rt_apply(w, fv, a));
        }
        rt_val arg = fld(field(f, 1));          /* checked: [P V B], [P ! V], [...] */
        if (word == A_LET) {
            r = fe_arg(w, field(fld(field(arg, 1)), 0), E);
            T = r;
            arg = fld(field(fld(F), 1));
            r = make_frame(w, E, fld(field(arg, 0)), T);
            if (rt_is_error(r))
                break;
            E = r;
            arg = fld(field(fld(F), 1));
            F = field(fld(field(fld(field(arg, 1)), 1)), 0);
            continue;
        }
        if (word == A_REC) {
            rt_val value;
            r = rec_frame(w, E, fld(field(arg, 0)), field(fld(field(arg, 1)), 0), &value);
            if (rt_is_error(r))
                break;
            E = r;
            arg = fld(field(fld(F), 1));
            F = field(fld(field(fld(field(arg, 1)), 1)), 0);
            continue;
        }
        if (word == A_FIX) {
            rt_val value;
            r = rec_frame(w, E, fld(field(arg, 0)), field(arg, 1), &value);
            r = shallow ? peek(value) : rt_force(w, value);
            break;
        }
        /* if:[c1 e1 c2 e2 ... else] */
        T = arg;
        for (;;) {
            rt_val c = fld(T);
            if (c == RT_NIL) {
                r = RT_NIL;
                break;
            }
            rt_val rest = fld(field(c, 1));
            if (rest == RT_NIL) {              /* else */
                r = RT_NULL;
                F = field(c, 0);
                break;
            }
            r = fe_eval(w, field(c, 0), E, 0);
            if (r != RT_NIL) {
                if (!rt_is_error(r)) {
                    F = field(fld(field(fld(T), 1)), 0);
                    r = RT_NULL;
                }
                break;
            }
            T = fld(field(fld(field(fld(T), 1)), 1));
        }
        if (r != RT_NULL)
            break;
        rt_poll(w);
    }
#undef F
#undef E
#undef T
#undef U
    w->sp = w->sp_base + base;
    return r;
}

/* ==== val ============================================================================= */

/* rt_defined_unit: rt_prims.c */
rt_val rt_formeval(rt_worker *w, rt_val form)
{
    rt_ctx *ctx = w->ctx;
    char *err = check_form(ctx, form);
    if (err)
        return val_error(w, err);
    if (form_kind(form) != RT_FORM_DEFINE)
        return fe_eval(w, form, RT_NIL, 0);
    /* interp interpreter.py define: a lambda is a named closure, a constant is
     * itself, anything else a suspension, evaluated on first demand */
    rt_val name = fld(field(form, 0)), e = fld(field(form, 1)), v;
    if (form_kind(e) == RT_FORM_FUNCTION)
        v = make_closure(w, RT_NIL, e, name);
    else if (is_num(e) || (rt_is_atom(e) && !is_ident(ctx, e)))
        v = e;
    else
        v = make_susp(w, e, RT_NIL);
    uint32_t g = rt_global_new(ctx, v);
    rt_toplevel_define(ctx, name, g);
    rt_form_codes_forget(ctx);                 /* Note [Forms with code] in jit/lower.py */
    return rt_defined_unit(ctx, name);
}
