"""The SQLite catalog: schema, read-only access, and damaged files."""

from __future__ import annotations

import random
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from helpers import tree_digest
from memory_backends import MemoryCatalog

from nbassets.store.catalog import Catalog, Failure, Materialization
from nbassets.store.sqlite_catalog import SqliteCatalog
from nbassets.store.sqlite_file import SCHEMA_VERSION
from nbassets.store.stores import Store, now


def build(root: Path) -> Store:
    store = Store("prod", root, writable=True)
    store.write(
        "a",
        {"x": 1},
        "json",
        code_version="c1",
        started_at=now(),
        commit="abc",
        dirty=False,
        source="notebooks/n.ipynb#id1",
        user="u",
    )
    store.write(
        "b",
        [1],
        "pickle",
        code_version="c2",
        started_at=now(),
        inputs={"a": {"data_version": "dv", "env": "prod"}},
    )
    return store


def test_documented_schema(tmp_path: Path) -> None:
    build(tmp_path).close()
    conn = sqlite3.connect(tmp_path / "catalog.sqlite")
    columns = {row[1] for row in conn.execute("PRAGMA table_info(materializations)")}
    assert {
        "key",
        "env",
        "partition",
        "data_version",
        "code_version",
        "commit",
        "dirty",
        "source",
        "inputs",
        "rows",
        "schema",
        "bytes",
        "path",
        "started_at",
        "finished_at",
    } <= columns
    failure_columns = {row[1] for row in conn.execute("PRAGMA table_info(failures)")}
    assert {"key", "env", "error", "started_at", "finished_at", "seq"} <= failure_columns
    assert "seq" in columns
    forget_columns = [row[1] for row in conn.execute("PRAGMA table_info(forgets)")]
    assert forget_columns == ["id", "seq", "key", "env", "user", "at"]
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 6
    heads = conn.execute("SELECT key, partition, id FROM heads ORDER BY key").fetchall()
    assert heads == [("a", "", 1), ("b", "", 2)]
    assert conn.execute("SELECT count(*) FROM failure_heads").fetchone()[0] == 0
    seqs = conn.execute("SELECT key, seq FROM materializations ORDER BY id").fetchall()
    assert seqs == [("a", 1), ("b", 2)]
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    row = conn.execute(
        'SELECT "commit", dirty, source, user FROM materializations WHERE key = ?', ("a",)
    ).fetchone()
    assert row == ("abc", 0, "notebooks/n.ipynb#id1", "u")


def test_read_only_catalog_changes_no_file(tmp_path: Path) -> None:
    build(tmp_path).close()
    before = tree_digest(tmp_path)
    reader = SqliteCatalog(tmp_path / "catalog.sqlite", writable=False)
    assert set(reader.latest()) == {"a", "b"} and reader.keys() == {"a", "b"}
    reader.close()
    assert tree_digest(tmp_path) == before
    assert SqliteCatalog(tmp_path / "missing.sqlite", writable=False).latest() == {}
    assert not (tmp_path / "missing.sqlite").exists()


def test_read_only_reader_sees_a_concurrent_writer(tmp_path: Path) -> None:
    writer = build(tmp_path)
    reader = SqliteCatalog(tmp_path / "catalog.sqlite", writable=False)
    assert len(reader.history("a")) == 1
    writer.write("a", {"x": 2}, "json", code_version="c1", started_at=now())
    assert len(reader.history("a")) == 2
    writer.close()
    assert len(reader.history("a")) == 2


def test_version_prefix_lookup(tmp_path: Path) -> None:
    store = build(tmp_path)
    record = store.catalog.latest()["a"]
    assert store.catalog.version("a", record.data_version[:8]) == record
    assert store.catalog.version("a", "zz%") is None
    store.close()


