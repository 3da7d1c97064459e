"""The nbassets Jupyter Server extension: a notebook's assets, lineage and export over HTTP.

Routes (under ``<base_url>/nbassets/api/``, all authenticated): ``GET status``,
``GET assets?path=``, ``GET lineage?path=``, ``POST assets`` / ``POST lineage`` with
``{"path", "env"?, "cells"?}`` (the editor's current cells, :mod:`.livecells`), ``POST export``
with ``{"path": ...}``.
Paths are relative to the server root and confined to it (:func:`confine`).

Jupyter Server loads it through the hooks of the ``nbassets`` package, which delegate here;
this module has its own hooks too, so ``jpserver_extensions = {"nbassets.server": true}``
works as well.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .handlers import ROUTES, setup_handlers
from .paths import RequestRefused, confine

if TYPE_CHECKING:
    from jupyter_server.serverapp import ServerApp

__all__ = [
    "ROUTES",
    "RequestRefused",
    "confine",
    "load_jupyter_server_extension",
    "setup_handlers",
]


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    """Where Jupyter Server finds the extension's loader."""
    return [{"module": "nbassets.server"}]


def load_jupyter_server_extension(server_app: ServerApp) -> None:
    """Add the nbassets routes to a running ``jupyter_server.serverapp.ServerApp``."""
    setup_handlers(server_app.web_app)
    server_app.log.info("nbassets server extension loaded: %snbassets/api/", server_app.base_url)


_load_jupyter_server_extension = load_jupyter_server_extension
