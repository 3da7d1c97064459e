/**
 * The lineage view: a layered layout of the notebook's asset graph, drawn as SVG with DOM calls.
 */

import { ILineage, ILineageEdge, ILineageNode } from './tokens';

const SVG_NS = 'http://www.w3.org/2000/svg';
const BOX_WIDTH = 124;
const BOX_HEIGHT = 26;
const GAP_X = 14;
const GAP_Y = 34;
const PAD = 6;
const MAX_CHARS = 17;

/** A node's place: its layer (row, top to bottom) and its position in that row, in pixels. */
export interface IPlacedNode {
  node: ILineageNode;
  layer: number;
  x: number;
  y: number;
}

/** The laid-out graph and the size of the drawing. */
export interface ILayout {
  nodes: Map<string, IPlacedNode>;
  width: number;
  height: number;
}

/**
 * Layer = longest path from a source (inputs on top); within a layer, the payload's order,
 * then one sweep that moves each node under the mean position of its upstreams.
 */
export function layout(lineage: ILineage): ILayout {
  const keys = new Set(lineage.nodes.map(node => node.key));
  const ups = new Map<string, string[]>(lineage.nodes.map(node => [node.key, []]));
  for (const edge of lineage.edges) {
    if (keys.has(edge.upstream) && keys.has(edge.downstream)) {
      ups.get(edge.downstream)!.push(edge.upstream);
    }
  }
  const layers = new Map<string, number>();
  const depth = (key: string, seen: Set<string>): number => {
    const known = layers.get(key);
    if (known !== undefined) {
      return known;
    }
    if (seen.has(key)) {
      return 0; // a cycle: the server refuses those, but never loop on one
    }
    seen.add(key);
    const parents = ups.get(key) ?? [];
    const layer = parents.length ? 1 + Math.max(...parents.map(up => depth(up, seen))) : 0;
    seen.delete(key);
    layers.set(key, layer);
    return layer;
  };
  const rows: ILineageNode[][] = [];
  for (const node of lineage.nodes) {
    const layer = depth(node.key, new Set());
    (rows[layer] ??= []).push(node);
  }
  const column = new Map<string, number>();
  rows.forEach((row, layer) => {
    if (layer > 0) {
      const mean = (node: ILineageNode): number => {
        const parents = ups.get(node.key) ?? [];
        return parents.reduce((sum, up) => sum + (column.get(up) ?? 0), 0) / (parents.length || 1);
      };
      row.sort((a, b) => mean(a) - mean(b)); // stable: ties keep the notebook's order
    }
    row.forEach((node, index) => column.set(node.key, index - (row.length - 1) / 2));
  });
  const widest = Math.max(1, ...rows.map(row => row.length));
  const width = widest * (BOX_WIDTH + GAP_X) - GAP_X + 2 * PAD;
  const placed = new Map<string, IPlacedNode>();
  for (const node of lineage.nodes) {
    const layer = layers.get(node.key) ?? 0;
    const center = width / 2 + (column.get(node.key) ?? 0) * (BOX_WIDTH + GAP_X);
    placed.set(node.key, {
      node,
      layer,
      x: center - BOX_WIDTH / 2,
      y: PAD + layer * (BOX_HEIGHT + GAP_Y)
    });
  }
  const height = rows.length * (BOX_HEIGHT + GAP_Y) - GAP_Y + 2 * PAD;
  return { nodes: placed, width, height: Math.max(height, 2 * PAD) };
}

/** The lineage drawn as an `<svg>`; clicking a defined asset's box calls `onSelect(key)`. */
export function renderLineage(lineage: ILineage, onSelect: (key: string) => void): SVGSVGElement {
  const { nodes, width, height } = layout(lineage);
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
  for (const edge of lineage.edges) {
    const from = nodes.get(edge.upstream);
    const to = nodes.get(edge.downstream);
    if (from && to) {
      svg.appendChild(edgePath(edge, from, to, markerId));
    }
  }
  for (const placed of nodes.values()) {
    svg.appendChild(nodeBox(placed, onSelect));
  }
  return svg;
}

let arrowCount = 0;

function edgePath(
  edge: ILineageEdge,
  from: IPlacedNode,
  to: IPlacedNode,
  markerId: string
): SVGPathElement {
  const x1 = from.x + BOX_WIDTH / 2;
  const y1 = from.y + BOX_HEIGHT;
  const x2 = to.x + BOX_WIDTH / 2;
  const y2 = to.y;
  const bend = (y2 - y1) / 2;
  const path = svgElement('path', {
    class:
      edge.origin === 'prod' ? 'nbassets-Lineage-edge nbassets-mod-prod' : 'nbassets-Lineage-edge',
    d: `M ${x1} ${y1} C ${x1} ${y1 + bend}, ${x2} ${y2 - bend}, ${x2} ${y2 - 2}`,
    'marker-end': `url(#${markerId})`,
    'data-upstream': edge.upstream,
    'data-downstream': edge.downstream
  });
  const origin = edge.origin ? ` (read from ${edge.origin})` : '';
  path.appendChild(svgElement('title')).textContent =
    `${edge.upstream} → ${edge.downstream}${origin}`;
  return path;
}

function nodeBox(placed: IPlacedNode, onSelect: (key: string) => void): SVGGElement {
  const { node, x, y } = placed;
  const group = svgElement('g', {
    class: `nbassets-Lineage-node${node.defined ? '' : ' nbassets-mod-external'}`,
    'data-key': node.key,
    'data-status': node.status,
    transform: `translate(${x}, ${y})`
  });
  group.appendChild(svgElement('title')).textContent = `${node.key}: ${node.label}${
    node.defined ? '' : ' (read, not defined here)'
  }`;
  group.appendChild(
    svgElement('rect', { width: String(BOX_WIDTH), height: String(BOX_HEIGHT), rx: '4', ry: '4' })
  );
  const text = svgElement('text', {
    x: String(BOX_WIDTH / 2),
    y: String(BOX_HEIGHT / 2),
    'text-anchor': 'middle',
    'dominant-baseline': 'central'
  });
  text.textContent =
    node.key.length > MAX_CHARS ? `${node.key.slice(0, MAX_CHARS - 1)}…` : node.key;
  group.appendChild(text);
  if (node.defined) {
    group.addEventListener('click', () => onSelect(node.key));
  }
  return group;
}

function arrowMarker(id: string): SVGDefsElement {
  const defs = svgElement('defs');
  const marker = defs.appendChild(
    svgElement('marker', {
      id,
      viewBox: '0 0 10 10',
      refX: '8',
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
