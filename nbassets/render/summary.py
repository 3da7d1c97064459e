"""What a value looks like, within bounds: a table's first rows and its column statistics.

Other values get a short view. The cost stays bounded as the value grows: tables give their
first rows and columns, cell text is cut, and ``stats.py`` counts nulls exactly and distinct
values exactly, by HyperLogLog or as a sample's lower bound, by the table's size. pandas,
polars, pyarrow and numpy are imported only for values whose type comes from them.
"""

from __future__ import annotations

import datetime as dt
import numbers
import reprlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path, PurePath
from typing import Any

from ..store.serializers import table_kind
from ..text import plural, shorten
from . import stats as st

PREVIEW_ROWS = 5  # first rows of a table shown (the magics' preview_rows default)
PREVIEW_COLUMNS = 20  # columns of a table shown
CELL_CHARS = 60  # longest cell text, column name or parameter value shown
TEXT_CHARS = 2_000  # longest detail text of a string
MAX_ITEMS = 20  # dict items, parameters or sequence items shown


@dataclass(frozen=True)
class ColumnStats:
    """The schema row of one shown column: exact nulls, and distinct values with their mark
    (``""`` exact, ``"~"`` a HyperLogLog estimate, ``"≥"`` a sample's lower bound)."""

    name: str
    dtype: str
    nulls: int | None
    distinct: int | None
    distinct_mark: str = st.EXACT


@dataclass(frozen=True)
class TableBody:
    """The bounded view of a table: head cells (index cells first) and column statistics."""

    kind: str  # DataFrame | Table
    rows: int
    columns: int
    header: tuple[str, ...]  # index names, then the shown column names
    index_width: int
    numeric: tuple[bool, ...]  # per header entry: right-align
    cells: tuple[tuple[str, ...], ...]
    stats: tuple[ColumnStats, ...]
    sample_rows: int | None = None  # rows the lower bounds (``≥``) came from, if any


@dataclass(frozen=True)
class ValueBody:
    """The bounded view of any other value: a one-line summary and a detail text."""

    summary: str
    text: str


class _BoundedRepr(reprlib.Repr):
    """``reprlib`` that never builds the full repr of tables, arrays or long bytes."""

    def repr_DataFrame(self, x: Any, level: int) -> str:
        return f"<{type(x).__name__} {' × '.join(f'{n:,}' for n in x.shape)}>"

    repr_Table = repr_Series = repr_DataFrame

    def repr_ndarray(self, x: Any, level: int) -> str:
        if x.ndim == 1 and x.size <= 10 and x.dtype.kind in "biuf":
            return f"[{', '.join(cell_text(v) for v in x.tolist())}]"
        return f"{self.repr_DataFrame(x, level)[:-1]} {x.dtype}>"

    repr_bytes = repr_bytearray = reprlib.Repr.repr_str


_SHORT = _BoundedRepr()
_SHORT.maxstring = _SHORT.maxother = CELL_CHARS
_SHORT.maxlist = _SHORT.maxtuple = _SHORT.maxdict = _SHORT.maxset = MAX_ITEMS


def summarize(
    value: Any, max_rows: int = PREVIEW_ROWS, max_columns: int = PREVIEW_COLUMNS
) -> TableBody | ValueBody:
    """The bounded view of ``value``; a pandas or polars Series shows as a one-column table."""
    if type(value).__name__ == "Series" and type(value).__module__.startswith(("pandas", "polars")):
        value = value.to_frame()
    kind = table_kind(value)
    if kind is not None and value.shape[1] == 0:
        return ValueBody(f"{type(value).__name__} {value.shape[0]:,} rows × 0 cols", "(no columns)")
    if kind == "pandas":
        return _pandas_table(value, max_rows, max_columns)
    if kind == "polars":
        return _polars_table(value, max_rows, max_columns)
    if kind == "arrow":
        return _arrow_table(value, max_rows, max_columns)
    return _value_body(value)


# -- tables: head cells from a slice, statistics from ``stats.py`` -----------------------------


