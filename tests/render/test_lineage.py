"""Tests for nbassets.render.lineage: the SVG lineage drawing, its text fallback and focusing."""

from __future__ import annotations

import random
import re
import time
import xml.etree.ElementTree as ET
from itertools import pairwise

import pytest

from nbassets.errors import NbAssetsError
from nbassets.render.lineage import Lineage, LineageEdge, LineageNode, focus

SVG = "{http://www.w3.org/2000/svg}"

# A 30-asset warehouse: 5 sources, staging chains, fan-out (raw_events), fan-in (orders_enriched).
DEPS: dict[str, list[str]] = {
    "raw_orders": [],
    "raw_customers": [],
    "raw_products": [],
    "raw_payments": [],
    "raw_events": [],
    "orders": ["raw_orders"],
    "customers": ["raw_customers"],
    "products": ["raw_products"],
    "payments": ["raw_payments"],
    "sessions": ["raw_events"],
    "page_views": ["raw_events"],
    "order_items": ["orders", "products"],
    "orders_enriched": ["orders", "customers", "payments"],
    "customer_sessions": ["customers", "sessions"],
    "product_views": ["products", "page_views"],
    "refunds": ["payments"],
    "daily_orders": ["orders_enriched"],
    "customer_ltv": ["orders_enriched", "refunds"],
    "funnel": ["sessions", "page_views", "orders_enriched"],
    "revenue_daily": ["daily_orders", "refunds"],
    "revenue_by_product": ["order_items", "refunds"],
    "churn_features": ["customer_ltv", "customer_sessions"],
    "conversion": ["funnel", "product_views"],
    "top_products": ["revenue_by_product", "product_views"],
    "cohort_retention": ["customer_ltv", "daily_orders"],
    "churn_model": ["churn_features"],
    "exec_dashboard": ["revenue_daily", "conversion", "cohort_retention"],
    "churn_scores": ["churn_model", "customers"],
    "product_report": ["top_products"],
    "weekly_email": ["exec_dashboard"],
}
STATUS = {
    "orders_enriched": ("failed", "failed: KeyError 'amount'"),
    "funnel": ("check-failed", "check-failed: no_null_ids"),
    "churn_model": ("missing", ""),
    "daily_orders": ("stale", "stale: upstream 'orders_enriched' is failed"),
    "customer_ltv": ("stale", "stale: code changed"),
}


def warehouse() -> tuple[list[LineageNode], list[LineageEdge]]:
    """The 30-asset graph: sources read from prod, the rest from the sandbox or this kernel."""
    nodes = [LineageNode(key, *STATUS.get(key, ("fresh", ""))) for key in DEPS]
    edges = [
        LineageEdge(up, key, "prod" if up.startswith("raw_") else ("sandbox", "kernel")[i % 2])
        for key, ups in DEPS.items()
        for i, up in enumerate(ups)
    ]
    return nodes, edges


def random_graph(n: int, m: int, seed: int = 7) -> tuple[list[LineageNode], list[LineageEdge]]:
    """``n`` nodes and ``m`` distinct edges, each from an earlier node to a later one."""
    rng = random.Random(seed)
    statuses = ["fresh", "stale", "missing", "failed", "check-failed"]
    nodes = [LineageNode(f"asset_{i:03d}", rng.choice(statuses)) for i in range(n)]
    pairs: set[tuple[int, int]] = set()
    while len(pairs) < m:
        down = rng.randrange(1, n)
        pairs.add((rng.randrange(max(0, down - 40), down), down))
    edges = [LineageEdge(nodes[u].key, nodes[v].key, "prod") for u, v in sorted(pairs)]
    return nodes, edges


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    assert {"width", "height", "viewBox"} <= set(root.attrib)
    return root


def texts(root: ET.Element) -> list[str]:
    return [el.text or "" for el in root.iter(f"{SVG}text")]


def edge_paths(root: ET.Element) -> list[ET.Element]:
    return [
        p for g in root.iter(f"{SVG}g") if g.get("class") == "edges" for p in g.iter(f"{SVG}path")
    ]


def node_group(root: ET.Element, key: str) -> ET.Element:
    [group] = [
        g
        for g in root.iter(f"{SVG}g")
        if "node" in (g.get("class") or "").split() and g.find(f"{SVG}text") is not None
        if g.find(f"{SVG}text").text == key  # type: ignore[union-attr]
    ]
    return group


