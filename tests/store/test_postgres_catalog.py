"""The PostgreSQL catalog on a real server (``tests/servers.py``): its schema and migrations, the
read-only session, what its failures say, and writers in several processes at once.

The contract every catalog passes is in ``test_backends.py`` (parametrized with ``postgres``).
"""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

if not os.environ.get("CI"):  # under CI a missing psycopg fails
    pytest.importorskip("psycopg", reason="the PostgreSQL tests need pip install -e '.[postgres]'")
import psycopg
from servers import PASSWORD, PASSWORD_ROLE, PostgresServer, free_port

from nbassets.errors import (
    CatalogDamagedError,
    CatalogLocked,
    CatalogTooNew,
    ReadOnlyError,
    StorageError,
)
from nbassets.store import postgres_schema
from nbassets.store.catalog import Failure, Materialization
from nbassets.store.postgres_catalog import PostgresCatalog
from nbassets.store.postgres_errors import (
    CatalogAuthFailed,
    CatalogDatabaseMissing,
    CatalogPermissionDenied,
    CatalogUnreachable,
    PostgresCatalogDamaged,
    redact,
)
from nbassets.store.sqlite_catalog import SqliteCatalog
from nbassets.store.sqlite_file import SCHEMA_VERSION
from nbassets.workers import plain_main


def build(key: str, n: int, partition: str = "", env: str = "prod") -> Materialization:
    return Materialization(
        key=key, env=env, data_version=f"{n:06x}", code_version="c1", path=f"data/{key}/{n}",
        io="json", kind="json", bytes=n, started_at="2026-01-01", finished_at="2026-01-01",
        partition=partition,
    )  # fmt: skip


def query(url: str, sql: str) -> list[tuple[Any, ...]]:
    """The rows ``sql`` gives (none for a statement that gives none)."""
    with psycopg.connect(url, autocommit=True) as conn:
        cursor = conn.execute(sql)
        return cursor.fetchall() if cursor.description else []


# --- schema and migrations -----------------------------------------------------------------------


def test_a_writer_creates_the_sqlite_catalogs_schema_in_an_empty_database(
    postgres_url: str, tmp_path: Path
) -> None:
    assert postgres_schema.SCHEMA_VERSION == SCHEMA_VERSION == 6  # a new SQLite migration needs one
    writer = PostgresCatalog(postgres_url, writable=True)
    writer.ready()
    writer.close()
    assert query(
        postgres_url, "SELECT application_id, schema_version FROM nbassets.catalog_info"
    ) == [(0x6E624173, 6)]
    sqlite = SqliteCatalog(tmp_path / "catalog.sqlite", writable=True)
    sqlite.ready()
    sqlite.close()
    with closing(sqlite3.connect(tmp_path / "catalog.sqlite")) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        columns = {t: [r[1] for r in conn.execute(f"PRAGMA table_info({t})")] for t in tables}
    found = query(
        postgres_url,
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = "
        "'nbassets' AND table_name <> 'catalog_info' ORDER BY table_name, ordinal_position",
    )
    on_postgres: dict[str, list[str]] = {}
    for table, column in found:
        on_postgres.setdefault(table, []).append(column)
    assert on_postgres == columns  # the same tables, the same columns in the same order
    again = PostgresCatalog(postgres_url, writable=True)  # a second writer: nothing to migrate
    again.record(build("a", 1))
    again.close()
    assert query(postgres_url, "SELECT count(*) FROM nbassets.catalog_info") == [(1,)]


def test_a_reader_of_an_empty_database_writes_nothing_and_sees_the_first_writer(
    postgres_url: str,
) -> None:
    reader = PostgresCatalog(postgres_url, writable=False)
    assert reader.heads() == {} and reader.keys() == set() and reader.open_incidents("p") == {}
    assert query(postgres_url, "SELECT to_regnamespace('nbassets') IS NULL") == [(True,)]
    writer = PostgresCatalog(postgres_url, writable=True)
    recorded = writer.record(build("a", 1))
    assert reader.latest_of("a") == recorded and recorded.seq == 1 and recorded.id == 1
    reader.close()
    writer.close()


def test_racing_first_writers_create_the_schema_once(postgres_url: str) -> None:
    with plain_main(), multiprocessing.get_context("spawn").Pool(4) as pool:
        seqs = pool.starmap(_first_write, [(postgres_url, i) for i in range(4)])
    assert sorted(seqs) == [1, 2, 3, 4]
    assert query(postgres_url, "SELECT schema_version FROM nbassets.catalog_info") == [(6,)]


