"""One notebook's assets as they stand: the JSON the Assets panel shows, and their lineage.

The project's orphans (assets the stores hold that no notebook or module defines any more)
come apart, under ``orphaned``: they belong to no notebook, so no lineage shows them.

The cells are the notebook file's as saved, or the ones the caller passes (the panel sends
the editor's current sources, saved or not): one path, as :class:`~nbassets.notebookfile.Cell`
either way. Cells are only parsed, never run. The rest is read from the stores (the user's dev
sandbox over production), so it needs no kernel: a server, a CLI or a test can ask.

Unit tests (``%%test`` cells) show with the asset they test and under ``tests``, by cell: a
recorded result counts only for the code version it ran (the asset's code as the cells hold it
now); a test whose results are all for other code is ``not-run`` ("not run for this code").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .checks.cells import define_check
from .codebase import Code
from .config import Project
from .definitions import AssetDefinition, define_cells
from .environments import default_dev_env
from .errors import NbAssetsError
from .graph import AssetGraph
from .model import EnvModel, env_model
from .notebookfile import CHECK, Cell, parse_asset_cells, parse_test_cells, read_cells
from .status import ORPHANED, AssetStatus
from .store.catalog import Head
from .store.results import CheckResult, TestResult
from .store.workspace import Workspace
from .testcells import TestCell

NOT_RUN = "not-run"  # a test's state when no result is recorded for the asset's current code


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
        tests = UnitTests.read(
            workspace,
            project.relative(notebook),
            unit_test_cells(cells, set(definitions) | workspace.keys()),
            [row.key for row in shown],
            _test_code(code, current),
        )
        assets = [
            {
                **_asset(row, definitions.get(row.key), model, graph, workspace, check_names),
                "tests": tests.of_asset(row.key),
            }
            for row in shown
        ]
        orphaned = [_orphan(row) for row in model.rows if row.status == ORPHANED]
        return {
            "notebook": project.relative(notebook),
            "env": env,
            "assets": assets,
            "orphaned": orphaned,
            "tests": tests.of_cells(),
        }
    finally:
        workspace.close()


def cell_definitions(
    cells: Iterable[Cell], notebook: str, extra_keys: Iterable[str] = ()
) -> dict[str, AssetDefinition]:
    """The asset definitions of a notebook's cells (saved or as the editor holds them)."""
    return define_cells(((notebook, cell) for cell in parse_asset_cells(cells)), extra_keys)


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
        "check_results": [check_json(r) for r in results],
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


def check_json(result: CheckResult) -> dict[str, Any]:
    """A check result as the panel reads it."""
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
    return workspace.check_results(row.key, row.data_version, defined)


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


# --- unit tests ---------------------------------------------------------------------------------


def unit_test_cells(cells: Iterable[Cell], known: set[str]) -> list[tuple[str | None, TestCell]]:
    """The notebook's ``%%test`` cells (their ids and tests), in cell order, of the assets
    someone defines or stores (the kernel says why about the others when they run)."""
    return [(cell_id, test) for cell_id, test in parse_test_cells(cells) if test.asset in known]


def _test_code(code: Code, current: dict[str, Head]) -> dict[str, str]:
    """The code a test must have run for its result to count: the asset's code as the cells
    hold it, else (built since the file was saved, or defined elsewhere) its current version's."""
    versions = {key: head.code_version for key, head in current.items()}
    versions.update({key: version for key, version in code.code_versions.items() if version})
    return versions


class UnitTests:
    """The notebook's unit tests with their state for the current code of the assets they test.

    An asset's tests are the ones this notebook's cells declare, plus the ones another
    notebook's cells (or their exported pytest tests) recorded for its current code. A result
    of this notebook's cells (``source`` ``notebooks/x.ipynb :: key :: name``, in the kernel
    and in the exported tests alike) counts only while a cell still declares that test.
    """

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        notebook: str,
        cells: list[tuple[str | None, TestCell]],
        code: dict[str, str],
        recorded: dict[tuple[str, str, str], TestResult],
    ) -> None:
        self._notebook = notebook
        self._cells = cells
        self._code = code
        self._recorded = recorded
        self._ran = {(key, name) for key, name, _ in recorded}
        self._declared: dict[str, dict[str, str | None]] = {}
        self._versions: dict[tuple[str, str], str] = {}  # the declared test's own code
        for cell_id, test in cells:
            self._declared.setdefault(test.asset, {}).setdefault(test.name, cell_id)
            self._versions.setdefault((test.asset, test.name), test.version)

    @classmethod
    def read(
        cls,
        workspace: Workspace,
        notebook: str,
        cells: list[tuple[str | None, TestCell]],
        shown: Iterable[str],
        code: dict[str, str],
    ) -> UnitTests:
        """Results read once per store, of the keys shown and tested only: the env's own
        catalog over production's (for the same test and code, the env's result wins)."""
        keys = set(shown) | {test.asset for _, test in cells}
        recorded: dict[tuple[str, str, str], TestResult] = {}
        if keys:
            own = workspace.own
            stores = [own] if own is workspace.prod else [workspace.prod, own]
            for store in stores:
                for result in store.catalog.test_results(keys):
                    recorded[(result.key, result.name, result.code_version)] = result
        return cls(notebook, cells, code, recorded)

    def of_asset(self, key: str) -> list[dict[str, Any]]:
        """Each test of ``key``: the declared ones in cell order, then the others by name."""
        declared = self._declared.get(key, {})
        tests = [self._state(key, name, cell_id) for name, cell_id in declared.items()]
        code = self._code.get(key)
        elsewhere = sorted(
            result.name
            for (k, name, version), result in self._recorded.items()
            if k == key and version == code and name not in declared and not self._mine(result)
        )
        return tests + [self._state(key, name, None) for name in elsewhere]

    def of_cells(self) -> list[dict[str, Any]]:
        """Each ``%%test`` cell (with an id) and the state of its test, in cell order."""
        return [
            self._state(test.asset, test.name, cell_id)
            for cell_id, test in self._cells
            if cell_id is not None
        ]

    def _mine(self, result: TestResult) -> bool:
        """Recorded by a cell of this notebook (``notebooks/x.ipynb :: key :: name``)."""
        return (result.source or "").startswith(f"{self._notebook} ::")

    def _state(self, key: str, name: str, cell_id: str | None) -> dict[str, Any]:
        code = self._code.get(key)
        result = self._recorded.get((key, name, code)) if code else None
        state: dict[str, Any] = {"asset": key, "name": name, "cell_id": cell_id}
        declared = self._versions.get((key, name))
        if result is not None and declared and result.test_version not in ("", declared):
            message = "not run since the test was edited (its result is for its earlier code)"
            return {**state, "outcome": NOT_RUN, "message": message, "at": None, "env": None}
        if result is not None:
            return {
                **state,
                "outcome": result.outcome,
                "message": result.message,
                "at": result.at,
                "env": result.env,
            }
        if code is None:
            message = f"not run: {key!r} has no code yet (run its %%asset cell)"
        elif (key, name) in self._ran:
            message = "not run for this code (its results are for other code of the asset)"
        else:
            message = "never run"
        return {**state, "outcome": NOT_RUN, "message": message, "at": None, "env": None}
