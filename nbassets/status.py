"""Is an asset fresh, stale (and why), missing, failed or corrupt? Pure functions over records."""

from __future__ import annotations

import gc
from collections import defaultdict, deque
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import NamedTuple

from .store.catalog import Failure, Head, failed_since
from .store.results import CheckResult

FRESH, STALE, MISSING, FAILED, CHECK_FAILED = "fresh", "stale", "missing", "failed", "check-failed"
CORRUPT = "corrupt"  # the current version's file is missing or not the file recorded
ORPHANED = "orphaned"  # a store holds it, but no code of the project defines or reads it
ORPHAN_REASON = "no notebook or module defines it"
EXTERNAL_CODE = "external"  # the code version nbassets.save() records: no asset code made it


class AssetStatus(NamedTuple):
    """One row of ``%assets``: an asset's status, the reason, and its current version.

    An immutable named tuple rather than a frozen dataclass: a status table of
    ten thousand assets builds ten thousand of these, about 7x faster this way.
    """

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
    current: Mapping[str, Head],
    failures: Mapping[str, Failure] | None = None,
    failed_checks: Mapping[str, str] | None = None,
    corrupt: Mapping[str, str] | None = None,
    orphaned: Collection[str] = frozenset(),
    partitioned: Mapping[str, AssetStatus] | None = None,
) -> dict[str, AssetStatus]:
    """The status of every asset.

    ``code_versions`` holds the code version of each asset whose code is known
    here (``None`` where only stores know it); ``deps`` its upstream keys;
    ``current`` the version an input of that key resolves to now; ``failures``
    the latest failed build per key; ``failed_checks`` the name of a failed
    error-severity check of the current version per key; ``corrupt`` what is wrong with
    the file of the current version per key (missing, wrong size); ``orphaned`` the keys
    no code of the project defines or reads (:func:`orphaned_keys`); ``partitioned`` the own
    rows of partitioned assets (the worst of their partitions, :mod:`nbassets.partition_status`),
    taken as they are. Assets known only from records take their upstreams from the inputs
    they read.

    First each asset's own status (orphaned; else corrupt, failed, missing, check-failed,
    code or an input changed: DESIGN §2's precedence), then "stale: upstream 'x' is ..."
    spreads downstream from every asset that is neither fresh nor orphaned (nothing the
    code defines reads an orphan, and an orphan is orphaned whatever it read). Linear in
    assets plus edges, with no ordering needed.
    """
    failures = failures or {}
    failed_checks = failed_checks or {}
    corrupt = corrupt or {}
    partitioned = partitioned or {}
    unusual = failures.keys() | failed_checks.keys() | corrupt.keys()  # the full precedence
    statuses: dict[str, AssetStatus] = {}
    downstream: defaultdict[str, list[str]] = defaultdict(list)
    version_of, deps_of, current_of = code_versions.get, deps.get, current.get
    with gc_paused():
        for key in dict.fromkeys([*code_versions, *current, *failures]):
            record = current_of(key)
            if key in orphaned:
                statuses[key] = _row(key, ORPHANED, ORPHAN_REASON, record)
                continue
            ups = deps_of(key)
            if ups is None:
                ups = record.inputs if record is not None else ()
            for up in ups:
                downstream[up].append(key)
            if key in partitioned:
                statuses[key] = partitioned[key]
                continue
            if record is None or key in unusual:
                statuses[key] = _own_status(
                    key, version_of(key), ups, record, current, failures.get(key),
                    failed_checks.get(key), corrupt.get(key),
                )  # fmt: skip
                continue
            # the usual case (ten thousand times): built, no failure, check or damage
            code_version = version_of(key)
            if code_version is not None and code_version != record.code_version:
                reason = "code changed"
            else:
                reason = _input_change(ups, record.inputs, current_of)
            statuses[key] = _row(key, STALE if reason else FRESH, reason, record)
        for up in downstream.keys() - statuses.keys():
            statuses[up] = AssetStatus(up, MISSING, "never built")
        spreading = deque(
            key for key, row in statuses.items() if row.status != FRESH and row.status != ORPHANED
        )
        while spreading:
            up = spreading.popleft()
            reason = f"upstream {up!r} is {statuses[up].status}"
            for key in downstream.get(up, ()):
                if statuses[key].status == FRESH:
                    statuses[key] = _row(key, STALE, reason, current_of(key))
                    spreading.append(key)
    return statuses


