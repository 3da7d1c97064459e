"""Which columns of its upstreams an asset's code reads: static analysis, never execution.

An asset's code is its function as exported (``def key(up1, up2): ...``; a SQL asset's is
``return sql_asset(key, "SELECT ...", ...)``). :func:`column_reads` answers upstream ->
columns read; :func:`readers` names, per drifted column, the downstream assets that read
it, falling back to a reader's last failure naming the column (a ``KeyError``, a DuckDB
``Binder Error``); :func:`drift_readers` is :func:`readers` over the stores.

Python bodies, on a *frame* (an upstream parameter, or a name assigned from one through
the frame-keeping forms below; one derived from several upstreams counts for each):

* ``up["c"]``, ``up[["a", "b"]]`` (read, not written: ``up["c"] = ...`` is a write and a
  later ``up["c"]`` then reads the asset's own column), ``up.c`` (not a pandas attribute
  or method, not called), ``up.loc[..., "c"]`` / ``.at`` / ``.loc[:, ["a", "b"]]``,
  ``up.get("c")``;
* the string arguments of ``groupby``, ``sort_values``, ``set_index``, ``drop_duplicates``,
  ``dropna``, ``pivot_table``, ``value_counts``, ``nlargest``/``nsmallest``, ``get`` (first
  positional, or ``by``/``subset``/``columns``/``on``/``index``/``values``/``keys``),
  ``drop(columns=...)``, ``rename(columns={...})`` (its keys), ``merge``/``join`` (``on``
  for both frames, ``left_on``/``right_on`` for their own; ``pd.merge(a, b, ...)`` too);
  ``up.groupby(...)["c"]``; the columns of an aggregation, ``up.groupby(...).agg(total=("c",
  "sum"))`` and ``.agg({"c": "sum"})`` (also on the frame itself).

Frame-keeping: subscripts with a non-string key (masks, slices), ``.loc[mask]``, and the
row- or order-changing methods in :data:`_KEEPING`. Not detected: column names held in
variables or built at run time (f-strings, loops), ``query``/``eval`` strings, attribute
chains past the first (``up.groupby("a").b``), frames passed to helper functions.

SQL bodies, through DuckDB's parse tree: a ``COLUMN_REF`` qualified by an upstream's name
or alias reads that upstream; an unqualified one reads the one upstream the statement
reads, or, with several, the only one whose schema has the column; a ``USING`` column
reads every upstream that has it. ``*`` names no column, nor does a name the statement
gives an expression (``x * 2 AS total``).
"""

from __future__ import annotations

import ast
import functools
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeGuard

from . import pysyntax
from .errors import SpecError
from .sql import analyze_sql
from .store.catalog import failed_since

if TYPE_CHECKING:
    from .store.stores import Store

Reads = dict[str, set[str]]  # upstream -> the columns of it the code reads

_KEEPING = frozenset(
    str.split(
        "copy dropna fillna head tail sort_values sort_index drop_duplicates reset_index "
        "set_index assign merge join astype rename drop sample where mask nlargest nsmallest "
        "query round clip ffill bfill infer_objects convert_dtypes"
    )
)
_NAMING = frozenset(
    str.split(
        "groupby sort_values set_index drop_duplicates dropna pivot_table value_counts "
        "nlargest nsmallest drop rename merge join get"
    )
)
_NAMING_KEYWORDS = frozenset({"by", "subset", "columns", "on", "index", "values", "keys"})
_INDEXERS = frozenset({"loc", "at"})


def column_reads(
    source: str, upstreams: Iterable[str], schemas: Mapping[str, Iterable[str]] | None = None
) -> Reads:
    """Upstream -> the columns of it ``source`` (an exported asset function) reads; ``schemas``
    as for :func:`sql_column_reads`.

    Code that does not parse reads nothing (the build reports it).
    """
    ups = tuple(upstreams)
    try:
        tree = pysyntax.parse(source, "<asset>")
    except (SyntaxError, ValueError):
        return {}
    sql = _sql_body(tree)
    if sql is not None:
        return _sql_reads(sql, ups, schemas)
    visitor = _Frames(ups)
    visitor.visit(tree)
    return {up: cols for up, cols in visitor.reads.items() if cols}


