// Fuzzing of unpackLayer (as root: it sets owners and makes device nodes) with mutated layers, plain
// and gzipped, into a temp dir: only CribErrors, no slow input, bounded memory. FUZZ_SEED=N repeats a run.
import { after, before, describe, it } from 'node:test';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { unpackLayer } from '../src/image/unpack.js';
import { SEED, SLOW_UNPACK_MS, fuzz, isCribError, layerSeeds, mutateTar } from './support/fuzz-image.js';

describe(`fuzzing layer unpacking (seed ${SEED}; FUZZ_SEED=${SEED} repeats it)`, () => {
  let tmp = '';
  let seeds: Buffer[] = [];
  before(async () => {
    tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'crib-fuzz-'));
    seeds = await layerSeeds(tmp);
  });
  after(() => fsp.rm(tmp, { recursive: true, force: true }));

  it('unpackLayer takes mutated layers (plain and gzipped) into a temp dir', async (t) => {
    let n = 0;
    await fuzz(
      t,
      'unpackLayer',
      { ms: 8000, max: 300, min: 50, seed: SEED + 1, slowMs: SLOW_UNPACK_MS },
      (rng) => {
        const tar = mutateTar(rng, seeds);
        return rng.chance(0.2) ? zlib.gzipSync(tar) : tar;
      },
      async (input) => {
        const dest = path.join(tmp, `unpack-${n++}`);
        await fsp.mkdir(dest);
        try {
          await unpackLayer(Readable.from([input]), dest);
        } finally {
          await fsp.rm(dest, { recursive: true, force: true });
        }
      },
      isCribError,
    );
  });
});
