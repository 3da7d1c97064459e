"""What an exported pipeline module is made of: registry entries, and the helper SQL assets call.

``nbassets export`` writes plain Python modules whose only nbassets import is this module:
an ``ASSETS`` tuple of :class:`ExportedAsset` and a ``CHECKS`` tuple of :class:`ExportedCheck`,
naming the module's functions. The CLI runner and the generated Dagster definitions read them.
Its generated test modules (``tests/test_<module>.py``) list their tests in ``TESTS``, a tuple
of :class:`ExportedTest` (read with :func:`exported_tests`).
Importing this module is cheap (no pandas, duckdb or IPython).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .sqlquote import quote_ident, quote_literal

#: the DuckDB connection that SQL assets run in while a build calls them (else a new one)
SQL_ENGINE: ContextVar[Any] = ContextVar("nbassets_sql_engine", default=None)


@dataclass(frozen=True)
class ExportedAsset:
    """One asset of an exported module: its function and everything its ``%%asset`` line said."""

    key: str
    function: Callable[..., Any]
    deps: tuple[str, ...] = ()
    code_version: str = ""
    source: str = ""  # "notebooks/x.ipynb :: key": the cell, named by its asset key
    io: str | None = None
    sql: bool = False
    key_columns: tuple[str, ...] = ()
    description: str | None = None
    rules: tuple[str, ...] = ()  # --check rules as written, parsed again by the runner
    # the --partition definition as canonical text ("daily:2024-01-01"), None: built whole;
    # a partitioned asset's function takes its ``partition`` after its upstreams
    partitions: str | None = None
    # --fresh as canonical text ("max_age=1d"), None: never late; it changes no data, so it is
    # not part of the code version
    fresh: str | None = None


@dataclass(frozen=True)
class ExportedCheck:
    """One ``%%check`` cell of an exported module."""

    asset: str
    name: str
    function: Callable[..., Any]
    deps: tuple[str, ...] = ()
    severity: str = "error"
    source: str = ""


@dataclass(frozen=True)
class ExportedTest:
    """One ``%%test`` cell, exported as the pytest test ``function`` of a test module."""

    __test__ = False  # not a pytest test class

    asset: str
    name: str
    function: Callable[[], Any]
    code_version: str = ""  # the tested asset's code version, as exported with the test
    test_version: str = ""  # the test's own code version (its normalized body)
    source: str = ""  # "notebooks/x.ipynb :: key :: name": the cell, named by asset and test


def sql_asset(key: str, query: str, partition: Any = None, **tables: Any) -> Any:
    """Run ``query`` in DuckDB with each input as a table named by its key; a pandas frame.

    An input given as a path (``str`` or ``Path``), or a list of them (partitions read as one
    table), is read straight from those Parquet files, which is what the notebook and the CLI
    runner do, so both compute the same data; a frame or Arrow table is registered as it is.
    A partitioned asset's ``partition`` is there as SQL variables:
    ``getvariable('partition')`` (its key), ``getvariable('partition_start')`` and
    ``getvariable('partition_end')`` (UTC timestamps of a time partition, end exclusive).
    """
    return run_sql(key, query, tables, SQL_ENGINE.get(), partition)


@contextmanager
def sql_engine(engine: Any) -> Iterator[None]:
    """Let the SQL assets called inside run in ``engine`` (a build's shared DuckDB connection)."""
    token = SQL_ENGINE.set(engine)
    try:
        yield
    finally:
        SQL_ENGINE.reset(token)


def run_sql(
    key: str, query: str, tables: dict[str, Any], engine: Any = None, partition: Any = None
) -> Any:
    """``sql_asset``, in a cursor of ``engine`` (a DuckDB connection kept by the caller) if given.

    The inputs are temporary views of that cursor only, so calls never see each other's.
    """
    import duckdb

    from .errors import SpecError

    conn = engine.cursor() if engine is not None else duckdb.connect()
    try:
        if partition is not None:
            _set_partition(conn, partition)
        for name, table in tables.items():
            if isinstance(table, list | tuple) and all(isinstance(t, str | Path) for t in table):
                files = ", ".join(quote_literal(t) for t in table)
                source = f"read_parquet([{files}], union_by_name = true)"
                conn.execute(f"CREATE TEMP VIEW {quote_ident(name)} AS SELECT * FROM {source}")
            elif isinstance(table, str | Path):
                source = f"read_parquet({quote_literal(table)})"
                conn.execute(f"CREATE TEMP VIEW {quote_ident(name)} AS SELECT * FROM {source}")
            else:
                conn.register(name, table)
        try:
            return conn.execute(query).df()
        except duckdb.Error as exc:
            raise SpecError(f"SQL asset {key!r} failed in DuckDB: {exc}") from exc
    finally:
        conn.close()


def _set_partition(conn: Any, partition: Any) -> None:
    """``partition``, ``partition_start`` and ``partition_end`` as the cursor's SQL variables."""
    conn.execute("SET VARIABLE partition = ?", [str(partition)])
    for name in ("start", "end"):
        moment = getattr(partition, name, None)
        if moment is not None:  # naive UTC: DuckDB's TIMESTAMP
            conn.execute(
                f"SET VARIABLE partition_{name} = CAST(? AS TIMESTAMP)",
                [moment.replace(tzinfo=None).isoformat()],
            )


def registry(module: Any) -> tuple[tuple[ExportedAsset, ...], tuple[ExportedCheck, ...]]:
    """The ``ASSETS`` and ``CHECKS`` of an exported module (empty when it has none)."""
    assets: tuple[ExportedAsset, ...] = tuple(getattr(module, "ASSETS", ()))
    checks: tuple[ExportedCheck, ...] = tuple(getattr(module, "CHECKS", ()))
    return assets, checks


def exported_tests(module: Any) -> tuple[ExportedTest, ...]:
    """The ``TESTS`` of a generated test module (empty when it has none)."""
    return tuple(getattr(module, "TESTS", ()))
