"""``nbassets.testing``: an asset's code on hand-made inputs, and readable table comparisons."""

from __future__ import annotations

import tempfile
import types
from pathlib import Path

import pandas as pd
import pytest

from nbassets.errors import DependencyError, SpecError
from nbassets.runtime import ExportedAsset, sql_asset
from nbassets.testing import (
    AssetUnderTest,
    FrameMismatch,
    expect_frame_equal,
    run_test,
    under_test,
)


def orders_code(raw_orders: pd.DataFrame, customers: pd.DataFrame) -> pd.DataFrame:
    seen["dtype"] = str(raw_orders["qty"].dtype)
    seen["same_object"] = raw_orders is given["raw_orders"]
    return raw_orders.merge(customers, on="customer")


pytest_plugins = ("pytester",)

seen: dict[str, object] = {}
given: dict[str, pd.DataFrame] = {}


def test_inputs_and_value_take_the_storage_round_trip() -> None:
    temporary = set(Path(tempfile.gettempdir()).glob("nbassets-test-*"))
    orders = AssetUnderTest("orders", ("raw_orders", "customers"), orders_code)
    given["raw_orders"] = pd.DataFrame(
        {"customer": ["a", "b"], "qty": pd.Series([1, 2], dtype=object)}
    )
    result = orders(raw_orders=given["raw_orders"], customers=pd.DataFrame({"customer": ["a"]}))
    # object column of ints -> Parquet int64, as a stored version reads back; a fresh object
    assert seen == {"dtype": "int64", "same_object": False}
    expect_frame_equal(result, pd.DataFrame({"customer": ["a"], "qty": [1]}))
    assert set(Path(tempfile.gettempdir()).glob("nbassets-test-*")) == temporary  # none left


def test_other_values_take_their_declared_io() -> None:
    def count(words: list[str]) -> dict[str, int]:
        return {word: len(word) for word in words}

    asset = AssetUnderTest("count", ("words",), count, io="json", input_io={"words": "json"})
    assert asset(words=("ab", "c")) == {"ab": 2, "c": 1}  # a tuple comes back a JSON list
    with pytest.raises(Exception, match="not JSON-serializable"):
        AssetUnderTest("bad", ("words",), count, input_io={"words": "json"})(words={1, 2})


def test_a_missing_input_is_named() -> None:
    orders = AssetUnderTest("orders", ("raw_orders", "customers"), orders_code)
    with pytest.raises(DependencyError) as info:
        orders(raw_orders=pd.DataFrame({"customer": ["a"], "qty": [1]}))
    assert "was not given 'customers'" in str(info.value)
    assert "orders(raw_orders=..., customers=...)" in str(info.value)


def test_an_unknown_or_positional_input_is_refused() -> None:
    orders = AssetUnderTest("orders", ("raw_orders",), lambda raw_orders: raw_orders)
    with pytest.raises(DependencyError, match=r"given 'raw_order'.*Did you mean 'raw_orders'"):
        orders(raw_orders=pd.DataFrame(), raw_order=pd.DataFrame())
    with pytest.raises(TypeError, match="takes its inputs by name"):
        orders(pd.DataFrame())


def test_a_value_of_none_is_refused_as_in_a_build() -> None:
    asset = AssetUnderTest("noisy", (), lambda: print("hello"))
    with pytest.raises(SpecError, match="has no value"):
        asset()


def test_a_sql_asset_reads_its_inputs_as_parquet_tables() -> None:
    def daily(orders: str) -> pd.DataFrame:
        assert orders.endswith(".parquet")  # a file, as in a build
        return sql_asset(
            "daily",
            "SELECT day, sum(qty) AS qty FROM orders GROUP BY day ORDER BY day",
            orders=orders,
        )

    asset = AssetUnderTest("daily", ("orders",), daily, sql=True)
    frame = pd.DataFrame({"day": [2, 1, 2], "qty": [1, 2, 3]})
    expect_frame_equal(asset(orders=frame), pd.DataFrame({"day": [1, 2], "qty": [2.0, 4.0]}))


