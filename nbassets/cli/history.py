"""``nbassets history [KEY]``: an env's builds over time, failed ones included, with checks."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import click

from ..config import Project
from ..environments import PROD, default_dev_env
from ..errors import did_you_mean
from ..render.tables import table
from ..store.catalog import Failure, Materialization
from ..store.results import CheckResult
from ..store.stores import Store
from .common import (
    _DEV_STORE,
    CliError,
    _Cli,
    echo_json,
    env_option,
    json_option,
    open_store,
    pass_cli,
    record_dict,
    usage_error,
)


@dataclass(frozen=True)
class Build:
    """One build of a key in a store: the version it recorded, or its failure."""

    record: Materialization | Failure
    file_present: bool = False  # a materialization's file is still in the store
    checks: tuple[CheckResult, ...] = ()  # the latest result of each check of its version

    @property
    def failed(self) -> bool:
        return isinstance(self.record, Failure)

    @property
    def seconds(self) -> float | None:
        """``finished_at - started_at``, or None when a stamp cannot be read."""
        try:
            started = datetime.fromisoformat(self.record.started_at)
            return (datetime.fromisoformat(self.record.finished_at) - started).total_seconds()
        except (TypeError, ValueError):
            return None

    def as_dict(self, location: str) -> dict[str, Any]:
        r = self.record
        passed = sum(c.passed for c in self.checks)
        common = {"status": "failed" if self.failed else "built", "duration_seconds": self.seconds}
        checks = {"passed": passed, "failed": len(self.checks) - passed,
                  "failing": [c.name for c in self.checks if not c.passed]}  # fmt: skip
        if isinstance(r, Failure):
            nothing = dict.fromkeys(("data_version", "rows", "commit", "file", "checks"))
            return {**asdict(r), **nothing, **common, "built_at": None, "store": location}
        return {**record_dict(r), **common, "file": r.path, "file_present": self.file_present,
                "store": location, "checks": checks}  # fmt: skip


def builds(store: Store, keys: list[str], limit: int) -> list[Build]:
    """The ``limit`` latest builds of ``keys`` in ``store``, newest first (its sequence)."""
    catalog = store.catalog
    records: list[Materialization | Failure] = []
    for key in keys:
        records += catalog.history(key, limit)
        records += catalog.failure_history(key, limit)
    records.sort(key=lambda r: (r.seq or 0, r.finished_at, r.id or 0), reverse=True)
    records = records[:limit]
    versions = [r.data_version for r in records if isinstance(r, Materialization)]
    by_version: dict[tuple[str, str], list[CheckResult]] = {}
    for result in catalog.versions_check_results(versions):
        by_version.setdefault((result.key, result.data_version), []).append(result)
    return [
        Build(r)
        if isinstance(r, Failure)
        else Build(
            r, store.storage.exists(r.path), tuple(by_version.get((r.key, r.data_version), []))
        )
        for r in records
    ]


@click.command()
@click.argument("key", required=False)
@env_option(_DEV_STORE)
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True, metavar="N")
@json_option
@pass_cli
def history(cli: _Cli, key: str | None, env: str | None, limit: int, as_json: bool) -> None:
    """An env's builds over time: of KEY, or of every asset.

    Newest first, the latest --limit builds (failed ones too) of KEY, or of every asset the
    env's store holds when no KEY is given.

    Each build: its version, when it finished, how long it took, rows, size, code version,
    commit, partition, check outcomes (passed of run, for its data version) and its file
    (relative to the store's folder, or that gc removed it); a failed build shows its error.
    --json gives the same fields (``status``: built or failed; ``duration_seconds``; ``checks``).
    """
    project = cli.project
    env = env or default_dev_env(project)
    with open_store(project, env) as store:
        keys = [key] if key is not None else sorted(store.catalog.keys())
        found = builds(store, keys, limit)
        if key is not None and not found:
            raise no_history(project, store, key)
        location = store.storage.location
    if as_json:
        echo_json([b.as_dict(location) for b in found])
        return
    of = key if key is not None else "builds"
    if not found:
        click.echo(f"no builds in {env} ({location})")
        return
    click.echo(f"{of} in {env} ({location}), newest first (* = built from a dirty tree)")
    click.echo(_table(found, with_key=key is None))


def _table(found: list[Build], *, with_key: bool) -> str:
    from ..render.display import short_time
    from ..render.preview import human_seconds
    from ..render.summary import human_bytes

    partitioned = any(b.record.partition for b in found)
    header = ["version", "built", "took", "rows", "size", "code", "commit", "partition", "checks",
              "user", "file"]  # fmt: skip
    rows = []
    for b in found:
        r, took = b.record, b.seconds
        row = ["", short_time(r.finished_at), "" if took is None else human_seconds(took)]
        if isinstance(r, Failure):
            row[0] = "FAILED"
            row += ["", "", (r.code_version or "")[:12], "", r.partition, "", r.user or ""]
            row.append(f"error: {_first_line(r.error)}")
        else:
            passed = sum(c.passed for c in b.checks)
            row[0] = r.data_version[:12]
            row += ["" if r.rows is None else f"{r.rows:,}", human_bytes(r.bytes),
                    r.code_version[:12], (r.commit or "")[:7] + ("*" if r.dirty else ""),
                    r.partition, f"{passed}/{len(b.checks)} passed" if b.checks else "",
                    r.user or "", r.path if b.file_present else f"{r.path} (removed by gc)",
                    ]  # fmt: skip
        rows.append(([r.key] if with_key else []) + row)
    if not partitioned:
        header.remove("partition")
        rows = [row[:-4] + row[-3:] for row in rows]
    return table((["key"] if with_key else []) + header, rows)


def _first_line(error: str, width: int = 80) -> str:
    line = error.strip().splitlines()[0] if error.strip() else ""
    return line if len(line) <= width else line[: width - 1] + "…"


def no_history(project: Project, store: Store, key: str) -> CliError:
    """The error for an asset with no builds in ``store``, pointing at where it is."""
    if store.env != PROD:
        with open_store(project, PROD) as prod:
            if prod.catalog.latest_of(key) is not None:
                return CliError(
                    f"asset {key!r} has no versions in env {store.env!r}; production has: "
                    f"nbassets history {key} --env prod"
                )
    known = store.catalog.keys()
    return usage_error(
        f"asset {key!r} has no versions in env {store.env!r} ({store.root})."
        f"{did_you_mean(key, known)} Pass another env with --env."
    )
