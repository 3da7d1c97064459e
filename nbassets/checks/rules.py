"""``--check`` rules: parsed (never evaluated) from a fixed vocabulary, run in DuckDB.

A rule is one call expression such as ``not_null("customer_id")`` or
``between("amount", 0, 10_000, severity="warn")``. Its arguments must be
literals; anything else (a name, an attribute, a nested call) is refused with
the list of valid rules. Rules run in DuckDB over the stored Parquet file of
the exact version that was built, so they scale past memory.

Before a rule runs, the columns it names are looked up in that file (and, for
``relationship``, the other asset's column in the other asset's file). A missing one
makes the rule an error whose text names it and the closest column, e.g.
``rule unique('carier'): orders has no column 'carier'. Did you mean 'carrier'?``.
Like any broken rule it blocks (the asset is check-failed) at error severity; at
``severity="warn"`` it is shown and recorded as that rule's error, and blocks nothing.
``schema(...)`` is the exception: a column it names that is missing is its ordinary
failure, as is a column of another type.

``volume(tolerance, window)`` compares the row count with the **median** of earlier row
counts (robust to one odd build): the asset's last ``window`` versions in the same store,
or, for a partition, its ``window`` nearest peers' latest versions. The runner gives it
those counts; with fewer than ``MIN_HISTORY`` it passes and says so.
"""

from __future__ import annotations

import ast
import re
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from .. import pysyntax
from ..clock import now_utc
from ..errors import InvalidArgument, SpecError, did_you_mean
from ..jsonvalues import jsonable
from ..sqlquote import quote_ident, quote_literal
from ..store.results import ERROR, SAMPLE_ROWS, SEVERITIES, CheckResult
from ..text import plural

#: rule name -> (positional parameter names, keyword parameters with defaults, help)
VOCABULARY: dict[str, tuple[tuple[str, ...], dict[str, Any], str]] = {
    "not_null": (("*columns",), {}, 'not_null("col", ...)'),
    "unique": (("*columns",), {}, 'unique("a", "b", ...)'),
    "accepted_values": (("column", "values"), {}, 'accepted_values("col", ["x", "y"])'),
    "row_count": ((), {"min": 1, "max": None}, "row_count(min=1, max=None)"),
    "between": (("column", "low", "high"), {}, 'between("col", 0, 100)'),
    "schema": ((), {"**columns": None}, 'schema(col="int64", ...)'),
    "fresh": (("column",), {"max_age": "1d"}, 'fresh("col", max_age="1d")'),
    "volume": ((), {"tolerance": 0.5, "window": 10}, "volume(tolerance=0.5, window=10)"),
    "relationship": (
        ("column", "other_asset", "other_column"),
        {},
        'relationship("col", "other_asset", "other_col")',
    ),
}
_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*\Z")
_DATE_TYPES = ("DATE", "TIMESTAMP")  # DuckDB: DATE, TIMESTAMP[_S|_MS|_NS], TIMESTAMP WITH TIME ZONE
_AGE_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_NAMES = ("column", "other_asset", "other_column")  # parameters that name a column or an asset
MIN_HISTORY = 3  # volume: fewer earlier row counts than this and the rule passes, saying so


class RuleCannotRun(Exception):
    """A rule names a column or an asset the version cannot give it.

    Its text, after ``rule NAME: ``, is the result's error: no exception type, SQL or path.
    """


@dataclass(frozen=True)
class Rule:
    """A parsed rule: which check, its literal arguments, and its severity."""

    function: str
    args: tuple[Any, ...]
    kwargs: tuple[tuple[str, Any], ...]
    severity: str = ERROR

    @property
    def name(self) -> str:
        """The rule as canonical text, e.g. ``not_null('id')``: its name in results."""
        parts = [repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs]
        return f"{self.function}({', '.join(parts)})"

    @property
    def text(self) -> str:
        """The rule as canonical source, severity included: ``parse_rule(rule.text) == rule``."""
        if self.severity == ERROR:
            return self.name
        separator = ", " if self.args or self.kwargs else ""
        return f"{self.name[:-1]}{separator}severity={self.severity!r})"

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.kwargs)


def parse_rule(text: str) -> Rule:
    """Parse ``text`` into a :class:`Rule` without evaluating any of it."""
    try:
        tree = pysyntax.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise _refuse(text, f"it is not a call expression ({exc.msg})") from None
    call = tree.body
    if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Name):
        raise _refuse(text, "a rule is one call of a rule name")
    function = call.func.id
    if function not in VOCABULARY:
        raise _refuse(text, f"{function!r} is not a rule")
    args = tuple(_literal(text, node) for node in call.args)
    kwargs: dict[str, Any] = {}
    for keyword in call.keywords:
        if keyword.arg is None:
            raise _refuse(text, "** arguments are not allowed")
        kwargs[keyword.arg] = _literal(text, keyword.value)
    severity = kwargs.pop("severity", ERROR)
    if severity not in SEVERITIES:
        raise _refuse(text, f"severity must be one of {', '.join(map(repr, SEVERITIES))}")
    _check_signature(text, function, args, kwargs)
    return Rule(function, args, tuple(sorted(kwargs.items())), severity)


