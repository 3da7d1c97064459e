"""The Python API for scripts, tests and other tools: the same core the magics use."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .config import Project
from .definitions import notebook_definitions, notebook_paths
from .environments import PROD, default_dev_env, store_path
from .errors import AssetNotFound, did_you_mean
from .status import AssetStatus, in_definition_order
from .stores import Store
from .workspace import Workspace


def load(
    key: str, env: str = PROD, version: str | None = None, *, project: Project | None = None
) -> Any:
    """The value of ``key`` stored in ``env``: its latest version, or ``version`` (a prefix).

    Versions are immutable, so any earlier version can be read until ``gc`` removes it.
    """
    project = project or Project.find()
    store = Store(env, store_path(project, env), writable=False)
    try:
        record = (
            store.catalog.latest_of(key) if version is None else store.catalog.version(key, version)
        )
        if record is None:
            known = store.catalog.keys()
            what = f"version {version!r} of asset {key!r}" if version else f"asset {key!r}"
            hint = did_you_mean(key, known) if key not in known else ""
            raise AssetNotFound(
                f"{what} is not stored in env {env!r} ({store.root}).{hint} "
                "Build it first, or pass another env."
            )
        return store.read(record)
    finally:
        store.close()


def status(
    env: str | None = None, *, project: Project | None = None, path: str | Path = "."
) -> list[AssetStatus]:
    """Status rows of every asset the project's notebooks define or its stores hold.

    ``env`` defaults to your dev sandbox (``dev-<user>-<branch>``), layered over production.
    """
    project = project or Project.find(path)
    workspace = Workspace(project, env or default_dev_env(project))
    try:
        definitions = notebook_definitions(notebook_paths(project), project, workspace.keys())
        rows = workspace.statuses(
            {key: d.code_version for key, d in definitions.items()},
            {key: d.deps for key, d in definitions.items()},
        )
        return in_definition_order(rows, definitions)
    finally:
        workspace.close()
