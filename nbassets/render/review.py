"""How the review report reads as JSON (a stable, versioned object) and what its views share.

:func:`to_json_dict` is the report as ``nbassets report --format json`` prints it. The object
(``version`` 1; new fields may be added, none renamed or removed without a new version)::

    {"version": 1, "env": "ci-7", "against": "prod", "code_origin": "package pipelines",
     "summary": {"code_changed": [keys], "new": [keys], "removed": [keys], "downstream": [keys],
                 "unchanged": 3, "checks": {"pass": 5, "warn": 1, "fail": 0, "error": 0},
                 "tests": {"passed": 2, "failed": 0, "error": 0}, "untested": [keys],
                 "rebuild": [keys], "deploy_downstream": [keys]},
     "assets": [{"key", "change" ("code changed" | "new" | "removed" | "downstream"), "reason",
                 "code": {"against_version", "env_version", "diff" (unified, or null), "note"}
                         or null (downstream assets),
                 "against_version", "env_version": {"env", "data_version", "code_version",
                         "rows", "built_at", "commit"} or null,
                 "data": the `nbassets diff --json` object or null, "data_note",
                 "checks": [as `nbassets check --json`],
                 "tests": [{"name", "outcome", "message", "code_version", "at", "source"}],
                 "tests_code_version"}],
     "plan": the `nbassets plan --json` object of --against, with "orphaned"}

``render/review_md.py`` (a pull-request comment) and ``render/review_html.py`` (one page)
draw the same facts; the CLI picks one by name (:data:`FORMATS`).
"""

from __future__ import annotations

import json
from typing import Any

from ..jsonvalues import jsonable
from ..provenance import DOWNSTREAM as DEPLOY_DOWNSTREAM
from ..provenance import REBUILD, check_dict
from ..review import CHANGED, DOWNSTREAM, NEW, REMOVED, AssetReview, CodeDiff, Review, VersionRef
from ..store.results import TestResult
from ..text import plural
from .diffview import to_dict

FORMATS = ("markdown", "html", "json")
JSON_VERSION = 1
CHECK_OUTCOMES = ("pass", "warn", "fail", "error")
TEST_OUTCOMES = ("passed", "failed", "error")


# --- what every view says -----------------------------------------------------------------------


def check_counts(review: Review) -> dict[str, int]:
    counts = dict.fromkeys(CHECK_OUTCOMES, 0)
    for asset in review.assets:
        for result in asset.checks:
            counts[result.outcome] += 1
    return counts


def counts_of_tests(review: Review) -> dict[str, int]:
    counts = dict.fromkeys(TEST_OUTCOMES, 0)
    for asset in review.assets:
        for result in asset.tests:
            counts[result.outcome] = counts.get(result.outcome, 0) + 1
    return counts


def untested(review: Review) -> list[str]:
    """Assets whose code changed (or is new) with no test recorded for their code version."""
    return [a.key for a in review.of(CHANGED, NEW) if not a.tests]


def headline(review: Review) -> list[str]:
    """The summary phrases: what changed, what is downstream, checks, tests, the deploy."""
    parts = []
    for change, label in ((CHANGED, "code changed"), (NEW, "new"), (REMOVED, "removed")):
        keys = [a.key for a in review.of(change)]
        if keys:
            parts.append(f"{plural(len(keys), 'asset')} {label} ({', '.join(keys)})")
    if not parts:
        parts.append(f"no asset's code differs from {review.against}'s")
    downstream = [a.key for a in review.of(DOWNSTREAM)]
    if downstream:
        parts.append(f"{len(downstream):,} downstream ({', '.join(downstream)})")
    checks = check_counts(review)
    if any(checks.values()):
        parts.append("checks: " + ", ".join(f"{n} {o}" for o, n in checks.items() if n))
    tests = counts_of_tests(review)
    if any(tests.values()):
        parts.append("tests: " + ", ".join(f"{n} {o}" for o, n in tests.items() if n))
    missing = untested(review)
    if missing:
        parts.append(f"no tests recorded for {', '.join(missing)}")
    rebuilt = len(review.plan.of(REBUILD)) + len(review.plan.of(DEPLOY_DOWNSTREAM))
    parts.append(f"a deploy to {review.against} rebuilds {plural(rebuilt, 'asset')}")
    return parts


