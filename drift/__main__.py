"""`python -m drift run --model-uri models:/NAME@ALIAS ...` (see drift/cli.py)."""

import sys

from drift.cli import main

if __name__ == "__main__":
    sys.exit(main())
