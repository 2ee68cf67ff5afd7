"""quicksort: the thesis's quicksort (accumulator partition, append) of n LCG integers;
prints [length checksum]."""
import sys


def randoms(n, seed):
    out = []
    for _ in range(n):
        seed = (seed * 1103515245 + 12345) % 2147483648
        out.append(seed)
    return out


def partition(p, xs):
    lo, hi = [], []
    for x in xs:
        (lo if x <= p else hi).append(x)
    lo.reverse()                       # the accumulators of the thesis build in reverse
    hi.reverse()
    return lo, hi


def quick(xs):
    if len(xs) < 2:
        return xs
    lo, hi = partition(xs[0], xs[1:])
    return quick(lo) + [xs[0]] + quick(hi)


def check(xs):
    acc = 0
    for x in xs:
        acc = (acc * 31 + x) % 1000000007
    return f"[{len(xs)} {acc}]"


print(check(quick(randoms(int(sys.argv[1]), 42))))
