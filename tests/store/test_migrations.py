"""The catalog's schema migrations: a catalog written by an older release loses nothing.

``tests/resources/catalog_v1.sqlite`` was written by the release whose schema version is 1
(``tests/resources/make_catalog_v1.py`` says how); every test works on a copy.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from helpers import tree_digest

from nbassets.errors import CatalogTooNew, StorageError, StoreFull
from nbassets.store.catalog import failed_since
from nbassets.store.migrations import MIGRATIONS, interleave
from nbassets.store.sqlite_catalog import SqliteCatalog
from nbassets.store.sqlite_file import SCHEMA_VERSION

V1 = Path(__file__).resolve().parents[1] / "resources" / "catalog_v1.sqlite"
TABLES = ("materializations", "failures", "check_results")


def copy_of_v1(folder: Path) -> Path:
    path = folder / "catalog.sqlite"
    shutil.copyfile(V1, path)
    return path


def plain(path: Path) -> sqlite3.Connection:
    """A plain, read-only ``sqlite3`` connection (nbassets is not involved)."""
    return sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)


def user_version(path: Path) -> int:
    with closing(plain(path)) as conn:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])


def columns(path: Path, table: str) -> list[str]:
    with closing(plain(path)) as conn:
        return [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]


def rows(path: Path, table: str, names: list[str]) -> list[tuple[Any, ...]]:
    quoted = ", ".join(f'"{name}"' for name in names)
    with closing(plain(path)) as conn:
        return conn.execute(f"SELECT {quoted} FROM {table} ORDER BY id").fetchall()


def what_the_catalog_reads(catalog: SqliteCatalog) -> dict[str, Any]:
    """Every answer of the catalog's read API about the v1 file, the sequence left out."""
    keys = sorted(catalog.keys())
    versions = [m.data_version for m in catalog.history("orders")]
    return {
        "keys": keys,
        "latest": {k: replace(m, seq=None) for k, m in catalog.latest().items()},
        "heads": {k: h._replace(seq=None) for k, h in catalog.heads().items()},
        "history": {k: [replace(m, seq=None) for m in catalog.history(k)] for k in keys},
        "failures": {k: replace(f, seq=None) for k, f in catalog.last_failures().items()},
        "checks": sorted(map(repr, catalog.versions_check_results(versions))),
    }


def test_a_catalog_of_todays_release_migrates_without_losing_a_record(tmp_path: Path) -> None:
    path = copy_of_v1(tmp_path)
    assert user_version(path) == 1
    v1_columns = {table: columns(path, table) for table in TABLES}
    before = {table: rows(path, table, v1_columns[table]) for table in TABLES}
    assert [len(before[table]) for table in TABLES] == [7, 2, 5]
    reader = SqliteCatalog(path, writable=False)
    read_before = what_the_catalog_reads(reader)
    reader.close()

    writer = SqliteCatalog(path, writable=True)
    writer.ready()  # the first use of a writable catalog migrates it
    writer.close()

    assert user_version(path) == SCHEMA_VERSION
    assert {table: rows(path, table, v1_columns[table]) for table in TABLES} == before
    # one sequence: each table keeps its id order, and the two are interleaved by
    # finished_at (the events failure, recorded last with a clock one hour behind,
    # goes before the builds whose clocks were ahead of it)
    with closing(plain(path)) as conn:
        order = conn.execute(
            "SELECT kind, id FROM (SELECT 'm' AS kind, id, seq FROM materializations UNION ALL "
            "SELECT 'f', id, seq FROM failures) ORDER BY seq"
        ).fetchall()
        seqs = [row[0] for row in conn.execute(
            "SELECT seq FROM materializations UNION ALL SELECT seq FROM failures ORDER BY 1"
        )]  # fmt: skip
    assert seqs == list(range(1, 10))
    assert order == [("m", 1), ("m", 2), ("m", 3), ("f", 1), ("f", 2),
                     ("m", 4), ("m", 5), ("m", 6), ("m", 7)]  # fmt: skip
    assert heads_and_scan(path) == (
        [("events", "2026-01-01", 7), ("events", "2026-01-02", 6), ("orders", "", 4),
         ("raw", "", 1)],
        [("events", "2026-01-02", 2), ("orders", "", 1)],
    ) * 2  # fmt: skip
    reader = SqliteCatalog(path, writable=False)
    assert what_the_catalog_reads(reader) == read_before
    assert [m.id for m in reader.history("orders")] == [4, 3, 2]  # history order kept
    assert reader.forgotten_before() == {}
    reader.close()


