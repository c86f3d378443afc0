// The rewriter's framing against RFC 9113 itself, on bytes alone: authority characters (RFC 3986
// 3.2), HEADERS padding and priority (6.2), the reserved bit of a stream id (4.1), the 16,384-octet
// frame every peer accepts (4.2) when a block is re-split, PING ACKs (6.7), GOAWAY (6.8), and a
// connection's bytes split at every boundary.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { HpackDecoder, encodeHeaderBlock, type HeaderField } from '../../src/socket/h2/hpack.js';
import {
  AuthorityRewriter,
  AuthorityRewriteStream,
  CLIENT_PREFACE,
  FrameFlag,
  FrameType,
  H2ErrorCode,
  H2RewriteError,
  ServerPingScanner,
  frameHeader,
  goawayFrame,
  isValidAuthority,
  type AuthorityRewriterOptions,
} from '../../src/socket/h2/authority-rewriter.js';
import { HeaderBlockAssembler, parseClientBytes, type Frame } from '../support/h2-replay.js';
import { frame } from '../support/h2-frames.js';

/** Every peer accepts frames this large (RFC 9113 4.2, SETTINGS_MAX_FRAME_SIZE's initial value). */
const FRAME_SIZE = 16_384;
/** A HEADERS frame's priority fields: E + stream dependency (4 octets), weight (1). */
const PRIORITY_LENGTH = 5;

const fields = (...pairs: [string, string][]): HeaderField[] => pairs.map(([name, value]) => ({ name, value }));
const pairsOf = (fs: readonly HeaderField[]): [string, string][] => fs.map((f) => [f.name, f.value]);
const REQUEST = fields([':method', 'POST'], [':path', '/x'], [':authority', '/run/crib.sock'], ['x', 'y']);
const REPAIRED = pairsOf(REQUEST).map(([n, v]): [string, string] => [n, n === ':authority' ? 'localhost' : v]);
/** What the rewriter sends for REQUEST's block. */
const REPAIRED_BLOCK = encodeHeaderBlock(fields(...REPAIRED));

/** A block of one literal field whose encoding is exactly `length` octets (at least 16). */
function blockOfLength(length: number): Buffer {
  // The value's length prefix grows by an octet at some lengths: a name one longer fills the gap.
  for (const name of ['x-pad', 'x-pad2']) {
    for (let n = length - 12; n <= length; n++) {
      const block = encodeHeaderBlock(fields([name, 'v'.repeat(n)]));
      if (block.length === length) return block;
    }
  }
  throw new Error(`no block of ${length} octets`);
}

/** What the rewriter answers to `input` in one push, or its error. */
function rewrite(input: Buffer, opts: AuthorityRewriterOptions = {}): { out?: Buffer; err?: H2RewriteError } {
  try {
    return { out: new AuthorityRewriter(opts).push(input) };
  } catch (err) {
    assert.ok(err instanceof H2RewriteError, `expected H2RewriteError, got ${String(err)}`);
    return { err };
  }
}

const withPreface = (...frames: Buffer[]) => Buffer.concat([CLIENT_PREFACE, ...frames]);
const shape = (out: Buffer) => parseClientBytes(out).map((f) => [f.type, f.flags, f.streamId, f.payload.length]);

function blocksOf(out: Buffer): { streamId: number; endStream: boolean; fields: HeaderField[] }[] {
  const asm = new HeaderBlockAssembler();
  return parseClientBytes(out)
    .map((f: Frame) => asm.feed(f))
    .filter((b) => b !== null);
}

