"""The one check runner: an asset version's rules and check functions, run and recorded.

Notebook ``%%check`` cells, exported check functions and ``--check`` rules all run here,
for the kernel, the CLI and Dagster alike. Rules run in DuckDB over the version's Parquet
file through the workspace's shared connection; check functions get their inputs as the
stored round trip. Results go to the catalog of the store the grant allows writing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..environments import PROD
from ..errors import DependencyError, NbAssetsError, did_you_mean
from ..policy import WriteGrant
from ..store.catalog import Materialization
from ..store.results import CheckResult
from ..store.stores import now
from ..store.workspace import ResolvedInput, Workspace
from .cells import run_check
from .rules import Rule, RuleCannotRun, run_rule


@dataclass(frozen=True)
class CheckTask:
    """A check function of one asset, wherever it was defined (notebook cell or module)."""

    asset: str
    name: str
    severity: str
    deps: tuple[str, ...]  # the inputs ``function`` takes by keyword, the asset's own first
    function: Callable[..., Any]


@dataclass(frozen=True)
class CheckRun:
    """The results of one run of checks, and the first unrelated exception a check raised."""

    results: tuple[CheckResult, ...] = ()
    raised: BaseException | None = None

    @property
    def blocking(self) -> tuple[CheckResult, ...]:
        """The failed (or broken) error-severity checks: the asset is check-failed."""
        return tuple(result for result in self.results if result.blocking)


def run_checks(
    workspace: Workspace,
    target: ResolvedInput,
    rules: Iterable[Rule],
    checks: Iterable[CheckTask],
    grant: WriteGrant,
    kernel_versions: Mapping[str, Materialization] | None = None,
) -> CheckRun:
    """Run every given check of ``target`` (one version), record the results, return them.

    A check whose input has no version is a broken check (an error result), as is one that
    raises something other than a failed assertion; the first such exception is returned
    too, so an edge can re-raise it with its traceback.
    """
    results: list[CheckResult] = []
    raised: BaseException | None = None
    for rule in rules:
        results.append(run_rule_on(workspace, target, rule, kernel_versions))
    for check in checks:
        result, error = _run_check_task(workspace, target, check, kernel_versions)
        results.append(result)
        raised = raised or error
    stamp = now()
    stamped = tuple(replace(r, checked_at=stamp) for r in results)
    if stamped:
        workspace.writer(grant).catalog.record_checks(stamped, grant.env)
    return CheckRun(stamped, raised)


def run_rule_on(
    workspace: Workspace,
    target: ResolvedInput,
    rule: Rule,
    kernel_versions: Mapping[str, Materialization] | None = None,
) -> CheckResult:
    """Run one rule on the Parquet file of ``target``; a non-table is an error result."""

    def other_table(key: str) -> Path:
        other = workspace.resolve(key, kernel_versions)
        if other is None:
            where = f"env {workspace.env!r}" + (" or in prod" if workspace.env != PROD else "")
            known = workspace.keys() | set(kernel_versions or ())
            raise RuleCannotRun(
                f"asset {key!r} has no version in {where} to compare with: build it first."
                + did_you_mean(key, known)
            )
        try:
            return workspace.table_path(other)
        except NbAssetsError as exc:
            raise RuleCannotRun(str(exc)) from None

    record = target.record
    try:
        table = workspace.table_path(target)
    except NbAssetsError as exc:
        return CheckResult(record.key, rule.name, rule.severity, False, record.data_version,
                           error=str(exc))  # fmt: skip
    return run_rule(
        rule, record.key, record.data_version, table, record.schema, other_table,
        engine=workspace.duckdb(), history=lambda window: earlier_rows(target, window),
    )  # fmt: skip


def earlier_rows(target: ResolvedInput, window: int) -> tuple[list[int], str]:
    """The row counts ``volume`` compares ``target`` with, read from its own store's catalog.

    An unpartitioned version: the ``window`` versions of its key recorded before it. A
    partition: the latest version of the ``window`` other partitions nearest to it in
    partition order (the earlier one first on a tie). Versions without a count are skipped.
    """
    record, catalog = target.record, target.store.catalog
    if not record.partition:
        earlier = [
            m.rows
            for m in catalog.history(record.key, window + 1)
            if (m.id < record.id if m.id is not None and record.id is not None
                else m.data_version != record.data_version)
        ]  # fmt: skip
        return [n for n in earlier if n is not None][:window], "earlier version"
    heads = catalog.partition_heads([record.key]).get(record.key, {})
    names = sorted({*heads, record.partition})
    at = names.index(record.partition)
    nearest = sorted((abs(i - at), i) for i in range(len(names)) if i != at)[:window]
    peers = [heads[names[i]].rows for _, i in nearest]
    return [n for n in peers if n is not None], "other partition"


def _run_check_task(
    workspace: Workspace,
    target: ResolvedInput,
    check: CheckTask,
    kernel_versions: Mapping[str, Materialization] | None,
) -> tuple[CheckResult, BaseException | None]:
    arguments: dict[str, Any] = {}
    for dep in check.deps:
        resolved = target if dep == check.asset else workspace.resolve(dep, kernel_versions)
        if resolved is None:
            error = DependencyError(
                f"check {check.name!r} of {check.asset!r} reads {dep!r}, which has no version"
            )
            return _broken(check, target, error), error
        try:
            arguments[dep] = workspace.read(resolved)
        except NbAssetsError as exc:
            return _broken(check, target, exc), exc
    return run_check(check, check.function, arguments, target.record.data_version)


def _broken(check: CheckTask, target: ResolvedInput, error: Exception) -> CheckResult:
    return CheckResult(check.asset, check.name, check.severity, False, target.record.data_version,
                       error=str(error))  # fmt: skip
