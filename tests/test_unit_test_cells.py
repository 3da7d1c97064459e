"""``%%test`` cells and ``%test`` in a kernel (issue 12, acceptance 1).

Through a real InteractiveShell (and a real kernel through nbclient for Run All): a test runs
the asset's current code on inputs made by hand, shows one line when it passes and the frame
difference when it fails (then raises), names a missing input, tests SQL assets on frames,
records its outcome in the sandbox catalog and never materializes anything.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from helpers import TestingShell, shown, tree_listing, write_notebook
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import CapturedIO, capture_output
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from nbassets.errors import DependencyError
from nbassets.store.sqlite_catalog import SqliteCatalog
from nbassets.testcells import define_test
from nbassets.testing import FrameMismatch, expect_frame_equal

SANDBOX = Path(".nbassets/dev-tester-nogit")
ANSI = re.compile(r"\x1b\[[0-9;]*m")

RAW = "%%asset raw --no-preview\nimport pandas as pd\npd.DataFrame({'id': [1, 2, 3], 'amount': [5.0, -1.0, 7.0]})"
ORDERS = "%%asset orders --no-preview\nraw[raw.amount > 0].reset_index(drop=True)"
PASSING = """%%test orders --name keeps_positive
given = pd.DataFrame({'id': [1, 2], 'amount': [4.0, -2.0]})
expect_frame_equal(orders(raw=given), pd.DataFrame({'id': [1], 'amount': [4.0]}))"""
FAILING = """%%test orders --name keeps_refunds
given = pd.DataFrame({'id': [1, 2], 'amount': [4.0, -2.0]})
expected = pd.DataFrame({'id': [1, 2], 'amount': [4.0, -2.0]})
expect_frame_equal(orders(raw=given), expected)"""


def session_of(shell: TestingShell):  # type: ignore[no-untyped-def]
    return shell.magics_manager.registry["AssetMagics"].session


def run(shell: TestingShell, cell: str) -> tuple[BaseException | None, CapturedIO]:
    """Run ``cell`` as a notebook does (counted in history): the error it raised, its output."""
    with capture_output() as captured:
        result = InteractiveShell.run_cell(shell, cell, store_history=True)
    return result.error_in_exec or result.error_before_exec, captured


def printed(captured: CapturedIO) -> str:
    return ANSI.sub("", shown(captured) + captured.stderr)


def results(store: Path = SANDBOX) -> list[tuple]:
    """Every row of the sandbox's test_results, read with plain sqlite3."""
    conn = sqlite3.connect(store / "catalog.sqlite")
    try:
        return conn.execute(
            "SELECT key, name, code_version, outcome, message, env, source, user "
            "FROM test_results ORDER BY id"
        ).fetchall()
    finally:
        conn.close()


def count(table: str, store: Path = SANDBOX) -> int:
    conn = sqlite3.connect(store / "catalog.sqlite")
    try:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    finally:
        conn.close()


def built(shell: TestingShell) -> None:
    shell.run_cell("import pandas as pd")
    shell.run_cell(RAW)
    shell.run_cell(ORDERS)


# --- outcomes -----------------------------------------------------------------------------------


def test_a_passing_test_shows_one_line_and_records_its_outcome(shell: TestingShell) -> None:
    built(shell)
    value = shell.user_ns["orders"]
    out = shell.capture(PASSING)
    text = shown(out).strip()
    assert re.fullmatch(r"✓ test keeps_positive of orders passed in [\d.]+ (ms|s)", text), text
    assert shell.user_ns["orders"] is value  # the asset's value in the notebook is untouched
    assert list(shell.user_ns["orders"].id) == [1, 3]
    assert "given" not in shell.user_ns  # the body ran as a function

    code_version = session_of(shell).cells["orders"].code_version
    assert results() == [
        ("orders", "keeps_positive", code_version, "passed", "", "dev-tester-nogit",
         "<kernel> :: orders :: keeps_positive", "tester"),
    ]  # fmt: skip
    (recorded,) = SqliteCatalog(SANDBOX / "catalog.sqlite", writable=False).test_results()
    assert recorded.passed and recorded.seconds > 0 and recorded.at.endswith("+00:00")
    line, body = PASSING.split("\n", 1)
    assert recorded.test_version == define_test(line.removeprefix("%%test "), body).version
    assert not Path("warehouse").exists()  # production never written


