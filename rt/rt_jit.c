/* rt_jit.c -- what the code generator needs beyond the core runtime.
 *
 * Design.  Two small services for code that jit/lower.py generates, used alike
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

rt_closure_code rt_form_code_find(rt_ctx *ctx, rt_val form)
{
    for (size_t i = ctx->nform_codes; i-- > 0;)
        if (rt_global_get(ctx, ctx->form_codes[i].global) == form)
            return ctx->form_codes[i].code;
    return NULL;
}

/* rt_force out of line: generated code's slow paths call this rather than
 * repeating the inline probe. */
rt_val rt_whnf(rt_worker *w, rt_val v) { return rt_force(w, v); }

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
