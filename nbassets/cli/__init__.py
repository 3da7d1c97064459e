"""The ``nbassets`` command line: parse, call the core, present (aligned text, or ``--json``).

Every command is a thin edge: the decisions live in the core (``model`` for status and
lineage, ``provenance`` for why and plan, ``store.gc``, ``diff``, ``pipeline``). The reading
commands are in ``reads.py``, the writing ones in ``writes.py``, what they share in
``common.py``. Errors nbassets raises
on purpose print ``error: <message>`` on stderr, with no traceback, and exit with 2 when
what was typed or configured is wrong (bad env name, unknown asset, bad option) and 1 when
something failed (a damaged catalog, a failed build or check). Envs default to your dev
sandbox (``dev-<user>-<branch>``, layered over production) for reading commands, and to
``prod`` for ``plan``, ``check`` and ``materialize``.
"""

from __future__ import annotations

from pathlib import Path

import click

from ..version import __version__
from . import doctor, forget, migrate, reads, report, rollback, verify, writes
from .common import _Cli, _Group

__all__ = ["main"]


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--project",
    "folder",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=".",
    show_default=True,
    help="a folder inside the project (its pyproject.toml with [tool.nbassets] is found upward)",
)
@click.version_option(__version__, prog_name="nbassets")
@click.pass_context
def main(ctx: click.Context, folder: Path) -> None:
    """Build, inspect and deploy the data assets of Jupyter notebooks."""
    ctx.obj = _Cli(folder)


for command in (
    reads.status, reads.why, reads.plan, reads.diff, reads.lineage, reads.history,
    writes.gc, forget.forget, writes.check, writes.export, writes.materialize, doctor.doctor,
    report.report, verify.verify, rollback.rollback, migrate.migrate_store,
):  # fmt: skip
    main.add_command(command)
