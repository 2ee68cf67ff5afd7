/* The machine's own two-core ceiling, measured beside pfib (bench/test_annotations.py):
 * nfib n computed in each of T threads at once, every thread on the same sequential
 * code and none sharing anything but the start line.  Two threads do twice the work of
 * one, so 2 * t(1) / t(2) is the speedup two workers could reach on this machine at
 * this moment: on these shared VMs it moves between about 1.7 and 2.0 from minute to
 * minute, and a parallel program's speedup means little without it.  The threads meet
 * at a barrier (the main thread only waits: it must not take a core from them), and
 * the time is from the earliest thread's start to the latest one's end.  Prints the
 * count (so the work cannot be optimised away) and those seconds. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static int64_t nfib(int64_t n) { return n < 2 ? 1 : nfib(n - 1) + nfib(n - 2) + 1; }

static pthread_barrier_t start_line;
static int64_t n_arg;

typedef struct run { int64_t count; double start, end; } run;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void *worker(void *arg)
{
    run *r = arg;
    pthread_barrier_wait(&start_line);
    r->start = now();
    r->count = nfib(n_arg);
    r->end = now();
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s N THREADS\n", argv[0]);
        return 2;
    }
    n_arg = atoll(argv[1]);
    int threads = atoi(argv[2]);
    if (threads < 1 || threads > 64) {
        fprintf(stderr, "THREADS must be 1-64\n");
        return 2;
    }
    pthread_t th[64];
    run runs[64];
    pthread_barrier_init(&start_line, NULL, (unsigned)threads);
    for (int i = 0; i < threads; i++)
        if (pthread_create(&th[i], NULL, worker, &runs[i]) != 0) {
            perror("pthread_create");
            return 1;
        }
    for (int i = 0; i < threads; i++)
        pthread_join(th[i], NULL);
    double start = runs[0].start, end = runs[0].end;
    for (int i = 1; i < threads; i++) {
        if (runs[i].count != runs[0].count)
            return 1;
        start = runs[i].start < start ? runs[i].start : start;
        end = runs[i].end > end ? runs[i].end : end;
    }
    printf("%lld %.6f\n", (long long)runs[0].count, end - start);
    return 0;
}
