// SPDY/3 header blocks: the name/value block format and its zlib compression with the SPDY/3
// dictionary (draft 3, sections 2.6.10 and 2.6.10.1). Each direction of a connection is one zlib
// stream: every header block continues the stream its predecessors began, ending on a sync flush.

import zlib from 'node:zlib';
import { SpdyProtocolError } from './errors.js';

/** The spec's dictionary: header names and values, each with a 32-bit length, then common text. */
const DICTIONARY_WORDS = [
  'options',
  'head',
  'post',
  'put',
  'delete',
  'trace',
  'accept',
  'accept-charset',
  'accept-encoding',
  'accept-language',
  'accept-ranges',
  'age',
  'allow',
  'authorization',
  'cache-control',
  'connection',
  'content-base',
  'content-encoding',
  'content-language',
  'content-length',
  'content-location',
  'content-md5',
  'content-range',
  'content-type',
  'date',
  'etag',
  'expect',
  'expires',
  'from',
  'host',
  'if-match',
  'if-modified-since',
  'if-none-match',
  'if-range',
  'if-unmodified-since',
  'last-modified',
  'location',
  'max-forwards',
  'pragma',
  'proxy-authenticate',
  'proxy-authorization',
  'range',
  'referer',
  'retry-after',
  'server',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'user-agent',
  'vary',
  'via',
  'warning',
  'www-authenticate',
  'method',
  'get',
  'status',
  '200 OK',
  'version',
  'HTTP/1.1',
  'url',
  'public',
  'set-cookie',
  'keep-alive',
  'origin',
];
const DICTIONARY_TAIL =
  '100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505' +
  '203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized' +
  '403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable' +
  'Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT' +
  'chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,' +
  'text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.';

export const SPDY3_DICTIONARY: Buffer = Buffer.concat([
  ...DICTIONARY_WORDS.map((w) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(w.length);
    return Buffer.concat([len, Buffer.from(w, 'latin1')]);
  }),
  Buffer.from(DICTIONARY_TAIL, 'latin1'),
]);

/**
 * What one header block may decode to. Kubernetes clients send three short headers per stream
 * (streamType, port, requestID; well under 1 KiB); 64 KiB leaves room for any honest client while a
 * zlib bomb (a few KiB that inflate to gigabytes) fails its connection after 64 KiB of output.
 */
export const MAX_DECODED_HEADER_BYTES = 64 * 1024;

/** Name/value pairs in one block: ample for the few that the protocol uses. */
export const MAX_HEADER_PAIRS = 100;

/** Header names (lowercase) to their values; a value list travels NUL-separated. */
export type SpdyHeaders = ReadonlyMap<string, readonly string[]>;

/** The first value of header `name`, if any. */
export function headerValue(headers: SpdyHeaders, name: string): string | undefined {
  return headers.get(name)?.[0];
}

/** An uncompressed name/value block (32-bit counts and lengths, as SPDY/3 has them). */
export function encodeHeaderBlock(pairs: Iterable<readonly [string, string | readonly string[]]>): Buffer {
  const parts: Buffer[] = [];
  let count = 0;
  for (const [name, value] of pairs) {
    const v = Buffer.from(typeof value === 'string' ? value : value.join('\0'), 'utf8');
    const n = Buffer.from(name.toLowerCase(), 'utf8');
    const head = Buffer.alloc(4);
    head.writeUInt32BE(n.length);
    const vlen = Buffer.alloc(4);
    vlen.writeUInt32BE(v.length);
    parts.push(head, n, vlen, v);
    count++;
  }
  const countBuf = Buffer.alloc(4);
  countBuf.writeUInt32BE(count);
  return Buffer.concat([countBuf, ...parts]);
}

/** Parses an uncompressed name/value block; anything malformed is a SpdyProtocolError. */
export function decodeHeaderBlock(block: Buffer): Map<string, string[]> {
  let off = 0;
  const u32 = (what: string): number => {
    if (off + 4 > block.length) throw new SpdyProtocolError(`header block ends inside ${what}`);
    const v = block.readUInt32BE(off);
    off += 4;
    return v;
  };
  const bytes = (len: number, what: string): string => {
    if (len > block.length - off) throw new SpdyProtocolError(`header block ends inside ${what}`);
    const s = block.toString('utf8', off, off + len);
    off += len;
    return s;
  };
  const count = u32('the pair count');
  if (count > MAX_HEADER_PAIRS) throw new SpdyProtocolError(`header block has ${count} pairs (at most ${MAX_HEADER_PAIRS})`);
  const headers = new Map<string, string[]>();
  for (let i = 0; i < count; i++) {
    const name = bytes(u32('a name length'), 'a name');
    // Draft 3, 2.6.10: names are lowercase, never empty, never repeated (repeats travel as one NUL-joined value).
    if (name.length === 0) throw new SpdyProtocolError('header block has an empty name');
    if (name !== name.toLowerCase()) throw new SpdyProtocolError('header block has a name that is not lowercase');
    if (headers.has(name)) throw new SpdyProtocolError(`header block repeats ${JSON.stringify(name)}`);
    headers.set(name, bytes(u32('a value length'), 'a value').split('\0'));
  }
  if (off !== block.length) throw new SpdyProtocolError('header block has bytes after its last pair');
  return headers;
}

