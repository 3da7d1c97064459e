"""The server extension over HTTP (pytest-jupyter): payloads, bad input, confinement.

Its attacks (no token, no XSRF, paths out of the root) are in
``tests/reliability/test_server_attacks.py``.

The project lives in the server root (``jp_root_dir``), built without a kernel through
``Session`` exactly as the magics build it, so its notebook has assets in every state.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from helpers import write_notebook, write_prod
from tornado.httpclient import HTTPClientError, HTTPResponse

import nbassets
from nbassets.config import Project
from nbassets.kernel_build import run_cell
from nbassets.server import confine
from nbassets.session import Session
from nbassets.store.sqlite_catalog import SqliteCatalog

pytest_plugins = ("pytest_jupyter.jupyter_server",)

# The package-level hooks (nbassets._load_jupyter_server_extension) delegate to
# nbassets.server; until they exist, enable the subpackage, which has hooks of its own.
EXTENSION = "nbassets"
ENV = "dev-tester-nogit"
NOTEBOOK = "notebooks/demo.ipynb"
CHECKED = "checked_orders --check 'between(\"amount\", 0, 6)' --check 'not_null(\"id\")'"
CELLS = {
    "c-orders": "%%asset orders --key id\nraw_orders[raw_orders.amount > 0]",
    "c-big": "%%asset big_orders\norders[orders.amount > 6]",  # built as "> 5": stale
    "c-checked": f"%%asset {CHECKED}\norders",  # amount 7 is out of range: check-failed
    "c-summary": "%%asset summary\nfloat(orders.amount.sum())",  # never built: missing
}
RAW_ORDERS = pd.DataFrame({"id": [1, 2, 3, 4], "amount": [5.0, -1.0, 7.0, 3.0]})

Fetch = Callable[..., Awaitable[HTTPResponse]]


@pytest.fixture
def jp_server_config() -> dict[str, Any]:
    return {
        "ServerApp": {
            # pytest-jupyter adds jupyter_server_terminals unless told (its TermSocket warns)
            "jpserver_extensions": {EXTENSION: True, "jupyter_server_terminals": False},
            "allow_unauthenticated_access": False,
        },
    }


@pytest.fixture
def root(jp_root_dir: Path) -> Path:
    """The server root: an nbassets project whose notebook has fresh, stale, missing and
    check-failed assets, reading ``raw_orders`` from production."""
    (jp_root_dir / "pyproject.toml").write_text('[tool.nbassets]\nprod = "warehouse"\n')
    write_prod(jp_root_dir, "raw_orders", RAW_ORDERS)
    notebook = write_notebook(jp_root_dir / NOTEBOOK, CELLS)
    project = Project.find(notebook)
    assert project.root == jp_root_dir.resolve()  # not the conftest project (the cwd)
    session = Session(project, namespace={"__session__": str(notebook)})
    try:
        assert session.env == ENV
        run_cell(session, "orders --key id", "raw_orders[raw_orders.amount > 0]")
        run_cell(session, "big_orders", "orders[orders.amount > 5]")
        run_cell(session, CHECKED, "orders")
    finally:
        session.close()
    # the notebook as saved after those runs: big_orders was edited (and saved, not run since)
    write_notebook(jp_root_dir / NOTEBOOK, CELLS)
    saved = notebook.stat().st_mtime + 2
    os.utime(notebook, (saved, saved))
    return jp_root_dir


async def refused(request: Awaitable[HTTPResponse]) -> tuple[int, str]:
    """The status and JSON message of a refused request."""
    with pytest.raises(HTTPClientError) as info:
        await request
    assert info.value.response is not None
    return info.value.code, json.loads(info.value.response.body)["message"]


def prod_version(root: Path, key: str) -> str:
    """The data version of production's latest ``key``."""
    catalog = SqliteCatalog(root / "warehouse" / "catalog.sqlite", writable=False)
    try:
        record = catalog.latest_of(key)
    finally:
        catalog.close()
    assert record is not None
    return record.data_version


