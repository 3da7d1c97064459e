/**
 * The Assets panel's icon: a stack of data cylinders, themed like JupyterLab's own icons.
 */

import { LabIcon } from '@jupyterlab/ui-components';

const svgstr = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M12 2C7.6 2 4 3.3 4 5v14c0 1.7 3.6 3 8 3s8-1.3 8-3V5c0-1.7-3.6-3-8-3zm0 2c3.6 0 5.8 1 6 1.5-.2.5-2.4 1.5-6 1.5S6.2 6 6 5.5C6.2 5 8.4 4 12 4zm6 14.5c-.2.5-2.4 1.5-6 1.5s-5.8-1-6-1.5v-2.3c1.5.8 3.7 1.3 6 1.3s4.5-.5 6-1.3v2.3zm0-4.5c-.2.5-2.4 1.5-6 1.5S6.2 14.5 6 14v-2.3c1.5.8 3.7 1.3 6 1.3s4.5-.5 6-1.3V14zm0-4.5c-.2.5-2.4 1.5-6 1.5S6.2 10 6 9.5V7.2C7.5 8 9.7 8.5 12 8.5s4.5-.5 6-1.3v2.3z"/>
  </g>
</svg>`;

export const assetsIcon = new LabIcon({ name: 'nbassets:assets', svgstr });
