"""Unit-test results in the panel's payload (``GET/POST assets``): per asset row and per
``%%test`` cell, for the asset's current code only.

Results are recorded straight into the catalogs (as the kernel's ``%%test`` records them in the
sandbox), so these tests need no kernel: the server only reads them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from helpers import write_notebook, write_prod
from tornado.httpclient import HTTPResponse

from nbassets.config import Project
from nbassets.environments import store_path
from nbassets.kernel_build import run_cell
from nbassets.overview import notebook_overview
from nbassets.session import Session
from nbassets.store.results import TestResult
from nbassets.store.sqlite_catalog import SqliteCatalog
from nbassets.testcells import define_test

pytest_plugins = ("pytest_jupyter.jupyter_server",)

ENV = "dev-tester-nogit"
NOTEBOOK = "notebooks/demo.ipynb"
ORDERS = "%%asset orders --key id\nraw_orders[raw_orders.amount > 0]"
UNNAMED_BODY = "result = orders(raw_orders=df)\nassert len(result) == 1"
CELLS = {
    "c-orders": ORDERS,
    "c-keeps": "%%test orders --name keeps_positive\nassert True",
    "c-drops": "%%test orders --name drops_nothing\nassert False",
    "c-unnamed": f"%%test orders\n{UNNAMED_BODY}",
    "c-old": "%%test orders --name ran_on_old_code\nassert True",
    "c-never": "%%test orders --name never_ran\nassert True",
    "c-summary": "%%asset summary\nfloat(orders.amount.sum())",
}
UNNAMED = define_test("orders", UNNAMED_BODY).name
KEEPS = define_test("orders --name keeps_positive", "assert True")
RAW_ORDERS = pd.DataFrame({"id": [1, 2, 3], "amount": [5.0, -1.0, 7.0]})

Fetch = Callable[..., Awaitable[HTTPResponse]]


@pytest.fixture
def jp_server_config() -> dict[str, Any]:
    return {
        "ServerApp": {
            "jpserver_extensions": {"nbassets": True, "jupyter_server_terminals": False},
            "allow_unauthenticated_access": False,
        },
    }


def record(store: Path, *results: TestResult) -> None:
    """Record unit-test results in a store's catalog, as the kernel's ``%%test`` does."""
    catalog = SqliteCatalog(store / "catalog.sqlite", writable=True)
    try:
        catalog.record_tests(results)
    finally:
        catalog.close()


def result(name: str, code: str, outcome: str, message: str = "", source: str = "") -> TestResult:
    """A result of ``orders``'s test ``name``, recorded by this notebook's cell unless told."""
    source = source or f"{NOTEBOOK} :: orders :: {name}"
    return TestResult("orders", name, code, outcome, message, source, at="2026-11-30T12:00:00")


@pytest.fixture
def root(jp_root_dir: Path) -> Path:
    """A project whose notebook's ``orders`` has five tests: passed, failed, passed (unnamed),
    run on older code only, never run; plus results that must not count."""
    (jp_root_dir / "pyproject.toml").write_text('[tool.nbassets]\nprod = "warehouse"\n')
    write_prod(jp_root_dir, "raw_orders", RAW_ORDERS)
    notebook = write_notebook(jp_root_dir / NOTEBOOK, CELLS)
    project = Project.find(notebook)
    session = Session(project, namespace={"__session__": str(notebook)})
    try:
        assert session.env == ENV
        run_cell(session, "orders --key id", "raw_orders[raw_orders.amount > 0]")
        code = session.built["orders"].code_version
    finally:
        session.close()
    saved = notebook.stat().st_mtime + 2  # saved after the build: the file's code counts
    os.utime(notebook, (saved, saved))
    prod = jp_root_dir / "warehouse"
    record(prod, result("keeps_positive", code, "failed", "prod's older word"))
    record(
        store_path(project, ENV),
        replace(result("keeps_positive", code, "passed"), test_version=KEEPS.version),
        result("drops_nothing", code, "failed", "assertion failed: assert False"),
        result(UNNAMED, code, "passed"),
        result("ran_on_old_code", "0ld", "failed", "on old code"),
        result("deleted_cell", code, "failed", "its cell is gone"),  # this notebook's, no cell
        result("extra", code, "error", "KeyError: 'x'", source="notebooks/other.ipynb :: o :: e"),
    )
    return jp_root_dir


def payload(response: HTTPResponse) -> Any:
    assert response.code == 200
    return json.loads(response.body)


def outcomes(tests: list[dict[str, Any]]) -> dict[str, tuple[str, str]]:
    return {t["name"]: (t["outcome"], t["message"]) for t in tests}


async def test_rows_and_test_cells_carry_the_recorded_results(jp_fetch: Fetch, root: Path) -> None:
    data = payload(await jp_fetch("nbassets", "api", "assets", params={"path": NOTEBOOK}))
    orders = next(a for a in data["assets"] if a["key"] == "orders")
    assert [t["name"] for t in orders["tests"]] == [
        "keeps_positive",
        "drops_nothing",
        UNNAMED,
        "ran_on_old_code",
        "never_ran",
        "extra",  # recorded for this code by another notebook's test: it counts
    ]  # "deleted_cell" was recorded by this notebook, whose cells no longer declare it
    assert outcomes(orders["tests"]) == {
        "keeps_positive": ("passed", ""),  # the sandbox's result over production's
        "drops_nothing": ("failed", "assertion failed: assert False"),
        UNNAMED: ("passed", ""),
        "ran_on_old_code": (
            "not-run",
            "not run for this code (its results are for other code of the asset)",
        ),
        "never_ran": ("not-run", "never run"),
        "extra": ("error", "KeyError: 'x'"),
    }
    assert orders["tests"][0]["cell_id"] == "c-keeps"
    assert orders["tests"][-1]["cell_id"] is None
    assert orders["tests"][0]["at"] == "2026-11-30T12:00:00"

    summary = next(a for a in data["assets"] if a["key"] == "summary")
    assert summary["tests"] == []
    raw = next(a for a in data["assets"] if a["key"] == "raw_orders")
    assert raw["tests"] == []

    cells = {t["cell_id"]: (t["asset"], t["name"], t["outcome"]) for t in data["tests"]}
    assert cells == {
        "c-keeps": ("orders", "keeps_positive", "passed"),
        "c-drops": ("orders", "drops_nothing", "failed"),
        "c-unnamed": ("orders", UNNAMED, "passed"),
        "c-old": ("orders", "ran_on_old_code", "not-run"),
        "c-never": ("orders", "never_ran", "not-run"),
    }


def live(cells: dict[str, str]) -> str:
    sent = [{"id": i, "cell_type": "code", "source": s} for i, s in cells.items()]
    return json.dumps({"path": NOTEBOOK, "cells": sent})


async def test_an_edited_unsaved_test_cell_shows_not_run(jp_fetch: Fetch, root: Path) -> None:
    edited = {**CELLS, "c-unnamed": f"%%test orders\n{UNNAMED_BODY} + 0"}
    data = payload(await jp_fetch("nbassets", "api", "assets", method="POST", body=live(edited)))
    cell = next(t for t in data["tests"] if t["cell_id"] == "c-unnamed")
    assert cell["name"] != UNNAMED  # named after its code, which changed
    assert (cell["outcome"], cell["message"]) == ("not-run", "never run")
    keeps = next(t for t in data["tests"] if t["cell_id"] == "c-keeps")
    assert keeps["outcome"] == "passed"  # the other cells keep their results


async def test_an_edited_named_test_shows_not_run_until_it_runs_again(
    jp_fetch: Fetch, root: Path
) -> None:
    """A named test keeps its name when its body changes: its result is for the body it ran."""
    for body in ("# a comment only\nassert True", "assert True  # the same code"):
        same = {**CELLS, "c-keeps": f"%%test orders --name keeps_positive\n{body}"}
        data = payload(await jp_fetch("nbassets", "api", "assets", method="POST", body=live(same)))
        keeps = next(t for t in data["tests"] if t["cell_id"] == "c-keeps")
        assert keeps["outcome"] == "passed"  # comments change nothing, as for code versions
    edited = {**CELLS, "c-keeps": "%%test orders --name keeps_positive\nassert 1 == 2"}
    data = payload(await jp_fetch("nbassets", "api", "assets", method="POST", body=live(edited)))
    keeps = next(t for t in data["tests"] if t["cell_id"] == "c-keeps")
    assert (keeps["outcome"], keeps["message"]) == (
        "not-run",
        "not run since the test was edited (its result is for its earlier code)",
    )
    orders = next(a for a in data["assets"] if a["key"] == "orders")
    assert next(t for t in orders["tests"] if t["name"] == "keeps_positive")["outcome"] == "not-run"


async def test_an_edited_unsaved_asset_cell_shows_its_tests_not_run(
    jp_fetch: Fetch, root: Path
) -> None:
    edited = {**CELLS, "c-orders": ORDERS.replace("> 0", ">= 0")}
    data = payload(await jp_fetch("nbassets", "api", "assets", method="POST", body=live(edited)))
    orders = next(a for a in data["assets"] if a["key"] == "orders")
    assert orders["status"] == "stale"
    assert {t["outcome"] for t in orders["tests"]} == {"not-run"}
    assert [t["name"] for t in orders["tests"]][-1] == "never_ran"  # "extra" ran other code
    assert {t["outcome"] for t in data["tests"]} == {"not-run"}
    assert data["tests"][0]["message"].startswith("not run for this code")


def test_one_test_results_read_per_store(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reads: list[set[str]] = []
    original = SqliteCatalog.test_results

    def counted(self: SqliteCatalog, keys: Any = None) -> list[TestResult]:
        reads.append(set(keys))
        return original(self, keys)

    monkeypatch.setattr(SqliteCatalog, "test_results", counted)
    project = Project.find(root / NOTEBOOK)
    overview = notebook_overview(project, root / NOTEBOOK)
    assert len(overview["tests"]) == 5
    assert reads == [{"orders", "summary", "raw_orders"}] * 2  # production's, then the sandbox's
