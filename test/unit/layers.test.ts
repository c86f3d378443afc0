// The layers of src/ (ARCHITECTURE.md, "Layers"): every import points down this table or stays in
// its own folder, and only the runtime boundary knows which programs run containers. Read from the
// sources, so a new folder, an upward import or a runc call outside src/oci fails here first.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../../src/util/paths.js';

/**
 * Bottom first. A file may import its own top-level entry (a folder, or a file directly in src/)
 * and any entry of a lower row; entries of one row know nothing of each other.
 */
const LAYERS: readonly (readonly string[])[] = [
  ['util'],
  ['host', 'version'],
  ['oci', 'store', 'events', 'network', 'image', 'streaming', 'socket'],
  ['config'],
  ['sandbox'],
  ['container'],
  ['pod'],
  ['cri', 'metrics'],
  ['client'],
  ['daemon', 'kube'],
  ['cli'],
];

/** Where the programs that run containers may be named (issue 24's rule): the boundary, and the daemon that picks one. */
const RUNTIME_NAMED_IN = ['src/oci/', 'src/daemon.ts'];
const RUNTIME_WORD = /\b(runc|conmon)\b/i;

interface Source {
  rel: string;
  text: string;
}

/** The files under `dir`: its TypeScript sources (generated code aside), or every file with `all`. */
function files(dir: string, all = false): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'generated' && !all ? [] : files(p, all);
    return all || e.name.endsWith('.ts') ? [p] : [];
  });
}

/** The top-level entry of src/ a path (relative to the repo) belongs to. */
export function entryOf(rel: string): string {
  const [, entry = '', ...below] = rel.split('/');
  return below.length === 0 ? entry.replace(/\.(ts|js)$/, '') : entry;
}

/** The repo-relative .ts paths a file imports (relative specifiers only: packages are not layers). */
export function importsOf(s: Source): string[] {
  const out: string[] = [];
  // `from './x.js'` (import and export), `import('./x.js')` and `import './x.js'`.
  for (const m of s.text.matchAll(/\bfrom\s*'(\.\.?\/[^']+)'|\bimport\s*\(\s*'(\.\.?\/[^']+)'|^import\s*'(\.\.?\/[^']+)'/gm)) {
    const spec = m[1] ?? m[2] ?? m[3] ?? '';
    out.push(path.posix.normalize(path.posix.join(path.posix.dirname(s.rel), spec)).replace(/\.js$/, '.ts'));
  }
  return out;
}

/** Each import of `files` that runs up the layers or sideways within a row, as "FROM -> TO". */
export function layerViolations(files: readonly Source[], layers: readonly (readonly string[])[]): string[] {
  const rank = new Map<string, number>();
  layers.forEach((row, i) => row.forEach((e) => rank.set(e, i)));
  const out: string[] = [];
  for (const s of files) {
    const from = entryOf(s.rel);
    for (const target of importsOf(s)) {
      if (!target.startsWith('src/')) continue;
      const to = entryOf(target);
      if (to === from) continue;
      const a = rank.get(from);
      const b = rank.get(to);
      if (a === undefined || b === undefined || b >= a) out.push(`${s.rel} -> ${target}`);
    }
  }
  return out;
}

const read = (dir: string, all = false): Source[] =>
  files(path.join(repoRoot, dir), all).map((file) => ({
    rel: path.relative(repoRoot, file).split(path.sep).join('/'),
    text: fs.readFileSync(file, 'utf8'),
  }));
const src = read('src');

describe('the layers of src/', () => {
  it('place every top-level folder and file of src/', () => {
    const placed = new Set(LAYERS.flat());
    const unplaced = [...new Set(src.map((s) => entryOf(s.rel)))].filter((e) => !placed.has(e));
    assert.deepEqual(unplaced, [], 'add each to a row of LAYERS here and to ARCHITECTURE.md');
  });

  it('are only imported downwards', () => {
    assert.deepEqual(layerViolations(src, LAYERS), []);
  });

  it('name runc and conmon only at the runtime boundary: no file outside src/oci and src/daemon.ts', () => {
    const named = read('src', true).filter((s) => !RUNTIME_NAMED_IN.some((p) => s.rel === p || (p.endsWith('/') && s.rel.startsWith(p))));
    const hits = named.flatMap((s) =>
      s.text
        .split('\n')
        .map((line, i) => ({ line, at: `${s.rel}:${i + 1}` }))
        .filter(({ line }) => RUNTIME_WORD.test(line))
        .map(({ at }) => at),
    );
    assert.deepEqual(hits, []);
  });

  it('are what src/ imports; the bench and support/ import no test', () => {
    const outside = (files: Source[], allowed: string[]) =>
      files.flatMap((s) =>
        importsOf(s)
          .filter((t) => !allowed.some((a) => t.startsWith(a)))
          .map((t) => `${s.rel} -> ${t}`),
      );
    assert.deepEqual(outside(src, ['src/']), []);
    assert.deepEqual(outside([...read('bench'), ...read('support')], ['src/', 'bench/', 'support/']), []);
  });

  it('catch an upward import, a sideways one and an unknown folder', () => {
    const files: Source[] = [
      { rel: 'src/host/a.ts', text: "import { x } from '../container/types.js';\nimport y from './b.js';" },
      { rel: 'src/image/b.ts', text: "export { z } from '../network/c.js';" },
      {
        rel: 'src/pod/c.ts',
        text: "import type { S } from '../sandbox/types.js';\nconst m = await import('../nowhere/m.js');\nimport '../cri/side-effect.js';",
      },
    ];
    assert.deepEqual(layerViolations(files, LAYERS), [
      'src/host/a.ts -> src/container/types.ts',
      'src/image/b.ts -> src/network/c.ts',
      'src/pod/c.ts -> src/nowhere/m.ts',
      'src/pod/c.ts -> src/cri/side-effect.ts',
    ]);
  });
});
