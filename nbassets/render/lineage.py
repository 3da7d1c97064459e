"""The dependency graph drawn as SVG in pure Python: status colours, input origins.

``Lineage(nodes, edges)`` lays the assets out left to right (``layout.py``) once, as a
:meth:`Lineage.geometry` of boxes, paths and labels; the inline SVG (``%lineage``) and the
JupyterLab panel (the server sends the geometry) both draw that one layout. The SVG's only
moving parts are text, rectangles and Bézier paths; it scales to its container (``viewBox``).
Every text is escaped; the same input gives the same bytes.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from functools import cached_property
from itertools import pairwise
from typing import Any
from xml.sax.saxutils import escape

from ..environments import PROD
from ..errors import DependencyError, did_you_mean
from ..graph import AssetGraph
from ..model import LineageEdge, LineageNode
from ..status import CHECK_FAILED, MISSING
from ..text import shorten
from .layout import Box, Layout, Route
from .palette import BACKGROUND, LINE, MUTED, STATUS_COLOURS, STATUS_FILLS, TEXT

_OTHER = "other"

_KEY_FONT, _SUB_FONT, _CHAR = 13, 10, 0.6  # px; a monospace glyph is about 0.6 em wide
_FONTS = {"name": _KEY_FONT, "sub": _SUB_FONT, "origin": _SUB_FONT}
_PAD, _MARGIN, _LEGEND_H = 10.0, 16.0, 28.0
_MAX_LABEL, _MAX_ORIGIN = 40, 16
_INVALID_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def focus(
    nodes: Iterable[LineageNode], edges: Iterable[LineageEdge], key: str
) -> tuple[list[LineageNode], list[LineageEdge]]:
    """``key`` with everything upstream and downstream of it, and the edges among them."""
    all_nodes, all_edges = _normalize(nodes, edges)
    if key not in {node.key for node in all_nodes}:
        known = [node.key for node in all_nodes]
        raise DependencyError(
            f"asset {key!r} is not in the lineage graph, so it cannot be focused on."
            f"{did_you_mean(key, known)} Call %lineage without a name to see every asset."
        )
    deps: dict[str, list[str]] = {node.key: [] for node in all_nodes}
    for edge in all_edges:
        deps.setdefault(edge.downstream, []).append(edge.upstream)
    graph = AssetGraph(deps)
    keep = {key} | graph.ancestors(key) | graph.descendants(key)
    return (
        [node for node in all_nodes if node.key in keep],
        [e for e in all_edges if e.upstream in keep and e.downstream in keep],
    )


class Lineage:
    """The lineage drawing of some assets: ``image/svg+xml`` plus a ``text/plain`` edge list."""

    def __init__(
        self,
        nodes: Iterable[LineageNode],
        edges: Iterable[LineageEdge],
        focus_key: str | None = None,
    ) -> None:
        if focus_key is not None:
            nodes, edges = focus(nodes, edges, focus_key)
        self.nodes, self.edges = _normalize(nodes, edges)
        self.focus_key = focus_key

    def to_text(self) -> str:
        """One ``up -> down  (origin)`` line per edge in layer order, then the isolated assets."""
        if not self.nodes:
            return "no assets"
        layout, index = self._layout, self._index
        rank = {key: (layout.layer[i], layout.slot[i]) for key, i in index.items()}
        edges = sorted(self.edges, key=lambda e: (*rank[e.upstream], *rank[e.downstream]))
        lines = [
            f"{e.upstream} -> {e.downstream}" + (f"  ({e.origin})" if e.origin else "")
            for e in edges
        ]
        linked = {e.upstream for e in edges} | {e.downstream for e in edges}
        lines += sorted((n.key for n in self.nodes if n.key not in linked), key=rank.__getitem__)
        return "\n".join(lines)

    def geometry(self) -> dict[str, Any]:
        """The laid-out graph as JSON, in the SVG's user units (no legend): what the panel draws.

        ``nodes``: ``key``, ``status``, ``x``/``y`` (top left), ``width``, ``height``, ``title``
        (the full name and label, for hover) and ``labels``; ``edges``: ``upstream``,
        ``downstream``, ``origin``, ``path`` (SVG path data), ``reverse`` (the arrow points
        at the path's start) and ``labels``. A label is ``text``, ``kind`` (``name``, ``sub``,
        ``origin``), ``x``/``y`` (its baseline's anchor point), ``size`` (px) and ``anchor``.
        """
        if not self.nodes:
            return {"width": 0, "height": 0, "nodes": [], "edges": []}
        layout = self._layout
        shift = (_MARGIN, _MARGIN)
        nodes = [_node_geometry(node, layout.box(i), shift) for i, node in enumerate(self.nodes)]
        edges = [
            _edge_geometry(edge, route, layout.box(self._index[edge.upstream]), shift)
            for edge, route in zip(self.edges, layout.routes, strict=True)
        ]
        _merge_shared_labels(edges)
        return {
            "width": _round(layout.width + 2 * _MARGIN),
            "height": _round(layout.height + 2 * _MARGIN),
            "nodes": nodes,
            "edges": edges,
        }

    def to_svg(self) -> str:
        """The drawing as a standalone SVG document (no scripts, no external references).

        It has its natural size in ``width``/``height`` and scales down with its ``viewBox``
        (the JupyterLab extension caps its image at the output's width).
        """
        if not self.nodes:
            return _empty_svg()
        geometry, uid = self.geometry(), self._uid
        legend = _legend_width(self._statuses(), self._has_prod()) + 2 * _MARGIN
        width, height = max(geometry["width"], legend), geometry["height"] + _LEGEND_H
        title = f"lineage of {self.focus_key}" if self.focus_key else "asset lineage"
        parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" id="{uid}" class="nbassets-lineage" '
            f'width="{_num(width)}" height="{_num(height)}" '
            f'viewBox="0 0 {_num(width)} {_num(height)}" '
            'font-family="ui-monospace, SFMono-Regular, Menlo, Consolas, monospace">',
            f"<title>{_text(title)}</title>",
            _defs(uid),
            _legend(self._statuses(), self._has_prod(), uid),
            f'<g transform="translate(0,{_num(_LEGEND_H)})">',
            '<g class="edges">',
            *(_svg_edge(edge, uid) for edge in geometry["edges"]),
            '</g><g class="nodes">',
            *(_svg_node(node, node["key"] == self.focus_key) for node in geometry["nodes"]),
            "</g></g></svg>",
        ]
        return "\n".join(parts) + "\n"

    def _repr_mimebundle_(
        self, include: Iterable[str] | None = None, exclude: Iterable[str] | None = None
    ) -> dict[str, str]:
        """What IPython displays: the SVG, with the edge list as the plain-text fallback."""
        makers = {"image/svg+xml": self.to_svg, "text/plain": self.to_text}
        wanted = [
            m for m in makers if (include is None or m in include) and m not in (exclude or ())
        ]
        return {mime: makers[mime]() for mime in wanted}

    @cached_property
    def _index(self) -> dict[str, int]:
        return {node.key: i for i, node in enumerate(self.nodes)}

    @cached_property
    def _layout(self) -> Layout:
        pairs = [(self._index[e.upstream], self._index[e.downstream]) for e in self.edges]
        both = {(e.upstream, e.downstream) for e in self.edges if e.origin}
        labels = [  # two edges of one route share a label as wide as _MAX_ORIGIN at most
            (_MAX_ORIGIN if (e.downstream, e.upstream) in both else len(_origin(e)))
            * _SUB_FONT
            * _CHAR
            for e in self.edges
        ]
        return Layout([_node_width(node) for node in self.nodes], pairs, labels)

    @cached_property
    def _uid(self) -> str:
        """An id derived from the content: deterministic, and distinct per graph on one page."""
        digest = hashlib.sha256(repr((self.nodes, self.edges, self.focus_key)).encode())
        return f"lineage-{digest.hexdigest()[:12]}"

    def _statuses(self) -> list[str]:
        present = {node.status for node in self.nodes}
        return [s for s in STATUS_COLOURS if s in present] + sorted(present - set(STATUS_COLOURS))

    def _has_prod(self) -> bool:
        return any(edge.origin == PROD for edge in self.edges)


# --- normalizing ------------------------------------------------------------------------------


def _normalize(
    nodes: Iterable[LineageNode], edges: Iterable[LineageEdge]
) -> tuple[list[LineageNode], list[LineageEdge]]:
    """First node per key, nodes only named by an edge added as missing, first edge per pair."""
    by_key: dict[str, LineageNode] = {}
    for node in nodes:
        by_key.setdefault(node.key, node)
    by_pair: dict[tuple[str, str], LineageEdge] = {}
    for edge in edges:
        by_pair.setdefault((edge.upstream, edge.downstream), edge)
        for key in (edge.upstream, edge.downstream):
            by_key.setdefault(key, LineageNode(key, MISSING, "not defined"))
    return list(by_key.values()), list(by_pair.values())


def _node_width(node: LineageNode) -> float:
    key = len(node.key) * _KEY_FONT * _CHAR
    sub = len(_subtitle(node)) * _SUB_FONT * _CHAR
    return round(max(key, sub, 40.0) + 2 * _PAD)


def _subtitle(node: LineageNode) -> str:
    return shorten(node.label or node.status, _MAX_LABEL)


def _status_class(status: str) -> str:
    return status if status in STATUS_COLOURS else _OTHER


def _node_geometry(node: LineageNode, box: Box, shift: tuple[float, float]) -> dict[str, Any]:
    cx, cy = box[0] + shift[0], box[1] + shift[1]
    width, height = box[2], box[3]
    return {
        "key": node.key,
        "status": node.status,
        "x": _round(cx - width / 2),
        "y": _round(cy - height / 2),
        "width": width,
        "height": height,
        "title": f"{node.key}: {node.label or node.status}",
        "labels": [
            _label(node.key, "name", cx, cy - 3, "middle"),
            _label(_subtitle(node), "sub", cx, cy + 12, "middle"),
        ],
    }


def _edge_geometry(
    edge: LineageEdge, route: Route, box: Box, shift: tuple[float, float]
) -> dict[str, Any]:
    """The edge's path (a loop over the box for an asset reading itself) and its origin label.

    The label sits where the path meets its right-hand node, at that node's own port for this
    edge (one port per neighbour), so two labels never share a place, whichever way it points.
    """
    points = [(x + shift[0], y + shift[1]) for x, y in route.points]
    labels = []
    if not points:
        path = _self_loop((box[0] + shift[0], box[1] + shift[1], box[2], box[3]))
    else:
        path = _path(points)
        if edge.origin:
            x, y = points[-1]
            labels.append(_label(_origin(edge), "origin", x - 10, y - 3, "end"))
    return {
        "upstream": edge.upstream,
        "downstream": edge.downstream,
        "origin": edge.origin,
        "path": path,
        "reverse": route.reverse,
        "labels": labels,
    }


def _merge_shared_labels(edges: list[dict[str, Any]]) -> None:
    """Two edges on one route (``a`` reads ``b`` and ``b`` reads ``a``) get one label there."""
    first: dict[tuple[float, float], dict[str, Any]] = {}
    for edge in edges:
        for label in list(edge["labels"]):
            shared = first.setdefault((label["x"], label["y"]), label)
            if shared is not label:
                edge["labels"].remove(label)
                texts = dict.fromkeys([*shared["text"].split(" / "), label["text"]])
                shared["text"] = shorten(" / ".join(texts), _MAX_ORIGIN)


def _origin(edge: LineageEdge) -> str:
    return shorten(edge.origin, _MAX_ORIGIN)


def _label(text: str, kind: str, x: float, y: float, anchor: str) -> dict[str, Any]:
    return {"text": text, "kind": kind, "x": _round(x), "y": _round(y), "size": _FONTS[kind],
            "anchor": anchor}  # fmt: skip


def _path(points: list[tuple[float, float]]) -> str:
    """A Bézier through the route's points: curves across gaps, straight through dummies."""
    d = [f"M{_num(points[0][0])},{_num(points[0][1])}"]
    for k, ((x0, y0), (x1, y1)) in enumerate(pairwise(points)):
        if k % 2:  # straight across the column of a dummy point
            d.append(f"L{_num(x1)},{_num(y1)}")
        else:
            bend = (x1 - x0) / 2
            d.append(
                f"C{_num(x0 + bend)},{_num(y0)} {_num(x1 - bend)},{_num(y1)} {_num(x1)},{_num(y1)}"
            )
    return " ".join(d)


def _self_loop(box: Box) -> str:
    """An asset that reads itself: a small loop over the top of its box."""
    cx, cy, width, height = box
    top, dx = cy - height / 2, min(width / 4, 30.0)
    return (
        f"M{_num(cx + dx)},{_num(top)} C{_num(cx + dx)},{_num(top - 14)} "
        f"{_num(cx - dx)},{_num(top - 14)} {_num(cx - dx)},{_num(top)}"
    )


def _svg_node(node: dict[str, Any], focused: bool) -> str:
    classes = f"node {_status_class(node['status'])}" + (" focus" if focused else "")
    return (
        f'<g class="{classes}"><title>{_text(node["title"])}</title>'
        f'<rect x="{_num(node["x"])}" y="{_num(node["y"])}" width="{_num(node["width"])}" '
        f'height="{_num(node["height"])}" rx="6"/>'
        + "".join(_svg_label(label) for label in node["labels"])
        + "</g>"
    )


def _svg_edge(edge: dict[str, Any], uid: str) -> str:
    """The path with its arrowhead at the downstream end, its title, then its origin label."""
    arrow = "marker-start" if edge["reverse"] else "marker-end"
    classes = "edge prod" if edge["origin"] == PROD else "edge"
    read = f" (read from {edge['origin']})" if edge["origin"] else ""
    title = f"{edge['upstream']} \u2192 {edge['downstream']}{read}"
    return (
        f'<path class="{classes}" d="{edge["path"]}" {arrow}="url(#{uid}-arrow)">'
        f"<title>{_text(title)}</title></path>"
        + "".join(_svg_label(label) for label in edge["labels"])
    )


def _svg_label(label: dict[str, Any]) -> str:
    kind = label["kind"]
    cls = "" if kind == "name" else f' class="{kind}"'
    return f'<text{cls} x="{_num(label["x"])}" y="{_num(label["y"])}">{_text(label["text"])}</text>'


def _defs(uid: str) -> str:
    """The arrowhead and a ``<style>`` scoped to this drawing (inline SVG styles leak)."""
    scope = f"#{uid}"
    rules = [
        f"{scope} text{{font-size:{_KEY_FONT}px;fill:{TEXT};text-anchor:middle}}",
        f"{scope} .sub{{font-size:{_SUB_FONT}px;fill:{MUTED}}}",
        f"{scope} .origin{{font-size:{_SUB_FONT}px;fill:{MUTED};paint-order:stroke;"
        f"stroke:{BACKGROUND};stroke-width:3px;text-anchor:end}}",
        f"{scope} .legend text{{font-size:11px;text-anchor:start}}",
        f"{scope} .node rect{{stroke-width:1.5}}",
        f"{scope} .focus rect{{stroke-width:3.5}}",
        f"{scope} .edge{{fill:none;stroke:{LINE};stroke-width:1.3}}",
        f"{scope} .prod{{stroke-dasharray:5 3}}",
        *(
            f"{scope} .{status} rect{{stroke:{colour};fill:{STATUS_FILLS[status]}}}"
            for status, colour in STATUS_COLOURS.items()
        ),
        f"{scope} .{CHECK_FAILED} rect{{stroke-dasharray:4 2}}",
        f"{scope} .{_OTHER} rect{{stroke:{LINE};fill:{BACKGROUND}}}",
    ]
    return (
        f'<defs><marker id="{uid}-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        f'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{LINE}"/>'
        f"</marker><style>{chr(10).join(rules)}</style></defs>"
    )


def _legend(statuses: list[str], has_prod: bool, uid: str) -> str:
    """A row of the statuses present (and the prod edge style), above the graph."""
    parts, x, y = ['<g class="legend">'], _MARGIN, _MARGIN
    for status in statuses:
        parts.append(
            f'<g class="node {_status_class(status)}"><rect x="{_num(x)}" y="{_num(y)}" '
            f'width="14" height="14" rx="3"/><text x="{_num(x + 20)}" y="{_num(y + 11)}">'
            f"{_text(shorten(status, _MAX_ORIGIN))}</text></g>"
        )
        x += _legend_item_width(status)
    if has_prod:
        parts.append(
            f'<path class="edge prod" d="M{_num(x)},{_num(y + 7)} h28" '
            f'marker-end="url(#{uid}-arrow)"/><text x="{_num(x + 36)}" y="{_num(y + 11)}">'
            "read from prod</text>"
        )
    parts.append("</g>")
    return "".join(parts)


def _legend_item_width(status: str) -> float:
    return 20 + len(shorten(status, _MAX_ORIGIN)) * 11 * _CHAR + 18


def _legend_width(statuses: list[str], has_prod: bool) -> float:
    width = sum(_legend_item_width(s) for s in statuses)
    return width + (36 + 14 * 11 * _CHAR if has_prod else 0)


def _empty_svg() -> str:
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="160" height="40" viewBox="0 0 160 40">'
        '<text x="80" y="24" text-anchor="middle" font-family="monospace" font-size="13" '
        f'fill="{MUTED}">no assets</text></svg>\n'
    )


def _text(value: str) -> str:
    """``value`` safe as XML character data: escaped, and characters XML forbids replaced."""
    return escape(_INVALID_XML.sub("\ufffd", value))


def _round(value: float) -> float:
    """A coordinate as JSON carries it: at most one decimal, like the SVG's."""
    return round(value, 1) + 0.0


def _num(value: float) -> str:
    """A coordinate with at most one decimal, the same bytes every time."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text
