"""Dagster definitions of an exported package: its assets, its checks, an nbassets IO manager.

The only nbassets module that imports dagster (the optional extra ``nbassets[dagster]``), and
only the generated ``<package>/definitions.py`` imports it::

    from nbassets.dagster_assets import build_definitions

    defs = build_definitions("pipelines", __file__)

Each asset step runs nbassets' shared build operation (:mod:`nbassets.build`) into the store
of the env named by ``NBASSETS_ENV`` (else ``prod``, under the production policy), with the
provenance a notebook records, so Dagster, the CLI and the notebook give the same data
versions on the same inputs; each check step runs the shared check runner. A partitioned
asset has the matching Dagster partitions definition (same keys, UTC, complete partitions
only) and its inputs the matching partition mapping; a step builds each partition of its
run (one, or a range's), and a check step checks each partition's version.
:class:`NbassetsIOManager` is the resource that holds the env's stores. Upstream keys that no asset
of the package builds are source inputs: external assets, read from the store, never built.

The ``context`` parameters below are left unannotated: dagster refuses the string
annotations that ``from __future__ import annotations`` makes.
"""

from __future__ import annotations

import hashlib
import os
import re
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import PrivateAttr

from .build import BuildOutcome, BuildTask, build, upstream_partitions
from .checks.rules import Rule, parse_rule
from .checks.runner import CheckTask, run_checks
from .config import Project
from .environments import PROD, validate_env_name
from .errors import AssetNotFound, ConfigError, SpecError
from .package import Package, asset_task, check_task, load_package
from .partitions import PartitionMapping, PartitionsDefinition, StaticPartitions
from .policy import authorize, confirm_modules, project_modules
from .runtime import ExportedAsset, ExportedCheck
from .store.catalog import Materialization
from .store.results import ERROR, CheckResult
from .store.serializers import concat_values
from .store.workspace import Workspace

# metadata keys: set on definitions and read back by the IO manager
SOURCE, MODULE, IO, CHECK = "nbassets/source", "nbassets/module", "nbassets/io", "nbassets/check"
_MISSING_HINT = (
    "build it first; a source input is stored by its ingest script (nbassets.save({dep!r}, value))"
)
_NOT_NAME = re.compile(r"[^A-Za-z0-9_]+")
#: Dagster's key format of each kind of time partitions: nbassets' own keys
_KEY_FORMATS = {"hourly": "%Y-%m-%dT%H", "daily": "%Y-%m-%d", "monthly": "%Y-%m"}
#: names dagster refuses for ops, inputs and outputs (its DISALLOWED_NAMES, less Python keywords)
DAGSTER_RESERVED = frozenset({
    "context", "conf", "config", "meta", "arg_dict", "dict", "input_arg_dict",
    "output_arg_dict", "int", "str", "float", "bool", "input", "output", "type",
})  # fmt: skip


def build_definitions(package_name: str, project_dir: str | Path | None = None) -> dg.Definitions:
    """Dagster ``Definitions`` of every asset and check of the exported package ``package_name``.

    The project is the one holding ``project_dir`` (a folder or a file: the generated module
    passes its ``__file__``); default: the working directory."""
    project = Project.find(project_dir or Path.cwd())
    package = load_package(project, package_name)
    _refuse_unnamable(package)
    assets: list[dg.AssetsDefinition | dg.AssetSpec] = [
        source_spec(key) for key in source_keys(package)
    ]
    checks: list[dg.AssetChecksDefinition] = []
    partitions = package.partitions()
    for key, asset in package.assets.items():
        upstream = package.upstream_partitions(key)
        assets.append(asset_definition(asset, package.modules[key], upstream))
        checks.extend(asset_checks(asset, package.checks_of(key), partitions[key]))
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


