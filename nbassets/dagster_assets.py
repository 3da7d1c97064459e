"""Dagster definitions of an exported package: its assets, its checks, an nbassets IO manager.

The only nbassets module that imports dagster (the optional extra ``nbassets[dagster]``), and
only the generated ``<package>/definitions.py`` imports it::

    from nbassets.dagster_assets import build_definitions

    defs = build_definitions("pipelines")

Values go through :class:`NbassetsIOManager` into the store of the env named by
``NBASSETS_ENV`` (else ``prod``) with the provenance a notebook records, so Dagster, the CLI
and the notebook give the same data versions on the same inputs. Upstream keys that no asset
of the package builds are source inputs: external assets, read from the store, never built.

The ``context`` parameters below are left unannotated: dagster refuses the string
annotations that ``from __future__ import annotations`` makes.
"""

from __future__ import annotations

import hashlib
import os
import re
import traceback
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import PrivateAttr

from .catalog import Failure, Materialization
from .checkresult import ERROR, CheckResult
from .checks import run_check
from .config import Project
from .environments import PROD, current_user, validate_env_name
from .errors import AssetNotFound, NbAssetsError, ProductionWriteError, SpecError
from .gitinfo import NO_GIT, git_state
from .package import Package, load_package
from .rules import Rule, parse_rule, run_rule
from .runtime import ExportedAsset, ExportedCheck
from .serializers import choose_io
from .stores import Store, now
from .workspace import ResolvedInput, Workspace

# metadata keys: set on definitions and read back by the IO manager
SOURCE, MODULE, IO, CHECK = "nbassets/source", "nbassets/module", "nbassets/io", "nbassets/check"
LOAD, AS_PATH = "nbassets/load", "path"  # an input read as its Parquet file's path (SQL assets)
STARTED_AT = "nbassets/started_at"
_NOT_NAME = re.compile(r"[^A-Za-z0-9_]+")
#: names dagster refuses for ops, inputs and outputs (its DISALLOWED_NAMES, less Python keywords)
DAGSTER_RESERVED = frozenset({
    "context", "conf", "config", "meta", "arg_dict", "dict", "input_arg_dict",
    "output_arg_dict", "int", "str", "float", "bool", "input", "output", "type",
})  # fmt: skip


def build_definitions(package_name: str, project_dir: str | Path | None = None) -> dg.Definitions:
    """Dagster ``Definitions`` of every asset and check of the exported package ``package_name``.

    The project is the one containing ``project_dir`` (default: the working directory).
    """
    project = Project.find(project_dir or Path.cwd())
    package = load_package(project, package_name)
    _refuse_unnamable(package)
    assets: list[dg.AssetsDefinition | dg.AssetSpec] = [
        source_spec(key) for key in source_keys(package)
    ]
    checks: list[dg.AssetChecksDefinition] = []
    for key, asset in package.assets.items():
        assets.append(asset_definition(asset, package.modules[key]))
        checks.extend(asset_checks(asset, package.checks_of(key)))
    return dg.Definitions(
        assets=assets,
        asset_checks=checks,
        resources={"io_manager": NbassetsIOManager(project_dir=str(project.root))},
    )


def _refuse_unnamable(package: Package) -> None:
    """Refuse checks of unknown assets and keys that dagster cannot name, with the fix."""
    orphans = sorted({c.asset for c in package.checks} - set(package.assets))
    if orphans:
        raise SpecError(
            f"package {package.name!r} has checks of {', '.join(map(repr, orphans))}, which no "
            "module of the package defines; export the notebook that defines the asset."
        )
    reserved = sorted(DAGSTER_RESERVED & {*package.assets, *source_keys(package)})
    if reserved:
        raise SpecError(
            f"asset key(s) {', '.join(map(repr, reserved))} of package {package.name!r} are "
            "reserved words in Dagster, which cannot name an asset, an input or a check of "
            f"them; rename the asset(s) (e.g. {reserved[0]}_data) to build them with Dagster."
        )


# --- assets ---------------------------------------------------------------------------------


def source_keys(package: Package) -> list[str]:
    """Keys that assets, checks and rules read but no asset of the package builds, sorted."""
    read = {dep for asset in package.assets.values() for dep in asset.deps}
    read |= {dep for check in package.checks for dep in check.deps}
    read |= {
        other for a in package.assets.values() for r in a.rules if (other := _other(parse_rule(r)))
    }
    return sorted(read - set(package.assets))


def source_spec(key: str) -> dg.AssetSpec:
    """A source input: an external asset Dagster never builds, read from the nbassets store."""
    return dg.AssetSpec(
        key,
        description=f"Source input {key!r}: read from the nbassets store, not built by Dagster.",
        group_name="sources",
    )


