"""An env's health at a glance (production's, by default): the JSON of the panel's production view.

One row per asset, as ``nbassets status --env prod`` lists them (the code's assets from the
exported package when it exists, in definition order, then the sources the env holds): its
status and why, its last build, the outcomes of the checks of its current version, whether
it is late (``--fresh``), and for a partitioned asset a compact *strip* of its complete
partitions: runs of consecutive partitions in one state, ``built``, ``missing``, ``stale`` or
``failed`` (a failed build, a failed error check or a damaged file). A strip of 3,650 daily
partitions is a few runs, so the browser draws it without an element per partition. Nothing
is written; no kernel is needed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextlib import closing
from typing import Any, Final

from .clock import now_utc
from .codebase import project_code
from .config import Project
from .environments import PROD
from .freshness import Late, age_text
from .model import EnvModel, env_model
from .overview import check_json
from .partition_status import PartitionReport
from .pipeline import late_assets
from .status import CHECK_FAILED, CORRUPT, FAILED, MISSING, ORPHANED, STALE, AssetStatus
from .store.catalog import Head
from .store.results import CheckResult
from .store.workspace import Workspace

BUILT, STALE_PART, MISSING_PART, FAILED_PART = "built", "stale", "missing", "failed"
#: a partition's status -> its state in the strip (anything else is fresh: ``built``)
STRIP_STATE: Final = {
    MISSING: MISSING_PART,
    STALE: STALE_PART,
    FAILED: FAILED_PART,
    CHECK_FAILED: FAILED_PART,
    CORRUPT: FAILED_PART,
}


def env_health(project: Project, env: str = PROD) -> dict[str, Any]:
    """The health of every asset the code defines in ``env``, and of the others it holds
    (production's sources), now (``now_utc()``: ``NBASSETS_NOW`` pins it)."""
    now = now_utc()
    with closing(Workspace(project, env)) as workspace:
        code = project_code(project, workspace.keys())
        model = env_model(workspace, code)
        rows = [row for row in model.rows if row.status != ORPHANED]
        checks = {row.key: _check_results(workspace, model, row) for row in rows}
        late = {item.key: item for item in late_assets(project, env, now=now, workspace=workspace)}
    return {
        "env": env,
        "code": code.origin,
        "now": now.isoformat(),
        "assets": [
            _asset(row, checks[row.key], late.get(row.key), model.partitions.get(row.key))
            for row in rows
        ],
    }


def strip(report: PartitionReport) -> list[dict[str, Any]]:
    """The complete partitions of ``report`` (oldest first) as runs of one state each:
    ``{"first", "last", "count", "state"}``."""
    state_of = {
        partition: STRIP_STATE.get(status, BUILT)
        for (status, _), partitions in report.groups.items()
        for partition in partitions
    }
    runs: list[dict[str, Any]] = []
    for partition in report.keys:
        state = state_of.get(partition, BUILT)
        if runs and runs[-1]["state"] == state:
            runs[-1]["last"] = partition
            runs[-1]["count"] += 1
        else:
            runs.append({"first": partition, "last": partition, "count": 1, "state": state})
    return runs


def _asset(
    row: AssetStatus,
    results: Iterable[CheckResult],
    late: Late | None,
    report: PartitionReport | None,
) -> dict[str, Any]:
    return {
        "key": row.key,
        "status": row.status,
        "reason": row.reason,
        "error": row.error,
        "data_version": row.data_version,
        "rows": row.rows,
        "built_at": row.built_at,
        "commit": row.commit,
        "checks": [{**check_json(r), "checked_at": r.checked_at} for r in results],
        "late": None if late is None else {**late.as_dict(), "text": _late_text(late)},
        "partitions": None if report is None else _partitions(report),
    }


def _partitions(report: PartitionReport) -> dict[str, Any]:
    runs = strip(report)
    counts = dict.fromkeys((BUILT, STALE_PART, MISSING_PART, FAILED_PART), 0)
    for run in runs:
        counts[run["state"]] += run["count"]
    return {"definition": str(report.definition), "complete": report.complete,
            "counts": counts, "strip": runs}  # fmt: skip


def _late_text(late: Late) -> str:
    """``late by 2h 5m (max_age=1h)``, ``never built``: the panel's words."""
    by = "never built" if late.late_by is None else f"late by {age_text(late.late_by)}"
    return f"{by} ({late.fresh})"


def _check_results(workspace: Workspace, model: EnvModel, row: AssetStatus) -> list[CheckResult]:
    """The latest result of each check the code defines, of the version readers get now: the
    current version, or a partitioned asset's newest partition."""
    head = model.current.get(row.key)
    if head is None:
        return []
    if row.key in model.partitions:
        newest = _newest(model.partition_heads.get(row.key, {}))
        if newest is None:
            return []
        head = newest
    defined = (model.code.check_names or {}).get(row.key)
    found = workspace.check_results(row.key, head.data_version, defined)
    return sorted(found, key=lambda result: result.name)


def _newest(heads: Mapping[str, Head]) -> Head | None:
    """The head built last (the catalog's own order, never a clock)."""
    return max(heads.values(), key=lambda head: head.seq or 0, default=None)