def test_svg_of_30_asset_graph_is_valid_xml_and_names_every_asset() -> None:
    nodes, edges = warehouse()
    assert len(nodes) == 30
    root = parse(Lineage(nodes, edges).to_svg())

    assert set(DEPS) <= set(texts(root))
    paths = edge_paths(root)
    assert len(paths) == len(edges)
    assert all(p.get("marker-end", "").startswith("url(#") for p in paths)
    assert root.find(f"{SVG}script") is None
    assert "href" not in ET.tostring(root, encoding="unicode")


def test_nodes_are_coloured_by_status() -> None:
    svg = Lineage(*warehouse()).to_svg()
    root = parse(svg)

    assert "failed" in node_group(root, "orders_enriched").get("class", "").split()
    assert "check-failed" in node_group(root, "funnel").get("class", "").split()
    assert "fresh" in node_group(root, "orders").get("class", "").split()
    assert re.search(r"\.failed rect\{stroke:#cf222e", svg)
    assert re.search(r"\.fresh rect\{stroke:#1a7f37", svg)
    assert re.search(r"\.stale rect\{stroke:#9a6700", svg)
    assert re.search(r"\.missing rect\{stroke:#57606a", svg)
    legend = [g for g in root.iter(f"{SVG}g") if g.get("class") == "legend"]
    assert {"fresh", "stale", "missing", "failed", "check-failed"} <= set(texts(legend[0]))


def test_labels_are_second_lines_and_tooltips() -> None:
    root = parse(Lineage(*warehouse()).to_svg())

    group = node_group(root, "customer_ltv")
    assert group.findtext(f"{SVG}title") == "customer_ltv: stale: code changed"
    assert "stale: code changed" in texts(group)


def test_nodes_do_not_overlap() -> None:
    root = parse(Lineage(*warehouse()).to_svg())
    boxes = [
        tuple(float(r.get(a, 0)) for a in ("x", "y", "width", "height"))
        for g in root.iter(f"{SVG}g")
        if g.get("class") == "nodes"
        for r in g.iter(f"{SVG}rect")
    ]
    assert len(boxes) == 30
    for i, (x1, y1, w1, h1) in enumerate(boxes):
        for x2, y2, w2, h2 in boxes[i + 1 :]:
            assert x1 + w1 <= x2 or x2 + w2 <= x1 or y1 + h1 <= y2 or y2 + h2 <= y1


def test_text_lists_every_edge_with_its_origin_in_layer_order() -> None:
    nodes, edges = warehouse()
    lines = Lineage(nodes, edges).to_text().splitlines()

    assert sorted(lines) == sorted(f"{e.upstream} -> {e.downstream}  ({e.origin})" for e in edges)
    assert "raw_orders -> orders  (prod)" in lines
    assert lines.index("orders -> orders_enriched  (sandbox)") < lines.index(
        "orders_enriched -> daily_orders  (sandbox)"
    )
    assert lines[-1] == "exec_dashboard -> weekly_email  (sandbox)"


def test_text_lists_isolated_assets_and_edges_without_origin() -> None:
    nodes = [LineageNode("a", "fresh"), LineageNode("b", "fresh"), LineageNode("alone", "missing")]
    text = Lineage(nodes, [LineageEdge("a", "b")]).to_text()

    assert text == "a -> b\nalone"


def test_focus_keeps_exactly_ancestors_and_descendants() -> None:
    nodes, edges = warehouse()
    kept_nodes, kept_edges = focus(nodes, edges, "customer_ltv")

    ancestors = {"orders_enriched", "refunds", "orders", "customers", "payments"}
    ancestors |= {"raw_orders", "raw_customers", "raw_payments"}
    descendants = {"churn_features", "churn_model", "churn_scores", "cohort_retention"}
    descendants |= {"exec_dashboard", "weekly_email"}
    keep = {"customer_ltv"} | ancestors | descendants
    assert [n.key for n in kept_nodes] == [n.key for n in nodes if n.key in keep]
    assert kept_edges == [e for e in edges if e.upstream in keep and e.downstream in keep]


