"""Honest column statistics: exact null counts; distinct counts exact, estimated or bounded.

Null counts are always exact (a vectorized count, or the library's own ``null_count``).
Distinct counts depend on the table's size, so that the preview keeps its time bound:

- up to ``EXACT_CELLS`` (rows × the shown columns' weights, see :func:`plans`), every column
  is counted exactly;
- else, while ``SKETCH_CELLS`` last, column after column, a HyperLogLog sketch of every row
  estimates the count (``~``); with 2**14 registers its standard error is 0.8%, so 5% is
  more than six of them;
- the columns after that get the distinct values seen in an evenly spaced sample, which are
  a lower bound (``≥``).

Dictionary and categorical columns, and booleans, are always counted exactly: their codes are
cheap to count. A column whose values cannot be hashed gets no distinct count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

EXACT_CELLS = 500_000  # distinct values counted exactly up to this many weighted cells
SKETCH_CELLS = 4_000_000  # HyperLogLog over every row up to this many weighted cells
SAMPLE_ROWS = 20_000  # beyond: distinct values seen in this many evenly spaced rows
RECOUNT_BELOW = 1_024  # an estimate of fewer distinct values is recounted exactly
CODE_BLOCK = 1 << 18  # category codes counted this many at a time
TEXT_WEIGHT = 4  # a cell of text or objects costs about as much to hash as this many numbers
PRECISION = 14  # HyperLogLog registers: 2**14, standard error 1.04 / sqrt(2**14) = 0.81%
STANDARD_ERROR = 1.04 / math.sqrt(2**PRECISION)

EXACT, ESTIMATE, AT_LEAST = "", "~", "≥"  # the mark shown before a count


@dataclass(frozen=True)
class Plan:
    """How the distinct values of one column are counted."""

    mode: str  # EXACT | ESTIMATE | AT_LEAST
    step: int = 1  # stride of the sample when ``mode`` is AT_LEAST

    def sample_rows(self, rows: int) -> int | None:
        """Rows of the sample, when a lower bound comes from one."""
        return -(-rows // self.step) if self.mode == AT_LEAST and self.step > 1 else None


def plans(rows: int, weights: list[int]) -> list[Plan]:
    """One plan per shown column, from the table's rows and each column's cost per row
    (``weights``: 1 for numbers, booleans, times or categories, ``TEXT_WEIGHT`` for others)."""
    if rows * sum(weights) <= EXACT_CELLS:
        return [Plan(EXACT)] * len(weights)
    sample, left, chosen = Plan(AT_LEAST, max(1, -(-rows // SAMPLE_ROWS))), SKETCH_CELLS, []
    for weight in weights:
        left -= rows * weight
        chosen.append(Plan(ESTIMATE) if left >= 0 else sample)
    return chosen


# -- nulls (always exact) ----------------------------------------------------------------------


def pandas_nulls(column: Any) -> int:
    """Exact missing values of a pandas column, by the cheapest means for its dtype."""
    import numpy as np

    dtype = column.dtype
    if isinstance(dtype, np.dtype):
        if dtype.kind in "iub":
            return 0
        if dtype.kind == "f":
            return int(np.count_nonzero(np.isnan(column.to_numpy())))
        if dtype.kind in "mM":
            return int(np.count_nonzero(np.isnat(column.to_numpy())))
    if _is_categorical(dtype):
        return int(np.count_nonzero(column.cat.codes.to_numpy() < 0))
    return int(column.isna().sum())


# -- distinct values ---------------------------------------------------------------------------


def pandas_distinct(column: Any, plan: Plan) -> tuple[int, str]:
    """Distinct non-null values of a pandas column: the count and its mark."""
    import numpy as np

    dtype = column.dtype
    if _is_categorical(dtype):
        return _used_codes(column.cat.codes.to_numpy(), len(dtype.categories)), EXACT
    if isinstance(dtype, np.dtype) and dtype.kind == "b":
        values = column.to_numpy()
        return int(values.any()) + int(not values.all()), EXACT
    part = column.iloc[:: plan.step] if plan.step > 1 else column
    if not isinstance(dtype, np.dtype) and plan.mode == ESTIMATE:
        import pyarrow as pa
        import pyarrow.compute as pc

        try:  # text and other extension arrays: hashed in Arrow, without Python objects
            return _count(pc.drop_null(pa.array(part.array)), plan, False)
        except (pa.ArrowException, TypeError, ValueError):
            pass
    values = part.dropna().to_numpy() if part.hasnans else part.to_numpy()
    return _count(values, plan, len(part) < len(column))


def polars_distinct(column: Any, plan: Plan) -> tuple[int, str]:
    """Distinct non-null values of a polars Series: the count and its mark."""
    import polars as pl

    if column.dtype in (pl.Boolean, pl.Categorical, pl.Enum):
        return int(column.drop_nulls().n_unique()), EXACT
    part = column.gather_every(plan.step) if plan.step > 1 else column
    if plan.mode != ESTIMATE:
        return int(part.drop_nulls().n_unique()), _bound(len(part) < len(column))
    values = part.drop_nulls()
    return _count(
        values.to_numpy() if _cheap_polars(values.dtype) else values.to_arrow(), plan, False
    )


def arrow_distinct(column: Any, plan: Plan) -> tuple[int, str]:
    """Distinct non-null values of a pyarrow chunked array: the count and its mark."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_dictionary(column.type):
        column = column.unify_dictionaries()
        codes = [pc.drop_null(c.indices).to_numpy(zero_copy_only=False) for c in column.chunks]
        size = len(column.chunk(0).dictionary) if column.num_chunks else 0
        joined = np.concatenate(codes) if codes else np.zeros(0, np.int8)
        return _used_codes(joined, size), EXACT
    if pa.types.is_boolean(column.type):
        return len(pc.unique(pc.drop_null(column))), EXACT
    part = column.take(np.arange(0, len(column), plan.step)) if plan.step > 1 else column
    values = pc.drop_null(part)
    if _cheap_arrow(values.type) or plan.mode != ESTIMATE:
        values = values.to_numpy(zero_copy_only=False)
    return _count(values, plan, len(part) < len(column))


