/**
 * The refresh throttle (src/scheduler.ts): one run at a time, at most one per interval, requests
 * coalesced. Timers and `Date.now` are node:test's fake ones, so no test waits in real time.
 */

import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, mock, test } from 'node:test';

import { Throttle } from '../src/scheduler';

const INTERVAL = 1000;

/** Let pending promise callbacks run (setImmediate is not faked). */
function settle(): Promise<void> {
  return new Promise(resolve => setImmediate(resolve));
}

/** A task whose runs are counted and stay in flight until `finish()` is called. */
function slowTask(): { task: () => Promise<void>; runs: () => number; finish: () => void } {
  let runs = 0;
  const pending: (() => void)[] = [];
  return {
    task: () => {
      runs += 1;
      return new Promise<void>(resolve => pending.push(resolve));
    },
    runs: () => runs,
    finish: () => pending.shift()?.()
  };
}

/** A task that finishes at once and counts its runs. */
function quickTask(): { task: () => Promise<void>; runs: () => number } {
  let runs = 0;
  return {
    task: async () => {
      runs += 1;
    },
    runs: () => runs
  };
}

describe('Throttle', () => {
  beforeEach(() => {
    mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
  });

  afterEach(() => {
    mock.timers.reset();
    mock.restoreAll();
  });

  test('the first request runs at once', () => {
    const counter = quickTask();
    const throttle = new Throttle(counter.task, INTERVAL);
    assert.equal(counter.runs(), 0);
    throttle.request();
    assert.equal(counter.runs(), 1);
    throttle.dispose();
  });

  test('nothing runs without a request', async () => {
    const counter = quickTask();
    const throttle = new Throttle(counter.task, INTERVAL);
    mock.timers.tick(10 * INTERVAL);
    await settle();
    assert.equal(counter.runs(), 0);
    throttle.dispose();
  });

  test('a burst during a run costs one more run, after the interval', async () => {
    const slow = slowTask();
    const throttle = new Throttle(slow.task, INTERVAL);
    throttle.request();
    for (let i = 0; i < 50; i++) {
      throttle.request(); // Run All: one trigger per cell
    }
    assert.equal(slow.runs(), 1, 'one run in flight at a time');
    mock.timers.tick(300);
    slow.finish();
    await settle();
    assert.equal(slow.runs(), 1, 'the interval since the last start has not passed');
    mock.timers.tick(INTERVAL - 301);
    await settle();
    assert.equal(slow.runs(), 1);
    mock.timers.tick(1);
    await settle();
    assert.equal(slow.runs(), 2, 'the coalesced requests ran once');
    slow.finish();
    mock.timers.tick(10 * INTERVAL);
    await settle();
    assert.equal(slow.runs(), 2, 'and nothing more was asked for');
    throttle.dispose();
  });

  test('a run longer than the interval is followed at once by the requested one', async () => {
    const slow = slowTask();
    const throttle = new Throttle(slow.task, INTERVAL);
    throttle.request();
    throttle.request();
    mock.timers.tick(3 * INTERVAL);
    await settle();
    assert.equal(slow.runs(), 1, 'never two runs in flight');
    slow.finish();
    await settle();
    assert.equal(slow.runs(), 2);
    slow.finish();
    throttle.dispose();
  });

  test('requests soon after a run wait for the interval; later ones run at once', async () => {
    const counter = quickTask();
    const throttle = new Throttle(counter.task, INTERVAL);
    throttle.request();
    await settle();
    mock.timers.tick(100);
    throttle.request();
    throttle.request();
    await settle();
    assert.equal(counter.runs(), 1);
    mock.timers.tick(INTERVAL - 100);
    await settle();
    assert.equal(counter.runs(), 2);
    mock.timers.tick(5 * INTERVAL);
    throttle.request();
    assert.equal(counter.runs(), 3, 'the interval has passed: no wait');
    throttle.dispose();
  });

  test('at most one run per interval under a steady stream of requests', async () => {
    const starts: number[] = [];
    const throttle = new Throttle(async () => {
      starts.push(Date.now());
    }, INTERVAL);
    const t0 = Date.now();
    for (let ms = 0; ms < 5 * INTERVAL; ms += 50) {
      throttle.request();
      await settle();
      mock.timers.tick(50);
    }
    await settle();
    assert.deepEqual(
      starts.map(start => start - t0),
      [0, 1000, 2000, 3000, 4000, 5000]
    );
    throttle.dispose();
  });

  test('a failed run is logged and later requests still run', async () => {
    const error = mock.method(console, 'error', () => undefined);
    let runs = 0;
    const throttle = new Throttle(async () => {
      runs += 1;
      throw new Error('server down');
    }, INTERVAL);
    throttle.request();
    await settle();
    assert.equal(error.mock.callCount(), 1);
    assert.equal((error.mock.calls[0].arguments[1] as Error).message, 'server down');
    mock.timers.tick(INTERVAL);
    throttle.request();
    await settle();
    assert.equal(runs, 2);
    throttle.dispose();
  });

  test('dispose cancels a waiting run and ignores later requests', async () => {
    const counter = quickTask();
    const throttle = new Throttle(counter.task, INTERVAL);
    throttle.request();
    await settle();
    throttle.request(); // waits for the interval
    throttle.dispose();
    mock.timers.tick(10 * INTERVAL);
    throttle.request();
    await settle();
    assert.equal(counter.runs(), 1);
  });

  test('a run in flight at dispose finishes, and starts no other', async () => {
    const slow = slowTask();
    const throttle = new Throttle(slow.task, INTERVAL);
    throttle.request();
    throttle.request();
    throttle.dispose();
    slow.finish();
    mock.timers.tick(10 * INTERVAL);
    await settle();
    assert.equal(slow.runs(), 1);
  });

  test('the interval defaults to one second', async () => {
    const counter = quickTask();
    const throttle = new Throttle(counter.task);
    throttle.request();
    await settle();
    throttle.request();
    mock.timers.tick(999);
    await settle();
    assert.equal(counter.runs(), 1);
    mock.timers.tick(1);
    await settle();
    assert.equal(counter.runs(), 2);
    throttle.dispose();
  });
});
