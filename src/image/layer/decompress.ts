// Opens a layer blob as a stream of uncompressed tar bytes: gzip, zstd (when this Node has it) or
// plain, chosen by the caller or by the first bytes.

import fs from 'node:fs';
import { pipeline, Readable, type Transform } from 'node:stream';
import zlib from 'node:zlib';
import { CribError } from '../../util/errors.js';

export type LayerCompression = 'gzip' | 'none' | 'zstd' | 'auto';

const GZIP_MAGIC = [0x1f, 0x8b];
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];
/** Read size for layer files and output size of the decompressor: few, large chunks. */
const CHUNK = 1 << 20;

export const ZSTD_UNSUPPORTED = 'layer is zstd-compressed; this Node cannot decompress zstd';

export interface TarBytes {
  /** The uncompressed tar, chunk by chunk. */
  chunks: AsyncIterable<Buffer>;
  /** Stops everything (the source included); safe to call more than once. */
  destroy(): void;
}

/** zlib.createZstdDecompress exists from Node 22.15 / 23.8; looked up at run time so Node 20 builds. */
function zstdDecompressor(): Transform | undefined {
  const create = (zlib as unknown as { createZstdDecompress?: (o?: object) => Transform }).createZstdDecompress;
  return typeof create === 'function' ? create.call(zlib, { chunkSize: CHUNK }) : undefined;
}

const startsWith = (b: Buffer, magic: number[]): boolean => b.length >= magic.length && magic.every((m, i) => b[i] === m);

export async function openTarBytes(source: Readable | string, compression: LayerCompression): Promise<TarBytes> {
  const input: Readable = typeof source === 'string' ? fs.createReadStream(source, { highWaterMark: CHUNK }) : source;
  const it = input[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
  const asBuffer = (c: Buffer | string): Buffer => (typeof c === 'string' ? Buffer.from(c) : c);

  // Look at the first bytes (at least 4 unless the input is shorter) without losing them.
  const head: Buffer[] = [];
  let headLen = 0;
  let ended = false;
  try {
    while (headLen < ZSTD_MAGIC.length) {
      const r = await it.next();
      if (r.done) {
        ended = true;
        break;
      }
      const b = asBuffer(r.value);
      head.push(b);
      headLen += b.length;
    }
  } catch (err) {
    input.destroy();
    throw err;
  }
  const first = Buffer.concat(head);
  let kind = compression;
  if (kind === 'auto') kind = startsWith(first, GZIP_MAGIC) ? 'gzip' : startsWith(first, ZSTD_MAGIC) ? 'zstd' : 'none';

  let decompressor: Transform | undefined;
  if (kind === 'gzip') {
    decompressor = zlib.createGunzip({ chunkSize: CHUNK });
  } else if (kind === 'zstd') {
    decompressor = zstdDecompressor();
    if (!decompressor) {
      input.destroy();
      throw new CribError('Unimplemented', ZSTD_UNSUPPORTED);
    }
  }

  async function* raw(): AsyncGenerator<Buffer> {
    try {
      if (first.length > 0) yield first;
      if (ended) return;
      for (;;) {
        const r = await it.next();
        if (r.done) return;
        yield asBuffer(r.value);
      }
    } finally {
      // Reached on completion, on error and on early return: the source never outlives us.
      input.destroy();
    }
  }

  if (!decompressor) {
    const gen = raw();
    return {
      chunks: gen,
      destroy: () => {
        input.destroy();
        void gen.return(undefined).catch(() => undefined);
      },
    };
  }
  const src = Readable.from(raw(), { objectMode: false, highWaterMark: CHUNK });
  const out = pipeline(src, decompressor, () => {
    /* errors reach the reader through the iteration of `out` */
  });
  return {
    chunks: out,
    destroy: () => {
      out.destroy();
      src.destroy();
      input.destroy();
    },
  };
}
