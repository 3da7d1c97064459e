"""The pytest plugin: ``pytest --nbassets-env ENV`` runs every asset's data checks as items.

Without the flag it adds its options and nothing else: no item, no import of the core.
"""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("nbassets", "nbassets data checks")
    group.addoption(
        "--nbassets-env",
        metavar="ENV",
        default=None,
        help="run every asset's data checks against ENV's current versions, one item per check",
    )
