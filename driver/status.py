"""The exit statuses of `daisy` and of the executables `daisy compile` makes, in one
place (README.md, "Exit status")."""
EXIT_OK = 0
EXIT_FAILED = 1       # writing the output failed; a tool the command needs failed (the
                      # C compiler), or a benchmark did (RT_EXIT_IO in rt/daisy_rt.h)
EXIT_SOURCE = 2       # a source error, a bad flag or file: the message says which
EXIT_HEAP = 3         # the heap limit was reached (--heap)
EXIT_INTERNAL = 70    # a bug in daisy itself (EX_SOFTWARE); the message asks for a report
EXIT_INTERRUPT = 130  # Ctrl-C
EXIT_PIPE = 141       # the reader of standard output went away
