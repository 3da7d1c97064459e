"""The dependency graph drawn as SVG in pure Python: status colours, input origins.

``Lineage(nodes, edges)`` lays the assets out left to right (``layout.py``) and renders an SVG
whose only moving parts are text, rectangles and Bézier paths.
Every text is escaped; the same input gives the same bytes.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from functools import cached_property
from itertools import pairwise
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

    def to_svg(self) -> str:
        """The drawing as a standalone SVG document (no scripts, no external references)."""
        if not self.nodes:
            return _empty_svg()
        layout, uid = self._layout, self._uid
        top = _MARGIN + _LEGEND_H
        width = max(layout.width, _legend_width(self._statuses(), self._has_prod())) + 2 * _MARGIN
        height = layout.height + top + _MARGIN
        title = f"lineage of {self.focus_key}" if self.focus_key else "asset lineage"
        parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" id="{uid}" width="{_num(width)}" '
            f'height="{_num(height)}" viewBox="0 0 {_num(width)} {_num(height)}" '
            'font-family="ui-monospace, SFMono-Regular, Menlo, Consolas, monospace">',
            f"<title>{_text(title)}</title>",
            _defs(uid),
            _legend(self._statuses(), self._has_prod(), uid),
            f'<g transform="translate({_num(_MARGIN)},{_num(top)})">',
            '<g class="edges">',
            *self._edge_parts(),
            '</g><g class="nodes">',
            *self._node_parts(),
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
        return Layout([_node_width(node) for node in self.nodes], pairs)

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

    def _node_parts(self) -> list[str]:
        layout = self._layout
        return [
            _svg_node(node, layout.box(i), focused=node.key == self.focus_key)
            for i, node in enumerate(self.nodes)
        ]

    def _edge_parts(self) -> list[str]:
        layout, uid = self._layout, self._uid
        parts = []
        for edge, route in zip(self.edges, layout.routes, strict=True):
            if route.points:
                parts.append(_svg_edge(edge, route, uid))
            else:
                parts.append(_svg_self_loop(layout.box(self._index[edge.upstream]), uid))
        return parts


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


def _svg_node(node: LineageNode, box: Box, focused: bool) -> str:
    cx, cy, width, height = box
    classes = f"node {_status_class(node.status)}" + (" focus" if focused else "")
    tooltip = f"{node.key}: {node.label or node.status}"
    return (
        f'<g class="{classes}"><title>{_text(tooltip)}</title>'
        f'<rect x="{_num(cx - width / 2)}" y="{_num(cy - height / 2)}" width="{_num(width)}" '
        f'height="{_num(height)}" rx="6"/><text x="{_num(cx)}" y="{_num(cy - 3)}">'
        f'{_text(node.key)}</text><text class="sub" x="{_num(cx)}" y="{_num(cy + 12)}">'
        f"{_text(_subtitle(node))}</text></g>"
    )


def _svg_edge(edge: LineageEdge, route: Route, uid: str) -> str:
    """A Bézier through the route's points, the arrowhead and origin at the downstream end."""
    points = route.points
    d = [f"M{_num(points[0][0])},{_num(points[0][1])}"]
    for k, ((x0, y0), (x1, y1)) in enumerate(pairwise(points)):
        if k % 2:  # straight across the column of a dummy point
            d.append(f"L{_num(x1)},{_num(y1)}")
        else:
            bend = (x1 - x0) / 2
            d.append(
                f"C{_num(x0 + bend)},{_num(y0)} {_num(x1 - bend)},{_num(y1)} {_num(x1)},{_num(y1)}"
            )
    arrow = "marker-start" if route.reverse else "marker-end"
    classes = "edge prod" if edge.origin == PROD else "edge"
    path = f'<path class="{classes}" d="{" ".join(d)}" {arrow}="url(#{uid}-arrow)"/>'
    if not edge.origin:
        return path
    x, y = points[0] if route.reverse else points[-1]
    x, anchor = (x + 10, " back") if route.reverse else (x - 10, "")
    return (
        f'{path}<text class="origin{anchor}" x="{_num(x)}" y="{_num(y - 3)}">'
        f"{_text(shorten(edge.origin, _MAX_ORIGIN))}</text>"
    )


def _svg_self_loop(box: Box, uid: str) -> str:
    """An asset that reads itself: a small loop over the top of its box."""
    cx, cy, width, height = box
    top, dx = cy - height / 2, min(width / 4, 30.0)
    return (
        f'<path class="edge" d="M{_num(cx + dx)},{_num(top)} C{_num(cx + dx)},{_num(top - 14)} '
        f'{_num(cx - dx)},{_num(top - 14)} {_num(cx - dx)},{_num(top)}" '
        f'marker-end="url(#{uid}-arrow)"/>'
    )


def _defs(uid: str) -> str:
    """The arrowhead and a ``<style>`` scoped to this drawing (inline SVG styles leak)."""
    scope = f"#{uid}"
    rules = [
        f"{scope} text{{font-size:{_KEY_FONT}px;fill:{TEXT};text-anchor:middle}}",
        f"{scope} .sub{{font-size:{_SUB_FONT}px;fill:{MUTED}}}",
        f"{scope} .origin{{font-size:{_SUB_FONT}px;fill:{MUTED};paint-order:stroke;"
        f"stroke:{BACKGROUND};stroke-width:3px;text-anchor:end}}",
        f"{scope} .origin.back{{text-anchor:start}}",
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


def _num(value: float) -> str:
    """A coordinate with at most one decimal, the same bytes every time."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text
