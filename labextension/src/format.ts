/**
 * Short, readable text for the panel: versions, row counts, build times, check counts, and the
 * summary of an export.
 *
 * Pure (no JupyterLab imports, no DOM), so that `node --test` runs it as compiled.
 */

import { ICheckResult, IExportResult, IOrphan } from './tokens';

/** The first 7 characters of a data version (as git shortens commits), or an em dash. */
export function shortVersion(version: string | null): string {
  return version ? version.slice(0, 7) : '—';
}

/** `3,986 rows`, `1 row`, or an em dash when unknown. */
export function formatRows(rows: number | null): string {
  if (rows === null || rows === undefined) {
    return '—';
  }
  return `${rows.toLocaleString()} ${rows === 1 ? 'row' : 'rows'}`;
}

/** A build time in local time: `14:03:27` today, `28 Nov 14:03` otherwise. */
export function formatBuiltAt(iso: string | null, now: Date = new Date()): string {
  if (!iso) {
    return '—';
  }
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) {
    return iso;
  }
  if (when.toDateString() === now.toDateString()) {
    return when.toLocaleTimeString([], {
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23'
    });
  }
  return when.toLocaleString([], {
    day: 'numeric',
    month: 'short',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23'
  });
}

/** Check results counted: passed, failed (failed or broken error checks) and warned. */
export interface ICheckCounts {
  passed: number;
  failed: number;
  warned: number;
}

export function countChecks(results: ICheckResult[]): ICheckCounts {
  const counts: ICheckCounts = { passed: 0, failed: 0, warned: 0 };
  for (const result of results) {
    if (result.outcome === 'pass') {
      counts.passed += 1;
    } else if (result.outcome === 'warn') {
      counts.warned += 1;
    } else {
      counts.failed += 1;
    }
  }
  return counts;
}

/** The counts as a row shows them: `✓3 ✗1`, plus `⚠2` when some warned. */
export function formatCheckCounts(counts: ICheckCounts): string {
  const text = [`✓${counts.passed}`, `✗${counts.failed}`];
  if (counts.warned) {
    text.push(`⚠${counts.warned}`);
  }
  return text.join(' ');
}

/** One line per check result, for a tooltip: `✓ unique('order_id')`, `✗ not_null(...): 3 rows`. */
export function describeChecks(results: ICheckResult[]): string {
  const marks: Record<string, string> = { pass: '✓', fail: '✗', warn: '⚠', error: '✗' };
  return results
    .map(result => {
      const detail =
        result.outcome === 'pass'
          ? ''
          : `: ${result.message || `${result.failing_rows ?? '?'} failing rows`}`;
      return `${marks[result.outcome] ?? '?'} ${result.name}${detail}`;
    })
    .join('\n');
}

/** `Exported notebooks/x.ipynb: wrote pipelines/x.py; unchanged pipelines/definitions.py`. */
export function exportSummary(path: string, result: IExportResult): string {
  const parts: string[] = [];
  if (result.written.length) {
    parts.push(`wrote ${result.written.join(', ')}`);
  }
  if (result.unchanged.length) {
    parts.push(`unchanged ${result.unchanged.join(', ')}`);
  }
  if (result.removed?.length) {
    parts.push(`removed ${result.removed.join(', ')}`);
  }
  return `Exported ${path}: ${parts.join('; ') || 'nothing to write'}`;
}

/** The heading of the orphans' section: `Orphaned (2)`. */
export function orphansHeading(orphans: IOrphan[]): string {
  return `Orphaned (${orphans.length})`;
}

/**
 * An orphan's tooltip: why it is orphaned, where it was built, and how to remove its files:
 * `b: no notebook or module defines it\nbuilt by notebooks/x.ipynb#c-b\n...`.
 */
export function describeOrphan(orphan: IOrphan): string {
  const lines = [`${orphan.key}: ${orphan.reason || 'orphaned'}`];
  if (orphan.source) {
    lines.push(`built by ${orphan.source}`);
  }
  lines.push('`nbassets gc --orphans` lists its files; `--yes` removes them');
  return lines.join('\n');
}