def test_a_failing_test_shows_the_frame_difference_and_raises(shell: TestingShell) -> None:
    built(shell)
    error, out = run(shell, FAILING)
    assert isinstance(error, FrameMismatch)
    text = shown(out)
    assert "✗ test keeps_refunds of orders failed in" in text
    assert "    the frames differ:" in text
    assert "    1 row, expected 2" in text
    assert re.search(r"rows missing \(from row 1\): id=2(\.0)?, amount=-2\.0", text), text
    assert error.differences[0] == "1 row, expected 2"
    assert all(f"  {line}" in str(error) for line in error.differences)
    html = next(o.data["text/html"] for o in out.outputs if "text/html" in o.data)
    assert "rgba(207,34,46,.2)" in html and ">fail</span>" in html  # the check badges' palette
    assert "rows missing (from row 1)" in html
    ((key, name, _, outcome, message, *_),) = results()
    assert (key, name, outcome) == ("orders", "keeps_refunds", "failed")
    assert message.startswith("the frames differ:\n") and "1 row, expected 2" in message


def test_a_failing_assert_and_an_error_are_told_apart(shell: TestingShell) -> None:
    built(shell)
    error, out = run(
        shell, "%%test orders --name few\nassert len(orders(raw=raw)) > 5, '<b>too few'"
    )
    assert isinstance(error, AssertionError) and str(error) == "<b>too few"
    assert "✗ test few of orders failed in" in shown(out) and "    <b>too few" in shown(out)
    html = next(o.data["text/html"] for o in out.outputs if "text/html" in o.data)
    assert "&lt;b&gt;too few" in html and "<b>" not in html  # escaped
    error, out = run(shell, "%%test orders --name typo\norders(raw=raw).no_such_column")
    assert isinstance(error, AttributeError)
    assert "✗ test typo of orders raised an error in" in shown(out)
    assert [row[3] for row in results()] == ["failed", "error"]
    assert "AttributeError: 'DataFrame' object has no attribute 'no_such_column'" in results()[1][4]


def test_a_missing_input_is_named(shell: TestingShell) -> None:
    built(shell)
    shell.run_cell("%%asset enriched --no-preview\nraw.assign(tax=raw.amount * 0.2)")
    shell.run_cell("%%asset joined --no-preview\nenriched.merge(raw, on='id')")
    error, out = run(shell, "%%test joined\njoined(raw=pd.DataFrame({'id': [1]}))")
    assert isinstance(error, DependencyError)
    assert "joined(...) was not given 'enriched'" in str(error)
    assert "a test gives every upstream of 'joined' by hand" in str(error)
    assert "raw=..." in str(error) and "enriched=..." in str(error)
    assert "DependencyError: joined(...) was not given 'enriched'" in shown(out)
    assert results()[0][3] == "error" and "'enriched'" in results()[0][4]


def test_a_sql_asset_is_tested_on_frames(shell: TestingShell) -> None:
    built(shell)
    shell.run_cell(
        "%%asset totals --sql --no-preview\nSELECT count(*) AS n, sum(amount) AS total FROM orders"
    )
    out = shell.capture(
        "%%test totals --name sums\n"
        "given = pd.DataFrame({'id': [1, 2, 3], 'amount': [1.5, 2.5, 4.0]})\n"
        "expect_frame_equal(totals(orders=given), pd.DataFrame({'n': [3], 'total': [8.0]}))"
    )
    assert "✓ test sums of totals passed" in shown(out)
    error, out = run(
        shell,
        "%%test totals --name wrong\n"
        "given = pd.DataFrame({'id': [1], 'amount': [1.5]})\n"
        "expect_frame_equal(totals(orders=given), pd.DataFrame({'n': [1], 'total': [9.0]}))",
    )
    assert isinstance(error, FrameMismatch)
    assert "row 0: total 1.5 ≠ expected 9.0" in shown(out)
    assert [(r[1], r[3]) for r in results()] == [("sums", "passed"), ("wrong", "failed")]
    assert count("materializations") == 3  # raw, orders and totals' own builds: none by tests