def run_rule(
    rule: Rule,
    key: str,
    data_version: str,
    table: Path,
    schema: dict[str, str] | None,
    other_table: Callable[[str], Path],
    engine: Any = None,
    history: Callable[[int], tuple[list[int], str]] | None = None,
) -> CheckResult:
    """Run ``rule`` on the Parquet file ``table``; ``other_table(key)`` finds another asset's.

    ``other_table`` raises :class:`RuleCannotRun` when that asset has no table to compare with.
    ``history(window)`` gives the row counts ``volume`` compares with (at most ``window``
    earlier versions of the asset, or a partition's peers; none without it) and what they
    are, e.g. ``"earlier version"``.

    ``engine`` is a DuckDB connection to work in (a cursor of it is used); without one
    a connection is opened, which costs about 12 ms.
    """
    import duckdb

    start = time.perf_counter()
    conn = engine.cursor() if engine is not None else duckdb.connect()
    source = f"read_parquet({quote_literal(str(table))}) AS t"
    target = _Target(conn, source, schema, other_table, history or _no_history)
    try:
        _check_columns(rule, key, target)
        failing, sample, message = _RUNNERS[rule.function](rule, target)
        error = None
    except RuleCannotRun as exc:
        failing, sample, message, error = None, [], "", f"rule {rule.name}: {exc}"
    except Exception as exc:  # a broken rule is an error, not a failed check
        failing, sample, message, error = None, [], "", f"{type(exc).__name__}: {exc}"
    finally:
        conn.close()
    return CheckResult(
        key=key,
        name=rule.name,
        severity=rule.severity,
        passed=error is None and not failing,
        data_version=data_version,
        failing_rows=failing,
        sample=sample,
        message=message,
        error=error,
        seconds=time.perf_counter() - start,
    )


# --- parsing helpers ------------------------------------------------------------------------


def valid_rules() -> str:
    return ", ".join(help_text for _, _, help_text in VOCABULARY.values())


def _refuse(text: str, why: str) -> SpecError:
    return SpecError(
        f"--check {text!r} is not a valid rule: {why}. Rules take literal arguments only: "
        f'{valid_rules()}; any rule also takes severity="warn".'
    )


def _literal(text: str, node: ast.expr) -> Any:
    try:
        return pysyntax.literal(node)
    except ValueError:
        raise _refuse(
            text,
            f"argument {ast.unparse(node)!r} is not a literal (names, attributes and "
            "calls are never evaluated)",
        ) from None


def _check_signature(text: str, function: str, args: tuple[Any, ...], kwargs: dict) -> None:
    positional, keywords, help_text = VOCABULARY[function]
    if positional == ("*columns",):
        if not args or not all(isinstance(a, str) for a in args) or kwargs:
            raise _refuse(text, f"use {help_text} with column names")
        return
    if "**columns" in keywords:
        if args or not kwargs or not all(isinstance(v, str) for v in kwargs.values()):
            raise _refuse(text, f"use {help_text} with column=dtype pairs")
        return
    unknown = set(kwargs) - set(keywords) - set(positional)
    if unknown or len(args) > len(positional):
        raise _refuse(text, f"use {help_text}")
    given = set(positional[: len(args)]) | set(kwargs)
    missing = [p for p in positional if p not in given]
    if missing:
        raise _refuse(text, f"{', '.join(missing)} missing: use {help_text}")
    bound = dict(zip(positional, args, strict=False)) | kwargs
    not_names = [p for p in _NAMES if p in bound and not isinstance(bound[p], str)]
    if not_names:
        raise _refuse(text, f"{' and '.join(not_names)} must be a name in quotes: use {help_text}")
    if function == "volume":
        _check_volume(text, kwargs)


def _check_volume(text: str, kwargs: dict[str, Any]) -> None:
    tolerance, window = kwargs.get("tolerance", 0.5), kwargs.get("window", 10)
    if isinstance(tolerance, bool) or not isinstance(tolerance, int | float) or tolerance < 0:
        raise _refuse(text, "tolerance must be a number of 0 or more, e.g. 0.5 for ±50%")
    if isinstance(window, bool) or not isinstance(window, int) or window < MIN_HISTORY:
        raise _refuse(text, f"window must be a whole number of versions, {MIN_HISTORY} or more")


