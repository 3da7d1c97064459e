"""The ``nbassets`` command line through click's runner, its pure cores, and one real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner, Result
from helpers import write_notebook

import nbassets
from nbassets.cli import main
from nbassets.errors import CycleError
from nbassets.provenance import parse_source, plan_steps, schema_drift
from nbassets.store.catalog import Failure, Head, Materialization
from nbassets.store.results import CheckResult
from nbassets.store.stores import Store, now

DEV = "dev-tester-nogit"
SOURCE = "pipelines.shop:orders | notebooks/shop.ipynb :: orders"


@pytest.fixture(autouse=True)
def _fresh_imports(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rewritten package modules of one size within one second must not come from old .pyc."""
    monkeypatch.setattr(sys, "dont_write_bytecode", True)


def run(*args: str, code: int = 0) -> Result:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result


def run_json(*args: str) -> Any:
    return json.loads(run(*args, "--json").stdout)


def write_package(root: Path, assets: dict[str, tuple[tuple[str, ...], str]]) -> None:
    """``pipelines/shop.py`` whose ASSETS have the given ``{key: (deps, code_version)}``."""
    entries = "".join(
        f"    ExportedAsset({key!r}, passthrough, deps={deps!r}, code_version={cv!r}, "
        f"source='notebooks/shop.ipynb :: {key}', key_columns=('id',)),\n"
        for key, (deps, cv) in assets.items()
    )
    package = root / "pipelines"
    package.mkdir(exist_ok=True)
    (package / "__init__.py").write_text("")
    (package / "shop.py").write_text(
        "from nbassets.runtime import ExportedAsset\n\n\n"
        "def passthrough(**inputs):\n    return next(iter(inputs.values()))\n\n\n"
        f"ASSETS = (\n{entries})\n"
    )


@dataclass
class Shop:
    """A scripted history: raw (ingested), orders and report built in prod, orders again in dev."""

    raw: Materialization
    orders_v0: Materialization
    orders_v1: Materialization
    report: Materialization
    orders_dev: Materialization


def frame(**columns: list[Any]) -> pd.DataFrame:
    return pd.DataFrame(columns)


@pytest.fixture
def shop(project: Path) -> Shop:
    """Prod built with code c1; then the package's orders code changed (c2) and the new
    code, which adds a column, was built in the dev sandbox."""
    raw = nbassets.save("raw", frame(id=[1, 2, 3]), env="prod")
    read_raw = {"raw": {"data_version": raw.data_version, "env": "prod"}}
    prod = Store("prod", project / "warehouse", writable=True)
    try:
        common = dict(started_at=now(), source=SOURCE, commit="a" * 40, dirty=False, user="ci")
        v0 = prod.write("orders", frame(id=[1, 2, 3], amount=[1.0, 2.0, 3.0]), "parquet",
                        code_version="c1", inputs=read_raw, **common)  # fmt: skip
        v1 = prod.write("orders", frame(id=[1, 2, 3], amount=[1.0, 2.0, 4.0]), "parquet",
                        code_version="c1", inputs=read_raw, **common)  # fmt: skip
        read_orders = {"orders": {"data_version": v1.data_version, "env": "prod"}}
        report = prod.write("report", frame(id=[1], total=[7.0]), "parquet", code_version="c1",
                            inputs=read_orders, started_at=now(), source="pipelines.shop:report")  # fmt: skip
        passed = CheckResult("orders", "not_null('id')", "error", True, v1.data_version,
                             checked_at=now())  # fmt: skip
        warned = CheckResult("orders", "row_count(min=5)", "warn", False, v1.data_version,
                             message="3 rows, expected at least 5", checked_at=now())  # fmt: skip
        prod.catalog.record_checks([passed, warned], "prod")
    finally:
        prod.close()
    write_package(project, {"orders": (("raw",), "c2"), "report": (("orders",), "c1")})
    dev = Store(DEV, project / ".nbassets" / DEV, writable=True)
    try:
        orders_dev = dev.write(
            "orders", frame(id=[1, 2, 3], amount=[1.0, 2.0, 4.5], discount=[0, 1, 0]), "parquet",
            code_version="c2", inputs=read_raw, started_at=now(), source=SOURCE, user="tester",
        )  # fmt: skip
    finally:
        dev.close()
    return Shop(raw, v0, v1, report, orders_dev)


# --- the group ----------------------------------------------------------------------------------


