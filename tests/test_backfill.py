"""Backfills (issue 13, acceptance 1): partitions selected by range, built in production through
the CLI, resumed after an interrupt without building any partition twice. Real git repository,
real CLI in a subprocess, a real SIGINT."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import git

from nbassets.cli import main
from nbassets.store.sqlite_catalog import SqliteCatalog

NOW = "2024-06-01T00:00:00"

MODULE = textwrap.dedent(
    """
    import time

    import pandas as pd

    from nbassets.runtime import ExportedAsset


    def events(partition):
        {pause}return pd.DataFrame({{"day": [str(partition)], "n": [{n}]}})


    def monthly(events, partition):
        return pd.DataFrame({{"month": [str(partition)], "n": [int(events["n"].sum())],
                              "days": [len(events)]}})


    def total(events):
        return pd.DataFrame({{"n": [int(events["n"].sum())], "days": [len(events)]}})


    ASSETS = (
        ExportedAsset("events", events, code_version="{version}", partitions="daily:2024-01-01"),
        ExportedAsset("monthly", monthly, deps=("events",), code_version="m1",
                      partitions="monthly:2024-01"),
        ExportedAsset("total", total, deps=("events",), code_version="t1"),
    )
    """
)


def write_module(project: Path, n: int, version: str, pause: float = 0.0) -> None:
    folder = project / "pipelines"
    folder.mkdir(exist_ok=True)
    (folder / "__init__.py").write_text("")
    text = MODULE.format(n=n, version=version, pause=f"time.sleep({pause})\n    " if pause else "")
    (folder / "shop.py").write_text(text)


def cli(project: Path, *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(main, ["--project", str(project), *args])
    assert result.exit_code == code, result.output
    return result.output


def prod(project: Path) -> SqliteCatalog:
    return SqliteCatalog(project / "warehouse" / "catalog.sqlite", writable=False)


def records(project: Path, key: str) -> list[tuple[str, str]]:
    """(partition, code version) of every materialization of ``key`` in production."""
    return [(m.partition, m.code_version) for m in prod(project).history(key, limit=100_000)]


@pytest.fixture
def repo(project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NBASSETS_NOW", NOW)
    monkeypatch.delenv("NBASSETS_ENV", raising=False)
    (project / ".gitignore").write_text(".nbassets/\nwarehouse/\n__pycache__/\n")
    write_module(project, n=1, version="e1")
    git(project, "init", "-q", "-b", "main")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "v1")
    return project


def test_a_range_builds_each_partition_once_and_a_rerun_builds_nothing(repo: Path) -> None:
    out = cli(repo, "materialize", "--env", "prod", "--select", "events[2024-01-01..2024-01-05]",
              "--no-progress", "--json")  # fmt: skip
    report = json.loads(out)
    assert report["built"] == [f"events[2024-01-0{d}]" for d in range(1, 6)]
    again = json.loads(cli(repo, "materialize", "--env", "prod", "--select",
                           "events[2024-01-01..2024-01-05]", "--no-progress", "--json"))  # fmt: skip
    assert again["built"] == [] and len(again["fresh"]) == 5
    assert sorted(records(repo, "events")) == [(f"2024-01-0{d}", "e1") for d in range(1, 6)]
    record = prod(repo).partition_records("events")["2024-01-03"]
    assert record.path.startswith("data/events/2024-01-03/")


def test_mappings_and_blocking_across_partitioned_assets(repo: Path) -> None:
    """A month reads its days, an unpartitioned asset every built day; a missing day fails its
    month only, and the rest still builds."""
    cli(repo, "materialize", "--env", "prod", "--select", "events[2024-01-01..2024-01-31]",
        "--select", "events[2024-02-01..2024-02-10]", "--no-progress")  # fmt: skip
    out = cli(repo, "materialize", "--env", "prod", "--select", "monthly[2024-01..2024-02]",
              "--select", "total", "--no-progress", "--json", code=1)  # fmt: skip
    report = json.loads(out)
    assert report["built"] == ["monthly[2024-01]", "total"]
    assert "2024-02-11..2024-02-29" in report["failed"]["monthly[2024-02]"]
    catalog = prod(repo)
    month = catalog.partition_records("monthly")["2024-01"]
    assert month.inputs["events"]["partitions"] == "31"
    total = catalog.latest_of("total")
    assert total is not None and total.inputs["events"]["partitions"] == "41"
    why = cli(repo, "why", "total", "--env", "prod")
    assert "(41 partitions, combined version)" in why and "changed since" not in why
    why = cli(repo, "why", "monthly[2024-01]", "--env", "prod")
    assert why.startswith("monthly[2024-01] @") and "(31 partitions, combined version)" in why
    assert "changed since" not in why
    cli(repo, "materialize", "--env", "prod", "--select", "events[2024-02-11]", "--no-progress")
    answer = json.loads(cli(repo, "why", "total", "--env", "prod", "--json"))
    read = answer["inputs"]["events"]
    assert read["partitions"] == "41" and read["now"] != read["data_version"]  # 42 days now
    month = json.loads(cli(repo, "why", "monthly[2024-01]", "--env", "prod", "--json"))
    assert month["partition"] == "2024-01"
    assert month["inputs"]["events"]["now"] == month["inputs"]["events"]["data_version"]
    cli(repo, "why", "monthly[2024-03]", "--env", "prod", code=1)  # never built: says so


def test_a_failed_day_skips_only_the_month_that_reads_it(repo: Path) -> None:
    module = repo / "pipelines" / "shop.py"
    module.write_text(
        module.read_text().replace(
            "def events(partition):\n",
            "def events(partition):\n"
            "    if str(partition) in ('2024-02-03', '2024-02-04'):\n"
            "        raise ValueError('no data that day')\n",
        )
    )
    out = cli(repo, "materialize", "--env", "ci-1", "--select", "events[2024-01-30..2024-02-04]",
              "--select", "monthly[2024-01..2024-02]", "--no-progress", "--json", code=1)  # fmt: skip
    report = json.loads(out)
    assert report["skipped"] == ["monthly[2024-02]"]  # it reads the failed days
    assert set(report["failed"]) == {"events[2024-02-03]", "events[2024-02-04]",
                                     "monthly[2024-01]"}  # fmt: skip
    assert "2024-01-01..2024-01-29" in report["failed"]["monthly[2024-01]"]  # days not built
    status = cli(repo, "status", "--env", "ci-1")
    assert "failed: 2 of 152 partitions, last build raised" in status, status  # both days


def test_parallel_workers_give_the_same_versions(repo: Path) -> None:
    selection = "events[2024-01-01..2024-01-08]"
    cli(repo, "materialize", "--env", "ci-1", "--select", selection, "--no-progress")
    cli(repo, "materialize", "--env", "ci-2", "--select", selection, "-j", "2", "--no-progress")
    ci1 = SqliteCatalog(repo / ".nbassets" / "ci-1" / "catalog.sqlite", writable=False)
    ci2 = SqliteCatalog(repo / ".nbassets" / "ci-2" / "catalog.sqlite", writable=False)
    one = {p: m.data_version for p, m in ci1.partition_records("events").items()}
    two = {p: m.data_version for p, m in ci2.partition_records("events").items()}
    assert len(one) == 8 and one == two


def test_an_interrupted_90_day_backfill_resumes_and_builds_each_partition_once(repo: Path) -> None:
    days = "2024-01-01..2024-03-30"
    cli(repo, "materialize", "--env", "prod", "--select", f"events[{days}]", "--no-progress")
    assert len(records(repo, "events")) == 90
    write_module(repo, n=2, version="e2", pause=0.05)  # the code changes, and is committed
    git(repo, "commit", "-qam", "v2")
    head = git(repo, "rev-parse", "--short=7", "HEAD").strip()
    plan = cli(repo, "plan", "--env", "prod")  # built 90 of 152 days: the rest never were
    assert f"{days}: code changed at {head}" in plan and "2024-03-31..2024-05-31: missing" in plan
    env = {**os.environ, "NBASSETS_NOW": NOW, "PYTHONUNBUFFERED": "1"}
    command = [str(Path(sys.executable).parent / "nbassets"), "--project", str(repo), "materialize",
               "--env", "prod", "--select", f"events[{days}]", "--no-progress"]  # fmt: skip
    process = subprocess.Popen(command, env=env, cwd=repo)
    try:
        deadline = time.monotonic() + 120
        while sum(v == "e2" for _, v in records(repo, "events")) < 30:
            assert process.poll() is None, "the backfill ended before it was interrupted"
            assert time.monotonic() < deadline, "the backfill made no progress"
            time.sleep(0.02)
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
    finally:
        process.kill()
    assert process.returncode != 0
    first = Counter(p for p, v in records(repo, "events") if v == "e2")
    assert 30 <= len(first) < 90 and set(first.values()) == {1}
    out = cli(repo, "materialize", "--env", "prod", "--select", f"events[{days}]",
              "--no-progress", "--json")  # fmt: skip
    resumed = json.loads(out)
    assert len(resumed["built"]) == 90 - len(first) and len(resumed["fresh"]) == len(first)
    assert not {label[7:17] for label in resumed["built"]} & set(first)
    final = Counter(p for p, v in records(repo, "events") if v == "e2")
    assert len(final) == 90 and set(final.values()) == {1}  # one record each at the new code
    after = cli(repo, "plan", "--env", "prod")
    assert "code changed" not in after and "2024-03-31..2024-05-31: missing" in after


def test_select_plan_builds_what_the_plan_lists_and_dry_run_names_the_ranges(repo: Path) -> None:
    cli(repo, "materialize", "--env", "prod", "--select", "events[2024-01-01..2024-01-31]",
        "--select", "monthly[2024-01]", "--no-progress")  # fmt: skip
    write_module(repo, n=3, version="e2")
    git(repo, "commit", "-qam", "v2")
    dry = json.loads(cli(repo, "materialize", "--env", "prod", "--select", "events[2024-01-01..2024-01-31]",
                         "--dry-run", "--json"))  # fmt: skip
    assert [row["key"] for row in dry["would_build"]] == ["events[2024-01-01..2024-01-31]"]
    report = json.loads(cli(repo, "materialize", "--env", "prod", "--select", "plan",
                            "--no-progress", "--json"))  # fmt: skip
    events = [label for label in report["built"] if label.startswith("events[")]
    assert len(events) == 152 and events[0] == "events[2024-01-01]"  # changed, and never built
    months = [f"monthly[2024-0{m}]" for m in range(1, 6)]
    assert report["built"][152:] == [*months, "total"] and not report["failed"]
    month = prod(repo).partition_records("monthly")["2024-01"]
    assert month.rows == 1 and month.inputs["events"]["partitions"] == "31"
    assert "code changed" not in cli(repo, "plan", "--env", "prod")


def test_a_partition_is_rolled_back_alone(repo: Path) -> None:
    days = "events[2024-01-01..2024-01-03]"
    cli(repo, "materialize", "--env", "prod", "--select", days, "--no-progress")
    before = prod(repo).partition_records("events")
    write_module(repo, n=5, version="e2")
    git(repo, "commit", "-qam", "v2")
    cli(repo, "materialize", "--env", "prod", "--select", days, "--select", "total",
        "--no-progress")  # fmt: skip
    old = before["2024-01-02"].data_version
    new = prod(repo).partition_records("events")["2024-01-02"].data_version
    cli(repo, "rollback", "events", "--to", old[:10], "--env", "prod")
    after = prod(repo).partition_records("events")
    assert after["2024-01-02"].data_version == old and after["2024-01-02"].rollback_of == new
    assert after["2024-01-01"].code_version == "e2" != before["2024-01-01"].code_version
    why = cli(repo, "why", "events[2024-01-02]", "--env", "prod")
    assert "rolled back" in why
    status = cli(repo, "status", "--env", "prod")
    assert "total" in status and "upstream 'events' changed" in status
