/**
 * The nbassets server routes, one typed function each.
 *
 * Reads (`assets`, `lineage`) send the editor's current cells with a POST when the model has
 * them, so an edit shows before it is saved; without cells, or past {@link MAX_LIVE_BYTES},
 * they GET the notebook file as saved.
 */

import { query, requestAPI } from './request';
import {
  IExportResult,
  IHealth,
  ILineage,
  ILiveCell,
  ILiveRequest,
  IOverview,
  IReadQuery
} from './tokens';

/** The largest body sent with the cells (the server refuses more than 5 MB). */
export const MAX_LIVE_BYTES = 4 * 1024 * 1024;

/** A cell of the notebook model, as much of it as {@link liveCells} reads. */
export interface ICellLike {
  id: string;
  type: string;
  source: string;
  tags?: unknown;
}

/** The code cells to send: markdown and raw cells define no asset, so they are left out. */
export function liveCells(cells: Iterable<ICellLike>): ILiveCell[] {
  const live: ILiveCell[] = [];
  for (const cell of cells) {
    if (cell.type !== 'code') {
      continue;
    }
    const tags = Array.isArray(cell.tags)
      ? cell.tags.filter((tag): tag is string => typeof tag === 'string')
      : [];
    live.push({ id: cell.id, cell_type: 'code', source: cell.source, tags });
  }
  return live;
}

/** The request of a read: a POST with the cells, or a GET of the file as saved. */
export function readRequest(
  endPoint: string,
  read: IReadQuery,
  maxBytes = MAX_LIVE_BYTES
): { endPoint: string; init: RequestInit } {
  const env: Record<string, string> = read.env ? { env: read.env } : {};
  if (read.cells !== null) {
    const live: ILiveRequest = { path: read.path, cells: read.cells, ...env };
    const body = JSON.stringify(live);
    if (new TextEncoder().encode(body).length <= maxBytes) {
      return { endPoint, init: { method: 'POST', body } };
    }
  }
  return { endPoint: `${endPoint}${query({ path: read.path, ...env })}`, init: {} };
}

/** The notebook's assets with their state. */
export function getAssets(read: IReadQuery): Promise<IOverview> {
  const { endPoint, init } = readRequest('assets', read);
  return requestAPI<IOverview>(endPoint, init);
}

/** The notebook's assets as a graph. */
export function getLineage(read: IReadQuery): Promise<ILineage> {
  const { endPoint, init } = readRequest('lineage', read);
  return requestAPI<ILineage>(endPoint, init);
}

/** The health of every asset of the notebook's project in `env` (default: production). */
export function getHealth(path: string, env: string | null = null): Promise<IHealth> {
  return requestAPI<IHealth>(`health${query(env ? { path, env } : { path })}`);
}

/** POST `export`: write the notebook's exported module(s). */
export function exportNotebook(path: string): Promise<IExportResult> {
  return requestAPI<IExportResult>('export', {
    method: 'POST',
    body: JSON.stringify({ path })
  });
}
