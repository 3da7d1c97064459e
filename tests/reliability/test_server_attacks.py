"""Held: the server extension serves only its root, only to authenticated users, with XSRF.

A real Jupyter server (pytest-jupyter) with the extension enabled and authentication on. Every
route refuses a request without a token (403); a POST authenticated by the login cookie alone,
without the ``_xsrf`` token, is refused (jupyter_server skips the XSRF check for token
requests, so the test logs in with the token once and then sends only the cookie). Paths out
of the root are refused (403): ``..`` in any spelling (encoded, backslashes), absolute paths,
and symbolic links that lead out. The project in the root has a production store: its tree is
byte-identical after every attack, and no export is written.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import pytest
import test_server
from helpers import tree_hash, unchanged, write_notebook
from jupyter_server.utils import url_path_join
from tornado.httpclient import HTTPClientError, HTTPResponse

from nbassets.server import ROUTES, RequestRefused, confine

pytest_plugins = ("pytest_jupyter.jupyter_server",)

# the server's own suite's fixtures: the extension enabled with authentication on, and a
# project in the server root whose notebook has assets in every state and production a store
jp_server_config = test_server.jp_server_config
root = test_server.root
NOTEBOOK, payload, refused = test_server.NOTEBOOK, test_server.payload, test_server.refused

Fetch = Callable[..., Awaitable[HTTPResponse]]


@pytest.fixture
def outside(tmp_path: Path, root: Path) -> Path:
    """A valid notebook outside the server root (served if confinement failed)."""
    return write_notebook(tmp_path / "outside.ipynb", {"c-1": "%%asset secret\n1"})


@pytest.fixture
def raw_get(
    http_server_client: Any, jp_base_url: str, jp_auth_header: dict[str, str]
) -> Callable[[str, str], Awaitable[HTTPResponse]]:
    """GET a route with a query string sent exactly as written (no encoding by the client)."""

    def get(route: str, query: str) -> Awaitable[HTTPResponse]:
        url = url_path_join(jp_base_url, "nbassets", "api", route) + "?" + query
        return http_server_client.fetch(url, headers=dict(jp_auth_header))

    return get


# --- authentication and XSRF ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("route", "method", "body"),
    [
        ("status", "GET", None),
        ("assets", "GET", None),
        ("lineage", "GET", None),
        ("export", "POST", json.dumps({"path": NOTEBOOK})),
    ],
)
async def test_unauthenticated_requests_are_refused(
    jp_fetch: Fetch, root: Path, route: str, method: str, body: str | None
) -> None:
    request = jp_fetch(
        "nbassets",
        "api",
        route,
        method=method,
        body=body,
        params={"path": NOTEBOOK} if method == "GET" else None,
        headers={"Authorization": ""},
    )
    with unchanged(root / "warehouse"), pytest.raises(HTTPClientError) as info:
        await request
    assert info.value.code == 403
    assert not (root / "pipelines").exists()


async def test_a_cookie_authenticated_post_without_xsrf_is_refused(
    jp_fetch: Fetch, jp_serverapp: Any, root: Path
) -> None:
    token = jp_serverapp.identity_provider.token
    login = await jp_fetch(
        "nbassets", "api", "status", params={"token": token}, headers={"Authorization": ""}
    )
    jar: SimpleCookie = SimpleCookie()
    for header in login.headers.get_list("Set-Cookie"):
        jar.load(header)
    login_cookie = next(f"{k}={m.value}" for k, m in jar.items() if k.startswith("username-"))
    cookie_only = {"Authorization": "", "Cookie": login_cookie}
    read = await jp_fetch(
        "nbassets", "api", "assets", params={"path": NOTEBOOK}, headers=cookie_only
    )
    assert payload(read)["notebook"] == NOTEBOOK  # the cookie alone authenticates reads

    body = json.dumps({"path": NOTEBOOK})
    with unchanged(root / "warehouse"):
        status, message = await refused(
            jp_fetch("nbassets", "api", "export", method="POST", body=body, headers=cookie_only)
        )
    assert (status, message) == (403, "'_xsrf' argument missing from POST")
    assert not (root / "pipelines").exists()

    with_xsrf = {**cookie_only, "Cookie": f"{login_cookie}; _xsrf=abc123", "X-XSRFToken": "abc123"}
    written = await jp_fetch(
        "nbassets", "api", "export", method="POST", body=body, headers=with_xsrf
    )
    assert "pipelines/demo.py" in payload(written)["written"]


def test_every_verb_is_authenticated(jp_serverapp: Any) -> None:
    for name, handler in ROUTES:
        assert jp_serverapp.web_app._check_handler_auth(name, handler) == []


# --- confinement to the server root -----------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "path=%2e%2e/outside.ipynb",
        "path=%2e%2e%2foutside.ipynb",
        "path=notebooks/%2e%2e/%2e%2e/outside.ipynb",
        "path=%2E%2E%5Coutside.ipynb",
    ],
)
async def test_encoded_dot_dot_is_refused(
    raw_get: Any, root: Path, outside: Path, query: str
) -> None:
    with unchanged(root / "warehouse"):
        status, message = await refused(raw_get("assets", query))
    assert status == 403
    assert "contains '..'" in message


async def test_paths_out_of_the_root_are_refused(
    jp_fetch: Fetch, root: Path, outside: Path
) -> None:
    sibling = write_notebook(root.parent / f"{root.name}2" / "nb.ipynb", {"c-1": "%%asset x\n1"})
    (root / "escape.ipynb").symlink_to(outside)
    (root / "twin").symlink_to(sibling.parent, target_is_directory=True)
    cases = {
        "../outside.ipynb": "contains '..'",
        f"../{root.name}2/nb.ipynb": "contains '..'",
        str(outside): "is absolute",
        "escape.ipynb": "resolves (through a symbolic link) to a file outside the server root",
        "twin/nb.ipynb": "resolves (through a symbolic link) to a file outside the server root",
    }
    production = tree_hash(root / "warehouse")
    for path, expected in cases.items():
        for route in ("assets", "lineage"):
            status, message = await refused(
                jp_fetch("nbassets", "api", route, params={"path": path})
            )
            assert (path, status) == (path, 403)
            assert expected in message
        export = jp_fetch(
            "nbassets", "api", "export", method="POST", body=json.dumps({"path": path})
        )
        assert (await refused(export))[0] == 403
    assert tree_hash(root / "warehouse") == production
    assert not (root / "pipelines").exists()
    assert not (root.parent / "pipelines").exists()


def test_confine_compares_parts_not_string_prefixes(tmp_path: Path) -> None:
    root = tmp_path / "x" / "root"
    root.mkdir(parents=True)
    sibling = write_notebook(tmp_path / "x" / "root2" / "nb.ipynb", {"c-1": "1"})
    (root / "twin").symlink_to(sibling.parent, target_is_directory=True)
    assert str(sibling.resolve()).startswith(str(root.resolve()))  # a prefix check would pass
    with pytest.raises(RequestRefused) as info:
        confine(root, "twin/nb.ipynb")
    assert info.value.status == 403


@pytest.mark.parametrize(
    ("path", "status"),
    [
        (None, 400),
        ("   ", 400),
        ("a\x00.ipynb", 400),
        ("/etc/passwd", 403),
        ("\\server\\share\\x.ipynb", 403),
        ("..", 403),
        ("../root2/nb.ipynb", 403),
        ("notebooks/../../x.ipynb", 403),
        ("notebooks/../a.ipynb", 403),  # '..' is never needed: refused even when it stays inside
        ("notebooks\\..\\..\\x.ipynb", 403),
        ("loop.ipynb", 400),
        ("notebooks/missing.ipynb", 404),
        ("notebooks", 400),
        ("notes.txt", 400),
    ],
)
def test_confine_refuses(tmp_path: Path, path: str | None, status: int) -> None:
    root = tmp_path / "root"
    write_notebook(root / "notebooks" / "a.ipynb", {"c-1": "1"})
    write_notebook(tmp_path / "root2" / "nb.ipynb", {"c-1": "1"})
    (root / "notes.txt").write_text("not a notebook")
    (root / "loop.ipynb").symlink_to(root / "loop.ipynb")
    with pytest.raises(RequestRefused) as info:
        confine(root, path)
    assert info.value.status == status
    assert info.value.message == str(info.value)
