"""Issue 10, finding 8 (part a): a renamed or deleted asset shows as ``orphaned``, never fresh.

DESIGN §2: "An asset that a store holds but that no notebook or exported module of the project
defines any more is ``orphaned``: listed apart, never counted as fresh." A notebook builds ``a``
and ``b`` (``b`` reads ``a``, ``a`` reads ``raw`` from production) with the kernel's own code
path, then ``b`` is renamed ``b2`` (or its cell deleted) in the notebook file. ``nbassets
status`` (text and JSON), ``%assets`` in a real IPython shell and the panel's ``GET assets``
must show ``b`` as orphaned, after the defined assets, and count it apart.

Not orphans: an external version written by ``nbassets.save`` that no cell defines, a key
that some definition reads (``raw``), an asset another notebook of the project defines (in a
kernel that never ran that notebook), an asset of a kernel cell not saved to the file yet, and
an asset the exported package still defines. Each of those tests also shows ``b`` orphaned,
so that it fails while nothing is ever orphaned.
"""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner, Result
from helpers import TestingShell, write_notebook, write_prod
from tornado.httpclient import HTTPResponse

import nbassets
from nbassets.cli import main
from nbassets.config import Project
from nbassets.kernel_build import run_cell
from nbassets.session import Session

pytest_plugins = ("pytest_jupyter.jupyter_server",)

DEV = "dev-tester-nogit"
NOTEBOOK = "notebooks/shop.ipynb"
CELLS = {"c-a": "%%asset a\nraw.assign(n=1)", "c-b": "%%asset b\na.assign(m=2)"}
RENAMED = {"c-a": "%%asset a\nraw.assign(n=1)", "c-b": "%%asset b2\na.assign(m=2)"}
RAW = pd.DataFrame({"id": [1, 2, 3]})
REASON = "no notebook or module defines it"
SUMMARY = "1 orphaned (nbassets gc --orphans)"

Fetch = Callable[..., Awaitable[HTTPResponse]]


# --- the scenario -------------------------------------------------------------------------------


def save_notebook(path: Path, cells: dict[str, str]) -> Path:
    """Write the notebook file as saved after every run so far (its mtime 2 s later)."""
    write_notebook(path, cells)
    later = path.stat().st_mtime + 2
    os.utime(path, (later, later))
    return path


def build(root: Path, notebook: str, cells: dict[str, str]) -> None:
    """Run ``cells`` (``{cell id: source}``) as a kernel of ``notebook`` does: Session, run_cell."""
    path = write_notebook(root / notebook, cells)
    session = Session(Project.find(path), namespace={"__session__": str(path)})
    try:
        assert session.env == DEV
        for source in cells.values():
            line, body = source.removeprefix("%%asset ").split("\n", 1)
            run_cell(session, line, body)
    finally:
        session.close()


def make_shop(root: Path) -> Path:
    """``raw`` in production, ``a`` and ``b`` built in the sandbox, ``lookup`` saved there by
    ``nbassets.save``; then ``b`` renamed ``b2`` in the notebook file. The notebook's path."""
    if not (root / "pyproject.toml").exists():
        (root / "pyproject.toml").write_text('[tool.nbassets]\nprod = "warehouse"\n')
    write_prod(root, "raw", RAW)  # recorded with a code version, read by a, defined by no cell
    build(root, NOTEBOOK, CELLS)
    nbassets.save("lookup", pd.DataFrame({"k": [1]}), env=DEV, project=Project.find(root))
    return save_notebook(root / NOTEBOOK, RENAMED)


@pytest.fixture
def shop(project: Path) -> Path:
    return make_shop(project)


def run(*args: str, code: int = 0) -> Result:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result


