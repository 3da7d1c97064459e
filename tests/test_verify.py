"""``nbassets verify`` (acceptance 5): the command docs/ci.md shows, run as a real process on a
scripted change in a temporary git repository; failing unit tests, checks and exports named."""

from __future__ import annotations

import os
import re
import shlex
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from helpers import ROOT, unchanged
from test_review import ORDERS_V2, TEST_FAILS, TEST_PASSES, Change, scripted_change

from nbassets.cli import main
from nbassets.config import Project
from nbassets.verify import CHECKS, EXPORT, FAILED, PASSED, SKIPPED, TESTS, verify

RUN_ID = "4242"


@pytest.fixture(autouse=True)
def _fresh_imports(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", True)


def documented_command() -> list[str]:
    """The ``nbassets verify`` line of docs/ci.md's job, with a run id for the expression."""
    text = (ROOT / "docs" / "ci.md").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if "nbassets verify --" in line]
    assert len(lines) == 1, lines
    command = lines[0].strip().removeprefix("run:").strip()
    command = command.replace("${{ github.run_id }}", RUN_ID)
    assert "${{" not in command, command
    return shlex.split(command)


def run_documented(root: Path) -> subprocess.CompletedProcess[str]:
    words = documented_command()
    assert words[:2] == ["nbassets", "verify"]
    script = Path(sys.executable).parent / "nbassets"
    environ = {**os.environ, "NBASSETS_USER": "ci"}
    environ.pop("NBASSETS_ENV", None)
    return subprocess.run(
        [str(script), *words[1:]], cwd=root, env=environ, capture_output=True, text=True
    )


def at_rest(store: Path) -> None:
    """Production's catalog as a synced copy or an idle server holds it: checkpointed, no
    ``-wal``/``-shm`` beside it (this test process built it and a reader closed last)."""
    conn = sqlite3.connect(store / "catalog.sqlite")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    assert sorted(p.name for p in store.iterdir()) == ["catalog.sqlite", "data"]


def committed_change(root: Path, *tests: str) -> Change:
    """The scripted change with ``%%test`` cells (default: one that passes), exported."""
    change = scripted_change(root, build=False)
    change.notebook(ORDERS_V2, cells(*tests))
    change.export()
    change.commit("unit tests")
    assert (root / "pipelines" / "tests" / "test_shop.py").is_file()
    return change


def cells(*tests: str) -> dict[str, str]:
    return {f"test{i}": text for i, text in enumerate(tests or (TEST_PASSES,))}


def test_the_documented_command_passes_a_clean_change(project: Path) -> None:
    committed_change(project)
    assert documented_command() == [
        "nbassets", "verify", "--env", f"ci-{RUN_ID}", "--against", "prod",
        "--format", "markdown", "--output", "report.md",
    ]  # fmt: skip
    at_rest(project / "warehouse")
    with unchanged(project / "warehouse"):  # production is only read: not one byte changes
        done = run_documented(project)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "✓ export --check",
        "✓ unit tests",
        "✓ materialize",
        "✓ checks",
        "✓ report",
        "verify passed",
    ]
    assert lines[1] == "✓ unit tests: 1 passed"
    assert lines[2] == f"✓ materialize: built 3 assets in ci-{RUN_ID}"
    assert lines[3] == "✓ checks: 2 checks passed"
    assert lines[4].startswith("✓ report: markdown report written to report.md (")
    report = (project / "report.md").read_text(encoding="utf-8")
    assert report.startswith(f"## nbassets report: `ci-{RUN_ID}` against `prod`\n")
    assert "- key (order\\_id): 0 added, 1 removed, 2 changed, 2 unchanged\n" in report
    assert "- tests: 1 passed\n" in report  # the exported %%test, recorded by the plugin
    assert "**tests** (code " in report and "): ✅ passed `keeps_positive_paid`" in report
    assert not (project / ".pytest_cache").exists()  # the unit tests leave no cache behind


def test_a_failing_unit_test_fails_verify_and_is_named(project: Path) -> None:
    committed_change(project, TEST_FAILS, TEST_PASSES)
    done = run_documented(project)
    assert done.returncode == 1, done.stdout + done.stderr
    name = "pipelines/tests/test_shop.py::test_orders_keeps_every_paid_order"
    tests_line = next(line for line in done.stdout.splitlines() if "unit tests:" in line)
    assert tests_line == f"✗ unit tests: 1 failed, 1 passed: {name}"
    assert "    E       assert [1] == [1, 2]" in done.stdout  # pytest's own words, indented
    assert done.stdout.splitlines()[-1] == f"verify failed: unit tests ({name})"
    for step in ("export --check", "materialize", "checks", "report"):  # the others still ran
        assert f"✓ {step}:" in done.stdout
    report = (project / "report.md").read_text(encoding="utf-8")
    assert "- tests: 1 passed, 1 failed\n" in report
    assert "❌ failed `keeps_every_paid_order` (assert \\[1\\] == \\[1, 2\\]" in report


