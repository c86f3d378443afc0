// HPACK Huffman coding (RFC 7541 section 5.2 and Appendix B).
//
// The HPACK code is canonical: within one code length, codes are handed out in increasing
// symbol order, and the first code of each length follows on from the last code of the
// previous length. So the bit length of every symbol is all the table we need; the codes
// themselves are derived below (and checked against Appendix B by the tests).

/** Symbol 256 is EOS; it must never appear inside an encoded string. */
export const EOS = 256;

/** Code length in bits of each symbol 0..256 (RFC 7541 Appendix B). */
// prettier-ignore
export const HUFFMAN_CODE_LENGTHS: readonly number[] = [
  // 0..31: control characters
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28,
  28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
  // 32..63: ' ' ! " # $ % & ' ( ) * + , - . / 0-9 : ; < = > ?
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6,
  5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
  // 64..95: @ A-Z [ \ ] ^ _
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
  7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
  // 96..127: ` a-z { | } ~ DEL
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5,
  6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
  // 128..255
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23,
  24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23,
  21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,
  19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23,
  26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
  // 256: EOS
  30,
];

const MIN_LEN = 5;
const MAX_LEN = 30;

export class HuffmanError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HuffmanError';
  }
}

interface CanonicalTables {
  /** codes[sym]: the code of each symbol, right-aligned in `HUFFMAN_CODE_LENGTHS[sym]` bits. */
  codes: Uint32Array;
  /** firstCode[len]: the numerically smallest code of that length. */
  firstCode: Int32Array;
  /** countByLen[len]: how many symbols have a code of that length. */
  countByLen: Int32Array;
  /** startByLen[len]: where the symbols of that length begin in `sorted`. */
  startByLen: Int32Array;
  /** All symbols ordered by (length, symbol), i.e. by code. */
  sorted: Uint16Array;
}

function buildTables(): CanonicalTables {
  if (HUFFMAN_CODE_LENGTHS.length !== 257) throw new Error('huffman: table must have 257 entries');
  const countByLen = new Int32Array(MAX_LEN + 2);
  for (const len of HUFFMAN_CODE_LENGTHS) countByLen[len]! += 1;
  const firstCode = new Int32Array(MAX_LEN + 2);
  const startByLen = new Int32Array(MAX_LEN + 2);
  let code = 0;
  let start = 0;
  for (let len = 1; len <= MAX_LEN; len++) {
    code = (code + countByLen[len - 1]!) << 1;
    firstCode[len] = code;
    startByLen[len] = start;
    start += countByLen[len]!;
  }
  const sorted = new Uint16Array(257);
  const codes = new Uint32Array(257);
  const next = Int32Array.from(firstCode);
  const fill = Int32Array.from(startByLen);
  for (let len = 1; len <= MAX_LEN; len++) {
    for (let sym = 0; sym < 257; sym++) {
      if (HUFFMAN_CODE_LENGTHS[sym] !== len) continue;
      codes[sym] = next[len]!;
      next[len]! += 1;
      sorted[fill[len]!] = sym;
      fill[len]! += 1;
    }
  }
  // A complete prefix code ends with the all-ones code of the longest length (EOS).
  if (codes[EOS] !== 2 ** MAX_LEN - 1) throw new Error('huffman: code table is not complete');
  return { codes, firstCode, countByLen, startByLen, sorted };
}

const T = buildTables();

/** The code of a symbol (0..256), right-aligned, and its bit length. */
export function huffmanCode(sym: number): { code: number; bits: number } {
  const code = T.codes[sym];
  const bits = HUFFMAN_CODE_LENGTHS[sym];
  if (code === undefined || bits === undefined) throw new RangeError(`huffman: no symbol ${sym}`);
  return { code, bits };
}

/**
 * Decode a Huffman-coded string literal. Throws HuffmanError when the input holds EOS,
 * ends with more than 7 bits of padding, or ends with padding that is not a prefix of EOS
 * (all ones).
 */
export function huffmanDecode(input: Uint8Array): Buffer {
  // Every code is at least 5 bits long, so the output is at most 8/5 of the input.
  const out = Buffer.allocUnsafe(Math.ceil((input.length * 8) / MIN_LEN));
  let n = 0;
  let code = 0;
  let len = 0;
  for (const byte of input) {
    for (let bit = 7; bit >= 0; bit--) {
      code = (code << 1) | ((byte >> bit) & 1);
      len++;
      if (len < MIN_LEN) continue;
      // Table lookups are in range: len is 5..30, and idx is checked against the count.
      const idx = code - T.firstCode[len]!;
      if (idx >= 0 && idx < T.countByLen[len]!) {
        const sym = T.sorted[T.startByLen[len]! + idx]!;
        if (sym === EOS) throw new HuffmanError('huffman: EOS symbol inside string literal');
        out[n++] = sym;
        code = 0;
        len = 0;
      } else if (len >= MAX_LEN) {
        // Cannot happen with a complete code; kept as a guard against table mistakes.
        throw new HuffmanError('huffman: invalid code');
      }
    }
  }
  if (len > 7) throw new HuffmanError('huffman: padding longer than 7 bits');
  if (code !== (1 << len) - 1) throw new HuffmanError('huffman: padding is not a prefix of EOS');
  return out.subarray(0, n);
}

/** Number of bytes `huffmanEncode` produces for the input. */
export function huffmanEncodedLength(input: Uint8Array): number {
  let bits = 0;
  for (const byte of input) bits += HUFFMAN_CODE_LENGTHS[byte]!;
  return Math.ceil(bits / 8);
}

/** Huffman-encode bytes, padding the last octet with the high bits of EOS (ones). */
export function huffmanEncode(input: Uint8Array): Buffer {
  const out = Buffer.alloc(huffmanEncodedLength(input));
  let n = 0;
  // Pending bits live right-aligned in `acc`; at most 7 + 30 of them, so use a float-safe
  // split: flush whole bytes as soon as 8 or more are pending.
  let acc = 0;
  let pending = 0;
  for (const sym of input) {
    let bits = HUFFMAN_CODE_LENGTHS[sym]!;
    const code = T.codes[sym]!;
    // Feed the code in pieces of at most 8 bits so `acc` never exceeds 15 bits.
    while (bits > 0) {
      const take = Math.min(8, bits);
      bits -= take;
      acc = (acc << take) | ((code >>> bits) & ((1 << take) - 1));
      pending += take;
      while (pending >= 8) {
        pending -= 8;
        out[n++] = (acc >>> pending) & 0xff;
      }
      acc &= (1 << pending) - 1;
    }
  }
  if (pending > 0) out[n++] = ((acc << (8 - pending)) | ((1 << (8 - pending)) - 1)) & 0xff;
  return out;
}
