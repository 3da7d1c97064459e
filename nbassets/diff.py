"""How two versions of a table differ: a data diff of two Parquet files, computed with DuckDB.

``diff_tables(old, new, key=...)`` opens one in-memory DuckDB connection over the two files (so
frames larger than memory work: DuckDB streams them and spills to a private temporary folder)
and returns a frozen :class:`DataDiff`. The rules:

- **Columns** are compared by name: added, removed, and retyped (same name, another DuckDB type).
- **Summaries** of every column in both versions: nulls, exact ``count(DISTINCT)``, min and max
  (as text), and the mean of numeric columns. A summary "changed" when any of these differ (means
  with a relative tolerance of 1e-9, as parallel sums are not bit-for-bit reproducible).
- **Rows** (only with a key) match on the key columns, NULL matching NULL. A matched row is
  *changed* when a column present in both versions differs (``IS DISTINCT FROM``, so NULL vs NULL
  is no change and NULL vs a value is one); key columns, added and removed columns never make a
  row changed. A retyped column is compared by value when both types are numeric (an ``INTEGER``
  1 equals a ``DOUBLE`` 1.0), otherwise as text (both sides cast to ``VARCHAR``).
- **Duplicate keys** are counted, never paired arbitrarily: ``old_duplicate_keys`` and
  ``new_duplicate_keys`` count the key values that occur more than once on that side. A row whose
  key is absent from the other side is added (or removed) however often its key repeats. Rows whose
  key is on both sides but repeats on either cannot be paired one to one: they are neither changed
  nor unchanged, and are counted as ``ambiguous_old_rows`` / ``ambiguous_new_rows``. So always
  ``old_rows == removed + changed + unchanged + ambiguous_old`` and
  ``new_rows == added + changed + unchanged + ambiguous_new``.
- **Same rows** (``same_rows``): when both versions have the same columns and types, their rows
  are compared as multisets through the sum of a 64-bit hash of each row (order-insensitive); this
  is what lets a diff without a key say "identical".
- **A new table** (the other env has none yet): ``summarize_table`` summarizes it, not an error.

This module is pure: no IPython, no rendering (``render/diffview.py`` draws a diff as a line,
text, HTML or JSON); duckdb is imported only when a diff runs.
"""

from __future__ import annotations

import dataclasses
import math
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .environments import PROD
from .errors import InvalidArgument, StorageError, UnknownName, did_you_mean
from .sqlquote import parquet_file, quote_ident
from .text import name_list

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection

_NUMERIC = frozenset(
    {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "FLOAT", "DOUBLE"}
    | {"UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT"}
)  # and DECIMAL(p,s)


@dataclass(frozen=True)
class ColumnChange:
    """The summary of one column present in both versions, old and new."""

    name: str
    old_type: str
    new_type: str
    old_nulls: int
    new_nulls: int
    old_distinct: int
    new_distinct: int
    old_min: str | None
    new_min: str | None
    old_max: str | None
    new_max: str | None
    old_mean: float | None = None
    new_mean: float | None = None

    def pairs(self) -> dict[str, tuple[Any, Any]]:
        """``{figure: (old, new)}`` for type, nulls, distinct, min, max and mean."""
        return {
            "type": (self.old_type, self.new_type),
            "nulls": (self.old_nulls, self.new_nulls),
            "distinct": (self.old_distinct, self.new_distinct),
            "min": (self.old_min, self.new_min),
            "max": (self.old_max, self.new_max),
            "mean": (self.old_mean, self.new_mean),
        }

    @property
    def changed(self) -> bool:
        """Whether any summary figure (or the type) differs between the versions."""
        return any(not same_figure(old, new) for old, new in self.pairs().values())


@dataclass(frozen=True)
class ChangedRow:
    """A matched row that differs: its key and ``{column: (old, new)}`` of the differing columns."""

    key: dict[str, Any]
    changes: dict[str, tuple[Any, Any]]


