/**
 * The JSON payloads of the nbassets server API (`/nbassets/api/...`), as typed interfaces.
 *
 * They mirror `nbassets/overview.py`: GET `assets?path=` returns an {@link IOverview},
 * GET `lineage?path=` an {@link ILineage}, POST `export` an {@link IExportResult};
 * any error is an {@link IErrorPayload}. POST `assets` / `lineage` with an
 * {@link ILiveRequest} answer the same for the cells the editor holds (saved or not).
 */

import type { ILineageLayout } from './lineage';

/**
 * An asset's status; where several apply, corrupt > failed > check-failed > stale > fresh.
 * `orphaned`: a store holds it, but no notebook or module of the project defines it any more.
 */
export type AssetStatus =
  'fresh' | 'stale' | 'missing' | 'failed' | 'check-failed' | 'corrupt' | 'orphaned';

/** Where the current version read an input from: `prod`, `sandbox`, another env's name, or `''` (unknown). */
export type InputOrigin = string;

/** One upstream input of an asset, as its current version read it. */
export interface IAssetInput {
  key: string;
  origin: InputOrigin;
  data_version: string | null;
}

/** `pass`, `fail`, `warn` (a failed warn-severity check) or `error` (the check itself raised). */
export type CheckOutcome = 'pass' | 'fail' | 'warn' | 'error';

/** One check run against the asset's current data version. */
export interface ICheckResult {
  name: string;
  severity: 'error' | 'warn';
  outcome: CheckOutcome;
  message: string | null;
  failing_rows: number | null;
}

/**
 * A unit test's state for the tested asset's current code: the outcome of its latest run on
 * that code (`passed`, `failed`: an expectation did not hold, `error`: something raised), or
 * `not-run` when no run of that code is recorded.
 */
export type TestOutcome = 'passed' | 'failed' | 'error' | 'not-run';

/** One unit test of an asset's current code: a `%%test` cell here, or one another notebook recorded. */
export interface ITestState {
  /** The asset tested. */
  asset: string;
  /** The test's name (`--name`, else `test_<6 hex>` after its code). */
  name: string;
  /** The `%%test` cell of this notebook that declares it; null for another notebook's test. */
  cell_id: string | null;
  outcome: TestOutcome;
  /** The failure or error; for `not-run`, why (`not run for this code ...`, `never run`). */
  message: string;
  /** ISO 8601 time of the run counted (null for `not-run`). */
  at: string | null;
  /** The env whose catalog recorded that run. */
  env: string | null;
}

/** Production's version of an asset, and whether it was built from the notebook's current code. */
export interface IProdVersion {
  data_version: string;
  built_at: string | null;
  commit: string | null;
  same_code: boolean;
}

/** One asset of the notebook: defined by one of its `%%asset` cells, or only read by them. */
export interface IAsset {
  key: string;
  /** True when a cell of this notebook defines it; false for assets it only reads. */
  defined: boolean;
  cell_id: string | null;
  deps: string[];
  downstream: string[];
  checks: string[];
  status: AssetStatus;
  /** Why it is not fresh (`code changed`, `upstream 'orders' changed`, `never built`, ...). */
  reason: string;
  /** `status: reason`, or the status alone. */
  label: string;
  /** The env holding the current version (`prod` for inputs read from production). */
  env: string | null;
  data_version: string | null;
  code_version: string | null;
  rows: number | null;
  /** ISO 8601 end time of the current version's build. */
  built_at: string | null;
  commit: string | null;
  /** The last build's error, for `failed`. */
  error: string | null;
  inputs: IAssetInput[];
  check_results: ICheckResult[];
  prod: IProdVersion | null;
  /** Its unit tests: this notebook's `%%test` cells of it in cell order, then others by name. */
  tests: ITestState[];
}

/**
 * An asset the stores hold that no notebook or module of the project defines any more
 * (`nbassets gc --orphans` lists its files). Never fresh, never run.
 */
export interface IOrphan {
  key: string;
  status: 'orphaned';
  reason: string;
  label: string;
  /** The env holding its current version. */
  env: string | null;
  data_version: string | null;
  code_version: string | null;
  rows: number | null;
  built_at: string | null;
  commit: string | null;
  /** Where its current version was built: `notebooks/x.ipynb#cell`, a module, a script. */
  source: string | null;
}

/** GET /nbassets/api/assets?path=NOTEBOOK */
export interface IOverview {
  /** The notebook's path relative to the project. */
  notebook: string;
  /** The env whose sandbox is shown over production. */
  env: string;
  /** Defined assets in cell order, then the ones only read. */
  assets: IAsset[];
  /** The project's orphans, by key: listed apart from the notebook's assets. */
  orphaned: IOrphan[];
  /** Each `%%test` cell of the notebook (by cell id), with its test's state, in cell order. */
  tests: ITestState[];
}

