// Inputs and the driver for fuzzing what parses untrusted image content: real tars and documents
// built here, mutated (bytes flipped, header fields rewritten with their checksums fixed, blocks cut,
// repeated and spliced, JSON values replaced), plus some random bytes. The driver runs a part for a
// few seconds: no error but the expected kinds (TarFormatError, CribError), no input that takes
// long, and memory that stays bounded. The seed is printed; FUZZ_SEED=N repeats a run.
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { TarFormatError, TarReader } from '../../src/image/layer/tar-reader.js';
import { MediaType } from '../../src/image/manifest.js';
import { CribError } from '../../src/util/errors.js';
import { run } from '../../src/util/exec.js';
import { Prng } from './prng.js';
import { makeTar, paxBody, type Entry } from './tar.js';

export const SEED = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) >>> 0 : (Date.now() ^ (process.pid << 16)) >>> 0;
/** One input may take this long before it counts as a hang (unpacking runs mknod and setfattr, and may take longer). */
const SLOW_MS = 2000;
export const SLOW_UNPACK_MS = 10_000;
/** How far the process's heap and buffers may grow over a part. */
const MEMORY_BOUND = 256 << 20;

const held = () => process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;

/**
 * Runs `one` on inputs from `make` until `max` inputs were tried (the same ones for the same
 * seed) or `ms` passed on a slow machine, but at least `min` however long they take. Each call must end within `slowMs`
 * with no error or an expected one; memory must stay within the bound.
 */
export async function fuzz(
  t: TestContext,
  part: string,
  opts: { ms: number; max: number; min: number; seed: number; slowMs?: number },
  make: (rng: Prng) => Buffer,
  one: (input: Buffer, rng: Prng) => unknown,
  expected: (err: unknown) => boolean,
): Promise<void> {
  const rng = new Prng(opts.seed);
  const start = Date.now();
  const base = held();
  let peak = base;
  let n = 0;
  let refused = 0;
  for (; n < opts.max && (n < opts.min || Date.now() - start < opts.ms); n++) {
    const input = make(rng);
    const t0 = Date.now();
    try {
      await one(input, rng);
    } catch (err) {
      if (!expected(err)) {
        const what =
          err instanceof Error
            ? `${err.constructor.name}: ${err.message.slice(0, 300)}\n${(err.stack ?? '').split('\n').slice(1, 8).join('\n')}`
            : String(err).slice(0, 300);
        assert.fail(`${part}: input ${n} of seed ${SEED} threw ${what}`);
      }
      refused++;
    }
    const took = Date.now() - t0;
    assert.ok(took < (opts.slowMs ?? SLOW_MS), `${part}: input ${n} of seed ${SEED} took ${took} ms`);
    if (n % 16 === 0) peak = Math.max(peak, held());
  }
  peak = Math.max(peak, held());
  t.diagnostic(`${part}: ${n} inputs (${refused} refused) in ${Date.now() - start} ms, memory grew by up to ${Math.round((peak - base) / (1 << 20))} MiB`);
  assert.ok(peak - base < MEMORY_BOUND, `${part}: memory grew by ${Math.round((peak - base) / (1 << 20))} MiB`);
}

// ---- tar seeds and mutations -------------------------------------------------------------------

