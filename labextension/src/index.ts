/**
 * The nbassets JupyterLab plugin: the Assets panel in the left sidebar, following the active notebook.
 */

import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { INotebookTracker } from '@jupyterlab/notebook';

import { AssetsModel } from './model';
import { AssetsPanel } from './panel';
import { NotebookWatcher } from './watcher';

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'nbassets:plugin',
  description: "The Assets panel: status, lineage, run and export of a notebook's %%asset cells.",
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    restorer: ILayoutRestorer | null
  ): void => {
    const model = new AssetsModel();
    const panel = new AssetsPanel({
      model,
      tracker,
      activate: notebook => app.shell.activateById(notebook.id)
    });
    app.shell.add(panel, 'left', { rank: 650 });
    restorer?.add(panel, panel.id);
    const watcher = new NotebookWatcher(tracker, model);
    panel.disposed.connect(() => {
      watcher.dispose();
      model.dispose();
    });
  }
};

export default plugin;
