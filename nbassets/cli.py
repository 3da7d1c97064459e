"""The ``nbassets`` command line: parse, call the core, present (aligned text, or ``--json``).

Every command is a thin edge: the decisions live in ``status``, ``provenance`` (why, plan,
lineage edges), ``collect`` (gc), ``diff`` and the pipeline runner. Errors nbassets raises
on purpose print ``error: <message>`` on stderr, with no traceback, and exit with 2 when
what was typed or configured is wrong (bad env name, unknown asset, bad option) and 1 when
something failed (a damaged catalog, a failed build or check). Envs default to your dev
sandbox (``dev-<user>-<branch>``, layered over production) for reading commands, and to
``prod`` for ``plan``, ``check`` and ``materialize``.
"""

from __future__ import annotations

import functools
import importlib
import json
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

import click

from . import __version__
from .config import Project
from .definitions import notebook_definitions, notebook_paths
from .environments import PROD, default_dev_env, store_path
from .errors import ConfigError, NbAssetsError, SpecError, UnknownName, did_you_mean
from .provenance import (
    Code,
    Plan,
    check_dict,
    explain,
    lineage_graph,
    plan_steps,
    prod_notes,
    schema_drift,
)
from .render.display import table
from .render.reports import plan_text, status_dict, why_text
from .status import in_definition_order
from .store.catalog import Materialization
from .store.stores import Store
from .store.workspace import Workspace

F = TypeVar("F", bound=Callable[..., Any])
_DEV = "your dev sandbox, dev-<user>-<branch>, over prod"
_DEV_STORE = "your dev sandbox, dev-<user>-<branch>"
_USAGE_ERRORS = (ConfigError, SpecError, UnknownName)  # exit 2; other nbassets errors exit 1


class CliError(click.ClickException):
    """Something failed: shown as ``error: <message>``, exit code 1."""

    exit_code = 1

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"error: {self.format_message()}", file=file, err=file is None)


class CliUsageError(CliError):
    """What was typed or configured is wrong: ``error: <message>``, exit code 2."""

    exit_code = 2


def usage_error(message: str) -> CliError:
    """An error in what the user typed (exit code 2)."""
    return CliUsageError(message)


class _Group(click.Group):
    """A group that turns nbassets' own errors into ``error: ...`` lines, not tracebacks."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except NbAssetsError as exc:
            error = CliUsageError if isinstance(exc, _USAGE_ERRORS) else CliError
            raise error(str(exc)) from None


class _Cli:
    """What every command shares: the project, found on first use."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @functools.cached_property
    def project(self) -> Project:
        return Project.find(self.folder)


pass_cli = click.make_pass_decorator(_Cli)


def env_option(default: str) -> Callable[[F], F]:
    return click.option(
        "--env", metavar="ENV", default=None, help=f"the environment (default: {default})"
    )


json_option = click.option(
    "--json", "as_json", is_flag=True, help="print JSON for machines instead of text"
)


def production_overrides(command: F) -> F:
    """``--allow-dirty`` and ``--no-git``: the production policy's explicit, recorded overrides."""
    command = click.option(
        "--no-git",
        is_flag=True,
        help="prod outside any git repository (a deployed image): the commit comes from "
        "$NBASSETS_COMMIT (also: NBASSETS_NO_GIT=1)",
    )(command)
    return click.option(
        "--allow-dirty",
        is_flag=True,
        help="build prod from a dirty tree, recorded as dirty (also: NBASSETS_ALLOW_DIRTY=1)",
    )(command)


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


# --- status -------------------------------------------------------------------------------------


@main.command()
@env_option(_DEV)
@json_option
@pass_cli
def status(cli: _Cli, env: str | None, as_json: bool) -> None:
    """Status of every asset: fresh, stale (why), missing, failed.

    Code versions come from the exported package when it exists, else from the notebooks.
    """
    from .render.display import StatusTable

    project = cli.project
    env = env or default_dev_env(project)
    with closing(Workspace(project, env)) as ws:
        code = load_code(project, ws.keys())
        rows = in_definition_order(
            ws.statuses(code.code_versions, code.deps, None, code.check_names), code.code_versions
        )
        notes = {} if env == PROD else prod_notes(code.code_versions, ws.prod.catalog.heads())
    if as_json:
        echo_json([{**status_dict(row), "prod": notes.get(row.key)} for row in rows])
        return
    click.echo(f"env {env}" + ("" if env == PROD else " (over prod)") + f"; code: {code.origin}")
    click.echo(StatusTable(rows, notes).to_text())


