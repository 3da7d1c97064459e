/**
 * The lineage view: the drawing `%lineage` shows, laid out once by the server (the same Python
 * code, `Lineage.geometry`, sent as `layout` in GET `lineage`), drawn as SVG with DOM calls.
 * It fits the panel's width (never smaller than readable: then it pans), zooms and pans.
 */

import { ILineage } from './tokens';

const SVG_NS = 'http://www.w3.org/2000/svg';

/** The zoom range of the buttons and Ctrl+wheel, and the step of one click. */
export const MIN_ZOOM = 0.25;
export const MAX_ZOOM = 3;
const STEP = 1.25;
/** Fitting never shrinks text below this (13 px names stay about 10 px): beyond, it pans. */
export const READABLE_ZOOM = 0.75;
/** Fitting never blows a small graph up beyond this. */
export const MAX_FIT_ZOOM = 1.25;

/** A text of the drawing: its baseline's anchor point, size in px and anchor. */
export interface ILineageLabel {
  text: string;
  kind: 'name' | 'sub' | 'origin';
  x: number;
  y: number;
  size: number;
  anchor: 'start' | 'middle' | 'end';
}

/** A node's box (top left, size), its hover title and its labels. */
export interface ILaidOutNode {
  key: string;
  status: string;
  x: number;
  y: number;
  width: number;
  height: number;
  title: string;
  labels: ILineageLabel[];
}

/** An edge's SVG path data; `reverse`: the arrow points at the path's start. */
export interface ILaidOutEdge {
  upstream: string;
  downstream: string;
  origin: string;
  path: string;
  reverse: boolean;
  labels: ILineageLabel[];
}

/** The server's layout of the lineage (`Lineage.geometry` in nbassets/render/lineage.py). */
export interface ILineageLayout {
  width: number;
  height: number;
  nodes: ILaidOutNode[];
  edges: ILaidOutEdge[];
}

/** The layout the server sent with `lineage`, or null when it sent none (an older server). */
export function layoutOf(lineage: ILineage): ILineageLayout | null {
  const layout = lineage.layout;
  return layout && Array.isArray(layout.nodes) && Array.isArray(layout.edges) ? layout : null;
}

/**
 * The zoom that fits a drawing `width` px wide into `available` px: as large as fits, but not
 * below {@link READABLE_ZOOM} (then the view pans) nor above {@link MAX_FIT_ZOOM}.
 */
export function fitZoom(available: number, width: number): number {
  if (!(width > 0) || !(available > 0)) {
    return 1;
  }
  return Math.min(MAX_FIT_ZOOM, Math.max(READABLE_ZOOM, available / width));
}

/** `zoom` one step in (`direction` 1) or out (-1), within the zoom range. */
export function stepZoom(zoom: number, direction: 1 | -1): number {
  return clampZoom(direction > 0 ? zoom * STEP : zoom / STEP);
}

export function clampZoom(zoom: number): number {
  return Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, zoom));
}

/** A node's hover text: the full name and label, and whether this notebook defines it. */
export function nodeTitle(node: ILaidOutNode, defined: boolean): string {
  return defined ? node.title : `${node.title} (read, not defined here)`;
}

/** The lineage drawn as an `<svg>` at its natural size; a click on a defined asset calls `onSelect`. */
export function renderLineage(
  lineage: ILineage,
  layout: ILineageLayout,
  onSelect: (key: string) => void
): SVGSVGElement {
  const { width, height } = layout;
  const svg = svgElement('svg', {
    class: 'nbassets-Lineage',
    viewBox: `0 0 ${width} ${height}`,
    width: String(width),
    height: String(height),
    role: 'img'
  });
  svg.appendChild(svgElement('title')).textContent = `Lineage of ${lineage.notebook}`;
  const markerId = `nbassets-arrow-${++arrowCount}`;
  svg.appendChild(arrowMarker(markerId));
  const edges = svg.appendChild(svgElement('g', { class: 'nbassets-Lineage-edges' }));
  for (const edge of layout.edges) {
    edges.appendChild(edgePath(edge, markerId));
  }
  const defined = new Set(lineage.nodes.filter(node => node.defined).map(node => node.key));
  const nodes = svg.appendChild(svgElement('g', { class: 'nbassets-Lineage-nodes' }));
  for (const node of layout.nodes) {
    nodes.appendChild(nodeBox(node, defined.has(node.key), onSelect));
  }
  return svg;
}