def sql_column_reads(
    body: str, upstreams: Iterable[str], schemas: Mapping[str, Iterable[str]] | None = None
) -> Reads:
    """Upstream -> the columns of it a SQL body reads; ``schemas`` (upstream -> its columns)
    resolve unqualified columns when the statement reads several upstreams."""
    return _sql_reads(body, tuple(upstreams), schemas)


def drift_readers(
    drifted: Mapping[str, Iterable[str]],
    deps: Mapping[str, Sequence[str]],
    sources: Mapping[str, str | None],
    base: Sequence[Store],
    candidate: Store,
) -> dict[str, dict[str, list[str]]]:
    """:func:`readers`, with ``base``'s schemas (production, then the env's own store) and
    the failures that are the last word on a key in ``base`` or ``candidate``."""
    schemas: dict[str, list[str] | None] = {}
    failures: dict[str, list[str]] = {}
    stores = [*base, candidate]
    for store in [s for i, s in enumerate(stores) if all(s is not t for t in stores[:i])]:
        heads = store.catalog.heads()
        for key, failure in store.catalog.last_failures().items():
            if failed_since(failure, heads.get(key)):
                failures.setdefault(key, []).append(failure.error)
    for store in base:
        latest = store.catalog.latest()
        schemas.update({k: list(m.schema) if m.schema else None for k, m in latest.items()})
    return readers(drifted, deps, sources, schemas, failures)


def readers(
    drifted: Mapping[str, Iterable[str]],
    deps: Mapping[str, Sequence[str]],
    sources: Mapping[str, str | None],
    schemas: Mapping[str, Iterable[str] | None],
    failures: Mapping[str, Sequence[str]],
) -> dict[str, dict[str, list[str]]]:
    """Drifted key -> column -> the downstream assets that read it (sorted).

    A reader is an asset whose deps include the key; its source says what it reads
    (:func:`column_reads`), else a failure message of its last builds (``failures``:
    key -> messages) naming the column as a ``KeyError`` or a DuckDB ``Binder Error``.
    Columns no reader reads are left out.
    """
    found: dict[str, dict[str, list[str]]] = {}
    for key, columns in drifted.items():
        readers = sorted(reader for reader, ups in deps.items() if key in ups)
        for column in columns:
            names = [r for r in readers if _reads(r, key, column, deps, sources, schemas)]
            names += [
                r for r in readers if r not in names and _failed_on(column, failures.get(r, ()))
            ]
            if names:
                found.setdefault(key, {})[column] = sorted(names)
    return found


def _reads(
    reader: str,
    key: str,
    column: str,
    deps: Mapping[str, Sequence[str]],
    sources: Mapping[str, str | None],
    schemas: Mapping[str, Iterable[str] | None],
) -> bool:
    source = sources.get(reader)
    if not source:
        return False
    known = {up: set(cols) for up in deps[reader] if (cols := schemas.get(up)) is not None}
    return column in _cached_reads(source, tuple(deps[reader]), _frozen(known)).get(key, ())


def _frozen(schemas: Mapping[str, set[str]]) -> tuple[tuple[str, frozenset[str]], ...]:
    return tuple(sorted((up, frozenset(cols)) for up, cols in schemas.items()))


@functools.lru_cache(maxsize=256)
def _cached_reads(
    source: str, ups: tuple[str, ...], schemas: tuple[tuple[str, frozenset[str]], ...]
) -> Reads:
    return column_reads(source, ups, dict(schemas))


def _failed_on(column: str, messages: Sequence[str]) -> bool:
    quoted = re.compile(rf"""(['"]){re.escape(column)}\1""")
    return any(
        ("KeyError" in m or "Binder Error" in m) and quoted.search(m) is not None for m in messages
    )


# --- SQL ----------------------------------------------------------------------------------------


def _sql_body(tree: ast.Module) -> str | None:
    """The query of an exported SQL asset (``return sql_asset(key, "SELECT ...", ...)``)."""
    func = tree.body[0] if len(tree.body) == 1 else None
    if not isinstance(func, ast.FunctionDef) or len(func.body) != 1:
        return None
    ret = func.body[0]
    call = ret.value if isinstance(ret, ast.Return) else None
    if not (isinstance(call, ast.Call) and _name(call.func) == "sql_asset"):
        return None
    if len(call.args) < 2 or not isinstance(call.args[1], ast.Constant):
        return None
    query = call.args[1].value
    return query if isinstance(query, str) else None