@dataclass(frozen=True)
class DataDiff:
    """The data diff of an old (e.g. production) and a new (e.g. sandbox) version of a table.

    Row fields (``added_rows`` ... ``changed_sample``) are ``None`` or empty without a key.
    """

    old_label: str
    new_label: str
    old_rows: int
    new_rows: int
    added_columns: list[str]
    removed_columns: list[str]
    retyped_columns: list[tuple[str, str, str]]
    column_stats: list[ColumnChange]
    same_rows: bool | None = None
    key: tuple[str, ...] = ()
    added_rows: int | None = None
    removed_rows: int | None = None
    changed_rows: int | None = None
    unchanged_rows: int | None = None
    old_duplicate_keys: int = 0
    new_duplicate_keys: int = 0
    ambiguous_old_rows: int = 0
    ambiguous_new_rows: int = 0
    changed_by_column: dict[str, int] = field(default_factory=dict)
    added_sample: list[dict[str, Any]] = field(default_factory=list)
    removed_sample: list[dict[str, Any]] = field(default_factory=list)
    changed_sample: list[ChangedRow] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        """Same columns and types, and the same rows (and, with a key, nothing added or changed)."""
        same_schema = not (self.added_columns or self.removed_columns or self.retyped_columns)
        no_row_changes = not self.key or not (
            self.added_rows or self.removed_rows or self.changed_rows
        )
        return same_schema and self.same_rows is True and no_row_changes

    @property
    def changed_summaries(self) -> list[ColumnChange]:
        """The columns whose summary (nulls, distinct, min, max, mean or type) changed."""
        return [c for c in self.column_stats if c.changed]


@dataclass(frozen=True)
class ColumnSummary:
    """One column of a table: type, nulls, exact distinct count, min and max (as text), mean."""

    name: str
    type: str
    nulls: int
    distinct: int
    min: str | None
    max: str | None
    mean: float | None = None


@dataclass(frozen=True)
class NewTable:
    """A version env ``missing_in`` has none of yet (``column_stats`` only if ``io`` is parquet)."""

    label: str
    missing_in: str
    rows: int | None
    column_stats: list[ColumnSummary] = field(default_factory=list)
    io: str = "parquet"


def summarize_table(path: str | Path, *, label: str, missing_in: str = PROD) -> NewTable:
    """Rows and column summaries of the Parquet file at ``path``, new in env ``missing_in``."""
    with _connect() as con:
        schema = _open_view(con, "__new", Path(path), label)
        rows, summaries, _ = _summarize(con, "__new", schema, list(schema), None)
    stats = [ColumnSummary(n, schema[n], *s) for n, s in zip(schema, summaries, strict=True)]
    return NewTable(label, missing_in, rows, stats)


def diff_tables(
    old: str | Path,
    new: str | Path,
    *,
    key: Sequence[str] = (),
    old_label: str = PROD,
    new_label: str = "sandbox",
    sample_rows: int = 5,
) -> DataDiff:
    """Diff two Parquet files: columns, column summaries and, with ``key``, rows (see the module).

    ``old`` and ``new`` are paths of Parquet files; the labels name them in messages and output.
    At most ``sample_rows`` rows are sampled per kind of change, in key order.
    """
    key = (key,) if isinstance(key, str) else tuple(key)
    if sample_rows < 0:
        raise InvalidArgument(f"sample_rows must be 0 or more, not {sample_rows}")
    with _connect() as con:
        old_schema = _open_view(con, "__old", Path(old), old_label)
        new_schema = _open_view(con, "__new", Path(new), new_label)
        _check_key(key, [(old_label, Path(old), old_schema), (new_label, Path(new), new_schema)])
        common = [name for name in old_schema if name in new_schema]
        hashed = common if old_schema == new_schema else None
        old_rows, old_summary, old_hash = _summarize(con, "__old", old_schema, common, hashed)
        new_rows, new_summary, new_hash = _summarize(con, "__new", new_schema, common, hashed)
        base = DataDiff(
            old_label=old_label,
            new_label=new_label,
            old_rows=old_rows,
            new_rows=new_rows,
            added_columns=[name for name in new_schema if name not in old_schema],
            removed_columns=[name for name in old_schema if name not in new_schema],
            retyped_columns=[
                (name, old_schema[name], new_schema[name])
                for name in common
                if old_schema[name] != new_schema[name]
            ],
            column_stats=[
                _column_change(name, old_schema[name], new_schema[name], o, n)
                for name, o, n in zip(common, old_summary, new_summary, strict=True)
            ],
            same_rows=None if hashed is None else old_hash == new_hash,
        )
        if not key:
            return base
        pairs = {name: _pair(name, old_schema[name], new_schema[name]) for name in common}
        return _compare_rows(con, base, key, pairs, sample_rows)


