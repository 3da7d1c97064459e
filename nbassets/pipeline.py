"""Building an env from the exported package: selection, build order, checks, and the prod guard."""

from __future__ import annotations

import traceback
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from .catalog import Failure
from .checkresult import CheckResult
from .checks import run_check
from .config import Project
from .environments import PROD, current_user
from .errors import DependencyError, ProductionWriteError
from .gitinfo import GitState, git_state
from .package import Package, load_package
from .rules import parse_rule
from .runtime import ExportedAsset
from .serializers import choose_io
from .status import FRESH
from .stores import Store, now
from .verify import run_rule_on
from .workspace import ResolvedInput, Workspace


@dataclass
class MaterializeReport:
    """What ``nbassets materialize`` did."""

    env: str
    built: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # key -> error
    skipped: list[str] = field(default_factory=list)  # downstream of a failure
    check_failed: list[str] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.failed or self.check_failed)


def materialize(
    project: Project,
    env: str,
    selections: Iterable[str] = ("*",),
    allow_dirty: bool = False,
    progress: bool = True,
) -> MaterializeReport:
    """Build the selected assets of the package into ``env``, in dependency order.

    Downstream of a failed build or of a failed error-severity check is skipped.
    ``env`` prod is refused unless the git tree is clean and on ``main_branch``.
    """
    git = guard_production(project, env, allow_dirty)
    package = load_package(project)
    workspace = Workspace(project, env)
    store = _writable_store(project, env, workspace)
    report = MaterializeReport(env)
    try:
        keys = select(package, workspace, selections)
        blocked: set[str] = set()
        for key in _progress(keys, progress):
            asset = package.assets[key]
            if any(dep in blocked for dep in asset.deps):
                report.skipped.append(key)
                blocked.add(key)
                continue
            error = _build(package, workspace, store, asset, git, report)
            if error is not None:
                report.failed[key] = error
                blocked.add(key)
            elif key in report.check_failed:
                blocked.add(key)
            else:
                report.built.append(key)
    finally:
        workspace.close()
        store.close()
    return report


def check_env(project: Project, env: str, selections: Iterable[str] = ("*",)) -> list[CheckResult]:
    """Run the checks of the selected assets on ``env``'s current data, without rebuilding."""
    package = load_package(project)
    workspace = Workspace(project, env)
    store = _writable_store(project, env, workspace)
    results: list[CheckResult] = []
    try:
        for key in select(package, workspace, selections):
            current = workspace.resolve(key)
            if current is not None:
                results += _run_checks(package, workspace, package.assets[key], current)
        if results:
            store.catalog.record_checks(results, env)
    finally:
        workspace.close()
        store.close()
    return results


def select(package: Package, workspace: Workspace, selections: Iterable[str]) -> list[str]:
    """Package assets named by ``key``, ``key+``, ``+key``, ``*`` or ``stale``, in build order."""
    graph = package.graph
    chosen: set[str] = set()
    for selection in selections:
        if selection == "stale":
            rows = workspace.statuses(
                package.code_versions(), package.deps(), check_names=package.check_names()
            )
            chosen |= {
                key for key, row in rows.items() if key in package.assets and row.status != FRESH
            }
        else:
            chosen |= set(graph.select(selection))
    return [key for key in graph.order(chosen) if key in package.assets]


def guard_production(project: Project, env: str, allow_dirty: bool) -> GitState:
    """The git state to record; refuses prod off ``main_branch``, or dirty unless allowed."""
    git = git_state(project.root, (project.sandbox_root, project.prod_path), fresh=True)
    if env != PROD:
        return git
    main = project.config.main_branch
    if git.commit is None:
        raise ProductionWriteError(
            f"production is built from the code on {main!r}, but {project.root} is not a git "
            "repository (or has no commit): commit the project first."
        )
    if git.branch != main:
        raise ProductionWriteError(
            f"refusing to build production from branch {git.branch or '(detached HEAD)'!r}: "
            f"production is built from {main!r}. Merge your change, check out {main!r}, and "
            "run again (or build a CI env: --env ci-<name>)."
        )
    if git.dirty and not allow_dirty:
        raise ProductionWriteError(
            "refusing to build production from a dirty tree (modified, staged or untracked "
            "files): commit or stash them, or pass --allow-dirty to build anyway and record "
            "the dirty flag."
        )
    return git


