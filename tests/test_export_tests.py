"""Exported ``%%test`` cells: ``<package>/tests/test_<notebook>.py``, run by pytest as in the notebook."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import nbformat
import pytest
from click.testing import CliRunner
from helpers import write_notebook

from nbassets.cli import main
from nbassets.config import Project
from nbassets.errors import SpecError
from nbassets.exporter import export_notebooks
from nbassets.notebookfile import TEST, classify
from nbassets.testcells import define_test

LOADED = "%load_ext nbassets"
EXPORTED = (
    "# nbassets: export\nimport pandas as pd\n\nRATE = 2\n\n\ndef double(x):\n    return x * RATE"
)
RAW = (
    "%%asset raw_orders\n"
    'pd.DataFrame({"id": [1, 2, 3], "status": ["ok", "cancelled", "ok"], '
    '"qty": [2, 1, 3], "price": [5.0, 7.0, 1.5]})'
)
ORDERS = (
    "%%asset orders\n"
    "# the orders that count, with their totals\n"
    'kept = raw_orders[raw_orders.status != "cancelled"]\n'
    "kept.assign(total=kept.qty * kept.price).reset_index(drop=True)"
)
COUNT = "%%asset order_count --sql\nSELECT count(*) AS n, sum(total) AS revenue FROM orders"
TESTS = {
    "drops_cancelled": (
        "%%test orders --name drops_cancelled\n"
        "# one order kept, one cancelled\n"
        'raw = pd.DataFrame({"id": [1, 2], "status": ["ok", "cancelled"], "qty": [1, 1], '
        '"price": [1.0, 1.0]})\n'
        "assert orders(raw_orders=raw).id.tolist() == [1]"
    ),
    "totals": (
        "%%test orders --name totals\n"
        'raw = pd.DataFrame({"id": [7], "status": ["ok"], "qty": [3], "price": [2.5]})\n'
        "expect_frame_equal(orders(raw_orders=raw), raw.assign(total=[7.5]))"
    ),
    "counts_sql": (
        "%%test order_count --name counts_sql\n"
        'result = order_count(orders=pd.DataFrame({"id": [1, 2], "total": [1.0, 2.5]}))\n'
        "assert result.n.tolist() == [2] and result.revenue.tolist() == [3.5]"
    ),
    "wrong_on_purpose": (
        "%%test order_count --name wrong_on_purpose\n"
        'result = order_count(orders=pd.DataFrame({"id": [1], "total": [1.0]}))\n'
        "assert result.n.tolist() == [double(1)]"
    ),
    "missing_input": "%%test orders --name missing_input\norders()",
}
# what the notebook's test cells give (pass: True); the parity test asks the notebook itself
EXPECTED = {
    "test_orders_drops_cancelled": True,
    "test_orders_totals": True,
    "test_order_count_counts_sql": True,
    "test_order_count_wrong_on_purpose": False,  # 1 order, not 2
    "test_orders_missing_input": False,  # raw_orders not given
}


def shop(project: Path, **extra: str) -> Path:
    """The parity notebook (raw orders, orders, a SQL count, five tests), plus ``extra`` cells."""
    cells = {"load": LOADED, "lib": EXPORTED, "raw": RAW, "orders": ORDERS, "count": COUNT}
    cells.update({f"t_{name}": source for name, source in TESTS.items()})
    return write_notebook(project / "notebooks" / "shop.ipynb", {**cells, **extra})


def export(project: Path, *notebooks: Path, check: bool = False):  # type: ignore[no-untyped-def]
    return export_notebooks(Project.find(project), notebooks, check=check)


def small(project: Path, *cells: str, name: str = "n") -> Path:
    """A notebook with an ``orders`` asset over ``raw`` and the given cells."""
    sources = {"e": EXPORTED, "a": "%%asset orders\nraw.assign(n=1)"}
    sources.update({f"c{i}": source for i, source in enumerate(cells)})
    return write_notebook(project / "notebooks" / f"{name}.ipynb", sources)


def refusal(project: Path, *cells: str) -> str:
    with pytest.raises(SpecError) as info:
        export(project, small(project, *cells))
    assert not (project / "pipelines").exists()  # refused before anything is written
    return str(info.value)


# --- the file -------------------------------------------------------------------------------------


def test_the_test_module_has_a_header_imports_one_function_per_cell_and_a_registry(
    project: Path,
) -> None:
    notebook = small(
        project,
        '%%test orders --name adds_n\n# made by hand\ndf = pd.DataFrame({"id": [1]})\n'
        'expect_frame_equal(orders(raw=df), df.assign(n=1))\n\nnote = """two\n  lines"""',
        "%%test orders\nassert double(len(orders(raw=pd.DataFrame({'id': [1, 2]})))) == 2 * RATE",
    )
    result = export(project, notebook)
    tests = project / "pipelines" / "tests"
    assert [p.relative_to(project).as_posix() for p in result.written][-2:] == [
        "pipelines/tests/__init__.py",
        "pipelines/tests/test_n.py",
    ]
    unnamed = define_test(
        "orders", "assert double(len(orders(raw=pd.DataFrame({'id': [1, 2]})))) == 2 * RATE"
    )
    code_version = _code_versions(project, "n")["orders"]
    named = define_test(
        "orders --name adds_n",
        '# made by hand\ndf = pd.DataFrame({"id": [1]})\n'
        'expect_frame_equal(orders(raw=df), df.assign(n=1))\n\nnote = """two\n  lines"""',
    )
    assert (
        (tests / "test_n.py").read_text()
        == f'''"""Tests of notebooks/n.ipynb, exported by nbassets.

