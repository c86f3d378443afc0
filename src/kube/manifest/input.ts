// Reading a manifest (a file, or stdin) for crib run and crib down, bounded before it is parsed:
// YAML parsing takes about 50 bytes of memory per byte of input and seconds per megabyte, so a
// 56 MB file took 24 s and 2.4 GB. The bound is the API server's for one request body (3 MiB,
// MaxRequestBodyBytes): three of the largest ConfigMaps or Secrets (1 MiB of data each) fit.
import fsp from 'node:fs/promises';

export const MAX_MANIFEST_BYTES = 3 * 1024 * 1024;

export class ManifestTooLarge extends Error {
  override readonly name = 'ManifestTooLarge';
  constructor(bytes?: number) {
    super(`${bytes === undefined ? '' : `${bytes} bytes, `}more than the 3 MiB (${MAX_MANIFEST_BYTES} bytes) the API server takes in one request`);
  }
}

/** The whole of `chunks` as UTF-8, read no further than one byte past the bound. */
export async function readBounded(chunks: AsyncIterable<Buffer | string>, size?: number): Promise<string> {
  const parts: Buffer[] = [];
  let total = 0;
  for await (const c of chunks) {
    const b = typeof c === 'string' ? Buffer.from(c) : c;
    total += b.length;
    if (total > MAX_MANIFEST_BYTES) throw new ManifestTooLarge(size);
    parts.push(b);
  }
  return Buffer.concat(parts).toString('utf8');
}

/** A manifest file or stdin (`-`); ManifestTooLarge past the bound, before reading it when its size is known. */
export async function readManifest(file: string): Promise<string> {
  if (file === '-') return readBounded(process.stdin);
  const fh = await fsp.open(file, 'r');
  try {
    const { size } = await fh.stat();
    if (size > MAX_MANIFEST_BYTES) throw new ManifestTooLarge(size);
    // A file that grows after stat is still read no further than the bound.
    return await readBounded(fh.createReadStream({ autoClose: false }));
  } finally {
    await fh.close();
  }
}