/** Real layers: every entry type, PAX (local and global, xattrs, long names), GNU long names, whiteouts. */
export function tarSeeds(gnuTar: Buffer): Buffer[] {
  const long = `${'deep/'.repeat(30)}file`;
  const plain: Entry[] = [
    { path: './', type: '5' },
    { path: 'bin/', type: '5', mode: 0o755, uid: 1000, gid: 1000 },
    { path: 'bin/tool', data: '#!/bin/sh\necho hi\n', mode: 0o4755 },
    { path: 'bin/link', type: '2', linkpath: 'tool' },
    { path: 'bin/hard', type: '1', linkpath: 'bin/tool' },
    { path: 'etc/passwd', data: 'root:x:0:0::/root:/bin/sh\n' },
  ];
  const pax: Entry[] = [
    {
      path: 'f',
      data: 'x'.repeat(700),
      pax: {
        path: long,
        mtime: '1600000000.5',
        'SCHILY.xattr.security.capability': Buffer.from('0100000200200000000000000000000000000000', 'hex'),
        'SCHILY.xattr.user.a': 'b',
      },
    },
    { path: 'l', type: '2', linkpath: 'x', pax: { linkpath: long, uid: '123456', gid: '7' } },
    { path: 'g', data: 'y', pax: { 'LIBARCHIVE.xattr.user.enc%20name': Buffer.from('value').toString('base64'), size: '1' } },
  ];
  const global: Entry[] = [
    { path: 'pax_global_header', type: 'g', data: paxBody({ 'SCHILY.xattr.user.g': 'global', mtime: '1500000000', uid: '5' }) },
    { path: 'a', data: 'a' },
    { path: 'b/', type: '5' },
    { path: 'b/c', data: 'c'.repeat(1500) },
  ];
  const gnu: Entry[] = [
    { path: '././@LongLink', type: 'L', data: `${long}\0` },
    { path: 'short', data: 'z' },
    { path: '././@LongLink', type: 'K', data: `${long}\0` },
    { path: 's', type: '2', linkpath: 'short' },
  ];
  const special: Entry[] = [
    { path: 'dev/null', type: '3', devmajor: 1, devminor: 3, mode: 0o666 },
    { path: 'dev/loop0', type: '4', devmajor: 7, devminor: 0 },
    { path: 'run/fifo', type: '6' },
    { path: 'etc/.wh.passwd' },
    { path: 'var/', type: '5' },
    { path: 'var/.wh..wh..opq' },
    { path: 'dev/null2', type: '1', linkpath: 'dev/null' },
  ];
  return [plain, pax, global, gnu, special].map((e) => makeTar(e)).concat(gnuTar);
}

function octalField(rng: Prng, len: number): Buffer {
  const kinds = [
    () =>
      Buffer.from(
        `${rng
          .below(8 ** Math.min(len - 1, 11))
          .toString(8)
          .padStart(len - 1, '0')}\0`,
      ),
    () => Buffer.concat([Buffer.from([0x80]), rng.bytes(len - 1)]), // GNU base-256, maybe huge
    () => Buffer.from([0xff, ...rng.bytes(len - 1)]), // negative base-256
    () => Buffer.alloc(len, 0x37), // 7777...
    () => rng.bytes(len),
  ];
  return rng.pick(kinds)().subarray(0, len);
}

const HEADER_FIELDS: [off: number, len: number][] = [
  [100, 8],
  [108, 8],
  [116, 8],
  [124, 12],
  [136, 12],
  [329, 8],
  [337, 8],
];
const TYPE_FLAGS = '0123456 7DgxLKVSMN\0'.split('');
const PAX_LINES = [
  'path',
  'linkpath',
  'size',
  'uid',
  'gid',
  'mtime',
  'atime',
  'SCHILY.xattr.user.x',
  'SCHILY.xattr.security.x',
  'LIBARCHIVE.xattr.user.y',
  'GNU.sparse.size',
  'comment',
];

function fixChecksums(b: Buffer): void {
  for (let off = 0; off + 512 <= b.length; off += 512) {
    if (b.toString('latin1', off + 257, off + 262) !== 'ustar') continue;
    b.fill(0x20, off + 148, off + 156);
    let sum = 0;
    for (let i = off; i < off + 512; i++) sum += b[i] as number;
    b.write(`${sum.toString(8).padStart(6, '0')}\0 `, off + 148, 8, 'latin1');
  }
}

