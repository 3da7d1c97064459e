"""Checks in a real kernel: --check rules, %%check cells, %check, and check-failed status."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from helpers import TestingShell, shown, write_prod
from IPython.core.error import UsageError

from nbassets.store.sqlite_catalog import SqliteCatalog

SANDBOX = Path(".nbassets/dev-tester-nogit")
FRAME = "import pandas as pd\npd.DataFrame({'id': [1, 2, 3], 'amount': [5.0, -1.0, 7.0]})"


def statuses(shell: TestingShell) -> dict[str, str]:
    return {row.key: row.label for row in shell.run_cell("%assets").result.rows}


def stored_results(key: str) -> list[tuple[str, str, bool]]:
    catalog = SqliteCatalog(SANDBOX / "catalog.sqlite", writable=False)
    version = catalog.latest_of(key).data_version
    return [(r.name, r.severity, r.passed) for r in catalog.check_results(key, version)]


def test_rules_run_after_every_build_and_are_stored_per_version(shell: TestingShell) -> None:
    out = shell.capture(
        f'%%asset orders --check \'not_null("id")\' --check \'between("amount", 0, 10, severity="warn")\'\n{FRAME}'
    )
    assert "✓ pass   not_null('id')" in shown(out)
    assert "! warn   between('amount', 0, 10)  1 row out of range\n" in shown(out)
    assert stored_results("orders") == [
        ("not_null('id')", "error", True),
        ("between('amount', 0, 10)", "warn", False),
    ]
    assert statuses(shell)["orders"] == "fresh"  # a warning only warns


def test_an_error_rule_failure_shows_the_preview_then_stops(shell: TestingShell) -> None:
    with pytest.raises(UsageError, match=r"error-severity check\(s\) failed: orders: between"):
        shell.run_cell(f"%%asset orders --check 'between(\"amount\", 0, 10)'\n{FRAME}")
    assert isinstance(shell.user_ns["orders"], pd.DataFrame)  # built, bound and stored all the same
    assert statuses(shell)["orders"] == "check-failed: check between('amount', 0, 10) failed"
    shell.run_cell("%%asset total --no-preview\nfloat(orders.amount.sum())")
    assert statuses(shell)["total"] == "stale: upstream 'orders' is check-failed"


def test_changing_a_rule_reruns_without_a_rebuild(shell: TestingShell) -> None:
    with pytest.raises(UsageError):
        shell.run_cell(f"%%asset orders --check 'between(\"amount\", 0, 10)'\n{FRAME}")
    session = shell.magics_manager.registry["AssetMagics"].session
    session.cells["orders"] = session.declare("orders --check 'between(\"amount\", -5, 10)'", FRAME)
    assert statuses(shell)["orders"] == "fresh"  # the failing rule is no longer defined
    out = shell.capture("%check orders")
    assert "PASS  orders: between('amount', -5, 10)" in shown(out)


def test_check_cells_pass_fail_by_assertion_fail_by_rows_and_error(shell: TestingShell) -> None:
    shell.run_cell(f"%%asset orders --no-preview\n{FRAME}")
    out = shell.capture("%%check orders --name has_rows\nassert len(orders) == 3\nlen(orders) > 0")
    assert "PASS  orders: has_rows" in shown(out)

    with pytest.raises(UsageError, match="orders: positive"):
        shell.run_cell(
            "%%check orders --name positive\nassert (orders.amount > 0).all(), 'negative amounts'"
        )
    with pytest.raises(UsageError, match="orders: no_negatives \\(1 failing row\\)"):
        shell.run_cell("%%check orders --name no_negatives\norders[orders.amount < 0]")
    shell.run_cell("%%check orders --name few_negatives --severity warn\norders[orders.amount < 0]")
    with pytest.raises(ZeroDivisionError):  # an unrelated error keeps its traceback
        shell.run_cell("%%check orders --name broken --severity warn\n1 / 0")

    results = {name: (passed, severity) for name, severity, passed in stored_results("orders")}
    assert results == {
        "has_rows": (True, "error"),
        "positive": (False, "error"),
        "no_negatives": (False, "error"),
        "few_negatives": (False, "warn"),
        "broken": (False, "warn"),
    }
    catalog = SqliteCatalog(SANDBOX / "catalog.sqlite", writable=False)
    version = catalog.latest_of("orders").data_version
    by_name = {r.name: r for r in catalog.check_results("orders", version)}
    assert by_name["positive"].message == "negative amounts"
    assert by_name["no_negatives"].failing_rows == 1
    assert by_name["no_negatives"].sample == [{"index": 1, "id": 2, "amount": -1.0}]
    assert by_name["broken"].error == "ZeroDivisionError: division by zero"
    assert by_name["broken"].outcome == "error"
    assert statuses(shell)["orders"].startswith("check-failed: check positive failed")


def test_check_cells_run_again_after_each_build(shell: TestingShell) -> None:
    shell.run_cell(f"%%asset orders --no-preview\n{FRAME}")
    with pytest.raises(UsageError):
        shell.run_cell("%%check orders --name positive\nassert (orders.amount > 0).all()")
    shell.run_cell(
        "%%asset orders --no-preview\nimport pandas as pd\npd.DataFrame({'id': [1], 'amount': [3.0]})"
    )
    assert stored_results("orders") == [("positive", "error", True)]
    assert statuses(shell)["orders"] == "fresh"


def test_check_reads_other_assets_and_default_names(shell: TestingShell) -> None:
    shell.run_cell(f"%%asset orders --no-preview\n{FRAME}")
    shell.run_cell("%%asset limit --no-preview\n100")
    shell.run_cell("%%check orders\nassert orders.amount.max() < limit")
    ((name, _, passed),) = stored_results("orders")
    assert name.startswith("check_") and passed


def test_checks_on_a_production_version_are_recorded_in_the_sandbox(
    shell: TestingShell, project: Path
) -> None:
    write_prod(project, "customers", pd.DataFrame({"id": [1, 1]}))
    with pytest.raises(UsageError, match="customers: unique_ids"):
        shell.run_cell("%%check customers --name unique_ids\nassert customers.id.is_unique")
    assert statuses(shell)["customers"] == "check-failed: check unique_ids failed"
    assert not (project / "warehouse" / "catalog.sqlite-wal").exists()
    catalog = SqliteCatalog(SANDBOX / "catalog.sqlite", writable=False)
    version = nbassets_load_version(project)
    assert [r.name for r in catalog.versions_check_results([version])] == ["unique_ids"]


def nbassets_load_version(project: Path) -> str:
    prod = SqliteCatalog(project / "warehouse" / "catalog.sqlite", writable=False)
    return prod.latest_of("customers").data_version


def test_relationship_rule_in_a_kernel(shell: TestingShell) -> None:
    shell.run_cell(
        "%%asset customers --no-preview\nimport pandas as pd\npd.DataFrame({'id': [1, 2]})"
    )
    with pytest.raises(UsageError, match="1 row without a match in customers"):
        shell.run_cell(
            '%%asset orders --check \'relationship("customer", "customers", "id")\'\n'
            "import pandas as pd\npd.DataFrame({'customer': [1, 2, 3]})"
        )


def test_check_errors(shell: TestingShell) -> None:
    with pytest.raises(UsageError, match="no asset 'ordrs' is known"):
        shell.run_cell("%%check ordrs\nTrue")
    with pytest.raises(
        UsageError, match="is not a valid rule: argument 'os.getcwd\\(\\)' is not a literal"
    ):
        shell.run_cell("%%asset x --check 'not_null(os.getcwd())'\n1")
    with pytest.raises(UsageError, match="invalid choice: 'fatal'"):
        shell.run_cell("%%check x --severity fatal\nTrue")
    with pytest.raises(UsageError, match="%check NAME"):
        shell.run_cell("%check")
    with pytest.raises(UsageError, match="unknown asset 'nothing'"):
        shell.run_cell("%check nothing")
    with pytest.raises(UsageError, match="rules need a table"):
        shell.run_cell("%%asset blob --no-preview --check 'not_null(\"a\")'\n[1, 2]")
    assert statuses(shell)["blob"].startswith("check-failed")
