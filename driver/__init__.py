"""daisy-jit: a compiler and runtime for annotated Daisy.

The driver package: the command line (cli.py), the ordered pass list (pipeline.py),
program output (output.py) and the top level (repl.py).
"""
__version__ = "0.1.0"