def _count(values: Any, plan: Plan, sampled: bool) -> tuple[int, str]:
    """Distinct values of a numpy or Arrow array without nulls: exactly, or by HyperLogLog.

    An estimate of a few values is recounted exactly, which costs little for so few.
    """
    if plan.mode == ESTIMATE and len(values) > 2**PRECISION:
        estimate = hyperloglog(values)
        if estimate > RECOUNT_BELOW:
            return estimate, ESTIMATE
    import pandas as pd

    if not hasattr(values, "dtype"):  # an Arrow array
        values = values.to_numpy(zero_copy_only=False)
    try:
        count = len(pd.unique(_hashable(values)))
    except TypeError:  # unhashable objects (lists, dicts): pandas counts them another way
        count = len(pd.Series(values).value_counts(dropna=True, sort=False))
    return count, _bound(sampled)


def _bound(sampled: bool) -> str:
    return AT_LEAST if sampled else EXACT


def _is_categorical(dtype: Any) -> bool:
    return type(dtype).__name__ == "CategoricalDtype"


def _used_codes(codes: Any, categories: int) -> int:
    """How many of ``categories`` codes occur in ``codes`` (negative codes are nulls).

    Codes of one or two bytes are counted a block at a time as unsigned numbers, where nulls
    fall beyond the categories: no full-length copy of the column is made.
    """
    import numpy as np

    if codes.dtype.itemsize > 2:
        codes = codes[codes >= 0] if len(codes) and codes.min() < 0 else codes
        return int(np.count_nonzero(np.bincount(codes, minlength=categories)[:categories]))
    unsigned = codes.view(f"u{codes.dtype.itemsize}")
    bins = 256**codes.dtype.itemsize
    total = np.zeros(bins, np.int64)
    for start in range(0, len(unsigned), CODE_BLOCK):
        total += np.bincount(unsigned[start : start + CODE_BLOCK], minlength=bins)
    return int(np.count_nonzero(total[:categories]))


def _hashable(values: Any) -> Any:
    """``values`` as pandas can hash them: datetimes as their integers, other kinds as they are."""
    if values.dtype.kind in "mM":
        return values.view("i8")
    return values


