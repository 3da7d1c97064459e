"""Held: a catalog that is not a valid nbassets database is refused, never repaired or replaced.

DESIGN §4: every command that needs the catalog fails with an error that names the file, says
it is damaged and names the recovery command. Three kinds of garbage are put in place of a
real catalog: random bytes, another application's SQLite database and an empty (0-byte) file.
Each is tried on production's catalog and on a sandbox's, through every route that reads or
writes it: each CLI command, ``nbassets.save``/``load``/``status``, an ``%%asset`` cell in a
real shell and the server's ``GET assets``. The damaged file must be byte-identical afterwards,
and so must production's whole tree.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner
from helpers import TestingShell, tree_listing, unchanged, write_notebook, write_prod
from tornado.httpclient import HTTPClientError, HTTPResponse

import nbassets
from nbassets.cli import main
from nbassets.errors import CatalogDamagedError
from nbassets.store.sqlite_catalog import SqliteCatalog

pytest_plugins = ("pytest_jupyter.jupyter_server",)

SANDBOX = "ci-x"  # the shop fixture's sandbox
KERNEL = "dev-tester-nogit"  # the kernel's default env in a project without git
Fetch = Callable[..., Awaitable[HTTPResponse]]


def random_bytes(path: Path) -> None:
    path.write_bytes(os.urandom(8192))


def another_database(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE contacts (name TEXT, phone TEXT)")
    conn.execute("INSERT INTO contacts VALUES ('ann', '555')")
    conn.commit()
    conn.close()


def zero_bytes(path: Path) -> None:
    path.write_bytes(b"")


GARBAGE = {
    "random-bytes": random_bytes,
    "another-sqlite-db": another_database,
    "0-bytes": zero_bytes,
}


def damage(store: Path, kind: str) -> Path:
    catalog = store / "catalog.sqlite"
    catalog.unlink()
    GARBAGE[kind](catalog)
    return catalog


def assert_names_the_damage(message: str, catalog: Path) -> None:
    """The error names the file, says it is damaged, and names the recovery command."""
    assert str(catalog) in message, message
    assert "damaged" in message, message
    assert f"mv '{catalog}' '{catalog}.damaged'" in message or "nbassets doctor" in message


# --- the catalog itself ----------------------------------------------------------------------


@pytest.mark.parametrize("content", [b"this is not sqlite at all" * 100, None])
def test_damaged_catalog_is_refused_never_replaced(tmp_path: Path, content: bytes | None) -> None:
    path = tmp_path / "catalog.sqlite"
    if content is None:
        conn = sqlite3.connect(path)
        conn.execute("CREATE TABLE other (x)")
        conn.commit()
        conn.close()
    else:
        path.write_bytes(content)
    original = path.read_bytes()
    for writable in (True, False):
        with pytest.raises(CatalogDamagedError) as info:
            SqliteCatalog(path, writable=writable).latest()
        message = str(info.value)
        assert (
            str(path) in message
            and "damaged" in message
            and f"mv '{path}' '{path}.damaged'" in message
        )
    assert path.read_bytes() == original


# --- a project with a package, production and a sandbox ----------------------------------------


def commands(env: str, other: str) -> dict[str, list[str]]:
    deployed = ["--no-git"] if env == "prod" else []
    return {
        "status": ["status", "--env", env],
        "plan": ["plan", "--env", env],
        "why": ["why", "raw_orders", "--env", env],
        "history": ["history", "raw_orders", "--env", env],
        "lineage": ["lineage", "--env", env],
        "diff": ["diff", "raw_orders", "--from", env, "--to", other],
        "check": ["check", "--env", env, *deployed],
        "materialize": ["materialize", "--env", env, "--no-progress", *deployed],
        "gc": ["gc", "--keep", "1", "--yes", "--env", env, *deployed],
    }


@pytest.mark.parametrize("kind", list(GARBAGE))
@pytest.mark.parametrize("env", ["prod", SANDBOX])
def test_every_cli_command_refuses_a_garbage_catalog(shop: Path, env: str, kind: str) -> None:
    other = SANDBOX if env == "prod" else "prod"
    store = shop / "warehouse" if env == "prod" else shop / ".nbassets" / env
    catalog = damage(store, kind)
    garbage = catalog.read_bytes()
    production = shop / "warehouse"
    with unchanged(production):
        for name, args in commands(env, other).items():
            result = CliRunner().invoke(main, args)
            assert result.exit_code == 1, (name, result.output, result.exception)
            assert result.stderr.startswith("error: "), (name, result.stderr)
            assert "Traceback" not in result.output, (name, result.output)
            assert_names_the_damage(result.stderr, catalog)
    assert catalog.read_bytes() == garbage  # never repaired or replaced
    assert {p.name for p in store.iterdir()} == {"catalog.sqlite", "data"}


@pytest.mark.parametrize("kind", list(GARBAGE))
@pytest.mark.parametrize("env", ["prod", SANDBOX])
def test_the_python_api_refuses_a_garbage_catalog(shop: Path, env: str, kind: str) -> None:
    store = shop / "warehouse" if env == "prod" else shop / ".nbassets" / env
    catalog = damage(store, kind)
    garbage = catalog.read_bytes()
    files = tree_listing(store / "data")
    with unchanged(shop / "warehouse"):
        attempts = {
            "save": lambda: nbassets.save("raw_orders", pd.DataFrame({"id": [3]}), env=env),
            "load": lambda: nbassets.load("raw_orders", env=env),
            "status": lambda: nbassets.status(env),
        }
        for name, attempt in attempts.items():
            with pytest.raises(CatalogDamagedError) as info:
                attempt()
            assert_names_the_damage(str(info.value), catalog), name
    assert catalog.read_bytes() == garbage
    assert tree_listing(store / "data") == files  # save wrote no data file before refusing


@pytest.mark.parametrize("kind", list(GARBAGE))
@pytest.mark.parametrize("damaged", ["prod", KERNEL])
def test_a_kernel_build_refuses_a_garbage_catalog(
    shell: TestingShell, shop: Path, damaged: str, kind: str
) -> None:
    """``%%asset`` reads production's catalog (for inputs) and writes the sandbox's."""
    from IPython.core.error import UsageError

    if damaged == KERNEL:
        shell.run_cell("%%asset scratch --no-preview\n1")
    store = shop / "warehouse" if damaged == "prod" else shop / ".nbassets" / damaged
    catalog = damage(store, kind)
    garbage = catalog.read_bytes()
    with unchanged(shop / "warehouse"):
        with pytest.raises(UsageError) as info:
            shell.run_cell("%%asset orders --no-preview\nraw_orders")
        assert_names_the_damage(str(info.value), catalog)
        shell.run_cell("%unload_ext nbassets")  # closes the kernel's stores
        shell.run_cell("%load_ext nbassets")
    assert catalog.read_bytes() == garbage


# --- the server -----------------------------------------------------------------------------


@pytest.fixture
def jp_server_config() -> dict[str, Any]:
    return {
        "ServerApp": {
            "jpserver_extensions": {"nbassets": True, "jupyter_server_terminals": False},
            "allow_unauthenticated_access": False,
        },
    }


@pytest.mark.parametrize("kind", list(GARBAGE))
async def test_the_server_refuses_a_garbage_catalog(
    jp_fetch: Fetch, jp_root_dir: Path, kind: str
) -> None:
    (jp_root_dir / "pyproject.toml").write_text('[tool.nbassets]\nprod = "warehouse"\n')
    write_prod(jp_root_dir, "raw_orders", pd.DataFrame({"id": [1, 2]}))
    write_notebook(jp_root_dir / "n.ipynb", {"c1": "%%asset orders\nraw_orders"})
    catalog = damage(jp_root_dir / "warehouse", kind)
    garbage = catalog.read_bytes()
    with unchanged(jp_root_dir / "warehouse"):
        for env in ("prod", None):
            params = {"path": "n.ipynb", **({"env": env} if env else {})}
            with pytest.raises(HTTPClientError) as info:
                await jp_fetch("nbassets", "api", "assets", params=params)
            assert info.value.response is not None
            message = json.loads(info.value.response.body)["message"]
            assert info.value.code == 500, (info.value.code, message)
            assert_names_the_damage(message, catalog.resolve())
    assert catalog.read_bytes() == garbage
