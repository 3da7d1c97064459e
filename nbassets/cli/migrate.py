"""``nbassets migrate-store --from A --to URL [--catalog URL]``: a store copied, all its history."""

from __future__ import annotations

import time
from contextlib import closing
from typing import TYPE_CHECKING

import click

from .common import _Cli, echo_json, json_option, pass_cli

if TYPE_CHECKING:
    from ..store.migrate import Migration

_EVERY = 2.0  # seconds between progress lines


@click.command("migrate-store")
@click.option(
    "--from",
    "source",
    required=True,
    metavar="STORE",
    help="a store folder (holding catalog.sqlite), or an env name resolved as --env is "
    "(prod: production as configured)",
)
@click.option(
    "--to",
    "target",
    required=True,
    metavar="FOLDER|URL",
    help="the new store: a folder, or an fsspec URL such as s3://bucket/prefix",
)
@click.option(
    "--catalog",
    metavar="URL",
    default=None,
    help="the new store's catalog, a PostgreSQL URL (default: catalog.sqlite in the --to "
    "folder; a URL --to needs one)",
)
@click.option("--no-progress", is_flag=True, help="no progress lines")
@json_option
@pass_cli
def migrate_store(
    cli: _Cli,
    source: str,
    target: str,
    catalog: str | None,
    no_progress: bool,
    as_json: bool,
) -> None:
    """Copy a store, with all its history, to another folder, bucket or catalog.

    Every version file and every record is copied in the order it was recorded (builds,
    failures and forgets; check and unit-test results; alert incidents), each file verified
    against its data version. Run it again at any time: what the target holds already is
    recognised and skipped, so an interrupted copy resumes where it stopped. The source is
    only read. Writing production's configured location follows the production policy (never
    from IPython).
    """
    from ..store.migrate import migrate
    from ..store.migrate_ends import parallel_copies, source_store, target_store

    project = cli.project
    started = time.monotonic()
    last = [started]

    def progress(run: Migration) -> None:
        now = time.monotonic()
        if not no_progress and now - last[0] >= _EVERY:
            last[0] = now
            click.echo(f"... {_counts(run)}", err=True)

    with (
        closing(source_store(project, source)) as store,
        target_store(project, target, catalog, store) as new,
    ):
        if not as_json:
            click.echo(f"copying {store.catalog.location} to {new.catalog.location}")
        run = migrate(store, new, progress, workers=parallel_copies(new))
    seconds = time.monotonic() - started
    if as_json:
        echo_json({**run.as_dict(), "seconds": round(seconds, 3)})
        return
    click.echo(f"copied {_counts(run)} in {seconds:.1f} s")
    present = sum(run.recognised.values())
    if present or run.present:
        click.echo(
            f"skipped {present:,} record(s) and {run.present:,} file(s) the target held already"
        )
    if run.closed:
        click.echo(f"closed {run.closed} incident(s) closed in the source since the last run")
    if run.missing:
        click.echo(
            f"{len(run.missing)} version(s) have no file in the source (removed by gc): their "
            f"records were copied, as history: {', '.join(run.missing[:5])}"
            + (" ..." if len(run.missing) > 5 else "")
        )


def _counts(run: Migration) -> str:
    from ..render.summary import human_bytes
    from ..store.migrate import KINDS

    kinds = ", ".join(f"{run.written[k]:,} {k}" for k in KINDS if run.written[k])
    return f"{run.objects:,} file(s) ({human_bytes(run.bytes)}), {run.records:,} record(s)" + (
        f" ({kinds})" if kinds else ""
    )
