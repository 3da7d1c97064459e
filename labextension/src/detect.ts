/**
 * What a notebook cell is, read from its source and tags: an `%%asset`, `%%check` or `%%test`
 * cell (and the asset it names), exported code, or other code.
 *
 * The TypeScript twin of `classify` in `nbassets/notebookfile.py`, the Python reader of cells:
 * a cell magic is found the way IPython finds it (leading blank lines dropped, the common indent
 * removed, `%%NAME` then a space), its line may continue after a trailing backslash, and the key
 * is the NAME of a line that parses (shlex words, the magic's options, a valid key). Both are
 * tested over the same samples, `tests/resources/cell_samples.json`. One difference is
 * deliberate: the text of an `--check RULE` is not parsed here (the rule vocabulary lives in
 * Python), so a line whose only fault is a bad rule still names its asset.
 *
 * Pure (no JupyterLab imports, no DOM), so that `node --test` runs it as compiled.
 */

/** `asset`, `check` and `test`: a cell of that magic; `export`: code copied into the export. */
export type CellKind = 'asset' | 'check' | 'test' | 'export' | 'other';

/** A cell's kind and, for asset, check and test cells, the asset it names (null if invalid). */
export interface ICellInfo {
  kind: CellKind;
  key: string | null;
}

/** The tag, and the first-line comment, that mark a code cell as exported. */
export const EXPORT_TAG = 'export';
export const EXPORT_MARK = '# nbassets: export';

/** What the cell with this source and these tags is; cells other than code cells are `other`. */
export function detectCell(
  source: string,
  tags: readonly string[] = [],
  cellType = 'code'
): ICellInfo {
  if (cellType !== 'code') {
    return OTHER;
  }
  const magic = cellMagic(source);
  const grammar = magic ? GRAMMARS.get(magic.name) : undefined;
  if (magic && grammar) {
    const line = joinContinuedLines(magic.line, magic.body);
    return { kind: magic.name as CellKind, key: parseKey(line, grammar) };
  }
  if (tags.includes(EXPORT_TAG) || hasExportMark(source)) {
    return { kind: 'export', key: null };
  }
  return OTHER;
}

/** The key an `%%asset` cell's source defines; null for other cells and invalid lines. */
export function assetKeyOfSource(source: string): string | null {
  const info = detectCell(source);
  return info.kind === 'asset' ? info.key : null;
}

/** A valid asset key: `[a-z_][a-z0-9_]{0,63}`, not a Python keyword. */
export function isValidKey(name: string): boolean {
  return KEY.test(name) && !PYTHON_KEYWORDS.has(name);
}

const OTHER: ICellInfo = { kind: 'other', key: null };

const KEY = /^[a-z_][a-z0-9_]{0,63}$/;

// keyword.kwlist of Python 3 (the lowercase ones; the others are no valid key anyway)
const PYTHON_KEYWORDS = new Set(
  (
    'and as assert async await break class continue def del elif else except finally for ' +
    'from global if import in is lambda nonlocal not or pass raise return try while with yield'
  ).split(' ')
);

// --- finding the cell magic, as IPython does ----------------------------------------------------

/** Python's str.isspace() characters. */
const SPACE =
  '\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const ONLY_SPACE = new RegExp(`^[${SPACE}]*$`);
const LEADING_SPACE = new RegExp(`^[${SPACE}]+`);
const TRAILING_SPACE = new RegExp(`[${SPACE}]+$`);
/** Python's str.splitlines() line boundaries. */
const LINE_BREAK = /\r\n|[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]/;

const strip = (text: string): string => text.replace(LEADING_SPACE, '').replace(TRAILING_SPACE, '');
const rstrip = (text: string): string => text.replace(TRAILING_SPACE, '');

/** The first line of `text` and the rest after its line break ('' when there is none). */
function splitFirstLine(text: string): [string, string] {
  const match = LINE_BREAK.exec(text);
  return match
    ? [text.slice(0, match.index), text.slice(match.index + match[0].length)]
    : [text, ''];
}