def asset_definition(asset: ExportedAsset, module: str) -> dg.AssetsDefinition:
    """One ``@dg.asset`` running ``asset.function`` on its inputs, as the IO manager reads them.

    A SQL asset gets each input as the Parquet path of the stored version, so DuckDB reads
    the file the notebook read; other assets get the stored values. A build that raises is
    recorded as a failure in the env's catalog (``nbassets status`` shows it) and re-raised.
    """
    metadata: dict[str, Any] = {SOURCE: asset.source, MODULE: module}
    if asset.io:
        metadata[IO] = asset.io
    if asset.key_columns:
        metadata["nbassets/key_columns"] = ", ".join(asset.key_columns)
    load = {LOAD: AS_PATH} if asset.sql else {}

    @dg.asset(
        name=asset.key,
        ins={dep: dg.AssetIn(key=dep, metadata=load) for dep in asset.deps},
        code_version=asset.code_version or None,
        description=asset.description,
        metadata=metadata,
        group_name=module.rsplit(".", 1)[-1],
        kinds={"duckdb"} if asset.sql else {"python"},
        required_resource_keys={"io_manager"},
    )
    def compute(context, **inputs: Any) -> dg.Output[Any]:
        started_at = now()
        try:
            value = asset.function(**inputs)
        except Exception as exc:
            _stores(context).record_failure(asset, module, exc, started_at)
            raise
        return dg.Output(value, metadata={STARTED_AT: started_at})

    return compute


def provenance_source(module: str, key: str, cell: str) -> str:
    """``dagster | pipelines.shop:orders | notebooks/shop.ipynb :: orders``.

    The runner's ``module:function | cell`` (what ``provenance.parse_source`` reads), marked
    as built by Dagster.
    """
    return " | ".join(part for part in ("dagster", f"{module}:{key}", cell) if part)


# --- checks ---------------------------------------------------------------------------------


def asset_checks(
    asset: ExportedAsset, cells: Iterable[ExportedCheck]
) -> list[dg.AssetChecksDefinition]:
    """One ``@dg.asset_check`` per ``--check`` rule and per check cell of ``asset``.

    Error-severity checks are blocking: when one fails, Dagster does not build the
    asset's downstream assets in that run.
    """
    rules = [parse_rule(text) for text in dict.fromkeys(asset.rules)]
    cells = list(cells)
    names = check_names(asset.key, [r.name for r in rules] + [c.name for c in cells])
    return [_rule_check(asset, rule, names[rule.name]) for rule in rules] + [
        _cell_check(check, names[check.name]) for check in cells
    ]


def check_names(key: str, names: Iterable[str]) -> dict[str, str]:
    """Each check's name in nbassets (a rule's text or a ``--name``) -> a Dagster check name.

    Dagster names are ``[A-Za-z0-9_]+``: other characters become ``_`` (``not_null('id')``
    -> ``not_null_id``), and a name that clashes gets a short hash of the original.
    """
    result: dict[str, str] = {}
    for name in names:
        if name in result:
            raise SpecError(f"asset {key!r} has two checks named {name!r}; rename one.")
        base = _NOT_NAME.sub("_", name).strip("_")[:60] or "check"
        if base in DAGSTER_RESERVED:
            base += "_check"
        if base in result.values():
            base = f"{base}_{hashlib.sha256(name.encode()).hexdigest()[:6]}"
        result[name] = base
    return result


def _rule_check(asset: ExportedAsset, rule: Rule, name: str) -> dg.AssetChecksDefinition:
    other = _other(rule)

    @dg.asset_check(
        asset=asset.key,
        name=name,
        description=f"--check {rule.name}" + _severity_note(rule.severity),
        blocking=rule.severity == ERROR,
        additional_deps=[other] if other and other != asset.key else None,
        required_resource_keys={"io_manager"},
        metadata={SOURCE: asset.source, CHECK: rule.name},
    )
    def check(context) -> dg.AssetCheckResult:
        stores = _stores(context)
        return stores.report(stores.run_rule(asset.key, rule))

    return check


def _cell_check(cell: ExportedCheck, name: str) -> dg.AssetChecksDefinition:
    others = [dep for dep in cell.deps if dep != cell.asset]

    @dg.asset_check(
        asset=cell.asset,
        name=name,
        description=f"%%check {cell.name}" + _severity_note(cell.severity),
        blocking=cell.severity == ERROR,
        additional_deps=others or None,
        required_resource_keys={"io_manager"},
        metadata={SOURCE: cell.source, CHECK: cell.name},
    )
    def check(context) -> dg.AssetCheckResult:
        stores = _stores(context)
        return stores.report(stores.run_check(cell))

    return check


