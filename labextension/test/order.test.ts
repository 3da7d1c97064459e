/**
 * The order of "Run stale" (src/order.ts): upstream first, otherwise the notebook's order.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { dependencyOrder, staleInBuildOrder } from '../src/order';
import { asset, keys } from './helpers';

describe('dependencyOrder', () => {
  test('keeps the notebook order when nothing depends on anything', () => {
    const assets = [asset('b'), asset('a'), asset('c')];
    assert.deepEqual(keys(dependencyOrder(assets)), ['b', 'a', 'c']);
  });

  test('moves an upstream asset before the cells that read it', () => {
    const assets = [asset('report', ['orders']), asset('orders', ['raw']), asset('raw')];
    assert.deepEqual(keys(dependencyOrder(assets)), ['raw', 'orders', 'report']);
  });

  test('an already ordered list is unchanged', () => {
    const assets = [asset('raw'), asset('orders', ['raw']), asset('report', ['orders', 'raw'])];
    assert.deepEqual(keys(dependencyOrder(assets)), ['raw', 'orders', 'report']);
  });

  test('a diamond: each asset after all of its deps', () => {
    const assets = [
      asset('top', ['left', 'right']),
      asset('right', ['base']),
      asset('left', ['base']),
      asset('base')
    ];
    assert.deepEqual(keys(dependencyOrder(assets)), ['base', 'left', 'right', 'top']);
  });

  test('deps that are not in the list are ignored', () => {
    const assets = [asset('b', ['elsewhere']), asset('a', ['b', 'prod_only'])];
    assert.deepEqual(keys(dependencyOrder(assets)), ['b', 'a']);
  });

  test('a cycle ends, keeping every asset once', () => {
    const assets = [asset('a', ['b']), asset('b', ['a']), asset('c', ['c'])];
    const order = keys(dependencyOrder(assets));
    assert.deepEqual([...order].sort(), ['a', 'b', 'c']);
    assert.deepEqual(order, ['b', 'a', 'c']);
  });

  test('returns a new list and leaves the input alone', () => {
    const assets = [asset('b', ['a']), asset('a')];
    const order = dependencyOrder(assets);
    assert.notEqual(order, assets);
    assert.deepEqual(keys(assets), ['b', 'a']);
    assert.equal(order[0], assets[1]);
  });
});

describe('staleInBuildOrder', () => {
  test('stale, missing and failed defined assets, upstream first', () => {
    const assets = [
      asset('report', ['orders'], 'stale'),
      asset('fresh_one', [], 'fresh'),
      asset('orders', ['raw'], 'failed'),
      asset('checked', ['raw'], 'check-failed'),
      asset('raw', [], 'missing'),
      asset('read_only', [], 'stale', false)
    ];
    assert.deepEqual(keys(staleInBuildOrder(assets)), ['raw', 'orders', 'report']);
  });

  test('nothing to run when every asset is fresh (or only read)', () => {
    assert.deepEqual(staleInBuildOrder([asset('a'), asset('b', [], 'missing', false)]), []);
    assert.deepEqual(staleInBuildOrder([]), []);
  });
});
