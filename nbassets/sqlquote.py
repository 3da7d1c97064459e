"""How names and values are written into DuckDB SQL text: identifiers, string literals, one file.

Every statement nbassets builds from a column name, an asset key or a path goes through these,
so a name with a quote, a space or a glob character means exactly itself.
"""

from __future__ import annotations

from pathlib import Path


def quote_ident(name: object) -> str:
    """``name`` as a double-quoted SQL identifier (inner double quotes doubled)."""
    return '"' + str(name).replace('"', '""') + '"'


def quote_literal(text: object) -> str:
    """``text`` as a single-quoted SQL string literal (inner single quotes doubled)."""
    return "'" + str(text).replace("'", "''") + "'"


def parquet_file(path: Path) -> str:
    """``read_parquet(...)`` of exactly this file: glob characters escaped, no hive columns."""
    text = str(path.resolve())
    if any(c in text for c in "*?["):  # DuckDB would expand a glob; [c] matches c literally
        text = "".join(f"[{c}]" if c in "*?[" else c for c in text)
    return f"read_parquet({quote_literal(text)}, hive_partitioning = false)"
