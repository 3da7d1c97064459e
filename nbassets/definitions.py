"""What the project defines: asset definitions from cells, their upstreams and code versions."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .config import Project
from .errors import DependencyError, SpecError, did_you_mean
from .graph import AssetGraph
from .notebookfile import AssetCell, asset_cells
from .partitions import EXAMPLES, RESERVED_KEY
from .source import CellAnalysis, analyze_body
from .spec import AssetSpec
from .sql import analyze_sql


@dataclass(frozen=True)
class AssetDefinition:
    """An asset as its code defines it: declaration, body, upstream keys, code version."""

    spec: AssetSpec
    body: str
    analysis: CellAnalysis
    deps: tuple[str, ...]
    notebook: str | None = None  # path relative to the project root
    cell_id: str | None = None

    @property
    def key(self) -> str:
        return self.spec.key

    @functools.cached_property
    def code_version(self) -> str:
        return self.analysis.code_version(self.spec.output_options())


def define(
    spec: AssetSpec,
    body: str,
    known_keys: Iterable[str],
    *,
    notebook: str | None = None,
    cell_id: str | None = None,
) -> AssetDefinition:
    """Analyze a cell body and infer its upstream assets.

    Upstreams are the free names of the body that are known asset keys, plus
    ``--deps``; an unknown ``--deps`` key is an error with a suggestion. ``partition`` is
    the partitioned cell's own: read without ``--partition``, or assigned with it, it is
    refused before the cell runs.
    """
    known = set(known_keys) - {spec.key}
    analysis = _analyze_sql(spec.key, body, known) if spec.sql else analyze_body(spec.key, body)
    _check_partition_name(spec, body, analysis)
    for dep in spec.deps:
        if dep not in known:
            raise DependencyError(
                f"asset {spec.key!r} lists --deps {dep!r}, but no asset {dep!r} is known "
                f"(in this kernel, the notebook, the sandbox or prod).{did_you_mean(dep, known)} "
                "Run the cell that defines it first, or fix the name."
            )
    inferred = sorted(analysis.free_names & known)
    deps = tuple(dict.fromkeys([*inferred, *spec.deps]))
    local_globals = sorted(analysis.rebound - set(deps))
    if local_globals:
        name = local_globals[0]
        raise SpecError(
            f"asset cell {spec.key!r} reads {name!r} and later assigns it. An asset cell runs "
            f"like a function (the same one `nbassets export` writes), so {name!r} is local "
            f"there and cannot be read before it is assigned: give the new value another "
            f"name (e.g. `{name}_2 = ...`)."
        )
    return AssetDefinition(spec, body, analysis, deps, notebook, cell_id)


# a SQL cell's partition: getvariable('partition'), 'partition_start' or 'partition_end'
_SQL_PARTITION = re.compile(r"getvariable\s*\(\s*'partition(_start|_end)?'\s*\)", re.IGNORECASE)


def _check_partition_name(spec: AssetSpec, body: str, analysis: CellAnalysis) -> None:
    """Refuse ``partition`` read by a cell that has none, or assigned by one that has one."""
    name = RESERVED_KEY
    if spec.sql:
        found = _SQL_PARTITION.search(body) if spec.partitions is None else None
        if found:
            raise SpecError(
                f"SQL asset cell {spec.key!r} reads {found.group(0)}, but it has no partitions "
                "(the variable would be NULL): add --partition to its line (e.g. "
                f"`%%asset {spec.key} --sql --partition {EXAMPLES['daily']}`)."
            )
        return
    if spec.partitions is None and name in analysis.free_names:
        raise SpecError(
            f"asset cell {spec.key!r} reads {name!r}, but it has no partitions: only a "
            f"partitioned cell sees its partition. Add --partition to its line (e.g. "
            f"`%%asset {spec.key} --partition {EXAMPLES['daily']}`); {name!r} is reserved, so "
            "a notebook variable of that name needs another name."
        )
    if spec.partitions is not None and name in analysis.bound:
        raise SpecError(
            f"partitioned asset cell {spec.key!r} assigns {name!r}, which would hide the "
            f"partition it builds (--partition {spec.partitions}): give your value another "
            f"name (e.g. `{name}_value = ...`)."
        )


def _analyze_sql(key: str, body: str, known: set[str]) -> CellAnalysis:
    """A SQL body read like a Python one: the tables it reads are its free names."""
    parsed = analyze_sql(key, body)
    for table in sorted(parsed.tables - known):
        raise DependencyError(
            f"SQL asset {key!r} reads table {table!r}, which is not an asset known here."
            f"{did_you_mean(table, known)} Upstream assets are tables named by their keys; "
            "run the cell that defines it first."
        )
    return CellAnalysis(key, parsed.tables, frozenset(), "sql", parsed.normalized)


def check_acyclic(definitions: Mapping[str, AssetDefinition]) -> None:
    """Raise :class:`~nbassets.errors.CycleError` naming a cycle among ``definitions``."""
    AssetGraph({key: d.deps for key, d in definitions.items()}).order()


def check_acyclic_through(
    key: str,
    definitions: Mapping[str, AssetDefinition],
    recorded: Callable[[str], Iterable[str]],
) -> None:
    """Raise :class:`~nbassets.errors.CycleError` when ``key`` reads itself, directly or not.

    A key that ``definitions`` define reads its deps; any other key reads what
    ``recorded(key)`` says its current version read (the lineage the stores hold), asked
    only for the keys the walk upstream of ``key`` reaches. Only cycles through ``key``
    count: an old record cannot block an asset that is not on it.
    """
    upstream = {k: tuple(d.deps) for k, d in definitions.items()}
    stack = list(upstream.get(key, ()))
    while stack:  # complete ``upstream`` with the recorded lineage of what key reaches
        node = stack.pop()
        if node not in upstream:
            upstream[node] = tuple(recorded(node))
            stack.extend(upstream[node])
    graph = AssetGraph(upstream)
    ancestors = graph.ancestors(key)
    if key not in ancestors:
        return
    around = ancestors & graph.descendants(key)  # every asset on a cycle through key
    AssetGraph({k: [up for up in graph.upstream[k] if up in around] for k in around}).order()


def notebook_paths(project: Project) -> list[Path]:
    """The notebooks that ``[tool.nbassets] notebooks`` matches, sorted."""
    found: set[Path] = set()
    for pattern in project.config.notebooks:
        found.update(p for p in project.root.glob(pattern) if p.suffix == ".ipynb")
    return sorted(found)


def notebook_definitions(
    paths: Iterable[Path], project: Project, extra_keys: Iterable[str] = ()
) -> dict[str, AssetDefinition]:
    """The asset definitions of notebook files; cells that do not parse are left out.

    The first notebook that defines a key wins.
    """
    return define_cells(
        ((project.relative(path), cell) for path in paths for cell in asset_cells(path)),
        extra_keys,
    )


def define_cells(
    cells: Iterable[tuple[str, AssetCell]], extra_keys: Iterable[str] = ()
) -> dict[str, AssetDefinition]:
    """The definitions of ``(notebook, asset cell)`` pairs: the first cell that defines a key
    wins; a cell whose definition fails is left out (reported when the cell runs)."""
    cells = list(cells)
    known = {cell.spec.key for _, cell in cells} | set(extra_keys)
    definitions: dict[str, AssetDefinition] = {}
    for notebook, cell in cells:
        if cell.spec.key in definitions:
            continue
        try:
            definitions[cell.spec.key] = define(
                cell.spec, cell.body, known, notebook=notebook, cell_id=cell.cell_id
            )
        except (SpecError, DependencyError):
            continue
    return definitions