@main.command()
@click.argument("key")
@env_option(_DEV)
@click.option("--version", metavar="V", help="a data version or its prefix (default: the latest)")
@json_option
@pass_cli
def why(cli: _Cli, key: str, env: str | None, version: str | None, as_json: bool) -> None:
    """Provenance of a version: code, commit, inputs, checks.

    The env's own version, else production's (what the env reads); --version picks an
    earlier one by data-version prefix.
    """
    project = cli.project
    env = env or default_dev_env(project)
    with closing(Workspace(project, env)) as ws:
        code = load_code(project, ws.keys())
        record, store = find_version(ws, key, version, code)
        stores = [ws.own] if ws.own is ws.prod else [ws.prod, ws.own]
        inputs_now = {}
        for up in record.inputs:
            resolved = ws.resolve(up)
            inputs_now[up] = None if resolved is None else resolved.record.data_version
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


def find_version(
    ws: Workspace, key: str, version: str | None, code: Code
) -> tuple[Materialization, Store]:
    """The latest (or the given) version of ``key`` the env sees, and the store that holds it."""
    stores = [ws.own] if ws.own is ws.prod else [ws.own, ws.prod]
    where = f"env {ws.env!r}" + ("" if ws.own is ws.prod else " or prod")
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


@main.command()
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
    changed; everything downstream of a rebuilt asset is listed as downstream. Schema
    drift compares the latest versions in --against with the env's latest versions.
    """
    project = cli.project
    env = env or PROD
    against = against or default_dev_env(project)
    if against == env:
        raise usage_error(f"--against {against!r} is the env being planned; name another env.")
    with closing(Workspace(project, env)) as ws:
        code = load_code(project, ws.keys())
        steps = plan_steps(code.code_versions, code.deps, ws.current(), ws.failures())
        latest = {} if ws.own is ws.prod else ws.prod.catalog.latest()
        latest.update(ws.own.catalog.latest())
        candidate = ws.other_env(against).catalog.latest()
    drift = schema_drift(
        {k: m.schema for k, m in latest.items()}, {k: m.schema for k, m in candidate.items()}
    )
    result = Plan(env, tuple(steps), against, tuple(drift))
    if as_json:
        echo_json(result.to_dict())
    else:
        click.echo(plan_text(result, code.origin, candidate_versions=len(candidate)))


@main.command()
@click.argument("key")
@click.option("--from", "from_env", metavar="ENV", default=PROD, show_default=True)
@click.option("--to", "to_env", metavar="ENV", help="the newer side (default: your dev sandbox)")
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
    from_env: str,
    to_env: str | None,
    key_columns: tuple[str, ...],
    as_json: bool,
) -> None:
    """Data diff of an asset's latest versions in two envs."""
    from .diff import diff_tables
    from .spec import split_list

    project = cli.project
    to_env = to_env or default_dev_env(project)
    if from_env == to_env:
        raise usage_error(f"--from and --to both name {from_env!r}; compare two different envs.")
    with open_store(project, from_env) as old_store, open_store(project, to_env) as new_store:
        old = latest_table(old_store, key, other=new_store)
        new = latest_table(new_store, key, other=old_store)
        columns = split_list(list(key_columns))
        if not columns:
            known = old_store.catalog.keys() | new_store.catalog.keys()
            columns = load_code(project, known).key_columns.get(key, ())
        result = diff_tables(
            old_store.storage.local_file(old.path, old.data_version),
            new_store.storage.local_file(new.path, new.data_version),
            key=columns,
            old_label=from_env,
            new_label=to_env,
        )
    if as_json:
        echo_json(result.to_dict())
    else:
        click.echo(result._repr_mimebundle_()["text/plain"])


