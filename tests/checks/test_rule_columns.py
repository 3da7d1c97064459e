"""Issue 11 item 7: a ``--check`` rule on a column (or asset) that is not there.

Each column a rule reads is looked up in the built version before the rule runs; a missing
one is that rule's error, worded for a typo (the closest column suggested), never DuckDB's
``BinderException`` with the Parquet path. Shown by the rule runner, a real kernel and the CLI.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from helpers import TestingShell, shown
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

import nbassets
from nbassets.checks.rules import VOCABULARY, RuleCannotRun, parse_rule, rule_columns, run_rule
from nbassets.cli import main
from nbassets.errors import SpecError

ORDERS = pd.DataFrame(
    {
        "carrier": ["UA", "AA", None],
        "dest": ["IAH", "MIA", "BQN"],
        "distance": [1400, 1089, 1576],
        "day": pd.to_datetime(["2013-01-01", "2013-01-02", "2013-01-03"]),
    }
)
AIRLINES = pd.DataFrame({"carrier": ["UA", "AA"], "name": ["United", "American"]})
RAW_ENGINE_TEXT = ("Binder", "Exception", "read_parquet", ".parquet", "↵", "LINE 1")


def tables(tmp_path: Path) -> tuple[Path, Path]:
    orders, airlines = tmp_path / "orders.parquet", tmp_path / "airlines.parquet"
    ORDERS.to_parquet(orders)
    AIRLINES.to_parquet(airlines)
    return orders, airlines


def run(text: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    orders, airlines = tables(tmp_path)
    schema = {str(c): str(t) for c, t in ORDERS.dtypes.items()}
    return run_rule(parse_rule(text), "orders", "dv", orders, schema, {"airlines": airlines}.get)


def assert_no_engine_text(text: str) -> None:
    for raw in RAW_ENGINE_TEXT:
        assert raw not in text, (raw, text)


# --- the rule runner -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "error"),
    [
        ("unique('carier')",
         "rule unique('carier'): orders has no column 'carier'. Did you mean 'carrier'?"),
        ("unique('zzz')", "rule unique('zzz'): orders has no column 'zzz'."),
        ("unique('carrier', 'dset')",
         "rule unique('carrier', 'dset'): orders has no column 'dset'. Did you mean 'dest'?"),
        ("not_null('carier', 'dset')",
         "rule not_null('carier', 'dset'): orders has no column 'carier'. Did you mean "
         "'carrier'? orders has no column 'dset'. Did you mean 'dest'?"),
        ("accepted_values('dst', ['IAH'])",
         "rule accepted_values('dst', ['IAH']): orders has no column 'dst'. Did you mean 'dest'?"),
        ("between('distanse', 0, 5000)",
         "rule between('distanse', 0, 5000): orders has no column 'distanse'. Did you mean "
         "'distance'?"),
        ("fresh('dya', max_age='1d')",
         "rule fresh('dya', max_age='1d'): orders has no column 'dya'. Did you mean 'day'?"),
        ("relationship('carier', 'airlines', 'carrier')",
         "rule relationship('carier', 'airlines', 'carrier'): orders has no column 'carier'. "
         "Did you mean 'carrier'?"),
        ("relationship('carrier', 'airlines', 'nmae')",
         "rule relationship('carrier', 'airlines', 'nmae'): airlines has no column 'nmae'. "
         "Did you mean 'name'?"),
        ("relationship('carier', 'airlines', 'xyz')",
         "rule relationship('carier', 'airlines', 'xyz'): orders has no column 'carier'. "
         "Did you mean 'carrier'? airlines has no column 'xyz'."),
        ("unique('Carrier')",  # names are exact, as in pandas: DuckDB's case folding is not used
         "rule unique('Carrier'): orders has no column 'Carrier'. Did you mean 'carrier'?"),
    ],
)  # fmt: skip
def test_a_missing_column_is_the_rules_error_naming_it_and_the_closest(
    tmp_path: Path, rule: str, error: str
) -> None:
    result = run(rule, tmp_path)
    assert result.error == error
    assert result.outcome == "error" and not result.passed and result.blocking
    assert result.failing_rows is None and result.sample == [] and result.message == ""
    assert_no_engine_text(result.error)


def test_a_warn_rule_on_a_missing_column_is_an_error_of_that_rule_that_blocks_nothing(
    tmp_path: Path,
) -> None:
    """Decision: severity stays the rule's; the missing column is shown as its error (‼)."""
    result = run("unique('carier', severity='warn')", tmp_path)
    assert result.error == (
        "rule unique('carier'): orders has no column 'carier'. Did you mean 'carrier'?"
    )
    assert result.severity == "warn" and result.outcome == "error"
    assert not result.passed and not result.blocking


