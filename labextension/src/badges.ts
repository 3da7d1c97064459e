/**
 * Badges in the prompt gutter of a notebook's cells: the status of each `%%asset` cell's asset,
 * and the outcome of each `%%test` cell's test for the asset's current code.
 */

import { Cell } from '@jupyterlab/cells';
import { NotebookPanel } from '@jupyterlab/notebook';

import { assetKeyOf } from './cells';
import { detectCell } from './detect';
import { IAsset, IOverview, ITestState } from './tokens';
import { describeTestCell, testBadgeText } from './unittests';

const BADGE_CLASS = 'nbassets-CellBadge';

/**
 * Put (or update) a badge on every cell that defines an asset of `overview` or is one of its
 * test cells, and remove badges from cells that no longer are; `null` removes them all.
 */
export function updateBadges(panel: NotebookPanel, overview: IOverview | null): void {
  const assets = new Map<string, IAsset>();
  for (const asset of overview?.assets ?? []) {
    if (asset.defined) {
      assets.set(asset.key, asset);
    }
  }
  const tests = new Map<string, ITestState>();
  for (const test of overview?.tests ?? []) {
    if (test.cell_id !== null) {
      tests.set(test.cell_id, test);
    }
  }
  for (const cell of panel.content.widgets) {
    const key = assetKeyOf(cell);
    const asset = key === null ? undefined : assets.get(key);
    const test = asset ? undefined : testOf(cell, tests);
    if (asset) {
      setAssetBadge(cell, asset);
    } else if (test) {
      setTestBadge(cell, test);
    } else {
      removeBadge(cell);
    }
  }
}

/** Remove every badge of the notebook (when the panel stops following it). */
export function clearBadges(panel: NotebookPanel): void {
  updateBadges(panel, null);
}

/** The test state of a cell that is (still, as the editor holds it) a `%%test` of that asset. */
function testOf(cell: Cell, tests: Map<string, ITestState>): ITestState | undefined {
  const test = tests.get(cell.model.id);
  if (!test || cell.model.type !== 'code') {
    return undefined;
  }
  const info = detectCell(cell.model.sharedModel.getSource());
  return info.kind === 'test' && info.key === test.asset ? test : undefined;
}

function setAssetBadge(cell: Cell, asset: IAsset): void {
  const badge = badgeOf(cell);
  if (!badge) {
    return;
  }
  delete badge.dataset.outcome;
  delete badge.dataset.test;
  badge.dataset.status = asset.status;
  badge.dataset.key = asset.key;
  badge.textContent = asset.status;
  badge.title = `${asset.key}: ${asset.error ? `${asset.label}: ${asset.error}` : asset.label}`;
}

function setTestBadge(cell: Cell, test: ITestState): void {
  const badge = badgeOf(cell);
  if (!badge) {
    return;
  }
  delete badge.dataset.status;
  badge.dataset.outcome = test.outcome;
  badge.dataset.key = test.asset;
  badge.dataset.test = test.name;
  badge.textContent = testBadgeText(test);
  badge.title = describeTestCell(test);
}

/** The cell's badge, created if needed; null while the cell is not rendered (windowed
 * notebook): the next refresh badges it. */
function badgeOf(cell: Cell): HTMLElement | null {
  const host = cell.inputArea?.node;
  if (!host) {
    return null;
  }
  let badge = host.querySelector<HTMLElement>(`:scope > .${BADGE_CLASS}`);
  if (!badge) {
    badge = document.createElement('span');
    badge.className = BADGE_CLASS;
    host.appendChild(badge);
  }
  return badge;
}

function removeBadge(cell: Cell): void {
  cell.inputArea?.node.querySelector(`:scope > .${BADGE_CLASS}`)?.remove();
}