def test_under_test_finds_an_exported_asset_and_its_inputs_io() -> None:
    module = types.ModuleType("pipelines.x")
    module.ASSETS = (  # type: ignore[attr-defined]
        ExportedAsset("words", lambda: ["a"], io="json"),
        ExportedAsset("count", lambda words: len(words), deps=("words",), io="json"),
    )
    assert under_test(module, "count")(words=("a", "b")) == 2
    assert repr(under_test(module, "count")) == "<asset count(words) under test>"
    with pytest.raises(SpecError, match="defines no asset 'cuont'.*Did you mean 'count'"):
        under_test(module, "cuont")


# --- expect_frame_equal --------------------------------------------------------------------------


def mismatch(result: pd.DataFrame, expected: pd.DataFrame, **options: object) -> list[str]:
    with pytest.raises(FrameMismatch) as info:
        expect_frame_equal(result, expected, **options)  # type: ignore[arg-type]
    assert str(info.value).startswith("the frames differ:\n")
    return info.value.differences


def test_equal_frames_pass_whatever_their_index() -> None:
    left = pd.DataFrame({"a": [1, 2], "b": [0.1 + 0.2, None]}, index=[5, 6])
    expect_frame_equal(left, pd.DataFrame({"a": [1, 2], "b": [0.3, float("nan")]}))


def test_columns_and_types_are_named() -> None:
    result = pd.DataFrame({"a": [1], "c": [1.0], "x": [1]})
    expected = pd.DataFrame({"a": [1.0], "x": [1], "b": [1]})
    assert mismatch(result, expected) == [
        "columns missing from the result: 'b'",
        "columns not expected: 'c'",
        "column 'a' is int64, expected float64",
    ]


def test_rows_that_differ_by_position_are_shown_a_few_at_a_time() -> None:
    result = pd.DataFrame({"id": range(10), "v": [0] * 10, "w": ["x"] * 10})
    expected = pd.DataFrame({"id": range(11), "v": [1] * 7 + [0] * 4, "w": ["x"] * 11})
    lines = mismatch(result, expected)
    assert lines[0] == "10 rows, expected 11"
    assert lines[1] == "7 of 10 rows differ (compared by position):"
    assert lines[2] == "  row 0: v 0 ≠ expected 1"
    assert lines[7] == "  … 2 more" and len(lines) == 9
    assert lines[8] == "rows missing (from row 10): id=10, v=0, w='x'"


def test_rows_by_key_are_added_missing_or_changed() -> None:
    result = pd.DataFrame({"id": [1, 2, 4], "v": ["a", "B", "d"]})
    expected = pd.DataFrame({"id": [3, 2, 1], "v": ["c", "b", "a"]})
    assert mismatch(result, expected, key="id") == [
        "rows missing (1), by (id): 3",
        "rows not expected (1), by (id): 4",
        "1 row changed, by (id):",
        "  2: v 'B' ≠ expected 'b'",
    ]
    with pytest.raises(SpecError, match="'nope' is not in both frames"):
        expect_frame_equal(result, expected, key="nope")


def test_only_tables_are_compared() -> None:
    with pytest.raises(TypeError, match="the result is a list: compare other values"):
        expect_frame_equal([1], pd.DataFrame())


