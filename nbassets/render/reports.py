"""How the CLI's answers read: status rows as JSON, provenance (``why``) and plans as text."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..provenance import BLOCKED, DOWNSTREAM, KEEP, REBUILD, Plan, Provenance
from ..status import ORPHANED, AssetStatus
from ..store.catalog import Materialization
from ..text import plural
from .display import check_line, short_time
from .summary import human_bytes
from .tables import aligned, table


def status_dict(row: AssetStatus) -> dict[str, Any]:
    return {
        "key": row.key,
        "status": row.status,
        "reason": row.reason,
        "env": row.env,
        "data_version": row.data_version,
        "code_version": row.code_version,
        "rows": row.rows,
        "built_at": row.built_at,
        "commit": row.commit,
        "source": row.source,
        "error": row.error,
    }


# --- why ----------------------------------------------------------------------------------------


def why_text(p: Provenance) -> str:
    """The provenance as aligned ``label  value`` lines."""

    m, src = p.record, p.source
    commit = "-" if m.commit is None else m.commit[:12] + (" (dirty tree)" if m.dirty else "")
    if m.commit is None and m.dirty is None:
        commit = "- (not built in a git repository)"
    source = [m.source or "-"]
    parts = [
        ("module", src.module),
        ("function", src.function),
        ("notebook", src.notebook),
        ("cell id", src.cell_id),
        ("cell of asset", src.cell_key),
    ]
    if sum(value is not None for _, value in parts) > 1 or src.raw != (m.source or ""):
        source += [f"  {name}: {value}" for name, value in parts if value is not None]
    inputs = [
        f"{i.key} <- {i.env} @ {i.data_version[:12]}"
        + (f"  ({i.partitions} partitions, combined version)" if i.partitions else "")
        + (f"  (now {(i.now or '')[:12]}: changed since)" if i.changed else "")
        for i in p.inputs
    ]
    facts: list[tuple[str, list[str]]] = [
        ("data version", [m.data_version]),
        *([("partition", [m.partition])] if m.partition else []),
        ("code version", [m.code_version, p.code_note()]),
        ("commit", [commit]),
        ("source", source),
        ("inputs", inputs or ["none"]),
        ("user", [m.user or "-"]),
        *_rollback(m),
        ("started", [short_time(m.started_at)]),
        ("finished", [short_time(m.finished_at)]),
        ("rows", ["-" if m.rows is None else f"{m.rows:,}"]),
        ("bytes", [f"{human_bytes(m.bytes)} ({m.bytes:,} bytes, {m.io})"]),
        ("path", [p.file + ("" if p.file_present else "  (file removed by nbassets gc)")]),
        ("checks", [check_line(c) for c in p.checks] or ["none recorded"]),
    ]
    store = "" if p.store_env == m.env else f", in the store of {p.store_env}"
    part = f"[{m.partition}]" if m.partition else ""
    lines = [f"{m.key}{part} @ {m.data_version[:12]}  (built in {m.env}{store})"]
    rows = [("" if i else label, v) for label, values in facts for i, v in enumerate(values)]
    return "\n".join(lines + aligned(rows, indent="  "))


def _rollback(m: Materialization) -> list[tuple[str, list[str]]]:
    """The line of a version made latest again by ``nbassets rollback`` (none otherwise)."""
    if not m.rollback_of:
        return []
    by = f" by {m.user}" if m.user else ""
    return [
        (
            "rolled back",
            [f"from {m.rollback_of[:12]}{by} at {short_time(m.finished_at)} (nbassets rollback: "
             "an earlier version made latest again, not a build)"],
        )
    ]  # fmt: skip


# --- plan ---------------------------------------------------------------------------------------


def plan_text(
    result: Plan, origin: str, candidate_versions: int, orphaned: Sequence[str] = ()
) -> str:
    """The plan table, a count line (orphans apart: never rebuilt), the partitions of each
    partitioned asset to rebuild as ranges with their reason, the schema drift table and the
    downstream assets that read each removed or retyped column."""
    lines = [f"plan for {result.env} (code: {origin})"]
    if result.steps:
        lines.append(
            table(
                ("asset", "action", "reason"), [(s.key, s.action, s.reason) for s in result.steps]
            )
        )
    else:
        lines.append("no assets defined: export the notebooks first (nbassets export)")
    counts = [(len(result.of(a)), a) for a in (REBUILD, DOWNSTREAM, BLOCKED, KEEP)]
    lines.append(", ".join(f"{n} {'fresh' if a == KEEP else a}" for n, a in counts))
    if orphaned:
        lines.append(f"{len(orphaned)} {ORPHANED} (nbassets gc --orphans): {', '.join(orphaned)}")
    for part in result.partitions:
        todo = f"{part.count:,} of {plural(part.complete, 'partition')} to rebuild"
        lines += ["", f"{part.key} ({part.definition}): {todo}", *(f"  {r}" for r in part.ranges)]
    lines.append("")
    title = f"schema drift of {result.against} against {result.env}"
    if result.drift:
        rows = [
            (
                d.key,
                ", ".join(f"{c} {t}" for c, t in d.added.items()),
                ", ".join(f"{c} {t}" for c, t in d.removed.items()),
                ", ".join(f"{c} {o}->{n}" for c, (o, n) in d.retyped.items()),
            )
            for d in result.drift
        ]
        lines += [f"{title}:", table(("asset", "added", "removed", "retyped"), rows)]
        read = [
            (f"{d.key}.{c}", ", ".join(keys)) for d in result.drift for c, keys in d.readers.items()
        ]
        if read:
            lines += [
                "",
                "readers of removed or retyped columns:",
                table(("column", "readers"), read),
            ]
    elif candidate_versions == 0:
        lines.append(f"{title}: nothing to compare ({result.against} has no versions)")
    else:
        lines.append(f"{title}: none")
    return "\n".join(lines)