def payload(response: HTTPResponse) -> Any:
    assert response.code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    return json.loads(response.body)


# --- payloads -------------------------------------------------------------------------------------


async def test_status_names_the_version(jp_fetch: Fetch) -> None:
    response = await jp_fetch("nbassets", "api", "status")
    assert payload(response) == {"version": nbassets.__version__}


async def test_assets_of_a_notebook_in_every_state(jp_fetch: Fetch, root: Path) -> None:
    response = await jp_fetch("nbassets", "api", "assets", params={"path": NOTEBOOK})
    data = payload(response)
    assert (data["notebook"], data["env"]) == (NOTEBOOK, ENV)
    assets = {a["key"]: a for a in data["assets"]}
    defined = [a["key"] for a in data["assets"] if a["defined"]]
    assert defined == ["orders", "big_orders", "checked_orders", "summary"]  # cell order
    labels = {key: a["label"] for key, a in assets.items()}
    assert labels == {
        "orders": "fresh",
        "big_orders": "stale: code changed",
        "checked_orders": "check-failed: check between('amount', 0, 6) failed",
        "summary": "missing: never built",
        "raw_orders": "fresh",
    }
    assert assets["big_orders"]["reason"] == "code changed"

    orders = assets["orders"]
    assert orders["cell_id"] == "c-orders"
    assert orders["env"] == ENV
    assert orders["rows"] == 3
    assert orders["deps"] == ["raw_orders"]
    assert orders["downstream"] == ["big_orders", "checked_orders", "summary"]
    raw_version = prod_version(root, "raw_orders")
    assert orders["inputs"] == [
        {"key": "raw_orders", "origin": "prod", "data_version": raw_version}
    ]
    assert orders["check_results"] == []

    checked = assets["checked_orders"]
    assert checked["checks"] == ["between('amount', 0, 6)", "not_null('id')"]
    assert checked["inputs"][0]["origin"] == "sandbox"
    results = {r["name"]: r for r in checked["check_results"]}
    assert results["between('amount', 0, 6)"]["outcome"] == "fail"
    assert results["between('amount', 0, 6)"]["severity"] == "error"
    assert results["between('amount', 0, 6)"]["failing_rows"] == 1
    assert results["not_null('id')"]["outcome"] == "pass"

    summary = assets["summary"]
    assert (summary["data_version"], summary["rows"], summary["inputs"]) == (
        None,
        None,
        [{"key": "orders", "origin": "", "data_version": None}],
    )

    raw = assets["raw_orders"]  # read by the notebook, defined by none of its cells
    assert (raw["defined"], raw["cell_id"], raw["env"]) == (False, None, "prod")
    assert raw["data_version"] == raw_version
    assert raw["downstream"] == ["orders"]


async def test_assets_of_another_env(jp_fetch: Fetch, root: Path) -> None:
    response = await jp_fetch(
        "nbassets", "api", "assets", params={"path": NOTEBOOK, "env": "dev-someone-else"}
    )
    data = payload(response)
    assert data["env"] == "dev-someone-else"
    statuses = {a["key"]: a["status"] for a in data["assets"]}
    assert statuses == {
        "orders": "missing",
        "big_orders": "missing",
        "checked_orders": "missing",
        "summary": "missing",
        "raw_orders": "fresh",
    }


async def test_lineage_nodes_and_edges_with_origins(jp_fetch: Fetch, root: Path) -> None:
    response = await jp_fetch("nbassets", "api", "lineage", params={"path": NOTEBOOK})
    data = payload(response)
    assert (data["notebook"], data["env"]) == (NOTEBOOK, ENV)
    nodes = {n["key"]: (n["status"], n["defined"]) for n in data["nodes"]}
    assert nodes == {
        "orders": ("fresh", True),
        "big_orders": ("stale", True),
        "checked_orders": ("check-failed", True),
        "summary": ("missing", True),
        "raw_orders": ("fresh", False),
    }
    edges = {(e["upstream"], e["downstream"]): e["origin"] for e in data["edges"]}
    assert edges == {
        ("raw_orders", "orders"): "prod",
        ("orders", "big_orders"): "sandbox",
        ("orders", "checked_orders"): "sandbox",
        ("orders", "summary"): "",  # never built: read from nowhere yet
    }


