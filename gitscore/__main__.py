"""`python -m gitscore ...`: the same command line as the `gitscore` script."""
import sys

from .cli import main

sys.exit(main())
