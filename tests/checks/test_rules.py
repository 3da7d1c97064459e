"""--check rules: parsing against the fixed vocabulary, and running on Parquet files."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from nbassets.checks.rules import parse_rule, run_rule
from nbassets.errors import SpecError


def table(tmp_path: Path, frame: pd.DataFrame, name: str = "t") -> Path:
    path = tmp_path / f"{name}.parquet"
    frame.to_parquet(path)
    return path


def run(rule_text: str, path: Path, schema: dict | None = None, others: dict | None = None):  # type: ignore[no-untyped-def]
    rule = parse_rule(rule_text)
    return run_rule(rule, "t", "dv", path, schema, lambda key: (others or {})[key])


GOOD = pd.DataFrame({"id": [1, 2, 3], "kind": ["a", "b", "a"], "amount": [5.0, 50.0, 99.0]})
BAD = pd.DataFrame({"id": [1, 1, None], "kind": ["a", "z", None], "amount": [-1.0, 50.0, 101.0]})


@pytest.mark.parametrize(
    ("rule", "failing", "message"),
    [
        ('not_null("id")', 1, "1 row with nulls"),
        ('not_null("id", "kind")', 1, "1 row with nulls"),
        ('unique("id")', 2, "1 duplicated key(s) over 2 rows"),
        ('accepted_values("kind", ["a", "b"])', 1, "1 row with other values"),
        ("row_count(min=5)", 1, "3 rows, expected at least 5"),
        ("row_count(min=0, max=2)", 1, "3 rows, expected 0 to 2"),
        ('between("amount", 0, 100)', 2, "2 rows out of range"),
    ],
)
def test_each_rule_passes_good_data_and_fails_bad_data(
    tmp_path: Path, rule: str, failing: int, message: str
) -> None:
    good = run(
        rule.replace("min=5", "min=3").replace("max=2", "max=3"), table(tmp_path, GOOD, "good")
    )
    assert good.passed and good.error is None and not good.failing_rows, good
    bad = run(rule, table(tmp_path, BAD, "bad"))
    assert not bad.passed and bad.error is None
    assert bad.failing_rows == failing and bad.message == message
    assert bad.severity == "error" and bad.blocking and bad.outcome == "fail"


@pytest.mark.parametrize(
    "rule",
    [
        'not_null("id", severity="warn")',
        'unique("id", severity="warn")',
        'accepted_values("kind", ["a", "b"], severity="warn")',
        'row_count(min=5, severity="warn")',
        'between("amount", 0, 100, severity="warn")',
        'schema(id="int32", severity="warn")',
        'fresh("day", max_age="1d", severity="warn")',
        'relationship("id", "other", "id", severity="warn")',
    ],
)
def test_every_rule_at_warn_severity_fails_without_blocking(tmp_path: Path, rule: str) -> None:
    bad = BAD.assign(day=pd.Timestamp("2020-01-01"))
    other = table(tmp_path, pd.DataFrame({"id": [7.0]}), "other")
    result = run(rule, table(tmp_path, bad), {"id": "float64"}, {"other": other})
    assert not result.passed and result.error is None, result
    assert result.severity == "warn" and not result.blocking and result.outcome == "warn"


def test_failing_rows_are_sampled(tmp_path: Path) -> None:
    result = run('between("amount", 0, 100)', table(tmp_path, BAD))
    assert result.sample == [
        {"id": 1.0, "kind": "a", "amount": -1.0},
        {"id": None, "kind": None, "amount": 101.0},
    ]


def test_warn_severity_never_blocks(tmp_path: Path) -> None:
    result = run('not_null("id", severity="warn")', table(tmp_path, BAD))
    assert not result.passed and not result.blocking and result.outcome == "warn"
    assert result.name == "not_null('id')"


def test_schema_rule_compares_recorded_dtypes(tmp_path: Path) -> None:
    path = table(tmp_path, GOOD)
    schema = {"id": "int64", "kind": "str", "amount": "float64"}
    assert run('schema(id="int64", amount="float64")', path, schema).passed
    result = run('schema(id="int32", missing="str")', path, schema)
    assert not result.passed and result.failing_rows == 2
    assert (
        result.message == "id: expected int32, got int64; missing: expected str, got no such column"
    )


def test_fresh_rule(tmp_path: Path) -> None:
    now = datetime.now(UTC).replace(tzinfo=None)
    recent = table(tmp_path, pd.DataFrame({"at": [now - timedelta(hours=2)]}), "recent")
    old = table(tmp_path, pd.DataFrame({"at": [now - timedelta(days=3)]}), "old")
    assert run('fresh("at", max_age="1d")', recent).passed
    late = run('fresh("at", max_age="1d")', old)
    assert not late.passed and "older than max_age 1d" in late.message
    broken = run('fresh("at", max_age="soon")', recent)
    assert broken.error is not None and "is not an age" in broken.error and broken.blocking


def test_fresh_rule_reads_the_pinned_now(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """NBASSETS_NOW pins "now" for the fresh rule as for freshness and partitions."""
    data = table(tmp_path, pd.DataFrame({"at": [datetime(2024, 1, 1, 12)]}), "pinned")
    monkeypatch.setenv("NBASSETS_NOW", "2024-01-02T00:00:00")
    assert run('fresh("at", max_age="1d")', data).passed
    monkeypatch.setenv("NBASSETS_NOW", "2024-01-03T00:00:00")
    assert not run('fresh("at", max_age="1d")', data).passed


def test_relationship_rule(tmp_path: Path) -> None:
    customers = table(tmp_path, pd.DataFrame({"customer_id": [1, 2]}), "customers")
    orders = table(tmp_path, pd.DataFrame({"customer": [1, 2, 3, None]}), "orders")
    result = run(
        'relationship("customer", "customers", "customer_id")',
        orders,
        others={"customers": customers},
    )
    assert not result.passed and result.failing_rows == 1 and result.sample == [{"customer": 3.0}]
    assert "without a match in customers" in result.message


def test_a_broken_rule_is_an_error_not_a_failure(tmp_path: Path) -> None:
    result = run('not_null("no_such_column")', table(tmp_path, GOOD))
    assert result.error is not None and "no_such_column" in result.error
    assert result.outcome == "error" and result.failing_rows is None


@pytest.mark.parametrize(
    "text",
    [
        '__import__("os").system("touch /tmp/pwned")',
        "not_null(column)",
        'not_null(os.environ["X"])',
        'not_null(str("id"))',
        'not_null("id").__class__',
        "lambda: 1",
        'drop_table("x")',
        'not_null("id", **{"a": 1})',
        "not_null()",
        'between("a", 1)',
        'accepted_values("a", ["x"], extra=1)',
        'not_null("id", severity="fatal")',
        "schema()",
        "not_null('id'",
    ],
)
def test_malicious_or_malformed_rules_are_refused_unevaluated(text: str, tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="is not a valid rule") as info:
        parse_rule(text)
    assert "not_null(" in str(info.value) and "relationship(" in str(info.value)  # the valid list
    assert not Path("/tmp/pwned").exists()


def test_rules_and_check_cells_keep_the_same_number_of_failing_rows(tmp_path: Path) -> None:
    from nbassets.checks.cells import read_outcome
    from nbassets.store.results import SAMPLE_ROWS

    frame = pd.DataFrame({"id": pd.Series([None] * (SAMPLE_ROWS + 3), dtype="float64")})
    rule = run('not_null("id")', table(tmp_path, frame))
    _, failing, sample, _ = read_outcome(frame)

    assert rule.failing_rows == failing == SAMPLE_ROWS + 3
    assert len(rule.sample) == len(sample) == SAMPLE_ROWS
