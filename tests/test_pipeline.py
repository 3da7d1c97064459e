"""Building envs from the exported package: round trip with the notebook, checks, and the prod guard
(local and on S3 + PostgreSQL)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from helpers import execute, git, seed_production
from team_production import Production

from nbassets.config import Project
from nbassets.errors import ProductionWriteError
from nbassets.exporter import export_notebooks
from nbassets.pipeline import check_env, materialize
from nbassets.store.sqlite_catalog import SqliteCatalog

ROOT = Path(__file__).resolve().parents[1]
RESOURCES = Path(__file__).parent / "resources"


def quickstart_project(project: Path, production: Production | None = None) -> Path:
    """The quick start's notebook, production seeded, the package exported; production in
    ``production``'s configuration when given (else this repository's ``[tool.nbassets]``)."""
    shutil.copy(ROOT / "pyproject.toml", project / "pyproject.toml")
    if production is not None:
        production.configure('sandbox_root = ".nbassets"', 'notebooks = ["notebooks/*.ipynb"]')
    (project / "notebooks").mkdir()
    notebook = project / "notebooks" / "quickstart.ipynb"
    shutil.copy(ROOT / "notebooks" / "quickstart.ipynb", notebook)
    seed_production(project)
    export_notebooks(Project.find(project), [notebook])
    return notebook


def versions(project: Path, env: str) -> dict[str, str]:
    catalog = SqliteCatalog(project / ".nbassets" / env / "catalog.sqlite", writable=False)
    return {key: record.data_version for key, record in catalog.latest().items()}


def test_round_trip_notebook_and_exported_package_give_the_same_data_versions(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notebook = quickstart_project(project)
    execute(notebook, monkeypatch)
    report = materialize(Project.find(project), "ci-roundtrip", progress=False)
    assert report.ok and report.failed == {} and report.skipped == []
    assert report.built == ["orders", "customer_revenue", "region_revenue", "daily_revenue"]
    notebook_versions = versions(project, "dev-tester-nogit")
    assert versions(project, "ci-roundtrip") == notebook_versions
    assert len(notebook_versions) == 4

    record = SqliteCatalog(
        project / ".nbassets" / "ci-roundtrip" / "catalog.sqlite", writable=False
    ).latest()
    orders = record["orders"]
    assert orders.source == "pipelines.quickstart:orders | notebooks/quickstart.ipynb :: orders"
    assert orders.inputs["raw_orders"]["env"] == "prod"
    outcome = {(r.name, r.outcome) for r in report.checks}
    assert ("unique('order_id')", "pass") in outcome and (
        "between('amount', 0, 250)",
        "warn",
    ) in outcome
    assert ("one_row_per_customer", "pass") in outcome


def test_downstream_of_a_failed_check_is_skipped_and_check_env_monitors(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    quickstart_project(project)
    module = project / "pipelines" / "quickstart.py"
    module.write_text(
        module.read_text().replace("\"unique('order_id')\"", '"row_count(min=10_000)"')
    )
    report = materialize(Project.find(project), "ci-broken", progress=False)
    assert report.check_failed == ["orders"] and not report.ok
    assert report.skipped == ["customer_revenue", "region_revenue", "daily_revenue"]
    results = check_env(Project.find(project), "ci-broken", ["orders"])
    assert any(r.blocking and r.name == "row_count(min=10000)" for r in results)


def test_a_failed_build_skips_its_downstream(project: Path) -> None:
    quickstart_project(project)
    module = project / "pipelines" / "quickstart.py"
    module.write_text(
        module.read_text().replace('paid.drop(columns="status")', 'paid.drop(columns="nope")')
    )
    report = materialize(Project.find(project), "ci-failed", ["orders+"], progress=False)
    assert list(report.failed) == ["orders"] and "KeyError" in report.failed["orders"]
    assert report.skipped == ["customer_revenue", "region_revenue", "daily_revenue"]


def test_production_guard_in_a_real_git_repository(project: Path, prod_backend: Production) -> None:
    quickstart_project(project, prod_backend)
    (project / ".gitignore").write_text(".nbassets/\nwarehouse/\n__pycache__/\n")
    git(project, "init", "-q", "-b", "main")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "initial")
    head = git(project, "rev-parse", "HEAD")

    (project / "untracked.txt").write_text("x")
    with pytest.raises(ProductionWriteError, match="dirty tree"):
        materialize(Project.find(project), "prod", progress=False)
    report = materialize(
        Project.find(project), "prod", ["orders"], allow_dirty=True, progress=False
    )
    assert report.built == ["orders"]
    with prod_backend.store() as store:
        orders = store.catalog.latest()["orders"]
    assert orders.dirty is True and orders.commit == head
    (project / "untracked.txt").unlink()

    git(project, "checkout", "-q", "-b", "feature")
    with pytest.raises(ProductionWriteError, match="from branch 'feature'.*built from 'main'"):
        materialize(Project.find(project), "prod", progress=False)
    git(project, "checkout", "-q", "main")

    report = materialize(Project.find(project), "prod", progress=False)
    assert report.ok and len(report.built) == 4
    with prod_backend.store() as store:
        prod = store.catalog.latest()
    assert prod["orders"].dirty is False and prod["orders"].commit == head
    assert prod["orders"].inputs["raw_orders"]["env"] == "prod"
    assert len(prod_backend.assert_every_record_whole()) == 3 + 1 + 4  # seeds, dirty, clean


def test_production_outside_git_is_refused(project: Path) -> None:
    quickstart_project(project)
    with pytest.raises(ProductionWriteError, match="not a git repository"):
        materialize(Project.find(project), "prod", progress=False)


def test_assets_says_whether_prod_was_built_from_this_code(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notebook = quickstart_project(project)
    (project / ".gitignore").write_text(".nbassets/\nwarehouse/\n__pycache__/\n")
    git(project, "init", "-q", "-b", "main")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "initial")
    assert materialize(Project.find(project), "prod", progress=False).ok
    nb = execute(notebook, monkeypatch)
    table = next(c for c in nb.cells if c.source == "%assets").outputs[0]["data"]["text/plain"]
    header, *lines = table.splitlines()
    assert header.split()[-1] == "prod"
    rows = {line.split()[0]: line for line in lines}
    assert rows["orders"].endswith("built from this code")
    assert "built from" not in rows["raw_orders"]  # no code here for it


@pytest.mark.dagster
def test_dagster_builds_the_exported_quickstart_with_the_notebooks_data_versions(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("dagster")
    import os
    import sys

    notebook = quickstart_project(project)
    execute(notebook, monkeypatch)
    home = project.parent / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    environ = {**os.environ, "PYTHONPATH": str(project), "DAGSTER_HOME": str(home),
               "NBASSETS_ENV": "ci-dagster"}  # fmt: skip
    run = subprocess.run(
        [sys.executable, "-m", "dagster", "asset", "materialize", "-m", "pipelines.definitions",
         "--select", "*", "--config-json", '{"execution": {"config": {"in_process": {}}}}'],
        cwd=project, env=environ, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    assert versions(project, "ci-dagster") == versions(project, "dev-tester-nogit")


def test_a_production_build_leaves_no_wal_beside_the_catalog(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer closes last, so SQLite checkpoints and removes ``-wal``/``-shm``: later
    read-only readers then open production ``immutable`` and never write beside it."""
    quickstart_project(project)
    monkeypatch.setenv("NBASSETS_COMMIT", "a" * 40)
    for _ in range(3):  # the order stores closed in once depended on set order
        report = materialize(Project.find(project), "prod", no_git=True, progress=False)
        assert report.ok
        leftovers = sorted(p.name for p in (project / "warehouse").glob("catalog.sqlite-*"))
        assert leftovers == []
