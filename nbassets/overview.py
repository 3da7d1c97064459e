"""One notebook's assets as they stand: the JSON the Assets panel shows, and their lineage.

The project's orphans (assets the stores hold that no notebook or module defines any more)
come apart, under ``orphaned``: they belong to no notebook, so no lineage shows them.

The cells are the notebook file's as saved, or the ones the caller passes (the panel sends
the editor's current sources, saved or not): one path, as :class:`~nbassets.notebookfile.Cell`
either way. Cells are only parsed, never run. The rest is read from the stores (the user's dev
sandbox over production), so it needs no kernel: a server, a CLI or a test can ask.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .checks.cells import define_check
from .config import Project
from .definitions import AssetDefinition, define
from .environments import default_dev_env
from .errors import DependencyError, NbAssetsError, SpecError
from .graph import AssetGraph
from .model import Code, EnvModel, env_model
from .notebookfile import ASSET, CHECK, Cell, read_cells
from .spec import AssetSpec, parse_asset_line
from .status import ORPHANED, AssetStatus
from .store.catalog import Head
from .store.results import CheckResult
from .store.workspace import Workspace


def notebook_overview(
    project: Project,
    notebook: Path,
    env: str | None = None,
    cells: Sequence[Cell] | None = None,
) -> dict[str, Any]:
    """The assets a notebook defines (in cell order) and the ones it reads, with their state.

    ``cells``: the notebook's cells as the editor holds them now; ``None`` reads the file.
    """
    env = env or default_dev_env(project)
    live = cells is not None
    cells = read_cells(notebook) if cells is None else cells
    workspace = Workspace(project, env)
    try:
        definitions = cell_definitions(cells, project.relative(notebook), workspace.keys())
        check_names = _check_cells(cells, set(definitions) | workspace.keys())
        for key, definition in definitions.items():
            check_names.setdefault(key, set()).update(rule.name for rule in definition.spec.checks)
        code = Code.of_definitions("notebook", definitions, check_names)
        current = workspace.current()
        if not live:
            code = replace(code, code_versions=_code_versions(definitions, current, notebook))
        model = env_model(workspace, code, current=current)
        graph = AssetGraph(code.deps)
        read = {dep for d in definitions.values() for dep in d.deps} - set(definitions)
        shown = [row for row in model.rows if row.key in definitions or row.key in read]
        assets = [
            _asset(row, definitions.get(row.key), model, graph, workspace, check_names)
            for row in shown
        ]
        orphaned = [_orphan(row) for row in model.rows if row.status == ORPHANED]
        return {
            "notebook": project.relative(notebook),
            "env": env,
            "assets": assets,
            "orphaned": orphaned,
        }
    finally:
        workspace.close()


def cell_definitions(
    cells: Iterable[Cell], notebook: str, extra_keys: Iterable[str] = ()
) -> dict[str, AssetDefinition]:
    """The asset definitions of a notebook's cells; cells that do not parse are left out
    (the kernel reports them when they run). The first cell that defines a key wins."""
    parsed: list[tuple[AssetSpec, str, str | None]] = []
    for cell in cells:
        kind = cell.parsed
        if kind.kind != ASSET:
            continue
        try:
            parsed.append((parse_asset_line(kind.line), kind.body, cell.cell_id))
        except SpecError:
            continue
    known = {spec.key for spec, _, _ in parsed} | set(extra_keys)
    definitions: dict[str, AssetDefinition] = {}
    for spec, body, cell_id in parsed:
        if spec.key in definitions:
            continue
        try:
            definitions[spec.key] = define(spec, body, known, notebook=notebook, cell_id=cell_id)
        except (SpecError, DependencyError):
            continue
    return definitions


def _code_versions(
    definitions: dict[str, AssetDefinition], current: dict[str, Head], notebook: Path
) -> dict[str, str | None]:
    """The code of each asset as the notebook file holds it now.

    A version built after the file was last saved was built from code the file does not
    show yet (edited and run, not saved): it is not "code changed", so its code is taken
    as unknown here, as the kernel that built it knows best.
    """
    saved_at = datetime.fromtimestamp(notebook.stat().st_mtime, UTC).isoformat()
    versions: dict[str, str | None] = {}
    for key, definition in definitions.items():
        head = current.get(key)
        built_since_save = head is not None and head.finished_at > saved_at
        versions[key] = None if built_since_save else definition.code_version
    return versions


def notebook_lineage(
    project: Project,
    notebook: Path,
    env: str | None = None,
    cells: Sequence[Cell] | None = None,
) -> dict[str, Any]:
    """Nodes (with status) and edges (with where the input was read from) of a notebook's assets."""
    overview = notebook_overview(project, notebook, env, cells)
    nodes = [
        {"key": a["key"], "status": a["status"], "label": a["label"], "defined": a["defined"]}
        for a in overview["assets"]
    ]
    edges = [
        {"upstream": i["key"], "downstream": a["key"], "origin": i["origin"]}
        for a in overview["assets"]
        for i in a["inputs"]
    ]
    return {
        "notebook": overview["notebook"],
        "env": overview["env"],
        "nodes": nodes,
        "edges": edges,
    }


