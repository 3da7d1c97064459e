"""The preview after a build: facts shown, values of every kind, escaping, bounded output."""

from __future__ import annotations

import re
import subprocess
import sys
from html import escape
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from nbassets.render.preview import InputFact, Preview, PreviewFacts, preview_widget
from nbassets.render.summary import cell_text
from nbassets.store.results import CheckResult

XSS = "<img src=x onerror=alert(1)>"
KB = 1024


def facts(**overrides: object) -> PreviewFacts:
    """Facts of an ``orders`` build with two inputs, four checks, downstream and a diff."""
    checks = (
        CheckResult("orders", "ids_unique", "error", passed=True),
        CheckResult(
            "orders",
            "amount_positive",
            "error",
            passed=False,
            failing_rows=3,
            message="amount must be > 0",
        ),
        CheckResult("orders", "recent", "warn", passed=False, message="newest order is 3 days old"),
        CheckResult("orders", "schema_ok", "error", passed=False, error="KeyError: 'amount'"),
    )
    values: dict[str, object] = {
        "key": "orders",
        "env": "dev-alice-main",
        "data_version": "3f2a9c1d8e7f",
        "rows": None,
        "columns": None,
        "bytes": 53_555,
        "seconds": 0.0061,
        "inputs": (
            InputFact("raw_orders", "prod", "prod", "2c4f8e2aa0"),
            InputFact("customers", "sandbox", "dev-alice-main", "1a2b3c4dd5"),
        ),
        "checks": checks,
        "upstream": ("raw_orders", "customers"),
        "downstream": ("revenue", "churn"),
        "diff_summary": "+12 rows vs prod, 1 column added",
    }
    values.update(overrides)
    return PreviewFacts(**values)  # type: ignore[arg-type]


def bundle(value: object, **overrides: object) -> dict[str, str]:
    result = Preview(value, facts(**overrides))._repr_mimebundle_()
    assert set(result) == {"text/plain", "text/html"}
    return result


def orders() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "order_id": np.arange(2978),
            "amount": np.linspace(1.0, 99.0, 2978),
            "status": (["paid", "open"] * 1489),
        }
    )


def test_dataframe_preview_shows_every_fact() -> None:
    shown = bundle(orders())
    for text in shown.values():
        assert "orders → dev-alice-main @ 3f2a9c1" in text
        assert "DataFrame 2,978 rows × 3 cols" in text
        assert "52.3 KB" in text and "6.1 ms" in text
        assert "raw_orders ← prod @ 2c4f8e2" in text
        assert "customers ← sandbox dev-alice-main @ 1a2b3c4" in text
        assert "revenue, churn" in text
        assert "+12 rows vs prod, 1 column added" in text
        for column in ("order_id", "amount", "status", "int64", "float64"):
            assert column in text
        assert "first 5 of 2,978 rows" in text
    text, html = shown["text/plain"], shown["text/html"]
    assert "✓ pass   ids_unique" in text
    assert "amount must be > 0" in text
    assert "! warn   recent" in text and "KeyError: 'amount'" in text
    for outcome in ("pass", "fail", "warn", "error"):
        assert f'class="nba-badge nba-{outcome}"' in html
    assert 'title="fail (error check) — amount must be &gt; 0"' in html
    assert "<script" not in html and "onerror=" not in html


@pytest.mark.parametrize(
    ("summary", "label", "said"),
    [
        ("vs prod: 2 -> 3 rows (+1 added)", "vs prod", "2 -> 3 rows (+1 added)"),
        ("vs prod: identical (5 rows)", "vs prod", "identical (5 rows)"),
        ("vs staging: another version", "vs staging", "another version"),
        ("+12 rows vs prod, 1 column added", "vs prod", "+12 rows vs prod, 1 column added"),
    ],
)
def test_the_versus_line_says_its_label_once(summary: str, label: str, said: str) -> None:
    shown = bundle({"a": 1}, diff_summary=summary)
    [line] = [line for line in shown["text/plain"].splitlines() if said in line]
    assert line.split() == [*label.split(), *said.split()]
    assert f'<span class="nba-label">{label}</span>{escape(said)}</div>' in shown["text/html"]


