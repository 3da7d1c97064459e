/**
 * `AssetsPanel`: the left-sidebar widget listing the active notebook's assets, with its buttons.
 */

import { Notification } from '@jupyterlab/apputils';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { refreshIcon, runIcon } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { exportNotebook } from './api';
import { findAssetCell, runAssetCells, selectCell } from './cells';
import { button, element } from './dom';
import { exportSummary, orphansHeading } from './format';
import { healthSummary } from './health';
import { assetsIcon } from './icon';
import { LineageView } from './lineage';
import { AssetsModel } from './model';
import { staleInBuildOrder } from './order';
import { healthRow } from './production';
import { assetRow, orphanRow } from './rows';
import { IAsset } from './tokens';

export interface IAssetsPanelOptions {
  model: AssetsModel;
  tracker: INotebookTracker;
  /** Bring a notebook to the front (the shell's `activateById`). */
  activate: (panel: NotebookPanel) => void;
}

export class AssetsPanel extends Widget {
  constructor(options: IAssetsPanelOptions) {
    super();
    this._model = options.model;
    this._tracker = options.tracker;
    this._activate = options.activate;
    this.id = 'nbassets-assets';
    this.addClass('nbassets-Panel');
    this.title.icon = assetsIcon;
    this.title.caption = 'Assets';

    const header = this.node.appendChild(element('header', 'nbassets-Header'));
    header.appendChild(element('h2', 'nbassets-Title', 'Assets'));
    this._context = header.appendChild(element('div', 'nbassets-Context'));
    this._env = header.appendChild(element('div', 'nbassets-Context nbassets-Env'));
    const toolbar = header.appendChild(element('div', 'nbassets-Toolbar'));
    this._refreshButton = toolbar.appendChild(button('', refreshIcon, 'Refresh now'));
    this._runStaleButton = toolbar.appendChild(
      button(
        'Run stale',
        runIcon,
        'Run the cells of stale, missing and failed assets, upstream first'
      )
    );
    this._exportButton = toolbar.appendChild(
      button(
        'Export',
        null,
        'Save the notebook and write its assets as a Python module (nbassets export)'
      )
    );
    this._refreshButton.classList.add('nbassets-RefreshButton');
    this._runStaleButton.classList.add('nbassets-RunStaleButton');
    this._exportButton.classList.add('nbassets-ExportButton');
    this._refreshButton.addEventListener('click', () => this._model.refresh());
    this._runStaleButton.addEventListener('click', () => void this._runStale());
    this._exportButton.addEventListener('click', () => void this._export());

    const views = header.appendChild(element('div', 'nbassets-Views'));
    views.setAttribute('role', 'tablist');
    this._sandboxTab = views.appendChild(
      viewTab('Sandbox', "This notebook's assets in your sandbox (over production)")
    );
    this._productionTab = views.appendChild(
      viewTab('Production', "Production's health: every asset of the project")
    );
    this._sandboxTab.addEventListener('click', () => this._show('sandbox'));
    this._productionTab.addEventListener('click', () => this._show('production'));

    this._message = this.node.appendChild(element('div', 'nbassets-Message'));
    this._defined = this.node.appendChild(element('ul', 'nbassets-List nbassets-DefinedList'));
    this._reads = this.node.appendChild(element('section', 'nbassets-Reads'));
    this._reads.appendChild(element('h3', 'nbassets-SectionTitle', 'Reads'));
    this._readsList = this._reads.appendChild(element('ul', 'nbassets-List nbassets-ReadsList'));
    this._orphans = this.node.appendChild(element('section', 'nbassets-Orphans'));
    this._orphansTitle = this._orphans.appendChild(element('h3', 'nbassets-SectionTitle'));
    this._orphans.appendChild(
      element(
        'div',
        'nbassets-Hint',
        'Stored, but no notebook or module of the project defines them any more. ' +
          '`nbassets gc --orphans` lists their files.'
      )
    );
    this._orphansList = this._orphans.appendChild(
      element('ul', 'nbassets-List nbassets-OrphansList')
    );

    this._production = this.node.appendChild(element('section', 'nbassets-Production'));
    this._productionSummary = this._production.appendChild(
      element('div', 'nbassets-Hint nbassets-ProductionSummary')
    );
    this._productionList = this._production.appendChild(
      element('ul', 'nbassets-List nbassets-ProductionList')
    );

    this._lineageSection = this.node.appendChild(element('details', 'nbassets-LineageSection'));
    this._lineageSection.appendChild(element('summary', 'nbassets-SectionTitle', 'Lineage'));
    this._lineageView = new LineageView(key => void this._select(key));
    this._lineageSection.appendChild(this._lineageView.node);
    this._lineageSection.open = lineageOpen.get() === 'true';
    this._model.lineageWanted = this._lineageSection.open;
    this._lineageSection.addEventListener('toggle', () => {
      lineageOpen.set(String(this._lineageSection.open));
      this._model.lineageWanted = this._lineageSection.open;
      this._render();
    });

    this._view = shownView.get() === 'production' ? 'production' : 'sandbox';
    this._model.productionWanted = this._view === 'production';
    this._model.changed.connect(this._render, this);
    this._render();
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._model.changed.disconnect(this._render, this);
    this._lineageView.dispose();
    super.dispose();
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this._model.refresh();
  }

