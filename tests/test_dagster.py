"""Dagster definitions of an exported package: validated and built by the real CLI, into the store.

The exported package is ``tests/resources/dagster_pkg`` (hand-written in the exporter's shape),
copied into the test's project as ``pipelines``; ``raw_orders`` is a source input seeded into
production with ``nbassets.save``.
"""

# ruff: noqa: E402  (dagster is optional: skip before importing what needs it)

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

dg = pytest.importorskip("dagster")

from helpers import RESOURCES, git

import nbassets
from nbassets.config import Project
from nbassets.dagster_assets import build_definitions, check_names, current_env
from nbassets.environments import store_path
from nbassets.errors import ProductionWriteError
from nbassets.package import load_package
from nbassets.policy import authorize
from nbassets.provenance import parse_source
from nbassets.store.catalog import Materialization
from nbassets.store.serializers import choose_io
from nbassets.store.sqlite_catalog import SqliteCatalog
from nbassets.store.stores import Store, now

pytestmark = pytest.mark.dagster

ASSETS = ("orders", "revenue", "summary")
CHECKS = {
    ("orders", "not_null('id')"),
    ("orders", "unique('id')"),
    ("orders", "row_count(min=1)"),
    ("orders", "positive"),
    ("revenue", "relationship('customer', 'orders', 'customer')"),
    ("revenue", "covers_orders"),
}
IN_PROCESS = '{"execution": {"config": {"in_process": {}}}}'


def raw_orders(**changes: Any) -> pd.DataFrame:
    """The source input: four orders, one without an id."""
    frame = pd.DataFrame(
        {
            "id": [3.0, 1.0, None, 2.0],
            "customer": ["ann", "bob", "cat", "ann"],
            "quantity": [1, 2, 5, 3],
            "price": [10.0, 2.5, 1.0, 4.0],
        }
    )
    return frame.assign(**changes)


@pytest.fixture(autouse=True)
def pipelines(project: Path) -> Path:
    """The exported package ``pipelines`` in the project."""
    return Path(shutil.copytree(RESOURCES / "dagster_pkg", project / "pipelines"))


