"""``nbassets history [KEY]`` (issue 14, run history): real builds into a sandbox store, read back
through the CLI (click's CliRunner) as text and JSON."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner, Result

from nbassets.build import BuildTask, build
from nbassets.checks.rules import parse_rule
from nbassets.cli import main
from nbassets.config import Project
from nbassets.partitions import parse_definition
from nbassets.policy import authorize
from nbassets.store.workspace import Workspace

ENV = "ci-history"
RULES = (parse_rule("row_count(max=3)"), parse_rule("not_null('id')"))


def run(*args: str, code: int = 0) -> Result:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result


def run_json(*args: str) -> Any:
    return json.loads(run(*args, "--json").stdout)


@pytest.fixture
def workspace(project: Path) -> Iterator[Workspace]:
    ws = Workspace(Project.find(project), ENV)
    yield ws
    ws.close()


def built(ws: Workspace, key: str, function: Callable[..., Any], partition: str = "") -> None:
    daily = parse_definition("daily:2024-01-01") if partition else None
    task = BuildTask(key, (), "c1", function, "test", rules=RULES, partitions=daily)
    build(ws, task, authorize(ws.project, ENV, "materialize"), partition=partition)


def rows(n: int) -> Callable[..., pd.DataFrame]:
    return lambda partition=None: pd.DataFrame({"id": range(n)})


def broken(partition: Any = None) -> pd.DataFrame:
    raise ValueError("boom: the source is empty\nsecond line")


def seconds(entry: dict[str, Any]) -> float:
    started = datetime.fromisoformat(entry["started_at"])
    return (datetime.fromisoformat(entry["finished_at"]) - started).total_seconds()


def test_a_keys_builds_failures_durations_and_check_outcomes(workspace: Workspace) -> None:
    for function in (rows(2), rows(3), broken, rows(5)):
        built(workspace, "orders", function)
    found = run_json("history", "orders", "--env", ENV)
    assert [(e["status"], e["rows"]) for e in found] == [
        ("built", 5), ("failed", None), ("built", 3), ("built", 2),
    ]  # fmt: skip
    assert found[0]["checks"] == {"passed": 1, "failed": 1, "failing": ["row_count(max=3)"]}
    assert found[2]["checks"] == {"passed": 2, "failed": 0, "failing": []}
    failure = found[1]
    assert failure["error"].startswith("ValueError: boom: the source is empty")
    assert failure["data_version"] is None and failure["checks"] is None
    assert failure["code_version"] == "c1" and failure["env"] == ENV
    for entry in found:
        assert entry["duration_seconds"] == pytest.approx(seconds(entry))
        assert entry["duration_seconds"] >= 0 and entry["key"] == "orders"
    assert [e["seq"] for e in found] == sorted((e["seq"] for e in found), reverse=True)
    assert len(run_json("history", "orders", "--env", ENV, "--limit", "2")) == 2

    out = run("history", "orders", "--env", ENV).stdout.splitlines()
    assert out[0].startswith(f"orders in {ENV} (") and "newest first" in out[0]
    assert out[1].split() == ["version", "built", "took", "rows", "size", "code", "commit",
                              "checks", "user", "file"]  # fmt: skip
    assert out[2].startswith(found[0]["data_version"][:12]) and "1/2 passed" in out[2]
    assert out[3].startswith("FAILED") and out[3].endswith(
        "error: ValueError: boom: the source is empty"
    )
    assert "2/2 passed" in out[4] and out[4].endswith(found[2]["file"])
    assert len(out) == 6


def test_every_keys_latest_builds_without_a_key(workspace: Workspace) -> None:
    built(workspace, "orders", rows(2))
    built(workspace, "days", rows(1), partition="2024-01-01")
    built(workspace, "lost", broken)  # a key that only ever failed is in the history too
    built(workspace, "days", rows(4), partition="2024-01-02")
    found = run_json("history", "--env", ENV)
    assert [(e["key"], e["partition"], e["status"]) for e in found] == [
        ("days", "2024-01-02", "built"),
        ("lost", "", "failed"),
        ("days", "2024-01-01", "built"),
        ("orders", "", "built"),
    ]
    assert found[0]["checks"]["failing"] == ["row_count(max=3)"]
    assert [e["key"] for e in run_json("history", "--env", ENV, "--limit", "1")] == ["days"]
    assert [e["status"] for e in run_json("history", "lost", "--env", ENV)] == ["failed"]

    out = run("history", "--env", ENV).stdout.splitlines()
    assert out[0].startswith(f"builds in {ENV} (")
    assert out[1].split() == ["key", "version", "built", "took", "rows", "size", "code", "commit",
                              "partition", "checks", "user", "file"]  # fmt: skip
    assert out[2].split()[0] == "days" and " 2024-01-02 " in out[2] and "1/2 passed" in out[2]
    assert out[3].split()[:2] == ["lost", "FAILED"]
    assert len(out) == 6


def test_an_empty_env_and_an_unknown_key(workspace: Workspace) -> None:
    assert run_json("history", "--env", "ci-empty") == []
    assert run("history", "--env", "ci-empty").stdout.startswith("no builds in ci-empty (")
    built(workspace, "orders", rows(2))
    refused = run("history", "ordrs", "--env", ENV, code=2).stderr
    assert "asset 'ordrs' has no versions in env 'ci-history'" in refused
    assert "Did you mean 'orders'?" in refused
