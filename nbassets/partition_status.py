"""Where each partition of a partitioned asset stands: pure functions over partition records.

DESIGN §3: a partitioned asset's status is the worst of its partitions', with counts
(``stale: 90 of 365 partitions, code changed``). :func:`evaluate` judges every *complete*
partition of each partitioned asset the way :func:`nbassets.status.compute_statuses` judges an
asset: corrupt, failed, check-failed, missing, stale (code changed, an upstream's partitions
changed) or fresh. "Changed" compares what a partition's record read with what a build would
read now, computed exactly as :mod:`nbassets.build` records it: one combined version of the
upstream partitions the mapping names, or the version of an unpartitioned upstream.
:func:`reader_heads` gives a partitioned asset's version as an unpartitioned reader sees it
(the combined version of all its built partitions), so staleness spreads downstream as usual.
:func:`partition_plan` turns one asset's partitions to rebuild (its own reasons, and those
reading partitions rebuilt upstream) into ranges with their reason (``nbassets plan``).

A partition never built is ``missing``, ranked below check-failed and above stale: a gap to
fill, where a failing check is bad data already served. Records are compared by plain tuples
and dict look-ups, and each combined version is computed once per upstream and set of
partitions, so ten assets of 3,650 daily partitions take well under a second.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from .errors import SpecError
from .partitions import (
    PartitionMapping,
    PartitionsDefinition,
    combined_version,
    compress,
    expand,
    partition_mapping,
)
from .status import CHECK_FAILED, CORRUPT, FAILED, FRESH, MISSING, STALE, AssetStatus
from .store.catalog import Failure, Head, failed_since
from .text import plural

#: worst first (DESIGN §2; a partition never built comes after failing checks: see docs)
PRECEDENCE: Final = (CORRUPT, FAILED, CHECK_FAILED, MISSING, STALE)
NEVER_BUILT, CODE_CHANGED, BUILD_FAILED = "never built", "code changed", "last build raised"


@dataclass(frozen=True)
class PartitionedAsset:
    """What the code says of a partitioned asset: its partitions, its code version (None: not
    known here) and how it reads each upstream (None: as a build does without a mapping, the
    upstream's latest version, or all of its partitions when that version is a partition)."""

    definition: PartitionsDefinition
    code_version: str | None
    reads: Mapping[str, PartitionMapping | None]


def partitioned_assets(
    code_versions: Mapping[str, str | None],
    deps: Mapping[str, Iterable[str]],
    definitions: Mapping[str, PartitionsDefinition | None],
) -> dict[str, PartitionedAsset]:
    """The :class:`PartitionedAsset` of each key ``definitions`` partitions; each dep's mapping
    as ``build.read_mappings`` makes it (a mapping no build can use is left None: the build
    itself refuses it with the reason)."""
    assets = {}
    for key, definition in definitions.items():
        if definition is None:
            continue
        reads: dict[str, PartitionMapping | None] = {}
        for dep in deps.get(key, ()):
            upstream = definitions.get(dep)
            try:
                reads[dep] = None if upstream is None else partition_mapping(definition, upstream)
            except SpecError:
                reads[dep] = None
        assets[key] = PartitionedAsset(definition, code_versions.get(key), reads)
    return assets


def is_partition_head(head: Head) -> bool:
    """Whether ``head`` is a partition's version: its file is ``data/<key>/<partition>/<v>.<ext>``
    (DESIGN §4), where an unpartitioned version's is ``data/<key>/<v>.<ext>``."""
    return head.path.count("/") == 3


def reader_heads(
    current: Mapping[str, Head], partitions: Mapping[str, Mapping[str, Head]]
) -> dict[str, Head]:
    """``current`` with the head of each key whose latest version is a partition replaced by
    that key as an unpartitioned reader records it: the combined version of every built
    partition (``rows`` their sum; no file of its own)."""
    heads = dict(current)
    for key, parts in partitions.items():
        head = current.get(key)
        if head is None or not is_partition_head(head):
            continue
        built = {p: h for p, h in parts.items() if p}
        if not built:
            continue
        version = combined_version({p: h.data_version for p, h in built.items()}).version
        counted = [h.rows for h in built.values() if h.rows is not None]
        rows = sum(counted) if counted else None
        heads[key] = head._replace(data_version=version, rows=rows, path="", bytes=None)
    return heads


@dataclass
class PartitionReport:
    """The partitions of one asset that are not fresh, grouped by (status, reason), each group's
    keys oldest first; ``keys`` are its complete partitions, oldest first."""

    key: str
    definition: PartitionsDefinition
    keys: list[str]
    groups: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    error: str | None = None  # the last line of a failed partition's error
    failed_whole: bool = False  # a build of the whole asset (no partition) failed last

    @property
    def complete(self) -> int:
        return len(self.keys)

    def count(self, status: str) -> int:
        return sum(len(keys) for (s, _), keys in self.groups.items() if s == status)

    def row(self, head: Head | None) -> AssetStatus:
        """One status row: the worst partition status, with counts (``head``: the asset as
        its readers see it, :func:`reader_heads`)."""
        counts = {status: self.count(status) for status in PRECEDENCE}
        if self.failed_whole:
            return _status_row(self.key, FAILED, BUILD_FAILED + _also(counts, None), head,
                               self.error)  # fmt: skip
        worst = next((status for status in PRECEDENCE if counts[status]), None)
        if worst is None:
            if self.complete == 0 and head is None:
                return AssetStatus(self.key, MISSING, "no partition is complete yet")
            return _status_row(self.key, FRESH, "", head)
        reasons = Counter(
            {reason: len(keys) for (s, reason), keys in self.groups.items() if s == worst}
        )
        if len(reasons) == 1:
            why = next(iter(reasons))
        else:
            ranked = reasons.most_common()
            why = ", ".join(f"{reason} ({n})" for reason, n in ranked[:3])
            why += ", ..." if len(ranked) > 3 else ""
        reason = f"{counts[worst]:,} of {plural(self.complete, 'partition')}, {why}"
        reason += _also(counts, worst)
        error = self.error if worst == FAILED else None
        return _status_row(self.key, worst, reason, head, error)


def undefined_rows(
    keys: Iterable[str], current: Mapping[str, Head], failures: Mapping[str, Failure]
) -> dict[str, AssetStatus]:
    """Rows of partitioned assets no code here defines (another notebook's, say): judged by
    their latest build only, failed or fresh. What each partition read depends on how it is
    partitioned, which only its definition says; their upstreams' problems still spread."""
    rows = {}
    for key in keys:
        head, failure = current.get(key), failures.get(key)
        if failed_since(failure, head):
            rows[key] = _status_row(key, FAILED, BUILD_FAILED, head, _last_line(failure.error))
        elif head is not None:
            rows[key] = _status_row(key, FRESH, "", head)
    return rows


def _also(counts: Mapping[str, int], worst: str | None) -> str:
    others = [f"{n:,} {status}" for status, n in counts.items() if n and status != worst]
    return f"; also {', '.join(others)}" if others else ""


def _status_row(
    key: str, status: str, reason: str, head: Head | None, error: str | None = None
) -> AssetStatus:
    if head is None:
        return AssetStatus(key, status, reason, error=error)
    return AssetStatus(key, status, reason, head.env, head.data_version, head.code_version,
                       head.rows, head.finished_at, head.commit, head.source, error)  # fmt: skip


class _Reads:
    """What a build of a partition would read of each upstream now, as it records it (the
    combined version of the partitions read; an unpartitioned upstream's data version), each
    computed once per upstream and set of partitions."""

    def __init__(
        self, current: Mapping[str, Head], partitions: Mapping[str, Mapping[str, Head]]
    ) -> None:
        self.current, self.partitions = current, partitions
        self._cache: dict[tuple[str, tuple[str, ...] | None], str | None] = {}
        self._same: dict[str, dict[str, str]] = {}

    def reader(self, dep: str, mapping: PartitionMapping | None) -> _Expected:
        """How to find what a partition reads of ``dep`` now: one version for every partition
        (``str`` or None), a table of partition -> version (same partitions), or the mapping."""
        if mapping is None or mapping.kind == "whole":
            head = self.current.get(dep)
            return None if head is None else head.data_version
        if mapping.kind == "all":
            return self._combined(dep, None)
        if mapping.kind == "same":
            if dep not in self._same:
                heads = self.partitions.get(dep, {}).items()
                self._same[dep] = {p: combined_version({p: h.data_version}).version
                                   for p, h in heads if p}  # fmt: skip
            return self._same[dep]
        return mapping

    def version(self, dep: str, mapping: PartitionMapping, key: str) -> str | None:
        """What partition ``key`` reads of ``dep`` through a coarser or finer ``mapping``."""
        wanted = _reads(mapping, key)
        cache = (dep, wanted)
        if cache not in self._cache:
            self._cache[cache] = self._combined(dep, wanted)
        return self._cache[cache]

    def _combined(self, dep: str, wanted: tuple[str, ...] | None) -> str | None:
        """None when a partition it reads is not built: the build would fail, not rebuild."""
        heads = self.partitions.get(dep, {})
        if wanted is None:
            versions = {p: h.data_version for p, h in heads.items() if p}
        else:
            versions = {p: heads[p].data_version for p in wanted if p in heads}
            if len(versions) < len(wanted):
                return None
        return combined_version(versions).version if versions else None


_Expected = str | dict[str, str] | PartitionMapping | None


def evaluate(
    assets: Mapping[str, PartitionedAsset],
    partitions: Mapping[str, Mapping[str, Head]],
    current: Mapping[str, Head],
    failures: Mapping[str, Failure] | None = None,
    failed_checks: Mapping[tuple[str, str], str] | None = None,
    corrupt: Mapping[tuple[str, str], str] | None = None,
    now: datetime | None = None,
    partition_failures: Mapping[str, Mapping[str, Failure]] | None = None,
) -> dict[str, PartitionReport]:
    """Judge every complete partition (``definition.keys(now)``) of each asset of ``assets``.

    ``partitions``: key -> partition -> the version a read of that partition resolves to
    (``Workspace.current_partitions``); ``current``: each key's version as a reader sees it
    (:func:`reader_heads`); ``failures``: the latest failed build per key (its ``partition``
    says which); ``failed_checks``: (key, data version) -> a failed error check's name;
    ``corrupt``: (key, partition) -> what is wrong with that version's file;
    ``partition_failures``: key -> partition -> its latest failed build, where known (else
    only the key's latest failure counts, for the partition it names). Per partition,
    DESIGN §2's precedence: corrupt, failed, check-failed, then never built (``missing``),
    code changed, new upstream, upstream changed; else fresh. Without checks and damage given,
    the reasons are those a deploy plan rebuilds for.
    """
    failures, failed_checks, corrupt = failures or {}, failed_checks or {}, corrupt or {}
    reads = _Reads(current, partitions)
    reports: dict[str, PartitionReport] = {}
    for key, asset in assets.items():
        complete = asset.definition.keys(now)
        heads = partitions.get(key, {})
        report = reports[key] = PartitionReport(key, asset.definition, complete)
        groups = report.groups
        failure = failures.get(key)
        failed_in = failure.partition if failure is not None else None
        if failure is not None and failed_in == "":  # a build of no partition failed
            report.failed_whole = failed_since(failure, current.get(key))
            report.error = _last_line(failure.error) if report.failed_whole else None
        failed_parts = (partition_failures or {}).get(key)
        code_version = asset.code_version
        ups = [(dep, reads.reader(dep, mapping)) for dep, mapping in asset.reads.items()]
        for partition in complete:
            head = heads.get(partition)
            if failed_parts is not None:
                fail = failed_parts.get(partition)
            else:
                fail = failure if partition == failed_in else None
            if head is not None and (damage := corrupt.get((key, partition))) is not None:
                verdict = (CORRUPT, damage)
            elif fail is not None and failed_since(fail, head):
                verdict = (FAILED, BUILD_FAILED)
                report.error = _last_line(fail.error)
            elif head is None:
                verdict = (MISSING, NEVER_BUILT)
            elif (check := failed_checks.get((key, head.data_version))) is not None:
                verdict = (CHECK_FAILED, f"check {check} failed")
            elif code_version is not None and code_version != head.code_version:
                verdict = (STALE, CODE_CHANGED)
            else:
                change = _input_change(ups, head.inputs, reads, partition)
                if not change:
                    continue
                verdict = (STALE, change)
            groups.setdefault(verdict, []).append(partition)
    return reports


def _input_change(
    ups: list[tuple[str, _Expected]],
    inputs: Mapping[str, Mapping[str, str]],
    reads: _Reads,
    partition: str,
) -> str:
    for dep, expected in ups:
        read = inputs.get(dep)
        if read is None:
            return f"new upstream {dep!r}"
        if isinstance(expected, dict):
            now = expected.get(partition)
        elif isinstance(expected, PartitionMapping):
            now = reads.version(dep, expected, partition)
        else:
            now = expected
        if now is not None and now != read["data_version"]:
            return f"upstream {dep!r} changed"
    return ""


def _reads(mapping: PartitionMapping, key: str) -> tuple[str, ...]:
    """The upstream partitions a partition of a partitioned asset reads (a tuple: only an
    unpartitioned asset reads ``ALL``)."""
    keys = mapping.upstream_keys(key)
    return keys if isinstance(keys, tuple) else ()


def _last_line(error: str) -> str | None:
    lines = error.strip().splitlines()
    return lines[-1] if lines else None


# --- what a deploy rebuilds ---------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedRange:
    """Consecutive partitions ``first..last`` (``count`` of them) a deploy rebuilds, and why."""

    first: str
    last: str
    count: int
    reason: str

    def __str__(self) -> str:
        keys = self.first if self.count == 1 else f"{self.first}..{self.last}"
        return f"{keys}: {self.reason}"


@dataclass(frozen=True)
class PartitionPlan:
    """The partitions of one partitioned asset a deploy rebuilds, as ranges, oldest first;
    ``complete`` counts its complete partitions."""

    key: str
    definition: PartitionsDefinition
    complete: int
    ranges: tuple[PlannedRange, ...]

    @property
    def count(self) -> int:
        return sum(r.count for r in self.ranges)

    def partitions(self) -> list[str]:
        """Every partition key of the ranges, oldest first."""
        return expand(self.definition, [f"{r.first}..{r.last}" for r in self.ranges])

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "definition": str(self.definition),
            "complete": self.complete,
            "count": self.count,
            "ranges": [
                {"first": r.first, "last": r.last, "count": r.count, "reason": r.reason}
                for r in self.ranges
            ],
        }


