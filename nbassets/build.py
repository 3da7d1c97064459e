"""One build of one asset, the same for a notebook, the CLI and Dagster.

:func:`build` resolves the asset's inputs and reads them back from their stores (always the
stored round trip), calls the asset's function, writes the value as a new version, records
the materialization (or the failure), runs the checks and returns one :class:`BuildOutcome`.
Edges only say where the function comes from (a notebook cell compiled in the kernel, an
exported module's function) and how the outcome is shown.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .checks.rules import Rule
from .checks.runner import CheckRun, CheckTask, run_checks
from .environments import PROD, current_user
from .errors import DependencyError
from .policy import WriteGrant
from .runtime import sql_engine
from .source import no_value_error
from .store.catalog import Failure, Materialization
from .store.serializers import choose_io
from .store.stores import now
from .store.workspace import KERNEL, SANDBOX, ResolvedInput, Workspace


@dataclass(frozen=True)
class BuildTask:
    """What to build: an asset's function and everything its declaration says."""

    key: str
    deps: tuple[str, ...]
    code_version: str
    function: Callable[..., Any]  # takes one keyword argument per dep
    source: str  # provenance: the notebook cell, or the module function and its cell
    io: str | None = None
    sql: bool = False  # inputs are handed over as the paths of their Parquet files
    rules: tuple[Rule, ...] = ()
    checks: tuple[CheckTask, ...] = ()
    code: str | None = None  # the function's source as exported, recorded for reviews


@dataclass(frozen=True)
class BuildOutcome:
    """What one build did: the version it stored, or the exception its code raised."""

    key: str
    inputs: tuple[ResolvedInput, ...] = ()
    record: Materialization | None = None
    value: Any = None
    seconds: float = 0.0
    error: BaseException | None = None
    checks: CheckRun = field(default_factory=CheckRun)

    @property
    def built(self) -> bool:
        return self.record is not None

    @property
    def error_text(self) -> str:
        """``Type: message`` of the build's exception (what the catalog records)."""
        return "" if self.error is None else describe_error(self.error)


def build(
    workspace: Workspace,
    task: BuildTask,
    grant: WriteGrant,
    kernel_versions: Mapping[str, Materialization] | None = None,
    missing_hint: str = "build it first, or store it with nbassets.save({dep!r}, value)",
) -> BuildOutcome:
    """Build ``task`` into the store ``grant`` allows, then run its checks.

    ``kernel_versions`` are the versions a kernel built (inputs prefer them). An exception
    from resolving inputs or from the asset's code, or a value of ``None`` (never stored), is
    recorded as a failed build and returned in the outcome; an interrupt
    (``KeyboardInterrupt``) is not a failure and propagates, leaving the previous state as
    it was.
    """
    store = workspace.writer(grant)
    started_at, start = now(), time.perf_counter()
    inputs: tuple[ResolvedInput, ...] = ()
    try:
        inputs = tuple(_resolve_inputs(workspace, task, kernel_versions, missing_hint))
        if task.sql:
            arguments = {i.key: str(workspace.table_path(i)) for i in inputs}
        else:
            arguments = {i.key: workspace.read(i) for i in inputs}
        with sql_engine(workspace.duckdb() if task.sql else None):
            value = task.function(**arguments)
        if value is None:  # a cell ending in print(...): refused, recorded as a failed build
            raise no_value_error(task.key)
        record = store.write(
            task.key,
            value,
            choose_io(value, task.io),
            code_version=task.code_version,
            started_at=started_at,
            inputs={i.key: {"data_version": i.record.data_version, "env": i.record.env}
                    for i in inputs},
            source=task.source,
            commit=grant.commit,
            dirty=grant.dirty,
            user=current_user(),
            code=task.code,
        )  # fmt: skip
    except Exception as exc:
        store.record_failure(
            Failure(
                key=task.key, env=grant.env, error=describe_error(exc), started_at=started_at,
                finished_at=now(), code_version=task.code_version, source=task.source,
                user=current_user(),
            )
        )  # fmt: skip
        return BuildOutcome(task.key, inputs, error=exc, seconds=time.perf_counter() - start)
    seconds = time.perf_counter() - start
    origin = KERNEL if kernel_versions is not None else _own_origin(workspace)
    built = ResolvedInput(task.key, record, origin, store)
    versions = {**(kernel_versions or {}), task.key: record}
    checks = run_checks(workspace, built, task.rules, task.checks, grant, versions)
    return BuildOutcome(task.key, inputs, record, value, seconds, None, checks)


def describe_error(exc: BaseException) -> str:
    """``Type: message``, as a failed build is recorded."""
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()


def _resolve_inputs(
    workspace: Workspace,
    task: BuildTask,
    kernel_versions: Mapping[str, Materialization] | None,
    hint: str,
) -> Iterable[ResolvedInput]:
    for dep in task.deps:
        resolved = workspace.resolve(dep, kernel_versions)
        if resolved is None:
            raise DependencyError(
                f"asset {task.key!r} reads {dep!r}, which has no version in "
                f"{_where(workspace, kernel_versions)}: {hint.format(dep=dep, key=task.key)}."
            )
        yield resolved


def _where(workspace: Workspace, kernel_versions: Mapping[str, Materialization] | None) -> str:
    if workspace.env == PROD:
        return "production"
    kernel = "this kernel, in " if kernel_versions is not None else ""
    return f"{kernel}env {workspace.env!r} or in production"


def _own_origin(workspace: Workspace) -> str:
    return PROD if workspace.env == PROD else SANDBOX
