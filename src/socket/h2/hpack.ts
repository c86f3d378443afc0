// HPACK (RFC 7541): a complete decoder and a deliberately simple encoder.
//
// Header names and values are carried as latin1 ("binary") JavaScript strings, one char per
// octet, so that any octet sequence survives decode -> encode unchanged and string lengths
// equal octet counts (which the dynamic table's size accounting needs).

import { huffmanDecode, huffmanEncode, huffmanEncodedLength } from './huffman.js';

export interface HeaderField {
  name: string;
  value: string;
  /** The field arrived as "literal never indexed" (section 6.2.3); re-encode it the same way. */
  neverIndex?: boolean;
}

export class HpackError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HpackError';
  }
}

/** A well-formed header block that decodes to more than the decoder accepts. */
export class HpackLimitError extends HpackError {
  constructor(message: string) {
    super(message);
    this.name = 'HpackLimitError';
  }
}

/** RFC 7541 Appendix A. Index 1 is the first entry. */
export const STATIC_TABLE: readonly (readonly [string, string])[] = [
  [':authority', ''],
  [':method', 'GET'],
  [':method', 'POST'],
  [':path', '/'],
  [':path', '/index.html'],
  [':scheme', 'http'],
  [':scheme', 'https'],
  [':status', '200'],
  [':status', '204'],
  [':status', '206'],
  [':status', '304'],
  [':status', '400'],
  [':status', '404'],
  [':status', '500'],
  ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'],
  ['accept-language', ''],
  ['accept-ranges', ''],
  ['accept', ''],
  ['access-control-allow-origin', ''],
  ['age', ''],
  ['allow', ''],
  ['authorization', ''],
  ['cache-control', ''],
  ['content-disposition', ''],
  ['content-encoding', ''],
  ['content-language', ''],
  ['content-length', ''],
  ['content-location', ''],
  ['content-range', ''],
  ['content-type', ''],
  ['cookie', ''],
  ['date', ''],
  ['etag', ''],
  ['expect', ''],
  ['expires', ''],
  ['from', ''],
  ['host', ''],
  ['if-match', ''],
  ['if-modified-since', ''],
  ['if-none-match', ''],
  ['if-range', ''],
  ['if-unmodified-since', ''],
  ['last-modified', ''],
  ['link', ''],
  ['location', ''],
  ['max-forwards', ''],
  ['proxy-authenticate', ''],
  ['proxy-authorization', ''],
  ['range', ''],
  ['referer', ''],
  ['refresh', ''],
  ['retry-after', ''],
  ['server', ''],
  ['set-cookie', ''],
  ['strict-transport-security', ''],
  ['transfer-encoding', ''],
  ['user-agent', ''],
  ['vary', ''],
  ['via', ''],
  ['www-authenticate', ''],
];

/** First static-table index of each name. */
const STATIC_NAME_INDEX = new Map<string, number>();
STATIC_TABLE.forEach(([name], i) => {
  if (!STATIC_NAME_INDEX.has(name)) STATIC_NAME_INDEX.set(name, i + 1);
});

/** Per-entry overhead in the dynamic table's size accounting (section 4.1). */
export const ENTRY_OVERHEAD = 32;

/** HTTP/2's initial SETTINGS_HEADER_TABLE_SIZE. */
export const DEFAULT_TABLE_SIZE = 4096;

/** Largest integer the decoder accepts; anything above is certainly an attack or garbage. */
const MAX_INTEGER = 0x7fffffff;

/**
 * Bound on a decoded header list, counted as SETTINGS_MAX_HEADER_LIST_SIZE counts it
 * (RFC 9113 section 6.5.2: name + value + 32 octets per field). Without one, references to the
 * dynamic table make a small block decode to gigabytes. 128 KiB re-encodes into at most 8 frames
 * of 16 KiB, and the server behind the rewriter (nghttp2 1.61 in Node 20) ends the connection
 * on a header block of more than 9 frames: the bound sits just under what could be served at
 * all, and about a hundred times above a CRI request (under 1 KiB).
 */