def test_badges_say_why_a_check_did_not_pass_inline() -> None:
    html = bundle({"a": 1})["text/html"]
    assert ">✓ ids_unique</span>" in html  # a pass stays short
    assert '>! warn recent <span class="nba-note">newest order is 3 days old</span></span>' in html
    assert '>✗ fail amount_positive <span class="nba-note">amount must be &gt; 0</span>' in html
    failing = CheckResult("t", "between('x', 0, 1)", "warn", passed=False, failing_rows=5)
    html = bundle({"a": 1}, checks=(failing,))["text/html"]
    assert 'between(&#x27;x&#x27;, 0, 1) <span class="nba-note">5 failing rows</span>' in html


def test_schema_counts_nulls_and_distinct_exactly_for_small_frames() -> None:
    frame = pd.DataFrame({"a": [1.0, None, 3.0, 3.0], "b": ["x", "y", None, "x"]})
    text = Preview(frame, facts())._repr_mimebundle_()["text/plain"]
    schema = text.split("distinct")[-1]
    assert re.search(r"\n  a +float64 +1 +2\n  b +str +1 +2$", schema)
    assert "~" not in schema


def test_facts_rows_and_columns_win_over_the_value() -> None:
    html = bundle(orders(), rows=5_000_000, columns=3)["text/html"]
    assert "DataFrame 5,000,000 rows × 3 cols" in html


def test_no_inputs_no_checks_no_diff() -> None:
    text = bundle({"a": 1}, inputs=(), checks=(), diff_summary=None)["text/plain"]
    assert "inputs    (none)" in text
    assert "checks" not in text and "vs prod" not in text


def test_upstream_beyond_the_inputs_is_listed() -> None:
    text = bundle([1], upstream=("raw_orders", "customers", "fx_rates"))["text/plain"]
    assert "upstream  raw_orders, customers, fx_rates" in text


def test_kernel_input_and_description() -> None:
    fact = InputFact("fx", "kernel", "dev-alice-main", "9f8e7d6c5")
    text = bundle([1], inputs=(fact,), description="Daily orders.")["text/plain"]
    assert "fx ← kernel dev-alice-main @ 9f8e7d6" in text
    assert "Daily orders." in text


def test_polars_frame() -> None:
    frame = pl.DataFrame({"city": ["Oslo", "Lima", None], "n": [1, 2, 3]})
    for text in bundle(frame).values():
        assert "DataFrame 3 rows × 2 cols" in text
        assert "city" in text and "String" in text and "Int64" in text and "Lima" in text


def test_pyarrow_table() -> None:
    table = pa.table({"id": pa.array([1, None, 3]), "tag": ["a", "b", "b"]})
    shown = bundle(table)
    for text in shown.values():
        assert "Table 3 rows × 2 cols" in text and "int64" in text and "tag" in text
    assert re.search(r"\n  id +int64 +1 +2\n", shown["text/plain"])


def test_dict() -> None:
    value = {f"k{i}": list(range(1000)) for i in range(50)}
    text = bundle(value)["text/plain"]
    assert "dict of 50 items" in text
    assert "'k0': [0, 1, 2" in text and "… and 30 more" in text
    assert len(text) < 5_000


def test_list_and_set() -> None:
    assert "list of 100,000 items" in bundle(list(range(100_000)))["text/plain"]
    assert "set of 1 item" in bundle({"x"})["text/plain"]


def test_ndarray_shows_shape_dtype_and_a_few_values() -> None:
    shown = bundle(np.arange(3_000_000, dtype=np.float64).reshape(1000, 3000))
    for text in shown.values():
        assert "ndarray 1,000 × 3,000 float64" in text
        assert "..." in text
    assert len(shown["text/plain"]) < 2_000


def test_fitted_and_unfitted_scikit_learn_model() -> None:
    from sklearn.linear_model import LinearRegression

    model = LinearRegression()
    assert "LinearRegression, not fitted" in bundle(model)["text/plain"]
    model.fit(np.array([[0.0], [1.0], [2.0]]), np.array([1.0, 3.0, 5.0]))
    for text in bundle(model).values():
        assert "LinearRegression, fitted" in text
        assert "fit_intercept=True" in text
        assert "coef_" in text and "n_features_in_: 1" in text


