"""A failing ``%%asset`` or ``%%check`` cell shows a traceback that reads like any cell's.

Through a real InteractiveShell (the traceback IPython prints) and a real kernel (the error
output nbclient records): the user's frame under the cell's own prompt number, the failing
line shown, library frames below it, and none of nbassets' own frames.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from helpers import TestingShell, write_notebook
from IPython.core.interactiveshell import ExecutionResult, InteractiveShell
from IPython.utils.capture import capture_output
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from nbassets.errors import MaterializeFailed

ANSI = re.compile(r"\x1b\[[0-9;]*m")
NBASSETS_FRAMES = ("nbassets/", "magics.py", "kernel_build", "session.py", "build.py",
                   "run_cell_magic", "runner.py")  # fmt: skip


def run(shell: TestingShell, cell: str) -> tuple[ExecutionResult, str]:
    """Run ``cell`` as a notebook does (counted in history) and return what it printed."""
    with capture_output() as out:
        result = InteractiveShell.run_cell(shell, cell, store_history=True)
    return result, ANSI.sub("", out.stdout + out.stderr)


def assert_reads_like_a_cell(text: str, number: int | None, line: int, code: str) -> None:
    assert f"Cell In[{number}], line {line}" in text, text
    assert re.search(rf"----> {line}\s+{re.escape(code)}", text), text
    for frame in NBASSETS_FRAMES:
        assert frame not in text, f"{frame!r} in:\n{text}"


def test_a_failing_asset_cell_shows_its_own_frame_and_line(shell: TestingShell) -> None:
    run(shell, "x0 = 1")  # the prompt numbers move on
    result, text = run(shell, "%%asset boom\nx = 1\ny = x / 0\ny")
    assert isinstance(result.error_in_exec, ZeroDivisionError)
    assert_reads_like_a_cell(text, result.execution_count, 2, "y = x / 0")
    assert text.count("Cell In[") == 1 and "ZeroDivisionError: division by zero" in text
    again, text = run(shell, "%%asset boom\nx = 1\ny = x / 0\ny")  # the next prompt's number
    assert again.execution_count == result.execution_count + 1
    assert_reads_like_a_cell(text, again.execution_count, 2, "y = x / 0")


def test_library_frames_follow_the_users_frame(shell: TestingShell) -> None:
    cell = "%%asset merged\nimport pandas as pd\npd.DataFrame({'a': [1]}).merge(pd.DataFrame({'a': [1]}), on='zz')"
    result, text = run(shell, cell)
    assert isinstance(result.error_in_exec, KeyError)
    assert_reads_like_a_cell(text, result.execution_count, 2, "pd.DataFrame({'a': [1]})")
    user = text.index(f"Cell In[{result.execution_count}]")
    assert text.find("pandas/core/") > user, text  # the library's frames, below the user's
    assert text.rstrip().endswith("KeyError: 'zz'")


def test_a_failing_check_cell_shows_its_own_frame_and_line(shell: TestingShell) -> None:
    run(shell, "%%asset table --no-preview\nimport pandas as pd\npd.DataFrame({'a': [1, 2]})")
    result, text = run(shell, "%%check table\nn = len(table)\ntable['missing'].sum() == n")
    assert isinstance(result.error_in_exec, KeyError)
    assert_reads_like_a_cell(text, result.execution_count, 2, "table['missing'].sum() == n")
    assert text.rfind("pandas/core/") > text.rindex("Cell In[")  # pandas chains a KeyError


def test_a_failure_in_materialize_shows_the_cells_frame_then_what_failed(
    shell: TestingShell,
) -> None:
    run(shell, "%%asset flaky --no-preview\n1")
    cell, _ = run(shell, "%%asset flaky --no-preview\nx = 1\nx / 0")
    result, text = run(shell, "%config AssetMagics.progress = False\n%materialize flaky")
    assert isinstance(result.error_in_exec, MaterializeFailed)
    assert_reads_like_a_cell(text, cell.execution_count, 2, "x / 0")  # the asset's own cell
    assert text.rstrip().endswith("to build what is left."), text
    assert "MaterializeFailed: %materialize: 1 failed (flaky: ZeroDivisionError" in text
    run(shell, "%%asset base --no-preview\nimport pandas as pd\npd.DataFrame({'a': [1]})")
    run(shell, "%%asset picked --no-preview --sql\nSELECT nope FROM base")
    result, text = run(shell, "%materialize picked")
    assert isinstance(result.error_in_exec, MaterializeFailed)
    assert 'failed in DuckDB: Binder Error: Referenced column "nope"' in text
    for frame in (*NBASSETS_FRAMES, "runtime.py", "File "):  # its message says it all
        assert frame not in text, f"{frame!r} in:\n{text}"


def test_a_sql_error_points_at_the_sql_not_at_duckdb(shell: TestingShell) -> None:
    """DuckDB's error, shown at the line of the cell's SQL it names (its ``LINE n``)."""
    run(shell, "%%asset base --no-preview\nimport pandas as pd\npd.DataFrame({'a': [1, 2]})")
    result, text = run(shell, "%%asset picked --sql\nSELECT a,\n  nope\nFROM base")
    assert type(result.error_in_exec).__name__ == "BinderException"  # DuckDB's own error
    assert_reads_like_a_cell(text, result.execution_count, 2, "nope")  # the SQL's line
    assert "LINE 2:   nope" in text and "^^^^" in text, text
    assert 'column "nope" not found' in text
    for frame in ("duckdb/", "site-packages", "File "):  # no frame but the cell's
        assert frame not in text, f"{frame!r} in:\n{text}"
    result, text = run(shell, "%%asset cast --sql\nSELECT\n  CAST('x' AS INTEGER) AS n")
    assert_reads_like_a_cell(text, result.execution_count, 2, "CAST('x' AS INTEGER) AS n")
    assert "Could not convert string 'x'" in text


@pytest.mark.notebooks
def test_a_kernel_shows_the_cells_frame_in_its_error_output(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notebook = write_notebook(project / "notebooks" / "boom.ipynb", {
        "load": "%load_ext nbassets",
        "boom": "%%asset boom\nx = 1\ny = x / 0\ny",
    })  # fmt: skip
    nb = nbformat.read(notebook, as_version=4)
    monkeypatch.setenv("JPY_SESSION_NAME", str(notebook))
    client = NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(notebook.parent)}})  # fmt: skip
    with pytest.raises(CellExecutionError):
        client.execute()
    cell = nb.cells[1]
    error = next(o for o in cell.outputs if o.output_type == "error")
    assert error.ename == "ZeroDivisionError"
    text = ANSI.sub("", "\n".join(error.traceback))
    assert_reads_like_a_cell(text, cell.execution_count, 2, "y = x / 0")
