// HPACK, the :authority rewriter, and listenUnix end to end.
//
// Integration tests talk over unix sockets in a temp dir only; everything they open is closed
// in `after` hooks, so the process exits on its own.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { EOS, HuffmanError, huffmanCode, huffmanDecode, huffmanEncode } from '../../src/socket/h2/huffman.js';
import {
  HpackDecoder,
  HpackError,
  STATIC_TABLE,
  decodeInteger,
  encodeHeaderBlock,
  integerLength,
  writeInteger,
  type HeaderField,
} from '../../src/socket/h2/hpack.js';
import {
  AuthorityRewriter,
  AuthorityRewriteStream,
  CLIENT_PREFACE,
  FrameFlag,
  FrameType,
  H2ErrorCode,
  H2RewriteError,
  ServerPingScanner,
  isValidAuthority,
  type AuthorityRewriterOptions,
} from '../../src/socket/h2/authority-rewriter.js';
import { listenUnix, type UnixListener } from '../../src/socket/serve-unix.js';
import { repoRoot } from '../../src/util/paths.js';
import { FrameReader, HeaderBlockAssembler, grpcStatus, parseClientBytes, replay, type Frame } from '../support/h2-replay.js';
import { frame, grpcFrame } from '../support/h2-frames.js';
import { unaryCall, unaryMethod } from '../support/grpc-bytes.js';
import { waitFor } from '../support/wait-for.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const pairs = (fields: HeaderField[]): [string, string][] => fields.map((f) => [f.name, f.value]);
const tablePairs = (d: HpackDecoder): [string, string][] => {
  const out: [string, string][] = [];
  for (let i = 0; i < d.table.length; i++) out.push([...d.table.at(i)!] as [string, string]);
  return out;
};
const fixturesDir = path.join(repoRoot, 'test/fixtures/cri-wire/connections');

// -------------------------------------------------------------------------------------------
// HPACK

describe('huffman', () => {
  test('canonical codes match RFC 7541 Appendix B samples', () => {
    const samples: [number, number, number][] = [
      [0, 0x1ff8, 13],
      [1, 0x7fffd8, 23],
      [10, 0x3ffffffc, 30],
      [32, 0x14, 6],
      [48, 0x0, 5],
      [97, 0x3, 5],
      [92, 0x7fff0, 19],
      [123, 0x7ffe, 15],
      [127, 0xffffffc, 28],
      [153, 0x1fffdc, 21],
      [203, 0x7ffffde, 27],
      [211, 0x7ffffe0, 27],
      [249, 0xffffffe, 28],
      [255, 0x3ffffee, 26],
      [EOS, 0x3fffffff, 30],
    ];
    for (const [sym, code, bits] of samples) {
      assert.deepEqual(huffmanCode(sym), { code, bits }, `symbol ${sym}`);
    }
  });

  test('RFC 7541 C.4 string literals', () => {
    const cases: [string, string][] = [
      ['www.example.com', 'f1e3 c2e5 f23a 6ba0 ab90 f4ff'],
      ['no-cache', 'a8eb 1064 9cbf'],
      ['custom-key', '25a8 49e9 5ba9 7d7f'],
      ['custom-value', '25a8 49e9 5bb8 e8b4 bf'],
      ['302', '6402'],
      ['private', 'aec3 771a 4b'],
      ['https://www.example.com', '9d29 ad17 1863 c78f 0b97 c8e9 ae82 ae43 d3'],
    ];
    for (const [text, coded] of cases) {
      assert.equal(huffmanDecode(hex(coded)).toString('latin1'), text);
      assert.ok(huffmanEncode(Buffer.from(text, 'latin1')).equals(hex(coded)), `encode ${text}`);
    }
  });

  test('round-trips every octet value', () => {
    const all = Buffer.alloc(256 * 3);
    for (let i = 0; i < all.length; i++) all[i] = (i * 7) & 0xff;
    assert.ok(huffmanDecode(huffmanEncode(all)).equals(all));
    for (let b = 0; b < 256; b++) {
      const one = Buffer.from([b]);
      assert.ok(huffmanDecode(huffmanEncode(one)).equals(one), `octet ${b}`);
    }
    assert.equal(huffmanDecode(Buffer.alloc(0)).length, 0);
  });

  test('rejects EOS, long padding and non-EOS padding', () => {
    // 32 one bits: the first 30 are EOS.
    assert.throws(() => huffmanDecode(hex('ffff ffff')), HuffmanError);
    // 'a' (00011) then 11 one bits: padding longer than 7 bits.
    assert.throws(() => huffmanDecode(hex('1fff')), /longer than 7 bits/);
    // 'a' then three zero bits: padding that is not a prefix of EOS.
    assert.throws(() => huffmanDecode(hex('18')), /not a prefix of EOS/);
    // A full byte of ones alone is 8 bits of padding.
    assert.throws(() => huffmanDecode(hex('ff')), HuffmanError);
    // 'a' then 111: valid.
    assert.equal(huffmanDecode(hex('1f')).toString(), 'a');
  });
});