export const MAX_HEADER_LIST_SIZE = 128 * 1024;

/**
 * Bound on the fields of one header block. Node's http2 server (grpc-js keeps its
 * maxHeaderListPairs of 128) resets a stream with more; twice that leaves those to its stream
 * reset, while bounding the per-block work (each indexed insert moves the table) whatever the
 * fields' sizes. A CRI request carries about ten.
 */
export const MAX_HEADER_FIELDS = 256;

// ---------------------------------------------------------------------------------------------
// Primitive types (section 5)

/**
 * Decode an integer with an N-bit prefix (section 5.1) starting at `buf[pos]`. The bits above
 * the prefix in the first octet are ignored. Returns the value and the position after it.
 */
export function decodeInteger(buf: Uint8Array, pos: number, prefixBits: number): { value: number; next: number } {
  if (prefixBits < 1 || prefixBits > 8) throw new RangeError('hpack: prefix must be 1..8 bits');
  const first = buf[pos++];
  if (first === undefined) throw new HpackError('hpack: truncated integer');
  const max = (1 << prefixBits) - 1;
  let value = first & max;
  if (value < max) return { value, next: pos };
  let shift = 0;
  for (;;) {
    const b = buf[pos++];
    if (b === undefined) throw new HpackError('hpack: truncated integer');
    value += (b & 0x7f) * 2 ** shift;
    if (value > MAX_INTEGER) throw new HpackError('hpack: integer overflow');
    if ((b & 0x80) === 0) return { value, next: pos };
    shift += 7;
    // 0x7fffffff needs at most five continuation octets; more can only be zero padding.
    if (shift > 28) throw new HpackError('hpack: integer encoding too long');
  }
}

/** Octets an integer takes with an N-bit prefix. */
export function integerLength(value: number, prefixBits: number): number {
  const max = (1 << prefixBits) - 1;
  if (value < max) return 1;
  let n = 2;
  for (value -= max; value >= 0x80; value = Math.floor(value / 0x80)) n++;
  return n;
}

/**
 * Write an integer with an N-bit prefix at `out[pos]`; `firstByteBits` fills the bits above the
 * prefix. Returns the position after it.
 */
export function writeInteger(out: Uint8Array, pos: number, value: number, prefixBits: number, firstByteBits = 0): number {
  if (!Number.isInteger(value) || value < 0) throw new RangeError('hpack: bad integer');
  const max = (1 << prefixBits) - 1;
  if (value < max) {
    out[pos++] = firstByteBits | value;
    return pos;
  }
  out[pos++] = firstByteBits | max;
  for (value -= max; value >= 0x80; value = Math.floor(value / 0x80)) out[pos++] = (value % 0x80) | 0x80;
  out[pos++] = value;
  return pos;
}

