// Layer unpacking (src/image/unpack.ts) into overlayfs lower-dir form. Runs as root: it chowns,
// makes device nodes, sets trusted.* xattrs and mounts overlays. Everything lives in one temp dir,
// removed (after unmounting whatever the tests mounted) even when a test fails.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { createHash } from 'node:crypto';
import zlib from 'node:zlib';
import * as tar from 'tar';
import { unpackLayer, type UnpackStats } from '../src/image/unpack.js';
import { TarFormatError, TarReader, type TarEntry } from '../src/image/layer/tar-reader.js';
import { LAYER_LIMITS } from '../src/image/limits.js';
import { mountOverlay, unmountOverlay } from '../src/image/overlay.js';
import { run } from '../src/util/exec.js';
import { CribError } from '../src/util/errors.js';
import { globalXattrBomb, header, makeTar, paxBody, type Entry } from './support/tar.js';

// ---- helpers ------------------------------------------------------------------------------

let tmp = '';
let n = 0;
const mounted: string[] = [];

before(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'crib-unpack-test-'));
});

after(async () => {
  for (const m of mounted.reverse()) await unmountOverlay(m).catch(() => undefined);
  await fsp.rm(tmp, { recursive: true, force: true });
});

/** A fresh, empty destination directory. */
async function freshDir(label = 'layer'): Promise<string> {
  const d = path.join(tmp, `${label}-${++n}`);
  await fsp.mkdir(d);
  return d;
}

async function unpack(entries: Entry[] | Buffer, label?: string): Promise<{ dir: string; stats: UnpackStats }> {
  const dir = await freshDir(label);
  const stats = await unpackLayer(Readable.from([Buffer.isBuffer(entries) ? entries : makeTar(entries)]), dir);
  return { dir, stats };
}

async function getXattr(p: string, name: string): Promise<string | undefined> {
  try {
    return (await run('getfattr', ['-h', '--only-values', '-n', name, p])).stdout;
  } catch {
    return undefined;
  }
}

const isWhiteout = (p: string): boolean => {
  const st = fs.lstatSync(p);
  return st.isCharacterDevice() && st.rdev === 0;
};

const refused = (re: RegExp) => (err: unknown) => err instanceof CribError && err.kind === 'InvalidArgument' && re.test(err.message);

// ---- tests --------------------------------------------------------------------------------

describe('TarReader', () => {
  it('stops between entries when its deadline has passed, and resumes', () => {
    const entries: Entry[] = [];
    for (let i = 0; i < 50; i++) entries.push({ path: `f${i}`, data: 'y'.repeat(i * 37) });
    const archive = makeTar(entries);
    const seen: { path: string; data: string }[] = [];
    let cur: { path: string; data: string } | undefined;
    const reader = new TarReader({
      entry: (e: TarEntry) => seen.push((cur = { path: e.path, data: '' })),
      data: (c: Buffer) => void ((cur as { data: string }).data += c.toString()),
      entryEnd: () => undefined,
    });
    let off = 0;
    let calls = 0;
    while (off < archive.length) {
      off += reader.write(archive.subarray(off), 0); // deadline long gone: one entry per call
      calls++;
    }
    reader.end();
    assert.ok(reader.finished);
    assert.ok(calls >= 50);
    assert.deepEqual(
      seen,
      entries.map((e) => ({ path: e.path, data: String(e.data) })),
    );
  });
});

