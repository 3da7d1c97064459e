"""The review report's facts (nbassets.review) on a scripted change in a real git project.

:func:`scripted_change` (also used by the report CLI, verify and browser tests) makes a project
whose production was built on main from one notebook, then a feature branch that changes the
code of ``orders`` (drops non-positive amounts, discounts customer 1, adds a column) and is
built into ``ci``: ``customer_revenue`` is downstream, ``big_orders`` is untouched. Unit
tests are ``%%test`` cells (:data:`TEST_PASSES`, :data:`TEST_FAILS`) the export writes as
pytest tests in ``pipelines/tests/test_shop.py``.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from helpers import write_notebook

import nbassets
from nbassets.cli import main
from nbassets.config import Project
from nbassets.diff import DataDiff, NewTable
from nbassets.errors import InvalidArgument, UnknownName
from nbassets.pipeline import materialize
from nbassets.review import CHANGED, DOWNSTREAM, NEW, REMOVED, review, unified
from nbassets.store.results import TestResult
from nbassets.store.stores import Store

CI = "ci-7"
RAW = pd.DataFrame(
    {
        "order_id": [1, 2, 3, 4, 5, 6],
        "customer_id": [1, 1, 2, 2, 3, 3],
        "amount": [10.0, 20.0, 30.0, 40.0, 50.0, -5.0],
        "status": ["paid", "paid", "refunded", "paid", "paid", "paid"],
    }
)
ORDERS_V1 = """\
%%asset orders --key order_id --check 'not_null("order_id")' --check 'unique("order_id")'
paid = raw_orders[raw_orders.status == "paid"]
orders = paid.drop(columns="status").reset_index(drop=True)"""
ORDERS_V2 = """\
%%asset orders --key order_id --check 'not_null("order_id")' --check 'unique("order_id")'
paid = raw_orders[(raw_orders.status == "paid") & (raw_orders.amount > 0)]
kept = paid.drop(columns="status").reset_index(drop=True)
kept["amount"] = kept.amount.where(kept.customer_id != 1, kept.amount * 0.9)
orders = kept.assign(amount_cents=(kept.amount * 100).round().astype("int64"))"""
REVENUE = """\
%%asset customer_revenue --key customer_id
orders.groupby("customer_id", as_index=False).agg(revenue=("amount", "sum"))"""
BIG = """\
%%asset big_orders --key order_id
raw_orders[raw_orders.amount > 35].reset_index(drop=True)"""
TEST_PASSES = """\
%%test orders --name keeps_positive_paid
import pandas as pd

raw = pd.DataFrame(
    {"order_id": [1, 2], "customer_id": [2, 2], "amount": [5.0, -1.0], "status": ["paid"] * 2}
)
assert list(orders(raw_orders=raw)["order_id"]) == [1]"""
TEST_FAILS = TEST_PASSES.replace("keeps_positive_paid", "keeps_every_paid_order").replace(
    '["order_id"]) == [1]', '["order_id"]) == [1, 2]'
)


@dataclass
class Change:
    """The scripted project: its root, and how to run git and the CLI in it."""

    root: Path

    def git(self, *args: str) -> str:
        done = subprocess.run(
            ["git", "-c", "user.email=t@t", "-c", "user.name=t", *args],
            cwd=self.root, capture_output=True, text=True, check=True,
        )  # fmt: skip
        return done.stdout.strip()

    def notebook(self, orders: str, extra: dict[str, str] | None = None) -> None:
        cells = {"orders": orders, "revenue": REVENUE, "big": BIG, **(extra or {})}
        write_notebook(self.root / "notebooks" / "shop.ipynb", cells)

    def export(self) -> None:
        result = CliRunner().invoke(main, ["export"], catch_exceptions=False)
        assert result.exit_code == 0, result.output

    def commit(self, message: str) -> None:
        self.git("add", "-A")
        self.git("commit", "-qm", message)


def production(root: Path) -> Change:
    """The project on main, with production built from it (notebook v1, exported)."""
    change = Change(root)
    (root / ".gitignore").write_text(".nbassets/\nwarehouse/\n__pycache__/\n")
    nbassets.save("raw_orders", RAW, env="prod", project=Project.find(root))
    change.notebook(ORDERS_V1)
    change.export()
    change.git("init", "-q", "-b", "main")
    change.commit("v1")
    built = materialize(Project.find(root), "prod")
    assert built.ok and sorted(built.built) == ["big_orders", "customer_revenue", "orders"]
    return change


def scripted_change(root: Path, build: bool = True) -> Change:
    """Production from v1, then the feature branch (orders v2) exported, committed and, when
    ``build``, built into ``ci-7``."""
    change = production(root)
    change.git("checkout", "-q", "-b", "feature")
    change.notebook(ORDERS_V2)
    change.export()
    change.commit("orders: positive amounts only, a discount, amount_cents")
    if build:
        report = materialize(Project.find(root), CI)
        assert report.ok, report
    return change


@pytest.fixture(autouse=True)
def _fresh_imports(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rewritten package modules of one size within one second must not come from old .pyc."""
    monkeypatch.setattr(sys, "dont_write_bytecode", True)