def hyperloglog(values: Any) -> int:
    """Estimated distinct values of a numpy or Arrow array without nulls (HyperLogLog, 2**14
    registers).

    Each value's 64-bit hash picks a register by its top ``PRECISION`` bits; the register keeps
    the most leading zeros (plus one) seen in the other bits. Few empty registers mean few
    values, which linear counting gets right; otherwise the harmonic mean of the registers.
    """
    import numpy as np

    if len(values) == 0:
        return 0
    registers = _registers(_hashes(values))
    size = registers.size
    empty = int(np.count_nonzero(registers == 0))
    if empty and empty > size * 0.051:  # up to about 3 values per register: linear counting
        return round(size * math.log(size / empty))
    alpha = 0.7213 / (1 + 1.079 / size)
    harmonic = float(np.sum(np.ldexp(1.0, -registers.astype(np.int64))))
    return round(alpha * size * size / harmonic)


def _hashes(values: Any) -> Any:
    """64-bit hashes of values without nulls: numpy numbers, times and Python objects hashed by
    pandas, Arrow arrays by DuckDB's ``hash``. Never Python's ``hash()``: it is salted per
    process, so the same text column would show another estimate after each restart."""
    import pandas as pd

    if not hasattr(values, "dtype"):  # an Arrow array
        try:
            return _duckdb_hashes(values)
        except Exception:  # a type DuckDB does not read: hash its Python values instead
            values = values.to_numpy(zero_copy_only=False)
    if values.dtype.kind != "O":
        return pd.util.hash_array(_hashable(values), categorize=False)
    return pd.util.hash_array(values, categorize=False)  # text; other objects by their text


_DUCKDB: list[Any] = []  # one in-memory connection, opened at the first estimate of text


def _duckdb_hashes(array: Any) -> Any:
    import duckdb
    import pyarrow as pa

    if not _DUCKDB:
        _DUCKDB.append(duckdb.connect())
    cursor = _DUCKDB[0].cursor()
    try:
        cursor.register("nbassets_values", pa.table({"v": array}))
        return cursor.execute("SELECT hash(v) AS h FROM nbassets_values").fetchnumpy()["h"]
    finally:
        cursor.close()


def _registers(hashes: Any) -> Any:
    """The HyperLogLog registers of 64-bit ``hashes``: per bucket, the highest rank seen."""
    import numpy as np

    rest_bits = 64 - PRECISION
    bucket = (hashes >> np.uint64(rest_bits)).astype(np.intp)
    rest = (hashes & np.uint64((1 << rest_bits) - 1)).astype(np.float64)  # exact below 2**53
    _, exponent = np.frexp(rest)  # rest = m * 2**exponent, 0.5 <= m < 1; 0 for rest 0
    rank = (rest_bits + 1 - exponent).astype(np.uint8)  # position of the first 1-bit
    registers = np.zeros(2**PRECISION, np.uint8)
    np.maximum.at(registers, bucket, rank)
    return registers


# -- cost per row ------------------------------------------------------------------------------


def pandas_weights(dtypes: Any) -> list[int]:
    """The cost per row of counting each pandas column of these dtypes (see :func:`plans`)."""

    def cheap(dtype: Any) -> bool:  # numpy and nullable numbers, booleans, times, categories
        return getattr(dtype, "kind", "O") in "iufbmM" or _is_categorical(dtype)

    return [1 if cheap(dtype) else TEXT_WEIGHT for dtype in dtypes]


def polars_weights(dtypes: Any) -> list[int]:
    """The cost per row of counting each polars column of these dtypes."""
    import polars as pl

    def cheap(dtype: Any) -> bool:
        return _cheap_polars(dtype) or dtype in (pl.Boolean, pl.Categorical)

    return [1 if cheap(dtype) else TEXT_WEIGHT for dtype in dtypes]


def arrow_weights(schema: Any) -> list[int]:
    """The cost per row of counting each column of a pyarrow schema."""
    import pyarrow as pa

    def cheap(kind: Any) -> bool:
        return _cheap_arrow(kind) or pa.types.is_boolean(kind) or pa.types.is_dictionary(kind)

    return [1 if cheap(field.type) else TEXT_WEIGHT for field in schema]


def _cheap_polars(dtype: Any) -> bool:
    """Numbers and times, which become numpy arrays without Python objects."""
    return bool(dtype.is_numeric() or dtype.is_temporal())


def _cheap_arrow(kind: Any) -> bool:
    import pyarrow as pa

    return bool(
        pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_temporal(kind)
    )