def _first_write(url: str, n: int) -> int:
    catalog = PostgresCatalog(url, writable=True)
    try:
        return catalog.record(build(f"k{n}", n)).seq or 0
    finally:
        catalog.close()


@pytest.mark.parametrize("writable", [False, True])
def test_a_newer_schema_is_refused_and_left_alone(postgres_url: str, writable: bool) -> None:
    writer = PostgresCatalog(postgres_url, writable=True)
    writer.record(build("a", 1))
    writer.close()
    query(postgres_url, "UPDATE nbassets.catalog_info SET schema_version = 7")
    catalog = PostgresCatalog(postgres_url, writable=writable)
    with pytest.raises(CatalogTooNew, match="schema version 7.*understands version 6") as info:
        catalog.heads()
    assert redact(postgres_url) in str(info.value) and isinstance(info.value, StorageError)
    catalog.close()
    assert query(postgres_url, "SELECT schema_version FROM nbassets.catalog_info") == [(7,)]


def test_a_schema_nbassets_that_is_not_a_catalog_is_damage(postgres_url: str) -> None:
    query(postgres_url, "CREATE SCHEMA nbassets; CREATE TABLE nbassets.mine (x int)")
    for writable in (False, True):
        catalog = PostgresCatalog(postgres_url, writable=writable)
        with pytest.raises(PostgresCatalogDamaged, match="holds tables but no nbassets") as info:
            catalog.keys()
        assert isinstance(info.value, CatalogDamagedError) and "psql" in str(info.value)
        catalog.close()
    assert query(postgres_url, "SELECT count(*) FROM nbassets.mine") == [(0,)]  # left alone


# --- read-only -----------------------------------------------------------------------------------


def test_a_read_only_catalog_opens_a_read_only_session(postgres_url: str) -> None:
    writer = PostgresCatalog(postgres_url, writable=True)
    writer.record(build("a", 1))
    reader = PostgresCatalog(postgres_url, writable=False)
    assert set(reader.latest()) == {"a"}
    with pytest.raises(ReadOnlyError, match="read-only"):
        reader.record(build("a", 2))
    with pytest.raises(ReadOnlyError, match="read-only"):
        reader.record_incidents("prod", {("a", "late"): "late"}, [], "t")
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):  # the server refuses too
        reader._connect().execute("DELETE FROM materializations")
    assert [m.data_version for m in writer.history("a")] == ["000001"]
    reader.close()
    writer.close()


