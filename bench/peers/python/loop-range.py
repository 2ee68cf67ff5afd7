"""loop-range: build the list 1..n, then count it."""
import sys

print(len(list(range(1, int(sys.argv[1]) + 1))))