# --- one asset ------------------------------------------------------------------------------


def _build(
    package: Package,
    workspace: Workspace,
    store: Store,
    asset: ExportedAsset,
    git: GitState,
    report: MaterializeReport,
) -> str | None:
    """Build one asset and run its checks; the error text if the build failed."""
    started_at = now()
    source = f"{package.modules[asset.key]}:{asset.key} | {asset.source}"
    try:
        inputs = [_resolve(workspace, asset, dep) for dep in asset.deps]
        if asset.sql:
            arguments: dict[str, Any] = {i.key: workspace.table_path(i) for i in inputs}
        else:
            arguments = {i.key: workspace.read(i) for i in inputs}
        value = asset.function(**arguments)
        record = store.write(
            asset.key,
            value,
            asset.io or choose_io(value, None),
            code_version=asset.code_version,
            started_at=started_at,
            inputs={i.key: {"data_version": i.record.data_version, "env": i.record.env}
                    for i in inputs},
            source=source,
            commit=git.commit,
            dirty=git.dirty,
            user=current_user(),
        )  # fmt: skip
    except Exception as exc:
        error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        store.record_failure(
            Failure(
                key=asset.key, env=workspace.env, error=error, started_at=started_at,
                finished_at=now(), code_version=asset.code_version, source=source,
                user=current_user(),
            )
        )  # fmt: skip
        return error
    built = ResolvedInput(asset.key, record, workspace.env, store)
    results = _run_checks(package, workspace, asset, built)
    if results:
        store.catalog.record_checks(results, workspace.env)
    report.checks += results
    if any(result.blocking for result in results):
        report.check_failed.append(asset.key)
    return None


def _resolve(workspace: Workspace, asset: ExportedAsset, dep: str) -> ResolvedInput:
    resolved = workspace.resolve(dep)
    if resolved is None:
        where = "prod" if workspace.env == PROD else f"{workspace.env!r} or prod"
        raise DependencyError(
            f"asset {asset.key!r} reads {dep!r}, which has no version in {where}: build it "
            f"first (--select +{asset.key}) or load it into the store."
        )
    return resolved


def _run_checks(
    package: Package, workspace: Workspace, asset: ExportedAsset, target: ResolvedInput
) -> list[CheckResult]:
    """The asset's rules (over its Parquet file) and exported check functions, on one version."""
    record = target.record
    stamp = now()
    results: list[CheckResult] = []
    for text in asset.rules:
        results.append(_stamped(run_rule_on(workspace, target, parse_rule(text)), stamp))
    for check in package.checks_of(asset.key):
        inputs = {dep: target if dep == asset.key else workspace.resolve(dep) for dep in check.deps}
        missing = sorted(dep for dep, found in inputs.items() if found is None)
        if missing:
            results.append(
                CheckResult(record.key, check.name, check.severity, False, record.data_version,
                            error=f"input {missing[0]!r} has no version", checked_at=stamp)
            )  # fmt: skip
            continue
        values = {dep: workspace.read(found) for dep, found in inputs.items() if found is not None}
        result, _ = run_check(check, check.function, values, record.data_version)
        results.append(_stamped(result, stamp))
    return results


def _stamped(result: CheckResult, stamp: str) -> CheckResult:
    return replace(result, checked_at=stamp)


def _writable_store(project: Project, env: str, workspace: Workspace) -> Store:
    """The env's store for writing: production's only here, behind ``guard_production``."""
    if env == PROD:
        return Store(PROD, project.prod_path, writable=True)
    return workspace.writer()


def _progress(keys: list[str], enabled: bool) -> Iterable[str]:
    if not enabled:
        return keys
    from tqdm.auto import tqdm

    return tqdm(keys, desc="materialize", unit="asset")
