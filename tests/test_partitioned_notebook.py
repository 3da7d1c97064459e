"""Partitioned assets as a notebook user sees them, through a real kernel (nbclient, DESIGN §3).

The preview names the partition built and the partitions read (their range and combined
version), ``vs prod`` compares production's same partition, checks name the partition they
ran on, and a cell that reads ``partition`` without ``--partition`` is refused before it runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat
import pandas as pd
import pytest
from click.testing import CliRunner
from helpers import execute
from nbformat.v4 import new_code_cell, new_notebook

from nbassets.cli import main
from nbassets.partitions import combined_version
from nbassets.store.sqlite_catalog import SqliteCatalog
from nbassets.store.stores import Store, now

SANDBOX = Path(".nbassets/dev-tester-nogit")
DAY = (
    "%%asset daily_sales --partition daily:2024-01-01{key}\n"
    "import pandas as pd\n"
    "pd.DataFrame({{'day': [str(partition)], 'amount': [partition.start.day]}})"
)
CELLS = {
    "load": "%load_ext nbassets",
    "day1": DAY.format(key=" --partition-key 2024-01-01"),
    "day2": DAY.format(key=" --partition-key 2024-01-02"),
    "latest": DAY.format(key=""),  # the latest complete day: 2024-01-03
    "total": "%%asset total\nint(daily_sales['amount'].sum())",
    "check": "%%check daily_sales --name positive\nassert (daily_sales['amount'] > 0).all()",
    "recheck": "%check daily_sales",
    "misuse": "%%asset report\nopen('ran.txt', 'w').close()\nstr(partition)",
}


def text_of(cell: Any) -> str:
    parts = []
    for output in cell.outputs:
        if output.output_type == "stream":
            parts.append(output.text)
        elif output.output_type == "error":
            parts.append(f"{output.ename}: {output.evalue}")
        elif "data" in output:
            parts.append(output["data"].get("text/plain", ""))
    return "\n".join(parts)


def test_a_notebook_builds_checks_and_reads_partitions(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NBASSETS_NOW", "2024-01-04T06:00:00")  # the kernel inherits it
    prod = Store("prod", project / "warehouse", writable=True)
    try:  # production's 2024-01-02, as the notebook builds it
        day2 = pd.DataFrame({"day": ["2024-01-02"], "amount": [2]})
        prod.write("daily_sales", day2, "parquet", code_version="seeded", started_at=now(),
                   partition="2024-01-02")  # fmt: skip
    finally:
        prod.close()
    cells = [new_code_cell(source, id=cell_id) for cell_id, source in CELLS.items()]
    cells[-1].metadata["tags"] = ["raises-exception"]  # the refusal is expected
    notebook = project / "partitions.ipynb"
    nbformat.write(new_notebook(cells=cells), notebook)

    nb = execute(notebook, monkeypatch)
    out = {cell.id: text_of(cell) for cell in nb.cells}

    catalog = SqliteCatalog(SANDBOX / "catalog.sqlite", writable=False)
    records = catalog.partition_records("daily_sales")
    assert sorted(records) == ["2024-01-01", "2024-01-02", "2024-01-03"]
    for cell_id, day in (("day1", "2024-01-01"), ("day2", "2024-01-02"), ("latest", "2024-01-03")):
        headline = f"daily_sales[{day}] → dev-tester-nogit @ {records[day].data_version[:7]} · "
        assert headline in out[cell_id]
    assert "vs prod   identical (1 rows)" in out["day2"]  # production's same partition
    assert "vs prod" not in out["day1"]  # production has no 2024-01-01

    combined = combined_version({day: r.data_version for day, r in records.items()}).version
    read = f"daily_sales[2024-01-01..2024-01-03] ← sandbox dev-tester-nogit @ {combined[:7]}"
    assert read in out["total"]
    assert out["total"].rstrip().endswith("6")  # 1 + 2 + 3

    assert "PASS  daily_sales[2024-01-03]: positive" in out["check"]  # the latest build
    assert "PASS  daily_sales[2024-01-03]: positive" in out["recheck"]
    latest = records["2024-01-03"].data_version
    assert [r.name for r in catalog.check_results("daily_sales", latest)] == ["positive"]

    misuse = out["misuse"]
    assert "UsageError: asset cell 'report' reads 'partition', but it has no partitions" in misuse
    assert "Add --partition to its line" in misuse
    assert not (project / "ran.txt").exists()
    assert catalog.latest_of("report") is None

    # `nbassets why` explains the latest build, the partition the notebook built last
    why = CliRunner().invoke(main, ["why", "daily_sales", "--json"], catch_exceptions=False)
    assert why.exit_code == 0, why.output
    explained = json.loads(why.stdout)
    assert explained["partition"] == "2024-01-03"
    assert explained["data_version"] == latest
