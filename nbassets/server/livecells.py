"""The body of ``POST assets`` / ``POST lineage``: a notebook path and its cells as the editor
holds them now (saved or not).

The JSON is ``{"path": "notebooks/x.ipynb", "env": "dev-x" (optional), "cells": [{"id": "c1",
"cell_type": "code", "source": "%%asset a\\n1", "tags": []}, ...]}``. The cells are untrusted
input: bounded in size (:data:`MAX_BODY_BYTES`, :data:`MAX_CELLS`), checked field by field,
and only ever parsed (``notebookfile.classify``), never run. Pure (no tornado).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..notebookfile import Cell
from .paths import EXAMPLE, RequestRefused

MAX_BODY_BYTES = 5 * 1024 * 1024
MAX_CELLS = 5000
CELL_TYPES = ("code", "markdown", "raw")
_SHAPE = (
    f'send {{"path": "{EXAMPLE}", "cells": [{{"id": "c1", "cell_type": "code", '
    '"source": "%%asset a\\n1"}]}'
)


@dataclass(frozen=True)
class LiveRequest:
    """A notebook path, an optional env and the cells the panel sent (``None``: read the file)."""

    path: str
    env: str | None
    cells: list[Cell] | None


def parse_live_request(body: bytes) -> LiveRequest:
    """The request body read and checked; a :class:`RequestRefused` (400) says what is wrong."""
    if len(body) > MAX_BODY_BYTES:
        raise RequestRefused(
            400,
            f"the request body is {len(body):,} bytes, over the limit of {MAX_BODY_BYTES:,}: "
            "the panel sends only the notebook's cell sources; save the notebook and ask with "
            "GET assets?path=... to read it from the file instead.",
        )
    try:
        data = json.loads(body or b"{}")
    except ValueError as exc:
        raise RequestRefused(400, f"the request body is not JSON ({exc}); {_SHAPE}.") from exc
    if not isinstance(data, dict) or not isinstance(data.get("path"), str):
        raise RequestRefused(400, f'the request body needs a string "path"; {_SHAPE}.')
    env = data.get("env")
    if env is not None and not isinstance(env, str):
        raise RequestRefused(400, f'"env" must be a string (an env name), not {env!r}.')
    raw = data.get("cells")
    if raw is None:
        return LiveRequest(data["path"], env or None, None)
    if not isinstance(raw, list):
        raise RequestRefused(400, f'"cells" must be a list of cells; {_SHAPE}.')
    if len(raw) > MAX_CELLS:
        raise RequestRefused(
            400, f"the request sends {len(raw):,} cells, over the limit of {MAX_CELLS:,}."
        )
    return LiveRequest(data["path"], env or None, [_cell(i, c) for i, c in enumerate(raw)])


def _cell(index: int, raw: Any) -> Cell:
    """One cell of the body, each field checked."""
    where = f"cells[{index}]"
    if not isinstance(raw, dict):
        raise RequestRefused(400, f"{where} is not an object; {_SHAPE}.")
    source, kind = raw.get("source"), raw.get("cell_type", "code")
    cell_id, tags = raw.get("id"), raw.get("tags", [])
    if not isinstance(source, str):
        raise RequestRefused(400, f'{where} needs a string "source"; {_SHAPE}.')
    if kind not in CELL_TYPES:
        raise RequestRefused(
            400, f'{where}: "cell_type" is {kind!r}; it must be one of {", ".join(CELL_TYPES)}.'
        )
    if cell_id is not None and not isinstance(cell_id, str):
        raise RequestRefused(400, f'{where}: "id" must be a string, not {cell_id!r}.')
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        raise RequestRefused(400, f'{where}: "tags" must be a list of strings.')
    return Cell(kind, source, tuple(tags), cell_id or None)