def _plan_reason(status: str, reason: str, commit: str | None) -> str:
    if status == FAILED or reason == BUILD_FAILED:
        return "last build failed"
    if status == MISSING or reason == NEVER_BUILT:
        return "missing"
    if reason == CODE_CHANGED and commit:
        return f"{CODE_CHANGED} at {commit[:7]}"
    return reason


def partition_plan(
    report: PartitionReport,
    asset: PartitionedAsset,
    moving: Sequence[str],
    planned: Mapping[str, set[str]],
    commit: str | None,
) -> PartitionPlan:
    """The ranges of ``report``'s partitions to rebuild: its own, then those whose upstream
    partitions are rebuilt."""
    groups: dict[str, list[str]] = {}
    for (status, reason), keys in report.groups.items():
        groups.setdefault(_plan_reason(status, reason, commit), []).extend(keys)
    own = {key for keys in groups.values() for key in keys}
    for up in moving:
        mapping, rebuilt = asset.reads.get(up), planned.get(up)
        if mapping is None or mapping.kind in ("whole", "all") or rebuilt is None:
            hit = [key for key in report.keys if key not in own]
        elif mapping.kind == "same":
            hit = [key for key in report.keys if key in rebuilt and key not in own]
        else:
            hit = [key for key in report.keys if key not in own
                   and any(u in rebuilt for u in _reads(mapping, key))]  # fmt: skip
        if hit:
            groups.setdefault(f"upstream {up!r} is rebuilt", []).extend(hit)
            own.update(hit)
    definition = report.definition
    ranges = [
        PlannedRange(r.first, r.last, r.count, reason)
        for reason, keys in groups.items()
        for r in compress(definition, keys)
    ]
    ranges.sort(key=lambda r: definition.index(r.first))
    return PartitionPlan(report.key, definition, report.complete, tuple(ranges))