/**
 * The lineage in a scrolling viewport: fitted to its width (and refitted when the panel is
 * resized) until the user zooms; zoom with the buttons or Ctrl+wheel, pan by dragging.
 */
export class LineageView {
  constructor(onSelect: (key: string) => void) {
    this._onSelect = onSelect;
    this.node = document.createElement('div');
    this.node.className = 'nbassets-LineageView';
    const toolbar = this.node.appendChild(document.createElement('div'));
    toolbar.className = 'nbassets-LineageToolbar';
    toolbar.append(
      this._button('−', 'Zoom out', () => this._zoomBy(-1)),
      this._button('Fit', 'Fit to the panel width', () => this._fit()),
      this._button('+', 'Zoom in', () => this._zoomBy(1))
    );
    this._viewport = this.node.appendChild(document.createElement('div'));
    this._viewport.className = 'nbassets-LineageViewport';
    this._viewport.addEventListener('wheel', event => this._onWheel(event), { passive: false });
    this._viewport.addEventListener('pointerdown', event => this._onPointerDown(event));
    this._viewport.addEventListener('click', event => this._onClick(event), true);
    this._resize = new ResizeObserver(() => this._apply());
    this._resize.observe(this._viewport);
  }

  /** The view's element. */
  readonly node: HTMLDivElement;

  /** Show `lineage` (null: `hint` instead); redraws only when the layout changed. */
  update(lineage: ILineage | null, hint: string): void {
    const layout = lineage ? layoutOf(lineage) : null;
    if (!lineage || !layout || !layout.nodes.length) {
      this._shown = '';
      this._svg = null;
      const message = document.createElement('div');
      message.className = 'nbassets-Hint';
      message.textContent = lineage && !layout ? 'The server sent no layout.' : hint;
      this._viewport.replaceChildren(message);
      return;
    }
    const shown = JSON.stringify([lineage.nodes, layout]);
    if (shown === this._shown) {
      return;
    }
    this._shown = shown;
    this._layout = layout;
    this._svg = renderLineage(lineage, layout, this._onSelect);
    this._viewport.replaceChildren(this._svg);
    this._apply();
  }

  /** The zoom shown (the fitted one until the user zooms). */
  get zoom(): number {
    return this._zoom ?? this._fitted();
  }

  dispose(): void {
    this._resize.disconnect();
  }

  private _fitted(): number {
    const style = getComputedStyle(this._viewport);
    const padding = parseFloat(style.paddingLeft) + parseFloat(style.paddingRight);
    return fitZoom(this._viewport.clientWidth - (padding || 0), this._layout?.width ?? 0);
  }

  private _apply(): void {
    if (!this._svg || !this._layout) {
      return;
    }
    const zoom = this.zoom;
    this._svg.setAttribute('width', String(Math.round(this._layout.width * zoom)));
    this._svg.setAttribute('height', String(Math.round(this._layout.height * zoom)));
    this.node.dataset.zoom = zoom.toFixed(2);
  }

  private _fit(): void {
    this._zoom = null;
    this._apply();
  }

  private _zoomBy(direction: 1 | -1, at?: { x: number; y: number }): void {
    const viewport = this._viewport;
    const before = this.zoom;
    this._zoom = stepZoom(before, direction);
    // keep the point under the pointer (or the centre) where it was
    const x = at?.x ?? viewport.clientWidth / 2;
    const y = at?.y ?? viewport.clientHeight / 2;
    const ratio = this._zoom / before;
    this._apply();
    viewport.scrollLeft = (viewport.scrollLeft + x) * ratio - x;
    viewport.scrollTop = (viewport.scrollTop + y) * ratio - y;
  }

  private _onWheel(event: WheelEvent): void {
    if (!(event.ctrlKey || event.metaKey) || !this._svg) {
      return; // a plain wheel scrolls (pans) as usual
    }
    event.preventDefault();
    const box = this._viewport.getBoundingClientRect();
    this._zoomBy(event.deltaY < 0 ? 1 : -1, {
      x: event.clientX - box.left,
      y: event.clientY - box.top
    });
  }

