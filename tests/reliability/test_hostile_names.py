"""Held: a hostile asset key or env name is refused with a clear error wherever a name enters.

Path traversal (``../x``, ``..``, slashes, an absolute path), NUL, very long names, Unicode
look-alikes and invisible characters (a full-width or Cyrillic letter, a zero-width space, a
right-to-left override), names reserved by Python or by Windows, whitespace and names that look
like options. Each is typed where a name enters: the magics of a real IPython shell
(``%%asset``, ``--deps``, ``%%check``, ``%diff``, ``%lineage``, ``%materialize``, ``%check``,
``%nbassets env``), ``nbassets.save`` and ``load``, every CLI command that takes a key or an
env, and the server's ``env=``. Each is refused before any file is created: no folder named
after it appears anywhere, and production's tree is byte-identical.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from helpers import TestingShell, tree_listing, unchanged, write_notebook
from IPython.core.error import UsageError
from tornado.httpclient import HTTPClientError, HTTPResponse

import nbassets
from nbassets.cli import main
from nbassets.errors import ConfigError, InvalidAssetKey

pytest_plugins = ("pytest_jupyter.jupyter_server",)

SANDBOX = "ci-x"  # the shop fixture's sandbox
KERNEL = "dev-tester-nogit"  # the kernel's default env in a project without git
Fetch = Callable[..., Awaitable[HTTPResponse]]

HOSTILE_KEYS = {
    "dot-dot-slash": "../x",
    "dot-dot": "..",
    "slash": "a/b",
    "absolute": "/etc/passwd",
    "nul": "a\x00b",
    "65-chars": "x" * 65,
    "4096-chars": "x" * 4096,
    "full-width": "ｏrders",
    "cyrillic": "оrders",
    "zero-width-space": "orders\u200b",
    "right-to-left-override": "orders\u202e",
    "upper-case": "Orders",
    "windows-device": "CON",
    "keyword": "class",
    "keyword-none": "None",
    "space": "a b",
    "option-like": "--help",
}
HOSTILE_ENVS = {
    "dot-dot-slash": "../prod",
    "dot-dot": "..",
    "dot": ".",
    "slash": "a/b",
    "absolute": "/tmp/x",
    "nul": "a\x00b",
    "101-chars": "x" * 101,
    "4096-chars": "x" * 4096,
    "full-width": "ｐrod",
    "zero-width-space": "prod\u200b",
    "right-to-left-override": "prod\u202e",
    "hidden": ".hidden",
    "dots-inside": "dev..x",
    "space": "a b",
    "option-like": "--help",
}
OPTION_LIKE = "--help"


def clear(message: str, name: str) -> bool:
    """The error names what was typed (as a literal), or is the grammar's usage error."""
    return repr(name) in message or "argument" in message or "selection" in message


def stores(project: Path) -> list[str]:
    """Every folder a write could have created: the sandboxes and each store's key folders."""
    found = [p.relative_to(project).as_posix() for p in (project / ".nbassets").glob("*/data/*")]
    found += [p.name for p in (project / ".nbassets").glob("*")]
    return sorted(found)


# --- the magics -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "hint"),
    [
        ("../x", "Try 'x'"),
        ("class", "Python keyword. Try 'class_'"),
        ("Orders", "Try 'orders'"),
        ("a" * 65, "65 characters long"),
        ("9lives", "Try '_9lives'"),
    ],
)
def test_bad_asset_names_are_refused_with_a_valid_suggestion(
    shell: TestingShell, name: str, hint: str
) -> None:
    with pytest.raises(UsageError, match="is not a valid asset key") as info:
        shell.run_cell(f"%%asset {name}\n1")
    assert hint in str(info.value)


def test_a_hostile_key_is_refused_by_every_magic(
    shell: TestingShell, project: Path, production: Path
) -> None:
    shell.run_cell("%%asset orders --no-preview\nraw_orders")
    before = stores(project)
    with unchanged(production):
        for name, word in ((name, shlex.quote(name)) for name in HOSTILE_KEYS.values()):
            for line in (
                f"%%asset {word}\n1",
                f"%%asset ok --deps {word}\n1",
                f"%%check {word}\nTrue",
                f"%diff {word}",
                f"%lineage {word}",
                f"%materialize {word}",
                f"%check {word}",
            ):
                with pytest.raises(UsageError) as info:
                    shell.run_cell(line)
                assert clear(str(info.value), name), (line, str(info.value))
    assert stores(project) == before
    assert "ok" not in shell.user_ns


def test_a_hostile_env_name_is_refused_by_the_kernel(
    shell: TestingShell, project: Path, production: Path
) -> None:
    with unchanged(production):
        for name in HOSTILE_ENVS.values():
            with pytest.raises(UsageError, match="is not a valid environment name"):
                shell.run_cell(f"%nbassets env {shlex.quote(name)}")
        shell.run_cell("%%asset orders --no-preview\nraw_orders")  # still in the same sandbox
    assert stores(project) == sorted([KERNEL, f".nbassets/{KERNEL}/data/orders"])


# --- nbassets.save and load -------------------------------------------------------------------