async def test_export_writes_the_module_and_returns_its_path(jp_fetch: Fetch, root: Path) -> None:
    body = json.dumps({"path": NOTEBOOK})
    response = await jp_fetch("nbassets", "api", "export", method="POST", body=body)
    files = ["pipelines/__init__.py", "pipelines/demo.py", "pipelines/definitions.py"]
    assert payload(response) == {"written": files, "unchanged": [], "removed": []}
    module = (root / "pipelines" / "demo.py").read_text()
    assert "def orders(raw_orders):" in module
    assert "def big_orders(orders):\n    return orders[orders.amount > 6]" in module

    again = await jp_fetch("nbassets", "api", "export", method="POST", body=body)
    assert payload(again) == {"written": [], "unchanged": files, "removed": []}


async def test_an_exporter_error_is_a_json_message(jp_fetch: Fetch, root: Path) -> None:
    write_notebook(
        root / "notebooks" / "broken.ipynb",
        {"c-1": "threshold = 5", "c-2": "%%asset above\nraw_orders[raw_orders.amount > threshold]"},
    )
    request = jp_fetch(
        "nbassets",
        "api",
        "export",
        method="POST",
        body=json.dumps({"path": "notebooks/broken.ipynb"}),
    )
    status, message = await refused(request)
    assert status == 400
    assert "uses name 'threshold' that no exported cell defines" in message
    assert not (root / "pipelines" / "broken.py").exists()


async def test_concurrent_exports_all_succeed(jp_fetch: Fetch, root: Path) -> None:
    names = [f"nb{i}" for i in range(8)]
    for name in names:
        write_notebook(root / "notebooks" / f"{name}.ipynb", {"c-1": f"%%asset {name}\n1"})
    requests = [
        jp_fetch(
            "nbassets",
            "api",
            "export",
            method="POST",
            body=json.dumps({"path": f"notebooks/{name}.ipynb"}),
        )
        for name in names
    ]
    responses = await asyncio.gather(*requests)
    written = {path for response in responses for path in payload(response)["written"]}
    assert {f"pipelines/{name}.py" for name in names} <= written


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("not json", "the request body is not JSON"),
        ("{}", 'the request body needs a string "path"'),
        ('{"path": 3}', 'the request body needs a string "path"'),
        ('["notebooks/demo.ipynb"]', 'the request body needs a string "path"'),
    ],
)
async def test_export_refuses_a_bad_body(
    jp_fetch: Fetch, root: Path, body: str, expected: str
) -> None:
    status, message = await refused(jp_fetch("nbassets", "api", "export", method="POST", body=body))
    assert (status, message.startswith(expected)) == (400, True)


@pytest.mark.parametrize(
    ("params", "status", "expected"),
    [
        ({}, 400, "the nbassets server extension needs a notebook path"),
        ({"path": ""}, 400, "the nbassets server extension needs a notebook path"),
        (
            {"path": "notebooks/nope.ipynb"},
            404,
            "the nbassets server extension could not find notebook 'notebooks/nope.ipynb'",
        ),
        ({"path": "pyproject.toml"}, 400, "'pyproject.toml' is not a notebook"),
        ({"path": "notebooks"}, 400, "'notebooks' is a folder, not a notebook"),
        ({"path": NOTEBOOK, "env": "../prod"}, 400, "'../prod' is not a valid environment name"),
    ],
)
async def test_bad_input_is_refused_with_a_message(
    jp_fetch: Fetch, root: Path, params: dict[str, str], status: int, expected: str
) -> None:
    code, message = await refused(jp_fetch("nbassets", "api", "assets", params=params))
    assert (code, message.startswith(expected)) == (status, True)