describe('authority characters (RFC 3986 3.2, as nghttp2 checks them)', () => {
  test('each end of a-z, A-Z and 0-9 and every listed mark is allowed; their neighbours are not', () => {
    for (const ok of ['a', 'z', 'A', 'Z', '0', '9', ...`-._~!$&'()*+,;=:@[]%`]) assert.equal(isValidAuthority(ok), true, JSON.stringify(ok));
    // Neighbours of the ranges (` { / are 0x60, 0x7b, 0x2f), and what a URI uses around an authority.
    for (const bad of ['`', '{', '/', '"', '#', '?', '<', '>', '\\', '^', '|', '}', ' ', '\x7f', '\x00', '\xe9']) {
      assert.equal(isValidAuthority(bad), false, JSON.stringify(bad));
      assert.equal(isValidAuthority(`host${bad}`), false, `a bad last character: ${JSON.stringify(bad)}`);
    }
  });

  test(':authority and host are repaired, other fields and valid values left; onHeaders says which', () => {
    const seen: boolean[] = [];
    const block = encodeHeaderBlock(fields([':authority', 'ok:1'], ['host', '/sock'], ['x-authority', '/sock']));
    const { out } = rewrite(withPreface(frame(FrameType.HEADERS, FrameFlag.END_HEADERS, 1, block)), {
      replacement: 'crib',
      onHeaders: (_id, _f, rewritten) => void seen.push(rewritten),
    });
    assert.deepEqual(pairsOf(blocksOf(out!)[0]!.fields), [
      [':authority', 'ok:1'],
      ['host', 'crib'],
      ['x-authority', '/sock'],
    ]);
    const valid = encodeHeaderBlock(fields([':authority', 'localhost']));
    rewrite(withPreface(frame(FrameType.HEADERS, FrameFlag.END_HEADERS, 1, valid)), { onHeaders: (_id, _f, rewritten) => void seen.push(rewritten) });
    assert.deepEqual(seen, [true, false]);
  });
});

describe('HEADERS padding and priority (RFC 9113 6.2)', () => {
  const block = encodeHeaderBlock(REQUEST);
  const prio = Buffer.from('8000000310', 'hex'); // exclusive, depends on stream 3, weight 16
  const headers = (flags: number, payload: Buffer) => withPreface(frame(FrameType.HEADERS, flags | FrameFlag.END_HEADERS, 1, payload));

  test('padding up to the whole rest of the frame is stripped; one octet more is a PROTOCOL_ERROR', () => {
    // The pad length alone (and no padding): an empty fragment.
    assert.deepEqual(shape(rewrite(headers(FrameFlag.PADDED, Buffer.from([0]))).out!), [[FrameType.HEADERS, FrameFlag.END_HEADERS, 1, 0]]);
    for (const padLength of [0, 1, 200]) {
      const payload = Buffer.concat([Buffer.from([padLength]), block, Buffer.alloc(padLength)]);
      const { out } = rewrite(headers(FrameFlag.PADDED, payload));
      assert.deepEqual(shape(out!), [[FrameType.HEADERS, FrameFlag.END_HEADERS, 1, REPAIRED_BLOCK.length]], `pad ${padLength}`);
      assert.deepEqual(pairsOf(blocksOf(out!)[0]!.fields), REPAIRED);
    }
    // Padding exactly as long as what follows the pad length: an empty fragment.
    assert.deepEqual(shape(rewrite(headers(FrameFlag.PADDED, Buffer.from([3, 0, 0, 0]))).out!), [[FrameType.HEADERS, FrameFlag.END_HEADERS, 1, 0]]);
    const { err } = rewrite(headers(FrameFlag.PADDED, Buffer.from([4, 0, 0, 0])));
    assert.equal(err?.h2Code, H2ErrorCode.PROTOCOL_ERROR);
    assert.match(err.message, /padding exceeds/);
    // With PRIORITY too, the padding may take what the priority fields leave, no more.
    assert.ok(rewrite(headers(FrameFlag.PADDED | FrameFlag.PRIORITY, Buffer.concat([Buffer.from([2]), prio, Buffer.alloc(2)]))).out);
    assert.equal(
      rewrite(headers(FrameFlag.PADDED | FrameFlag.PRIORITY, Buffer.concat([Buffer.from([3]), prio, Buffer.alloc(2)]))).err?.h2Code,
      H2ErrorCode.PROTOCOL_ERROR,
    );
  });

  test('a PADDED frame with no pad length, or a PRIORITY one shorter than its 5 octets, is a FRAME_SIZE_ERROR', () => {
    for (const [flags, payload, message] of [
      [FrameFlag.PADDED, Buffer.alloc(0), 'h2: PADDED HEADERS without pad length'],
      [FrameFlag.PRIORITY, prio.subarray(0, 4), 'h2: HEADERS too short for PRIORITY'],
      [FrameFlag.PADDED | FrameFlag.PRIORITY, Buffer.concat([Buffer.from([0]), prio.subarray(0, 4)]), 'h2: HEADERS too short for PRIORITY'],
    ] as const) {
      const { err } = rewrite(headers(flags, payload));
      assert.equal(err?.h2Code, H2ErrorCode.FRAME_SIZE_ERROR, `flags ${flags}, ${payload.length} octets`);
      assert.equal(err.message, message);
      assert.equal(err.name, 'H2RewriteError');
    }
    // Exactly the priority fields and nothing else: an empty block, the fields kept.
    const { out } = rewrite(headers(FrameFlag.PRIORITY, prio));
    const [h] = parseClientBytes(out!);
    assert.deepEqual([h?.flags, h?.payload.toString('hex')], [FrameFlag.PRIORITY | FrameFlag.END_HEADERS, prio.toString('hex')]);
  });
});