def test_empty_frame_and_frame_without_columns() -> None:
    empty = pd.DataFrame({"a": pd.Series([], dtype="int64"), "b": pd.Series([], dtype="str")})
    for text in bundle(empty).values():
        assert "DataFrame 0 rows × 2 cols" in text and "no rows" in text and "int64" in text
    nothing = bundle(pd.DataFrame())["text/plain"]
    assert "DataFrame 0 rows × 0 cols" in nothing and "(no columns)" in nothing


def test_multiindex_rows_and_columns() -> None:
    rows = pd.MultiIndex.from_product([["north", "south"], [2024, 2025]], names=["region", "year"])
    columns = pd.MultiIndex.from_tuples([("sales", "q1"), ("sales", "q2"), ("cost", "q1")])
    frame = pd.DataFrame(np.arange(12).reshape(4, 3), index=rows, columns=columns)
    shown = bundle(frame)
    for text in shown.values():
        assert "region" in text and "year" in text and "north" in text and "2025" in text
        assert "sales / q1" in text and "cost / q1" in text
    assert '<th>region</th><th>year</th><th class="nba-num">sales / q1</th>' in shown["text/html"]


def test_non_string_column_names_and_series() -> None:
    frame = pd.DataFrame({0: [1], 2.5: [2], None: [3]})
    assert "2.5" in bundle(frame)["text/plain"]
    series = pd.Series([1, 2, 3], name="score")
    assert "DataFrame 3 rows × 1 cols" in bundle(series)["text/plain"]


def test_string_and_bytes() -> None:
    text = bundle("x" * 100_000)["text/plain"]
    assert "str of 100,000 chars" in text and len(text) < 3_000
    assert "bytes of 3 bytes" in bundle(b"abc")["text/plain"]


def test_path(project: Path) -> None:
    file = project / "data.csv"
    file.write_text("a,b\n" * 100)
    assert f"{type(file).__name__} (file, 400 B)" in bundle(file)["text/plain"]
    assert "(directory)" in bundle(project)["text/plain"]
    assert "(does not exist)" in bundle(project / "missing.csv")["text/plain"]


def test_other_objects_get_a_bounded_repr() -> None:
    class Big:
        def __repr__(self) -> str:
            return "B" * 1_000_000

    text = bundle(Big())["text/plain"]
    assert "Big" in text and len(text) < 2_000


def test_cell_text_is_one_bounded_line() -> None:
    assert cell_text("a\nb") == "a↵b"
    assert len(cell_text("x" * 10_000)) == 60
    assert cell_text(0.1 + 0.2) == "0.3"
    assert cell_text(None) == "None"


def test_odd_cells_index_of_tuples_and_numpy_scalars() -> None:
    frame = pd.DataFrame(
        {"flag": np.array([True, False]), "items": [[1, 2], {"a": 1}]},
        index=pd.Index([("a", 1), ("b", 2)], tupleize_cols=False),
    )
    text = bundle(frame)["text/plain"]
    assert "('a', 1)" in text and "True" in text and "[1, 2]" in text
    assert re.search(r"items +object +0 +2$", text)
    assert cell_text(np.bool_(True)) == "True" and cell_text(np.float32(1)) == "1.0"


@pytest.mark.parametrize("make", [pl.DataFrame, pa.table], ids=["polars", "pyarrow"])
@pytest.mark.parametrize(
    ("rows", "mark", "note"),
    [
        (100_000, "", None),
        (1_000_000, "~", "~ HyperLogLog estimate over all rows (standard error 0.8%)"),
        (5_000_000, "≥", "≥ at least: distinct in 20,000 evenly spaced rows"),
    ],
    ids=["exact", "estimate", "lower bound"],
)
def test_tall_polars_and_arrow_tables(make: object, rows: int, mark: str, note: str) -> None:
    """Exact counts, then HyperLogLog over every row, then a sample's lower bound."""
    ids = np.arange(rows)
    table = make({"id": ids, "group": ids % 7})  # type: ignore[operator]
    text = Preview(table, facts())._repr_mimebundle_()["text/plain"]
    assert (note or "~") in text if note else "~" not in text.split("distinct")[-1]
    shown = re.search(r"id +[Ii]nt64 +0 +(\S+)\n", text)
    assert shown and shown[1].startswith(mark) if mark else shown and shown[1] == f"{rows:,}"
    count = int(shown[1].lstrip("~≥").replace(",", ""))
    expected = {"": rows, "~": rows, "≥": 20_000}[mark]
    assert abs(count - expected) <= 0.05 * expected
    bound = "≥" if mark == "≥" else ""  # few values: exact, or a bound that is the truth
    assert re.search(rf"group +[Ii]nt64 +0 +{bound}7$", text, flags=re.MULTILINE)