/** zlib's Adler-32, the dictionary id a zlib stream names its preset dictionary by (RFC 1950). */
export function adler32(data: Buffer): number {
  let a = 1;
  let b = 0;
  // 5552 is the most bytes for which the sums cannot overflow 2^53 before the modulo (zlib's NMAX).
  for (let start = 0; start < data.length; start += 5552) {
    const end = Math.min(start + 5552, data.length);
    for (let i = start; i < end; i++) {
      a += data[i] ?? 0;
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return ((b << 16) | a) >>> 0;
}

/** A stored deflate block holds at most 65535 bytes (RFC 1951, 3.2.4). */
const MAX_STORED_BLOCK = 0xffff;

/** A non-final stored deflate block (BFINAL 0, BTYPE 00, padded to the byte), LEN and NLEN, the bytes. */
function storedBlock(piece: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt16LE(piece.length, 1);
  head.writeUInt16LE(~piece.length & 0xffff, 3);
  return Buffer.concat([head, piece]);
}

/**
 * Our side's zlib stream. It is a real zlib stream primed with the SPDY dictionary, but each block
 * is written as stored (uncompressed) deflate blocks and the sync-flush marker, as zlib's
 * Z_SYNC_FLUSH at level 0 writes them: every peer's inflater reads it, it needs no compressor
 * state to keep in step, and it is synchronous. Compression would gain nothing: the only header
 * block the server sends is a SYN_REPLY's, which holds no headers.
 */
export class HeaderCompressor {
  private started = false;

  compress(block: Buffer): Buffer {
    const parts: Buffer[] = [];
    if (!this.started) {
      // CMF 0x78 (deflate, 32 KiB window); FLG 0x20 = FDICT, FLEVEL 0, and (0x7820 % 31 == 0) so FCHECK is 0.
      const head = Buffer.from([0x78, 0x20, 0, 0, 0, 0]);
      head.writeUInt32BE(adler32(SPDY3_DICTIONARY), 2);
      parts.push(head);
      this.started = true;
    }
    for (let off = 0; off < block.length; off += MAX_STORED_BLOCK) parts.push(storedBlock(block.subarray(off, off + MAX_STORED_BLOCK)));
    // The sync-flush marker, an empty stored block, ends every header block as Z_SYNC_FLUSH does. It
    // is not optional: Go's inflater hands out a stored block's bytes only when the next block starts.
    parts.push(storedBlock(Buffer.alloc(0)));
    return Buffer.concat(parts);
  }
}

/**
 * The peer's zlib stream, inflated one header block at a time. Node's zlib is asynchronous, so a
 * block's headers arrive in a promise; callers decompress blocks one after another, in order. The
 * output is bounded per block: past MAX_DECODED_HEADER_BYTES the inflater is destroyed (the stream
 * is unusable after that, and so is the session).
 */
export class HeaderDecompressor {
  private readonly inflate = zlib.createInflate({ dictionary: SPDY3_DICTIONARY });
  private out: Buffer[] = [];
  private outBytes = 0;
  private failure: Error | undefined;
  private pending: { resolve: (b: Buffer) => void; reject: (e: Error) => void } | undefined;

  constructor(private readonly maxBytes = MAX_DECODED_HEADER_BYTES) {
    this.inflate.on('readable', () => this.drain());
    this.inflate.on('error', (err) => this.fail(new SpdyProtocolError(`header block does not inflate: ${err.message}`)));
  }

  decompress(block: Buffer): Promise<Buffer> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.pending) return Promise.reject(new Error('HeaderDecompressor: one block at a time'));
    return new Promise<Buffer>((resolve, reject) => {
      this.pending = { resolve, reject };
      this.inflate.write(block);
      this.inflate.flush(zlib.constants.Z_SYNC_FLUSH, () => {
        // Everything this block inflates to has been pushed before the flush completes.
        this.drain();
        const p = this.pending;
        if (this.failure || !p) return;
        this.pending = undefined;
        const result = Buffer.concat(this.out);
        this.out = [];
        this.outBytes = 0;
        p.resolve(result);
      });
    });
  }

  close(): void {
    this.fail(new Error('header decompressor closed'));
  }

  private drain(): void {
    for (;;) {
      const chunk: unknown = this.inflate.read();
      if (!Buffer.isBuffer(chunk)) return;
      this.outBytes += chunk.length;
      if (this.outBytes > this.maxBytes) {
        this.fail(new SpdyProtocolError(`header block inflates to more than ${this.maxBytes} bytes`));
        return;
      }
      this.out.push(chunk);
    }
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    this.out = [];
    this.inflate.destroy();
    const p = this.pending;
    this.pending = undefined;
    p?.reject(err);
  }
}