def test_help_lists_every_command_in_one_line() -> None:
    out = run("--help").output
    for command in ("export", "materialize", "check", "status", "plan", "why", "diff",
                    "lineage", "history", "gc", "forget"):  # fmt: skip
        line = next(line for line in out.splitlines() if line.strip().startswith(command + " "))
        assert "..." not in line, line


def test_errors_are_one_line_with_usage_or_failure_codes(project: Path) -> None:
    bad_env = run("status", "--env", "../prod", code=2)
    assert bad_env.stderr.startswith("error: '../prod' is not a valid environment name")
    assert "Traceback" not in bad_env.output
    (project / "warehouse").mkdir()
    (project / "warehouse" / "catalog.sqlite").write_bytes(b"not a database" * 100)
    damaged = run("status", "--env", "prod", code=1)
    assert damaged.stderr.startswith("error: the catalog") and "damaged" in damaged.stderr
    assert "mv " in damaged.stderr  # names the recovery
    assert run("why", code=2).stderr.startswith("Usage:")  # click: missing argument
    assert "does not exist" in run("--project", "nowhere", "status", code=2).stderr


def test_project_option_finds_the_project_upward(project: Path, tmp_path: Path) -> None:
    nbassets.save("raw", frame(id=[1]), env="prod")
    (project / "sub" / "dir").mkdir(parents=True)
    os.chdir(tmp_path)
    rows = run_json("--project", str(project / "sub" / "dir"), "status", "--env", "prod")
    assert [row["key"] for row in rows] == ["raw"]


# --- status -------------------------------------------------------------------------------------


def test_status_text_and_json(shop: Shop) -> None:
    out = run("status").stdout
    assert f"env {DEV} (over prod); code: package pipelines" in out
    assert "orders  fresh" in out  # the sandbox built it with today's code
    assert "report  stale: upstream 'orders' changed" in out
    assert "built from other code (code version c1 at commit aaaaaaa; now c2)" in out  # as %assets
    rows = {row["key"]: row for row in run_json("status")}
    assert list(rows) == ["orders", "report", "raw"]  # package order, then stores only
    assert set(rows["orders"]) >= {"key", "status", "reason", "env", "data_version",
                                   "code_version", "rows", "built_at", "commit"}  # fmt: skip
    assert rows["orders"]["env"] == DEV and rows["orders"]["code_version"] == "c2"
    assert rows["report"]["reason"] == "upstream 'orders' changed"
    prod = {row["key"]: row for row in run_json("status", "--env", "prod")}
    assert prod["orders"]["status"] == "stale" and prod["orders"]["reason"] == "code changed"
    assert prod["report"]["reason"] == "upstream 'orders' is stale"
    assert prod["orders"]["data_version"] == shop.orders_v1.data_version


def test_status_reads_the_notebooks_without_a_package(project: Path) -> None:
    nbassets.save("raw", frame(id=[1, 2]), env="prod")
    write_notebook(project / "notebooks" / "shop.ipynb", {
        "c1": "%%asset orders\nraw.assign(n=1)",
        "c2": "%%asset report\norders.groupby('n').size().reset_index()",
    })  # fmt: skip
    rows = {row["key"]: (row["status"], row["reason"]) for row in run_json("status")}
    assert rows == {"orders": ("missing", "never built"), "report": ("missing", "never built"),
                    "raw": ("fresh", "")}  # fmt: skip
    assert "code: notebooks" in run("status").stdout


# --- why ----------------------------------------------------------------------------------------


def test_why_text(shop: Shop) -> None:
    out = run("why", "orders", "--env", "prod").stdout
    assert out.startswith(f"orders @ {shop.orders_v1.data_version[:12]}  (built in prod)")
    for expected in (
        f"data version  {shop.orders_v1.data_version}",
        "built from other code (code version c1; package pipelines now has c2)",
        "commit        aaaaaaaaaaaa",
        f"source        {SOURCE}",
        "module: pipelines.shop",
        "function: orders",
        "notebook: notebooks/shop.ipynb",
        "cell of asset: orders",
        f"raw <- prod @ {shop.raw.data_version[:12]}",
        "user          ci",
        "rows          3",
        "PASS  orders: not_null('id')",
        "WARN  orders: row_count(min=5)  (3 rows, expected at least 5)",
    ):
        assert expected in out, expected
    dev = run("why", "orders").stdout  # the sandbox's own version
    assert f"orders @ {shop.orders_dev.data_version[:12]}  (built in {DEV})" in dev
    assert "built from this code (package pipelines)" in dev


