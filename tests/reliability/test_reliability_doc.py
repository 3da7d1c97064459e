"""``docs/reliability.md`` names real tests: every test id in its table is a test that exists.

An id is ``tests/<folder>/test_x.py::test_name``; the file must exist and define that test
function at its top level (read with ``ast``, so nothing is imported or run). A row whose test is
still ``TODO(finding N)`` fails the second test until it is filled in.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "reliability.md"
TEST_ID = re.compile(r"`(tests/[\w/]+\.py)::(\w+)`")
PENDING = re.compile(r"TODO\(finding \d+\)")


def table_rows() -> list[str]:
    """The rows of the table of faults and attacks (its header and rule left out)."""
    lines = DOC.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| # | fault or attack |"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append(line)
    return rows


def defined_tests(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.name.startswith("test_")
    }


def test_every_test_id_in_the_table_exists() -> None:
    rows = table_rows()
    assert len(rows) >= 23, "the table lists every fault and attack"
    missing = []
    for row in rows:
        ids = TEST_ID.findall(row)
        assert ids or PENDING.search(row), f"a row with no test id: {row[:80]}"
        for file, name in ids:
            path = ROOT / file
            if not path.is_file() or name not in defined_tests(path):
                missing.append(f"{file}::{name}")
    assert not missing, f"docs/reliability.md names tests that do not exist: {missing}"


def test_no_row_is_pending() -> None:
    pending = [row[:60] for row in table_rows() if PENDING.search(row)]
    assert not pending, f"rows still to fill in: {pending}"
