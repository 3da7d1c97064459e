"""Dagster definitions of an exported package: one asset per asset, one check per check, one IO manager.

The only nbassets module that imports dagster (the optional extra ``nbassets[dagster]``); only
the generated ``<package>/definitions.py`` imports it::

    from nbassets.dagster_assets import build_definitions

    defs = build_definitions("pipelines")

Values go through :class:`NbassetsIOManager` into the store of the env named by
``NBASSETS_ENV`` (else ``prod``), with the same provenance a notebook or ``nbassets
materialize`` records, so a version built by Dagster has the same data version as the
notebook's on the same inputs. Upstream keys that no asset of the package builds are source
inputs: declared as external assets, read from the store, never built by Dagster.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
import traceback
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import PrivateAttr

from .catalog import Failure, Materialization
from .checkresult import ERROR, CheckResult
from .checks import read_outcome
from .config import Project
from .environments import PROD, current_user, validate_env_name
from .errors import AssetNotFound, ProductionWriteError, SpecError
from .gitinfo import git_state
from .package import Package, load_package
from .rules import Rule, parse_rule, run_rule
from .runtime import ExportedAsset, ExportedCheck
from .serializers import choose_io
from .stores import Store, now
from .workspace import ResolvedInput, Workspace

# metadata keys: on asset definitions (read back by the IO manager) and on inputs
SOURCE, MODULE, IO = "nbassets/source", "nbassets/module", "nbassets/io"
LOAD, AS_PATH = "nbassets/load", "path"  # an input read as its Parquet file's path (SQL assets)
STARTED_AT = "nbassets/started_at"
_NOT_NAME = re.compile(r"[^A-Za-z0-9_]+")


def build_definitions(package_name: str, project_dir: str | Path | None = None) -> dg.Definitions:
    """Dagster ``Definitions`` of every asset and check of the exported package ``package_name``.

    The project is the one containing ``project_dir`` (default: the working directory).
    """
    project = Project.find(project_dir or Path.cwd())
    package = _load(project, package_name)
    assets: list[dg.AssetsDefinition | dg.AssetSpec] = [
        source_spec(key) for key in source_keys(package)
    ]
    checks: list[dg.AssetChecksDefinition] = []
    for key, asset in package.assets.items():
        assets.append(asset_definition(asset, package.modules[key]))
        checks.extend(rule_checks(asset))
    checks.extend(cell_check(check, package) for check in package.checks)
    return dg.Definitions(
        assets=assets,
        asset_checks=checks,
        resources={"io_manager": NbassetsIOManager(project_dir=str(project.root))},
    )


def _load(project: Project, package_name: str) -> Package:
    """``load_package``, keeping the package's modules being imported right now.

    ``load_package`` drops the package's modules from ``sys.modules`` so a re-export is seen;
    the generated ``definitions`` module calls it while being imported, and Python fails that
    import (``KeyError``) when the module is no longer in ``sys.modules`` at the end.
    """
    prefix = package_name + "."
    importing = {
        name: module
        for name, module in sys.modules.items()
        if (name == package_name or name.startswith(prefix))
        and getattr(getattr(module, "__spec__", None), "_initializing", False)
    }
    try:
        return load_package(project, package_name)
    finally:
        sys.modules.update(importing)


# --- assets ---------------------------------------------------------------------------------


def source_keys(package: Package) -> list[str]:
    """Upstream keys of assets and checks that no asset of the package builds, sorted."""
    deps = {dep for asset in package.assets.values() for dep in asset.deps}
    deps |= {dep for check in package.checks for dep in check.deps}
    return sorted(deps - set(package.assets))


def source_spec(key: str) -> dg.AssetSpec:
    """A source input: an external asset Dagster never builds, read from the nbassets store."""
    return dg.AssetSpec(
        key,
        description=f"Source input {key!r}: read from the nbassets store, not built here.",
        group_name="sources",
        metadata={SOURCE: "external"},
    )


def asset_definition(asset: ExportedAsset, module: str) -> dg.AssetsDefinition:
    """One ``@dg.asset`` that runs ``asset.function`` on its inputs, read by the IO manager.

    A SQL asset gets each input as the Parquet path of the stored version, so DuckDB reads
    the same file the notebook read; other assets get the stored values.
    """
    load = {LOAD: AS_PATH} if asset.sql else {}
    metadata: dict[str, Any] = {SOURCE: asset.source, MODULE: module}
    if asset.io:
        metadata[IO] = asset.io
    if asset.key_columns:
        metadata["nbassets/key_columns"] = ", ".join(asset.key_columns)

    @dg.asset(
        name=asset.key,
        ins={dep: dg.AssetIn(key=dep, metadata=load) for dep in asset.deps},
        code_version=asset.code_version or None,
        description=asset.description or f"{asset.key}: {asset.source or module}",
        metadata=metadata,
        group_name=module.rsplit(".", 1)[-1],
        kinds={"duckdb"} if asset.sql else {"python"},
        required_resource_keys={"io_manager"},
    )
    def compute(context, **inputs: Any) -> dg.Output[Any]:  # context unannotated: dagster refuses string annotations
        started_at = now()
        try:
            value = asset.function(**inputs)
        except Exception as exc:  # recorded for `nbassets status`, then Dagster sees it
            _stores(context).record_failure(asset, module, exc, started_at)
            raise
        return dg.Output(value, metadata={STARTED_AT: started_at})

    return compute


def provenance_source(module: str, key: str, cell: str) -> str:
    """``dagster:pipelines.shop:orders (notebooks/shop.ipynb :: orders)``."""
    built_by = f"dagster:{module}:{key}"
    return f"{built_by} ({cell})" if cell else built_by


# --- checks ---------------------------------------------------------------------------------


def check_names(asset: ExportedAsset, checks: Iterable[ExportedCheck] = ()) -> dict[str, str]:
    """Check name in nbassets (rule text or ``--name``) -> a valid, unique Dagster check name."""
    names = [parse_rule(text).name for text in asset.rules] + [c.name for c in checks]
    result: dict[str, str] = {}
    for name in names:
        base = _NOT_NAME.sub("_", name).strip("_")[:60] or "check"
        if base in result.values():
            base = f"{base}_{hashlib.sha256(name.encode()).hexdigest()[:6]}"
        result[name] = base
    return result


def rule_checks(asset: ExportedAsset) -> list[dg.AssetChecksDefinition]:
    """One ``@dg.asset_check`` per ``--check`` rule, run in DuckDB on the version just built."""
    names = check_names(asset)
    return [_rule_check(asset, parse_rule(text), names) for text in asset.rules]


def _rule_check(
    asset: ExportedAsset, rule: Rule, names: Mapping[str, str]
) -> dg.AssetChecksDefinition:
    other = _other_asset(rule)

    @dg.asset_check(
        asset=asset.key,
        name=names[rule.name],
        description=f"--check {rule.name}" + (" (warn)" if rule.severity != ERROR else ""),
        blocking=rule.severity == ERROR,
        additional_deps=[other] if other and other != asset.key else None,
        required_resource_keys={"io_manager"},
        metadata={SOURCE: asset.source, "nbassets/check": rule.name},
    )
    def check(context) -> dg.AssetCheckResult:  # context unannotated: dagster refuses string annotations
        stores = _stores(context)
        return stores.report(stores.run_rule(asset.key, rule))

    return check


def cell_check(check: ExportedCheck, package: Package) -> dg.AssetChecksDefinition:
    """One ``@dg.asset_check`` per ``%%check`` cell, run on the current values of its deps."""
    asset = package.assets.get(check.asset)
    if asset is None:
        raise SpecError(
            f"check {check.name!r} checks asset {check.asset!r}, which no module of package "
            f"{package.name!r} defines; export the notebook that defines it."
        )
    names = check_names(asset, package.checks_of(check.asset))
    others = [dep for dep in check.deps if dep != check.asset]

    @dg.asset_check(
        asset=check.asset,
        name=names[check.name],
        description=f"%%check {check.name}" + (" (warn)" if check.severity != ERROR else ""),
        blocking=check.severity == ERROR,
        additional_deps=others or None,
        required_resource_keys={"io_manager"},
        metadata={SOURCE: check.source, "nbassets/check": check.name},
    )
    def run(context) -> dg.AssetCheckResult:  # context unannotated: dagster refuses string annotations
        stores = _stores(context)
        return stores.report(stores.run_check(check))

    return run


def _other_asset(rule: Rule) -> str | None:
    """The other asset a ``relationship`` rule reads."""
    if rule.function != "relationship":
        return None
    bound = dict(zip(("column", "other_asset", "other_column"), rule.args, strict=False))
    bound.update(rule.options)
    return str(bound["other_asset"])


def run_check_function(
    check: ExportedCheck, values: Mapping[str, Any], data_version: str
) -> CheckResult:
    """Run a check cell's function: an ``AssertionError`` fails, another exception is an error."""
    error: str | None = None
    failing: int | None = None
    sample: list[dict[str, Any]] = []
    try:
        passed, failing, sample, message = read_outcome(check.function(**values))
    except AssertionError as exc:
        passed, message = False, str(exc) or "assertion failed"
    except Exception as exc:
        passed, message, error = False, "", f"{type(exc).__name__}: {exc}"
    return CheckResult(
        key=check.asset,
        name=check.name,
        severity=check.severity,
        passed=passed,
        data_version=data_version,
        failing_rows=failing,
        sample=sample,
        message=message,
        error=error,
    )


