"""Partitioned assets in a kernel (DESIGN §3): the cell sees ``partition``, one partition per run."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from helpers import TestingShell, catalog_rows, shown
from IPython.core.error import UsageError

from nbassets.partitions import combined_version
from nbassets.store.sqlite_catalog import SqliteCatalog
from nbassets.store.stores import Store, now
from nbassets.store.workspace import ResolvedInput

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
    assert shell.user_ns["monthly_sales"].to_dict("records") == [{"month": "2024-01", "amount": 31}]
    shell.run_cell("%%asset total\nint(daily_sales['amount'].sum())", silent=True).raise_error()
    assert shell.user_ns["total"] == 31
    record = SqliteCatalog(SANDBOX / "catalog.sqlite", writable=False).latest_of("total")
    assert record is not None and record.inputs["daily_sales"]["partitions"] == "31"


# --- what a notebook user sees of partitions ----------------------------------------------------

DAY = (
    "%%asset daily_sales --partition daily:2024-01-01 --partition-key {key}\n"
    "import pandas as pd\n"
    "pd.DataFrame({{'day': [str(partition)], 'amount': [{amount}]}})"
)


def _write_prod_partition(project: Path, key: str, partition: str, value: object) -> str:
    """Store ``value`` as production's ``partition`` of ``key``; its data version."""
    store = Store("prod", project / "warehouse", writable=True)
    try:
        record = store.write(
            key, value, "parquet", code_version="seeded", started_at=now(), partition=partition
        )
    finally:
        store.close()
    return record.data_version


def test_the_preview_names_the_partition_built_and_the_partitions_read(
    shell: TestingShell,
) -> None:
    for day in ("2024-01-01", "2024-01-02", "2024-01-03"):
        out = shell.capture(DAY.format(key=day, amount=1))
        record = SqliteCatalog(SANDBOX / "catalog.sqlite", writable=False).latest_of("daily_sales")
        assert record is not None and record.partition == day
        assert f"daily_sales[{day}] → dev-tester-nogit @ {record.data_version[:7]} · " in shown(out)
    out = shell.capture("%%asset total\nint(daily_sales['amount'].sum())")
    records = SqliteCatalog(SANDBOX / "catalog.sqlite", writable=False).partition_records(
        "daily_sales"
    )
    combined = combined_version({day: r.data_version for day, r in records.items()})
    text = shown(out)
    assert "\ntotal → dev-tester-nogit @ " in text  # no partition
    version = combined.version[:7]
    assert f"daily_sales[2024-01-01..2024-01-03] ← sandbox dev-tester-nogit @ {version}" in text
    total = SqliteCatalog(SANDBOX / "catalog.sqlite", writable=False).latest_of("total")
    assert total is not None
    assert total.inputs["daily_sales"]["data_version"] == combined.version  # as recorded
    store = Store("prod", SANDBOX, writable=False)  # the label ``why`` and the plugin print
    try:
        read = replace(records["2024-01-03"], partition="2024-01-01..2024-01-03",
                       data_version=combined.version)  # fmt: skip
        label = ResolvedInput("daily_sales", read, "prod", store).label
        one = ResolvedInput("total", total, "prod", store).label
    finally:
        store.close()
    assert label == f"daily_sales[2024-01-01..2024-01-03] <- prod @ {combined.version[:7]}"
    assert one == f"total <- prod @ {total.data_version[:7]}"


def test_vs_prod_compares_the_same_partition_of_production(
    shell: TestingShell, project: Path
) -> None:
    same = pd.DataFrame({"day": ["2024-01-09"], "amount": [5]})
    _write_prod_partition(project, "daily_sales", "2024-01-09", same)
    other = pd.DataFrame({"day": ["2024-01-08"], "amount": [7]})
    _write_prod_partition(project, "daily_sales", "2024-01-08", other)  # production's newest
    out = shell.capture(DAY.format(key="2024-01-09", amount=5))
    assert "vs prod   identical (1 rows)" in shown(out)
    out = shell.capture(DAY.format(key="2024-01-08", amount=8))  # 7 in production
    text = shown(out)
    # against production's 2024-01-08 only the amount differs (its 2024-01-09 differs in both)
    assert "vs prod   1 rows; 1 column with changed summaries" in text


def test_an_unpartitioned_cell_that_reads_partition_is_refused_before_it_runs(
    shell: TestingShell,
) -> None:
    shell.run_cell("partition = 'eu'")  # a notebook variable does not make it a partition
    with pytest.raises(UsageError, match=r"reads 'partition', but it has no partitions.*"
                       r"Add --partition to its line \(e.g. `%%asset report --partition daily:"):  # fmt: skip
        shell.run_cell(
            "%%asset report\nopen('ran.txt', 'w').close()\nstr(partition)", silent=True
        ).raise_error()
    assert not Path("ran.txt").exists()  # refused before any line ran
    assert "report" not in shell.user_ns
    assert not (SANDBOX / "data" / "report").exists()


def test_a_partitioned_cell_that_assigns_partition_is_refused(shell: TestingShell) -> None:
    with pytest.raises(UsageError, match="assigns 'partition', which would hide the partition"):
        shell.run_cell(
            "%%asset events --partition daily:2024-01-01\npartition = 'x'\npartition",
            silent=True,
        ).raise_error()
    assert not (SANDBOX / "data" / "events").exists()
    shell.run_cell(  # a name of its own is fine
        "%%asset events --partition daily:2024-01-01\nday = str(partition)\nday", silent=True
    ).raise_error()
    assert shell.user_ns["events"] == "2024-01-09"