def _asset(
    row: AssetStatus,
    definition: AssetDefinition | None,
    model: EnvModel,
    graph: AssetGraph,
    workspace: Workspace,
    check_names: dict[str, set[str]],
) -> dict[str, Any]:
    deps = definition.deps if definition else ()
    results = _results(workspace, row, check_names.get(row.key))
    return {
        "key": row.key,
        "defined": definition is not None,
        "cell_id": definition.cell_id if definition else None,
        "deps": list(deps),
        "downstream": sorted(graph.downstream.get(row.key, [])),
        "checks": sorted(check_names.get(row.key, ())),
        **_version_fields(row),
        "error": row.error,
        "inputs": [_input(dep, row.key, model) for dep in deps],
        "check_results": [_result(r) for r in results],
        "prod": _prod(model.prod.get(row.key), definition),
    }


def _orphan(row: AssetStatus) -> dict[str, Any]:
    """An asset the stores hold that no notebook or module of the project defines any more."""
    return {"key": row.key, **_version_fields(row), "source": row.source}


def _version_fields(row: AssetStatus) -> dict[str, Any]:
    """A row's status and current version, as the panel reads them."""
    return {
        "status": row.status,
        "reason": row.reason,
        "label": row.label,
        "env": row.env,
        "data_version": row.data_version,
        "code_version": row.code_version,
        "rows": row.rows,
        "built_at": row.built_at,
        "commit": row.commit,
    }


def _input(dep: str, key: str, model: EnvModel) -> dict[str, Any]:
    """An input as the current version read it: from prod, the sandbox or another env."""
    head = model.current.get(key)
    read = head.inputs.get(dep) if head else None
    if read is None:
        return {"key": dep, "origin": "", "data_version": None}
    return {"key": dep, "origin": model.origin(key, dep), "data_version": read["data_version"]}


def _result(result: CheckResult) -> dict[str, Any]:
    return {
        "name": result.name,
        "severity": result.severity,
        "outcome": result.outcome,
        "message": result.error or result.message,
        "failing_rows": result.failing_rows,
    }


def _prod(head: Head | None, definition: AssetDefinition | None) -> dict[str, Any] | None:
    """Production's version, and whether it was built from the code the notebook has now
    (``None`` for an asset the notebook does not define)."""
    if head is None:
        return None
    same = None if definition is None else head.code_version == definition.code_version
    return {
        "data_version": head.data_version,
        "built_at": head.finished_at,
        "commit": head.commit,
        "same_code": same,
    }


def _results(workspace: Workspace, row: AssetStatus, defined: set[str] | None) -> list[CheckResult]:
    if row.data_version is None:
        return []
    found: dict[str, CheckResult] = {}
    stores = [workspace.own] if workspace.own is workspace.prod else [workspace.prod, workspace.own]
    for store in stores:
        for result in store.catalog.check_results(row.key, row.data_version):
            if defined is None or result.name in defined:
                found[result.name] = result
    return list(found.values())


def _check_cells(cells: Iterable[Cell], known: set[str]) -> dict[str, set[str]]:
    """Check names of the notebook's ``%%check`` cells, by asset (unparsable cells left out)."""
    names: dict[str, set[str]] = {}
    for cell in cells:
        if cell.parsed.kind != CHECK:
            continue
        try:
            check = define_check(cell.parsed.line, cell.parsed.body, known)
        except NbAssetsError:
            continue
        names.setdefault(check.asset, set()).add(check.name)
    return names
