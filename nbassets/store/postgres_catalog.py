"""The PostgreSQL catalog: production's records on a server a team shares (``prod_catalog``).

Same tables, same records, same guarantees as the SQLite catalog
(:mod:`~nbassets.store.sqlite_catalog`; the schema is :mod:`~nbassets.store.postgres_schema`):
each write is one transaction that first takes the catalog's advisory write lock, so ids and the
one ``seq`` are handed out in commit order, whichever machine writes; records are never updated
(an incident's ``closed_at`` aside). A read-only catalog opens its session with
``default_transaction_read_only`` on, so the server itself refuses any write, and never creates
the schema: reading a database that holds no catalog yet gives empty answers. A writer creates
or migrates the schema on first use (:func:`~nbassets.store.postgres_schema.upgrade`) and checks
there that it may write, before a store writes a data file.

The password never comes from the URL written in ``pyproject.toml`` (refused there) but from
``PGPASSWORD`` or ``~/.pgpass``, as libpq reads them; ``location`` and every message name the
URL without a password (:func:`~nbassets.store.postgres_errors.redact`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import replace
from typing import Any

import orjson

from ..errors import CatalogTooNew, ReadOnlyError, StorageError
from ..jsonvalues import jsonable
from . import catalog_journal
from . import postgres_schema as schema
from .catalog import (
    PAGE,
    Failure,
    Head,
    Incident,
    IncidentKey,
    JournalEntry,
    Materialization,
    RecordedCheck,
)
from .postgres_errors import (
    CatalogPermissionDenied,
    PostgresCatalogDamaged,
    redact,
    translated,
)
from .results import CheckResult, TestResult
from .sqlite_file import busy_timeout
from .sqlite_rows import COLUMNS, FAILURES, failures_by_partition, materialization, partition_heads

_HEX = re.compile(r"^[0-9a-fA-F]{1,64}\Z")
_ALL = f"{COLUMNS}, seq, code, rollback_of"
_HEAD = 'key, env, data_version, code_version, inputs, rows, finished_at, "commit", source, path, '
_HEAD += "bytes, seq"
_CONNECT_TIMEOUT = 10  # seconds to reach the server


class PostgresCatalog:
    """The catalog in database ``url`` (``postgresql://user@host:port/database``)."""

    def __init__(self, url: str, *, writable: bool) -> None:
        self._url = url  # may hold a password given by the caller: kept here only
        self.writable = writable
        self._conn: Any = None
        self._version = 0  # 0: no catalog seen yet in the database

    @property
    def location(self) -> str:
        return redact(self._url)

    def __repr__(self) -> str:
        return f"PostgresCatalog({self.location!r}, writable={self.writable})"

    # connection
    def _connect(self) -> Any:
        """The open connection, checked; None for a reader while the database holds no catalog."""
        if self._conn is None or self._conn.closed or self._conn.broken:
            self.close()
            self._conn = self._open()
        if self._version == 0:
            self._version = self._check()
        return self._conn if self._version else None

    def _open(self) -> Any:
        import psycopg

        options = f"-c search_path={schema.SCHEMA} -c lock_timeout={int(busy_timeout() * 1000)}"
        if not self.writable:
            options += " -c default_transaction_read_only=on"
        with translated(self.location, "open"):
            return psycopg.connect(
                self._url,
                autocommit=True,
                connect_timeout=_CONNECT_TIMEOUT,
                options=options,
                application_name="nbassets",
            )

    def _check(self) -> int:
        """The catalog's schema version (0: none yet, for a reader); a writer creates or
        migrates it and checks it may write. A damaged or newer catalog is refused."""
        action = "write" if self.writable else "read"
        with translated(self.location, action):
            version = schema.found_version(self._conn)
            if self.writable and version is not None and version < schema.SCHEMA_VERSION:
                version = schema.upgrade(self._conn)
            if version is None:
                raise PostgresCatalogDamaged(
                    self.location,
                    f"schema {schema.SCHEMA} holds tables but no nbassets catalog_info",
                )
            if version > schema.SCHEMA_VERSION:
                raise CatalogTooNew(self.location, version, schema.SCHEMA_VERSION)
            if self.writable:
                self._check_writable()
        return version

    def _check_writable(self) -> None:
        """Refuse now what recording would refuse: a read-only server, missing privileges."""
        read_only, may_write = self._conn.execute(
            "SELECT current_setting('transaction_read_only') = 'on', "
            "has_table_privilege('materializations', 'INSERT') AND "
            "has_table_privilege('failures', 'INSERT') AND has_table_privilege('forgets', "
            "'INSERT') AND has_table_privilege('incidents', 'INSERT, UPDATE') AND "
            "has_sequence_privilege('record_seq', 'USAGE')"
        ).fetchone()
        if read_only:
            raise ReadOnlyError(
                f"the catalog {self.location} is on a read-only server (a standby, or "
                "default_transaction_read_only set for this user): builds write through the "
                "primary server."
            )
        if not may_write:
            raise CatalogPermissionDenied(
                self.location, "write", "INSERT on its tables or USAGE on nbassets.record_seq"
            )

    def ready(self) -> None:
        if self.writable:
            self._connect()

    def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            with suppress(Exception):  # a broken connection: nothing more to release
                conn.close()

    @contextmanager
    def _write(self) -> Iterator[Any]:
        """One write transaction under the catalog's advisory lock (commit order = id order)."""
        if not self.writable:
            raise ReadOnlyError(f"catalog {self.location} is open read-only")
        conn = self._connect()
        with translated(self.location, "write"), conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (schema.WRITE_LOCK,))
            yield conn

    def _rows(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        """The rows of one read (none while the database holds no catalog)."""
        conn = self._connect()
        if conn is None:
            return []
        with translated(self.location, "read"):
            return list(conn.execute(sql, tuple(params)).fetchall())

    # writes
    def record(self, m: Materialization) -> Materialization:
        """Insert one materialization in its own transaction; return it with its id and seq."""
        with self._write() as conn:
            id_, seq = conn.execute(
                f"INSERT INTO materializations ({COLUMNS.removeprefix('id, ')}, code, "
                "rollback_of) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,"
                "%s) RETURNING id, seq",
                (m.key, m.env, m.partition, m.data_version, m.code_version, m.commit,
                 None if m.dirty is None else int(m.dirty), m.source,
                 json.dumps(m.inputs, sort_keys=True), m.rows,
                 None if m.schema is None else json.dumps(m.schema), m.bytes, m.path, m.io,
                 m.kind, m.user, m.started_at, m.finished_at, m.code, m.rollback_of),
            ).fetchone()  # fmt: skip
        return replace(m, id=id_, seq=seq)

    def record_failure(self, f: Failure) -> None:
        """Insert one failed build."""
        with self._write() as conn:
            conn.execute(
                'INSERT INTO failures (key, env, partition, code_version, error, source, "user", '
                "started_at, finished_at) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                (f.key, f.env, f.partition, f.code_version, f.error, f.source, f.user,
                 f.started_at, f.finished_at),
            )  # fmt: skip

    def forget(self, key: str, env: str, user: str | None, at: str) -> None:
        """Insert one forget of ``key``: the latest reads no longer report it."""
        with self._write() as conn:
            conn.execute(
                'INSERT INTO forgets (key, env, "user", at) VALUES (%s,%s,%s,%s)',
                (key, env, user, at),
            )

    def record_checks(self, results: Iterable[CheckResult], env: str) -> None:
        """Insert check results (of any store's versions) in one transaction."""
        rows = [
            (r.key, r.data_version, env, r.name, r.severity, int(r.passed), r.failing_rows,
             json.dumps(jsonable(r.sample)), r.message, r.error, r.seconds, r.checked_at)
            for r in results
        ]  # fmt: skip
        with self._write() as conn, conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO check_results (key, data_version, env, name, severity, passed, "
                "failing_rows, sample, message, error, seconds, checked_at) "
                "VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                rows,
            )

    def record_tests(self, results: Iterable[TestResult]) -> None:
        """Insert unit-test results in one transaction."""
        rows = [
            (r.key, r.name, r.code_version, r.outcome, r.message, r.env, r.source, r.user,
             r.seconds, r.at, r.test_version)
            for r in results
        ]  # fmt: skip
        with self._write() as conn, conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO test_results (key, name, code_version, outcome, message, env, "
                'source, "user", seconds, at, test_version) '
                "VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                rows,
            )

    def record_incidents(
        self,
        env: str,
        opened: Mapping[IncidentKey, str],
        closed: Iterable[IncidentKey],
        at: str,
    ) -> None:
        """Open the incidents ``opened`` and close ``closed``, in one transaction."""
        with self._write() as conn, conn.cursor() as cursor:
            cursor.executemany(
                "UPDATE incidents SET closed_at = %s WHERE env = %s AND key = %s AND kind = %s "
                "AND closed_at IS NULL",
                [(at, env, key, kind) for key, kind in closed],
            )
            cursor.executemany(
                "INSERT INTO incidents (env, key, kind, message, opened_at) "
                "VALUES (%s,%s,%s,%s,%s)",
                [(env, key, kind, message, at) for (key, kind), message in opened.items()],
            )

    def copy_incidents(self, incidents: Iterable[Incident]) -> None:
        """Insert incidents as they were (opened and closed times), in one transaction."""
        with self._write() as conn, conn.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO incidents ({catalog_journal.INCIDENT_COLUMNS}) "
                "VALUES (%s,%s,%s,%s,%s,%s)",
                catalog_journal.incident_rows(incidents),
            )

    # the whole catalog, in order and paged (the SQL is catalog_journal's)
    def journal(self, after_seq: int = 0, limit: int = PAGE) -> list[JournalEntry]:
        return catalog_journal.journal(self._rows, "%s", _ALL, after_seq, limit)

    def all_check_results(self, after_id: int = 0, limit: int = PAGE) -> list[RecordedCheck]:
        return catalog_journal.check_results(self._rows, "%s", after_id, limit)

    def all_test_results(self, after_id: int = 0, limit: int = PAGE) -> list[TestResult]:
        return catalog_journal.unit_test_results(self._rows, "%s", after_id, limit)

    def incidents(self) -> list[Incident]:
        return catalog_journal.incidents(self._rows)

    # reads
    def open_incidents(self, env: str) -> dict[IncidentKey, str]:
        rows = self._rows(
            "SELECT key, kind, message FROM incidents WHERE env = %s AND closed_at IS NULL "
            "ORDER BY id",
            (env,),
        )
        return {(key, kind): message for key, kind, message in rows}

    def test_results(self, keys: Iterable[str] | None = None) -> list[TestResult]:
        where, params = ("", []) if keys is None else ("WHERE key = ANY(%s)", [sorted(set(keys))])
        rows = self._rows(
            "SELECT key, name, code_version, outcome, message, source, at, env, seconds, "
            '"user", test_version, id FROM test_results WHERE id IN (SELECT max(id) FROM '
            f"test_results {where} GROUP BY key, name, code_version) ORDER BY id",
            params,
        )
        return [TestResult(*row) for row in rows]  # the columns in TestResult's field order

    def check_results(self, key: str, data_version: str) -> list[CheckResult]:
        return self._check_results("WHERE key = %s AND data_version = %s", (key, data_version))

    def versions_check_results(self, data_versions: Iterable[str]) -> list[CheckResult]:
        # one text parameter split by the server: psycopg dumps a 10,000-item list in 30 ms
        joined = ",".join(set(data_versions))  # data versions are hex: no comma in one
        return self._check_results("WHERE data_version = ANY(string_to_array(%s, ','))", (joined,))

    def _check_results(self, where: str, params: tuple[Any, ...]) -> list[CheckResult]:
        rows = self._rows(
            "SELECT key, data_version, name, severity, passed, failing_rows, sample, message, "
            "error, seconds, checked_at FROM check_results WHERE id IN (SELECT max(id) FROM "
            f"check_results {where} GROUP BY data_version, key, name) ORDER BY id",
            params,
        )
        return [
            CheckResult(key=r[0], data_version=r[1], name=r[2], severity=r[3], passed=bool(r[4]),
                        failing_rows=r[5], sample=orjson.loads(r[6]), message=r[7], error=r[8],
                        seconds=r[9], checked_at=r[10])
            for r in rows
        ]  # fmt: skip

    def _visible(self, table: str) -> str:
        """A condition on ``table``'s rows: recorded after their key's latest forget ("TRUE"
        when nothing was ever forgotten, the usual case, checked in one cheap look)."""
        if not self._rows("SELECT 1 FROM forgets LIMIT 1"):
            return "TRUE"
        return (
            f"{table}.seq > coalesce((SELECT max(f.seq) FROM forgets f WHERE f.key = {table}.key)"
            ", 0)"
        )

    def _latest_ids(self, table: str = "materializations") -> str:
        """A condition on ``table``'s rows: the latest of each key (of any partition). As a
        semi-join it is a quarter faster on 10,000 keys than joining the grouped heads."""
        heads = "heads" if table == "materializations" else "failure_heads"
        return f"id IN (SELECT max(id) FROM {heads} GROUP BY key)"

    def latest(self, keys: Iterable[str] | None = None) -> dict[str, Materialization]:
        wanted = None if keys is None else set(keys)
        rows = self._rows(
            f"SELECT {_ALL} FROM materializations WHERE {self._latest_ids()} "
            f"AND {self._visible('materializations')}"
        )
        found = (materialization(row) for row in rows)
        return {m.key: m for m in found if wanted is None or m.key in wanted}

    def heads(self) -> dict[str, Head]:
        rows = self._rows(
            f"SELECT {_HEAD} FROM materializations WHERE {self._latest_ids()} "
            f"AND {self._visible('materializations')}"
        )
        loads, new = orjson.loads, tuple.__new__  # every field given: skips Head's __new__
        return {
            r[0]: new(
                Head,
                (r[0], r[1], r[2], r[3], loads(r[4]), r[5], r[6], r[7], r[8], r[9], r[10], r[11]),
            )
            for r in rows
        }

    def latest_of(self, key: str) -> Materialization | None:
        rows = self._rows(
            f"SELECT {_ALL} FROM materializations WHERE id = (SELECT max(id) FROM heads "
            f"WHERE key = %s) AND {self._visible('materializations')}",
            (key,),
        )
        return materialization(rows[0]) if rows else None

    def partition_heads(self, keys: Iterable[str] | None = None) -> dict[str, dict[str, Head]]:
        where, params = ("", []) if keys is None else ("WHERE key = ANY(%s)", [sorted(set(keys))])
        rows = self._rows(
            f"SELECT partition, {_HEAD} FROM materializations JOIN (SELECT max(id) AS latest_id "
            f"FROM heads {where} GROUP BY key, partition) h ON id = latest_id WHERE "
            f"{self._visible('materializations')} ORDER BY key, partition",
            params,
        )
        return partition_heads(rows)

    def partition_records(self, key: str) -> dict[str, Materialization]:
        rows = self._rows(
            f"SELECT {_ALL} FROM materializations JOIN (SELECT max(id) AS latest_id FROM heads "
            "WHERE key = %s GROUP BY partition) h ON id = latest_id WHERE "
            f"{self._visible('materializations')} ORDER BY partition",
            (key,),
        )
        return {m.partition: m for m in map(materialization, rows)}

    def version(self, key: str, data_version: str) -> Materialization | None:
        if not _HEX.match(data_version):
            return None
        rows = self._rows(
            f"SELECT {_ALL} FROM materializations WHERE key = %s AND lower(data_version) "
            "LIKE %s ORDER BY id DESC LIMIT 1",
            (key, data_version.lower() + "%"),
        )
        return materialization(rows[0]) if rows else None

    def history(self, key: str, limit: int = 50) -> list[Materialization]:
        rows = self._rows(
            f"SELECT {_ALL} FROM materializations WHERE key = %s ORDER BY id DESC LIMIT %s",
            (key, limit),
        )
        return [materialization(row) for row in rows]

    def failure_history(self, key: str, limit: int = 50) -> list[Failure]:
        rows = self._rows(
            f"SELECT {FAILURES}, seq FROM failures WHERE key = %s ORDER BY id DESC LIMIT %s",
            (key, limit),
        )
        return [Failure(*row) for row in rows]

    def last_failures(self) -> dict[str, Failure]:
        rows = self._rows(
            f"SELECT {FAILURES}, seq FROM failures WHERE {self._latest_ids('failures')} "
            f"AND {self._visible('failures')}"
        )
        return {r[0]: Failure(*r) for r in rows}  # the columns in Failure's field order

    def partition_failures(self, keys: Iterable[str]) -> dict[str, dict[str, Failure]]:
        rows = self._rows(
            f"SELECT {FAILURES}, seq FROM failures JOIN (SELECT max(id) AS latest_id FROM "
            "failure_heads WHERE key = ANY(%s) GROUP BY key, partition) h ON id = latest_id "
            f"WHERE {self._visible('failures')}",
            (sorted(set(keys)),),
        )
        return failures_by_partition(rows)

    def keys(self) -> set[str]:
        rows = self._rows(  # a key's latest record is visible when any of its records is
            f"SELECT key FROM materializations WHERE {self._latest_ids()} AND "
            f"{self._visible('materializations')} UNION SELECT key FROM failures "
            f"WHERE {self._latest_ids('failures')} AND {self._visible('failures')}"
        )
        return {row[0] for row in rows}

    def forgotten_before(self) -> dict[str, int]:
        rows = self._rows(
            "SELECT f.key, f.forgot FROM (SELECT key, max(seq) AS forgot FROM forgets GROUP BY "
            "key) f WHERE f.forgot > coalesce((SELECT seq FROM materializations WHERE id = "
            "(SELECT max(id) FROM heads h WHERE h.key = f.key)), 0) AND f.forgot > coalesce(("
            "SELECT seq FROM failures WHERE id = (SELECT max(id) FROM failure_heads h "
            "WHERE h.key = f.key)), 0)"
        )
        return {key: seq for key, seq in rows}


def open_catalog(url: str, *, writable: bool) -> PostgresCatalog:
    """A :class:`PostgresCatalog`, or a :class:`~nbassets.errors.StorageError` that says how
    to install psycopg when it is missing."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise StorageError(
            f"prod_catalog = {redact(url)!r} needs psycopg, which is not installed: "
            "pip install 'nbassets[postgres]'."
        ) from None
    return PostgresCatalog(url, writable=writable)
