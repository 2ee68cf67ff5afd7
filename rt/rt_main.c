/* rt_main.c -- main() of an ahead-of-time Daisy executable.
 *
 * `daisy compile FILE -o prog` links the program's object (which defines
 * daisy_ntoplevel and daisy_toplevel) with this file and libdaisyrt.a.  The
 * executable takes `daisy run`'s runtime flags and behaves as it does; see
 * rt_program.c for the exit statuses.
 *     prog [--threads N] [--heap SIZE] [--stats] [--no-pin]
 */
#define _GNU_SOURCE
#include "daisy_rt.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern const uint32_t daisy_ntoplevel;
rt_val daisy_toplevel(rt_worker *w, rt_val index);

static rt_ctx *the_ctx;

static void on_sigint(int sig)
{
    (void)sig;
    if (the_ctx)
        rt_request_interrupt(the_ctx);
}

static int usage(const char *prog, const char *why)
{
    if (why)
        fprintf(stderr, "%s: %s\n", prog, why);
    fprintf(stderr, "usage: %s [--threads N] [--heap SIZE] [--stats] [--no-pin]\n", prog);
    return 2;
}

int main(int argc, char **argv)
{
    rt_config cfg = {0};
    int stats = 0;
    const char *heap_text = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--stats") == 0) {
            stats = 1;
        } else if (strcmp(a, "--no-pin") == 0) {
            cfg.no_pin = 1;
        } else if (strcmp(a, "--threads") == 0 && i + 1 < argc) {
            char *end;
            long n = strtol(argv[++i], &end, 10);
            if (*end || n < 1 || n > RT_MAX_WORKERS)
                return usage(argv[0], "--threads takes a number from 1 to 256");
            cfg.nworkers = (uint32_t)n;
        } else if (strcmp(a, "--heap") == 0 && i + 1 < argc) {
            heap_text = argv[++i];
            cfg.heap_limit = rt_parse_size(heap_text);
            if (!cfg.heap_limit)
                return usage(argv[0], "--heap takes a size such as 512M or 2G");
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(argv[0], NULL);
            return 0;
        } else {
            return usage(argv[0], "unknown argument");
        }
    }
    signal(SIGPIPE, SIG_IGN);            /* a closed pipe is EPIPE: exit 141 quietly */
    the_ctx = rt_ctx_new(&cfg);
    if (!the_ctx) {
        if (heap_text)
            fprintf(stderr, "%s: cannot reserve address space for --heap %s "
                            "(the heap reserves twice its limit)\n", argv[0], heap_text);
        else
            fprintf(stderr, "%s: cannot create the runtime: out of address space\n", argv[0]);
        return 3;
    }
    rt_streams_init(the_ctx);            /* `stdin` exists before any helper can ask */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, NULL);
    static rt_out out;
    rt_out_init(&out, STDOUT_FILENO);
    int code = rt_run_toplevel(the_ctx, daisy_ntoplevel, daisy_toplevel, &out, stderr);
    if (stats)
        rt_stats_print(the_ctx, stderr);
    rt_ctx_free(the_ctx);
    return code;
}