def _severity_note(severity: str) -> str:
    return "" if severity == ERROR else f" (severity {severity})"


def _other(rule: Rule) -> str | None:
    """The other asset a ``relationship`` rule reads."""
    if rule.function != "relationship":
        return None
    bound = dict(zip(("column", "other_asset", "other_column"), rule.args, strict=False))
    bound.update(rule.options)
    return str(bound["other_asset"])


def dagster_result(result: CheckResult) -> dg.AssetCheckResult:
    """An nbassets check result as Dagster reports it (severity, outcome, failing rows)."""
    metadata: dict[str, Any] = {
        "nbassets/outcome": result.outcome,
        "nbassets/data_version": result.data_version,
    }
    if result.failing_rows is not None:
        metadata["nbassets/failing_rows"] = result.failing_rows
    if result.sample:
        metadata["nbassets/sample"] = dg.MetadataValue.json(result.sample)
    error = result.severity == ERROR
    return dg.AssetCheckResult(
        passed=result.passed,
        severity=dg.AssetCheckSeverity.ERROR if error else dg.AssetCheckSeverity.WARN,
        metadata=metadata,
        description=result.error or result.message or None,
    )


# --- stores ---------------------------------------------------------------------------------


def current_env(configured: str = "") -> str:
    """The env Dagster builds into: the configured one, else ``NBASSETS_ENV``, else ``prod``."""
    return validate_env_name(configured or os.environ.get("NBASSETS_ENV") or PROD)


def guard_production(project: Project) -> None:
    """Refuse to build production in a git work tree that is dirty or not on main.

    The rule of ``nbassets materialize --env prod``, with one difference: outside any git
    repository (a deployed image, built from main by CI, without its ``.git``) the build is
    allowed, and its records carry no commit.
    """
    git = git_state(project.root, (project.sandbox_root, project.prod_path), fresh=True)
    if git == NO_GIT:
        return
    main = project.config.main_branch
    if git.commit is None:
        why = "the git repository has no commit yet"
    elif git.branch != main:
        why = f"the checked-out branch is {git.branch or '(detached HEAD)'!r}, not {main!r}"
    elif git.dirty:
        why = "the git work tree has uncommitted changes (see `git status`)"
    else:
        return
    raise ProductionWriteError(
        f"Dagster would build into 'prod' ({project.prod_path}), but {why}. Production is "
        f"built from the committed code on {main!r}; to try this code, set NBASSETS_ENV to "
        "another env (e.g. NBASSETS_ENV=ci-dagster)."
    )


