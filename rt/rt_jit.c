/* rt_jit.c -- what the code generator needs beyond the core runtime.
 *
 * Design.  Small services for code that the JIT generates (jit/emit.py), used alike
 * by the JIT (through llvmlite, in this process) and by ahead-of-time
 * executables (linked with libdaisyrt.a):
 *
 *   - Forms with code (Note [Forms with code] in jit/lower.py): every compound
 *     part of every quotation in a program is compiled with the program and
 *     registered here by the global slot that holds the form.  `val` finds a
 *     form's code by identity (the slot is a root, so compaction keeps it
 *     current), which is how `val:^E` works without a compiler at run time.
 *   - Ctrl-C: the JIT's `daisy run` installs the same SIGINT handler as
 *     rt_main.c, which asks the context to interrupt (async-signal-safe).
 */
#define _GNU_SOURCE
#include "rt_internal.h"

#include <signal.h>
#include <string.h>

void rt_form_code_register(rt_ctx *ctx, uint32_t global, rt_closure_code code)
{
    RT_GROW(ctx->form_codes, ctx->nform_codes, ctx->form_codes_cap, 64, "form codes");
    ctx->form_codes[ctx->nform_codes].global = global;
    ctx->form_codes[ctx->nform_codes].code = code;
    ctx->nform_codes++;
}

/* A definition made at run time may rebind names the registered code resolved
 * statically: forget it all, so `val` goes through the compiler hook (or, with
 * none, rt_formeval). */
void rt_form_codes_forget(rt_ctx *ctx) { ctx->nform_codes = 0; }

rt_closure_code rt_form_code_find(rt_ctx *ctx, rt_val form)
{
    for (size_t i = ctx->nform_codes; i-- > 0;)
        if (rt_global_get(ctx, ctx->form_codes[i].global) == form)
            return ctx->form_codes[i].code;
    return NULL;
}

/* Quoted forms, built at initialisation from a compact postfix encoding that
 * jit/lower.py emits (Note [Forms with code]): a form costs bytes of data, not
 * instructions.  The operands wait on the root stack, so compaction may happen
 * at any allocation.
 *   'i' int64   'f' double   'a' u32 len, bytes (an atom)   'n' []
 *   'c'         pop tail, head; push [head ! tail]
 *   'F' kind n  pop n fields; push the form
 *   'g' u32 slot, u32 code   store the top into global gbase+slot and, unless
 *               code is ~0, register codes[code] as its code
 * Returns the one value left. */
rt_val rt_form_build(rt_worker *w, const uint8_t *enc, size_t n, uint32_t gbase,
                     rt_closure_code const *codes)
{
    rt_ctx *ctx = w->ctx;
    rt_val *base = w->sp;
    size_t i = 0;
    while (i < n) {
        uint8_t op = enc[i++];
        uint32_t a, b;
        int64_t iv;
        double dv;
        switch (op) {
        case 'i':
            memcpy(&iv, enc + i, 8), i += 8;
            rt_push_root(w, rt_int(w, iv));
            break;
        case 'f':
            memcpy(&dv, enc + i, 8), i += 8;
            rt_push_root(w, rt_float(w, dv));
            break;
        case 'a':
            memcpy(&a, enc + i, 4), i += 4;
            rt_push_root(w, rt_atom(ctx, (const char *)enc + i, a));
            i += a;
            break;
        case 'n':
            rt_push_root(w, RT_NIL);
            break;
        case 'c': {
            rt_val c = rt_cons(w, w->sp[-2], w->sp[-1]);
            w->sp -= 2;
            rt_push_root(w, c);
            break;
        }
        case 'F': {
            uint32_t kind = enc[i++], nf = enc[i++];
            rt_val f = rt_form_new(w, kind, nf, w->sp - nf);
            w->sp -= nf;
            rt_push_root(w, f);
            break;
        }
        case 'g':
            memcpy(&a, enc + i, 4), memcpy(&b, enc + i + 4, 4), i += 8;
            rt_global_set(ctx, gbase + a, w->sp[-1]);
            if (b != UINT32_MAX)
                rt_form_code_register(ctx, gbase + a, codes[b]);
            break;
        default:
            rt_fatal("rt_form_build: bad encoding");
        }
    }
    rt_val v = w->sp[-1];
    w->sp = base;
    return v;
}

/* rt_force out of line: generated code's slow paths call this rather than
 * repeating the inline probe. */
rt_val rt_whnf(rt_worker *w, rt_val v) { return rt_force(w, v); }

/* Note [Primitive slow paths] in jit/lowering.py: an inline primitive whose operands
 * are not all small integers (or whose result is not one) hands them to the
 * primitive itself, which checks them in order.  The operands wait on the root stack
 * while the list is built, since each cons may collect. */
rt_val rt_prim_list(rt_worker *w, uint32_t prim, uint32_t n, rt_val a, rt_val b, rt_val c)
{
    rt_val *base = w->sp;
    rt_val ops[3] = {a, b, c};
    rt_val fast = rt_prim_numbers(w, prim, n, ops);
    if (fast != RT_NULL)
        return fast;
    for (uint32_t i = 0; i < n; i++)
        rt_push_root(w, ops[i]);
    rt_val list = RT_NIL;
    for (uint32_t i = n; i-- > 0;)
        list = rt_cons(w, base[i], list);
    w->sp = base;
    return rt_force(w, rt_prim_call(w, prim, list));
}

rt_val rt_prim_whnf(rt_worker *w, uint32_t prim, rt_val arg)
{
    return rt_force(w, rt_prim_call(w, prim, arg));
}

/* Note [Destination passing] in jit/lowering.py: an exhaustive variant builds its
 * result front to back, storing each new cell (or the last value) into the tail
 * of the previous cell, which only this worker can reach so far.  The cell is
 * immutable to everyone else, but a collection between its allocation and this
 * store may have promoted it to old space: then the store needs the write
 * barrier of an update (Note [Local collection]). */
void rt_cons_set_tail(rt_worker *w, rt_val cell, rt_val v)
{
    rt_obj *c = rt_obj_of(cell);
    c->field[1] = v;
    rt_ctx *ctx = w->ctx;
    if (rt_is_ptr(v) && rt_heap_owner_of(ctx, cell) != w->id && rt_heap_owner_of(ctx, v) == w->id)
        rt_remset_push(w, v);
}

static rt_ctx *volatile sigint_ctx;

static void on_sigint(int sig)
{
    (void)sig;
    rt_ctx *ctx = sigint_ctx;
    if (ctx)
        rt_request_interrupt(ctx);
}

void rt_sigint_install(rt_ctx *ctx)
{
    sigint_ctx = ctx;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = ctx ? on_sigint : SIG_DFL;
    sigaction(SIGINT, &sa, NULL);
}