@pytest.mark.parametrize(
    "rule",
    [
        "unique('carrier', 'dest')",
        "not_null('dest')",
        "accepted_values('dest', ['IAH', 'MIA', 'BQN'])",
        "between('distance', 0, 5000)",
        "fresh('day', max_age='100000d')",
        "relationship('carrier', 'airlines', 'carrier')",
        "row_count(min=3)",
    ],
)
def test_rules_on_present_columns_still_run(tmp_path: Path, rule: str) -> None:
    result = run(rule, tmp_path)
    assert result.passed and result.error is None, result


def test_schema_naming_a_missing_column_is_its_normal_failure_with_the_closest(
    tmp_path: Path,
) -> None:
    result = run("schema(carier='str', zzz='int64', distance='int64')", tmp_path)
    assert result.error is None and result.outcome == "fail" and result.blocking
    assert result.failing_rows == 2
    assert result.message == (
        "carier: expected str, got no such column (did you mean 'carrier'?); "
        "zzz: expected int64, got no such column"
    )


def test_every_rule_that_takes_columns_names_them() -> None:
    """A new rule that reads a column must say so here, or it escapes the column lookup."""
    examples = {
        "not_null": ("not_null('a', 'b')", ("a", "b")),
        "unique": ("unique('a', 'a', 'b')", ("a", "b")),
        "accepted_values": ("accepted_values('a', [1])", ("a",)),
        "between": ("between(column='a', low=0, high=1)", ("a",)),
        "fresh": ("fresh('a')", ("a",)),
        "relationship": ("relationship('a', 'other', 'b')", ("a",)),  # 'b' is the other's
        "row_count": ("row_count()", ()),
        "schema": ("schema(a='int64')", ()),  # its missing columns are its failures
        "volume": ("volume()", ()),
    }
    assert set(examples) == set(VOCABULARY)
    for text, columns in examples.values():
        assert rule_columns(parse_rule(text)) == columns, text


@pytest.mark.parametrize(
    "text",
    ["between(3, 0, 1)", "fresh(None)", "relationship('a', 1, 'b')", "accepted_values(b'a', [1])"],
)
def test_a_column_or_asset_that_is_not_a_quoted_name_is_refused_when_parsed(text: str) -> None:
    with pytest.raises(SpecError, match="must be a name in quotes"):
        parse_rule(text)


def test_an_other_asset_without_a_table_is_the_rules_error(tmp_path: Path) -> None:
    orders, _ = tables(tmp_path)

    def no_table(key: str) -> Path:
        raise RuleCannotRun(f"asset {key!r} has no version to compare with")

    rule = parse_rule("relationship('carrier', 'airline', 'carrier')")
    result = run_rule(rule, "orders", "dv", orders, None, no_table)
    assert result.error == (
        "rule relationship('carrier', 'airline', 'carrier'): "
        "asset 'airline' has no version to compare with"
    )


# --- in a kernel ---------------------------------------------------------------------------------

FLIGHTS = (
    "import pandas as pd\n"
    "pd.DataFrame({'carrier': ['UA', 'AA'], 'dest': ['IAH', 'MIA'], 'n': [1, 2]})"
)
MESSAGE = "rule unique('carier'): orders has no column 'carier'. Did you mean 'carrier'?"


def statuses(shell: TestingShell) -> dict[str, str]:
    return {row.key: row.label for row in shell.run_cell("%assets").result.rows}


def test_a_misspelled_rule_in_a_cell_builds_binds_and_marks_check_failed(
    shell: TestingShell,
) -> None:
    with capture_output() as out, pytest.raises(UsageError) as info:
        shell.run_cell(f"%%asset orders --check \"unique('carier')\"\n{FLIGHTS}")
    said = str(info.value)
    assert MESSAGE in said and "orders: unique('carier')" in said
    assert_no_engine_text(said)
    preview = shown(out)
    assert f"‼ error  unique('carier')  {MESSAGE}" in preview
    assert_no_engine_text(preview)
    assert isinstance(shell.user_ns["orders"], pd.DataFrame)  # built and bound all the same
    assert statuses(shell)["orders"] == "check-failed: check unique('carier') failed"