def test_pytest_shows_the_differences_not_nbassets_code(pytester: pytest.Pytester) -> None:
    """An exported test that fails reads from its own line (pytest's __tracebackhide__)."""
    pytester.makepyfile(
        """
        import pandas as pd
        from nbassets.testing import AssetUnderTest, expect_frame_equal

        def test_frames():
            expect_frame_equal(pd.DataFrame({"id": [1]}), pd.DataFrame({"id": [2]}))

        def test_input():
            AssetUnderTest("orders", ("raw",), lambda raw: raw)()
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:nbassets")
    result.assert_outcomes(failed=2)
    out = result.stdout.str()
    assert "row 0: id 1 ≠ expected 2" in out and "was not given 'raw'" in out
    assert "def expect_frame_equal(" not in out and "def __call__(" not in out
    assert "def _check_inputs(" not in out and "nbassets/testing.py" not in out


# --- outcomes ------------------------------------------------------------------------------------


def failing() -> None:
    assert 1 + 1 == 3


@pytest.mark.parametrize(
    ("test", "outcome", "message"),
    [
        (lambda: None, "passed", ""),
        (failing, "failed", "assert (1 + 1) == 3"),  # (as pytest rewrites it)
        (lambda: {}["x"], "error", "KeyError: 'x'"),
    ],
)
def test_run_test_reads_the_outcome(test: object, outcome: str, message: str) -> None:
    result, raised = run_test(test, "orders", "t1", "c1", source="nb :: orders", env="dev")  # type: ignore[arg-type]
    assert (result.outcome, result.message.split("\n")[0]) == (outcome, message)
    assert (raised is None) == (outcome == "passed")
    assert (result.key, result.name, result.code_version, result.env) == (
        "orders",
        "t1",
        "c1",
        "dev",
    )
    assert result.at.endswith("+00:00") and result.seconds >= 0


def test_numbers_keep_their_column_type_in_messages() -> None:
    result = pd.DataFrame({"id": [1], "x": [0.5]})
    expected = pd.DataFrame({"id": [2, 3], "x": [0.5, 0.5]})
    assert mismatch(result, expected) == [
        "1 row, expected 2",
        "1 of 1 row differ (compared by position):",
        "  row 0: id 1 ≠ expected 2",
        "rows missing (from row 1): id=3, x=0.5",
    ]
    assert mismatch(result, expected, key="id")[0] == "rows missing (2), by (id): 2, 3"


# --- partitioned assets ----------------------------------------------------------------------------


def test_a_partitioned_asset_takes_its_partition_by_key() -> None:
    from nbassets.partitions import Partition, parse_definition

    got: list[Partition] = []

    def events(raw: pd.DataFrame, partition: Partition) -> pd.DataFrame:
        got.append(partition)
        return raw[raw.day == str(partition)]

    asset = AssetUnderTest(
        "events", ("raw",), events, partitions=parse_definition("daily:2024-01-01")
    )
    raw = pd.DataFrame({"day": ["2024-01-02", "2024-01-03"], "n": [1, 2]})
    assert asset(raw=raw, partition="2024-01-03").n.tolist() == [2]
    assert got == [parse_definition("daily:2024-01-01").partition("2024-01-03")]
    assert (got[0].start.isoformat(), got[0].end.isoformat()) == (  # type: ignore[union-attr]
        "2024-01-03T00:00:00+00:00",
        "2024-01-04T00:00:00+00:00",
    )
    with pytest.raises(DependencyError) as info:
        asset(raw=raw)
    assert str(info.value) == (
        "events(...) builds one partition of daily:2024-01-01: say which, "
        "events(raw=..., partition='2024-01-01')."
    )
    with pytest.raises(DependencyError, match=r"events\(partition='2023-12-31'\): .* before"):
        asset(raw=raw, partition="2023-12-31")
    whole = AssetUnderTest("whole", ("raw",), lambda raw: raw)
    with pytest.raises(DependencyError, match="'whole' has no partitions: call whole\\(raw=...\\)"):
        whole(raw=raw, partition="2024-01-03")


def test_a_partitioned_sql_asset_sees_its_partition_variables() -> None:
    from functools import partial

    from nbassets.partitions import parse_definition

    query = "SELECT getvariable('partition') AS p, getvariable('partition_start') AS s, n FROM raw"
    asset = AssetUnderTest(
        "monthly", ("raw",), partial(sql_asset, "monthly", query), sql=True,
        partitions=parse_definition("monthly:2024-01"),
    )  # fmt: skip
    result = asset(raw=pd.DataFrame({"n": [5]}), partition="2024-02")
    assert result.p.tolist() == ["2024-02"] and result.n.tolist() == [5]
    assert str(result.s[0]) == "2024-02-01 00:00:00"


def test_an_exported_partitioned_asset_under_test_knows_its_definition() -> None:
    def events(partition):  # type: ignore[no-untyped-def]
        return pd.DataFrame({"day": [partition.key]})

    module = types.ModuleType("pipelines_days")
    module.ASSETS = (  # type: ignore[attr-defined]
        ExportedAsset("events", events, partitions="static:eu,us"),
    )
    asset = under_test(module, "events")
    assert asset(partition="us").day.tolist() == ["us"]
    with pytest.raises(DependencyError, match="'xx' is not a partition of static:eu,us"):
        asset(partition="xx")
    with pytest.raises(DependencyError, match=r"say which, events\(partition='eu'\)"):
        asset()