def test_why_json(shop: Shop) -> None:
    found = run_json("why", "report", "--env", "prod")
    assert set(found) >= {"key", "env", "data_version", "code_version", "commit", "dirty",
                          "source", "inputs", "built_at"}  # fmt: skip
    assert found["key"] == "report" and found["env"] == "prod"
    assert found["built_at"] == shop.report.finished_at
    assert found["inputs"] == {"orders": {"data_version": shop.orders_v1.data_version,
                                          "env": "prod", "now": shop.orders_v1.data_version}}  # fmt: skip
    assert found["source_parts"]["function"] == "report"
    assert found["built_from_current_code"] is True
    from_dev = run_json("why", "report")  # the dev env reads its own orders now
    assert from_dev["env"] == "prod" and from_dev["store_env"] == "prod"
    assert from_dev["inputs"]["orders"]["now"] == shop.orders_dev.data_version
    assert "changed since" in run("why", "report").stdout


def test_why_an_earlier_version_by_prefix(shop: Shop) -> None:
    old = run_json("why", "orders", "--env", "prod", "--version", shop.orders_v0.data_version[:8])
    assert old["data_version"] == shop.orders_v0.data_version
    assert old["checks"] == []  # checks ran on v1 only
    assert old["file_present"] is True
    missing = run("why", "orders", "--env", "prod", "--version", "0000000", code=1)
    assert "nbassets history orders --env prod" in missing.stderr
    assert "hex digits" in run("why", "orders", "--version", "v1", code=2).stderr


def test_why_an_unknown_or_unbuilt_asset(shop: Shop, project: Path) -> None:
    unknown = run("why", "ordrs", code=2)
    assert unknown.stderr.startswith("error: asset 'ordrs' is not stored")
    assert "Did you mean 'orders'?" in unknown.stderr
    write_package(project, {"orders": (("raw",), "c2"), "audit": (("orders",), "c1")})
    assert "has no version" in run("why", "audit", code=1).stderr