def test_focused_drawing_highlights_the_focus() -> None:
    lineage = Lineage(*warehouse(), focus_key="refunds")
    root = parse(lineage.to_svg())

    assert "focus" in node_group(root, "refunds").get("class", "").split()
    assert "focus" not in node_group(root, "payments").get("class", "").split()
    assert "sessions" not in texts(root)
    assert "payments -> refunds  (sandbox)" in lineage.to_text()


def test_unknown_focus_key_suggests_a_name() -> None:
    with pytest.raises(NbAssetsError, match="'customer_ltvv'.*Did you mean 'customer_ltv'"):
        Lineage(*warehouse(), focus_key="customer_ltvv")


def test_empty_graph() -> None:
    lineage = Lineage([], [])

    assert "no assets" in texts(parse(lineage.to_svg()))
    assert lineage.to_text() == "no assets"


def test_single_node() -> None:
    root = parse(Lineage([LineageNode("orders", "fresh")], []).to_svg())

    assert "orders" in texts(root)
    assert edge_paths(root) == []


def test_nodes_named_only_by_edges_are_drawn_as_missing() -> None:
    root = parse(Lineage([LineageNode("b", "fresh")], [LineageEdge("a", "b")]).to_svg())

    assert "missing" in node_group(root, "a").get("class", "").split()


def test_cycles_are_drawn_without_hanging() -> None:
    nodes = [LineageNode(k, "fresh") for k in "abcd"]
    edges = [LineageEdge(u, v) for u, v in ("ab", "bc", "ca", "dd", "cd")]
    lineage = Lineage(nodes, edges)
    root = parse(lineage.to_svg())

    assert len(edge_paths(root)) == len(edges)
    assert len(lineage.to_text().splitlines()) == len(edges)


def test_output_is_deterministic() -> None:
    nodes, edges = warehouse()
    first, second = Lineage(nodes, edges), Lineage(list(nodes), list(edges))

    assert first.to_svg() == second.to_svg()
    assert first.to_text() == second.to_text()


def test_mimebundle() -> None:
    lineage = Lineage(*warehouse())

    bundle = lineage._repr_mimebundle_()
    assert set(bundle) == {"image/svg+xml", "text/plain"}
    assert bundle["image/svg+xml"] == lineage.to_svg()
    assert bundle["text/plain"] == lineage.to_text()
    assert set(lineage._repr_mimebundle_(exclude={"image/svg+xml"})) == {"text/plain"}


def test_300_nodes_600_edges_is_fast() -> None:
    nodes, edges = random_graph(300, 600)
    started = time.perf_counter()
    lineage = Lineage(nodes, edges)
    svg, text = lineage.to_svg(), lineage.to_text()
    elapsed = time.perf_counter() - started

    assert elapsed < 1.0, f"{elapsed * 1000:.0f} ms"
    assert len(edge_paths(parse(svg))) == 600
    assert len([line for line in text.splitlines() if " -> " in line]) == 600


def centre_x(root: ET.Element, key: str) -> float:
    rect = node_group(root, key).find(f"{SVG}rect")
    assert rect is not None
    return float(rect.get("x", "")) + float(rect.get("width", "")) / 2


def test_layers_run_left_to_right_and_sources_sit_next_to_their_reader() -> None:
    nodes = [LineageNode(k, "fresh") for k in ("a", "b", "c", "d", "calendar")]
    edges = [LineageEdge(u, v) for u, v in (("a", "b"), ("b", "c"), ("c", "d"), ("calendar", "d"))]
    root = parse(Lineage(nodes, edges).to_svg())

    xs = [centre_x(root, key) for key in "abcd"]
    assert xs == sorted(xs)
    assert centre_x(root, "calendar") == centre_x(root, "c")


def test_long_edges_from_a_hub_are_one_path_each() -> None:
    keys = [f"step_{i}" for i in range(12)]
    edges = [LineageEdge(a, b) for a, b in pairwise(keys)]
    edges += [LineageEdge("step_0", key, "prod") for key in keys[2:]]
    root = parse(Lineage([LineageNode(k, "fresh") for k in keys], edges).to_svg())

    assert len(edge_paths(root)) == len(edges)
    assert texts(root).count("prod") == len(keys) - 2
