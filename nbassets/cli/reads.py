"""The reading commands: status, why, plan, diff, lineage and history (nothing is written)."""

from __future__ import annotations

from contextlib import closing
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..codebase import Code, notebook_keys, project_code, project_code_and_sources
from ..config import Project
from ..definitions import notebook_paths
from ..environments import PROD, default_dev_env
from ..errors import InvalidArgument, SpecError, did_you_mean
from ..model import EnvModel, deploy_plan, env_model
from ..partitions import ALL, combined_version, partition_mapping
from ..provenance import explain, name_readers
from ..render.reports import plan_text, status_dict, why_text
from ..store.catalog import Materialization
from ..store.stores import Store
from ..store.workspace import Workspace

if TYPE_CHECKING:
    from ..diff import DataDiff, NewTable

from .common import (
    _DEV,
    _DEV_STORE,
    CliError,
    CliUsageError,
    _Cli,
    echo_json,
    env_option,
    json_option,
    open_store,
    pass_cli,
    usage_error,
)
from .history import history as history  # registered as reads.history

# --- status -------------------------------------------------------------------------------------


def project_notebook(project: Project, given: str | Path) -> Path:
    """The notebook of the project (one ``[tool.nbassets] notebooks`` matches) that ``given``
    names, relative to the working directory or to the project root; else a usage error."""
    notebooks = {path.resolve(): path for path in notebook_paths(project)}
    candidates = [(Path.cwd() / given).resolve(), (project.root / given).resolve()]
    for candidate in candidates:
        if candidate in notebooks:
            return candidate
    names = sorted(project.relative(path) for path in notebooks.values())
    listed = ", ".join(names[:10]) + (", ..." if len(names) > 10 else "") or "none"
    found = next((c for c in candidates if c.is_file()), None)
    where = (
        f"{project.relative(found)} is not one of the project's notebooks"
        if found is not None
        else f"no notebook {str(given)!r} in {_folders(project)}"
    )
    raise InvalidArgument(
        f"{where}: [tool.nbassets] notebooks = {list(project.config.notebooks)!r} matches "
        f"{listed}.{did_you_mean(str(given), names)} Give one of these, relative to the "
        "working directory or the project root."
    )


def _folders(project: Project) -> str:
    """Where a notebook path given by a user is looked up: the working directory, the root."""
    cwd = Path.cwd().resolve()
    if cwd == project.root:
        return f"the project root {project.root}"
    return f"{cwd} or in the project root {project.root}"


notebook_option = click.option(
    "--notebook",
    metavar="PATH",
    help="only this notebook's assets and what they read, directly or not (PATH relative to "
    "the working directory or the project root)",
)


def scoped(project: Project, model: EnvModel, notebook: Path | None) -> tuple[EnvModel, int]:
    """``model`` scoped to ``--notebook`` (when given), and how many rows that leaves out."""
    if notebook is None:
        return model, 0
    kept = model.scoped(notebook_keys(notebook), project.relative(notebook))
    return kept, len(model.rows) - len(kept.rows)


@click.command()
@env_option(_DEV)
@notebook_option
@json_option
@pass_cli
def status(cli: _Cli, env: str | None, notebook: str | None, as_json: bool) -> None:
    """Status of every asset: fresh, stale (why), missing, failed.

    Code versions come from the exported package when it exists, else from the notebooks.
    An asset the stores hold that no notebook or module defines any more is orphaned:
    listed last, counted apart (`nbassets gc --orphans` lists its files). --notebook: only
    that notebook's assets and the assets they read, as %assets in its kernel. A partitioned
    asset is one row: the worst of its complete partitions, with counts. Late assets (--fresh)
    are listed after the table (--json: each row's "late").
    """
    from ..pipeline import late_assets
    from ..render.display import StatusTable, scope_note

    project = cli.project
    env = env or default_dev_env(project)
    path = None if notebook is None else project_notebook(project, notebook)
    with closing(Workspace(project, env)) as ws:
        code = project_code(project, ws.keys())
        model, others = scoped(project, env_model(ws, code), path)
        late = {item.key: item for item in late_assets(project, env, workspace=ws)
                if model.row(item.key)}  # fmt: skip
    rows, notes = model.rows, model.prod_notes()
    if as_json:
        echo_json([{**status_dict(r), "prod": notes.get(r.key), "late": late[r.key].as_dict()
                    if r.key in late else None} for r in rows])  # fmt: skip
        return
    of = "" if path is None else f"; notebook: {project.relative(path)}"
    over = "" if env == PROD else " (over prod)"
    click.echo(f"env {env}{over}; code: {code.origin}{of}")
    where = f"env {env}" + ("" if env == PROD else " and prod")
    footer = scope_note(others, False, "nbassets status", "", where=where)
    shown = StatusTable(rows, notes, footer=footer)
    click.echo(shown.to_text())
    if rows:
        click.echo(shown.summary())
    click.echo("".join(f"late  {item.describe()}\n" for item in late.values()), nl=False)