def _sql_reads(
    body: str, ups: tuple[str, ...], schemas: Mapping[str, Iterable[str]] | None
) -> Reads:
    try:
        analysis = analyze_sql("<reader>", body)
    except SpecError:
        return {}
    tree = json.loads(analysis.normalized)
    read = [up for up in ups if up in analysis.tables]
    names = {up: up for up in read}
    for table in _nodes(tree, lambda n: n.get("type") == "BASE_TABLE"):
        if table.get("alias") and table.get("table_name") in names:
            names[table["alias"]] = table["table_name"]
    reads: Reads = {}
    unqualified: set[str] = set()
    for ref in _nodes(tree, lambda n: n.get("class") == "COLUMN_REF"):
        parts = ref.get("column_names", [])
        if len(parts) >= 2 and parts[0] in names:
            reads.setdefault(names[parts[0]], set()).add(parts[1])
        elif len(parts) == 1:
            unqualified.add(parts[0])
    known = schemas or {}
    for join in _nodes(tree, lambda n: n.get("type") == "JOIN"):
        for column in join.get("using_columns") or ():  # read on both sides of the join
            for up in read:
                if up not in known or column in set(known[up]):
                    reads.setdefault(up, set()).add(column)
    unqualified -= _output_names(tree)
    for column in unqualified:
        owners = read
        if len(read) > 1:
            owners = [up for up in read if up not in known or column in set(known[up])]
        if len(owners) == 1:
            reads.setdefault(owners[0], set()).add(column)
    return reads


def _output_names(tree: Any) -> set[str]:
    """Names the statement gives its expressions (``x * 2 AS total``): no upstream's."""
    named = _nodes(tree, lambda n: bool(n.get("alias")) and "class" in n)
    return {
        n["alias"]
        for n in named
        if not (n["class"] == "COLUMN_REF" and n["column_names"][-1:] == [n["alias"]])
    }


