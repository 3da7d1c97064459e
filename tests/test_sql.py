"""--sql assets: parsing the tables a statement reads, and running it in a kernel."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest
from helpers import TestingShell, shown, tree_digest, write_prod
from IPython.core.error import UsageError

from nbassets.errors import SpecError
from nbassets.sql import analyze_sql


def test_tables_come_from_the_parse_tree_not_a_regex() -> None:
    sql = """
    -- from fake_comment
    WITH recent AS (SELECT * FROM orders WHERE day > '2024-01-01')
    SELECT r.*, c.region, 'from not_a_table' AS note
    FROM recent r JOIN customers c ON c.id = r.customer
    WHERE r.id IN (SELECT id FROM refunds)
    """
    assert analyze_sql("x", sql).tables == {"orders", "customers", "refunds"}


def test_sql_code_version_ignores_formatting_and_comments() -> None:
    a = analyze_sql("x", "select a, b from t where a > 1 -- big ones")
    b = analyze_sql("x", "SELECT a,b\n  FROM t\n WHERE a>1")
    c = analyze_sql("x", "SELECT a,b FROM t WHERE a>2")
    assert a.normalized == b.normalized != c.normalized


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("select from where", "does not parse: syntax error"),
        ("", "is empty"),
        ("select 1; select 2", "has 2 statements"),
    ],
)
def test_bad_sql_is_refused(sql: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        analyze_sql("x", sql)


def test_sql_asset_joins_a_kernel_asset_and_a_production_asset(
    shell: TestingShell, project: Path
) -> None:
    prod_version = write_prod(
        project, "customers", pd.DataFrame({"id": [1, 2, 3], "region": ["north", "south", "north"]})
    )
    before = tree_digest(project / "warehouse")
    shell.run_cell(
        "%%asset orders --no-preview\nimport pandas as pd\n"
        "pd.DataFrame({'customer': [1, 1, 2, 3], 'amount': [10.0, 5.0, 7.0, 1.0]})"
    )
    out = shell.capture(
        "%%asset revenue_by_region --sql\n"
        "SELECT c.region, sum(o.amount) AS revenue\n"
        "FROM orders o JOIN customers c ON c.id = o.customer\n"
        "GROUP BY c.region ORDER BY c.region"
    )
    assert f"customers ← prod @ {prod_version[:7]}" in shown(out)
    assert "orders ← kernel dev-tester-nogit" in shown(out)
    result = shell.user_ns["revenue_by_region"]
    assert result.to_dict("list") == {"region": ["north", "south"], "revenue": [16.0, 7.0]}
    session = shell.magics_manager.registry["AssetMagics"].session
    record = session.built["revenue_by_region"]
    assert set(record.inputs) == {"orders", "customers"}
    assert record.inputs["customers"] == {"data_version": prod_version, "env": "prod"}
    assert tree_digest(project / "warehouse") == before


def test_sql_errors_in_a_kernel(shell: TestingShell) -> None:
    shell.run_cell("%%asset orders --no-preview\nimport pandas as pd\npd.DataFrame({'a': [1]})")
    with pytest.raises(
        UsageError, match="reads table 'ordrs', which is not an asset.*Did you mean 'orders'"
    ):
        shell.run_cell("%%asset x --sql\nselect * from ordrs")
    with pytest.raises(duckdb.BinderException, match="no_such_column"):  # at its SQL line
        shell.run_cell("%%asset x --sql\nselect no_such_column from orders")
    session = shell.magics_manager.registry["AssetMagics"].session
    failure = session.workspace.failures()["x"].error
    assert "failed in DuckDB: " in failure and "no_such_column" in failure  # as recorded
    with pytest.raises(UsageError, match="--sql assets are tables stored as Parquet"):
        shell.run_cell("%%asset x --sql --io pickle\nselect * from orders")
    shell.run_cell("%%asset blob --no-preview\n[1, 2]")
    with pytest.raises(UsageError, match="stored as pickle, not as a table"):
        shell.run_cell("%%asset x --sql\nselect * from blob")
