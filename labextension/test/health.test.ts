/**
 * The production view's words and strip (src/health.ts).
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  coverageText,
  healthSummary,
  MAX_SEGMENTS,
  segmentTitle,
  stripSegments
} from '../src/health';
import { IAssetHealth, IPartitionRun, PartitionState } from '../src/tokens';

function run(first: string, last: string, count: number, state: PartitionState): IPartitionRun {
  return { first, last, count, state };
}

function day(index: number): string {
  return new Date(Date.UTC(2024, 0, 1 + index)).toISOString().slice(0, 10);
}

describe('stripSegments', () => {
  test('draws each run as it is while they are few', () => {
    const runs = [run('a', 'c', 3, 'stale'), run('d', 'f', 3, 'built')];
    const segments = stripSegments(runs);
    assert.deepEqual(
      segments.map(s => [s.first, s.last, s.count, s.state]),
      [
        ['a', 'c', 3, 'stale'],
        ['d', 'f', 3, 'built']
      ]
    );
    assert.deepEqual(segments[0].counts, { stale: 3 });
  });

  test('merges many runs into buckets that show their worst state and keep every partition', () => {
    // 1,000 alternating days: built, missing, built, ...
    const runs = Array.from({ length: 1000 }, (_, i) =>
      run(day(i), day(i), 1, i % 2 ? 'missing' : 'built')
    );
    const segments = stripSegments(runs, 100);
    assert.equal(segments.length, 100);
    assert.equal(
      segments.reduce((sum, s) => sum + s.count, 0),
      1000
    );
    assert.ok(segments.every(s => s.state === 'missing'));
    assert.equal(segments[0].first, day(0));
    assert.equal(segments[99].last, day(999));
    assert.deepEqual(segments[0].counts, { built: 5, missing: 5 });
  });

  test('a failed partition shows even in a bucket of built ones', () => {
    const runs = Array.from({ length: 2 * MAX_SEGMENTS }, (_, i) =>
      run(day(i), day(i), 1, i === 7 ? 'failed' : i % 2 ? 'stale' : 'built')
    );
    const states = stripSegments(runs).map(s => s.state);
    assert.equal(states.length, MAX_SEGMENTS);
    assert.equal(states.filter(s => s === 'failed').length, 1);
  });
});

describe('segmentTitle', () => {
  test('a run names its range, state and count', () => {
    const [segment] = stripSegments([run('2024-01-01', '2024-01-03', 3, 'stale')]);
    assert.equal(segmentTitle(segment), '2024-01-01..2024-01-03: stale (3)');
    const [one] = stripSegments([run('2024-01-04', '2024-01-04', 1, 'missing')]);
    assert.equal(segmentTitle(one), '2024-01-04: missing (1)');
  });

  test('a bucket lists its states worst first', () => {
    const segment = {
      first: 'a',
      last: 'z',
      count: 5,
      state: 'failed' as const,
      counts: { built: 3, failed: 2 }
    };
    assert.equal(segmentTitle(segment), 'a..z: 2 failed, 3 built');
  });
});

describe('coverageText', () => {
  test('counts the states there are', () => {
    const counts = { built: 3, stale: 3, missing: 1200, failed: 0 };
    assert.equal(
      coverageText({ definition: 'daily:2024-01-01', complete: 1206, counts, strip: [] }),
      '1,206 partitions: 3 built, 3 stale, 1,200 missing'
    );
    const none = { built: 0, stale: 0, missing: 0, failed: 0 };
    assert.equal(
      coverageText({ definition: 'daily:2024-01-01', complete: 0, counts: none, strip: [] }),
      '0 partitions'
    );
  });
});

function health(key: string, extra: Partial<IAssetHealth> = {}): IAssetHealth {
  return {
    key,
    status: 'fresh',
    reason: '',
    error: null,
    data_version: 'abc',
    rows: 1,
    built_at: null,
    commit: null,
    checks: [],
    late: null,
    partitions: null,
    ...extra
  };
}

describe('healthSummary', () => {
  test('sums up late assets and failing checks', () => {
    const late = {
      key: 'a',
      fresh: 'max_age=1h',
      built_at: null,
      late_by_seconds: 60,
      partitions: [],
      text: 'late by 1m (max_age=1h)'
    };
    const failing = {
      name: 'row_count(min=5)',
      severity: 'error' as const,
      outcome: 'fail' as const,
      message: null,
      failing_rows: null,
      checked_at: ''
    };
    const summary = healthSummary({
      env: 'prod',
      code: 'package pipelines',
      now: '',
      assets: [health('a', { late }), health('b', { checks: [failing] }), health('c')]
    });
    assert.equal(summary, 'env prod · 3 assets · 1 late · 1 failing check');
    assert.equal(
      healthSummary({ env: 'prod', code: '', now: '', assets: [health('a')] }),
      'env prod · 1 asset'
    );
  });
});