def test_the_change_names_the_changed_asset_its_code_diff_and_what_is_downstream(
    project: Path,
) -> None:
    scripted_change(project)
    found = review(Project.find(project), CI)
    assert [(a.key, a.change) for a in found.assets] == [
        ("orders", CHANGED),
        ("customer_revenue", DOWNSTREAM),
    ]
    assert found.unchanged == ("big_orders",)
    orders, revenue = found.assets
    assert orders.code is not None and orders.code.diff is not None and orders.code.note == ""
    diff = orders.code.diff
    assert '-    paid = raw_orders[raw_orders.status == "paid"]\n' in diff
    assert (
        '+    kept["amount"] = kept.amount.where(kept.customer_id != 1, kept.amount * 0.9)\n'
        in diff
    )
    assert diff.startswith("--- a/orders\n+++ b/orders\n")
    assert revenue.code is None and revenue.reason == "downstream of orders"


def test_the_data_diffs_count_exactly_what_changed(project: Path) -> None:
    scripted_change(project)
    orders, revenue = review(Project.find(project), CI).assets
    assert isinstance(orders.data, DataDiff) and orders.data_note == ""
    d = orders.data
    assert (d.old_rows, d.new_rows) == (5, 4)
    assert (d.added_rows, d.removed_rows, d.changed_rows, d.unchanged_rows) == (0, 1, 2, 2)
    assert d.added_columns == ["amount_cents"] and d.removed_columns == []
    assert d.changed_by_column == {"customer_id": 0, "amount": 2}
    assert [row["order_id"] for row in d.removed_sample] == [6]
    assert [(c.key, c.changes) for c in d.changed_sample] == [
        ({"order_id": 1}, {"amount": (10.0, 9.0)}),
        ({"order_id": 2}, {"amount": (20.0, 18.0)}),
    ]
    assert isinstance(revenue.data, DataDiff)
    r = revenue.data
    assert (r.old_rows, r.new_rows, r.added_rows, r.removed_rows) == (3, 3, 0, 0)
    assert (r.changed_rows, r.unchanged_rows) == (2, 1)
    assert orders.old is not None and orders.old.env == "prod" and orders.old.rows == 5
    assert orders.new is not None and orders.new.env == CI and orders.new.rows == 4


