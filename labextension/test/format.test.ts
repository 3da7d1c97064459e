/**
 * The panel's short texts (src/format.ts). `jlpm test` runs node with LC_ALL=en_US.UTF-8 and
 * TZ=UTC, so numbers and dates are formatted the same on every machine.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  countChecks,
  describeChecks,
  describeOrphan,
  exportSummary,
  formatBuiltAt,
  formatCheckCounts,
  formatRows,
  orphansHeading,
  shortVersion
} from '../src/format';
import { ICheckResult, IOrphan } from '../src/tokens';

function result(name: string, outcome: ICheckResult['outcome'], extra = {}): ICheckResult {
  return {
    name,
    severity: outcome === 'warn' ? 'warn' : 'error',
    outcome,
    message: null,
    failing_rows: null,
    ...extra
  };
}

describe('shortVersion', () => {
  test('keeps the first 7 characters, like a short git commit', () => {
    assert.equal(shortVersion('0123456789abcdef'), '0123456');
    assert.equal(shortVersion('abc'), 'abc');
  });

  test('an em dash when there is no version', () => {
    assert.equal(shortVersion(null), '—');
    assert.equal(shortVersion(''), '—');
  });
});

describe('formatRows', () => {
  test('thousands separators and a plural', () => {
    assert.equal(formatRows(3986), '3,986 rows');
    assert.equal(formatRows(336776), '336,776 rows');
    assert.equal(formatRows(0), '0 rows');
  });

  test('one row is singular', () => {
    assert.equal(formatRows(1), '1 row');
  });

  test('an em dash when unknown', () => {
    assert.equal(formatRows(null), '—');
    assert.equal(formatRows(undefined as unknown as null), '—');
  });
});

describe('formatBuiltAt', () => {
  const now = new Date('2024-11-28T18:30:00Z');

  test('the time of day, with seconds, for a build today', () => {
    assert.equal(formatBuiltAt('2024-11-28T14:03:27Z', now), '14:03:27');
    assert.equal(formatBuiltAt('2024-11-28T00:00:05Z', now), '00:00:05');
  });

  test('day, month and minutes for an earlier day', () => {
    assert.equal(formatBuiltAt('2024-11-27T14:03:27Z', now), 'Nov 27, 14:03');
    assert.equal(formatBuiltAt('2023-11-28T14:03:27Z', now), 'Nov 28, 14:03');
  });

  test('an em dash when never built, the text itself when it is no date', () => {
    assert.equal(formatBuiltAt(null, now), '—');
    assert.equal(formatBuiltAt('', now), '—');
    assert.equal(formatBuiltAt('yesterday', now), 'yesterday');
  });
});

describe('check counts', () => {
  const results = [
    result('unique', 'pass'),
    result('not_null', 'fail', { failing_rows: 3 }),
    result('broken', 'error', { message: 'NameError: x' }),
    result('soft', 'warn', { message: '2 late rows' }),
    result('range', 'pass')
  ];

  test('errors count as failed', () => {
    assert.deepEqual(countChecks(results), { passed: 2, failed: 2, warned: 1 });
    assert.deepEqual(countChecks([]), { passed: 0, failed: 0, warned: 0 });
  });

  test('a row shows passed and failed, and warned only when some warned', () => {
    assert.equal(formatCheckCounts({ passed: 2, failed: 2, warned: 1 }), '✓2 ✗2 ⚠1');
    assert.equal(formatCheckCounts({ passed: 4, failed: 0, warned: 0 }), '✓4 ✗0');
  });

  test('one tooltip line per result: the message, else the failing rows', () => {
    assert.equal(
      describeChecks(results),
      [
        '✓ unique',
        '✗ not_null: 3 failing rows',
        '✗ broken: NameError: x',
        '⚠ soft: 2 late rows',
        '✓ range'
      ].join('\n')
    );
    assert.equal(describeChecks([result('odd', 'fail')]), '✗ odd: ? failing rows');
    assert.equal(describeChecks([]), '');
  });
});

describe('exportSummary', () => {
  test('a test module removed', () => {
    assert.equal(
      exportSummary('notebooks/shop.ipynb', {
        written: [],
        unchanged: ['pipelines/shop.py'],
        removed: ['pipelines/tests/test_shop.py']
      }),
      'Exported notebooks/shop.ipynb: unchanged pipelines/shop.py; ' +
        'removed pipelines/tests/test_shop.py'
    );
  });
  test('the files written and the ones unchanged', () => {
    assert.equal(
      exportSummary('notebooks/shop.ipynb', {
        written: ['pipelines/shop.py'],
        unchanged: ['pipelines/definitions.py', 'pipelines/__init__.py']
      }),
      'Exported notebooks/shop.ipynb: wrote pipelines/shop.py; ' +
        'unchanged pipelines/definitions.py, pipelines/__init__.py'
    );
    assert.equal(
      exportSummary('a.ipynb', { written: ['a.py'], unchanged: [] }),
      'Exported a.ipynb: wrote a.py'
    );
  });

  test('says so when there is nothing to write', () => {
    assert.equal(
      exportSummary('a.ipynb', { written: [], unchanged: [] }),
      'Exported a.ipynb: nothing to write'
    );
  });
});

describe('orphans', () => {
  const orphan: IOrphan = {
    key: 'b',
    status: 'orphaned',
    reason: 'no notebook or module defines it',
    label: 'orphaned: no notebook or module defines it',
    env: 'dev',
    data_version: '0123456789abcdef',
    code_version: 'c1',
    rows: 3,
    built_at: '2026-11-28T14:03:27+00:00',
    commit: null,
    source: 'notebooks/shop.ipynb#c-b'
  };

  test('the heading counts them', () => {
    assert.equal(orphansHeading([orphan, { ...orphan, key: 'c' }]), 'Orphaned (2)');
    assert.equal(orphansHeading([]), 'Orphaned (0)');
  });

  test('the tooltip says why, where it was built, and how to remove its files', () => {
    assert.equal(
      describeOrphan(orphan),
      'b: no notebook or module defines it\n' +
        'built by notebooks/shop.ipynb#c-b\n' +
        '`nbassets gc --orphans` lists its files; `--yes` removes them'
    );
  });

  test('no source: no "built by" line', () => {
    assert.equal(describeOrphan({ ...orphan, source: null }).split('\n').length, 2);
  });
});