@click.command()
@click.argument("key")
@env_option(_DEV)
@click.option("--version", metavar="V", help="a data version or its prefix (default: the latest)")
@json_option
@pass_cli
def why(cli: _Cli, key: str, env: str | None, version: str | None, as_json: bool) -> None:
    """Provenance of a version: code, commit, inputs, checks.

    The env's own version, else production's (what the env reads); KEY[PARTITION] names a
    partition's; --version picks an earlier one by data-version prefix.
    """
    project = cli.project
    env = env or default_dev_env(project)
    key, _, partition = key.partition("[")
    partition = partition.removesuffix("]")
    with closing(Workspace(project, env)) as ws:
        code = project_code(project, ws.keys())
        record, store = find_version(ws, key, version, code, partition)
        stores = [ws.own] if ws.own is ws.prod else [ws.prod, ws.own]
        inputs_now = {up: input_now(ws, code, record, up) for up in record.inputs}
        found = explain(
            record,
            store_env=store.env,
            checks=[c for s in stores for c in s.catalog.check_results(key, record.data_version)],
            inputs_now=inputs_now,
            current_code_version=code.code_versions.get(key),
            code_origin=code.origin,
            file=store.where(record),
            file_present=store.storage.exists(record.path),
        )
    if as_json:
        echo_json(found.to_dict())
    else:
        click.echo(why_text(found))


def input_now(ws: Workspace, code: Code, record: Materialization, up: str) -> str | None:
    """What ``record``'s read of ``up`` would be today: the version it resolves to, or for
    partitions read the combined version of those the same read would take now."""
    if "partitions" not in record.inputs[up]:
        resolved = ws.resolve(up)
        return None if resolved is None else resolved.record.data_version
    wanted: tuple[str, ...] | None = None
    upstream = code.partitions.get(up)
    if upstream is not None:
        try:
            mapping = partition_mapping(code.partitions.get(record.key), upstream)
        except SpecError:
            mapping = None
        reads = mapping.upstream_keys(record.partition or None) if mapping else ALL
        wanted = None if reads is ALL else reads
    parts = ws.resolve_partitions(up, wanted)
    if not parts:
        return None
    return combined_version({p: i.record.data_version for p, i in parts.items()}).version


def find_version(
    ws: Workspace, key: str, version: str | None, code: Code, partition: str = ""
) -> tuple[Materialization, Store]:
    """The latest (or the given) version of ``key`` (of its ``partition``) the env sees, and
    the store that holds it."""
    stores = [ws.own] if ws.own is ws.prod else [ws.own, ws.prod]
    where = f"env {ws.env!r}" + ("" if ws.own is ws.prod else " or prod")
    if partition and version is None:
        found = ws.resolve_partitions(key, [partition]).get(partition)
        if found is not None:
            return found.record, found.store
        raise CliError(
            f"partition {partition!r} of asset {key!r} has no version in {where}; "
            f"`nbassets plan --env {ws.env}` lists the partitions to build."
        )
    if version is not None:
        if not version or any(c not in "0123456789abcdefABCDEF" for c in version):
            raise usage_error(f"--version {version!r} is not a data version: give hex digits.")
        for store in stores:
            record = store.catalog.version(key, version)
            if record is not None:
                return record, store
    else:
        resolved = ws.resolve(key)
        if resolved is not None:
            return resolved.record, resolved.store
    known = ws.keys() | set(code.code_versions)
    if key not in known:
        raise usage_error(
            f"asset {key!r} is not stored in {where} and no code defines it."
            f"{did_you_mean(key, known)} `nbassets status` lists the assets."
        )
    if version is not None:
        raise CliError(
            f"no version of asset {key!r} in {where} starts with {version!r}; "
            f"`nbassets history {key} --env {ws.env}` lists its versions."
        )
    raise CliError(f"asset {key!r} has no version in {where} yet: build it first.")


