/**
 * The order "Run stale" runs cells in: upstream before downstream, otherwise notebook order.
 *
 * Pure (no JupyterLab imports), so that `node --test` runs it as compiled.
 */

import { IAsset } from './tokens';

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
export function dependencyOrder<T extends Pick<IAsset, 'key' | 'deps'>>(assets: T[]): T[] {
  const byKey = new Map(assets.map(asset => [asset.key, asset]));
  const placed = new Set<string>();
  const visiting = new Set<string>();
  const order: T[] = [];
  const visit = (asset: T): void => {
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
