"""How values become files and back: Parquet for tables, pickle or JSON for the rest."""

from __future__ import annotations

import json
import pickle
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from ..errors import StorageError

EXTENSIONS = {"parquet": "parquet", "pickle": "pkl", "json": "json"}


@dataclass(frozen=True)
class ValueInfo:
    """What a stored value looks like: its kind, row count and column types."""

    kind: str  # pandas | polars | arrow | pickle | json
    rows: int | None
    schema: dict[str, str] | None


def table_kind(value: Any) -> str | None:
    """``pandas``, ``polars`` or ``arrow`` for a table value, else ``None``; imports nothing."""
    module = type(value).__module__
    name = type(value).__name__
    if name == "DataFrame" and module.startswith("pandas"):
        return "pandas"
    if name == "DataFrame" and module.startswith("polars"):
        return "polars"
    if name == "Table" and module.startswith("pyarrow"):
        return "arrow"
    return None


def choose_io(value: Any, requested: str | None) -> str:
    """The storage format: the one asked for, else Parquet for tables and pickle otherwise."""
    if requested:
        if requested == "parquet" and table_kind(value) is None:
            raise StorageError(
                f"--io parquet stores tables (pandas, polars or pyarrow), but the value is a "
                f"{type(value).__module__}.{type(value).__qualname__}; use --io pickle or "
                "return a DataFrame."
            )
        return requested
    return "parquet" if table_kind(value) else "pickle"


def approximate_bytes(value: Any) -> int:
    """A cheap estimate of a table's size in memory (0 for other values)."""
    kind = table_kind(value)
    if kind == "pandas":
        return int(value.shape[0]) * int(value.shape[1]) * 8
    if kind == "polars":
        return int(value.estimated_size())
    if kind == "arrow":
        return int(value.nbytes)
    return 0


def write_value(key: str, value: Any, io: str, sink: Path | BinaryIO) -> ValueInfo:
    """Write ``value`` to ``sink`` (a path or a binary file) in format ``io``."""
    if io == "parquet":
        return _write_parquet(key, value, sink)
    if io == "json":
        try:
            text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        except (TypeError, ValueError) as exc:
            raise StorageError(
                f"asset {key!r} declares --io json, but its value is not JSON-serializable "
                f"({exc}); return lists, dicts, strings, numbers, booleans or None, "
                "or use --io pickle."
            ) from exc
        with _binary(sink) as file:
            file.write(text.encode("utf-8"))
        return ValueInfo("json", _length(value), None)
    try:
        with _binary(sink) as file:
            pickle.dump(value, file, protocol=5)
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        raise StorageError(
            f"the value of asset {key!r} (a {type(value).__qualname__}) cannot be pickled: "
            f"{exc}. Return a DataFrame or a picklable value (no open files, locks or lambdas)."
        ) from exc
    return ValueInfo("pickle", _length(value), None)


def read_value(path: Path, io: str, kind: str) -> Any:
    """Read a stored value back as the kind of object that was written."""
    if io == "parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        if kind == "pandas":
            return table.to_pandas()
        if kind == "polars":
            import polars as pl

            return pl.from_arrow(table)
        return table
    if io == "json":
        return json.loads(path.read_text(encoding="utf-8"))
    with path.open("rb") as file:
        return pickle.load(file)


PARQUET_MAGIC = b"PAR1"  # a Parquet file starts and ends with it (the footer follows the data)
PICKLE_STOP = b"."  # the last opcode of every pickle


def frame_problem(path: Path, io: str, size: int) -> str | None:
    """What is wrong with the file's own frame (``None`` when it looks whole): the Parquet
    magic at both ends and a footer length that fits, or a pickle's final STOP opcode.

    Reads at most 8 bytes from each end: cheap next to decoding, and it catches a file cut
    short before pyarrow or pickle fail deep inside with an error that names neither.
    """
    with path.open("rb") as file:
        if io == "parquet":
            if size < 12:
                return "is too short to be a Parquet file"
            head = file.read(4)
            file.seek(size - 8)
            tail = file.read(8)
            if head != PARQUET_MAGIC or tail[4:] != PARQUET_MAGIC:
                return "does not start and end with the Parquet magic PAR1 (cut short?)"
            footer = int.from_bytes(tail[:4], "little")
            if footer + 12 > size:
                return f"has a Parquet footer of {footer:,} bytes, longer than the file"
            return None
        if io == "pickle":
            if size == 0:
                return "is empty"
            file.seek(size - 1)
            if file.read(1) != PICKLE_STOP:
                return "does not end with pickle's STOP opcode (cut short?)"
    return None


def is_damaged_bytes_error(exc: BaseException) -> bool:
    """Whether a decoder raised ``exc`` for damaged bytes (not, say, for a class it cannot
    import): pickle's and JSON's errors for bad input, and pyarrow's invalid-data errors."""
    if isinstance(exc, pickle.UnpicklingError | EOFError | UnicodeDecodeError):
        return True
    if isinstance(exc, json.JSONDecodeError):
        return True
    pa = sys.modules.get("pyarrow")  # no pyarrow error without pyarrow imported
    return pa is not None and isinstance(exc, pa.ArrowInvalid)


def share(value: Any, kind: str) -> Any:
    """A copy of a cached input that a consumer may change without touching the cache."""
    if kind == "pandas":
        import pandas as pd

        copy_on_write = int(pd.__version__.split(".")[0]) >= 3
        return value.copy(deep=not copy_on_write)
    return value  # polars frames and arrow tables are immutable


def concat_values(values: list[Any], kind: str) -> Any:
    """Tables of one kind (pandas, polars or arrow), one after the other as one table (a
    pandas frame gets a new 0..n-1 index)."""
    if kind == "pandas":
        import pandas as pd

        return pd.concat(values, ignore_index=True) if values else pd.DataFrame()
    if kind == "polars":
        import polars as pl

        return pl.concat(values, how="diagonal_relaxed") if values else pl.DataFrame()
    import pyarrow as pa

    return pa.concat_tables(values, promote_options="permissive") if values else pa.table({})


def _write_parquet(key: str, value: Any, sink: Path | BinaryIO) -> ValueInfo:
    import pyarrow as pa
    import pyarrow.parquet as pq

    kind = table_kind(value)
    if kind == "pandas":
        schema = {str(name): str(dtype) for name, dtype in value.dtypes.items()}
    elif kind == "polars":
        schema = {name: str(dtype) for name, dtype in value.schema.items()}
    else:
        schema = {field.name: str(field.type) for field in value.schema}
    try:
        if kind == "pandas":
            table = pa.Table.from_pandas(value)
        elif kind == "polars":
            table = value.to_arrow()
        else:
            table = value
        pq.write_table(table, sink, compression="snappy")
    except (pa.ArrowException, ValueError, TypeError) as exc:
        raise StorageError(
            f"the value of asset {key!r} cannot be stored as Parquet: {exc}. Give each column "
            "one type (e.g. df['col'] = df['col'].astype(str)), or use --io pickle."
        ) from exc
    return ValueInfo(kind or "arrow", table.num_rows, schema)


@contextmanager
def _binary(sink: Path | BinaryIO) -> Iterator[BinaryIO]:
    """``sink`` as a binary file: opened (and closed) here when it is a path."""
    if isinstance(sink, Path):
        with sink.open("wb") as file:
            yield file
    else:
        yield sink


def _length(value: Any) -> int | None:
    if isinstance(value, str | bytes):
        return None
    try:
        return len(value)
    except TypeError:
        return None
