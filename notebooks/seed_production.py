"""Seed the quick start's production store, as an ingest job and an earlier deploy would have.

Production gets two source tables (``raw_customers``, ``raw_orders``: a small synthetic shop,
generated offline) and the ``orders`` table an older version of the notebook built (it kept
refunded orders too), so the notebook has production inputs to read and something to diff.

Usage: python notebooks/seed_production.py [PROJECT_DIR]   (does nothing if already seeded)
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

import nbassets

REGIONS = ["north", "south", "east", "west"]


def raw_customers() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    return pd.DataFrame(
        {
            "customer_id": np.arange(1, 201),
            "region": rng.choice(REGIONS, 200),
            "signup_date": pd.Timestamp("2024-01-01")
            + pd.to_timedelta(rng.integers(0, 365, 200), unit="D"),
        }
    )


def raw_orders(n: int = 5_000) -> pd.DataFrame:
    rng = np.random.default_rng(42)
    return pd.DataFrame(
        {
            "order_id": np.arange(1, n + 1),
            "customer_id": rng.integers(1, 201, n),
            "order_date": pd.Timestamp("2024-06-01")
            + pd.to_timedelta(rng.integers(0, 90, n), unit="D"),
            "amount": rng.gamma(2.0, 30.0, n).round(2),
            "status": rng.choice(["paid", "paid", "paid", "refunded", "cancelled"], n),
        }
    )


def deployed_orders(raw: pd.DataFrame) -> pd.DataFrame:
    """What production's ``orders`` holds: built by older code that also kept refunds."""
    kept = raw[raw.status.isin(["paid", "refunded"]) & (raw.amount > 0)]
    return kept.drop(columns="status").reset_index(drop=True)


def seed(project_dir: Path) -> bool:
    """Write the production tables unless they are there already; True if it wrote."""
    project = nbassets.Project.find(project_dir)
    try:
        nbassets.load("raw_orders", project=project)
        return False
    except nbassets.NbAssetsError:
        pass
    raw = raw_orders()
    nbassets.save("raw_customers", raw_customers(), project=project, source="ingest: crm export")
    nbassets.save("raw_orders", raw, project=project, source="ingest: shop database")
    nbassets.save("orders", deployed_orders(raw), project=project, source="deploy of 2024-09-01")
    return True


if __name__ == "__main__":
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1]
    wrote = seed(folder)
    where = nbassets.Project.find(folder).prod_path
    print(f"production store {where}: {'seeded' if wrote else 'already seeded'}")
