/**
 * The notebook side of an asset: find its `%%asset` cell, select it, run it.
 *
 * What a cell is (its kind and key) is decided by the pure detect.ts; the order "Run stale"
 * runs cells in, by order.ts.
 */

import { Cell } from '@jupyterlab/cells';
import { NotebookActions, NotebookPanel } from '@jupyterlab/notebook';

import { assetKeyOfSource } from './detect';
import { IAsset } from './tokens';

/** The key a code cell defines when it is an `%%asset KEY ...` cell (see detect.ts), else null. */
export function assetKeyOf(cell: Cell): string | null {
  if (cell.model.type !== 'code') {
    return null;
  }
  return assetKeyOfSource(cell.model.sharedModel.getSource());
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