def test_a_builder_needs_write_privileges_a_reader_does_not(
    postgres_server: PostgresServer, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = PostgresCatalog(postgres_url, writable=True)
    owner.record(build("a", 1))
    owner.close()
    query(postgres_url, f"GRANT USAGE ON SCHEMA nbassets TO {PASSWORD_ROLE}; "
                        f"GRANT SELECT ON ALL TABLES IN SCHEMA nbassets TO {PASSWORD_ROLE}")  # fmt: skip
    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    url = postgres_url.replace("postgres@", f"{PASSWORD_ROLE}@")
    reader = PostgresCatalog(url, writable=False)
    assert set(reader.heads()) == {"a"}  # read-only credentials are enough for a notebook
    writer = PostgresCatalog(url, writable=True)
    with pytest.raises(CatalogPermissionDenied, match="may not write it.*GRANT"):
        writer.ready()
    reader.close()
    writer.close()


# --- what failures say ---------------------------------------------------------------------------


def test_a_password_given_in_the_url_is_used_but_never_shown(
    postgres_server: PostgresServer, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", "/nonexistent")
    database = postgres_url.rsplit("/", 1)[1]
    query(postgres_url, f"GRANT ALL ON SCHEMA public TO {PASSWORD_ROLE}")
    base = f"127.0.0.1:{postgres_server.port}/{database}"
    good = PostgresCatalog(f"postgresql://{PASSWORD_ROLE}:{PASSWORD}@{base}", writable=True)
    assert good.location == f"postgresql://{PASSWORD_ROLE}@{base}"
    assert good.record(build("a", 1)).seq == 1 and PASSWORD not in repr(good)
    good.close()
    for url in (
        f"postgresql://{PASSWORD_ROLE}:wrong-pw@{base}",
        f"postgresql://{PASSWORD_ROLE}@{base}",
    ):
        with pytest.raises(CatalogAuthFailed, match="PGPASSWORD or a line of ~/.pgpass") as info:
            PostgresCatalog(url, writable=False).heads()
        assert f"postgresql://{PASSWORD_ROLE}@{base}" in str(info.value)
        assert "wrong-pw" not in str(info.value) and info.value.__cause__ is None
    monkeypatch.setenv("PGPASSWORD", PASSWORD)  # the way a team gives it
    assert set(PostgresCatalog(f"postgresql://{PASSWORD_ROLE}@{base}", writable=False).heads()) == {
        "a"
    }


def test_an_unreachable_server_and_a_missing_database_say_so(
    postgres_server: PostgresServer,
) -> None:
    down = f"postgresql://me:pw-123@127.0.0.1:{free_port()}/nbassets"
    with pytest.raises(CatalogUnreachable, match="cannot reach the PostgreSQL catalog") as info:
        PostgresCatalog(down, writable=True).ready()
    assert "postgresql://me@127.0.0.1" in str(info.value) and "pw-123" not in str(info.value)
    missing = postgres_server.url("no_such_db")
    with pytest.raises(CatalogDatabaseMissing, match="'no_such_db' .* does not exist.*createdb"):
        PostgresCatalog(missing, writable=False).keys()


def test_a_writer_waits_for_the_write_lock_then_says_locked(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NBASSETS_BUSY_TIMEOUT", "0.5")
    writer = PostgresCatalog(postgres_url, writable=True)
    writer.ready()
    with psycopg.connect(postgres_url, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s)", (postgres_schema.WRITE_LOCK,))
        with pytest.raises(CatalogLocked, match="locked: another process held its write lock"):
            writer.record(build("a", 1))
    assert writer.record(build("a", 2)).seq == 1  # nothing was numbered while it waited
    writer.close()


# --- concurrent writers --------------------------------------------------------------------------

WRITERS, EACH = 4, 40


def _write_many(url: str, writer: int, barrier: Any) -> None:
    catalog = PostgresCatalog(url, writable=True)
    catalog.ready()
    barrier.wait()
    for n in range(EACH):
        key = f"k{n % 5}"
        if n % 7 == 3:
            catalog.record_failure(Failure(key, "prod", f"w{writer}-{n}", "t", "t"))
        else:
            catalog.record(build(key, writer * 1000 + n, partition=f"p{writer}"))
    catalog.close()


def test_four_processes_writing_at_once_lose_nothing_and_share_one_order(
    postgres_url: str,
) -> None:
    PostgresCatalog(postgres_url, writable=True).ready()
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(WRITERS)
    workers = [
        ctx.Process(target=_write_many, args=(postgres_url, w, barrier)) for w in range(WRITERS)
    ]
    with plain_main():
        for worker in workers:
            worker.start()
    for worker in workers:
        worker.join(120)
    assert [w.exitcode for w in workers] == [0] * WRITERS
    built = query(
        postgres_url, "SELECT id, seq, data_version FROM nbassets.materializations ORDER BY id"
    )
    failed = query(postgres_url, "SELECT id, seq, error FROM nbassets.failures ORDER BY id")
    expected = {f"{w * 1000 + n:06x}" for w in range(WRITERS) for n in range(EACH) if n % 7 != 3}
    assert sorted(r[2] for r in built) == sorted(expected)  # each record exactly once
    assert len(failed) == WRITERS * EACH - len(expected) == len({r[2] for r in failed})
    for rows in (built, failed):  # the one sequence follows the ids: commit order
        assert [r[1] for r in rows] == sorted(r[1] for r in rows)
    seqs = [r[1] for r in built + failed]
    assert len(set(seqs)) == len(seqs) == WRITERS * EACH
    first_half = {int(r[2], 16) // 1000 for r in built[: len(built) // 2]}
    assert len(first_half) > 1  # the writers really ran at once
    catalog = PostgresCatalog(postgres_url, writable=False)
    last = max(n for n in range(EACH) if n % 5 == 1 and n % 7 != 3)
    assert {p: h.data_version for p, h in catalog.partition_heads()["k1"].items()} == {
        f"p{w}": f"{w * 1000 + last:06x}" for w in range(WRITERS)
    }
    catalog.close()