def version_line(ref: VersionRef | None, env: str) -> str:
    """``prod: 1,204 rows, data 3f2a9c1d0e4b, code 77aa01c3e2f0, built 2026-11-30 12:00``."""
    if ref is None:
        return f"{env}: no version"
    rows = "" if ref.rows is None else f"{ref.rows:,} rows, "
    where = "" if ref.env == env else f" (read from {ref.env})"
    built = ref.built_at[:16].replace("T", " ")
    return (
        f"{env}{where}: {rows}data {ref.data_version[:12]}, code {ref.code_version[:12]}, "
        f"built {built}"
    )


def code_versions(code: CodeDiff) -> str:
    """``code version 1a2b… -> 3c4d…`` of a code change (``none`` for a side without code)."""
    return (
        f"code version {(code.old_version or 'none')[:12]} -> {(code.new_version or 'none')[:12]}"
    )


def code_stats(diff: str) -> tuple[int, int]:
    """Lines added and removed by a unified diff."""
    lines = diff.splitlines()
    added = sum(1 for line in lines if line.startswith("+") and not line.startswith("+++"))
    removed = sum(1 for line in lines if line.startswith("-") and not line.startswith("---"))
    return added, removed


# --- JSON ---------------------------------------------------------------------------------------


def to_json(review: Review) -> str:
    """The report as indented JSON text (:func:`to_json_dict`)."""
    return json.dumps(to_json_dict(review), indent=2) + "\n"


def to_json_dict(review: Review) -> dict[str, Any]:
    """The report as the documented JSON object (see the module)."""
    return {
        "version": JSON_VERSION,
        "env": review.env,
        "against": review.against,
        "code_origin": review.code_origin,
        "summary": {
            "code_changed": [a.key for a in review.of(CHANGED)],
            "new": [a.key for a in review.of(NEW)],
            "removed": [a.key for a in review.of(REMOVED)],
            "downstream": [a.key for a in review.of(DOWNSTREAM)],
            "unchanged": len(review.unchanged),
            "checks": check_counts(review),
            "tests": counts_of_tests(review),
            "untested": untested(review),
            "rebuild": [s.key for s in review.plan.of(REBUILD)],
            "deploy_downstream": [s.key for s in review.plan.of(DEPLOY_DOWNSTREAM)],
        },
        "assets": [_asset_dict(a) for a in review.assets],
        "plan": {**review.plan.to_dict(), "orphaned": list(review.orphaned)},
    }


def _asset_dict(a: AssetReview) -> dict[str, Any]:
    code = None
    if a.code is not None:
        code = {
            "against_version": a.code.old_version,
            "env_version": a.code.new_version,
            "diff": a.code.diff,
            "note": a.code.note,
        }
    return {
        "key": a.key,
        "change": a.change,
        "reason": a.reason,
        "code": code,
        "against_version": _version_dict(a.old),
        "env_version": _version_dict(a.new),
        "data": None if a.data is None else to_dict(a.data),
        "data_note": a.data_note,
        "checks": [check_dict(c) for c in a.checks],
        "tests": [_test_dict(t) for t in a.tests],
        "tests_code_version": a.test_code_version,
    }


def _version_dict(ref: VersionRef | None) -> dict[str, Any] | None:
    if ref is None:
        return None
    return {
        "env": ref.env,
        "data_version": ref.data_version,
        "code_version": ref.code_version,
        "rows": ref.rows,
        "built_at": ref.built_at,
        "commit": ref.commit,
    }


def _test_dict(t: TestResult) -> dict[str, Any]:
    return jsonable(
        {
            "name": t.name,
            "outcome": t.outcome,
            "message": t.message,
            "code_version": t.code_version,
            "at": t.at,
            "source": t.source,
        }
    )


def readers_text(readers: dict[str, list[str]]) -> str:
    """``amount: summary, daily_sales; id: report``: who reads each removed or retyped column."""
    return "; ".join(f"{column}: {', '.join(keys)}" for column, keys in readers.items())
