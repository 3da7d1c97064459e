/**
 * `NotebookWatcher`: follows the active notebook, and says when its assets may have changed.
 *
 * The model shows the notebook that `INotebookTracker.currentWidget` holds and refreshes after
 * every cell execution in it, whenever it is saved, and when it is renamed; the watcher also
 * keeps the badges of that notebook's `%%asset` cells in step with the model.
 */

import { DocumentRegistry } from '@jupyterlab/docregistry';
import { INotebookTracker, Notebook, NotebookActions, NotebookPanel } from '@jupyterlab/notebook';
import { Cell } from '@jupyterlab/cells';
import { IDisposable } from '@lumino/disposable';
import { Signal } from '@lumino/signaling';

import { clearBadges, updateBadges } from './badges';
import { AssetsModel } from './model';

export class NotebookWatcher implements IDisposable {
  constructor(
    private readonly tracker: INotebookTracker,
    private readonly model: AssetsModel
  ) {
    tracker.currentChanged.connect(this._onCurrentChanged, this);
    NotebookActions.executed.connect(this._onExecuted, this);
    model.changed.connect(this._onModelChanged, this);
    this._follow(tracker.currentWidget);
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this._follow(null);
    Signal.disconnectReceiver(this);
  }

  private _onCurrentChanged(_: INotebookTracker, panel: NotebookPanel | null): void {
    this._follow(panel);
  }

  private _follow(panel: NotebookPanel | null): void {
    const old = this._panel;
    if (old === panel) {
      return;
    }
    if (old) {
      old.context.saveState.disconnect(this._onSaveState, this);
      old.context.pathChanged.disconnect(this._onPathChanged, this);
      old.disposed.disconnect(this._onDisposed, this);
      if (!old.isDisposed) {
        clearBadges(old);
      }
    }
    this._panel = panel;
    if (panel) {
      panel.context.saveState.connect(this._onSaveState, this);
      panel.context.pathChanged.connect(this._onPathChanged, this);
      panel.disposed.connect(this._onDisposed, this);
    }
    this.model.setNotebook(panel ? panel.context.localPath : null);
  }

  private _onExecuted(_: unknown, args: { notebook: Notebook; cell: Cell }): void {
    if (this._panel && args.notebook === this._panel.content) {
      this.model.refresh();
    }
  }

  private _onSaveState(
    _: DocumentRegistry.IContext<DocumentRegistry.IModel>,
    state: DocumentRegistry.SaveState
  ): void {
    if (state === 'completed') {
      this.model.refresh();
    }
  }

  private _onPathChanged(): void {
    if (this._panel) {
      this.model.setNotebook(this._panel.context.localPath);
    }
  }

  private _onDisposed(): void {
    this._follow(this.tracker.currentWidget === this._panel ? null : this.tracker.currentWidget);
  }

  private _onModelChanged(): void {
    const panel = this._panel;
    if (panel && !panel.isDisposed && this.model.path === panel.context.localPath) {
      updateBadges(panel, this.model.overview);
    }
  }

  private _panel: NotebookPanel | null = null;
  private _disposed = false;
}
