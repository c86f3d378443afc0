import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { call } from '../src/client/client.js';
import { unpackLayer } from '../src/image/unpack.js';
import { run } from '../src/util/exec.js';
import { Harness } from '../test/support/harness.js';
import { buildTestImage, busyboxLayer, pushLayout, skopeoCopy, startRegistry } from '../test/support/registry.js';

/** Image figures: pull of a ~100 MB image (cold and warm) beside skopeo copy + unpack, unpack MB/s. */

const secs = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

/** Files of mixed sizes and compressibility, like a real image layer. */
function layerEntries(seed: number, mb: number) {
  const entries = [];
  let x = 0x9e3779b9 ^ seed;
  for (let i = 0; i < mb * 4; i++) {
    const b = Buffer.alloc(256 * 1024);
    for (let j = 0; j < b.length; j += 4) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      // half random, half text-like: gzip shrinks it to roughly 60 %
      b.writeUInt32LE(j % 8 === 0 ? x >>> 0 : 0x61626364 + (x & 7), j);
    }
    entries.push({ path: `data/${seed}/f${i}`, content: b });
  }
  return entries;
}

export async function imageBench(): Promise<string[]> {
  const work = await fsp.mkdtemp(path.join(os.tmpdir(), 'crib-bench-img-'));
  const reg = await startRegistry();
  const h = new Harness({ flags: ['--log-level', 'warn'] });
  try {
    const layout = await buildTestImage(path.join(work, 'layout'), {
      layers: [{ entries: busyboxLayer() }, ...[1, 2, 3, 4].map((s) => ({ entries: layerEntries(s, 25) }))],
    });
    await pushLayout(layout, reg, 'bench/big', '1');
    const ref = `${reg.host}/bench/big:1`;
    const compressed = layout.images[0]!.layers.reduce((n, l) => n + l.size, 0);

    await h.start();
    const cold = await timed(() => call(h.client.image, 'PullImage', { image: { image: ref } }, 600));
    const warm = await timed(() => call(h.client.image, 'PullImage', { image: { image: ref } }, 600));

    // skopeo copy to a directory, then unpack every layer with GNU tar: the same work, done by others.
    const dir = path.join(work, 'skopeo-dir');
    const skopeo = await timed(() => skopeoCopy(`docker://${ref}`, `dir:${dir}`, { srcTlsVerify: false }));
    const untar = await timed(async () => {
      for (const [i, l] of layout.images[0]!.layers.entries()) {
        const out = path.join(work, `untar-${i}`);
        await fsp.mkdir(out);
        await run('tar', ['-xzf', path.join(dir, l.digest.slice(7)), '-C', out]);
      }
    });

    // crib's unpacker alone, on the biggest layer blob.
    const biggest = [...layout.images[0]!.layers].sort((a, b) => b.size - a.size)[0]!;
    const blob = path.join(dir, biggest.digest.slice(7));
    const dest = path.join(work, 'unpack');
    await fsp.mkdir(dest);
    let bytes = 0;
    const unpackMs = await timed(async () => {
      bytes = (await unpackLayer(blob, dest, { compression: 'gzip' })).bytes;
    });
    return [
      `crib image benchmark (~${Math.round(compressed / 1e6)} MB compressed, ${layout.images[0]!.layers.length} layers, local registry)`,
      `  PullImage cold: ${secs(cold)}   warm: ${secs(warm)}`,
      `  skopeo copy ${secs(skopeo)} + tar -xzf ${secs(untar)} = ${secs(skopeo + untar)}   (crib cold / theirs = ${(cold / (skopeo + untar)).toFixed(2)})`,
      `  unpack: ${(bytes / 1e6 / (unpackMs / 1000)).toFixed(0)} MB/s (${Math.round(bytes / 1e6)} MB layer, gzip, to ${fs.realpathSync(os.tmpdir())})`,
    ];
  } finally {
    await h.cleanup();
    await reg.stop();
    await fsp.rm(work, { recursive: true, force: true });
  }
}
