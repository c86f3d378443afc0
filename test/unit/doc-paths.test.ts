// The documents name files of this repository (`src/oci/runtime.ts`, `test/unit/layers.test.ts`):
// each name must still be there after a file moves, so a reader who follows one finds it.
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
