"""startup: print the size and stop (the fixed cost of running a program)."""
import sys

print(int(sys.argv[1]))
