"""A reviewer's facts about a change (``nbassets report``): an env's state against another's.

:func:`review` compares what env ``env`` (a CI or dev sandbox, over production) holds and the
code defines now with env ``against`` (production, usually), and returns a :class:`Review`:

- **code**: every asset whose code version differs from ``against``'s latest version (or that
  ``against`` has no version of: new; or that no code defines any more: removed), with the
  unified diff of the function sources the two versions were built from (each build records
  its source, so no git history is needed). The env's side is the source its own version was
  built from, else (not built there) the current code's;
- **data**: for each changed asset and each asset downstream of one, the data diff of the
  env's version against ``against``'s latest (:func:`nbassets.diff.diff_tables` on the key
  columns; :func:`~nbassets.diff.summarize_table` for a table new there);
- **checks** of the env's version of each reported asset (the latest result of each check
  the code defines) and **tests** recorded in the env's catalog for its code version;
- **plan**: what a deploy to ``against`` with the current code rebuilds (as ``nbassets plan``),
  schema drift, and ``against``'s orphans.

Pure facts: nothing here renders (``render/review.py`` does) or writes.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from contextlib import closing
from dataclasses import dataclass

from .codebase import Code, project_code_and_sources
from .config import Project
from .diff import DataDiff, NewTable, diff_tables, summarize_table
from .environments import PROD, store_path
from .errors import InvalidArgument, NbAssetsError, UnknownName, did_you_mean
from .graph import AssetGraph
from .model import deploy_plan
from .provenance import Plan, latest_checks, name_readers
from .store.catalog import Materialization
from .store.results import CheckResult, TestResult
from .store.stores import Store
from .store.workspace import ResolvedInput, Workspace

CHANGED, NEW, REMOVED, DOWNSTREAM = "code changed", "new", "removed", "downstream"
_NOT_RECORDED = "not recorded (built before nbassets recorded sources, or saved by a script)"


@dataclass(frozen=True)
class VersionRef:
    """One version as the report names it."""

    env: str  # the env whose store holds it
    data_version: str
    code_version: str
    rows: int | None
    built_at: str
    commit: str | None

    @classmethod
    def of(cls, record: Materialization, store_env: str) -> VersionRef:
        return cls(
            store_env,
            record.data_version,
            record.code_version,
            record.rows,
            record.finished_at,
            record.commit,
        )


@dataclass(frozen=True)
class CodeDiff:
    """The code of ``against``'s version and of the env's: versions and their unified diff."""

    old_version: str | None
    new_version: str | None
    diff: str | None  # None when a side's source is not known (``note`` says why)
    note: str = ""


@dataclass(frozen=True)
class AssetReview:
    """What the report says of one asset: why it is listed, its code, data, checks and tests."""

    key: str
    change: str  # CHANGED, NEW, REMOVED or DOWNSTREAM
    reason: str
    code: CodeDiff | None
    old: VersionRef | None  # against's latest version
    new: VersionRef | None  # the version the env holds (None: not built there)
    data: DataDiff | NewTable | None
    data_note: str
    checks: tuple[CheckResult, ...]
    tests: tuple[TestResult, ...]
    test_code_version: str | None  # the code version whose tests count (None: removed asset)


@dataclass(frozen=True)
class Review:
    """The whole report: the env, what it is compared with, each listed asset, the plan."""

    env: str
    against: str
    code_origin: str
    assets: tuple[AssetReview, ...]
    plan: Plan
    orphaned: tuple[str, ...]
    unchanged: tuple[str, ...]  # assets the code defines that are neither changed nor downstream

    def of(self, *changes: str) -> list[AssetReview]:
        return [a for a in self.assets if a.change in changes]


def review(project: Project, env: str, against: str = PROD) -> Review:
    """The report of sandbox ``env`` against ``against`` (see the module); a usage error when
    ``env`` is production or ``against``, or names a store that does not exist."""
    check_envs(project, env, against)
    code, sources = project_code_and_sources(project, ())
    with closing(Workspace(project, env)) as ws, closing(Workspace(project, against)) as base:
        reviews = _code_changes(ws, base, code, sources)
        changed = {r.key for r in reviews}
        graph = AssetGraph(code.deps)
        reaches = {key: graph.descendants(key) for key in changed}
        below = set().union(*reaches.values())
        downstream = [k for k in graph.order(below - changed) if k in code.code_versions]
        reviews += [
            _asset(ws, base, code, key, DOWNSTREAM, _downstream_reason(key, reaches))
            for key in downstream
        ]
        deploy = deploy_plan(project, base, code, ws.own)
        plan = name_readers(deploy.plan, code.deps, sources, (base.prod, base.own), ws.own)
        removed = [_removed(base, key) for key in deploy.orphaned]
    order = {key: i for i, key in enumerate(graph.order())}
    listed = sorted(reviews, key=lambda r: (r.change == DOWNSTREAM, order.get(r.key, 0)))
    unchanged = [k for k in code.code_versions if k not in changed and k not in below]
    return Review(
        env=env,
        against=against,
        code_origin=code.origin,
        assets=tuple(listed + removed),
        plan=plan,
        orphaned=tuple(deploy.orphaned),
        unchanged=tuple(unchanged),
    )


def check_envs(project: Project, env: str, against: str, built: bool = True) -> None:
    """Refuse ``env`` (a sandbox, built unless ``built`` is false) and ``against`` when one
    is the other or names no store (a usage error: the name is wrong, or the env unbuilt)."""
    store_path(project, env)  # a valid env name, else a ConfigError naming the rule
    if env == PROD:
        raise InvalidArgument(
            "--env prod: a review compares a sandbox (a CI or dev env, the one verify "
            "builds) with --against (default prod); name that sandbox with --env."
        )
    if env == against:
        raise InvalidArgument(
            f"--env and --against both name {env!r}: compare two different envs "
            "(usually --env ci-<run> --against prod)."
        )
    for option, name in (("--env", env), ("--against", against))[0 if built else 1 :]:
        root = store_path(project, name)
        if name != PROD and not (root / "catalog.sqlite").exists():
            raise UnknownName(
                f"{option} {name!r} has no store ({root}): build it first "
                f"(nbassets materialize --env {name}), or name an env that exists."
                f"{did_you_mean(name, _sandboxes(project))}"
            )


def _sandboxes(project: Project) -> list[str]:
    root = project.sandbox_root
    return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def _code_changes(
    ws: Workspace, base: Workspace, code: Code, sources: dict[str, str | None]
) -> list[AssetReview]:
    """The assets whose code differs from the version ``base`` sees, or that it lacks."""
    found = []
    built = ws.own.catalog.heads()  # one read of each side's heads, not two queries per asset
    there = base.current()
    for key, current in code.code_versions.items():
        head = built.get(key)
        new_version = head.code_version if head is not None else current
        if key in there and there[key].code_version == new_version:
            continue
        own = ws.own.catalog.latest_of(key) if head is not None else None
        seen = base.resolve(key) if key in there else None
        old = None if seen is None else seen.record
        new_code = own.code if own is not None and own.code is not None else sources.get(key)
        diff = _code_diff(key, old, new_version, new_code, base.env, ws.env)
        if own is not None and current is not None and own.code_version != current:
            note = f"{ws.env}'s version was built from older code than the current {code.origin}"
            diff = CodeDiff(diff.old_version, diff.new_version, diff.diff, _join(diff.note, note))
        if old is None:
            change, reason = NEW, f"{base.env} has no version yet"
        else:
            change = CHANGED
            reason = f"code version {old.code_version[:12]} -> {(new_version or '?')[:12]}"
        found.append(_asset(ws, base, code, key, change, reason, diff))
    return found


def _code_diff(
    key: str,
    old: Materialization | None,
    new_version: str | None,
    new_code: str | None,
    old_env: str,
    new_env: str,
) -> CodeDiff:
    old_version = None if old is None else old.code_version
    if new_code is None:
        return CodeDiff(old_version, new_version, None, f"{new_env}'s source {_NOT_RECORDED}")
    if old is not None and old.code is None:
        return CodeDiff(old_version, new_version, None, f"{old_env}'s source {_NOT_RECORDED}")
    return CodeDiff(
        old_version, new_version, unified(None if old is None else old.code, new_code, key)
    )


def unified(old: str | None, new: str | None, key: str) -> str:
    """The unified diff of two function sources (``None``: absent, as for a new asset)."""
    lines = difflib.unified_diff(
        _lines(old),
        _lines(new),
        f"a/{key}" if old is not None else "/dev/null",
        f"b/{key}" if new is not None else "/dev/null",
    )
    return "".join(lines)


def _lines(text: str | None) -> list[str]:
    """Lines of a source, each ending in a newline: a missing last newline (a kernel's
    cell text against an exported module's function) is no change."""
    return [line + "\n" for line in (text or "").splitlines()]


def _join(*notes: str) -> str:
    return "; ".join(note for note in notes if note)


def _downstream_reason(key: str, reaches: dict[str, set[str]]) -> str:
    ups = sorted(up for up, below in reaches.items() if key in below)
    return f"downstream of {', '.join(ups)}"


def _asset(
    ws: Workspace,
    base: Workspace,
    code: Code,
    key: str,
    change: str,
    reason: str,
    diff: CodeDiff | None = None,
) -> AssetReview:
    """One listed asset: its versions, data diff, checks and tests."""
    old = base.resolve(key)
    record = ws.own.catalog.latest_of(key)
    data: DataDiff | NewTable | None = None
    checks: tuple[CheckResult, ...] = ()
    if record is None:
        note = f"not built in {ws.env}: run nbassets materialize --env {ws.env}"
    else:
        new = ResolvedInput(key, record, ws.env, ws.own)
        data, note = version_diff(ws, new, base, code.key_columns.get(key, ()))
        checks = _checks(ws, new, code)
    test_version = record.code_version if record is not None else code.code_versions.get(key)
    return AssetReview(
        key=key,
        change=change,
        reason=reason,
        code=diff,
        old=None if old is None else VersionRef.of(old.record, old.store.env),
        new=None if record is None else VersionRef.of(record, ws.env),
        data=data,
        data_note=note,
        checks=checks,
        tests=_tests(ws.own, key, test_version),
        test_code_version=test_version,
    )


def _removed(base: Workspace, key: str) -> AssetReview:
    """An asset ``base`` holds that no code defines or reads any more."""
    old = base.resolve(key)
    diff = None
    if old is not None:
        text = old.record.code
        note = "" if text is not None else f"{base.env}'s source {_NOT_RECORDED}"
        diff = CodeDiff(
            old.record.code_version, None, unified(text, None, key) if text else None, note
        )
    return AssetReview(
        key=key,
        change=REMOVED,
        reason="no notebook or exported module defines or reads it any more",
        code=diff,
        old=None if old is None else VersionRef.of(old.record, old.store.env),
        new=None,
        data=None,
        data_note=f"a deploy leaves {base.env}'s versions; nbassets gc --orphans lists them",
        checks=(),
        tests=(),
        test_code_version=None,
    )


def version_diff(
    ws: Workspace, new: ResolvedInput, base: Workspace, key_columns: Iterable[str] = ()
) -> tuple[DataDiff | NewTable | None, str]:
    """The data diff of ``new`` against the version of its key ``base`` sees, as ``nbassets
    diff`` computes it, and a note when there is none (or it had to leave the key out).

    A table ``base`` has no version of is summarized as new there; values that are not
    tables are compared by data version only.
    """
    key, record, label, against = new.key, new.record, new.store.env, base.env
    old = base.resolve(key)
    try:
        if old is None:
            if record.io != "parquet":
                return NewTable(label, against, record.rows, io=record.io), ""
            return summarize_table(ws.table_path(new), label=label, missing_in=against), ""
        if old.record.io != "parquet" or record.io != "parquet":
            same = old.record.data_version == record.data_version
            what = "the same data version as" if same else "another data version than"
            return None, f"stored as {record.io}, not as a table: {what} {against}'s"
        old_path, new_path = base.table_path(old), ws.table_path(new)
        columns = tuple(key_columns)
        try:
            return diff_tables(
                old_path, new_path, key=columns, old_label=against, new_label=label
            ), ""
        except UnknownName as exc:  # a key column added or removed by the change
            diff = diff_tables(old_path, new_path, old_label=against, new_label=label)
            return diff, f"rows compared without the key: {exc}"
    except NbAssetsError as exc:
        return None, f"no data diff: {exc}"


def _checks(ws: Workspace, new: ResolvedInput, code: Code) -> tuple[CheckResult, ...]:
    """The latest result of each check the code defines now, on the env's version."""
    results = ws.own.catalog.versions_check_results([new.record.data_version])
    names = None if code.check_names is None else code.check_names.get(new.key, set())
    latest = latest_checks(r for r in results if r.key == new.key)
    return tuple(r for r in latest if names is None or r.name in names)


def _tests(store: Store, key: str, code_version: str | None) -> tuple[TestResult, ...]:
    """The tests recorded in ``store`` for ``key``'s ``code_version`` (latest of each name)."""
    if code_version is None:
        return ()
    latest: dict[str, TestResult] = {}
    for result in store.catalog.test_results([key]):
        if result.code_version == code_version:
            latest[result.name] = result
    return tuple(sorted(latest.values(), key=lambda r: r.name))
