/**
 * The requests of the panel's reads (src/api.ts): the editor's code cells go in a POST body,
 * a notebook without cells (or past the size limit) is read from the file with a GET.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { liveCells, readRequest } from '../src/api';
import { kernelState } from '../src/tokens';

describe('liveCells', () => {
  test('sends code cells only, with their id, source and string tags', () => {
    const cells = liveCells([
      { id: 'a', type: 'code', source: '%%asset orders\n1', tags: ['export', 3] },
      { id: 'm', type: 'markdown', source: '%%asset not_one\n1' },
      { id: 'r', type: 'raw', source: 'x' },
      { id: 'b', type: 'code', source: '', tags: 'export' }
    ]);
    assert.deepEqual(cells, [
      { id: 'a', cell_type: 'code', source: '%%asset orders\n1', tags: ['export'] },
      { id: 'b', cell_type: 'code', source: '', tags: [] }
    ]);
  });
});

describe('readRequest', () => {
  const cells = liveCells([{ id: 'a', type: 'code', source: '%%asset orders\n1' }]);

  test('POSTs the cells, with the env when one is set', () => {
    const read = readRequest('assets', { path: 'nb/x y.ipynb', cells, env: 'ci-x' });
    assert.equal(read.endPoint, 'assets');
    assert.equal(read.init.method, 'POST');
    assert.deepEqual(JSON.parse(String(read.init.body)), {
      path: 'nb/x y.ipynb',
      cells,
      env: 'ci-x'
    });
    const noEnv = readRequest('lineage', { path: 'x.ipynb', cells, env: null });
    assert.deepEqual(JSON.parse(String(noEnv.init.body)), { path: 'x.ipynb', cells });
  });

  test('GETs the file as saved without cells', () => {
    const read = readRequest('assets', { path: 'nb/x y.ipynb', cells: null, env: 'ci-x' });
    assert.deepEqual(read, { endPoint: 'assets?path=nb%2Fx%20y.ipynb&env=ci-x', init: {} });
    const noEnv = readRequest('assets', { path: 'x.ipynb', cells: null, env: null });
    assert.equal(noEnv.endPoint, 'assets?path=x.ipynb');
  });

  test('falls back to the file past the size limit (counted in bytes, not characters)', () => {
    const big = liveCells([{ id: 'a', type: 'code', source: 'é'.repeat(600) }]);
    const read = readRequest('assets', { path: 'x.ipynb', cells: big, env: null }, 1000);
    assert.deepEqual(read, { endPoint: 'assets?path=x.ipynb', init: {} });
    const fits = readRequest('assets', { path: 'x.ipynb', cells: big, env: null }, 1300);
    assert.equal(fits.init.method, 'POST');
  });
});

describe('kernelState', () => {
  test("reads the kernel's state message", () => {
    const data = { type: 'state', version: 1, env: 'ci-x', project: '/p' };
    assert.deepEqual(kernelState(data), data);
    assert.deepEqual(kernelState({ type: 'state', env: 'ci-x' }), {
      type: 'state',
      version: 1,
      env: 'ci-x',
      project: ''
    });
  });

  test('ignores other types and malformed messages', () => {
    for (const data of [
      null,
      'state',
      { type: 'tests', env: 'ci-x' },
      { type: 'state' },
      { type: 'state', env: '' },
      { type: 'state', env: 3 }
    ]) {
      assert.equal(kernelState(data), null, JSON.stringify(data));
    }
  });
});
