"""The catalog's schema migrations: a catalog written by an older release loses nothing.

``tests/resources/catalog_v1.sqlite`` was written by the release whose schema version is 1
(``tests/resources/make_catalog_v1.py`` says how); every test works on a copy.
"""

from __future__ import annotations

import shutil
import sqlite3
from contextlib import closing
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from nbassets.store.sqlite_catalog import SqliteCatalog

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


@pytest.mark.xfail(strict=True, reason="issue 10 finding 6: the catalog has no migrations yet")
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

    assert user_version(path) == 2
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
    reader = SqliteCatalog(path, writable=False)
    assert what_the_catalog_reads(reader) == read_before
    assert [m.id for m in reader.history("orders")] == [4, 3, 2]  # history order kept
    assert reader.forgotten_before() == {}
    reader.close()
