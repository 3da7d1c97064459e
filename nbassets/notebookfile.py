"""What a notebook cell is (asset, check, test, exported or other) and what its magic line says.

The one reader of cells: ``classify`` answers for a cell's source and tags, and the readers
of ``.ipynb`` and jupytext percent files, the exporter, the panel's overview and the kernel
session all go through it. A cell is read the way IPython reads it (``inputtransformer2``):

- leading lines that are empty or hold only whitespace are skipped;
- the indentation common to every line is removed (so a cell whose first line alone is
  indented is no cell magic: IPython runs it as Python and fails);
- a cell magic is ``%%`` at the very start of the first remaining line; its name is the text
  up to the first space (a tab is part of the name), its line is the rest, trailing
  whitespace removed. ``%%asset``, ``%%check`` and ``%%test`` are nbassets' magics; any
  other name (``%%assets``, ``%%asset_x``, ``%%checkpoint``, ``%%asset?`` for help) is not,
  and a magic on a later line (``%%time`` then ``%%asset``) does not make an asset cell,
  although IPython's ``%%time`` would run it;
- a line ending in a backslash continues on the next line (``spec.join_continued_lines``;
  nbassets' own rule, not IPython's), and the body keeps a blank line per line taken.

Other cells are exported when they carry the tag ``export`` or when their first line, stripped,
is exactly ``# nbassets: export``. An ``%%asset``/``%%check``/``%%test`` cell is one whatever
its tags. Two differences from IPython are deliberate: the body is kept as written (IPython
also appends a final newline and empties whitespace-only lines, which no code version or
exported function depends on, and a string literal would), and IPython refuses to run a
magic whose body is empty, while here such a cell still names its asset.
"""

from __future__ import annotations

import functools
import json
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .checks.cells import parse_check_line
from .errors import SpecError
from .spec import AssetSpec, join_continued_lines, parse_asset_line
from .testcells import TestCell, define_test, parse_test_line

ASSET, CHECK, TEST, EXPORT, OTHER = "asset", "check", "test", "export", "other"
MAGICS = (ASSET, CHECK, TEST)
EXPORT_TAG = "export"
EXPORT_MARK = "# nbassets: export"


@dataclass(frozen=True)
class CellKind:
    """What a cell is: its kind, its cell magic's name, its magic line and body.

    ``line`` is the magic line with continued lines joined (empty unless the cell is an
    asset, check or test cell). ``body`` is the code after the magic line or the export
    marker, else the whole source.
    """

    kind: str  # asset | check | test | export | other
    magic: str | None  # the name after ``%%`` on the first line (any cell magic), else None
    line: str
    body: str

    @functools.cached_property
    def key(self) -> str | None:
        """The asset the magic line names when the line parses, else ``None``."""
        try:
            if self.kind == ASSET:
                return parse_asset_line(self.line).key
            if self.kind == CHECK:
                return parse_check_line(self.line).asset
            if self.kind == TEST:
                return parse_test_line(self.line).asset
        except (SpecError, ValueError):
            return None
        return None


def classify(source: str, tags: Iterable[str] = ()) -> CellKind:
    """What a code cell with this source and these tags is."""
    first, body = _first_line(source)
    magic = None
    if first.startswith("%%"):
        magic, _, line = first[2:].rstrip().partition(" ")
        if magic in MAGICS:
            return magic_cell(magic, line, body)
    marked = first.strip() == EXPORT_MARK
    kind = EXPORT if marked or EXPORT_TAG in tags else OTHER
    return CellKind(kind, magic, "", body if marked else source)


def magic_cell(magic: str, line: str, body: str) -> CellKind:
    """An nbassets cell (``magic`` in ``MAGICS``) from the line and body IPython hands over."""
    line, body = join_continued_lines(line, body)
    return CellKind(magic, magic, line, body)


def _first_line(source: str) -> tuple[str, str]:
    """The first line IPython sees (blank lines skipped, common indent removed) and the rest."""
    lines = source.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.strip()), len(lines))
    lines = lines[start:]
    if lines and lines[0][0].isspace():
        lines = textwrap.dedent("".join(lines)).splitlines(keepends=True)
    if not lines:
        return "", ""
    return lines[0], "".join(lines[1:])


# --- notebook files -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    """One cell of a notebook file: its kind, source, tags and id."""

    kind: str  # code | markdown | raw
    source: str
    tags: tuple[str, ...] = ()
    cell_id: str | None = None

    @functools.cached_property
    def parsed(self) -> CellKind:
        """What the cell is (:func:`classify`); markdown and raw cells are ``other``."""
        if self.kind != "code":
            return CellKind(OTHER, None, "", self.source)
        return classify(self.source, self.tags)


@dataclass(frozen=True)
class AssetCell:
    """One ``%%asset`` cell of a notebook file."""

    spec: AssetSpec
    body: str
    cell_id: str | None
    index: int


_cache: dict[Path, tuple[tuple[int, int], list[AssetCell]]] = {}


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
    cells = parse_asset_cells(_cell(raw) for raw in notebook.get("cells", []))
    _cache[file] = (stamp, cells)
    return cells


def parse_test_cells(cells: Iterable[Cell]) -> list[tuple[str | None, TestCell]]:
    """The ``%%test`` cells among ``cells`` (cell id, test), in order; a cell that does not
    parse is left out (the kernel reports it when the cell runs)."""
    found: list[tuple[str | None, TestCell]] = []
    for cell in cells:
        kind = cell.parsed
        if kind.kind != TEST:
            continue
        try:
            found.append((cell.cell_id, define_test(kind.line, kind.body)))
        except (SpecError, ValueError):
            continue
    return found


def parse_asset_cells(cells: Iterable[Cell]) -> list[AssetCell]:
    """The asset cells among ``cells`` (a file's, or the ones an editor holds), in order;
    cells with a bad line are skipped (the kernel reports them when they run)."""
    found: list[AssetCell] = []
    for index, cell in enumerate(cells):
        kind = cell.parsed
        if kind.kind != ASSET:
            continue
        try:
            spec = parse_asset_line(kind.line)
        except SpecError:
            continue
        found.append(AssetCell(spec, kind.body, cell.cell_id, index))
    return found