def dagster_result(result: CheckResult) -> dg.AssetCheckResult:
    """An nbassets check result as Dagster reports it."""
    severity = dg.AssetCheckSeverity.ERROR if result.severity == ERROR else dg.AssetCheckSeverity.WARN
    metadata: dict[str, Any] = {
        "nbassets/outcome": result.outcome,
        "nbassets/data_version": result.data_version,
    }
    if result.failing_rows is not None:
        metadata["nbassets/failing_rows"] = result.failing_rows
    if result.sample:
        metadata["nbassets/sample"] = dg.MetadataValue.json(result.sample)
    return dg.AssetCheckResult(
        passed=result.passed,
        severity=severity,
        metadata=metadata,
        description=result.error or result.message or None,
    )


# --- stores ---------------------------------------------------------------------------------


def current_env(configured: str = "") -> str:
    """The env Dagster builds into: the configured one, else ``NBASSETS_ENV``, else ``prod``."""
    return validate_env_name(configured or os.environ.get("NBASSETS_ENV") or PROD)


def guard_production(project: Project) -> None:
    """Refuse to build production from a dirty work tree or a branch other than main.

    Outside a git work tree (a deployed image) and on a detached HEAD (a checked-out
    commit) production builds are allowed: there is no branch to compare.
    """
    git = git_state(project.root, (project.sandbox_root, project.prod_path), fresh=True)
    main = project.config.main_branch
    if git.dirty:
        why = "the git work tree has uncommitted changes (see `git status`)"
    elif git.branch is not None and git.branch != main:
        why = f"the checked-out branch is {git.branch!r}, not {main!r}"
    else:
        return
    raise ProductionWriteError(
        f"Dagster would build into 'prod' ({project.prod_path}), but {why}. Production is "
        f"built from the committed code on {main!r}; to try this code, set NBASSETS_ENV to a "
        "sandbox env (e.g. NBASSETS_ENV=ci-dagster)."
    )