Generated by `nbassets export` from the notebook's %%test cells: edit the notebook, not
this file, and export again (`nbassets export --check` says when it is out of date).
"""

import pandas as pd
from nbassets.runtime import ExportedTest
from nbassets.testing import expect_frame_equal, under_test

from pipelines import n
from pipelines.n import RATE, double


# %% notebooks/n.ipynb :: orders test adds_n
def test_orders_adds_n():
    orders = under_test(n, "orders")
    # made by hand
    df = pd.DataFrame({{"id": [1]}})
    expect_frame_equal(orders(raw=df), df.assign(n=1))

    note = """two
  lines"""


# %% notebooks/n.ipynb :: orders test {unnamed.name}
def {unnamed.function_name}():
    orders = under_test(n, "orders")
    assert double(len(orders(raw=pd.DataFrame({{'id': [1, 2]}})))) == 2 * RATE


TESTS = (
    ExportedTest(
        asset="orders",
        name="adds_n",
        function=test_orders_adds_n,
        code_version="{code_version}",
        test_version="{named.version}",
        source="notebooks/n.ipynb :: orders :: adds_n",
    ),
    ExportedTest(
        asset="orders",
        name="{unnamed.name}",
        function={unnamed.function_name},
        code_version="{code_version}",
        test_version="{unnamed.version}",
        source="notebooks/n.ipynb :: orders :: {unnamed.name}",
    ),
)
'''
    )
    assert (tests / "__init__.py").read_text().startswith('"""Tests exported from notebooks')


def _code_versions(project: Path, module: str) -> dict[str, str]:
    namespace: dict = {}
    exec((project / "pipelines" / f"{module}.py").read_text(), namespace)
    return {asset.key: asset.code_version for asset in namespace["ASSETS"]}


def test_the_tests_registry_names_each_function_and_lints_and_imports_no_kernel(
    project: Path,
) -> None:
    export(project, shop(project))
    lint = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--isolated", "pipelines"],
        capture_output=True, text=True, cwd=project,
    )  # fmt: skip
    assert lint.returncode == 0, lint.stdout + lint.stderr
    probe = (
        "import sys\n"
        "import pipelines.tests.test_shop as t\n"
        "from nbassets.runtime import exported_tests\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('IPython', 'nbassets'))\n"
        "print(loaded)\n"
        "print([(x.asset, x.name, x.function.__name__, x.code_version) for x in exported_tests(t)])\n"
        "import pipelines.shop as s\n"
        "print({a.key: a.code_version for a in s.ASSETS})"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=project, check=True
    ).stdout.splitlines()
    loaded = eval(out[0])
    assert not [m for m in loaded if m.startswith("IPython") or m == "nbassets.magics"]
    assert "nbassets.testing" in loaded and "nbassets.kernel_testing" not in loaded
    versions = eval(out[2])
    assert eval(out[1]) == [
        ("orders", "drops_cancelled", "test_orders_drops_cancelled", versions["orders"]),
        ("orders", "totals", "test_orders_totals", versions["orders"]),
        ("order_count", "counts_sql", "test_order_count_counts_sql", versions["order_count"]),
        ("order_count", "wrong_on_purpose", "test_order_count_wrong_on_purpose",
         versions["order_count"]),
        ("orders", "missing_input", "test_orders_missing_input", versions["orders"]),
    ]  # fmt: skip
    text = (project / "pipelines" / "tests" / "test_shop.py").read_text()
    assert "import pandas as pd\n" in text and "from pipelines.shop import double\n" in text
    assert "RATE" not in text.split("# %%")[0]  # only the names the tests read are imported