describe('hpack integers', () => {
  const enc = (v: number, n: number, first = 0): number[] => {
    const out = Buffer.alloc(integerLength(v, n));
    assert.equal(writeInteger(out, 0, v, n, first), out.length, 'integerLength matches what is written');
    return [...out];
  };

  test('RFC 7541 C.1 examples', () => {
    assert.deepEqual(enc(10, 5), [0x0a]);
    assert.deepEqual(enc(1337, 5), [0x1f, 0x9a, 0x0a]);
    assert.deepEqual(enc(42, 8), [0x2a]);
    assert.deepEqual(decodeInteger(Buffer.from([0xea]), 0, 5), { value: 10, next: 1 });
    assert.deepEqual(decodeInteger(Buffer.from([0x1f, 0x9a, 0x0a]), 0, 5), { value: 1337, next: 3 });
    assert.deepEqual(decodeInteger(Buffer.from([0x2a]), 0, 8), { value: 42, next: 1 });
  });

  test('edge cases', () => {
    // Exactly the prefix maximum needs a zero continuation octet.
    assert.deepEqual(enc(31, 5), [0x1f, 0x00]);
    assert.deepEqual(decodeInteger(Buffer.from([0x1f, 0x00]), 0, 5), { value: 31, next: 2 });
    assert.deepEqual(enc(127, 7, 0x80), [0xff, 0x00]);
    assert.deepEqual(enc(0, 1), [0]);
    assert.deepEqual(enc(1, 1), [1, 0]);
    for (const n of [1, 4, 5, 6, 7, 8]) {
      for (const v of [0, 1, 2 ** n - 2, 2 ** n - 1, 2 ** n, 128, 16383, 16384, 65536, 0x7fffffff]) {
        const bytes = Buffer.from(enc(v, n));
        assert.deepEqual(decodeInteger(bytes, 0, n), { value: v, next: bytes.length }, `${v}/${n}`);
      }
    }
    // Bits above the prefix are not part of the value; decoding starts at `pos`.
    assert.deepEqual(decodeInteger(Buffer.from([0x00, 0xe5]), 1, 5), { value: 5, next: 2 });
    // Truncated.
    assert.throws(() => decodeInteger(Buffer.from([0x1f]), 0, 5), /truncated/);
    assert.throws(() => decodeInteger(Buffer.from([0x1f, 0x80]), 0, 5), /truncated/);
    assert.throws(() => decodeInteger(Buffer.alloc(0), 0, 5), /truncated/);
    // Overflow and over-long encodings.
    assert.throws(() => decodeInteger(Buffer.from([0x1f, 0xff, 0xff, 0xff, 0xff, 0x0f]), 0, 5), /overflow/);
    assert.throws(() => decodeInteger(Buffer.from([0x1f, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00]), 0, 5), HpackError);
  });
});

