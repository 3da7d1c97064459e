"""The dependency graph: build order, cycles, and selections like ``orders+``."""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping

from .errors import CycleError, DependencyError, did_you_mean


class AssetGraph:
    """Assets and the upstream keys each one reads. Unknown upstreams are kept as leaves."""

    def __init__(self, deps: Mapping[str, Iterable[str]]) -> None:
        given = {key: tuple(ups) for key, ups in deps.items()}
        leaves = {up: () for ups in given.values() for up in ups if up not in given}
        # unknown upstreams come first: they are ready before anything that reads them
        self.upstream: dict[str, tuple[str, ...]] = {**leaves, **given}
        self.downstream: dict[str, list[str]] = {key: [] for key in self.upstream}
        for key, ups in self.upstream.items():
            for up in ups:
                self.downstream[up].append(key)

    @property
    def keys(self) -> list[str]:
        return list(self.upstream)

    def order(self, keys: Iterable[str] | None = None) -> list[str]:
        """``keys`` (default: all) in dependency order, upstream first; a cycle raises.

        Among assets that are ready at the same time, the one defined first goes
        first, so the order follows the notebook where the graph allows.
        """
        position = {key: index for index, key in enumerate(self.upstream)}
        waiting = {key: len(ups) for key, ups in self.upstream.items()}
        ready = [(position[key], key) for key, count in waiting.items() if count == 0]
        heapq.heapify(ready)
        ordered: list[str] = []
        while ready:
            _, node = heapq.heappop(ready)
            ordered.append(node)
            for child in self.downstream[node]:
                waiting[child] -= 1
                if waiting[child] == 0:
                    heapq.heappush(ready, (position[child], child))
        if len(ordered) < len(waiting):
            raise CycleError(self._a_cycle({key for key, count in waiting.items() if count}))
        if keys is None:
            return ordered
        wanted = set(keys)
        return [key for key in ordered if key in wanted]

    def _a_cycle(self, blocked: set[str]) -> list[str]:
        """A cycle among ``blocked`` (assets that wait on each other), in data-flow order."""
        path: list[str] = []
        seen: dict[str, int] = {}
        node = min(blocked)
        while node not in seen:
            seen[node] = len(path)
            path.append(node)
            node = next(up for up in self.upstream[node] if up in blocked)
        return path[seen[node] :][::-1]

    def ancestors(self, key: str) -> set[str]:
        """Every asset ``key`` reads, directly or not."""
        return _closure(key, self.upstream)

    def descendants(self, key: str) -> set[str]:
        """Every asset that reads ``key``, directly or not."""
        return _closure(key, self.downstream)

    def select(self, selection: str) -> list[str]:
        """``key``, ``key+`` (with downstream), ``+key`` (with upstream), ``*``; in build order."""
        text = selection.strip()
        if text == "*":
            return self.order()
        up, down = text.startswith("+"), text.endswith("+")
        key = text.strip("+")
        if key not in self.upstream:
            raise DependencyError(
                f"asset {key!r} is not defined here.{did_you_mean(key, self.upstream)} "
                "Selections are KEY, KEY+ (and downstream), +KEY (and upstream) or *."
            )
        chosen = {key}
        if up:
            chosen |= self.ancestors(key)
        if down:
            chosen |= self.descendants(key)
        return self.order(chosen)


def _closure(key: str, edges: Mapping[str, Iterable[str]]) -> set[str]:
    seen: set[str] = set()
    todo = list(edges.get(key, ()))
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo.extend(edges.get(node, ()))
    return seen
