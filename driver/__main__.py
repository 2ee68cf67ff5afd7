"""`python -m daisy ...` is the `daisy` command."""
import sys

from .cli import main

sys.exit(main())