async def test_a_store_the_server_cannot_read_is_the_servers_state_not_bad_input(
    jp_fetch: Fetch, root: Path
) -> None:
    conn = sqlite3.connect(root / "warehouse" / "catalog.sqlite")
    conn.execute("PRAGMA user_version = 99")  # a catalog written by a newer nbassets
    conn.close()
    code, message = await refused(jp_fetch("nbassets", "api", "assets", params={"path": NOTEBOOK}))
    assert code == 500 and "newer" in message and "upgrade nbassets" in message.lower()


# --- confinement to the server root ---------------------------------------------------------------


def test_confine_resolves_inside_the_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    notebook = write_notebook(root / "notebooks" / "a.ipynb", {"c-1": "1"})
    (root / "notebooks" / "b.py").write_text("# %%\n1\n")
    (root / "alias.ipynb").symlink_to(notebook)  # a link that stays inside is fine
    assert confine(root, "notebooks/a.ipynb") == notebook.resolve()
    assert confine(root, "./notebooks//a.ipynb") == notebook.resolve()
    assert confine(root, "notebooks/b.py") == (root / "notebooks" / "b.py").resolve()
    assert confine(root, "alias.ipynb") == notebook.resolve()
    linked_root = tmp_path / "linked-root"
    linked_root.symlink_to(root, target_is_directory=True)  # the root itself may be a link
    assert confine(linked_root, "notebooks/a.ipynb") == notebook.resolve()
    assert confine(str(root), "notebooks/a.ipynb") == notebook.resolve()


def test_the_shipped_config_enables_the_extension() -> None:
    config = Path(__file__).parents[1] / "jupyter-config" / "server-config" / "nbassets.json"
    assert json.loads(config.read_text()) == {
        "ServerApp": {"jpserver_extensions": {"nbassets": True}}
    }


async def test_a_build_newer_than_the_saved_notebook_is_not_code_changed(
    jp_fetch: Fetch, root: Path
) -> None:
    """Edited and run in the kernel, not saved yet: the file shows older code, the build is
    newer, so the asset is not reported as 'code changed' (the kernel knows best)."""
    notebook = root / NOTEBOOK
    earlier = notebook.stat().st_mtime - 3600
    os.utime(notebook, (earlier, earlier))
    response = await jp_fetch("nbassets", "api", "assets", params={"path": NOTEBOOK})
    assets = {a["key"]: a for a in payload(response)["assets"]}
    assert assets["big_orders"]["status"] == "fresh"


# --- the editor's cells, saved or not (POST assets / lineage) ------------------------------------


def live_body(cells: dict[str, str], **extra: Any) -> str:
    """A ``POST assets`` body: the notebook path and ``{cell_id: source}`` as code cells."""
    sent = [{"id": i, "cell_type": "code", "source": s} for i, s in cells.items()]
    return json.dumps({"path": NOTEBOOK, "cells": sent, **extra})


async def test_an_edited_unsaved_cell_shows_code_changed(jp_fetch: Fetch, root: Path) -> None:
    """The panel sends the editor's sources: an edit not saved yet is 'code changed' at once,
    and an edit that puts back the built code (unsaved) is fresh, whatever the file says."""
    edited = {**CELLS, "c-orders": "%%asset orders --key id\nraw_orders[raw_orders.amount > 1]"}
    reverted = {**CELLS, "c-big": "%%asset big_orders\norders[orders.amount > 5]"}  # as built
    saved = await jp_fetch("nbassets", "api", "assets", params={"path": NOTEBOOK})
    labels = {a["key"]: a["label"] for a in payload(saved)["assets"]}
    assert (labels["orders"], labels["big_orders"]) == ("fresh", "stale: code changed")

    live = await jp_fetch("nbassets", "api", "assets", method="POST", body=live_body(edited))
    data = payload(live)
    labels = {a["key"]: a["label"] for a in data["assets"]}
    assert labels["orders"] == "stale: code changed"
    assert [a["cell_id"] for a in data["assets"] if a["defined"]] == list(CELLS)
    live = await jp_fetch("nbassets", "api", "assets", method="POST", body=live_body(reverted))
    labels = {a["key"]: a["label"] for a in payload(live)["assets"]}
    assert (labels["orders"], labels["big_orders"]) == ("fresh", "fresh")

    lineage = await jp_fetch("nbassets", "api", "lineage", method="POST", body=live_body(edited))
    nodes = {n["key"]: n["status"] for n in payload(lineage)["nodes"]}
    assert nodes["orders"] == "stale"
    assert "layout" in payload(lineage)


