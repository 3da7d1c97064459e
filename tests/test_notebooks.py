"""The example notebooks, executed top to bottom by nbclient in a real kernel."""

from __future__ import annotations

import shutil
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import nbformat
import pytest
from helpers import execute, seed_production, tree_digest, write_notebook
from nbclient.exceptions import CellExecutionError

from nbassets.store.sqlite_catalog import SqliteCatalog

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.notebooks


def text_of(cell: nbformat.NotebookNode) -> str:
    parts = []
    for output in cell.outputs:
        parts.append(output.get("text", ""))
        parts.append(output.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


def test_quickstart_runs_from_a_fresh_copy(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copy(ROOT / "pyproject.toml", project / "pyproject.toml")
    notebook = project / "notebooks" / "quickstart.ipynb"
    notebook.parent.mkdir()
    shutil.copy(ROOT / "notebooks" / "quickstart.ipynb", notebook)
    seed_production(project)
    prod_before = tree_digest(project / "warehouse")

    nb = execute(notebook, monkeypatch)
    cells = {cell.source.splitlines()[0]: cell for cell in nb.cells if cell.cell_type == "code"}

    # statuses
    table = text_of(cells["%assets"])
    keys = [
        "orders",
        "customer_revenue",
        "region_revenue",
        "daily_revenue",
        "raw_customers",
        "raw_orders",
    ]
    lines = table.strip().splitlines()[1:]
    assert [line.split()[0] for line in lines] == keys
    assert all(line.split()[1] == "fresh" for line in lines)
    assert "nothing to materialize" in text_of(nb.cells[-1])

    # inputs from production, checks that pass and one that warns
    orders = text_of(next(c for k, c in cells.items() if k.startswith("%%asset orders")))
    assert "raw_orders ← prod @" in orders
    assert "✓ pass   unique('order_id')" in orders
    assert "! warn   between('amount', 0, 250)" in orders
    assert "PASS  customer_revenue: one_row_per_customer" in text_of(
        cells["%%check customer_revenue --name one_row_per_customer"]
    )

    # the unit test of orders passes, and is recorded (issue 12, acceptance 6)
    test_cell = cells["%%test orders --name keeps_paid_orders"]
    assert text_of(test_cell).strip().startswith("✓ test keeps_paid_orders of orders passed in")
    assert not [o for o in test_cell.outputs if o.output_type == "error"]

    # the diff against production: the deployed orders kept refunds
    diff = text_of(cells["%diff orders"])
    assert "removed" in diff and "prod" in diff

    # the lineage picture names every asset
    svg = next(o["data"]["image/svg+xml"] for o in cells["%lineage"].outputs if "data" in o)
    root = ET.fromstring(svg)
    texts = {el.text for el in root.iter() if el.tag.endswith("text")}
    assert set(keys) <= texts

    # provenance: each record names its cell; production is untouched
    sandbox = project / ".nbassets" / "dev-tester-nogit"
    records = SqliteCatalog(sandbox / "catalog.sqlite", writable=False).latest()
    ids = {c.source.split()[1]: c.id for c in nb.cells if c.source.startswith("%%asset")}
    assert set(records) == set(ids)
    for key, record in records.items():
        assert record.source == f"notebooks/quickstart.ipynb#{ids[key]}"
    assert records["orders"].inputs["raw_orders"]["env"] == "prod"
    tests = SqliteCatalog(sandbox / "catalog.sqlite", writable=False).test_results()
    assert [(t.key, t.name, t.outcome, t.code_version, t.source) for t in tests] == [
        ("orders", "keeps_paid_orders", "passed", records["orders"].code_version,
         "notebooks/quickstart.ipynb :: orders :: keeps_paid_orders")
    ]  # fmt: skip
    assert records["region_revenue"].rows == 4
    assert tree_digest(project / "warehouse") == prod_before


def test_a_notebook_cannot_save_to_production(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notebook = write_notebook(
        project / "n.ipynb", {"c1": "import nbassets\nnbassets.save('x', [1], env='prod')"}
    )
    with pytest.raises(
        CellExecutionError, match="nothing run from a notebook or IPython writes production"
    ):
        execute(notebook, monkeypatch)
    assert not (project / "warehouse").exists()


def test_flights_runs_before_its_first_deploy(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 11 acceptance 5: a real multi-asset pipeline, production still empty.

    Before the fix `%diff` of an asset production lacked raised, and Run All stopped there.
    """
    notebook = project / "notebooks" / "flights.ipynb"
    notebook.parent.mkdir()
    shutil.copy(ROOT / "notebooks" / "flights.ipynb", notebook)
    monkeypatch.setenv("NBASSETS_NOW", "2013-02-01T00:00:00")  # January's days are complete

    start = time.perf_counter()
    nb = execute(notebook, monkeypatch)  # raises CellExecutionError on any failing cell
    seconds = time.perf_counter() - start
    cells = {cell.id: cell for cell in nb.cells if cell.cell_type == "code"}
    errors = [o for c in cells.values() for o in c.outputs if o.output_type == "error"]
    assert not errors, errors

    keys = ["jan_flights", "airlines", "carrier_delays", "route_delays", "daily_delays"]
    lines = text_of(cells["fl-13"]).strip().splitlines()[1:]
    assert sorted(line.split()[0] for line in lines) == sorted([*keys, "day_routes"])
    assert all(line.split()[1] == "fresh" for line in lines if "day_routes" not in line), lines
    assert "day_routes" in text_of(cells["fl-15"]) and "[2013-01-15]" in text_of(cells["fl-15"])
    plan = text_of(cells["fl-17"])  # `nbassets plan --env prod` run from the notebook
    assert "day_routes" in plan and "2013-01-01..2013-01-31: missing" in plan, plan
    assert "! warn   between('dep_delay', -60, 600)" in text_of(cells["fl-03"])
    assert "✓ pass   relationship('carrier', 'airlines', 'carrier')" in text_of(cells["fl-06"])
    assert "PASS  carrier_delays: flights_add_up" in text_of(cells["fl-07"])

    diff = text_of(cells["fl-11"])  # the case that broke %diff
    assert "new in prod: kernel dev-tester-nogit has 16 rows, 5 columns" in diff
    assert "prod has no version yet" in diff and "mean_dep_delay" in diff

    svg = next(o["data"]["image/svg+xml"] for o in cells["fl-12"].outputs if "data" in o)
    texts = {el.text for el in ET.fromstring(svg).iter() if el.tag.endswith("text")}
    assert set(keys) <= texts

    sandbox = project / ".nbassets" / "dev-tester-nogit"
    records = SqliteCatalog(sandbox / "catalog.sqlite", writable=False).latest()
    assert set(records) == {*keys, "day_routes"}
    assert records["day_routes"].partition == "2013-01-15" and records["day_routes"].rows > 50
    assert records["jan_flights"].rows == 27_004 and records["airlines"].rows == 16
    assert records["route_delays"].inputs["jan_flights"]["env"] == "dev-tester-nogit"
    assert not (project / "warehouse").exists()  # production stays empty
    assert seconds < 20, f"the flights notebook took {seconds:.1f} s"
