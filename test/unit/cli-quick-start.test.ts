// bin/crib's quick start (bin/quick-start.cjs): the CLI's bundle runs only while it is current, and
// its code cache only while it was written for that bundle; otherwise the modules run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../../src/util/paths.js';

interface BundleFiles {
  bundle: string;
  cache: string;
  modules: string;
}
interface QuickStart {
  loadBundle(files?: BundleFiles): ((argv: string[]) => Promise<number>) | undefined;
  writeCodeCache(files?: BundleFiles): void;
}
const quickStart = createRequire(import.meta.url)(path.join(repoRoot, 'bin', 'quick-start.cjs')) as QuickStart;

function tempFiles(t: { after(fn: () => void): void }): BundleFiles {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crib-quick-start-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return { bundle: path.join(dir, 'bundle.cjs'), cache: path.join(dir, 'bundle.cjs.cache'), modules: path.join(dir, 'main.js') };
}

/** A bundle whose main answers `value`, computed by its top-level code (which the code cache holds). */
const bundleSource = (value: number) => `exports.value = ${value};\nexports.main = async () => exports.value;\n`;

function setMtime(file: string, seconds: number): void {
  fs.utimesSync(file, seconds, seconds);
}

test('a current bundle runs, with its code cache', async (t) => {
  const f = tempFiles(t);
  fs.writeFileSync(f.modules, '');
  fs.writeFileSync(f.bundle, bundleSource(7));
  setMtime(f.modules, 1000);
  setMtime(f.bundle, 2000);
  quickStart.writeCodeCache(f);
  assert.ok(fs.statSync(f.cache).size > 0);
  assert.equal(await quickStart.loadBundle(f)?.([]), 7);
});

test('no bundle, or one older than the modules tsc wrote: the modules run', (t) => {
  const f = tempFiles(t);
  fs.writeFileSync(f.modules, '');
  assert.equal(quickStart.loadBundle(f), undefined);
  fs.writeFileSync(f.bundle, bundleSource(7));
  setMtime(f.bundle, 1000);
  setMtime(f.modules, 2000);
  assert.equal(quickStart.loadBundle(f), undefined);
});

test('a code cache older than the bundle is not used: V8 would take one of any source of the same length', async (t) => {
  const f = tempFiles(t);
  fs.writeFileSync(f.modules, '');
  setMtime(f.modules, 1000);
  fs.writeFileSync(f.bundle, bundleSource(1));
  quickStart.writeCodeCache(f);
  fs.writeFileSync(f.bundle, bundleSource(2)); // rebuilt: the same length, other code
  setMtime(f.cache, 2000);
  setMtime(f.bundle, 3000);
  assert.equal(await quickStart.loadBundle(f)?.([]), 2);
});

test('a code cache V8 rejects (another bundle, another node) costs only the compile', async (t) => {
  const f = tempFiles(t);
  fs.writeFileSync(f.modules, '');
  setMtime(f.modules, 1000);
  fs.writeFileSync(f.bundle, bundleSource(3));
  fs.writeFileSync(f.cache, 'not a code cache');
  assert.equal(await quickStart.loadBundle(f)?.([]), 3);
});

test('the built bundle is the CLI the modules are (scripts/build.sh and the unit tier make it)', async () => {
  const built = quickStart.loadBundle();
  assert.ok(built, 'no current bundle: run scripts/bundle-cli.sh after tsc');
  const { main } = await import('../../src/cli/main.js');
  const capture = async (run: typeof main, argv: string[]) => {
    let text = '';
    const sink = { write: (s: string) => ((text += s), true) } as unknown as NodeJS.WritableStream;
    const code = await run(argv, { out: sink, err: sink });
    return { code, text };
  };
  for (const argv of [['--help'], ['pods', '--help'], ['image'], ['nonsense']])
    assert.deepEqual(await capture(built, argv), await capture(main, argv), argv.join(' '));
});
