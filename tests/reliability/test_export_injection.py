"""Issue 10, finding 2: notebook text never becomes code in an exported module.

Each attack exports a real notebook file, then imports the generated package the way
``nbassets materialize`` does (``load_package``). Injected code would create the file
``injected`` in the project; every test asserts that it does not exist and that the module
is well formed: a docstring, no line break but ``\\n`` anywhere in the file, and a registry
that holds the notebook's text exactly.
"""

from __future__ import annotations

import ast
import json
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from nbassets.config import Project
from nbassets.errors import SpecError
from nbassets.exporter import export_notebooks
from nbassets.package import load_package

# Every line break some tool honours: Python's tokenizer (\r, \n), str.splitlines, editors.
LINE_BREAKS = ["\r", "\n", "\v", "\f", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]
BREAK_IDS = ["CR", "LF", "VT", "FF", "FS", "GS", "RS", "NEL", "LS", "PS"]
PAYLOAD = 'open("injected", "w").close()'

# production, which generated code would run against, is byte-identical after every test
pytestmark = pytest.mark.usefixtures("production_untouched")


def write_ipynb(path: Path, sources: list[str]) -> Path:
    """An ``.ipynb`` written as JSON by hand, so any text (even a lone surrogate) gets in."""
    cells = [
        {"cell_type": "code", "id": f"c{n}", "metadata": {}, "source": source,
         "outputs": [], "execution_count": None}
        for n, source in enumerate(sources)
    ]  # fmt: skip
    notebook = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(notebook), encoding="utf-8")
    return path


def export_and_import(project: Path, notebook: Path) -> tuple[str, object]:
    """Export ``notebook``; return the module's text and the package ``materialize`` loads."""
    result = export_notebooks(Project.find(project), [notebook])
    module = next(p for p in result.written if p.name not in ("__init__.py", "definitions.py"))
    text = module.read_text(encoding="utf-8")
    return text, load_package(Project.find(project))


def assert_well_formed(text: str) -> None:
    assert text.split("\n")[:-1] == text.splitlines(), "a line break other than \\n"
    assert ast.get_docstring(ast.parse(text)) is not None, "the header is no docstring"


ASSET = "%%asset orders\norders = 1"


def test_a_notebook_file_name_with_triple_quotes_stays_text(project: Path) -> None:
    name = 'x"""+str(' + PAYLOAD + ')+""".ipynb'
    notebook = write_ipynb(project / "notebooks" / name, [ASSET])
    text, package = export_and_import(project, notebook)
    assert not (project / "injected").exists(), "the file name ran as code"
    assert_well_formed(text)
    assert package.assets["orders"].source == f"notebooks/{name} :: orders"  # type: ignore[attr-defined]


@pytest.mark.parametrize("brk", LINE_BREAKS, ids=BREAK_IDS)
def test_a_line_break_in_a_notebook_file_name_stays_in_its_comment(project: Path, brk: str) -> None:
    name = f"x{brk}{PAYLOAD}{brk}#.ipynb"
    notebook = write_ipynb(project / "notebooks" / name, [ASSET])
    text, package = export_and_import(project, notebook)
    assert not (project / "injected").exists(), "the file name ran as code"
    assert_well_formed(text)
    assert package.assets["orders"].source == f"notebooks/{name} :: orders"  # type: ignore[attr-defined]


# A check name can hold any line break but \n: the magic line continues after a backslash.
CHECK_BREAKS = [b for b in LINE_BREAKS if b != "\n"]
CHECK_IDS = [i for b, i in zip(LINE_BREAKS, BREAK_IDS, strict=True) if b != "\n"]


@pytest.mark.parametrize("brk", CHECK_BREAKS, ids=CHECK_IDS)
def test_a_line_break_in_a_check_name_stays_in_its_marker(project: Path, brk: str) -> None:
    payload = PAYLOAD.replace('"', "'")  # inside the double-quoted name
    check = f'%%check orders --name "x \\\na{brk}{payload} #"\nassert orders == 1'
    notebook = write_ipynb(project / "notebooks" / "n.ipynb", [ASSET, check])
    text, package = export_and_import(project, notebook)
    assert not (project / "injected").exists(), "the check name ran as code"
    assert_well_formed(text)
    (exported,) = package.checks  # type: ignore[attr-defined]
    assert exported.name == f"x  a{brk}{payload} #"  # the joined line keeps both spaces


@pytest.mark.parametrize(
    "hostile", ["\x85", "\u2028", "\u2029", "\ud800"], ids=["NEL", "LS", "PS", "surrogate"]
)
def test_descriptions_rules_and_sql_reach_code_only_as_exact_literals(
    project: Path, hostile: str
) -> None:
    # the first line ends at any line break: the description continues on the next line
    desc = f'%%asset orders --desc "ab \\\nc{hostile}d"\norders = 1'
    # DuckDB cannot read a lone surrogate in SQL: test_a_lone_surrogate_in_code_is_refused
    sql_text = "\\ud800" if hostile == "\ud800" else hostile
    sql = f"%%asset totals --sql\nSELECT '{sql_text}' AS x, * FROM orders"
    notebook = write_ipynb(project / "notebooks" / "n.ipynb", [desc, sql])
    text, package = export_and_import(project, notebook)
    assert_well_formed(text)
    assert package.assets["orders"].description == f"ab  c{hostile}d"  # type: ignore[attr-defined]


@pytest.mark.parametrize("brk", ["\r", "\u2028"], ids=["CR", "LS"])
def test_a_stray_line_break_in_a_cell_body_is_refused(project: Path, brk: str) -> None:
    # Python ends a line at \r: the `with` would leave the check's function and run at
    # import. \u2028 looks like a line break to a reviewer while Python keeps one line.
    check = f'%%check orders --name c\nx = 1  # note{brk}with open("injected", "w"): pass'
    notebook = write_ipynb(project / "notebooks" / "n.ipynb", [ASSET, check])
    try:
        export_and_import(project, notebook)
        refused = ""
    except SpecError as exc:
        refused = str(exc)
    assert not (project / "injected").exists(), "the cell body ran at import"
    assert re.search(r"notebooks/n\.ipynb.*cell 2", refused), "the export was not refused"


@pytest.mark.parametrize(
    "body",
    ["SELECT '\ud800' AS x, * FROM orders", "x = '\ud800'\ntotals = orders"],
    ids=["sql", "python"],
)
def test_a_lone_surrogate_in_code_is_refused(project: Path, body: str) -> None:
    # Today DuckDB fails on it deep inside (InvalidInputException), or the UTF-8 write does.
    sql = "--sql" if body.startswith("SELECT") else ""
    notebook = write_ipynb(
        project / "notebooks" / "n.ipynb", [ASSET, f"%%asset totals {sql}\n{body}"]
    )
    with pytest.raises(SpecError, match=r"notebooks/n\.ipynb, cell 2, line 2: .* lone surrogate"):
        export_and_import(project, notebook)


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def test_generated_files_get_normal_permissions(project: Path, umask_022: None) -> None:
    notebook = write_ipynb(project / "notebooks" / "n.ipynb", [ASSET])
    result = export_notebooks(Project.find(project), [notebook])
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in result.written}
    assert modes == {name: 0o644 for name in ("__init__.py", "n.py", "definitions.py")}
