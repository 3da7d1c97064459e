"""``GET lineage`` carries the layout ``%lineage`` draws, so the panel shows that one drawing.

Reuses the project and server of ``tests/test_server.py`` (its fixtures are imported).
"""

from __future__ import annotations

from pathlib import Path

from test_server import (  # noqa: F401  (fixtures)
    NOTEBOOK,
    Fetch,
    jp_server_config,
    payload,
    root,
)

from nbassets.model import LineageEdge, LineageNode
from nbassets.render.lineage import Lineage

pytest_plugins = ("pytest_jupyter.jupyter_server",)


async def test_lineage_carries_the_layout_of_percent_lineage(jp_fetch: Fetch, root: Path) -> None:  # noqa: F811
    data = payload(await jp_fetch("nbassets", "api", "lineage", params={"path": NOTEBOOK}))

    assert {"notebook", "env", "nodes", "edges"} <= set(data)  # the fields the panel had
    nodes = [LineageNode(n["key"], n["status"], n["label"]) for n in data["nodes"]]
    edges = [LineageEdge(e["upstream"], e["downstream"], e["origin"]) for e in data["edges"]]
    assert data["layout"] == Lineage(nodes, edges).geometry()  # the same code as %lineage
    placed = {node["key"]: node for node in data["layout"]["nodes"]}
    assert set(placed) == {n["key"] for n in data["nodes"]}
    assert placed["raw_orders"]["x"] < placed["orders"]["x"] < placed["summary"]["x"]
    assert placed["checked_orders"]["labels"][0]["text"] == "checked_orders"
    prod = [e for e in data["layout"]["edges"] if e["origin"] == "prod"]
    assert [label["text"] for e in prod for label in e["labels"]] == ["prod"]
