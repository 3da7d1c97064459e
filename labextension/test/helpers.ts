/**
 * Payload builders shared by the tests.
 */

import { AssetStatus, IAsset } from '../src/tokens';

/** An asset of the `assets` payload with the given key and deps; the rest filled in. */
export function asset(
  key: string,
  deps: string[] = [],
  status: AssetStatus = 'fresh',
  defined = true
): IAsset {
  return {
    key,
    defined,
    cell_id: defined ? `cell-${key}` : null,
    deps,
    downstream: [],
    checks: [],
    status,
    reason: '',
    label: status,
    env: 'dev',
    data_version: null,
    code_version: null,
    rows: null,
    built_at: null,
    commit: null,
    error: null,
    inputs: [],
    check_results: [],
    prod: null,
    tests: []
  };
}

/** The keys of `assets`, in order. */
export function keys(assets: { key: string }[]): string[] {
  return assets.map(item => item.key);
}