def test_tests_never_materialize_anything(shell: TestingShell, project: Path) -> None:
    """Tests of assets the notebook file defines and this kernel never built: afterwards the
    sandbox catalog holds test results only, and the store's data folder no file."""
    notebook = write_notebook(
        project / "notebooks" / "shop.ipynb",
        {"c-raw": RAW, "c-orders": ORDERS, "c-t": PASSING},
    )
    shell.user_ns["__session__"] = str(notebook)
    shell.run_cell("import pandas as pd")
    shell.capture(PASSING)
    run(shell, FAILING)
    run(shell, "%%test orders --name nothing_given\norders()")
    assert "raw" not in shell.user_ns and "orders" not in shell.user_ns
    assert [r[3] for r in results()] == ["passed", "failed", "error"]
    assert [r[6] for r in results()] == [
        f"notebooks/shop.ipynb :: orders :: {name}"
        for name in ("keeps_positive", "keeps_refunds", "nothing_given")
    ]
    assert count("materializations") == 0 and count("failures") == 0
    assert count("check_results") == 0
    data = project / SANDBOX / "data"
    assert [p for p in data.rglob("*") if p.is_file()] == []
    assert tree_listing(project / "warehouse") == {}


def test_tests_leave_the_built_assets_records_and_files_as_they_were(
    shell: TestingShell, project: Path
) -> None:
    built(shell)
    before = (
        count("materializations"),
        count("failures"),
        tree_listing(project / SANDBOX / "data"),
    )
    shell.capture(PASSING)
    run(shell, FAILING)
    run(shell, "%%test orders\norders()")
    after = (count("materializations"), count("failures"), tree_listing(project / SANDBOX / "data"))
    assert after == before and before[0] == 2
    assert len(results()) == 3


# --- the asset's current code -------------------------------------------------------------------


def test_a_test_runs_the_assets_current_code(shell: TestingShell) -> None:
    built(shell)
    shell.capture(PASSING)
    first = session_of(shell).cells["orders"].code_version
    shell.run_cell("%%asset orders --no-preview\nraw[raw.amount >= 1].reset_index(drop=True)")
    second = session_of(shell).cells["orders"].code_version
    error, out = run(shell, "%test orders")  # the same test, on the edited cell's code
    assert error is None, printed(out)
    error, out = run(shell, "%%asset orders --no-preview\nraw.reset_index(drop=True)")
    third = session_of(shell).cells["orders"].code_version
    error, out = run(shell, "%test orders")
    assert isinstance(error, FrameMismatch), printed(out)
    assert "✗ test keeps_positive of orders failed" in shown(out)
    assert [(r[2], r[3]) for r in results()] == [
        (first, "passed"),
        (second, "passed"),
        (third, "failed"),
    ]
    assert len({first, second, third}) == 3


def test_a_saved_edit_not_yet_run_is_the_code_tested(shell: TestingShell, project: Path) -> None:
    """The notebook file saved after the asset cell ran, with other code: the saved code is
    the asset's code (as for status)."""
    notebook = write_notebook(project / "notebooks" / "n.ipynb", {"a": RAW, "b": ORDERS})
    shell.user_ns["__session__"] = str(notebook)
    built(shell)
    shell.capture(PASSING)
    write_notebook(notebook, {"a": RAW, "b": ORDERS.replace("> 0", "< 0")})
    error, out = run(shell, "%test orders")
    assert isinstance(error, FrameMismatch)
    assert "amount -2.0 ≠ expected 4.0" in shown(out)
    assert results()[-1][2] != session_of(shell).cells["orders"].code_version  # the saved code


# --- %test --------------------------------------------------------------------------------------