def orphaned_keys(
    held: Mapping[str, Head | None], defined: Collection[str], deps: Mapping[str, Iterable[str]]
) -> set[str]:
    """The keys a store holds that the project's code neither defines nor reads.

    ``held`` maps each key to its current version (``None``: only failed builds recorded).
    ``defined`` must be every asset the project defines (all its notebooks, or its exported
    package), not one kernel's cells (``model.orphans`` looks further when it is not).
    External versions (``nbassets.save``) are inputs, never orphans, and so is every key
    some definition reads.
    """
    undefined = [key for key in held if key not in defined]
    if not undefined:
        return set()  # the usual case, without reading every edge
    read = {up for ups in deps.values() for up in ups}
    return {
        key
        for key in undefined
        if key not in read and ((head := held[key]) is None or head.code_version != EXTERNAL_CODE)
    }


def failing_checks(
    results: Iterable[CheckResult],
    versions: Collection[tuple[str, str]],
    check_names: Mapping[str, Iterable[str]],
) -> dict[tuple[str, str], str]:
    """(key, data version) -> name of a failed error-severity check, for the ``versions`` asked,
    from the latest ``results`` of each store (production's first: a later store's pass of the
    same check clears it). Only checks ``check_names`` lists for a key count (every check of a
    key it does not list)."""
    failing: dict[tuple[str, str], dict[str, None]] = {}  # names in the order they failed
    for result in results:
        which = (result.key, result.data_version)
        if which not in versions:
            continue
        defined = check_names.get(result.key)
        if defined is not None and result.name not in set(defined):
            continue
        if result.blocking:
            failing.setdefault(which, {})[result.name] = None
        elif result.name in failing.get(which, ()):
            del failing[which][result.name]  # a later run of the same check passed
    return {which: next(iter(names)) for which, names in failing.items() if names}


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while tens of thousands of small acyclic objects
    are made (it would otherwise run hundreds of times for nothing)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def in_definition_order(
    rows: Mapping[str, AssetStatus], definitions: Iterable[str]
) -> list[AssetStatus]:
    """Rows of defined assets in definition order, then the ones only stores know, by key,
    then the orphans, by key (listed apart: DESIGN §2)."""
    defined = list(definitions)
    known = set(defined)
    ordered = [rows[key] for key in defined if key in rows]
    rest = [rows[key] for key in sorted(rows) if key not in known]
    return (
        ordered
        + [row for row in rest if row.status != ORPHANED]
        + [row for row in rest if row.status == ORPHANED]
    )


def _own_status(
    key: str,
    code_version: str | None,
    ups: Iterable[str],
    record: Head | None,
    current: Mapping[str, Head],
    failure: Failure | None,
    failed_check: str | None = None,
    damage: str | None = None,
) -> AssetStatus:
    """The status of one asset from its own record, before upstream problems spread."""
    if damage is not None and record is not None:
        return _row(key, CORRUPT, damage, record)
    if failed_since(failure, record):
        lines = failure.error.strip().splitlines()
        return _row(key, FAILED, "last build raised", record, lines[-1] if lines else None)
    if record is None:
        return _row(key, MISSING, "never built", None)
    if failed_check is not None:
        return _row(key, CHECK_FAILED, f"check {failed_check} failed", record)
    if code_version is not None and code_version != record.code_version:
        return _row(key, STALE, "code changed", record)
    reason = _input_change(ups, record.inputs, current.get)
    return _row(key, STALE if reason else FRESH, reason, record)


def _input_change(
    ups: Iterable[str],
    inputs: Mapping[str, Mapping[str, str]],
    current_of: Callable[[str], Head | None],
) -> str:
    """Why the inputs a version read are not the current ones (``""``: they are)."""
    for up in ups:
        read = inputs.get(up)
        if read is None:
            return f"new upstream {up!r}"
        now = current_of(up)
        if now is not None and now.data_version != read["data_version"]:
            return f"upstream {up!r} changed"
    return ""


def _row(
    key: str, status: str, reason: str, record: Head | None, error: str | None = None
) -> AssetStatus:
    if record is None:
        return AssetStatus(key, status, reason, error=error)
    return _new(
        AssetStatus,
        (
            key,
            status,
            reason,
            record.env,
            record.data_version,
            record.code_version,
            record.rows,
            record.finished_at,
            record.commit,
            record.source,
            error,
        ),
    )  # every field, built as a tuple: ten thousand of these must be cheap


_new = tuple.__new__  # skips the named tuple's Python-level __new__ (2x faster)
