"""``nbassets materialize --dry-run`` (issue 13): what would be built and why, nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from helpers import tree_digest, write_notebook, write_prod
from test_rollback import CELLS, cli  # the same two-asset shop and CLI runner


@pytest.fixture
def shop(project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("NBASSETS_ENV", raising=False)
    (project / "pyproject.toml").write_text('[tool.nbassets]\nprod = "warehouse"\n')
    write_prod(project, "raw_orders", pd.DataFrame({"id": [1, 2], "amount": [4.0, -1.0]}))
    write_notebook(project / "notebooks" / "shop.ipynb", CELLS)
    cli(project, "export", "notebooks/shop.ipynb")
    return project


def test_a_dry_run_lists_the_selection_in_build_order_and_writes_nothing(shop: Path) -> None:
    before = tree_digest(shop)

    out = cli(shop, "materialize", "--env", "ci", "--dry-run")

    lines = out.splitlines()
    assert lines[0] == "would build 2 asset(s) in ci (dry run: nothing built or written):"
    assert lines[1].split() == ["orders", "missing", "never", "built"]
    assert lines[2].split() == ["summary", "missing", "never", "built"]
    assert tree_digest(shop) == before and not (shop / ".nbassets").exists()


def test_a_dry_run_of_stale_says_why_each_would_be_rebuilt(shop: Path) -> None:
    cli(shop, "materialize", "--env", "ci", "--no-progress")
    assert cli(shop, "materialize", "--env", "ci", "--dry-run", "--select", "stale").startswith(
        "would build 0 asset(s) in ci"
    )
    write_notebook(
        shop / "notebooks" / "shop.ipynb", {**CELLS, "c1": CELLS["c1"].replace("0", "1")}
    )
    cli(shop, "export", "notebooks/shop.ipynb")

    out = cli(shop, "materialize", "--env", "ci", "--dry-run", "--select", "stale", "--json")

    data = json.loads(out)
    assert data["env"] == "ci" and data["dry_run"] is True
    assert data["would_build"] == [
        {"key": "orders", "status": "stale", "reason": "code changed"},
        {"key": "summary", "status": "stale", "reason": "upstream 'orders' is stale"},
    ]


def test_a_dry_run_of_production_needs_no_clean_tree(shop: Path) -> None:
    """Nothing is written, so the production policy has nothing to refuse (no git here)."""
    before = tree_digest(shop)
    assert "would build 2 asset(s) in prod" in cli(shop, "materialize", "--dry-run")
    assert "git" in cli(shop, "materialize", code=1)  # the real build is refused
    assert tree_digest(shop) == before
