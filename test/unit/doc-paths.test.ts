// The documents name files of this repository (`src/oci/runtime.ts`, `test/unit/layers.test.ts`):
// each name must still be there after a file moves, so a reader who follows one finds it. And
// ARCHITECTURE.md's map for newcomers names, for each change issue 24 lists, one folder to open
// and the file to read first in it.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../../src/util/paths.js';

/** Not the repository's documents: installed packages, build output, caches. */
const SKIP = new Set(['node_modules', 'dist', 'build', '.git', '.cache']);

function documents(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return SKIP.has(e.name) ? [] : documents(p);
    return e.name.endsWith('.md') ? [p] : [];
  });
}

/** Repository paths a text names: from one of the top folders on, up to the first character no path here has. */
export function namedPaths(text: string): string[] {
  const re = /(?<![\w./-])((?:src|support|test|bench|scripts|helpers|contrib|examples|proto)\/[\w./@-]*[\w])/g;
  return [...text.matchAll(re)].map((m) => m[1] ?? '');
}

/** A name is there as written, or as the source of a compiled `.js` name. */
const exists = (rel: string): boolean => [rel, rel.replace(/\.js$/, '.ts')].some((p) => fs.existsSync(path.join(repoRoot, p)));

describe('the documents', () => {
  it('name only files and folders that exist', () => {
    const missing = documents(repoRoot).flatMap((file) =>
      namedPaths(fs.readFileSync(file, 'utf8'))
        .filter((p) => !exists(p))
        .map((p) => `${path.relative(repoRoot, file)}: ${p}`),
    );
    assert.deepEqual(missing, []);
  });

  it('are read for names the way they are written', () => {
    assert.deepEqual(namedPaths('see `src/oci/runtime.ts`, (test/unit/x.test.ts) and contrib/crib-kube@.service.'), [
      'src/oci/runtime.ts',
      'test/unit/x.test.ts',
      'contrib/crib-kube@.service',
    ]);
    assert.deepEqual(namedPaths('not ../src/a.ts, nor dist/src/b.js, nor a/test/c.ts'), []);
  });
});

/** The changes a newcomer must find one folder for (issue 24's list, word for word). */
const CHANGES = ['swap runc for another runtime', 'change the CNI call', 'add a CRI RPC', 'add a Kubernetes kind to crib run'];

/** The rows of the markdown table under `heading`: each row's cells, the header and rule left out. */
export function tableAfter(text: string, heading: string): string[][] {
  const lines = text.slice(text.indexOf(heading)).split('\n');
  const start = lines.findIndex((l) => l.startsWith('|'));
  if (start < 0) return [];
  const end = lines.findIndex((l, i) => i > start && !l.startsWith('|'));
  return lines.slice(start + 2, end < 0 ? undefined : end).map((l) =>
    l
      .split('|')
      .slice(1, -1)
      .map((c) => c.trim()),
  );
}

/** The first `code` span of a cell. */
const firstCode = (cell: string | undefined): string | undefined => /`([^`]+)`/.exec(cell ?? '')?.[1];

describe("ARCHITECTURE.md's map for newcomers", () => {
  const rows = tableAfter(fs.readFileSync(path.join(repoRoot, 'ARCHITECTURE.md'), 'utf8'), 'Where to open for a change');

  for (const change of CHANGES) {
    it(`names one folder and a first file in it to ${change}`, () => {
      const row = rows.find(([to]) => to?.startsWith(change));
      assert.ok(row, `a row that starts "${change}"`);
      const [, folder, first] = row;
      assert.match(folder ?? '', /^`[^`]+`$/, 'one folder, and only that');
      const dir = firstCode(folder) ?? '';
      const file = firstCode(first) ?? '';
      assert.ok(fs.statSync(path.join(repoRoot, dir), { throwIfNoEntry: false })?.isDirectory(), `${dir} is a folder`);
      assert.ok(file.startsWith(`${dir}/`), `${file} is in ${dir}`);
      assert.ok(fs.statSync(path.join(repoRoot, file), { throwIfNoEntry: false })?.isFile(), `${file} is a file`);
    });
  }

  it('is read the way it is written', () => {
    const text = 'x\n## Where to open for a change\n\n| To | folder | first file |\n|---|---|---|\n| a b | `src/a` | `src/a/b.ts`: why |\n\nafter';
    assert.deepEqual(tableAfter(text, 'Where to open'), [['a b', '`src/a`', '`src/a/b.ts`: why']]);
  });
});
