"""`python -m kodeks_smart` is the `smart` command."""

from kodeks_smart.cli import main

main()
