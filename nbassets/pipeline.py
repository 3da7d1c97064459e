"""Building and checking an env from the exported package (``nbassets materialize`` / ``check``).

Both ask the production policy first, then load the package and hand each asset to the
shared build operation (:mod:`nbassets.build`) or check runner (:mod:`nbassets.checks.runner`).
"""

from __future__ import annotations

from collections.abc import Iterable

from .batch import MaterializeReport, Progress, build_in_order
from .build import build
from .checks.runner import run_checks
from .config import Project
from .model import env_model, package_code
from .package import Package, load_package
from .policy import Overrides, WriteGrant, authorize, confirm_modules, project_modules
from .status import FRESH, MISSING, AssetStatus
from .store.results import CheckResult
from .store.workspace import Workspace

__all__ = ["MaterializeReport", "check_env", "dry_run", "materialize", "select"]

_MISSING_HINT = "build it first (--select +{key}), or store it with nbassets.save({dep!r}, value)"


def materialize(
    project: Project,
    env: str,
    selections: Iterable[str] = ("*",),
    allow_dirty: bool = False,
    progress: Progress | None = None,
    no_git: bool = False,
) -> MaterializeReport:
    """Build the selected assets of the package into ``env``, in dependency order.

    Downstream of a failed build or of a failed error-severity check is skipped.
    Production follows the production policy (:mod:`nbassets.policy`).
    """
    grant, package, workspace = _open(project, env, "materialize", allow_dirty, no_git)
    try:
        keys = select(package, workspace, selections)
        return build_in_order(
            env,
            keys,
            package.deps(),
            lambda key: build(workspace, package.task(key), grant, missing_hint=_MISSING_HINT),
            progress or None,
        )
    finally:
        workspace.close()


def dry_run(project: Project, env: str, selections: Iterable[str] = ("*",)) -> list[AssetStatus]:
    """What ``materialize`` would build in ``env``, in build order, each with its status now
    (why it would be rebuilt). Nothing is written, so no policy is asked: a dry run of
    production works from any tree."""
    package = load_package(project)
    workspace = Workspace(project, env)
    try:
        keys = select(package, workspace, selections)
        rows = {row.key: row for row in env_model(workspace, package_code(package)).rows}
        return [rows.get(key) or AssetStatus(key, MISSING, "never built") for key in keys]
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
        for key in select(package, workspace, selections):
            current = workspace.resolve(key)
            if current is not None:
                task = package.task(key)
                results += run_checks(workspace, current, task.rules, task.checks, grant).results
    finally:
        workspace.close()
    return results


def _open(
    project: Project, env: str, command: str, allow_dirty: bool, no_git: bool
) -> tuple[WriteGrant, Package, Workspace]:
    """Ask the production policy, then load the package (whose modules it must confirm)."""
    grant = authorize(project, env, command, Overrides.resolve(allow_dirty, no_git))
    package = load_package(project)
    grant = confirm_modules(project, grant, project_modules(project))
    return grant, package, Workspace(project, env)


def select(package: Package, workspace: Workspace, selections: Iterable[str]) -> list[str]:
    """Package assets named by ``key``, ``key+``, ``+key``, ``*`` or ``stale``, in build order."""
    graph = package.graph
    chosen: set[str] = set()
    for selection in selections:
        if selection == "stale":
            rows = env_model(workspace, package_code(package)).rows
            chosen |= {row.key for row in rows if row.key in package.assets and row.status != FRESH}
        else:
            chosen |= set(graph.select(selection))
    return [key for key in graph.order(chosen) if key in package.assets]