class EnvStores:
    """What one Dagster step uses of an env: its workspace to read, its store to write.

    The production workspace reads production only, so a production build never reads a
    version (least of all a pickle) that a sandbox wrote.
    """

    def __init__(self, project: Project, env: str) -> None:
        if env == PROD:
            guard_production(project)
        self.project = project
        self.env = env
        self.workspace = Workspace(project, env)
        self._writer: Store | None = None

    def close(self) -> None:
        if self._writer is not None and self.env == PROD:
            self._writer.close()
        self.workspace.close()

    def writer(self) -> Store:
        """The env's store opened for writing (production's own when building production)."""
        if self._writer is None:
            if self.env == PROD:
                self._writer = Store(PROD, self.project.prod_path, writable=True)
            else:
                self._writer = self.workspace.writer()
        return self._writer

    def resolve(self, key: str, reader: str) -> ResolvedInput:
        """The current version of ``key`` in this env (or production's), which ``reader`` reads."""
        resolved = self.workspace.resolve(key)
        if resolved is None:
            where = "production" if self.env == PROD else f"env {self.env!r} or in production"
            raise AssetNotFound(
                f"{reader} reads asset {key!r}, which has no version in {where} "
                f"({self.project.prod_path}); build it first (a source input is stored by an "
                f"ingest script, e.g. nbassets.save({key!r}, value))."
            )
        return resolved

    def write(self, key: str, value: Any, spec: dg.AssetSpec, started_at: str) -> Materialization:
        """Store ``value`` as a new version of ``key`` with its full provenance."""
        metadata = {name: _raw(value) for name, value in spec.metadata.items()}
        inputs = {}
        for dep in sorted(d.asset_key.to_user_string() for d in spec.deps):
            record = self.resolve(dep, f"asset {key!r}").record
            inputs[dep] = {"data_version": record.data_version, "env": record.env}
        git = git_state(self.project.root, (self.project.sandbox_root, self.project.prod_path))
        module = str(metadata.get(MODULE, ""))
        return self.writer().write(
            key,
            value,
            choose_io(value, metadata.get(IO)),
            code_version=spec.code_version or "",
            started_at=started_at,
            inputs=inputs,
            source=provenance_source(module, key, str(metadata.get(SOURCE, ""))),
            commit=git.commit,
            dirty=git.dirty,
            user=current_user(),
        )

    def record_failure(
        self, asset: ExportedAsset, module: str, exc: BaseException, started_at: str
    ) -> None:
        """Record a build that raised, so ``nbassets status`` shows the asset as failed."""
        error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        self.writer().record_failure(
            Failure(
                key=asset.key,
                env=self.env,
                error=error,
                started_at=started_at,
                finished_at=now(),
                code_version=asset.code_version,
                source=provenance_source(module, asset.key, asset.source),
                user=current_user(),
            )
        )

    def run_rule(self, key: str, rule: Rule) -> CheckResult:
        """Run a ``--check`` rule over the Parquet file of ``key``'s current version."""
        target = self.resolve(key, f"check {rule.name!r}")
        record = target.record
        try:
            table = self.workspace.table_path(target)
        except Exception as exc:
            return CheckResult(key, rule.name, rule.severity, False, record.data_version,
                               error=str(exc))  # fmt: skip

        def other_table(other: str) -> Path:
            return self.workspace.table_path(self.resolve(other, f"check {rule.name!r}"))

        return run_rule(rule, key, record.data_version, table, record.schema, other_table)

    def run_check(self, check: ExportedCheck) -> CheckResult:
        """Run a check cell's function on the current values of its deps."""
        target = self.resolve(check.asset, f"check {check.name!r}")
        values = {}
        for dep in check.deps:
            resolved = target if dep == check.asset else self.resolve(dep, f"check {check.name!r}")
            values[dep] = self.workspace.read(resolved)
        return run_check_function(check, values, target.record.data_version)

    def report(self, result: CheckResult) -> dg.AssetCheckResult:
        """Record ``result`` in the env's catalog (``nbassets status`` sees it) and return it."""
        result = replace(result, checked_at=now())
        self.writer().catalog.record_checks([result], self.env)
        return dagster_result(result)