@click.command()
@env_option("prod")
@click.option(
    "--against",
    metavar="SANDBOX",
    help="the env whose latest schemas to compare (default: your dev sandbox)",
)
@json_option
@pass_cli
def plan(cli: _Cli, env: str | None, against: str | None, as_json: bool) -> None:
    """What a deploy must rebuild in an env and why; schema drift.

    Rebuild reasons: missing, last build failed, code changed, new upstream, upstream
    changed; everything downstream of a rebuilt asset is listed as downstream. For each
    partitioned asset, the partitions to rebuild as ranges with their reason
    (2024-01-01..2024-03-31: code changed at <HEAD's commit>); `nbassets materialize
    --select plan` builds them. Orphans (stored, defined by no notebook or module) are never
    rebuilt: they are listed apart. Schema drift compares the latest versions in --against
    with the env's latest versions, and names the downstream assets that read each removed
    or retyped column (static analysis of their code, else their last build's failure).
    """
    project = cli.project
    env = env or PROD
    against = against or default_dev_env(project)
    if against == env:
        raise usage_error(f"--against {against!r} is the env being planned; name another env.")
    with closing(Workspace(project, env)) as ws:
        code, sources = project_code_and_sources(project, ws.keys())
        deploy = deploy_plan(project, ws, code, candidate := ws.other_env(against))
        result = name_readers(deploy.plan, code.deps, sources, (ws.prod, ws.own), candidate)
    if as_json:
        echo_json({**result.to_dict(), "orphaned": deploy.orphaned})
    else:
        click.echo(plan_text(result, code.origin, deploy.candidate_versions, deploy.orphaned))


@click.command()
@click.argument("key")
@click.option(
    "--env", metavar="ENV", help=f"the env whose latest version to compare (default: {_DEV_STORE})"
)
@click.option("--against", metavar="ENV", help="the env to compare it with (default: prod)")
@click.option("--from", "from_env", metavar="ENV", hidden=True)  # until 0.next: --against
@click.option("--to", "to_env", metavar="ENV", hidden=True)  # until 0.next: --env
@click.option(
    "--key",
    "key_columns",
    multiple=True,
    metavar="COLS",
    help="columns that identify a row, comma-separated or repeated (default: the asset's --key)",
)
@json_option
@pass_cli
def diff(
    cli: _Cli,
    key: str,
    env: str | None,
    against: str | None,
    from_env: str | None,
    to_env: str | None,
    key_columns: tuple[str, ...],
    as_json: bool,
) -> None:
    """Data diff of an asset's latest versions in two envs.

    As %diff: --env's latest version (default: your dev sandbox) against --against's.

    An asset --against has no version of yet is reported as new there, with its rows and
    column summaries (exit 0).
    """
    from ..diff import NewTable, diff_tables, summarize_table
    from ..render.diffview import to_dict, to_text
    from ..spec import split_list

    project = cli.project
    env = _alias(env, "--env", to_env, "--to") or default_dev_env(project)
    against = _alias(against, "--against", from_env, "--from") or PROD
    if against == env:
        raise usage_error(f"--env and --against both name {env!r}; compare two different envs.")
    result: DataDiff | NewTable
    with open_store(project, against) as old_store, open_store(project, env) as new_store:
        if old_store.catalog.latest_of(key) is None:  # new there: said so, summarized
            new = latest_version(new_store, key, other=old_store)
            if new.io != "parquet":
                result = NewTable(env, against, new.rows, io=new.io)
            else:
                path = new_store.storage.local_file(new.path, new.data_version)
                result = summarize_table(path, label=env, missing_in=against)
        else:
            old = latest_table(old_store, key, other=new_store)
            new = latest_table(new_store, key, other=old_store)
            columns = split_list(list(key_columns))
            if not columns:
                known = old_store.catalog.keys() | new_store.catalog.keys()
                columns = project_code(project, known).key_columns.get(key, ())
            result = diff_tables(
                old_store.storage.local_file(old.path, old.data_version),
                new_store.storage.local_file(new.path, new.data_version),
                key=columns,
                old_label=against,
                new_label=env,
            )
    if as_json:
        echo_json(to_dict(result))
    else:
        click.echo(to_text(result))


