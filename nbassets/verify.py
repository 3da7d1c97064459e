"""Running the checks of one asset version (rules and ``%%check`` cells), and recording them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, MutableMapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from .catalog import Materialization
from .checkresult import CheckResult
from .checks import CheckCell, run_check
from .errors import DependencyError, NbAssetsError
from .rules import Rule, run_rule
from .source import compile_function
from .stores import now
from .workspace import ResolvedInput, Workspace


class CheckFailed(NbAssetsError):
    """An error-severity check failed: shown, then raised so that Run All stops."""

    def __init__(self, results: Iterable[CheckResult]) -> None:
        self.results = [r for r in results if r.blocking]
        names = ", ".join(
            f"{r.key}: {r.name}" + (f" ({r.error or r.message})" if r.error or r.message else "")
            for r in self.results
        )
        super().__init__(
            f"{len(self.results)} error-severity check(s) failed: {names}. The asset is "
            "check-failed until its data or the check changes; severity='warn' only warns."
        )


def run_checks(
    workspace: Workspace,
    target: ResolvedInput,
    rules: Iterable[Rule],
    cells: Iterable[CheckCell],
    namespace: MutableMapping[str, Any],
    built: Mapping[str, Materialization],
    filename: Callable[[CheckCell], str] = lambda cell: f"<check {cell.name}>",
) -> tuple[list[CheckResult], BaseException | None]:
    """Run every check of ``target`` (one version), record the results, return them.

    Also returns the first exception a check cell raised that was not a failed
    assertion, so the caller can re-raise it with its traceback.
    """
    results: list[CheckResult] = []
    raised: BaseException | None = None
    for rule in rules:
        results.append(run_rule_on(workspace, target, rule, built))
    for cell in cells:
        result, error = _run_cell(workspace, target, cell, namespace, built, filename(cell))
        results.append(result)
        raised = raised or error
    stamp = now()
    results = [replace(r, checked_at=stamp) for r in results]
    if results:
        workspace.record_checks(results)
    return results, raised


def run_rule_on(
    workspace: Workspace,
    target: ResolvedInput,
    rule: Rule,
    built: Mapping[str, Materialization] | None = None,
) -> CheckResult:
    """Run one rule on the Parquet file of ``target``; a non-table is an error result."""

    def other_table(key: str) -> Path:
        other = workspace.resolve(key, built)
        if other is None:
            raise DependencyError(f"relationship: asset {key!r} has no version to compare with")
        return workspace.table_path(other)

    record = target.record
    try:
        table = workspace.table_path(target)
    except NbAssetsError as exc:
        return CheckResult(record.key, rule.name, rule.severity, False, record.data_version,
                           error=str(exc))  # fmt: skip
    return run_rule(
        rule, record.key, record.data_version, table, record.schema, other_table,
        engine=workspace.duckdb(),
    )  # fmt: skip


def _run_cell(
    workspace: Workspace,
    target: ResolvedInput,
    cell: CheckCell,
    namespace: MutableMapping[str, Any],
    built: Mapping[str, Materialization],
    filename: str,
) -> tuple[CheckResult, BaseException | None]:
    arguments: dict[str, Any] = {}
    for dep in cell.deps:
        resolved = target if dep == cell.asset else workspace.resolve(dep, built)
        if resolved is None:
            error = DependencyError(f"check {cell.name!r} reads {dep!r}, which has no version")
            return _broken(cell, target, error), error
        arguments[dep] = workspace.read(resolved)
    function = compile_function(
        cell.asset, cell.body, cell.deps, filename, namespace, cell.function_name
    )
    return run_check(cell, function, arguments, target.record.data_version)


def _broken(cell: CheckCell, target: ResolvedInput, error: Exception) -> CheckResult:
    return CheckResult(cell.asset, cell.name, cell.severity, False, target.record.data_version,
                       error=str(error))  # fmt: skip