export function mutateTar(rng: Prng, seeds: Buffer[]): Buffer {
  if (rng.chance(0.05)) return rng.bytes(rng.below(4096));
  let b = Buffer.from(rng.pick(seeds));
  const rounds = 1 + rng.below(4);
  for (let r = 0; r < rounds; r++) {
    const blocks = Math.max(1, Math.floor(b.length / 512));
    const at = rng.below(blocks) * 512;
    switch (rng.below(9)) {
      case 0: // flip a bit
        if (b.length) b[rng.below(b.length)]! ^= 1 << rng.below(8);
        break;
      case 1: // an interesting byte
        if (b.length) b[rng.below(b.length)] = rng.pick([0, 0xff, 0x20, 0x30, 0x37, 0x0a, 0x3d, 0x2f, 0x2e, 0x80]);
        break;
      case 2: {
        // a numeric header field rewritten
        const [off, len] = rng.pick(HEADER_FIELDS);
        if (at + off + len <= b.length) octalField(rng, len).copy(b, at + off);
        break;
      }
      case 3: // another type flag
        if (at + 157 <= b.length) b.write(rng.pick(TYPE_FLAGS), at + 156, 1, 'latin1');
        break;
      case 4: // cut
        b = b.subarray(0, rng.below(b.length + 1));
        break;
      case 5: {
        // a block range repeated (or dropped)
        const len = (1 + rng.below(4)) * 512;
        const piece = b.subarray(at, at + len);
        b = rng.chance(0.5) ? Buffer.concat([b.subarray(0, at), piece, piece, b.subarray(at + len)]) : Buffer.concat([b.subarray(0, at), b.subarray(at + len)]);
        break;
      }
      case 6: {
        // blocks spliced in from another seed
        const other = rng.pick(seeds);
        const from = rng.below(Math.max(1, Math.floor(other.length / 512))) * 512;
        b = Buffer.concat([b.subarray(0, at), other.subarray(from, from + (1 + rng.below(6)) * 512), b.subarray(at)]);
        break;
      }
      case 7: {
        // a PAX header of odd records
        const key = rng.pick(PAX_LINES);
        const value = rng.pick([
          String(rng.below(2 ** 31)),
          '-1',
          '9'.repeat(30),
          '1e999',
          '../../x',
          '',
          'A'.repeat(rng.below(70000)),
          rng.bytes(rng.below(64)).toString('latin1'),
        ]);
        const body = paxBody({ [key]: value });
        const extra = makeTar([{ path: 'PaxHeader', type: rng.pick(['x', 'g']), data: body }], { end: false });
        b = Buffer.concat([b.subarray(0, at), extra, b.subarray(at)]);
        break;
      }
      case 8: // random bytes over a stretch
        if (b.length) rng.bytes(1 + rng.below(64)).copy(b, rng.below(b.length));
        break;
    }
  }
  if (rng.chance(0.8)) fixChecksums(b);
  return b;
}

/** Feeds a tar to a reader that keeps nothing, in random pieces. */
export function readTar(input: Buffer, rng: Prng): void {
  const reader = new TarReader({ entry: () => undefined, data: () => undefined, entryEnd: () => undefined });
  let off = 0;
  while (off < input.length) {
    const len = rng.chance(0.3) ? 1 + rng.below(700) : input.length - off;
    reader.write(input.subarray(off, off + len));
    off += len;
  }
  reader.end();
}

// ---- manifest seeds and mutations -----------------------------------------------------------

