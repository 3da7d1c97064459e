/**
 * The nbassets server routes, one typed function each.
 */

import { query, requestAPI } from './request';
import { IExportResult, ILineage, IOverview } from './tokens';

/** GET `assets`: the notebook's assets with their state (`path` is relative to the server root). */
export function getAssets(path: string): Promise<IOverview> {
  return requestAPI<IOverview>(`assets${query({ path })}`);
}

/** GET `lineage`: the notebook's assets as a graph. */
export function getLineage(path: string): Promise<ILineage> {
  return requestAPI<ILineage>(`lineage${query({ path })}`);
}

/** POST `export`: write the notebook's exported module(s). */
export function exportNotebook(path: string): Promise<IExportResult> {
  return requestAPI<IExportResult>('export', {
    method: 'POST',
    body: JSON.stringify({ path })
  });
}