# --- DuckDB plumbing ---------------------------------------------------------------------------


@contextmanager
def _connect() -> Iterator[DuckDBPyConnection]:
    """An in-memory DuckDB connection that spills to a temporary folder removed afterwards."""
    import duckdb

    with tempfile.TemporaryDirectory(prefix="nbassets-diff-") as spill:
        con = duckdb.connect(config={"temp_directory": spill})
        try:
            con.execute("SET enable_progress_bar = false")  # no bar printed into the notebook
            yield con
        finally:
            con.close()


def _open_view(con: DuckDBPyConnection, view: str, path: Path, label: str) -> dict[str, str]:
    """Create ``view`` over the Parquet file at ``path``; return its ``{column: DuckDB type}``."""
    import duckdb

    if not path.is_file():
        raise StorageError(f"cannot diff: the {label} file {path} does not exist or is not a file")
    try:
        con.execute(f"CREATE VIEW {view} AS SELECT * FROM {parquet_file(path)}")
        described = con.execute(f"DESCRIBE SELECT * FROM {view}").fetchall()
    except duckdb.Error as exc:
        raise StorageError(f"cannot read the {label} file {path} as Parquet: {exc}") from exc
    return {str(row[0]): str(row[1]) for row in described}


def _one(con: DuckDBPyConnection, sql: str) -> tuple[Any, ...]:
    """The single row ``sql`` returns."""
    row = con.execute(sql).fetchone()
    assert row is not None, sql
    return tuple(row)


def _is_numeric(duckdb_type: str) -> bool:
    return duckdb_type in _NUMERIC or duckdb_type.startswith("DECIMAL")


def _check_key(key: tuple[str, ...], sides: list[tuple[str, Path, dict[str, str]]]) -> None:
    """Refuse a key that repeats a column or names a column one of the versions lacks."""
    repeated = sorted({name for name in key if key.count(name) > 1})
    if repeated:
        raise UnknownName(f"the key names column {repeated[0]!r} twice: give each column once")
    for label, path, schema in sides:
        for name in key:
            if name not in schema:
                raise UnknownName(
                    f"key column {name!r} is not in the {label} version ({path.name})."
                    f"{did_you_mean(name, schema)} "
                    f"Its columns are: {name_list(list(schema), 20)}. "
                    "Pass key columns that both versions have."
                )


# --- column summaries ---------------------------------------------------------------------------

# DuckDB's count(DISTINCT) costs grow much faster than linearly with the number of distinct
# aggregates in one query (300 take 1.5 s even on 20 rows), while Parquet is read per column: so
# the summaries are computed a few dozen columns per query.
_COLUMNS_PER_QUERY = 32


def _summarize(
    con: DuckDBPyConnection,
    view: str,
    schema: dict[str, str],
    columns: list[str],
    hashed: list[str] | None,
) -> tuple[int, list[tuple[Any, ...]], int | None]:
    """Row count, ``(nulls, distinct, min, max, mean)`` of each of ``columns``, and a row hash.

    The row hash (a sum of per-row hashes, so row order does not matter) is computed over the
    ``hashed`` columns, when given.
    """
    row_hash = (
        f"coalesce(sum(hash({', '.join(map(quote_ident, hashed))})), 0)" if hashed else "NULL"
    )
    rows, hash_sum = _one(con, f"SELECT count(*), {row_hash} FROM {view}")
    summaries: list[tuple[Any, ...]] = []
    for start in range(0, len(columns), _COLUMNS_PER_QUERY):
        chunk = columns[start : start + _COLUMNS_PER_QUERY]
        exprs = ", ".join(_summary_exprs(name, schema[name]) for name in chunk)
        row = _one(con, f"SELECT {exprs} FROM {view}")
        summaries += [row[i * 5 : i * 5 + 5] for i in range(len(chunk))]
    return int(rows), summaries, hash_sum


def _summary_exprs(name: str, duckdb_type: str) -> str:
    """SQL for nulls, distinct values, min and max (as text) and mean (numeric only) of a column."""
    col = quote_ident(name)
    mean = f"CAST(avg({col}) AS DOUBLE)" if _is_numeric(duckdb_type) else "NULL"
    return (
        f"count(*) - count({col}), count(DISTINCT {col}), "
        f"CAST(min({col}) AS VARCHAR), CAST(max({col}) AS VARCHAR), {mean}"
    )