def test_percent_test_runs_the_assets_tests_again(shell: TestingShell) -> None:
    built(shell)
    shell.capture(PASSING)
    shell.capture("%%test orders --name positive_only\nassert (orders(raw=raw).amount > 0).all()")
    shell.capture("%%test raw --name three_rows\nassert len(raw()) == 3")
    out = shell.capture("%test orders")
    lines = shown(out).strip().splitlines()
    assert [line.split(" passed")[0] for line in lines] == [
        "✓ test keeps_positive of orders",
        "✓ test positive_only of orders",
    ]
    out = shell.capture("%test")  # every asset's, in definition order
    assert [line.split(" passed")[0] for line in shown(out).strip().splitlines()] == [
        "✓ test three_rows of raw",
        "✓ test keeps_positive of orders",
        "✓ test positive_only of orders",
    ]
    assert len(results()) == 3 + 2 + 3


def test_percent_test_raises_when_one_fails_after_showing_all(shell: TestingShell) -> None:
    built(shell)
    run(shell, FAILING)
    shell.capture(PASSING)
    error, out = run(shell, "%test orders")
    assert isinstance(error, FrameMismatch)
    text = shown(out)
    assert "✗ test keeps_refunds of orders failed" in text
    assert "✓ test keeps_positive of orders passed" in text


def test_percent_test_runs_the_notebook_files_tests_when_none_ran_here(
    shell: TestingShell, project: Path
) -> None:
    notebook = write_notebook(
        project / "notebooks" / "n.ipynb",
        {"a": RAW, "b": ORDERS, "t1": PASSING, "t2": FAILING, "x": "%%test raw\nassert raw()"},
    )
    shell.user_ns["__session__"] = str(notebook)
    shell.run_cell("import pandas as pd")
    error, out = run(shell, "%test orders")
    assert isinstance(error, FrameMismatch)
    text = shown(out)
    assert "✓ test keeps_positive of orders passed" in text
    assert "✗ test keeps_refunds of orders failed" in text
    assert [r[1] for r in results()] == ["keeps_positive", "keeps_refunds"]
    shell.capture(PASSING)  # once a test of orders ran here, %test runs this kernel's
    shell.capture("%test orders")
    assert [r[1] for r in results()][-2:] == ["keeps_positive", "keeps_positive"]


def test_unknown_names_are_refused_with_a_hint(shell: TestingShell) -> None:
    built(shell)
    with pytest.raises(UsageError, match=r"no asset 'ordrs' is defined.*Did you mean 'orders'\?"):
        shell.run_cell("%%test ordrs\nassert True")
    with pytest.raises(UsageError, match=r"no asset 'ordrs' is defined.*Did you mean 'orders'\?"):
        shell.run_cell("%test ordrs")
    with pytest.raises(
        UsageError, match=r"%test orders: asset 'orders' has no tests.*%%test orders"
    ):
        shell.run_cell("%test orders")
    with pytest.raises(UsageError, match=r"%test: no tests in this kernel"):
        shell.run_cell("%test")
    with pytest.raises(UsageError, match=r"%test: unrecognized arguments: b"):
        shell.run_cell("%test a b")
    with pytest.raises(UsageError, match=r"--name 'not ok'"):
        shell.run_cell("%%test orders --name 'not ok'\nassert True")
    assert count("test_results") == 0


def test_a_stored_asset_without_code_here_cannot_be_tested(shell: TestingShell) -> None:
    built(shell)
    session_of(shell).cells.pop("raw")  # as a kernel that never ran raw's cell sees it
    with pytest.raises(
        UsageError, match=r"'raw' is stored, but no %%asset cell .* defines its code"
    ):
        shell.run_cell("%%test raw\nassert raw()")


# --- how it reads -------------------------------------------------------------------------------


