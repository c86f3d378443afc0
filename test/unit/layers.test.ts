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

/** Where the programs that run containers may be named: the boundary, the daemon that picks one, and the settings that name them. */
const RUNTIME_NAMED_IN = ['src/oci/', 'src/daemon.ts', 'src/config.ts', 'src/cli/daemon-command.ts'];
const RUNTIME_WORD = /\b(runc|conmon)\b/i;

interface Source {
  rel: string;
  text: string;
}

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'generated' ? [] : sources(p);
    return e.name.endsWith('.ts') ? [p] : [];
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
  for (const m of s.text.matchAll(/(?:^|[\s;])(?:import|export)\b[^'";]*?(?:from\s*)?\(?\s*'(\.\.?\/[^']+)'/gm)) {
    out.push(path.posix.normalize(path.posix.join(path.posix.dirname(s.rel), m[1] ?? '')).replace(/\.js$/, '.ts'));
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

const src: Source[] = sources(path.join(repoRoot, 'src')).map((file) => ({
  rel: path.relative(repoRoot, file).split(path.sep).join('/'),
  text: fs.readFileSync(file, 'utf8'),
}));

describe('the layers of src/', () => {
  it('place every top-level folder and file of src/', () => {
    const placed = new Set(LAYERS.flat());
    const unplaced = [...new Set(src.map((s) => entryOf(s.rel)))].filter((e) => !placed.has(e));
    assert.deepEqual(unplaced, [], 'add each to a row of LAYERS here and to ARCHITECTURE.md');
  });

  it('are only imported downwards', () => {
    assert.deepEqual(layerViolations(src, LAYERS), []);
  });

  it('name runc and conmon only at the runtime boundary', () => {
    const named = src.filter((s) => !RUNTIME_NAMED_IN.some((p) => s.rel === p || (p.endsWith('/') && s.rel.startsWith(p))));
    const hits = named.flatMap((s) =>
      s.text
        .split('\n')
        .map((line, i) => ({ line, at: `${s.rel}:${i + 1}` }))
        .filter(({ line }) => RUNTIME_WORD.test(line))
        .map(({ at }) => at),
    );
    assert.deepEqual(hits, []);
  });

  it('catch an upward import, a sideways one and an unknown folder', () => {
    const files: Source[] = [
      { rel: 'src/host/a.ts', text: "import { x } from '../container/types.js';\nimport y from './b.js';" },
      { rel: 'src/image/b.ts', text: "export { z } from '../network/c.js';" },
      { rel: 'src/pod/c.ts', text: "import type { S } from '../sandbox/types.js';\nconst m = await import('../nowhere/m.js');" },
    ];
    assert.deepEqual(layerViolations(files, LAYERS), [
      'src/host/a.ts -> src/container/types.ts',
      'src/image/b.ts -> src/network/c.ts',
      'src/pod/c.ts -> src/nowhere/m.ts',
    ]);
  });
});
