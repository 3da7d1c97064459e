"""``nbassets rollback KEY --to VERSION [--env E]``: an earlier version becomes the latest again."""

from __future__ import annotations

import click

from .common import (
    _Cli,
    deployed_env_option,
    echo_json,
    json_option,
    pass_cli,
    production_overrides,
)


@click.command()
@click.argument("key")
@click.option(
    "--to",
    "version",
    metavar="VERSION",
    required=True,
    help="the data version (or a prefix of it) to go back to; see `nbassets history`",
)
@deployed_env_option("the environment to roll back in")
@production_overrides
@json_option
@pass_cli
def rollback(
    cli: _Cli,
    key: str,
    version: str,
    env: str,
    allow_dirty: bool,
    no_git: bool,
    as_json: bool,
) -> None:
    """Make an earlier version of an asset its latest again (no rebuild).

    A new record points at the earlier version's data, naming who rolled it back, when, and
    the version it replaced (`nbassets why` shows it). Downstream assets turn stale, as after
    any change. Rolling back production follows the production policy.
    """
    from ..policy import Overrides
    from ..rollback import rollback as roll_back

    done = roll_back(cli.project, env, key, version, Overrides.resolve(allow_dirty, no_git))
    record = done.record
    if as_json:
        echo_json(
            {
                "key": key,
                "env": env,
                "recorded": done.recorded,
                "data_version": record.data_version,
                "rollback_of": None if done.replaced is None else done.replaced.data_version,
                "downstream": list(done.downstream),
            }
        )
        return
    if done.replaced is None:
        click.echo(
            f"{key} in env {env!r} is already at {record.data_version[:12]}: nothing recorded"
        )
        return
    click.echo(
        f"rolled back {key} in env {env!r}: {done.replaced.data_version[:12]} -> "
        f"{record.data_version[:12]} (code version {record.code_version[:12]}, no rebuild)"
    )
    if done.downstream:
        names = ", ".join(done.downstream)
        click.echo(f"now stale downstream: {names} (`nbassets plan --env {env}`)")