/** A node of the lineage graph. */
export interface ILineageNode {
  key: string;
  status: AssetStatus;
  label: string;
  defined: boolean;
}

/** An edge of the lineage graph, with where the downstream's current version read the upstream. */
export interface ILineageEdge {
  upstream: string;
  downstream: string;
  origin: InputOrigin;
}

/** GET /nbassets/api/lineage?path=NOTEBOOK */
export interface ILineage {
  notebook: string;
  env: string;
  nodes: ILineageNode[];
  edges: ILineageEdge[];
  /** The drawing laid out by the server (`Lineage.geometry`); absent from older servers. */
  layout?: ILineageLayout;
}

/** POST /nbassets/api/export {path}: the files written and the ones already up to date. */
export interface IExportResult {
  written: string[];
  unchanged: string[];
  /** Generated test modules left by an earlier export of a notebook with no tests now. */
  removed?: string[];
}

/** A partition's state in a production strip: built from the current code, or not. */
export type PartitionState = 'built' | 'stale' | 'missing' | 'failed';

/** Consecutive complete partitions in one state (`first`..`last`, oldest first). */
export interface IPartitionRun {
  first: string;
  last: string;
  count: number;
  state: PartitionState;
}

/** A partitioned asset's complete partitions in an env, as runs. */
export interface IPartitionCoverage {
  /** `daily:2024-01-01`, `static:a,b`, ... */
  definition: string;
  complete: number;
  counts: Record<PartitionState, number>;
  strip: IPartitionRun[];
}

/** Why an asset with `--fresh` is late (nbassets/freshness.py `Late.as_dict`). */
export interface ILateness {
  key: string;
  /** `max_age=1d` */
  fresh: string;
  built_at: string | null;
  late_by_seconds: number | null;
  /** Late partitions as ranges (`2024-01-05..2024-01-07`). */
  partitions: string[];
  /** `late by 2h 5m (max_age=1h)`, or `never built (max_age=1h)`. */
  text: string;
}

/** One check result of an env's current version, with when it ran. */
export interface IHealthCheck extends ICheckResult {
  checked_at: string;
}

/** One asset's health in an env (GET `health`). */
export interface IAssetHealth {
  key: string;
  status: AssetStatus;
  reason: string;
  error: string | null;
  data_version: string | null;
  rows: number | null;
  /** ISO 8601 end of the current version's build (a partitioned asset: its newest partition). */
  built_at: string | null;
  commit: string | null;
  checks: IHealthCheck[];
  late: ILateness | null;
  partitions: IPartitionCoverage | null;
}

/** GET /nbassets/api/health?path=NOTEBOOK[&env=prod]: every asset of the project in an env. */
export interface IHealth {
  env: string;
  /** Where the code came from: `package pipelines`, `notebooks`. */
  code: string;
  /** The server's "now" (ISO 8601), which lateness and complete partitions are judged at. */
  now: string;
  assets: IAssetHealth[];
}

/** The body of any error answer of the API. */
export interface IErrorPayload {
  message: string;
}

/** One cell as the editor holds it now (saved or not), sent with POST `assets` / `lineage`. */
export interface ILiveCell {
  id: string;
  cell_type: string;
  source: string;
  tags: string[];
}

/** What a read asks about: the notebook, its current cells and the env to show. */
export interface IReadQuery {
  /** The notebook, relative to the server root. */
  path: string;
  /** The editor's cells; null reads the notebook file as saved. */
  cells: ILiveCell[] | null;
  /** The env to show; null for the user's default sandbox. */
  env: string | null;
}

/** The body of POST `assets` / `lineage` (see nbassets/server/livecells.py). */
export interface ILiveRequest {
  path: string;
  cells: ILiveCell[];
  env?: string;
}

/** The comm target of the channel from the kernel to the panel (nbassets/comm.py). */
export const COMM_TARGET = 'nbassets';

/** The kernel's `state` message on the `nbassets` comm: the env it builds into, its project. */
export interface IKernelState {
  type: 'state';
  version: number;
  env: string;
  project: string;
}

/** A comm message's data as a {@link IKernelState}, or null for any other (or unknown) type. */
export function kernelState(data: unknown): IKernelState | null {
  if (typeof data !== 'object' || data === null) {
    return null;
  }
  const message = data as Partial<IKernelState>;
  if (message.type !== 'state' || typeof message.env !== 'string' || !message.env) {
    return null;
  }
  return {
    type: 'state',
    version: typeof message.version === 'number' ? message.version : 1,
    env: message.env,
    project: typeof message.project === 'string' ? message.project : ''
  };
}
