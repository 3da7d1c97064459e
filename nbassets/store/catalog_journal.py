"""A SQL catalog read whole, in order and paged, and incidents copied as they were.

The SQL the SQLite and the PostgreSQL catalogs share for ``nbassets migrate-store`` (the
:class:`~nbassets.store.catalog.Catalog` methods ``journal``, ``all_check_results``,
``all_test_results``, ``incidents`` and ``copy_incidents``). Each function takes the
catalog's way of running one read (``fetch(sql, params) -> rows``) and its placeholder
(``?`` or ``%s``); every read is one indexed range scan (``seq`` and ``id`` are unique).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import orjson

from ..errors import StorageError
from .catalog import Failure, Forget, Incident, JournalEntry, RecordedCheck
from .results import CheckResult, TestResult
from .sqlite_rows import FAILURES, materialization

Fetch = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]

_CHECKS = (
    "id, env, key, data_version, name, severity, passed, failing_rows, sample, message, error, "
    "seconds, checked_at"
)
_TESTS = (  # in TestResult's field order
    'key, name, code_version, outcome, message, source, at, env, seconds, "user", test_version, id'
)
INCIDENT_COLUMNS = "env, key, kind, message, opened_at, closed_at"


def journal(fetch: Fetch, p: str, columns: str, after_seq: int, limit: int) -> list[JournalEntry]:
    """Materializations (read as ``columns``: ``COLUMNS, seq, code, rollback_of``), failures and
    forgets with ``seq`` above ``after_seq``, the first ``limit`` of them in ``seq`` order.

    Each table gives at most ``limit`` rows, so the first ``limit`` of the three merged are the
    first ``limit`` of the journal."""
    where = f"WHERE seq > {p} ORDER BY seq LIMIT {p}"
    built = [
        materialization(row)
        for row in fetch(f"SELECT {columns} FROM materializations {where}", (after_seq, limit))
    ]
    failed = [
        Failure(*row)
        for row in fetch(f"SELECT {FAILURES}, seq FROM failures {where}", (after_seq, limit))
    ]
    forgot = [
        Forget(key=row[2], env=row[3], user=row[4], at=row[5], seq=row[1], id=row[0])
        for row in fetch(f'SELECT id, seq, key, env, "user", at FROM forgets {where}',
                         (after_seq, limit))
    ]  # fmt: skip
    merged: Iterable[JournalEntry] = heapq.merge(built, failed, forgot, key=_seq)
    return list(merged)[:limit]


def _seq(entry: JournalEntry) -> int:
    return entry.seq or 0


def check_results(fetch: Fetch, p: str, after_id: int, limit: int) -> list[RecordedCheck]:
    """Check results with an id above ``after_id``, the first ``limit`` in id order."""
    rows = fetch(
        f"SELECT {_CHECKS} FROM check_results WHERE id > {p} ORDER BY id LIMIT {p}",
        (after_id, limit),
    )
    return [
        RecordedCheck(r[0], r[1], CheckResult(
            key=r[2], data_version=r[3], name=r[4], severity=r[5], passed=bool(r[6]),
            failing_rows=r[7], sample=orjson.loads(r[8]), message=r[9], error=r[10],
            seconds=r[11], checked_at=r[12],
        ))
        for r in rows
    ]  # fmt: skip


def unit_test_results(fetch: Fetch, p: str, after_id: int, limit: int) -> list[TestResult]:
    """Unit-test results with an id above ``after_id``, the first ``limit`` in id order."""
    rows = fetch(
        f"SELECT {_TESTS} FROM test_results WHERE id > {p} ORDER BY id LIMIT {p}",
        (after_id, limit),
    )
    return [TestResult(*row) for row in rows]


def incidents(fetch: Fetch) -> list[Incident]:
    """Every incident, in id order."""
    rows = fetch(f"SELECT {INCIDENT_COLUMNS}, id FROM incidents ORDER BY id", ())
    return [Incident(*row) for row in rows]


def incident_rows(incidents: Iterable[Incident]) -> list[tuple[str | None, ...]]:
    """The values ``INSERT INTO incidents (INCIDENT_COLUMNS)`` takes for each incident."""
    return [(i.env, i.key, i.kind, i.message, i.opened_at, i.closed_at) for i in incidents]


def unnumbered(location: str) -> StorageError:
    """The error of reading the journal of a catalog whose records have no ``seq`` (schema 1)."""
    return StorageError(
        f"the catalog {location} is of schema 1: its records have no sequence yet, so their "
        "order cannot be copied. Let this nbassets open it for writing once (any build or "
        "`nbassets forget` in its env migrates it), then run again."
    )