describe('re-splitting a block (RFC 9113 4.2: 16,384-octet frames)', () => {
  const send = (block: Buffer, flags: number, priority?: Buffer): Buffer => {
    const headers = frame(
      FrameType.HEADERS,
      flags | FrameFlag.END_HEADERS | (priority ? FrameFlag.PRIORITY : 0),
      7,
      Buffer.concat([priority ?? Buffer.alloc(0), block]),
    );
    return rewrite(withPreface(headers), { maxHeaderBlockSize: 4 * FRAME_SIZE }).out!;
  };

  test('a block of exactly one frame stays whole; one octet more takes a CONTINUATION', () => {
    assert.deepEqual(shape(send(blockOfLength(FRAME_SIZE), FrameFlag.END_STREAM)), [
      [FrameType.HEADERS, FrameFlag.END_STREAM | FrameFlag.END_HEADERS, 7, FRAME_SIZE],
    ]);
    // END_STREAM stays on the HEADERS frame, END_HEADERS goes to the last frame.
    assert.deepEqual(shape(send(blockOfLength(FRAME_SIZE + 1), FrameFlag.END_STREAM)), [
      [FrameType.HEADERS, FrameFlag.END_STREAM, 7, FRAME_SIZE],
      [FrameType.CONTINUATION, FrameFlag.END_HEADERS, 7, 1],
    ]);
    assert.deepEqual(shape(send(blockOfLength(2 * FRAME_SIZE + 1), 0)), [
      [FrameType.HEADERS, 0, 7, FRAME_SIZE],
      [FrameType.CONTINUATION, 0, 7, FRAME_SIZE],
      [FrameType.CONTINUATION, FrameFlag.END_HEADERS, 7, 1],
    ]);
  });

  test('the priority fields take 5 octets of the first frame', () => {
    const prio = Buffer.from('0000000520', 'hex');
    const room = FRAME_SIZE - PRIORITY_LENGTH;
    assert.deepEqual(shape(send(blockOfLength(room), 0, prio)), [[FrameType.HEADERS, FrameFlag.PRIORITY | FrameFlag.END_HEADERS, 7, FRAME_SIZE]]);
    const out = send(blockOfLength(room + 1), 0, prio);
    assert.deepEqual(shape(out), [
      [FrameType.HEADERS, FrameFlag.PRIORITY, 7, FRAME_SIZE],
      [FrameType.CONTINUATION, FrameFlag.END_HEADERS, 7, 1],
    ]);
    assert.ok(parseClientBytes(out)[0]!.payload.subarray(0, PRIORITY_LENGTH).equals(prio));
    assert.equal(blocksOf(out)[0]!.fields[0]!.value.length, blocksOf(send(blockOfLength(room + 1), 0)).at(0)!.fields[0]!.value.length);
  });

  test('an empty block is one empty HEADERS frame', () => {
    assert.deepEqual(shape(send(Buffer.alloc(0), FrameFlag.END_STREAM)), [[FrameType.HEADERS, FrameFlag.END_STREAM | FrameFlag.END_HEADERS, 7, 0]]);
  });
});

