"""Fixtures of the reliability suite: a production store for attacks to aim at, and a project.

Every attack in the suite asserts that production's whole tree is byte-identical afterwards
(``with unchanged(production): ...``, see ``helpers.tree_hash``). Tests whose setup builds
its own production (``test_policy.arrange``, ``write_prod``) wrap their attack the same way.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from helpers import RESOURCES, unchanged, write_notebook

from nbassets.store.stores import Store, now

_SANDBOX = "ci-x"


def _raw_orders(price: float) -> pd.DataFrame:
    return pd.DataFrame(
        {"id": [1.0, 2.0], "customer": ["ann", "bob"], "quantity": [1, 2], "price": [price, 2.5]}
    )


def _seed(env: str, root: Path, *, orders: bool = False, only_orders: bool = False) -> None:
    """Two versions each of ``raw_orders`` (a table) and ``settings`` (a pickled value), as an
    ingest script writes them, and with ``orders`` a built ``orders`` too."""
    store = Store(env, root, writable=True)
    try:
        for price in () if only_orders else (9.0, 10.0):
            for key, value, io in (
                ("raw_orders", _raw_orders(price), "parquet"),
                ("settings", {"currency": "EUR", "price": price}, "pickle"),
            ):
                store.write(key, value, io, code_version="external", started_at=now())
        if orders or only_orders:
            frame = pd.DataFrame({"id": [1, 2], "customer": ["ann", "bob"], "amount": [9.0, 5.0]})
            store.write("orders", frame, "parquet", code_version="seeded", started_at=now())
    finally:
        store.close()


@pytest.fixture
def production(project: Path) -> Path:
    """Production's folder, holding ``raw_orders`` and ``settings`` (two versions each)."""
    _seed("prod", project / "warehouse")
    return project / "warehouse"


@pytest.fixture
def shop(project: Path, production: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A project with an exported package ``pipelines`` (orders <- raw_orders, revenue,
    summary; ``tests/resources/dagster_pkg``), its notebook, production (with ``orders``) and
    the sandbox ``ci-x``, seeded alike; in deployed-image mode (no git, ``NBASSETS_COMMIT``),
    so ``--no-git`` lets a command write production."""
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    monkeypatch.setenv("NBASSETS_COMMIT", "4f2c1a9e0b7d")
    shutil.copytree(RESOURCES / "dagster_pkg", project / "pipelines")
    write_notebook(project / "notebooks" / "shop.ipynb", {"c1": "%%asset orders\nraw_orders"})
    _seed("prod", production, only_orders=True)
    _seed(_SANDBOX, project / ".nbassets" / _SANDBOX, orders=True)
    yield project
    for name in [n for n in sys.modules if n == "pipelines" or n.startswith("pipelines.")]:
        del sys.modules[name]


@pytest.fixture
def production_untouched(production: Path) -> Iterator[Path]:
    """Production (as above), asserted byte-identical when the test ends: for modules whose
    attacks aim elsewhere (``pytestmark = pytest.mark.usefixtures("production_untouched")``)."""
    with unchanged(production):
        yield production
