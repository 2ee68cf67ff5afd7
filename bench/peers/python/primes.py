"""primes: the nth prime, from the lazy sieve (a chain of generators, one per prime)."""
import itertools
import sys


def sieve(xs):
    p = next(xs)
    yield p
    yield from sieve(x for x in xs if x % p != 0)


sys.setrecursionlimit(1_000_000)
n = int(sys.argv[1])
print(next(itertools.islice(sieve(itertools.count(2)), n - 1, None)))
