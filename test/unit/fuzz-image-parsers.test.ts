// Fuzzing of the parsers of untrusted image content that need no root: the layer tar reader, the
// manifest and index parser with platform selection, and the image config parser. Unpacking fuzzed
// layers into a directory (which needs root) is test/fuzz-unpack.test.ts. FUZZ_SEED=N repeats a run.
import { after, before, describe, it } from 'node:test';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseImageConfig } from '../../src/image/image-config.js';
import { MediaType, parseManifestOrIndex, selectPlatform } from '../../src/image/manifest.js';
import { SEED, configSeeds, fuzz, isCribError, isTarError, layerSeeds, manifestSeeds, mutateDocument, mutateTar, readTar } from '../support/fuzz-image.js';
import { Prng } from '../support/prng.js';

describe(`fuzzing image parsers (seed ${SEED}; FUZZ_SEED=${SEED} repeats it)`, () => {
  let tmp = '';
  let seeds: Buffer[] = [];
  before(async () => {
    tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'crib-fuzz-'));
    seeds = await layerSeeds(tmp);
  });
  after(() => fsp.rm(tmp, { recursive: true, force: true }));

  it('the tar reader takes mutated layers', async (t) => {
    for (const s of seeds) readTar(s, new Prng(1)); // the seeds themselves are fine
    await fuzz(t, 'tar reader', { ms: 4000, max: 20_000, min: 2000, seed: SEED }, (rng) => mutateTar(rng, seeds), readTar, isTarError);
  });

  it('the manifest parser and platform selection take mutated manifests and indexes', async (t) => {
    const seedDocs = manifestSeeds();
    const headers = [undefined, MediaType.OciManifest, MediaType.OciIndex, MediaType.DockerManifestList, MediaType.DockerSchema1Signed, 'text/plain'];
    const platforms = [
      undefined,
      { os: 'linux', architecture: 'amd64' },
      { os: 'linux', architecture: 'arm', variant: 'v7' },
      { os: 'windows', architecture: 'arm64' },
    ];
    await fuzz(
      t,
      'manifests',
      { ms: 3000, max: 20_000, min: 2000, seed: SEED + 2 },
      (rng) => (rng.chance(0.05) ? rng.bytes(rng.below(200)) : mutateDocument(rng, seedDocs)),
      (input, rng) => {
        const parsed = parseManifestOrIndex(input, rng.pick(headers));
        if (parsed.kind === 'index') selectPlatform(parsed.index, rng.pick(platforms));
      },
      isCribError,
    );
  });

  it('the image config parser takes mutated configs', async (t) => {
    const seedDocs = configSeeds();
    await fuzz(
      t,
      'configs',
      { ms: 2000, max: 20_000, min: 2000, seed: SEED + 3 },
      (rng) => mutateDocument(rng, seedDocs),
      (input) => parseImageConfig(input, 'config'),
      isCribError,
    );
  });
});
