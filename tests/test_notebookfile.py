"""The one reader of cells: what kind each is, as IPython reads it, and notebook files' cells.

``tests/resources/cell_samples.json`` is shared with the TypeScript tests of
``labextension/src/cells.ts``: both sides must classify every sample as the file says.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import nbformat
import pytest
from helpers import TestingShell
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from nbassets.notebookfile import (
    ASSET,
    CHECK,
    EXPORT,
    MAGICS,
    OTHER,
    TEST,
    asset_cells,
    classify,
    magic_cell,
    read_cells,
)

SAMPLES_FILE = Path(__file__).parent / "resources" / "cell_samples.json"
SAMPLES: list[dict[str, Any]] = json.loads(SAMPLES_FILE.read_text(encoding="utf-8"))
KINDS = (ASSET, CHECK, TEST, EXPORT, OTHER)


def test_the_samples_file_is_well_formed_and_covers_every_kind() -> None:
    fields = {"name": str, "source": str, "tags": list, "kind": str}
    for sample in SAMPLES:
        assert set(sample) == {*fields, "key"}, sample
        assert all(isinstance(sample[name], kind) for name, kind in fields.items()), sample
        assert sample["kind"] in KINDS and (sample["key"] is None or sample["kind"] in MAGICS)
    assert len({s["name"] for s in SAMPLES}) == len(SAMPLES) >= 25
    assert {s["kind"] for s in SAMPLES} == set(KINDS)


@pytest.mark.parametrize("sample", SAMPLES, ids=[s["name"] for s in SAMPLES])
def test_every_sample_is_classified_as_the_file_says(sample: dict[str, Any]) -> None:
    cell = classify(sample["source"], sample["tags"])
    assert (cell.kind, cell.key) == (sample["kind"], sample["key"])


@pytest.mark.parametrize("sample", SAMPLES, ids=[s["name"] for s in SAMPLES])
def test_ipython_runs_nbassets_magics_exactly_on_the_cells_read_as_theirs(
    _shell: TestingShell, sample: dict[str, Any]
) -> None:
    cell = classify(sample["source"], sample["tags"])
    called = _cell_magic_call(_shell.transform_cell(sample["source"]))
    if cell.kind not in MAGICS:
        assert called is None or called[0] not in MAGICS
        return
    assert called is not None and called[0] == cell.kind
    as_run = magic_cell(cell.kind, called[1], called[2])
    assert as_run.line == cell.line
    # IPython ends the cell with a newline and empties whitespace-only lines; nothing else differs.
    assert as_run.body == _as_ipython_passes(cell.body)


def _cell_magic_call(code: str) -> tuple[str, str, str] | None:
    """``(name, line, body)`` when IPython turned the cell into one ``run_cell_magic`` call."""
    try:
        tree = ast.parse(code)
    except SyntaxError:  # IPython would fail before running any magic
        return None
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Expr):
        return None
    call = tree.body[0].value
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)):
        return None
    if call.func.attr != "run_cell_magic":
        return None
    name, line, body = (ast.literal_eval(arg) for arg in call.args)
    return name, line, body


def _as_ipython_passes(body: str) -> str:
    lines = [line if line.strip() else line.lstrip(" \t") for line in body.splitlines(True)]
    text = "".join(lines)
    return text if not text or text.endswith("\n") else text + "\n"


def test_the_magic_line_continues_after_a_backslash_and_keeps_line_numbers() -> None:
    cell = classify("%%asset orders \\\n  --io json \\\n  --desc 'x'\nvalue = 1\nvalue")
    assert (cell.kind, cell.line) == (ASSET, "orders  --io json  --desc 'x'")
    assert cell.body == "\n\nvalue = 1\nvalue"
    assert magic_cell(CHECK, "orders \\", "--name x\nTrue\n").line == "orders  --name x"


def test_an_exported_cell_body_drops_the_marker_and_keeps_the_rest() -> None:
    assert classify("# nbassets: export\nRATE = 1\n").body == "RATE = 1\n"
    assert classify("RATE = 1\n", ["export"]).body == "RATE = 1\n"
    assert classify("%%time\nx = 1").magic == "time"
    assert classify("x = 1").magic is None


def test_a_notebook_file_is_read_through_the_same_classifier(project: Path) -> None:
    cells = [new_code_cell(s["source"], metadata={"tags": s["tags"]}) for s in SAMPLES]
    cells.append(new_markdown_cell("%%asset prose\nnot code"))
    path = project / "samples.ipynb"
    nbformat.write(new_notebook(cells=cells), path)
    read = read_cells(path)
    assert [(c.parsed.kind, c.parsed.key) for c in read] == [
        *[(s["kind"], s["key"]) for s in SAMPLES],
        (OTHER, None),
    ]
    declared = [(cell.index, cell.spec.key) for cell in asset_cells(path)]
    assert declared == [
        (index, s["key"]) for index, s in enumerate(SAMPLES) if s["kind"] == ASSET and s["key"]
    ]
