/**
 * Cell detection (src/detect.ts) agrees with the Python reader: every sample of
 * tests/resources/cell_samples.json, which the Python tests read too, gets the kind and key
 * written there.
 */

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, test } from 'node:test';

import { assetKeyOfSource, CellKind, detectCell, isValidKey, shlexSplit } from '../src/detect';

interface ISample {
  name: string;
  source: string;
  tags: string[];
  kind: CellKind;
  key: string | null;
}

// compiled to lib-test/test/, three levels below the repository's root
const SAMPLES_FILE = resolve(__dirname, '../../../tests/resources/cell_samples.json');
const samples: ISample[] = JSON.parse(readFileSync(SAMPLES_FILE, 'utf-8'));

describe('detectCell agrees with the Python reader', () => {
  test('the samples cover every kind', () => {
    const kinds = new Set(samples.map(sample => sample.kind));
    assert.deepEqual([...kinds].sort(), ['asset', 'check', 'export', 'other', 'test']);
  });

  for (const sample of samples) {
    test(sample.name, () => {
      assert.deepEqual(detectCell(sample.source, sample.tags), {
        kind: sample.kind,
        key: sample.key
      });
      const assetKey = sample.kind === 'asset' ? sample.key : null;
      assert.equal(assetKeyOfSource(sample.source), assetKey);
    });
  }
});

describe('detectCell', () => {
  test('markdown and raw cells are never assets or exported', () => {
    assert.deepEqual(detectCell('%%asset orders\n1', [], 'markdown'), { kind: 'other', key: null });
    assert.deepEqual(detectCell('# nbassets: export', ['export'], 'raw'), {
      kind: 'other',
      key: null
    });
  });

  test('other cell magics, even named like object properties, are other', () => {
    for (const name of ['time', 'constructor', '__proto__', 'toString', 'sql']) {
      assert.deepEqual(detectCell(`%%${name} orders\n1`), { kind: 'other', key: null });
    }
  });

  test('options written with =, repeated options, and -- before the name', () => {
    assert.equal(assetKeyOfSource('%%asset orders --io=json --check a --check b\n1'), 'orders');
    assert.equal(assetKeyOfSource('%%asset --io json -- orders\n1'), 'orders');
    assert.equal(assetKeyOfSource('%%asset orders --desc "-x y"\n1'), 'orders');
  });

  test('lines argparse or the spec refuse give no key', () => {
    for (const line of [
      'orders --io csv',
      'orders --io',
      'orders --desc --sql',
      'orders --sql=yes',
      'orders extra',
      'orders -x',
      'orders --deps orders',
      'orders --deps raw,Bad',
      'orders --sql --io pickle',
      'orders --partition day',
      'orders --fresh ""',
      'orders --check',
      'x'.repeat(65),
      'orders \\'
    ]) {
      assert.deepEqual(detectCell(`%%asset ${line}\n1`), { kind: 'asset', key: null }, line);
    }
    assert.equal(
      assetKeyOfSource("%%asset orders --sql --io parquet --deps 'raw, ,b'\n1"),
      'orders'
    );
  });

  test("a check's severity must be error or warn; its name is checked when it runs", () => {
    assert.equal(detectCell('%%check orders --severity warn\n1').key, 'orders');
    assert.equal(detectCell('%%check orders --severity=fatal\n1').key, null);
    assert.equal(detectCell("%%check orders --name ' '\n1").key, 'orders');
    assert.equal(detectCell('%%check orders --name\n1').key, null);
  });

  test('a test cell names one valid asset', () => {
    assert.deepEqual(detectCell('%%test orders --name t\n1'), { kind: 'test', key: 'orders' });
    assert.deepEqual(detectCell('%%test\n1'), { kind: 'test', key: null });
    assert.deepEqual(detectCell('%%test orders --severity warn\n1'), { kind: 'test', key: null });
  });

  test('the export comment is the whole first line; the tag must be exactly export', () => {
    assert.equal(detectCell('\n  # nbassets: export  \nx = 1').kind, 'export');
    assert.equal(detectCell('# nbassets: export now\nx = 1').kind, 'other');
    assert.equal(detectCell('%%asset orders\n1', ['export']).kind, 'asset');
    assert.equal(detectCell('%%time\nx = 1', ['export']).kind, 'export');
  });

  test('the common indent is the one of every non-blank line', () => {
    assert.equal(assetKeyOfSource('\t%%asset orders\n\n  \n\tx = 1\n\tx'), 'orders');
    assert.equal(assetKeyOfSource('    %%asset orders\n  x = 1'), null);
    assert.equal(assetKeyOfSource('  %%asset orders\n \tx'), null);
  });
});

describe('isValidKey', () => {
  test('lowercase letters, digits and _, not first a digit, at most 64', () => {
    for (const key of ['orders', '_x', 'a1_b2', 'x'.repeat(64)]) {
      assert.ok(isValidKey(key), key);
    }
    for (const key of ['', 'Orders', '1x', 'a-b', 'été', 'x'.repeat(65), 'class', 'None']) {
      assert.ok(!isValidKey(key), key);
    }
  });
});

describe('shlexSplit', () => {
  test("splits like Python's shlex.split", () => {
    const cases: [string, string[] | null][] = [
      ['a  b\tc', ['a', 'b', 'c']],
      ["--desc 'all the orders'", ['--desc', 'all the orders']],
      ['"a\\\\b" a\\b \'a\\b\'', ['a\\b', 'ab', 'a\\b']],
      ['"a\\"b" "a\\b"', ['a"b', 'a\\b']],
      ["a''b '' x\"\"", ['ab', '', 'x']],
      ['not_null("id")', ['not_null(id)']],
      ['\'not_null("id")\'', ['not_null("id")']],
      ['', []],
      ["'oops", null],
      ['"oops', null],
      ['a\\', null]
    ];
    for (const [text, words] of cases) {
      assert.deepEqual(shlexSplit(text), words, text);
    }
  });
});
