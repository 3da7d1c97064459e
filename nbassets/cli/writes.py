"""The commands that write: gc, check, export and materialize (under the production policy)."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..config import Project
from ..definitions import notebook_paths
from ..environments import default_dev_env, store_path
from ..freshness import Late
from ..provenance import check_dict
from ..render.tables import table
from ..store.gc import GcResult
from ..store.stores import Store
from ..store.workspace import Workspace
from .common import (
    _DEV_STORE,
    CliError,
    _Cli,
    deployed_env_option,
    echo_json,
    env_option,
    json_option,
    pass_cli,
    production_overrides,
    usage_error,
)

if TYPE_CHECKING:
    from ..batch import MaterializeReport

# --- gc -----------------------------------------------------------------------------------------


@click.command()
@click.option(
    "--keep",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="old builds: keep the newest N builds of each asset (and every version they read)",
)
@click.option(
    "--orphans",
    is_flag=True,
    help="orphaned assets: every version of the assets that no notebook or exported module "
    "defines or reads (external versions never count)",
)
@env_option(_DEV_STORE)
@click.option("--yes", is_flag=True, help="remove the files listed (without it, gc only lists)")
@click.option("--dry-run", is_flag=True, help="list only: the default now (kept for old scripts)")
@production_overrides
@json_option
@pass_cli
def gc(
    cli: _Cli,
    keep: int | None,
    orphans: bool,
    env: str | None,
    yes: bool,
    dry_run: bool,
    allow_dirty: bool,
    no_git: bool,
    as_json: bool,
) -> None:
    """List the version files that may go; remove them with --yes.

    --keep N: per asset the newest N builds stay, with every version a kept build read (of
    any asset) and the latest of each asset. --orphans: every version of the orphaned assets
    goes, except those a build of a live asset read. Both together apply both rules. The
    versions of an asset forgotten from the env (`nbassets forget`) go under either rule.
    Only data files go: the catalog keeps the history, and loading a removed version says
    that gc removed it. Listing writes nothing and needs no permission; removing files from
    prod follows the production policy.
    """
    from ..policy import Overrides, authorize, confirm_modules, project_modules
    from ..store.gc import collect

    if keep is None and not orphans:
        raise usage_error(
            "gc needs a rule: --keep N (keep the newest N builds of each asset), --orphans "
            "(the assets no notebook or exported module defines or reads), or both."
        )
    if dry_run and yes:
        raise usage_error("--dry-run only lists and --yes removes: give one of them.")
    project = cli.project
    env = env or default_dev_env(project)
    with closing(Workspace(project, env)) as ws:
        held = ws.other_env(env)  # read-only: listing writes nothing
        if not held.catalog.keys() and not held.catalog.forgotten_before():
            raise usage_error(
                f"env {env!r} has no store at {store_path(project, env)}: there is nothing "
                "to collect."
            )
        grant = (
            authorize(project, env, "gc", Overrides.resolve(allow_dirty, no_git)) if yes else None
        )
        orphaned = orphan_keys(project, ws, held) if orphans else set()
        if grant is not None and orphans:  # the definitions came from the project's modules
            grant = confirm_modules(project, grant, project_modules(project))
        store = held if grant is None else ws.writer(grant)
        result = collect(store, keep, orphans=orphaned, dry_run=grant is None)
    if as_json:
        echo_json(result.to_dict())
    else:
        gc_text(result, removing=grant is not None, orphans=orphans)


def orphan_keys(project: Project, ws: Workspace, store: Store) -> set[str]:
    """The keys ``store`` holds that no notebook or exported module defines or reads
    (``model.orphans``, the rule ``status`` shows).

    Refused when the project defines no asset at all: every key would count.
    """
    from ..codebase import project_code
    from ..model import orphans

    code = project_code(project, ws.keys())
    if not code.code_versions:
        raise usage_error(
            f"the project at {project.root} defines no asset (no notebook matches "
            f"[tool.nbassets] notebooks {list(project.config.notebooks)}, and there is no "
            f"exported package {project.config.export_package!r}): every asset env "
            f"{store.env!r} holds would count as orphaned. Run gc in the project that "
            "builds these assets (--project)."
        )
    return orphans(project, code, store.catalog.heads(), store.catalog.last_failures())


def gc_text(result: GcResult, removing: bool, orphans: bool) -> None:
    """What gc removed, or would remove and the command that removes it."""
    from ..render.summary import human_bytes

    verb = "removed" if removing else "would remove"
    rows = [
        (verb, r.key, r.data_version[:12], human_bytes(r.bytes), r.path) for r in result.removed
    ]
    if rows:
        click.echo(table(("", "asset", "version", "size", "file"), rows))
    if orphans:
        names = ", ".join(result.orphans) or "none"
        click.echo(f"orphaned: {names} (no notebook or exported module defines or reads them)")
    rules = ["every version of the orphans"] if orphans else []
    if result.keep is not None:
        other = " other" if orphans else ""
        rules.append(f"all but the newest {result.keep} build(s) of each{other} asset")
    if result.forgotten:
        rules.append(f"every version of the forgotten {', '.join(result.forgotten)}")
    click.echo(
        f"{verb} {len(result.removed)} version file(s), {human_bytes(result.bytes)}, from env "
        f"{result.env!r}: {' and '.join(rules)}, except the versions a kept build read; the "
        "catalog keeps their history."
    )
    if not removing and result.removed:
        options = ["--keep", str(result.keep)] if result.keep is not None else []
        options += ["--orphans"] if orphans else []
        click.echo(
            f"Nothing was removed: `nbassets gc {' '.join(options)} --env {result.env} --yes` "
            "removes them."
        )


# --- check, export, materialize (the pipeline runner and exporter do the work) -----------------


@click.command()
@deployed_env_option("the environment")
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
    """Run the checks on current data; list late assets.

    Nothing is rebuilt. The results are recorded in the env's catalog (for prod: under the
    production policy). Exits 1 when an error-severity check fails or an asset is late:
    older than its --fresh 'max_age=...' allows (NBASSETS_NOW pins now), or failing a
    fresh(...) rule; so a scheduler can run it as a monitor. --json: the check results,
    then one item per late asset (outcome "late").
    """
    from ..pipeline import check_env, late_assets, send_alerts
    from ..render.display import check_line

    chosen = list(selections) or ["*"]
    results = check_env(cli.project, env, chosen, allow_dirty=allow_dirty, no_git=no_git)
    late = late_assets(cli.project, env, chosen)
    stale_rules = {r.key for r in results if not r.passed and r.name.startswith("fresh(")}
    late_keys = stale_rules | {item.key for item in late}
    problems: dict[tuple[str, str], str] = {}
    for r in results:
        if r.blocking:
            kind = "late" if r.name.startswith("fresh(") else "check"
            problems.setdefault((r.key, kind), f"{r.key}: {r.name} failed: {r.message}")
    for item in late:
        problems.setdefault((item.key, "late"), item.describe())
    looked_at = {r.key for r in results} | late_keys
    everything = chosen == ["*"]
    send_alerts(
        cli.project,
        env,
        problems,
        lambda key, kind: kind != "build" and (everything or key in looked_at),
        allow_dirty=allow_dirty,
        no_git=no_git,
    )
    if as_json:
        echo_json([check_dict(r) for r in results] + [late_dict(item) for item in late])
    else:
        for result in results:
            click.echo(check_line(result))
        for item in late:
            click.echo(f"LATE  {item.describe()}")
        failed = sum(r.blocking for r in results)
        click.echo(f"{len(results)} check(s) in {env}: {failed} failed, {len(late_keys)} late")
    if late_keys or any(r.blocking for r in results):
        raise click.exceptions.Exit(1)


def late_dict(item: Late) -> dict[str, object]:
    """A late asset as an item of ``check --json``, beside the check results."""
    return {
        **item.as_dict(),
        "name": f"--fresh {item.fresh}",
        "severity": "error",
        "outcome": "late",
        "passed": False,
        "message": item.describe(),
    }


@click.command()
@click.argument("notebooks", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--package", default=None, help="the package to write (default: export_package, pipelines)"
)
@click.option(
    "--check",
    "check_only",
    is_flag=True,
    help="write nothing: compare the package's files on disk (committed or not) with a fresh "
    "export; exit 1 with a unified diff where they differ",
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
    """Write the notebooks' assets and tests as Python modules.

    Each notebook becomes <package>/<notebook>.py; its %%test cells become
    <package>/tests/test_<notebook>.py.

    With --check, compare the files on disk with what an export writes now. It reads the
    working tree, not git: a CI job on a fresh clone checks what is committed.
    """
    from ..exporter import export_notebooks

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
                "removed": [project.relative(p) for p in result.removed],
            }
        )
    else:
        for path in result.written:
            click.echo(f"wrote      {project.relative(path)}")
        for path in result.unchanged:
            click.echo(f"unchanged  {project.relative(path)}")
        for path in result.removed:  # a test module whose notebook has no %%test cell now
            click.echo(f"removed    {project.relative(path)}")
        for text in stale.values():
            click.echo(text.rstrip("\n"))
    if stale:
        raise CliError(
            f"{len(stale)} file(s) on disk differ from what `nbassets export` writes for "
            "these notebooks now: run `nbassets export`, then commit the result."
        )


@click.command()
@deployed_env_option("the environment to build")
@click.option(
    "--select",
    "selections",
    multiple=True,
    metavar="SEL",
    help="KEY, KEY+, +KEY, *, stale, plan, KEY[PARTITION], KEY[FIRST..LAST] (repeatable)",
)
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="worker processes that build one asset's partitions side by side",
)
@production_overrides
@click.option("--no-progress", is_flag=True, help="no progress bar")
@click.option(
    "--dry-run", is_flag=True, help="list what would be built and why; build and write nothing"
)
@json_option
@pass_cli
def materialize(
    cli: _Cli,
    env: str,
    selections: tuple[str, ...],
    jobs: int,
    allow_dirty: bool,
    no_git: bool,
    no_progress: bool,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Build the exported package's assets in dependency order.

    A partitioned asset builds every complete partition selected that is not fresh already
    (current code on current inputs), so an interrupted backfill resumes where it stopped.
    Downstream of a failed build or a failed error-severity check is skipped; exits 1 if
    anything failed. Production is built only from a clean tree on main_branch.
    """
    from ..pipeline import materialize as build_env
    from ..render.progress import progress_bar

    if dry_run:
        _dry_run(cli, env, list(selections) or ["*"], as_json)
        return

    with progress_bar(not no_progress) as progress:
        report = build_env(
            cli.project,
            env,
            list(selections) or ["*"],
            allow_dirty=allow_dirty,
            progress=progress,
            no_git=no_git,
            jobs=jobs,
        )
    failed: dict[str, str] = dict(report.failed)
    _materialize_alerts(cli, env, report, allow_dirty, no_git)
    if as_json:
        echo_json(
            {
                "env": env,
                "built": list(report.built),
                "failed": failed,
                "skipped": list(report.skipped),
                "check_failed": list(report.check_failed),
                "fresh": list(report.fresh),
            }
        )
    else:
        click.echo(f"built {len(report.built)} asset(s) in {env}: {steps_text(report.built)}")
        if report.fresh:
            click.echo(f"fresh         {len(report.fresh)} partition(s) already built from this "
                       "code on these inputs: left as they are")  # fmt: skip
        for key, error in failed.items():
            click.echo(f"failed        {key}: {error}")
        if report.check_failed:
            click.echo(f"check failed  {steps_text(report.check_failed)}")
        if report.skipped:
            click.echo(f"skipped       {steps_text(report.skipped)} (downstream of a failure)")
    if failed or report.check_failed:
        raise click.exceptions.Exit(1)


