"""The %%asset line: keys, options, and refusals."""

from __future__ import annotations

import pytest

from nbassets.checks.cells import parse_check_line
from nbassets.definitions import define
from nbassets.errors import InvalidAssetKey, SpecError
from nbassets.spec import asset_parser, parse_asset_line, suggest_key, validate_key


@pytest.mark.parametrize("key", ["orders", "_private", "a1", "x" * 64, "raw_orders_2024"])
def test_valid_keys(key: str) -> None:
    assert validate_key(key) == key


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("../x", "Try 'x'"),
        ("class", "it is a Python keyword. Try 'class_'"),
        ("Orders", "Try 'orders'"),
        ("x" * 65, "it is 65 characters long (at most 64)"),
        ("", "it is empty"),
        ("my-asset", "Try 'my_asset'"),
        ("1st", "Try '_1st'"),
    ],
)
def test_invalid_keys_suggest_a_valid_one(key: str, message: str) -> None:
    with pytest.raises(InvalidAssetKey, match="is not a valid asset key") as info:
        validate_key(key)
    assert message in str(info.value)
    validate_key(suggest_key(key))  # the suggestion itself is valid


def test_partition_is_a_reserved_key() -> None:
    """DESIGN §3: a partitioned cell sees ``partition``, so no asset may be named so."""
    for line in ("partition", "orders --deps partition"):
        with pytest.raises(InvalidAssetKey, match="'partition' is reserved.*Try 'partitions'"):
            parse_asset_line(line)
    validate_key("partitions")


def test_full_line() -> None:
    spec = parse_asset_line(
        "orders --io parquet --deps a,b --deps c --key id --desc 'All orders' --no-preview"
    )
    assert spec.key == "orders" and spec.io == "parquet"
    assert spec.deps == ("a", "b", "c") and spec.key_columns == ("id",)
    assert spec.description == "All orders" and spec.preview is False
    assert parse_asset_line("x").output_options() == {}
    assert parse_asset_line("x --io json").output_options() == {"io": "json"}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("", "needs a name"),
        ("a b", "unrecognized arguments: b"),
        ("a --io csv", "invalid choice: 'csv'"),
        ("a --deps a", "lists itself in --deps"),
        ("a --deps Bad", "'Bad' is not a valid asset key"),
        ("a --desc 'open", "check the quotes"),
        ("a --no", "unrecognized arguments: --no"),
        ("a --fresh 1d", "write 'max_age=DURATION'"),
        ("a --fresh max_age=2w", "weeks: use days, e.g. 7d"),
        ("a --fresh max_age=0d", "max_age must be more than 0"),
        ("a --fresh max_age=soon", "'soon' is not a duration"),
        ("a --partition-key 2024", "give the asset --partition too"),
        ("a --partition weekly:2024-01-01", "weekly"),
        ("a --partition daily:2024-01-01 --partition-key 2023-12-31", "2023-12-31"),
    ],
)
def test_bad_lines(line: str, message: str) -> None:
    with pytest.raises(SpecError) as info:
        parse_asset_line(line)
    assert message in str(info.value)


def test_a_partition_definition_is_parsed_and_changes_the_code_version() -> None:
    spec = parse_asset_line("orders --partition daily:2024-01-01 --partition-key 2024-01-05")
    assert str(spec.partitions) == "daily:2024-01-01" and spec.partition_key == "2024-01-05"
    assert spec.output_options() == {"partition": "daily:2024-01-01"}
    assert parse_asset_line("orders --partition static:eu,us").output_options() == {
        "partition": "static:eu,us"
    }
    assert parse_asset_line("orders").partitions is None


def test_continued_magic_lines_keep_body_line_numbers() -> None:
    from nbassets.spec import join_continued_lines

    line, body = join_continued_lines(
        "orders --key id \\", "    --check 'unique(\"id\")' \\\n  --no-preview\nx = 1\nx"
    )
    assert line == "orders --key id  --check 'unique(\"id\")'  --no-preview"
    assert body == "\n\nx = 1\nx"
    assert parse_asset_line(line).preview is False
    assert join_continued_lines("a", "b\\\nc") == ("a", "b\\\nc")


def test_an_option_whose_value_is_a_double_dash_is_refused_not_dropped() -> None:
    """argparse drops a ``--opt=--`` value silently (the check got a generated name instead)."""
    from nbassets.checks.cells import parse_check_line

    with pytest.raises(SpecError, match=r"--name=--: '--' cannot be an option's value"):
        parse_check_line("orders --name=--")
    with pytest.raises(SpecError, match=r"--desc=--: '--' cannot be an option's value"):
        parse_asset_line("orders --desc=--")
    assert parse_check_line("orders --name=--x").name == "--x"


def test_a_misspelled_option_is_named_with_the_nearest_one_and_the_usage_once() -> None:
    with pytest.raises(SpecError) as raised:
        parse_asset_line("x --chek \"not_null('id')\"")
    message = str(raised.value)
    assert message.startswith("%%asset: unrecognized arguments: --chek")
    assert "Did you mean --check?" in message
    assert message.count("Usage:") == 1 and "usage:" not in message
    assert "Usage: %%asset [--io {parquet,pickle,json}]" in message and "\n" not in message


def test_the_usage_and_help_list_the_options() -> None:
    with pytest.raises(SpecError) as raised:
        parse_asset_line("x --bogus")
    help_text = asset_parser().format_help()
    assert "--fresh 'max_age=DURATION'" in str(raised.value)
    assert "--check" in help_text and "--sql" in help_text and "--partition-key" in help_text
    assert "--fresh" in help_text and "s, m, h or d" in help_text
    with pytest.raises(SpecError) as raised:
        parse_asset_line("x --fres max_age=1d")
    assert "Did you mean --fresh?" in str(raised.value)


@pytest.mark.parametrize(
    ("text", "seconds", "canonical"),
    [
        ("max_age=1d", 86400, "max_age=1d"),
        ("max_age=90m", 5400, "max_age=90m"),
        (" max_age = 1.5h ", 5400, "max_age=1.5h"),
        ("max_age=30s", 30, "max_age=30s"),
    ],
)
def test_fresh_is_parsed_and_does_not_change_the_code_version(
    text: str, seconds: int, canonical: str
) -> None:
    spec = parse_asset_line(f"orders --fresh '{text}'")
    assert spec.fresh is not None and spec.fresh.max_age.total_seconds() == seconds
    assert str(spec.fresh) == canonical
    assert spec.output_options() == parse_asset_line("orders").output_options() == {}
    assert parse_asset_line("orders").fresh is None


def test_check_lines_suggest_the_nearest_option() -> None:
    with pytest.raises(SpecError) as raised:
        parse_check_line("orders --severty warn")
    message = str(raised.value)
    assert "Did you mean --severity?" in message
    assert message.count("Usage:") == 1 and "Usage: %%check [--name CHECK]" in message


def test_a_fresh_asset_has_the_code_version_of_the_same_asset_without_it() -> None:
    body = "pd.DataFrame({'a': [1]})"
    fresh = define(parse_asset_line("orders --fresh max_age=1d"), body, [])
    plain = define(parse_asset_line("orders"), body, [])
    assert fresh.code_version == plain.code_version
    other = define(parse_asset_line("orders --io pickle"), body, [])
    assert other.code_version != plain.code_version  # an output option does change it
