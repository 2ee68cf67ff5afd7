"""mandelbrot: points of an n x n grid over [-2,0.5] x [-1.25,1.25] that stay within
radius 2 for 50 iterations."""
import sys


def inside(cr, ci):
    zr = zi = 0.0
    for _ in range(50):
        if zr * zr + zi * zi > 4.0:
            return 0
        zr, zi = zr * zr - zi * zi + cr, 2.0 * zr * zi + ci
    return 1


n = int(sys.argv[1])
print(sum(inside(-2.0 + 2.5 * x / n, -1.25 + 2.5 * y / n) for y in range(n) for x in range(n)))
