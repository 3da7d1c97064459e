"""Aligned plain-text tables: the one column layout of every text view (magics, CLI, diffs).

Cells are padded to the widest cell of their column, two spaces apart, and no line ends in
blanks. A row may have fewer cells than another (a header with an extra "more" note).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence


def aligned(
    rows: Sequence[Sequence[str]], *, indent: str = "", right: Collection[int] = ()
) -> list[str]:
    """One line per row: columns left-aligned, or right-aligned for the indexes in ``right``."""
    count = max((len(row) for row in rows), default=0)
    widths = [max(len(row[i]) for row in rows if i < len(row)) for i in range(count)]
    return [
        indent
        + "  ".join(
            cell.rjust(width) if i in right else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=False))
        ).rstrip()
        for row in rows
    ]


def table(header: Sequence[str], rows: Sequence[Sequence[str]], *, indent: str = "") -> str:
    """``header`` over ``rows``, :func:`aligned`, as one text."""
    return "\n".join(aligned([header, *rows], indent=indent))
