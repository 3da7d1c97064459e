"""The Python API for scripts, tests and other tools: the same core the magics use."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from .codebase import Code
from .config import Project
from .definitions import notebook_definitions, notebook_paths
from .environments import PROD, current_user, default_dev_env, store_path
from .errors import AssetNotFound, did_you_mean
from .model import env_model
from .policy import SAVE, authorize
from .spec import validate_key
from .status import EXTERNAL_CODE, AssetStatus
from .store.catalog import Materialization
from .store.serializers import choose_io
from .store.stores import now, project_store_opener
from .store.workspace import Workspace


def load(
    key: str, env: str = PROD, version: str | None = None, *, project: Project | None = None
) -> Any:
    """:func:`nbassets.load` (documented there, where users read it)."""
    project = project or Project.find()
    store = project_store_opener(project)(env, store_path(project, env), writable=False)
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
    """:func:`nbassets.status` (documented there)."""
    project = project or Project.find(path)
    workspace = Workspace(project, env or default_dev_env(project))
    try:
        definitions = notebook_definitions(notebook_paths(project), project, workspace.keys())
        return env_model(workspace, Code.of_definitions("notebooks", definitions)).rows
    finally:
        workspace.close()


def save(
    key: str,
    value: Any,
    env: str = PROD,
    *,
    io: str | None = None,
    source: str | None = None,
    project: Project | None = None,
) -> Materialization:
    """:func:`nbassets.save` (documented there); ``source`` defaults to this function's caller."""
    validate_key(key)
    project = project or Project.find()
    grant = authorize(project, env, SAVE)
    workspace = Workspace(project, env)
    try:
        return workspace.writer(grant).write(
            key,
            value,
            choose_io(value, io),
            code_version=EXTERNAL_CODE,
            started_at=now(),
            source=source or _caller(),
            commit=grant.commit,
            dirty=grant.dirty,
            user=current_user(),
        )
    finally:
        workspace.close()


def _caller() -> str:
    frame = sys._getframe(2)
    return f"{frame.f_code.co_filename}:{frame.f_code.co_name}"
