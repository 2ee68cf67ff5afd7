/* rt_program.c -- running a whole program: the top-level loop and its flags.
 *
 * Design.  A compiled program is a step function that evaluates its i-th
 * top-level expression (rt_step_fn, called with the small integer i) and a
 * count.  rt_run_toplevel evaluates each in its own step, keeps the value as
 * a global root, and prints it with rt_print_step, which commits after every
 * token (Note [Committed progress]), so output is never repeated.  It is the
 * one loop behind both `daisy run` on the JIT (through ctypes) and the main()
 * of ahead-of-time executables (rt_main.c), so the two behave alike: the same
 * output, the same flags, the same exit statuses:
 *
 *     0    every top-level value printed
 *     3    heap exhausted: "heap exhausted (limit SIZE)" on stderr
 *     130  interrupted (Ctrl-C)
 *     141  the output was closed (a reader such as `head` went away)
 */
#define _GNU_SOURCE
#include "rt_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int rt_run_toplevel(rt_ctx *ctx, uint32_t n, rt_step_fn toplevel, rt_out *out, FILE *err)
{
    rt_out *saved = ctx->print_out;
    rt_set_print_target(ctx, out);
    uint32_t slot = rt_global_new(ctx, RT_NIL);
    int code = RT_EXIT_OK;
    for (uint32_t i = 0; i < n && code == RT_EXIT_OK; i++) {
        rt_val v = RT_NIL, ignored;
        int st = rt_step(ctx, toplevel, rt_fix((int64_t)i), &v);
        if (st == RT_STEP_OK) {
            rt_global_set(ctx, slot, v);
            st = rt_step(ctx, rt_print_step, rt_global_get(ctx, slot), &ignored);
            rt_global_set(ctx, slot, RT_NIL);
        }
        if (st == RT_STEP_HEAP_EXHAUSTED)
            code = RT_EXIT_HEAP;
        else if (st == RT_STEP_INTERRUPTED)
            code = RT_EXIT_INTERRUPT;
        if (out->error)
            code = out->error == EPIPE ? RT_EXIT_PIPE : RT_EXIT_IO;
    }
    if (rt_out_flush(out) != 0 && code == RT_EXIT_OK)
        code = out->error == EPIPE ? RT_EXIT_PIPE : RT_EXIT_IO;
    rt_set_print_target(ctx, saved);     /* out may be freed: no flusher may watch it */
    if (code == RT_EXIT_HEAP && err)
        rt_report_heap_exhausted(ctx, err);
    if (code == RT_EXIT_IO && err)
        fprintf(err, "daisy: cannot write the output: %s\n", strerror(out->error));
    return code;
}

/* "64M", "2G", "512k", "1048576": bytes, or 0 for a malformed size. */
uint64_t rt_parse_size(const char *s)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || v == 0)
        return 0;
    uint64_t mult = 1;
    switch (*end) {
    case 0: break;
    case 'k': case 'K': mult = 1ull << 10; end++; break;
    case 'm': case 'M': mult = 1ull << 20; end++; break;
    case 'g': case 'G': mult = 1ull << 30; end++; break;
    default: return 0;
    }
    if (*end == 'b' || *end == 'B')
        end++;
    if (*end || v > UINT64_MAX / mult)
        return 0;
    return (uint64_t)v * mult;
}

/* For ctypes: the same loop, printing to a file descriptor, errors to stderr. */
int rt_run_toplevel_fd(rt_ctx *ctx, uint32_t n, rt_step_fn toplevel, int fd)
{
    rt_out *out = malloc(sizeof *out);
    if (!out)
        return RT_EXIT_IO;
    rt_out_init(out, fd);
    int code = rt_run_toplevel(ctx, n, toplevel, out, stderr);
    fflush(stderr);
    free(out);
    return code;
}
