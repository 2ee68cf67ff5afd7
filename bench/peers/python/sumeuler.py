"""sumeuler: the sum of Euler's totient over 1..n, each by counting the k with gcd 1."""
import sys


def gcd(a, b):
    while b:
        a, b = b, a % b
    return a


def phi(n):
    return sum(1 for k in range(1, n + 1) if gcd(n, k) == 1)


print(sum(phi(i) for i in range(1, int(sys.argv[1]) + 1)))
