"""Where each node and edge of a drawn graph goes: a layered layout, left to right.

Cycles are broken for placement only, layers follow longest paths, long edges run through
dummy points shared per source node, nodes are ordered by barycenter sweeps to cut crossings,
and vertical positions are placed by least squares with minimum separations.
"""

from __future__ import annotations

from bisect import bisect_right, insort
from dataclasses import dataclass
from itertools import accumulate, pairwise

_NODE_H = 40.0  # the least height of a node
_PORT, _COLUMN_GAP, _LABEL_ROOM = 12.0, 64.0, 24.0  # a gap holds its widest label plus room
_GAPS = {(True, True): 18.0, (True, False): 12.0, (False, True): 12.0, (False, False): 6.0}
_SWEEPS, _ROUNDS = 8, 4


Box = tuple[float, float, float, float]  # centre x, centre y, width, height


@dataclass(frozen=True)
class Route:
    """An edge's waypoints from the left column to the right one; ``reverse`` if drawn backwards."""

    points: list[tuple[float, float]]
    reverse: bool


class Layout:
    """Positions for nodes ``0..n-1`` (with ``widths``) joined by ``pairs`` (upstream, downstream).

    ``labels`` (per pair, default none) is the width of the label drawn where the edge meets its
    right-hand node; the gap before each column is as wide as its widest label needs.

    Items ``n..`` are dummy points that carry long edges through the layers they span, so they run
    between nodes rather than through them; the long edges of one node share its dummies (a trunk
    that branches off), which keeps hubs cheap. ``x``/``y`` are centres; a node is as tall as its
    busiest side needs, so that each neighbour meets it at its own port.
    """

    def __init__(
        self, widths: list[float], pairs: list[tuple[int, int]], labels: list[float] | None = None
    ) -> None:
        self.widths = widths
        dag = _break_cycles(len(widths), pairs)
        self.reversed = [edge != pair for edge, pair in zip(dag, pairs, strict=True)]
        self.layer = _longest_path_layers(len(widths), dag)
        self._trunks: dict[tuple[int, int], int] = {}
        self.chains = [self._chain(u, v) for u, v in dag]
        self.up, self.down = up, down = self._neighbours()
        self.heights = [
            max(_NODE_H, _PORT * max(len(up[i]), len(down[i]))) if i < len(widths) else 0.0
            for i in range(len(self.layer))
        ]
        columns: list[list[int]] = [[] for _ in range(max(self.layer) + 1)]
        for item, layer in enumerate(self.layer):
            columns[layer].append(item)
        columns = _order(columns, up, down)
        self.slot = [0] * len(self.layer)
        for column in columns:
            for position, item in enumerate(column):
                self.slot[item] = position
        self.height, self.y = _vertical(columns, up, down, self.heights)
        gaps = [_COLUMN_GAP] * len(columns)
        for (_, v), label in zip(dag, labels or [0.0] * len(dag), strict=True):
            gaps[self.layer[v]] = max(gaps[self.layer[v]], label + _LABEL_ROOM)
        self.width, self.left, self.right = _horizontal(columns, widths, gaps)
        self.x = [(self.left[layer] + self.right[layer]) / 2 for layer in self.layer]
        self.routes = self._routes()

    def box(self, node: int) -> Box:
        """A node's centre, width and height."""
        return self.x[node], self.y[node], self.widths[node], self.heights[node]

    def _chain(self, u: int, v: int) -> list[int]:
        """``u``, ``u``'s dummy in each layer strictly between, ``v``; ``[]`` for a self-loop."""
        if u == v:
            return []
        dummies = []
        for layer in range(self.layer[u] + 1, self.layer[v]):
            if (u, layer) not in self._trunks:
                self._trunks[u, layer] = len(self.layer)
                self.layer.append(layer)
            dummies.append(self._trunks[u, layer])
        return [u, *dummies, v]

    def _neighbours(self) -> tuple[list[list[int]], list[list[int]]]:
        """Each item's distinct neighbours in the column before and in the column after."""
        up: list[dict[int, None]] = [{} for _ in self.layer]
        down: list[dict[int, None]] = [{} for _ in self.layer]
        for chain in self.chains:
            for a, b in pairwise(chain):
                down[a][b] = None
                up[b][a] = None
        return [list(near) for near in up], [list(near) for near in down]

    def _routes(self) -> list[Route]:
        """Each edge's waypoints: out of a right port, through its dummies, into a left port."""
        leave, enter = self._ports()
        routes = []
        for k, chain in enumerate(self.chains):
            if not chain:
                routes.append(Route([], self.reversed[k]))
                continue
            first, last = chain[0], chain[-1]
            points = [(self.x[first] + self.widths[first] / 2, self.y[first] + leave[k])]
            for dummy in chain[1:-1]:
                layer, y = self.layer[dummy], self.y[dummy]
                points += [(self.left[layer], y), (self.right[layer], y)]
            points.append((self.x[last] - self.widths[last] / 2, self.y[last] + enter[k]))
            routes.append(Route(points, self.reversed[k]))
        return routes

    def _ports(self) -> tuple[list[float], list[float]]:
        """Per edge, the offsets from the centre where it leaves and enters.

        Each neighbour of a node gets its own port on that side, in the neighbours' top-to-bottom
        order, so edges into one node neither meet in a point nor cross at its border.
        """
        ports: tuple[dict[tuple[int, int], float], ...] = ({}, {})
        for item in range(len(self.widths)):
            for side, near in zip(ports, (self.down[item], self.up[item]), strict=True):
                middle = (len(near) - 1) / 2
                for j, other in enumerate(sorted(near, key=lambda i: (self.y[i], i))):
                    side[item, other] = (j - middle) * _PORT
        leave = [ports[0][c[0], c[1]] if c else 0.0 for c in self.chains]
        enter = [ports[1][c[-1], c[-2]] if c else 0.0 for c in self.chains]
        return leave, enter


