"""Static analysis of the columns an asset's code reads (nbassets.column_reads): what is
detected, what is not, and what must never be attributed to the wrong upstream."""

from __future__ import annotations

import textwrap

import pytest

from nbassets.column_reads import column_reads, readers, sql_column_reads


def py(body: str, *ups: str) -> dict[str, set[str]]:
    """The reads of an exported function of ``ups`` whose body is ``body``."""
    lines = textwrap.dedent(body).strip().splitlines()
    source = f"def asset({', '.join(ups)}):\n" + "".join(f"    {line}\n" for line in lines)
    return column_reads(source, ups)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('return orders["amount"]', {"amount"}),
        ('return orders[["id", "amount"]]', {"id", "amount"}),
        ("return orders.amount.sum()", {"amount"}),
        ('return orders.loc[orders.region == "n", "amount"]', {"region", "amount"}),
        ('return orders.loc[:, ["a", "b"]]', {"a", "b"}),
        ('return orders.at[0, "amount"]', {"amount"}),
        ('return orders.get("amount")', {"amount"}),
        ('return orders.groupby("region")["amount"].sum()', {"region", "amount"}),
        ('return orders.groupby(by=["region", "day"]).size()', {"region", "day"}),
        ('return orders.sort_values("day")', {"day"}),
        ('return orders.drop_duplicates(subset=["id"])', {"id"}),
        (
            'return orders.pivot_table(index="day", columns="region", values="n")',
            {"day", "region", "n"},
        ),
        ('return orders.drop(columns=["legacy"])', {"legacy"}),
        ('return orders.rename(columns={"old": "new"})', {"old"}),
        ("df = orders.copy()\nreturn df['amount']", {"amount"}),
        ("df = orders[orders['n'] > 0]\nreturn df.amount", {"n", "amount"}),
        ("df = orders[['a', 'b']]\nreturn df['a']", {"a", "b"}),
        ("df = orders.dropna().reset_index()\nreturn df.groupby('r')['x'].sum()", {"r", "x"}),
        (
            'return orders.groupby("c", as_index=False).agg(total=("amount", "sum"))',
            {"c", "amount"},
        ),
        (
            'return orders.groupby("c").aggregate({"amount": "sum", "n": "max"})',
            {"c", "amount", "n"},
        ),
        ('return orders.agg({"amount": ["min", "max"]})', {"amount"}),
    ],
)
def test_python_shapes_detected(body: str, expected: set[str]) -> None:
    assert py(body, "orders") == {"orders": expected}


@pytest.mark.parametrize(
    "body",
    [
        "return orders.shape",  # a pandas attribute, not a column
        "return orders.head(3)",  # a method
        "column = 'amount'\nreturn orders[column]",  # a name held in a variable
        "return orders[f'{x}_amount']",  # built at run time
        'return orders.query("amount > 0")',  # query strings are not parsed
        "return orders.iloc[0]",
        'return orders.loc["row-label"]',  # a row label, not a column
        "return orders[0:3]",
        'return orders.describe()["mean"]',  # a frame of another shape
        'x = {"amount": 1}\nreturn x["amount"]',  # not a frame
        'orders = load()\nreturn orders["amount"]',  # rebound to something else
        'df = orders.sum()\nreturn df["amount"]',  # a Series of sums, not a frame
        "return helper(orders)",  # frames passed to functions
        "return orders._private",
        'return other.groupby("c").agg(total=("amount", "sum"))',  # another frame's columns
    ],
)
def test_python_shapes_not_detected(body: str) -> None:
    assert py(body, "orders") == {}


def test_a_column_the_asset_writes_is_its_own_afterwards() -> None:
    body = """
    df = orders.copy()
    df["total"] = df["price"] * df["qty"]
    return df["total"]
    """
    assert py(body, "orders") == {"orders": {"price", "qty"}}
    assert py('df = orders\ndf["x"] = df["x"] * 2\nreturn df', "orders") == {"orders": {"x"}}


def test_reads_are_attributed_to_their_own_upstream() -> None:
    body = """
    big = orders[orders["amount"] > 10]
    tiers = customers["tier"]
    return big.merge(customers, left_on="cust", right_on="id")
    """
    assert py(body, "orders", "customers") == {
        "orders": {"amount", "cust"},
        "customers": {"tier", "id"},
    }
    # a name reused for another frame reads that frame from then on
    body = 'df = orders\nx = df["a"]\ndf = customers\nreturn df["b"]'
    assert py(body, "orders", "customers") == {"orders": {"a"}, "customers": {"b"}}


