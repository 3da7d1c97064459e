"""What every ``nbassets`` command shares: errors and exit codes, the project, options, JSON."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any, TypeVar

import click

from ..config import Project
from ..environments import PROD, store_path
from ..errors import ConfigError, InvalidArgument, NbAssetsError, SpecError
from ..jsonvalues import jsonable
from ..store.catalog import Materialization
from ..store.stores import Store, project_store_opener

F = TypeVar("F", bound=Callable[..., Any])
_DEV = "your dev sandbox, dev-<user>-<branch>, over prod"
_DEV_STORE = "your dev sandbox, dev-<user>-<branch>"
_USAGE_ERRORS = (ConfigError, SpecError, InvalidArgument)  # exit 2; other nbassets errors exit 1


class CliError(click.ClickException):
    """Something failed: shown as ``error: <message>``, exit code 1."""

    exit_code = 1

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"error: {self.format_message()}", file=file, err=file is None)


class CliUsageError(CliError):
    """What was typed or configured is wrong: ``error: <message>``, exit code 2."""

    exit_code = 2


def usage_error(message: str) -> CliError:
    """An error in what the user typed (exit code 2)."""
    return CliUsageError(message)


class _Group(click.Group):
    """A group that turns nbassets' own errors into ``error: ...`` lines, not tracebacks."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except NbAssetsError as exc:
            error = CliUsageError if isinstance(exc, _USAGE_ERRORS) else CliError
            raise error(str(exc)) from None
        except ModuleNotFoundError as exc:  # commands import their core when they run
            if not (exc.name or "").startswith("nbassets"):
                raise
            raise CliError(
                f"`nbassets {ctx.invoked_subcommand}` needs {exc.name}, which this installation "
                "of nbassets does not have; reinstall nbassets (pip install --force-reinstall "
                "nbassets)."
            ) from None


class _Cli:
    """What every command shares: the project, found on first use."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @functools.cached_property
    def project(self) -> Project:
        return Project.find(self.folder)


pass_cli = click.make_pass_decorator(_Cli)


def env_option(default: str) -> Callable[[F], F]:
    return click.option(
        "--env", metavar="ENV", default=None, help=f"the environment (default: {default})"
    )


def deployed_env_option(what: str) -> Callable[[F], F]:
    """``--env`` of the commands that build or check: ``$NBASSETS_ENV``, else ``prod``."""
    return click.option(
        "--env",
        envvar="NBASSETS_ENV",
        default=PROD,
        show_default=True,
        metavar="ENV",
        help=f"{what} (default: $NBASSETS_ENV, else prod)",
    )


json_option = click.option(
    "--json", "as_json", is_flag=True, help="print JSON for machines instead of text"
)


def production_overrides(command: F) -> F:
    """``--allow-dirty`` and ``--no-git``: the production policy's explicit, recorded overrides."""
    command = click.option(
        "--no-git",
        is_flag=True,
        help="prod outside any git repository (a deployed image): the commit comes from "
        "$NBASSETS_COMMIT (also: NBASSETS_NO_GIT=1)",
    )(command)
    return click.option(
        "--allow-dirty",
        is_flag=True,
        help="build prod from a dirty tree, recorded as dirty (also: NBASSETS_ALLOW_DIRTY=1)",
    )(command)


# --- shared pieces ------------------------------------------------------------------------------


@contextmanager
def open_store(project: Project, env: str) -> Iterator[Store]:
    """``env``'s store, read-only (reading creates no file)."""
    store = project_store_opener(project)(env, store_path(project, env), writable=False)
    try:
        yield store
    finally:
        store.close()


def record_dict(m: Materialization) -> dict[str, Any]:
    """A materialization as JSON-ready values, with ``built_at``."""
    return {**asdict(m), "built_at": m.finished_at}


def echo_json(value: Any) -> None:
    click.echo(json.dumps(jsonable(value), indent=2))
