/**
 * The lineage view's layout (the pure `layout` of src/lineage.ts): layer = longest path from an
 * input, so every edge points down.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { layout } from '../src/lineage';
import { ILineage } from '../src/tokens';

function lineage(keys: string[], edges: [string, string][]): ILineage {
  return {
    notebook: 'shop.ipynb',
    env: 'dev',
    nodes: keys.map(key => ({ key, status: 'fresh', label: 'fresh', defined: true })),
    edges: edges.map(([upstream, downstream]) => ({ upstream, downstream, origin: '' }))
  };
}

function layers(graph: ILineage): Record<string, number> {
  const placed = layout(graph).nodes;
  return Object.fromEntries([...placed].map(([key, node]) => [key, node.layer]));
}

describe('layout', () => {
  test('layer = longest path from an input', () => {
    const graph = lineage(
      ['report', 'orders', 'raw', 'customers'],
      [
        ['raw', 'orders'],
        ['orders', 'report'],
        ['customers', 'report'],
        ['raw', 'report']
      ]
    );
    assert.deepEqual(layers(graph), { report: 2, orders: 1, raw: 0, customers: 0 });
  });

  test('every edge points down, and rows do not overlap', () => {
    const graph = lineage(
      ['a', 'b', 'c', 'd'],
      [
        ['a', 'b'],
        ['b', 'c'],
        ['a', 'd']
      ]
    );
    const { nodes, width, height } = layout(graph);
    for (const edge of graph.edges) {
      assert.ok(nodes.get(edge.upstream)!.y < nodes.get(edge.downstream)!.y);
    }
    const [b, d] = [nodes.get('b')!, nodes.get('d')!];
    assert.equal(b.y, d.y);
    assert.notEqual(b.x, d.x);
    for (const node of nodes.values()) {
      assert.ok(node.x >= 0 && node.y >= 0 && node.x < width && node.y < height);
    }
  });

  test('edges to unknown nodes are ignored, and a cycle does not loop', () => {
    const graph = lineage(
      ['a', 'b'],
      [
        ['a', 'b'],
        ['b', 'a'],
        ['ghost', 'a']
      ]
    );
    const placed = layout(graph).nodes;
    assert.deepEqual([...placed.keys()], ['a', 'b']);
  });

  test('an empty graph still has a size', () => {
    const { nodes, width, height } = layout(lineage([], []));
    assert.equal(nodes.size, 0);
    assert.ok(width > 0 && height > 0);
  });
});