def dagster(
    project: Path, env: str, *args: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the dagster CLI from ``cwd`` (default: the project folder), building into nbassets
    env ``env``."""
    home = project.parent / "dagster_home"
    home.mkdir(exist_ok=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    environ = {
        **os.environ,
        "PYTHONPATH": str(project),
        "DAGSTER_HOME": str(home),
        "NBASSETS_ENV": env,
        "NBASSETS_USER": "tester",
    }
    command = [sys.executable, "-m", "dagster", *args, "-m", "pipelines.definitions"]
    return subprocess.run(
        command, cwd=cwd or project, env=environ, capture_output=True, text=True, timeout=600
    )


def latest(project: Path, env: str) -> dict[str, Materialization]:
    catalog = SqliteCatalog(
        store_path(Project.find(project), env) / "catalog.sqlite", writable=False
    )
    try:
        return catalog.latest()
    finally:
        catalog.close()


def check_rows(project: Path, env: str) -> dict[tuple[str, str], tuple[bool, str]]:
    """(key, check name) -> (passed, message) of every check result recorded in ``env``."""
    catalog = SqliteCatalog(
        store_path(Project.find(project), env) / "catalog.sqlite", writable=False
    )
    try:
        versions = [m.data_version for m in catalog.latest().values()]
        results = catalog.versions_check_results(versions)
    finally:
        catalog.close()
    return {(r.key, r.name): (r.passed, r.message) for r in results}


def build_directly(project: Path, env: str) -> dict[str, str]:
    """Run the package's functions as plain Python and store the values in ``env``'s store.

    Inputs are the stored round trip, SQL assets read the Parquet files: what the notebook does.
    """
    package = load_package(Project.find(project), "pipelines")
    store = Store(env, store_path(Project.find(project), env), writable=True)
    records = {"raw_orders": nbassets.load("raw_orders")}
    paths: dict[str, str] = {}
    versions: dict[str, str] = {}
    try:
        for key in ASSETS:  # dependency order
            asset = package.assets[key]
            args = {dep: paths[dep] if asset.sql else records[dep] for dep in asset.deps}
            value = asset.function(**args)
            record = store.write(
                key, value, choose_io(value, asset.io), code_version="direct", started_at=now()
            )
            records[key] = store.read(record)
            paths[key] = str(store.storage.local_file(record.path, record.data_version))
            versions[key] = record.data_version
    finally:
        store.close()
    return versions


def in_process(project: Path, env: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Build every asset of the definitions in this process; the run's result."""
    monkeypatch.setenv("NBASSETS_ENV", env)
    job = build_definitions("pipelines", project).resolve_implicit_global_asset_job_def()
    return job.execute_in_process(raise_on_error=False)


# --- the real CLI ---------------------------------------------------------------------------


def test_definitions_validate_with_the_cli(project: Path) -> None:
    done = dagster(project, "ci-dagster", "definitions", "validate")
    assert done.returncode == 0, done.stdout + done.stderr
    assert (
        "Validation successful for code location pipelines.definitions" in done.stdout + done.stderr
    )


def test_definitions_load_from_any_working_directory(project: Path) -> None:
    elsewhere = project.parent / "elsewhere"  # a code location whose working dir is not the project
    elsewhere.mkdir()
    done = dagster(project, "ci-dagster", "definitions", "validate", cwd=elsewhere)
    assert done.returncode == 0, done.stdout + done.stderr


def test_materialize_builds_every_asset_with_provenance_and_the_notebooks_data_versions(
    project: Path,
) -> None:
    raw = nbassets.save("raw_orders", raw_orders())

    done = dagster(project, "ci-dagster", "asset", "materialize", "--select", "*")

    assert done.returncode == 0, done.stderr[-3000:]
    built = latest(project, "ci-dagster")
    assert set(built) == set(ASSETS)  # the source input is read, never built
    assert build_directly(project, "direct") == {k: m.data_version for k, m in built.items()}
    orders, revenue, summary = (built[key] for key in ASSETS)
    assert orders.inputs == {"raw_orders": {"data_version": raw.data_version, "env": "prod"}}
    assert revenue.inputs == {"orders": {"data_version": orders.data_version, "env": "ci-dagster"}}
    assert summary.inputs == {
        "orders": {"data_version": orders.data_version, "env": "ci-dagster"},
        "revenue": {"data_version": revenue.data_version, "env": "ci-dagster"},
    }
    assert orders.source == "dagster | pipelines.shop:orders | notebooks/shop.ipynb :: orders"
    source = parse_source(orders.source)  # what `nbassets why` reads
    assert (source.module, source.function, source.cell_key) == (
        "pipelines.shop",
        "orders",
        "orders",
    )
    assert (orders.code_version, orders.io, orders.rows, orders.user) == (
        "c0d3a1f0e2b4c6d8",
        "parquet",
        3,
        "tester",
    )
    assert (revenue.io, summary.io) == ("parquet", "pickle")
    assert nbassets.load("summary", env="ci-dagster") == {
        "orders": 3,
        "customers": 2,
        "best_customer": "ann",
        "total": 27.0,
    }
    assert check_rows(project, "ci-dagster") == {key: (True, "") for key in CHECKS}
    statuses = {row.key: row.status for row in nbassets.status(env="ci-dagster")}
    assert statuses == dict.fromkeys(["raw_orders", *ASSETS], "fresh")
    assert set(latest(project, "prod")) == {"raw_orders"}  # production untouched


def test_a_failing_error_check_blocks_the_downstream_assets_of_the_run(project: Path) -> None:
    nbassets.save("raw_orders", raw_orders(quantity=[1, -2, 5, 3]))

    done = dagster(
        project, "ci-fail", "asset", "materialize", "--select", "*", "--config-json", IN_PROCESS
    )

    output = done.stdout + done.stderr
    assert done.returncode == 1, output[-3000:]
    assert "1 blocking asset check failed with ERROR severity" in output
    assert "Dependencies for step revenue failed: ['orders_positive']. Not executing." in output
    assert set(latest(project, "ci-fail")) == {"orders"}  # built, but check-failed
    checks = check_rows(project, "ci-fail")
    assert checks[("orders", "positive")] == (False, "every order has a positive amount")
    assert checks[("orders", "not_null('id')")] == (True, "")
    assert ("revenue", "covers_orders") not in checks
    statuses = {row.key: row.status for row in nbassets.status(env="ci-fail")}
    assert statuses["orders"] == "check-failed"


# --- in process -----------------------------------------------------------------------------


def test_definitions_name_assets_checks_and_source_inputs(project: Path) -> None:
    defs = build_definitions("pipelines", project)
    graph = defs.resolve_asset_graph()

    assert {key.to_user_string() for key in graph.materializable_asset_keys} == set(ASSETS)
    assert {key.to_user_string() for key in graph.external_asset_keys} == {"raw_orders"}
    orders = defs.resolve_assets_def("orders")
    assert orders.code_versions_by_key[dg.AssetKey("orders")] == "c0d3a1f0e2b4c6d8"
    spec = orders.specs_by_key[dg.AssetKey("orders")]
    assert spec.metadata["nbassets/source"] == "notebooks/shop.ipynb :: orders"
    assert {(k.asset_key.to_user_string(), k.name) for k in graph.asset_check_keys} == {
        ("orders", "not_null_id"),
        ("orders", "unique_id"),
        ("orders", "row_count_min_1"),
        ("orders", "positive"),
        ("revenue", "relationship_customer_orders_customer"),
        ("revenue", "covers_orders"),
    }
    blocking = {k.name for k in graph.asset_check_keys if graph.get_check_spec(k).blocking}
    assert blocking == {
        "not_null_id",
        "unique_id",
        "positive",
        "relationship_customer_orders_customer",
    }


def test_a_warn_check_does_not_block_and_a_build_that_raises_is_recorded(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nbassets.save("raw_orders", raw_orders(id=None))  # no order has an id: orders is empty

    result = in_process(project, "ci-empty", monkeypatch)

    assert not result.success
    assert set(latest(project, "ci-empty")) == {"orders", "revenue"}
    assert check_rows(project, "ci-empty")[("orders", "row_count(min=1)")] == (
        False,
        "0 rows, expected at least 1",
    )
    store = Store("ci-empty", store_path(Project.find(project), "ci-empty"), writable=False)
    failure = store.catalog.last_failures()["summary"]
    store.close()
    assert failure.error.startswith("IndexError")
    assert failure.source == "dagster | pipelines.shop:summary | notebooks/shop.ipynb :: summary"


def test_a_production_build_reads_production_only(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NBASSETS_NO_GIT", "1")  # a deployed image: no .git, a named commit
    monkeypatch.setenv("NBASSETS_COMMIT", "4f2c1a9")
    nbassets.save("raw_orders", raw_orders(), env="ci-other")  # a sandbox's version only

    result = in_process(project, "prod", monkeypatch)

    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "reads 'raw_orders', which has no version in production" in str(
        failure.step_failure_data.error
    )
    assert latest(project, "prod") == {}

    nbassets.save("raw_orders", raw_orders())
    assert in_process(project, "prod", monkeypatch).success
    built = latest(project, "prod")
    assert set(built) == {"raw_orders", *ASSETS}
    assert {entry["env"] for m in built.values() for entry in m.inputs.values()} == {"prod"}
    assert {m.commit for key, m in built.items() if key != "raw_orders"} == {"4f2c1a9"}


def guard_production(project: Project) -> None:
    authorize(project, "prod", "dagster")


def test_production_is_refused_from_a_dirty_tree_or_another_branch(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ProductionWriteError, match="not a git repository"):
        guard_production(Project.find(project))
    monkeypatch.setenv("NBASSETS_NO_GIT", "1")  # a deployed image, which names its commit
    monkeypatch.setenv("NBASSETS_COMMIT", "4f2c1a9")
    guard_production(Project.find(project))
    monkeypatch.delenv("NBASSETS_NO_GIT")
    git(project, "init", "-b", "main")
    (project / ".gitignore").write_text("__pycache__/\n")
    with pytest.raises(ProductionWriteError, match="no commit yet"):
        guard_production(Project.find(project))
    git(project, "add", "pyproject.toml")
    git(project, "commit", "-m", "project")
    with pytest.raises(ProductionWriteError, match="dirty tree"):
        guard_production(Project.find(project))
    git(project, "add", "-A")
    git(project, "commit", "-m", "pipelines")
    guard_production(Project.find(project))
    git(project, "checkout", "-b", "feature")
    with pytest.raises(ProductionWriteError, match="from branch 'feature'.*built from 'main'"):
        guard_production(Project.find(project))


def test_check_names_are_valid_dagster_names() -> None:
    names = check_names("t", ["not_null('id')", "not null id", "between('x', 0, 1)", "type"])
    assert names == {
        "not_null('id')": "not_null_id",
        "not null id": "not_null_id_" + names["not null id"][-6:],
        "between('x', 0, 1)": "between_x_0_1",
        "type": "type_check",
    }
    with pytest.raises(nbassets.NbAssetsError, match="two checks named 'a'"):
        check_names("t", ["a", "a"])


def test_a_refused_production_build_runs_no_asset_code(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nbassets.save("raw_orders", raw_orders())
    git(project, "init", "-b", "main")
    git(project, "commit", "--allow-empty", "-m", "empty")  # everything untracked: dirty

    result = in_process(project, "prod", monkeypatch)

    assert not result.success
    assert "ProductionWriteError" in str(result.all_events)
    assert set(latest(project, "prod")) == {"raw_orders"}
    prod = SqliteCatalog(Project.find(project).prod_path / "catalog.sqlite", writable=False)
    assert prod.last_failures() == {}  # refused before any asset code ran
    prod.close()


def test_the_env_is_the_configured_one_else_nbassets_env_else_prod(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert current_env() == "prod"
    monkeypatch.setenv("NBASSETS_ENV", "ci-42")
    assert current_env() == "ci-42"
    assert current_env("dev-x") == "dev-x"
    with pytest.raises(nbassets.NbAssetsError, match="not a valid environment name"):
        current_env("../prod")


def test_keys_that_dagster_reserves_are_refused_with_the_fix(
    project: Path, pipelines: Path
) -> None:
    (pipelines / "extra.py").write_text(
        "from nbassets.runtime import ExportedAsset\n\n\n"
        "def output(input):\n    return input\n\n\n"
        'ASSETS = (ExportedAsset(key="output", function=output, deps=("input",)),)\n'
    )
    with pytest.raises(
        nbassets.NbAssetsError, match=r"'input', 'output' .* reserved words in Dagster"
    ):
        build_definitions("pipelines", project)