describe('unpackLayer: entries', () => {
  it('writes files, dirs, symlinks and hard links with modes, owners and times', async () => {
    const big = Buffer.alloc(300_000, 'x');
    const { dir, stats } = await unpack([
      { path: './', type: '5', mode: 0o755, mtime: 1_500_000_000 },
      { path: 'bin/', type: '5', mode: 0o755, mtime: 1_500_000_001, uid: 1234, gid: 5678 },
      { path: 'bin/tool', data: '#!/bin/sh\n', mode: 0o755, mtime: 1_500_000_002 },
      { path: 'bin/su', data: 'su', mode: 0o4755, mtime: 1_500_000_003 },
      { path: 'bin/sg', data: 'sg', mode: 0o2755, gid: 5678 },
      { path: 'tmp/', type: '5', mode: 0o1777 },
      { path: 'etc/secret', data: 'pw', mode: 0o640, uid: 1234, gid: 5678, mtime: 1_400_000_000 },
      { path: 'etc/big', data: big },
      { path: 'etc/link', type: '2', linkpath: 'secret', uid: 1234, gid: 5678, mtime: 1_300_000_000 },
      { path: 'etc/abs-link', type: '2', linkpath: '/etc/passwd' },
      { path: 'etc/hard', type: '1', linkpath: 'etc/secret' },
      { path: 'etc/empty', data: '' },
    ]);
    assert.deepEqual(stats, { files: 6, dirs: 2, symlinks: 2, hardlinks: 1, devices: 0, whiteouts: 0, opaques: 0, bytes: 10 + 2 + 2 + 2 + 300_000 });

    const st = (p: string) => fs.lstatSync(path.join(dir, p));
    assert.equal(st('bin/tool').mode & 0o7777, 0o755);
    assert.equal(st('bin/su').mode & 0o7777, 0o4755);
    assert.equal(st('bin/sg').mode & 0o7777, 0o2755);
    assert.equal(st('tmp').mode & 0o7777, 0o1777);
    assert.equal(st('etc/secret').mode & 0o7777, 0o640);
    assert.equal(st('etc/secret').uid, 1234);
    assert.equal(st('etc/secret').gid, 5678);
    assert.equal(st('bin').uid, 1234);
    assert.equal(st('etc/link').uid, 1234);
    assert.equal(st('etc/secret').mtimeMs, 1_400_000_000_000);
    assert.equal(st('bin/tool').mtimeMs, 1_500_000_002_000);
    assert.equal(st('etc/link').mtimeMs, 1_300_000_000_000);
    // Directory times are set after their content was written.
    assert.equal(st('bin').mtimeMs, 1_500_000_001_000);
    assert.equal(st('.').mtimeMs, 1_500_000_000_000);
    assert.equal(fs.readlinkSync(path.join(dir, 'etc/link')), 'secret');
    assert.equal(fs.readlinkSync(path.join(dir, 'etc/abs-link')), '/etc/passwd');
    assert.equal(st('etc/hard').ino, st('etc/secret').ino);
    assert.equal(fs.readFileSync(path.join(dir, 'etc/hard'), 'utf8'), 'pw');
    assert.ok(fs.readFileSync(path.join(dir, 'etc/big')).equals(big));
    assert.equal(st('etc/empty').size, 0);
    // An implicit parent (etc/ had no entry) is a plain 0755 directory.
    assert.equal(st('etc').mode & 0o7777, 0o755);
  });

  it('makes device nodes and FIFOs', async () => {
    const { dir, stats } = await unpack([
      { path: 'dev/null', type: '3', devmajor: 1, devminor: 3, mode: 0o666, mtime: 1_200_000_000 },
      { path: 'dev/loop9', type: '4', devmajor: 7, devminor: 9, mode: 0o660, gid: 6 },
      { path: 'run/fifo', type: '6', mode: 0o600, uid: 1234 },
      { path: 'dev/null-again', type: '1', linkpath: 'dev/null' },
    ]);
    assert.equal(stats.devices, 3);
    const nul = fs.lstatSync(path.join(dir, 'dev/null'));
    assert.ok(nul.isCharacterDevice());
    assert.equal(nul.rdev, (1 << 8) | 3);
    assert.equal(nul.mode & 0o7777, 0o666);
    assert.equal(nul.mtimeMs, 1_200_000_000_000);
    const loop = fs.lstatSync(path.join(dir, 'dev/loop9'));
    assert.ok(loop.isBlockDevice());
    assert.equal(loop.rdev, (7 << 8) | 9);
    assert.equal(loop.gid, 6);
    const fifo = fs.lstatSync(path.join(dir, 'run/fifo'));
    assert.ok(fifo.isFIFO());
    assert.equal(fifo.uid, 1234);
    assert.equal(fs.lstatSync(path.join(dir, 'dev/null-again')).ino, nul.ino);
    assert.deepEqual(fs.readdirSync(dir).sort(), ['dev', 'run']); // no staging dir left
  });

  it('turns whiteouts into 0:0 character devices and opaque markers into the xattr', async () => {
    const { dir, stats } = await unpack([
      { path: 'etc/', type: '5' },
      { path: 'etc/.wh.passwd' },
      { path: '.wh.gone' },
      { path: 'var/cache/', type: '5', mode: 0o700, mtime: 1_100_000_000 },
      { path: 'var/cache/.wh..wh..opq' },
      { path: 'var/cache/new', data: 'n' },
      { path: '.wh..wh.plnk/123.456', data: '' }, // AUFS bookkeeping: ignored
    ]);
    assert.equal(stats.whiteouts, 2);
    assert.equal(stats.opaques, 1);
    assert.ok(isWhiteout(path.join(dir, 'etc/passwd')));
    assert.ok(isWhiteout(path.join(dir, 'gone')));
    assert.ok(!fs.existsSync(path.join(dir, 'etc/.wh.passwd')));
    assert.ok(!fs.existsSync(path.join(dir, '.wh.gone')));
    assert.equal(await getXattr(path.join(dir, 'var/cache'), 'trusted.overlay.opaque'), 'y');
    assert.equal(await getXattr(path.join(dir, 'etc'), 'trusted.overlay.opaque'), undefined);
    assert.equal(fs.lstatSync(path.join(dir, 'var/cache')).mtimeMs, 1_100_000_000_000);
    assert.deepEqual(fs.readdirSync(path.join(dir, 'var/cache')), ['new']);
    assert.ok(!fs.existsSync(path.join(dir, '.wh..wh.plnk')));
  });

  it('sets simple xattrs from PAX headers and drops forged overlay ones', async () => {
    const cap = Buffer.from('0100000200200000000000000000000000000000', 'hex'); // cap_net_raw+ep
    const { dir } = await unpack([
      { path: 'bin/ping', data: 'elf', mode: 0o755, pax: { 'SCHILY.xattr.security.capability': cap, 'SCHILY.xattr.user.note': 'hello' } },
      { path: 'fake/', type: '5', pax: { 'SCHILY.xattr.trusted.overlay.opaque': 'y', 'SCHILY.xattr.trusted.crib': 'ok' } },
      { path: 'fake/lower-stays-visible', data: '' },
    ]);
    const hex = (await run('getfattr', ['-h', '-e', 'hex', '--only-values', '-n', 'security.capability', path.join(dir, 'bin/ping')])).stdout;
    assert.ok(Buffer.from(hex).equals(cap));
    assert.equal(await getXattr(path.join(dir, 'bin/ping'), 'user.note'), 'hello');
    assert.equal(await getXattr(path.join(dir, 'fake'), 'trusted.overlay.opaque'), undefined);
    assert.equal(await getXattr(path.join(dir, 'fake'), 'trusted.crib'), 'ok');
  });

  it('handles long names: PAX path, ustar prefix (tar package) and GNU long names (GNU tar)', async () => {
    const src = await freshDir('src');
    const deep = path.join('d'.repeat(60), 'e'.repeat(60), 'f'.repeat(60));
    await fsp.mkdir(path.join(src, deep), { recursive: true });
    await fsp.writeFile(path.join(src, deep, 'n'.repeat(120)), 'deep');
    await fsp.symlink('x'.repeat(150), path.join(src, deep, 'longlink'));
    await fsp.writeFile(path.join(src, 'cap'), 'c');
    await run('setfattr', ['-n', 'user.k', '-v', 'v', path.join(src, 'cap')]);

    const check = (dir: string) => {
      assert.equal(fs.readFileSync(path.join(dir, deep, 'n'.repeat(120)), 'utf8'), 'deep');
      assert.equal(fs.readlinkSync(path.join(dir, deep, 'longlink')), 'x'.repeat(150));
    };
    // The tar package writes PAX headers for long names.
    const byPkg = await freshDir();
    await unpackLayer(tar.c({ cwd: src, portable: true }, ['.']) as unknown as Readable, byPkg);
    check(byPkg);
    // GNU tar: its own format (long names as 'L'/'K' entries), gzipped, and a POSIX one with xattrs.
    for (const format of ['gnu', 'posix']) {
      const file = path.join(tmp, `gnu-${format}.tgz`);
      await run('tar', ['-C', src, `--format=${format}`, '--xattrs', '-czf', file, '.']);
      const dir = await freshDir();
      await unpackLayer(file, dir, { compression: 'gzip' });
      check(dir);
      if (format === 'posix') assert.equal(await getXattr(path.join(dir, 'cap'), 'user.k'), 'v');
    }
  });

  it('lets a later entry for the same path replace the earlier one', async () => {
    const { dir } = await unpack([
      { path: 'f', data: 'first' },
      { path: 'f', data: 'second' },
      { path: 'x', data: 'file' },
      { path: 'x/', type: '5' },
      { path: 'x/in', data: 'in' },
      { path: 'y/', type: '5' },
      { path: 'y/old', data: 'old' },
      { path: 'y', type: '2', linkpath: '/tmp' },
      { path: 'z', type: '3', devmajor: 1, devminor: 3 },
      { path: 'z', data: 'not a device' },
      { path: 'keep/', type: '5', mode: 0o700 },
      { path: 'keep/a', data: 'a' },
      { path: 'keep/', type: '5', mode: 0o750 },
    ]);
    assert.equal(fs.readFileSync(path.join(dir, 'f'), 'utf8'), 'second');
    assert.equal(fs.readFileSync(path.join(dir, 'x/in'), 'utf8'), 'in');
    assert.equal(fs.readlinkSync(path.join(dir, 'y')), '/tmp');
    assert.equal(fs.readFileSync(path.join(dir, 'z'), 'utf8'), 'not a device');
    assert.equal(fs.readFileSync(path.join(dir, 'keep/a'), 'utf8'), 'a');
    assert.equal(fs.lstatSync(path.join(dir, 'keep')).mode & 0o7777, 0o750);
  });

  it('takes "/abs/path" as relative to dest, as tar does', async () => {
    const { dir } = await unpack([
      { path: '/abs/path', data: 'abs' },
      { path: '/', type: '5', mode: 0o711 },
    ]);
    assert.equal(fs.readFileSync(path.join(dir, 'abs/path'), 'utf8'), 'abs');
    assert.equal(fs.lstatSync(dir).mode & 0o7777, 0o711);
  });
});