def deployed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run as a deployed image does: no git repository, the commit named by the environment."""
    monkeypatch.setenv("NBASSETS_NO_GIT", "1")
    monkeypatch.setenv("NBASSETS_COMMIT", "4f2c1a9")


def test_why_says_when_gc_removed_the_file(shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    deployed(monkeypatch)
    run("gc", "--keep", "1", "--env", "prod", "--yes")
    out = run("why", "orders", "--env", "prod", "--version", shop.orders_v0.data_version).stdout
    assert "(file removed by nbassets gc)" in out


# --- plan ---------------------------------------------------------------------------------------


def test_plan_after_a_code_change(shop: Shop) -> None:
    out = run("plan").stdout
    assert out.splitlines()[:4] == [
        "plan for prod (code: package pipelines)",
        "asset   action      reason",
        "orders  rebuild     code changed",
        "report  downstream  upstream 'orders' is rebuilt",
    ]
    assert f"schema drift of {DEV} against prod:" in out
    assert "orders  discount int64" in out
    plan = run_json("plan")
    assert plan["env"] == "prod" and plan["against"] == DEV
    assert plan["rebuild"] == [{"key": "orders", "reason": "code changed"}]
    assert plan["downstream"] == [{"key": "report", "reason": "upstream 'orders' is rebuilt"}]
    assert plan["schema_drift"] == [
        {
            "key": "orders",
            "added": {"discount": "int64"},
            "removed": {},
            "retyped": {},
            "readers": {},
        }
    ]


def test_plan_against_another_env_and_when_nothing_drifts(shop: Shop, project: Path) -> None:
    assert run_json("plan", "--against", "ci-1")["schema_drift"] == []
    assert "nothing to compare (ci-1 has no versions)" in run("plan", "--against", "ci-1").stdout
    assert "name another env" in run("plan", "--against", "prod", code=2).stderr
    write_package(project, {"orders": (("raw",), "c1"), "report": (("orders",), "c1")})
    plan = run_json("plan", "--against", "ci-1")
    assert plan["rebuild"] == [] and plan["fresh"] == ["orders", "report"]


def test_plan_steps_rules() -> None:
    def head(key: str, dv: str, cv: str = "c1", **inputs: str) -> Head:
        read = {k: {"data_version": v, "env": "prod"} for k, v in inputs.items()}
        return Head(key, "prod", dv, cv, read, 1, "2026-01-01", None, None)

    current = {"a": head("a", "a2"), "b": head("b", "b1", a="a1"), "c": head("c", "c1", b="b1")}
    code = {"a": "c1", "b": "c1", "c": "c1", "d": "c1", "e": "c1"}
    deps = {"a": (), "b": ("a",), "c": ("b",), "d": ("c",), "e": ("x",)}
    steps = {s.key: (s.action, s.reason) for s in plan_steps(code, deps, current)}
    assert steps == {
        "a": ("keep", "fresh"),
        "b": ("rebuild", "upstream 'a' changed"),
        "c": ("downstream", "upstream 'b' is rebuilt"),
        "d": ("rebuild", "missing"),
        "e": ("blocked", "upstream 'x' is not stored and no code builds it"),
    }
    failed = Failure("a", "prod", "boom", "2026-02-01", "2026-02-01")
    assert plan_steps(code, deps, current, {"a": failed})[0].reason == "last build failed"
    assert plan_steps({**code, "a": "c9"}, deps, current)[0].reason == "code changed"
    with pytest.raises(CycleError):
        plan_steps({"a": "c", "b": "c"}, {"a": ("b",), "b": ("a",)}, {})


def test_schema_drift_rules() -> None:
    base = {"a": {"id": "int64", "x": "object"}, "b": {"id": "int64"}, "c": None}
    new = {"a": {"id": "string", "y": "float64"}, "b": {"id": "int64"}, "c": {"id": "int64"}}
    [drift] = schema_drift(base, new)
    assert (drift.key, drift.added, drift.removed) == ("a", {"y": "float64"}, {"x": "object"})
    assert drift.to_dict()["retyped"] == {"id": {"from": "int64", "to": "string"}}
    assert drift.describe() == "+ y:float64, - x:object, ~ id:int64->string"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("pipelines.shop:orders", ("pipelines.shop", "orders", None, None, None)),
        ("notebooks/x.ipynb#cell-1a", (None, None, "notebooks/x.ipynb", "cell-1a", None)),
        ("notebooks/x.ipynb :: orders", (None, None, "notebooks/x.ipynb", None, "orders")),
        ("<kernel>::orders", (None, None, "<kernel>", None, "orders")),
        (SOURCE, ("pipelines.shop", "orders", "notebooks/shop.ipynb", None, "orders")),
        (
            "notebooks/x.ipynb#c1 (pipelines.x:f)",
            ("pipelines.x", "f", "notebooks/x.ipynb", "c1", None),
        ),
        ("/home/u/ingest.py:main", ("/home/u/ingest.py", "main", None, None, None)),
        ("notebooks/x.ipynb", (None, None, "notebooks/x.ipynb", None, None)),
        ("something else", (None, None, None, None, None)),
        (None, (None, None, None, None, None)),
    ],
)
def test_parse_source(text: str | None, expected: tuple[str | None, ...]) -> None:
    found = parse_source(text)
    assert (found.module, found.function, found.notebook, found.cell_id, found.cell_key) == expected
    assert found.raw == (text or "")


# --- diff, lineage, history ---------------------------------------------------------------------


def test_diff_text_and_json(shop: Shop) -> None:
    out = run("diff", "orders").stdout
    assert out.startswith("vs prod: 3 rows (+0 added, -0 removed, 1 changed); +1 column (discount)")
    assert "key (id)" in out  # the package's key columns
    found = run_json("diff", "orders", "--against", "prod", "--env", DEV, "--key", "id")
    assert found["added_columns"] == ["discount"] and found["changed_rows"] == 1
    assert found["new"] is False
    assert run_json("diff", "orders", "--key", "id,amount")["changed_rows"] is not None


def test_diff_takes_env_and_against_and_the_old_spelling_for_one_release(shop: Shop) -> None:
    new = run_json("diff", "orders", "--env", DEV, "--against", "prod")
    old = run_json("diff", "orders", "--to", DEV, "--from", "prod")
    assert new == old and (new["old_label"], new["new_label"]) == ("prod", DEV)
    assert run_json("diff", "orders", "--env", DEV, "--to", DEV) == new  # the same value: fine
    reverse = run_json("diff", "orders", "--env", "prod", "--against", DEV)
    assert (reverse["old_label"], reverse["new_label"]) == (DEV, "prod")
    helped = run("diff", "--help").stdout
    assert "--against" in helped and "--env" in helped
    assert "--from" not in helped and "--to" not in helped  # hidden aliases
    clash = run("diff", "orders", "--env", DEV, "--to", "ci-1", code=2).stderr
    assert "--env 'dev-tester-nogit' and --to 'ci-1' disagree" in clash


def test_diff_of_an_asset_the_other_env_lacks_reports_it_as_new(shop: Shop) -> None:
    nbassets.save("fresh", frame(id=[1, 2], note=["a", None]), env=DEV)
    out = run("diff", "fresh").stdout
    assert out.startswith(f"new in prod: {DEV} has 2 rows, 2 columns; prod has no version yet")
    assert "note" in out and "VARCHAR" in out
    found = run_json("diff", "fresh", "--against", "prod")
    assert found["new"] is True and found["rows"] == 2 and found["missing_in"] == "prod"
    nbassets.save("knobs", {"a": 1}, env=DEV)
    assert run("diff", "knobs").stdout.startswith(f"new in prod: {DEV} has a pickle value")


def test_diff_errors(shop: Shop) -> None:
    assert "has no version in env 'ci-1'" in run("diff", "orders", "--env", "ci-1", code=1).stderr
    assert "Did you mean 'orders'?" in run("diff", "ordrs", code=2).stderr
    assert "compare two different envs" in run("diff", "orders", "--env", "prod", code=2).stderr
    nbassets.save("settings", {"a": 1}, env="prod")
    nbassets.save("settings", {"a": 2}, env=DEV)
    assert "stored as pickle" in run("diff", "settings", code=1).stderr


def test_an_unknown_key_column_is_bad_usage(shop: Shop) -> None:
    error = run("diff", "orders", "--key", "no_such_column", code=2).stderr
    assert error.startswith("error: key column 'no_such_column' is not in the prod version")
    assert "Its columns are: " in error and "id" in error


def test_lineage_text_svg_and_json(shop: Shop, project: Path) -> None:
    assert run("lineage", "--env", "prod").stdout.splitlines() == [
        "raw -> orders  (prod)",
        "orders -> report  (prod)",
    ]
    assert "raw -> orders  (prod)" in run("lineage").stdout  # dev: orders read prod's raw
    svg = project / "lineage.svg"
    assert "wrote the lineage of 3 assets" in run("lineage", "--svg", str(svg)).stdout
    assert svg.read_text().startswith("<svg") and ">orders<" in svg.read_text()
    graph = run_json("lineage", "report", "--env", "prod")
    assert graph["focus"] == "report"
    assert {n["key"]: n["status"] for n in graph["nodes"]} == {
        "orders": "stale", "raw": "fresh", "report": "stale"
    }  # fmt: skip
    assert {"upstream": "orders", "downstream": "report", "origin": "prod"} in graph["edges"]
    assert "Did you mean 'report'?" in run("lineage", "reprt", code=2).stderr


def two_notebooks(project: Path) -> None:
    """Notebook A's ``a_sum`` reads B's ``b_plus`` (which reads ``b_only``, which reads prod's
    ``raw``); B also defines ``b_other``; a plain kernel built ``scratch``. One sandbox."""
    from nbassets.kernel_build import run_cell
    from nbassets.session import Session

    nbassets.save("raw", [1, 2, 3], env="prod")
    b = write_notebook(project / "notebooks" / "b.ipynb", {
        "b1": "%%asset b_only\nsum(raw)",
        "b2": "%%asset b_plus\nb_only + 1",
        "b3": "%%asset b_other\nb_only - 1",
    })  # fmt: skip
    a = write_notebook(project / "notebooks" / "a.ipynb", {
        "a1": "%%asset a_sum\nb_plus * 2",
        "a2": "%%asset a_later\na_sum + 1",
    })  # fmt: skip
    found = nbassets.Project.find(project)
    for namespace, cells in (
        ({"__session__": str(b)}, {"b_only": "sum(raw)", "b_plus": "b_only + 1",
                                   "b_other": "b_only - 1"}),
        ({"__session__": str(a)}, {"a_sum": "b_plus * 2"}),
        ({}, {"scratch": "41 + 1"}),
    ):  # fmt: skip
        session = Session(found, namespace=namespace)
        try:
            for key, body in cells.items():
                run_cell(session, key, body)
        finally:
            session.close()


def test_status_and_lineage_scoped_to_a_notebook(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    two_notebooks(project)
    scope = {"a_sum", "a_later", "b_plus", "b_only", "raw"}  # A's assets and what they read
    rows = run_json("status", "--notebook", "notebooks/a.ipynb")
    assert {row["key"]: row["status"] for row in rows} == {
        "a_sum": "fresh", "a_later": "missing", "b_plus": "fresh", "b_only": "fresh",
        "raw": "fresh",
    }  # fmt: skip
    assert {row["key"] for row in run_json("status")} == scope | {"b_other", "scratch"}
    out = run("status", "--notebook", "notebooks/a.ipynb").stdout
    assert out.splitlines()[0].endswith("; notebook: notebooks/a.ipynb")
    assert "b_other" not in out and "| scratch" not in out
    assert out.splitlines()[-2:] == [
        f"2 more assets from other notebooks or scratch in env {DEV} and prod: "
        "`nbassets status` lists them",
        "4 fresh, 1 missing",
    ]
    graph = run_json("lineage", "--notebook", "notebooks/a.ipynb")
    assert graph["notebook"] == "notebooks/a.ipynb"
    assert {node["key"] for node in graph["nodes"]} == scope
    assert {(e["upstream"], e["downstream"]) for e in graph["edges"]} == {
        ("raw", "b_only"), ("b_only", "b_plus"), ("b_plus", "a_sum"), ("a_sum", "a_later"),
    }  # fmt: skip
    assert {node["key"] for node in run_json("lineage")["nodes"]} == scope | {"b_other", "scratch"}
    named = run_json("lineage", "b_other", "--notebook", "notebooks/a.ipynb")  # outside: whole env
    assert {node["key"] for node in named["nodes"]} == {"raw", "b_only", "b_other"}
    monkeypatch.chdir(project / "notebooks")  # relative to the working directory
    b_rows = run_json("status", "--notebook", "b.ipynb")
    assert {row["key"] for row in b_rows} == {"b_only", "b_plus", "b_other", "raw"}


def test_notebook_scope_keeps_its_checked_assets_and_its_own_orphans(project: Path) -> None:
    from nbassets.kernel_build import run_cell
    from nbassets.session import Session

    two_notebooks(project)
    write_notebook(project / "notebooks" / "checks.ipynb", {
        "k1": "%%check b_other --name positive\nassert b_other > 0",
    })  # fmt: skip
    rows = run_json("status", "--notebook", "notebooks/checks.ipynb")
    assert {row["key"] for row in rows} == {"b_other", "b_only", "raw"}
    a = project / "notebooks" / "a.ipynb"
    cells = {"a1": "%%asset a_sum\nb_plus * 2", "a2": "%%asset a_later\na_sum + 1"}
    write_notebook(a, {**cells, "a3": "%%asset a_tmp\n5"})
    session = Session(nbassets.Project.find(project), namespace={"__session__": str(a)})
    try:
        run_cell(session, "a_tmp", "5")
    finally:
        session.close()
    write_notebook(a, cells)  # the a_tmp cell deleted: its asset is this notebook's orphan
    rows = run_json("status", "--notebook", "notebooks/a.ipynb")
    assert {row["key"]: row["status"] for row in rows}["a_tmp"] == "orphaned"
    assert "scratch" not in {row["key"] for row in rows}  # the plain kernel's orphan
    assert {row["key"] for row in run_json("status", "--notebook", "notebooks/b.ipynb")} == {
        "b_only", "b_plus", "b_other", "raw"
    }  # fmt: skip


def test_notebook_option_names_a_notebook_of_the_project(project: Path) -> None:
    two_notebooks(project)
    missing = run("status", "--notebook", "notebooks/aa.ipynb", code=2).stderr
    assert f"no notebook 'notebooks/aa.ipynb' in the project root {project.resolve()}" in missing
    assert "Did you mean 'notebooks/a.ipynb'?" in missing
    assert "notebooks = ['notebooks/*.ipynb'] matches notebooks/a.ipynb, notebooks/b.ipynb" in (
        missing
    )
    write_notebook(project / "elsewhere.ipynb", {"c1": "%%asset other\n1"})
    outside = run("lineage", "--notebook", "elsewhere.ipynb", code=2).stderr
    assert "elsewhere.ipynb is not one of the project's notebooks" in outside
    assert "Traceback" not in missing + outside


def test_history_text_and_json(shop: Shop) -> None:
    rows = run_json("history", "orders", "--env", "prod")
    assert [r["data_version"] for r in rows] == [shop.orders_v1.data_version,
                                                 shop.orders_v0.data_version]  # fmt: skip
    assert rows[0]["built_at"] == shop.orders_v1.finished_at and rows[0]["file_present"]
    assert len(run_json("history", "orders", "--env", "prod", "--limit", "1")) == 1
    out = run("history", "orders", "--env", "prod").stdout.splitlines()
    warehouse = str(Path("warehouse").resolve())
    assert out[0] == f"orders in prod ({warehouse}), newest first (* = built from a dirty tree)"
    assert out[1].split() == ["version", "built", "took", "rows", "size", "code", "commit",
                              "checks", "user", "file"]  # fmt: skip
    assert out[2].startswith(shop.orders_v1.data_version[:12]) and "aaaaaaa" in out[2]
    # the file column names each version's file (issue 11 item 10), and --json the same
    for line, row, version in zip(out[2:], rows, (shop.orders_v1, shop.orders_v0), strict=True):
        assert line.split()[-1] == version.path == row["file"]
        assert row["store"] == warehouse and (Path(warehouse) / row["file"]).is_file()
    (Path(warehouse) / shop.orders_v0.path).unlink()  # as gc does
    last = run("history", "orders", "--env", "prod").stdout.splitlines()[-1]
    assert last.endswith(f"{shop.orders_v0.path} (removed by gc)")
    assert run_json("history", "orders", "--env", "prod")[1]["file_present"] is False
    hint = run("history", "report", code=1).stderr
    assert f"no versions in env '{DEV}'" in hint and "--env prod" in hint
    assert "Did you mean 'orders'?" in run("history", "ordes", "--env", "prod", code=2).stderr


# --- gc -----------------------------------------------------------------------------------------


def test_gc_from_the_command_line(
    shop: Shop, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert "0 is not in the range" in run("gc", "--keep", "0", code=2).output
    old = project / "warehouse" / shop.orders_v0.path
    listed = run_json("gc", "--keep", "1", "--env", "prod")  # listing is the default
    assert listed["dry_run"] and listed["files"] == 1 and old.exists()
    assert listed["removed"] == [{"key": "orders", "data_version": shop.orders_v0.data_version,
                                  "path": shop.orders_v0.path, "bytes": old.stat().st_size}]  # fmt: skip
    assert listed["keep"] == 1 and listed["orphans"] == []
    out = run("gc", "--keep", "1", "--env", "prod").stdout
    assert "would remove 1 version file(s)" in out
    assert "`nbassets gc --keep 1 --env prod --yes` removes them" in out
    assert run_json("gc", "--keep", "1", "--env", "prod", "--dry-run") == listed  # old scripts
    assert old.exists()
    refused = run("gc", "--keep", "1", "--env", "prod", "--yes", code=1).stderr  # outside git
    assert "not a git repository" in refused and old.exists()
    monkeypatch.setenv("NBASSETS_NO_GIT", "1")  # a deployed image
    monkeypatch.setenv("NBASSETS_COMMIT", "4f2c1a9")
    out = run("gc", "--keep", "1", "--env", "prod", "--yes").stdout
    assert "removed 1 version file(s)" in out and not old.exists()
    assert run_json("gc", "--keep", "1", "--env", "prod", "--yes")["files"] == 0
    assert "nothing to collect" in run("gc", "--keep", "1", "--env", "ci-9", code=2).stderr
    with pytest.raises(nbassets.NbAssetsError, match="nbassets gc"):
        nbassets.load("orders", env="prod", version=shop.orders_v0.data_version)
    history = run("history", "orders", "--env", "prod").stdout
    assert "removed by gc" in history


def test_gc_help_says_listing_is_the_default() -> None:
    out = " ".join(run("gc", "--help").output.split())
    for option in ("--keep N", "--orphans", "--yes", "--dry-run"):
        assert option in out
    assert "remove them with --yes" in out and "the default now" in out


# --- check, export, materialize (thin wrappers over the runner and the exporter) ----------------


SHOP_MODULE = textwrap.dedent(
    """
    from nbassets.runtime import ExportedAsset


    def orders(raw):
        return raw.assign(amount=raw["id"] * 2.0)


    def broken(orders):
        raise ValueError("boom")


    def after(broken):
        return broken


    def small(raw):
        return raw


    ASSETS = (
        ExportedAsset("orders", orders, deps=("raw",), code_version="c1",
                      rules=("not_null('id')", "row_count(min=10, severity='warn')")),
        ExportedAsset("broken", broken, deps=("orders",), code_version="c1"),
        ExportedAsset("after", after, deps=("broken",), code_version="c1"),
        ExportedAsset("small", small, deps=("raw",), code_version="c1",
                      rules=("row_count(min=10)",)),
    )
    """
)


def test_materialize_and_check(project: Path) -> None:
    pytest.importorskip("nbassets.pipeline")
    nbassets.save("raw", frame(id=[1, 2, 3]), env="prod")
    (project / "pipelines").mkdir()
    (project / "pipelines" / "__init__.py").write_text("")
    (project / "pipelines" / "shop.py").write_text(SHOP_MODULE)
    report = run_json("materialize", "--env", "ci-1", "--select", "orders", "--no-progress")
    assert report == {"env": "ci-1", "built": ["orders"], "failed": {}, "skipped": [],
                      "check_failed": [], "fresh": []}  # fmt: skip
    out = run("materialize", "--env", "ci-1", "--no-progress", code=1).stdout
    assert "failed        broken: ValueError: boom" in out
    assert "skipped       after (downstream of a failure)" in out
    assert "check failed  small" in out
    checks = run("check", "--env", "ci-1", "--select", "orders").stdout
    assert "PASS  orders: not_null('id')" in checks and "WARN  orders: row_count" in checks
    results = json.loads(run("check", "--env", "ci-1", "--json", code=1).stdout)
    assert {(r["key"], r["outcome"]) for r in results} >= {("small", "fail"), ("orders", "pass")}
    monkeypatch_env = {"NBASSETS_ENV": "ci-2"}
    result = CliRunner(env=monkeypatch_env).invoke(main, ["materialize", "--select", "orders",
                                                         "--no-progress", "--json"])  # fmt: skip
    assert json.loads(result.stdout)["env"] == "ci-2"  # $NBASSETS_ENV is the default env
    assert "not a git repository" in run("materialize", "--no-progress", code=1).stderr


def test_export_and_check(project: Path) -> None:
    pytest.importorskip("nbassets.exporter")
    notebook = write_notebook(project / "notebooks" / "shop.ipynb", {
        "c1": "%%asset orders\nraw.assign(n=1)",
    })  # fmt: skip
    nbassets.save("raw", frame(id=[1]), env="prod")
    out = run("export", str(notebook)).stdout
    assert "wrote      pipelines/shop.py" in out
    assert "unchanged  pipelines/shop.py" in run("export").stdout  # default: the config's notebooks
    assert run_json("export", "--check")["stale"] == []
    write_notebook(notebook, {"c1": "%%asset orders\nraw.assign(n=2)"})
    stale = run("export", "--check", code=1)
    assert (
        "-    return raw.assign(n=1)" in stale.stdout
        and "+    return raw.assign(n=2)" in stale.stdout
    )
    # it compares the files on disk (issue 11 item 10): an uncommitted edit counts, no git needed
    assert "1 file(s) on disk differ from what `nbassets export` writes" in stale.stderr
    assert "on disk (committed or not)" in " ".join(run("export", "--help").stdout.split())
    rows = {row["key"]: row["status"] for row in run_json("status", "--env", "prod")}
    assert rows == {"orders": "missing", "raw": "fresh"}


def test_a_missing_core_module_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "nbassets.pipeline", None)  # import fails: not installed
    result = run("check", code=1)
    assert result.stderr.startswith("error: `nbassets check` needs nbassets.pipeline, which")


# --- a real process -----------------------------------------------------------------------------


def test_the_command_runs_as_a_program(shop: Shop, project: Path) -> None:
    env = {**os.environ, "NBASSETS_USER": "tester", "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "nbassets.cli", "status", "--env", "prod", "--json"],
        cwd=project, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert [row["key"] for row in json.loads(done.stdout)] == ["orders", "report", "raw"]
    failed = subprocess.run(
        [sys.executable, "-m", "nbassets.cli", "why", "ordrs"],
        cwd=project, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert failed.returncode == 2 and failed.stdout == ""
    assert failed.stderr.startswith("error: asset 'ordrs'") and "Traceback" not in failed.stderr
