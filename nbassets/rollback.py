"""``nbassets rollback KEY --to VERSION --env E``: point an asset back at an earlier version.

Nothing is rebuilt. A new materialization records the earlier version (the same file, data
version, code version, code, inputs and source) as the key's latest, with who rolled it back,
when, at which commit, and the data version it replaced (``rollback_of``), so ``why`` can say
so. Assets downstream turn stale as after any change: the version they read is no longer the
current one. The production policy applies (command ``rollback``): production is rolled back
only from a clean tree on the main branch, or with the recorded overrides.
"""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass, replace

from .codebase import project_code
from .config import Project
from .environments import current_user
from .errors import StorageError, UnknownName
from .policy import Overrides, authorize
from .spec import validate_key
from .store.catalog import Materialization
from .store.stores import now
from .store.workspace import Workspace
from .text import name_list


@dataclass(frozen=True)
class RolledBack:
    """What a rollback recorded: the new latest record, the one it replaced, and what reads it."""

    record: Materialization  # the new materialization (of the earlier version's data)
    replaced: Materialization | None  # the latest before (None: nothing recorded, already there)
    downstream: tuple[str, ...]  # assets whose current code reads the key (they turn stale)

    @property
    def recorded(self) -> bool:
        return self.replaced is not None


def rollback(
    project: Project, env: str, key: str, version: str, overrides: Overrides | None = None
) -> RolledBack:
    """Record ``key``'s version ``version`` (a data-version prefix of the env's own history)
    as its latest in ``env`` (of that version's partition, for a partitioned asset); nothing is
    recorded when it already is the latest."""
    validate_key(key)
    with closing(Workspace(project, env)) as workspace:
        catalog = workspace.own.catalog
        current = catalog.latest_of(key)
        if current is None:
            raise UnknownName(
                f"env {env!r} holds no version of {key!r}: there is nothing to roll back "
                f"(`nbassets history {key} --env {env}` lists its versions)."
            )
        target = catalog.version(key, version)
        if target is None:
            recent = [m.data_version[:12] for m in catalog.history(key, limit=5)]
            raise UnknownName(
                f"{key!r} has no version {version!r} in env {env!r}; its latest versions are "
                f"{name_list(recent, 5)} (`nbassets history {key} --env {env}` lists them all)."
            )
        if target.partition:  # a partitioned asset is rolled back one partition at a time
            current = catalog.partition_records(key).get(target.partition) or current
        downstream = _downstream(project, workspace, key)
        if target.data_version == current.data_version:
            return RolledBack(current, None, downstream)
        grant = authorize(project, env, "rollback", overrides)
        store = workspace.writer(grant)
        size = store.storage.sizes([target.path]).get(target.path)
        if size != target.bytes:
            raise StorageError(
                f"version {target.data_version[:12]} of {key!r} cannot be restored: its file "
                f"{store.where(target)} is {'gone' if size is None else 'not the file recorded'}"
                " (removed by nbassets gc?). Build that code again instead."
            )
        at = now()
        record = store.catalog.record(
            replace(
                target,
                id=None,
                seq=None,
                env=env,
                started_at=at,
                finished_at=at,
                commit=grant.commit,
                dirty=grant.dirty,
                user=current_user(),
                rollback_of=current.data_version,
            )
        )
        return RolledBack(record, current, downstream)


def _downstream(project: Project, workspace: Workspace, key: str) -> tuple[str, ...]:
    code = project_code(project, workspace.keys())
    return tuple(k for k in code.code_versions if key in code.deps.get(k, ()))
