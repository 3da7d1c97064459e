"""The SQLite catalog: schema, read-only access, and damaged files."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from helpers import tree_digest

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
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
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
