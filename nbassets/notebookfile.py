"""Which assets a notebook file declares: its ``%%asset`` cells, read from disk without a kernel."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


@dataclass(frozen=True)
class Cell:
    """One cell of a notebook file: its kind, source, tags and id."""

    kind: str  # code | markdown | raw
    source: str
    tags: tuple[str, ...] = ()
    cell_id: str | None = None


def read_cells(path: str | Path) -> list[Cell]:
    """Every cell of an ``.ipynb``, or of a jupytext percent-format ``.py`` (needs ``jupytext``)."""
    file = Path(path)
    if file.suffix == ".py":
        try:
            import jupytext
        except ImportError:
            raise SpecError(
                f"{file} is a .py notebook: reading it needs jupytext (pip install jupytext)."
            ) from None
        cells = jupytext.read(file)["cells"]
    else:
        try:
            cells = json.loads(file.read_text(encoding="utf-8")).get("cells", [])
        except ValueError as exc:
            raise SpecError(f"{file} is not a valid .ipynb notebook (JSON: {exc}).") from exc
    return [_cell(raw) for raw in cells]


def _cell(raw: Any) -> Cell:
    source = raw.get("source", "")
    if isinstance(source, list):
        source = "".join(source)
    tags = tuple(raw.get("metadata", {}).get("tags", []))
    return Cell(raw.get("cell_type", "code"), source, tags, raw.get("id"))


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