describe('unpackLayer: compression and input', () => {
  const layer = makeTar([{ path: 'hello', data: 'world' }]);

  it('unpacks gzip layers, detected or named', async () => {
    const gz = zlib.gzipSync(layer);
    for (const compression of ['auto', 'gzip'] as const) {
      const dir = await freshDir();
      await unpackLayer(Readable.from([gz]), dir, { compression });
      assert.equal(fs.readFileSync(path.join(dir, 'hello'), 'utf8'), 'world');
    }
    const file = path.join(tmp, 'layer.tar.gz');
    await fsp.writeFile(file, gz);
    const dir = await freshDir();
    await unpackLayer(file, dir);
    assert.equal(fs.readFileSync(path.join(dir, 'hello'), 'utf8'), 'world');
  });

  it('reads a stream delivered in tiny pieces', async () => {
    const pieces: Buffer[] = [];
    for (let i = 0; i < layer.length; i += 7) pieces.push(layer.subarray(i, i + 7));
    const dir = await freshDir();
    await unpackLayer(Readable.from(pieces), dir, { compression: 'none' });
    assert.equal(fs.readFileSync(path.join(dir, 'hello'), 'utf8'), 'world');
  });

  it('explains zstd layers this Node cannot decompress', async () => {
    const z = zlib as unknown as { zstdCompressSync?: (b: Buffer) => Buffer };
    const dir = await freshDir();
    if (typeof z.zstdCompressSync === 'function') {
      await unpackLayer(Readable.from([z.zstdCompressSync(layer)]), dir);
      assert.equal(fs.readFileSync(path.join(dir, 'hello'), 'utf8'), 'world');
    } else {
      const fake = Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), Buffer.alloc(100)]);
      await assert.rejects(unpackLayer(Readable.from([fake]), dir), /layer is zstd-compressed; this Node cannot decompress zstd/);
      await assert.rejects(unpackLayer(Readable.from([layer]), dir, { compression: 'zstd' }), /cannot decompress zstd/);
    }
  });

  it('checks the diffID when given one', async () => {
    const diffId = `sha256:${createHash('sha256').update(layer).digest('hex')}`;
    const gz = zlib.gzipSync(layer);
    await unpackLayer(Readable.from([gz]), await freshDir(), { diffId });
    await assert.rejects(unpackLayer(Readable.from([gz]), await freshDir(), { diffId: `sha256:${'0'.repeat(64)}` }), refused(/diffID/));
  });

  it('refuses a truncated layer, a corrupt header and a non-empty dest', async () => {
    await assert.rejects(unpack(layer.subarray(0, 700)), refused(/unexpected end/));
    const bad = Buffer.from(layer);
    bad[0] = 0x41;
    await assert.rejects(unpack(bad), refused(/checksum/));
    const gz = zlib.gzipSync(layer);
    gz[gz.length - 20]! ^= 0xff;
    await assert.rejects(unpackLayer(Readable.from([gz]), await freshDir()), refused(/compressed data/));
    const dir = await freshDir();
    await fsp.writeFile(path.join(dir, 'x'), '');
    await assert.rejects(unpackLayer(Readable.from([layer]), dir), (e: CribError) => e.kind === 'FailedPrecondition');
  });
});