def _materialize_alerts(
    cli: _Cli, env: str, report: MaterializeReport, allow_dirty: bool, no_git: bool
) -> None:
    """Open and clear the build and check incidents of the assets this build ran."""
    from ..pipeline import send_alerts

    def key_of(label: str) -> str:
        return label.partition("[")[0]

    problems: dict[tuple[str, str], str] = {}
    for label, error in report.failed.items():
        problems.setdefault((key_of(label), "build"), f"{label}: build failed: {error}")
    for label in report.check_failed:
        problems.setdefault((key_of(label), "check"), f"{label}: an error-severity check failed")
    ran = {key_of(label) for label in [*report.built, *report.check_failed, *report.fresh]}
    ran |= {key for key, _ in problems}
    send_alerts(
        cli.project,
        env,
        problems,
        lambda key, kind: kind != "late" and key in ran,
        allow_dirty=allow_dirty,
        no_git=no_git,
    )


def steps_text(labels: list[str], spell_out: int = 3) -> str:
    """Built steps as a line: an asset's partitions counted when there are more than
    ``spell_out`` (``events: 90 partitions, 2024-01-01 to 2024-03-30``)."""
    by_key: dict[str, list[str]] = {}
    for label in labels:
        key, _, partition = label.partition("[")
        by_key.setdefault(key, []).append(partition.rstrip("]"))
    parts = []
    for key, partitions in by_key.items():
        if len(partitions) > spell_out and all(partitions):
            ordered = sorted(partitions)
            parts.append(f"{key}: {len(ordered)} partitions, {ordered[0]} to {ordered[-1]}")
        else:
            parts.extend(f"{key}[{p}]" if p else key for p in partitions)
    return ", ".join(parts)


def _dry_run(cli: _Cli, env: str, selections: list[str], as_json: bool) -> None:
    """``materialize --dry-run``: the selection in build order, each with its status now."""
    from ..pipeline import dry_run
    from ..render.tables import aligned

    rows = dry_run(cli.project, env, selections)
    if as_json:
        echo_json(
            {
                "env": env,
                "dry_run": True,
                "would_build": [
                    {"key": r.key, "status": r.status, "reason": r.reason} for r in rows
                ],
            }
        )
        return
    click.echo(f"would build {len(rows)} asset(s) in {env} (dry run: nothing built or written):")
    lines = aligned([[r.key, r.status, r.reason] for r in rows], indent="  ")
    for line in lines:
        click.echo(line.rstrip())