def _alias(value: str | None, name: str, old: str | None, old_name: str) -> str | None:
    """An option's value given either as ``name`` or as its old spelling ``old_name``."""
    if old is not None and value is not None and old != value:
        raise usage_error(f"{name} {value!r} and {old_name} {old!r} disagree: give {name} alone.")
    return value if value is not None else old


def latest_version(store: Store, key: str, other: Store) -> Materialization:
    """The latest version of ``key`` in ``store``, which must have one."""
    record = store.catalog.latest_of(key)
    if record is None:
        known = store.catalog.keys() | other.catalog.keys()
        hint = did_you_mean(key, known) if key not in known else ""
        error = CliError if key in known else CliUsageError
        raise error(
            f"asset {key!r} has no version in env {store.env!r} ({store.root}).{hint} "
            "Build it there, or pick envs with --env and --against."
        )
    return record


def latest_table(store: Store, key: str, other: Store) -> Materialization:
    """The latest version of ``key`` in ``store``, which must be a table."""
    record = latest_version(store, key, other)
    if record.io != "parquet":
        raise CliError(
            f"asset {key!r} is stored as {record.io} in env {store.env!r}; a data diff "
            "compares tables (pandas, polars or pyarrow frames stored as Parquet)."
        )
    return record


# --- lineage ------------------------------------------------------------------------------------


@click.command()
@click.argument("key", required=False)
@env_option(_DEV)
@click.option(
    "--svg",
    "svg_file",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="write the drawing to this SVG file",
)
@notebook_option
@json_option
@pass_cli
def lineage(
    cli: _Cli,
    key: str | None,
    env: str | None,
    svg_file: Path | None,
    notebook: str | None,
    as_json: bool,
) -> None:
    """The dependency graph, with where each input came from.

    --notebook: only that notebook's assets and the assets they read, as %lineage in its
    kernel; a KEY outside them is drawn from the whole env.
    """
    from ..render.lineage import Lineage

    project = cli.project
    env = env or default_dev_env(project)
    path = None if notebook is None else project_notebook(project, notebook)
    with closing(Workspace(project, env)) as ws:
        full = env_model(ws, project_code(project, ws.keys()))
    model, _ = scoped(project, full, path)
    if key is not None and model.row(key) is None:
        model = full  # named: drawn from the whole env
    nodes, edges = model.lineage()
    known = {n.key for n in nodes} | {e.upstream for e in edges}
    if key is not None and key not in known:
        raise usage_error(
            f"asset {key!r} is not in the lineage of env {env!r}.{did_you_mean(key, known)} "
            "Run `nbassets lineage` without a name to see every asset."
        )
    graph = Lineage(nodes, edges, key)
    if svg_file is not None:
        svg_file.write_text(graph.to_svg(), encoding="utf-8")
    if as_json:
        echo_json(
            {
                "env": env,
                "notebook": None if path is None else project.relative(path),
                "focus": key,
                "nodes": [asdict(n) for n in graph.nodes],
                "edges": [asdict(e) for e in graph.edges],
            }
        )
    elif svg_file is not None:
        click.echo(f"wrote the lineage of {len(graph.nodes)} assets to {svg_file}")
    else:
        click.echo(graph.to_text())


# --- history ------------------------------------------------------------------------------------
