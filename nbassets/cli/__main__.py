"""``python -m nbassets.cli``: the ``nbassets`` command."""

from . import main

main(prog_name="nbassets")