describe('hpack decoder', () => {
  const req1 = [
    [':method', 'GET'],
    [':scheme', 'http'],
    [':path', '/'],
    [':authority', 'www.example.com'],
  ];
  const req2 = [...req1, ['cache-control', 'no-cache']];
  const req3 = [
    [':method', 'GET'],
    [':scheme', 'https'],
    [':path', '/index.html'],
    [':authority', 'www.example.com'],
    ['custom-key', 'custom-value'],
  ];
  const reqTables = [
    [[':authority', 'www.example.com']],
    [
      ['cache-control', 'no-cache'],
      [':authority', 'www.example.com'],
    ],
    [
      ['custom-key', 'custom-value'],
      ['cache-control', 'no-cache'],
      [':authority', 'www.example.com'],
    ],
  ];

  for (const [name, blocks] of [
    [
      'C.3 requests without Huffman',
      [
        '8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d',
        '8286 84be 5808 6e6f 2d63 6163 6865',
        '8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65',
      ],
    ],
    [
      'C.4 requests with Huffman',
      ['8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff', '8286 84be 5886 a8eb 1064 9cbf', '8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf'],
    ],
  ] as const) {
    test(`RFC 7541 ${name}`, () => {
      const d = new HpackDecoder();
      assert.deepEqual(pairs(d.decode(hex(blocks[0]))), req1);
      assert.deepEqual(tablePairs(d), reqTables[0]);
      assert.equal(d.table.currentSize, 57);
      assert.deepEqual(pairs(d.decode(hex(blocks[1]))), req2);
      assert.deepEqual(tablePairs(d), reqTables[1]);
      assert.equal(d.table.currentSize, 110);
      assert.deepEqual(pairs(d.decode(hex(blocks[2]))), req3);
      assert.deepEqual(tablePairs(d), reqTables[2]);
      assert.equal(d.table.currentSize, 164);
    });
  }

  const date1 = 'Mon, 21 Oct 2013 20:13:21 GMT';
  const date2 = 'Mon, 21 Oct 2013 20:13:22 GMT';
  const cookie = 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1';
  const loc = 'https://www.example.com';
  const responses = [
    [
      [':status', '302'],
      ['cache-control', 'private'],
      ['date', date1],
      ['location', loc],
    ],
    [
      [':status', '307'],
      ['cache-control', 'private'],
      ['date', date1],
      ['location', loc],
    ],
    [
      [':status', '200'],
      ['cache-control', 'private'],
      ['date', date2],
      ['location', loc],
      ['content-encoding', 'gzip'],
      ['set-cookie', cookie],
    ],
  ];
  const responseTables: [[string, string][], number][] = [
    [
      [
        ['location', loc],
        ['date', date1],
        ['cache-control', 'private'],
        [':status', '302'],
      ],
      222,
    ],
    [
      [
        [':status', '307'],
        ['location', loc],
        ['date', date1],
        ['cache-control', 'private'],
      ],
      222,
    ],
    [
      [
        ['set-cookie', cookie],
        ['content-encoding', 'gzip'],
        ['date', date2],
      ],
      215,
    ],
  ];

  for (const [name, blocks] of [
    [
      'C.5 responses without Huffman (eviction)',
      [
        '4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d',
        '4803 3330 37c1 c0bf',
        '88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31',
      ],
    ],
    [
      'C.6 responses with Huffman (eviction)',
      [
        '4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3',
        '4883 640e ffc1 c0bf',
        '88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07',
      ],
    ],
  ] as const) {
    test(`RFC 7541 ${name}`, () => {
      const d = new HpackDecoder({ initialTableSize: 256 });
      for (let i = 0; i < 3; i++) {
        assert.deepEqual(pairs(d.decode(hex(blocks[i]!))), responses[i], `response ${i + 1}`);
        assert.deepEqual(tablePairs(d), responseTables[i]![0], `table ${i + 1}`);
        assert.equal(d.table.currentSize, responseTables[i]![1]);
      }
    });
  }

  test('literal representations: without indexing, never indexed, literal names', () => {
    const d = new HpackDecoder();
    // C.2.2: literal without indexing, indexed name (:path).
    assert.deepEqual(pairs(d.decode(hex('040c 2f73 616d 706c 652f 7061 7468'))), [[':path', '/sample/path']]);
    // C.2.3: never indexed, literal name.
    const never = d.decode(hex('1008 7061 7373 776f 7264 0673 6563 7265 74'));
    assert.deepEqual(never, [{ name: 'password', value: 'secret', neverIndex: true }]);
    // C.2.4: indexed field.
    assert.deepEqual(pairs(d.decode(hex('82'))), [[':method', 'GET']]);
    assert.equal(d.table.length, 0);
    // C.2.1: literal with indexing, literal name.
    assert.deepEqual(pairs(d.decode(hex('400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572'))), [['custom-key', 'custom-header']]);
    assert.deepEqual(tablePairs(d), [['custom-key', 'custom-header']]);
    assert.equal(d.table.currentSize, 55);
    // Index 62 now refers to that entry; 63 does not exist.
    assert.deepEqual(pairs(d.decode(hex('be'))), [['custom-key', 'custom-header']]);
    assert.throws(() => d.decode(hex('bf')), /not in the table/);
    // Non-ASCII octets survive as latin1.
    const d2 = new HpackDecoder();
    assert.deepEqual(pairs(d2.decode(hex('0003 782d 6202 ff00'))), [['x-b', '\xff\x00']]);
  });

  test('dynamic table size updates and eviction', () => {
    const d = new HpackDecoder({ maxTableSizeLimit: 65536 });
    d.decode(hex('400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572')); // 55 octets
    d.decode(hex('4003 6162 6303 6465 66')); // abc: def, 38 octets
    assert.equal(d.table.currentSize, 93);
    // Shrink to 60 at the start of a block: the oldest entry goes.
    assert.deepEqual(pairs(d.decode(hex('3f1d 82'))), [[':method', 'GET']]);
    assert.equal(d.table.maxSize, 60);
    assert.deepEqual(tablePairs(d), [['abc', 'def']]);
    // Two updates in a row (0 then 4096) empty the table and reopen it.
    d.decode(hex('20 3fe1 1f'));
    assert.equal(d.table.length, 0);
    assert.equal(d.table.maxSize, 4096);
    // An entry bigger than the table empties it and is not added.
    d.decode(hex('3f11')); // size 48
    d.decode(hex('4003 6162 6303 6465 66')); // 38 fits
    assert.equal(d.table.length, 1);
    d.decode(hex('4003 6162 6304 6465 6667')); // 39 fits, evicts the 38
    assert.deepEqual(tablePairs(d), [['abc', 'defg']]);
    d.decode(hex('400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572')); // 55 > 48
    assert.equal(d.table.length, 0);
    assert.equal(d.table.currentSize, 0);
    // Up to the limit is fine, above it is an error.
    d.decode(hex('3fe1 ff03')); // 65536
    assert.equal(d.table.maxSize, 65536);
    assert.throws(() => d.decode(hex('3fe2 ff03')), /exceeds the limit/);
  });

  test('decoding errors throw', () => {
    const d = () => new HpackDecoder();
    assert.throws(() => d().decode(hex('80')), /index 0/);
    assert.throws(() => d().decode(hex('be')), /not in the table/);
    assert.throws(() => d().decode(hex('7f00 0161')), /not in the table/); // literal, name index 63
    assert.doesNotThrow(() => d().decode(hex('3fe1 1f'))); // 4096 = the default limit
    assert.throws(() => d().decode(hex('3fe2 1f')), /exceeds the limit/); // 4097 > default limit 4096
    assert.throws(() => d().decode(hex('82 20')), /after a header field/);
    assert.throws(() => d().decode(hex('0003 6162')), /past the block/);
    assert.throws(() => d().decode(hex('0001 6181 ff')), HpackError); // Huffman value: 8 bits of padding
    assert.throws(() => d().decode(hex('00')), /truncated/);
  });

  test('static table has 61 entries ending with www-authenticate', () => {
    assert.equal(STATIC_TABLE.length, 61);
    assert.deepEqual(STATIC_TABLE[0], [':authority', '']);
    assert.deepEqual(STATIC_TABLE[60], ['www-authenticate', '']);
  });

  test('encoder emits non-indexing literals that round-trip', () => {
    const fields: HeaderField[] = [
      { name: ':method', value: 'POST' },
      { name: ':authority', value: 'localhost' },
      { name: 'content-type', value: 'application/grpc' },
      { name: 'x-custom', value: 'v\xff' },
      { name: 'authorization', value: 'secret', neverIndex: true },
      { name: 'empty', value: '' },
    ];
    const block = encodeHeaderBlock(fields);
    assert.equal(block[0], 0x02); // :method has static index 2, without indexing
    const d = new HpackDecoder();
    const back = d.decode(block);
    assert.deepEqual(pairs(back), pairs(fields));
    assert.equal(back[4]?.neverIndex, true);
    assert.equal(d.table.length, 0, 'no dynamic table entries');
    // Every field starts with 0000xxxx or 0001xxxx.
    const again = encodeHeaderBlock([{ name: ':authority', value: 'a' }]);
    assert.deepEqual([...again], [0x01, 0x01, 0x61]);
    const huff = encodeHeaderBlock([{ name: 'custom-key', value: 'custom-value' }], { huffman: true });
    assert.deepEqual(pairs(new HpackDecoder().decode(huff)), [['custom-key', 'custom-value']]);
    assert.ok(huff.length < encodeHeaderBlock([{ name: 'custom-key', value: 'custom-value' }]).length);
  });
});

// -------------------------------------------------------------------------------------------
// Rewriter

function runRewriter(input: Buffer, chunkSize: number, opts: AuthorityRewriterOptions = {}): Buffer {
  const r = new AuthorityRewriter(opts);
  const out: Buffer[] = [];
  for (let i = 0; i < input.length; i += chunkSize) out.push(r.push(input.subarray(i, i + chunkSize)));
  assert.equal(r.end(), true, 'ended on a frame boundary');
  return Buffer.concat(out);
}

