/* rt_prims.c -- the primitives of LANGUAGE.md section 6, natively, and the
 * helpers generated code calls to apply, select and deep-force.
 *
 * Design.  interp/prims.py defines what every primitive does and says; this
 * file is its transcription to the runtime's values, and every error text is
 * built the same way from the same pieces (`describe` below is interp/eval.py
 * `describe`).  Three things shape the C:
 *
 *   - Every force and every allocation is a safepoint at which compaction may
 *     move objects (Note [Roots]).  A primitive that walks a list keeps its
 *     cursor and whatever else it still needs in slots of the root stack,
 *     addressed from a mark taken on entry (the root stack itself never
 *     moves), and re-reads them after every call that can reach a safepoint.
 *     Groups of objects are reserved at once and then made with
 *     rt_alloc_nogc (Note [Reserve]).
 *   - Nothing recurses in C over a list: folds, seq, pcoerce, the spines of
 *     set and any?, and rt_deep_force all loop, so a million-element list
 *     costs no C stack.  Laziness is kept exactly: map, fc, evlst and the
 *     streams of set build one cell per demand, each cell's rest a suspension
 *     whose code is C here.
 *   - The heap is immutable apart from suspension updates (Note [Local
 *     collection]), so nothing here writes a field of an object it did not
 *     just make: where the interpreter marks a cell (`nf` in deep_force) or
 *     shortens a path, the runtime keeps a side table or lets compaction do it.
 *
 * One difference from the interpreter, forced by the runtime's model:
 *   - `#` keeps its "already in normal form" marks only for the duration of
 *     one call (Note [Deep forcing]), so a second `#` of the same list walks
 *     it again (forcing nothing).
 */
#define _GNU_SOURCE
#include "rt_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ==== small helpers ============================================================= */

static inline size_t sp_off(rt_worker *w) { return (size_t)(w->sp - w->sp_base); }
static inline rt_val *slot_at(rt_worker *w, size_t off) { return w->sp_base + off; }
static inline void sp_reset(rt_worker *w, size_t off) { w->sp = w->sp_base + off; }

static inline int is_cons(rt_val v) { return rt_is_type(v, RT_T_CONS); }
static inline int is_susp(rt_val v) { return rt_is_type(v, RT_T_SUSP); }
static inline rt_val head_of(rt_val c) { return rt_obj_of(c)->field[0]; }
static inline rt_val tail_of(rt_val c) { return rt_obj_of(c)->field[1]; }

static inline uint64_t susp_state(rt_val s)
{
    return atomic_load_explicit((_Atomic uint64_t *)&rt_obj_of(s)->field[RT_SUSP_STATE],
                                memory_order_acquire);
}

/* v's value if it has one already: v itself, or an evaluated suspension's
 * value; RT_NULL for a suspension nobody has finished.  Never a safepoint. */
static inline rt_val peek_nogc(rt_val v)
{
    if (!is_susp(v))
        return v;
    if (susp_state(v) != RT_SUSP_EVALUATED)
        return RT_NULL;
    return atomic_load_explicit((_Atomic rt_val *)&rt_obj_of(v)->field[RT_SUSP_VALUE],
                                memory_order_relaxed);
}

static inline rt_val env_of(rt_val self, int i) { return rt_obj_of(self)->field[RT_SUSP_ENV + i]; }

/* A suspension of `code` over nenv values, in space already reserved. */
#define SUSP_BYTES(n) (8 * (4 + (size_t)(n)))
#define CONS_BYTES 24
static rt_obj *susp_nogc(rt_worker *w, rt_susp_code code, uint32_t nenv)
{
    rt_obj *o = rt_alloc_nogc(w, RT_HDR(RT_T_SUSP, 0, 2, 3 + nenv));
    w->stats.susps_allocated++;
    o->field[RT_SUSP_STATE] = RT_SUSP_UNEVALUATED;
    o->field[RT_SUSP_CODE] = (rt_val)(uintptr_t)code;
    o->field[RT_SUSP_VALUE] = RT_NULL;
    return o;
}
static rt_obj *cons_nogc(rt_worker *w, rt_val head, rt_val tail)
{
    rt_obj *o = rt_alloc_nogc(w, RT_HDR(RT_T_CONS, 0, 0, 2));
    o->field[0] = head;
    o->field[1] = tail;
    return o;
}
static_assert(RT_SUSP_ENV == 3 && RT_CONS_WORDS == 3, "SUSP_BYTES and CONS_BYTES");

/* The atom `true` (interp TRUE), interned once per context. */
static rt_val true_val(rt_ctx *ctx)
{
    rt_val t = atomic_load_explicit(&ctx->atom_true, memory_order_relaxed);
    if (!t) {
        t = rt_atom(ctx, "true", 4);
        atomic_store_explicit(&ctx->atom_true, t, memory_order_relaxed);
    }
    return t;
}
static inline rt_val truth(rt_worker *w, int b) { return b ? true_val(w->ctx) : RT_NIL; }

/* ==== describe and error values ================================================= */

/* interp/eval.py describe(v), into buf. */
static void describe(rt_ctx *ctx, rt_val v, char *buf, size_t n)
{
    int64_t i;
    if (rt_int_get(v, &i)) {
        snprintf(buf, n, "the number %lld", (long long)i);
    } else if (rt_is_type(v, RT_T_FLOAT)) {
        double d;
        char num[64];
        memcpy(&d, &rt_obj_of(v)->field[0], 8);
        rt_format_float(d, num, sizeof num);
        snprintf(buf, n, "the number %s", num);
    } else if (v == RT_NIL) {
        snprintf(buf, n, "[]");
    } else if (rt_is_atom(v)) {
        size_t len = 0;
        const char *s = rt_atom_name(ctx, v, &len);
        if (s && rt_atom_is_ident(s, len) && len < 40)
            snprintf(buf, n, "the atom %.*s", (int)len, s);
        else
            snprintf(buf, n, "the atom (a string)");
    } else if (rt_is_prim(v) || rt_is_type(v, RT_T_CLOSURE)) {
        snprintf(buf, n, "a function");
    } else if (rt_is_unit(ctx, v)) {
        snprintf(buf, n, "a unit");
    } else if (rt_is_token(v)) {
        snprintf(buf, n, "a token");
    } else if (rt_is_ptr(v)) {
        const char *what = "a value";
        switch (rt_hdr_type(rt_obj_of(v)->header)) {
        case RT_T_CONS: what = "a list"; break;
        case RT_T_ERROR: what = "an error"; break;
        case RT_T_SUSP: what = "a thunk"; break;
        case RT_T_FORM:
            switch (rt_hdr_aux(rt_obj_of(v)->header)) {   /* the interpreter's class names */
            case RT_FORM_APPLY: what = "a apl"; break;
            case RT_FORM_FUNCTION: what = "a fnform"; break;
            case RT_FORM_ANNOTATION: what = "a annform"; break;
            case RT_FORM_DEFINE: what = "a defform"; break;
            }
            break;
        default: break;
        }
        snprintf(buf, n, "%s", what);
    } else {
        snprintf(buf, n, "a value");
    }
}

/* An error value with message fmt...; every '>' becomes '}' (interp values.py
 * Error), so that <error: ...> stays one printed token.  The text is interned
 * before the allocation, so an unwinding allocation leaks nothing. */
static rt_val verrorf(rt_worker *w, const char *fmt, va_list ap)
{
    char buf[512], *m = buf;
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    if (n < 0)
        n = 0;
    if ((size_t)n >= sizeof buf) {
        m = malloc((size_t)n + 1);
        if (!m)
            rt_fatal("out of memory for an error message");
        vsnprintf(m, (size_t)n + 1, fmt, ap2);
    }
    va_end(ap2);
    for (char *p = m; *p; p++)
        if (*p == '>')
            *p = '}';
    rt_val a = rt_atom(w->ctx, m, (size_t)n);
    if (m != buf)
        free(m);
    rt_obj *o = rt_alloc(w, RT_HDR(RT_T_ERROR, 0, 0, 1));
    o->field[0] = a;
    return rt_val_of(o);
}

