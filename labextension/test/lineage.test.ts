/**
 * The lineage view's pure parts (src/lineage.ts): the server's layout read from the payload,
 * the zoom that fits the panel (readable, then it pans), zoom steps and hover titles.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  ILaidOutNode,
  ILineageLayout,
  MAX_FIT_ZOOM,
  MAX_ZOOM,
  MIN_ZOOM,
  READABLE_ZOOM,
  fitZoom,
  layoutOf,
  nodeTitle,
  stepZoom
} from '../src/lineage';
import { ILineage } from '../src/tokens';

const NODE: ILaidOutNode = {
  key: 'carrier_month_delays',
  status: 'stale',
  x: 16,
  y: 16,
  width: 176,
  height: 40,
  title: 'carrier_month_delays: stale: code changed',
  labels: [
    { text: 'carrier_month_delays', kind: 'name', x: 104, y: 33, size: 13, anchor: 'middle' }
  ]
};

const LAYOUT: ILineageLayout = { width: 700, height: 200, nodes: [NODE], edges: [] };

function lineage(layout?: unknown): ILineage {
  const payload = {
    notebook: 'flights.ipynb',
    env: 'dev',
    nodes: [{ key: NODE.key, status: 'stale' as const, label: 'stale', defined: true }],
    edges: []
  };
  return (layout === undefined ? payload : { ...payload, layout }) as ILineage;
}

describe('layoutOf', () => {
  test("reads the server's layout from the payload", () => {
    assert.deepEqual(layoutOf(lineage(LAYOUT)), LAYOUT);
  });

  test('is null when the server sent none or a broken one', () => {
    assert.equal(layoutOf(lineage()), null);
    assert.equal(layoutOf(lineage({ width: 1 })), null);
  });
});

describe('fitZoom', () => {
  test('fits the width when the text stays readable', () => {
    assert.equal(fitZoom(630, 700), 0.9);
    assert.ok(fitZoom(630, 700) * 700 <= 630);
  });

  test('a wider panel makes the drawing larger, up to a limit', () => {
    assert.ok(fitZoom(600, 700) < fitZoom(800, 700));
    assert.equal(fitZoom(5000, 700), MAX_FIT_ZOOM);
  });

  test('never smaller than readable: the view pans instead', () => {
    assert.equal(fitZoom(250, 1500), READABLE_ZOOM);
  });

  test('no size yet gives 1', () => {
    assert.equal(fitZoom(0, 700), 1);
    assert.equal(fitZoom(300, 0), 1);
  });
});

describe('stepZoom', () => {
  test('steps in and out and stays in range', () => {
    assert.ok(stepZoom(1, 1) > 1 && stepZoom(1, -1) < 1);
    assert.equal(stepZoom(MAX_ZOOM, 1), MAX_ZOOM);
    assert.equal(stepZoom(MIN_ZOOM, -1), MIN_ZOOM);
  });
});

describe('nodeTitle', () => {
  test('the full name on hover, and whether the notebook defines it', () => {
    assert.equal(nodeTitle(NODE, true), 'carrier_month_delays: stale: code changed');
    assert.match(nodeTitle(NODE, false), /^carrier_month_delays: .*\(read, not defined here\)$/);
  });
});
