"""``nbassets check --env prod`` as a monitor (issue 14, acceptance 5): exit 1 on an error-check
failure and on a late asset (``--fresh``, or a failing ``fresh`` rule), 0 otherwise. Real git
repository, production built by the real CLI, ``NBASSETS_NOW`` pinning now. The tests of a
built production run on both configurations (``prod_backend``: local, and S3 + PostgreSQL)."""

from __future__ import annotations

import json
import shutil
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from helpers import git, write_notebook
from team_production import Production

import nbassets
from nbassets.cli import main
from nbassets.config import Project

ORDERS = "%%asset orders --key id --fresh 'max_age=1d' --check 'not_null(\"id\")'{extra}\n"
CELLS = {
    "c0": "# nbassets: export\nimport pandas as pd",
    "c1": ORDERS + "raw_orders[raw_orders.amount > 0]",
    "c2": "%%asset summary\npd.DataFrame({'total': [orders.amount.sum()]})",
}


def cli(
    project: Path, *args: str, code: int = 0, now: datetime | None = None, **environ: str
) -> str:
    env = environ if now is None else {**environ, "NBASSETS_NOW": now.isoformat()}
    result = CliRunner(env=env).invoke(main, ["--project", str(project), *args])
    assert result.exit_code == code, result.output
    return result.stdout


def deploy(project: Path, extra: str = "") -> None:
    """The notebook with ``extra`` on the orders line, exported and committed on main."""
    cells = {**CELLS, "c1": CELLS["c1"].format(extra=extra)}
    write_notebook(project / "notebooks" / "shop.ipynb", cells)
    cli(project, "export", "notebooks/shop.ipynb")
    git(project, "add", "-A")
    git(project, "commit", "-qm", f"orders{extra}")


@pytest.fixture
def built(project: Path, prod_backend: Production) -> tuple[Path, datetime]:
    """Production built on main, local and on S3 + PostgreSQL (``prod_backend``); returns the
    project and when orders' build finished."""
    (project / ".gitignore").write_text(".nbassets/\nwarehouse/\n__pycache__/\n")
    old = pd.Timestamp("2020-01-01")
    raw = pd.DataFrame({"id": [1, 2, 3], "amount": [4.0, 9.0, -1.0], "ts": [old] * 3})
    nbassets.save("raw_orders", raw, project=Project.find(project))
    git(project, "init", "-q", "-b", "main")
    deploy(project)
    cli(project, "materialize", "--no-progress")
    with prod_backend.store() as store:
        record = store.catalog.latest_of("orders")
    assert record is not None
    return project, datetime.fromisoformat(record.finished_at)


def test_check_exits_0_when_checks_pass_and_nothing_is_late(built: tuple[Path, datetime]) -> None:
    project, finished = built
    out = cli(project, "check", "--env", "prod", now=finished + timedelta(hours=23))
    assert "PASS  orders: not_null('id')" in out
    assert "1 check(s) in prod: 0 failed, 0 late" in out and "LATE" not in out


def test_check_exits_1_on_a_late_asset(built: tuple[Path, datetime]) -> None:
    project, finished = built
    later = finished + timedelta(days=2, hours=3)
    out = cli(project, "check", "--env", "prod", code=1, now=later)
    assert "PASS  orders: not_null('id')" in out  # the data is right, only old
    assert f"LATE  orders: late by 1d 3h (max_age=1d; last built {finished:%Y-%m-%dT%H:%MZ})" in out
    assert "1 check(s) in prod: 0 failed, 1 late" in out
    items = json.loads(cli(project, "check", "--env", "prod", "--json", code=1, now=later))
    late = [item for item in items if item["outcome"] == "late"]
    assert [(i["key"], i["name"], i["late_by_seconds"]) for i in late] == [
        ("orders", "--fresh max_age=1d", 27 * 3600.0)
    ]
    assert {(i["key"], i["outcome"]) for i in items} == {("orders", "pass"), ("orders", "late")}
    # a selection that leaves orders out is not late
    assert "0 late" in cli(project, "check", "--env", "prod", "--select", "summary", now=later)


