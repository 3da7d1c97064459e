/**
 * Small DOM builders for the panel: elements with a class and text, and buttons with an icon.
 * Text always goes in through `textContent`.
 */

import { LabIcon } from '@jupyterlab/ui-components';

/** A new `<tag class=className>` holding `text` (as text, never markup). */
export function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className: string,
  text?: string
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

/** A compact button with an optional icon and label; `title` is its tooltip (and name if unlabelled). */
export function button(label: string, icon: LabIcon | null, title: string): HTMLButtonElement {
  const node = element('button', 'nbassets-Button jp-Button jp-mod-minimal');
  node.type = 'button';
  node.title = title;
  if (icon) {
    node.appendChild(icon.element({ tag: 'span', className: 'nbassets-Button-icon' }));
  }
  if (label) {
    node.appendChild(element('span', 'nbassets-Button-label', label));
  } else {
    node.setAttribute('aria-label', title);
  }
  return node;
}