def test_export_is_deterministic_and_ignores_outputs_and_ids(project: Path) -> None:
    notebook = shop(project)
    export(project, notebook)
    before = (project / "pipelines" / "tests" / "test_shop.py").read_bytes()
    nb = json.loads(notebook.read_text())
    for number, cell in enumerate(nb["cells"]):
        cell["id"] = f"renumbered-{number}"
        cell["execution_count"] = number
        cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "noise"}]
    notebook.write_text(json.dumps(nb))
    again = export(project, notebook)
    assert again.written == [] and again.removed == []
    assert (project / "pipelines" / "tests" / "test_shop.py").read_bytes() == before


def test_the_module_is_imported_under_another_name_when_a_test_reads_its_name(
    project: Path,
) -> None:
    """Decision: the notebook's module is imported by its own name, unless a tested asset or a
    name a test reads is called that (notebooks/orders.ipynb testing asset orders)."""
    body = "assert len(orders(raw=pd.DataFrame({'a': [1]}))) == 1"
    export(project, small(project, f"%%test orders\n{body}", name="orders"))
    text = (project / "pipelines" / "tests" / "test_orders.py").read_text()
    assert "from pipelines import orders as orders_module\n" in text
    assert '    orders = under_test(orders_module, "orders")\n' in text
    assert _pytest(project).outcomes == {define_test("orders", body).function_name: True}


def test_a_test_of_an_asset_of_another_notebook_exported_together(project: Path) -> None:
    assets = small(project, name="assets")
    tests = write_notebook(project / "notebooks" / "checks.ipynb", {
        "a": "# nbassets: export\nimport pandas as pd",
        "b": "%%test orders --name adds_n\nassert orders(raw=pd.DataFrame({'a': [1]})).n.tolist() == [1]",
    })  # fmt: skip
    with pytest.raises(SpecError) as info:
        export(project, tests)
    assert str(info.value) == (
        "notebooks/checks.ipynb, cell 2: %%test orders tests an asset that no exported notebook "
        "defines. Export the notebook that defines it together with this one."
    )
    export(project, assets, tests)
    text = (project / "pipelines" / "tests" / "test_checks.py").read_text()
    assert "from pipelines import assets\n" in text
    assert '    orders = under_test(assets, "orders")\n' in text
    assert not (project / "pipelines" / "tests" / "test_assets.py").exists()
    assert _pytest(project).outcomes == {"test_orders_adds_n": True}


# --- what a test may read -------------------------------------------------------------------------


def test_a_name_only_an_unexported_cell_defines_is_refused(project: Path) -> None:
    message = refusal(project, "frame = pd.DataFrame({'a': [1]})",
                      "%%test orders --name t1\nassert len(orders(raw=frame)) == 1")  # fmt: skip
    assert message == (
        "When exporting the test 't1' of 'orders' (cell 4), it uses name 'frame' that no "
        "exported cell defines: tag the cell that defines it with 'export' (or start it with "
        "'# nbassets: export')."
    )


def test_another_assets_stored_data_is_refused_tests_use_inputs_made_by_hand(
    project: Path,
) -> None:
    message = refusal(project, "%%asset other\n1", "%%test orders --name t1\nassert len(orders(raw=other)) == 1")  # fmt: skip
    assert message.startswith(
        "When exporting the test 't1' of 'orders' (cell 4), it reads asset 'other'"
    )
    assert "on inputs made by hand in the cell, never on stored data" in message
    # an upstream read from a store (no cell defines it) is an asset too
    message = refusal(project, "%%test orders --name t2\nassert len(orders(raw=raw)) == 1")
    assert "it reads asset 'raw' by name" in message and "orders(raw=...)" in message