def heads_and_scan(path: Path) -> tuple[list[tuple[Any, ...]], ...]:
    """The heads tables, then the latest id of each key and partition by a scan of history."""
    with closing(plain(path)) as conn:
        heads = [
            conn.execute(f"SELECT key, partition, id FROM {name} ORDER BY 1, 2").fetchall()
            for name in ("heads", "failure_heads")
        ]
        scan = [
            conn.execute(
                f"SELECT key, partition, max(id) FROM {table} GROUP BY 1, 2 ORDER BY 1, 2"
            ).fetchall()
            for table in ("materializations", "failures")
        ]
    return (*heads, *scan)


def schema(path: Path) -> list[tuple[Any, ...]]:
    with closing(plain(path)) as conn:
        master = conn.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"
        ).fetchall()
        pragmas = [conn.execute(f"PRAGMA {p}").fetchone()[0] for p in ("application_id",
                   "user_version", "journal_mode")]  # fmt: skip
    return [*master, tuple(pragmas)]


def test_new_and_migrated_catalogs_have_the_same_schema(tmp_path: Path) -> None:
    assert SCHEMA_VERSION == 1 + len(MIGRATIONS) == 6
    migrated = copy_of_v1(tmp_path)
    SqliteCatalog(migrated, writable=True).ready()
    (tmp_path / "new").mkdir()
    new = tmp_path / "new" / "catalog.sqlite"
    SqliteCatalog(new, writable=True).ready()
    assert schema(new) == schema(migrated)
    assert {row[1] for row in schema(new)[:-1]} >= {"forgets", "materializations_by_seq"}


def test_a_read_only_open_never_migrates_and_orders_by_the_clock(tmp_path: Path) -> None:
    """A notebook reading an old production catalog writes nothing; status then falls back
    on ``finished_at``, the only order a catalog of schema 1 has."""
    path = copy_of_v1(tmp_path)
    before = tree_digest(tmp_path)
    reader = SqliteCatalog(path, writable=False)
    heads, failures = reader.heads(), reader.last_failures()
    assert {h.seq for h in heads.values()} == {None} and reader.latest_of("orders").seq is None  # type: ignore[union-attr]
    assert {f.seq for f in failures.values()} == {None} and reader.forgotten_before() == {}
    assert not failed_since(failures["orders"], heads["orders"])  # rebuilt after it failed
    assert not failed_since(failures["events"], heads["events"])  # its clock was behind
    with pytest.raises(PermissionError, match="read-only"):
        reader.forget("orders", "dev", None, "2026-01-01T00:00:00+00:00")
    reader.close()
    assert tree_digest(tmp_path) == before and user_version(path) == 1


def test_a_catalog_newer_than_this_release_is_refused(tmp_path: Path) -> None:
    path = copy_of_v1(tmp_path)
    with closing(sqlite3.connect(path)) as conn:
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    before = path.read_bytes()
    for writable in (True, False):
        with pytest.raises(CatalogTooNew, match="upgrade nbassets"):
            SqliteCatalog(path, writable=writable).latest()
    assert path.read_bytes() == before


def test_a_failed_migration_leaves_the_catalog_as_it_was(tmp_path: Path) -> None:
    """A table added by hand clashes with the migration's ``forgets`` halfway through (after
    the new columns and their numbers): everything is rolled back."""
    path = copy_of_v1(tmp_path)
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE forgets (note TEXT)")
        conn.commit()
    before = path.read_bytes()
    rows_before = {table: rows(path, table, ["*"]) for table in TABLES}
    writer = SqliteCatalog(path, writable=True)
    with pytest.raises(StorageError) as info:
        writer.ready()
    writer.close()
    assert not Path(f"{path}-wal").exists()
    message = str(info.value)
    assert (
        "cannot upgrade the catalog" in message
        and f"from schema version 1 to {SCHEMA_VERSION}" in message
    )
    assert "forgets already exists" in message and "Nothing was changed" in message
    assert path.read_bytes() == before and user_version(path) == 1
    assert {table: rows(path, table, ["*"]) for table in TABLES} == rows_before
    assert "seq" not in columns(path, "materializations")
    assert len(SqliteCatalog(path, writable=False).history("orders")) == 3  # still reads


