/**
 * `NotebookWatcher`: follows the active notebook, and says when its assets may have changed.
 *
 * The model shows the notebook that `INotebookTracker.currentWidget` holds, with the cells its
 * editor holds now (saved or not), and refreshes after every cell execution in it, whenever it
 * is saved or renamed, and {@link EDIT_DELAY_MS} after its cells stop changing; the watcher
 * also keeps the badges of that notebook's `%%asset` cells in step with the model.
 *
 * It listens to the notebook's kernel on the `nbassets` comm (nbassets/comm.py): it opens one
 * when the kernel connects and accepts the one the kernel opens at `%load_ext nbassets`; each
 * `state` message sets the env the model shows (`%nbassets env NAME`). A new or restarted
 * kernel starts from the default env again.
 */

import { DocumentRegistry } from '@jupyterlab/docregistry';
import { INotebookTracker, Notebook, NotebookActions, NotebookPanel } from '@jupyterlab/notebook';
import { Cell } from '@jupyterlab/cells';
import { ISessionContext } from '@jupyterlab/apputils';
import { Kernel, KernelMessage } from '@jupyterlab/services';
import { IDisposable } from '@lumino/disposable';
import { Signal } from '@lumino/signaling';

import { liveCells } from './api';
import { clearBadges, updateBadges } from './badges';
import { AssetsModel, CellSource } from './model';
import { COMM_TARGET, kernelState } from './tokens';

/** How long the cells must rest after an edit before the panel asks again. */
export const EDIT_DELAY_MS = 750;

/** The current cells of a notebook panel's model, read when called. */
export function editorCells(panel: NotebookPanel): CellSource {
  return () => {
    const cells = panel.content.model?.cells;
    if (!cells || panel.isDisposed) {
      return [];
    }
    return liveCells(
      Array.from(cells, cell => ({
        id: cell.id,
        type: cell.type,
        source: cell.sharedModel.getSource(),
        tags: cell.getMetadata('tags')
      }))
    );
  };
}

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
    this._clearEditTimer();
    this._follow(null);
    this._listen(null);
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
      old.context.model.contentChanged.disconnect(this._onEdited, this);
      old.sessionContext.kernelChanged.disconnect(this._onKernelChanged, this);
      old.sessionContext.statusChanged.disconnect(this._onKernelStatus, this);
      this._clearEditTimer();
      if (!old.isDisposed) {
        clearBadges(old);
      }
    }
    this._panel = panel;
    if (panel) {
      panel.context.saveState.connect(this._onSaveState, this);
      panel.context.pathChanged.connect(this._onPathChanged, this);
      panel.disposed.connect(this._onDisposed, this);
      panel.context.model.contentChanged.connect(this._onEdited, this);
      panel.sessionContext.kernelChanged.connect(this._onKernelChanged, this);
      panel.sessionContext.statusChanged.connect(this._onKernelStatus, this);
    }
    this._listen(panel?.sessionContext.session?.kernel ?? null);
    this.model.setNotebook(
      panel ? panel.context.localPath : null,
      panel ? editorCells(panel) : null
    );
  }

  private _onKernelChanged(
    _: ISessionContext,
    change: { newValue: Kernel.IKernelConnection | null }
  ): void {
    this._listen(change.newValue);
  }

  private _onKernelStatus(_: ISessionContext, status: Kernel.Status): void {
    if (status === 'restarting' || status === 'autorestarting') {
      this.model.env = null; // a new process: the default env until it says otherwise
    }
  }

  /** Listen to `kernel` on the `nbassets` comm (and stop listening to the previous one). */
  private _listen(kernel: Kernel.IKernelConnection | null): void {
    if (kernel === this._kernel) {
      return;
    }
    if (this._kernel && !this._kernel.isDisposed) {
      this._kernel.removeCommTarget(COMM_TARGET, this._onCommOpened);
    }
    if (this._comm && !this._comm.isDisposed) {
      try {
        this._comm.close(); // the kernel stops sending on it
      } catch {
        this._comm.dispose(); // the kernel is gone already
      }
    }
    this._comm = null;
    this._kernel = kernel;
    this.model.env = null;
    if (!kernel) {
      return;
    }
    kernel.registerCommTarget(COMM_TARGET, this._onCommOpened);
    try {
      const comm = kernel.createComm(COMM_TARGET);
      comm.onMsg = msg => this._onState(kernel, msg.content.data);
      comm.open({});
      this._comm = comm;
    } catch (error) {
      console.warn('nbassets: cannot open the comm to the kernel', error);
    }
  }

  /** The kernel opened the comm (at `%load_ext nbassets`): its open message holds the state. */
  private readonly _onCommOpened = (comm: Kernel.IComm, msg: KernelMessage.ICommOpenMsg): void => {
    const kernel = this._kernel;
    if (!kernel) {
      return;
    }
    comm.onMsg = message => this._onState(kernel, message.content.data);
    this._onState(kernel, msg.content.data);
  };

  private _onState(kernel: Kernel.IKernelConnection, data: unknown): void {
    const state = kernelState(data);
    if (state && kernel === this._kernel) {
      this.model.env = state.env;
    }
  }

  /** Cells changed (typing, pasting, adding, deleting): refresh once they rest. */
  private _onEdited(): void {
    this._clearEditTimer();
    this._editTimer = setTimeout(() => {
      this._editTimer = null;
      this.model.refresh();
    }, EDIT_DELAY_MS);
  }

  private _clearEditTimer(): void {
    if (this._editTimer !== null) {
      clearTimeout(this._editTimer);
      this._editTimer = null;
    }
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
      this.model.setNotebook(this._panel.context.localPath, editorCells(this._panel));
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
  private _editTimer: ReturnType<typeof setTimeout> | null = null;
  private _kernel: Kernel.IKernelConnection | null = null;
  private _comm: Kernel.IComm | null = null;
  private _disposed = false;
}