def test_merge_on_reads_both_and_the_merged_frame_reads_each() -> None:
    body = 'm = pd.merge(orders, customers, on="id")\nreturn m["tier"]'
    both = {"id", "tier"}
    assert py(body, "orders", "customers") == {"orders": both, "customers": both}


def test_code_that_does_not_parse_reads_nothing() -> None:
    assert column_reads("def asset(orders):\n    return orders[", ["orders"]) == {}


def sql(query: str, *ups: str) -> dict[str, set[str]]:
    """The reads of the exported function of a SQL asset over ``ups`` (as the exporter writes
    it: the query as adjacent literals, one a line)."""
    pieces = "".join(f"        {line!r}\n" for line in query.splitlines(keepends=True))
    tables = "".join(f"        {up}={up},\n" for up in ups)
    source = f'def q({", ".join(ups)}):\n    return sql_asset(\n        "q",\n{pieces[:-1]},\n{tables}    )\n'
    return column_reads(source, ups)


def test_sql_through_the_exported_function() -> None:
    query = "SELECT region,\n  sum(amount) AS total\nFROM orders\nGROUP BY region"
    assert sql(query, "orders") == {"orders": {"region", "amount"}}
    assert sql("SELECT o.amount FROM orders AS o WHERE o.n > 1", "orders") == {
        "orders": {"amount", "n"}
    }
    assert sql("SELECT * FROM orders", "orders") == {}  # a star names no column
    assert sql("SELECT amount * 2 AS dbl FROM orders ORDER BY dbl", "orders") == {
        "orders": {"amount"}
    }


def test_sql_qualified_and_unqualified_columns_over_several_upstreams() -> None:
    query = (
        "SELECT o.amount, c.tier, region FROM orders o JOIN customers c ON o.cust = c.id "
        "WHERE customers_only > 0"
    )
    # unqualified and no schemas: ambiguous, attributed to neither
    assert sql_column_reads(query, ["orders", "customers"]) == {
        "orders": {"amount", "cust"},
        "customers": {"tier", "id"},
    }
    schemas = {"orders": ["amount", "cust", "region"], "customers": ["tier", "id"]}
    assert sql_column_reads(query, ["orders", "customers"], schemas) == {
        "orders": {"amount", "cust", "region"},
        "customers": {"tier", "id"},
    }


def test_sql_ctes_using_and_tables_that_are_not_upstreams() -> None:
    query = (
        "WITH big AS (SELECT amount, cust FROM orders WHERE amount > 9) "
        "SELECT big.amount, tier FROM big JOIN customers USING (cust)"
    )
    schemas = {"orders": ["amount", "cust"], "customers": ["cust", "tier"]}
    found = sql_column_reads(query, ["orders", "customers"], schemas)
    assert found == {"orders": {"amount", "cust"}, "customers": {"cust", "tier"}}
    assert sql_column_reads("SELECT x FROM other", ["orders"]) == {}
    assert sql_column_reads("SELECT amount FROM", ["orders"]) == {}  # does not parse


def test_readers_by_code_else_by_last_failure() -> None:
    deps = {"orders": (), "rev": ("orders",), "counted": ("orders",), "ids": ("orders",)}
    sources = {
        "rev": 'def rev(orders):\n    return orders["amount"].sum()\n',
        "counted": "def counted(orders):\n    c = 'amount'\n    return orders[c]\n",
        "ids": 'def ids(orders):\n    return orders[["id"]]\n',
    }
    failures = {
        "counted": ["KeyError: 'amount'"],
        "ids": ["KeyError: 'amount_total'"],  # another column: not this one
    }
    found = readers({"orders": ["amount", "id"]}, deps, sources, {}, failures)
    assert found == {"orders": {"amount": ["counted", "rev"], "id": ["ids"]}}
    binder = ['Binder Error: Referenced column "amount" not found in FROM clause!']
    assert readers({"orders": ["amount"]}, deps, {}, {}, {"ids": binder}) == {
        "orders": {"amount": ["ids"]}
    }
    # a message naming the column without being a missing-column error does not count
    other = ["ValueError: 'amount' must be positive"]
    assert readers({"orders": ["amount"]}, deps, {}, {}, {"ids": other}) == {}