def test_a_failing_row_with_nan_is_stored_as_json_and_read_back(tmp_path: Path) -> None:
    """A check cell's failing rows may hold NaN: the stored sample must be strict JSON."""
    import pandas as pd

    from nbassets.checks.cells import read_outcome
    from nbassets.store.results import CheckResult

    passed, failing, sample, message = read_outcome(pd.DataFrame({"x": [float("nan")], "y": [1]}))
    result = CheckResult("a", "no_nan", "error", passed, "dv", failing, sample, message)
    catalog = SqliteCatalog(tmp_path / "catalog.sqlite", writable=True)
    catalog.record_checks([result], "prod")

    (stored,) = catalog.check_results("a", "dv")
    catalog.close()
    assert stored.sample == [{"index": 0, "x": "nan", "y": 1}]
    assert (stored.passed, stored.failing_rows, stored.message) == (False, 1, "1 failing row")
    with closing(sqlite3.connect(tmp_path / "catalog.sqlite")) as conn:
        (text,) = conn.execute("SELECT sample FROM check_results").fetchone()
    assert "NaN" not in text


# --- the heads tables: "latest" without scanning the history -------------------------------------


def record(key: str, partition: str, n: int) -> Materialization:
    return Materialization(
        key=key, env="dev", data_version=f"{n:04x}", code_version="c1", path=f"data/{key}/{n}",
        io="json", kind="json", bytes=n, started_at="2026-01-01", finished_at="2026-01-01",
        partition=partition,
    )  # fmt: skip


def head_rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """The heads tables, and what a scan of the history says they must hold."""
    with closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as conn:
        return {
            name: conn.execute(f"SELECT key, partition, id FROM {name} ORDER BY 1, 2").fetchall()
            for name in ("heads", "failure_heads")
        } | {
            table: conn.execute(
                f"SELECT key, partition, max(id) FROM {table} GROUP BY 1, 2 ORDER BY 1, 2"
            ).fetchall()
            for table in ("materializations", "failures")
        }


def test_a_record_inserted_by_an_older_writer_updates_the_heads(tmp_path: Path) -> None:
    """A plain INSERT, as an nbassets of schema 3 makes it (no seq, no code): the triggers
    keep the heads in its own transaction, after the trigger that numbers it."""
    path = tmp_path / "catalog.sqlite"
    catalog = SqliteCatalog(path, writable=True)
    first = catalog.record(record("a", "p1", 1))
    with closing(sqlite3.connect(path)) as conn:
        conn.execute(
            "INSERT INTO materializations (key, env, partition, data_version, code_version, "
            "bytes, path, io, kind, started_at, finished_at) "
            "VALUES ('a', 'dev', 'p2', 'old1', 'c0', 1, 'data/a/old1', 'json', 'json', "
            "'2020', '2020')"
        )
        conn.execute(
            "INSERT INTO failures (key, env, error, started_at, finished_at) "
            "VALUES ('b', 'dev', 'old writer', '2020', '2020')"
        )
        conn.commit()
        conn.execute(  # rolled back: the heads with it
            "INSERT INTO materializations (key, env, data_version, code_version, bytes, path, "
            "io, kind, started_at, finished_at) "
            "VALUES ('c', 'dev', 'gone', 'c0', 1, 'p', 'json', 'json', '2020', '2020')"
        )
        conn.rollback()
    old = catalog.latest_of("a")
    assert old is not None and (old.data_version, old.partition, old.seq) == ("old1", "p2", 2)
    assert catalog.heads()["a"].data_version == "old1" and catalog.keys() == {"a", "b"}
    assert catalog.last_failures()["b"].error == "old writer" and "c" not in catalog.latest()
    catalog.forget("a", "dev", None, "2026-01-02")
    assert catalog.latest_of("a") is None and catalog.forgotten_before() == {"a": 4}
    catalog.close()
    rows = head_rows(path)
    assert rows["heads"] == rows["materializations"] == [("a", "p1", first.id), ("a", "p2", 2)]
    assert rows["failure_heads"] == rows["failures"] == [("b", "", 1)]


