"""Which assets a notebook file declares: its ``%%asset`` cells, read from disk without a kernel."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .errors import SpecError
from .spec import AssetSpec, join_continued_lines, parse_asset_line

ASSET_MAGIC = "%%asset"


@dataclass(frozen=True)
class AssetCell:
    """One ``%%asset`` cell of a notebook file."""

    spec: AssetSpec
    body: str
    cell_id: str | None
    index: int


_cache: dict[Path, tuple[tuple[int, int], list[AssetCell]]] = {}


def split_asset_cell(source: str) -> tuple[str, str] | None:
    """``(line, body)`` of a cell whose first line is ``%%asset ...``, else ``None``."""
    first, _, body = source.partition("\n")
    stripped = first.strip()
    if stripped != ASSET_MAGIC and not stripped.startswith(ASSET_MAGIC + " "):
        return None
    return join_continued_lines(stripped[len(ASSET_MAGIC) :].strip(), body)


def asset_cells(path: str | Path) -> list[AssetCell]:
    """The asset cells of an ``.ipynb`` file, in order; cells with a bad line are skipped.

    The result is cached until the file's size or modification time changes.
    """
    file = Path(path).resolve()
    try:
        stat = file.stat()
    except OSError:
        return []
    stamp = (stat.st_mtime_ns, stat.st_size)
    hit = _cache.get(file)
    if hit and hit[0] == stamp:
        return hit[1]
    try:
        notebook = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    cells: list[AssetCell] = []
    for index, cell in enumerate(notebook.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(source)
        parts = split_asset_cell(source)
        if parts is None:
            continue
        try:
            spec = parse_asset_line(parts[0])
        except SpecError:
            continue  # the kernel reports it when the cell runs
        cells.append(AssetCell(spec, parts[1], cell.get("id"), index))
    _cache[file] = (stamp, cells)
    return cells
