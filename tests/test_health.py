"""An env's health (``nbassets.health``): the production view's JSON, from the core and through
the server's ``GET health`` (issue 14, the production view)."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from health_project import HealthProject, build_health_project

from nbassets.config import Project
from nbassets.health import env_health, strip
from nbassets.partition_status import PartitionReport
from nbassets.partitions import parse_definition
from nbassets.status import MISSING, STALE

pytest_plugins = ("pytest_jupyter.jupyter_server",)


@pytest.fixture
def health(project: Path, monkeypatch: pytest.MonkeyPatch) -> HealthProject:
    built = build_health_project(project)
    monkeypatch.setenv("NBASSETS_NOW", built.now.isoformat())
    return built


def by_key(payload: dict) -> dict[str, dict]:
    return {asset["key"]: asset for asset in payload["assets"]}


def test_production_health_shows_lateness_failed_checks_and_partition_coverage(
    health: HealthProject,
) -> None:
    payload = env_health(Project.find(health.root))
    assert payload["env"] == "prod" and payload["code"] == "package pipelines"
    assets = by_key(payload)
    # the code's assets in definition order, then production's source
    assert list(assets) == ["orders", "summary", "events", "raw_orders"]

    orders = assets["orders"]
    assert orders["status"] == "fresh" and orders["rows"] == 2
    assert orders["late"]["fresh"] == "max_age=1h"
    assert orders["late"]["text"].startswith("late by 1d ")
    assert [c["outcome"] for c in orders["checks"]] == []

    summary = assets["summary"]
    assert summary["status"] == "check-failed" and summary["late"] is None
    assert [(c["name"], c["outcome"]) for c in summary["checks"]] == [("row_count(min=5)", "fail")]

    events = assets["events"]["partitions"]
    assert events["definition"] == f"daily:{health.start.isoformat()}"
    assert events["complete"] == 9
    assert events["counts"] == {"built": 3, "stale": 3, "missing": 3, "failed": 0}
    assert events["strip"] == [
        {"first": health.day(0), "last": health.day(2), "count": 3, "state": "stale"},
        {"first": health.day(3), "last": health.day(5), "count": 3, "state": "built"},
        {"first": health.day(6), "last": health.day(8), "count": 3, "state": "missing"},
    ]
    assert assets["events"]["status"] == "missing"  # a gap ranks above stale (DESIGN §3)
    assert assets["orders"]["partitions"] is None


def test_nothing_is_late_before_max_age(
    health: HealthProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = by_key(env_health(Project.find(health.root)))["orders"]["built_at"]
    soon = datetime.fromisoformat(built) + timedelta(minutes=30)
    monkeypatch.setenv("NBASSETS_NOW", soon.isoformat())
    assert by_key(env_health(Project.find(health.root)))["orders"]["late"] is None


def test_a_strip_is_runs_of_one_state_oldest_first() -> None:
    definition = parse_definition("daily:2024-01-01")
    keys = [f"2024-01-0{day}" for day in range(1, 8)]
    report = PartitionReport("events", definition, keys)
    report.groups[(STALE, "code changed")] = ["2024-01-02", "2024-01-03"]
    report.groups[(MISSING, "never built")] = ["2024-01-05", "2024-01-07"]
    assert [(run["first"], run["last"], run["count"], run["state"]) for run in strip(report)] == [
        ("2024-01-01", "2024-01-01", 1, "built"),
        ("2024-01-02", "2024-01-03", 2, "stale"),
        ("2024-01-04", "2024-01-04", 1, "built"),
        ("2024-01-05", "2024-01-05", 1, "missing"),
        ("2024-01-06", "2024-01-06", 1, "built"),
        ("2024-01-07", "2024-01-07", 1, "missing"),
    ]
    assert strip(PartitionReport("events", definition, [])) == []


@pytest.fixture
def jp_server_config() -> dict:
    return {
        "ServerApp": {
            "jpserver_extensions": {"nbassets": True},
            "allow_unauthenticated_access": False,
        }
    }


async def test_the_server_answers_the_health_of_production(
    jp_fetch, jp_root_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = jp_root_dir / "shop"
    root.mkdir()
    (root / "pyproject.toml").write_text('[tool.nbassets]\nprod = "warehouse"\n')
    health = build_health_project(root)
    monkeypatch.setenv("NBASSETS_NOW", health.now.isoformat())
    response = await jp_fetch(
        "nbassets", "api", "health", params={"path": "shop/notebooks/shop.ipynb"}
    )
    payload = json.loads(response.body)
    assets = by_key(payload)
    assert payload["env"] == "prod"
    assert assets["orders"]["late"] is not None
    assert assets["events"]["partitions"]["counts"]["missing"] == 3
    assert date.fromisoformat(payload["now"][:10]) == health.now.date()