/**
 * `%%name line` and the body after it, when the cell is a cell magic for IPython: after its
 * leading blank lines are dropped and the indent common to all lines removed, the first line
 * starts with `%%`; the name ends at the first space.
 */
function cellMagic(source: string): { name: string; line: string; body: string } | null {
  let text = source;
  for (;;) {
    const [first, rest] = splitFirstLine(text);
    if (!ONLY_SPACE.test(first) || rest === '') {
      break;
    }
    text = rest;
  }
  if (!/^[ \t]*%%/.test(text)) {
    return null; // fast path: dedenting cannot make this line start with %%
  }
  const [first, body] = splitFirstLine(dedent(text));
  if (!first.startsWith('%%')) {
    return null;
  }
  const head = rstrip(first.slice(2));
  const space = head.indexOf(' ');
  return space < 0
    ? { name: head, line: '', body }
    : { name: head.slice(0, space), line: head.slice(space + 1), body };
}

/** Python's `textwrap.dedent`: remove the spaces and tabs that begin every non-blank line. */
function dedent(text: string): string {
  const lines = text.split('\n').map(line => (/^[ \t]+$/.test(line) ? '' : line));
  let margin: string | null = null;
  for (const line of lines) {
    const indent = /^([ \t]*)[^ \t\n]/.exec(line)?.[1];
    if (indent === undefined) {
      continue;
    }
    if (margin === null || margin.startsWith(indent)) {
      margin = indent;
    } else if (!indent.startsWith(margin)) {
      let common = 0;
      while (margin[common] === indent[common]) {
        common += 1;
      }
      margin = margin.slice(0, common);
    }
  }
  if (!margin) {
    return lines.join('\n');
  }
  const cut = margin.length;
  return lines.map(line => (line.startsWith(margin!) ? line.slice(cut) : line)).join('\n');
}

/** A magic line may continue on the next lines of the body after a trailing backslash. */
function joinContinuedLines(line: string, body: string): string {
  const lines = body.split('\n');
  let taken = 0;
  while (rstrip(line).endsWith('\\') && taken < lines.length) {
    line = rstrip(line).slice(0, -1) + ' ' + strip(lines[taken]);
    taken += 1;
  }
  return line;
}

/** The first non-blank line of the source, stripped, is exactly the export comment. */
function hasExportMark(source: string): boolean {
  const [first] = splitFirstLine(source.replace(LEADING_SPACE, ''));
  return strip(first) === EXPORT_MARK;
}

// --- the magics' lines: shlex words, argparse options -------------------------------------------

/** An option of a magic's line: whether it takes a value, and the values allowed. */
interface IOption {
  takesValue: boolean;
  choices?: readonly string[];
}

/** The options of one magic and the checks on their values beyond the grammar. */
interface IGrammar {
  options: Map<string, IOption>;
  /** False when the parsed line would be refused (`SpecError`) anyway. */
  valid: (key: string, values: Map<string, string[]>) => boolean;
}

const VALUE: IOption = { takesValue: true };
const FLAG: IOption = { takesValue: false };

/** `%%asset NAME [--io F] [--deps A,B] [--key COLS] [--desc T] [--no-preview] [--check R] [--sql]`. */
const ASSET: IGrammar = {
  options: new Map([
    ['--io', { takesValue: true, choices: ['parquet', 'pickle', 'json'] }],
    ['--deps', VALUE],
    ['--key', VALUE],
    ['--desc', VALUE],
    ['--no-preview', FLAG],
    ['--check', VALUE], // the rule's text is parsed in Python only
    ['--sql', FLAG],
    // options of a later release: in the grammar, refused when used
    ['--partition', VALUE],
    ['--partition-key', VALUE],
    ['--fresh', VALUE]
  ]),
  valid: (key, values) => {
    if (['--partition', '--partition-key', '--fresh'].some(option => values.has(option))) {
      return false;
    }
    const deps = (values.get('--deps') ?? []).flatMap(value =>
      value
        .split(',')
        .map(part => strip(part))
        .filter(part => part)
    );
    if (deps.some(dep => !isValidKey(dep)) || deps.includes(key)) {
      return false;
    }
    const io = values.get('--io')?.at(-1);
    return !(values.has('--sql') && io !== undefined && io !== 'parquet');
  }
};

