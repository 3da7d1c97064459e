"""Partitioned assets in a kernel (DESIGN §3): the cell sees ``partition``, one partition per run."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import TestingShell, catalog_rows
from IPython.core.error import UsageError

from nbassets.store.sqlite_catalog import SqliteCatalog

SANDBOX = Path(".nbassets/dev-tester-nogit")


@pytest.fixture(autouse=True)
def pinned_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NBASSETS_NOW", "2024-01-10T06:00:00")


def test_a_daily_cell_builds_the_latest_complete_day_and_sees_its_partition(
    shell: TestingShell,
) -> None:
    shell.run_cell(
        "%%asset events --partition daily:2024-01-01\n"
        "import pandas as pd\n"
        "pd.DataFrame({'day': [str(partition)], 'start': [partition.start.isoformat()]})",
        silent=True,
    ).raise_error()
    frame = shell.user_ns["events"]
    assert frame.to_dict("records") == [{"day": "2024-01-09", "start": "2024-01-09T00:00:00+00:00"}]
    records = SqliteCatalog(SANDBOX / "catalog.sqlite", writable=False).partition_records("events")
    assert list(records) == ["2024-01-09"]
    record = records["2024-01-09"]
    assert record.path == f"data/events/2024-01-09/{record.data_version}.parquet"
    assert (SANDBOX / record.path).is_file()
    assert "partition" not in shell.user_ns  # the value is the cell's, not the notebook's


def test_partition_key_picks_the_partition_and_an_incomplete_one_is_refused(
    shell: TestingShell,
) -> None:
    cell = "%%asset events --partition daily:2024-01-01 --partition-key {key}\nstr(partition)"
    shell.run_cell(cell.format(key="2024-01-03"), silent=True).raise_error()
    assert shell.user_ns["events"] == "2024-01-03"
    with pytest.raises(UsageError, match="2024-01-10 of daily:2024-01-01 is not complete"):
        shell.run_cell(cell.format(key="2024-01-10"), silent=True).raise_error()
    rows = catalog_rows(SANDBOX, "materializations")
    assert len(rows) == 1


def test_a_monthly_asset_reads_its_days_and_an_unpartitioned_one_reads_all(
    shell: TestingShell, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NBASSETS_NOW", "2024-02-02T00:00:00")
    day = (
        "%%asset daily_sales --partition daily:2024-01-01 --partition-key {key}\n"
        "import pandas as pd\n"
        "pd.DataFrame({{'day': [str(partition)], 'amount': [1]}})"
    )
    for number in range(1, 32):
        shell.run_cell(day.format(key=f"2024-01-{number:02d}"), silent=True).raise_error()
    shell.run_cell(
        "%%asset monthly_sales --partition monthly:2024-01\n"
        "daily_sales.assign(month=str(partition)).groupby('month', as_index=False)['amount'].sum()",
        silent=True,
    ).raise_error()
    assert shell.user_ns["monthly_sales"].to_dict("records") == [
        {"month": "2024-01", "amount": 31}
    ]
    shell.run_cell("%%asset total\nint(daily_sales['amount'].sum())", silent=True).raise_error()
    assert shell.user_ns["total"] == 31
    record = SqliteCatalog(SANDBOX / "catalog.sqlite", writable=False).latest_of("total")
    assert record is not None and record.inputs["daily_sales"]["partitions"] == "31"
