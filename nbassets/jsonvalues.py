"""JSON-ready values: the one conversion of Python, numpy and database values into what JSON holds.

Check samples (stored in the catalog), diff results and every ``--json`` answer of the CLI pass
through :func:`jsonable`, so they agree on how a date, a Decimal, bytes or ``NaN`` is written,
and what they write is strict JSON (``json.dumps(..., allow_nan=False)`` accepts it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, is_dataclass
from typing import Any


def jsonable(value: Any) -> Any:
    """``value`` as JSON can hold it, recursively.

    ``None``, booleans, integers, text and finite floats stay as they are; mappings become
    objects with text keys; lists and tuples become arrays, sets sorted arrays; dataclasses
    objects of their fields; numpy scalars their Python value; bytes hex text; ``NaN`` and
    infinities, dates, Decimals, paths and anything else their ``str``.
    """
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, set | frozenset):
        items = [jsonable(v) for v in value]
        try:
            return sorted(items)
        except TypeError:  # mixed types
            return sorted(items, key=repr)
    if is_dataclass(value) and not isinstance(value, type):
        return jsonable(asdict(value))
    if isinstance(value, bytes | bytearray):
        return value.hex()
    item = getattr(value, "item", None)  # numpy scalars (and one-element arrays)
    if callable(item):
        try:
            plain = item()
        except (TypeError, ValueError):  # an array of more than one element
            plain = value
        if plain is not value:
            return jsonable(plain)
    return str(value)  # Decimal, dates and times, UUID, Path, ...