describe('authority rewriter', () => {
  test('authority validity', () => {
    for (const ok of ['localhost', 'localhost:50051', '127.0.0.1', '[::1]:443', 'user@host', 'a%20b', 'x.y-z_~']) {
      assert.equal(isValidAuthority(ok), true, ok);
    }
    for (const bad of ['', '/tmp/capture/cap2.sock', 'unix:///run/x.sock', 'a b', 'a\x00', 'h"', 'a/b', 'é']) {
      assert.equal(isValidAuthority(bad), false, JSON.stringify(bad));
    }
  });

  for (const name of ['crictl-version.h2', 'crictl-runp.h2', 'crictl-create.h2', 'crictl-run.h2']) {
    test(`${name}: 1-byte chunks give the same output as one chunk`, () => {
      const input = fs.readFileSync(path.join(fixturesDir, name));
      const keepAcks = { dropUnsolicitedPingAcks: false };
      const whole = runRewriter(input, input.length, keepAcks);
      assert.ok(runRewriter(input, 1, keepAcks).equals(whole), '1-byte chunks');
      assert.ok(runRewriter(input, 7, keepAcks).equals(whole), '7-byte chunks');
      assert.ok(runRewriter(input, 4096, keepAcks).equals(whole), '4096-byte chunks');
      const dropped = runRewriter(input, input.length);
      assert.ok(runRewriter(input, 1).equals(dropped), '1-byte chunks, dropping PING ACKs');

      // Non-header frames pass unchanged, in order; header blocks decode to the original
      // fields except for :authority.
      const inFrames = parseClientBytes(input);
      const outFrames = parseClientBytes(whole);
      const notHeaders = (f: Frame) => f.type !== FrameType.HEADERS && f.type !== FrameType.CONTINUATION;
      const hexes = (frames: Frame[]) => frames.filter(notHeaders).map((f) => f.raw.toString('hex'));
      assert.deepEqual(hexes(outFrames), hexes(inFrames));
      // By default the capture's PING ACKs (answers to the capturing server's PINGs) go.
      const isPingAck = (f: Frame) => f.type === FrameType.PING && (f.flags & FrameFlag.ACK) !== 0;
      assert.ok(inFrames.some(isPingAck));
      assert.deepEqual(hexes(parseClientBytes(dropped)), hexes(inFrames.filter((f) => !isPingAck(f))));
      const inAsm = new HeaderBlockAssembler();
      const outAsm = new HeaderBlockAssembler();
      const inBlocks = inFrames.map((f) => inAsm.feed(f)).filter((b) => b !== null);
      const outBlocks = outFrames.map((f) => outAsm.feed(f)).filter((b) => b !== null);
      assert.ok(inBlocks.length >= 2);
      assert.equal(outBlocks.length, inBlocks.length);
      for (let i = 0; i < inBlocks.length; i++) {
        const a = inBlocks[i]!;
        const b = outBlocks[i]!;
        assert.equal(b.streamId, a.streamId);
        assert.equal(b.endStream, a.endStream);
        assert.equal(a.fields.find((f) => f.name === ':authority')?.value, '/tmp/capture/cap2.sock');
        const expected = pairs(a.fields).map(([n, v]) => [n, n === ':authority' ? 'localhost' : v]);
        assert.deepEqual(pairs(b.fields), expected);
      }
      assert.equal(outAsm.decoder.table.length, 0, 'rewritten blocks never index');
    });
  }

  test('padding is stripped, PRIORITY kept, CONTINUATION joined, END_STREAM kept', () => {
    const enc = (fields: [string, string][]) => encodeHeaderBlock(fields.map(([name, value]) => ({ name, value })));
    const block = enc([
      [':method', 'POST'],
      [':path', '/x'],
      [':authority', '/run/crib.sock'],
      ['x', 'y'],
    ]);
    const prio = hex('8000 0003 10'); // exclusive, depends on 3, weight 16
    const pad = Buffer.alloc(6, 0);
    const headersPayload = Buffer.concat([Buffer.from([pad.length]), prio, block.subarray(0, 4), pad]);
    const input = Buffer.concat([
      CLIENT_PREFACE,
      frame(FrameType.SETTINGS, 0, 0, Buffer.alloc(0)),
      frame(FrameType.HEADERS, FrameFlag.PADDED | FrameFlag.PRIORITY | FrameFlag.END_STREAM, 5, headersPayload),
      frame(FrameType.CONTINUATION, 0, 5, block.subarray(4, 9)),
      frame(FrameType.CONTINUATION, FrameFlag.END_HEADERS, 5, block.subarray(9)),
      frame(FrameType.PING, 0, 0, Buffer.alloc(8, 1)),
    ]);
    const seen: [number, boolean][] = [];
    const out = runRewriter(input, 3, { onHeaders: (id, _f, rw) => void seen.push([id, rw]) });
    assert.deepEqual(seen, [[5, true]]);
    const frames = parseClientBytes(out);
    assert.deepEqual(
      frames.map((f) => [f.type, f.flags, f.streamId]),
      [
        [FrameType.SETTINGS, 0, 0],
        [FrameType.HEADERS, FrameFlag.PRIORITY | FrameFlag.END_STREAM | FrameFlag.END_HEADERS, 5],
        [FrameType.PING, 0, 0],
      ],
    );
    const h = frames[1]!;
    assert.ok(h.payload.subarray(0, 5).equals(prio), 'priority fields kept');
    assert.deepEqual(pairs(new HpackDecoder().decode(h.payload.subarray(5))), [
      [':method', 'POST'],
      [':path', '/x'],
      [':authority', 'localhost'],
      ['x', 'y'],
    ]);
    assert.ok(frames[2]!.raw.equals(frame(FrameType.PING, 0, 0, Buffer.alloc(8, 1))));
  });

  test('a header block over 16384 bytes is split into HEADERS + CONTINUATION', () => {
    const big = 'v'.repeat(20000);
    const block = encodeHeaderBlock([
      { name: ':authority', value: '' },
      { name: 'x-big', value: big },
      { name: 'x-big2', value: big },
    ]);
    const input = Buffer.concat([
      CLIENT_PREFACE,
      // Incoming frame sizes are the server's business (nghttp2 checks them); the rewriter
      // joins whatever arrives and re-splits at 16384.
      frame(FrameType.HEADERS, 0, 1, block.subarray(0, 10000)),
      frame(FrameType.CONTINUATION, 0, 1, block.subarray(10000, 30000)),
      frame(FrameType.CONTINUATION, FrameFlag.END_HEADERS, 1, block.subarray(30000)),
      frame(FrameType.DATA, FrameFlag.END_STREAM, 1, Buffer.from('hello')),
    ]);
    const out = runRewriter(input, 1000);
    assert.ok(runRewriter(input, 1).equals(out));
    const frames = parseClientBytes(out);
    assert.deepEqual(
      frames.map((f) => [f.type, f.flags, f.payload.length]),
      [
        [FrameType.HEADERS, 0, 16384],
        [FrameType.CONTINUATION, 0, 16384],
        [FrameType.CONTINUATION, FrameFlag.END_HEADERS, frames[2]!.payload.length],
        [FrameType.DATA, FrameFlag.END_STREAM, 5],
      ],
    );
    const asm = new HeaderBlockAssembler();
    const blocks = frames.map((f) => asm.feed(f)).filter((b) => b !== null);
    assert.deepEqual(pairs(blocks[0]!.fields), [
      [':authority', 'localhost'],
      ['x-big', big],
      ['x-big2', big],
    ]);
  });

  test('the client dynamic table carries across blocks', () => {
    // Block 1 indexes :authority (with incremental indexing); block 2 refers to it by index.
    const b1 = hex('8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d');
    const b1bad = Buffer.concat([hex('8286 84 41 16'), Buffer.from('/tmp/capture/cap2.sock')]);
    const input = Buffer.concat([
      CLIENT_PREFACE,
      frame(FrameType.HEADERS, FrameFlag.END_HEADERS | FrameFlag.END_STREAM, 1, b1bad),
      frame(FrameType.HEADERS, FrameFlag.END_HEADERS | FrameFlag.END_STREAM, 3, hex('8286 84be')),
      frame(FrameType.HEADERS, FrameFlag.END_HEADERS | FrameFlag.END_STREAM, 5, Buffer.concat([hex('20 3fe1 1f'), b1])),
      frame(FrameType.HEADERS, FrameFlag.END_HEADERS | FrameFlag.END_STREAM, 7, hex('8286 84be')),
    ]);
    const asm = new HeaderBlockAssembler();
    const blocks = parseClientBytes(runRewriter(input, 5))
      .map((f) => asm.feed(f))
      .filter((b) => b !== null);
    assert.deepEqual(
      blocks.map((b) => b.fields.find((f) => f.name === ':authority')!.value),
      ['localhost', 'localhost', 'www.example.com', 'www.example.com'],
    );
  });

  test('PING ACKs pass only when they answer a server PING', () => {
    const payloadA = Buffer.from('AAAAAAAA');
    const payloadB = Buffer.from('BBBBBBBB');
    const ack = (p: Buffer) => frame(FrameType.PING, FrameFlag.ACK, 0, p);
    const r = new AuthorityRewriter();
    assert.ok(r.push(CLIENT_PREFACE).equals(CLIENT_PREFACE));
    // The server's PINGs, seen by the scanner on the other direction, split oddly.
    const serverBytes = Buffer.concat([
      frame(FrameType.SETTINGS, 0, 0, Buffer.alloc(6)),
      frame(FrameType.PING, 0, 0, payloadA),
      frame(FrameType.PING, FrameFlag.ACK, 0, payloadB), // an ACK from the server: not a PING
      frame(FrameType.DATA, 0, 1, Buffer.alloc(100)),
      frame(FrameType.PING, 0, 0, payloadA),
    ]);
    const scanner = new ServerPingScanner((p) => r.noteServerPing(p));
    for (let i = 0; i < serverBytes.length; i += 5) scanner.scan(serverBytes.subarray(i, i + 5));
    // Two outstanding PINGs with payload A, none with B.
    assert.equal(r.push(ack(payloadB)).length, 0);
    assert.ok(r.push(ack(payloadA)).equals(ack(payloadA)));
    const split = ack(payloadA);
    assert.equal(r.push(split.subarray(0, 12)).length, 0);
    assert.ok(r.push(split.subarray(12)).equals(split));
    assert.equal(r.push(ack(payloadA)).length, 0, 'only as many ACKs as PINGs');
    assert.equal(r.droppedPingAcks, 2);
    // Client PINGs (not ACKs) always pass.
    const ping = frame(FrameType.PING, 0, 0, payloadB);
    assert.ok(r.push(ping).equals(ping));
  });

  test('output is cut into segments after each header block', () => {
    const input = fs.readFileSync(path.join(fixturesDir, 'crictl-version.h2'));
    const segments = new AuthorityRewriter().pushSegments(input);
    assert.equal(segments.length, 3);
    assert.ok(Buffer.concat(segments).equals(new AuthorityRewriter().push(input)));
    for (const seg of segments.slice(0, -1)) {
      const frames = parseClientBytes(seg === segments[0] ? seg : Buffer.concat([CLIENT_PREFACE, seg]));
      const last = frames.at(-1)!;
      assert.equal(last.type, FrameType.HEADERS);
      assert.ok(last.flags & FrameFlag.END_HEADERS);
    }
  });

  test('protocol errors throw H2RewriteError and stay failed', () => {
    const cases: [string, Buffer, number][] = [
      ['bad preface', Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), H2ErrorCode.PROTOCOL_ERROR],
      [
        'CONTINUATION without HEADERS',
        Buffer.concat([CLIENT_PREFACE, frame(FrameType.CONTINUATION, FrameFlag.END_HEADERS, 1, hex('82'))]),
        H2ErrorCode.PROTOCOL_ERROR,
      ],
      [
        'frame inside a header block',
        Buffer.concat([CLIENT_PREFACE, frame(FrameType.HEADERS, 0, 1, hex('82')), frame(FrameType.PING, 0, 0, Buffer.alloc(8))]),
        H2ErrorCode.PROTOCOL_ERROR,
      ],
      [
        'CONTINUATION on another stream',
        Buffer.concat([CLIENT_PREFACE, frame(FrameType.HEADERS, 0, 1, hex('82')), frame(FrameType.CONTINUATION, FrameFlag.END_HEADERS, 3, hex('84'))]),
        H2ErrorCode.PROTOCOL_ERROR,
      ],
      [
        'padding longer than the payload',
        Buffer.concat([CLIENT_PREFACE, frame(FrameType.HEADERS, FrameFlag.PADDED | FrameFlag.END_HEADERS, 1, hex('0582'))]),
        H2ErrorCode.PROTOCOL_ERROR,
      ],
      ['bad HPACK index', Buffer.concat([CLIENT_PREFACE, frame(FrameType.HEADERS, FrameFlag.END_HEADERS, 1, hex('80'))]), H2ErrorCode.COMPRESSION_ERROR],
      [
        'table size above the limit',
        Buffer.concat([CLIENT_PREFACE, frame(FrameType.HEADERS, FrameFlag.END_HEADERS, 1, hex('3fe1ff07 82'))]),
        H2ErrorCode.COMPRESSION_ERROR,
      ],
      [
        'PUSH_PROMISE from a client',
        Buffer.concat([CLIENT_PREFACE, frame(FrameType.PUSH_PROMISE, FrameFlag.END_HEADERS, 1, hex('0000000282'))]),
        H2ErrorCode.PROTOCOL_ERROR,
      ],
    ];
    for (const [name, input, code] of cases) {
      const r = new AuthorityRewriter();
      let caught: unknown;
      try {
        for (let i = 0; i < input.length; i++) r.push(input.subarray(i, i + 1));
      } catch (err) {
        caught = err;
      }
      assert.ok(caught instanceof H2RewriteError, `${name}: throws H2RewriteError`);
      assert.equal(caught.h2Code, code, name);
      assert.throws(() => r.push(Buffer.from([0])), H2RewriteError, `${name}: stays failed`);
    }
  });

  test('Transform stream wrapper destroys itself on errors', async () => {
    const s = new AuthorityRewriteStream();
    const err = await new Promise<Error>((resolve) => {
      s.on('error', resolve);
      s.write(Buffer.from('garbage that is not a preface'));
    });
    assert.ok(err instanceof H2RewriteError);
    assert.equal(s.destroyed, true);
  });
});

