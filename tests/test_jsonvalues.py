"""Tests of ``nbassets.jsonvalues``: every value becomes strict JSON, the same way everywhere."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nbassets.jsonvalues import jsonable


@dataclass(frozen=True)
class Point:
    x: int
    tags: tuple[str, ...] = ()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        (True, True),
        (3, 3),
        (1.5, 1.5),
        ("text", "text"),
        (float("nan"), "nan"),
        (float("inf"), "inf"),
        (float("-inf"), "-inf"),
        (Decimal("1.50"), "1.50"),
        (dt.date(2026, 1, 2), "2026-01-02"),
        (dt.datetime(2026, 1, 2, 3, 4, 5), "2026-01-02 03:04:05"),
        (uuid.UUID(int=1), "00000000-0000-0000-0000-000000000001"),
        (Path("a/b.parquet"), "a/b.parquet"),
        (b"\x00\xff", "00ff"),
        ((1, "a"), [1, "a"]),
        ({"b", "a"}, ["a", "b"]),
        (frozenset({2, 1}), [1, 2]),
        ({1: {"k": (None,)}}, {"1": {"k": [None]}}),
        (Point(1, ("t",)), {"x": 1, "tags": ["t"]}),
    ],
)
def test_values_become_json(value: Any, expected: Any) -> None:
    assert jsonable(value) == expected


def test_numpy_scalars_become_python_values() -> None:
    converted = jsonable([np.int64(7), np.float64(2.5), np.bool_(True), np.float32("nan")])
    assert converted == [7, 2.5, True, "nan"]
    assert [type(v) for v in converted[::2]] == [int, bool]
    assert isinstance(converted[1], float)  # np.float64 is a float already
    assert json.dumps(converted, allow_nan=False) == '[7, 2.5, true, "nan"]'


def test_other_objects_become_their_text() -> None:
    assert jsonable(np.array([1, 2])) == "[1 2]"  # more than one element: no .item()
    assert jsonable({1, "a"}) in (["a", 1], [1, "a"])  # mixed types still sort


def test_the_result_is_strict_json() -> None:
    value = {"nan": float("nan"), "rows": [{"when": dt.date(2026, 1, 1), "raw": b"\x01"}]}
    text = json.dumps(jsonable(value), allow_nan=False)
    assert json.loads(text) == {"nan": "nan", "rows": [{"when": "2026-01-01", "raw": "01"}]}