def latest_table(store: Store, key: str, other: Store) -> Materialization:
    """The latest version of ``key`` in ``store``, which must be a table."""
    record = store.catalog.latest_of(key)
    if record is None:
        known = store.catalog.keys() | other.catalog.keys()
        hint = did_you_mean(key, known) if key not in known else ""
        error = CliError if key in known else CliUsageError
        raise error(
            f"asset {key!r} has no version in env {store.env!r} ({store.root}).{hint} "
            "Build it there, or pick envs with --from and --to."
        )
    if record.io != "parquet":
        raise CliError(
            f"asset {key!r} is stored as {record.io} in env {store.env!r}; a data diff "
            "compares tables (pandas, polars or pyarrow frames stored as Parquet)."
        )
    return record


# --- lineage ------------------------------------------------------------------------------------


@main.command()
@click.argument("key", required=False)
@env_option(_DEV)
@click.option(
    "--svg",
    "svg_file",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="write the drawing to this SVG file",
)
@json_option
@pass_cli
def lineage(
    cli: _Cli, key: str | None, env: str | None, svg_file: Path | None, as_json: bool
) -> None:
    """The dependency graph, with where each input came from."""
    from .render.lineage import Lineage

    project = cli.project
    env = env or default_dev_env(project)
    with closing(Workspace(project, env)) as ws:
        code = load_code(project, ws.keys())
        rows = in_definition_order(
            ws.statuses(code.code_versions, code.deps, None, code.check_names), code.code_versions
        )
        nodes, edges = lineage_graph(rows, code.deps, ws.current(), env)
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


@main.command()
@click.argument("key")
@env_option(_DEV_STORE)
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True, metavar="N")
@json_option
@pass_cli
def history(cli: _Cli, key: str, env: str | None, limit: int, as_json: bool) -> None:
    """The versions of an asset in an env, newest first."""
    from .render.display import short_time
    from .render.summary import human_bytes

    project = cli.project
    env = env or default_dev_env(project)
    with open_store(project, env) as store:
        records = store.catalog.history(key, limit)
        if not records:
            raise no_history(project, store, key)
        versions = [(m, store.storage.exists(m.path)) for m in records]
    if as_json:
        echo_json([{**record_dict(m), "file_present": present} for m, present in versions])
        return
    rows = [
        (
            m.data_version[:12],
            short_time(m.finished_at),
            m.code_version[:12],
            "" if m.rows is None else f"{m.rows:,}",
            human_bytes(m.bytes),
            (m.commit or "")[:7] + ("*" if m.dirty else ""),
            m.user or "",
            "" if present else "removed by gc",
        )
        for m, present in versions
    ]
    click.echo(f"{key} in {env}, newest first (* = built from a dirty tree)")
    click.echo(table(("version", "built", "code", "rows", "size", "commit", "user", "file"), rows))


def no_history(project: Project, store: Store, key: str) -> CliError:
    """The error for an asset with no versions in ``store``, pointing at where it is."""
    if store.env != PROD:
        with open_store(project, PROD) as prod:
            if prod.catalog.latest_of(key) is not None:
                return CliError(
                    f"asset {key!r} has no versions in env {store.env!r}; production has: "
                    f"nbassets history {key} --env prod"
                )
    known = store.catalog.keys()
    return usage_error(
        f"asset {key!r} has no versions in env {store.env!r} ({store.root})."
        f"{did_you_mean(key, known)} Pass another env with --env."
    )


# --- gc -----------------------------------------------------------------------------------------


