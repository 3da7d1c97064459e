/**
 * The short texts of unit tests (`%%test` cells): an asset row's `tests 2/3 ✗` with its
 * tooltip, and a test cell's badge. Pure (no JupyterLab imports, no DOM), so that `node --test`
 * runs it as compiled.
 */

import { ITestState, TestOutcome } from './tokens';

/** An asset's tests counted for its current code: passed, failed (or raised), not run. */
export interface ITestCounts {
  count: number;
  passed: number;
  failed: number;
  notRun: number;
}

export function countTests(tests: readonly ITestState[]): ITestCounts {
  const counts: ITestCounts = { count: tests.length, passed: 0, failed: 0, notRun: 0 };
  for (const test of tests) {
    if (test.outcome === 'passed') {
      counts.passed += 1;
    } else if (test.outcome === 'not-run') {
      counts.notRun += 1;
    } else {
      counts.failed += 1;
    }
  }
  return counts;
}

/** The outcome a row's test count shows: any failure, else any not run, else passed. */
export function testsOutcome(counts: ITestCounts): TestOutcome {
  if (counts.failed) {
    return 'failed';
  }
  return counts.notRun ? 'not-run' : 'passed';
}

/** `tests 3/3 ✓`, `tests 2/3 ✗`, `tests 1/3, 2 not run`: passed out of all, then what is off. */
export function formatTestCounts(counts: ITestCounts): string {
  let text = `tests ${counts.passed}/${counts.count}`;
  if (counts.failed) {
    text += ' ✗';
  } else if (!counts.notRun) {
    text += ' ✓';
  }
  return counts.notRun ? `${text}, ${counts.notRun} not run` : text;
}

const MARKS: Record<TestOutcome, string> = {
  failed: '✗',
  error: '✗',
  'not-run': '○',
  passed: '✓'
};
const RANK: Record<TestOutcome, number> = { failed: 0, error: 0, 'not-run': 1, passed: 2 };

/**
 * A row's tooltip: one line per test, failing ones first, each with the first line of its
 * message: `✗ drops_cancelled: 2 rows differ`, `✗ totals (error): KeyError: 'x'`,
 * `○ by_day: not run for this code ...`, `✓ keeps_positive`.
 */
export function describeTests(tests: readonly ITestState[]): string {
  return [...tests]
    .sort((a, b) => RANK[a.outcome] - RANK[b.outcome])
    .map(test => {
      const name = test.outcome === 'error' ? `${test.name} (error)` : test.name;
      const detail = test.outcome === 'passed' ? '' : firstLine(test.message);
      return `${MARKS[test.outcome]} ${name}${detail ? `: ${detail}` : ''}`;
    })
    .join('\n');
}

/** A `%%test` cell's badge: `passed`, `failed`, `error` or `not run`. */
export function testBadgeText(test: Pick<ITestState, 'outcome'>): string {
  return test.outcome === 'not-run' ? 'not run' : test.outcome;
}

/** A `%%test` cell's badge tooltip: `test keeps_positive of orders: failed\n<message>`. */
export function describeTestCell(test: ITestState): string {
  const head = `test ${test.name} of ${test.asset}: ${testBadgeText(test)}`;
  const ran = test.at ? ` (ran ${test.at}${test.env ? ` in ${test.env}` : ''})` : '';
  const message = clip(test.message, MAX_MESSAGE);
  return message ? `${head}${ran}\n${message}` : `${head}${ran}`;
}

const MAX_LINE = 160;
const MAX_MESSAGE = 1500;

/** The first line of a message, with `…` when there is more (or it is over MAX_LINE). */
function firstLine(text: string): string {
  const lines = text.trimEnd().split('\n');
  const more = lines.length > 1 || lines[0].length > MAX_LINE;
  return more ? `${lines[0].slice(0, MAX_LINE - 1)}…` : lines[0];
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
