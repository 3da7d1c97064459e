"""What ``nbassets materialize --select`` names: the steps to build, in build order.

A selection is ``key``, ``key+`` (and downstream), ``+key`` (and upstream), ``*``, ``stale``,
``plan`` (what ``nbassets plan`` lists), ``key[PARTITION]`` or ``key[FIRST..LAST]`` (DESIGN §6).
A partitioned asset selected without brackets means every complete partition; the batch then
leaves the fresh ones alone, so the same command starts a backfill and resumes it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .batch import Step
from .codebase import package_code
from .errors import InvalidArgument
from .model import env_model, planned_builds
from .package import Package
from .partitions import PartitionsDefinition, parse_definition, parse_selection
from .status import FRESH
from .store.workspace import Workspace

_BRACKETS = re.compile(r"(?P<key>[^\[\]]+)\[(?P<partitions>[^\[\]]*)\]\Z")


def definitions(package: Package) -> dict[str, PartitionsDefinition]:
    """Key -> partition definition of each partitioned asset of ``package``."""
    return {
        key: parse_definition(asset.partitions)
        for key, asset in package.assets.items()
        if asset.partitions is not None
    }


def select_steps(package: Package, workspace: Workspace, selections: Iterable[str]) -> list[Step]:
    """The steps ``selections`` name, in build order: an asset's partitions oldest first."""
    partitioned = definitions(package)
    chosen: dict[str, set[str] | None] = {}  # key -> partitions named (None: all complete)

    def choose(key: str, partitions: Iterable[str] | None) -> None:
        if key in chosen and chosen[key] is None:
            return  # every partition already
        chosen[key] = None if partitions is None else (chosen.get(key) or set()) | set(partitions)

    for selection in selections:
        text = selection.strip()
        bracketed = _BRACKETS.match(text)
        if bracketed:
            key = bracketed["key"].strip()
            package.graph.select(key)  # an unknown key: a did-you-mean
            if key not in partitioned:
                raise InvalidArgument(
                    f"--select {text!r}: asset {key!r} has no partitions; select it as {key!r}."
                )
            choose(key, parse_selection(partitioned[key], bracketed["partitions"]))
        elif text == "plan":  # what `nbassets plan` lists, partitions as it lists them
            planned = planned_builds(workspace, package_code(package))
            for key, partitions in planned.partitions.items():
                choose(key, partitions)
            for key in planned.keys:
                choose(key, None)
        elif text == "stale":
            rows = env_model(workspace, package_code(package)).rows
            for row in rows:
                if row.key in package.assets and row.status != FRESH:
                    choose(row.key, None)
        else:
            for key in package.graph.select(text):
                choose(key, None)
    steps: list[Step] = []
    for key in package.graph.order(set(chosen)):
        if key not in package.assets:
            continue
        definition = partitioned.get(key)
        if definition is None:
            steps.append(Step(key))
            continue
        named = chosen[key]
        keys = definition.keys() if named is None else sorted(named, key=definition.index)
        steps.extend(Step(key, partition) for partition in keys)
    return steps