def test_a_name_no_cell_defines_and_a_bad_cell_are_refused_naming_the_cell(
    project: Path,
) -> None:
    message = refusal(project, "%%test orders --name t1\ndisplay(orders(raw=pd.DataFrame()))")
    assert message == (
        "When exporting the test 't1' of 'orders' (cell 3), it uses name 'display' that no cell "
        "of notebooks/n.ipynb defines: define it in the test cell, or in a cell tagged 'export'."
    )
    assert refusal(project, "%%test orders\n\n# nothing yet\n").startswith(
        "notebooks/n.ipynb, cell 3: the %%test cell is empty"
    )
    assert refusal(project, "%%test orders\nx = 1\ny = (") == (
        "notebooks/n.ipynb, cell 3, line 3: the %%test cell's code is invalid: "
        "'(' was never closed."
    )
    assert "a Python identifier" in refusal(project, "%%test orders --name 'a b'\nassert True")
    assert refusal(project, "%%test ordrs\nassert True") == (
        "notebooks/n.ipynb, cell 3: %%test ordrs tests an asset that no exported notebook "
        "defines. Did you mean 'orders'? Export the notebook that defines it together with "
        "this one."
    )
    assert refusal(
        project, "%%test orders --name t\nassert 1", "%%test orders --name t\nassert 2"
    ) == (
        "notebooks/n.ipynb: cells 3 and 4 both export as test_orders_t(): give one of them "
        "another --name."
    )


# --- --check and files left over ------------------------------------------------------------------


def test_check_reports_a_test_module_out_of_date_missing_or_left_over(project: Path) -> None:
    notebook = shop(project)
    export(project, notebook)
    test_file = project / "pipelines" / "tests" / "test_shop.py"
    assert export(project, notebook, check=True).stale == {}
    # out of date: a test cell changed
    nb = nbformat.read(notebook, as_version=4)
    nb.cells[5].source = nb.cells[5].source.replace("== [1]", "== [1, 2]")
    nbformat.write(nb, notebook)
    ((path, diff),) = export(project, notebook, check=True).stale.items()
    assert path == test_file
    assert "-    assert orders(raw_orders=raw).id.tolist() == [1]\n" in diff
    assert "+    assert orders(raw_orders=raw).id.tolist() == [1, 2]\n" in diff
    export(project, notebook)
    # missing
    test_file.unlink()
    ((path, diff),) = export(project, notebook, check=True).stale.items()
    assert path == test_file and "+def test_orders_totals():\n" in diff
    export(project, notebook)
    # left over: the notebook has no test cell now
    nb = nbformat.read(notebook, as_version=4)
    nb.cells = [cell for cell in nb.cells if not cell.source.startswith("%%test")]
    nbformat.write(nb, notebook)
    ((path, diff),) = export(project, notebook, check=True).stale.items()
    assert path == test_file and "+++ /dev/null" in diff and "-def test_orders_totals():" in diff
    assert test_file.exists()  # --check writes and removes nothing
    result = export(project, notebook)
    assert result.removed == [test_file] and not test_file.exists()
    assert (project / "pipelines" / "tests" / "__init__.py").exists()
    assert export(project, notebook, check=True).stale == {}


def test_a_hand_written_test_module_is_never_removed(project: Path) -> None:
    notebook = small(project)
    mine = project / "pipelines" / "tests" / "test_n.py"
    mine.parent.mkdir(parents=True)
    mine.write_text('"""My own tests."""\n')
    result = export(project, notebook)
    assert result.removed == [] and mine.read_text() == '"""My own tests."""\n'
    assert export(project, notebook, check=True).stale == {}


def test_the_cli_names_test_files_written_and_removed(project: Path) -> None:
    notebook = shop(project)
    runner = CliRunner()
    out = runner.invoke(main, ["export", str(notebook)]).stdout
    assert (
        "wrote      pipelines/tests/__init__.py\nwrote      pipelines/tests/test_shop.py\n" in out
    )
    nb = nbformat.read(notebook, as_version=4)
    nb.cells = [cell for cell in nb.cells if not cell.source.startswith("%%test")]
    nbformat.write(nb, notebook)
    check = runner.invoke(main, ["export", "--check", str(notebook)])
    assert check.exit_code == 1 and "+++ /dev/null" in check.stdout
    assert "1 file(s) on disk differ" in check.stderr
    result = runner.invoke(main, ["export", "--json", str(notebook)])
    assert json.loads(result.stdout)["removed"] == ["pipelines/tests/test_shop.py"]


# --- running them ---------------------------------------------------------------------------------


class _Run:
    def __init__(self, outcomes: dict[str, bool], output: str) -> None:
        self.outcomes = outcomes
        self.output = output