describe('unpackLayer: hostile layers', () => {
  let outside = '';
  before(async () => {
    outside = await freshDir('outside');
  });

  /** Unpacks into a dir inside `outside`-adjacent space; asserts the refusal and that dest stays. */
  async function expectRefusal(entries: Entry[], re: RegExp): Promise<string> {
    const dir = await freshDir('hostile');
    await assert.rejects(unpackLayer(Readable.from([makeTar(entries)]), dir), refused(re));
    assert.ok(fs.existsSync(dir), 'dest is left for the caller to remove');
    return dir;
  }

  it('refuses ../ paths', async () => {
    await expectRefusal([{ path: '../evil', data: 'x' }], /leaves the layer/);
    await expectRefusal([{ path: 'a/../../evil', data: 'x' }], /leaves the layer/);
    assert.ok(!fs.existsSync(path.join(tmp, 'evil')));
  });

  it('refuses hard links out of the layer or to nothing', async () => {
    await expectRefusal([{ path: 'h', type: '1', linkpath: '../outside-file' }], /leaves the layer/);
    await expectRefusal([{ path: 'h', type: '1', linkpath: 'not/yet' }], /not in the layer/);
    await expectRefusal(
      [
        { path: 'h', type: '1', linkpath: 'later' },
        { path: 'later', data: '' },
      ],
      /not in the layer/,
    );
    await expectRefusal(
      [
        { path: 'd/', type: '5' },
        { path: 'h', type: '1', linkpath: 'd' },
      ],
      /directory/,
    );
  });

  it('never writes through a symlink an earlier entry made', async () => {
    await expectRefusal(
      [
        { path: 'a', type: '2', linkpath: outside },
        { path: 'a/passwd', data: 'pwned' },
      ],
      /symlink/,
    );
    await expectRefusal(
      [
        { path: 'a', type: '2', linkpath: '..' },
        { path: 'a/x', data: 'pwned' },
      ],
      /symlink/,
    );
    await expectRefusal(
      [
        { path: 'a', type: '2', linkpath: outside },
        { path: 'a/sub/', type: '5' },
      ],
      /symlink/,
    );
    await expectRefusal([{ path: 'a', type: '2', linkpath: outside }, { path: 'a/.wh.x' }], /symlink/);
    await expectRefusal([{ path: 'a', type: '2', linkpath: outside }, { path: 'a/.wh..wh..opq' }], /symlink/);
    await expectRefusal(
      [
        { path: 'a', type: '2', linkpath: outside },
        { path: 'a/dev', type: '3', devmajor: 1, devminor: 3 },
      ],
      /symlink/,
    );
    await expectRefusal(
      [
        { path: 'a', type: '2', linkpath: '/etc' },
        { path: 'h', type: '1', linkpath: 'a/passwd' },
      ],
      /symlink/,
    );
    // A directory replaced by a symlink, then written into.
    await expectRefusal(
      [
        { path: 'd/', type: '5' },
        { path: 'd/x', data: '' },
        { path: 'd', type: '2', linkpath: outside },
        { path: 'd/y', data: 'pwned' },
      ],
      /symlink/,
    );
    assert.deepEqual(fs.readdirSync(outside), []);
  });

  it('refuses a whiteout of ".." and a non-directory root', async () => {
    await expectRefusal([{ path: 'a/.wh...' }], /whiteout/);
    await expectRefusal([{ path: './', data: 'x' }], /root/);
  });
});