def test_a_misspelled_warn_rule_in_a_cell_is_shown_and_blocks_nothing(
    shell: TestingShell,
) -> None:
    out = shell.capture(f"%%asset orders --check \"unique('carier', severity='warn')\"\n{FLIGHTS}")
    assert f"‼ error  unique('carier')  {MESSAGE}" in shown(out)
    assert statuses(shell)["orders"] == "fresh"


def test_relationship_to_a_misspelled_or_unbuilt_asset_or_column_in_a_cell(
    shell: TestingShell,
) -> None:
    shell.run_cell(
        "%%asset airlines --no-preview\nimport pandas as pd\n"
        "pd.DataFrame({'carrier': ['UA', 'AA'], 'name': ['United', 'American']})"
    )
    rules = {
        "relationship('carrier', 'airline', 'carrier')": (
            "rule relationship('carrier', 'airline', 'carrier'): asset 'airline' has no version "
            "in env 'dev-tester-nogit' or in prod to compare with: build it first. "
            "Did you mean 'airlines'?"
        ),
        "relationship('carrier', 'zzz', 'carrier')": (
            "rule relationship('carrier', 'zzz', 'carrier'): asset 'zzz' has no version in env "
            "'dev-tester-nogit' or in prod to compare with: build it first."
        ),
        "relationship('carrier', 'airlines', 'carier')": (
            "rule relationship('carrier', 'airlines', 'carier'): airlines has no column "
            "'carier'. Did you mean 'carrier'?"
        ),
    }
    for rule, message in rules.items():
        with pytest.raises(UsageError) as info:
            shell.run_cell(f'%%asset orders --no-preview --check "{rule}"\n{FLIGHTS}')
        assert f"({message})" in str(info.value), str(info.value)
        assert_no_engine_text(str(info.value))
    shell.run_cell(
        f"%%asset orders --no-preview --check \"relationship('carrier', 'airlines', 'carrier')\""
        f"\n{FLIGHTS}"
    )
    assert statuses(shell)["orders"] == "fresh"


def test_a_misspelled_rule_is_not_advised_to_be_made_a_warning(shell: TestingShell) -> None:
    with pytest.raises(UsageError) as info:
        shell.run_cell(f"%%asset orders --no-preview --check \"unique('carier')\"\n{FLIGHTS}")
    assert MESSAGE in str(info.value)
    assert "only warns" not in str(info.value)


# --- the CLI -------------------------------------------------------------------------------------

MODULE = textwrap.dedent(
    """
    from nbassets.runtime import ExportedAsset


    def orders(raw):
        return raw.assign(dest="IAH")


    ASSETS = (
        ExportedAsset("orders", orders, deps=("raw",), code_version="c1",
                      rules=("unique('carier')", "not_null('dset', severity='warn')")),
    )
    """
)


def test_the_cli_says_the_same_for_materialize_and_check(project: Path) -> None:
    nbassets.save("raw", pd.DataFrame({"carrier": ["UA", "AA"]}), env="prod")
    (project / "pipelines").mkdir()
    (project / "pipelines" / "__init__.py").write_text("")
    (project / "pipelines" / "shop.py").write_text(MODULE)
    runner = CliRunner()

    built = runner.invoke(main, ["materialize", "--env", "ci-1", "--no-progress", "--json"])
    assert built.exit_code == 1, built.output
    assert json.loads(built.stdout)["check_failed"] == ["orders"]  # built, then check-failed

    checked = runner.invoke(main, ["check", "--env", "ci-1"])
    assert checked.exit_code == 1, checked.output
    assert f"ERROR orders: unique('carier')  ({MESSAGE})" in checked.stdout
    assert (
        "ERROR orders: not_null('dset')  (rule not_null('dset'): orders has no column 'dset'. "
        "Did you mean 'dest'?)" in checked.stdout
    )
    assert "2 check(s) in ci-1: 1 failed" in checked.stdout  # the warn rule blocks nothing
    assert_no_engine_text(checked.output)
    results = json.loads(runner.invoke(main, ["check", "--env", "ci-1", "--json"]).stdout)
    assert {r["name"]: (r["outcome"], r["error"]) for r in results} == {
        "unique('carier')": ("error", MESSAGE),
        "not_null('dset')": (
            "error",
            "rule not_null('dset'): orders has no column 'dset'. Did you mean 'dest'?",
        ),
    }