def asset_definition(
    asset: ExportedAsset,
    module: str,
    upstream: dict[str, PartitionsDefinition | None] | None = None,
) -> dg.AssetsDefinition:
    """One ``@dg.asset`` that builds ``asset`` with nbassets' shared build operation.

    Inputs are read from the env's store (the stored round trip; SQL assets read the
    Parquet files), the value is written and recorded there with its provenance, and a
    build that raises is recorded as a failure (``nbassets status`` shows it) and re-raised.
    Its checks run as the separate ``@dg.asset_check`` steps of :func:`asset_checks`.
    ``upstream`` gives each dep's partitions definition (None: built whole), for mappings.
    """
    metadata: dict[str, Any] = {SOURCE: asset.source, MODULE: module}
    if asset.io:
        metadata[IO] = asset.io
    if asset.key_columns:
        metadata["nbassets/key_columns"] = ", ".join(asset.key_columns)
    # checks: their own steps
    task = asset_task(asset, module, rules=False, runner="dagster", upstream=upstream)

    @dg.asset(
        name=asset.key,
        deps=[_dep(dep, task.mappings.get(dep)) for dep in asset.deps],
        partitions_def=partitions_definition(task.partitions),
        code_version=asset.code_version or None,
        description=asset.description,
        metadata=metadata,
        group_name=module.rsplit(".", 1)[-1],
        kinds={"duckdb"} if asset.sql else {"python"},
        required_resource_keys={"io_manager"},
    )
    def compute(context) -> dg.MaterializeResult:
        outcome = _stores(context).build(task, _partitions(context, task.partitions))
        assert outcome.record is not None
        return dg.MaterializeResult(metadata=materialization_metadata(outcome.record))

    return compute


def partitions_definition(
    definition: PartitionsDefinition | None,
) -> dg.PartitionsDefinition | None:
    """The Dagster partitions definition with the same keys as ``definition`` (None: none).

    Time partitions are in UTC, from the same start, with nbassets' key format; like
    nbassets, Dagster lists only complete partitions (its ``end_offset`` is 0).
    """
    if definition is None:
        return None
    if isinstance(definition, StaticPartitions):
        return dg.StaticPartitionsDefinition(list(definition.values))
    kind = {
        "hourly": dg.HourlyPartitionsDefinition,
        "daily": dg.DailyPartitionsDefinition,
        "monthly": dg.MonthlyPartitionsDefinition,
    }[definition.unit]
    fmt = _KEY_FORMATS[definition.unit]
    return kind(start_date=definition.start, timezone="UTC", fmt=fmt, end_offset=0)


def partition_mapping(mapping: PartitionMapping | None) -> dg.PartitionMapping | None:
    """The Dagster mapping that reads the upstream partitions nbassets reads (None: whole).

    ``same`` time partitions, ``covered`` (a month its days) and ``containing`` (a day its
    month) are time windows; ``same`` static partitions map value to value; ``all`` (an
    unpartitioned asset) reads every partition.
    """
    if mapping is None or mapping.kind == "whole":
        return None
    if mapping.kind == "all":
        return dg.AllPartitionMapping()
    if isinstance(mapping.downstream, StaticPartitions):
        return dg.StaticPartitionMapping({value: value for value in mapping.downstream.values})
    return dg.TimeWindowPartitionMapping()


def _dep(key: str, mapping: PartitionMapping | None) -> str | dg.AssetDep:
    dagster_mapping = partition_mapping(mapping)
    return key if dagster_mapping is None else dg.AssetDep(key, partition_mapping=dagster_mapping)


def _partitions(context, definition: PartitionsDefinition | None) -> list[str]:
    """The partitions a step builds or checks: its run's (one, or a range's); [""] if whole."""
    if definition is None:
        return [""]
    return list(context.partition_keys)


