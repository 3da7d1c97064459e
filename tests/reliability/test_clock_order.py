"""Issue 10, finding 6: a clock that steps back changes nothing (DESIGN §2).

"Which record is newer is decided by the catalog's own order of records, never by clocks."
Every build here is a real ``nbassets materialize`` process; the second one runs under
libfaketime (``faketime -f -1h``, Debian's ``faketime`` package), so every clock read in
that process, and with it the ``finished_at`` it records, is one hour behind. nbassets has
no clock of its own to fake (``stores.now`` is ``datetime.now``): the fake is at the
process level, below Python. Status and plan are then read as the user reads them, by the
CLI (``nbassets status --json``, ``nbassets plan --json``) at the real clock.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

import nbassets
from nbassets.cli import main
from nbassets.config import Project
from nbassets.environments import store_path

FAKETIME = shutil.which("faketime")
ENV = "ci-clock"

pytestmark = pytest.mark.skipif(  # never skipped in CI: .ci/run installs it
    FAKETIME is None and not os.environ.get("CI"),
    reason="needs libfaketime's `faketime` (apt-get install -y faketime)",
)

SHOP = """
from pathlib import Path

from nbassets.runtime import ExportedAsset


def orders(raw):
    if Path("orders.fails").exists():
        raise ValueError("orders broke")
    return raw.assign(n=1)


ASSETS = (ExportedAsset("orders", orders, deps=("raw",), code_version="c1"),)
"""


@pytest.fixture
def shop(project: Path) -> Path:
    """A project whose package builds ``orders`` from production's ``raw`` (it fails while
    the file ``orders.fails`` exists)."""
    nbassets.save("raw", pd.DataFrame({"id": [1, 2, 3]}), env="prod")
    (project / "pipelines").mkdir()
    (project / "pipelines" / "__init__.py").write_text("")
    (project / "pipelines" / "shop.py").write_text(SHOP)
    return project


def materialize(project: Path, *, fails: bool, clock_behind: bool) -> None:
    """One real ``nbassets materialize`` of ``orders``, its clock an hour behind if asked."""
    flag = project / "orders.fails"
    if fails:
        flag.touch()
    else:
        flag.unlink(missing_ok=True)
    command = [sys.executable, "-m", "nbassets.cli", "materialize", "--env", ENV,
               "--select", "orders", "--no-progress", "--json"]  # fmt: skip
    if clock_behind:
        assert FAKETIME is not None
        command = [FAKETIME, "-f", "-1h", *command]
    env = {**os.environ, "NBASSETS_USER": "tester", "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(
        command, cwd=project, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == (1 if fails else 0), done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert (report["failed"] != {}) == fails and report["built"] == ([] if fails else ["orders"])


def finished_times(project: Path) -> tuple[str, str]:
    """``finished_at`` of the latest materialization and of the latest failure of ``orders``."""
    catalog = store_path(Project.find(project), ENV) / "catalog.sqlite"
    with closing(sqlite3.connect(f"{catalog.as_uri()}?mode=ro", uri=True)) as conn:
        built = conn.execute("SELECT max(finished_at) FROM materializations").fetchone()[0]
        failed = conn.execute("SELECT max(finished_at) FROM failures").fetchone()[0]
    return built, failed


def cli_json(*args: str) -> Any:
    result = CliRunner().invoke(main, [*args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def status_of_orders() -> str:
    rows = {row["key"]: row for row in cli_json("status", "--env", ENV)}
    return f"{rows['orders']['status']}: {rows['orders']['reason']}".removesuffix(": ")


def plan_of_orders() -> str:
    plan = cli_json("plan", "--env", ENV, "--against", "prod")
    if "orders" in plan["fresh"]:
        return "fresh"
    return next(step["reason"] for step in plan["rebuild"] if step["key"] == "orders")


def test_a_failure_recorded_by_a_clock_behind_still_shows_failed(shop: Path) -> None:
    materialize(shop, fails=False, clock_behind=False)
    assert status_of_orders() == "fresh"
    materialize(shop, fails=True, clock_behind=True)
    built, failed = finished_times(shop)
    assert failed < built  # the failure really carries the earlier time
    assert status_of_orders() == "failed: last build raised"
    assert plan_of_orders() == "last build failed"


def test_a_success_recorded_by_a_clock_behind_clears_the_failure(shop: Path) -> None:
    materialize(shop, fails=True, clock_behind=False)
    assert status_of_orders() == "failed: last build raised"
    assert plan_of_orders() == "last build failed"
    materialize(shop, fails=False, clock_behind=True)
    built, failed = finished_times(shop)
    assert built < failed  # the success really carries the earlier time
    assert status_of_orders() == "fresh"
    assert plan_of_orders() == "fresh"