// -------------------------------------------------------------------------------------------
// listenUnix integration

/** runtime.v1.VersionResponse, hand-encoded: four string fields. */
function versionResponse(): Buffer {
  const fields = ['0.1.0', 'crib', 'test', 'v1'];
  return Buffer.concat(
    fields.map((v, i) => {
      const b = Buffer.from(v);
      return Buffer.concat([Buffer.from([((i + 1) << 3) | 2, b.length]), b]);
    }),
  );
}

/** Socket-ish handles (the test runner's stdio pipes are among them, hence a baseline). */
function socketResources(): string[] {
  return process.getActiveResourcesInfo().filter((r) => /Pipe|TCP|Connect|Http2/.test(r));
}

function openFdCount(): number {
  return fs.readdirSync('/proc/self/fd').length;
}

interface H2Result {
  status?: string | number;
  body: Buffer;
  trailers: Record<string, unknown>;
  rstCode?: number;
  error?: Error;
}

/** One gRPC-shaped request with a raw node:http2 client and an explicit :authority. */
async function rawGrpcRequest(socketPath: string, authority: string, methodPath: string, message: Buffer): Promise<H2Result> {
  const session = http2.connect('http://localhost', { createConnection: () => net.connect(socketPath) });
  session.on('error', () => {});
  try {
    return await new Promise<H2Result>((resolve) => {
      const result: H2Result = { body: Buffer.alloc(0), trailers: {} };
      const req = session.request({
        ':method': 'POST',
        ':scheme': 'http',
        ':path': methodPath,
        ':authority': authority,
        'content-type': 'application/grpc',
        te: 'trailers',
      });
      req.on('response', (h) => (result.status = h[':status']));
      req.on('data', (d: Buffer) => (result.body = Buffer.concat([result.body, d])));
      req.on('trailers', (t) => (result.trailers = t));
      req.on('error', (e) => (result.error = e));
      req.on('close', () => {
        result.rstCode = req.rstCode;
        resolve(result);
      });
      req.end(grpcFrame(message));
      const timer = setTimeout(() => req.close(http2.constants.NGHTTP2_CANCEL), 5000);
      req.on('close', () => clearTimeout(timer));
    });
  } finally {
    await new Promise<void>((r) => session.close(() => r()));
  }
}

