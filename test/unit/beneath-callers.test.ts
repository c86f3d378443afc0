// Every path crib resolves inside a directory a container can write goes through src/host/beneath.ts:
// beneath() (crib-io's openat2 RESOLVE_BENEATH, a bind of what it opened) and, for a rootfs an image
// wrote, readInRoot() (RESOLVE_IN_ROOT).
// This lists who calls it, so a new caller is a decision someone saw, and checks the shape of the
// defect it replaced (a subPath joined to its volume's path as a string) is nowhere in src/.
// crib-io itself is tested against planted symlinks in test/path-containment.test.ts.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { beneathArgs, BeneathError, parseReads } from '../../src/host/beneath.js';
import { repoRoot } from '../../src/util/paths.js';

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'generated' ? [] : sources(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

const src = sources(path.join(repoRoot, 'src')).map((file) => ({ rel: path.relative(repoRoot, file), text: fs.readFileSync(file, 'utf8') }));

describe('the paths inside volumes', () => {
  it('are resolved by beneath() or readInRoot() in these functions, and nowhere else', () => {
    const callers: string[] = [];
    for (const { rel, text } of src) {
      if (rel === path.join('src', 'host', 'beneath.ts')) continue;
      const lines = text.split('\n');
      lines.forEach((line, i) => {
        if (/^\s*(\/\/|\*)/.test(line) || !/\b(beneath|readInRoot)\(/.test(line)) return; // comments name them too
        // The function or method around the call: the nearest declaration above it.
        const fn = lines
          .slice(0, i + 1)
          .reverse()
          .map((l) => /^(?:export )?(?:async )?function (\w+)/.exec(l)?.[1] ?? /^ {2}(?:private |async )*(\w+)\(.*\{$/.exec(l)?.[1])
          .find(Boolean);
        callers.push(`${rel}: ${fn ?? '(top level)'}`);
      });
    }
    assert.deepEqual(callers.sort(), [
      'src/container/service.ts: buildSpec', // the image's /etc/passwd and /etc/group, for the container's user
      'src/kube/volumes/volumes.ts: bindSubPaths', // each subPath of a container's mounts, bound before each start
      'src/kube/volumes/volumes.ts: writeFiles', // configMap, secret, downwardAPI and projected files (items' paths)
    ]);
  });

  it('are never a volume path joined with a subPath as a string', () => {
    const joined = src.filter(({ text }) => /path\.(join|resolve)\([^)\n]*\bsubPath\b/.test(text)).map(({ rel }) => rel);
    assert.deepEqual(joined, []);
  });

  it("become crib-io's arguments, with the files' bytes on stdin in order", () => {
    const { args, stdin } = beneathArgs('/v', [
      { mkdir: 'a/b' },
      { bind: 'data', target: '/pods/u/volume-subpaths/v/c/0' },
      { write: 'conf/x', data: Buffer.from('one'), mode: 0o644 },
      { write: 'y', data: Buffer.from('two!'), mode: 0o4755 },
    ]);
    assert.deepEqual(args, [
      'beneath',
      '/v',
      'mkdir',
      'a/b',
      'bind',
      'data',
      '/pods/u/volume-subpaths/v/c/0',
      'write',
      'conf/x',
      '644',
      '3',
      'write',
      'y',
      '4755',
      '4',
    ]);
    assert.equal(stdin.toString(), 'onetwo!');
  });

  it("splits crib-io's reads: a size and the bytes, or - for a missing file; anything else is refused", () => {
    const files = parseReads(Buffer.from('5\nroot\n-\n0\n'), 3);
    assert.deepEqual(
      files.map((f) => f?.toString()),
      ['root\n', undefined, ''],
    );
    for (const bad of ['5\nroot', 'x\n', '-\n-\n', '']) assert.throws(() => parseReads(Buffer.from(bad), 1), BeneathError, JSON.stringify(bad));
  });

  it('refuses what is not a path relative to the root, or not a mode', () => {
    for (const rel of ['', '/etc', 'a\0b']) assert.throws(() => beneathArgs('/v', [{ mkdir: rel }]), BeneathError, JSON.stringify(rel));
    for (const mode of [-1, 0o10000, 1.5]) assert.throws(() => beneathArgs('/v', [{ write: 'f', data: Buffer.alloc(0), mode }]), BeneathError, String(mode));
  });
});
