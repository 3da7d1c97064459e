"""Tests of ``nbassets.text``: the one truncation rule, bounded name lists and counted nouns."""

from __future__ import annotations

import pytest

from nbassets.text import MAX_TEXT, name_list, plural, shorten


@pytest.mark.parametrize(
    ("text", "limit", "shown"),
    [
        ("", 5, ""),
        ("abcde", 5, "abcde"),
        ("abcdef", 5, "abcd…"),
        ("x" * MAX_TEXT, MAX_TEXT, "x" * MAX_TEXT),
    ],
)
def test_shorten_keeps_short_text_and_ends_long_text_in_an_ellipsis(
    text: str, limit: int, shown: str
) -> None:
    assert shorten(text, limit) == shown
    assert len(shorten(text, limit)) <= limit


def test_shorten_defaults_to_max_text() -> None:
    assert shorten("y" * 500) == "y" * (MAX_TEXT - 1) + "…"


def test_name_list_bounds_the_count_and_each_name() -> None:
    assert name_list(["a", "b", "c"], 3) == "a, b, c"
    assert name_list(["a", "b", "c", "d", "e"], 2) == "a, b, ... (+3 more)"
    assert name_list([str(i) for i in range(1_002)], 1) == "0, ... (+1,001 more)"
    assert name_list(["w" * 100], 3) == "w" * (MAX_TEXT - 1) + "…"
    assert name_list(["abcdef"], 3, each=4) == "abc…"
    assert name_list([], 3) == ""


@pytest.mark.parametrize(
    ("count", "text"), [(0, "0 rows"), (1, "1 row"), (2, "2 rows"), (12_345, "12,345 rows")]
)
def test_plural(count: int, text: str) -> None:
    assert plural(count, "row") == text


def test_core_messages_use_the_shared_rules() -> None:
    """A falsy check value too long to show is shortened by the shared rule."""
    from nbassets.checks.cells import read_outcome

    class Falsy:
        def __bool__(self) -> bool:
            return False

        def __repr__(self) -> str:
            return "z" * 200

    passed, _, _, message = read_outcome(Falsy())
    assert not passed
    assert message == "the check's value is " + "z" * (MAX_TEXT - 1) + "…"
