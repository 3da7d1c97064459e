"""A kernel's nbassets state: its env, the asset cells it ran, and how one cell is built.

Free of IPython: the magics hand it the cell text, the user namespace and a
filename for tracebacks, and display what it returns.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .batch import MaterializeReport, build_in_order
from .build import BuildOutcome, BuildTask, build
from .checks.cells import CheckCell, define_check
from .checks.runner import CheckRun, CheckTask, run_checks
from .config import Project
from .definitions import AssetDefinition, check_acyclic, define, notebook_definitions
from .diff import DataDiff, diff_tables
from .environments import PROD, default_dev_env, sandbox_path, validate_env_name
from .errors import DependencyError, NbAssetsError, ProductionWriteError, did_you_mean
from .graph import AssetGraph
from .notebookfile import asset_cells
from .policy import KERNEL as KERNEL_COMMAND
from .policy import authorize
from .render.lineage import Lineage, LineageEdge, LineageNode
from .runtime import sql_asset
from .source import compile_function
from .spec import AssetSpec, join_continued_lines, parse_asset_line
from .status import FRESH, AssetStatus, in_definition_order
from .store.catalog import Materialization
from .store.results import CheckResult
from .store.workspace import KERNEL, ResolvedInput, Workspace

AUTO_DIFF_ROWS = 100_000  # the preview diffs row by row against production up to this size
_MISSING_HINT = "run the cell of {dep!r} first (or `%materialize +{key}`)"


@dataclass(frozen=True)
class BuildResult:
    """A successful build: its record, the inputs it read, the value, and how long it took."""

    record: Materialization
    inputs: tuple[ResolvedInput, ...]
    value: Any
    seconds: float
    spec: AssetSpec
    downstream: tuple[str, ...] = ()
    checks: tuple[CheckResult, ...] = ()
    check_error: BaseException | None = None  # a check cell raised something unrelated
    diff_summary: str | None = None  # against production, when it has the asset


@dataclass
class Session:
    """The state of nbassets in one kernel."""

    project: Project
    namespace: MutableMapping[str, Any]
    env: str = ""
    cells: dict[str, AssetDefinition] = field(default_factory=dict)
    check_cells: dict[str, dict[str, CheckCell]] = field(default_factory=dict)  # asset -> name
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
        """Parse and analyze an ``%%asset`` cell without running it."""
        line, body = join_continued_lines(line, body)
        spec = parse_asset_line(line)
        notebook, cell_id = self._source(spec.key)
        definition = define(spec, body, self.known_keys(), notebook=notebook, cell_id=cell_id)
        check_acyclic({**self.definitions(), spec.key: definition})
        return definition

    def run_cell(self, line: str, body: str, filename: str = "<asset>") -> BuildResult:
        """Declare, register and build one ``%%asset`` cell."""
        definition = self.declare(line, body)
        self.cells[definition.key] = definition
        self.run_at[definition.key] = time.time()
        return self.build(definition, filename)

    def build(self, definition: AssetDefinition, filename: str = "<asset>") -> BuildResult:
        """Run ``definition`` on its resolved inputs and store the value in the sandbox.

        The user's exception propagates with its traceback once its failure is recorded.
        """
        outcome = self._build(definition, filename)
        if outcome.error is not None:
            raise outcome.error
        assert outcome.record is not None
        built = ResolvedInput(definition.key, outcome.record, KERNEL, self.workspace.own)
        downstream = AssetGraph({k: d.deps for k, d in self.definitions().items()}).downstream
        return BuildResult(
            outcome.record,
            outcome.inputs,
            outcome.value,
            outcome.seconds,
            definition.spec,
            tuple(sorted(downstream.get(definition.key, ()))),
            outcome.checks.results,
            outcome.checks.raised,
            self._versus_prod(built, definition.spec.key_columns),
        )

    def _build(self, definition: AssetDefinition, filename: str) -> BuildOutcome:
        """The shared build operation, on this kernel's cell; binds the value when it built."""
        grant = authorize(self.project, self.env, KERNEL_COMMAND)  # asked again on every build
        outcome = build(
            self.workspace, self._task(definition, filename), grant, self.built, _MISSING_HINT
        )
        if outcome.record is not None:
            self.built[definition.key] = outcome.record
            self.namespace[definition.key] = outcome.value
        return outcome

    def _task(self, definition: AssetDefinition, filename: str) -> BuildTask:
        """A cell as the build operation runs it: its body compiled as a function."""
        if definition.spec.sql:
            function: Callable[..., Any] = functools.partial(
                sql_asset, definition.key, definition.body
            )
        else:
            function = compile_function(
                definition.key, definition.body, definition.deps, filename, self.namespace
            )
        return BuildTask(
            key=definition.key,
            deps=definition.deps,
            code_version=definition.code_version,
            function=function,
            source=_source_text(definition),
            io=definition.spec.io,
            sql=definition.spec.sql,
            rules=definition.spec.checks,
            checks=tuple(map(self._check_task, self.check_cells.get(definition.key, {}).values())),
        )

    def _check_task(self, cell: CheckCell, filename: str | None = None) -> CheckTask:
        function = compile_function(
            cell.asset, cell.body, cell.deps, filename or f"<check {cell.name}>", self.namespace,
            cell.function_name,
        )  # fmt: skip
        return CheckTask(cell.asset, cell.name, cell.severity, cell.deps, function)

    def _versus_prod(self, built: ResolvedInput, key_columns: tuple[str, ...]) -> str | None:
        """One line on how a build differs from production's version, at a bounded cost.

        Row by row (on the key) for tables up to ``AUTO_DIFF_ROWS``; beyond that, row
        counts only (``%diff`` gives the full diff).
        """
        prod = self.workspace.prod.catalog.latest_of(built.key)
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
        prod_input = ResolvedInput(built.key, prod, PROD, self.workspace.prod)
        try:
            return diff_tables(
                self.workspace.table_path(prod_input),
                self.workspace.table_path(built),
                key=key_columns,
            ).summary_line()
        except NbAssetsError as exc:
            return f"vs prod: no diff ({exc})"

    # checks
    def _check(self, definition: AssetDefinition | None, target: ResolvedInput) -> CheckRun:
        rules = definition.spec.checks if definition is not None else ()
        cells = self.check_cells.get(target.key, {}).values()
        grant = authorize(self.project, self.env, KERNEL_COMMAND)
        tasks = [self._check_task(cell) for cell in cells]
        return run_checks(self.workspace, target, rules, tasks, grant, self.built)

    def run_check_cell(self, line: str, body: str, filename: str = "<check>") -> CheckRun:
        """Declare and register a ``%%check`` cell, then run it on its asset's current version."""
        cell = define_check(*join_continued_lines(line, body), self.known_keys())
        self.check_cells.setdefault(cell.asset, {})[cell.name] = cell
        target = self._current(cell.asset)
        grant = authorize(self.project, self.env, KERNEL_COMMAND)
        task = self._check_task(cell, filename)
        return run_checks(self.workspace, target, (), [task], grant, self.built)

    def recheck(self, key: str) -> CheckRun:
        """``%check NAME``: run NAME's checks again on its current version, without a rebuild."""
        target = self._current(key)
        return self._check(self.definitions().get(key), target)

    def _current(self, key: str) -> ResolvedInput:
        resolved = self.workspace.resolve(key, self.built)
        if resolved is None:
            known = self.known_keys()
            hint = did_you_mean(key, known) if key not in known else ""
            raise DependencyError(
                f"asset {key!r} has no version in this kernel, in sandbox {self.env!r} or in "
                f"prod to check.{hint} Build it first."
            )
        return resolved

    # comparing and drawing
    def diff(self, key: str, against: str = PROD, key_columns: tuple[str, ...] = ()) -> DataDiff:
        """``%diff``: the current version of ``key`` against the latest one in ``against``."""
        new = self._current(key)
        other = self.workspace.other_env(against)
        old = other.catalog.latest_of(key)
        if old is None:
            raise DependencyError(
                f"asset {key!r} has no version in env {against!r} to compare with; "
                "pass another env with --against."
            )
        definition = self.definitions().get(key)
        columns = key_columns or (definition.spec.key_columns if definition else ())
        old_input = ResolvedInput(key, old, against, other)
        return diff_tables(
            self.workspace.table_path(old_input),
            self.workspace.table_path(new),
            key=columns,
            old_label=against,
            new_label=f"{new.origin} {new.record.env}",
        )

    def lineage(self, focus: str | None = None) -> Lineage:
        """``%lineage``: every asset known, coloured by status; inputs labelled by origin."""
        rows = self.statuses()
        current = self.workspace.current(self.built)
        definitions = self.definitions()
        nodes = [LineageNode(row.key, row.status, row.label) for row in rows]
        edges = []
        for row in rows:
            head = current.get(row.key)
            ups = (
                definitions[row.key].deps
                if row.key in definitions
                else (head.inputs if head else ())
            )
            for up in ups:
                read = head.inputs.get(up) if head else None
                origin = "" if read is None else _origin(read["env"], self.env)
                edges.append(LineageEdge(up, row.key, origin))
        return Lineage(nodes, edges, focus)

    def check_names(self) -> dict[str, set[str]]:
        """The checks each defined asset has now: its rules and the check cells run here."""
        names = {
            key: {rule.name for rule in d.spec.checks} for key, d in self.definitions().items()
        }
        for asset, cells in self.check_cells.items():
            names.setdefault(asset, set()).update(cells)
        return names

    # status and selection
    def statuses(self) -> list[AssetStatus]:
        """A status row for every asset known to the project from here."""
        definitions = self.definitions()
        rows = self.workspace.statuses(
            {key: d.code_version for key, d in definitions.items()},
            {key: d.deps for key, d in definitions.items()},
            self.built,
            self.check_names(),
        )
        return in_definition_order(rows, definitions)

    def prod_notes(self) -> dict[str, str]:
        """For each defined asset production has: is prod built from this code?"""
        heads = self.workspace.prod.catalog.heads() if self.env != PROD else {}
        notes = {}
        for key, definition in self.definitions().items():
            head = heads.get(key)
            if head is None:
                continue
            if head.code_version == definition.code_version:
                notes[key] = "built from this code"
            else:
                commit = f": commit {head.commit[:7]}" if head.commit else ""
                notes[key] = f"built from other code{commit}"
        return notes

    def select(self, selection: str | None, stale: bool) -> list[str]:
        """The kernel's asset cells a ``%materialize`` selection names, in build order."""
        graph = AssetGraph({key: d.deps for key, d in self.cells.items()})
        if not self.cells:
            raise NbAssetsError(
                "no asset cells have run in this kernel yet: run an %%asset cell first; "
                "%materialize re-runs the asset cells of this kernel."
            )
        chosen = graph.select(selection) if selection else graph.order()
        chosen = [key for key in chosen if key in self.cells]
        if stale:
            status = {row.key: row.status for row in self.statuses()}
            chosen = [key for key in chosen if status.get(key) != FRESH]
        return chosen

    def materialize(
        self,
        keys: list[str],
        filename: Callable[[AssetDefinition], str] = lambda d: f"<asset {d.key}>",
        progress: bool = True,
    ) -> MaterializeReport:
        """``%materialize``: build this kernel's cells ``keys`` in order, as the CLI does.

        Downstream of a failed build or of a failed error-severity check is skipped.
        """
        deps = {key: d.deps for key, d in self.cells.items()}
        return build_in_order(
            self.env,
            keys,
            deps,
            lambda key: self._build(self.cells[key], filename(self.cells[key])),
            progress,
        )

    def summary(self) -> dict[str, Any]:
        """What ``%nbassets`` prints: project, env, stores and counts."""
        rows = self.statuses()
        counts: dict[str, int] = {}
        for row in rows:
            counts[row.status] = counts.get(row.status, 0) + 1
        notebook = self.notebook_path()
        return {
            "project": str(self.project.root),
            "env": self.env,
            "sandbox": str(self.workspace.own.root),
            "prod": f"{self.project.prod_path} (read-only)",
            "notebook": self.project.relative(notebook) if notebook else None,
            "assets": len(rows),
            "cells run": len(self.cells),
            "status": counts,
        }


def _origin(read_from: str, env: str) -> str:
    """``prod``, ``sandbox`` (this env) or the other env's name."""
    return "sandbox" if read_from == env else read_from


def _source_text(definition: AssetDefinition) -> str:
    """``notebooks/x.ipynb#<cell id>``, or ``<notebook>::<key>`` when the cell id is unknown."""
    notebook = definition.notebook or "<kernel>"
    if definition.cell_id:
        return f"{notebook}#{definition.cell_id}"
    return f"{notebook}::{definition.key}"
