"""``nbassets doctor``: check a store, and re-index its data files when its catalog is lost."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing, contextmanager
from typing import TYPE_CHECKING

import click

from ..environments import PROD, current_user, default_dev_env, store_path
from ..render.summary import human_bytes
from ..render.tables import table
from ..store.workspace import Workspace
from ..text import name_list, plural
from .common import (
    _DEV_STORE,
    _Cli,
    echo_json,
    env_option,
    json_option,
    pass_cli,
    production_overrides,
    usage_error,
)

if TYPE_CHECKING:
    from ..store.doctor import Progress, Report

BIG = 100  # files to hash: from this many on, a progress bar (unless --no-progress)
RATE_FROM = 64 * 1024 * 1024  # bytes hashed: from this many on, the rate is worth showing


@click.command()
@env_option(_DEV_STORE)
@click.option(
    "--reindex",
    is_flag=True,
    help="move a damaged catalog aside (catalog.sqlite.damaged-<UTC time>) and re-index the "
    "data files into a new one; beside a sound catalog, record the version files no record names "
    "(local catalogs only: a shared PostgreSQL catalog is never re-indexed)",
)
@production_overrides
@click.option("--no-progress", is_flag=True, help="no progress bar")
@json_option
@pass_cli
def doctor(
    cli: _Cli,
    env: str | None,
    reindex: bool,
    allow_dirty: bool,
    no_git: bool,
    no_progress: bool,
    as_json: bool,
) -> None:
    """Check a store; re-index a lost catalog.

    Checks the catalog's integrity, and that every recorded file exists and hashes to its
    data version. Reads only, with no permission needed, unless the catalog is lost: then
    the data files are re-indexed into a new catalog (provenance marked unknown). A damaged
    catalog is moved aside and re-indexed only with --reindex. Writing prod follows the
    production policy. Production on PostgreSQL and/or an object store is checked through
    them (the database, one listing, each object fetched and hashed) and never re-indexed.
    Nothing is ever deleted. Exits 1 when something is wrong.
    """
    from ..policy import Overrides, authorize
    from ..store.doctor import NONE, wants_reindex
    from ..store.doctor import reindex as reindex_store
    from ..store.doctor_remote import examine, reindex_refusal

    project = cli.project
    env = env or default_dev_env(project)
    forbidden = None if env == PROD else project.prod_path  # a sandbox never leads into prod
    with closing(Workspace(project, env)) as ws:
        store = ws.other_env(env)
        refusal = reindex_refusal(store)  # a shared catalog is never re-indexed
        if reindex and refusal is not None:
            raise usage_error(refusal)
        with _progress(not no_progress) as progress:
            report = examine(store, forbidden=forbidden, progress=progress)
        if report.catalog == NONE:
            where = (
                f"at {store_path(project, env)} (no catalog.sqlite, no data files)"
                if refusal is None
                else f"(no catalog in {store.catalog.location}, no data files in "
                f"{store.storage.location})"
            )
            raise usage_error(f"env {env!r} has no store {where}: there is nothing to check.")
        if refusal is None and wants_reindex(report, reindex):
            grant = authorize(project, env, "doctor", Overrides.resolve(allow_dirty, no_git))
            with _progress(not no_progress) as progress:
                report = reindex_store(
                    ws.writer(grant), report, user=current_user(), forbidden=grant.forbidden,
                    progress=progress,
                )  # fmt: skip
    if as_json:
        echo_json(report.to_dict())
    else:
        click.echo(report_text(report, shared=refusal is not None))
    if not report.ok:
        raise click.exceptions.Exit(1)


def report_text(report: Report, *, shared: bool = False) -> str:
    """What doctor checked, what it did, then each problem with its fix (``shared``: a
    catalog or storage doctor never re-indexes)."""
    from ..store.doctor import DAMAGED, LOST

    lines = [f"doctor: env {report.env}, store {report.store}"]
    if report.moved_to:
        lines.append(f"moved the damaged catalog aside to {report.moved_to} (nothing deleted)")
    if (report.catalog == LOST and not shared) or report.indexed:
        what = "catalog.sqlite was lost: " if report.catalog == LOST else ""
        lines.append(
            f"{what}re-indexed {plural(len(report.indexed), 'version file')} into "
            f"{'a new' if report.catalog in (LOST, DAMAGED) else 'the'} catalog, provenance "
            "marked unknown (code version 'unknown', no commit, no inputs)"
        )
        rows = [
            (m.key, m.data_version[:12], "-" if m.rows is None else f"{m.rows:,}", m.path)
            for m in report.indexed
        ]
        if rows:
            lines.append(table(("asset", "version", "rows", "file"), rows, indent="  "))
    if report.catalogs:
        big = report.seconds and report.bytes_hashed >= RATE_FROM
        rate = report.bytes_hashed / report.seconds / 1e6 if big else 0.0
        checked = (
            f"the catalog holds {plural(report.records, 'record')} now"
            if report.catalog in (LOST, DAMAGED)
            else f"checked 1 catalog ({report.catalog_detail}), {plural(report.records, 'record')}"
        )
        lines.append(
            f"{checked}; {plural(report.files, 'file')}, {human_bytes(report.bytes_hashed)} "
            f"hashed in {report.seconds:.2f} s" + (f" ({rate:,.0f} MB/s)" if rate else "")
        )
    if shared and not report.catalogs:
        lines.append(
            f"the catalog is {report.catalog}: {plural(report.files, 'version file')} found, "
            "none checked against a record"
        )
    lines += _notes(report, shared)
    if report.problems:
        lines.append(f"{plural(len(report.problems), 'problem')} (doctor deleted nothing):")
        rows = [
            (p.key or "-", (p.data_version or "-")[:12], p.path, p.problem) for p in report.problems
        ]
        lines.append(table(("asset", "version", "file", "problem"), rows, indent="  "))
        for p in report.problems:
            lines += [f"  {p.path} {p.detail}", f"    fix: {p.fix}"]
    elif report.ok:
        lines.append("healthy: every recorded file exists and hashes to its data version")
    return "\n".join(lines)


def _notes(report: Report, shared: bool) -> list[str]:
    notes = []
    if report.removed:
        notes.append(
            f"note: {plural(report.removed, 'older version file')} gone: `nbassets gc` removes "
            "those and keeps their records (loading one says so)"
        )
    if report.unrecorded and report.catalogs and not report.indexed and not shared:
        notes.append(
            f"note: {plural(len(report.unrecorded), 'version file')} no record names "
            f"({name_list(list(report.unrecorded), 3)}): left by a writer that died before "
            f"recording? `nbassets doctor --env {report.env} --reindex` records them, "
            "provenance unknown"
        )
    if report.strays:
        notes.append(
            f"note: below data/, left alone (not version files or key folders): "
            f"{name_list(list(report.strays), 3)}"
        )
    return notes


@contextmanager
def _progress(enabled: bool) -> Iterator[Progress | None]:
    """A progress bar for big stores only (:data:`BIG` files or more to hash)."""
    from ..render.progress import progress_bar

    with progress_bar(enabled, desc="doctor") as advance:
        if advance is None:
            yield None
            return
        bar = advance

        def big_only(key: str, done: int, total: int) -> None:
            if total >= BIG:
                bar(key, done + 1, total)

        yield big_only