async def test_live_cells_define_what_the_panel_shows(jp_fetch: Fetch, root: Path) -> None:
    """A cell added in the editor (not saved) is listed; a deleted one is gone; markdown and
    a ``%%check`` cell are read as the file's are; an env in the body is honoured."""
    cells = [
        {"id": "c-orders", "cell_type": "code", "source": CELLS["c-orders"]},
        {"id": "m-1", "cell_type": "markdown", "source": "%%asset not_an_asset\n1"},
        {"id": "c-new", "cell_type": "code", "source": "%%asset fresh_one\norders.id.max()"},
        {"id": "c-chk", "cell_type": "code", "source": "%%check orders --name positive\nTrue"},
    ]
    body = json.dumps({"path": NOTEBOOK, "cells": cells})
    data = payload(await jp_fetch("nbassets", "api", "assets", method="POST", body=body))
    assets = {a["key"]: a for a in data["assets"]}
    assert [a["key"] for a in data["assets"] if a["defined"]] == ["orders", "fresh_one"]
    assert assets["fresh_one"]["label"] == "missing: never built"
    assert assets["fresh_one"]["cell_id"] == "c-new"
    assert "positive" in assets["orders"]["checks"]

    other = json.dumps({"path": NOTEBOOK, "cells": cells, "env": "dev-someone-else"})
    data = payload(await jp_fetch("nbassets", "api", "assets", method="POST", body=other))
    assert data["env"] == "dev-someone-else"
    assert {a["key"]: a["status"] for a in data["assets"]}["orders"] == "missing"


async def test_a_post_without_cells_reads_the_file(jp_fetch: Fetch, root: Path) -> None:
    body = json.dumps({"path": NOTEBOOK})
    posted = payload(await jp_fetch("nbassets", "api", "assets", method="POST", body=body))
    got = payload(await jp_fetch("nbassets", "api", "assets", params={"path": NOTEBOOK}))
    assert posted == got


async def test_live_cells_are_parsed_never_run(jp_fetch: Fetch, root: Path) -> None:
    target = root / "pwned.txt"
    source = f"%%asset pwn\nimport pathlib\npathlib.Path({str(target)!r}).write_text('x')\n1"
    body = live_body({"c-pwn": source, "c-bad": "%%asset 'unclosed\n1", "c-x": "%%check\n"})
    data = payload(await jp_fetch("nbassets", "api", "assets", method="POST", body=body))
    assert [a["key"] for a in data["assets"]] == ["pwn"]
    assert not target.exists()


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("not json", "the request body is not JSON"),
        ('{"cells": []}', 'the request body needs a string "path"'),
        (json.dumps({"path": NOTEBOOK, "cells": "x"}), '"cells" must be a list of cells'),
        (json.dumps({"path": NOTEBOOK, "cells": [3]}), "cells[0] is not an object"),
        (json.dumps({"path": NOTEBOOK, "cells": [{}]}), 'cells[0] needs a string "source"'),
        (
            json.dumps({"path": NOTEBOOK, "cells": [{"source": "1", "cell_type": "exe"}]}),
            "cells[0]: \"cell_type\" is 'exe'",
        ),
        (
            json.dumps({"path": NOTEBOOK, "cells": [{"source": "1", "id": 5}]}),
            'cells[0]: "id" must be a string',
        ),
        (
            json.dumps({"path": NOTEBOOK, "cells": [{"source": "1", "tags": [1]}]}),
            'cells[0]: "tags" must be a list of strings',
        ),
        (json.dumps({"path": NOTEBOOK, "env": 3}), '"env" must be a string'),
        (json.dumps({"path": NOTEBOOK, "env": "../prod"}), "'../prod' is not a valid environment"),
        (json.dumps({"path": "../x.ipynb", "cells": []}), "the notebook path '../x.ipynb'"),
    ],
)
async def test_a_bad_live_body_is_refused_with_a_message(
    jp_fetch: Fetch, root: Path, body: str, expected: str
) -> None:
    status, message = await refused(jp_fetch("nbassets", "api", "assets", method="POST", body=body))
    assert message.startswith(expected), message
    assert status in (400, 403)


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        ([{"source": "x" * (5 * 1024 * 1024)}], "the request body is 5,242,"),
        ([{"source": ""}] * 5001, "the request sends 5,001 cells, over the limit of 5,000"),
    ],
)
async def test_an_oversized_live_body_is_a_json_400(
    jp_fetch: Fetch, root: Path, cells: list[dict[str, str]], expected: str
) -> None:
    body = json.dumps({"path": NOTEBOOK, "cells": cells})
    for route in ("assets", "lineage"):
        status, message = await refused(
            jp_fetch("nbassets", "api", route, method="POST", body=body)
        )
        assert (status, message.startswith(expected)) == (400, True), message