  private _render(): void {
    const model = this._model;
    const overview = model.overview;
    const assets = overview?.assets ?? [];
    const defined = assets.filter(asset => asset.defined);
    const reads = assets.filter(asset => !asset.defined);

    this._context.textContent = model.path ?? '';
    this._context.title = model.path ?? '';
    const production = this._view === 'production';
    // the sandbox's env; production's view names its env in its summary line
    this._env.textContent = overview && !production ? `env ${overview.env}` : '';
    this._message.textContent = this._messageText(defined.length);
    this._message.classList.toggle('nbassets-mod-error', model.error !== null);

    const stale = staleInBuildOrder(assets).length;
    this._runStaleButton.disabled = stale === 0 || this._busy;
    this._runStaleButton.title = stale
      ? `Run ${stale} stale, missing or failed asset cell(s), upstream first`
      : 'Every asset is fresh';
    this._exportButton.disabled = model.path === null || defined.length === 0 || this._busy;
    this._refreshButton.disabled = model.path === null;

    const actions = {
      select: (asset: IAsset) => void this._select(asset.key),
      run: (asset: IAsset) => void this._run(asset)
    };
    this._sandboxTab.setAttribute('aria-selected', String(!production));
    this._productionTab.setAttribute('aria-selected', String(production));
    this._defined.hidden = production;
    this._defined.replaceChildren(...defined.map(asset => assetRow(asset, actions)));
    this._readsList.replaceChildren(...reads.map(asset => assetRow(asset, actions)));
    this._reads.hidden = production || reads.length === 0;
    const orphans = overview?.orphaned ?? [];
    this._orphansTitle.textContent = orphansHeading(orphans);
    this._orphansList.replaceChildren(...orphans.map(orphanRow));
    this._orphans.hidden = production || orphans.length === 0;

    this._production.hidden = !production;
    const health = production ? model.health : null;
    this._productionSummary.textContent = health
      ? `${healthSummary(health)} · code: ${health.code}`
      : production && model.path !== null && model.error === null
        ? 'Loading…'
        : '';
    this._productionList.replaceChildren(...(health?.assets ?? []).map(healthRow));

    this._lineageSection.hidden = production || assets.length === 0;
    const open = this._lineageSection.open && !production;
    this._lineageView.update(open ? model.lineage : null, open ? 'Loading…' : '');
  }

  /** Show the sandbox or production's health (kept across reloads). */
  private _show(view: View): void {
    this._view = view;
    shownView.set(view);
    this._model.productionWanted = view === 'production';
    this._render();
  }

  private _messageText(defined: number): string {
    const model = this._model;
    if (model.error !== null) {
      return model.error;
    }
    if (model.path === null) {
      return 'Open a notebook to see its assets.';
    }
    if (model.loading) {
      return 'Loading…';
    }
    if (defined === 0 && this._view === 'sandbox') {
      return 'This notebook defines no %%asset cells.';
    }
    return '';
  }

  private _notebook(): NotebookPanel | null {
    const panel = this._tracker.currentWidget;
    return panel && panel.context.localPath === this._model.path ? panel : null;
  }

