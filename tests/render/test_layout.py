"""The lineage layout read as a reader sees it: no two labels of a drawing overlap.

Every text of the SVG (asset names, their status lines, the origins on edges, the legend) is
turned into the box its glyphs cover (monospace: 0.6 em per character, 0.8 em above the
baseline, 0.25 em below), and no two boxes may intersect.
"""

from __future__ import annotations

import random
import xml.etree.ElementTree as ET
from itertools import combinations

import pytest
from render.test_lineage import SVG, random_graph, warehouse

from nbassets.render.lineage import Lineage, LineageEdge, LineageNode

Box = tuple[float, float, float, float]  # left, top, right, bottom
_SIZES = {"sub": 10.0, "origin": 10.0}  # px by class; node names 13, legend 11


def label_boxes(svg: str) -> list[tuple[str, Box]]:
    """Each text's content and the box its glyphs cover, in the SVG's own coordinates."""
    root = ET.fromstring(svg)
    parent = {child: el for el in root.iter() for child in el}
    boxes = []
    for text in root.iter(f"{SVG}text"):
        classes = (text.get("class") or "").split()
        in_legend = any(
            "legend" in (a.get("class") or "").split() for a in _ancestors(text, parent)
        )
        size = 11.0 if in_legend else next((_SIZES[c] for c in classes if c in _SIZES), 13.0)
        x, y = float(text.get("x", 0)), float(text.get("y", 0))
        dx, dy = _offset(text, parent)
        width = len(text.text or "") * size * 0.6
        anchor = "start" if in_legend or "back" in classes else "middle"
        anchor = "end" if "origin" in classes and "back" not in classes else anchor
        left = {"start": x, "middle": x - width / 2, "end": x - width}[anchor] + dx
        boxes.append(
            (text.text or "", (left, y + dy - 0.8 * size, left + width, y + dy + 0.25 * size))
        )
    return boxes


def _ancestors(el: ET.Element, parent: dict[ET.Element, ET.Element]) -> list[ET.Element]:
    out = []
    while el in parent:
        el = parent[el]
        out.append(el)
    return out


def _offset(el: ET.Element, parent: dict[ET.Element, ET.Element]) -> tuple[float, float]:
    dx = dy = 0.0
    for a in _ancestors(el, parent):
        transform = a.get("transform") or ""
        if transform.startswith("translate("):
            x, y = transform[len("translate(") : -1].split(",")
            dx, dy = dx + float(x), dy + float(y)
    return dx, dy


def overlaps(boxes: list[tuple[str, Box]]) -> list[tuple[str, str]]:
    return [
        (a, b)
        for (a, (l1, t1, r1, b1)), (b, (l2, t2, r2, b2)) in combinations(boxes, 2)
        if l1 < r2 and l2 < r1 and t1 < b2 and t2 < b1
    ]


def test_no_two_labels_of_the_30_asset_graph_overlap() -> None:
    boxes = label_boxes(Lineage(*warehouse()).to_svg())

    assert len(boxes) > 60  # 30 names, 30 status lines, the origins, the legend
    assert overlaps(boxes) == []


def test_no_two_labels_overlap_on_random_graphs_with_cycles_and_long_origins() -> None:
    for seed in range(20):
        rng = random.Random(seed)
        nodes, edges = random_graph(30, 45, seed)
        origins = ["prod", "sandbox", "kernel", "staging_team_b_long", ""]
        edges = [LineageEdge(e.upstream, e.downstream, rng.choice(origins)) for e in edges]
        edges.append(LineageEdge(edges[-1].downstream, edges[0].upstream, "kernel"))  # a cycle
        boxes = label_boxes(Lineage(nodes, edges).to_svg())
        assert overlaps(boxes) == [], seed


def test_two_assets_reading_each_other_share_one_label() -> None:
    nodes = [LineageNode("a", "fresh"), LineageNode("b", "fresh")]
    edges = [LineageEdge("a", "b", "sandbox"), LineageEdge("b", "a", "kernel")]
    svg = Lineage(nodes, edges).to_svg()

    assert overlaps(label_boxes(svg)) == []
    assert "sandbox / kernel" in [text for text, _ in label_boxes(svg)]


