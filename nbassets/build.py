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
from dataclasses import dataclass, field, replace
from typing import Any

from .checks.rules import Rule
from .checks.runner import CheckRun, CheckTask, run_checks
from .environments import PROD, current_user
from .errors import DependencyError
from .partitions import (
    ALL,
    PartitionMapping,
    PartitionsDefinition,
    combined_version,
    compress,
    partition_mapping,
)
from .policy import WriteGrant
from .runtime import sql_engine
from .source import no_value_error
from .store.catalog import Failure, Materialization
from .store.serializers import choose_io, concat_values
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
    partitions: PartitionsDefinition | None = None  # built partition by partition
    # how a build reads each partitioned upstream (made by :func:`read_mappings`); an upstream
    # left out is read whole, or, when its versions turn out partitioned, all its partitions
    mappings: Mapping[str, PartitionMapping] = field(default_factory=dict)


@dataclass(frozen=True)
class BuildOutcome:
    """What one build did: the version it stored, or the exception its code raised."""

    key: str
    inputs: tuple[ResolvedInput, ...] = ()  # one per upstream (partitions read: combined)
    record: Materialization | None = None
    value: Any = None
    seconds: float = 0.0
    error: BaseException | None = None
    checks: CheckRun = field(default_factory=CheckRun)
    partition: str = ""

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
    partition: str = "",
    upstream: Mapping[str, Mapping[str, ResolvedInput]] | None = None,
) -> BuildOutcome:
    """Build ``task`` (its ``partition`` when it is partitioned) into the store ``grant``
    allows, then run its checks.

    ``upstream`` holds, per partitioned dep, every partition an input of it resolves to
    (:func:`upstream_partitions`), when the caller builds many partitions of one asset.

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
        reads = [
            _read(workspace, task, dep, partition, kernel_versions, missing_hint, upstream)
            for dep in task.deps
        ]
        inputs = tuple(read.summary for read in reads)
        arguments = {read.key: read.argument(workspace, task.sql) for read in reads}
        if task.partitions is not None:
            arguments["partition"] = task.partitions.partition(partition)
        elif partition:
            raise DependencyError(f"asset {task.key!r} has no partitions; build it whole.")
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
            inputs={read.key: read.recorded() for read in reads},
            source=task.source,
            commit=grant.commit,
            dirty=grant.dirty,
            user=current_user(),
            code=task.code,
            partition=partition,
        )
    except Exception as exc:
        store.record_failure(
            Failure(
                key=task.key, env=grant.env, error=describe_error(exc), started_at=started_at,
                finished_at=now(), code_version=task.code_version, source=task.source,
                user=current_user(), partition=partition,
            )
        )  # fmt: skip
        return BuildOutcome(
            task.key, inputs, error=exc, seconds=time.perf_counter() - start, partition=partition
        )
    seconds = time.perf_counter() - start
    origin = KERNEL if kernel_versions is not None else _own_origin(workspace)
    built = ResolvedInput(task.key, record, origin, store)
    versions = {**(kernel_versions or {}), task.key: record}
    checks = run_checks(workspace, built, task.rules, task.checks, grant, versions)
    return BuildOutcome(task.key, inputs, record, value, seconds, None, checks, partition)


def upstream_partitions(
    workspace: Workspace, task: BuildTask
) -> dict[str, dict[str, ResolvedInput]]:
    """Dep -> partition -> the version it resolves to, for each dep ``task`` reads by
    partition: read once for many builds of ``task``'s partitions."""
    return {
        dep: workspace.resolve_partitions(dep)
        for dep, mapping in task.mappings.items()
        if mapping.kind != "whole"
    }


def fresh_partitions(
    workspace: Workspace,
    task: BuildTask,
    partitions: Iterable[str],
    upstream: Mapping[str, Mapping[str, ResolvedInput]] | None = None,
) -> set[str]:
    """The ``partitions`` of ``task`` whose version in the env's own store is fresh: built
    from the current code version, on exactly the inputs a build would read now (DESIGN §6:
    a backfill resumes where it stopped). Catalog reads only; nothing is built or read."""
    records = workspace.own.catalog.partition_records(task.key)
    if upstream is None:
        upstream = upstream_partitions(workspace, task)
    whole: dict[str, dict[str, str] | None] = {}
    fresh: set[str] = set()
    for partition in partitions:
        record = records.get(partition)
        if record is None or record.code_version != task.code_version:
            continue
        inputs: dict[str, dict[str, str]] = {}
        for dep in task.deps:
            if dep in upstream:
                try:
                    read = _read(workspace, task, dep, partition, None, "", upstream)
                except DependencyError:
                    break
                inputs[dep] = read.recorded()
            else:
                if dep not in whole:
                    resolved = workspace.resolve(dep)
                    whole[dep] = None if resolved is None else _Read(dep, {"": resolved}).recorded()
                now = whole[dep]
                if now is None:
                    break
                inputs[dep] = now
        else:
            if inputs == record.inputs:
                fresh.add(partition)
    return fresh


def read_mappings(
    key: str,
    partitions: PartitionsDefinition | None,
    upstream: Mapping[str, PartitionsDefinition | None],
) -> dict[str, PartitionMapping]:
    """How ``key`` (partitioned by ``partitions``, or not) reads each partitioned upstream in
    ``upstream`` (key -> its definition); a :class:`~nbassets.errors.SpecError` naming both
    when it cannot (static against time partitions, a downstream that starts earlier)."""
    return {
        dep: partition_mapping(partitions, definition, names=(key, dep))
        for dep, definition in upstream.items()
        if definition is not None
    }


