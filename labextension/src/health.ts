/**
 * The words and shapes of the production view: a partition strip's runs, their tooltips and
 * counts, and the summary line of an env's health.
 *
 * Pure (no JupyterLab imports, no DOM), so that `node --test` runs it as compiled.
 */

import { IHealth, IPartitionCoverage, IPartitionRun, PartitionState } from './tokens';

/** The states of a strip, worst first: a bucket of several runs shows its worst. */
export const PARTITION_STATES: PartitionState[] = ['failed', 'missing', 'stale', 'built'];

/** The most segments a strip draws; more runs are merged into buckets of about equal size. */
export const MAX_SEGMENTS = 120;

/** One segment of a drawn strip: a run, or a bucket of runs shown by its worst state. */
export interface IStripSegment {
  first: string;
  last: string;
  count: number;
  state: PartitionState;
  /** Partitions per state within the segment (one state for a plain run). */
  counts: Partial<Record<PartitionState, number>>;
}

/**
 * The segments to draw for `runs`: the runs themselves, or, past `max`, consecutive runs merged
 * into `max` buckets of about equal partition counts, each in the worst state it holds.
 */
export function stripSegments(runs: IPartitionRun[], max = MAX_SEGMENTS): IStripSegment[] {
  if (runs.length <= max) {
    return runs.map(run => ({ ...run, counts: { [run.state]: run.count } }));
  }
  const total = runs.reduce((sum, run) => sum + run.count, 0);
  const size = total / max;
  const segments: IStripSegment[] = [];
  let current: IStripSegment | null = null;
  let seen = 0;
  for (const run of runs) {
    if (current === null) {
      current = { first: run.first, last: run.last, count: 0, state: run.state, counts: {} };
    }
    current.last = run.last;
    current.count += run.count;
    current.counts[run.state] = (current.counts[run.state] ?? 0) + run.count;
    seen += run.count;
    if (seen >= size * (segments.length + 1)) {
      segments.push(worst(current));
      current = null;
    }
  }
  if (current !== null) {
    segments.push(worst(current));
  }
  return segments;
}

function worst(segment: IStripSegment): IStripSegment {
  const state = PARTITION_STATES.find(s => (segment.counts[s] ?? 0) > 0) ?? 'built';
  return { ...segment, state };
}

/** A segment's tooltip: `2024-01-01..2024-01-03: stale (3)`, or the counts of a bucket. */
export function segmentTitle(segment: IStripSegment): string {
  const range =
    segment.first === segment.last ? segment.first : `${segment.first}..${segment.last}`;
  const states = PARTITION_STATES.filter(s => segment.counts[s]);
  if (states.length <= 1) {
    return `${range}: ${segment.state} (${segment.count})`;
  }
  return `${range}: ${states.map(s => `${segment.counts[s]} ${s}`).join(', ')}`;
}

/** `9 partitions: 3 built, 3 stale, 3 missing` (states with none left out). */
export function coverageText(coverage: IPartitionCoverage): string {
  const noun = coverage.complete === 1 ? 'partition' : 'partitions';
  const parts = ['built', 'stale', 'missing', 'failed']
    .filter(state => coverage.counts[state as PartitionState])
    .map(state => `${coverage.counts[state as PartitionState].toLocaleString()} ${state}`);
  const counted = `${coverage.complete.toLocaleString()} ${noun}`;
  return parts.length ? `${counted}: ${parts.join(', ')}` : counted;
}

/** `env prod · 4 assets · 1 late · 1 failing check`: what the production view sums up. */
export function healthSummary(health: IHealth): string {
  const late = health.assets.filter(asset => asset.late).length;
  const failing = health.assets.reduce(
    (sum, asset) =>
      sum + asset.checks.filter(c => c.outcome === 'fail' || c.outcome === 'error').length,
    0
  );
  const parts = [`env ${health.env}`, count(health.assets.length, 'asset')];
  if (late) {
    parts.push(`${late} late`);
  }
  if (failing) {
    parts.push(count(failing, 'failing check'));
  }
  return parts.join(' · ');
}

function count(n: number, noun: string): string {
  return `${n.toLocaleString()} ${noun}${n === 1 ? '' : 's'}`;
}
