/**
 * One asset as a row of the Assets panel: status badge, key, version facts, inputs and readers.
 */

import { runIcon } from '@jupyterlab/ui-components';

import { button, element } from './dom';
import {
  countChecks,
  describeChecks,
  describeOrphan,
  formatBuiltAt,
  formatCheckCounts,
  formatRows,
  shortVersion
} from './format';
import { AssetStatus, IAsset, IOrphan, ITestState } from './tokens';
import { countTests, describeTests, formatTestCounts, testsOutcome } from './unittests';

/** What a row does when clicked (defined assets only). */
export interface IRowActions {
  /** Go to the asset's cell. */
  select: (asset: IAsset) => void;
  /** Run the asset's cell. */
  run: (asset: IAsset) => void;
}

/**
 * `<li data-key data-status>`: the badge (the reason on hover), the key and a run button; env,
 * short data version, rows, build time, check counts and unit-test counts; inputs (`← prod` when read from
 * production) and the assets that read it.
 */
export function assetRow(asset: IAsset, actions: IRowActions): HTMLLIElement {
  const row = element('li', 'nbassets-AssetRow');
  row.dataset.key = asset.key;
  row.dataset.status = asset.status;

  const main = row.appendChild(element('div', 'nbassets-AssetRow-main'));
  main.appendChild(statusBadge(asset));
  main.appendChild(element('span', 'nbassets-AssetRow-key', asset.key));
  row.appendChild(facts(asset));
  if (asset.inputs.length || asset.downstream.length) {
    row.appendChild(links(asset));
  }

  if (asset.defined) {
    const run = main.appendChild(button('', runIcon, `Run the cell of ${asset.key}`));
    run.classList.add('nbassets-RunButton');
    run.addEventListener('click', event => {
      event.stopPropagation();
      actions.run(asset);
    });
    row.title = `${asset.key}: ${asset.label} (click to go to its cell)`;
    row.addEventListener('click', () => actions.select(asset));
  } else {
    row.title = `${asset.key}: read by this notebook, defined elsewhere (${asset.label})`;
  }
  return row;
}

/**
 * `<li data-key data-status="orphaned">`: an asset no notebook or module defines any more, with
 * its badge, key and current version; no run button (no cell builds it).
 */
export function orphanRow(orphan: IOrphan): HTMLLIElement {
  const row = element('li', 'nbassets-AssetRow nbassets-OrphanRow');
  row.dataset.key = orphan.key;
  row.dataset.status = orphan.status;
  const main = row.appendChild(element('div', 'nbassets-AssetRow-main'));
  main.appendChild(statusBadge(orphan));
  main.appendChild(element('span', 'nbassets-AssetRow-key', orphan.key));
  row.appendChild(facts({ ...orphan, check_results: [], tests: [] }));
  row.title = describeOrphan(orphan);
  return row;
}

/** The status as a badge; its tooltip says why (and the error of a failed build). */
export function statusBadge(asset: {
  status: AssetStatus;
  label: string;
  error?: string | null;
}): HTMLElement {
  const badge = element('span', 'nbassets-Badge', asset.status);
  badge.dataset.status = asset.status;
  badge.title = asset.error ? `${asset.label}\n${asset.error}` : asset.label;
  return badge;
}

type Facts = Pick<IAsset, 'env' | 'data_version' | 'rows' | 'built_at' | 'check_results' | 'tests'>;

function facts(asset: Facts): HTMLElement {
  const meta = element('div', 'nbassets-AssetRow-meta');
  if (asset.data_version === null) {
    meta.appendChild(element('span', 'nbassets-AssetRow-never', 'never built'));
  } else {
    versionFacts(meta, asset);
  }
  if (asset.tests.length) {
    meta.appendChild(testsFact(asset.tests)); // tests need no data: shown before any build
  }
  return meta;
}

function versionFacts(meta: HTMLElement, asset: Facts): void {
  const fact = (className: string, text: string, title: string): void => {
    meta.appendChild(element('span', className, text)).title = title;
  };
  fact('nbassets-AssetRow-env', asset.env ?? '—', 'the env holding the current version');
  fact(
    'nbassets-AssetRow-version',
    shortVersion(asset.data_version),
    asset.data_version ? `data version ${asset.data_version}` : 'never built'
  );
  fact('nbassets-AssetRow-rows', formatRows(asset.rows), 'rows of the current version');
  fact(
    'nbassets-AssetRow-built',
    formatBuiltAt(asset.built_at),
    asset.built_at ? `built ${asset.built_at}` : 'never built'
  );
  if (asset.check_results.length) {
    const counts = countChecks(asset.check_results);
    const checks = meta.appendChild(
      element('span', 'nbassets-AssetRow-checks', formatCheckCounts(counts))
    );
    checks.dataset.passed = String(counts.passed);
    checks.dataset.failed = String(counts.failed);
    checks.dataset.warned = String(counts.warned);
    checks.title = describeChecks(asset.check_results);
  }
}

/** `tests 2/3 ✗`: unit tests of the current code, the failing ones named on hover. */
function testsFact(tests: ITestState[]): HTMLElement {
  const counts = countTests(tests);
  const span = element('span', 'nbassets-AssetRow-tests', formatTestCounts(counts));
  span.dataset.outcome = testsOutcome(counts);
  span.dataset.count = String(counts.count);
  span.dataset.passed = String(counts.passed);
  span.dataset.failed = String(counts.failed);
  span.dataset.notRun = String(counts.notRun);
  span.title = `unit tests of the current code\n${describeTests(tests)}`;
  return span;
}

/** `in: raw_orders ← prod, orders` and `out: daily_revenue`. */
function links(asset: IAsset): HTMLElement {
  const line = element('div', 'nbassets-AssetRow-links');
  if (asset.inputs.length) {
    const inputs = line.appendChild(element('span', 'nbassets-AssetRow-inputs', 'in: '));
    asset.inputs.forEach((input, index) => {
      if (index) {
        inputs.appendChild(document.createTextNode(', '));
      }
      const item = inputs.appendChild(element('span', 'nbassets-Input', input.key));
      item.dataset.origin = input.origin;
      if (input.origin === 'prod') {
        item.appendChild(element('span', 'nbassets-Input-prod', ' ← prod'));
        item.title = `${input.key} was read from production (read-only)`;
      } else if (input.origin) {
        item.title = `${input.key} was read from ${input.origin}`;
      }
    });
  }
  if (asset.downstream.length) {
    line.appendChild(
      element('span', 'nbassets-AssetRow-downstream', `out: ${asset.downstream.join(', ')}`)
    );
  }
  return line;
}
