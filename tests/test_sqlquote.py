"""Tests of ``nbassets.sqlquote``: names, text and paths written into DuckDB SQL mean themselves."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from nbassets.sqlquote import parquet_file, quote_ident, quote_literal

HOSTILE = ["plain", 'say "hi"', "it's", 'a"; DROP TABLE t; --', "", "ünï cödé", "*?["]


def test_quote_ident_doubles_inner_double_quotes() -> None:
    assert quote_ident("orders") == '"orders"'
    assert quote_ident('say "hi"') == '"say ""hi"""'
    assert quote_ident(3) == '"3"'


def test_quote_literal_doubles_inner_single_quotes() -> None:
    assert quote_literal("orders") == "'orders'"
    assert quote_literal("it's") == "'it''s'"
    assert quote_literal(Path("/a/b")) == "'/a/b'"


@pytest.mark.parametrize("name", [n for n in HOSTILE if n])
def test_a_quoted_identifier_names_exactly_that_column(name: str) -> None:
    con = duckdb.connect()
    try:
        con.execute(f"CREATE TABLE t ({quote_ident(name)} INTEGER)")
        con.execute(f"INSERT INTO t ({quote_ident(name)}) VALUES (7)")
        assert con.execute(f"SELECT {quote_ident(name)} FROM t").fetchall() == [(7,)]
        assert con.execute("DESCRIBE t").fetchall()[0][0] == name
    finally:
        con.close()


@pytest.mark.parametrize("text", HOSTILE)
def test_a_quoted_literal_is_exactly_that_text(text: str) -> None:
    con = duckdb.connect()
    try:
        assert con.execute(f"SELECT {quote_literal(text)}").fetchall() == [(text,)]
    finally:
        con.close()


def test_parquet_file_reads_exactly_that_file(tmp_path: Path) -> None:
    """Glob characters, quotes and ``key=value`` folders are part of the name, nothing more."""
    folder = tmp_path / "env=prod" / "it's [x]"
    folder.mkdir(parents=True)
    target = folder / "v*1.parquet"
    pq.write_table(pa.table({"id": [1, 2]}), target)
    pq.write_table(pa.table({"id": [9]}), folder / "v21.parquet")  # what the glob would match

    con = duckdb.connect()
    try:
        rows = con.execute(f"SELECT * FROM {parquet_file(target)} ORDER BY id").fetchall()
    finally:
        con.close()
    assert rows == [(1,), (2,)]  # no other file, and no hive column "env"
