"""``python -m nbassets``: the ``nbassets`` command, for a notebook's ``!{sys.executable} -m
nbassets plan`` (a kernel's PATH need not hold the venv's scripts)."""

from .cli import main

main(prog_name="nbassets")
