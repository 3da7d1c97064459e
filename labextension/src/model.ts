/**
 * `AssetsModel`: the state the Assets panel shows for one notebook, and its throttled refresh.
 */

import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import { getAssets, getHealth, getLineage } from './api';
import { Throttle } from './scheduler';
import { IHealth, ILineage, ILiveCell, IOverview, IReadQuery } from './tokens';

/** Reads the editor's current cells when a refresh runs (null: ask for the file as saved). */
export type CellSource = () => ILiveCell[];

/** The state of one notebook's assets, refreshed from the server on request. */
export class AssetsModel implements IDisposable {
  constructor(intervalMs = 1000) {
    this._throttle = new Throttle(() => this._fetch(), intervalMs);
  }

  /** The notebook shown (relative to the server root), or null when none is active. */
  get path(): string | null {
    return this._path;
  }

  /** The latest assets payload of {@link path}, or null before the first answer. */
  get overview(): IOverview | null {
    return this._overview;
  }

  /** The latest lineage payload, fetched only while {@link lineageWanted} is true. */
  get lineage(): ILineage | null {
    return this._lineage;
  }

  /** Production's health (every asset of the project), fetched while {@link productionWanted}. */
  get health(): IHealth | null {
    return this._health;
  }

  /** Whether refreshes also fetch production's health (the production view is shown). */
  get productionWanted(): boolean {
    return this._productionWanted;
  }

  set productionWanted(value: boolean) {
    if (value === this._productionWanted) {
      return;
    }
    this._productionWanted = value;
    if (value) {
      this.refresh();
    }
  }

  /** The last refresh's error, for the user; null when it succeeded. */
  get error(): string | null {
    return this._error;
  }

  /** True until the first answer for the current notebook arrives. */
  get loading(): boolean {
    return this._path !== null && this._overview === null && this._error === null;
  }

  /** Emitted whenever any of the above changes. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** Whether refreshes also fetch the lineage (the lineage view is open). */
  get lineageWanted(): boolean {
    return this._lineageWanted;
  }

  set lineageWanted(value: boolean) {
    if (value === this._lineageWanted) {
      return;
    }
    this._lineageWanted = value;
    if (value) {
      this.refresh();
    }
  }

  /** The env shown (the kernel's, when it said so); null for the default sandbox. */
  get env(): string | null {
    return this._env;
  }

  set env(value: string | null) {
    if (value === this._env) {
      return;
    }
    this._env = value;
    this.refresh();
  }

  /**
   * Show another notebook (or none): clears the state and refreshes. `cells` reads the
   * notebook's current cells at each refresh, so edits show before they are saved.
   */
  setNotebook(path: string | null, cells: CellSource | null = null): void {
    this._cells = cells;
    if (path === this._path) {
      return;
    }
    this._path = path;
    this._overview = null;
    this._lineage = null;
    this._health = null;
    this._error = null;
    this._changed.emit();
    this.refresh();
  }

  /** Ask for fresh data; coalesced and throttled, at most one request in flight. */
  refresh(): void {
    if (this._path !== null) {
      this._throttle.request();
    }
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this._throttle.dispose();
    Signal.clearData(this);
  }

  private async _fetch(): Promise<void> {
    const path = this._path;
    if (path === null || this._disposed) {
      return;
    }
    try {
      const read: IReadQuery = {
        path,
        cells: this._cells ? this._cells() : null,
        env: this._env
      };
      const overview = await getAssets(read);
      const lineage = this._lineageWanted ? await getLineage(read) : this._lineage;
      const health = this._productionWanted ? await getHealth(path) : this._health;
      if (path !== this._path) {
        return; // the user moved to another notebook meanwhile
      }
      this._overview = overview;
      this._lineage = lineage;
      this._health = health;
      this._error = null;
    } catch (error) {
      if (path !== this._path) {
        return;
      }
      this._error = error instanceof Error ? error.message : String(error);
    }
    if (!this._disposed) {
      this._changed.emit();
    }
  }

  private _path: string | null = null;
  private _cells: CellSource | null = null;
  private _env: string | null = null;
  private _overview: IOverview | null = null;
  private _lineage: ILineage | null = null;
  private _error: string | null = null;
  private _health: IHealth | null = null;
  private _lineageWanted = false;
  private _productionWanted = false;
  private _disposed = false;
  private readonly _throttle: Throttle;
  private readonly _changed = new Signal<this, void>(this);
}
