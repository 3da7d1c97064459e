"""Unit tests of an asset's code on small inputs made by hand (``%%test`` cells, and the pytest
tests ``nbassets export`` writes from them).

Inside a test, the asset's name is an :class:`AssetUnderTest`: calling it runs the asset's
current code on exactly the inputs given, one keyword per upstream key, never on stored data.
Each input goes through the storage round trip a stored version goes through (a table through
Parquet, another value through pickle or JSON, as the upstream's ``--io`` says), and so does
the value returned, so a test sees what production would see. A SQL asset gets its inputs as
Parquet files, as in a build. Nothing is written to any store: the files live in a temporary
folder for the length of the call.

:func:`expect_frame_equal` compares two tables and, when they differ, says how (columns, types,
row counts, and the rows that differ, a few of them), instead of printing both tables.
:func:`run_test` runs one test and reads its outcome as a :class:`TestResult`.

Generated tests import this module: it stays cheap to import (pandas, pyarrow and DuckDB are
imported when a test first calls an asset).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from .checks.cells import assertion_text
from .errors import DependencyError, InvalidArgument, SpecError, did_you_mean
from .partitions import RESERVED_KEY, Partition, PartitionsDefinition, parse_definition
from .runtime import ExportedAsset, registry, sql_engine
from .source import no_value_error
from .store.results import ERROR, FAILED, PASSED, TestResult
from .store.serializers import EXTENSIONS, choose_io, read_value, write_value
from .text import plural, shorten

__all__ = ["AssetUnderTest", "FrameMismatch", "expect_frame_equal", "run_test", "under_test"]

SHOWN_ROWS = 5  # rows of a difference shown in a message


def _quoted(names: Iterable[Any]) -> str:
    """``'a'``, ``'a' and 'b'``, ``'a', 'b' and 'c'``."""
    shown = [repr(str(name)) for name in names]
    return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} and {shown[-1]}"


class AssetUnderTest:
    """An asset's code, callable on inputs given by hand: ``orders(raw_orders=frame)``; a
    partitioned asset's also takes the partition's key: ``events(partition="2024-01-03")``.

    ``input_io`` says how each upstream is stored (its ``--io``; None: by its value's kind);
    ``io`` the same for the asset's own value; ``partitions`` is the asset's definition.
    """

    def __init__(
        self,
        key: str,
        deps: Iterable[str],
        function: Callable[..., Any],
        *,
        sql: bool = False,
        io: str | None = None,
        input_io: Mapping[str, str | None] | None = None,
        partitions: PartitionsDefinition | None = None,
    ) -> None:
        self.key = key
        self.deps = tuple(deps)
        self.function = function
        self.sql = sql
        self.io = io
        self.input_io = dict(input_io or {})
        self.partitions = partitions

    def __repr__(self) -> str:
        return f"<asset {self.key}({', '.join(self.deps)}) under test>"

    def __call__(self, *args: Any, **inputs: Any) -> Any:
        __tracebackhide__ = True  # pytest: a missing input reads from the test's line
        if args:
            raise TypeError(
                f"{self.key}(...) takes its inputs by name, one per upstream asset: "
                f"{self._signature()}."
            )
        partition = self._partition(inputs)
        self._check_inputs(inputs)
        with tempfile.TemporaryDirectory(prefix="nbassets-test-") as folder:
            files = {
                dep: _write(dep, value, self.input_io.get(dep), Path(folder))
                for dep, value in inputs.items()
            }
            if self.sql:
                arguments: dict[str, Any] = {dep: str(path) for dep, (path, _, _) in files.items()}
            else:
                arguments = {dep: read_value(*file) for dep, file in files.items()}
            if partition is not None:
                arguments[RESERVED_KEY] = partition
            with sql_engine(None):
                value = self.function(**arguments)
            if value is None:
                raise no_value_error(self.key)
            return read_value(*_write(self.key, value, self.io, Path(folder), "result-"))

    def _check_inputs(self, inputs: Mapping[str, Any]) -> None:
        __tracebackhide__ = True
        missing = [dep for dep in self.deps if dep not in inputs]
        if missing:
            raise DependencyError(
                f"{self.key}(...) was not given {_quoted(missing)}: a test gives every "
                f"upstream of {self.key!r} by hand ({self._signature()}), never stored data."
            )
        unknown = [name for name in inputs if name not in self.deps]
        if unknown:
            reads = f"reads {_quoted(self.deps)}" if self.deps else "reads no upstream asset"
            hint = did_you_mean(unknown[0], self.deps)
            raise DependencyError(
                f"{self.key}(...) was given {_quoted(unknown)}, but {self.key!r} {reads}.{hint}"
            )

    def _partition(self, inputs: dict[str, Any]) -> Partition | None:
        """The partition given (taken out of ``inputs``) as the build hands it over."""
        __tracebackhide__ = True
        given = inputs.pop(RESERVED_KEY, None)
        if self.partitions is None:
            if given is not None:
                raise DependencyError(
                    f"{self.key}(...) was given partition={given!r}, but {self.key!r} has no "
                    f"partitions: call {self._signature()}."
                )
            return None
        if given is None:
            raise DependencyError(
                f"{self.key}(...) builds one partition of {self.partitions}: say which, "
                f"{self._signature()}."
            )
        try:
            return self.partitions.partition(str(given))
        except InvalidArgument as exc:
            raise DependencyError(f"{self.key}(partition={given!r}): {exc}") from None

    def _signature(self) -> str:
        names = [f"{dep}=..." for dep in self.deps]
        if self.partitions is not None:
            first = str(self.partitions).partition(":")[2].split(",")[0]
            names.append(f"{RESERVED_KEY}={first!r}")
        return f"{self.key}({', '.join(names)})"


def under_test(module: ModuleType, key: str) -> AssetUnderTest:
    """Asset ``key`` of an exported module, as a test calls it (what generated tests use)."""
    assets = {asset.key: asset for asset in registry(module)[0]}
    if key not in assets:
        raise SpecError(
            f"module {module.__name__} defines no asset {key!r}.{did_you_mean(key, assets)} "
            "Export the notebook again (`nbassets export`)."
        )
    return exported_under_test(assets[key], {k: a.io for k, a in assets.items()})


def exported_under_test(
    asset: ExportedAsset, io_of: Mapping[str, str | None] | None = None
) -> AssetUnderTest:
    """An exported asset under test; ``io_of`` gives the ``--io`` of the assets it may read."""
    io_of = io_of or {}
    return AssetUnderTest(
        asset.key,
        asset.deps,
        asset.function,
        sql=asset.sql,
        io=asset.io,
        input_io={dep: io_of.get(dep) for dep in asset.deps},
        partitions=None if asset.partitions is None else parse_definition(asset.partitions),
    )


def _write(
    key: str, value: Any, io: str | None, folder: Path, prefix: str = ""
) -> tuple[Path, str, str]:
    """``value`` stored as a build would store it: its file, format and kind, to read back."""
    chosen = choose_io(value, io)
    path = folder / f"{prefix}{key}.{EXTENSIONS[chosen]}"
    info = write_value(key, value, chosen, path)
    return path, chosen, info.kind


# --- outcomes ------------------------------------------------------------------------------------


def run_test(
    test: Callable[[], Any],
    key: str,
    name: str,
    code_version: str,
    source: str | None = None,
    env: str = "",
) -> tuple[TestResult, BaseException | None]:
    """Run ``test``; its result (passed, failed on an ``AssertionError``, error on anything
    else) and the exception it raised, if any. An interrupt is not an outcome: it propagates."""
    start = time.perf_counter()
    raised: BaseException | None = None
    try:
        test()
        outcome, message = PASSED, ""
    except AssertionError as exc:
        outcome, message, raised = FAILED, assertion_text(exc), exc
    except Exception as exc:
        outcome, message, raised = ERROR, f"{type(exc).__name__}: {exc}", exc
    result = TestResult(
        key=key,
        name=name,
        code_version=code_version,
        outcome=outcome,
        message=message,
        source=source,
        at=now(),
        env=env,
        seconds=time.perf_counter() - start,
    )
    return result, raised


def now() -> str:
    """The time a result is recorded at (ISO 8601, UTC, milliseconds)."""
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat(timespec="milliseconds")


# --- comparing tables ----------------------------------------------------------------------------


class FrameMismatch(AssertionError):
    """Two tables differ; the message lists how, and ``differences`` holds the same lines."""

    def __init__(self, differences: list[str]) -> None:
        self.differences = differences
        super().__init__("the frames differ:\n" + "\n".join(f"  {line}" for line in differences))


def expect_frame_equal(
    result: Any, expected: Any, *, key: str | Iterable[str] | None = None, rtol: float = 1e-9
) -> None:
    """Raise :class:`FrameMismatch` naming the differences when ``result`` is not ``expected``.

    Both are tables (pandas, polars or pyarrow). Columns are compared by name, then in order,
    then by type; rows by ``key`` when given (rows added, missing, changed), else position by
    position. The index is ignored (Parquet does not keep a default one). Floats match
    within ``rtol``; missing values (None, NaN, NaT, NA) match each other.
    """
    __tracebackhide__ = True  # pytest shows the test's line and the differences, not this code
    left, right = _pandas(result, "result"), _pandas(expected, "expected")
    differences = _column_differences(left, right)
    common = [c for c in right.columns if c in left.columns]
    keys = [key] if isinstance(key, str) else list(key or ())
    absent = [k for k in keys if k not in common]
    if absent:
        raise SpecError(f"expect_frame_equal(key=...): {_quoted(absent)} is not in both frames.")
    if keys:
        differences += _keyed_rows(left, right, keys, common, rtol)
    else:
        differences += _positional_rows(left, right, common, rtol)
    if differences:
        raise FrameMismatch(differences)


def _pandas(value: Any, label: str) -> Any:
    kind = type(value).__module__.split(".")[0], type(value).__name__
    if kind == ("pandas", "DataFrame"):
        return value.reset_index(drop=True)
    if kind == ("polars", "DataFrame"):
        return value.to_pandas()
    if kind == ("pyarrow", "Table"):
        return value.to_pandas()
    raise TypeError(
        f"expect_frame_equal compares tables, but the {label} is a {type(value).__qualname__}: "
        "compare other values with a plain `assert`."
    )


def _column_differences(left: Any, right: Any) -> list[str]:
    lines = []
    missing = [c for c in right.columns if c not in left.columns]
    extra = [c for c in left.columns if c not in right.columns]
    if missing:
        lines.append(f"columns missing from the result: {_quoted(missing)}")
    if extra:
        lines.append(f"columns not expected: {_quoted(extra)}")
    common_left = [c for c in left.columns if c in right.columns]
    common_right = [c for c in right.columns if c in left.columns]
    if common_left != common_right:
        lines.append(f"column order: {_names(common_left)}, expected {_names(common_right)}")
    for column in common_right:
        if str(left[column].dtype) != str(right[column].dtype):
            lines.append(
                f"column {str(column)!r} is {left[column].dtype}, expected {right[column].dtype}"
            )
    return lines


def _names(columns: Iterable[Any]) -> str:
    return "(" + ", ".join(str(c) for c in columns) + ")"


def _positional_rows(left: Any, right: Any, common: list[Any], rtol: float) -> list[str]:
    lines = []
    if len(left) != len(right):
        lines.append(f"{plural(len(left), 'row')}, expected {len(right)}")
    rows = min(len(left), len(right))
    got, want = _records(left), _records(right)
    differing = [
        (i, changes)
        for i in range(rows)
        if (changes := _row_changes(got[i], want[i], common, rtol))
    ]
    if differing:
        lines.append(f"{len(differing)} of {plural(rows, 'row')} differ (compared by position):")
        lines += [f"  row {i}: {changes}" for i, changes in differing[:SHOWN_ROWS]]
        lines += _more(len(differing))
    if len(left) > rows:
        lines.append(f"rows not expected (from row {rows}): {_row_text(got[rows], common)}")
    if len(right) > rows:
        lines.append(f"rows missing (from row {rows}): {_row_text(want[rows], common)}")
    return lines


def _keyed_rows(
    left: Any, right: Any, keys: list[Any], common: list[Any], rtol: float
) -> list[str]:
    lines = []
    for label, frame in (("result", left), ("expected", right)):
        duplicated = int(frame.duplicated(subset=keys).sum())
        if duplicated:
            lines.append(f"the {label} repeats {plural(duplicated, 'key')} of {_names(keys)}")
    if lines:
        return lines
    by_key_left = {_key(row, keys): row for row in _records(left)}
    by_key_right = {_key(row, keys): row for row in _records(right)}
    extra = [k for k in by_key_left if k not in by_key_right]
    missing = [k for k in by_key_right if k not in by_key_left]
    changed = [
        (k, changes)
        for k, row in by_key_right.items()
        if k in by_key_left and (changes := _row_changes(by_key_left[k], row, common, rtol))
    ]
    for what, found in (("rows missing", missing), ("rows not expected", extra)):
        if found:
            shown = ", ".join(_key_text(k) for k in found[:SHOWN_ROWS])
            more = "" if len(found) <= SHOWN_ROWS else f", … {len(found) - SHOWN_ROWS} more"
            lines.append(f"{what} ({len(found)}), by {_names(keys)}: {shown}{more}")
    if changed:
        lines.append(f"{plural(len(changed), 'row')} changed, by {_names(keys)}:")
        lines += [f"  {_key_text(k)}: {changes}" for k, changes in changed[:SHOWN_ROWS]]
        lines += _more(len(changed))
    return lines


def _more(count: int) -> list[str]:
    return [f"  … {count - SHOWN_ROWS} more"] if count > SHOWN_ROWS else []


def _records(frame: Any) -> list[dict[Any, Any]]:
    """The rows as dicts, each cell as its own column's Python value (an int stays an int,
    where a row as a Series would make every number of a mixed row a float)."""
    records: list[dict[Any, Any]] = frame.astype(object).to_dict("records")
    return records


def _key(row: Any, keys: list[Any]) -> tuple[Any, ...]:
    return tuple(None if _missing(row[k]) else row[k] for k in keys)


def _key_text(key: tuple[Any, ...]) -> str:
    return _shown(key[0]) if len(key) == 1 else "(" + ", ".join(map(_shown, key)) + ")"


def _row_changes(got: Any, want: Any, columns: list[Any], rtol: float) -> str:
    """``col: got ≠ expected want`` for each column where the two rows differ ('' if none)."""
    return "; ".join(
        f"{column} {_shown(got[column])} ≠ expected {_shown(want[column])}"
        for column in columns
        if not _same(got[column], want[column], rtol)
    )


def _row_text(row: Any, columns: list[Any]) -> str:
    return ", ".join(f"{column}={_shown(row[column])}" for column in columns)


def _shown(value: Any) -> str:
    return "missing" if _missing(value) else shorten(repr(_plain(value)), 40)


def _plain(value: Any) -> Any:
    item = getattr(value, "item", None)  # numpy scalars print as their Python value
    if callable(item) and type(value).__module__ == "numpy":
        try:
            return item()
        except (ValueError, TypeError):
            return value
    return value


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        import pandas as pd

        result = pd.isna(value)
    except (TypeError, ValueError):
        return False
    return result if isinstance(result, bool) else bool(getattr(result, "all", lambda: False)())


def _same(got: Any, want: Any, rtol: float) -> bool:
    if _missing(got) or _missing(want):
        return _missing(got) and _missing(want)
    got, want = _plain(got), _plain(want)
    if isinstance(got, float) or isinstance(want, float):
        try:
            import math

            return math.isclose(float(got), float(want), rel_tol=rtol, abs_tol=1e-12)
        except (TypeError, ValueError):
            return False
    try:
        return bool(got == want)
    except (TypeError, ValueError):  # arrays in cells
        return repr(got) == repr(want)
