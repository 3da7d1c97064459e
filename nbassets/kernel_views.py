"""What a kernel shows of the project: its model (whole, or scoped to its notebook), a
version's diff, and the ``%nbassets`` facts.

Pure answers for the magics to draw: nothing here renders or imports IPython.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from .codebase import notebook_keys
from .diff import DataDiff, NewTable, diff_tables, summarize_table
from .environments import PROD
from .errors import DependencyError, NbAssetsError, UnknownName, did_you_mean
from .freshness import Late, lateness
from .model import EnvModel, LineageEdge, LineageNode, env_model
from .notebookfile import asset_cells
from .partitions import now_utc
from .session import Session
from .store.workspace import ResolvedInput, Workspace

AUTO_DIFF_ROWS = 100_000  # the preview diffs row by row against production up to this size


def model(session: Session) -> EnvModel:
    """The project as this kernel sees it: its cells and the notebook file, over the stores.

    A cell run here that the notebook has renamed since no longer counts as this kernel's
    code, so the asset it built shows as orphaned once no other code defines it.
    """
    code = session.code()
    gone = renamed_cells(session)
    if gone:
        code = replace(
            code,
            code_versions={k: v for k, v in code.code_versions.items() if k not in gone},
            deps={k: v for k, v in code.deps.items() if k not in gone},
        )
    return env_model(session.workspace, code, session.built)


@dataclass(frozen=True)
class NotebookView:
    """What ``%assets`` and ``%lineage`` show: a model and what lies outside this notebook.

    ``others`` counts the rows of the env (its sandbox over prod) that this notebook neither
    defines nor reads: other notebooks' assets, scratch builds, orphans. They are left out of
    ``model``, unless ``everything`` (``--all``) keeps them in.
    """

    model: EnvModel
    others: int
    everything: bool


def notebook_view(session: Session, everything: bool = False) -> NotebookView:
    """``%assets [--all]``: this notebook's assets and every asset they read, directly or not.

    This notebook's assets are those its file and the cells run in this kernel define or
    check (with no notebook file, as in a console: the cells run in this kernel); orphans
    built from its file are kept, listed apart. ``everything``: every asset of the env and
    prod, every orphan included.
    """
    full = model(session)
    scoped = _scoped(session, full)
    others = len(full.rows) - len(scoped.rows)
    return NotebookView(full if everything else scoped, others, everything)


def late(session: Session, view: NotebookView) -> list[Late]:
    """The assets of ``view`` whose cell says ``--fresh`` and that are late now (the version
    each reads in this env, or each complete time partition still missing)."""
    shown = {row.key for row in view.model.rows}
    found: list[Late] = []
    for key, definition in session.definitions().items():
        spec = definition.spec
        if spec.fresh is None or key not in shown:
            continue
        built = session.workspace.built_at(key, spec.partitions is not None)
        item = lateness(key, spec.fresh, built, now_utc(), spec.partitions)
        if item is not None:
            found.append(item)
    return found


def lineage_view(
    session: Session, name: str | None = None, everything: bool = False
) -> tuple[list[LineageNode], list[LineageEdge]]:
    """``%lineage [NAME] [--all]``: the nodes and edges of :func:`notebook_view`'s model.

    A NAME outside this notebook's assets and what they read is drawn from the whole env
    (the user asked for it by name), so it need not be looked up with ``--all``.
    """
    full = model(session)
    if everything:
        return full.lineage()
    scoped = _scoped(session, full)
    return (full if name is not None and scoped.row(name) is None else scoped).lineage()


def _scoped(session: Session, full: EnvModel) -> EnvModel:
    """``full`` scoped to this notebook: the assets its code defines (the file's cells and the
    cells run here), the assets its ``%%check`` cells check (in the file or run here), what
    they read, and the orphans built from its file."""
    keys = set(full.code.code_versions) | set(session.check_cells)
    notebook = session.notebook_path()
    if notebook is None:
        return full.scoped(keys)
    keys |= {key for key in notebook_keys(notebook) if key not in renamed_cells(session)}
    return full.scoped(keys, session.project.relative(notebook))


def renamed_cells(session: Session) -> set[str]:
    """Keys of cells run here whose cell (by id) defines another asset now: in a later run
    here, or in the notebook file saved since the run. A cell the file does not hold (not
    saved yet, or run from a console) keeps its asset."""
    last: dict[str, str] = {}  # cell id -> key of its latest run here
    for key in sorted(session.cells, key=lambda k: session.run_at.get(k, 0.0)):
        cell_id = session.cells[key].cell_id
        if cell_id is not None:
            last[cell_id] = key
    notebook = session.notebook_path()
    saved_at = notebook.stat().st_mtime if notebook is not None else 0.0
    in_file = {c.cell_id: c.spec.key for c in asset_cells(notebook)} if notebook else {}
    saved_keys = set(in_file.values())
    gone = set()
    for key, definition in session.cells.items():
        cell_id = definition.cell_id
        if cell_id is None or key in saved_keys:
            continue
        saved = in_file.get(cell_id)
        saved_since = saved_at > session.run_at.get(key, 0.0)
        if last[cell_id] != key or (saved is not None and saved != key and saved_since):
            gone.add(key)
    return gone


def diff(
    session: Session, key: str, against: str = PROD, key_columns: tuple[str, ...] = ()
) -> DataDiff | NewTable:
    """``%diff``: the current version of ``key`` against the latest one in ``against`` (of
    the same partition, for a partitioned asset: both sides are labelled with it).

    An asset ``against`` has no version of yet (every new asset before its first deploy) is
    not an error: the answer is a :class:`NewTable` that says so and summarizes it.
    """
    resolved = current_version(session, key)
    other = session.workspace.other_env(against)
    partition = resolved.record.partition
    if partition:
        old = other.catalog.partition_records(key).get(partition)
    else:
        old = other.catalog.latest_of(key)
    new_label = f"{resolved.origin} {resolved.record.env}"
    old_label = against
    if partition:
        new_label, old_label = f"{new_label} {partition}", f"{against} {partition}"
    if old is None:
        if against != PROD and not other.catalog.keys():
            raise UnknownName(
                f"env {against!r} holds no assets ({other.root}): pass an env that has been "
                "built with --against (default: prod)."
            )
        if resolved.record.io != "parquet":
            return NewTable(new_label, old_label, resolved.record.rows, io=resolved.record.io)
        path = session.workspace.table_path(resolved)
        return summarize_table(path, label=new_label, missing_in=old_label)
    definition = session.definitions().get(key)
    columns = key_columns or (definition.spec.key_columns if definition else ())
    old_input = ResolvedInput(key, old, against, other)
    return diff_tables(
        session.workspace.table_path(old_input),
        session.workspace.table_path(resolved),
        key=columns,
        old_label=old_label,
        new_label=new_label,
    )


def current_version(session: Session, key: str) -> ResolvedInput:
    """The version of ``key`` the kernel sees now (its own build, the sandbox's, prod's)."""
    resolved = session.workspace.resolve(key, session.built)
    if resolved is not None:
        return resolved
    where = f"in this kernel, in sandbox {session.env!r} or in prod"
    known = session.known_keys()
    if key in known:
        raise DependencyError(f"asset {key!r} has no version {where} yet: run its cell first.")
    raise UnknownName(
        f"unknown asset {key!r}: no cell defines it and it has no version {where}."
        f"{did_you_mean(key, known)} %assets --all lists every asset."
    )


def versus_prod(
    workspace: Workspace, built: ResolvedInput, key_columns: tuple[str, ...]
) -> DataDiff | str | None:
    """How a build differs from production's version, at a bounded cost.

    The row diff (on the key) for tables up to ``AUTO_DIFF_ROWS``, for the preview to
    phrase; otherwise one line (row counts only beyond that: ``%diff`` gives the full diff).
    """
    if built.record.partition:  # the same partition of production's
        prod = workspace.prod.catalog.partition_records(built.key).get(built.record.partition)
    else:
        prod = workspace.prod.catalog.latest_of(built.key)
    if prod is None:
        return None
    if prod.data_version == built.record.data_version:
        return (
            f"vs prod: identical ({prod.rows or 0:,} rows)"
            if prod.rows is not None
            else "vs prod: identical"
        )
    if prod.io != "parquet" or built.record.io != "parquet":
        return "vs prod: another version"
    rows = max(prod.rows or 0, built.record.rows or 0)
    if rows > AUTO_DIFF_ROWS:
        return (
            f"vs prod: {prod.rows or 0:,} -> {built.record.rows or 0:,} rows "
            f"(run %diff {built.key} for the row diff)"
        )
    prod_input = ResolvedInput(built.key, prod, PROD, workspace.prod)
    try:
        return diff_tables(
            workspace.table_path(prod_input), workspace.table_path(built), key=key_columns
        )
    except NbAssetsError as exc:
        return f"vs prod: no diff ({exc})"


def summary(session: Session) -> dict[str, Any]:
    """What ``%nbassets`` prints: project, env, stores and counts."""
    rows = model(session).rows
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.status] = counts.get(row.status, 0) + 1
    notebook = session.notebook_path()
    return {
        "project": str(session.project.root),
        "env": session.env,
        "sandbox": str(session.workspace.own.root),
        "prod": f"{session.project.prod_url or session.project.prod_path} (read-only)",
        "notebook": session.project.relative(notebook) if notebook else None,
        "assets": len(rows),
        "cells run": len(session.cells),
        "status": counts,
    }
