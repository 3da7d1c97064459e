"""The SQLite catalog: a store's ``catalog.sqlite`` of materializations, failures and checks.

Schema (version 6, documented for users who query it; see docs/storage.md):

    materializations(id, key, env, partition, data_version, code_version, "commit", dirty,
                     source, inputs, rows, schema, bytes, path, io, kind, user,
                     started_at, finished_at, seq, code, rollback_of)
    failures(id, key, env, partition, code_version, error, source, user,
             started_at, finished_at, seq)
    forgets(id, seq, key, env, user, at)
    check_results(id, key, data_version, env, name, severity, passed, failing_rows,
                  sample, message, error, seconds, checked_at)
    test_results(id, key, name, code_version, outcome, message, env, source, user,
                 seconds, at, test_version)
    heads(key, partition, id), failure_heads(key, partition, id)
    incidents(id, env, key, kind, message, opened_at, closed_at)

``inputs`` is JSON ``{upstream_key: {"data_version": ..., "env": ...}}`` (``"partitions"``: how
many partitions a combined version covers); ``schema`` is JSON ``{column: dtype}``. Times are
ISO 8601 in UTC. WAL mode and a busy timeout let several kernels and processes write at once.
A new catalog is created complete under a temporary name (``catalog.sqlite.tmp-…``) and linked
into place, so a crash of the first write never leaves a 0-byte or schema-less
``catalog.sqlite``: an existing file that is empty or holds no nbassets schema is always
damage, and is refused like any other. Failures name what is really wrong (see
:mod:`nbassets.errors`): a full disk, a read-only filesystem, missing permissions, a lock
held past the busy timeout (``NBASSETS_BUSY_TIMEOUT`` seconds, default 30), a catalog from
a newer nbassets; only real damage is reported as damaged. A writable catalog checks, when
it opens, that it can take the write lock, so a store learns it cannot record before it
writes a data file.
Ids are SQLite rowids (never reused: rows are never deleted), the insertion order the
:class:`~nbassets.store.catalog.Catalog` contract asks for. Materializations, failures and
forgets share one sequence, a ``seq`` column set to 1 + the highest of all three inside each
insert, under the write lock (``sqlite_file.NEXT_SEQ``). An older schema is migrated by the
first writable open (:mod:`~nbassets.store.migrations`) and read as it is otherwise. The
"latest" reads start from ``heads`` and ``failure_heads`` (the latest id of each key and
partition, kept by triggers in each insert's transaction), so they cost the keys and
partitions, never the history. Forgets cost nothing until the ``forgets`` table has rows.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path

import orjson

from ..errors import ReadOnlyError, StoreFull
from ..policy import refuse_catalog_links
from . import catalog_journal, sqlite_file, sqlite_results
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
from .results import CheckResult, TestResult
from .sqlite_rows import COLUMNS, FAILURES, failures_by_partition, materialization, partition_heads

_HEX = re.compile(r"^[0-9a-fA-F]{1,64}\Z")

_NEXT = sqlite_file.NEXT_SEQ


class SqliteCatalog:
    """A store's ``catalog.sqlite``; read-only catalogs never create or change a file."""

    def __init__(self, path: Path, *, writable: bool) -> None:
        self.path = path.absolute()
        self.writable = writable
        self.forbidden_root: Path | None = None  # a sandbox's write grant: production's real path
        self._conn: sqlite3.Connection | None = None
        self._stamp: tuple[bool, int, int] | None = None
        self._version = sqlite_file.SCHEMA_VERSION  # of the open connection's catalog

    @property
    def location(self) -> str:
        return str(self.path)

    # connection
    def _connect(self) -> sqlite3.Connection | None:
        """The open connection, or ``None`` for a read-only catalog that holds nothing yet.

        A read-only catalog with no writer at work (no ``-wal`` file, or an empty one) is opened
        ``immutable``, so reading it creates no file beside it; the connection is
        reopened when the file changes or a writer starts. A writable one is
        reopened (and created again) when its file was removed or replaced; each time
        it opens, it checks that it can take the write lock.
        """
        stamp = sqlite_file.stamp(self.path, self.writable)
        if self._conn is not None and stamp is not None and stamp == self._stamp:
            return self._conn
        self.close()
        if not self.writable and stamp is None:
            return None
        if self.writable:  # a sandbox's (forbidden_root set): never production's files
            refuse_catalog_links(self.path, self.forbidden_root)
        try:
            conn, self._version = sqlite_file.connect(self.path, self.writable, stamp)
        except StoreFull:
            if self.writable:  # leave no -wal/-shm that would make every reader fail
                sqlite_file.drop_unusable_wal(self.path)
            raise
        self._conn, self._stamp = conn, sqlite_file.stamp(self.path, self.writable)
        return conn

    def ready(self) -> None:
        if self.writable:
            self._connect()  # (re)opening checks the schema and takes the write lock once

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # writes
    def record(self, m: Materialization) -> Materialization:
        """Insert one materialization in its own transaction; return it with its id and seq."""
        with sqlite_file.translated(self.path, "write", self.writable):
            conn = self._require_writable()
            cursor = conn.execute(
                f"INSERT INTO materializations ({COLUMNS.removeprefix('id, ')}, code, rollback_of, "
                "seq) "
                f"VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,{_NEXT})",
                (
                    m.key,
                    m.env,
                    m.partition,
                    m.data_version,
                    m.code_version,
                    m.commit,
                    None if m.dirty is None else int(m.dirty),
                    m.source,
                    json.dumps(m.inputs, sort_keys=True),
                    m.rows,
                    None if m.schema is None else json.dumps(m.schema),
                    m.bytes,
                    m.path,
                    m.io,
                    m.kind,
                    m.user,
                    m.started_at,
                    m.finished_at,
                    m.code,
                    m.rollback_of,
                ),
            )
            id_ = cursor.lastrowid  # (not RETURNING: SQLite before 3.35 has none)
            [(seq,)] = conn.execute("SELECT seq FROM materializations WHERE id = ?", (id_,))
            return replace(m, id=id_, seq=seq)

    def record_failure(self, f: Failure) -> None:
        """Insert one failed build."""
        with sqlite_file.translated(self.path, "write", self.writable):
            conn = self._require_writable()
            conn.execute(
                "INSERT INTO failures (key, env, partition, code_version, error, source, user, "
                f"started_at, finished_at, seq) VALUES (?,?,?,?,?,?,?,?,?,{_NEXT})",
                (f.key, f.env, f.partition, f.code_version, f.error, f.source, f.user,
                 f.started_at, f.finished_at),
            )  # fmt: skip

    def forget(self, key: str, env: str, user: str | None, at: str) -> None:
        """Insert one forget of ``key``: the latest reads no longer report it."""
        with sqlite_file.translated(self.path, "write", self.writable):
            conn = self._require_writable()
            conn.execute(
                f"INSERT INTO forgets (seq, key, env, user, at) VALUES ({_NEXT},?,?,?,?)",
                (key, env, user, at),
            )

    def record_checks(self, results: Iterable[CheckResult], env: str) -> None:
        """Insert check results (of any store's versions) in one transaction."""
        with sqlite_file.translated(self.path, "write", self.writable):
            sqlite_results.record_checks(self._require_writable(), results, env)

    def record_tests(self, results: Iterable[TestResult]) -> None:
        """Insert unit-test results in one statement (one transaction)."""
        with sqlite_file.translated(self.path, "write", self.writable):
            sqlite_results.record_tests(self._require_writable(), results)

    def record_incidents(
        self,
        env: str,
        opened: Mapping[IncidentKey, str],
        closed: Iterable[IncidentKey],
        at: str,
    ) -> None:
        """Open the incidents ``opened`` and close ``closed``, in one transaction (schema 6)."""
        with sqlite_file.translated(self.path, "write", self.writable):
            sqlite_results.record_incidents(self._require_writable(), env, opened, closed, at)

    def open_incidents(self, env: str) -> dict[IncidentKey, str]:
        """The incidents open in ``env`` (none in a catalog read before schema 6)."""
        conn = self._connect()
        if conn is None or self._version < 6:
            return {}
        with sqlite_file.translated(self.path, "read", self.writable):
            return sqlite_results.open_incidents(conn, env)

    def test_results(self, keys: Iterable[str] | None = None) -> list[TestResult]:
        """The latest result of each (key, name, code version), oldest first."""
        conn = self._connect()
        if conn is None or self._version < 3:
            return []
        return sqlite_results.test_results(conn, keys)

    def check_results(self, key: str, data_version: str) -> list[CheckResult]:
        """The latest result of each check of one version, by check name."""
        if (conn := self._connect()) is None:
            return []
        where = "WHERE key = ? AND data_version = ?"
        return sqlite_results.check_results(conn, where, (key, data_version))

    def versions_check_results(self, data_versions: Iterable[str]) -> list[CheckResult]:
        """The latest result of each check of the given versions (cheap: uses an index)."""
        if (conn := self._connect()) is None:
            return []  # before encoding ten thousand versions for nothing
        versions = orjson.dumps(list(set(data_versions))).decode()
        where = "WHERE data_version IN (SELECT value FROM json_each(?))"
        return sqlite_results.check_results(conn, where, (versions,))

    # the whole catalog, in order and paged (the SQL is catalog_journal's)
    def journal(self, after_seq: int = 0, limit: int = PAGE) -> list[JournalEntry]:
        if (conn := self._connect()) is None:
            return []
        if self._version < 2:
            raise catalog_journal.unnumbered(self.location)
        return catalog_journal.journal(_fetch(conn), "?", self._columns(), after_seq, limit)

    def all_check_results(self, after_id: int = 0, limit: int = PAGE) -> list[RecordedCheck]:
        conn = self._connect()
        return (
            []
            if conn is None
            else catalog_journal.check_results(_fetch(conn), "?", after_id, limit)
        )

    def all_test_results(self, after_id: int = 0, limit: int = PAGE) -> list[TestResult]:
        if (conn := self._connect()) is None or self._version < 3:
            return []
        return catalog_journal.unit_test_results(_fetch(conn), "?", after_id, limit)

    def incidents(self) -> list[Incident]:
        conn = self._connect()
        return [] if conn is None or self._version < 6 else catalog_journal.incidents(_fetch(conn))

    def copy_incidents(self, incidents: Iterable[Incident]) -> None:
        with sqlite_file.translated(self.path, "write", self.writable):
            sqlite_results.copy_incidents(self._require_writable(), incidents)

    def _require_writable(self) -> sqlite3.Connection:
        if not self.writable:
            raise ReadOnlyError(f"catalog {self.path} is open read-only")
        conn = self._connect()
        assert conn is not None
        return conn

    # reads
    def _seq(self) -> str:
        """The ``seq`` column, or NULL in a catalog read before its migration."""
        return "seq" if self._version >= 2 else "NULL"

    def _columns(self) -> str:
        """``COLUMNS``, ``seq`` and ``code``: NULL for those a catalog read before its migration
        lacks."""
        code = "code" if self._version >= 3 else "NULL"
        rollback_of = "rollback_of" if self._version >= 5 else "NULL"
        return f"{COLUMNS}, {self._seq()}, {code}, {rollback_of}"

    def _heads(self, table: str = "materializations") -> str:
        """Where the latest id of each key and partition of ``table`` is read: its heads table
        (schema 4, kept by triggers), or ``table`` itself in a catalog read before then."""
        if self._version < 4:
            return table
        return "heads" if table == "materializations" else "failure_heads"

    def _latest(self, table: str = "materializations") -> str:
        """Joined to ``table`` to keep only the latest row of each key (of any partition)."""
        heads = self._heads(table)
        return f"JOIN (SELECT max(id) AS latest_id FROM {heads} GROUP BY key) ON id = latest_id"

    def _visible(self, conn: sqlite3.Connection, table: str) -> str:
        """A condition on ``table``'s rows: recorded after their key's latest forget ("1"
        when nothing was ever forgotten, the usual case, checked in one cheap look)."""
        if self._version < 2 or conn.execute("SELECT 1 FROM forgets LIMIT 1").fetchone() is None:
            return "1"
        return (
            f"{table}.seq > coalesce((SELECT max(f.seq) FROM forgets f WHERE f.key = {table}.key)"
            ", 0)"
        )

    def latest(self, keys: Iterable[str] | None = None) -> dict[str, Materialization]:
        """The latest materialization of each key (all keys when ``keys`` is None)."""
        if (conn := self._connect()) is None:
            return {}
        rows = conn.execute(
            f"SELECT {self._columns()} FROM materializations "
            f"{self._latest()} WHERE {self._visible(conn, 'materializations')}"
        ).fetchall()
        wanted = None if keys is None else set(keys)
        found = (materialization(row) for row in rows)
        return {m.key: m for m in found if wanted is None or m.key in wanted}

    def heads(self) -> dict[str, Head]:
        """The :class:`Head` of the latest materialization of every key."""
        if (conn := self._connect()) is None:
            return {}
        rows = conn.execute(
            "SELECT key, env, data_version, code_version, inputs, rows, finished_at, "
            f'"commit", source, path, bytes, {self._seq()} FROM materializations '
            f"{self._latest()} WHERE {self._visible(conn, 'materializations')}"
        ).fetchall()
        loads = orjson.loads  # 3x faster than json for ten thousand small objects
        new = tuple.__new__  # every field given: skips Head's Python-level __new__
        return {
            r[0]: new(
                Head,
                (r[0], r[1], r[2], r[3], loads(r[4]), r[5], r[6], r[7], r[8], r[9], r[10], r[11]),
            )
            for r in rows
        }

    def partition_records(self, key: str) -> dict[str, Materialization]:
        """Partition -> the latest materialization of that partition of ``key``, by partition."""
        if (conn := self._connect()) is None:
            return {}
        rows = conn.execute(
            f"SELECT {self._columns()} FROM materializations JOIN (SELECT max(id) AS latest_id "
            f"FROM {self._heads()} WHERE key = ? GROUP BY partition) ON id = latest_id WHERE "
            f"{self._visible(conn, 'materializations')} ORDER BY partition",
            (key,),
        ).fetchall()
        return {m.partition: m for m in map(materialization, rows)}

    def partition_heads(self, keys: Iterable[str] | None = None) -> dict[str, dict[str, Head]]:
        """Key -> partition -> the :class:`Head` of its latest materialization (of every key
        when ``keys`` is None), by key and partition; from the heads (a scan before schema 4)."""
        if (conn := self._connect()) is None:
            return {}
        where, params = "", []
        if keys is not None:
            where = "WHERE key IN (SELECT value FROM json_each(?))"
            params = [orjson.dumps(sorted(set(keys))).decode()]
        rows = conn.execute(
            "SELECT partition, key, env, data_version, code_version, inputs, rows, finished_at, "
            f'"commit", source, path, bytes, {self._seq()} FROM materializations JOIN (SELECT '
            f"max(id) AS latest_id FROM {self._heads()} {where} GROUP BY key, partition) ON "
            f"id = latest_id WHERE {self._visible(conn, 'materializations')} "
            "ORDER BY key, partition",
            params,
        ).fetchall()
        return partition_heads(rows)

    def latest_of(self, key: str) -> Materialization | None:
        """The latest materialization of one key."""
        if (conn := self._connect()) is None:
            return None
        row = conn.execute(
            f"SELECT {self._columns()} FROM materializations WHERE id = (SELECT max(id) FROM "
            f"{self._heads()} WHERE key = ?) AND {self._visible(conn, 'materializations')}",
            (key,),
        ).fetchone()
        return materialization(row) if row else None

    def version(self, key: str, data_version: str) -> Materialization | None:
        """The latest record of ``key`` whose data version starts with ``data_version``."""
        conn = self._connect()
        if conn is None or not _HEX.match(data_version):
            return None
        row = conn.execute(
            f"SELECT {self._columns()} FROM materializations WHERE key = ? AND "
            "data_version LIKE ? ORDER BY id DESC LIMIT 1",
            (key, data_version.lower() + "%"),
        ).fetchone()
        return materialization(row) if row else None

    def history(self, key: str, limit: int = 50) -> list[Materialization]:
        """The most recent materializations of ``key``, newest first (forgotten or not)."""
        if (conn := self._connect()) is None:
            return []
        rows = conn.execute(
            f"SELECT {self._columns()} FROM materializations WHERE key = ? "
            "ORDER BY id DESC LIMIT ?",
            (key, limit),
        ).fetchall()
        return [materialization(row) for row in rows]

    def failure_history(self, key: str, limit: int = 50) -> list[Failure]:
        """The most recent failed builds of ``key``, newest first (forgotten or not)."""
        if (conn := self._connect()) is None:
            return []
        rows = conn.execute(
            f"SELECT {FAILURES}, {self._seq()} FROM failures WHERE key = ? "
            "ORDER BY id DESC LIMIT ?",
            (key, limit),
        ).fetchall()
        return [Failure(*row) for row in rows]

    def last_failures(self) -> dict[str, Failure]:
        """The latest failure of each key."""
        if (conn := self._connect()) is None:
            return {}
        rows = conn.execute(
            f"SELECT {FAILURES}, {self._seq()} FROM failures {self._latest('failures')} "
            f"WHERE {self._visible(conn, 'failures')}"
        ).fetchall()
        return {r[0]: Failure(*r) for r in rows}  # the columns in Failure's field order

    def partition_failures(self, keys: Iterable[str]) -> dict[str, dict[str, Failure]]:
        """Key -> partition -> the latest failure of that partition, of the given keys."""
        if (conn := self._connect()) is None:
            return {}
        rows = conn.execute(
            f"SELECT {FAILURES}, {self._seq()} FROM failures JOIN (SELECT max(id) AS latest_id "
            f"FROM {self._heads('failures')} WHERE key IN (SELECT value FROM json_each(?)) "
            f"GROUP BY key, partition) ON id = latest_id WHERE {self._visible(conn, 'failures')}",
            [orjson.dumps(sorted(set(keys))).decode()],
        ).fetchall()
        return failures_by_partition(rows)

    def keys(self) -> set[str]:
        """Every key with at least one materialization or failure (not forgotten since)."""
        if (conn := self._connect()) is None:
            return set()
        rows = conn.execute(  # a key's latest record is visible when any of its records is
            f"SELECT key FROM materializations {self._latest()} WHERE "
            f"{self._visible(conn, 'materializations')} UNION SELECT key FROM failures "
            f"{self._latest('failures')} WHERE {self._visible(conn, 'failures')}"
        ).fetchall()
        return {row[0] for row in rows}

    def forgotten_before(self) -> dict[str, int]:
        """Key -> seq of its latest forget, for the keys whose latest record is a forget."""
        conn = self._connect()
        if conn is None or self._version < 2:
            return {}
        rows = conn.execute(
            "SELECT key, max(seq) AS forgot FROM forgets GROUP BY key HAVING forgot > coalesce(("
            f"SELECT seq FROM materializations WHERE id = (SELECT max(id) FROM {self._heads()} h "
            "WHERE h.key = forgets.key)), 0) AND forgot > coalesce((SELECT seq FROM failures "
            f"WHERE id = (SELECT max(id) FROM {self._heads('failures')} h "
            "WHERE h.key = forgets.key)), 0)"
        ).fetchall()
        return {key: seq for key, seq in rows}


def _fetch(conn: sqlite3.Connection) -> catalog_journal.Fetch:
    """One read on ``conn``: its rows."""
    return lambda sql, params: conn.execute(sql, params).fetchall()