def test_checks_of_the_env_version_tests_of_its_code_version_and_the_plan(project: Path) -> None:
    scripted_change(project)
    root = Project.find(project)
    orders = review(root, CI).assets[0]
    assert [(c.name, c.outcome) for c in orders.checks] == [
        ("not_null('order_id')", "pass"),
        ("unique('order_id')", "pass"),
    ]
    assert orders.new is not None and orders.tests == ()
    current = orders.new.code_version
    assert orders.test_code_version == current
    store = Store(CI, project / ".nbassets" / CI, writable=True)
    try:
        store.catalog.record_tests(
            [
                TestResult("orders", "drops_refunds", "old-code", "failed", env=CI, at="1"),
                TestResult("orders", "drops_refunds", current, "passed", env=CI, at="2"),
            ]
        )
    finally:
        store.close()
    found = review(root, CI)
    assert [(t.name, t.outcome) for t in found.assets[0].tests] == [("drops_refunds", "passed")]
    plan = {(s.key, s.action, s.reason) for s in found.plan.steps}
    assert plan == {
        ("orders", "rebuild", "code changed"),
        ("customer_revenue", "downstream", "upstream 'orders' is rebuilt"),
        ("big_orders", "keep", "fresh"),
    }
    assert [(d.key, d.added) for d in found.plan.drift] == [("orders", {"amount_cents": "int64"})]


def test_an_asset_not_built_in_the_env_is_said_and_a_new_one_is_summarized(project: Path) -> None:
    change = scripted_change(project, build=False)
    extra = {"top": "%%asset top --key order_id\norders.nlargest(2, 'amount')"}
    change.notebook(ORDERS_V2, extra)
    change.export()
    materialize(Project.find(project), CI, ["top", "+orders"])
    found = review(Project.find(project), CI)
    by_key = {a.key: a for a in found.assets}
    assert [(a.key, a.change) for a in found.assets] == [
        ("orders", CHANGED),
        ("top", NEW),
        ("customer_revenue", DOWNSTREAM),
    ]
    assert by_key["customer_revenue"].data is None
    assert by_key["customer_revenue"].data_note == (
        f"not built in {CI}: run nbassets materialize --env {CI}"
    )
    top = by_key["top"]
    assert isinstance(top.data, NewTable) and top.data.rows == 2 and top.data.missing_in == "prod"
    assert top.code is not None and top.code.diff is not None
    assert top.code.diff.startswith("--- /dev/null\n+++ b/top\n")


def test_an_asset_no_code_defines_any_more_is_listed_as_removed(project: Path) -> None:
    change = scripted_change(project, build=False)
    notebook = {"orders": ORDERS_V2, "revenue": REVENUE}
    write_notebook(project / "notebooks" / "shop.ipynb", notebook)
    change.export()
    materialize(Project.find(project), CI)
    found = review(Project.find(project), CI)
    removed = found.of(REMOVED)
    assert [a.key for a in removed] == ["big_orders"] and found.orphaned == ("big_orders",)
    code = removed[0].code
    assert code is not None and code.diff is not None and code.new_version is None
    assert "-def big_orders(raw_orders):\n" in code.diff


def test_a_source_production_did_not_record_is_said_not_guessed(project: Path) -> None:
    """Versions built before sources were recorded: the code diff says so."""
    scripted_change(project)
    import sqlite3

    conn = sqlite3.connect(project / "warehouse" / "catalog.sqlite")
    with conn:
        conn.execute("UPDATE materializations SET code = NULL")  # as an older catalog reads
    conn.close()
    orders = review(Project.find(project), CI).assets[0]
    assert orders.code is not None and orders.code.diff is None
    assert orders.code.note.startswith("prod's source not recorded")


def test_usage_errors_name_the_fix(project: Path) -> None:
    scripted_change(project)
    root = Project.find(project)
    with pytest.raises(InvalidArgument, match="both name 'ci-7'"):
        review(root, CI, CI)
    with pytest.raises(InvalidArgument, match="--env prod"):
        review(root, "prod", CI)
    with pytest.raises(UnknownName, match=r"--env 'ci-8' has no store .*Did you mean 'ci-7'\?"):
        review(root, "ci-8")


def test_unified_marks_absent_sides() -> None:
    assert unified(None, "def a():\n    return 1", "a") == (
        "--- /dev/null\n+++ b/a\n@@ -0,0 +1,2 @@\n+def a():\n+    return 1\n"
    )
    assert unified("x\n", "x\n", "a") == ""
    assert unified("def a():\n    return 1", "def a():\n    return 1\n", "a") == ""
