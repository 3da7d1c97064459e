"""The rows of the SQLite catalog's ``materializations`` table as records."""

from __future__ import annotations

from typing import Any

import orjson

from .catalog import Materialization

COLUMNS = (  # read by every read of whole records, then ``seq``, ``code`` and ``rollback_of``
    'id, key, env, partition, data_version, code_version, "commit", dirty, source, inputs, '
    "rows, schema, bytes, path, io, kind, user, started_at, finished_at"
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
