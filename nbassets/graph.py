"""The dependency graph: build order, cycles, and selections like ``orders+``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .errors import CycleError, DependencyError, did_you_mean


class AssetGraph:
    """Assets and the upstream keys each one reads. Unknown upstreams are kept as leaves."""

    def __init__(self, deps: Mapping[str, Iterable[str]]) -> None:
        self.upstream: dict[str, tuple[str, ...]] = {k: tuple(v) for k, v in deps.items()}
        for ups in list(self.upstream.values()):
            for up in ups:
                self.upstream.setdefault(up, ())
        self.downstream: dict[str, list[str]] = {key: [] for key in self.upstream}
        for key, ups in self.upstream.items():
            for up in ups:
                self.downstream[up].append(key)

    @property
    def keys(self) -> list[str]:
        return list(self.upstream)

    def order(self, keys: Iterable[str] | None = None) -> list[str]:
        """``keys`` (default: all) in dependency order, upstream first; a cycle raises."""
        wanted = set(self.upstream) if keys is None else set(keys)
        state: dict[str, int] = {}  # 1 = on the current path, 2 = done
        ordered: list[str] = []
        for root in sorted(self.upstream):
            if state.get(root) == 2:
                continue
            stack: list[tuple[str, int]] = [(root, 0)]
            path: list[str] = [root]
            state[root] = 1
            while stack:
                node, index = stack[-1]
                ups = self.upstream.get(node, ())
                if index < len(ups):
                    stack[-1] = (node, index + 1)
                    up = ups[index]
                    if state.get(up) == 1:
                        raise CycleError(path[path.index(up) :][::-1])  # in data-flow order
                    if state.get(up) != 2:
                        state[up] = 1
                        stack.append((up, 0))
                        path.append(up)
                else:
                    stack.pop()
                    path.pop()
                    state[node] = 2
                    if node in wanted:
                        ordered.append(node)
        return ordered

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