def status_json(*args: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(run("status", *args, "--json").stdout)
    return rows


def statuses(rows: list[dict[str, Any]]) -> dict[str, str]:
    return {row["key"]: row["status"] for row in rows}


# --- nbassets status ------------------------------------------------------------------------------


def test_status_json_shows_the_renamed_asset_orphaned_and_last(shop: Path) -> None:
    rows = status_json()
    assert statuses(rows) == {
        "a": "fresh",
        "b2": "missing",
        "raw": "fresh",  # read by a: an input, not an orphan
        "lookup": "fresh",  # written by nbassets.save: external, not an orphan
        "b": "orphaned",
    }
    assert rows[-1]["key"] == "b", "orphans are listed after every other asset"
    assert rows[-1]["reason"] == REASON
    assert rows[-1]["data_version"] is not None  # the version the store still holds


def test_status_text_lists_orphans_apart_and_never_counts_them_fresh(shop: Path) -> None:
    lines = run("status").stdout.splitlines()
    first = lines.index(next(line for line in lines if line.startswith("asset ")))
    apart = lines.index(next(line for line in lines if line.startswith("orphaned:")))
    defined = {line.split()[0]: line for line in lines[first + 1 : apart] if line.strip()}
    assert set(defined) == {"a", "b2", "raw", "lookup"}
    orphans = [line.split()[0] for line in lines[apart + 2 :] if line.strip()][:-1]
    assert orphans == ["b"]
    b_line = next(line for line in lines[apart:] if line.startswith("b "))
    assert "orphaned" in b_line and "fresh" not in b_line
    assert lines[-1] == f"3 fresh, 1 missing; {SUMMARY}"


def test_a_deleted_cell_leaves_its_asset_orphaned(shop: Path) -> None:
    save_notebook(shop, {"c-a": CELLS["c-a"]})
    assert statuses(status_json()) == {
        "a": "fresh",
        "raw": "fresh",
        "lookup": "fresh",
        "b": "orphaned",
    }


def test_an_orphan_is_not_stale_and_spreads_nothing(shop: Path) -> None:
    """With both cells gone, ``b`` (which read ``a``) is orphaned, not "upstream 'a' is ..."."""
    save_notebook(shop, {"c-x": "%%asset x\nraw.head(1)"})
    rows = status_json()
    assert statuses(rows) == {
        "x": "missing",
        "raw": "fresh",
        "lookup": "fresh",
        "a": "orphaned",
        "b": "orphaned",
    }
    assert [row["key"] for row in rows][-2:] == ["a", "b"]  # apart, by key
    assert {row["reason"] for row in rows[-2:]} == {REASON}


def test_an_unread_record_in_production_is_orphaned_a_read_one_is_not(shop: Path) -> None:
    write_prod(shop.parents[1], "legacy", RAW, code_version="old-code")
    assert statuses(status_json())["legacy"] == "orphaned"
    assert statuses(status_json())["raw"] == "fresh"
    prod = statuses(status_json("--env", "prod"))
    assert prod == {"a": "missing", "b2": "missing", "raw": "fresh", "legacy": "orphaned"}


def test_lineage_and_plan_know_the_orphan(shop: Path) -> None:
    graph = json.loads(run("lineage", "--json").stdout)
    assert {n["key"]: n["status"] for n in graph["nodes"]}["b"] == "orphaned"
    run("export")
    plan = json.loads(run("plan", "--env", DEV, "--against", "prod", "--json").stdout)
    planned = [s["key"] for part in ("rebuild", "downstream", "blocked") for s in plan[part]]
    assert "b" not in planned + plan["fresh"], "an orphan is never rebuilt nor counted fresh"
    assert "b2" in planned
    assert plan["orphaned"] == ["b"]
    text = run("plan", "--env", DEV, "--against", "prod").stdout
    assert f"{SUMMARY}: b" in text


# --- the exported package -------------------------------------------------------------------------


def test_an_asset_the_exported_package_still_defines_is_not_orphaned(project: Path) -> None:
    write_prod(project, "raw", RAW)
    build(project, NOTEBOOK, CELLS)
    run("export")  # pipelines/shop.py defines a and b
    save_notebook(project / NOTEBOOK, RENAMED)  # renamed, not exported again
    assert statuses(status_json())["b"] == "fresh"
    session = Session(Project.find(project), namespace={"__session__": NOTEBOOK})
    try:  # the kernel judges by the same code: the package still defines b
        from nbassets.kernel_views import model

        assert model(session).row("b").status == "fresh"  # type: ignore[union-attr]
        run("export")  # now the package defines b2, not b
        assert model(session).row("b").status == "orphaned"  # type: ignore[union-attr]
    finally:
        session.close()
    assert statuses(status_json())["b"] == "orphaned"


# --- a kernel: %assets and %nbassets ---------------------------------------------------------------


def assets_table(shell: TestingShell) -> Any:
    return shell.run_cell("%assets --all").result  # every asset of the env (issue 11 item 4)


def test_a_kernel_of_the_renamed_notebook_shows_the_orphan_apart(
    shell: TestingShell, shop: Path
) -> None:
    shell.user_ns["__session__"] = str(shop)
    table = assets_table(shell)
    labels = {row.key: row.status for row in table.rows}
    assert labels == {
        "a": "fresh",
        "b2": "missing",
        "raw": "fresh",
        "lookup": "fresh",
        "b": "orphaned",
    }
    assert table.rows[-1].key == "b"
    bundle = table._repr_mimebundle_()
    text = bundle["text/plain"].splitlines()
    apart = text.index(
        "orphaned: 1 asset no notebook or module of the project defines any more "
        "(nbassets gc --orphans)"
    )
    assert [line.split()[0] for line in text[apart + 2 : text.index("", apart)]] == ["b"]
    assert f"3 fresh, 1 missing; {SUMMARY}</div>" in bundle["text/html"]
    facts = shell.run_cell("%nbassets").result.facts
    assert facts["status"] == {"fresh": 3, "missing": 1, "orphaned": 1}


def test_renamed_and_run_in_the_same_kernel(shell: TestingShell, project: Path) -> None:
    write_prod(project, "raw", RAW)
    notebook = write_notebook(project / NOTEBOOK, CELLS)
    shell.user_ns["__session__"] = str(notebook)
    shell.run_cell("%%asset a --no-preview\nraw.assign(n=1)")
    shell.run_cell("%%asset b --no-preview\na.assign(m=2)")
    assert {row.key: row.status for row in assets_table(shell).rows}["b"] == "fresh"
    save_notebook(notebook, RENAMED)  # renamed and saved, not run yet
    assert {row.key: row.status for row in assets_table(shell).rows}["b"] == "orphaned"
    shell.run_cell("%%asset b2 --no-preview\na.assign(m=2)")
    rows = {row.key: row.status for row in assets_table(shell).rows}
    assert (rows["b"], rows["b2"]) == ("orphaned", "fresh")


def test_a_kernel_cell_not_saved_yet_is_not_orphaned(shell: TestingShell, shop: Path) -> None:
    shell.user_ns["__session__"] = str(shop)
    shell.run_cell("%%asset scratch --no-preview\na.head(1)", cell_id="c-new")
    rows = {row.key: row.status for row in assets_table(shell).rows}
    assert (rows["scratch"], rows["b"]) == ("fresh", "orphaned")


def test_an_asset_of_another_notebook_is_not_orphaned_in_this_kernel(
    shell: TestingShell, shop: Path
) -> None:
    build(shop.parents[1], "notebooks/other.ipynb", {"c-c": "%%asset c\na.assign(k=3)"})
    shell.user_ns["__session__"] = str(shop)  # a kernel that never ran other.ipynb's cells
    rows = {row.key: row.status for row in assets_table(shell).rows}
    assert (rows["c"], rows["b"]) == ("fresh", "orphaned")
    assert statuses(status_json())["c"] == "fresh"


# --- the panel: GET /nbassets/api/assets ------------------------------------------------------------


@pytest.fixture
def jp_server_config() -> dict[str, Any]:
    return {
        "ServerApp": {
            "jpserver_extensions": {"nbassets": True, "jupyter_server_terminals": False},
            "allow_unauthenticated_access": False,
        },
    }


async def test_the_panel_lists_the_orphan_apart(jp_fetch: Fetch, jp_root_dir: Path) -> None:
    make_shop(jp_root_dir)
    build(jp_root_dir, "notebooks/other.ipynb", {"c-c": "%%asset c\na.assign(k=3)"})
    response = await jp_fetch("nbassets", "api", "assets", params={"path": NOTEBOOK})
    assert response.code == 200
    data = json.loads(response.body)
    assets = {asset["key"]: asset["status"] for asset in data["assets"]}
    assert assets == {"a": "fresh", "b2": "missing", "raw": "fresh"}  # c: another notebook's
    orphans = data["orphaned"]
    assert [(o["key"], o["status"], o["reason"]) for o in orphans] == [("b", "orphaned", REASON)]
    assert orphans[0]["data_version"] and orphans[0]["source"] == f"{NOTEBOOK}#c-b"
    lineage = json.loads(
        (await jp_fetch("nbassets", "api", "lineage", params={"path": NOTEBOOK})).body
    )
    assert "b" not in {node["key"] for node in lineage["nodes"]}