@main.command()
@click.option(
    "--keep",
    type=click.IntRange(min=1),
    required=True,
    metavar="N",
    help="keep the newest N builds of each asset (and every version they read)",
)
@env_option(_DEV_STORE)
@click.option("--dry-run", is_flag=True, help="only say what would be removed")
@production_overrides
@json_option
@pass_cli
def gc(
    cli: _Cli,
    keep: int,
    env: str | None,
    dry_run: bool,
    allow_dirty: bool,
    no_git: bool,
    as_json: bool,
) -> None:
    """Remove old, unreferenced version files.

    Per asset the newest N builds stay, with every version a kept build read (of any
    asset) and the latest of each asset. Only data files go: the catalog keeps the
    history, and loading a removed version says that gc removed it. Removing files from
    prod follows the production policy; a --dry-run writes nothing and needs no permission.
    """
    from .policy import Overrides, authorize
    from .render.summary import human_bytes
    from .store.gc import collect

    project = cli.project
    env = env or default_dev_env(project)
    with closing(Workspace(project, env)) as ws:
        if not ws.other_env(env).catalog.keys():
            raise usage_error(
                f"env {env!r} has no store at {store_path(project, env)}: there is nothing "
                "to collect."
            )
        if dry_run:
            store = ws.other_env(env)  # read-only: a dry run writes nothing
        else:
            store = ws.writer(authorize(project, env, "gc", Overrides.resolve(allow_dirty, no_git)))
        result = collect(store, keep, dry_run=dry_run)
    if as_json:
        echo_json(result.to_dict())
        return
    verb = "would remove" if dry_run else "removed"
    rows = [
        (verb, r.key, r.data_version[:12], human_bytes(r.bytes), r.path) for r in result.removed
    ]
    if rows:
        click.echo(table(("", "asset", "version", "size", "file"), rows))
    click.echo(
        f"{verb} {len(result.removed)} version file(s), {human_bytes(result.bytes)}, from env "
        f"{env!r}, keeping the newest {keep} build(s) of each asset and every version they "
        "read; the catalog keeps their history."
    )


# --- check, export, materialize (the pipeline runner and exporter do the work) -----------------


@main.command()
@click.option(
    "--env",
    envvar="NBASSETS_ENV",
    default=PROD,
    show_default=True,
    metavar="ENV",
    help="the environment (default: $NBASSETS_ENV, else prod)",
)
@click.option("--select", "selections", multiple=True, metavar="SEL", help="KEY, KEY+, +KEY, *")
@production_overrides
@json_option
@pass_cli
def check(
    cli: _Cli,
    env: str,
    selections: tuple[str, ...],
    allow_dirty: bool,
    no_git: bool,
    as_json: bool,
) -> None:
    """Run the checks on an env's current data (no rebuild).

    The results are recorded in the env's catalog (for prod: under the production policy).
    Exits 1 when an error-severity check fails.
    """
    from .render.display import check_line

    check_env = core("pipeline", "check_env", "check")
    results = check_env(
        cli.project, env, list(selections) or ["*"], allow_dirty=allow_dirty, no_git=no_git
    )
    if as_json:
        echo_json([check_dict(r) for r in results])
    else:
        for result in results:
            click.echo(check_line(result))
        failed = sum(r.blocking for r in results)
        click.echo(f"{len(results)} check(s) in {env}: {failed} failed")
    if any(r.blocking for r in results):
        raise click.exceptions.Exit(1)


@main.command()
@click.argument("notebooks", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--package", default=None, help="the package to write (default: export_package, pipelines)"
)
@click.option(
    "--check", "check_only", is_flag=True, help="write nothing; exit 1 with a diff if out of date"
)
@json_option
@pass_cli
def export(
    cli: _Cli,
    notebooks: tuple[Path, ...],
    package: str | None,
    check_only: bool,
    as_json: bool,
) -> None:
    """Write the notebooks' assets as Python modules."""
    export_notebooks = core("exporter", "export_notebooks", "export")
    project = cli.project
    paths = [p.resolve() for p in notebooks] or notebook_paths(project)
    if not paths:
        raise usage_error(
            "no notebooks given, and none match [tool.nbassets] notebooks "
            f"{list(project.config.notebooks)}: name the notebooks to export."
        )
    result = export_notebooks(project, paths, package, check_only)
    stale: dict[Path, str] = dict(result.stale)
    if as_json:
        echo_json(
            {
                "written": [project.relative(p) for p in result.written],
                "unchanged": [project.relative(p) for p in result.unchanged],
                "stale": [project.relative(p) for p in stale],
            }
        )
    else:
        for path in result.written:
            click.echo(f"wrote      {project.relative(path)}")
        for path in result.unchanged:
            click.echo(f"unchanged  {project.relative(path)}")
        for text in stale.values():
            click.echo(text.rstrip("\n"))
    if stale:
        raise CliError(
            f"{len(stale)} exported file(s) are out of date with their notebooks: "
            "run `nbassets export` and commit the result."
        )


