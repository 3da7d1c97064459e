"""``%%test`` cells: the line's grammar and the test's name."""

from __future__ import annotations

import pytest

from nbassets.errors import InvalidAssetKey, SpecError
from nbassets.notebookfile import classify
from nbassets.testcells import define_test, parse_test_line

BODY = "result = orders(raw_orders=df)\nassert len(result) == 2\n"


def test_a_named_test() -> None:
    cell = define_test("orders --name drops_cancelled", BODY)
    assert (cell.asset, cell.name, cell.body) == ("orders", "drops_cancelled", BODY)
    assert cell.function_name == "test_orders_drops_cancelled"
    assert "orders" in cell.analysis.free_names and "df" in cell.analysis.free_names


def test_an_unnamed_test_is_named_after_its_code_not_its_comments() -> None:
    cell = define_test("orders", BODY)
    assert cell.name.startswith("test_") and len(cell.name) == 11
    assert cell.function_name == f"test_orders_{cell.name[5:]}"
    assert define_test("orders", "# a comment\n" + BODY).name == cell.name
    assert define_test("orders", BODY.replace("2", "3")).name != cell.name


def test_a_tests_own_version_ignores_comments_not_code() -> None:
    named = define_test("orders --name t", BODY)
    assert len(named.version) == 16
    assert define_test("orders --name t", "# why\n" + BODY).version == named.version
    assert define_test("orders --name t", BODY.replace("2", "3")).version != named.version


@pytest.mark.parametrize(
    ("line", "error", "message"),
    [
        ("", SpecError, "needs the asset it tests"),
        ("Orders", InvalidAssetKey, "Orders"),
        ("orders --name 'two words'", SpecError, "a Python identifier"),
        ("orders --name 1st", SpecError, "a Python identifier"),
        ("orders --nmae x", SpecError, "--name"),
        ("orders 'open", SpecError, "check the quotes"),
    ],
)
def test_bad_lines_say_what_is_wrong(line: str, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        parse_test_line(line)


def test_the_notebook_reader_knows_the_asset_a_test_cell_tests() -> None:
    cell = classify("%%test orders --name t1\n" + BODY)
    assert (cell.kind, cell.key, cell.body) == ("test", "orders", BODY)
    assert classify("%%test Orders\n" + BODY).key is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("", r"%%test orders --name t is empty: make small inputs by hand, call orders\(upstream"),
        ("# only a comment\n", "is empty"),
        ("x = (\n", r"%%test orders --name t has a syntax error on line 1"),
    ],
)
def test_an_empty_or_broken_body_is_a_test_error(body: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        define_test("orders --name t", body)
