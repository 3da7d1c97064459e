"""Is an asset fresh, stale (and why), missing or failed? Pure functions over catalog records."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .catalog import Failure, Materialization
from .graph import AssetGraph

FRESH, STALE, MISSING, FAILED, CHECK_FAILED = "fresh", "stale", "missing", "failed", "check-failed"
_PROBLEMS = (FAILED, CHECK_FAILED, STALE, MISSING)


@dataclass(frozen=True)
class AssetStatus:
    """One row of ``%assets``: an asset's status, the reason, and its current version."""

    key: str
    status: str
    reason: str = ""
    env: str | None = None
    data_version: str | None = None
    code_version: str | None = None
    rows: int | None = None
    built_at: str | None = None
    commit: str | None = None
    source: str | None = None
    error: str | None = None

    @property
    def label(self) -> str:
        """``stale: code changed``-style text."""
        return f"{self.status}: {self.reason}" if self.reason else self.status


def compute_statuses(
    code_versions: Mapping[str, str | None],
    deps: Mapping[str, Iterable[str]],
    current: Mapping[str, Materialization],
    failures: Mapping[str, Failure] | None = None,
) -> dict[str, AssetStatus]:
    """The status of every asset, in dependency order.

    ``code_versions`` holds the code version of each asset whose code is known
    here (``None`` where only stores know it); ``deps`` its upstream keys;
    ``current`` the version an input of that key resolves to now; ``failures``
    the latest failed build per key. Assets known only from records take their
    upstreams from the inputs they read.
    """
    failures = failures or {}
    all_deps: dict[str, tuple[str, ...]] = {}
    for key in {*code_versions, *current, *failures}:
        if key in deps:
            all_deps[key] = tuple(deps[key])
        elif key in current:
            all_deps[key] = tuple(current[key].inputs)
        else:
            all_deps[key] = ()
    statuses: dict[str, AssetStatus] = {}
    for key in AssetGraph(all_deps).order():
        statuses[key] = _status_of(
            key, code_versions.get(key), all_deps.get(key, ()), current, failures, statuses
        )
    return statuses


def in_definition_order(
    rows: Mapping[str, AssetStatus], definitions: Iterable[str]
) -> list[AssetStatus]:
    """Rows of defined assets in definition order, then the ones only stores know, by key."""
    defined = list(definitions)
    ordered = [rows[key] for key in defined if key in rows]
    return ordered + [rows[key] for key in sorted(rows) if key not in set(defined)]


def _status_of(
    key: str,
    code_version: str | None,
    ups: tuple[str, ...],
    current: Mapping[str, Materialization],
    failures: Mapping[str, Failure],
    known: Mapping[str, AssetStatus],
) -> AssetStatus:
    record = current.get(key)
    failure = failures.get(key)
    if failure is not None and (record is None or failure.finished_at > record.finished_at):
        first_line = failure.error.strip().splitlines()[-1] if failure.error.strip() else ""
        return _row(key, FAILED, "last build raised", record, error=first_line)
    if record is None:
        return _row(key, MISSING, "never built", None)
    if code_version is not None and code_version != record.code_version:
        return _row(key, STALE, "code changed", record)
    for up in ups:
        read = record.inputs.get(up)
        now = current.get(up)
        if read is None:
            return _row(key, STALE, f"new upstream {up!r}", record)
        if now is not None and now.data_version != read.get("data_version"):
            return _row(key, STALE, f"upstream {up!r} changed", record)
        up_status = known.get(up)
        if up_status is not None and up_status.status in _PROBLEMS:
            return _row(key, STALE, f"upstream {up!r} is {up_status.status}", record)
    return _row(key, FRESH, "", record)


def _row(
    key: str, status: str, reason: str, record: Materialization | None, error: str | None = None
) -> AssetStatus:
    if record is None:
        return AssetStatus(key=key, status=status, reason=reason, error=error)
    return AssetStatus(
        key=key,
        status=status,
        reason=reason,
        env=record.env,
        data_version=record.data_version,
        code_version=record.code_version,
        rows=record.rows,
        built_at=record.finished_at,
        commit=record.commit,
        source=record.source,
        error=error,
    )