def reads(catalog: Catalog, keys: list[str]) -> dict[str, Any]:
    """Every "latest" answer of a catalog."""
    return {
        "latest": catalog.latest(),
        "latest some": catalog.latest(keys[::2]),
        "heads": catalog.heads(),
        "latest_of": {key: catalog.latest_of(key) for key in keys},
        "partitions": catalog.partition_heads(),
        "partitions some": catalog.partition_heads(keys[1::2]),
        "failures": catalog.last_failures(),
        "keys": catalog.keys(),
        "forgotten": catalog.forgotten_before(),
    }


def scan_reads(path: Path, keys: list[str]) -> dict[str, Any]:
    """The reads of a copy labelled schema 3, opened read-only: the history is scanned, as for
    a catalog of schema 3 that no writer has migrated yet."""
    copy = path.parent / "scan" / path.name
    copy.parent.mkdir(exist_ok=True)
    copy.unlink(missing_ok=True)
    with closing(sqlite3.connect(path)) as source, closing(sqlite3.connect(copy)) as conn:
        source.backup(conn)  # with what the writer's -wal holds
        conn.execute("PRAGMA user_version=3")
    scanning = SqliteCatalog(copy, writable=False)
    try:
        scanning.ready()
        answer = reads(scanning, keys)
        assert scanning._version == 3  # the fallback ran
    finally:
        scanning.close()
    return answer


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_reads_from_the_heads_equal_a_scan_of_the_history(tmp_path: Path, seed: int) -> None:
    """Random builds, failures and forgets over keys and partitions: the reads from the heads
    tables equal the scanning reads and the in-memory catalog's, at every step."""
    rng = random.Random(seed)
    path = tmp_path / "catalog.sqlite"
    sqlite, memory = SqliteCatalog(path, writable=True), MemoryCatalog(writable=True)
    keys = [f"k{i}" for i in range(6)]
    for n in range(1, 241):
        key, partition, kind = rng.choice(keys), rng.choice(["", "p1", "p2", "p3"]), rng.random()
        for catalog in (sqlite, memory):
            if kind < 0.7:
                catalog.record(record(key, partition, n))
            elif kind < 0.9:
                catalog.record_failure(Failure(key, "dev", f"e{n}", "t", "t", partition=partition))
            else:
                catalog.forget(key, "dev", None, "t")
        if n % 40 == 0:
            found = reads(sqlite, [*keys, "unknown"])
            assert (
                found == reads(memory, [*keys, "unknown"]) == scan_reads(path, [*keys, "unknown"])
            )
            assert found["forgotten"] or found["latest"]  # something to compare
    sqlite.close()
    rows = head_rows(path)
    assert rows["heads"] == rows["materializations"] and len(rows["heads"]) > 12
    assert rows["failure_heads"] == rows["failures"]


@pytest.mark.parametrize("seed", [1, 2])
def test_postgresqls_reads_equal_the_in_memory_catalogs(postgres_url: str, seed: int) -> None:
    """The same random builds, failures and forgets: the PostgreSQL catalog's "latest" reads
    (from its heads tables, kept by triggers) equal the in-memory catalog's at every step."""
    from nbassets.store.postgres_catalog import PostgresCatalog

    rng = random.Random(seed)
    postgres, memory = PostgresCatalog(postgres_url, writable=True), MemoryCatalog(writable=True)
    reader = PostgresCatalog(postgres_url, writable=False)
    keys = [f"k{i}" for i in range(6)]
    for n in range(1, 121):
        key, partition, kind = rng.choice(keys), rng.choice(["", "p1", "p2", "p3"]), rng.random()
        for catalog in (postgres, memory):
            if kind < 0.7:
                catalog.record(record(key, partition, n))
            elif kind < 0.9:
                catalog.record_failure(Failure(key, "dev", f"e{n}", "t", "t", partition=partition))
            else:
                catalog.forget(key, "dev", None, "t")
        if n % 30 == 0:
            found = reads(reader, [*keys, "unknown"])
            assert found == reads(memory, [*keys, "unknown"]) and found["latest"]
    postgres.close()
    reader.close()
