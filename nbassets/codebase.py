"""What the project's code defines: :class:`Code` (keys in definition order, deps, code
versions, key columns, check names, partitions), read from a kernel's cells, the notebooks, or
the exported package (:func:`project_code`: the package when it exists)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .config import Project
from .definitions import AssetDefinition, notebook_definitions, notebook_paths
from .errors import SpecError
from .exporter import asset_function_text
from .notebookfile import CHECK, asset_cells, read_cells
from .package import Package, function_source, load_package
from .partitions import PartitionsDefinition

NOTEBOOKS = "notebooks"  # the origin of a Code read from every notebook of the project
PACKAGE = "package"  # the origin of an exported package's Code starts with this


@dataclass(frozen=True)
class Code:
    """What the current code defines (the exported package, the notebooks, or a kernel).

    Keys are in definition order; ``check_names`` is ``None`` when the checks the code defines
    are not all known (notebook files' ``%%check`` cells): every recorded result counts.
    """

    origin: str
    code_versions: dict[str, str | None] = field(default_factory=dict)
    deps: dict[str, tuple[str, ...]] = field(default_factory=dict)
    key_columns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    check_names: dict[str, set[str]] | None = None
    partitions: dict[str, PartitionsDefinition] = field(default_factory=dict)

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
            partitions={k: d.spec.partitions for k, d in definitions.items() if d.spec.partitions},
        )


def project_code(project: Project, known_keys: Iterable[str]) -> Code:
    """What the code defines now: the exported package when it exists, else the notebooks."""
    return project_code_and_sources(project, known_keys, sources=False)[0]


def project_code_and_sources(
    project: Project, known_keys: Iterable[str], sources: bool = True
) -> tuple[Code, dict[str, str | None]]:
    """:func:`project_code`, and (when ``sources``) each asset's function source as a build
    records it: the exported function's, else the text the exporter would write."""
    if project.exported:
        package = load_package(project)
        texts = {k: function_source(a.function) for k, a in package.assets.items()}
        return package_code(package), texts if sources else {}
    definitions = notebook_definitions(notebook_paths(project), project, set(known_keys))
    texts = {k: asset_function_text(d) for k, d in definitions.items()} if sources else {}
    return Code.of_definitions(NOTEBOOKS, definitions), texts


def package_code(package: Package) -> Code:
    """The code of an exported package."""
    return Code(
        origin=f"{PACKAGE} {package.name}",
        code_versions=package.code_versions(),
        deps=package.deps(),
        key_columns={key: a.key_columns for key, a in package.assets.items()},
        check_names=package.check_names(),
        partitions={key: d for key, d in package.partitions().items() if d is not None},
    )


def notebook_keys(notebook: Path) -> set[str]:
    """What a view of a notebook file is scoped to: the keys its asset cells define and the
    assets its ``%%check`` cells check."""
    keys = {cell.spec.key for cell in asset_cells(notebook)}
    try:
        cells = read_cells(notebook)
    except (OSError, SpecError):
        return keys  # a file being saved, or not a notebook: its asset cells, as asset_cells
    for cell in cells:
        if cell.parsed.kind == CHECK and cell.parsed.key is not None:
            keys.add(cell.parsed.key)
    return keys