def materialization_metadata(record: Materialization) -> dict[str, Any]:
    """What Dagster shows of a stored version: data version, env, path, rows, schema."""
    metadata: dict[str, Any] = {
        "nbassets/data_version": record.data_version,
        "nbassets/env": record.env,
        "nbassets/path": record.path,
    }
    if record.partition:
        metadata["nbassets/partition"] = record.partition
    if record.rows is not None:
        metadata["dagster/row_count"] = record.rows
    if record.schema:
        columns = [dg.TableColumn(name, str(dtype)) for name, dtype in record.schema.items()]
        metadata["dagster/column_schema"] = dg.TableSchema(columns=columns)
    return metadata


# --- checks ---------------------------------------------------------------------------------


def asset_checks(
    asset: ExportedAsset,
    cells: Iterable[ExportedCheck],
    partitions: PartitionsDefinition | None = None,
) -> list[dg.AssetChecksDefinition]:
    """One ``@dg.asset_check`` per ``--check`` rule and per check cell of ``asset`` (of a
    partitioned asset, partitioned alike: it checks the versions of its run's partitions).

    Error-severity checks are blocking: when one fails, Dagster does not build the
    asset's downstream assets in that run.
    """
    rules = [parse_rule(text) for text in dict.fromkeys(asset.rules)]
    cells = list(cells)
    names = check_names(asset.key, [r.name for r in rules] + [c.name for c in cells])
    with warnings.catch_warnings():  # partitioned checks are a preview feature of Dagster 1.13
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return [_rule_check(asset, rule, names[rule.name], partitions) for rule in rules] + [
            _cell_check(check, names[check.name], partitions) for check in cells
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


def _rule_check(
    asset: ExportedAsset, rule: Rule, name: str, partitions: PartitionsDefinition | None
) -> dg.AssetChecksDefinition:
    other = _other(rule)

    @dg.asset_check(
        asset=asset.key,
        name=name,
        description=f"--check {rule.name}" + _severity_note(rule.severity),
        blocking=rule.severity == ERROR,
        additional_deps=[other] if other and other != asset.key else None,
        required_resource_keys={"io_manager"},
        metadata={SOURCE: asset.source, CHECK: rule.name},
        partitions_def=partitions_definition(partitions),
    )
    def check(context) -> dg.AssetCheckResult:
        keys = _partitions(context, partitions)
        return dagster_result(_stores(context).check(asset.key, keys, rules=(rule,)))

    return check


def _cell_check(
    cell: ExportedCheck, name: str, partitions: PartitionsDefinition | None
) -> dg.AssetChecksDefinition:
    others = [dep for dep in cell.deps if dep != cell.asset]

    @dg.asset_check(
        asset=cell.asset,
        name=name,
        description=f"%%check {cell.name}" + _severity_note(cell.severity),
        blocking=cell.severity == ERROR,
        additional_deps=others or None,
        required_resource_keys={"io_manager"},
        metadata={SOURCE: cell.source, CHECK: cell.name},
        partitions_def=partitions_definition(partitions),
    )
    def check(context) -> dg.AssetCheckResult:
        keys = _partitions(context, partitions)
        return dagster_result(_stores(context).check(cell.asset, keys, checks=(check_task(cell),)))

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


class EnvStores:
    """What Dagster steps use of one env: its workspace, and the production policy's grant.

    The grant is asked for once per process, when the IO manager opens, so a refused env
    fails before any asset code runs. Production's workspace reads production only, so a
    production build never reads a version (least of all a pickle) that a sandbox wrote.
    """

    def __init__(self, project: Project, env: str) -> None:
        grant = authorize(project, env, "dagster")
        self.grant = confirm_modules(project, grant, project_modules(project))
        self.project = project
        self.env = env
        self.workspace = Workspace(project, env)

    def close(self) -> None:
        self.workspace.close()

    def build(self, task: BuildTask, partitions: Iterable[str] = ("",)) -> BuildOutcome:
        """Build one asset (each of ``partitions`` in turn) with the shared build operation;
        its checks run as their own steps. The first build that fails raises its error."""
        partitions = list(partitions)
        upstream = upstream_partitions(self.workspace, task) if partitions != [""] else None
        outcome = BuildOutcome(task.key)
        for partition in partitions:
            outcome = build(self.workspace, task, self.grant, None, _MISSING_HINT,
                            partition, upstream)  # fmt: skip
            if outcome.error is not None:
                raise outcome.error
        return outcome

    def check(
        self,
        key: str,
        partitions: Iterable[str] = ("",),
        rules: Iterable[Rule] = (),
        checks: Iterable[CheckTask] = (),
    ) -> CheckResult:
        """Run one rule or check function on ``key``'s current version (of each partition),
        recorded in the env; the first failed result, else the last."""
        partitions = list(partitions)
        if partitions == [""]:
            targets = {"": self.workspace.resolve(key)}
        else:
            found = self.workspace.resolve_partitions(key, partitions)
            targets = {p: found.get(p) for p in partitions}
        results: list[CheckResult] = []
        for partition, target in targets.items():
            if target is None:
                where = "production" if self.env == PROD else f"env {self.env!r} nor in production"
                what = f"partition {partition} of asset {key!r}" if partition else f"asset {key!r}"
                raise AssetNotFound(
                    f"a check of {what} found no version of it in {where} "
                    f"({self.project.prod_path}): build it first."
                )
            results += run_checks(self.workspace, target, rules, checks, self.grant).results[:1]
        return next((r for r in results if not r.passed), results[-1])


class NbassetsIOManager(dg.ConfigurableIOManager):
    """The resource that holds one env's nbassets stores for the assets and checks of a run.

    ``env`` defaults to ``NBASSETS_ENV``, else ``prod`` (under the production policy: a clean
    tree on main, or the ``NBASSETS_ALLOW_DIRTY`` / ``NBASSETS_NO_GIT`` overrides). Other
    Dagster assets may read nbassets assets through it; it stores nothing itself.
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
        raise SpecError(
            f"NbassetsIOManager stores only the assets of nbassets.dagster_assets."
            f"build_definitions, which store their own values; asset "
            f"{context.asset_key.to_user_string()!r} returned a value to it. Give other "
            "assets another IO manager (io_manager_key=...)."
        )

    def load_input(self, context: dg.InputContext) -> Any:
        """An nbassets asset's current value in the env (for other Dagster assets to read);
        of a partitioned asset, the partitions mapped to the reader: one partition's value,
        several tables as one (as a build reads them), other values by partition."""
        key = context.asset_key.to_user_string()
        if context.has_asset_partitions:
            return self._load_partitions(context, key, list(context.asset_partition_keys))
        resolved = self.stores.workspace.resolve(key)
        if resolved is None:
            raise AssetNotFound(
                f"asset {context.op_def.name!r} reads asset {key!r}, which has no version in "
                f"env {self.stores.env!r} or in production: build it first."
            )
        return self.stores.workspace.read(resolved)

    def _load_partitions(self, context: dg.InputContext, key: str, wanted: list[str]) -> Any:
        workspace = self.stores.workspace
        found = workspace.resolve_partitions(key, wanted)
        missing = [p for p in wanted if p not in found]
        if missing:
            raise AssetNotFound(
                f"asset {context.op_def.name!r} reads partition(s) {', '.join(missing[:3])} of "
                f"asset {key!r}, which have no version in env {self.stores.env!r} or in "
                f"production: build them first."
            )
        values = {p: workspace.read(found[p]) for p in wanted}
        kinds = {found[p].record.kind for p in wanted}
        if len(values) == 1:
            return next(iter(values.values()))
        if len(kinds) == 1 and all(found[p].record.io == "parquet" for p in wanted):
            return concat_values(list(values.values()), kinds.pop())
        return values


def _stores(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> EnvStores:
    manager = context.resources.io_manager
    if not isinstance(manager, NbassetsIOManager):
        raise ConfigError(
            "nbassets assets and checks need NbassetsIOManager as their io_manager resource, "
            f"not {type(manager).__name__}."
        )
    return manager.stores