def _pytest(project: Path) -> _Run:
    """``python -m pytest -q pipelines/tests`` in a subprocess, from the project's root."""
    report = project.parent / "junit.xml"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "pipelines/tests", "-p", "no:cacheprovider",
         f"--junitxml={report}"],
        capture_output=True, text=True, cwd=project,
        env={**_environ(), "PYTHONDONTWRITEBYTECODE": "1"},
    )  # fmt: skip
    assert run.returncode in (0, 1), run.stdout + run.stderr
    outcomes = {
        case.attrib["name"]: not any(child.tag in ("failure", "error") for child in case)
        for case in ET.parse(report).getroot().iter("testcase")
    }
    return _Run(outcomes, run.stdout)


def _environ() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "NBASSETS_ENV"))}


@pytest.mark.notebooks
def test_exported_tests_pass_and_fail_as_the_notebook_cells_do(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Acceptance 2: the notebook run in a real kernel (nbclient) and its exported tests run by
    pytest in a subprocess give the same pass/fail, before and after an edit of an asset's
    code that makes one test fail."""
    notebook = shop(project)
    export(project, notebook)
    run = _pytest(project)
    kernel = _notebook_outcomes(notebook, monkeypatch)
    assert run.outcomes == kernel.outcomes == EXPECTED
    assert "2 failed, 3 passed" in run.output
    assert "assert [1] == [2]" in run.output  # pytest's own assertion report
    missing = "orders(...) was not given 'raw_orders'"  # the missing input, named in both
    assert missing in run.output and missing in kernel.output
    # an edit of the asset's code: totals are now wrong
    nb = nbformat.read(notebook, as_version=4)
    nb.cells[3].source = nb.cells[3].source.replace(
        "kept.qty * kept.price", "kept.qty + kept.price"
    )
    nbformat.write(nb, notebook)
    assert export(project, notebook, check=True).stale  # the module and the test's code version
    export(project, notebook)
    after = _pytest(project)
    kernel = _notebook_outcomes(notebook, monkeypatch)
    assert after.outcomes == kernel.outcomes == {**EXPECTED, "test_orders_totals": False}
    difference = "total 5.5 ≠ expected 7.5"  # expect_frame_equal's difference, in both
    assert difference in after.output and difference in kernel.output


def _notebook_outcomes(notebook: Path, monkeypatch: pytest.MonkeyPatch) -> _Run:
    """Each %%test cell's outcome in a real kernel, by its exported function's name: passed
    when the cell shows no error (nbclient runs on past errors, as Run All would not)."""
    from nbclient import NotebookClient

    nb = nbformat.read(notebook, as_version=4)
    monkeypatch.setenv("JPY_SESSION_NAME", str(notebook))  # as jupyter_server tells a kernel
    resources = {"metadata": {"path": str(notebook.parent)}}
    client = NotebookClient(
        nb, timeout=300, kernel_name="python3", allow_errors=True, resources=resources
    )
    client.execute()
    outcomes: dict[str, bool] = {}
    shown: list[str] = []
    for cell in nb.cells:
        errors = [o for o in cell.outputs if o.output_type == "error"]
        kind = classify(cell.source)
        if kind.kind != TEST:
            assert not errors, (cell.source, errors)  # the assets build
            continue
        outcomes[define_test(kind.line, kind.body).function_name] = not errors
        shown += [f"{e.ename}: {e.evalue}" for e in errors]
        shown += [str(o.get("data", {}).get("text/plain", "")) for o in cell.outputs]
    return _Run(outcomes, "\n".join(shown))


def test_an_exported_test_of_a_partitioned_asset_gives_the_partition_by_key(
    project: Path,
) -> None:
    cells = {
        "lib": "# nbassets: export\nimport pandas as pd",
        "events": (
            "%%asset events --partition daily:2024-01-01\n"
            "raw_events[raw_events.day == partition.start.date().isoformat()]"
        ),
        "t_day": (
            "%%test events --name one_day\n"
            'raw = pd.DataFrame({"day": ["2024-01-02", "2024-01-03"], "n": [1, 2]})\n'
            'assert events(raw_events=raw, partition="2024-01-03").n.tolist() == [2]'
        ),
        "t_missing": (
            "%%test events --name no_partition\n"
            'events(raw_events=pd.DataFrame({"day": [], "n": []}))'
        ),
    }
    export(project, write_notebook(project / "notebooks" / "days.ipynb", cells))
    text = (project / "pipelines" / "days.py").read_text()
    assert "def events(raw_events, partition):" in text

    run = _pytest(project)

    assert run.outcomes == {"test_events_one_day": True, "test_events_no_partition": False}
    assert (
        "events(...) builds one partition of daily:2024-01-01: say which, "
        "events(raw_events=..., partition='2024-01-01')."
    ) in run.output
