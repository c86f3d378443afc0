// HPACK against RFC 7541 itself: the static table of Appendix A entry by entry, the integer
// representation's edges (section 5.1: a value of 2^N-1 already needs a continuation octet), the
// dynamic table's size accounting (section 4: an entry may fill the table exactly), and string
// literals (section 5.2: octets, so latin1 round-trips; Huffman only when it is shorter).

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DynamicTable,
  HpackDecoder,
  HpackError,
  decodeInteger,
  decodeString,
  encodeHeaderBlock,
  integerLength,
  writeInteger,
} from '../../src/socket/h2/hpack.js';

/** RFC 7541 Appendix A, in index order from 1. */
const RFC7541_STATIC_TABLE: [string, string][] = [
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

describe('HPACK per RFC 7541', () => {
  test('Appendix A: indexed fields 1-61 decode to the static table; 62 is the first dynamic entry', () => {
    assert.equal(RFC7541_STATIC_TABLE.length, 61);
    RFC7541_STATIC_TABLE.forEach(([name, value], i) => {
      assert.deepEqual(new HpackDecoder().decode(Buffer.from([0x80 | (i + 1)])), [{ name, value }], `index ${i + 1}`);
    });
    assert.throws(() => new HpackDecoder().decode(Buffer.from([0x80 | 62])), /index 62 is not in the table/);
  });

  test('the encoder names a static-table header by its first index (6.2.2, 4-bit prefix), other names as literals', () => {
    // :path (4, not 5), user-agent (58 = 15 + 43), :status (8, not 9-14); an unknown name: index 0 and the name.
    assert.deepEqual([...encodeHeaderBlock([{ name: ':path', value: '/x' }])], [0x04, 0x02, 0x2f, 0x78]);
    assert.deepEqual([...encodeHeaderBlock([{ name: 'user-agent', value: '' }])], [0x0f, 43, 0x00]);
    assert.deepEqual([...encodeHeaderBlock([{ name: ':status', value: '1' }])], [0x08, 0x01, 0x31]);
    assert.deepEqual([...encodeHeaderBlock([{ name: 'x', value: '', neverIndex: true }])], [0x10, 0x01, 0x78, 0x00]);
  });

  test('5.1: a value of 2^N-1 takes a continuation octet of 0; one less fits the prefix', () => {
    for (const n of [4, 5, 6, 7, 8]) {
      const max = 2 ** n - 1;
      assert.equal(integerLength(max - 1, n), 1, `${max - 1}, ${n}-bit prefix`);
      assert.equal(integerLength(max, n), 2, `${max}, ${n}-bit prefix`);
      const out = new Uint8Array(2);
      assert.equal(writeInteger(out, 0, max, n), 2);
      assert.deepEqual([...out], [max, 0]);
      assert.deepEqual(decodeInteger(out, 0, n), { value: max, next: 2 });
      assert.equal(writeInteger(out, 0, max - 1, n), 1);
      assert.equal(out[0], max - 1);
    }
    assert.throws(() => decodeInteger(new Uint8Array([0]), 0, 0), { name: 'RangeError', message: 'hpack: prefix must be 1..8 bits' });
    assert.throws(() => decodeInteger(new Uint8Array([0]), 0, 9), RangeError);
    assert.throws(() => writeInteger(new Uint8Array(2), 0, -1, 5), { name: 'RangeError', message: 'hpack: bad integer' });
    assert.throws(() => writeInteger(new Uint8Array(2), 0, 1.5, 5), RangeError);
  });

  test('5.1: the continuation loop runs while what is left is at least 128', () => {
    // 2^N-1 + 127 leaves 127: one continuation octet. 2^N-1 + 128 leaves 128: 0x80 then 0x01.
    for (const n of [5, 7]) {
      const max = 2 ** n - 1;
      for (const [value, octets] of [
        [max + 127, [max, 0x7f]],
        [max + 128, [max, 0x80, 0x01]],
      ] as const) {
        assert.equal(integerLength(value, n), octets.length, `${value}, ${n}-bit prefix`);
        const out = new Uint8Array(octets.length);
        assert.equal(writeInteger(out, 0, value, n), octets.length);
        assert.deepEqual([...out], octets);
        assert.deepEqual(decodeInteger(out, 0, n), { value, next: octets.length });
      }
    }
    // 0x7fffffff takes five continuation octets; a sixth, even zero, is refused.
    const tooLong = new Uint8Array([0x1f, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00]);
    assert.throws(
      () => decodeInteger(tooLong, 0, 5),
      (err: unknown) => err instanceof HpackError && err.name === 'HpackError' && err.message === 'hpack: integer encoding too long',
    );
  });

  test('5.2: string octets round-trip as latin1, Huffman-coded or not; Huffman only when shorter', () => {
    const value = 'caf\u00e9 \u00ff';
    for (const huffman of [false, true]) {
      assert.deepEqual(new HpackDecoder().decode(encodeHeaderBlock([{ name: 'x-v', value }], { huffman })), [{ name: 'x-v', value }], `huffman ${huffman}`);
    }
    // Octets above 0x7f where Huffman is shorter: coded as octets (latin1), not as UTF-8.
    const mostlyShort = 'aaaaaaaaaaaaaaaa\u00e9';
    const huff = encodeHeaderBlock([{ name: ':path', value: mostlyShort }], { huffman: true });
    assert.equal((huff[1] ?? 0) & 0x80, 0x80, 'H bit set');
    assert.deepEqual(new HpackDecoder().decode(huff), [{ name: ':path', value: mostlyShort }]);
    // 'X' has an 8-bit code (Appendix B): no shorter, so it goes raw (H bit clear).
    const raw = encodeHeaderBlock([{ name: ':path', value: 'X' }], { huffman: true });
    assert.deepEqual([...raw], [0x04, 0x01, 0x58]);
    // 'a' has a 5-bit code: "aaaa" is 20 bits, 3 octets instead of 4.
    const coded = encodeHeaderBlock([{ name: ':path', value: 'aaaa' }], { huffman: true });
    assert.equal((coded[1] ?? 0) & 0x80, 0x80, 'H bit set');
    assert.equal((coded[1] ?? 0) & 0x7f, 3);
    assert.throws(
      () => decodeString(new Uint8Array(0), 0),
      (err: unknown) => err instanceof HpackError && err.message === 'hpack: truncated string',
    );
  });

  test('4.1/4.4: entries may fill the table exactly; the oldest goes when the next would not fit', () => {
    const t = new DynamicTable(100);
    t.add('n', 'v'.repeat(100 - 1 - 32)); // exactly 100
    assert.equal(t.length, 1);
    assert.equal(t.currentSize, 100);
    const u = new DynamicTable(100);
    u.add('a', 'v'.repeat(17)); // 50
    u.add('b', 'v'.repeat(17)); // 50: 100 in all, both stay
    assert.equal(u.length, 2);
    u.add('c', '');
    assert.deepEqual([u.length, u.at(0)?.[0], u.at(1)?.[0]], [2, 'c', 'b'], 'a, the oldest, evicted for c');
    u.add('big', 'v'.repeat(100));
    assert.deepEqual([u.length, u.currentSize], [0, 0], 'larger than the table: it empties and nothing is added');
  });

  test('6.3: a size update above the advertised limit is an error; lowering the limit shrinks the table', () => {
    const d = new HpackDecoder({ maxTableSizeLimit: 256 });
    // 001xxxxx with a 5-bit prefix: 256 = 31 + 225 (0xe1 0x01).
    assert.deepEqual(d.decode(Buffer.from([0x3f, 0xe1, 0x01])), []);
    assert.equal(d.table.maxSize, 256);
    assert.throws(() => d.decode(Buffer.from([0x3f, 0xe2, 0x01])), /table size 257 exceeds the limit 256/);
    d.setMaxTableSizeLimit(512);
    assert.equal(d.maxTableSizeLimit, 512);
    assert.equal(d.table.maxSize, 256, 'raising the limit leaves the table');
    d.setMaxTableSizeLimit(64);
    assert.equal(d.table.maxSize, 64, 'lowering it below the table shrinks it');
  });
});
