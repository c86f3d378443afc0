// Byte-level mutations of fuzz inputs, in the manner of libFuzzer's: a few random edits per
// input, each of them cheap, biased towards the values parsers branch on.

import type { Prng } from './prng.js';

/** Octets HTTP/2 and HPACK parsers treat specially: prefix maxima, representation bits. */
const INTERESTING = [0x00, 0x01, 0x1f, 0x20, 0x3f, 0x40, 0x7f, 0x80, 0xbe, 0xff];

type Mutation = (b: Buffer, rng: Prng, corpus: readonly Buffer[]) => Buffer;

const mutations: readonly Mutation[] = [
  // Flip a bit.
  (b, rng) => {
    if (b.length === 0) return b;
    const i = rng.below(b.length);
    b[i]! ^= 1 << rng.below(8);
    return b;
  },
  // Set an octet to a random or an interesting value.
  (b, rng) => {
    if (b.length === 0) return b;
    b[rng.below(b.length)] = rng.chance(0.5) ? rng.pick(INTERESTING) : rng.below(256);
    return b;
  },
  // Write a random big-endian 16/24/32-bit number (lengths, stream ids).
  (b, rng) => {
    const width = rng.between(2, 4);
    if (b.length < width) return b;
    const v = rng.chance(0.3) ? 2 ** (8 * width) - 1 - rng.below(4) : rng.below(2 ** (8 * width));
    b.writeUIntBE(v, rng.below(b.length - width + 1), width);
    return b;
  },
  // Insert random octets.
  (b, rng) => {
    const at = rng.below(b.length + 1);
    return Buffer.concat([b.subarray(0, at), rng.bytes(rng.between(1, 16)), b.subarray(at)]);
  },
  // Delete a range.
  (b, rng) => {
    if (b.length === 0) return b;
    const at = rng.below(b.length);
    return Buffer.concat([b.subarray(0, at), b.subarray(at + rng.between(1, Math.min(64, b.length - at)))]);
  },
  // Repeat a range a few or many times (runs of references, of frames).
  (b, rng) => {
    if (b.length === 0) return b;
    const at = rng.below(b.length);
    const piece = b.subarray(at, at + rng.between(1, 32));
    const times = rng.chance(0.2) ? rng.between(100, 5000) : rng.between(2, 8);
    return Buffer.concat([b.subarray(0, at), ...Array.from({ length: times }, () => piece), b.subarray(at)]);
  },
  // Splice in a range of another input.
  (b, rng, corpus) => {
    const other = rng.pick(corpus);
    if (other.length === 0) return b;
    const from = rng.below(other.length);
    const piece = other.subarray(from, from + rng.between(1, 256));
    const at = rng.below(b.length + 1);
    const cut = rng.chance(0.5) ? piece.length : 0;
    return Buffer.concat([b.subarray(0, at), piece, b.subarray(Math.min(b.length, at + cut))]);
  },
  // Truncate.
  (b, rng) => b.subarray(0, rng.below(b.length + 1)),
];

/** A mutated copy of `input`: one to `maxEdits` edits, never longer than `maxLength`. */
export function mutate(input: Buffer, rng: Prng, corpus: readonly Buffer[], maxEdits = 4, maxLength = 256 * 1024): Buffer {
  let b: Buffer = Buffer.from(input);
  for (let n = rng.between(1, maxEdits); n > 0; n--) {
    b = rng.pick(mutations)(b, rng, corpus);
    if (b.length > maxLength) b = b.subarray(0, maxLength);
  }
  return b;
}
