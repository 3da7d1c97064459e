"""Text that reaches generated Python: exact one-line literals, safe comments, no stray breaks.

Notebook text (file names, check names, descriptions, SQL, rules) reaches an exported module
only through :func:`literal` (a double-quoted ``repr()``-escaped literal on one line) or
:func:`shown` (as is in a comment or docstring when it is printable and holds no ``\\`` or
``"``). A cell whose code holds a line break other than ``\\n`` or a lone surrogate is refused
(:func:`refuse_unreadable`), and a generated module is parsed and compiled before it is
written (:func:`validate`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from . import pysyntax
from .errors import SpecError
from .notebookfile import ASSET, Cell
from .spec import parse_asset_line

_STRAY_BREAKS = re.compile("[\r\v\f\x1c-\x1e\x85\u2028\u2029]")  # line breaks but \n
_SURROGATE = re.compile("[\ud800-\udfff]")
_FIXES = {True: "a lone surrogate (no character): delete it", False: "a line break but \\n, "
          "where Python, editors and reviewers disagree: replace it with a newline"}  # fmt: skip


def refuse_unreadable(notebook: str, index: int, cell: Cell) -> None:
    """Refuse a lone surrogate in a cell's code, and a stray line break in Python code."""
    body = cell.parsed.body  # (the magic line reaches the module only as literals)
    sql = cell.parsed.kind == ASSET and parse_asset_line(cell.parsed.line).sql
    found = _SURROGATE.search(body) or (None if sql else _STRAY_BREAKS.search(body))
    if found:
        row = body.count("\n", 0, found.start()) + 1 + cell.source.count("\n") - body.count("\n")
        raise SpecError(
            f"{shown(notebook)}, cell {index + 1}, line {row}: {literal(found.group())} is "
            + _FIXES[bool(_SURROGATE.match(found.group()))]
            + ", or write it as an escape in a string literal; then export again."
        )


def literal(text: str) -> str:
    """A double-quoted literal (as formatters write them) with ``repr()``'s escapes: one line."""
    return '"' + "".join('\\"' if c == '"' else repr(c)[1:-1] for c in text) + '"'


def shown(text: str) -> str:
    """``text`` for a comment or a docstring: as is when printable, else as its literal."""
    return text if text.isprintable() and not {"\\", '"'} & set(text) else literal(text)


def literals(items: Iterable[str]) -> str:
    """A tuple of string literals, one per line when it would be long."""
    literals = [literal(item) for item in items]
    one_line = f"({', '.join(literals)}{',' if len(literals) == 1 else ''})"
    if len(one_line) <= 70:
        return one_line
    return "(\n" + "".join(f"            {lit},\n" for lit in literals) + "        )"


def validate(text: str, notebook: str) -> None:
    try:
        if _STRAY_BREAKS.search(text) or _SURROGATE.search(text):
            raise SyntaxError("a line break other than \\n, or a lone surrogate")
        pysyntax.compile_code(pysyntax.parse(text), f"<export of {shown(notebook)}>", "exec")
    except SyntaxError as exc:
        raise SpecError(
            f"exporting {shown(notebook)} produced invalid Python at line {exc.lineno} "
            f"({exc.msg}); this is a bug in nbassets: please report it with the notebook."
        ) from exc