def _pandas_table(df: Any, max_rows: int, max_columns: int) -> TableBody:
    shown = df.iloc[:, :max_columns]
    plans = st.plans(len(df), st.pandas_weights(shown.dtypes))
    stats = [
        _stats(name, dtype, shown.iloc[:, j], plan, st.pandas_nulls, st.pandas_distinct)
        for j, (name, dtype, plan) in enumerate(
            zip(shown.columns, shown.dtypes, plans, strict=True)
        )
    ]
    head = shown.iloc[:max_rows]
    index = head.index.tolist() if df.index.nlevels > 1 else [(k,) for k in head.index]
    values = head.itertuples(index=False, name=None)
    names = (*df.index.names, *shown.columns)
    numeric = (False,) * df.index.nlevels + tuple(t.kind in "iufc" for t in shown.dtypes)
    cells = [(*i, *v) for i, v in zip(index, values, strict=True)]
    return _table(df, names, df.index.nlevels, numeric, cells, stats, plans)


def _polars_table(df: Any, max_rows: int, max_columns: int) -> TableBody:
    shown = df.select(df.columns[:max_columns])
    plans = st.plans(len(df), st.polars_weights(shown.dtypes))
    stats = [
        _stats(c.name, c.dtype, c, plan, _null_count, st.polars_distinct)
        for c, plan in zip(shown.get_columns(), plans, strict=True)
    ]
    numeric = tuple(t.is_numeric() for t in shown.dtypes)
    cells = shown.head(max_rows).rows()
    return _table(df, shown.columns, 0, numeric, cells, stats, plans)


def _arrow_table(table: Any, max_rows: int, max_columns: int) -> TableBody:
    import pyarrow as pa

    shown = table.select(range(min(max_columns, table.num_columns)))
    plans = st.plans(table.num_rows, st.arrow_weights(shown.schema))
    columns = zip(shown.schema, shown.columns, plans, strict=True)
    stats = [
        _stats(f.name, f.type, c, plan, _null_count, st.arrow_distinct) for f, c, plan in columns
    ]
    kinds = (pa.types.is_integer, pa.types.is_floating, pa.types.is_decimal)
    numeric = tuple(any(is_kind(f.type) for is_kind in kinds) for f in shown.schema)
    head = [column.to_pylist() for column in shown.slice(0, max_rows).columns]
    cells = list(zip(*head, strict=True))
    return _table(table, shown.column_names, 0, numeric, cells, stats, plans)


def _table(
    value: Any, names: Any, index_width: int, numeric: Any, cells: Any, stats: Any, plans: Any
) -> TableBody:
    """Labels and cells shortened to text; ``plans`` say whether a sample gave lower bounds."""
    rows, columns = value.shape
    header = tuple(map(_label, names))
    texts = tuple(tuple(map(cell_text, row)) for row in cells)
    kind = type(value).__name__
    sample = next(filter(None, (plan.sample_rows(rows) for plan in plans)), None)
    return TableBody(kind, rows, columns, header, index_width, numeric, texts, tuple(stats), sample)


def _stats(
    name: Any,
    dtype: Any,
    column: Any,
    plan: st.Plan,
    nulls: Callable[[Any], int],
    distinct: Callable[[Any, st.Plan], tuple[int, str]],
) -> ColumnStats:
    """One schema row; a column whose values cannot be hashed (lists, objects) gets no count."""
    try:
        count, mark = distinct(column, plan)
    except Exception:
        count, mark = None, st.EXACT
    return ColumnStats(_label(name), str(dtype), nulls(column), count, mark)


def _null_count(column: Any) -> int:
    """Missing values of a polars Series or a pyarrow array, which both keep the count."""
    return int(column.null_count() if callable(column.null_count) else column.null_count)


# -- other values ------------------------------------------------------------------------------