  private async _select(key: string): Promise<void> {
    const panel = this._notebook();
    const asset = this._model.overview?.assets.find(a => a.key === key);
    if (!panel || !asset) {
      return;
    }
    const index = findAssetCell(panel, asset);
    if (index < 0) {
      Notification.warning(
        `No cell of ${panel.context.localPath} defines asset '${key}' any more.`
      );
      return;
    }
    this._activate(panel);
    await selectCell(panel, index);
  }

  private async _run(asset: IAsset): Promise<void> {
    const panel = this._notebook();
    if (!panel) {
      return;
    }
    const index = findAssetCell(panel, asset);
    if (index < 0) {
      Notification.warning(
        `No cell of ${panel.context.localPath} defines asset '${asset.key}' any more.`
      );
      return;
    }
    await selectCell(panel, index);
    await runAssetCells(panel, [asset]);
  }

  private async _runStale(): Promise<void> {
    const panel = this._notebook();
    const assets = this._model.overview?.assets;
    if (!panel || !assets) {
      return;
    }
    await this._whileBusy(() => runAssetCells(panel, staleInBuildOrder(assets)));
  }

  private async _export(): Promise<void> {
    const panel = this._notebook();
    if (!panel) {
      return;
    }
    const path = panel.context.localPath;
    await this._whileBusy(async () => {
      try {
        if (panel.context.model.dirty) {
          await panel.context.save(); // export reads the file on disk
        }
        Notification.success(exportSummary(path, await exportNotebook(path)), { autoClose: 5000 });
      } catch (error) {
        Notification.error(
          `Export of ${path} failed: ${error instanceof Error ? error.message : String(error)}`,
          { autoClose: false }
        );
      }
    });
    this._model.refresh();
  }

  private async _whileBusy<T>(work: () => Promise<T>): Promise<T> {
    this._busy = true;
    this._render();
    try {
      return await work();
    } finally {
      this._busy = false;
      this._render();
    }
  }

  private readonly _model: AssetsModel;
  private readonly _tracker: INotebookTracker;
  private readonly _activate: (panel: NotebookPanel) => void;
  private readonly _context: HTMLElement;
  private readonly _env: HTMLElement;
  private readonly _refreshButton: HTMLButtonElement;
  private readonly _runStaleButton: HTMLButtonElement;
  private readonly _exportButton: HTMLButtonElement;
  private readonly _message: HTMLElement;
  private readonly _defined: HTMLElement;
  private readonly _reads: HTMLElement;
  private readonly _readsList: HTMLElement;
  private readonly _orphans: HTMLElement;
  private readonly _orphansTitle: HTMLElement;
  private readonly _orphansList: HTMLElement;
  private readonly _sandboxTab: HTMLButtonElement;
  private readonly _productionTab: HTMLButtonElement;
  private readonly _production: HTMLElement;
  private readonly _productionSummary: HTMLElement;
  private readonly _productionList: HTMLElement;
  private _view: View = 'sandbox';
  private readonly _lineageSection: HTMLDetailsElement;
  private readonly _lineageView: LineageView;
  private _busy = false;
}

type View = 'sandbox' | 'production';

/** A tab of the view switch (`aria-selected` says which is shown). */
function viewTab(label: string, title: string): HTMLButtonElement {
  const tab = element('button', 'nbassets-ViewTab', label);
  tab.type = 'button';
  tab.title = title;
  tab.setAttribute('role', 'tab');
  tab.dataset.view = label.toLowerCase();
  return tab;
}

/** A value kept across reloads (localStorage, under this extension's key). */
function stored(key: string): { get(): string | null; set(value: string): void } {
  return {
    get(): string | null {
      try {
        return window.localStorage.getItem(key);
      } catch {
        return null; // storage disabled: the default
      }
    },
    set(value: string): void {
      try {
        window.localStorage.setItem(key, value);
      } catch {
        // storage disabled: the value lasts until the page reloads
      }
    }
  };
}

/** Whether the Lineage section is open. */
const lineageOpen = stored('nbassets:lineage-open');
/** Which view the panel shows: `sandbox` or `production`. */
const shownView = stored('nbassets:view');