def test_columns_that_cannot_be_counted_show_a_question_mark() -> None:
    frame = pl.DataFrame({"o": pl.Series([object(), object()], dtype=pl.Object)})
    assert re.search(r"o +Object +0 +\?", bundle(frame)["text/plain"])


def test_pure_path_is_not_looked_up() -> None:
    from pathlib import PureWindowsPath

    assert "PureWindowsPath (not a local path)" in bundle(PureWindowsPath("C:/x"))["text/plain"]


@pytest.fixture(scope="module")
def tall() -> pd.DataFrame:
    """10,000,000 x 20: int64 and float64 columns sharing two arrays, and one category."""
    rows = 10_000_000
    ints = np.arange(rows, dtype=np.int64)
    floats = np.random.default_rng(0).standard_normal(rows)
    floats[::1000] = np.nan
    columns: dict[str, object] = {f"c{i}": ints if i % 2 else floats for i in range(19)}
    columns["kind"] = pd.Categorical.from_codes(ints % 3, ["a", "b", "c"])
    return pd.DataFrame(columns, copy=False)


def test_tall_frame_output_is_bounded_and_counts_are_honest(tall: pd.DataFrame) -> None:
    shown = Preview(tall, facts())._repr_mimebundle_()
    assert sum(len(text.encode()) for text in shown.values()) < 200 * KB
    text = shown["text/plain"]
    assert "DataFrame 10,000,000 rows × 20 cols" in text
    assert "≥ at least: distinct in 20,000 evenly spaced rows" in text
    assert re.search(r"c1 +int64 +0 +≥20,000\n", text)  # a sample's bound, not a guess
    assert re.search(r"kind +category +0 +3\n", text)  # categories: counted exactly
    assert re.search(r"c0 +float64 +10,000 +≥", text)  # nulls: exact
    assert "~" not in text.split("distinct")[-1]


def test_wide_frame_output_is_bounded() -> None:
    wide = pd.DataFrame(np.zeros((1_000, 5_000)))
    shown = Preview(wide, facts())._repr_mimebundle_()
    assert sum(len(text.encode()) for text in shown.values()) < 200 * KB
    for text in shown.values():
        assert "DataFrame 1,000 rows × 5,000 cols" in text
        assert "… and 4,980 more columns" in text
    html = shown["text/html"]
    assert ">19</th>" in html and "<td>19</td>" in html  # rows and schema tables
    assert ">20</th>" not in html and "<td>20</td>" not in html


def test_widget_has_four_tabs() -> None:
    tab = preview_widget(Preview(orders(), facts()))
    assert tab.titles == ("Rows", "Schema", "Inputs & lineage", "Checks")
    assert "order_id" in tab.children[0].value and "nba-fail" in tab.children[3].value
    badge = '‼ error schema_ok <span class="nba-note">KeyError: &#x27;amount&#x27;</span>'
    assert badge in tab.children[3].value  # why it did not pass: inline, as there is no hover


def test_previewing_imports_only_what_the_value_needs() -> None:
    code = (
        "import sys; from nbassets.render.preview import Preview, PreviewFacts; "
        "Preview({'a': [1]}, PreviewFacts('k', 'e', 'v', None, None, 0, 0.0))._repr_mimebundle_(); "
        "print(sorted({'pandas', 'polars', 'pyarrow', 'numpy', 'IPython', 'ipywidgets', 'sklearn'}"
        " & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