static rt_val errorf(rt_worker *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static rt_val errorf(rt_worker *w, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rt_val e = verrorf(w, fmt, ap);
    va_end(ap);
    return e;
}

rt_val rt_describe_error(rt_worker *w, const char *prefix, rt_val v)
{
    char d[128];
    describe(w->ctx, v, d, sizeof d);
    return errorf(w, "%s%s", prefix, d);
}

rt_val rt_stack_exhausted(rt_worker *w) { return errorf(w, "stack exhausted"); }

/* interp prims.py non_numeric, check_int, not_a_list: an error operand is
 * the answer itself. */
static rt_val non_numeric(rt_worker *w, const char *name, rt_val v)
{
    if (rt_is_error(v))
        return v;
    char d[128];
    describe(w->ctx, v, d, sizeof d);
    return errorf(w, "%s: non-numeric operand (%s)", name, d);
}

static rt_val not_an_integer(rt_worker *w, const char *name, rt_val v)
{
    if (rt_is_error(v))
        return v;
    char d[128];
    describe(w->ctx, v, d, sizeof d);
    return errorf(w, "%s: operand is not an integer (%s)", name, d);
}

static rt_val not_a_list(rt_worker *w, const char *name, rt_val v)
{
    if (rt_is_error(v))
        return v;
    char d[128];
    describe(w->ctx, v, d, sizeof d);
    return errorf(w, "%s expects a list, not %s", name, d);
}

static rt_val overflow(rt_worker *w, const char *name)
{
    return errorf(w, "integer overflow in %s", name);
}

/* ==== numbers =================================================================== */

enum { NUM_NONE = 0, NUM_INT = 1, NUM_FLOAT = 2 };
typedef struct rt_num { int kind; int64_t i; double d; } rt_num;

static int num_of(rt_val v, rt_num *n)
{
    if (rt_int_get(v, &n->i)) {
        n->kind = NUM_INT;
        n->d = (double)n->i;
        return NUM_INT;
    }
    if (rt_is_type(v, RT_T_FLOAT)) {
        memcpy(&n->d, &rt_obj_of(v)->field[0], 8);
        n->kind = NUM_FLOAT;
        return NUM_FLOAT;
    }
    n->kind = NUM_NONE;
    return NUM_NONE;
}

/* interp prims.py fdiv: IEEE division with Python's explicit zero cases. */
static double py_fdiv(double a, double b)
{
    if (b == 0) {
        if (a == 0 || isnan(a))
            return NAN;
        return copysign(INFINITY, a) * copysign(1.0, b);
    }
    return a / b;
}

/* ---- operand lists ----------------------------------------------------------------
 * interp prims.py `operands`: the two elements of name:[a b], forced left to
 * right, each checked as it comes; a badly shaped list is "NAME expects [a b]"
 * (or the error that stands in its place). */

typedef rt_val (*check_fn)(rt_worker *w, const char *name, rt_val v);   /* RT_NULL: fine */

static rt_val check_num(rt_worker *w, const char *name, rt_val v)
{
    rt_num n;
    return num_of(v, &n) ? RT_NULL : non_numeric(w, name, v);
}
static rt_val check_int(rt_worker *w, const char *name, rt_val v)
{
    int64_t i;
    return rt_int_get(v, &i) ? RT_NULL : not_an_integer(w, name, v);
}
static rt_val check_any(rt_worker *w, const char *name, rt_val v)
{
    (void)w;
    (void)name;
    return rt_is_error(v) ? v : RT_NULL;
}

/* Returns RT_NULL with out[0], out[1] set (valid until the next safepoint),
 * or the error to answer with. */
static rt_val operands2(rt_worker *w, const char *name, rt_val arg, check_fn check, rt_val out[2])
{
    size_t mark = sp_off(w);
    rt_push_root(w, RT_NIL);
    rt_push_root(w, RT_NIL);
    rt_push_root(w, arg);
    rt_val *s = slot_at(w, mark);        /* [op0 op1 cursor] */
    s[2] = rt_force(w, s[2]);
    for (int i = 0; i < 2; i++) {
        rt_val lst = s[2];
        if (!is_cons(lst)) {
            sp_reset(w, mark);
            return rt_is_error(lst) ? lst : errorf(w, "%s expects [a b]", name);
        }
        rt_val v = rt_force(w, head_of(lst));
        rt_val bad = check(w, name, v);
        if (bad) {
            sp_reset(w, mark);
            return bad;
        }
        s[i] = v;
        rt_val t = tail_of(s[2]);
        s[2] = rt_force(w, t);
    }
    rt_val lst = s[2];
    out[0] = s[0];
    out[1] = s[1];
    sp_reset(w, mark);
    if (lst != RT_NIL)
        return rt_is_error(lst) ? lst : errorf(w, "%s expects [a b]", name);
    return RT_NULL;
}

static rt_val num_result(rt_worker *w, const rt_num *r)
{
    return r->kind == NUM_INT ? rt_int(w, r->i) : rt_float(w, r->d);
}

/* ---- add, mpy: folds, overflow checked at every step, floats contagious ---- */

/* acc += n (acc *= n with mpy): integers while both are, floats contagious; 0 on
 * an integer overflow. */
static int accumulate(rt_num *acc, const rt_num *n, int mpy)
{
    if (acc->kind == NUM_INT && n->kind == NUM_INT) {
        int64_t r;
        if (mpy ? __builtin_mul_overflow(acc->i, n->i, &r) : __builtin_add_overflow(acc->i, n->i, &r))
            return 0;
        acc->i = r;
    } else {
        double a = acc->kind == NUM_INT ? (double)acc->i : acc->d;
        acc->d = mpy ? a * n->d : a + n->d;
        acc->kind = NUM_FLOAT;
    }
    return 1;
}

static rt_val fold(rt_worker *w, rt_val arg, int mpy)
{
    const char *name = mpy ? "mpy" : "add";
    size_t mark = sp_off(w);
    rt_push_root(w, arg);
    rt_val *s = slot_at(w, mark);
    s[0] = rt_force(w, s[0]);
    rt_num acc = {NUM_INT, mpy, mpy};
    while (is_cons(s[0])) {
        rt_val v = rt_force(w, head_of(s[0]));
        rt_num n;
        if (!num_of(v, &n)) {
            sp_reset(w, mark);
            return non_numeric(w, name, v);
        }
        if (!accumulate(&acc, &n, mpy)) {
            sp_reset(w, mark);
            return overflow(w, name);
        }
        rt_val t = tail_of(s[0]);
        s[0] = rt_force(w, t);
        rt_poll(w);
    }
    rt_val lst = s[0];
    sp_reset(w, mark);
    if (lst != RT_NIL)
        return rt_is_error(lst) ? lst : errorf(w, "%s expects a list", name);
    return num_result(w, &acc);
}

static rt_val rt_prim_add(rt_worker *w, rt_val arg) { return fold(w, arg, 0); }
static rt_val rt_prim_mpy(rt_worker *w, rt_val arg) { return fold(w, arg, 1); }

/* ---- sub, div, rem ---- */

enum { OP_SUB, OP_DIV, OP_REM };

static rt_val arith_nums(rt_worker *w, int op, const rt_num *a, const rt_num *b);

static rt_val arith2(rt_worker *w, rt_val arg, int op)
{
    static const char *const names[] = {"sub", "div", "rem"};
    const char *name = names[op];
    rt_val v[2];
    rt_val bad = operands2(w, name, arg, check_num, v);
    if (bad)
        return bad;
    rt_num a, b;
    num_of(v[0], &a);
    num_of(v[1], &b);
    return arith_nums(w, op, &a, &b);
}

/* sub, div or rem of two numbers */
static rt_val arith_nums(rt_worker *w, int op, const rt_num *pa, const rt_num *pb)
{
    static const char *const names[] = {"sub", "div", "rem"};
    const char *name = names[op];
    rt_num a = *pa, b = *pb;
    if (a.kind == NUM_INT && b.kind == NUM_INT) {
        int64_t r;
        switch (op) {
        case OP_SUB:
            if (__builtin_sub_overflow(a.i, b.i, &r))
                return overflow(w, name);
            return rt_int(w, r);
        case OP_DIV:
            if (b.i == 0)
                return errorf(w, "division by zero in div");
            if (a.i == INT64_MIN && b.i == -1)
                return overflow(w, name);
            return rt_int(w, a.i / b.i);          /* C truncates toward zero */
        default:
            if (b.i == 0)
                return errorf(w, "division by zero in rem");
            if (b.i == -1)
                return rt_fix(0);
            return rt_int(w, a.i % b.i);          /* the sign of the dividend */
        }
    }
    switch (op) {
    case OP_SUB:
        return rt_float(w, a.d - b.d);
    case OP_DIV:
        return rt_float(w, py_fdiv(a.d, b.d));
    default:
        if (b.d == 0 || isinf(a.d) || isnan(a.d) || isnan(b.d))
            return rt_float(w, NAN);
        return rt_float(w, fmod(a.d, b.d));
    }
}

static rt_val rt_prim_sub(rt_worker *w, rt_val arg) { return arith2(w, arg, OP_SUB); }
static rt_val rt_prim_div(rt_worker *w, rt_val arg) { return arith2(w, arg, OP_DIV); }
static rt_val rt_prim_rem(rt_worker *w, rt_val arg) { return arith2(w, arg, OP_REM); }

/* ---- and, or, xor, lsh, rsh, arsh: integers only, shifts 0..63 ---- */

enum { OP_AND, OP_OR, OP_XOR, OP_LSH, OP_RSH, OP_ARSH };

static rt_val bits2(rt_worker *w, rt_val arg, int op)
{
    static const char *const names[] = {"and", "or", "xor", "lsh", "rsh", "arsh"};
    rt_val v[2];
    rt_val bad = operands2(w, names[op], arg, check_int, v);
    if (bad)
        return bad;
    int64_t a, b;
    rt_int_get(v[0], &a);
    rt_int_get(v[1], &b);
    switch (op) {
    case OP_AND: return rt_int(w, a & b);
    case OP_OR: return rt_int(w, a | b);
    case OP_XOR: return rt_int(w, a ^ b);
    default: break;
    }
    if (b < 0 || b > 63)
        return errorf(w, "shift count out of range: %lld", (long long)b);
    switch (op) {
    case OP_LSH: return rt_int(w, (int64_t)((uint64_t)a << b));
    case OP_RSH: return rt_int(w, (int64_t)((uint64_t)a >> b));
    default: return rt_int(w, a >> b);            /* arithmetic on gcc and clang */
    }
}

static rt_val rt_prim_and(rt_worker *w, rt_val arg) { return bits2(w, arg, OP_AND); }
static rt_val rt_prim_or(rt_worker *w, rt_val arg) { return bits2(w, arg, OP_OR); }
static rt_val rt_prim_xor(rt_worker *w, rt_val arg) { return bits2(w, arg, OP_XOR); }
static rt_val rt_prim_lsh(rt_worker *w, rt_val arg) { return bits2(w, arg, OP_LSH); }
static rt_val rt_prim_rsh(rt_worker *w, rt_val arg) { return bits2(w, arg, OP_RSH); }
static rt_val rt_prim_arsh(rt_worker *w, rt_val arg) { return bits2(w, arg, OP_ARSH); }

static rt_val rt_prim_not(rt_worker *w, rt_val arg)
{
    rt_val v = rt_force(w, arg);
    int64_t i;
    if (rt_int_get(v, &i))
        return rt_int(w, ~i);
    return not_an_integer(w, "not", v);
}

/* ---- neg, inc, dcr, inv (strict) ---- */

enum { OP_NEG, OP_INC, OP_DCR, OP_INV };

static rt_val unary_num(rt_worker *w, rt_val arg, int op)
{
    static const char *const names[] = {"neg", "inc", "dcr", "inv"};
    rt_val v = rt_force(w, arg);
    rt_num n;
    switch (num_of(v, &n)) {
    case NUM_INT: {
        int64_t r;
        int bad = 0;
        switch (op) {
        case OP_NEG: bad = __builtin_sub_overflow((int64_t)0, n.i, &r); break;
        case OP_INC: bad = __builtin_add_overflow(n.i, (int64_t)1, &r); break;
        case OP_DCR: bad = __builtin_sub_overflow(n.i, (int64_t)1, &r); break;
        default: return rt_float(w, py_fdiv(1.0, (double)n.i));
        }
        return bad ? overflow(w, names[op]) : rt_int(w, r);
    }
    case NUM_FLOAT:
        switch (op) {
        case OP_NEG: return rt_float(w, -n.d);
        case OP_INC: return rt_float(w, n.d + 1.0);
        case OP_DCR: return rt_float(w, n.d - 1.0);
        default: return rt_float(w, py_fdiv(1.0, n.d));
        }
    default:
        return non_numeric(w, names[op], v);
    }
}

static rt_val rt_prim_neg(rt_worker *w, rt_val arg) { return unary_num(w, arg, OP_NEG); }
static rt_val rt_prim_inc(rt_worker *w, rt_val arg) { return unary_num(w, arg, OP_INC); }
static rt_val rt_prim_dcr(rt_worker *w, rt_val arg) { return unary_num(w, arg, OP_DCR); }
static rt_val rt_prim_inv(rt_worker *w, rt_val arg) { return unary_num(w, arg, OP_INV); }

/* ---- zero? one? neg? pos? (strict) ---- */

enum { T_ZERO, T_ONE, T_NEG, T_POS };

static rt_val num_test(rt_worker *w, rt_val arg, int t)
{
    static const char *const names[] = {"zero?", "one?", "neg?", "pos?"};
    rt_val v = rt_force(w, arg);
    rt_num n;
    int k = num_of(v, &n);
    if (k == NUM_NONE)
        return non_numeric(w, names[t], v);
    int r;
    if (k == NUM_INT) {
        switch (t) {
        case T_ZERO: r = n.i == 0; break;
        case T_ONE: r = n.i == 1; break;
        case T_NEG: r = n.i < 0; break;
        default: r = n.i >= 0; break;
        }
    } else {
        switch (t) {
        case T_ZERO: r = n.d == 0.0; break;
        case T_ONE: r = n.d == 1.0; break;
        case T_NEG: r = n.d < 0.0; break;
        default: r = n.d >= 0.0; break;
        }
    }
    return truth(w, r);
}

static rt_val rt_prim_zero_p(rt_worker *w, rt_val arg) { return num_test(w, arg, T_ZERO); }
static rt_val rt_prim_one_p(rt_worker *w, rt_val arg) { return num_test(w, arg, T_ONE); }
static rt_val rt_prim_neg_p(rt_worker *w, rt_val arg) { return num_test(w, arg, T_NEG); }
static rt_val rt_prim_pos_p(rt_worker *w, rt_val arg) { return num_test(w, arg, T_POS); }

/* ---- lt? le? ge? gt?: numbers; an integer meets a float as a double ---- */

enum { C_LT, C_LE, C_GE, C_GT };

static rt_val ordering_nums(rt_worker *w, int c, const rt_num *a, const rt_num *b);

static rt_val ordering(rt_worker *w, rt_val arg, int c)
{
    static const char *const names[] = {"lt?", "le?", "ge?", "gt?"};
    rt_val v[2];
    rt_val bad = operands2(w, names[c], arg, check_num, v);
    if (bad)
        return bad;
    rt_num a, b;
    num_of(v[0], &a);
    num_of(v[1], &b);
    return ordering_nums(w, c, &a, &b);
}

/* lt? le? ge? gt? of two numbers */
static rt_val ordering_nums(rt_worker *w, int c, const rt_num *pa, const rt_num *pb)
{
    rt_num a = *pa, b = *pb;
    int r;
    if (a.kind == NUM_INT && b.kind == NUM_INT) {
        switch (c) {
        case C_LT: r = a.i < b.i; break;
        case C_LE: r = a.i <= b.i; break;
        case C_GE: r = a.i >= b.i; break;
        default: r = a.i > b.i; break;
        }
    } else {
        switch (c) {
        case C_LT: r = a.d < b.d; break;
        case C_LE: r = a.d <= b.d; break;
        case C_GE: r = a.d >= b.d; break;
        default: r = a.d > b.d; break;
        }
    }
    return truth(w, r);
}

static rt_val rt_prim_lt_p(rt_worker *w, rt_val arg) { return ordering(w, arg, C_LT); }
static rt_val rt_prim_le_p(rt_worker *w, rt_val arg) { return ordering(w, arg, C_LE); }
static rt_val rt_prim_ge_p(rt_worker *w, rt_val arg) { return ordering(w, arg, C_GE); }
static rt_val rt_prim_gt_p(rt_worker *w, rt_val arg) { return ordering(w, arg, C_GT); }

/* ---- eq? ne?: numbers by value; [], atoms and tokens by identity ---- */

static int identity_kind(rt_ctx *ctx, rt_val v)
{
    return v == RT_NIL || rt_is_atom(v) || (rt_is_token(v) && !rt_is_unit(ctx, v));
}

static rt_val equality(rt_worker *w, rt_val arg, int negate)
{
    rt_val v[2];
    rt_val bad = operands2(w, negate ? "ne?" : "eq?", arg, check_any, v);
    if (bad)
        return bad;
    rt_num a, b;
    int eq;
    if (num_of(v[0], &a) && num_of(v[1], &b)) {
        eq = a.kind == NUM_INT && b.kind == NUM_INT ? a.i == b.i : a.d == b.d;
    } else if (identity_kind(w->ctx, v[0]) && identity_kind(w->ctx, v[1])) {
        eq = v[0] == v[1];
    } else {
        char da[128], db[128];
        describe(w->ctx, v[0], da, sizeof da);
        describe(w->ctx, v[1], db, sizeof db);
        return errorf(w, "not comparable: %s and %s", da, db);
    }
    return truth(w, eq != negate);
}

static rt_val rt_prim_eq_p(rt_worker *w, rt_val arg) { return equality(w, arg, 0); }
static rt_val rt_prim_ne_p(rt_worker *w, rt_val arg) { return equality(w, arg, 1); }

/* ---- type tests (strict) ---- */

static rt_val rt_prim_nil_p(rt_worker *w, rt_val arg)
{
    return truth(w, rt_force(w, arg) == RT_NIL);
}
static rt_val rt_prim_list_p(rt_worker *w, rt_val arg)
{
    rt_val v = rt_force(w, arg);
    return truth(w, v == RT_NIL || is_cons(v));
}
static rt_val rt_prim_isNML_p(rt_worker *w, rt_val arg)
{
    rt_num n;
    return truth(w, num_of(rt_force(w, arg), &n) != NUM_NONE);
}
static rt_val rt_prim_isIDE_p(rt_worker *w, rt_val arg)
{
    return truth(w, rt_is_atom(rt_force(w, arg)));
}
static rt_val rt_prim_isFTN_p(rt_worker *w, rt_val arg)
{
    rt_val v = rt_force(w, arg);
    return truth(w, rt_is_prim(v) || rt_is_type(v, RT_T_CLOSURE));
}
static rt_val rt_prim_isAPL_p(rt_worker *w, rt_val arg)
{
    rt_val v = rt_force(w, arg);
    return truth(w, rt_is_type(v, RT_T_FORM) && rt_hdr_aux(rt_obj_of(v)->header) == RT_FORM_APPLY);
}
static rt_val rt_prim_isERR_p(rt_worker *w, rt_val arg)
{
    return truth(w, rt_is_error(rt_force(w, arg)));
}

/* ---- %SpnHd? %SpnTl?: is the field a suspension nobody has finished? ---- */

static rt_val spine_probe(rt_worker *w, rt_val arg, int which)
{
    rt_val v = rt_force(w, arg);
    if (!is_cons(v))
        return not_a_list(w, which ? "%SpnTl?" : "%SpnHd?", v);
    rt_val f = rt_obj_of(v)->field[which];
    return truth(w, is_susp(f) && susp_state(f) != RT_SUSP_EVALUATED);
}

static rt_val rt_prim_spnhd_p(rt_worker *w, rt_val arg) { return spine_probe(w, arg, 0); }
static rt_val rt_prim_spntl_p(rt_worker *w, rt_val arg) { return spine_probe(w, arg, 1); }

/* ==== applying ================================================================== */

rt_val rt_apply(rt_worker *w, rt_val f, rt_val arg)
{
    if (is_susp(f)) {
        rt_push_root(w, arg);
        f = rt_force(w, f);
        arg = rt_pop_root(w);
    }
    if (rt_is_type(f, RT_T_CLOSURE)) {
        rt_closure_code code = (rt_closure_code)(uintptr_t)rt_obj_of(f)->field[RT_CLOSURE_CODE];
        return code(w, f, arg);
    }
    if (rt_is_prim(f))
        return rt_prim_call(w, (uint32_t)(f >> 3), arg);
    if (rt_is_error(f))
        return f;
    return rt_describe_error(w, "not a function: ", f);
}

/* interp eval.py suspended_apply: a suspension of f:arg. */
static rt_val apply_code(rt_worker *w, rt_val self)
{
    return rt_apply(w, env_of(self, 0), env_of(self, 1));
}

/* ==== map, smap, fc ============================================================= */

/* map:f applied to lst: [f:head ! map:f:tail], each part suspended. */
static rt_val map_next_code(rt_worker *w, rt_val self);

static rt_val map_step(rt_worker *w, rt_val f, rt_val lst)
{
    size_t mark = sp_off(w);
    rt_push_root(w, f);
    rt_push_root(w, lst);
    rt_val *s = slot_at(w, mark);     /* [f lst] */
    s[1] = rt_force(w, s[1]);
    if (!is_cons(s[1])) {
        rt_val l = s[1];
        sp_reset(w, mark);
        return l == RT_NIL ? RT_NIL : not_a_list(w, "map", l);
    }
    rt_reserve(w, 2 * SUSP_BYTES(2) + CONS_BYTES);
    rt_obj *a = susp_nogc(w, apply_code, 2);
    a->field[RT_SUSP_ENV] = s[0];
    a->field[RT_SUSP_ENV + 1] = head_of(s[1]);
    rt_obj *n = susp_nogc(w, map_next_code, 2);
    n->field[RT_SUSP_ENV] = s[0];
    n->field[RT_SUSP_ENV + 1] = tail_of(s[1]);
    rt_obj *c = cons_nogc(w, rt_val_of(a), rt_val_of(n));
    sp_reset(w, mark);
    return rt_val_of(c);
}

static rt_val map_next_code(rt_worker *w, rt_val self)
{
    return map_step(w, env_of(self, 0), env_of(self, 1));
}

static rt_val map_closure_code(rt_worker *w, rt_val self, rt_val arg)
{
    return map_step(w, rt_obj_of(self)->field[RT_CLOSURE_FREE], arg);
}

static rt_val rt_prim_map(rt_worker *w, rt_val f)
{
    return rt_closure_new(w, map_closure_code, 1, 1, &f);
}

/* smap:f applied to lst: [v ! smap:f:tail] where v is f:head evaluated now,
 * so element k is evaluated when cell k is made. */
static rt_val smap_next_code(rt_worker *w, rt_val self);

static rt_val smap_step(rt_worker *w, rt_val f, rt_val lst)
{
    size_t mark = sp_off(w);
    rt_push_root(w, f);
    rt_push_root(w, lst);
    rt_push_root(w, RT_NIL);
    rt_val *s = slot_at(w, mark);     /* [f lst v] */
    s[1] = rt_force(w, s[1]);
    if (!is_cons(s[1])) {
        rt_val l = s[1];
        sp_reset(w, mark);
        return l == RT_NIL ? RT_NIL : not_a_list(w, "smap", l);
    }
    s[0] = rt_force(w, s[0]);
    rt_val r = rt_apply(w, s[0], head_of(s[1]));
    s[2] = rt_force(w, r);
    rt_reserve(w, SUSP_BYTES(2) + CONS_BYTES);
    rt_obj *n = susp_nogc(w, smap_next_code, 2);
    n->field[RT_SUSP_ENV] = s[0];
    n->field[RT_SUSP_ENV + 1] = tail_of(s[1]);
    rt_obj *c = cons_nogc(w, s[2], rt_val_of(n));
    sp_reset(w, mark);
    return rt_val_of(c);
}

static rt_val smap_next_code(rt_worker *w, rt_val self)
{
    return smap_step(w, env_of(self, 0), env_of(self, 1));
}

static rt_val smap_closure_code(rt_worker *w, rt_val self, rt_val arg)
{
    return smap_step(w, rt_obj_of(self)->field[RT_CLOSURE_FREE], arg);
}

static rt_val rt_prim_smap(rt_worker *w, rt_val f)
{
    return rt_closure_new(w, smap_closure_code, 1, 1, &f);
}

/* fc:fs applied to args: [f0:a0 f1:a1 ...] up to the shorter list. */
static rt_val fc_next_code(rt_worker *w, rt_val self);

static rt_val fc_step(rt_worker *w, rt_val fs, rt_val args)
{
    size_t mark = sp_off(w);
    rt_push_root(w, fs);
    rt_push_root(w, args);
    rt_val *s = slot_at(w, mark);     /* [fs args] */
    s[0] = rt_force(w, s[0]);
    if (!is_cons(s[0])) {
        rt_val l = s[0];
        sp_reset(w, mark);
        return l == RT_NIL ? RT_NIL : not_a_list(w, "fc", l);
    }
    s[1] = rt_force(w, s[1]);
    if (!is_cons(s[1])) {
        rt_val l = s[1];
        sp_reset(w, mark);
        return l == RT_NIL ? RT_NIL : not_a_list(w, "fc", l);
    }
    rt_reserve(w, 2 * SUSP_BYTES(2) + CONS_BYTES);
    rt_obj *a = susp_nogc(w, apply_code, 2);
    a->field[RT_SUSP_ENV] = head_of(s[0]);
    a->field[RT_SUSP_ENV + 1] = head_of(s[1]);
    rt_obj *n = susp_nogc(w, fc_next_code, 2);
    n->field[RT_SUSP_ENV] = tail_of(s[0]);
    n->field[RT_SUSP_ENV + 1] = tail_of(s[1]);
    rt_obj *c = cons_nogc(w, rt_val_of(a), rt_val_of(n));
    sp_reset(w, mark);
    return rt_val_of(c);
}

static rt_val fc_next_code(rt_worker *w, rt_val self)
{
    return fc_step(w, env_of(self, 0), env_of(self, 1));
}

static rt_val fc_closure_code(rt_worker *w, rt_val self, rt_val arg)
{
    return fc_step(w, rt_obj_of(self)->field[RT_CLOSURE_FREE], arg);
}

static rt_val rt_prim_fc(rt_worker *w, rt_val fs)
{
    return rt_closure_new(w, fc_closure_code, 1, 1, &fs);
}

/* ==== seq, pcoerce ============================================================== */

static rt_val rt_prim_seq(rt_worker *w, rt_val arg)
{
    size_t mark = sp_off(w);
    rt_push_root(w, arg);
    rt_push_root(w, RT_NIL);
    rt_val *s = slot_at(w, mark);     /* [cursor last] */
    s[0] = rt_force(w, s[0]);
    while (is_cons(s[0])) {
        rt_val v = rt_force(w, head_of(s[0]));
        if (rt_is_error(v)) {
            sp_reset(w, mark);
            return v;
        }
        s[1] = v;
        rt_val t = tail_of(s[0]);
        s[0] = rt_force(w, t);
        rt_poll(w);
    }
    rt_val l = s[0], last = s[1];
    sp_reset(w, mark);
    return l == RT_NIL ? last : not_a_list(w, "seq", l);
}

/* The spine of name's operand forced (interp prims.py _members): the list
 * (WHNF), or the error to answer with.  Nothing of the elements is forced. */
static rt_val members(rt_worker *w, const char *name, rt_val arg)
{
    size_t mark = sp_off(w);
    rt_push_root(w, arg);
    rt_push_root(w, RT_NIL);
    rt_val *s = slot_at(w, mark);     /* [list cursor] */
    s[0] = rt_force(w, s[0]);
    s[1] = s[0];
    while (is_cons(s[1])) {
        rt_val t = tail_of(s[1]);
        s[1] = rt_force(w, t);
        rt_poll(w);
    }
    rt_val l = s[0], end = s[1];
    sp_reset(w, mark);
    return end == RT_NIL ? l : not_a_list(w, name, end);
}

static rt_val rt_prim_pcoerce(rt_worker *w, rt_val arg)
{
    size_t mark = sp_off(w);
    rt_push_root(w, arg);
    rt_val l = members(w, "pcoerce", arg);
    if (rt_is_error(l)) {
        sp_reset(w, mark);
        return l;
    }
    rt_push_root(w, l);
    rt_val *s = slot_at(w, mark);     /* [arg cursor] */
    while (is_cons(s[1])) {
        (void)rt_force(w, head_of(s[1]));
        rt_val t = tail_of(s[1]);
        s[1] = rt_force(w, t);        /* evaluated already: the spine was forced */
        rt_poll(w);
    }
    rt_val r = rt_force(w, s[0]);
    sp_reset(w, mark);
    return r;
}

/* ==== set and any? ================================================================
 *
 * Note [Races]
 *
 * The members of set:[...] and any?:[...] run as tasks (rt_task.c Note
 * [Tasks]), as they run as green threads in the interpreter: fairly, taken in
 * completion order.  A race is a pending list: the members not yet delivered,
 * in list order, those whose values were already there when the race began
 * first (so they come out at once, in list order, as in the interpreter).
 * Members that are unevaluated suspensions are sparked when the race begins,
 * so idle workers may take them.  To deliver, race_pick looks for the first
 * pending member with a value.  If there is none, it claims every unclaimed
 * member for a member task of its own worker, raises the demand of each
 * member's claimant, and blocks: the worker runs the member tasks in time
 * slices (helpers run the members they took), and the race wakes when one
 * has finished.  Members that finish in the same slice come out in list
 * order, as the interpreter's collect() takes them.  Member tasks nobody
 * waits for any more (a set whose stream is not read on) stop running, as
 * the interpreter's threads do, and end with the step.  any? cancels the
 * members it no longer needs: each member still being evaluated from the base
 * of a task is abandoned and its suspension is unevaluated again when any?
 * returns, so demanding it later evaluates it afresh.  A member claimed by the
 * racing task itself demands its own value: it finishes as the error `cycle`.
 * ------------------------------------------------------------------------ */

/* Spark the unevaluated members of a spine-forced list, and return the
 * pending list: members that are values (looked through) first, then the
 * others, each group in list order. */
static rt_val race_start(rt_worker *w, rt_val list)
{
    size_t mark = sp_off(w);
    rt_push_root(w, list);
    rt_push_root(w, RT_NIL);
    rt_push_root(w, RT_NIL);
    rt_val *s = slot_at(w, mark);     /* [cursor reversed-values reversed-pending] */
    while (is_cons(s[0])) {
        rt_val h = head_of(s[0]);
        rt_val v = peek_nogc(h);
        if (v != RT_NULL) {
            s[1] = rt_cons(w, v, s[1]);
        } else {
            if (susp_state(h) == RT_SUSP_UNEVALUATED) {
                /* its task, and a spark that lets a thief take it over */
                rt_push_root(w, h);
                (void)rt_task_member_start(w, sp_off(w) - 1);
                w->sp--;
            }
            s[2] = rt_cons(w, head_of(s[0]), s[2]);
        }
        s[0] = peek_nogc(tail_of(s[0]));  /* the spine is evaluated */
        rt_poll(w);
    }
    s[0] = RT_NIL;
    for (int k = 2; k >= 1; k--)
        while (is_cons(s[k])) {
            s[0] = rt_cons(w, head_of(s[k]), s[0]);
            s[k] = tail_of(s[k]);
        }
    rt_val r = s[0];
    sp_reset(w, mark);
    return r;
}

static rt_val race_cycle(rt_worker *w)
{
    return rt_error_new(w, "cycle: a suspension demands its own value");
}

/* The value of the next member to deliver from the pending list in root slot
 * `slot` (not empty); *at is its position there.  The value is unrooted. */
static rt_val race_pick(rt_worker *w, size_t slot, size_t *at)
{
    rt_task *me = w->task;
    for (;;) {
        size_t i = 0;
        for (rt_val l = *slot_at(w, slot); is_cons(l); l = tail_of(l), i++) {
            rt_val h = head_of(l);
            rt_val v = peek_nogc(h);
            if (v != RT_NULL) {
                *at = i;
                return v;
            }
            uint64_t st = susp_state(h);
            if ((st & RT_SUSP_CLAIMED_BIT) && rt_susp_claimant(st) == me->id) {
                *at = i;
                return race_cycle(w);
            }
        }
        /* Nothing has finished: every unclaimed member (one whose evaluation was
         * dropped since the race began) gets a task of ours.  Starting one is a
         * safepoint: the list is read again from its slot. */
        rt_val unstarted = RT_NULL;
        size_t n = 0;
        for (rt_val l = *slot_at(w, slot); is_cons(l); l = tail_of(l))
            n++;
        for (i = 0; i < n; i++) {
            rt_val l = *slot_at(w, slot);
            for (size_t k = 0; k < i; k++)
                l = tail_of(l);
            rt_val h = head_of(l);
            if (!is_susp(h) || susp_state(h) != RT_SUSP_UNEVALUATED)
                continue;
            rt_push_root(w, h);
            rt_task *t = rt_task_member_start(w, sp_off(w) - 1);
            h = rt_pop_root(w);
            if (!t && is_susp(h) && susp_state(h) == RT_SUSP_UNEVALUATED) {
                unstarted = h;
                *at = i;
                break;
            }
        }
        if (unstarted != RT_NULL) {
            /* no task could be made (no memory for a stack): the member is
             * evaluated here, unfairly but surely */
            rt_val v = rt_force(w, unstarted);
            size_t k = *at;
            rt_val l = *slot_at(w, slot);
            while (k--)
                l = tail_of(l);
            if (peek_nogc(head_of(l)) == RT_NULL)
                return v;            /* a force that did not evaluate it: its answer */
            continue;
        }
        me->wait_kind = RT_WAIT_RACE;
        me->wait_slot = slot;
        me->cycle = 0;
        for (rt_val l = *slot_at(w, slot); is_cons(l); l = tail_of(l)) {
            uint64_t st = susp_state(head_of(l));
            if (st & RT_SUSP_CLAIMED_BIT) {
                rt_task *t = rt_task_lookup(w->ctx, rt_susp_claimant(st));
                if (t)
                    rt_task_demand(me, t);
            }
        }
        atomic_store(&me->state, RT_TS_BLOCKED);
        rt_sched_block(w);
        rt_task_undemand_all(me);
        if (me->cycle) {
            /* the members wait on each other and on this task: Note [Tasks] */
            me->cycle = 0;
            *at = 0;
            return race_cycle(w);
        }
    }
}

/* Remove position `at` from the pending list in root slot `slot`: the members
 * before it are copied, the rest is shared. */
static void race_remove(rt_worker *w, size_t slot, size_t at)
{
    size_t mark = sp_off(w);
    rt_val l = *slot_at(w, slot);
    for (size_t i = 0; i < at; i++) {
        rt_push_root(w, head_of(l));
        l = tail_of(l);
    }
    rt_push_root(w, tail_of(l));
    while (sp_off(w) > mark + 1) {
        rt_val c = rt_cons(w, w->sp[-2], w->sp[-1]);
        w->sp--;
        w->sp[-1] = c;
    }
    *slot_at(w, slot) = rt_pop_root(w);
}

static rt_val set_next_code(rt_worker *w, rt_val self);

/* The next cell of a set stream: [value ! set-next of the rest]. */
static rt_val set_produce(rt_worker *w, rt_val pending)
{
    if (pending == RT_NIL)
        return RT_NIL;
    size_t mark = sp_off(w);
    rt_push_root(w, pending);
    size_t at = 0;
    rt_val v = race_pick(w, mark, &at);
    rt_push_root(w, v);
    race_remove(w, mark, at);
    rt_reserve(w, SUSP_BYTES(1) + CONS_BYTES);
    rt_val *s = slot_at(w, mark);     /* [pending value] */
    rt_obj *n = susp_nogc(w, set_next_code, 1);
    n->field[RT_SUSP_ENV] = s[0];
    rt_obj *c = cons_nogc(w, s[1], rt_val_of(n));
    sp_reset(w, mark);
    return rt_val_of(c);
}

static rt_val set_next_code(rt_worker *w, rt_val self)
{
    return set_produce(w, env_of(self, 0));
}

static rt_val rt_prim_set(rt_worker *w, rt_val arg)
{
    rt_val l = members(w, "set", arg);
    if (rt_is_error(l))
        return l;
    return set_produce(w, race_start(w, l));
}

static rt_val rt_prim_any_p(rt_worker *w, rt_val arg)
{
    rt_val l = members(w, "any?", arg);
    if (rt_is_error(l))
        return l;
    size_t mark = sp_off(w);
    rt_push_root(w, l);
    rt_val pending = race_start(w, l);
    rt_push_root(w, pending);
    rt_val *s = slot_at(w, mark);     /* [members pending] */
    while (s[1] != RT_NIL) {
        size_t at = 0;
        rt_val v = race_pick(w, mark + 1, &at);
        if (v != RT_NIL && !rt_is_error(v)) {
            /* The answer is known: abandon the members still running. */
            race_remove(w, mark + 1, at);
            while (is_cons(s[1])) {
                rt_val h = head_of(s[1]);
                if (is_susp(h))
                    rt_task_cancel_member(w, rt_obj_of(h));
                s = slot_at(w, mark);
                s[1] = tail_of(s[1]);
            }
            sp_reset(w, mark);
            return true_val(w->ctx);
        }
        race_remove(w, mark + 1, at);
    }
    /* Every member has converged and none is true: the first error in list
     * order, else [].  (Their values are all there: forcing only reads them.) */
    while (is_cons(s[0])) {
        rt_val v = rt_force(w, head_of(s[0]));
        if (rt_is_error(v)) {
            sp_reset(w, mark);
            return v;
        }
        s[0] = peek_nogc(tail_of(s[0]));
    }
    sp_reset(w, mark);
    return RT_NIL;
}

/* ==== val, evlst and the top-level environment ==================================== */

typedef struct rt_toplevel_entry { rt_val name; uint32_t index; } rt_toplevel_entry;

static size_t toplevel_hash(rt_val name, size_t cap)
{
    return (size_t)((name >> 3) * UINT64_C(0x9E3779B97F4A7C15) >> 20) & (cap - 1);
}

void rt_toplevel_define(rt_ctx *ctx, rt_val name_atom, uint32_t global_index)
{
    pthread_mutex_lock(&ctx->atom_lock);
    if ((ctx->ntoplevel + 1) * 2 > ctx->toplevel_cap) {
        size_t cap = ctx->toplevel_cap ? 2 * ctx->toplevel_cap : 64;
        rt_toplevel_entry *t = calloc(cap, sizeof *t);
        if (!t)
            rt_fatal("out of memory for the top-level names");
        for (size_t i = 0; i < ctx->toplevel_cap; i++) {
            rt_toplevel_entry e = ctx->toplevel[i];
            if (!e.name)
                continue;
            size_t j = toplevel_hash(e.name, cap);
            while (t[j].name)
                j = (j + 1) & (cap - 1);
            t[j] = e;
        }
        free(ctx->toplevel);
        ctx->toplevel = t;
        ctx->toplevel_cap = cap;
    }
    size_t j = toplevel_hash(name_atom, ctx->toplevel_cap);
    while (ctx->toplevel[j].name && ctx->toplevel[j].name != name_atom)
        j = (j + 1) & (ctx->toplevel_cap - 1);
    if (!ctx->toplevel[j].name)
        ctx->ntoplevel++;
    ctx->toplevel[j] = (rt_toplevel_entry){name_atom, global_index};
    pthread_mutex_unlock(&ctx->atom_lock);
}

rt_val rt_toplevel_lookup(rt_worker *w, rt_val name_atom)
{
    rt_ctx *ctx = w->ctx;
    int found = 0;
    rt_val v = RT_NIL;
    pthread_mutex_lock(&ctx->atom_lock);
    if (ctx->toplevel_cap) {
        size_t j = toplevel_hash(name_atom, ctx->toplevel_cap);
        while (ctx->toplevel[j].name) {
            if (ctx->toplevel[j].name == name_atom) {
                v = rt_global_get(ctx, ctx->toplevel[j].index);
                found = 1;
                break;
            }
            j = (j + 1) & (ctx->toplevel_cap - 1);
        }
    }
    pthread_mutex_unlock(&ctx->atom_lock);
    /* The binding as it is, perhaps an unevaluated suspension, like a global slot
     * (jit/lower.py global_value): a name in a suspended position, `[big]`, must
     * not evaluate it.  Whoever needs the value forces it. */
    if (found)
        return v;
    /* The predefined names (interp: the globals start as the primitives,
     * true, nil and stdin). */
    size_t len = 0;
    const char *s = rt_atom_name(ctx, name_atom, &len);
    if (!s)
        return errorf(w, "unbound identifier ?");
    char name[64];
    if (len < sizeof name) {
        memcpy(name, s, len);
        name[len] = 0;
        int p = rt_prim_lookup(name);
        if (p >= 0)
            return rt_prim_val((uint32_t)p);
        if (strcmp(name, "true") == 0)
            return true_val(ctx);
        if (strcmp(name, "nil") == 0)
            return RT_NIL;
        if (strcmp(name, "stdin") == 0)
            return rt_stdin_stream(w);      /* a suspension, as a global is */
    }
    return errorf(w, "unbound identifier %.*s", (int)len, s);
}

void rt_set_eval_hook(rt_ctx *ctx, rt_eval_hook hook) { ctx->eval_hook = hook; }

/* The eval hook's answer without running Daisy code inside it (the JIT's hook is
 * Python, called through ctypes: code run there could unwind across its frames, on
 * Ctrl-C or an allocation failure).  The hook calls rt_eval_hook_answer with the
 * compiled form's entry (code signature), or with NULL and an error message, and
 * returns RT_NULL; eval_form then runs the entry itself, or makes the error value.
 * The answer is per thread: the hook runs on the thread that called it.  A hook that
 * returns a value instead gives the form's value. */
static _Thread_local rt_closure_code hook_code;
static _Thread_local char *hook_error;

void rt_eval_hook_answer(rt_closure_code code, const char *error)
{
    hook_code = code;
    free(hook_error);
    hook_error = error ? strdup(error) : NULL;
}

rt_val rt_unit_named(rt_ctx *ctx, const char *text, size_t n);   /* rt_streams.c */

/* What a run-time definition of `name` evaluates to: a unit printed nested as
 * `<defined NAME>` (interp interpreter.py eval_form). */
rt_val rt_defined_unit(rt_ctx *ctx, rt_val name)
{
    size_t len = 0;
    const char *s = rt_is_atom(name) ? rt_atom_name(ctx, name, &len) : NULL;
    if (!s)
        return RT_UNIT;
    char *t = malloc(len + 11);
    if (!t)
        rt_fatal("out of memory for a unit");
    memcpy(t, "<defined ", 9);
    memcpy(t + 9, s, len);
    t[9 + len] = '>';
    rt_val u = rt_unit_named(ctx, t, len + 10);
    free(t);
    return u;
}

static rt_val eval_by_hook(rt_worker *w, rt_eval_hook hook, rt_val q, uint32_t kind)
{
    /* a definition's name: an atom, so it stays valid while the heap moves */
    rt_val name = kind == RT_FORM_DEFINE ? rt_obj_of(q)->field[0] : RT_NULL;
    hook_code = NULL;
    rt_val r = hook(w, q);
    if (r != RT_NULL)
        return rt_force(w, r);
    rt_closure_code code = hook_code;
    hook_code = NULL;
    if (!code) {
        char *msg = hook_error;
        hook_error = NULL;
        r = errorf(w, "%s", msg ? msg : "val: the compiler gave no code");
        free(msg);
        return r;
    }
    r = rt_force(w, code(w, RT_NIL, RT_NIL));
    if (kind == RT_FORM_DEFINE && r == RT_UNIT)
        return rt_defined_unit(w->ctx, name);
    return r;
}

static rt_val val_of_code(rt_worker *w, rt_val self);

/* interp interpreter.py eval_form: the value of form q (a value). */
static rt_val eval_form(rt_worker *w, rt_val q)
{
    if (rt_is_atom(q)) {
        size_t len = 0;
        const char *s = rt_atom_name(w->ctx, q, &len);
        if (!s || !rt_atom_is_ident(s, len))
            return q;
        return rt_force(w, rt_toplevel_lookup(w, q));
    }
    if (is_cons(q)) {
        rt_push_root(w, q);
        rt_reserve(w, 2 * SUSP_BYTES(1) + CONS_BYTES);
        q = rt_pop_root(w);
        rt_obj *h = susp_nogc(w, val_of_code, 1);
        h->field[RT_SUSP_ENV] = head_of(q);
        rt_obj *t = susp_nogc(w, val_of_code, 1);
        t->field[RT_SUSP_ENV] = tail_of(q);
        return rt_val_of(cons_nogc(w, rt_val_of(h), rt_val_of(t)));
    }
    if (rt_is_type(q, RT_T_FORM)) {
        uint32_t kind = rt_hdr_aux(rt_obj_of(q)->header);
        if (kind >= RT_FORM_APPLY && kind <= RT_FORM_DEFINE) {
            /* compiled with the program: Note [Forms with code] in jit/lower.py */
            rt_closure_code code = rt_form_code_find(w->ctx, q);
            if (code)
                return rt_force(w, code(w, RT_NIL, RT_NIL));
            rt_eval_hook hook = w->ctx->eval_hook;
            if (hook)                        /* the JIT compiles it */
                return eval_by_hook(w, hook, q, kind);
            return rt_formeval(w, q);        /* no compiler: walk it (rt_formeval.c) */
        }
    }
    return q;   /* numbers, [], functions, errors and other values are themselves */
}

static rt_val val_of_code(rt_worker *w, rt_val self)
{
    return eval_form(w, rt_force(w, env_of(self, 0)));
}

static rt_val rt_prim_val_form(rt_worker *w, rt_val arg)
{
    return eval_form(w, rt_force(w, arg));
}

static rt_val evlst_next_code(rt_worker *w, rt_val self);

static rt_val evlst_step(rt_worker *w, rt_val lst)
{
    lst = rt_force(w, lst);
    if (!is_cons(lst))
        return lst == RT_NIL ? RT_NIL : not_a_list(w, "evlst", lst);
    rt_push_root(w, lst);
    rt_reserve(w, 2 * SUSP_BYTES(1) + CONS_BYTES);
    lst = rt_pop_root(w);
    rt_obj *h = susp_nogc(w, val_of_code, 1);
    h->field[RT_SUSP_ENV] = head_of(lst);
    rt_obj *t = susp_nogc(w, evlst_next_code, 1);
    t->field[RT_SUSP_ENV] = tail_of(lst);
    return rt_val_of(cons_nogc(w, rt_val_of(h), rt_val_of(t)));
}

static rt_val evlst_next_code(rt_worker *w, rt_val self) { return evlst_step(w, env_of(self, 0)); }
static rt_val rt_prim_evlst(rt_worker *w, rt_val arg) { return evlst_step(w, arg); }

/* ==== selection (Note [Lazy patterns] in interp/eval.py) ============================ */

static rt_val mismatch(rt_worker *w, int which, rt_val v)
{
    if (v == RT_NIL) {
        /* The common mismatch: a pattern `[X ! Xs]` bound to the empty list, whose
         * binders are selected as soon as the list is known (the lists end in every
         * recursion).  Its message never changes, so it is made once: no formatting
         * and no interning on each. */
        rt_ctx *ctx = w->ctx;
        rt_val a = atomic_load_explicit(&ctx->nil_mismatch[which], memory_order_relaxed);
        if (!a) {
            rt_val e = rt_describe_error(w, which ? "pattern mismatch: tail of "
                                                  : "pattern mismatch: head of ", v);
            atomic_store_explicit(&ctx->nil_mismatch[which], rt_obj_of(e)->field[0],
                                  memory_order_relaxed);
            return e;
        }
        rt_obj *o = rt_alloc(w, RT_HDR(RT_T_ERROR, 0, 0, 1));
        o->field[0] = a;
        return rt_val_of(o);
    }
    return rt_describe_error(w, which ? "pattern mismatch: tail of " : "pattern mismatch: head of ",
                             v);
}

rt_val rt_select_code(rt_worker *w, rt_val self)
{
    int which = (int)rt_fix_value(env_of(self, 1));
    rt_val v = rt_force(w, env_of(self, 0));
    if (is_cons(v))
        return rt_obj_of(v)->field[which];     /* lazy: eval_claimed forces it */
    if (rt_is_error(v))
        return v;
    return mismatch(w, which, v);
}

rt_val rt_select(rt_worker *w, rt_val src, int which)
{
    rt_val v = src;
    if (is_susp(v)) {
        v = peek_nogc(src);
        if (v == RT_NULL) {
            rt_val env[2] = {src, rt_fix(which)};
            return rt_susp_new(w, rt_select_code, 2, env);
        }
    }
    if (is_cons(v)) {
        rt_val f = rt_obj_of(v)->field[which];
        rt_val fv = peek_nogc(f);
        return fv != RT_NULL ? fv : f;
    }
    if (rt_is_error(v))
        return v;
    return mismatch(w, which, v);
}

/* ==== deep forcing ================================================================
 *
 * Note [Deep forcing]
 *
 * `#` follows interp/eval.py deep_force exactly: for each cell, force its head,
 * then its tail, then go down the head if it is an unvisited cell (the tail
 * waits on a to-do stack), else along the tail.  The interpreter marks each
 * cell it has entered (`nf`); the runtime cannot write a mark into a cell
 * (headers are read concurrently and the local collector relies on nobody
 * writing them), so the marks are a side hash set of cell addresses, private
 * to one call, and so is the to-do stack, in malloc'd memory.  A long walk
 * (past DEEP_BITMAP_AFTER cells) moves to a bitmap per heap region instead, a
 * bit per word as the local collector's: a hash probe per cell missed the cache
 * at every step of a long list and was most of a `#` of 10^6 cells, where the
 * cells of one list lie together in a few regions and so do their bits.  Short
 * walks keep the hash, whose clearing costs what they used (a region's bitmap
 * is 32 KiB).  Addresses outside the heap always go to the hash.  Addresses stay
 * valid while no compaction happens (the local collector moves nothing, and
 * everything visited is reachable from the root value, which is on the root
 * stack).  When a compaction has happened (ctx->gc_count changed across a
 * force or a poll), the walk starts again from the root with an empty set,
 * keeping its buffers: everything forced so far is a value now, so the new
 * walk forces nothing until it gets back to where it was, and it visits only
 * live cells, which the compaction has just copied anyway.
 *
 * The set and stack must not leak when an unwind (Note [Resumable allocation
 * failure]) long-jumps out of a call.  So each task keeps a stack of frames
 * (w->deep, Note [Tasks]) whose buffers are reused, and each call pushes a
 * marker word (RT_MARKER_TAG with a serial number) on the root stack.  A frame is
 * live while its marker is still on the root stack at its offset: an unwind
 * cuts the root stack below it, and anything pushed there later is another
 * word.  A new call first drops the dead frames on top.
 * ------------------------------------------------------------------------ */

typedef struct rt_deep_frame {
    rt_val marker;
    size_t mark;                       /* root-stack offset of the marker */
    uintptr_t *set;                    /* open addressing; 0 = empty */
    size_t set_cap, set_n;
    uintptr_t *todo;
    size_t todo_n, todo_cap;
    /* bitmap mode (a long walk): bits[r] marks region r's visited cells, one bit
     * per word; regions[] lists the r with a bitmap.  bits is NULL otherwise. */
    rt_ctx *ctx;
    uint64_t **bits;
    size_t bit_n;                      /* cells marked in bitmaps (set_n: in the hash) */
    uint32_t *regions;
    size_t nregions, regions_cap;
} rt_deep_frame;

typedef struct rt_deep_state {
    rt_deep_frame *frames;
    size_t n, cap;
    uint64_t serial;
} rt_deep_state;

#define DEEP_KEEP_SLOTS ((size_t)1 << 16)   /* buffers kept for reuse up to this size */
#define DEEP_BITMAP_AFTER 8192              /* cells: a walk this long moves to bitmaps */
#define DEEP_BITMAP_WORDS (RT_REGION_WORDS / 64)

/* The running task's frames (Note [Tasks]: tasks of one worker interleave, so
 * each has its own). */
static rt_deep_state *deep_state(rt_worker *w)
{
    if (!w->deep) {
        w->deep = calloc(1, sizeof *w->deep);
        if (!w->deep)
            rt_fatal("out of memory for deep forcing");
    }
    return w->deep;
}

static inline size_t set_slot(uintptr_t a, size_t cap)
{
    return (size_t)(((uint64_t)a >> 3) * UINT64_C(0x9E3779B97F4A7C15) >> 17) & (cap - 1);
}

static int hash_has(const rt_deep_frame *f, uintptr_t a)
{
    if (!f->set_cap)
        return 0;
    for (size_t j = set_slot(a, f->set_cap);; j = (j + 1) & (f->set_cap - 1)) {
        if (f->set[j] == a)
            return 1;
        if (!f->set[j])
            return 0;
    }
}

/* Add a to the hash; 1 if it was not there. */
static int hash_add(rt_deep_frame *f, uintptr_t a)
{
    if ((f->set_n + 1) * 2 > f->set_cap) {
        size_t cap = f->set_cap ? 2 * f->set_cap : 64;
        uintptr_t *t = calloc(cap, sizeof *t);
        if (!t)
            rt_fatal("out of memory for deep forcing (%zu cells)", f->set_n);
        for (size_t i = 0; i < f->set_cap; i++)
            if (f->set[i]) {
                size_t j = set_slot(f->set[i], cap);
                while (t[j])
                    j = (j + 1) & (cap - 1);
                t[j] = f->set[i];
            }
        free(f->set);
        f->set = t;
        f->set_cap = cap;
    }
    size_t j = set_slot(a, f->set_cap);
    while (f->set[j]) {
        if (f->set[j] == a)
            return 0;
        j = (j + 1) & (f->set_cap - 1);
    }
    f->set[j] = a;
    f->set_n++;
    return 1;
}

/* The word of region r's bitmap that holds a's bit, and the bit. */
static inline uint64_t *bit_word(rt_deep_frame *f, uintptr_t a, uint64_t *bit)
{
    uint32_t r = rt_heap_region_of(f->ctx, (const void *)a);
    uint64_t *b = f->bits[r];
    if (!b) {
        b = f->bits[r] = calloc(DEEP_BITMAP_WORDS, sizeof *b);
        if (!b)
            rt_fatal("out of memory for deep forcing (%zu cells)", f->bit_n);
        RT_GROW(f->regions, f->nregions, f->regions_cap, 16, "deep forcing");
        f->regions[f->nregions++] = r;
    }
    size_t idx = (a - (uintptr_t)rt_heap_region_base(f->ctx, r)) >> 3;
    *bit = (uint64_t)1 << (idx & 63);
    return &b[idx >> 6];
}

/* Into bitmap mode: the hash's heap addresses move to bitmaps, and the hash keeps
 * the others. */
static void to_bitmaps(rt_deep_frame *f)
{
    f->bits = calloc(f->ctx->nregions_total, sizeof *f->bits);
    if (!f->bits)
        rt_fatal("out of memory for deep forcing (%zu cells)", f->set_n);
    size_t cap = f->set_cap;
    uintptr_t *old = f->set;
    f->set = NULL;
    f->set_cap = f->set_n = 0;
    for (size_t i = 0; i < cap; i++) {
        uintptr_t a = old[i];
        if (!a)
            continue;
        if (rt_heap_contains(f->ctx, (const void *)a)) {
            uint64_t bit, *word = bit_word(f, a, &bit);
            *word |= bit;
            f->bit_n++;
        } else {
            hash_add(f, a);
        }
    }
    free(old);
}

static int set_has(rt_deep_frame *f, uintptr_t a)
{
    if (f->bits && rt_heap_contains(f->ctx, (const void *)a)) {
        uint64_t bit, *word = bit_word(f, a, &bit);
        return (*word & bit) != 0;
    }
    return hash_has(f, a);
}

/* Add a; 1 if it was not there. */
static int set_add(rt_deep_frame *f, uintptr_t a)
{
    if (f->bits && rt_heap_contains(f->ctx, (const void *)a)) {
        uint64_t bit, *word = bit_word(f, a, &bit);
        if (*word & bit)
            return 0;
        *word |= bit;
        f->bit_n++;
        return 1;
    }
    if (!hash_add(f, a))
        return 0;
    if (!f->bits && f->set_n >= DEEP_BITMAP_AFTER)
        to_bitmaps(f);
    return 1;
}

/* Free the regions' bitmaps, and leave bitmap mode unless `stay`: a walk that
 * restarts after a compaction stays in it, but the regions it marked have just
 * been emptied, so their bitmaps go (keeping them would make every restart clear
 * more of them: under DAISY_GC_STRESS, thousands). */
static void bitmaps_clear(rt_deep_frame *f, int stay)
{
    if (!f->bits)
        return;
    for (size_t i = 0; i < f->nregions; i++) {
        free(f->bits[f->regions[i]]);
        f->bits[f->regions[i]] = NULL;
    }
    f->nregions = 0;
    f->bit_n = 0;
    if (!stay) {
        free(f->bits);
        f->bits = NULL;
    }
}

static void todo_push(rt_deep_frame *f, rt_val v)
{
    RT_GROW(f->todo, f->todo_n, f->todo_cap, 256, "deep forcing");
    f->todo[f->todo_n++] = (uintptr_t)v;
}

/* Empty the set for the next walk.  Clearing costs the table's size, so a table
 * much larger than this walk needed (or than is worth keeping) is freed instead:
 * clearing stays proportional to the walk, and `#` of a short list after one of
 * a long list does not clear 512 KiB (it did: a third of the annotated
 * quicksort's time). */
static void set_clear(rt_deep_frame *f)
{
    bitmaps_clear(f, 0);
    if (f->set_cap > DEEP_KEEP_SLOTS || f->set_cap > 8 * (f->set_n + 32)) {
        free(f->set);
        f->set = NULL;
        f->set_cap = 0;
    } else if (f->set_n) {
        memset(f->set, 0, f->set_cap * sizeof *f->set);
    }
    f->set_n = 0;
}

/* Empty the set for the same walk again, after a compaction moved the cells it
 * holds: the walk will need about as many slots as it had, so they are kept and
 * cleared, where freeing them made the walk grow the table afresh, page faults and
 * rehashing included, once per compaction (a `#` of 10^6 cells across seven
 * compactions faulted in 280 MB of table). */
static void set_wipe(rt_deep_frame *f)
{
    bitmaps_clear(f, 1);                /* stays in bitmap mode */
    if (f->set_n && f->set_cap)
        memset(f->set, 0, f->set_cap * sizeof *f->set);
    f->set_n = 0;
}

static void frame_trim(rt_deep_frame *f)
{
    set_clear(f);
    if (f->todo_cap > DEEP_KEEP_SLOTS) {
        free(f->todo);
        f->todo = NULL;
        f->todo_cap = 0;
    }
    f->todo_n = 0;
}

void rt_deep_state_free(struct rt_deep_state *st)
{
    if (!st)
        return;
    for (size_t k = 0; k < st->cap; k++) {
        bitmaps_clear(&st->frames[k], 0);
        free(st->frames[k].set);
        free(st->frames[k].todo);
        free(st->frames[k].regions);
    }
    free(st->frames);
    free(st);
}

static rt_deep_frame *deep_enter(rt_worker *w, size_t *idx)
{
    rt_deep_state *st = deep_state(w);
    size_t off = sp_off(w);
    while (st->n > 0) {
        rt_deep_frame *f = &st->frames[st->n - 1];
        if (f->mark < off && w->sp_base[f->mark] == f->marker)
            break;
        frame_trim(f);
        st->n--;
    }
    if (st->n == st->cap) {
        size_t cap = st->cap ? 2 * st->cap : 8;
        rt_deep_frame *fr = realloc(st->frames, cap * sizeof *fr);
        if (!fr)
            rt_fatal("out of memory for deep forcing");
        memset(fr + st->cap, 0, (cap - st->cap) * sizeof *fr);
        st->frames = fr;
        st->cap = cap;
    }
    *idx = st->n++;
    rt_deep_frame *f = &st->frames[*idx];
    f->marker = ((++st->serial + 4096) << 8) | RT_MARKER_TAG;   /* never a value */
    f->mark = off;
    f->ctx = w->ctx;
    set_clear(f);
    f->todo_n = 0;
    return f;
}

/* A suspension made for `#E`: once forced, its value is already in normal form,
 * so the walk need not go into it (RT_SUSP_AUX_NF).  Forcing nothing, skipping it
 * changes nothing the walk would do, only the time it takes: the annotated
 * quicksort's `append:[#quick:lo [X ! @#quick:hi]]` walked every sorted half
 * again at every level. */
static inline int makes_nf(rt_val s)
{
    return (rt_hdr_aux(rt_obj_of(s)->header) & RT_SUSP_AUX_NF) != 0;
}

rt_val rt_deep_force(rt_worker *w, rt_val v)
{
    int whole = is_susp(v) && makes_nf(v);
    v = rt_force(w, v);
    if (whole || !is_cons(v))
        return v;
    rt_ctx *ctx = w->ctx;
    size_t idx;
    rt_deep_frame *f = deep_enter(w, &idx);
    size_t mark = f->mark;
    rt_push_root(w, f->marker);
    rt_push_root(w, v);
    rt_deep_state *st = deep_state(w);
    uint64_t gc0;
restart:
    gc0 = atomic_load(&ctx->gc_count);
    f = &st->frames[idx];
    set_wipe(f);                /* deep_enter left it empty; a restart keeps its size */
    f->todo_n = 0;
    todo_push(f, w->sp_base[mark + 1]);
    while (f->todo_n) {
        rt_val cell = (rt_val)f->todo[--f->todo_n];
        while (is_cons(cell) && set_add(f, (uintptr_t)cell)) {
            rt_val h = head_of(cell);
            int h_nf = 0, t_nf = 0;
            if (is_susp(h)) {
                h_nf = makes_nf(h);
                h = rt_force(w, h);
                if (atomic_load(&ctx->gc_count) != gc0)
                    goto restart;
                f = &st->frames[idx];   /* a nested `#` may have moved the frames */
            }
            rt_val t = tail_of(cell);
            if (is_susp(t)) {
                t_nf = makes_nf(t);
                t = rt_force(w, t);
                if (atomic_load(&ctx->gc_count) != gc0)
                    goto restart;
                f = &st->frames[idx];
            }
            if (t_nf)
                t = RT_NIL;             /* already whole: nothing to walk */
            if (is_cons(h) && !h_nf && !set_has(f, (uintptr_t)h)) {
                todo_push(f, t);
                cell = h;
            } else {
                cell = t;
            }
            rt_poll(w);
            if (atomic_load(&ctx->gc_count) != gc0)
                goto restart;
        }
    }
    f = &st->frames[idx];
    frame_trim(f);
    st->n = idx;
    v = w->sp_base[mark + 1];
    sp_reset(w, mark);
    return v;
}

/* ==== the table ===================================================================== */

typedef struct rt_prim_entry { const char *name; rt_prim_fn fn; } rt_prim_entry;

/* Sorted by name in byte order: index i is the primitive rt_prim_val(i). */
static const rt_prim_entry prim_table[] = {
    {"%SpnHd?", rt_prim_spnhd_p},
    {"%SpnTl?", rt_prim_spntl_p},
    {"add", rt_prim_add},
    {"and", rt_prim_and},
    {"any?", rt_prim_any_p},
    {"arsh", rt_prim_arsh},
    {"console", rt_prim_console},
    {"dcr", rt_prim_dcr},
    {"div", rt_prim_div},
    {"eq?", rt_prim_eq_p},
    {"evlst", rt_prim_evlst},
    {"fc", rt_prim_fc},
    {"ge?", rt_prim_ge_p},
    {"gt?", rt_prim_gt_p},
    {"inc", rt_prim_inc},
    {"inv", rt_prim_inv},
    {"isAPL?", rt_prim_isAPL_p},
    {"isERR?", rt_prim_isERR_p},
    {"isFTN?", rt_prim_isFTN_p},
    {"isIDE?", rt_prim_isIDE_p},
    {"isLST?", rt_prim_list_p},
    {"isNML?", rt_prim_isNML_p},
    {"le?", rt_prim_le_p},
    {"list?", rt_prim_list_p},
    {"lsh", rt_prim_lsh},
    {"lt?", rt_prim_lt_p},
    {"map", rt_prim_map},
    {"mpy", rt_prim_mpy},
    {"ne?", rt_prim_ne_p},
    {"neg", rt_prim_neg},
    {"neg?", rt_prim_neg_p},
    {"nil?", rt_prim_nil_p},
    {"not", rt_prim_not},
    {"one?", rt_prim_one_p},
    {"or", rt_prim_or},
    {"pcoerce", rt_prim_pcoerce},
    {"pos?", rt_prim_pos_p},
    {"prsis", rt_prim_prsis},
    {"prsos", rt_prim_prsos},
    {"rem", rt_prim_rem},
    {"rsh", rt_prim_rsh},
    {"scnis", rt_prim_scnis},
    {"scnos", rt_prim_scnos},
    {"screen", rt_prim_screen},
    {"seq", rt_prim_seq},
    {"set", rt_prim_set},
    {"smap", rt_prim_smap},
    {"sub", rt_prim_sub},
    {"val", rt_prim_val_form},
    {"xor", rt_prim_xor},
    {"zero?", rt_prim_zero_p},
};
#define PRIM_COUNT (sizeof prim_table / sizeof prim_table[0])
static_assert(PRIM_COUNT == 51, "frontend/primitives.py PRIMITIVES has 51 names");

/* The table must be sorted (rt_prim_lookup searches it); checked once. */
static _Atomic int table_checked;
static void check_table(void)
{
    if (atomic_load_explicit(&table_checked, memory_order_relaxed))
        return;
    for (size_t i = 1; i < PRIM_COUNT; i++)
        if (strcmp(prim_table[i - 1].name, prim_table[i].name) >= 0)
            rt_fatal("rt_prims.c: the primitive table is not sorted at %s", prim_table[i].name);
    atomic_store_explicit(&table_checked, 1, memory_order_relaxed);
}

uint32_t rt_prim_count(void) { return (uint32_t)PRIM_COUNT; }

const char *rt_prim_name(uint32_t i) { return i < PRIM_COUNT ? prim_table[i].name : NULL; }

int rt_prim_lookup(const char *name)
{
    check_table();
    size_t lo = 0, hi = PRIM_COUNT;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(prim_table[mid].name, name);
        if (c == 0)
            return (int)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

void rt_prims_register_names(rt_ctx *ctx)
{
    check_table();
    for (uint32_t i = 0; i < PRIM_COUNT; i++)
        rt_code_name_set(ctx, (const void *)(uintptr_t)rt_prim_val(i),
                         rt_atom(ctx, prim_table[i].name, strlen(prim_table[i].name)));
}

/* The fast path of rt_prim_list (rt_jit.c), for an arithmetic primitive or an
 * ordering whose n operands are all numbers already: nothing to force and nothing
 * to check in order, so no operand list is built.  The value, or RT_NULL when the
 * fast path does not apply (another primitive, an operand that is not a number,
 * an overflow): the caller then goes the general way, which gives the same value
 * or error. */
rt_val rt_prim_numbers(rt_worker *w, uint32_t prim, uint32_t n, const rt_val *ops)
{
    rt_num v[3];
    if (prim >= PRIM_COUNT || n > 3)
        return RT_NULL;
    for (uint32_t i = 0; i < n; i++)
        if (!num_of(ops[i], &v[i]))
            return RT_NULL;
    rt_prim_fn fn = prim_table[prim].fn;
    if (fn == rt_prim_add || fn == rt_prim_mpy) {
        int mpy = fn == rt_prim_mpy;
        rt_num acc = {NUM_INT, mpy, mpy};
        for (uint32_t i = 0; i < n; i++)
            if (!accumulate(&acc, &v[i], mpy))
                return RT_NULL;
        return num_result(w, &acc);
    }
    if (n != 2)
        return RT_NULL;
    if (fn == rt_prim_sub)
        return arith_nums(w, OP_SUB, &v[0], &v[1]);
    if (fn == rt_prim_div)
        return arith_nums(w, OP_DIV, &v[0], &v[1]);
    if (fn == rt_prim_rem)
        return arith_nums(w, OP_REM, &v[0], &v[1]);
    if (fn == rt_prim_lt_p)
        return ordering_nums(w, C_LT, &v[0], &v[1]);
    if (fn == rt_prim_le_p)
        return ordering_nums(w, C_LE, &v[0], &v[1]);
    if (fn == rt_prim_ge_p)
        return ordering_nums(w, C_GE, &v[0], &v[1]);
    if (fn == rt_prim_gt_p)
        return ordering_nums(w, C_GT, &v[0], &v[1]);
    return RT_NULL;
}

rt_val rt_prim_call(rt_worker *w, uint32_t prim, rt_val arg)
{
    if (prim >= PRIM_COUNT)
        rt_fatal("rt_prim_call: no primitive %u", prim);
    return prim_table[prim].fn(w, arg);
}

/* ==== the context's share ============================================================ */

void rt_prims_ctx_fini(rt_ctx *ctx)
{
    free(ctx->toplevel);
    ctx->toplevel = NULL;
    ctx->ntoplevel = ctx->toplevel_cap = 0;
}
