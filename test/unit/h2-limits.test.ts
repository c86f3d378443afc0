// The bounds on what one header block may decode to (list size, fields, CONTINUATION frames), in
// the HPACK decoder and the rewriter on their own. The same bounds against a real listenUnix server,
// the handshake deadline and the connection cap: serve-unix-limits.test.ts.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ENTRY_OVERHEAD, HpackDecoder, HpackLimitError, MAX_HEADER_FIELDS, MAX_HEADER_LIST_SIZE, encodeHeaderBlock } from '../../src/socket/h2/hpack.js';
import {
  AuthorityRewriter,
  CLIENT_PREFACE,
  FrameFlag,
  FrameType,
  H2ErrorCode,
  H2RewriteError,
  MAX_CONTINUATION_FRAMES,
  frameHeader,
} from '../../src/socket/h2/authority-rewriter.js';
import { frame, hpackBomb } from '../support/h2-frames.js';
import { heapUsedAfterGc } from '../support/heap.js';

const MiB = 1 << 20;
const SETTINGS = frame(FrameType.SETTINGS, 0, 0, Buffer.alloc(0));

/** A gRPC request's header block as grpc-go sends it on a unix socket (:authority = the path). */
const REQUEST_BLOCK = encodeHeaderBlock(
  [
    [':method', 'POST'],
    [':scheme', 'http'],
    [':path', '/test.Echo/Echo'],
    [':authority', '/run/crib/crib.sock'],
    ['content-type', 'application/grpc'],
    ['te', 'trailers'],
  ].map(([name = '', value = '']) => ({ name, value })),
);

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
    const block = (listSize: number) => encodeHeaderBlock([{ name: 'x', value: 'v'.repeat(listSize - 1 - ENTRY_OVERHEAD) }]);
    assert.equal(new HpackDecoder().decode(block(MAX_HEADER_LIST_SIZE)).length, 1);
    assert.throws(() => new HpackDecoder().decode(block(MAX_HEADER_LIST_SIZE + 1)), {
      name: 'HpackLimitError',
      message: `hpack: header list larger than ${MAX_HEADER_LIST_SIZE} octets`,
    });
  });

  // The bound from outside the constant: nghttp2 (1.61, the server behind the rewriter in Node 20)
  // ends a connection whose header block spans more than 9 frames (HEADERS and 8 CONTINUATIONs,
  // its NGHTTP2_DEFAULT_MAX_CONTINUATIONS), each at most 16,384 octets until the server raises
  // SETTINGS_MAX_FRAME_SIZE (RFC 9113 section 4.2, which Node's does not). A list whose re-encoded
  // block cannot fit there could never be served, so the decoder must refuse it; one frame's worth
  // must pass.
  test('a list that fits one 16,384-octet frame decodes; one too large for 9 such frames is refused', () => {
    const frameSize = 16_384;
    const list = (valueLength: number) => encodeHeaderBlock([{ name: 'x', value: 'v'.repeat(valueLength) }]);
    assert.equal(new HpackDecoder().decode(list(frameSize - 64)).length, 1);
    const unservable = list(9 * frameSize);
    assert.ok(unservable.length > 9 * frameSize);
    assert.throws(() => new HpackDecoder().decode(unservable), HpackLimitError);
  });

  test(`${MAX_HEADER_FIELDS} fields decode; one more is refused`, () => {
    const methodGet = 0x82;
    assert.equal(new HpackDecoder().decode(Buffer.alloc(MAX_HEADER_FIELDS, methodGet)).length, MAX_HEADER_FIELDS);
    assert.throws(() => new HpackDecoder().decode(Buffer.alloc(MAX_HEADER_FIELDS + 1, methodGet)), new RegExp(`more than ${MAX_HEADER_FIELDS} header fields`));
  });

  test('HPACK bombs are refused after a few references, in bounded time and memory', () => {
    const before = heapUsedAfterGc();
    // The shape (4 KB, a million references: 4 GB decoded) and the strongest one the
    // table allows (a 64 KB entry).
    for (const [valueLength, refs] of [
      [4096, 1_000_000],
      [65_000, 60_000],
    ] as const) {
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
    const err = rewriteError(Buffer.concat([CLIENT_PREFACE, SETTINGS, frame(FrameType.HEADERS, FrameFlag.END_HEADERS, 1, hpackBomb(65_000, 60_000))]));
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
        ...Array.from({ length: continuations }, (_, i) => frame(FrameType.CONTINUATION, i === continuations - 1 ? FrameFlag.END_HEADERS : 0, 1, fragment(i))),
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

  // nghttp2 1.61 (Node 20's) ends a connection after 8 CONTINUATION frames in one header block
  // (NGHTTP2_DEFAULT_MAX_CONTINUATIONS, its answer to CVE-2024-27316): no client that works with
  // the server behind the rewriter sends a ninth, and the rewriter must not buffer one.
  test('a header block of HEADERS and 8 CONTINUATIONs passes; a ninth CONTINUATION is refused', () => {
    const chain = (continuations: number) =>
      Buffer.concat([
        CLIENT_PREFACE,
        frame(FrameType.HEADERS, 0, 1, REQUEST_BLOCK),
        ...Array.from({ length: continuations }, (_, i) =>
          frame(FrameType.CONTINUATION, i === continuations - 1 ? FrameFlag.END_HEADERS : 0, 1, Buffer.alloc(0)),
        ),
      ]);
    assert.equal(rewriteError(chain(8)), undefined);
    const err = rewriteError(chain(9));
    assert.equal(err?.h2Code, H2ErrorCode.ENHANCE_YOUR_CALM);
    assert.match(err.message, /CONTINUATION/);
  });

  test('the preface is complete after its 24 octets and the whole first frame', () => {
    const input = Buffer.concat([CLIENT_PREFACE, frame(FrameType.SETTINGS, 0, 0, Buffer.from('000300000064', 'hex'))]);
    const r = new AuthorityRewriter();
    for (let i = 0; i < input.length; i++) {
      assert.equal(r.prefaceReceived, false, `after ${i} octets`);
      r.push(input.subarray(i, i + 1));
    }
    assert.equal(r.prefaceReceived, true);
  });
});
