"""Building and checking an env from the exported package (``nbassets materialize`` / ``check``).

Both ask the production policy first, then load the package and hand each asset to the
shared build operation (:mod:`nbassets.build`) or check runner (:mod:`nbassets.checks.runner`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import closing
from datetime import datetime
from itertools import groupby

from .alerts import Notice, deliver, transitions
from .batch import MaterializeReport, Progress, Step, build_in_order
from .build import BuildOutcome, BuildTask, build, fresh_partitions, upstream_partitions
from .checks.runner import run_checks
from .codebase import package_code
from .config import Project
from .definitions import notebook_paths
from .errors import InvalidArgument, SpecError
from .freshness import Freshness, Late, lateness, parse_fresh
from .model import env_model
from .notebookfile import asset_cells
from .package import Package, load_package
from .partitions import PartitionsDefinition, compress, now_utc, parse_definition
from .policy import Overrides, WriteGrant, authorize, confirm_modules, project_modules
from .selection import select_steps
from .status import MISSING, AssetStatus
from .store.incidents import open_incidents, record_incidents
from .store.results import CheckResult
from .store.workspace import ResolvedInput, Workspace
from .workers import PartitionPool

__all__ = [
    "MaterializeReport", "check_env", "dry_run", "late_assets", "materialize", "send_alerts",
]  # fmt: skip

_MISSING_HINT = "build it first (--select +{key}), or store it with nbassets.save({dep!r}, value)"


def materialize(
    project: Project,
    env: str,
    selections: Iterable[str] = ("*",),
    allow_dirty: bool = False,
    progress: Progress | None = None,
    no_git: bool = False,
    jobs: int = 1,
) -> MaterializeReport:
    """Build the selected assets (and partitions) of the package into ``env``, in dependency
    order; ``jobs`` worker processes build one asset's partitions side by side.

    Downstream of a failed build or of a failed error-severity check is skipped. A
    partition that is fresh already (current code on current inputs) is not rebuilt, so an
    interrupted backfill resumes where it stopped. Production follows the production policy
    (:mod:`nbassets.policy`).
    """
    if jobs < 1:
        raise InvalidArgument(f"-j {jobs}: give at least one worker (-j 1 builds in this process).")
    grant, package, workspace = _open(project, env, "materialize", allow_dirty, no_git)
    pool: PartitionPool | None = None
    try:
        steps = select_steps(package, workspace, selections)
        tasks: dict[str, BuildTask] = {}
        upstream: dict[str, dict[str, dict[str, ResolvedInput]]] = {}

        def task(key: str) -> BuildTask:
            if key not in tasks:
                tasks[key] = package.task(key)
            return tasks[key]

        def reads(key: str) -> dict[str, dict[str, ResolvedInput]]:
            if key not in upstream:  # read when the key's turn comes: its upstreams are built
                upstream[key] = upstream_partitions(workspace, task(key))
            return upstream[key]

        def fresh(group: list[Step]) -> set[Step]:
            if not group[0].partition:
                return set()  # an unpartitioned asset selected is rebuilt
            key = group[0].key
            keys = fresh_partitions(workspace, task(key), [s.partition for s in group], reads(key))
            return {step for step in group if step.partition in keys}

        def run(group: list[Step]) -> Iterator[tuple[Step, BuildOutcome]]:
            nonlocal pool
            key = group[0].key
            if jobs > 1 and len(group) > 1:
                if pool is None:
                    pool = PartitionPool(project, env, grant, jobs, _MISSING_HINT)
                by_partition = {step.partition: step for step in group}
                for outcome in pool.build(key, by_partition):
                    yield by_partition[outcome.partition], outcome
                return
            for step in group:
                outcome = build(workspace, task(key), grant, None, _MISSING_HINT,
                                step.partition, reads(key) if step.partition else None)  # fmt: skip
                yield step, outcome

        keys = dict.fromkeys(step.key for step in steps)
        return build_in_order(
            env,
            steps,
            package.deps(),
            progress=progress or None,
            mappings={key: task(key).mappings for key in keys},
            runner=run,
            fresh=fresh,
        )
    finally:
        if pool is not None:
            pool.close()
        workspace.close()


def dry_run(project: Project, env: str, selections: Iterable[str] = ("*",)) -> list[AssetStatus]:
    """What ``materialize`` would build in ``env``, in build order, each with its status now
    (why it would be rebuilt); a partitioned asset's row names the partitions that are not
    fresh (``events[2024-01-01..2024-03-31]``), and is left out when all are. Upstreams
    rebuilt in the same run can make more partitions stale than listed. Nothing is written,
    so no policy is asked: a dry run of production works from any tree."""
    package = load_package(project)
    workspace = Workspace(project, env)
    try:
        steps = select_steps(package, workspace, selections)
        rows = {row.key: row for row in env_model(workspace, package_code(package)).rows}
        listed: list[AssetStatus] = []
        for key, group in groupby(steps, key=lambda step: step.key):
            row = rows.get(key) or AssetStatus(key, MISSING, "never built")
            partitions = [step.partition for step in group if step.partition]
            if not partitions:
                listed.append(row)
                continue
            definition = parse_definition(package.assets[key].partitions or "")
            fresh = fresh_partitions(workspace, package.task(key), partitions)
            todo = [p for p in partitions if p not in fresh]
            if todo:
                ranges = ",".join(map(str, compress(definition, todo)))
                listed.append(row._replace(key=f"{key}[{ranges}]"))
        return listed
    finally:
        workspace.close()


def check_env(
    project: Project,
    env: str,
    selections: Iterable[str] = ("*",),
    allow_dirty: bool = False,
    no_git: bool = False,
) -> list[CheckResult]:
    """Run the checks of the selected assets on ``env``'s current data, without rebuilding.

    The results are recorded in ``env``'s catalog, so for production the production
    policy applies as it does to a build.
    """
    grant, package, workspace = _open(project, env, "check", allow_dirty, no_git)
    results: list[CheckResult] = []
    try:
        for key, group in groupby(select_steps(package, workspace, selections), lambda s: s.key):
            partitions = [step.partition for step in group if step.partition]
            if partitions:  # every selected partition's current version
                versions = list(workspace.resolve_partitions(key, partitions).values())
            else:
                versions = [v for v in [workspace.resolve(key)] if v is not None]
            task = package.task(key)
            for version in versions:
                results += run_checks(workspace, version, task.rules, task.checks, grant).results
    finally:
        workspace.close()
    return results


def late_assets(
    project: Project,
    env: str,
    selections: Iterable[str] | None = None,
    now: datetime | None = None,
    workspace: Workspace | None = None,
) -> list[Late]:
    """The assets with ``--fresh`` that are late in ``env`` at ``now`` (default: now_utc())
    (:mod:`nbassets.freshness`), in definition order; ``selections`` (as ``check --select``,
    over the exported package): only those assets. Their ``--fresh`` comes from the exported
    package when it exists, else from the notebooks (as status's code does). Reads only,
    through ``workspace`` when the caller has ``env``'s open already."""
    now = now_utc() if now is None else now
    package = load_package(project) if project.exported or selections is not None else None
    if workspace is None:
        with closing(Workspace(project, env)) as opened:
            return _late(opened, project, package, selections, now)
    return _late(workspace, project, package, selections, now)


def _late(
    workspace: Workspace,
    project: Project,
    package: Package | None,
    selections: Iterable[str] | None,
    now: datetime,
) -> list[Late]:
    keys: Collection[str] | None = None
    if package is not None and selections is not None:
        keys = {step.key for step in select_steps(package, workspace, selections)}
    found: list[Late] = []
    for key, (fresh, definition) in fresh_specs(project, package).items():
        if keys is not None and key not in keys:
            continue
        late = lateness(key, fresh, workspace.built_at(key, definition is not None), now,
                        definition)  # fmt: skip
        found += [late] if late is not None else []
    return found


def fresh_specs(
    project: Project, package: Package | None = None
) -> dict[str, tuple[Freshness, PartitionsDefinition | None]]:
    """Each asset with ``--fresh``: its freshness and its partitions (None: built whole), from
    ``package``, else from the notebooks' ``%%asset`` lines (cached; the first defining wins)."""
    found: dict[str, tuple[Freshness, PartitionsDefinition | None]] = {}
    if package is not None:
        definitions = package.partitions()
        for key, asset in package.assets.items():
            if asset.fresh is not None:
                found[key] = (_exported_fresh(key, asset.fresh, package), definitions[key])
        return found
    seen: set[str] = set()
    for spec in (cell.spec for path in notebook_paths(project) for cell in asset_cells(path)):
        if spec.key not in seen and spec.fresh is not None:
            found[spec.key] = (spec.fresh, spec.partitions)
        seen.add(spec.key)
    return found


def _exported_fresh(key: str, text: str, package: Package) -> Freshness:
    try:
        return parse_fresh(text)
    except InvalidArgument as exc:
        raise SpecError(
            f"asset {key!r} of {package.modules[key]}: {exc} Fix its %%asset line and export again."
        ) from None


def send_alerts(
    project: Project,
    env: str,
    problems: Mapping[tuple[str, str], str],
    covers: Callable[[str, str], bool],
    allow_dirty: bool = False,
    no_git: bool = False,
) -> list[Notice]:
    """Record the incidents ``problems`` open and those they clear, then send their notices.

    ``problems`` maps ``(key, kind)`` to a message; an open incident that ``covers(key,
    kind)`` (the run looked at it) and that is not among them has cleared. Nothing happens
    without ``[tool.nbassets.alerts]``. The write follows the production policy, as the
    run's own did; delivery never raises (:func:`nbassets.alerts.deliver`).
    """
    config = project.config.alerts
    if not config.enabled:
        return []
    grant = authorize(project, env, "check", Overrides.resolve(allow_dirty, no_git))
    at = now_utc().isoformat()
    with closing(Workspace(project, env)) as workspace:
        catalog = workspace.writer(grant).catalog
        opened, closed = transitions(problems, open_incidents(catalog, env), covers, config.exclude)
        if opened or closed:
            record_incidents(catalog, env, opened, closed, at)
    name = project.root.name
    notices = [Notice("incident", env, k, kind, m, at, name) for (k, kind), m in opened.items()]
    notices += [Notice("recovery", env, k, kind, m, at, name) for (k, kind), m in closed.items()]
    deliver(config, notices)
    return notices


def _open(
    project: Project, env: str, command: str, allow_dirty: bool, no_git: bool
) -> tuple[WriteGrant, Package, Workspace]:
    """Ask the production policy, then load the package (whose modules it must confirm)."""
    grant = authorize(project, env, command, Overrides.resolve(allow_dirty, no_git))
    package = load_package(project)
    grant = confirm_modules(project, grant, project_modules(project))
    return grant, package, Workspace(project, env)
