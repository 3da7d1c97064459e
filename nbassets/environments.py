"""Environment names, the store folder of each, and the guard that keeps notebooks out of prod."""

from __future__ import annotations

import getpass
import os
import re
from pathlib import Path

from .config import Project
from .errors import ConfigError, ProductionWriteError
from .gitinfo import git_state

PROD = "prod"
_ENV_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}\Z")
_SLUG_CHARS = re.compile(r"[^a-z0-9]+")


def validate_env_name(name: str) -> str:
    """Return ``name`` if it can name an environment (and its sandbox folder)."""
    if not _ENV_NAME.match(name) or ".." in name:
        raise ConfigError(
            f"{name!r} is not a valid environment name: use letters, digits, '.', '_' or '-', "
            "starting with a letter or digit (e.g. 'dev-alice-feature' or 'ci-1234')."
        )
    return name


def current_user() -> str:
    """The user name recorded in provenance (``NBASSETS_USER`` overrides the login name)."""
    name = os.environ.get("NBASSETS_USER")
    if name:
        return name
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def default_dev_env(project: Project) -> str:
    """``dev-<user>-<branch>``, both slugged; ``NBASSETS_ENV`` overrides it."""
    override = os.environ.get("NBASSETS_ENV")
    if override and override != PROD:
        return validate_env_name(override)
    branch = git_state(project.root).branch or "nogit"
    return f"dev-{_slug(current_user())}-{_slug(branch)}"


def store_path(project: Project, env: str) -> Path:
    """The folder of ``env``'s store: production's, or ``<sandbox_root>/<env>``."""
    if env == PROD:
        return project.prod_path
    return project.sandbox_root / validate_env_name(env)


def sandbox_path(project: Project, env: str) -> Path:
    """The store folder of a sandbox env, refusing any that is, or resolves into, production.

    Symlinks are resolved, so a sandbox folder linked to the production store
    (or to a folder inside it) is refused as well.
    """
    if env == PROD:
        raise ProductionWriteError(
            "a notebook kernel cannot build into 'prod': production is built from the code "
            "on main by `nbassets materialize --env prod`. Build into your sandbox instead "
            "(%nbassets env dev-<you>-<branch>)."
        )
    path = store_path(project, env)
    resolved = path.resolve()
    prod = project.prod_path
    if resolved == prod or prod in resolved.parents or resolved in prod.parents:
        raise ProductionWriteError(
            f"the sandbox store of env {env!r} ({path}) resolves to {resolved}, which is or "
            f"contains the production store {prod}; a notebook kernel never writes production. "
            "Point sandbox_root in [tool.nbassets] (or the symlink) somewhere else."
        )
    return path


def _slug(text: str) -> str:
    return _SLUG_CHARS.sub("-", text.lower()).strip("-") or "x"