async def test_a_live_post_needs_authentication_and_xsrf(
    jp_fetch: Fetch, jp_serverapp: Any, root: Path
) -> None:
    body = live_body(CELLS)
    for route in ("assets", "lineage"):
        with pytest.raises(HTTPClientError) as info:
            await jp_fetch(
                "nbassets", "api", route, method="POST", body=body, headers={"Authorization": ""}
            )
        assert info.value.code == 403
    token = jp_serverapp.identity_provider.token
    login = await jp_fetch(
        "nbassets", "api", "status", params={"token": token}, headers={"Authorization": ""}
    )
    cookie = next(
        c.split(";")[0] for c in login.headers.get_list("Set-Cookie") if c.startswith("username-")
    )
    cookie_only = {"Authorization": "", "Cookie": cookie}
    status, message = await refused(
        jp_fetch("nbassets", "api", "assets", method="POST", body=body, headers=cookie_only)
    )
    assert (status, message) == (403, "'_xsrf' argument missing from POST")
    with_xsrf = {"Authorization": "", "Cookie": f"{cookie}; _xsrf=abc", "X-XSRFToken": "abc"}
    answer = await jp_fetch(
        "nbassets", "api", "assets", method="POST", body=body, headers=with_xsrf
    )
    assert payload(answer)["notebook"] == NOTEBOOK


async def test_a_partitioned_asset_is_one_row_with_counts(
    jp_fetch: Fetch, jp_root_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 13: the panel shows a partitioned asset as one row, its partitions' worst, counted."""
    monkeypatch.setenv("NBASSETS_NOW", "2024-01-06T00:00:00")  # five complete days
    (jp_root_dir / "pyproject.toml").write_text('[tool.nbassets]\nprod = "warehouse"\n')
    cells = {"c-days": "%%asset days --partition daily:2024-01-01\nstr(partition)"}
    notebook = write_notebook(jp_root_dir / "notebooks" / "days.ipynb", cells)
    session = Session(Project.find(notebook), namespace={"__session__": str(notebook)})
    try:
        for day in ("2024-01-02", "2024-01-04"):
            line = f"days --partition daily:2024-01-01 --partition-key {day}"
            run_cell(session, line, "str(partition)")
    finally:
        session.close()
    response = await jp_fetch("nbassets", "api", "assets", params={"path": "notebooks/days.ipynb"})
    rows = payload(response)["assets"]
    assert [row["key"] for row in rows] == ["days"]
    assert rows[0]["label"] == "missing: 3 of 5 partitions, never built", rows[0]