describe('frame headers and stream ids (RFC 9113 4.1)', () => {
  test('the reserved bit of a stream id is ignored on receipt and never sent', () => {
    const block = encodeHeaderBlock(REQUEST);
    const reserved = (length: number, type: number, flags: number, streamId: number): Buffer => {
      const h = frameHeader(length, type, flags, streamId);
      h[5] = (h[5] ?? 0) | 0x80;
      return h;
    };
    const headers = Buffer.concat([reserved(4, FrameType.HEADERS, 0, 3), block.subarray(0, 4)]);
    const continuation = Buffer.concat([reserved(block.length - 4, FrameType.CONTINUATION, FrameFlag.END_HEADERS, 3), block.subarray(4)]);
    const r = new AuthorityRewriter();
    const out = r.push(withPreface(headers, continuation));
    assert.equal(out.readUInt32BE(CLIENT_PREFACE.length + 5), 3, 'stream 3, reserved bit clear');
    assert.deepEqual(pairsOf(blocksOf(out)[0]!.fields), REPAIRED);
    assert.equal(r.lastStreamId, 3);
    // Stream 0 with the reserved bit set is still stream 0: no header block may use it.
    const onZero = Buffer.concat([reserved(1, FrameType.HEADERS, FrameFlag.END_HEADERS, 0), Buffer.from([0x82])]);
    const { err } = rewrite(withPreface(onZero));
    assert.equal(err?.h2Code, H2ErrorCode.PROTOCOL_ERROR);
    assert.match(err.message, /stream 0/);
  });

  test('frameHeader and goawayFrame write the octets RFC 9113 4.1 and 6.8 lay out', () => {
    assert.equal(frameHeader(0x123456, 0x9, 0x4, 0x80000007).toString('hex'), '123456' + '09' + '04' + '00000007');
    assert.equal(
      goawayFrame(0x80000005, H2ErrorCode.ENHANCE_YOUR_CALM, 'hi').toString('hex'),
      '00000a' + '07' + '00' + '00000000' + '00000005' + '0000000b' + '6869',
    );
  });

  test('lastStreamId is the highest stream whose block was passed', () => {
    const r = new AuthorityRewriter();
    assert.equal(r.lastStreamId, 0);
    const block = encodeHeaderBlock(REQUEST);
    r.push(withPreface(frame(FrameType.HEADERS, FrameFlag.END_HEADERS, 5, block), frame(FrameType.HEADERS, FrameFlag.END_HEADERS, 3, block)));
    assert.equal(r.lastStreamId, 5);
    r.push(frame(FrameType.HEADERS, 0, 9, block)); // not yet passed: no END_HEADERS
    assert.equal(r.lastStreamId, 5);
  });

  test('a block is bounded by its fragments over all its frames: the bound passes, one octet more does not', () => {
    const block = blockOfLength(100);
    const prio = Buffer.from('0000000010', 'hex');
    // HEADERS with priority fields (not part of the block) and 40 octets, then 30 and 30 (+ extra).
    const chain = (extra: Buffer) =>
      withPreface(
        frame(FrameType.HEADERS, FrameFlag.PRIORITY, 1, Buffer.concat([prio, block.subarray(0, 40)])),
        frame(FrameType.CONTINUATION, 0, 1, block.subarray(40, 70)),
        frame(FrameType.CONTINUATION, FrameFlag.END_HEADERS, 1, Buffer.concat([block.subarray(70), extra])),
      );
    assert.ok(rewrite(chain(Buffer.alloc(0)), { maxHeaderBlockSize: 100 }).out);
    const { err } = rewrite(chain(Buffer.from([0x82])), { maxHeaderBlockSize: 100 });
    assert.equal(err?.h2Code, H2ErrorCode.ENHANCE_YOUR_CALM);
    assert.match(err.message, /too large/);
  });

  test('what breaks framing is a PROTOCOL_ERROR that says what came', () => {
    // RFC 9113 3.4: the preface's octets.
    assert.equal(CLIENT_PREFACE.toString('hex'), '505249202a20485454502f322e300d0a0d0a534d0d0a0d0a');
    const block = encodeHeaderBlock(REQUEST);
    for (const [input, message] of [
      [Buffer.from('PRI * HTTP/1.1\r\n'), /^h2: bad client connection preface$/],
      // 6.10: only CONTINUATION of the same stream may follow a HEADERS without END_HEADERS.
      [
        withPreface(frame(FrameType.HEADERS, 0, 1, block), frame(FrameType.DATA, 0, 1, Buffer.from('x'))),
        /^h2: expected CONTINUATION for stream 1, got frame type 0 on stream 1$/,
      ],
      [withPreface(frame(FrameType.HEADERS, 0, 1, block), frame(FrameType.HEADERS, FrameFlag.END_HEADERS, 1, block)), /got frame type 1 on stream 1/],
      [withPreface(frame(FrameType.CONTINUATION, FrameFlag.END_HEADERS, 1, block)), /^h2: CONTINUATION without a preceding HEADERS$/],
      [withPreface(frame(FrameType.PUSH_PROMISE, FrameFlag.END_HEADERS, 1, Buffer.concat([Buffer.alloc(4), block]))), /^h2: client sent PUSH_PROMISE$/],
    ] as const) {
      const { err } = rewrite(input);
      assert.equal(err?.h2Code, H2ErrorCode.PROTOCOL_ERROR, String(message));
      assert.match(err.message, message);
    }
  });

  test('a fault of its own (a throwing onHeaders) is an INTERNAL_ERROR, and every later push throws it', () => {
    const r = new AuthorityRewriter({
      onHeaders: () => {
        throw new Error('boom');
      },
    });
    const input = withPreface(frame(FrameType.HEADERS, FrameFlag.END_HEADERS, 1, encodeHeaderBlock(REQUEST)));
    const err = (() => {
      try {
        r.push(input);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    assert.ok(err instanceof H2RewriteError);
    assert.deepEqual([err.h2Code, err.message], [H2ErrorCode.INTERNAL_ERROR, 'h2 rewriter: boom']);
    assert.throws(
      () => r.push(frame(FrameType.PING, 0, 0, Buffer.alloc(8))),
      (e) => e === err,
    );
  });
});

describe('PING (RFC 9113 6.7)', () => {
  const payload = (i: number) => {
    const p = Buffer.alloc(8);
    p.writeUInt32BE(i, 4);
    return p;
  };
  const ack = (p: Buffer, streamId = 0) => frame(FrameType.PING, FrameFlag.ACK, streamId, p);

  test('only an 8-octet ACK on stream 0 is held to the server PINGs; any other PING passes as it is', () => {
    for (const odd of [ack(Buffer.alloc(7)), ack(Buffer.alloc(9)), ack(payload(1), 1), frame(FrameType.PING, 0, 0, payload(1))]) {
      const r = new AuthorityRewriter();
      r.push(CLIENT_PREFACE);
      assert.ok(r.push(odd).equals(odd), odd.toString('hex'));
      assert.equal(r.droppedPingAcks, 0);
    }
    const kept = new AuthorityRewriter({ dropUnsolicitedPingAcks: false });
    kept.push(CLIENT_PREFACE);
    assert.ok(kept.push(ack(payload(1))).equals(ack(payload(1))));
  });

  test('server PINGs are remembered up to a bound, the oldest forgotten first', () => {
    const r = new AuthorityRewriter();
    r.push(CLIENT_PREFACE);
    const n = 20_000; // far past any bound worth keeping (a server sends a PING every few seconds); what is kept must not grow with it
    for (let i = 0; i < n; i++) r.noteServerPing(payload(i));
    assert.equal(r.push(ack(payload(0))).length, 0, 'the oldest is forgotten');
    assert.equal(r.push(ack(payload(n - 1))).length, 17, 'the newest is answered');
    assert.equal(r.push(ack(payload(n - 2))).length, 17);
    assert.equal(r.droppedPingAcks, 1);
  });

  test('answered PINGs no longer count toward that bound', () => {
    const r = new AuthorityRewriter();
    r.push(CLIENT_PREFACE);
    r.noteServerPing(payload(0));
    // Never more than two outstanding, however many are sent and answered.
    for (let i = 1; i < 20_000; i++) {
      r.noteServerPing(payload(i));
      assert.equal(r.push(ack(payload(i))).length, 17);
    }
    assert.equal(r.push(ack(payload(0))).length, 17, 'the first, still outstanding, is answered');
    assert.equal(r.droppedPingAcks, 0);
  });

  test('ServerPingScanner: a frame of our own may follow only whole frames after the first', () => {
    const seen: string[] = [];
    const s = new ServerPingScanner((p) => void seen.push(p.toString('hex')));
    assert.equal(s.canInsertFrame, false, 'nothing yet');
    const settings = frame(FrameType.SETTINGS, 0, 0, Buffer.alloc(6));
    s.scan(settings.subarray(0, 4));
    assert.equal(s.canInsertFrame, false, 'inside a frame header');
    s.scan(settings.subarray(4, 12));
    assert.equal(s.canInsertFrame, false, 'inside a payload');
    s.scan(settings.subarray(12));
    assert.equal(s.canInsertFrame, true);
    const ping = frame(FrameType.PING, 0, 0, payload(7));
    s.scan(ping.subarray(0, 4));
    assert.equal(s.canInsertFrame, false, "inside a later frame's header");
    s.scan(ping.subarray(4, 12));
    assert.equal(s.canInsertFrame, false, "inside a PING's payload");
    s.scan(ping.subarray(12));
    assert.equal(s.canInsertFrame, true);
    // An ACK, a PING of the wrong length, DATA of a PING's length and an empty frame are not PINGs to answer.
    s.scan(
      Buffer.concat([
        frame(FrameType.PING, FrameFlag.ACK, 0, payload(8)),
        frame(FrameType.PING, 0, 0, Buffer.alloc(9)),
        frame(FrameType.DATA, 0, 1, payload(9)),
        frame(FrameType.DATA, 0, 1, Buffer.alloc(0)),
      ]),
    );
    assert.equal(s.canInsertFrame, true);
    assert.deepEqual(seen, [payload(7).toString('hex')]);
  });
});

describe('chunking', () => {
  test('a connection split in two at every octet gives the same output and state as in one piece', () => {
    const block = encodeHeaderBlock(REQUEST);
    const serverPing = Buffer.from('0102030405060708', 'hex');
    const input = withPreface(
      frame(FrameType.SETTINGS, 0, 0, Buffer.from('000300000064', 'hex')),
      frame(
        FrameType.HEADERS,
        FrameFlag.PADDED | FrameFlag.PRIORITY,
        1,
        Buffer.concat([Buffer.from([2]), Buffer.from('0000000010', 'hex'), block.subarray(0, 5), Buffer.alloc(2)]),
      ),
      frame(FrameType.CONTINUATION, 0, 1, Buffer.alloc(0)),
      frame(FrameType.CONTINUATION, FrameFlag.END_HEADERS, 1, block.subarray(5)),
      frame(FrameType.DATA, FrameFlag.END_STREAM, 1, Buffer.from('hello')),
      frame(FrameType.PING, FrameFlag.ACK, 0, serverPing),
      frame(FrameType.PING, FrameFlag.ACK, 0, Buffer.alloc(8)),
      frame(FrameType.WINDOW_UPDATE, 0, 0, Buffer.from('00010000', 'hex')),
      frame(FrameType.HEADERS, FrameFlag.END_HEADERS | FrameFlag.END_STREAM, 3, Buffer.alloc(0)),
    );
    const run = (cuts: number[]) => {
      const r = new AuthorityRewriter();
      r.noteServerPing(serverPing);
      const out: Buffer[] = [];
      let at = 0;
      for (const c of [...cuts, input.length]) {
        out.push(...r.pushSegments(input.subarray(at, c)));
        at = c;
      }
      return { out: Buffer.concat(out), segments: out, end: r.end(), dropped: r.droppedPingAcks };
    };
    const whole = run([]);
    assert.deepEqual(shape(whole.out), [
      [FrameType.SETTINGS, 0, 0, 6],
      [FrameType.HEADERS, FrameFlag.PRIORITY | FrameFlag.END_HEADERS, 1, PRIORITY_LENGTH + REPAIRED_BLOCK.length],
      [FrameType.DATA, FrameFlag.END_STREAM, 1, 5],
      [FrameType.PING, FrameFlag.ACK, 0, 8],
      [FrameType.WINDOW_UPDATE, 0, 0, 4],
      [FrameType.HEADERS, FrameFlag.END_STREAM | FrameFlag.END_HEADERS, 3, 0],
    ]);
    assert.deepEqual([whole.end, whole.dropped], [true, 1]);
    // Cut after each header block: the second segment starts with the frame after stream 1's.
    assert.deepEqual(
      whole.segments.map((s) => s.length),
      [CLIENT_PREFACE.length + 9 + 6 + 9 + PRIORITY_LENGTH + REPAIRED_BLOCK.length, 9 + 5 + 9 + 8 + 9 + 4 + 9],
    );
    for (let i = 0; i <= input.length; i++) {
      const split = run([i]);
      assert.ok(split.out.equals(whole.out), `split at ${i}`);
      assert.deepEqual([split.end, split.dropped], [true, 1], `split at ${i}`);
    }
    assert.ok(run([...input.keys()]).out.equals(whole.out), 'one octet at a time');
  });

  test('end() is true only between frames and outside a header block', () => {
    const r = new AuthorityRewriter();
    assert.equal(r.end(), false, 'before the preface');
    r.push(CLIENT_PREFACE.subarray(0, 10));
    assert.equal(r.end(), false, 'inside the preface');
    r.push(CLIENT_PREFACE.subarray(10));
    assert.equal(r.end(), true);
    const data = frame(FrameType.DATA, 0, 1, Buffer.from('abc'));
    r.push(data.subarray(0, 5));
    assert.equal(r.end(), false, 'inside a frame header');
    r.push(data.subarray(5, 10));
    assert.equal(r.end(), false, 'inside a payload');
    r.push(data.subarray(10));
    assert.equal(r.end(), true);
    const block = encodeHeaderBlock(REQUEST);
    r.push(frame(FrameType.HEADERS, 0, 1, block));
    assert.equal(r.end(), false, 'inside a header block');
    r.push(frame(FrameType.CONTINUATION, FrameFlag.END_HEADERS, 1, Buffer.alloc(0)));
    assert.equal(r.end(), true);
    r.push(frame(FrameType.SETTINGS, FrameFlag.ACK, 0, Buffer.alloc(0)));
    assert.equal(r.end(), true, 'after an empty frame');
  });

  test('the preface is received with an empty SETTINGS frame, at its last octet', () => {
    const r = new AuthorityRewriter();
    const out = r.push(withPreface(frame(FrameType.SETTINGS, 0, 0, Buffer.alloc(0))));
    assert.deepEqual([r.prefaceReceived, out.length], [true, CLIENT_PREFACE.length + 9]);
  });

  test('the Transform stream passes what the rewriter gives', async () => {
    const s = new AuthorityRewriteStream();
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    const done = new Promise((resolve) => s.on('end', resolve));
    const input = withPreface(frame(FrameType.HEADERS, FrameFlag.END_HEADERS, 1, encodeHeaderBlock(REQUEST)));
    for (let i = 0; i < input.length; i += 10) s.write(input.subarray(i, i + 10));
    s.end();
    await done;
    assert.ok(Buffer.concat(chunks).equals(new AuthorityRewriter().push(input)));
    assert.ok(
      chunks.every((c) => c.length > 0),
      'no empty chunks',
    );
    assert.deepEqual(pairsOf(new HpackDecoder().decode(Buffer.concat(chunks).subarray(CLIENT_PREFACE.length + 9))), REPAIRED);
  });
});