def test_many_readers_of_one_asset_with_long_origins() -> None:
    nodes = [LineageNode("hub", "fresh")] + [LineageNode(f"reader_{i}", "fresh") for i in range(8)]
    edges = [LineageEdge("hub", f"reader_{i}", "sandbox") for i in range(8)]
    edges += [LineageEdge(f"reader_{i}", "sink", "kernel") for i in range(8)]
    assert overlaps(label_boxes(Lineage(nodes, edges).to_svg())) == []


def test_the_geometry_is_what_the_svg_draws_and_names_are_whole() -> None:
    nodes, edges = warehouse()
    nodes.append(LineageNode("carrier_month_delays_by_origin_airport", "fresh"))
    edges.append(LineageEdge("orders", "carrier_month_delays_by_origin_airport", "sandbox"))
    lineage = Lineage(nodes, edges)
    geometry, svg = lineage.geometry(), lineage.to_svg()

    drawn = [(t, b) for t, b in label_boxes(svg) if t in {n["key"] for n in geometry["nodes"]}]
    names = [label for node in geometry["nodes"] for label in node["labels"]][::2]
    assert [label["text"] for label in names] == [node.key for node in nodes]  # never shortened
    assert len(drawn) == len(nodes)
    legend = 28.0  # the SVG draws the geometry under its legend row
    for (text, (left, _top, right, bottom)), label in zip(drawn, names, strict=True):
        assert text == label["text"]
        assert (left + right) / 2 == pytest.approx(label["x"])
        assert bottom - 0.25 * 13 == pytest.approx(label["y"] + legend)
    for node in geometry["nodes"]:
        assert node["title"].startswith(node["key"] + ": ")
        assert node["x"] >= 0 and node["x"] + node["width"] <= geometry["width"]
        assert node["y"] >= 0 and node["y"] + node["height"] <= geometry["height"]
        assert len(node["key"]) * 13 * 0.6 < node["width"]  # the name fits its box
    for edge in geometry["edges"]:
        assert edge["path"].startswith("M")
    assert [(e["upstream"], e["downstream"]) for e in geometry["edges"]] == [
        (e.upstream, e.downstream) for e in edges
    ]


def test_edges_have_titles_and_the_svg_scales() -> None:
    root = ET.fromstring(Lineage(*warehouse()).to_svg())

    titles = [p.findtext(f"{SVG}title") for p in root.iter(f"{SVG}path") if p.get("d")]
    assert "raw_orders \u2192 orders (read from prod)" in titles
    assert root.get("class") == "nbassets-lineage"  # the lab extension fits it to the output
    assert root.get("viewBox") == f"0 0 {root.get('width')} {root.get('height')}"


def test_origin_labels_stay_in_the_gaps_between_columns() -> None:
    for seed in range(10):
        rng = random.Random(seed)
        nodes, edges = random_graph(20, 30, seed)
        origins = ["prod", "a_rather_long_env_name", "kernel"]
        edges = [LineageEdge(e.upstream, e.downstream, rng.choice(origins)) for e in edges]
        geometry = Lineage(nodes, edges).geometry()
        rects = [
            (n["x"], n["y"], n["x"] + n["width"], n["y"] + n["height"]) for n in geometry["nodes"]
        ]
        for edge in geometry["edges"]:
            for label in edge["labels"]:
                right, width = label["x"], len(label["text"]) * label["size"] * 0.6
                box = (right - width, label["y"] - 8, right, label["y"] + 2.5)
                assert overlaps([("label", box)] + [("node", r) for r in rects]) == [], seed


def test_a_gap_is_as_wide_as_its_widest_label_needs() -> None:
    nodes = [LineageNode("a", "fresh"), LineageNode("b", "fresh")]

    def width(origin: str) -> float:
        return float(Lineage(nodes, [LineageEdge("a", "b", origin)]).geometry()["width"])

    assert width("") == width("prod") < width("sandbox") < width("an_env_named_long")
