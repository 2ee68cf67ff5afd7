"""hamming: the nth Hamming number, from the stream defined in terms of itself."""
import sys


def hamming(n):
    h = [1]
    i2 = i3 = i5 = 0
    while len(h) < n:
        x = min(2 * h[i2], 3 * h[i3], 5 * h[i5])
        h.append(x)
        i2 += 2 * h[i2] == x
        i3 += 3 * h[i3] == x
        i5 += 5 * h[i5] == x
    return h[n - 1]


print(hamming(int(sys.argv[1])))
