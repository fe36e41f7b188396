"""`python -m hrmkit` runs the CLI (used where the console script is not on PATH, e.g. under torchrun)."""

from hrmkit.cli import main

main()
