"""The rows of a catalog's ``materializations`` (and ``failures``) tables as records.

The SQLite and the PostgreSQL catalogs have the same columns and read them with the same SQL
lists (``"user"`` quoted: a reserved word in PostgreSQL).
"""

from __future__ import annotations

from typing import Any

import orjson

from .catalog import Failure, Head, Materialization

COLUMNS = (  # read by every read of whole records, then ``seq``, ``code`` and ``rollback_of``
    'id, key, env, partition, data_version, code_version, "commit", dirty, source, inputs, '
    'rows, schema, bytes, path, io, kind, "user", started_at, finished_at'
)

FAILURES = (  # the failures table's, in :class:`Failure`'s field order (then ``seq``)
    'key, env, error, started_at, finished_at, code_version, source, "user", partition, id'
)


def materialization(row: tuple[Any, ...]) -> Materialization:
    """A materialization from a row of ``COLUMNS``, ``seq``, ``code`` and ``rollback_of``."""
    (id_, key, env, partition, dv, cv, commit, dirty, source, inputs, rows, schema, size, path,
     io, kind, user, started, finished, seq, code, rollback_of) = row  # fmt: skip
    return Materialization(
        id=id_,
        key=key,
        env=env,
        partition=partition,
        data_version=dv,
        code_version=cv,
        commit=commit,
        dirty=None if dirty is None else bool(dirty),
        source=source,
        inputs=orjson.loads(inputs),
        rows=rows,
        schema=orjson.loads(schema) if schema else None,
        bytes=size,
        path=path,
        io=io,
        kind=kind,
        user=user,
        started_at=started,
        finished_at=finished,
        seq=seq,
        code=code,
        rollback_of=rollback_of,
    )


def partition_heads(rows: list[tuple[Any, ...]]) -> dict[str, dict[str, Head]]:
    """Rows of ``partition, key, env, data_version, code_version, inputs, rows, finished_at,
    commit, source, path, bytes, seq`` as key -> partition -> :class:`Head`, in row order."""
    loads, new = orjson.loads, tuple.__new__  # every field given: skips Head's __new__
    found: dict[str, dict[str, Head]] = {}
    for r in rows:
        head = (r[1], r[2], r[3], r[4], loads(r[5]), *r[6:13])
        found.setdefault(r[1], {})[r[0]] = new(Head, head)
    return found


def failures_by_partition(rows: list[tuple[Any, ...]]) -> dict[str, dict[str, Failure]]:
    """Rows of the failures table in :class:`Failure`'s field order, as key -> partition."""
    found: dict[str, dict[str, Failure]] = {}
    for row in rows:
        found.setdefault(row[0], {})[row[8]] = Failure(*row)
    return found