@dataclass(frozen=True)
class _Read:
    """What a build reads of one upstream: one version, or some of its partitions."""

    key: str
    parts: dict[str, ResolvedInput]  # partition -> version; {"": version} when read whole
    definition: PartitionsDefinition | None = None  # the upstream's, when partitions are read
    one: bool = False  # one partition, handed over as its own value (same or containing)

    @property
    def whole(self) -> ResolvedInput | None:
        return self.parts.get("") if list(self.parts) == [""] else None

    @property
    def summary(self) -> ResolvedInput:
        """One :class:`ResolvedInput` for previews: the version read, or the newest partition
        read with the combined version and the partitions' range as its partition."""
        whole = self.whole
        if whole is not None:
            return whole
        newest = max(self.parts.values(), key=lambda i: i.record.seq or 0)
        keys = list(self.parts)
        text = ",".join(map(str, compress(self.definition, keys))) if self.definition else ""
        record = replace(newest.record, data_version=self._combined().version, partition=text)
        return replace(newest, record=record)

    def _combined(self) -> Any:
        return combined_version({p: i.record.data_version for p, i in self.parts.items()})

    def recorded(self) -> dict[str, str]:
        """The input as its record keeps it (DESIGN §3: one combined version per partitioned
        upstream, and how many partitions it covers)."""
        whole = self.whole
        if whole is not None:
            return {"data_version": whole.record.data_version, "env": whole.record.env}
        combined = self._combined()
        envs = {i.record.env for i in self.parts.values()}
        env = next(iter(envs)) if len(envs) == 1 else ",".join(sorted(envs))
        return {"data_version": combined.version, "env": env, "partitions": str(combined.count)}

    def argument(self, workspace: Workspace, sql: bool) -> Any:
        """The value the asset's function gets: the stored round trip (SQL: Parquet paths)."""
        parts = list(self.parts.values())
        if sql:
            paths = [str(workspace.table_path(i)) for i in parts]
            return paths[0] if self.whole is not None or self.one else paths
        if self.whole is not None or self.one:
            return workspace.read(parts[0])
        kinds = {i.record.kind for i in parts}
        if len(kinds) == 1 and all(i.record.io == "parquet" for i in parts):
            return concat_values([i.store.read(i.record) for i in parts], kinds.pop())
        return {p: i.store.read(i.record) for p, i in self.parts.items()}  # not tables


def _read(
    workspace: Workspace,
    task: BuildTask,
    dep: str,
    partition: str,
    kernel_versions: Mapping[str, Materialization] | None,
    hint: str,
    upstream: Mapping[str, Mapping[str, ResolvedInput]] | None = None,
) -> _Read:
    """Resolve what ``task`` (its ``partition``) reads of ``dep`` (from ``upstream`` when it
    holds dep's partitions); a missing input raises."""
    mapping = task.mappings.get(dep)
    if mapping is None or mapping.kind == "whole":
        resolved = workspace.resolve(dep, kernel_versions)
        if resolved is None:
            raise DependencyError(
                f"asset {task.key!r} reads {dep!r}, which has no version in "
                f"{_where(workspace, kernel_versions)}: {hint.format(dep=dep, key=task.key)}."
            )
        if not resolved.record.partition:
            return _Read(dep, {"": resolved})
        wanted = None  # partitioned, though no definition here says so: all its partitions
    else:
        wanted = mapping.upstream_keys(partition or None)
    known = (upstream or {}).get(dep)
    if known is None:
        parts = workspace.resolve_partitions(
            dep, None if wanted is None or wanted is ALL else wanted
        )
    elif wanted is None or wanted is ALL:
        parts = dict(known)
    else:
        parts = {p: known[p] for p in wanted if p in known}
    definition = mapping.upstream if mapping is not None else None
    needed = [] if not isinstance(wanted, tuple) else [p for p in wanted if p not in parts]
    if not parts or needed:
        what = f"partition {partition} of asset {task.key!r}" if partition else repr(task.key)
        if needed and definition is not None:
            ranges = ", ".join(map(str, compress(definition, needed)))
        else:
            ranges = ", ".join(needed) or "any partition"
        first = ranges.split(", ")[0]
        raise DependencyError(
            f"{what} reads {dep!r} {ranges}, which has no version in "
            f"{_where(workspace, kernel_versions)}: build {'those partitions' if needed else dep} "
            f"first (`nbassets materialize --select '{dep}[{first}]'`, or run its cell)."
        )
    one = mapping is not None and mapping.kind in ("same", "containing")
    return _Read(dep, parts, definition, one)


def describe_error(exc: BaseException) -> str:
    """``Type: message``, as a failed build is recorded."""
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()


def _where(workspace: Workspace, kernel_versions: Mapping[str, Materialization] | None) -> str:
    if workspace.env == PROD:
        return "production"
    kernel = "this kernel, in " if kernel_versions is not None else ""
    return f"{kernel}env {workspace.env!r} or in production"


def _own_origin(workspace: Workspace) -> str:
    return PROD if workspace.env == PROD else SANDBOX
