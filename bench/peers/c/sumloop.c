/* The C loop issue 5's `#` goal compares with (bench/test_annotations.py): the sum of
 * inc mapped over the list of 1..N, built as Daisy's `#` variants build it: each
 * list front to back, one malloc'd cell of three words (header, head, tail) per item,
 * as a Daisy cons cell is.  It prints the sum, then the seconds the loops took (the
 * process's start-up excluded, as Daisy's step time excludes it). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef struct cell { uint64_t header; int64_t head; struct cell *tail; } cell;

static cell *cons(int64_t head)
{
    cell *c = malloc(sizeof *c);
    if (!c) { perror("malloc"); exit(1); }
    c->header = 2;
    c->head = head;
    c->tail = NULL;
    return c;
}

int main(int argc, char **argv)
{
    int64_t n = argc > 1 ? atoll(argv[1]) : 10000000;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    cell *ints = NULL, **dst = &ints;          /* ints:[1 N] */
    for (int64_t i = 1; i <= n; i++) {
        *dst = cons(i);
        dst = &(*dst)->tail;
    }
    cell *mapped = NULL;                       /* map2:[inc ints] */
    dst = &mapped;
    for (cell *c = ints; c; c = c->tail) {
        *dst = cons(c->head + 1);
        dst = &(*dst)->tail;
    }
    int64_t sum = 0;                           /* sum:[0 mapped] */
    for (cell *c = mapped; c; c = c->tail)
        sum += c->head;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("%lld\n%.6f\n", (long long)sum, (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
    return 0;
}