def test_checks_run_on_the_partition_the_kernel_built_last_and_name_it(
    shell: TestingShell,
) -> None:
    shell.run_cell(DAY.format(key="2024-01-09", amount=1), silent=True).raise_error()
    shell.run_cell(DAY.format(key="2024-01-03", amount=3), silent=True).raise_error()
    records = SqliteCatalog(SANDBOX / "catalog.sqlite", writable=False).partition_records(
        "daily_sales"
    )
    built = records["2024-01-03"]
    out = shell.capture(
        "%%check daily_sales --name positive\nassert (daily_sales['amount'] > 0).all()\n"
        "daily_sales['amount'].iloc[0] == 3"
    )
    assert "PASS  daily_sales[2024-01-03]: positive" in shown(out)
    out = shell.capture("%check daily_sales")
    assert "PASS  daily_sales[2024-01-03]: positive" in shown(out)
    checked = catalog_rows(SANDBOX, "check_results")
    assert [row[2] for row in checked] == [built.data_version, built.data_version]
    assert built.data_version != records["2024-01-09"].data_version


def test_the_sql_of_docs_storage_reads_partitions_and_recomputes_combined_versions(
    shell: TestingShell,
) -> None:
    """docs/storage.md's queries on a real sandbox, and its recipe for a combined version."""
    import sqlite3

    import xxhash

    for day, amount in (("2024-01-02", 2), ("2024-01-01", 1)):
        shell.run_cell(DAY.format(key=day, amount=amount), silent=True).raise_error()
    shell.run_cell("%%asset total\nint(daily_sales['amount'].sum())", silent=True).raise_error()
    conn = sqlite3.connect(SANDBOX / "catalog.sqlite")
    try:
        heads = conn.execute(
            "SELECT m.partition, m.data_version FROM heads h JOIN materializations m "
            "ON m.id = h.id WHERE h.key = 'daily_sales' ORDER BY m.partition"
        ).fetchall()
        reads = conn.execute(
            "SELECT m.key, m.partition, j.key AS upstream, json_extract(j.value, '$.partitions'), "
            "json_extract(j.value, '$.data_version') FROM materializations m, "
            "json_each(m.inputs) j WHERE json_extract(j.value, '$.partitions') IS NOT NULL"
        ).fetchall()
    finally:
        conn.close()
    assert [day for day, _ in heads] == ["2024-01-01", "2024-01-02"]
    text = "".join(f"{day}\t{version}\n" for day, version in sorted(heads))
    assert reads == [("total", "", "daily_sales", "2", xxhash.xxh3_128(text.encode()).hexdigest())]
    folders = sorted(p.name for p in (SANDBOX / "data" / "daily_sales").iterdir() if p.is_dir())
    assert folders == ["2024-01-01", "2024-01-02"]  # data/<key>/<partition>/


def test_diff_compares_the_same_partition_of_production(shell: TestingShell, project: Path) -> None:
    same = pd.DataFrame({"day": ["2024-01-09"], "amount": [5]})
    _write_prod_partition(project, "daily_sales", "2024-01-09", same)
    other = pd.DataFrame({"day": ["2024-01-08"], "amount": [7]})
    _write_prod_partition(project, "daily_sales", "2024-01-08", other)  # production's newest
    shell.run_cell(DAY.format(key="2024-01-09", amount=5), silent=True).raise_error()
    text = shown(shell.capture("%diff daily_sales"))
    assert "vs prod 2024-01-09: identical (1 rows)" in text
    shell.run_cell(DAY.format(key="2024-01-05", amount=5), silent=True).raise_error()
    text = shown(shell.capture("%diff daily_sales"))
    assert "new in prod 2024-01-05: kernel dev-tester-nogit 2024-01-05 has 1 row, 2 columns" in text
    assert "prod 2024-01-05 has no version yet" in text


def test_a_fresh_kernel_checks_the_partition_built_last_in_its_sandbox(
    shell: TestingShell,
) -> None:
    shell.run_cell(DAY.format(key="2024-01-09", amount=9), silent=True).raise_error()
    shell.run_cell(DAY.format(key="2024-01-04", amount=4), silent=True).raise_error()
    shell.run_cell("%unload_ext nbassets")
    shell.run_cell("%load_ext nbassets")  # a new session: nothing built in this kernel
    out = shell.capture(
        "%%check daily_sales --name four\nassert daily_sales['amount'].tolist() == [4]"
    )
    assert "PASS  daily_sales[2024-01-04]: four" in shown(out)
    records = SqliteCatalog(SANDBOX / "catalog.sqlite", writable=False).partition_records(
        "daily_sales"
    )
    assert [row[2] for row in catalog_rows(SANDBOX, "check_results")] == [
        records["2024-01-04"].data_version
    ]


def test_an_unpartitioned_sql_cell_that_reads_the_partition_variable_is_refused(
    shell: TestingShell,
) -> None:
    with pytest.raises(UsageError, match=r"reads getvariable\('partition_start'\), but it has no"):
        shell.run_cell(
            "%%asset report --sql\nSELECT getvariable('partition_start') AS since", silent=True
        ).raise_error()
    assert not (SANDBOX / "data" / "report").exists()
    shell.run_cell(
        "%%asset report --sql --partition daily:2024-01-01\n"
        "SELECT getvariable('partition') AS day, getvariable('partition_start') AS since",
        silent=True,
    ).raise_error()
    row = shell.user_ns["report"].iloc[0]
    assert row["day"] == "2024-01-09" and str(row["since"]) == "2024-01-09 00:00:00"