def _column_change(
    name: str, old_type: str, new_type: str, old: tuple[Any, ...], new: tuple[Any, ...]
) -> ColumnChange:
    counts = (int(old[0]), int(new[0]), int(old[1]), int(new[1]))  # nulls, distinct
    rest = [value for pair in zip(old[2:], new[2:], strict=True) for value in pair]  # min...
    return ColumnChange(name, old_type, new_type, *counts, *rest)


def same_figure(old: Any, new: Any) -> bool:
    """Equal, with floats compared to a relative tolerance of 1e-9."""
    if isinstance(old, float) and isinstance(new, float):
        return math.isclose(old, new, rel_tol=1e-9) or (math.isnan(old) and math.isnan(new))
    return bool(old == new)


# --- rows, matched on the key -------------------------------------------------------------------


@dataclass(frozen=True)
class _Pair:
    """One column seen from both versions: ``o.<col>`` and ``n.<col>``, cast when they must be."""

    name: str
    old: str
    new: str

    @property
    def differs(self) -> str:
        return f"({self.old} IS DISTINCT FROM {self.new})"


def _pair(name: str, old_type: str, new_type: str) -> _Pair:
    """Compare by value when the types are equal or both numeric, else as ``VARCHAR`` text."""
    col = quote_ident(name)
    if old_type == new_type or (_is_numeric(old_type) and _is_numeric(new_type)):
        return _Pair(name, f"o.{col}", f"n.{col}")
    return _Pair(name, f"CAST(o.{col} AS VARCHAR)", f"CAST(n.{col} AS VARCHAR)")


def _compare_rows(
    con: DuckDBPyConnection,
    base: DataDiff,
    key: tuple[str, ...],
    pairs: dict[str, _Pair],
    sample_rows: int,
) -> DataDiff:
    """Add the key-matched row counts and samples to ``base``.

    Two passes over the files: ``__keys`` (each key value with its row count per version) gives
    the added, removed and duplicate counts; one join of the uniquely keyed rows counts changes
    per column and keeps the smallest changed keys for the sample.
    """
    keys = [pairs[name] for name in key]
    compared = [pair for name, pair in pairs.items() if name not in key]
    _create_key_table(con, keys)
    added, removed, dup_old, dup_new, ambiguous_old, ambiguous_new = _one(
        con,
        """SELECT
            coalesce(sum(n_new) FILTER (WHERE n_old IS NULL), 0),
            coalesce(sum(n_old) FILTER (WHERE n_new IS NULL), 0),
            count(*) FILTER (WHERE n_old > 1),
            count(*) FILTER (WHERE n_new > 1),
            coalesce(sum(n_old) FILTER (WHERE n_new IS NOT NULL AND (n_old > 1 OR n_new > 1)), 0),
            coalesce(sum(n_new) FILTER (WHERE n_old IS NOT NULL AND (n_old > 1 OR n_new > 1)), 0)
        FROM __keys""",
    )
    matched = _matched_rows(keys, has_duplicates=bool(dup_old or dup_new))
    any_differs = " OR ".join(p.differs for p in compared) or "false"
    key_struct = ", ".join(f"k{i} := {p.old}" for i, p in enumerate(keys))
    con.execute(
        f"""CREATE TEMP TABLE __compared AS SELECT
            count(*) AS matched,
            count(*) FILTER (WHERE {any_differs}) AS changed,
            [{", ".join(f"count(*) FILTER (WHERE {p.differs})" for p in compared)}] AS by_column,
            min(struct_pack({key_struct}), {max(sample_rows, 1)}) FILTER (WHERE {any_differs})
                AS sample_keys
        {matched}"""
    )
    n_matched, changed, by_column = _one(con, "SELECT matched, changed, by_column FROM __compared")
    return dataclasses.replace(
        base,
        key=key,
        added_rows=int(added),
        removed_rows=int(removed),
        changed_rows=int(changed),
        unchanged_rows=int(n_matched) - int(changed),
        old_duplicate_keys=int(dup_old),
        new_duplicate_keys=int(dup_new),
        ambiguous_old_rows=int(ambiguous_old),
        ambiguous_new_rows=int(ambiguous_new),
        changed_by_column={p.name: int(n) for p, n in zip(compared, by_column, strict=True)},
        added_sample=_only_in(con, "new", keys, sample_rows) if added else [],
        removed_sample=_only_in(con, "old", keys, sample_rows) if removed else [],
        changed_sample=_changed_sample(con, keys, compared, sample_rows) if changed else [],
    )


