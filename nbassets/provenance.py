"""Why a version exists and what a deploy must rebuild: pure functions over catalog records.

- :func:`parse_source` reads a record's ``source`` text (``pipelines.mod:func``,
  ``notebooks/x.ipynb#cell``, ``notebooks/x.ipynb :: key``, or several of them) into parts.
- :func:`explain` gathers one version's provenance (``nbassets why``) into a :class:`Provenance`.
- :func:`plan_steps` says, for each asset the code defines, whether an env must rebuild it and
  why (``nbassets plan``); :func:`plan_partitions` also says which partitions of each
  partitioned asset, as ranges with their reason; :func:`schema_drift` compares the schemas
  of two envs' latest versions.

Nothing here reads a file or a catalog: callers hand in records, so every rule is tested alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from .column_reads import drift_readers
from .graph import AssetGraph
from .partition_status import PartitionedAsset, PartitionPlan, PartitionReport, partition_plan
from .status import EXTERNAL_CODE
from .store.catalog import Failure, Head, Materialization, failed_since
from .store.doctor import UNKNOWN_CODE
from .store.results import CheckResult
from .text import plural

if TYPE_CHECKING:
    from .store.stores import Store

REBUILD, DOWNSTREAM, BLOCKED, KEEP = "rebuild", "downstream", "blocked", "keep"

_CELL = re.compile(  # notebooks/x.ipynb#cell-id  |  notebooks/x.ipynb :: key  |  <kernel>::key
    r"(?P<path>[^\s#]+?)(?:#(?P<cell>[\w.-]+)|\s*::\s*(?P<key>[A-Za-z_]\w*))"
)
_NOTEBOOK = re.compile(r"(?P<path>[^\s#():]+\.ipynb)\b")
_FUNCTION = re.compile(  # pipelines.mod:func or /path/to/script.py:main (never a "::")
    r"(?P<module>[^\s:#()\[\],]+):(?P<function>[A-Za-z_<][\w<>]*)(?!\s*:)"
)


# --- source -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceRef:
    """A record's ``source`` text and what could be read from it (``None`` where absent)."""

    raw: str
    module: str | None = None  # a dotted module, or a script's file
    function: str | None = None
    notebook: str | None = None
    cell_id: str | None = None
    cell_key: str | None = None  # the asset key that names the cell (exported markers)

    def to_dict(self) -> dict[str, str | None]:
        return {
            "raw": self.raw,
            "module": self.module,
            "function": self.function,
            "notebook": self.notebook,
            "cell_id": self.cell_id,
            "cell_key": self.cell_key,
        }


def parse_source(text: str | None) -> SourceRef:
    """Read ``source`` leniently: a notebook cell and a module function, in any order.

    >>> parse_source("pipelines.flights:orders (notebooks/f.ipynb :: orders)").function
    'orders'

    Whatever is not recognised stays in ``raw`` only; nothing here raises.
    """
    raw = (text or "").strip()
    rest = raw
    notebook = cell_id = cell_key = None
    cell = _CELL.search(rest)
    if cell is not None:
        notebook, cell_id, cell_key = cell["path"], cell["cell"], cell["key"]
        rest = rest[: cell.start()] + " " + rest[cell.end() :]
    else:
        bare = _NOTEBOOK.search(rest)
        if bare is not None:
            notebook = bare["path"]
            rest = rest[: bare.start()] + " " + rest[bare.end() :]
    module = function = None
    found = _FUNCTION.search(rest)
    if found is not None:
        module, function = found["module"], found["function"]
    return SourceRef(raw, module, function, notebook, cell_id, cell_key)


# --- why ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InputRead:
    """One upstream version a materialization read, and the version that upstream has now."""

    key: str
    data_version: str
    env: str
    now: str | None = None  # what the same input resolves to today (None: nothing stored)
    partitions: str | None = None  # how many partitions a combined version covers (None: one)

    @property
    def changed(self) -> bool:
        return self.now is not None and self.now != self.data_version