class EnvStores:
    """What a Dagster step uses of one env: its workspace to read, its store to write.

    Production's workspace reads production only, so a production build never reads a
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
            self._writer.close()  # a sandbox's writer belongs to the workspace
        self.workspace.close()

    def writer(self) -> Store:
        """The env's store, open for writing (production's own when building production)."""
        if self._writer is None:
            self._writer = (
                Store(PROD, self.project.prod_path, writable=True)
                if self.env == PROD
                else self.workspace.writer()
            )
        return self._writer

    def resolve(self, key: str, reader: str) -> ResolvedInput:
        """The current version of ``key`` in this env (else production's), read by ``reader``."""
        resolved = self.workspace.resolve(key)
        if resolved is None:
            where = "production" if self.env == PROD else f"env {self.env!r} nor in production"
            raise AssetNotFound(
                f"{reader} reads asset {key!r}, which has no version in {where} "
                f"({self.project.prod_path}). Build it first; a source input is stored by "
                f"its ingest script (nbassets.save({key!r}, value, env=...))."
            )
        return resolved

    def read(self, resolved: ResolvedInput, as_path: bool = False) -> Any:
        """The stored value of ``resolved``, or the path of its Parquet file."""
        if as_path:
            return str(self.workspace.table_path(resolved))
        return self.workspace.read(resolved)

    def write(self, key: str, value: Any, spec: dg.AssetSpec, started_at: str) -> Materialization:
        """Store ``value`` as a new version of ``key``, with the versions of its inputs now."""
        metadata = {name: _raw(value) for name, value in spec.metadata.items()}
        inputs = {}
        for dep in sorted(d.asset_key.to_user_string() for d in spec.deps):
            record = self.resolve(dep, f"asset {key!r}").record
            inputs[dep] = {"data_version": record.data_version, "env": record.env}
        module = str(metadata.get(MODULE, ""))
        git = git_state(self.project.root, (self.project.sandbox_root, self.project.prod_path))
        return self.writer().write(
            key,
            value,
            choose_io(value, metadata.get(IO)),
            code_version=spec.code_version or "",
            started_at=started_at,
            inputs=inputs,
            source=provenance_source(module, key, str(metadata.get(SOURCE) or "")),
            commit=git.commit,
            dirty=git.dirty,
            user=current_user(),
        )

    def record_failure(
        self, asset: ExportedAsset, module: str, exc: BaseException, started_at: str
    ) -> None:
        """Record a build that raised, so ``nbassets status`` shows the asset as failed."""
        error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        failure = Failure(
            key=asset.key,
            env=self.env,
            error=error,
            started_at=started_at,
            finished_at=now(),
            code_version=asset.code_version,
            source=provenance_source(module, asset.key, asset.source),
            user=current_user(),
        )
        self.writer().record_failure(failure)

    def run_rule(self, key: str, rule: Rule) -> CheckResult:
        """Run a ``--check`` rule in DuckDB over the Parquet file of ``key``'s current version."""
        reader = f"check {rule.name!r} of {key!r}"
        target = self.resolve(key, reader)
        record = target.record
        try:
            table = self.workspace.table_path(target)
        except NbAssetsError as exc:
            return CheckResult(key, rule.name, rule.severity, False, record.data_version,
                               error=str(exc))  # fmt: skip

        def other_table(other: str) -> Path:
            return self.workspace.table_path(self.resolve(other, reader))

        return run_rule(rule, key, record.data_version, table, record.schema, other_table)

    def run_check(self, check: ExportedCheck) -> CheckResult:
        """Run a check cell's function on the current values of its deps."""
        reader = f"check {check.name!r} of {check.asset!r}"
        target = self.resolve(check.asset, reader)
        data_version = target.record.data_version
        try:
            values = {
                dep: self.read(target if dep == check.asset else self.resolve(dep, reader))
                for dep in check.deps
            }
        except NbAssetsError as exc:  # another input is missing or unreadable: a broken check
            return CheckResult(check.asset, check.name, check.severity, False, data_version,
                               error=str(exc))  # fmt: skip
        result, _ = run_check(check, check.function, values, data_version)
        return result  # an exception other than a failed assertion is the result's error

    def report(self, result: CheckResult) -> dg.AssetCheckResult:
        """Record ``result`` in the env's catalog (``nbassets status`` sees it); Dagster's form."""
        result = replace(result, checked_at=now())
        self.writer().catalog.record_checks([result], self.env)
        return dagster_result(result)


class NbassetsIOManager(dg.ConfigurableIOManager):
    """Stores asset values as versions in an nbassets store and reads inputs back from it.

    ``env`` defaults to ``NBASSETS_ENV``, else ``prod`` (refused on a dirty tree or another
    branch than main). Inputs are read as values, or as Parquet paths for SQL assets.
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
        """Open the stores now, so a refused env fails before any asset code runs."""
        _ = self.stores

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._stores is not None:
            self._stores.close()
            self._stores = None

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        key = context.asset_key.to_user_string()
        started_at = str(_raw(context.output_metadata.get(STARTED_AT)) or now())
        record = self.stores.write(key, obj, context.asset_spec, started_at)
        metadata: dict[str, Any] = {
            "nbassets/data_version": record.data_version,
            "nbassets/env": record.env,
            "nbassets/path": record.path,
        }
        if record.rows is not None:
            metadata["dagster/row_count"] = record.rows
        if record.schema:
            columns = [dg.TableColumn(name, str(dtype)) for name, dtype in record.schema.items()]
            metadata["dagster/column_schema"] = dg.TableSchema(columns=columns)
        context.add_output_metadata(metadata)

    def load_input(self, context: dg.InputContext) -> Any:
        key = context.asset_key.to_user_string()
        reader = f"asset {context.op_def.name!r}"
        resolved = self.stores.resolve(key, reader)
        return self.stores.read(resolved, _raw(context.definition_metadata.get(LOAD)) == AS_PATH)


def _stores(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> EnvStores:
    manager = context.resources.io_manager
    if not isinstance(manager, NbassetsIOManager):
        raise TypeError(
            "nbassets assets and checks need NbassetsIOManager as their io_manager resource, "
            f"not {type(manager).__name__}."
        )
    return manager.stores


def _raw(value: Any) -> Any:
    """A metadata value as it was given (Dagster may wrap it in a ``MetadataValue``)."""
    return value.value if isinstance(value, dg.MetadataValue) else value