def test_a_full_disk_during_the_migration_changes_nothing(tmp_path: Path) -> None:
    """A real full disk: a 6 MB tmpfs holding a catalog of schema 1 with 6,000 builds (about
    3 MB), filled up to the last 256 KB, less than the migration writes."""
    from reliability.test_history import fill, tmpfs

    with tmpfs(tmp_path / "disk", "6m") as disk:
        path = copy_of_v1(disk)
        with closing(sqlite3.connect(path)) as conn:  # 6,000 more builds, still schema 1
            conn.execute(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 6000) "
                "INSERT INTO materializations (key, env, partition, data_version, code_version, "
                "inputs, bytes, path, io, kind, started_at, finished_at) SELECT 'k' || (i % 50), "
                "env, partition, data_version, code_version, inputs, bytes, path, io, kind, "
                "started_at, finished_at FROM n, materializations WHERE id = 2"
            )
            conn.commit()
        assert not Path(f"{path}-wal").exists()
        before, count = path.read_bytes(), len(rows(path, "materializations", ["id"]))
        fill(disk)
        os.truncate(disk / "filler", (disk / "filler").stat().st_size - 256 * 1024)
        writer = SqliteCatalog(path, writable=True)
        with pytest.raises(StoreFull):
            writer.ready()
        writer.close()
        assert not Path(f"{path}-wal").exists()
        assert path.read_bytes() == before and user_version(path) == 1
        (disk / "filler").unlink()
        writer = SqliteCatalog(path, writable=True)
        writer.ready()  # with room, it migrates
        writer.close()
        assert (
            user_version(path) == SCHEMA_VERSION
            and len(rows(path, "materializations", ["id"])) == count
        )


_WAITING_MIGRATOR = """
import sqlite3, sys
from pathlib import Path
connect = sqlite3.connect
def traced(*args, **kwargs):  # print each statement as it starts, to say where it waits
    conn = connect(*args, **kwargs)
    conn.set_trace_callback(lambda sql: print(sql.split()[0:2], flush=True))
    return conn
sqlite3.connect = traced
from nbassets.store.sqlite_catalog import SqliteCatalog
SqliteCatalog(Path(sys.argv[1]), writable=True).ready()
print("done", flush=True)
"""


