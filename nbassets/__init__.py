"""nbassets: build production data assets from Jupyter notebooks, with provenance.

In a notebook: ``%load_ext nbassets``, then ``%%asset NAME`` cells. From Python:
``nbassets.load(key, env="prod")``, ``nbassets.save(key, value, env)``,
``nbassets.status()``, ``nbassets.Project.find()``.
Importing this package is cheap: pandas, pyarrow and IPython load only when used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .api import load, save, status
from .config import Project
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