describe('unpackLayer: bounds on hostile layers', () => {
  const KiB = 1024;
  const value = (n: number, fill = 0x41) => Buffer.alloc(n, fill);
  /** Bytes the process holds, JS heap and buffers: what a layer could make grow. */
  const held = () => {
    const m = process.memoryUsage();
    return m.heapUsed + m.arrayBuffers;
  };

  it('refuses a 30 KiB layer whose global xattrs every one of thousands of files inherits, in bounded memory', async () => {
    const bomb = globalXattrBomb();
    assert.ok(bomb.length < 40 * KiB, `the bomb is ${bomb.length} bytes`);
    const before = held();
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, held())), 5);
    try {
      await assert.rejects(
        unpackLayer(Readable.from([bomb]), await freshDir('bomb')),
        refused(/more than 67108864 bytes of extended attributes \(a per-layer limit\)/),
      );
    } finally {
      clearInterval(sampler);
    }
    peak = Math.max(peak, held());
    assert.ok(peak - before < 256 * 1024 * KiB, `memory grew by ${Math.round((peak - before) / 1024 / KiB)} MiB`);
  });

  it('lets a later global header replace an xattr, and refuses headers that pile up more than an entry may have', async () => {
    // The same name again and again: replaced, one xattr on the file.
    const same: Entry[] = [];
    for (let i = 0; i < 50; i++) same.push({ path: 'pax_global_header', type: 'g', data: paxBody({ 'SCHILY.xattr.user.v': `v${i}` }) });
    same.push({ path: 'f', data: 'x' });
    const { dir } = await unpack(same);
    assert.equal(await getXattr(path.join(dir, 'f'), 'user.v'), 'v49');
    // New names in each global header, or in each of many 'x' headers before one entry.
    const piled: Entry[] = [];
    for (let i = 0; i < 200; i++) piled.push({ path: 'pax_global_header', type: 'g', data: paxBody({ [`SCHILY.xattr.user.g${i}`]: 'x' }) });
    piled.push({ path: 'f', data: 'x' });
    await assert.rejects(unpack(piled), refused(/global header has more than 128 extended attributes/));
    const local: Entry[] = [];
    for (let i = 0; i < 40; i++) local.push({ path: 'PaxHeader', type: 'x', data: paxBody({ [`SCHILY.xattr.user.x${i}`]: value(60 * KiB) }) });
    local.push({ path: 'f', data: 'x' });
    await assert.rejects(unpack(local), refused(/an entry has extended attributes of more than 1048576 bytes/));
    // Global and own together.
    const both: Entry[] = [
      {
        path: 'pax_global_header',
        type: 'g',
        data: paxBody(Array.from({ length: 10 }, (_, i): [string, Buffer] => [`SCHILY.xattr.user.g${i}`, value(60 * KiB)])),
      },
      { path: 'f', data: 'x', pax: Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`SCHILY.xattr.user.l${i}`, value(60 * KiB)])) },
    ];
    await assert.rejects(unpack(both), refused(/entry "f" has extended attributes of more than 1048576 bytes/));
  });

  it('refuses an xattr value over 64 KiB, and paths and link targets over 4096 bytes', async () => {
    await assert.rejects(
      unpack([{ path: 'f', data: 'x', pax: { 'SCHILY.xattr.user.big': value(64 * KiB + 1) } }]),
      refused(/"user.big" of an entry has a value of 65537 bytes, more than the 65536 allowed/),
    );
    const long = `${'d'.repeat(200)}/`.repeat(21).slice(0, 4097);
    await assert.rejects(unpack([{ path: 'f', data: 'x', pax: { path: long } }]), refused(/PAX path of 4097 bytes is longer than the 4096 allowed/));
    await assert.rejects(unpack([{ path: 'l', type: '2', pax: { linkpath: long } }]), refused(/PAX linkpath of 4097 bytes is longer than the 4096 allowed/));
    await assert.rejects(
      unpack([
        { path: '././@LongLink', type: 'L', data: `${long}\0` },
        { path: 'f', data: 'x' },
      ]),
      refused(/long name of 4097 bytes is longer than the 4096 allowed/),
    );
    await assert.rejects(
      unpack([
        { path: '././@LongLink', type: 'K', data: long },
        { path: 'l', type: '2' },
      ]),
      refused(/long link name of 4097 bytes/),
    );
    await assert.rejects(unpack([{ path: 'l', type: '2', linkpath: 'x', pax: { linkpath: 'a\0b' } }]), refused(/PAX linkpath holds a NUL byte/));
    // Within the bound but more than the file system takes: refused, naming the entry.
    await assert.rejects(
      unpack([{ path: 'f', data: 'x', pax: { path: `dir/${'n'.repeat(300)}` } }]),
      refused(/"dir\/n{20,}.*: a name in its path is too long for the file system/),
    );
  });

  it('refuses ids and device numbers the kernel cannot take', async () => {
    await assert.rejects(unpack([{ path: 'f', data: 'x', pax: { uid: '4294967296' } }]), refused(/uid 4294967296 of "f" is out of range/));
    await assert.rejects(unpack([{ path: 'f', data: 'x', pax: { gid: '99999999999' } }]), refused(/gid 99999999999 of "f" is out of range/));
    await assert.rejects(unpack([{ path: 'd', type: '3', devmajor: 4096, devminor: 1 }]), refused(/device major 4096 of "d" is out of range/));
    await assert.rejects(unpack([{ path: 'd', type: '4', devmajor: 1, devminor: 0x100000 }]), refused(/device minor 1048576 of "d" is out of range/));
    await assert.rejects(unpack([{ path: 'f', data: 'x', pax: { mtime: '9'.repeat(400) } }]), refused(/PAX "mtime" out of range/));
  });

  it('refuses a layer of more entries than any real one has (2,000,000)', () => {
    const empties = Buffer.concat(Array.from({ length: 2048 }, () => header({ path: 'f' }, 0)));
    const reader = new TarReader({ entry: () => undefined, data: () => undefined, entryEnd: () => undefined });
    assert.throws(
      () => {
        for (let i = 0; i < 1000; i++) reader.write(empties);
      },
      (e: unknown) => e instanceof TarFormatError && /more than 2000000 entries in one layer/.test(e.message),
    );
  });

  it('bounds what it keeps to finish the layer: the cache of known directories gives way, kept paths are refused', async () => {
    const limits = { ...LAYER_LIMITS, bookkeepingBytes: 64 * KiB };
    // 3000 implicit directories (no entries of their own): only the cache knows them, and is dropped.
    const implicit: Entry[] = Array.from({ length: 3000 }, (_, i) => ({ path: `d${i}/f`, data: 'x' }));
    const ok = await freshDir();
    await unpackLayer(Readable.from([makeTar(implicit)]), ok, { limits });
    assert.equal(fs.readFileSync(path.join(ok, 'd2999/f'), 'utf8'), 'x');
    // 3000 directory entries: their times are set at the end, so their paths must be kept.
    const explicit: Entry[] = Array.from({ length: 3000 }, (_, i) => ({ path: `d${i}/`, type: '5' }));
    await assert.rejects(
      unpackLayer(Readable.from([makeTar(explicit)]), await freshDir(), { limits }),
      refused(/more than 65536 bytes of paths to finish the layer with/),
    );
    // Whiteouts too.
    const whiteouts: Entry[] = Array.from({ length: 3000 }, (_, i) => ({ path: `.wh.gone${i}` }));
    await assert.rejects(unpackLayer(Readable.from([makeTar(whiteouts)]), await freshDir(), { limits }), refused(/bytes of paths to finish the layer with/));
  });

  it('sets many xattrs through several setfattr runs', async () => {
    // 1500 files with 3000 bytes each (ext4 keeps an inode's xattrs in one 4 KiB block): about
    // 9 MiB of dump text, more than one batch.
    const entries: Entry[] = Array.from({ length: 1500 }, (_, i) => ({
      path: `f${i}`,
      data: 'x',
      pax: { 'SCHILY.xattr.user.v': value(3000, 0x30 + (i % 10)) },
    }));
    const { dir } = await unpack(entries);
    for (const i of [0, 700, 1499]) {
      const got = await getXattr(path.join(dir, `f${i}`), 'user.v');
      assert.ok(got === String.fromCharCode(0x30 + (i % 10)).repeat(3000), `user.v of f${i}`);
    }
  });
});

