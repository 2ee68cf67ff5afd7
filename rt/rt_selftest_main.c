/* rt_selftest_main.c -- a command-line driver for the built-in self-tests, used
 * by the sanitizer builds (tests/test_rt.py):
 *     rt_selftest [NAME|all] [WORKERS] [SCALE]                                  */
#include "daisy_rt.h"

#include <stdlib.h>

int main(int argc, char **argv)
{
    const char *name = argc > 1 ? argv[1] : "all";
    uint32_t workers = argc > 2 ? (uint32_t)atoi(argv[2]) : 2;
    uint64_t scale = argc > 3 ? (uint64_t)atoll(argv[3]) : 1;
    int failures = rt_selftest(name, workers, scale, stdout);
    return failures == 0 ? 0 : 1;
}