describe('listenUnix', () => {
  let dir: string;
  let sockPath: string;
  let server: grpc.Server;
  let listener: UnixListener | undefined;
  const cleanups: (() => Promise<void> | void)[] = [];
  let baselineSockets = 0;

  before(async () => {
    baselineSockets = socketResources().length;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crib-h2-'));
    sockPath = path.join(dir, 'sub', 'crib.sock');
    server = new grpc.Server();
    server.addService(
      { Echo: unaryMethod('/test.Echo/Echo') },
      { Echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, call.request) },
    );
    server.addService(
      { Version: unaryMethod('/runtime.v1.RuntimeService/Version') },
      { Version: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, versionResponse()) },
    );
    listener = await listenUnix(server, sockPath, 0o600);
  });

  after(async () => {
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => {});
    await listener?.close();
    server.forceShutdown();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('socket file exists with the requested mode', () => {
    const st = fs.statSync(sockPath);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o600);
  });

  test('raw http2 client with :authority = socket path: rewriter works, plain server rejects', async () => {
    const ok = await rawGrpcRequest(sockPath, sockPath, '/test.Echo/Echo', Buffer.from('ping'));
    assert.equal(ok.error, undefined);
    assert.equal(ok.status, 200);
    assert.equal(ok.trailers['grpc-status'], '0');
    assert.ok(ok.body.equals(grpcFrame(Buffer.from('ping'))), 'echoed message');

    // The same request against node's http2 server without the rewriter.
    const plainPath = path.join(dir, 'plain.sock');
    const plain = http2.createServer();
    let streams = 0;
    plain.on('stream', (s) => {
      streams++;
      s.respond({ ':status': 200 }, { endStream: true });
    });
    await new Promise<void>((r) => plain.listen(plainPath, r));
    cleanups.push(() => new Promise<void>((r) => plain.close(() => r())));
    const bad = await rawGrpcRequest(plainPath, sockPath, '/test.Echo/Echo', Buffer.from('ping'));
    assert.equal(bad.status, undefined, 'no response headers');
    assert.equal(bad.rstCode, http2.constants.NGHTTP2_PROTOCOL_ERROR, 'stream reset with PROTOCOL_ERROR');
    assert.equal(streams, 0, 'the server never saw the stream');
    // Control: a valid authority works against the plain server.
    const control = await rawGrpcRequest(plainPath, 'localhost', '/test.Echo/Echo', Buffer.from('ping'));
    assert.equal(control.status, 200);
    assert.equal(streams, 1);
  });

  test('grpc-js client over unix://', async () => {
    const client = new grpc.Client(`unix://${sockPath}`, grpc.credentials.createInsecure());
    try {
      const reply = await unaryCall(client, '/test.Echo/Echo', Buffer.from('hello grpc'));
      assert.equal(reply.toString(), 'hello grpc');
      const missing = await unaryCall(client, '/test.Echo/Nope', Buffer.alloc(0)).then(
        () => assert.fail('expected an error'),
        (err: grpc.ServiceError) => err,
      );
      assert.equal(missing.code, grpc.status.UNIMPLEMENTED);
    } finally {
      client.close();
    }
  });

  for (const [name, expected] of [
    ['crictl-version.h2', { 1: '0', 3: '0' }],
    ['crictl-runp.h2', { 1: '0', 3: String(grpc.status.UNIMPLEMENTED) }],
    ['crictl-run.h2', { 1: '0', 3: '12', 5: '12', 7: '12' }],
  ] as const) {
    test(`replay ${name} byte for byte`, async () => {
      const bytes = fs.readFileSync(path.join(fixturesDir, name));
      const res = await replay(sockPath, bytes);
      assert.deepEqual(
        res.rst.filter((r) => r.code === H2ErrorCode.PROTOCOL_ERROR),
        [],
        'no RST_STREAM PROTOCOL_ERROR',
      );
      assert.deepEqual(res.rst, [], 'no RST_STREAM at all');
      assert.deepEqual(
        res.goaway.filter((g) => g.code !== H2ErrorCode.NO_ERROR),
        [],
        'no GOAWAY with an error',
      );
      assert.deepEqual(res.clientStreams, Object.keys(expected).map(Number));
      for (const id of res.clientStreams) {
        const blocks = res.blocks.get(id) ?? [];
        assert.equal(grpcStatus(blocks), (expected as Record<number, string>)[id], `stream ${id} grpc-status`);
        assert.equal(blocks[0]!.find((f) => f.name === ':status')?.value, '200');
      }
      // Version answered with the handler's message.
      assert.ok(res.data.get(1)!.equals(grpcFrame(versionResponse())));
    });
  }

  test('a unary reply reaches the client in one piece: HEADERS, DATA and trailers written together', async () => {
    // The server's frames of one reply are held until its stream ends, then written in one system
    // call: the client reads them in one chunk (the trailers come two event-loop turns after the
    // message, and this client, in the same process, reads between those turns).
    const echo = encodeHeaderBlock(
      [
        [':method', 'POST'],
        [':scheme', 'http'],
        [':path', '/test.Echo/Echo'],
        [':authority', 'localhost'],
        ['content-type', 'application/grpc'],
        ['te', 'trailers'],
      ].map(([name = '', value = '']) => ({ name, value })),
    );
    const sock = net.connect(sockPath);
    const reader = new FrameReader();
    const chunks: Frame[][] = [];
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no reply: ${JSON.stringify(chunks.map((c) => c.map((f) => f.type)))}`)), 5000);
        sock.on('error', reject);
        sock.on('data', (d: Buffer) => {
          const frames = reader.push(d);
          chunks.push(frames);
          if (frames.some((f) => f.streamId === 1 && f.flags & FrameFlag.END_STREAM)) {
            clearTimeout(timer);
            resolve();
          }
        });
        sock.write(
          Buffer.concat([
            CLIENT_PREFACE,
            frame(FrameType.SETTINGS, 0, 0, Buffer.alloc(0)),
            frame(FrameType.HEADERS, FrameFlag.END_HEADERS, 1, echo),
            frame(FrameType.DATA, FrameFlag.END_STREAM, 1, grpcFrame(Buffer.from('one piece'))),
          ]),
        );
      });
    } finally {
      sock.destroy();
    }
    const reply = chunks.map((c) => c.filter((f) => f.streamId === 1)).filter((c) => c.length > 0);
    assert.equal(reply.length, 1, `the reply frames came in ${reply.length} reads: ${JSON.stringify(reply.map((c) => c.map((f) => [f.type, f.flags])))}`);
    assert.deepEqual(
      reply[0]!.map((f) => f.type),
      [FrameType.HEADERS, FrameType.DATA, FrameType.HEADERS],
    );
  });

  test('client disconnects release the connection (no fd leak)', async () => {
    await waitFor(() => listener!.connectionCount === 0, 'earlier connections to close');
    const before = openFdCount();
    const bytes = fs.readFileSync(path.join(fixturesDir, 'crictl-version.h2'));
    for (let i = 0; i < 10; i++) await replay(sockPath, bytes);
    // A client that half-closes right after the preface, and one that just vanishes.
    const half = net.connect(sockPath);
    half.on('error', () => {});
    await new Promise<void>((r) => half.once('connect', r));
    half.end(CLIENT_PREFACE);
    const gone = net.connect(sockPath);
    gone.on('error', () => {});
    await new Promise<void>((r) => gone.once('connect', r));
    gone.write(CLIENT_PREFACE.subarray(0, 10));
    gone.destroy();
    await waitFor(() => listener!.connectionCount === 0, 'server side to close all connections');
    half.destroy();
    await waitFor(
      () => openFdCount() <= before,
      () => `fd count back to ${before} (now ${openFdCount()})`,
    );
  });

  test('protocol errors drop the connection without hurting the server', async () => {
    const unknownMethod = encodeHeaderBlock(
      [
        [':method', 'POST'],
        [':scheme', 'http'],
        [':path', '/test.Echo/Missing'],
        [':authority', sockPath],
        ['content-type', 'application/grpc'],
        ['te', 'trailers'],
      ].map(([name = '', value = '']) => ({ name, value })),
    );
    const requestThen = (...more: Buffer[]) =>
      Buffer.concat([
        CLIENT_PREFACE,
        frame(FrameType.SETTINGS, 0, 0, Buffer.alloc(0)),
        frame(FrameType.HEADERS, FrameFlag.END_HEADERS, 1, unknownMethod),
        ...more,
      ]);
    /** Send bytes; resolve with the server's frames once it closes the connection (or, with
     *  `untilGoaway`, once it sends GOAWAY, after which we close). */
    const send = (target: string, bytes: Buffer, untilGoaway = false) =>
      new Promise<Frame[]>((resolve, reject) => {
        const frames: Frame[] = [];
        const reader = new FrameReader();
        const sock = net.connect(target);
        const timer = setTimeout(() => {
          sock.destroy();
          reject(new Error(`server kept the connection open; got ${JSON.stringify(frames.map((f) => f.type))}`));
        }, 5000);
        sock.on('error', () => {});
        sock.on('data', (d: Buffer) => {
          frames.push(...reader.push(d));
          if (untilGoaway && frames.some((f) => f.type === FrameType.GOAWAY)) sock.destroy();
        });
        sock.on('close', () => {
          clearTimeout(timer);
          resolve(frames);
        });
        sock.write(bytes);
      });

    // Errors the rewriter itself detects: the connection is closed at once.
    await send(sockPath, Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    for (const garbage of [
      Buffer.concat([CLIENT_PREFACE, frame(FrameType.HEADERS, FrameFlag.END_HEADERS, 1, hex('80'))]),
      Buffer.concat([CLIENT_PREFACE, frame(FrameType.CONTINUATION, FrameFlag.END_HEADERS, 1, hex('82'))]),
      requestThen(frame(FrameType.HEADERS, FrameFlag.END_HEADERS, 3, hex('3fe1ff07'))),
    ]) {
      // After a client preface, the server's first frame is its SETTINGS (RFC 9113 §3.4), held
      // output included: our GOAWAY comes after whatever the server had said, and last.
      const frames = await send(sockPath, garbage);
      assert.equal(frames[0]?.type, FrameType.SETTINGS, 'the server preface first');
      assert.equal(frames.at(-1)?.type, FrameType.GOAWAY, 'GOAWAY last');
      assert.notEqual(frames.at(-1)?.payload.readUInt32BE(4), H2ErrorCode.NO_ERROR, 'GOAWAY names an error');
    }

    // An error only nghttp2 notices (DATA on stream 0): it answers with GOAWAY.
    const goaway = (await send(sockPath, requestThen(frame(FrameType.DATA, 0, 0, Buffer.from('bad'))), true)).find((f) => f.type === FrameType.GOAWAY);
    assert.equal(goaway?.payload.readUInt32BE(4), H2ErrorCode.PROTOCOL_ERROR);

    // An error on which Node destroys the session on the spot (an unsolicited PING ACK, with
    // the rewriter's filter for those turned off), in the same chunk as a request for a
    // method the server lacks. Unless the request reaches grpc-js in an earlier event-loop
    // turn, grpc-js throws from its 'stream' handler (uncaught) when it tries to answer.
    const strictPath = path.join(dir, 'strict.sock');
    const strict = await listenUnix(server, strictPath, 0o600, { rewriter: { dropUnsolicitedPingAcks: false } });
    cleanups.push(() => strict.close());
    const frames = await send(strictPath, requestThen(frame(FrameType.PING, FrameFlag.ACK, 0, Buffer.alloc(8))));
    const asm = new HeaderBlockAssembler();
    const blocks = frames.map((f) => asm.feed(f)).filter((b) => b !== null);
    assert.equal(grpcStatus([blocks.find((b) => b.streamId === 1)!.fields]), String(grpc.status.UNIMPLEMENTED));
    await strict.close();

    await waitFor(() => listener!.connectionCount === 0, 'connections to close');
    // Still serving.
    const ok = await rawGrpcRequest(sockPath, sockPath, '/test.Echo/Echo', Buffer.from('again'));
    assert.equal(ok.trailers['grpc-status'], '0');
  });

  test('refuses a live socket, replaces a stale one, refuses a non-socket', async () => {
    const other = new grpc.Server();
    await assert.rejects(listenUnix(other, sockPath), /another server is already listening/);

    // A stale socket: a hard link to a listening socket outlives the listener.
    const livePath = path.join(dir, 'live.sock');
    const stalePath = path.join(dir, 'stale.sock');
    const tmp = net.createServer();
    await new Promise<void>((r) => tmp.listen(livePath, r));
    fs.linkSync(livePath, stalePath);
    await new Promise<void>((r) => tmp.close(() => r()));
    assert.ok(fs.statSync(stalePath).isSocket());
    const l2 = await listenUnix(other, stalePath);
    cleanups.push(() => l2.close());
    const res = await replay(stalePath, fs.readFileSync(path.join(fixturesDir, 'crictl-version.h2')));
    assert.equal(grpcStatus(res.blocks.get(1)!), String(grpc.status.UNIMPLEMENTED));
    assert.equal(fs.statSync(stalePath).mode & 0o777, 0o660, 'default mode');
    await l2.close();
    assert.equal(fs.existsSync(stalePath), false, 'socket removed on close');
    await l2.close(); // idempotent
    other.forceShutdown();

    const filePath = path.join(dir, 'regular');
    fs.writeFileSync(filePath, 'x');
    await assert.rejects(listenUnix(other, filePath), /not a socket/);
    assert.equal(fs.readFileSync(filePath, 'utf8'), 'x');
  });

  test('close() stops accepting, drops open connections and removes the socket', async () => {
    const sock = net.connect(sockPath);
    sock.on('error', () => {});
    sock.on('data', () => {});
    await new Promise<void>((r) => sock.once('connect', r));
    sock.write(CLIENT_PREFACE);
    await waitFor(() => listener!.connectionCount === 1, 'connection to register');
    const closed = new Promise<void>((r) => sock.once('close', () => r()));
    await listener!.close();
    await closed;
    assert.equal(fs.existsSync(sockPath), false);
    await assert.rejects(
      new Promise((resolve, reject) => {
        const c = net.connect(sockPath);
        c.once('connect', () => {
          c.destroy();
          resolve(undefined);
        });
        c.once('error', reject);
      }),
      /ENOENT/,
    );
    listener = undefined;
  });

  test('no sockets or servers left open', async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
    server.forceShutdown();
    await waitFor(
      () => socketResources().length <= baselineSockets,
      () => `handles to close: ${socketResources().join(',')} (baseline ${baselineSockets})`,
    );
  });
});