@dataclass(frozen=True)
class Provenance:
    """Everything ``nbassets why`` says about one version of an asset."""

    record: Materialization
    store_env: str  # the env whose store holds the record (its env may differ: copied stores)
    source: SourceRef
    inputs: tuple[InputRead, ...]
    checks: tuple[CheckResult, ...]
    current_code_version: str | None  # None: no current code defines the asset
    code_origin: str
    file: str
    file_present: bool

    @property
    def built_from_current_code(self) -> bool | None:
        """Whether today's code has the record's code version (None: not decidable)."""
        if self.current_code_version is None or self.record.code_version == EXTERNAL_CODE:
            return None
        return self.current_code_version == self.record.code_version

    def code_note(self) -> str:
        """``built from this code`` or why not, in words."""
        if self.record.code_version == EXTERNAL_CODE:
            return "stored by a script (nbassets.save), not built from asset code"
        if self.record.code_version == UNKNOWN_CODE:
            return "provenance unknown: re-indexed from its data file by nbassets doctor"
        if self.current_code_version is None:
            return f"no current code defines it (looked in {self.code_origin})"
        if self.built_from_current_code:
            return f"built from this code ({self.code_origin})"
        return (
            f"built from other code (code version {self.record.code_version}; "
            f"{self.code_origin} now has {self.current_code_version})"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the catalog fields, ``built_at``, parsed source, inputs and checks."""
        m = self.record
        return {
            "key": m.key,
            "env": m.env,
            "store_env": self.store_env,
            "partition": m.partition,
            "data_version": m.data_version,
            "code_version": m.code_version,
            "current_code_version": self.current_code_version,
            "built_from_current_code": self.built_from_current_code,
            "code": self.code_note(),
            "commit": m.commit,
            "dirty": m.dirty,
            "source": m.source,
            "source_parts": self.source.to_dict(),
            "inputs": {
                i.key: {"data_version": i.data_version, "env": i.env, "now": i.now}
                | ({"partitions": i.partitions} if i.partitions else {})
                for i in self.inputs
            },
            "user": m.user,
            "rollback_of": m.rollback_of,
            "started_at": m.started_at,
            "finished_at": m.finished_at,
            "built_at": m.finished_at,
            "rows": m.rows,
            "bytes": m.bytes,
            "schema": m.schema,
            "io": m.io,
            "kind": m.kind,
            "path": self.file,
            "file_present": self.file_present,
            "checks": [check_dict(c) for c in self.checks],
        }


def explain(
    record: Materialization,
    *,
    store_env: str,
    checks: Iterable[CheckResult],
    inputs_now: Mapping[str, str | None],
    current_code_version: str | None,
    code_origin: str,
    file: str,
    file_present: bool,
) -> Provenance:
    """The provenance of ``record``; ``inputs_now`` maps each upstream to its version today."""
    inputs = tuple(
        InputRead(
            up,
            read.get("data_version", ""),
            read.get("env", ""),
            inputs_now.get(up),
            read.get("partitions"),
        )
        for up, read in sorted(record.inputs.items())
    )
    return Provenance(
        record=record,
        store_env=store_env,
        source=parse_source(record.source),
        inputs=inputs,
        checks=tuple(latest_checks(checks)),
        current_code_version=current_code_version,
        code_origin=code_origin,
        file=file,
        file_present=file_present,
    )


def latest_checks(results: Iterable[CheckResult]) -> list[CheckResult]:
    """The latest result of each check name (results from several stores, in any order)."""
    latest: dict[str, CheckResult] = {}
    for result in results:
        known = latest.get(result.name)
        if known is None or result.checked_at >= known.checked_at:
            latest[result.name] = result
    return sorted(latest.values(), key=lambda r: r.name)


def check_dict(result: CheckResult) -> dict[str, Any]:
    """A check result as JSON-ready values, with its outcome."""
    return {
        "key": result.key,
        "data_version": result.data_version,
        "name": result.name,
        "severity": result.severity,
        "outcome": result.outcome,
        "passed": result.passed,
        "failing_rows": result.failing_rows,
        "message": result.message,
        "error": result.error,
        "checked_at": result.checked_at,
    }


# --- plan ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanStep:
    """What a deploy does with one asset: ``rebuild``, ``downstream``, ``blocked`` or ``keep``."""

    key: str
    action: str
    reason: str


@dataclass(frozen=True)
class SchemaDrift:
    """Columns of a candidate version (a sandbox's) against the env's latest version."""

    key: str
    added: dict[str, str]
    removed: dict[str, str]
    retyped: dict[str, tuple[str, str]]  # column: (env's dtype, candidate's dtype)
    readers: dict[str, list[str]] = field(default_factory=dict)  # removed/retyped column: keys

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "added": self.added,
            "removed": self.removed,
            "retyped": {c: {"from": old, "to": new} for c, (old, new) in self.retyped.items()},
            "readers": self.readers,
        }

    def describe(self) -> str:
        """``+ distance:float64, - legacy:object, ~ id:int64->string``."""
        parts = [f"+ {c}:{t}" for c, t in self.added.items()]
        parts += [f"- {c}:{t}" for c, t in self.removed.items()]
        parts += [f"~ {c}:{old}->{new}" for c, (old, new) in self.retyped.items()]
        return ", ".join(parts)


@dataclass(frozen=True)
class PlannedBuilds:
    """What ``nbassets materialize --select plan`` builds: the partitions of each partitioned
    asset the plan rebuilds (key -> partition keys, oldest first) and the unpartitioned
    assets (in build order); rebuilt and downstream alike, never blocked."""

    partitions: dict[str, list[str]]
    keys: list[str]


@dataclass(frozen=True)
class Plan:
    """What must be rebuilt in ``env`` and why, and how ``against``'s schemas drift from it."""

    env: str
    steps: tuple[PlanStep, ...]
    against: str | None = None
    drift: tuple[SchemaDrift, ...] = ()
    partitions: tuple[PartitionPlan, ...] = ()  # of each partitioned asset with any to rebuild

    def of(self, action: str) -> list[PlanStep]:
        return [step for step in self.steps if step.action == action]

    def builds(self) -> PlannedBuilds:
        """The partitions and assets :class:`PlannedBuilds` runs."""
        moving = [s.key for s in self.steps if s.action in (REBUILD, DOWNSTREAM)]
        parts = {p.key: p.partitions() for p in self.partitions if p.key in set(moving)}
        partitioned = {p.key for p in self.partitions}
        return PlannedBuilds(parts, [key for key in moving if key not in partitioned])

    def to_dict(self) -> dict[str, Any]:
        def steps(action: str) -> list[dict[str, str]]:
            return [{"key": s.key, "reason": s.reason} for s in self.of(action)]

        return {
            "env": self.env,
            "against": self.against,
            "rebuild": steps(REBUILD),
            "downstream": steps(DOWNSTREAM),
            "blocked": steps(BLOCKED),
            "fresh": [s.key for s in self.of(KEEP)],
            "partitions": [p.to_dict() for p in self.partitions],
            "schema_drift": [d.to_dict() for d in self.drift],
        }


@dataclass(frozen=True)
class DeployPlan:
    """What a deploy of ``code`` into one env does, the orphans it leaves, and how many
    versions the candidate env holds (whose schemas the drift compares)."""

    plan: Plan
    orphaned: list[str]
    candidate_versions: int


def plan_steps(
    code_versions: Mapping[str, str | None],
    deps: Mapping[str, Sequence[str]],
    current: Mapping[str, Head],
    failures: Mapping[str, Failure] | None = None,
) -> list[PlanStep]:
    """For each asset the code defines, in build order: rebuild, downstream, blocked or keep.

    An asset is rebuilt for a reason of its own, the rules of ``status`` without
    checks (a rebuild of the same code on the same inputs gives the same data):
    ``last build failed``, ``missing`` (never built), ``code changed``,
    ``new upstream 'x'``, ``upstream 'x' changed``. Everything downstream of a
    rebuilt asset is ``downstream``: it goes stale once its upstream is rebuilt.
    An asset whose upstream no code builds and no store holds is ``blocked``.
    A cycle raises :class:`~nbassets.errors.CycleError`.
    """
    return plan_partitions(code_versions, deps, current, failures)[0]


def plan_partitions(
    code_versions: Mapping[str, str | None],
    deps: Mapping[str, Sequence[str]],
    current: Mapping[str, Head],
    failures: Mapping[str, Failure] | None = None,
    assets: Mapping[str, PartitionedAsset] | None = None,
    reports: Mapping[str, PartitionReport] | None = None,
    commit: str | None = None,
) -> tuple[list[PlanStep], list[PartitionPlan]]:
    """:func:`plan_steps`, with partitioned assets (``assets``, judged partition by partition
    in ``reports``: :func:`nbassets.partition_status.evaluate` without checks) planned by
    partition: a partition is rebuilt when its last build failed, it is missing, its code
    changed (``code changed at <commit>``: HEAD's, where the new code stands) or what it read
    changed; a partition that reads a partition rebuilt upstream (any partition, through an
    unpartitioned or unknown mapping) is ``upstream 'x' is rebuilt``. ``current`` holds each
    partitioned asset as a reader sees it (``partition_status.reader_heads``)."""
    failures, assets, reports = failures or {}, assets or {}, reports or {}
    order = [key for key in AssetGraph(deps).order() if key in code_versions]
    order += [key for key in code_versions if key not in set(order)]
    steps: dict[str, PlanStep] = {}
    planned: dict[str, set[str]] = {}  # partitioned key -> its partitions rebuilt
    plans: list[PartitionPlan] = []
    for key in order:
        ups = tuple(deps.get(key, ()))
        absent = [up for up in ups if up not in code_versions and up not in current]
        blocked = [up for up in ups if up in steps and steps[up].action == BLOCKED]
        moving = [up for up in ups if up in steps and steps[up].action in (REBUILD, DOWNSTREAM)]
        report = reports.get(key)
        if absent:
            reason = f"upstream {absent[0]!r} is not stored and no code builds it"
            steps[key] = PlanStep(key, BLOCKED, reason)
        elif blocked:
            steps[key] = PlanStep(key, BLOCKED, f"upstream {blocked[0]!r} is blocked")
        elif report is not None and key in assets:
            plan = partition_plan(report, assets[key], moving, planned, commit)
            planned[key] = set(plan.partitions()) if plan.ranges else set()
            steps[key] = _partition_step(report, plan, moving)
            if plan.ranges:
                plans.append(plan)
        elif (
            own := _own_reason(code_versions[key], ups, current.get(key), current,
                               failures.get(key))
        ) is not None:  # fmt: skip
            steps[key] = PlanStep(key, REBUILD, own)
        elif moving:
            steps[key] = PlanStep(key, DOWNSTREAM, f"upstream {moving[0]!r} is rebuilt")
        else:
            steps[key] = PlanStep(key, KEEP, "fresh")
    return list(steps.values()), plans


def _partition_step(
    report: PartitionReport, plan: PartitionPlan, moving: Sequence[str]
) -> PlanStep:
    key = report.key
    counts: dict[str, int] = {}
    for r in plan.ranges:
        counts[r.reason] = counts.get(r.reason, 0) + r.count
    own = {reason: n for reason, n in counts.items() if not reason.endswith(" is rebuilt")}
    if own:
        ranked = sorted(own.items(), key=lambda item: -item[1])
        why = ", ".join(r if len(own) == 1 else f"{r} ({n:,})" for r, n in ranked)
        total = f"{sum(own.values()):,} of {plural(report.complete, 'partition')}"
        return PlanStep(key, REBUILD, f"{total}, {why}")
    if report.failed_whole:
        return PlanStep(key, REBUILD, "last build failed")
    if counts:
        up = next(up for up in moving if f"upstream {up!r} is rebuilt" in counts)
        n = plan.count
        return PlanStep(key, DOWNSTREAM, f"upstream {up!r} is rebuilt ({plural(n, 'partition')})")
    return PlanStep(key, KEEP, "fresh")


def _own_reason(
    code_version: str | None,
    ups: Sequence[str],
    record: Head | None,
    current: Mapping[str, Head],
    failure: Failure | None,
) -> str | None:
    """Why an asset must be rebuilt, judged from its own record only (None: it need not be)."""
    if failed_since(failure, record):
        return "last build failed"
    if record is None:
        return "missing"
    if code_version is not None and code_version != record.code_version:
        return "code changed"
    for up in ups:
        read = record.inputs.get(up)
        if read is None:
            return f"new upstream {up!r}"
        now = current.get(up)
        if now is not None and now.data_version != read.get("data_version"):
            return f"upstream {up!r} changed"
    return None


def schema_drift(
    base: Mapping[str, Mapping[str, str] | None],
    candidate: Mapping[str, Mapping[str, str] | None],
) -> list[SchemaDrift]:
    """Columns added, removed and retyped in ``candidate`` against ``base``, per key.

    Only keys with a table schema on both sides count; keys without drift are left out.
    """
    drifts = []
    for key in sorted(base.keys() & candidate.keys()):
        old, new = base[key], candidate[key]
        if old is None or new is None:
            continue
        drift = SchemaDrift(
            key,
            added={c: t for c, t in new.items() if c not in old},
            removed={c: t for c, t in old.items() if c not in new},
            retyped={c: (old[c], t) for c, t in new.items() if c in old and old[c] != t},
        )
        if drift.added or drift.removed or drift.retyped:
            drifts.append(drift)
    return drifts


def name_readers(
    plan: Plan,
    deps: Mapping[str, Sequence[str]],
    sources: Mapping[str, str | None],
    base: Sequence[Store],
    candidate: Store,
) -> Plan:
    """``plan`` with each drift entry naming the downstream assets that read its removed or
    retyped columns (:func:`~nbassets.column_reads.drift_readers`)."""
    drifted = {d.key: [*d.removed, *d.retyped] for d in plan.drift}
    found = drift_readers(drifted, deps, sources, base, candidate) if drifted else {}
    return replace(plan, drift=tuple(replace(d, readers=found.get(d.key, {})) for d in plan.drift))
