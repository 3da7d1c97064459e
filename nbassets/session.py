"""A kernel's nbassets state: its env, the cells it ran, the versions it built, its notebook.

Only state and what is read from it (the definitions the kernel knows). Building and
checking cells live in :mod:`nbassets.kernel_build`, what a kernel shows in
:mod:`nbassets.kernel_views`. Free of IPython: the magics hand over the cell text and
the user namespace.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .checks.cells import CheckCell
from .codebase import Code
from .config import Project
from .definitions import (
    AssetDefinition,
    check_acyclic,
    check_acyclic_through,
    define,
    notebook_definitions,
)
from .environments import PROD, default_dev_env, sandbox_path, validate_env_name
from .errors import ProductionWriteError
from .notebookfile import ASSET, asset_cells, magic_cell, parse_test_cells, read_cells
from .spec import parse_asset_line
from .store.catalog import Materialization
from .store.workspace import Workspace
from .testcells import TestCell


@dataclass
class Session:
    """The state of nbassets in one kernel."""

    project: Project
    namespace: MutableMapping[str, Any]
    env: str = ""
    cells: dict[str, AssetDefinition] = field(default_factory=dict)
    check_cells: dict[str, dict[str, CheckCell]] = field(default_factory=dict)  # asset -> name
    test_cells: dict[str, dict[str, TestCell]] = field(default_factory=dict)  # asset -> name
    built: dict[str, Materialization] = field(default_factory=dict)
    run_at: dict[str, float] = field(default_factory=dict)  # time.time() of each cell's last run
    cell_id: str | None = None  # of the cell running now, from IPython's pre_run_cell
    _workspace: Workspace | None = None

    def __post_init__(self) -> None:
        self.env = validate_env_name(self.env or default_dev_env(self.project))

    # environment
    @property
    def workspace(self) -> Workspace:
        if self._workspace is None or self._workspace.env != self.env:
            if self._workspace is not None:
                self._workspace.close()
            self._workspace = Workspace(self.project, self.env)
        return self._workspace

    def switch_env(self, name: str) -> None:
        """Build into sandbox ``name`` from now on; production is refused."""
        if name == PROD:
            raise ProductionWriteError(
                "a notebook kernel cannot switch to 'prod': production is built from the code "
                "on main by `nbassets materialize --env prod`; pick a sandbox name instead "
                "(e.g. %nbassets env dev-alice-experiment)."
            )
        sandbox_path(self.project, validate_env_name(name))  # refuses paths into prod
        self.env = name

    def close(self) -> None:
        if self._workspace is not None:
            self._workspace.close()

    def drop(self, key: str) -> None:
        """Forget what this kernel holds of ``key``: its cell, its checks and tests, its build,
        and the value the build bound in the notebook (``%forget``)."""
        self.cells.pop(key, None)
        self.run_at.pop(key, None)
        self.check_cells.pop(key, None)
        self.test_cells.pop(key, None)
        if self.built.pop(key, None) is not None:
            self.namespace.pop(key, None)

    # notebook context
    def notebook_path(self) -> Path | None:
        """The notebook this kernel runs, as Jupyter or VS Code tell it, when it exists."""
        for name in ("__session__", "__vsc_ipynb_file__"):
            value = self.namespace.get(name)
            if isinstance(value, str) and value.endswith(".ipynb"):
                for candidate in (Path(value), self.project.root / value, Path.cwd() / value):
                    if candidate.is_file():
                        return candidate.resolve()
        return None

    def _source(self, key: str) -> tuple[str | None, str | None]:
        """``(notebook relative path, cell id)`` of the cell that defines ``key``."""
        notebook = self.notebook_path()
        cell_id = self.cell_id
        if notebook is not None and cell_id is None:
            cell_id = next((c.cell_id for c in asset_cells(notebook) if c.spec.key == key), None)
        return (self.project.relative(notebook) if notebook else None), cell_id

    def file_definitions(self) -> dict[str, AssetDefinition]:
        notebook = self.notebook_path()
        if notebook is None:
            return {}
        return notebook_definitions([notebook], self.project, self.known_keys(files=False))

    def file_tests(self) -> dict[str, dict[str, TestCell]]:
        """The notebook file's ``%%test`` cells, by asset then name; a cell whose line does not
        parse is left out (the kernel reports it when the cell runs)."""
        notebook = self.notebook_path()
        tests: dict[str, dict[str, TestCell]] = {}
        for _, test in parse_test_cells(read_cells(notebook)) if notebook is not None else []:
            tests.setdefault(test.asset, {})[test.name] = test
        return tests

    def tests(self) -> dict[str, dict[str, TestCell]]:
        """Each asset's tests: the ``%%test`` cells run here, else its notebook file's."""
        return {**self.file_tests(), **self.test_cells}

    def known_keys(self, files: bool = True) -> set[str]:
        """Asset keys of this kernel's cells, the notebook file, the sandbox and prod."""
        keys = set(self.cells) | self.workspace.keys()
        notebook = self.notebook_path() if files else None
        if notebook is not None:
            keys |= {cell.spec.key for cell in asset_cells(notebook)}
        return keys

    def definitions(self) -> dict[str, AssetDefinition]:
        """Every asset definition known: the notebook file's and the cells run here.

        A cell run here wins over the file's version of it, unless the file was
        saved after the run with other code (the user edited and saved, but did
        not run it): then the saved code is the asset's code.
        """
        merged = self.file_definitions()
        notebook = self.notebook_path()
        saved_at = notebook.stat().st_mtime if notebook is not None else 0.0
        for key, definition in self.cells.items():
            on_disk = merged.get(key)
            saved_newer_code = (
                on_disk is not None
                and saved_at > self.run_at.get(key, 0.0)
                and on_disk.code_version != definition.code_version
            )
            if not saved_newer_code:
                merged[key] = definition
        return merged

    # building
    def declare(self, line: str, body: str) -> AssetDefinition:
        """Parse and analyze an ``%%asset`` cell without running it.

        A cycle is refused: among the definitions known here, and through the lineage the
        stores record for keys that no definition here defines (a fresh kernel's case).
        """
        cell = magic_cell(ASSET, line, body)
        spec = parse_asset_line(cell.line)
        notebook, cell_id = self._source(spec.key)
        definition = define(spec, cell.body, self.known_keys(), notebook=notebook, cell_id=cell_id)
        definitions = {**self.definitions(), spec.key: definition}
        check_acyclic(definitions)
        check_acyclic_through(spec.key, definitions, self._recorded_lineage)
        return definition

    def _recorded_lineage(self, key: str) -> tuple[str, ...]:
        """A stored key's upstreams: what its current version (sandbox, else prod) read."""
        resolved = self.workspace.resolve(key)
        return tuple(resolved.record.inputs) if resolved is not None else ()

    def check_names(
        self, definitions: Mapping[str, AssetDefinition] | None = None
    ) -> dict[str, set[str]]:
        """The checks each defined asset has now: its rules and the check cells run here."""
        definitions = self.definitions() if definitions is None else definitions
        names = {key: {rule.name for rule in d.spec.checks} for key, d in definitions.items()}
        for asset, cells in self.check_cells.items():
            names.setdefault(asset, set()).update(cells)
        return names

    def code(self) -> Code:
        """What this kernel's code defines: the notebook file's cells and the cells run here."""
        definitions = self.definitions()
        return Code.of_definitions("kernel", definitions, self.check_names(definitions))