  private _onPointerDown(event: PointerEvent): void {
    if (event.button !== 0 || !this._svg) {
      return;
    }
    const viewport = this._viewport;
    const start = { x: event.clientX, y: event.clientY };
    const scroll = { left: viewport.scrollLeft, top: viewport.scrollTop };
    this._dragged = false;
    const move = (e: PointerEvent): void => {
      const dx = e.clientX - start.x;
      const dy = e.clientY - start.y;
      if (!this._dragged && Math.hypot(dx, dy) < 4) {
        return;
      }
      this._dragged = true;
      viewport.classList.add('nbassets-mod-panning');
      viewport.scrollLeft = scroll.left - dx;
      viewport.scrollTop = scroll.top - dy;
    };
    const up = (): void => {
      viewport.classList.remove('nbassets-mod-panning');
      window.removeEventListener('pointermove', move);
      window.removeEventListener('pointerup', up);
    };
    window.addEventListener('pointermove', move);
    window.addEventListener('pointerup', up);
  }

  private _onClick(event: MouseEvent): void {
    if (this._dragged) {
      event.stopPropagation(); // the end of a pan is not a click on a node
      this._dragged = false;
    }
  }

  private _button(label: string, title: string, onClick: () => void): HTMLButtonElement {
    const button = document.createElement('button');
    button.className = 'nbassets-Button nbassets-LineageZoom';
    button.type = 'button';
    button.textContent = label;
    button.title = title;
    button.addEventListener('click', onClick);
    return button;
  }

  private readonly _onSelect: (key: string) => void;
  private readonly _viewport: HTMLDivElement;
  private readonly _resize: ResizeObserver;
  private _svg: SVGSVGElement | null = null;
  private _layout: ILineageLayout | null = null;
  private _shown = '';
  private _zoom: number | null = null;
  private _dragged = false;
}

let arrowCount = 0;

function edgePath(edge: ILaidOutEdge, markerId: string): SVGGElement {
  const group = svgElement('g', {
    class: 'nbassets-Lineage-edgeGroup',
    'data-upstream': edge.upstream,
    'data-downstream': edge.downstream
  });
  const path = group.appendChild(
    svgElement('path', {
      class:
        edge.origin === 'prod'
          ? 'nbassets-Lineage-edge nbassets-mod-prod'
          : 'nbassets-Lineage-edge',
      d: edge.path,
      [edge.reverse ? 'marker-start' : 'marker-end']: `url(#${markerId})`
    })
  );
  const origin = edge.origin ? ` (read from ${edge.origin})` : '';
  path.appendChild(svgElement('title')).textContent =
    `${edge.upstream} → ${edge.downstream}${origin}`;
  for (const label of edge.labels) {
    group.appendChild(labelText(label));
  }
  return group;
}

function nodeBox(
  node: ILaidOutNode,
  defined: boolean,
  onSelect: (key: string) => void
): SVGGElement {
  const group = svgElement('g', {
    class: `nbassets-Lineage-node${defined ? '' : ' nbassets-mod-external'}`,
    'data-key': node.key,
    'data-status': node.status
  });
  group.appendChild(svgElement('title')).textContent = nodeTitle(node, defined);
  group.appendChild(
    svgElement('rect', {
      x: String(node.x),
      y: String(node.y),
      width: String(node.width),
      height: String(node.height),
      rx: '6',
      ry: '6'
    })
  );
  for (const label of node.labels) {
    group.appendChild(labelText(label));
  }
  if (defined) {
    group.addEventListener('click', () => onSelect(node.key));
  }
  return group;
}

function labelText(label: ILineageLabel): SVGTextElement {
  const text = svgElement('text', {
    class: `nbassets-Lineage-${label.kind}`,
    x: String(label.x),
    y: String(label.y),
    'font-size': String(label.size),
    'text-anchor': label.anchor
  });
  text.textContent = label.text;
  return text;
}

function arrowMarker(id: string): SVGDefsElement {
  const defs = svgElement('defs');
  const marker = defs.appendChild(
    svgElement('marker', {
      id,
      viewBox: '0 0 10 10',
      refX: '9',
      refY: '5',
      markerWidth: '7',
      markerHeight: '7',
      orient: 'auto-start-reverse'
    })
  );
  marker.appendChild(
    svgElement('path', { d: 'M 0 0 L 10 5 L 0 10 z', class: 'nbassets-Lineage-arrow' })
  );
  return defs;
}

function svgElement<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attributes: Record<string, string> = {}
): SVGElementTagNameMap[K] {
  const element = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attributes)) {
    element.setAttribute(name, value);
  }
  return element;
}