class NbassetsIOManager(dg.ConfigurableIOManager):
    """Writes asset values into an nbassets store and reads inputs back from it.

    ``env`` defaults to ``NBASSETS_ENV``, else ``prod``. Outputs are stored with
    ``Store.write`` (immutable, content-addressed versions) and a full provenance record;
    inputs are read as values, or as Parquet paths for SQL assets.
    """

    project_dir: str
    env: str = ""

    _stores: EnvStores | None = PrivateAttr(default=None)

    @property
    def stores(self) -> EnvStores:
        """The env's stores, opened on first use in this process."""
        if self._stores is None:
            self._stores = EnvStores(Project.find(self.project_dir), current_env(self.env))
        return self._stores

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self.stores  # noqa: B018  (fail fast: a refused production build does no work)

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._stores is not None:
            self._stores.close()
            self._stores = None

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        key = context.asset_key.to_user_string()
        started_at = _raw(context.output_metadata.get(STARTED_AT)) or now()
        record = self.stores.write(key, obj, context.asset_spec, str(started_at))
        context.add_output_metadata(
            {
                "nbassets/data_version": record.data_version,
                "nbassets/env": record.env,
                "nbassets/path": record.path,
                "nbassets/bytes": record.bytes,
                **({"dagster/row_count": record.rows} if record.rows is not None else {}),
            }
        )

    def load_input(self, context: dg.InputContext) -> Any:
        key = context.asset_key.to_user_string()
        reader = f"asset {context.op_def.name!r}" if context.op_def else "an asset"
        resolved = self.stores.resolve(key, reader)
        if _raw(context.definition_metadata.get(LOAD)) == AS_PATH:
            return str(self.stores.workspace.table_path(resolved))
        return self.stores.workspace.read(resolved)


def _stores(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> EnvStores:
    manager = context.resources.io_manager
    if not isinstance(manager, NbassetsIOManager):
        raise TypeError(
            f"nbassets assets need NbassetsIOManager as their io_manager, not {type(manager)}"
        )
    return manager.stores


def _raw(value: Any) -> Any:
    """A metadata value as given (Dagster may wrap it in a ``MetadataValue``)."""
    return value.value if isinstance(value, dg.MetadataValue) else value