def test_a_hostile_key_is_refused_by_save(project: Path, production: Path) -> None:
    with unchanged(production):
        for name in HOSTILE_KEYS.values():
            for env in ("prod", SANDBOX):
                with pytest.raises(InvalidAssetKey, match="is not a valid asset key") as info:
                    nbassets.save(name, {"x": 1}, env=env)
                assert repr(name) in str(info.value)
    assert not (project / ".nbassets").exists()


def test_a_hostile_env_name_is_refused_by_save_and_load(project: Path, production: Path) -> None:
    with unchanged(production):
        for name in HOSTILE_ENVS.values():
            with pytest.raises(ConfigError, match="is not a valid environment name") as info:
                nbassets.save("orders", {"x": 1}, env=name)
            assert repr(name) in str(info.value)
            with pytest.raises(ConfigError, match="is not a valid environment name"):
                nbassets.load("raw_orders", env=name)
    assert not (project / ".nbassets").exists()


# --- the command line -------------------------------------------------------------------------


def cli(*args: str) -> Any:
    return CliRunner().invoke(main, list(args))


def key_commands(name: str) -> list[list[str]]:
    """Every command that takes an asset key, given ``name``."""
    return [
        ["why", "--env", SANDBOX, "--", name],  # after "--", "--help" is a name too
        ["history", "--env", SANDBOX, "--", name],
        ["diff", "--from", "prod", "--to", SANDBOX, "--", name],
        ["lineage", "--env", SANDBOX, "--", name],
        ["materialize", "--select", name, "--env", SANDBOX, "--no-progress"],
        ["check", "--select", name, "--env", SANDBOX],
    ]


def env_commands(name: str) -> list[list[str]]:
    """Every command that takes an env, given ``name``."""
    return [
        ["status", "--env", name],
        ["plan", "--env", name],
        ["why", "raw_orders", "--env", name],
        ["history", "raw_orders", "--env", name],
        ["lineage", "--env", name],
        ["diff", "raw_orders", "--from", name],
        ["diff", "raw_orders", "--to", name],
        ["check", "--env", name],
        ["materialize", "--env", name, "--no-progress"],
        ["gc", "--keep", "1", "--yes", "--env", name],
    ]


def test_a_hostile_key_is_refused_by_the_cli(shop: Path) -> None:
    before = tree_listing(shop / ".nbassets")
    with unchanged(shop / "warehouse"):
        for name in HOSTILE_KEYS.values():
            for args in key_commands(name):
                result = cli(*args)
                # an unknown name is bad usage (2); a selection of no asset a DependencyError (1)
                assert result.exit_code == (1 if "--select" in args else 2), (args, result.output)
                assert result.stderr.startswith("error: "), (args, result.stderr)
                assert repr(name) in result.stderr, (args, result.stderr)
    assert tree_listing(shop / ".nbassets") == before


def test_a_hostile_env_name_is_refused_by_the_cli(shop: Path) -> None:
    before = tree_listing(shop / ".nbassets")
    with unchanged(shop / "warehouse"):
        for name in HOSTILE_ENVS.values():
            for args in env_commands(name):
                result = cli(*args)
                assert result.exit_code == 2, (args, result.output)
                if name != OPTION_LIKE:  # click takes "--env --help" for a missing value
                    expected = f"error: {name!r} is not a valid environment name"
                    assert result.stderr.startswith(expected), (args, result.stderr)
    assert tree_listing(shop / ".nbassets") == before


# --- the server -------------------------------------------------------------------------------


@pytest.fixture
def jp_server_config() -> dict[str, Any]:
    return {
        "ServerApp": {
            "jpserver_extensions": {"nbassets": True, "jupyter_server_terminals": False},
            "allow_unauthenticated_access": False,
        },
    }


async def test_a_hostile_env_name_is_refused_by_the_server(
    jp_fetch: Fetch, jp_root_dir: Path
) -> None:
    (jp_root_dir / "pyproject.toml").write_text('[tool.nbassets]\nprod = "warehouse"\n')
    write_notebook(jp_root_dir / "n.ipynb", {"c1": "%%asset orders\n1"})
    nbassets.save("orders", 1, project=nbassets.Project.find(jp_root_dir))
    with unchanged(jp_root_dir):
        for name in HOSTILE_ENVS.values():
            for route in ("assets", "lineage"):
                with pytest.raises(HTTPClientError) as info:
                    params = {"path": "n.ipynb", "env": name}
                    await jp_fetch("nbassets", "api", route, params=params)
                assert info.value.response is not None
                message = json.loads(info.value.response.body)["message"]
                assert info.value.code == 400, (name, route, message)
                assert "is not a valid environment name" in message, (name, route, message)


# --- a trailing line break ------------------------------------------------------------------------


def test_a_name_ending_in_a_line_break_is_refused(shop: Path) -> None:
    with unchanged(shop / "warehouse"):
        with pytest.raises(InvalidAssetKey):
            nbassets.save("orders\n", {"x": 1}, env=SANDBOX)
        with pytest.raises(ConfigError):
            nbassets.save("orders", {"x": 1}, env="dev\n")
        for args in (
            ["status", "--env", "prod\n"],
            ["gc", "--keep", "1", "--yes", "--env", "dev\n"],
        ):
            result = cli(*args)
            assert result.exit_code == 2, (args, result.output)
    assert sorted(p.name for p in (shop / ".nbassets").iterdir()) == [SANDBOX]
