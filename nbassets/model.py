"""The one model of what the project defines and how it stands in an env.

:class:`Code` is what the code defines (from a kernel's cells, the notebooks, or the exported
package): keys in definition order, deps, code versions, key columns and check names.
:func:`env_model` puts it beside what an env's stores hold (its own over production's) and
gives an :class:`EnvModel`: status rows, the version each key resolves to, production's
heads, lineage nodes and edges (with where each input came from) and whether production was
built from this code; every edge asks it. :func:`orphans` says which keys the stores hold that
no notebook and no exported module of the project defines or reads any more (DESIGN §2).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from . import pysyntax
from .codebase import NOTEBOOKS, PACKAGE, Code
from .config import Project
from .definitions import notebook_definitions, notebook_paths
from .environments import PROD
from .gitinfo import git_state
from .notebookfile import asset_cells
from .partition_status import (
    PartitionReport,
    evaluate,
    partitioned_assets,
    reader_heads,
    undefined_rows,
)
from .provenance import (
    DeployPlan,
    Plan,
    PlannedBuilds,
    parse_source,
    plan_partitions,
    schema_drift,
)
from .status import (
    EXTERNAL_CODE,
    ORPHANED,
    AssetStatus,
    compute_statuses,
    failing_checks,
    gc_paused,
    in_definition_order,
    orphaned_keys,
)
from .store.catalog import Failure, Head, Materialization
from .store.stores import Store
from .store.workspace import SANDBOX, Workspace

_Heads = Mapping[str, Head]
_Parts = Mapping[str, Mapping[str, Head]]
_Failures = Mapping[str, Failure]


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
    # each partitioned asset the code defines: where its complete partitions stand
    partitions: Mapping[str, PartitionReport] = field(default_factory=dict)
    # key -> partition -> the version a read of it resolves to (partitioned keys only)
    partition_heads: Mapping[str, Mapping[str, Head]] = field(default_factory=dict)

    def row(self, key: str) -> AssetStatus | None:
        return next((row for row in self.rows if row.key == key), None)

    def prod_notes(self) -> dict[str, str]:
        """For each row the code defines and production holds: is prod built from this code?"""
        notes = {}
        shown = {row.key for row in self.rows}
        for key, code_version in self.code.code_versions.items():
            head = self.prod.get(key)
            if head is None or code_version is None or key not in shown:
                continue
            if head.code_version == code_version:
                notes[key] = "built from this code"
            elif head.code_version == EXTERNAL_CODE:  # nbassets.save: no asset code made it
                at = f" at commit {head.commit[:7]}" if head.commit else ""
                notes[key] = f"stored by a script (nbassets.save{at}), not built from this code"
            else:  # the commit says where prod was built, not that the commit differs
                at = f" at commit {head.commit[:7]}" if head.commit else ""
                notes[key] = (
                    f"built from other code (code version {head.code_version[:7]}{at}; "
                    f"now {code_version[:7]})"
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

    def upstreams(self, key: str) -> Sequence[str]:
        """What ``key`` reads: the code's deps where it defines the asset, else the inputs its
        current version read."""
        deps = self.code.deps.get(key)
        if deps is not None:
            return deps
        head = self.current.get(key)
        return tuple(head.inputs) if head is not None else ()

    def lineage(self) -> tuple[list[LineageNode], list[LineageEdge]]:
        """Nodes coloured by status; an edge per upstream (:meth:`upstreams`), labelled by
        where it was read."""
        nodes, edges = [], []
        for row in self.rows:
            nodes.append(LineageNode(row.key, row.status, row.label))
            for up in self.upstreams(row.key):
                edges.append(LineageEdge(up, row.key, self.origin(row.key, up)))
        return nodes, edges

    def reach(self, keys: Iterable[str]) -> set[str]:
        """``keys`` and every asset they read, directly or not (:meth:`upstreams`), that the
        model has a row for."""
        listed = {row.key for row in self.rows}
        found: set[str] = set()
        stack = [key for key in keys if key in listed]
        while stack:
            key = stack.pop()
            if key not in found:
                found.add(key)
                stack.extend(up for up in self.upstreams(key) if up in listed)
        return found

    def scoped(self, keys: Iterable[str], notebook: str | None = None) -> EnvModel:
        """The model of one notebook: the rows of ``keys`` (the assets it defines or checks)
        and of every asset they read, directly or not, since their staleness comes from those;
        in the same order. Orphans built from ``notebook`` (a path relative to the project
        root: cells renamed or deleted since) stay too, listed apart as everywhere. The other
        rows (other notebooks' assets, scratch builds, other orphans) are left out:
        ``%assets --all`` and a view without ``--notebook`` show them. Lineage edges stay
        among the rows kept."""
        kept = self.reach(keys)
        if notebook is not None:
            kept.update(
                row.key
                for row in self.rows
                if row.status == ORPHANED and parse_source(row.source).notebook == notebook
            )
        return replace(self, rows=[row for row in self.rows if row.key in kept])


def env_model(
    workspace: Workspace,
    code: Code,
    kernel_versions: Mapping[str, Materialization] | None = None,
    current: Mapping[str, Head] | None = None,
) -> EnvModel:
    """``code`` beside what ``workspace`` (and a kernel's own builds) hold now; ``current`` is
    ``workspace.current(kernel_versions)`` when the caller has read it already.

    ``code.check_names`` lists the checks each asset defines now; results of checks no longer
    defined do not count (all count for other assets). A partitioned asset's row is the worst
    of its complete partitions' (``partition_status``), with counts."""
    with gc_paused():
        prod = workspace.prod.catalog.heads() if workspace.env != PROD else {}
        if current is None:
            current = workspace.current(kernel_versions, prod_heads=prod)
        current, parts = with_partitions(workspace, code, current)
        versions = [(key, head.data_version) for key, head in current.items()]
        failed = {k: name for (k, _), name in failed_checks(workspace, versions, code).items()}
        damaged = workspace.damaged(current)
        failures = workspace.failures()
        own, reports = _partition_rows(workspace, code, current, parts, failures)
    orphaned = orphans(workspace.project, code, current, failures)
    rows = compute_statuses(code.code_versions, code.deps, current, failures, failed, damaged,
                            orphaned, own)  # fmt: skip
    ordered = in_definition_order(rows, code.code_versions)
    return EnvModel(workspace.env, code, ordered, current, prod, reports, parts)


def with_partitions(
    workspace: Workspace, code: Code, current: Mapping[str, Head]
) -> tuple[dict[str, Head], dict[str, dict[str, Head]]]:
    """``current`` with partitioned keys as unpartitioned readers see them (``reader_heads``),
    and the partitions of those (``is_partition_head``) and of the code's partitioned assets."""
    keys = set(code.partitions) | {k for k, h in current.items() if h.path.count("/") == 3}
    if not keys:
        return dict(current), {}
    parts = workspace.current_partitions(sorted(keys))
    return reader_heads(current, parts), parts


def _partition_rows(
    ws: Workspace, code: Code, current: Mapping[str, Head], parts: _Parts, failures: _Failures
) -> tuple[dict[str, AssetStatus], dict[str, PartitionReport]]:
    """Each partitioned asset's own row: its partitions' worst, with counts (undefined_rows);
    and the report of each partitioned asset the code defines"""
    assets = partitioned_assets(code.code_versions, code.deps, code.partitions)
    reports: dict[str, PartitionReport] = {}
    if not assets and not parts:  # no partitions anywhere: the usual case costs nothing more
        return {}, reports
    heads = [(k, p, h) for k in assets for p, h in parts.get(k, {}).items()]
    failing = failed_checks(ws, [(k, h.data_version) for k, _, h in heads], code)
    named = {f"{k}/{p}": tuple.__new__(Head, (f"{k}/{p}", *h[1:])) for k, p, h in heads}
    corrupt = {(n[: n.index("/")], n[n.index("/") + 1 :]): v for n, v in ws.damaged(named).items()}
    rows = undefined_rows([k for k in parts if k not in assets], current, failures)
    failed = ws.partition_failures(assets)
    for key, report in evaluate(assets, parts, current, failures, failing, corrupt,
                                partition_failures=failed).items():  # fmt: skip
        rows[key] = report.row(current.get(key))
        reports[key] = report
    return rows, reports


def failed_checks(
    workspace: Workspace, versions: Collection[tuple[str, str]], code: Code
) -> dict[tuple[str, str], str]:
    """(key, data version) -> a failed error check of that version that ``code`` defines now,
    recorded in any store (a notebook checking a prod version records it in its sandbox)."""
    wanted, data_versions = set(versions), list({version for _, version in versions})
    stores = [workspace.own] if workspace.own is workspace.prod else [workspace.prod, workspace.own]
    results = [r for s in stores for r in s.catalog.versions_check_results(data_versions)]
    return failing_checks(results, wanted, code.check_names or {})


# --- orphans -------------------------------------------------------------------------------------


def orphans(
    project: Project,
    code: Code,
    current: Mapping[str, Head],
    failures: Mapping[str, Failure] | None = None,
) -> set[str]:
    """The keys the stores hold (a version, or only failed builds) that no notebook and no
    exported module of the project defines or reads, and that are not external versions.

    ``code`` may be a part of the project (one notebook, a kernel's cells): the keys it leaves
    are looked up in every notebook, then in the exported package; both are read only when
    such keys remain, so a project without orphans pays one pass over its keys. A project
    whose notebooks and package define no asset at all has no orphans (a wrong ``notebooks``
    pattern, or a store shared with another project, must not orphan everything), as
    ``gc --orphans`` refuses to run there.
    """
    held: Mapping[str, Head | None] = current
    extra = [key for key in failures or () if key not in current]
    if extra:
        held = {**current, **dict.fromkeys(extra)}
    found = orphaned_keys(held, code.code_versions, code.deps)
    if not found:
        return found
    from_package = code.origin.startswith(PACKAGE)
    defines = bool(code.code_versions) and (code.origin == NOTEBOOKS or from_package)
    parts: list[Callable[[], tuple[set[str], set[str]] | None]] = []
    if code.origin != NOTEBOOKS:  # else ``code`` is that part already
        parts.append(lambda: _notebooks_use(project, held))
    if not from_package:
        parts.append(lambda: _package_use(project))
    for part in parts:
        used = part()
        if used is None:
            return set()  # a part nobody can read: claim no orphan
        defined, reads = used
        defines = defines or bool(defined)
        found -= defined | reads
        if not found:
            break
    return found if defines else set()


def _notebooks_use(project: Project, held: Mapping[str, object]) -> tuple[set[str], set[str]]:
    """The keys the project's notebooks define (even in a cell that does not parse), and read.

    The reads are those of :func:`notebook_definitions` knowing every held key; it is told
    only the held keys some cell's text mentions (the others cannot be read), which gives
    the same definitions at a cost that does not grow with the stores.
    """
    paths = notebook_paths(project)
    cells = [cell for path in paths for cell in asset_cells(path)]
    words = {word for cell in cells for word in _WORD.findall(cell.body)}
    words.update(dep for cell in cells for dep in cell.spec.deps)
    definitions = notebook_definitions(paths, project, [w for w in words if w in held])
    return (
        {cell.spec.key for cell in cells},
        {dep for definition in definitions.values() for dep in definition.deps},
    )


_WORD = re.compile(r"\w+")  # every name a cell could read (asset keys are ASCII words)


_exported: dict[Path, tuple[tuple[int, int], tuple[set[str], set[str]] | None]] = {}


def _package_use(project: Project) -> tuple[set[str], set[str]] | None:
    """The keys the exported package defines, and reads, from its modules' ``ASSETS`` read as
    text (a kernel or the server must not run the package); ``None`` when a module's
    ``ASSETS`` is not written as ``nbassets export`` writes it (then nobody can say)."""
    folder = project.export_folder
    defined: set[str] = set()
    reads: set[str] = set()
    if not project.exported:
        return defined, reads
    for file in sorted(folder.glob("*.py")):
        if file.stem in ("__init__", "definitions"):
            continue
        try:
            stat = file.stat()
        except OSError:
            return None
        stamp = (stat.st_mtime_ns, stat.st_size)
        hit = _exported.get(file)
        if hit is None or hit[0] != stamp:
            hit = _exported[file] = (stamp, _module_assets(file))
        if hit[1] is None:
            return None
        defined |= hit[1][0]
        reads |= hit[1][1]
    return defined, reads


def _module_assets(file: Path) -> tuple[set[str], set[str]] | None:
    """The keys and the deps of the ``ExportedAsset(...)`` entries of a module's ``ASSETS``."""
    try:
        tree = pysyntax.parse(file.read_text(encoding="utf-8"), str(file))
    except (OSError, UnicodeDecodeError, SyntaxError, ValueError):
        return None
    value = next(
        (
            node.value
            for node in tree.body
            if isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "ASSETS" for t in node.targets)
        ),
        None,
    )
    keys: set[str] = set()
    deps: set[str] = set()
    if value is None:
        return keys, deps
    if not isinstance(value, ast.Tuple | ast.List):
        return None
    for entry in value.elts:
        if not (isinstance(entry, ast.Call) and _called(entry) == "ExportedAsset"):
            return None
        fields = {kw.arg: kw.value for kw in entry.keywords if kw.arg}
        fields.update(zip(("key", "function", "deps"), entry.args, strict=False))
        try:
            key = pysyntax.literal(fields["key"])
            ups = pysyntax.literal(fields["deps"]) if "deps" in fields else ()
        except (KeyError, ValueError, TypeError, SyntaxError):
            return None
        if not isinstance(key, str) or not isinstance(ups, tuple | list):
            return None
        if not all(isinstance(up, str) for up in ups):
            return None
        keys.add(key)
        deps.update(ups)
    return keys, deps


def _called(call: ast.Call) -> str:
    func = call.func
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")


def deploy_plan(project: Project, target: Workspace, code: Code, candidate: Store) -> DeployPlan:
    """The plan of ``target``'s env for ``code`` (rebuilds and why, partitions as ranges, never
    the orphans) and the schema drift of ``candidate``'s latest versions against ``target``'s
    (``nbassets plan`` and the review report alike)."""
    current, failures = target.current(), target.failures()
    orphaned = sorted(orphans(project, code, current, failures))
    plan = _plan(target, code, current, failures, git_state(project.root).commit)
    latest = {} if target.own is target.prod else target.prod.catalog.latest()
    latest.update(target.own.catalog.latest())
    built = candidate.catalog.latest()
    drift = schema_drift(
        {k: m.schema for k, m in latest.items()}, {k: m.schema for k, m in built.items()}
    )
    return DeployPlan(
        replace(plan, against=candidate.env, drift=tuple(drift)), orphaned, len(built)
    )


def planned_builds(workspace: Workspace, code: Code) -> PlannedBuilds:
    """What ``materialize --select plan`` builds in ``workspace``'s env: the partitions of each
    partitioned asset the plan rebuilds (oldest first) and the unpartitioned assets."""
    return _plan(workspace, code, workspace.current(), workspace.failures(), None).builds()


def _plan(
    ws: Workspace, code: Code, current: _Heads, failures: _Failures, commit: str | None
) -> Plan:
    with gc_paused():
        current, parts = with_partitions(ws, code, current)
        assets = partitioned_assets(code.code_versions, code.deps, code.partitions)
        reports = evaluate(assets, parts, current, failures,
                           partition_failures=ws.partition_failures(assets))  # fmt: skip
        steps, partitions = plan_partitions(
            code.code_versions, code.deps, current, failures, assets, reports, commit
        )
    return Plan(ws.env, tuple(steps), partitions=tuple(partitions))
