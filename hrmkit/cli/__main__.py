"""`python -m hrmkit.cli` runs the CLI."""

from hrmkit.cli import main

main()
