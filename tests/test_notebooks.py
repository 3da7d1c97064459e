"""The example notebooks, executed top to bottom by nbclient in a real kernel."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from nbassets.catalog import Catalog

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.notebooks


def execute(notebook: Path, monkeypatch: pytest.MonkeyPatch) -> nbformat.NotebookNode:
    nb = nbformat.read(notebook, as_version=4)
    monkeypatch.setenv("JPY_SESSION_NAME", str(notebook))  # as jupyter_server tells a kernel
    NotebookClient(
        nb,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(notebook.parent)}},
    ).execute()
    return nb


def test_quickstart_runs_from_a_fresh_copy(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copy(ROOT / "pyproject.toml", project / "pyproject.toml")
    (project / "notebooks").mkdir()
    notebook = project / "notebooks" / "quickstart.ipynb"
    shutil.copy(ROOT / "notebooks" / "quickstart.ipynb", notebook)

    nb = execute(notebook, monkeypatch)

    assets_cell = next(c for c in nb.cells if c.source.strip() == "%assets")
    table = assets_cell.outputs[0]["data"]["text/plain"]
    keys = [
        "raw_customers",
        "raw_orders",
        "orders",
        "customer_revenue",
        "region_revenue",
        "daily_revenue",
    ]
    lines = table.splitlines()[1:]
    assert [line.split()[0] for line in lines] == keys
    assert all(line.split()[1] == "fresh" for line in lines)
    stale_cell = nb.cells[-1]
    assert "nothing to materialize" in stale_cell.outputs[0]["text"]

    sandbox = project / ".nbassets" / "dev-tester-nogit"
    records = Catalog(sandbox / "catalog.sqlite", writable=False).latest()
    assert set(records) == set(keys)
    source_ids = {c.source.split()[1]: c.id for c in nb.cells if c.source.startswith("%%asset")}
    for key, record in records.items():
        assert record.source == f"notebooks/quickstart.ipynb#{source_ids[key]}"
    assert records["customer_revenue"].inputs.keys() == {"orders", "raw_customers"}
    assert records["region_revenue"].rows == 4
    assert not (project / "warehouse").exists()