def _create_key_table(con: DuckDBPyConnection, keys: list[_Pair]) -> None:
    """``__keys``: every key value (``k0``, ``k1``...) with its row count in each version."""
    old_keys = ", ".join(f"{p.old} AS k{i}" for i, p in enumerate(keys))
    new_keys = ", ".join(f"{p.new} AS k{i}" for i, p in enumerate(keys))
    values = ", ".join(f"coalesce(a.k{i}, b.k{i}) AS k{i}" for i in range(len(keys)))
    con.execute(
        f"""CREATE TEMP TABLE __keys AS
        SELECT {values}, a.rows AS n_old, b.rows AS n_new
        FROM (SELECT {old_keys}, count(*) AS rows FROM __old o GROUP BY ALL) a
        FULL JOIN (SELECT {new_keys}, count(*) AS rows FROM __new n GROUP BY ALL) b
        ON {_equal((f"a.k{i}", f"b.k{i}") for i in range(len(keys)))}"""
    )


def _equal(pairs: Iterable[tuple[str, str]]) -> str:
    """Null-safe equality of each pair of SQL expressions (NULL matches NULL), joined by AND."""
    return " AND ".join(f"{left} IS NOT DISTINCT FROM {right}" for left, right in pairs)


def _matched_rows(keys: list[_Pair], *, has_duplicates: bool) -> str:
    """``FROM`` clause of the rows matched one to one on the key, as ``o`` and ``n``."""
    sql = f"FROM __old o JOIN __new n ON {_equal((p.old, p.new) for p in keys)}"
    if has_duplicates:
        repeated = "(SELECT * FROM __keys WHERE n_old > 1 OR n_new > 1)"
        sql += (
            f" ANTI JOIN {repeated} d ON {_equal((p.old, f'd.k{i}') for i, p in enumerate(keys))}"
        )
    return sql


def _only_in(
    con: DuckDBPyConnection, side: str, keys: list[_Pair], limit: int
) -> list[dict[str, Any]]:
    """The first ``limit`` rows (in key order) of the ``side`` version whose key the other lacks."""
    if limit == 0:
        return []
    alias, other_count = ("n", "n_old") if side == "new" else ("o", "n_new")
    own = [p.new if side == "new" else p.old for p in keys]
    order = ", ".join(f"k{i}" for i in range(len(keys)))
    first_keys = (
        f"(SELECT * FROM __keys WHERE {other_count} IS NULL ORDER BY {order} LIMIT {limit})"
    )
    on = _equal((expr, f"s.k{i}") for i, expr in enumerate(own))
    cursor = con.execute(
        f"SELECT {alias}.* FROM __{side} {alias} SEMI JOIN {first_keys} s ON {on} "
        f"ORDER BY {', '.join(own)} LIMIT {limit}"
    )
    names = [str(column[0]) for column in cursor.description or []]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _changed_sample(
    con: DuckDBPyConnection, keys: list[_Pair], compared: list[_Pair], limit: int
) -> list[ChangedRow]:
    """The first ``limit`` changed rows (in key order): key, and old and new differing values."""
    if limit == 0:
        return []
    key_values = [f"o.{quote_ident(p.name)}" for p in keys]
    triples = [f"o.{quote_ident(p.name)}, n.{quote_ident(p.name)}, {p.differs}" for p in compared]
    sample_keys = "(SELECT unnest(k) FROM (SELECT unnest(sample_keys) AS k FROM __compared))"
    rows = con.execute(
        f"SELECT {', '.join(key_values + triples)} FROM {sample_keys} s "
        f"JOIN __old o ON {_equal((p.old, f's.k{i}') for i, p in enumerate(keys))} "
        f"JOIN __new n ON {_equal((p.old, p.new) for p in keys)} "
        f"ORDER BY {', '.join(p.old for p in keys)}"
    ).fetchall()
    sample = []
    for row in rows:
        key_row, values = row[: len(keys)], row[len(keys) :]
        changes = {
            p.name: (values[3 * i], values[3 * i + 1])
            for i, p in enumerate(compared)
            if values[3 * i + 2]
        }
        sample.append(ChangedRow(dict(zip([p.name for p in keys], key_row, strict=True)), changes))
    return sample
