"""loop-map: the sum of the squares of 1..n, from a list built first."""
import sys

print(sum([x * x for x in range(1, int(sys.argv[1]) + 1)]))
