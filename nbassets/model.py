"""The one model of what the project defines and how it stands in an env.

:class:`Code` is what the code defines (from a kernel's cells, the notebooks, or the exported
package): keys in definition order, deps, code versions, key columns and check names.
:func:`env_model` puts it beside what an env's stores hold (its own over production's) and
gives an :class:`EnvModel`: status rows, the version each key resolves to, production's
heads, lineage nodes and edges (with where each input came from) and whether production was
built from this code. The magics, the CLI, the server and the Python API all ask it; the
render layer draws what it returns.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .config import Project
from .definitions import AssetDefinition, notebook_definitions, notebook_paths
from .environments import PROD
from .package import Package, load_package
from .status import AssetStatus, compute_statuses, gc_paused, in_definition_order
from .store.catalog import Head, Materialization
from .store.workspace import SANDBOX, Workspace


@dataclass(frozen=True)
class Code:
    """What the current code defines (the exported package, the notebooks, or a kernel).

    Keys are in definition order; ``check_names`` is ``None`` when the checks the
    code defines are not all known (notebook files: their ``%%check`` cells), so
    every recorded result counts.
    """

    origin: str
    code_versions: dict[str, str | None] = field(default_factory=dict)
    deps: dict[str, tuple[str, ...]] = field(default_factory=dict)
    key_columns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    check_names: dict[str, set[str]] | None = None

    @classmethod
    def of_definitions(
        cls,
        origin: str,
        definitions: Mapping[str, AssetDefinition],
        check_names: dict[str, set[str]] | None = None,
    ) -> Code:
        """The code of asset definitions (cells of a kernel or of notebook files)."""
        return cls(
            origin=origin,
            code_versions={key: d.code_version for key, d in definitions.items()},
            deps={key: d.deps for key, d in definitions.items()},
            key_columns={key: d.spec.key_columns for key, d in definitions.items()},
            check_names=check_names,
        )


def project_code(project: Project, known_keys: Iterable[str]) -> Code:
    """What the code defines now: the exported package when it exists, else the notebooks."""
    name = project.config.export_package
    if (project.root / Path(*name.split(".")) / "__init__.py").is_file():
        return package_code(load_package(project, name))
    definitions = notebook_definitions(notebook_paths(project), project, set(known_keys))
    return Code.of_definitions("notebooks", definitions)


def package_code(package: Package) -> Code:
    """The code of an exported package."""
    return Code(
        origin=f"package {package.name}",
        code_versions=package.code_versions(),
        deps=package.deps(),
        key_columns={key: a.key_columns for key, a in package.assets.items()},
        check_names=package.check_names(),
    )


@dataclass(frozen=True)
class LineageNode:
    """An asset in the lineage: its key, status (``fresh``, ``stale``, ...) and a longer label."""

    key: str
    status: str
    label: str = ""


@dataclass(frozen=True)
class LineageEdge:
    """``downstream`` reads ``upstream``; ``origin`` is the env it was read from (``prod``, ...)."""

    upstream: str
    downstream: str
    origin: str = ""


@dataclass(frozen=True)
class EnvModel:
    """The project's code beside what one env holds: statuses, versions, lineage, production."""

    env: str
    code: Code
    rows: list[AssetStatus]  # in definition order, then the other keys the stores hold
    current: Mapping[str, Head]  # the version each key resolves to (kernel, env, production)
    prod: dict[str, Head]  # production's heads ({} when the env is production itself)

    def row(self, key: str) -> AssetStatus | None:
        return next((row for row in self.rows if row.key == key), None)

    def prod_notes(self) -> dict[str, str]:
        """For each asset the code defines and production holds: is prod built from this code?"""
        notes = {}
        for key, code_version in self.code.code_versions.items():
            head = self.prod.get(key)
            if head is None or code_version is None:
                continue
            if head.code_version == code_version:
                notes[key] = "built from this code"
            else:
                notes[key] = "built from other code" + (
                    f": commit {head.commit[:7]}" if head.commit else ""
                )
        return notes

    def origin(self, key: str, upstream: str) -> str:
        """Where ``key``'s current version read ``upstream``: ``prod``, ``sandbox``, another env.

        Empty when the current version did not read it (or there is none).
        """
        head = self.current.get(key)
        read = head.inputs.get(upstream) if head is not None else None
        if read is None:
            return ""
        env = read.get("env", "")
        return SANDBOX if env == self.env and env != PROD else env

    def lineage(self) -> tuple[list[LineageNode], list[LineageEdge]]:
        """Nodes coloured by status; an edge per upstream, labelled by where it was read.

        Upstreams come from the code where it defines the asset, else from the inputs
        its current version read.
        """
        nodes, edges = [], []
        for row in self.rows:
            nodes.append(LineageNode(row.key, row.status, row.label))
            head = self.current.get(row.key)
            inputs: Sequence[str] = tuple(head.inputs) if head is not None else ()
            for up in self.code.deps.get(row.key, inputs):
                edges.append(LineageEdge(up, row.key, self.origin(row.key, up)))
        return nodes, edges


def env_model(
    workspace: Workspace,
    code: Code,
    kernel_versions: Mapping[str, Materialization] | None = None,
    current: Mapping[str, Head] | None = None,
) -> EnvModel:
    """``code`` beside what ``workspace`` (and a kernel's own builds) hold now.

    ``current`` is ``workspace.current(kernel_versions)`` when the caller has read it already.

    ``code.check_names`` lists the checks each asset defines now; results of checks no
    longer defined do not count (all count for other assets).
    """
    with gc_paused():
        prod = workspace.prod.catalog.heads() if workspace.env != PROD else {}
        if current is None:
            current = workspace.current(kernel_versions, prod_heads=prod)
    failed = failed_checks(workspace, current, code.check_names or {})
    damaged = workspace.damaged(current)
    rows = compute_statuses(
        code.code_versions, code.deps, current, workspace.failures(), failed, damaged
    )
    return EnvModel(
        workspace.env, code, in_definition_order(rows, code.code_versions), current, prod
    )


def failed_checks(
    workspace: Workspace, current: Mapping[str, Head], check_names: Mapping[str, Iterable[str]]
) -> dict[str, str]:
    """Key -> name of a failed error-severity check of its current version.

    Results are keyed by data version, so a result recorded in any store (a notebook
    checking a production version records it in its sandbox) counts.
    """
    own, prod = workspace.own, workspace.prod
    stores = [own] if own is prod else [prod, own]
    failed: dict[str, str] = {}
    versions = [head.data_version for head in current.values()]
    for store in stores:
        for result in store.catalog.versions_check_results(versions):
            head = current.get(result.key)
            if head is None or head.data_version != result.data_version:
                continue
            defined = check_names.get(result.key)
            if defined is not None and result.name not in set(defined):
                continue
            if result.blocking:
                failed.setdefault(result.key, result.name)
            elif failed.get(result.key) == result.name:
                del failed[result.key]  # a later run of the same check passed
    return failed
