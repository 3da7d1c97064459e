"""The SQLite catalog's results and incidents: check results, unit-test results, alert incidents.

Functions over an open connection of :class:`~nbassets.store.sqlite_catalog.SqliteCatalog`
(autocommit mode, checked and migrated): the catalog decides when they may run (writable, the
schema version), these hold the SQL. An incident (schema 6) opens when a problem is first seen
and closes when a later run finds it gone (:mod:`nbassets.alerts`); it is the one row of the
catalog that changes: a closed incident gets its ``closed_at``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping

import orjson

from ..jsonvalues import jsonable
from .catalog import Incident, IncidentKey
from .catalog_journal import INCIDENT_COLUMNS, incident_rows
from .results import CheckResult, TestResult


def record_checks(conn: sqlite3.Connection, results: Iterable[CheckResult], env: str) -> None:
    """Insert check results (of any store's versions) in one transaction."""
    rows = [
        (r.key, r.data_version, env, r.name, r.severity, int(r.passed), r.failing_rows,
         json.dumps(jsonable(r.sample)), r.message, r.error, r.seconds, r.checked_at)
        for r in results
    ]  # fmt: skip
    with _transaction(conn):
        conn.executemany(
            "INSERT INTO check_results (key, data_version, env, name, severity, passed, "
            "failing_rows, sample, message, error, seconds, checked_at) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            rows,
        )


def check_results(
    conn: sqlite3.Connection, where: str, params: tuple[str, ...]
) -> list[CheckResult]:
    """The latest result per (data version, key, check name) of the rows ``where`` selects."""
    rows = conn.execute(
        "SELECT key, data_version, name, severity, passed, failing_rows, sample, message, "
        f"error, seconds, checked_at FROM check_results WHERE id IN (SELECT MAX(id) FROM "
        f"check_results {where} GROUP BY data_version, key, name) ORDER BY id",
        params,
    ).fetchall()
    return [
        CheckResult(key=r[0], data_version=r[1], name=r[2], severity=r[3], passed=bool(r[4]),
                    failing_rows=r[5], sample=orjson.loads(r[6]), message=r[7], error=r[8],
                    seconds=r[9], checked_at=r[10])
        for r in rows
    ]  # fmt: skip


def record_tests(conn: sqlite3.Connection, results: Iterable[TestResult]) -> None:
    """Insert unit-test results in one statement (one transaction)."""
    conn.executemany(
        "INSERT INTO test_results (key, name, code_version, outcome, message, env, "
        "source, user, seconds, at, test_version) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        [(r.key, r.name, r.code_version, r.outcome, r.message, r.env, r.source, r.user,
          r.seconds, r.at, r.test_version) for r in results],
    )  # fmt: skip


def test_results(conn: sqlite3.Connection, keys: Iterable[str] | None) -> list[TestResult]:
    """The latest result of each (key, name, code version), oldest first."""
    where = "" if keys is None else "WHERE key IN (SELECT value FROM json_each(?))"
    params = () if keys is None else (orjson.dumps(sorted(set(keys))).decode(),)
    rows = conn.execute(
        "SELECT key, name, code_version, outcome, message, source, at, env, seconds, user, "
        "test_version, id FROM test_results WHERE id IN (SELECT MAX(id) FROM test_results "
        f"{where} GROUP BY key, name, code_version) ORDER BY id",
        params,
    ).fetchall()
    return [TestResult(*row) for row in rows]  # the columns in TestResult's field order


def open_incidents(conn: sqlite3.Connection, env: str) -> dict[IncidentKey, str]:
    """The incidents open in ``env``: ``{(key, kind): message}``, oldest first."""
    rows = conn.execute(
        "SELECT key, kind, message FROM incidents WHERE env = ? AND closed_at IS NULL ORDER BY id",
        (env,),
    ).fetchall()
    return {(key, kind): message for key, kind, message in rows}


def record_incidents(
    conn: sqlite3.Connection,
    env: str,
    opened: Mapping[IncidentKey, str],
    closed: Iterable[IncidentKey],
    at: str,
) -> None:
    """Open the incidents ``opened`` and close ``closed``, in one transaction."""
    with _transaction(conn):
        conn.executemany(
            "UPDATE incidents SET closed_at = ? WHERE env = ? AND key = ? AND kind = ? "
            "AND closed_at IS NULL",
            [(at, env, key, kind) for key, kind in closed],
        )
        conn.executemany(
            "INSERT INTO incidents (env, key, kind, message, opened_at) VALUES (?,?,?,?,?)",
            [(env, key, kind, message, at) for (key, kind), message in opened.items()],
        )


def copy_incidents(conn: sqlite3.Connection, incidents: Iterable[Incident]) -> None:
    """Insert incidents as they were (opened and closed times), in one transaction."""
    with _transaction(conn):
        conn.executemany(
            f"INSERT INTO incidents ({INCIDENT_COLUMNS}) VALUES (?,?,?,?,?,?)",
            incident_rows(incidents),
        )


class _transaction:
    """``BEGIN IMMEDIATE`` … ``COMMIT``, rolled back on any exception."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, error: object, traceback: object) -> None:
        if kind is None:
            self.conn.execute("COMMIT")
        elif self.conn.in_transaction:
            self.conn.execute("ROLLBACK")