# --- running, one function per rule ------------------------------------------------------------

Outcome = tuple[int | None, list[dict[str, Any]], str]


@dataclass(frozen=True)
class _Target:
    """What a rule runs against: a DuckDB connection and the version's Parquet file."""

    conn: Any
    source: str  # read_parquet('<path>') AS t
    schema: dict[str, str] | None
    other_table: Callable[[str], Path]
    history: Callable[[int], tuple[list[int], str]]

    def one(self, sql: str, params: list[Any] | None = None) -> Any:
        return self.conn.execute(sql, params or []).fetchone()[0]

    def columns(self, source: str) -> list[str]:
        """The column names of ``source`` (a Parquet file read by DuckDB), as SQL sees them."""
        described = self.conn.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
        return [str(row[0]) for row in described]

    def other_source(self, key: str) -> str:
        """``read_parquet('<path>')`` of another asset's version (``RuleCannotRun`` if none)."""
        return f"read_parquet({quote_literal(str(self.other_table(key)))})"

    def column_type(self, column: str) -> str:
        """DuckDB's type of ``column`` in the version, e.g. ``DOUBLE`` or ``TIMESTAMP``."""
        described = self.conn.execute(f"DESCRIBE SELECT {quote_ident(column)} FROM {self.source}")
        return str(described.fetchone()[1])

    def failing(self, where: str, params: list[Any], what: str) -> Outcome:
        """Rows matching ``where``: their count and a sample."""
        count = self.one(f"SELECT count(*) FROM {self.source} WHERE {where}", params)
        if not count:
            return 0, [], ""
        rows = self.conn.execute(
            f"SELECT * FROM {self.source} WHERE {where} LIMIT {SAMPLE_ROWS}", params
        )
        return count, _records(rows), f"{plural(count, 'row')} {what}"


def rule_columns(rule: Rule) -> tuple[str, ...]:
    """The columns of its own asset that ``rule`` reads (none for ``row_count`` and ``schema``,
    whose missing columns are its failures)."""
    if VOCABULARY[rule.function][0] == ("*columns",):
        return tuple(dict.fromkeys(rule.args))
    column = _bind(rule).get("column")
    return (column,) if column is not None else ()


def _check_columns(rule: Rule, key: str, t: _Target) -> None:
    """Raise :class:`RuleCannotRun` naming each column ``rule`` reads that is not there."""
    wanted = rule_columns(rule)
    missing = _missing(key, wanted, t.columns(t.source)) if wanted else []
    if rule.function == "relationship":
        bound = _bind(rule)
        other = bound["other_asset"]
        missing += _missing(other, (bound["other_column"],), t.columns(t.other_source(other)))
    if missing:
        raise RuleCannotRun(" ".join(missing))


def _missing(key: str, wanted: tuple[str, ...], present: list[str]) -> list[str]:
    return [
        f"{key} has no column {column!r}.{did_you_mean(column, present)}"
        for column in wanted
        if column not in present
    ]


def _bind(rule: Rule) -> dict[str, Any]:
    positional, keywords, _ = VOCABULARY[rule.function]
    values = {k: v for k, v in keywords.items() if not k.startswith("**")}
    values.update(zip(positional, rule.args, strict=False))
    values.update(rule.kwargs)
    return values


def _not_null(rule: Rule, t: _Target) -> Outcome:
    return t.failing(" OR ".join(f"{quote_ident(c)} IS NULL" for c in rule.args), [], "with nulls")


def _unique(rule: Rule, t: _Target) -> Outcome:
    columns = ", ".join(quote_ident(c) for c in rule.args)
    groups = f"SELECT {columns}, count(*) AS n FROM {t.source} GROUP BY ALL HAVING count(*) > 1"
    rows, keys = t.conn.execute(f"SELECT coalesce(sum(n), 0), count(*) FROM ({groups})").fetchone()
    if not keys:
        return 0, [], ""
    sample = _records(t.conn.execute(f"{groups} ORDER BY n DESC LIMIT {SAMPLE_ROWS}"))
    return int(rows), sample, f"{keys:,} duplicated key(s) over {plural(int(rows), 'row')}"


def _accepted_values(rule: Rule, t: _Target) -> Outcome:
    bound = _bind(rule)
    column = quote_ident(bound["column"])
    where = f"{column} IS NOT NULL AND NOT list_contains(?, {column})"
    return t.failing(where, [list(bound["values"])], "with other values")


def _row_count(rule: Rule, t: _Target) -> Outcome:
    bound = _bind(rule)
    count = t.one(f"SELECT count(*) FROM {t.source}")
    low, high = bound["min"], bound["max"]
    if (low is not None and count < low) or (high is not None and count > high):
        expected = f"at least {low:,}" if high is None else f"{low or 0:,} to {high:,}"
        return 1, [], f"{plural(count, 'row')}, expected {expected}"
    return 0, [], ""


