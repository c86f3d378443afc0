// Hostile clients against cribd's socket: the bounds on what one header block may decode to
// (list size, fields, CONTINUATION frames).

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ENTRY_OVERHEAD,
  HpackDecoder,
  HpackLimitError,
  MAX_HEADER_FIELDS,
  MAX_HEADER_LIST_SIZE,
  encodeHeaderBlock,
} from '../src/cri/h2/hpack.js';
import {
  AuthorityRewriter,
  CLIENT_PREFACE,
  FrameFlag,
  FrameType,
  H2ErrorCode,
  H2RewriteError,
  MAX_CONTINUATION_FRAMES,
  frameHeader,
} from '../src/cri/h2/authority-rewriter.js';
import { frame } from './support/h2-frames.js';
import { heapUsedAfterGc } from './support/heap.js';

const ECHO = '/test.Echo/Echo';
const MiB = 1 << 20;
const SETTINGS = frame(FrameType.SETTINGS, 0, 0, Buffer.alloc(0));
/** A dynamic table size update to 65536, the most the rewriter allows. */
const TABLE_SIZE_64K = Buffer.from('3fe1ff03', 'hex');
/** Indexed header field 62: the newest dynamic table entry. */
const NEWEST_ENTRY = 0xbe;

/** A gRPC request's header block as grpc-go sends it on a unix socket (:authority = the path). */
const REQUEST_BLOCK = encodeHeaderBlock(
  [
    [':method', 'POST'],
    [':scheme', 'http'],
    [':path', ECHO],
    [':authority', '/run/crib/crib.sock'],
    ['content-type', 'application/grpc'],
    ['te', 'trailers'],
  ].map(([name, value]) => ({ name, value })),
);

/**
 * An HPACK bomb: one literal of `valueLength` octets with incremental indexing, then `refs`
 * one-octet references to it. Unbounded, it decodes to about refs × valueLength octets.
 */
function hpackBomb(valueLength: number, refs: number): Buffer {
  const literal = encodeHeaderBlock([{ name: 'x-bomb', value: 'b'.repeat(valueLength) }]);
  literal[0] = 0x40; // "without indexing, new name" becomes "with incremental indexing, new name"
  return Buffer.concat([TABLE_SIZE_64K, literal, Buffer.alloc(refs, NEWEST_ENTRY)]);
}

/** The rewriter's error for `input` fed in one go, or undefined when it passes. */
function rewriteError(input: Buffer): H2RewriteError | undefined {
  try {
    new AuthorityRewriter().push(input);
    return undefined;
  } catch (err) {
    assert.ok(err instanceof H2RewriteError, `expected H2RewriteError, got ${String(err)}`);
    return err;
  }
}

describe('header list bounds (HPACK decoder)', () => {
  test(`a list of exactly ${MAX_HEADER_LIST_SIZE} octets decodes; one octet more is refused`, () => {
    const block = (listSize: number) =>
      encodeHeaderBlock([{ name: 'x', value: 'v'.repeat(listSize - 1 - ENTRY_OVERHEAD) }]);
    assert.equal(new HpackDecoder().decode(block(MAX_HEADER_LIST_SIZE)).length, 1);
    assert.throws(() => new HpackDecoder().decode(block(MAX_HEADER_LIST_SIZE + 1)), HpackLimitError);
  });

  test(`${MAX_HEADER_FIELDS} fields decode; one more is refused`, () => {
    const methodGet = 0x82;
    assert.equal(new HpackDecoder().decode(Buffer.alloc(MAX_HEADER_FIELDS, methodGet)).length, MAX_HEADER_FIELDS);
    assert.throws(
      () => new HpackDecoder().decode(Buffer.alloc(MAX_HEADER_FIELDS + 1, methodGet)),
      new RegExp(`more than ${MAX_HEADER_FIELDS} header fields`),
    );
  });

  test('HPACK bombs are refused after a few references, in bounded time and memory', () => {
    const before = heapUsedAfterGc();
    // The shape (4 KB, a million references: 4 GB decoded) and the strongest one the
    // table allows (a 64 KB entry).
    for (const [valueLength, refs] of [
      [4096, 1_000_000],
      [65_000, 60_000],
    ]) {
      const decoder = new HpackDecoder({ maxTableSizeLimit: 65536 });
      const started = Date.now();
      assert.throws(() => decoder.decode(hpackBomb(valueLength, refs)), /header list larger than/);
      assert.ok(Date.now() - started < 1000, 'refused without decoding the rest');
    }
    const growth = heapUsedAfterGc() - before;
    assert.ok(growth < 4 * MiB, `heap grew by ${growth} octets`);
  });
});

describe('header block bounds (rewriter)', () => {
  test('an HPACK bomb fails the connection with ENHANCE_YOUR_CALM', () => {
    const err = rewriteError(
      Buffer.concat([CLIENT_PREFACE, SETTINGS, frame(FrameType.HEADERS, FrameFlag.END_HEADERS, 1, hpackBomb(65_000, 60_000))]),
    );
    assert.equal(err?.h2Code, H2ErrorCode.ENHANCE_YOUR_CALM);
    assert.match(err.message, /header list larger than/);
  });

  test(`a block of more than ${MAX_HEADER_LIST_SIZE} compressed octets is refused at its frame header`, () => {
    const header = frameHeader(MAX_HEADER_LIST_SIZE + 1, FrameType.HEADERS, FrameFlag.END_HEADERS, 1);
    const err = rewriteError(Buffer.concat([CLIENT_PREFACE, header]));
    assert.equal(err?.h2Code, H2ErrorCode.ENHANCE_YOUR_CALM);
    assert.match(err.message, /header block too large/);
  });

  test(`${MAX_CONTINUATION_FRAMES} CONTINUATION frames pass; one more is refused, empty or not`, () => {
    const chain = (continuations: number, fragment: (i: number) => Buffer) =>
      Buffer.concat([
        CLIENT_PREFACE,
        frame(FrameType.HEADERS, 0, 1, REQUEST_BLOCK),
        ...Array.from({ length: continuations }, (_, i) =>
          frame(FrameType.CONTINUATION, i === continuations - 1 ? FrameFlag.END_HEADERS : 0, 1, fragment(i)),
        ),
      ]);
    const seen: number[] = [];
    const r = new AuthorityRewriter({ onHeaders: (id) => void seen.push(id) });
    r.push(chain(MAX_CONTINUATION_FRAMES, () => Buffer.from([0x82])));
    assert.deepEqual(seen, [1]);

    for (const fragment of [() => Buffer.from([0x82]), () => Buffer.alloc(0)]) {
      const err = rewriteError(chain(MAX_CONTINUATION_FRAMES + 1, fragment));
      assert.equal(err?.h2Code, H2ErrorCode.ENHANCE_YOUR_CALM);
      assert.match(err.message, /CONTINUATION/);
    }
    // An endless run of empty CONTINUATIONs fails at the frame header after the last allowed.
    const flood = new AuthorityRewriter();
    flood.push(Buffer.concat([CLIENT_PREFACE, frame(FrameType.HEADERS, 0, 1, REQUEST_BLOCK)]));
    const empty = frame(FrameType.CONTINUATION, 0, 1, Buffer.alloc(0));
    for (let i = 0; i < MAX_CONTINUATION_FRAMES; i++) flood.push(empty);
    assert.throws(() => flood.push(empty), H2RewriteError);
  });
});