def test_of_two_writers_racing_to_migrate_one_does_it(tmp_path: Path) -> None:
    """The other writer read version 1, then waits for the write lock; once it has it, it
    finds version 2 and migrates nothing (a second migration would fail on its ALTER TABLE)."""
    path = copy_of_v1(tmp_path)
    first = sqlite3.connect(path, isolation_level=None)
    first.execute("BEGIN IMMEDIATE")  # the first writer has the write lock
    second = subprocess.Popen(
        [sys.executable, "-c", _WAITING_MIGRATOR, str(path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "NBASSETS_BUSY_TIMEOUT": "60"},
    )  # fmt: skip
    assert second.stdout is not None
    seen = []
    for line in second.stdout:  # until it asks for the write lock, having read version 1
        seen.append(line.strip())
        if line.strip() == "['BEGIN', 'IMMEDIATE']":
            break
    assert "['PRAGMA', 'user_version']" in seen
    for migration in MIGRATIONS:
        migration(first)
    first.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
    first.execute("COMMIT")
    first.close()
    rest, errors = second.communicate(timeout=120)
    assert second.returncode == 0, errors
    assert rest.strip().endswith("done") and "ALTER" not in rest
    assert user_version(path) == SCHEMA_VERSION
    with closing(plain(path)) as conn:
        seqs = [r[0] for r in conn.execute(
            "SELECT seq FROM materializations UNION ALL SELECT seq FROM failures ORDER BY 1"
        )]  # fmt: skip
    assert seqs == list(range(1, 10))


def test_a_row_inserted_without_a_seq_still_gets_the_next_one(tmp_path: Path) -> None:
    """An older nbassets whose connection was open before the migration inserts rows without
    ``seq``: a trigger numbers them."""
    path = copy_of_v1(tmp_path)
    writer = SqliteCatalog(path, writable=True)
    writer.ready()
    with closing(sqlite3.connect(path)) as conn:
        conn.execute(
            "INSERT INTO failures (key, env, error, started_at, finished_at) "
            "VALUES ('orders', 'dev', 'old writer', '2020', '2020')"
        )
        conn.commit()
    broke = writer.last_failures()["orders"]
    assert broke.error == "old writer" and broke.seq == 10
    assert failed_since(broke, writer.heads()["orders"])  # the clock says 2020: irrelevant
    writer.close()


def test_records_that_predate_the_sequence_interleave_by_their_clocks() -> None:
    built = [(1, "10"), (2, "30"), (3, "20")]  # the third build's clock stepped back
    failed = [(1, "25"), (2, "05"), (3, "40")]
    assert interleave(built, failed) == (
        [(1, 1), (4, 2), (5, 3)],  # each table keeps its id order
        [(2, 1), (3, 2), (6, 3)],
    )
    assert interleave([(1, "10")], [(1, "10")]) == ([(2, 1)], [(1, 1)])  # a tie: failure first
    assert interleave([], []) == ([], [])


def test_a_catalog_of_schema_3_migrates_to_4_with_the_heads_of_its_history(
    tmp_path: Path,
) -> None:
    """A catalog of schema 3 (a v1 file migrated by the first two migrations) with 3,000 more
    builds over keys and partitions, and forgets: the migration builds the heads from the
    history in its one transaction, and every read answers as the scan did before."""
    path = copy_of_v1(tmp_path)
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("BEGIN")
        for migration in MIGRATIONS[:2]:
            migration(conn)
        conn.execute("PRAGMA user_version=3")
        conn.execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000) "
            "INSERT INTO materializations (key, env, partition, data_version, code_version, "
            "inputs, bytes, path, io, kind, started_at, finished_at) SELECT 'k' || (i % 7), "
            "env, 'p' || (i % 5), data_version || i, code_version, inputs, bytes, path, io, kind, "
            "started_at, finished_at FROM n, materializations WHERE id = 2"
        )  # numbered by the schema-2 trigger
        conn.execute(
            "INSERT INTO forgets (seq, key, env, at) VALUES "
            "((SELECT max(seq) + 1 FROM materializations), 'k3', 'dev', '2026')"
        )
        conn.execute("COMMIT")
    assert user_version(path) == 3
    reader = SqliteCatalog(path, writable=False)
    read_before = {**what_the_catalog_reads(reader), "forgotten": reader.forgotten_before(),
                   "partitions": reader.partition_heads()}  # fmt: skip
    latest_before = {key: reader.latest_of(key) for key in ("k1", "k3", "orders", "none")}
    reader.close()
    assert "k3" not in read_before["latest"] and len(read_before["latest"]) == 9
    assert len(read_before["partitions"]["k1"]) == 5 and "k3" not in read_before["partitions"]

    SqliteCatalog(path, writable=True).ready()

    assert user_version(path) == SCHEMA_VERSION == 6
    heads, failure_heads, scan, failure_scan = heads_and_scan(path)
    assert heads == scan and failure_heads == failure_scan and len(heads) == 4 + 35
    reader = SqliteCatalog(path, writable=False)
    assert {**what_the_catalog_reads(reader), "forgotten": reader.forgotten_before(),
            "partitions": reader.partition_heads()} == read_before  # fmt: skip
    assert {key: reader.latest_of(key) for key in latest_before} == latest_before
    reader.close()
    (tmp_path / "new").mkdir()
    new = tmp_path / "new" / "catalog.sqlite"
    SqliteCatalog(new, writable=True).ready()
    assert schema(new) == schema(path)