def _value_body(value: Any) -> ValueBody:
    if type(value).__module__.startswith("numpy"):
        import numpy as np

        if isinstance(value, np.ndarray):
            return _ndarray_body(value)
    if hasattr(value, "get_params") and any(
        cls.__module__.startswith("sklearn") for cls in type(value).__mro__
    ):
        return _estimator_body(value)
    if isinstance(value, str | bytes | bytearray):
        unit = "chars" if isinstance(value, str) else "bytes"
        text = value[:TEXT_CHARS] if isinstance(value, str) else repr(value[:TEXT_CHARS])
        more = "…" if len(value) > TEXT_CHARS else ""
        return ValueBody(f"{type(value).__name__} of {len(value):,} {unit}", text + more)
    if isinstance(value, PurePath):
        return _path_body(value)
    if isinstance(value, Mapping):
        lines = [f"{_SHORT.repr(k)}: {_SHORT.repr(v)}" for k, v in _first(value.items())]
        return ValueBody(_count(value), "\n".join(lines + _more(len(value))))
    if isinstance(value, list | tuple | set | frozenset):
        return ValueBody(_count(value), _SHORT.repr(value))
    module, name = type(value).__module__, type(value).__qualname__
    return ValueBody(name if module == "builtins" else f"{module}.{name}", _SHORT.repr(value))


def _ndarray_body(array: Any) -> ValueBody:
    import numpy as np

    options: dict[str, Any] = {"threshold": 50, "edgeitems": 3, "max_line_width": 100}
    if array.dtype.kind == "O":  # never the full repr of an arbitrary element
        options["formatter"] = {"all": _SHORT.repr}
    shape = " × ".join(f"{n:,}" for n in array.shape) or "scalar"
    return ValueBody(f"ndarray {shape} {array.dtype}", np.array2string(array, **options))


def _estimator_body(model: Any) -> ValueBody:
    """Class, fitted or not, constructor parameters, then learned attributes (``coef_``)."""
    learned = sorted(k for k in vars(model) if k.endswith("_") and not k.startswith("_"))
    is_fitted = getattr(model, "__sklearn_is_fitted__", None)
    fitted = is_fitted() if callable(is_fitted) else bool(learned)
    params = model.get_params(deep=False)
    blocks = [
        [f"{k}={cell_text(v)}" for k, v in _first(sorted(params.items()))] + _more(len(params)),
        [f"{k}: {cell_text(getattr(model, k))}" for k in _first(learned)] + _more(len(learned)),
    ]
    summary = f"{type(model).__name__}, {'fitted' if fitted else 'not fitted'}"
    return ValueBody(summary, "\n\n".join("\n".join(block) for block in blocks if block))


def _path_body(path: PurePath) -> ValueBody:
    kind = "not a local path"
    if isinstance(path, Path):
        try:
            kind = "directory" if path.is_dir() else f"file, {human_bytes(path.stat().st_size)}"
        except OSError:
            kind = "does not exist"
    return ValueBody(f"{type(path).__name__} ({kind})", cell_text(str(path), TEXT_CHARS))


def _first(items: Any) -> list[Any]:
    return [item for _, item in zip(range(MAX_ITEMS), items, strict=False)]


def _more(total: int) -> list[str]:
    return [f"… and {total - MAX_ITEMS:,} more"] if total > MAX_ITEMS else []


def _count(value: Any) -> str:
    return f"{type(value).__name__} of {plural(len(value), 'item')}"


# -- short texts -------------------------------------------------------------------------------


_PLAIN = (numbers.Integral, dt.date, dt.time, dt.timedelta, Decimal)  # shown with str()


def cell_text(value: Any, limit: int = CELL_CHARS) -> str:
    """One line of at most ``limit`` characters for a cell, label or parameter."""
    if isinstance(value, str):
        text = value[: limit + 1]
    elif type(value).__name__ == "bool" or isinstance(value, _PLAIN):  # numpy's bool too
        text = str(value)
    elif isinstance(value, numbers.Real):
        text = f"{float(value):.6g}"
        text += "" if any(c in text for c in ".en") else ".0"  # 1.0, not 1 (which reads as int)
    else:
        text = _SHORT.repr(value)
    text = text.replace("\r\n", "↵").replace("\n", "↵").replace("\t", " ")
    return shorten(text, limit)


def _label(name: Any) -> str:
    """A column or index name: ``""`` for None, MultiIndex tuples joined with ``/``."""
    if name is None:
        return ""
    if isinstance(name, tuple):
        return cell_text(" / ".join(_label(part) for part in name))
    return cell_text(name)


def human_bytes(size: int) -> str:
    """``812 B``, ``52.3 KB``, ``1.4 GB``."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            break
        value /= 1024
    return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
