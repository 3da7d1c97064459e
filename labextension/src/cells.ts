/**
 * The notebook side of an asset: find its `%%asset` cell, select it, run it.
 */

import { Cell } from '@jupyterlab/cells';
import { NotebookActions, NotebookPanel } from '@jupyterlab/notebook';

import { IAsset } from './tokens';

const ASSET_LINE = /^\s*%%asset\s+([A-Za-z_][A-Za-z0-9_]*)/;

/** The key a cell defines when its first line is `%%asset KEY ...`, else null. */
export function assetKeyOf(cell: Cell): string | null {
  if (cell.model.type !== 'code') {
    return null;
  }
  const source = cell.model.sharedModel.getSource();
  const match = ASSET_LINE.exec(source.split('\n', 1)[0]);
  return match ? match[1] : null;
}

/**
 * The index of the cell that defines `asset`: the cell whose first line names it (the live
 * source wins, since the server reads the file as last saved), else the cell with its id.
 */
export function findAssetCell(
  panel: NotebookPanel,
  asset: Pick<IAsset, 'key' | 'cell_id'>
): number {
  const cells = panel.content.widgets;
  const byKey = cells.findIndex(cell => assetKeyOf(cell) === asset.key);
  if (byKey >= 0 || !asset.cell_id) {
    return byKey;
  }
  return cells.findIndex(cell => cell.model.id === asset.cell_id);
}

/** Make the cell at `index` the only selected, active cell and scroll it into view. */
export async function selectCell(panel: NotebookPanel, index: number): Promise<void> {
  const notebook = panel.content;
  notebook.activeCellIndex = index;
  notebook.deselectAll();
  await notebook.scrollToItem(index, 'smart');
}

/** Run the cells of `assets` (in the given order) in the notebook's kernel; false if one failed. */
export async function runAssetCells(panel: NotebookPanel, assets: IAsset[]): Promise<boolean> {
  const cells: Cell[] = [];
  for (const asset of assets) {
    const index = findAssetCell(panel, asset);
    if (index >= 0) {
      cells.push(panel.content.widgets[index]);
    }
  }
  if (!cells.length) {
    return true;
  }
  return NotebookActions.runCells(panel.content, cells, panel.sessionContext);
}

/** The defined assets that need a build (stale, missing or failed), upstream before downstream. */
export function staleInBuildOrder(assets: IAsset[]): IAsset[] {
  const todo = assets.filter(
    asset =>
      asset.defined &&
      (asset.status === 'stale' || asset.status === 'missing' || asset.status === 'failed')
  );
  return dependencyOrder(todo);
}

/**
 * `assets` sorted so that every asset comes after its deps among them; otherwise in the
 * given (notebook) order. A cycle, which the server would have refused, keeps the given order.
 */
export function dependencyOrder(assets: IAsset[]): IAsset[] {
  const byKey = new Map(assets.map(asset => [asset.key, asset]));
  const placed = new Set<string>();
  const visiting = new Set<string>();
  const order: IAsset[] = [];
  const visit = (asset: IAsset): void => {
    if (placed.has(asset.key) || visiting.has(asset.key)) {
      return;
    }
    visiting.add(asset.key);
    for (const dep of asset.deps) {
      const upstream = byKey.get(dep);
      if (upstream) {
        visit(upstream);
      }
    }
    visiting.delete(asset.key);
    placed.add(asset.key);
    order.push(asset);
  };
  assets.forEach(visit);
  return order;
}
