"""``nbassets forget KEY --env E``: drop an asset from an env (DESIGN §6, as ``%forget``)."""

from __future__ import annotations

from contextlib import closing

import click

from ..environments import PROD, current_user, default_dev_env
from ..store.gc import Forgotten, only_in
from ..store.workspace import Workspace
from .common import (
    _DEV_STORE,
    _Cli,
    echo_json,
    env_option,
    json_option,
    pass_cli,
    production_overrides,
    usage_error,
)


@click.command()
@click.argument("key")
@env_option(_DEV_STORE)
@production_overrides
@json_option
@pass_cli
def forget(
    cli: _Cli, key: str, env: str | None, allow_dirty: bool, no_git: bool, as_json: bool
) -> None:
    """Drop an asset from an env; gc reclaims its files.

    Status, lineage and the panel no longer show the env's version of it (an env over
    production reads production's again). Its history stays (history, why --version), its
    version files stay until `nbassets gc --keep N --yes` removes them, and a later build
    brings it back. Forgetting in prod follows the production policy.
    """
    from ..policy import Overrides, authorize
    from ..store.gc import forget as forget_key
    from ..store.gc import require_held

    project = cli.project
    env = env or default_dev_env(project)
    where = f"env {env!r}"
    with closing(Workspace(project, env)) as ws:
        held = ws.other_env(env)
        if env != PROD and only_in(ws.prod, held, key):
            raise usage_error(
                f"asset {key!r} is not in {where}; production holds it. To drop it from "
                f"production, run `nbassets forget {key} --env prod` (on a clean "
                f"{project.config.main_branch})."
            )
        require_held(held, key, where)  # before asking for a grant: a typo is a typo
        grant = authorize(project, env, "forget", Overrides.resolve(allow_dirty, no_git))
        forgotten = forget_key(ws.writer(grant), key, current_user(), where)
        reads_prod = env != PROD and ws.prod.catalog.latest_of(key) is not None
    if as_json:
        echo_json({**forgotten.to_dict(), "reads_prod": reads_prod})
    else:
        click.echo(forgotten_text(forgotten, reads_prod))


def forgotten_text(forgotten: Forgotten, reads_prod: bool) -> str:
    from ..render.summary import human_bytes

    key, env = forgotten.key, forgotten.env
    now = "; it reads production's version again" if reads_prod else ""
    return (
        f"forgot {key!r} in env {env!r}: the env holds no current version of it{now}. Its "
        f"history stays ({forgotten.versions} version(s): `nbassets history {key} --env {env}`);"
        f" its {len(forgotten.files)} version file(s), {human_bytes(forgotten.bytes)}, stay "
        f"until `nbassets gc --keep 1 --yes --env {env}` removes them. A new build brings it "
        "back."
    )
