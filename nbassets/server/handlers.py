"""The routes of the nbassets server extension, under ``<base_url>/nbassets/api/``.

Each handler parses the request, calls the core (``overview``, ``exporter``) and presents the
result as JSON. Every verb is ``@tornado.web.authenticated`` and ``@authorized`` on the
``contents`` resource (reads are GET, actions POST, so jupyter_server checks XSRF on actions).
``POST assets`` and ``POST lineage`` are reads too (``@authorized("read")``) whose body
carries the editor's current cells (:mod:`.livecells`); as POSTs they pass the XSRF check.
Errors a client can cause become ``{"message": ...}`` with their status in one place,
:meth:`NbAssetsHandler.write_error`.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import tornado.web
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join

from ..config import Project
from ..environments import PROD, validate_env_name
from ..errors import CatalogDamagedError, NbAssetsError, StorageError
from ..exporter import export_notebooks
from ..health import env_health
from ..model import LineageEdge, LineageNode
from ..notebookfile import Cell
from ..overview import notebook_lineage, notebook_overview
from ..render.lineage import Lineage
from ..version import __version__
from .livecells import parse_live_request
from .paths import EXAMPLE, RequestRefused, confine

API = ("nbassets", "api")
# Exports run in worker threads here; two exports both rewrite pipelines/__init__.py and
# definitions.py, so one at a time (each file itself is written atomically).
_EXPORTING = threading.Lock()


def error_response(error: BaseException) -> tuple[int, str] | None:
    """The one error mapper: ``(status, message)`` for an error to answer as JSON, else ``None``.

    A refused request keeps its status (400, 403, 404); a store the server cannot read or
    write (damaged, locked, newer, read-only, full, not permitted) is the server's state
    (500, with the fix); any other ``NbAssetsError`` is bad input (400).
    """
    if isinstance(error, RequestRefused):
        return error.status, error.message
    if isinstance(error, CatalogDamagedError | StorageError):
        return 500, str(error)
    if isinstance(error, NbAssetsError):
        return 400, str(error)
    return None


class NbAssetsHandler(APIHandler):
    """Base handler: the server root, argument parsing, JSON replies and the error mapper."""

    auth_resource = "contents"  # reading notebooks and writing the export are contents access

    @property
    def root_dir(self) -> Path:
        """The folder the server serves; every notebook path is confined to it."""
        root = self.settings.get("server_root_dir") or self.contents_manager.root_dir
        return Path(root).expanduser()

    def notebook(self, path: str | None) -> Path:
        """The notebook file ``path`` names, refused unless it is a notebook under the root."""
        return confine(self.root_dir, path)

    def query_env(self) -> str | None:
        """The optional ``env`` query argument (default: the user's dev sandbox)."""
        env = self.get_query_argument("env", None)
        return validate_env_name(env) if env else None

    def notebook_request(self) -> tuple[Path, str | None, list[Cell] | None]:
        """The notebook, env and cells a read asks about: the query of a GET, or the JSON
        body of a POST (whose cells, when sent, stand for the file's)."""
        if self.request.method != "POST":
            return self.notebook(self.get_query_argument("path", None)), self.query_env(), None
        live = parse_live_request(self.request.body)
        env = validate_env_name(live.env) if live.env else None
        return self.notebook(live.path), env, live.cells

    def body_argument(self, name: str) -> str:
        """A string field of the JSON request body."""
        try:
            body = json.loads(self.request.body or b"{}")
        except ValueError as exc:
            raise RequestRefused(
                400, f'the request body is not JSON ({exc}); send {{"{name}": "{EXAMPLE}"}}.'
            ) from exc
        value = body.get(name) if isinstance(body, dict) else None
        if not isinstance(value, str):
            raise RequestRefused(
                400, f'the request body needs a string "{name}", e.g. {{"{name}": "{EXAMPLE}"}}.'
            )
        return value

    async def reply(self, compute: Callable[[], Any]) -> None:
        """Run ``compute`` (file and catalog reads) off the event loop and answer its JSON."""
        payload = await asyncio.to_thread(compute)
        await self.finish(json.dumps(payload))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Answer a mapped error as ``{"message": ...}`` with its status; others as jupyter does."""
        exc_info = kwargs.get("exc_info")
        mapped = error_response(exc_info[1]) if exc_info else None
        if mapped is None:
            super().write_error(status_code, **kwargs)
            return
        status, message = mapped
        self.set_status(status)
        self.finish(json.dumps({"message": message}))

    def log_exception(
        self,
        typ: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Log a mapped error in one line (it is the client's), anything else with its traceback."""
        mapped = error_response(value) if value is not None else None
        if mapped is None:
            super().log_exception(typ, value, tb)
        else:
            self.log.warning("nbassets: %s %s: %s", mapped[0], self._request_summary(), mapped[1])


def with_layout(payload: dict[str, Any]) -> dict[str, Any]:
    """``payload`` (nodes, edges) with its ``layout``, computed by the code of ``%lineage``."""
    nodes = [LineageNode(n["key"], n["status"], n["label"]) for n in payload["nodes"]]
    edges = [LineageEdge(e["upstream"], e["downstream"], e["origin"]) for e in payload["edges"]]
    return {**payload, "layout": Lineage(nodes, edges).geometry()}


class StatusHandler(NbAssetsHandler):
    """``GET status``: the version, so the front end knows the server extension is there."""

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        await self.finish(json.dumps({"version": __version__}))


class NotebookViewHandler(NbAssetsHandler):
    """A view of one notebook: ``GET ?path=notebooks/x.ipynb[&env=E]`` reads the saved file;
    ``POST`` ``{"path", "env"?, "cells"?}`` answers the same for the cells the editor holds."""

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        await self._answer()

    @tornado.web.authenticated
    @authorized("read")
    async def post(self) -> None:
        await self._answer()

    async def _answer(self) -> None:
        notebook, env, cells = self.notebook_request()
        await self.reply(lambda: self.view(Project.find(notebook), notebook, env, cells))

    def view(
        self, project: Project, notebook: Path, env: str | None, cells: list[Cell] | None
    ) -> Any:
        raise NotImplementedError


class AssetsHandler(NotebookViewHandler):
    """``assets``: the notebook's assets and their state."""

    def view(
        self, project: Project, notebook: Path, env: str | None, cells: list[Cell] | None
    ) -> Any:
        return notebook_overview(project, notebook, env, cells)


class LineageHandler(NotebookViewHandler):
    """``lineage``: nodes with status, edges with origin, and ``layout``: the drawing
    ``%lineage`` shows, as :meth:`Lineage.geometry` (the panel draws it rather than laying
    the graph out again)."""

    def view(
        self, project: Project, notebook: Path, env: str | None, cells: list[Cell] | None
    ) -> Any:
        return with_layout(notebook_lineage(project, notebook, env, cells))


class HealthHandler(NbAssetsHandler):
    """``GET health?path=notebooks/x.ipynb[&env=prod]``: the health of every asset of the
    notebook's project in an env (default: production), as :func:`nbassets.health.env_health`."""

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        notebook = self.notebook(self.get_query_argument("path", None))
        env = self.query_env() or PROD
        await self.reply(lambda: env_health(Project.find(notebook), env))


class ExportHandler(NbAssetsHandler):
    """``POST export`` ``{"path": "notebooks/x.ipynb"}``: write the notebook's module."""

    @tornado.web.authenticated
    @authorized
    async def post(self) -> None:
        notebook = self.notebook(self.body_argument("path"))
        await self.reply(lambda: export(notebook))


def export(notebook: Path) -> dict[str, list[str]]:
    """Export one notebook; the files written and unchanged, relative to its project."""
    project = Project.find(notebook)
    with _EXPORTING:
        result = export_notebooks(project, [notebook])
    return {
        "written": [project.relative(path) for path in result.written],
        "unchanged": [project.relative(path) for path in result.unchanged],
        "removed": [project.relative(path) for path in result.removed],
    }


ROUTES: tuple[tuple[str, type[NbAssetsHandler]], ...] = (
    ("status", StatusHandler),
    ("assets", AssetsHandler),
    ("lineage", LineageHandler),
    ("health", HealthHandler),
    ("export", ExportHandler),
)


def setup_handlers(web_app: tornado.web.Application) -> None:
    """Add the nbassets routes under ``<base_url>/nbassets/api/`` to the server's app."""
    base_url = web_app.settings.get("base_url", "/")
    web_app.add_handlers(
        ".*$", [(url_path_join(base_url, *API, name), handler) for name, handler in ROUTES]
    )