def test_a_failing_test_reads_from_the_users_lines(shell: TestingShell) -> None:
    built(shell)
    run(
        shell,
        "%%asset fragile --no-preview\nx = raw.amount.sum()\nraw.assign(share=raw.amount / x)",
    )
    error, out = run(shell, FAILING)
    text = printed(out)
    number = shell.execution_count - 1
    assert f"Cell In[{number}], line 3" in text
    assert re.search(r"----> 3 expect_frame_equal\(orders\(raw=given\), expected\)", text)
    assert "nbassets/" not in text and "testing.py" not in text
    # an error in the asset's own code: the test's line, then the asset cell's line
    error, out = run(
        shell, "%%test fragile\nfragile(raw=pd.DataFrame({'id': [1], 'amount': ['x']}))"
    )
    text = printed(out)
    assert isinstance(error, TypeError), text
    assert "----> 1 fragile(raw=" in text and "----> 2 raw.assign(share=raw.amount / x)" in text
    assert text.index("----> 1 fragile(") < text.index("----> 2 raw.assign(")
    assert "nbassets/" not in text


def test_expect_frame_equal_needs_no_import_and_hides_from_who(shell: TestingShell) -> None:
    assert shell.user_ns["expect_frame_equal"] is expect_frame_equal
    assert "expect_frame_equal" in shell.user_ns_hidden
    shell.run_cell("from nbassets.testing import expect_frame_equal as efe")
    assert shell.user_ns["efe"] is expect_frame_equal
    shell.run_cell("%unload_ext nbassets")
    assert "expect_frame_equal" not in shell.user_ns
    shell.run_cell("expect_frame_equal = 'mine'")
    shell.run_cell("%load_ext nbassets")
    assert shell.user_ns["expect_frame_equal"] == "mine"  # the user's own binding is kept


# --- Run All ------------------------------------------------------------------------------------


@pytest.mark.notebooks
def test_a_failing_test_stops_run_all(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """nbclient runs the notebook: the failing test shows its result and raises, the cell after
    it never runs, and both outcomes are recorded with the notebook's path."""
    notebook = write_notebook(
        project / "notebooks" / "run_all.ipynb",
        {"load": "%load_ext nbassets\nimport pandas as pd", "raw": RAW, "orders": ORDERS, "pass": PASSING,
         "fail": FAILING, "after": "print('still running')"},
    )  # fmt: skip
    nb = nbformat.read(notebook, as_version=4)
    monkeypatch.setenv("JPY_SESSION_NAME", str(notebook))  # as jupyter_server tells a kernel
    client = NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(notebook.parent)}})  # fmt: skip
    with pytest.raises(CellExecutionError, match="FrameMismatch"):
        client.execute()
    cells = {cell.id: cell for cell in nb.cells}
    passed = [o.get("data", {}).get("text/plain", "") for o in cells["pass"].outputs]
    assert len(passed) == 1 and passed[0].startswith("✓ test keeps_positive of orders passed")
    texts = [o.get("data", {}).get("text/plain", "") for o in cells["fail"].outputs]
    assert any("✗ test keeps_refunds of orders failed" in t for t in texts), texts
    assert any("    1 row, expected 2" in t for t in texts), texts
    errors = [o for o in cells["fail"].outputs if o.output_type == "error"]
    assert [e.ename for e in errors] == ["FrameMismatch"]
    assert cells["after"].outputs == [] and cells["after"].execution_count is None

    assert [(r[1], r[3], r[6]) for r in results(project / SANDBOX)] == [
        ("keeps_positive", "passed", "notebooks/run_all.ipynb :: orders :: keeps_positive"),
        ("keeps_refunds", "failed", "notebooks/run_all.ipynb :: orders :: keeps_refunds"),
    ]
    assert count("materializations", project / SANDBOX) == 2  # raw and orders, not the tests


def test_frames_compare_after_the_storage_round_trip(shell: TestingShell) -> None:
    """What a test sees is what production would see: a category column comes back as such,
    an object column of ints as int64 (what Parquet gives back)."""
    built(shell)
    shell.capture(
        "%%test orders --name round_trip\n"
        "given = pd.DataFrame({'id': pd.Series([1, 2], dtype=object), 'amount': [1.0, 2.0]})\n"
        "result = orders(raw=given)\n"
        "assert str(result.id.dtype) == 'int64', result.dtypes"
    )
    assert results()[0][3] == "passed"
    assert isinstance(shell.user_ns["orders"], pd.DataFrame)
