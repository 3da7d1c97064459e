/**
 * The short texts of unit tests (src/unittests.ts): a row's count, its tooltip, a cell's badge.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { ITestState, TestOutcome } from '../src/tokens';
import {
  countTests,
  describeTestCell,
  describeTests,
  formatTestCounts,
  testBadgeText,
  testsOutcome
} from '../src/unittests';

function state(name: string, outcome: TestOutcome, message = '', extra = {}): ITestState {
  const ran = outcome !== 'not-run';
  return {
    asset: 'orders',
    name,
    cell_id: `c-${name}`,
    outcome,
    message,
    at: ran ? '2026-11-30T12:00:00' : null,
    env: ran ? 'dev-ann' : null,
    ...extra
  };
}

const PASSED = state('keeps_positive', 'passed');
const FAILED = state('drops_cancelled', 'failed', 'frames differ: 2 rows\n  row 3: amount 7 != 8');
const ERROR = state('totals', 'error', "KeyError: 'amount'");
const NOT_RUN = state(
  'by_day',
  'not-run',
  'not run for this code (its results are for other code)'
);

describe('countTests', () => {
  test('counts passed, failed (errors too) and not run', () => {
    assert.deepEqual(countTests([PASSED, FAILED, ERROR, NOT_RUN, PASSED]), {
      count: 5,
      passed: 2,
      failed: 2,
      notRun: 1
    });
    assert.deepEqual(countTests([]), { count: 0, passed: 0, failed: 0, notRun: 0 });
  });
});

describe('formatTestCounts and testsOutcome', () => {
  const cases: [ITestState[], string, TestOutcome][] = [
    [[PASSED, PASSED, PASSED], 'tests 3/3 ✓', 'passed'],
    [[PASSED, PASSED, FAILED], 'tests 2/3 ✗', 'failed'],
    [[PASSED, ERROR], 'tests 1/2 ✗', 'failed'],
    [[PASSED, NOT_RUN, NOT_RUN], 'tests 1/3, 2 not run', 'not-run'],
    [[FAILED, NOT_RUN], 'tests 0/2 ✗, 1 not run', 'failed']
  ];
  for (const [tests, text, outcome] of cases) {
    test(`${text}`, () => {
      const counts = countTests(tests);
      assert.equal(formatTestCounts(counts), text);
      assert.equal(testsOutcome(counts), outcome);
    });
  }
});

describe('describeTests', () => {
  test('failing tests first, each with the first line of its message', () => {
    assert.equal(
      describeTests([PASSED, NOT_RUN, FAILED, ERROR]),
      [
        '✗ drops_cancelled: frames differ: 2 rows…',
        "✗ totals (error): KeyError: 'amount'",
        '○ by_day: not run for this code (its results are for other code)',
        '✓ keeps_positive'
      ].join('\n')
    );
  });

  test('a long message is cut', () => {
    const line = describeTests([state('long', 'failed', 'x'.repeat(500))]);
    assert.equal(line.length, '✗ long: '.length + 160);
    assert.ok(line.endsWith('x…'));
  });
});

describe('a test cell badge', () => {
  test('says the outcome', () => {
    assert.deepEqual([PASSED, FAILED, ERROR, NOT_RUN].map(testBadgeText), [
      'passed',
      'failed',
      'error',
      'not run'
    ]);
  });

  test('its tooltip names the test, the asset, the run and the whole message', () => {
    assert.equal(
      describeTestCell(FAILED),
      'test drops_cancelled of orders: failed (ran 2026-11-30T12:00:00 in dev-ann)\n' +
        'frames differ: 2 rows\n  row 3: amount 7 != 8'
    );
    assert.equal(
      describeTestCell(state('never', 'not-run', 'never run')),
      'test never of orders: not run\nnever run'
    );
    assert.equal(
      describeTestCell(PASSED),
      'test keeps_positive of orders: passed (ran 2026-11-30T12:00:00 in dev-ann)'
    );
  });

  test('a very long message is clipped', () => {
    const tip = describeTestCell(state('big', 'failed', 'y'.repeat(5000)));
    assert.ok(tip.length < 1600 && tip.endsWith('y…'));
  });
});