def _nodes(node: Any, wanted: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if wanted(node):
            yield node
        for value in node.values():
            yield from _nodes(value, wanted)
    elif isinstance(node, list):
        for value in node:
            yield from _nodes(value, wanted)


# --- Python -------------------------------------------------------------------------------------


def _name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    return node.attr if isinstance(node, ast.Attribute) else ""


def _strings(node: ast.expr | None) -> list[str]:
    """The column names a literal holds: a string, or a list/tuple/set (or dict keys) of them."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.List | ast.Tuple | ast.Set):
        return [s for elt in node.elts for s in _strings(elt)]
    if isinstance(node, ast.Dict):
        return [s for k in node.keys if k is not None for s in _strings(k)]
    return []


@functools.cache
def _frame_attributes() -> frozenset[str]:
    """What ``up.name`` means other than a column (pandas resolves these first)."""
    try:
        import pandas
    except ImportError:  # pragma: no cover - pandas is a dependency
        return frozenset()
    return frozenset(dir(pandas.DataFrame))


class _Frames(ast.NodeVisitor):
    """Walks a function body in order, tracking which names hold which upstreams' frames."""

    def __init__(self, upstreams: tuple[str, ...]) -> None:
        self.frames: dict[str, frozenset[str]] = {up: frozenset({up}) for up in upstreams}
        self.written: dict[str, set[str]] = {}  # name -> columns the code wrote on it
        self.reads: Reads = {up: set() for up in upstreams}

    def origin(self, node: ast.expr | None) -> frozenset[str]:
        """The upstreams whose columns the frame ``node`` evaluates to holds (empty: none)."""
        if isinstance(node, ast.Name):
            return self.frames.get(node.id, frozenset())
        if isinstance(node, ast.Subscript):
            base = node.value
            if isinstance(base, ast.Attribute) and base.attr == "loc" and _single(node.slice):
                return self.origin(base.value)
            listed = isinstance(node.slice, ast.List)  # up[["a", "b"]] keeps a frame
            return self.origin(base) if listed or not _strings(node.slice) else frozenset()
        if isinstance(node, ast.Call):
            func = node.func
            mine = self.origin(func.value) if isinstance(func, ast.Attribute) else frozenset()
            if mine and _name(func) in _KEEPING:
                if _name(func) in ("merge", "join"):
                    mine = mine | self.origin(node.args[0] if node.args else None)
                return mine
            if _name(func) in ("merge", "concat") and node.args:
                first = node.args[0]
                parts = first.elts if isinstance(first, ast.List | ast.Tuple) else node.args[:2]
                return frozenset().union(*(self.origin(p) for p in parts))
        return frozenset()

    def read(self, frame: ast.expr, columns: Iterable[str]) -> None:
        ups = self.origin(frame)
        own = self.written.get(frame.id, set()) if isinstance(frame, ast.Name) else set()
        for column in columns:
            if column not in own:
                for up in ups:
                    self.reads[up].add(column)

    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        for target in node.targets:
            self.visit(target)
        ups = self.origin(node.value)
        for target in node.targets:
            if isinstance(target, ast.Name):
                if ups:
                    self.frames[target.id] = ups
                    self.written[target.id] = set()
                else:
                    self.frames.pop(target.id, None)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        columns = _strings(node.slice)
        base = node.value
        if isinstance(node.ctx, ast.Store):
            if isinstance(base, ast.Name) and base.id in self.frames:
                self.written.setdefault(base.id, set()).update(columns)
        elif isinstance(base, ast.Attribute) and base.attr in _INDEXERS:
            second = node.slice.elts[1] if _pair(node.slice) else None  # type: ignore[attr-defined]
            self.read(base.value, _strings(second))
        elif isinstance(base, ast.Call) and _grouped(base.func):
            self.read(base.func.value, columns)
        else:
            self.read(base, columns)
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        attr = node.attr
        frame = isinstance(node.ctx, ast.Load) and isinstance(node.value, ast.Name)
        if frame and not attr.startswith("_") and attr not in _frame_attributes():
            self.read(node.value, [attr])
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        self._aggregated(node)
        if isinstance(func, ast.Attribute) and func.attr in _NAMING and self.origin(func.value):
            self.visit(func.value)  # the receiver, not the method name as a column
            self._named(func.value, func.attr, node)
        elif _name(func) == "merge" and len(node.args) >= 2:
            self.visit(func)
            self._merged(node.args[0], node.args[1], node)
        else:
            self.visit(func.value if isinstance(func, ast.Attribute) else func)
        for arg in node.args:
            self.visit(arg)
        for keyword in node.keywords:
            self.visit(keyword.value)

    def _named(self, frame: ast.expr, method: str, call: ast.Call) -> None:
        if method in ("merge", "join"):
            self._merged(frame, call.args[0] if call.args else None, call)
            return
        if call.args and method not in ("drop", "rename"):
            self.read(frame, _strings(call.args[0]))
        for keyword in call.keywords:
            if keyword.arg in _NAMING_KEYWORDS:
                self.read(frame, _strings(keyword.value))

    def _aggregated(self, call: ast.Call) -> None:
        """``frame[.groupby(...)].agg(total=("c", "sum"))`` or ``.agg({"c": "sum"})`` reads c."""
        func = call.func
        if not (isinstance(func, ast.Attribute) and func.attr in ("agg", "aggregate")):
            return
        frame = func.value
        if isinstance(frame, ast.Call) and _grouped(frame.func):
            frame = frame.func.value
        named = [kw.value.elts[0] for kw in call.keywords
                 if isinstance(kw.value, ast.Tuple) and kw.value.elts]  # fmt: skip
        keys = call.args[0].keys if call.args and isinstance(call.args[0], ast.Dict) else []
        self.read(frame, [c for node in (*named, *keys) if node for c in _strings(node)])

    def _merged(self, left: ast.expr, right: ast.expr | None, call: ast.Call) -> None:
        for keyword in call.keywords:
            names = _strings(keyword.value)
            if keyword.arg in ("on", "left_on"):
                self.read(left, names)
            if keyword.arg in ("on", "right_on") and right is not None:
                self.read(right, names)


def _single(index: ast.expr) -> bool:
    return not isinstance(index, ast.Tuple)


def _pair(index: ast.expr) -> bool:
    return isinstance(index, ast.Tuple) and len(index.elts) == 2


def _grouped(func: ast.expr) -> TypeGuard[ast.Attribute]:
    """``frame.groupby``: the subscripts of its call name the frame's columns."""
    return isinstance(func, ast.Attribute) and func.attr == "groupby"
