"""``--sql`` assets: DuckDB SQL over upstream assets, parsed (not guessed) for the tables it reads.

DuckDB parses the statement (``json_serialize_sql``): the tables it reads are
the parse tree's base tables minus its CTEs, and its code version hashes the
tree without source positions, so formatting and comments do not count.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .errors import SpecError


@dataclass(frozen=True)
class SqlAnalysis:
    """What a SQL body reads and its normalized form."""

    tables: frozenset[str]
    normalized: str


@functools.lru_cache(maxsize=1024)
def analyze_sql(key: str, body: str) -> SqlAnalysis:
    """Parse one SELECT statement; refuse anything else with DuckDB's own message."""
    if not body.strip():
        raise SpecError(f"SQL asset {key!r} is empty: write a SELECT over upstream assets.")
    conn = _parser().cursor()
    try:
        row = conn.execute("SELECT json_serialize_sql($1::VARCHAR)", [body]).fetchone()
        tree: dict[str, Any] = json.loads(row[0]) if row else {"error": True}
    finally:
        conn.close()
    if tree.get("error"):
        raise SpecError(f"SQL asset {key!r} does not parse: {tree.get('error_message')}.")
    statements = tree.get("statements", [])
    if len(statements) != 1:
        raise SpecError(
            f"SQL asset {key!r} has {len(statements)} statements: write exactly one SELECT "
            "(json_serialize_sql only accepts SELECT statements)."
        )
    tables = set(_base_tables(statements[0])) - set(_cte_names(statements[0]))
    normalized = json.dumps(_without_positions(statements[0]), sort_keys=True)
    return SqlAnalysis(frozenset(tables), normalized)


@functools.cache
def _parser() -> Any:
    """One in-memory DuckDB connection to parse with (opening one costs about 12 ms)."""
    import duckdb

    return duckdb.connect()


def _base_tables(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if node.get("type") == "BASE_TABLE" and not node.get("schema_name"):
            yield node["table_name"]
        for value in node.values():
            yield from _base_tables(value)
    elif isinstance(node, list):
        for value in node:
            yield from _base_tables(value)


def _cte_names(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for entry in node.get("cte_map", {}).get("map", []) if "cte_map" in node else []:
            yield entry["key"]
        for value in node.values():
            yield from _cte_names(value)
    elif isinstance(node, list):
        for value in node:
            yield from _cte_names(value)


def _without_positions(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            k: _without_positions(v)
            for k, v in node.items()
            if k not in ("query_location", "query_location_length")
        }
    if isinstance(node, list):
        return [_without_positions(v) for v in node]
    return node