def test_check_exits_1_on_an_error_check_failure(
    built: tuple[Path, datetime], prod_backend: Production
) -> None:
    project, finished = built
    deploy(project, " --check 'row_count(min=5)'")  # the current data has 2 rows
    out = cli(project, "check", "--env", "prod", code=1, now=finished + timedelta(hours=1))
    with prod_backend.store() as store:  # recorded in production's catalog
        orders = store.catalog.latest_of("orders")
        assert orders is not None
        recorded = store.catalog.check_results("orders", orders.data_version)
    assert {(r.name, r.passed) for r in recorded} == {
        ("not_null('id')", True),
        ("row_count(min=5)", False),
    }
    assert "FAIL  orders: row_count(min=5)" in out
    assert "2 check(s) in prod: 1 failed, 0 late" in out
    items = json.loads(
        cli(project, "check", "--env", "prod", "--json", code=1, now=finished + timedelta(hours=1))
    )
    assert {(i["name"], i["outcome"]) for i in items} == {
        ("not_null('id')", "pass"),
        ("row_count(min=5)", "fail"),
    }


def test_a_failing_fresh_rule_is_a_late_asset_even_as_a_warning(
    built: tuple[Path, datetime],
) -> None:
    project, finished = built
    deploy(project, ' --check \'fresh("ts", max_age="1d", severity="warn")\'')
    out = cli(project, "check", "--env", "prod", code=1, now=finished + timedelta(hours=1))
    assert "WARN  orders: fresh('ts', max_age='1d')" in out
    assert "2 check(s) in prod: 0 failed, 1 late" in out and "LATE  orders" not in out


PARTITIONED = textwrap.dedent(
    """
    import pandas as pd

    from nbassets.runtime import ExportedAsset


    def events(partition):
        return pd.DataFrame({"day": [str(partition)]})


    ASSETS = (
        ExportedAsset("events", events, code_version="e1", partitions="daily:2024-05-29",
                      fresh="max_age=6h", rules=("row_count(min=1)",)),
    )
    """
)


def test_check_names_the_late_partitions_of_a_daily_asset(project: Path) -> None:
    (project / ".gitignore").write_text(".nbassets/\nwarehouse/\n__pycache__/\n")
    (project / "pipelines").mkdir()
    (project / "pipelines" / "__init__.py").write_text("")
    (project / "pipelines" / "events.py").write_text(PARTITIONED)
    git(project, "init", "-q", "-b", "main")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "events")
    june = datetime(2024, 6, 1, tzinfo=UTC)
    cli(project, "materialize", "--no-progress", now=june)  # 05-29..05-31, every complete day

    assert "0 late" in cli(project, "check", "--env", "prod", now=june + timedelta(hours=29))
    out = cli(project, "check", "--env", "prod", code=1, now=june + timedelta(hours=31))
    assert "LATE  events[2024-06-01]: late by 1h (max_age=6h; last built " in out
    assert "3 check(s) in prod: 0 failed, 1 late" in out  # the built days pass their rule
    later = june + timedelta(days=3, hours=7)
    out = cli(project, "check", "--env", "prod", code=1, now=later)
    assert "LATE  events[2024-06-01..2024-06-03]: late by 2d 1h" in out


def test_a_deployed_monitor_without_git_exits_1_on_a_late_asset(
    built: tuple[Path, datetime],
) -> None:
    project, finished = built
    head = git(project, "rev-parse", "HEAD")
    shutil.rmtree(project / ".git")  # a deployed image: the code, no repository
    deployed = {"NBASSETS_NO_GIT": "1", "NBASSETS_COMMIT": head}
    out = cli(project, "check", "--env", "prod", now=finished + timedelta(hours=2), **deployed)
    assert "1 check(s) in prod: 0 failed, 0 late" in out
    late = finished + timedelta(days=1, hours=2)
    out = cli(project, "check", "--env", "prod", code=1, now=late, **deployed)
    assert "LATE  orders: late by 2h (max_age=1d;" in out
    refused = CliRunner().invoke(main, ["--project", str(project), "check", "--env", "prod"])
    assert refused.exit_code == 1 and "NBASSETS_NO_GIT" in refused.output, refused.output