/** `%%check NAME [--name CHECK] [--severity error|warn]`. */
const CHECK: IGrammar = {
  options: new Map([
    ['--name', VALUE],
    ['--severity', { takesValue: true, choices: ['error', 'warn'] }]
  ]),
  valid: () => true // the check's name is checked when the cell runs
};

/** `%%test NAME [--name TEST]`. */
const TEST: IGrammar = {
  options: new Map([['--name', VALUE]]),
  valid: () => true
};

const GRAMMARS = new Map<string, IGrammar>([
  ['asset', ASSET],
  ['check', CHECK],
  ['test', TEST]
]);

/** The NAME of a magic's line, or null when the line would not parse (as argparse would not). */
function parseKey(line: string, grammar: IGrammar): string | null {
  const words = shlexSplit(line);
  if (words === null) {
    return null;
  }
  const positionals: string[] = [];
  const values = new Map<string, string[]>();
  const isOption = (word: string): boolean => {
    if (!word.startsWith('-') || word === '-') {
      return false;
    }
    if (grammar.options.has(word) || grammar.options.has(word.split('=', 1)[0])) {
      return true;
    }
    return !/^-\d+$|^-\d*\.\d+$/.test(word) && !word.includes(' ');
  };
  let onlyPositionals = false;
  for (let index = 0; index < words.length; index++) {
    const word = words[index];
    if (onlyPositionals || !isOption(word)) {
      positionals.push(word);
      continue;
    }
    if (word === '--') {
      onlyPositionals = true;
      continue;
    }
    const equals = word.indexOf('=');
    const name = equals > 0 && !grammar.options.has(word) ? word.slice(0, equals) : word;
    const option = grammar.options.get(name);
    if (!option) {
      return null; // unrecognized arguments
    }
    let value: string | undefined;
    if (name !== word) {
      if (!option.takesValue) {
        return null; // ignored explicit argument
      }
      value = word.slice(equals + 1);
    } else if (option.takesValue) {
      if (index + 1 >= words.length || isOption(words[index + 1])) {
        return null; // expected one argument
      }
      value = words[++index];
    }
    if (value !== undefined && option.choices && !option.choices.includes(value)) {
      return null; // invalid choice
    }
    values.set(name, [...(values.get(name) ?? []), value ?? '']);
  }
  if (positionals.length !== 1) {
    return null; // no NAME, or unrecognized arguments
  }
  const key = positionals[0];
  return isValidKey(key) && grammar.valid(key, values) ? key : null;
}

/** Python's `shlex.split` (POSIX rules, no comments); null where it raises. */
export function shlexSplit(text: string): string[] | null {
  const words: string[] = [];
  let word: string | null = null;
  for (let index = 0; index < text.length; index++) {
    const char = text[index];
    if (' \t\r\n'.includes(char)) {
      if (word !== null) {
        words.push(word);
        word = null;
      }
    } else if (char === '\\') {
      if (index + 1 >= text.length) {
        return null; // no escaped character
      }
      word = (word ?? '') + text[++index];
    } else if (char === "'" || char === '"') {
      const end = char === "'" ? text.indexOf("'", index + 1) : closingDoubleQuote(text, index);
      if (end < 0) {
        return null; // no closing quotation
      }
      const quoted = text.slice(index + 1, end);
      word = (word ?? '') + (char === '"' ? quoted.replace(/\\(["\\])/g, '$1') : quoted);
      index = end;
    } else {
      word = (word ?? '') + char;
    }
  }
  if (word !== null) {
    words.push(word);
  }
  return words;
}

/** The index of the `"` that closes the one at `open` (a backslash escapes `"` and `\`). */
function closingDoubleQuote(text: string, open: number): number {
  for (let index = open + 1; index < text.length; index++) {
    if (text[index] === '\\' && (text[index + 1] === '"' || text[index + 1] === '\\')) {
      index += 1;
    } else if (text[index] === '"') {
      return index;
    }
  }
  return -1;
}