def _break_cycles(n: int, pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """``pairs`` with the back edges of a depth-first search turned round: always acyclic."""
    children: list[list[int]] = [[] for _ in range(n)]
    for u, v in pairs:
        children[u].append(v)
    state = [0] * n  # 0 unseen, 1 on the stack, 2 done
    back: set[tuple[int, int]] = set()
    for root in range(n):
        if state[root]:
            continue
        state[root] = 1
        stack = [(root, iter(children[root]))]
        while stack:
            node, todo = stack[-1]
            for child in todo:
                if state[child] == 1:
                    back.add((node, child))
                elif state[child] == 0:
                    state[child] = 1
                    stack.append((child, iter(children[child])))
                    break
            else:
                state[node] = 2
                stack.pop()
    return [(v, u) if (u, v) in back else (u, v) for u, v in pairs]


def _longest_path_layers(n: int, dag: list[tuple[int, int]]) -> list[int]:
    """Each node's layer: the longest path reaching it from a source.

    A source then moves right to just before its first reader, so a source that only a late
    asset reads sits next to it rather than in the first column with a long edge.
    """
    children: list[list[int]] = [[] for _ in range(n)]
    waiting = [0] * n
    for u, v in dag:
        if u != v:
            children[u].append(v)
            waiting[v] += 1
    layer = [0] * n
    sources = [i for i in range(n) if not waiting[i]]
    ready = list(sources)
    for node in ready:  # grows while iterating: a topological order
        for child in children[node]:
            layer[child] = max(layer[child], layer[node] + 1)
            waiting[child] -= 1
            if not waiting[child]:
                ready.append(child)
    for source in sources:
        if children[source]:
            layer[source] = min(layer[child] for child in children[source]) - 1
    return layer


def _order(columns: list[list[int]], up: list[list[int]], down: list[list[int]]) -> list[list[int]]:
    """Columns reordered by alternating barycenter sweeps; the order with fewest crossings wins."""
    pos = [0.0] * len(up)
    for column in columns:
        _set_positions(column, pos)
    best, fewest = [list(c) for c in columns], _crossings(columns, down, pos)
    for sweep in range(_SWEEPS):
        if fewest == 0:
            break
        forward = sweep % 2 == 0
        indices = range(1, len(columns)) if forward else range(len(columns) - 2, -1, -1)
        for i in indices:
            columns[i] = _by_barycenter(columns[i], up if forward else down, pos)
        count = _crossings(columns, down, pos)
        if count < fewest:
            best, fewest = [list(c) for c in columns], count
    for column in best:
        _set_positions(column, pos)
    _transpose(best, up, down, pos)
    return best


def _transpose(
    columns: list[list[int]], up: list[list[int]], down: list[list[int]], pos: list[float]
) -> None:
    """Swap neighbours in a column while that removes crossings: settles the sweeps' ties."""
    for _ in range(_SWEEPS):
        swapped = False
        for column in columns:
            for j in range(len(column) - 1):
                a, b = column[j], column[j + 1]
                if _pair_crossings(b, a, up, down, pos) < _pair_crossings(a, b, up, down, pos):
                    column[j], column[j + 1] = b, a
                    pos[a], pos[b] = pos[b], pos[a]
                    swapped = True
        if not swapped:
            return


def _pair_crossings(
    a: int, b: int, up: list[list[int]], down: list[list[int]], pos: list[float]
) -> int:
    """How many edges of ``a`` cross edges of ``b`` when ``a`` sits just above ``b``."""
    return sum(pos[x] > pos[y] for near in (up, down) for x in near[a] for y in near[b])


def _set_positions(column: list[int], pos: list[float]) -> None:
    """Positions centred on 0, so columns of different sizes line up in the middle."""
    middle = (len(column) - 1) / 2
    for index, item in enumerate(column):
        pos[item] = index - middle


def _by_barycenter(column: list[int], neighbours: list[list[int]], pos: list[float]) -> list[int]:
    def key(item: int) -> tuple[float, float]:
        near = neighbours[item]
        return (sum(pos[n] for n in near) / len(near) if near else pos[item], pos[item])

    ordered = sorted(column, key=key)
    _set_positions(ordered, pos)
    return ordered


def _crossings(columns: list[list[int]], down: list[list[int]], pos: list[float]) -> int:
    """Edge crossings between neighbouring columns (inversions of the sorted segment ends)."""
    total = 0
    for column in columns:
        segments = sorted((pos[a], pos[b]) for a in column for b in down[a])
        seen: list[float] = []
        for _, end in segments:
            total += len(seen) - bisect_right(seen, end)
            insort(seen, end)
    return total


def _vertical(
    columns: list[list[int]], up: list[list[int]], down: list[list[int]], heights: list[float]
) -> tuple[float, list[float]]:
    """Total height and item centres: pulled towards neighbours, keeping column order and gaps."""
    y = [0.0] * len(heights)
    for column in columns:
        for item, value in zip(column, _stacked(column, heights), strict=True):
            y[item] = value
    for round_ in range(_ROUNDS):
        sweep = columns if round_ % 2 == 0 else columns[::-1]
        for column in sweep:
            desired = [_mean([y[j] for j in up[i] + down[i]], y[i]) for i in column]
            placed = _place(desired, _separations(column, heights))
            for item, value in zip(column, placed, strict=True):
                y[item] = value
    top = min(value - h / 2 for value, h in zip(y, heights, strict=True))
    bottom = max(value + h / 2 for value, h in zip(y, heights, strict=True))
    return bottom - top, [value - top for value in y]


def _horizontal(
    columns: list[list[int]], widths: list[float], gaps: list[float]
) -> tuple[float, list[float], list[float]]:
    """Total width and each column's left and right edge (as wide as its widest node);
    ``gaps[i]`` is the room before column ``i``."""
    left, right, x = [], [], 0.0
    for i, column in enumerate(columns):
        x += gaps[i] if i else 0.0
        left.append(x)
        x += max(widths[i] for i in column if i < len(widths))
        right.append(x)
    return x, left, right


def _separations(column: list[int], heights: list[float]) -> list[float]:
    """Minimum distance between the centres of each item and the next one."""
    return [
        (heights[a] + heights[b]) / 2 + _GAPS[heights[a] > 0, heights[b] > 0]
        for a, b in pairwise(column)
    ]


def _stacked(column: list[int], heights: list[float]) -> list[float]:
    offsets = list(accumulate(_separations(column, heights), initial=0.0))
    return [value - offsets[-1] / 2 for value in offsets]


def _place(desired: list[float], separations: list[float]) -> list[float]:
    """The positions closest to ``desired`` (least squares) keeping ``separations`` in order.

    With ``z = y - offset`` the constraint is just "z never decreases", so this is isotonic
    regression, solved by pooling adjacent violators.
    """
    offsets = list(accumulate(separations, initial=0.0))
    blocks: list[list[float]] = []  # [mean, count]
    for want, offset in zip(desired, offsets, strict=True):
        blocks.append([want - offset, 1.0])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            mean, count = blocks.pop()
            previous = blocks[-1]
            previous[0] = (previous[0] * previous[1] + mean * count) / (previous[1] + count)
            previous[1] += count
    z = [mean for mean, count in blocks for _ in range(int(count))]
    return [value + offset for value, offset in zip(z, offsets, strict=True)]


def _mean(values: list[float], default: float) -> float:
    return sum(values) / len(values) if values else default


# --- drawing ----------------------------------------------------------------------------------
