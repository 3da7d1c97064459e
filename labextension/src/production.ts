/**
 * The production view of the Assets panel: every asset of the project as production holds it,
 * with its status, last build, check outcomes, lateness and, for partitioned assets, a strip
 * of its partitions (built / stale / missing / failed).
 */

import { element } from './dom';
import {
  countChecks,
  describeChecks,
  formatBuiltAt,
  formatCheckCounts,
  formatRows
} from './format';
import { coverageText, segmentTitle, stripSegments } from './health';
import { statusBadge } from './rows';
import { IAssetHealth, IPartitionCoverage } from './tokens';

/** `<li data-key data-status>` of one asset's health in an env. */
export function healthRow(asset: IAssetHealth): HTMLLIElement {
  const row = element('li', 'nbassets-AssetRow nbassets-HealthRow');
  row.dataset.key = asset.key;
  row.dataset.status = asset.status;
  row.dataset.late = String(asset.late !== null);

  const main = row.appendChild(element('div', 'nbassets-AssetRow-main'));
  main.appendChild(statusBadge({ ...asset, label: label(asset) }));
  main.appendChild(element('span', 'nbassets-AssetRow-key', asset.key));
  if (asset.late) {
    const late = main.appendChild(element('span', 'nbassets-LateBadge', 'late'));
    late.title = asset.late.text;
  }

  const meta = row.appendChild(element('div', 'nbassets-AssetRow-meta'));
  const fact = (className: string, text: string, title: string): HTMLElement => {
    const span = meta.appendChild(element('span', className, text));
    span.title = title;
    return span;
  };
  if (asset.built_at === null) {
    fact('nbassets-AssetRow-never', 'never built', 'no version in this env');
  } else {
    fact('nbassets-AssetRow-built', `built ${formatBuiltAt(asset.built_at)}`, builtTitle(asset));
    fact('nbassets-AssetRow-rows', formatRows(asset.rows), 'rows of the current version');
  }
  if (asset.checks.length) {
    const counts = countChecks(asset.checks);
    const checks = fact(
      'nbassets-AssetRow-checks',
      formatCheckCounts(counts),
      describeChecks(asset.checks)
    );
    checks.dataset.passed = String(counts.passed);
    checks.dataset.failed = String(counts.failed);
    checks.dataset.warned = String(counts.warned);
  }
  if (asset.late) {
    row.appendChild(element('div', 'nbassets-HealthRow-late', lateLine(asset)));
  }
  if (asset.partitions) {
    row.appendChild(partitionStrip(asset.partitions));
  }
  row.title = `${asset.key}: ${label(asset)}`;
  return row;
}

/** The strip of a partitioned asset's complete partitions, oldest left, with its counts. */
export function partitionStrip(coverage: IPartitionCoverage): HTMLElement {
  const box = element('div', 'nbassets-Partitions');
  const strip = box.appendChild(element('div', 'nbassets-Strip'));
  strip.setAttribute('role', 'img');
  strip.setAttribute('aria-label', `${coverage.definition}: ${coverageText(coverage)}`);
  for (const segment of stripSegments(coverage.strip)) {
    const run = strip.appendChild(element('span', 'nbassets-Strip-run'));
    run.dataset.state = segment.state;
    run.dataset.count = String(segment.count);
    run.style.flexGrow = String(segment.count);
    run.title = segmentTitle(segment);
  }
  const legend = box.appendChild(element('div', 'nbassets-Strip-legend', coverageText(coverage)));
  legend.title = coverage.definition;
  return box;
}

function label(asset: IAssetHealth): string {
  return asset.reason ? `${asset.status}: ${asset.reason}` : asset.status;
}

function lateLine(asset: IAssetHealth): string {
  const late = asset.late;
  if (!late) {
    return '';
  }
  const where = late.partitions.length ? ` [${late.partitions.join(', ')}]` : '';
  return `${late.text}${where}`;
}

function builtTitle(asset: IAssetHealth): string {
  const commit = asset.commit ? ` at commit ${asset.commit.slice(0, 7)}` : '';
  return `built ${asset.built_at}${commit}`;
}