@main.command()
@click.option(
    "--env",
    envvar="NBASSETS_ENV",
    default=PROD,
    show_default=True,
    metavar="ENV",
    help="the environment to build (default: $NBASSETS_ENV, else prod)",
)
@click.option(
    "--select", "selections", multiple=True, metavar="SEL", help="KEY, KEY+, +KEY, stale, *"
)
@production_overrides
@click.option("--no-progress", is_flag=True, help="no progress bar")
@json_option
@pass_cli
def materialize(
    cli: _Cli,
    env: str,
    selections: tuple[str, ...],
    allow_dirty: bool,
    no_git: bool,
    no_progress: bool,
    as_json: bool,
) -> None:
    """Build the exported package's assets in dependency order.

    Downstream of a failed build or a failed error-severity check is skipped; exits 1 if
    anything failed. Production is built only from a clean tree on main_branch.
    """
    run = core("pipeline", "materialize", "materialize")
    report = run(
        cli.project,
        env,
        list(selections) or ["*"],
        allow_dirty=allow_dirty,
        progress=not no_progress,
        no_git=no_git,
    )
    failed: dict[str, str] = dict(report.failed)
    if as_json:
        echo_json(
            {
                "env": env,
                "built": list(report.built),
                "failed": failed,
                "skipped": list(report.skipped),
                "check_failed": list(report.check_failed),
            }
        )
    else:
        click.echo(f"built {len(report.built)} asset(s) in {env}: {', '.join(report.built)}")
        for key, error in failed.items():
            click.echo(f"failed        {key}: {error}")
        if report.check_failed:
            click.echo(f"check failed  {', '.join(report.check_failed)}")
        if report.skipped:
            click.echo(f"skipped       {', '.join(report.skipped)} (downstream of a failure)")
    if failed or report.check_failed:
        raise click.exceptions.Exit(1)


def core(module: str, name: str, command: str) -> Any:
    """``nbassets.<module>.<name>``, imported when the command runs, or a clear error."""
    qualified = f"nbassets.{module}"
    try:
        found = importlib.import_module(qualified)
    except ModuleNotFoundError as exc:
        if exc.name != qualified:
            raise
        found = None
    if found is None or not hasattr(found, name):
        raise CliError(
            f"`nbassets {command}` needs {qualified}.{name}, which this installation of "
            f"nbassets does not have; upgrade nbassets."
        )
    return getattr(found, name)


# --- shared pieces ------------------------------------------------------------------------------


def load_code(project: Project, known_keys: set[str]) -> Code:
    """What the code defines now: the exported package when it exists, else the notebooks."""
    name = project.config.export_package
    if (project.root / Path(*name.split(".")) / "__init__.py").is_file():
        from .package import load_package

        package = load_package(project, name)
        return Code(
            origin=f"package {name}",
            code_versions=package.code_versions(),
            deps=package.deps(),
            key_columns={key: a.key_columns for key, a in package.assets.items()},
            check_names=package.check_names(),
        )
    definitions = notebook_definitions(notebook_paths(project), project, known_keys)
    return Code(
        origin="notebooks",
        code_versions={key: d.code_version for key, d in definitions.items()},
        deps={key: d.deps for key, d in definitions.items()},
        key_columns={key: d.spec.key_columns for key, d in definitions.items()},
    )


@contextmanager
def open_store(project: Project, env: str) -> Iterator[Store]:
    """``env``'s store, read-only (reading creates no file)."""
    store = Store(env, store_path(project, env), writable=False)
    try:
        yield store
    finally:
        store.close()


def record_dict(m: Materialization) -> dict[str, Any]:
    """A materialization as JSON-ready values, with ``built_at``."""
    return {**asdict(m), "built_at": m.finished_at}


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, default=_json_default))


def _json_default(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, set | frozenset):
        return sorted(value)
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    return str(value)


if __name__ == "__main__":
    main(prog_name="nbassets")
