"""Tests of ``nbassets.diff`` and its view: Parquet data diffs, their counts, samples, display."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from helpers import TestingShell
from IPython.core.error import UsageError

from nbassets.diff import ChangedRow, ColumnSummary, diff_tables, summarize_table
from nbassets.errors import NbAssetsError, StorageError
from nbassets.render.diffview import DiffView, summary_line, to_dict, to_html, to_text


def write(
    path: Path, columns: dict[str, list[Any]], types: dict[str, pa.DataType] | None = None
) -> Path:
    """Write ``columns`` as a Parquet file (with explicit Arrow types where given)."""
    types = types or {}
    arrays = {name: pa.array(values, type=types.get(name)) for name, values in columns.items()}
    pq.write_table(pa.table(arrays), path)
    return path


@pytest.fixture
def prod_and_sandbox(tmp_path: Path) -> tuple[Path, Path]:
    """Ten rows each; ids 1-2 removed, 11-12 added, 5 of 8 matched rows changed; schema changed.

    id 3 same; 4 price; 5 name NULL on both sides (no change); 6 name -> NULL; 7 price NULL -> 2.0;
    8 qty 8 -> '80' (qty retyped BIGINT -> VARCHAR) and legacy differs (removed: no change);
    9 only legacy differs (no change); 10 name and price.
    """
    old = write(
        tmp_path / "prod.parquet",
        {
            "id": list(range(1, 11)),
            "name": ["a", "b", "c", "d", None, "f", "g", "h", "i", "j"],
            "price": [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, None, 1.0, 1.0, 1.0],
            "qty": list(range(1, 11)),
            "legacy": ["x"] * 10,
        },
    )
    new = write(
        tmp_path / "sandbox.parquet",
        {
            "id": list(range(3, 13)),
            "name": ["c", "d", None, None, "g", "h", "i", "J", "k", "l"],
            "price": [1.0, 1.5, 1.0, 1.0, 2.0, 1.0, 1.0, 3.0, 1.0, 1.0],
            "qty": ["3", "4", "5", "6", "7", "80", "9", "10", "11", "12"],
            "discount": [0.1] * 10,
        },
    )
    return old, new


def test_keyed_diff_counts_every_change_exactly(prod_and_sandbox: tuple[Path, Path]) -> None:
    d = diff_tables(*prod_and_sandbox, key=["id"])

    assert (d.old_rows, d.new_rows) == (10, 10)
    assert d.added_columns == ["discount"]
    assert d.removed_columns == ["legacy"]
    assert d.retyped_columns == [("qty", "BIGINT", "VARCHAR")]
    assert d.key == ("id",)
    assert (d.added_rows, d.removed_rows, d.changed_rows, d.unchanged_rows) == (2, 2, 5, 3)
    assert d.changed_by_column == {"name": 2, "price": 3, "qty": 1}
    assert (d.old_duplicate_keys, d.new_duplicate_keys) == (0, 0)
    assert d.old_rows == d.removed_rows + d.changed_rows + d.unchanged_rows
    assert d.new_rows == d.added_rows + d.changed_rows + d.unchanged_rows
    assert summary_line(d) == (
        "vs prod: 10 rows (+2 added, -2 removed, 5 changed); +1 column (discount), "
        "-1 column (legacy), 1 retyped (qty: BIGINT -> VARCHAR)"
    )


def test_samples_show_rows_in_key_order_and_only_differing_columns(
    prod_and_sandbox: tuple[Path, Path],
) -> None:
    d = diff_tables(*prod_and_sandbox, key=["id"])

    assert d.added_sample == [
        {"id": 11, "name": "k", "price": 1.0, "qty": "11", "discount": 0.1},
        {"id": 12, "name": "l", "price": 1.0, "qty": "12", "discount": 0.1},
    ]
    assert [row["id"] for row in d.removed_sample] == [1, 2]
    assert d.removed_sample[0] == {"id": 1, "name": "a", "price": 1.0, "qty": 1, "legacy": "x"}
    assert d.changed_sample == [
        ChangedRow({"id": 4}, {"price": (1.0, 1.5)}),
        ChangedRow({"id": 6}, {"name": ("f", None)}),
        ChangedRow({"id": 7}, {"price": (None, 2.0)}),
        ChangedRow({"id": 8}, {"qty": (8, "80")}),
        ChangedRow({"id": 10}, {"name": ("j", "J"), "price": (1.0, 3.0)}),
    ]
    few = diff_tables(*prod_and_sandbox, key=["id"], sample_rows=2)
    assert [row.key["id"] for row in few.changed_sample] == [4, 6]
    assert len(few.added_sample) == len(few.removed_sample) == 2
    none = diff_tables(*prod_and_sandbox, key=["id"], sample_rows=0)
    assert none.changed_sample == none.added_sample == [] and none.changed_rows == 5


def test_column_summaries(prod_and_sandbox: tuple[Path, Path]) -> None:
    d = diff_tables(*prod_and_sandbox, key=["id"])
    stats = {c.name: c for c in d.column_stats}

    assert list(stats) == ["id", "name", "price", "qty"]
    name = stats["name"]
    assert (name.old_nulls, name.new_nulls) == (1, 2)
    assert (name.old_distinct, name.new_distinct) == (9, 8)
    assert (name.old_min, name.new_min, name.old_max, name.new_max) == ("a", "J", "j", "l")
    assert name.old_mean is None and name.changed
    price = stats["price"]
    assert (price.old_nulls, price.new_nulls) == (1, 0)
    assert price.old_mean == pytest.approx(1.0) and price.new_mean == pytest.approx(1.35)
    assert (stats["id"].old_min, stats["id"].new_max) == ("1", "12")
    assert (stats["qty"].old_type, stats["qty"].new_type) == ("BIGINT", "VARCHAR")


def test_without_a_key_only_rows_columns_and_summaries(prod_and_sandbox: tuple[Path, Path]) -> None:
    d = diff_tables(*prod_and_sandbox)

    assert d.key == () and d.added_rows is d.changed_rows is None
    assert d.changed_by_column == {} and d.changed_sample == []
    assert d.same_rows is None  # the schemas differ
    assert len(d.changed_summaries) == 4
    assert summary_line(d) == (
        "vs prod: 10 rows; +1 column (discount), -1 column (legacy), "
        "1 retyped (qty: BIGINT -> VARCHAR); 4 columns with changed summaries"
    )


def test_identical_versions_whatever_the_row_order(tmp_path: Path) -> None:
    columns = {"id": [1, 2, 3], "name": ["a", None, "c"], "x": [0.5, 1.5, None]}
    old = write(tmp_path / "old.parquet", columns)
    new = write(tmp_path / "new.parquet", {k: v[::-1] for k, v in columns.items()})

    for key in ("id", ["id"], []):  # a string is one column name
        d = diff_tables(old, new, key=key, old_label="ci")
        assert d.identical and d.same_rows is True
        assert summary_line(d) == "vs ci: identical (3 rows)"
        assert not d.changed_summaries


def test_without_a_key_rows_that_differ_under_equal_summaries_are_noticed(tmp_path: Path) -> None:
    old = write(tmp_path / "old.parquet", {"a": [1, 2], "b": ["x", "y"]})
    new = write(tmp_path / "new.parquet", {"a": [1, 2], "b": ["y", "x"]})

    d = diff_tables(old, new)

    assert not d.identical and d.same_rows is False and not d.changed_summaries
    assert summary_line(d) == "vs prod: 2 rows; same summaries, but the rows differ"


def test_composite_key_matches_null_to_null(tmp_path: Path) -> None:
    old = write(
        tmp_path / "old.parquet",
        {"region": ["eu", "eu", "us", None], "day": [1, 2, 1, 1], "v": [1, 2, 3, 4]},
    )
    new = write(
        tmp_path / "new.parquet",
        {"region": ["eu", "eu", "us", None], "day": [1, 3, 1, 1], "v": [1, 2, 30, 4]},
    )

    d = diff_tables(old, new, key=["region", "day"])

    assert (d.added_rows, d.removed_rows, d.changed_rows, d.unchanged_rows) == (1, 1, 1, 2)
    assert d.changed_sample == [ChangedRow({"region": "us", "day": 1}, {"v": (3, 30)})]
    assert d.added_sample == [{"region": "eu", "day": 3, "v": 2}]
    assert d.removed_sample == [{"region": "eu", "day": 2, "v": 2}]


def test_duplicate_keys_are_reported_not_paired(tmp_path: Path) -> None:
    old = write(tmp_path / "old.parquet", {"id": [1, 2, 2, 3, 4], "v": [1, 2, 2, 3, 4]})
    new = write(tmp_path / "new.parquet", {"id": [1, 2, 3, 3, 3, 5, 5], "v": [9, 2, 3, 3, 3, 5, 5]})

    d = diff_tables(old, new, key=["id"])

    assert (d.old_duplicate_keys, d.new_duplicate_keys) == (1, 2)  # 2 in old; 3 and 5 in new
    assert (d.added_rows, d.removed_rows) == (2, 1)  # both rows of key 5; the row of key 4
    assert (d.ambiguous_old_rows, d.ambiguous_new_rows) == (3, 4)  # keys 2 and 3
    assert (d.changed_rows, d.unchanged_rows) == (1, 0)  # only key 1 pairs one to one
    assert d.changed_sample == [ChangedRow({"id": 1}, {"v": (1, 9)})]
    assert d.old_rows == d.removed_rows + d.changed_rows + d.unchanged_rows + d.ambiguous_old_rows
    assert d.new_rows == d.added_rows + d.changed_rows + d.unchanged_rows + d.ambiguous_new_rows
    assert summary_line(d) == (
        "vs prod: 5 -> 7 rows (+2 added, -1 removed, 1 changed); "
        "duplicate keys: 1 in prod, 2 in sandbox (7 rows not compared)"
    )


def test_retyped_columns_compare_by_value_when_numeric_else_as_text(tmp_path: Path) -> None:
    old = write(tmp_path / "old.parquet", {"id": [1, 2, 3], "n": [1, 2, 3], "t": [1.0, 2.5, None]})
    new = write(
        tmp_path / "new.parquet",
        {
            "id": [1, 2, 3],
            "n": [Decimal("1.00"), Decimal("2.00"), Decimal("3.50")],
            "t": ["1", "2.5", None],
        },
        {"n": pa.decimal128(10, 2)},
    )

    d = diff_tables(old, new, key=["id"])

    assert d.retyped_columns == [("n", "BIGINT", "DECIMAL(10,2)"), ("t", "DOUBLE", "VARCHAR")]
    # n: 1 = 1.00 and 2 = 2.00 by value; t: '1.0' vs '1' as text, '2.5' = '2.5', NULL = NULL
    assert d.changed_by_column == {"n": 1, "t": 1}
    assert d.changed_sample == [
        ChangedRow({"id": 1}, {"t": (1.0, "1")}),
        ChangedRow({"id": 3}, {"n": (3, Decimal("3.50"))}),
    ]


def test_a_missing_key_column_names_the_column_the_side_and_the_columns(
    prod_and_sandbox: tuple[Path, Path],
) -> None:
    with pytest.raises(NbAssetsError) as raised:
        diff_tables(*prod_and_sandbox, key=["legacy"])
    message = str(raised.value)
    assert "key column 'legacy' is not in the sandbox version (sandbox.parquet)" in message
    assert "id, name, price, qty, discount" in message

    with pytest.raises(NbAssetsError, match=r"'ids' is not in the prod .* Did you mean 'id'\?"):
        diff_tables(*prod_and_sandbox, key=["ids"])
    with pytest.raises(NbAssetsError, match="names column 'id' twice"):
        diff_tables(*prod_and_sandbox, key=["id", "id"])


def test_unreadable_files_raise_storage_errors(tmp_path: Path) -> None:
    good = write(tmp_path / "good.parquet", {"a": [1]})
    (tmp_path / "junk.parquet").write_text("not parquet")

    with pytest.raises(StorageError, match=r"the sandbox file .*missing\.parquet does not exist"):
        diff_tables(good, tmp_path / "missing.parquet")
    with pytest.raises(StorageError, match=r"cannot read the prod file .*junk\.parquet as Parquet"):
        diff_tables(tmp_path / "junk.parquet", good)


def test_paths_with_glob_characters_and_quotes_read_exactly_that_file(tmp_path: Path) -> None:
    folder = tmp_path / "it's [a] dir"
    folder.mkdir()
    old = write(folder / "v[1]*?.parquet", {"a": [1, 2]})
    write(folder / "v1xy.parquet", {"a": [7, 8, 9]})  # what the path would match as a glob
    new = write(folder / "hive=1.parquet", {"a": [1, 2]})

    d = diff_tables(old, new)

    assert (d.old_rows, d.new_rows) == (2, 2) and d.identical
    assert [c.name for c in d.column_stats] == ["a"]  # no hive partition column "hive"


def test_display_is_bounded_for_a_wide_frame(tmp_path: Path) -> None:
    names = [f"column_{i:03}_" + "w" * 100 for i in range(120)]
    old = write(tmp_path / "old.parquet", {"id": list(range(20)), **{n: [0] * 20 for n in names}})
    new = write(
        tmp_path / "new.parquet",
        {"id": list(range(5, 25)), **{n: ["y" * 500] * 20 for n in names}},
    )

    d = diff_tables(old, new, key=["id"])
    bundle = DiffView(d)._repr_mimebundle_()

    assert d.changed_rows == 15 and len(d.changed_by_column) == 120
    assert len(d.retyped_columns) == 120
    assert "and 71 more columns" in bundle["text/html"]  # 50 of 121 summaries
    assert "(+101 more columns)" in bundle["text/html"]  # 20 of 121 columns per sample row
    assert "(+100 more columns)" in bundle["text/html"]  # 20 of 120 changes per changed row
    assert "y" * 81 not in bundle["text/html"] and "w" * 81 not in bundle["text/html"]
    assert len(bundle["text/html"]) < 100_000 and len(bundle["text/plain"]) < 100_000
    assert len(summary_line(d)) < 400


def test_plain_text_lists_counts_columns_and_samples(prod_and_sandbox: tuple[Path, Path]) -> None:
    text = to_text(diff_tables(*prod_and_sandbox, key=["id"]))

    assert "key (id)           +2 added, -2 removed, 5 changed, 3 unchanged" in text
    assert "changed by column  price 3, name 2, qty 1" in text
    assert "retyped columns    qty: BIGINT -> VARCHAR" in text
    assert "changed rows (5 of 5)" in text and "1 -> 1.35" in text and "5.5 -> n/a" in text
    assert "  10  name    'j'   'J'\n      price   1.0   3.0" in text


def test_to_dict_is_json_ready(tmp_path: Path) -> None:
    old = write(
        tmp_path / "old.parquet",
        {"id": [1], "amount": [Decimal("1.50")], "raw": [b"\x00"], "x": [float("nan")]},
        {"amount": pa.decimal128(10, 2)},
    )
    new = write(
        tmp_path / "new.parquet",
        {"id": [2], "amount": [Decimal("2.50")], "raw": [b"\x01"], "x": [1.0]},
        {"amount": pa.decimal128(10, 2)},
    )

    data = json.loads(json.dumps(to_dict(diff_tables(old, new, key=["id"])), allow_nan=False))

    assert data["added_sample"] == [{"id": 2, "amount": "2.50", "raw": "01", "x": 1.0}]
    assert data["removed_sample"][0]["x"] == "nan"
    assert data["retyped_columns"] == [] and data["identical"] is False
    assert data["summary"].startswith("vs prod: 1 rows (+1 added, -1 removed, 0 changed)")


def test_importing_the_module_does_not_import_duckdb() -> None:
    code = "import sys, nbassets.diff; print('duckdb' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_diff_module_imports_no_renderer() -> None:
    """diff.py is the result and its computation; render/diffview.py draws it (no cycle)."""
    import ast

    import nbassets.diff

    tree = ast.parse(Path(nbassets.diff.__file__).read_text(encoding="utf-8"))
    imported = [
        node.module or ""
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.level > 0
    ] + [a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names]
    assert not [name for name in imported if "render" in name.split(".")]
    code = "import sys, nbassets.diff; print(any('render' in m for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_view_shows_the_diff_and_reads_as_it(prod_and_sandbox: tuple[Path, Path]) -> None:
    import copy

    d = diff_tables(*prod_and_sandbox, key=["id"])
    view = DiffView(d)

    assert view._repr_mimebundle_() == {"text/plain": to_text(d), "text/html": to_html(d)}
    assert view.summary_line() == summary_line(d) == to_text(d).splitlines()[0]
    assert view.to_dict() == to_dict(d) and view.to_dict()["summary"] == summary_line(d)
    assert (view.added_rows, view.key, view.identical) == (d.added_rows, d.key, d.identical)
    assert copy.copy(view).diff is d
    with pytest.raises(AttributeError):
        view.no_such_field  # noqa: B018


# --- a version the other env does not have yet (issue 11 item 2) ---------------------------------

NEW_ORDERS = (
    "import pandas as pd\n"
    "pd.DataFrame({'id': [1, 2, 3], 'amount': [10.0, None, 30.0], 'note': ['a', 'b', 'b']})"
)


def test_summarize_table_gives_rows_and_column_summaries(tmp_path: Path) -> None:
    path = write(tmp_path / "t.parquet", {"id": [1, 2, 3], "note": ["a", None, "a"]})
    new = summarize_table(path, label="sandbox dev-x", missing_in="prod")
    assert (new.rows, new.label, new.missing_in, new.io) == (3, "sandbox dev-x", "prod", "parquet")
    assert new.column_stats == [
        ColumnSummary("id", "BIGINT", 0, 3, "1", "3", 2.0),
        ColumnSummary("note", "VARCHAR", 1, 1, "a", "a", None),
    ]
    view = DiffView(new)
    text = view.to_text()
    assert text.splitlines()[0] == (
        "new in prod: sandbox dev-x has 3 rows, 2 columns; prod has no version yet"
    )
    assert "note" in text and "VARCHAR" in text
    assert view.to_dict()["new"] is True and view.to_dict()["identical"] is False
    json.dumps(view.to_dict())
    assert "new in prod" in view._repr_mimebundle_()["text/html"]


def test_diff_of_an_asset_production_does_not_have_says_it_is_new(
    shell: TestingShell, project: Path
) -> None:
    shell.run_cell(f"%%asset orders --no-preview --key id\n{NEW_ORDERS}")

    view = shell.run_cell("%diff orders").result  # no UsageError: Run All goes on

    text = view._repr_mimebundle_()["text/plain"]
    assert text.startswith("new in prod: kernel dev-tester-nogit has 3 rows, 3 columns; ")
    assert "prod has no version yet" in text
    assert "amount" in text and "DOUBLE" in text
    assert (view.rows, view.missing_in) == (3, "prod")
    assert [c.nulls for c in view.column_stats] == [0, 1, 0]
    assert not (project / "warehouse").exists()  # production stays empty

    shell.run_cell("%%asset settings --no-preview\n{'retries': 3}")
    other = shell.run_cell("%diff settings").result._repr_mimebundle_()["text/plain"]
    assert other.startswith("new in prod: kernel dev-tester-nogit has a ")


def test_diff_against_a_sandbox_without_it_says_new_there(shell: TestingShell) -> None:
    shell.run_cell("%nbassets env dev-tester-other")
    shell.run_cell("%%asset kept --no-preview\nimport pandas as pd\npd.DataFrame({'a': [1]})")
    shell.run_cell("%nbassets env dev-tester-nogit")
    shell.run_cell(f"%%asset orders --no-preview\n{NEW_ORDERS}")
    text = str(shell.run_cell("%diff orders --against dev-tester-other").result.to_text())
    assert text.startswith("new in dev-tester-other: kernel dev-tester-nogit has 3 rows")
    with pytest.raises(UsageError, match="env 'ci-nothing' holds no assets"):
        shell.run_cell("%diff orders --against ci-nothing")


def test_diff_of_an_unknown_asset_says_so_with_a_suggestion(shell: TestingShell) -> None:
    shell.run_cell(f"%%asset orders --no-preview\n{NEW_ORDERS}")
    with pytest.raises(UsageError) as raised:
        shell.run_cell("%diff ordrs")
    message = str(raised.value)
    assert message.startswith("unknown asset 'ordrs': no cell defines it")
    assert "Did you mean 'orders'?" in message and "to check" not in message
