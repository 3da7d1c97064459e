"""Tests of ``nbassets.render.tables``: the one aligned plain-text table."""

from __future__ import annotations

from nbassets.render.tables import aligned, table


def test_columns_are_padded_to_their_widest_cell_two_spaces_apart() -> None:
    assert table(("asset", "rows"), [("orders", "10"), ("a", "1,000")]) == (
        "asset   rows\norders  10\na       1,000"
    )


def test_no_line_ends_in_blanks() -> None:
    lines = aligned([("key", "value"), ("long key", ""), ("", "")])
    assert lines == ["key       value", "long key", ""]


def test_right_aligned_columns_and_indent() -> None:
    lines = aligned([("name", "n"), ("a", "1"), ("b", "100")], indent="  ", right={1})
    assert lines == ["  name    n", "  a       1", "  b     100"]


def test_a_row_may_be_shorter_than_the_header() -> None:
    """The diff's sample header carries an extra "(+N more columns)" cell."""
    lines = aligned([("id", "name", "(+3 more columns)"), ("1", "x"), ("22", "yy")])
    assert lines == ["id  name  (+3 more columns)", "1   x", "22  yy"]


def test_no_rows() -> None:
    assert aligned([]) == []
    assert table(("a", "b"), []) == "a  b"
