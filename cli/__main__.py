"""`python -m cli`: the same command tree as `openday`."""

from cli import main

main()