const D = (c: string) => `sha256:${c.repeat(64)}`;
export const manifestSeeds = (): Record<string, unknown>[] => [
  {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: { mediaType: MediaType.OciConfig, digest: D('a'), size: 1234 },
    layers: [
      { mediaType: MediaType.OciLayerGzip, digest: D('b'), size: 100, annotations: { k: 'v' } },
      { mediaType: MediaType.OciLayer, digest: D('c'), size: 0 },
    ],
  },
  {
    schemaVersion: 2,
    mediaType: MediaType.DockerManifest,
    config: { mediaType: MediaType.DockerConfig, digest: D('d'), size: 5 },
    layers: [{ mediaType: MediaType.DockerLayerGzip, digest: D('e'), size: 6 }],
  },
  {
    schemaVersion: 2,
    mediaType: MediaType.OciIndex,
    manifests: [
      { mediaType: MediaType.OciManifest, digest: D('1'), size: 10, platform: { os: 'linux', architecture: 'amd64' } },
      { mediaType: MediaType.OciManifest, digest: D('2'), size: 10, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
      { mediaType: MediaType.OciManifest, digest: D('3'), size: 10, platform: { os: 'linux', architecture: 'arm', variant: 'v6' } },
      { mediaType: MediaType.OciManifest, digest: D('4'), size: 10, platform: { os: 'unknown', architecture: 'unknown' } },
    ],
  },
  {
    schemaVersion: 2,
    mediaType: MediaType.DockerManifestList,
    manifests: [{ mediaType: MediaType.DockerManifest, digest: D('5'), size: 3, platform: { os: 'linux', architecture: 'amd64' } }],
  },
  { schemaVersion: 2, manifests: [] },
];
export const configSeeds = (): Record<string, unknown>[] => [
  {
    architecture: 'amd64',
    os: 'linux',
    config: { Entrypoint: ['/bin/sh'], Cmd: null, Env: ['PATH=/bin'], WorkingDir: '/', User: '1000:1000', StopSignal: 'SIGTERM' },
    rootfs: { type: 'layers', diff_ids: [D('a'), D('b')] },
  },
  { config: null, rootfs: { diff_ids: [] } },
];

function randomValue(rng: Prng, depth = 0): unknown {
  switch (rng.below(depth > 2 ? 6 : 8)) {
    case 0:
      return rng.pick([0, -1, 1.5, 2 ** 53, 2 ** 64, 1e308, -0]);
    case 1:
      return rng.pick(['', 'sha256:../../etc/passwd', D('f'), `sha512:${'a'.repeat(128)}`, 'x'.repeat(rng.below(5000)), 'linux', 'amd64', '\u0000\u202e']);
    case 2:
      return null;
    case 3:
      return rng.chance(0.5);
    case 4:
      return MediaType[rng.pick(Object.keys(MediaType)) as keyof typeof MediaType];
    case 5:
      return 2;
    case 6:
      return Array.from({ length: rng.below(4) }, () => randomValue(rng, depth + 1));
    default:
      return Object.fromEntries(
        Array.from({ length: rng.below(4) }, () => [
          rng.pick(['os', 'architecture', 'variant', 'digest', 'size', 'mediaType', 'platform', 'config', 'layers', 'manifests', 'Env', 'diff_ids', 'rootfs']),
          randomValue(rng, depth + 1),
        ]),
      );
  }
}

/** Replaces, deletes or adds one value somewhere in a JSON tree (mutating it). */
function mutateJson(rng: Prng, doc: unknown): unknown {
  if (doc === null || typeof doc !== 'object' || rng.chance(0.15)) return randomValue(rng);
  const o = doc as Record<string, unknown>;
  const keys = Object.keys(o); // array indexes too
  if (keys.length === 0 || rng.chance(0.1)) {
    if (Array.isArray(doc)) doc.push(randomValue(rng));
    else o[rng.pick(['schemaVersion', 'mediaType', 'manifests', 'layers', 'config', 'rootfs', 'x'])] = randomValue(rng);
    return doc;
  }
  const k = rng.pick(keys);
  if (rng.chance(0.1) && !Array.isArray(doc)) delete o[k];
  else if (rng.chance(0.1) && Array.isArray(doc)) doc.push(...Array.from({ length: rng.below(50) }, () => o[k]));
  else o[k] = mutateJson(rng, o[k]);
  return doc;
}

export function mutateDocument(rng: Prng, seeds: Record<string, unknown>[]): Buffer {
  let doc: unknown = structuredClone(rng.pick(seeds));
  for (let r = 1 + rng.below(3); r > 0; r--) doc = mutateJson(rng, doc);
  const b = Buffer.from(JSON.stringify(doc) ?? 'null');
  for (let r = rng.chance(0.15) ? 1 + rng.below(3) : 0; r > 0 && b.length; r--) b[rng.below(b.length)] = rng.below(256);
  return rng.chance(0.1) ? b.subarray(0, rng.below(b.length + 1)) : b;
}

export const isTarError = (e: unknown) => e instanceof TarFormatError || e instanceof CribError;
export const isCribError = (e: unknown) => e instanceof CribError;

/** The tar seeds, with a real GNU tar layer among them (its own long names, directories, a symlink). */
export async function layerSeeds(tmp: string): Promise<Buffer[]> {
  const src = path.join(tmp, 'src');
  await fsp.mkdir(path.join(src, 'a'.repeat(60), 'b'.repeat(60)), { recursive: true });
  await fsp.writeFile(path.join(src, 'a'.repeat(60), 'b'.repeat(60), 'c'.repeat(80)), 'gnu');
  await fsp.symlink('x'.repeat(120), path.join(src, 'link'));
  const gnu = path.join(tmp, 'gnu.tar');
  await run('tar', ['-C', src, '--format=gnu', '-cf', gnu, '.']);
  return tarSeeds(await fsp.readFile(gnu));
}