describe('unpacked layers stacked with overlayfs', () => {
  it('shows deletions, opaque dirs and the top version of a file', async () => {
    const bottom = await unpack(
      [
        { path: 'etc/', type: '5' },
        { path: 'etc/deleted', data: 'd' },
        { path: 'etc/kept', data: 'k' },
        { path: 'opq/', type: '5' },
        { path: 'opq/old1', data: '1' },
        { path: 'opq/old2', data: '2' },
        { path: 'file', data: 'v1' },
        { path: 'gone-dir/', type: '5' },
        { path: 'gone-dir/a', data: '' },
      ],
      'bottom',
    );
    const middle = await unpack(
      [
        { path: 'etc/.wh.deleted' },
        { path: 'opq/', type: '5' },
        { path: 'opq/.wh..wh..opq' },
        { path: 'opq/new', data: 'new' },
        { path: 'file', data: 'v2' },
        { path: '.wh.gone-dir' },
      ],
      'middle',
    );
    const top = await unpack(
      [
        { path: 'file', data: 'v3' },
        { path: 'etc/added', data: 'a' },
      ],
      'top',
    );
    const target = await freshDir('merged');
    await mountOverlay({ lowerDirs: [top.dir, middle.dir, bottom.dir], target });
    mounted.push(target);
    try {
      assert.ok(!fs.existsSync(path.join(target, 'etc/deleted')));
      assert.deepEqual(fs.readdirSync(path.join(target, 'etc')).sort(), ['added', 'kept']);
      assert.deepEqual(fs.readdirSync(path.join(target, 'opq')), ['new']);
      assert.equal(fs.readFileSync(path.join(target, 'file'), 'utf8'), 'v3');
      assert.ok(!fs.existsSync(path.join(target, 'gone-dir')));
      assert.deepEqual(fs.readdirSync(target).sort(), ['etc', 'file', 'opq']);
    } finally {
      await unmountOverlay(target);
    }
  });
});