def _between(rule: Rule, t: _Target) -> Outcome:
    bound = _bind(rule)
    column = quote_ident(bound["column"])
    params = [bound["low"], bound["high"]]
    return t.failing(f"{column} < ? OR {column} > ?", params, "out of range")


def _schema(rule: Rule, t: _Target) -> Outcome:
    actual = t.schema or {}
    wrong = [
        f"{column}: expected {expected}, got {_dtype_or_none(column, actual)}"
        for column, expected in rule.kwargs
        if actual.get(column) != expected
    ]
    return (len(wrong), [], "; ".join(wrong)) if wrong else (0, [], "")


def _dtype_or_none(column: str, actual: dict[str, str]) -> str:
    """``int64``, ``no such column``, or ``no such column (did you mean 'x'?)``."""
    if column in actual:
        return actual[column]
    hint = did_you_mean(column, actual).strip()
    return f"no such column ({hint[0].lower()}{hint[1:]})" if hint else "no such column"


def _fresh(rule: Rule, t: _Target) -> Outcome:
    bound = _bind(rule)
    age = _parse_age(bound["max_age"])
    column = bound["column"]
    kind = t.column_type(column)
    if not kind.startswith(_DATE_TYPES):
        raise InvalidArgument(
            f"{rule.name} needs a date or timestamp column, but column {column!r} is {kind}: "
            "point it at a date or timestamp column, or convert the column in the asset."
        )
    newest = t.one(f"SELECT max({quote_ident(column)}) FROM {t.source}")
    if newest is None:
        return 1, [], "no values"
    if not isinstance(newest, datetime):
        newest = datetime.combine(newest, datetime.min.time())
    if newest.tzinfo is None:
        newest = newest.replace(tzinfo=UTC)
    late = now_utc() - newest - age
    if late > timedelta():
        return 1, [], f"newest value {newest.isoformat()} is older than max_age {bound['max_age']}"
    return 0, [], ""


def _volume(rule: Rule, t: _Target) -> Outcome:
    """The row count against the median of earlier versions' (or the partition's peers')."""
    bound = _bind(rule)
    count = t.one(f"SELECT count(*) FROM {t.source}")
    earlier, noun = t.history(bound["window"])
    rows = plural(count, "row")
    if len(earlier) < MIN_HISTORY:
        return 0, [], f"{rows}; {plural(len(earlier), noun)} to compare with (needs {MIN_HISTORY})"
    median, tolerance = statistics.median(earlier), bound["tolerance"]
    low, high = max(median * (1 - tolerance), 0), median * (1 + tolerance)
    expected = (
        f"expected {low:,.0f} to {high:,.0f} "
        f"(median {median:,.0f} of {len(earlier)} {noun}s ±{tolerance:.0%})"
    )
    if abs(count - median) <= tolerance * median:
        return 0, [], f"{rows}, {expected}"
    change = f"{(count - median) / median:+.0%}" if median else "from 0"
    return 1, [], f"{rows}: a {'jump' if count > median else 'drop'} ({change}), {expected}"


def _no_history(window: int) -> tuple[list[int], str]:
    return [], "earlier version"


def _relationship(rule: Rule, t: _Target) -> Outcome:
    bound = _bind(rule)
    other = t.other_source(bound["other_asset"])
    column, other_column = quote_ident(bound["column"]), quote_ident(bound["other_column"])
    match = f"SELECT 1 FROM {other} AS o WHERE o.{other_column} = t.{column}"
    where = f"t.{column} IS NOT NULL AND NOT EXISTS ({match})"
    return t.failing(where, [], f"without a match in {bound['other_asset']}")


_RUNNERS: dict[str, Callable[[Rule, _Target], Outcome]] = {
    "not_null": _not_null,
    "unique": _unique,
    "accepted_values": _accepted_values,
    "row_count": _row_count,
    "between": _between,
    "schema": _schema,
    "fresh": _fresh,
    "relationship": _relationship,
    "volume": _volume,
}


# --- SQL helpers ------------------------------------------------------------------------------


def _records(cursor: Any) -> list[dict[str, Any]]:
    names = [d[0] for d in cursor.description]
    return [{n: jsonable(v) for n, v in zip(names, row, strict=True)} for row in cursor.fetchall()]


def _parse_age(text: str) -> timedelta:
    match = _AGE.match(str(text))
    if not match:
        raise SpecError(f"max_age {text!r} is not an age: use e.g. '30m', '12h', '1d' or '2w'")
    return timedelta(**{_AGE_UNITS[match.group(2)]: float(match.group(1))})
