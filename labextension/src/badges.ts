/**
 * Status badges on a notebook's `%%asset` cells: a small label in each cell's prompt gutter.
 */

import { Cell } from '@jupyterlab/cells';
import { NotebookPanel } from '@jupyterlab/notebook';

import { assetKeyOf } from './cells';
import { IAsset, IOverview } from './tokens';

const BADGE_CLASS = 'nbassets-CellBadge';

/**
 * Put (or update) a badge on every cell that defines an asset of `overview`, and remove
 * badges from cells that no longer do; `null` removes them all.
 */
export function updateBadges(panel: NotebookPanel, overview: IOverview | null): void {
  const assets = new Map<string, IAsset>();
  for (const asset of overview?.assets ?? []) {
    if (asset.defined) {
      assets.set(asset.key, asset);
    }
  }
  for (const cell of panel.content.widgets) {
    const key = assetKeyOf(cell);
    const asset = key === null ? undefined : assets.get(key);
    if (asset) {
      setBadge(cell, asset);
    } else {
      removeBadge(cell);
    }
  }
}

/** Remove every badge of the notebook (when the panel stops following it). */
export function clearBadges(panel: NotebookPanel): void {
  updateBadges(panel, null);
}

function setBadge(cell: Cell, asset: IAsset): void {
  const host = cell.inputArea?.node;
  if (!host) {
    return; // not rendered yet (windowed notebook): the next refresh badges it
  }
  let badge = host.querySelector<HTMLElement>(`:scope > .${BADGE_CLASS}`);
  if (!badge) {
    badge = document.createElement('span');
    badge.className = BADGE_CLASS;
    host.appendChild(badge);
  }
  badge.dataset.status = asset.status;
  badge.dataset.key = asset.key;
  badge.textContent = asset.status;
  badge.title = `${asset.key}: ${asset.error ? `${asset.label}: ${asset.error}` : asset.label}`;
}

function removeBadge(cell: Cell): void {
  cell.inputArea?.node.querySelector(`:scope > .${BADGE_CLASS}`)?.remove();
}
