"""Build order, cycles and selections."""

from __future__ import annotations

import pytest

from nbassets.errors import CycleError, DependencyError
from nbassets.graph import AssetGraph

GRAPH = AssetGraph(
    {
        "raw": [],
        "clean": ["raw"],
        "customers": [],
        "revenue": ["clean", "customers"],
        "report": ["revenue"],
        "other": [],
    }
)


def test_order_puts_upstream_first() -> None:
    order = GRAPH.order()
    for key, ups in GRAPH.upstream.items():
        assert all(order.index(up) < order.index(key) for up in ups)
    assert sorted(order) == sorted(GRAPH.keys)


def test_unknown_upstreams_are_leaves() -> None:
    graph = AssetGraph({"b": ["a"]})
    assert graph.order() == ["a", "b"] and graph.upstream["a"] == ()


def test_cycle_is_named() -> None:
    with pytest.raises(CycleError, match="a -> b -> c -> a"):
        AssetGraph({"a": ["c"], "b": ["a"], "c": ["b"], "d": []}).order()


def test_selections() -> None:
    assert GRAPH.select("clean") == ["clean"]
    assert GRAPH.select("clean+") == ["clean", "revenue", "report"]
    assert set(GRAPH.select("+revenue")) == {"raw", "clean", "customers", "revenue"}
    assert GRAPH.select("*") == GRAPH.order()
    with pytest.raises(DependencyError, match="Did you mean 'report'"):
        GRAPH.select("reprt+")


def test_deep_chain_does_not_recurse() -> None:
    n = 20_000
    graph = AssetGraph({f"a{i}": [f"a{i - 1}"] if i else [] for i in range(n)})
    assert graph.order()[-1] == f"a{n - 1}"
    assert len(graph.descendants("a0")) == n - 1