/** Decode a string literal (section 5.2). Returns a latin1 string. */
export function decodeString(buf: Uint8Array, pos: number): { value: string; next: number } {
  const first = buf[pos];
  if (first === undefined) throw new HpackError('hpack: truncated string');
  const huffman = (first & 0x80) !== 0;
  const { value: len, next } = decodeInteger(buf, pos, 7);
  const end = next + len;
  if (end > buf.length) throw new HpackError('hpack: string literal runs past the block');
  const raw = buf.subarray(next, end);
  let bytes: Uint8Array;
  try {
    bytes = huffman ? huffmanDecode(raw) : raw;
  } catch (err) {
    throw new HpackError((err as Error).message);
  }
  return { value: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1'), next: end };
}

/** A string literal ready to be written: its octets as they are (latin1), or Huffman-coded. */
type StringLiteral = { huffman: false; text: string } | { huffman: true; coded: Buffer };

/** Raw unless `huffman` is true and Huffman coding is actually shorter. */
function stringLiteral(value: string, huffman: boolean): StringLiteral {
  if (huffman) {
    const bytes = Buffer.from(value, 'latin1');
    if (huffmanEncodedLength(bytes) < bytes.length) return { huffman: true, coded: huffmanEncode(bytes) };
  }
  return { huffman: false, text: value };
}

function stringLiteralLength(s: StringLiteral): number {
  const n = s.huffman ? s.coded.length : s.text.length;
  return integerLength(n, 7) + n;
}

/** Write a string literal (section 5.2) at `out[pos]`; returns the position after it. */
function writeStringLiteral(out: Buffer, pos: number, s: StringLiteral): number {
  if (s.huffman) {
    pos = writeInteger(out, pos, s.coded.length, 7, 0x80);
    return pos + s.coded.copy(out, pos);
  }
  pos = writeInteger(out, pos, s.text.length, 7, 0);
  return pos + out.write(s.text, pos, 'latin1');
}

// ---------------------------------------------------------------------------------------------
// Dynamic table (section 2.3.2 and 4)

export class DynamicTable {
  /** Newest entry first: entries[0] has index 62. */
  private entries: [string, string][] = [];
  private size = 0;

  constructor(private max: number) {}

  get maxSize(): number {
    return this.max;
  }

  get currentSize(): number {
    return this.size;
  }

  get length(): number {
    return this.entries.length;
  }

  /** Entry by dynamic index (0 = newest), or undefined. */
  at(i: number): readonly [string, string] | undefined {
    return this.entries[i];
  }

  setMaxSize(max: number): void {
    this.max = max;
    this.evict(0);
  }

  add(name: string, value: string): void {
    const entrySize = name.length + value.length + ENTRY_OVERHEAD;
    if (entrySize > this.max) {
      // Section 4.4: an entry larger than the table empties it and is not added.
      this.entries = [];
      this.size = 0;
      return;
    }
    this.evict(entrySize);
    this.entries.unshift([name, value]);
    this.size += entrySize;
  }

  private evict(room: number): void {
    while (this.size + room > this.max && this.entries.length > 0) {
      const [n, v] = this.entries.pop()!;
      this.size -= n.length + v.length + ENTRY_OVERHEAD;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Decoder

export interface HpackDecoderOptions {
  /**
   * The largest table size the peer may select with a dynamic table size update, i.e. the
   * SETTINGS_HEADER_TABLE_SIZE we advertised. Default 4096.
   */
  maxTableSizeLimit?: number;
  /** Table size before any size update. Default 4096 (the HTTP/2 initial value). */
  initialTableSize?: number;
}

export class HpackDecoder {
  readonly table: DynamicTable;
  private limit: number;

  constructor(opts: HpackDecoderOptions = {}) {
    this.limit = opts.maxTableSizeLimit ?? DEFAULT_TABLE_SIZE;
    this.table = new DynamicTable(Math.min(opts.initialTableSize ?? DEFAULT_TABLE_SIZE, this.limit));
  }

  /** Change the upper bound for size updates (our SETTINGS_HEADER_TABLE_SIZE changed). */
  setMaxTableSizeLimit(limit: number): void {
    this.limit = limit;
    if (this.table.maxSize > limit) this.table.setMaxSize(limit);
  }

  get maxTableSizeLimit(): number {
    return this.limit;
  }

  private lookup(index: number): readonly [string, string] {
    // Index 0 (6.1: a decoding error) finds no entry either.
    const entry = index <= STATIC_TABLE.length ? STATIC_TABLE[index - 1] : this.table.at(index - STATIC_TABLE.length - 1);
    if (!entry) throw new HpackError(`hpack: index ${index} is not in the table`);
    return entry;
  }

  /**
   * Decode one complete header block (all HEADERS/CONTINUATION fragments joined). Throws
   * HpackError on any malformed input, HpackLimitError when the block holds more fields or a
   * larger header list than allowed; the decoder's state is then unusable (in HTTP/2 this is a
   * connection error).
   */
  decode(block: Uint8Array): HeaderField[] {
    const fields: HeaderField[] = [];
    let listSize = 0;
    // Checked before a field is kept, so what a block costs never exceeds the bounds by more
    // than one field (whose strings come from the block itself or the bounded table).
    const keep = (field: HeaderField): void => {
      listSize += field.name.length + field.value.length + ENTRY_OVERHEAD;
      if (listSize > MAX_HEADER_LIST_SIZE) {
        throw new HpackLimitError(`hpack: header list larger than ${MAX_HEADER_LIST_SIZE} octets`);
      }
      if (fields.length >= MAX_HEADER_FIELDS) {
        throw new HpackLimitError(`hpack: more than ${MAX_HEADER_FIELDS} header fields`);
      }
      fields.push(field);
    };
    let pos = 0;
    while (pos < block.length) {
      const b = block[pos]!; // pos < length
      if (b & 0x80) {
        // 6.1 Indexed header field.
        const { value: index, next } = decodeInteger(block, pos, 7);
        const [name, value] = this.lookup(index);
        keep({ name, value });
        pos = next;
      } else if ((b & 0xc0) === 0x40) {
        // 6.2.1 Literal with incremental indexing.
        const r = this.literal(block, pos, 6);
        this.table.add(r.name, r.value);
        keep({ name: r.name, value: r.value });
        pos = r.next;
      } else if ((b & 0xe0) === 0x20) {
        // 6.3 Dynamic table size update: only before the first field of a block.
        if (fields.length > 0) throw new HpackError('hpack: table size update after a header field');
        const { value: size, next } = decodeInteger(block, pos, 5);
        if (size > this.limit) {
          throw new HpackError(`hpack: table size ${size} exceeds the limit ${this.limit}`);
        }
        this.table.setMaxSize(size);
        pos = next;
      } else {
        // 6.2.2 without indexing (0000xxxx), 6.2.3 never indexed (0001xxxx).
        const r = this.literal(block, pos, 4);
        keep((b & 0x10) !== 0 ? { name: r.name, value: r.value, neverIndex: true } : { name: r.name, value: r.value });
        pos = r.next;
      }
    }
    return fields;
  }

  private literal(block: Uint8Array, pos: number, prefixBits: number): { name: string; value: string; next: number } {
    const { value: index, next } = decodeInteger(block, pos, prefixBits);
    let name: string;
    pos = next;
    if (index === 0) {
      const s = decodeString(block, pos);
      name = s.value;
      pos = s.next;
    } else {
      name = this.lookup(index)[0];
    }
    const v = decodeString(block, pos);
    return { name, value: v.value, next: v.next };
  }
}

// ---------------------------------------------------------------------------------------------
// Encoder

/**
 * Encode a header list using only literals that never touch the dynamic table: "without
 * indexing" (or "never indexed" for fields flagged so), with the static table's index for
 * names it holds. The receiving decoder's dynamic table therefore stays whatever it was.
 */
export function encodeHeaderBlock(fields: readonly HeaderField[], opts: { huffman?: boolean } = {}): Buffer {
  const huffman = opts.huffman ?? false;
  // Two passes, so the block is written straight into one Buffer of the right size.
  let size = 0;
  const planned = fields.map((f) => {
    // A static-table index for the name, or the name as a literal.
    const name: number | StringLiteral = STATIC_NAME_INDEX.get(f.name) ?? stringLiteral(f.name, huffman);
    const value = stringLiteral(f.value, huffman);
    size += (typeof name === 'number' ? integerLength(name, 4) : 1 + stringLiteralLength(name)) + stringLiteralLength(value);
    return { first: f.neverIndex ? 0x10 : 0x00, name, value };
  });
  const out = Buffer.allocUnsafe(size);
  let pos = 0;
  for (const { first, name, value } of planned) {
    if (typeof name === 'number') {
      pos = writeInteger(out, pos, name, 4, first);
    } else {
      out[pos++] = first;
      pos = writeStringLiteral(out, pos, name);
    }
    pos = writeStringLiteral(out, pos, value);
  }
  return out;
}
