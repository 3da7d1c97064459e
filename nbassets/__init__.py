"""nbassets: build production data assets from Jupyter notebooks, with provenance.

In a notebook: ``%load_ext nbassets``, then ``%%asset NAME`` cells. From Python:
``nbassets.load(key, env="prod")``, ``nbassets.save(key, value, env)``,
``nbassets.status()``, ``nbassets.Project.find()``.
Importing this package is cheap: pandas, pyarrow and IPython load only when used.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import Project
from .environments import PROD
from .errors import NbAssetsError
from .status import AssetStatus
from .store.catalog import Materialization
from .version import __version__

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell
    from jupyter_server.serverapp import ServerApp

__all__ = [
    "AssetStatus",
    "Materialization",
    "NbAssetsError",
    "Project",
    "__version__",
    "load",
    "load_ipython_extension",
    "save",
    "status",
    "unload_ipython_extension",
]


# load, save and status import the core (``nbassets.api``) when first called: generated
# modules (``nbassets.runtime``) and the pytest plugin import this package and need none of it.


def load(
    key: str, env: str = PROD, version: str | None = None, *, project: Project | None = None
) -> Any:
    """The value of ``key`` stored in ``env``: its latest version, or ``version`` (a prefix).

    Versions are immutable, so any earlier version can be read until ``gc`` removes it.
    """
    from . import api

    return api.load(key, env, version, project=project)


def save(
    key: str,
    value: Any,
    env: str = PROD,
    *,
    io: str | None = None,
    source: str | None = None,
    project: Project | None = None,
) -> Materialization:
    """Store ``value`` as a new version of ``key`` in ``env`` (a script's or an ingest job's write).

    The version gets a full record: code version ``external`` (no asset code made
    it), the git commit and dirty flag, ``source`` (default: the calling script) and user.
    Production is refused from any process running an IPython shell (the production policy).
    """
    from . import api

    if source is None:
        caller = sys._getframe(1).f_code
        source = f"{caller.co_filename}:{caller.co_name}"
    return api.save(key, value, env, io=io, source=source, project=project)


def status(
    env: str | None = None, *, project: Project | None = None, path: str | Path = "."
) -> list[AssetStatus]:
    """Status rows of every asset the project's notebooks define or its stores hold.

    ``env`` defaults to your dev sandbox (``dev-<user>-<branch>``), layered over production.
    """
    from . import api

    return api.status(env, project=project, path=path)


def load_ipython_extension(shell: InteractiveShell) -> None:
    """``%load_ext nbassets``: register the magics (idempotent)."""
    from .magics import register

    register(shell)


def unload_ipython_extension(shell: InteractiveShell) -> None:
    """``%unload_ext nbassets``: remove the magics and the kernel's nbassets state."""
    from .magics import unregister

    unregister(shell)


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    """Jupyter Server: the nbassets server extension (routes under ``/nbassets/api/``)."""
    return [{"module": "nbassets"}]


def _load_jupyter_server_extension(server_app: ServerApp) -> None:
    """Jupyter Server: add the nbassets routes (imports jupyter_server only now)."""
    from .server import load_jupyter_server_extension

    load_jupyter_server_extension(server_app)


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """JupyterLab: where the built lab extension is (``nbassets/labextension``)."""
    return [{"src": "labextension", "dest": "nbassets"}]
