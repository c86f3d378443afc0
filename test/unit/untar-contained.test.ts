// crib cp's unpacking of what comes out of a container, fed archives built to break it: every entry
// stays below DEST, nothing is written through a symlink, and entries and bytes are bounded.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseCpWord } from '../../src/cli/cp.js';
import { containedUntar, entryTarget, memberPrefix, type UntarBounds } from '../../src/cli/untar-contained.js';
import { makeTar, type Entry } from '../support/tar.js';

/** Every path under `dir`, relative, sorted (symlinks not followed). */
function tree(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[]).sort();
}

describe('crib cp: the archive from the container', () => {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'crib-untar-'));
  after(() => fs.rmSync(base, { recursive: true, force: true }));
  let n = 0;
  /** A fresh DEST (not made yet) beside an `outside` directory that must stay empty. */
  const fresh = () => {
    const root = path.join(base, String(++n));
    fs.mkdirSync(path.join(root, 'outside'), { recursive: true });
    return { root, dest: path.join(root, 'dest'), outside: path.join(root, 'outside') };
  };
  const unpack = (dest: string, prefix: string, entries: Entry[], bounds?: Partial<UntarBounds>) => {
    const warnings: string[] = [];
    const sink = containedUntar(dest, prefix, (l) => warnings.push(l), bounds);
    const bytes = makeTar(entries);
    // in small pieces, as a socket hands them over
    for (let i = 0; i < bytes.length; i += 700) sink.write(bytes.subarray(i, i + 700));
    return { finished: sink.end(), warnings };
  };

  it('maps SRC to DEST: a directory tree, its files and permission bits without setuid', () => {
    const { dest } = fresh();
    const r = unpack(dest, memberPrefix('/srv/site/'), [
      { path: 'srv/site/', type: '5' },
      { path: 'srv/site/index.html', data: 'hello' },
      { path: 'srv/site/bin/', type: '5', mode: 0o750 },
      { path: 'srv/site/bin/run', data: '#!/bin/sh\n', mode: 0o4755 },
    ]);
    assert.equal(r.finished, true);
    assert.deepEqual(tree(dest), ['bin', 'bin/run', 'index.html']);
    assert.equal(fs.readFileSync(path.join(dest, 'index.html'), 'utf8'), 'hello');
    assert.equal(fs.statSync(path.join(dest, 'bin', 'run')).mode & 0o7777, 0o755, 'setuid dropped');
    const file = fresh().dest;
    unpack(file, memberPrefix('etc/hostname'), [{ path: 'etc/hostname', data: 'pod\n' }]);
    assert.equal(fs.readFileSync(file, 'utf8'), 'pod\n', 'a file becomes DEST');
  });

  const refused: [string, Entry[], RegExp][] = [
    ['a ".." entry', [{ path: 'src/../../outside/x', data: 'x' }], /"\.\." component/],
    ['an absolute entry', [{ path: '/outside/x', data: 'x' }], /absolute name/],
    ['an entry outside SRC', [{ path: 'other/x', data: 'x' }], /not below src/],
    [
      'a GNU long name with ".."',
      [
        { path: '././@LongLink', type: 'L', data: `src/${'a/'.repeat(60)}../../${'../'.repeat(60)}outside/x\0` },
        { path: 'x', data: 'x' },
      ],
      /"\.\." component/,
    ],
  ];
  for (const [what, entries, message] of refused) {
    it(`refuses ${what}, and writes nothing outside DEST`, () => {
      const { dest, outside, root } = fresh();
      assert.throws(() => unpack(dest, 'src', entries), message);
      assert.deepEqual(tree(outside), []);
      assert.deepEqual(tree(root), ['outside']);
    });
  }

  it('skips symlinks (as kubectl cp) so an entry below one lands below DEST, not where it points', () => {
    const { dest, outside } = fresh();
    const r = unpack(dest, 'src', [
      { path: 'src/', type: '5' },
      { path: 'src/link', type: '2', linkpath: outside },
      { path: 'src/link/x', data: 'x' },
      { path: 'src/hard', type: '1', linkpath: 'src/link/x' },
      { path: 'src/fifo', type: '6' },
    ]);
    assert.deepEqual(tree(outside), []);
    assert.deepEqual(tree(dest), ['link', 'link/x']);
    assert.equal(fs.lstatSync(path.join(dest, 'link')).isDirectory(), true);
    assert.deepEqual(
      r.warnings.map((w) => w.replace(/"[^"]*"/g, '"…"')),
      ['warning: skipping symlink: "…" -> "…"', 'warning: skipping hard link "…"', 'warning: skipping fifo "…"'],
    );
  });

  it('never writes through a symlink already under DEST (a directory on the way, or the file itself)', () => {
    const { dest, outside } = fresh();
    fs.mkdirSync(dest);
    fs.symlinkSync(outside, path.join(dest, 'dir'));
    fs.symlinkSync(path.join(outside, 'target'), path.join(dest, 'file'));
    assert.throws(() => unpack(dest, 'src', [{ path: 'src/dir/x', data: 'x' }]), /is a symlink/);
    assert.throws(() => unpack(dest, 'src', [{ path: 'src/file', data: 'x' }]), /is a symlink/);
    assert.deepEqual(tree(outside), []);
  });

  it('bounds the entries and the bytes', () => {
    const many = Array.from({ length: 11 }, (_, i): Entry => ({ path: `src/f${i}`, data: '' }));
    assert.throws(() => unpack(fresh().dest, 'src', many, { entries: 10 }), /more than 10 entries/);
    assert.doesNotThrow(() => unpack(fresh().dest, 'src', many.slice(0, 10), { entries: 10 }));
    const big = [
      { path: 'src/a', data: Buffer.alloc(600) },
      { path: 'src/b', data: Buffer.alloc(500) },
    ];
    const { dest } = fresh();
    assert.throws(() => unpack(dest, 'src', big, { bytes: 1000 }), /more than 1000 bytes/);
    assert.deepEqual(tree(dest), ['a'], 'stopped before the entry that crossed the bound');
  });

  it('says when the stream is no tar', () => {
    const sink = containedUntar(fresh().dest, 'src', () => undefined);
    assert.throws(() => sink.write(Buffer.alloc(512, 'x')), /not a valid tar/);
  });

  it('reads POD:PATH words as kubectl does', () => {
    assert.deepEqual(parseCpWord('web-1:/etc/hosts'), { pod: 'web-1', path: '/etc/hosts' });
    assert.deepEqual(parseCpWord('deployment/web:/x'), { pod: 'deployment/web', path: '/x' });
    assert.equal(parseCpWord('./a:b'), './a:b');
    assert.equal(parseCpWord('/tmp/a:b'), '/tmp/a:b');
    assert.equal(parseCpWord('local'), 'local');
    assert.equal(memberPrefix('/../etc//x/'), 'etc/x');
    assert.deepEqual(entryTarget('etc/x/./y', 'etc/x'), ['y']);
    assert.deepEqual(entryTarget('etc/xy', 'etc/x'), { refused: 'not below etc/x, the path asked for' });
  });
});