def test_failed_checks_and_a_stale_export_are_named(project: Path) -> None:
    change = committed_change(project)
    broken = ORDERS_V2.replace(
        """--check 'unique("order_id")'""", """--check 'row_count(min=10)'"""
    )
    change.notebook(broken, cells())  # the notebook changes; the package is exported from it:
    change.export()
    change.notebook(ORDERS_V2 + "\n# a comment the package does not have yet", cells())
    result = CliRunner().invoke(
        main, ["verify", "--env", "ci-1", "--output", str(project / "r.html"), "--format", "html"]
    )
    assert result.exit_code == 1, result.output
    out = result.stdout
    assert "✗ export --check: 1 file differ from a fresh export: pipelines/shop.py" in out
    assert "✓ unit tests: 1 passed" in out
    assert (  # the failed error check stops what reads orders
        "✓ materialize: built 2 assets in ci-1; skipped customer_revenue (downstream of a failure)"
    ) in out
    assert (
        "✗ checks: 1 of 2 checks failed: orders: row_count(min=10); "
        "not checked (not built): customer_revenue"
    ) in out
    assert "    orders: row_count(min=10): " in out  # the check's message, indented
    assert out.splitlines()[-1] == (
        "verify failed: export --check (pipelines/shop.py); checks (orders: row_count(min=10))"
    )
    assert "<!DOCTYPE html>" in (project / "r.html").read_text()


def test_no_unit_tests_is_said_and_the_report_goes_to_stdout(project: Path) -> None:
    scripted_change(project, build=False)
    result = CliRunner().invoke(main, ["verify", "--env", "ci-2", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert "- unit tests: no unit tests (pipelines/tests does not exist)" in result.stderr
    assert result.stderr.splitlines()[-1] == "verify passed: ci-2 against prod"
    assert result.stdout.startswith('{\n  "version": 1,')  # stdout holds the report alone


def test_the_core_reports_each_step_as_it_ends(project: Path) -> None:
    scripted_change(project, build=False)
    seen: list[str] = []
    result = verify(Project.find(project), "ci-3", on_step=lambda s: seen.append(s.name))
    assert seen == [EXPORT, TESTS, "materialize", CHECKS, "report"]
    assert [s.outcome for s in result.steps] == [PASSED, SKIPPED, PASSED, PASSED, PASSED]
    assert result.ok and result.review is not None
    assert [a.key for a in result.review.assets] == ["orders", "customer_revenue"]
    assert result.steps[4].summary == "made"


def test_a_build_that_raises_fails_materialize_and_skips_downstream(project: Path) -> None:
    change = committed_change(project)
    change.notebook(ORDERS_V2.replace('columns="status"', 'columns="nope"'), cells())
    change.export()
    result = verify(Project.find(project), "ci-4")
    by_name = {s.name: s for s in result.steps}
    assert by_name["materialize"].outcome == FAILED
    assert by_name["materialize"].failed == ("orders",)
    assert re.search(
        r"failed: orders \(KeyError: .*nope.*\); skipped customer_revenue",
        by_name["materialize"].summary,
    )
    assert by_name[CHECKS].summary.endswith("not checked (not built): customer_revenue")
    assert by_name[TESTS].outcome == FAILED  # the exported orders raises in the unit test too
    assert not result.ok


def test_bad_usage_exits_2(project: Path) -> None:
    scripted_change(project, build=False)

    def run(*args: str) -> Result:
        return CliRunner().invoke(main, ["verify", *args])

    assert run().exit_code == 2 and "Missing option '--env'" in run().output
    prod = run("--env", "prod")
    assert prod.exit_code == 2 and "--env prod: a review compares a sandbox" in prod.stderr
    same = run("--env", "ci-1", "--against", "ci-1")
    assert same.exit_code == 2 and "both name 'ci-1'" in same.stderr
    other = run("--env", "ci-1", "--against", "staging")
    assert other.exit_code == 2 and "--against 'staging' has no store" in other.stderr
    assert not (project / ".nbassets" / "ci-1").exists()  # refused before anything ran
