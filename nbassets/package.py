"""A project's exported package (``[tool.nbassets] export_package``), loaded for the CLI."""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from . import pysyntax
from .build import BuildTask, read_mappings
from .checks.rules import parse_rule
from .checks.runner import CheckTask
from .config import Project
from .errors import ConfigError, SpecError
from .graph import AssetGraph
from .partitions import PartitionsDefinition, parse_definition
from .runtime import ExportedAsset, ExportedCheck, registry


@dataclass(frozen=True)
class Package:
    """The assets and checks of every module of an exported package."""

    name: str
    path: Path
    assets: dict[str, ExportedAsset] = field(default_factory=dict)
    checks: tuple[ExportedCheck, ...] = ()
    modules: dict[str, str] = field(default_factory=dict)  # asset key -> module name

    @property
    def graph(self) -> AssetGraph:
        return AssetGraph({key: asset.deps for key, asset in self.assets.items()})

    def checks_of(self, key: str) -> tuple[ExportedCheck, ...]:
        return tuple(check for check in self.checks if check.asset == key)

    def code_versions(self) -> dict[str, str | None]:
        return {key: asset.code_version for key, asset in self.assets.items()}

    def deps(self) -> dict[str, tuple[str, ...]]:
        return {key: asset.deps for key, asset in self.assets.items()}

    def partitions(self) -> dict[str, PartitionsDefinition | None]:
        """Key -> the partitions definition of each asset (None: built whole); a
        :class:`~nbassets.errors.SpecError` naming the asset when one does not parse."""
        return self._partitions

    @functools.cached_property
    def _partitions(self) -> dict[str, PartitionsDefinition | None]:
        return {key: _definition(asset, self.modules[key]) for key, asset in self.assets.items()}

    def upstream_partitions(self, key: str) -> dict[str, PartitionsDefinition | None]:
        """Dep -> its partitions definition, for each dep of ``key`` (None: built whole, or
        not an asset of the package: a source input)."""
        partitions = self.partitions()
        return {dep: partitions.get(dep) for dep in self.assets[key].deps}

    def task(self, key: str) -> BuildTask:
        """How to build asset ``key`` from its exported function, with all of its checks."""
        return asset_task(
            self.assets[key], self.modules[key], self.checks_of(key),
            upstream=self.upstream_partitions(key),
        )  # fmt: skip

    def validate_partitions(self) -> None:
        """Refuse what no build could do: a partitions definition that does not parse, or an
        asset that cannot read a partitioned upstream (static against time partitions, a
        downstream that starts earlier); the :class:`~nbassets.errors.SpecError` names both."""
        partitions = self.partitions()
        for key in self.assets:
            read_mappings(key, partitions[key], self.upstream_partitions(key))

    def check_names(self) -> dict[str, set[str]]:
        names = {key: {parse_rule(r).name for r in a.rules} for key, a in self.assets.items()}
        for check in self.checks:
            names.setdefault(check.asset, set()).add(check.name)
        return names


def load_package(project: Project, name: str | None = None) -> Package:
    """Import every module of the project's export package (fresh, not from an old import)."""
    name = name or project.config.export_package
    path = project.root / Path(*name.split("."))
    if not (path / "__init__.py").is_file():
        raise ConfigError(
            f"the export package {name!r} ({path}) does not exist yet: run "
            "`nbassets export NOTEBOOK...` first (or set export_package in [tool.nbassets])."
        )
    root = str(project.root)
    if root not in sys.path:
        sys.path.insert(0, root)
    assets: dict[str, ExportedAsset] = {}
    checks: list[ExportedCheck] = []
    modules: dict[str, str] = {}
    for file in sorted(path.glob("*.py")):
        if file.stem in ("__init__", "definitions"):
            continue
        module_name = f"{name}.{file.stem}"
        module = _fresh_module(module_name, file)
        module_assets, module_checks = registry(module)
        for asset in module_assets:
            if asset.key in assets:
                raise SpecError(
                    f"asset {asset.key!r} is defined in both {modules[asset.key]} and "
                    f"{module_name}: asset keys are unique in a project; rename one."
                )
            assets[asset.key] = asset
            modules[asset.key] = module_name
        checks.extend(module_checks)
    package = Package(name, path, assets, tuple(checks), modules)
    package.validate_partitions()  # at load: before anything is built
    return package


def _definition(asset: ExportedAsset, module: str) -> PartitionsDefinition | None:
    if asset.partitions is None:
        return None
    try:
        return parse_definition(asset.partitions)
    except SpecError as exc:
        raise SpecError(
            f"asset {asset.key!r} of {module}: {exc} Fix its %%asset line and export again."
        ) from None


def _fresh_module(name: str, file: Path) -> ModuleType:
    """Import ``file`` from its source, never from a cached ``.pyc``.

    An export can rewrite a module within the same second and at the same size, which
    Python's bytecode cache cannot tell apart; the CLI must run the code on disk now.
    """
    module = ModuleType(name)
    module.__file__ = str(file)
    module.__package__ = name.rpartition(".")[0]
    sys.modules[name] = module
    code = pysyntax.compile_code(file.read_text(encoding="utf-8"), str(file), "exec")
    exec(code, module.__dict__)
    return module


def asset_task(
    asset: ExportedAsset,
    module: str,
    checks: Iterable[ExportedCheck] = (),
    *,
    rules: bool = True,
    runner: str = "",
    upstream: Mapping[str, PartitionsDefinition | None] | None = None,
) -> BuildTask:
    """An exported asset as the build operation runs it (its rules unless ``rules`` is false).

    Provenance names the module function and the notebook cell it came from, after the
    ``runner`` when one is named: ``dagster | pipelines.x:key | notebooks/x.ipynb :: key``.
    ``upstream`` gives the partitions definition of each dep (None: whole), which says how
    a build reads it (:func:`~nbassets.build.read_mappings`); a dep left out is read whole.
    """
    source = " | ".join(part for part in (runner, f"{module}:{asset.key}", asset.source) if part)
    partitions = _definition(asset, module)
    return BuildTask(
        key=asset.key,
        deps=asset.deps,
        code_version=asset.code_version,
        function=asset.function,
        source=source,
        io=asset.io,
        sql=asset.sql,
        rules=tuple(parse_rule(text) for text in dict.fromkeys(asset.rules)) if rules else (),
        checks=tuple(check_task(c) for c in checks),
        code=function_source(asset.function),
        partitions=partitions,
        mappings=read_mappings(asset.key, partitions, upstream or {}),
    )


def function_source(function: Callable[..., Any]) -> str | None:
    """The source text of an exported function (what a build records), or None when Python
    cannot find it (a function made at run time)."""
    try:
        return inspect.getsource(function)
    except (OSError, TypeError):
        return None


def check_task(check: ExportedCheck) -> CheckTask:
    """An exported check function as the check runner runs it."""
    return CheckTask(check.asset, check.name, check.severity, check.deps, check.function)
