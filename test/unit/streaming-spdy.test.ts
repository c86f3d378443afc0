// The SPDY/3.1 layer of the streaming server: the framer (round trips, input cut anywhere, hostile
// frames), header blocks and their zlib streams (the SPDY/3 dictionary, a real deflater's blocks,
// a zlib bomb), and sessions against a real StreamingServer on 127.0.0.1 driven by a test client:
// flow control both ways, protocol errors, idle and stream-creation timeouts, the v4 status.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Duplex } from 'node:stream';
import zlib from 'node:zlib';
import { SpdyProtocolError } from '../../src/streaming/spdy/errors.js';
import {
  FLAG_FIN,
  FrameParser,
  FrameType,
  MAX_CONTROL_FRAME_BYTES,
  RstStatus,
  SETTINGS_INITIAL_WINDOW_SIZE,
  encodeDataFrame,
  encodeGoAway,
  encodeHeaders,
  encodePing,
  encodeRstStream,
  encodeSettings,
  encodeSynReply,
  encodeSynStream,
  encodeWindowUpdate,
  type ParsedFrame,
} from '../../src/streaming/spdy/framer.js';
import {
  HeaderCompressor,
  HeaderDecompressor,
  MAX_DECODED_HEADER_BYTES,
  SPDY3_DICTIONARY,
  adler32,
  decodeHeaderBlock,
  encodeHeaderBlock,
} from '../../src/streaming/spdy/zlib-headers.js';
import { StreamingServer } from '../../src/streaming/server.js';
import { MAX_DATA_FRAME_OUT, SpdyConnection, type SpdyStream } from '../../src/streaming/spdy/connection.js';
import type { ExecRequest, ProcessStreams, StreamingRuntime, TerminalSize } from '../../src/streaming/types.js';
import { floodWithoutReading, holdConnections } from '../support/hostile-client.js';
import { HeaderDeflater, TestSpdyClient } from '../support/spdy-client.js';
import { waitFor } from '../support/wait-for.js';

const V4 = 'v4.channel.k8s.io';

/** Parses `bytes` pushed in pieces of `step`, joining data pieces back into whole frames' payloads. */
function parseAll(bytes: Buffer, step: number): ParsedFrame[] {
  const p = new FrameParser();
  const out: ParsedFrame[] = [];
  for (let i = 0; i < bytes.length; i += step) out.push(...p.push(bytes.subarray(i, i + step)));
  const joined: ParsedFrame[] = [];
  for (const f of out) {
    const last = joined[joined.length - 1];
    if (f.type === 'data' && !f.first && last?.type === 'data')
      joined[joined.length - 1] = { ...last, payload: Buffer.concat([last.payload, f.payload]), fin: f.fin };
    else joined.push(f);
  }
  return joined;
}

function controlHeader(type: number, flags: number, length: number, version = 3): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt16BE(0x8000 | version, 0);
  b.writeUInt16BE(type, 2);
  b.writeUInt32BE(((flags << 24) | length) >>> 0, 4);
  return b;
}

describe('SPDY framer', () => {
  const block = Buffer.from('compressed headers');
  const frames = Buffer.concat([
    encodeSynStream(1, FLAG_FIN, block, 0, 3),
    encodeSynReply(2, 0, block),
    encodeHeaders(3, FLAG_FIN, block),
    encodeRstStream(5, RstStatus.CANCEL),
    encodeSettings([{ flags: 1, id: SETTINGS_INITIAL_WINDOW_SIZE, value: 4096 }]),
    encodePing(7),
    encodeGoAway(9, 1),
    encodeWindowUpdate(0, 65536),
    encodeDataFrame(11, FLAG_FIN, Buffer.from('hello')),
    encodeDataFrame(13, 0, Buffer.alloc(0)),
  ]);
  const expected: ParsedFrame[] = [
    { type: 'syn_stream', streamId: 1, associatedId: 0, priority: 3, flags: FLAG_FIN, headerBlock: block },
    { type: 'syn_reply', streamId: 2, flags: 0, headerBlock: block },
    { type: 'headers', streamId: 3, flags: FLAG_FIN, headerBlock: block },
    { type: 'rst_stream', streamId: 5, status: RstStatus.CANCEL },
    { type: 'settings', flags: 0, entries: [{ flags: 1, id: SETTINGS_INITIAL_WINDOW_SIZE, value: 4096 }] },
    { type: 'ping', id: 7 },
    { type: 'goaway', lastGoodStreamId: 9, status: 1 },
    { type: 'window_update', streamId: 0, delta: 65536 },
    { type: 'data', streamId: 11, payload: Buffer.from('hello'), first: true, fin: true },
    { type: 'data', streamId: 13, payload: Buffer.alloc(0), first: true, fin: false },
  ];

  test('every frame type round-trips, whole or cut into any pieces', () => {
    for (const step of [frames.length, 1, 3, 7, 64]) assert.deepEqual(parseAll(frames, step), expected, `pieces of ${step}`);
  });

  test('a data frame is delivered as its bytes arrive, not held whole', () => {
    const p = new FrameParser();
    const head = encodeDataFrame(1, FLAG_FIN, Buffer.alloc(0));
    head.writeUInt32BE(((FLAG_FIN << 24) | 0xffffff) >>> 0, 4); // claims 16 MiB
    assert.deepEqual(p.push(head), []);
    const piece = p.push(Buffer.alloc(1000, 1));
    assert.equal(piece.length, 1);
    assert.deepEqual(piece[0], { type: 'data', streamId: 1, payload: Buffer.alloc(1000, 1), first: true, fin: false });
    assert.deepEqual(p.push(Buffer.alloc(10)), [{ type: 'data', streamId: 1, payload: Buffer.alloc(10), first: false, fin: false }]);
  });

  test('an unknown control frame type is skipped; what follows still parses', () => {
    const unknown = Buffer.concat([controlHeader(0x0b, 0, 3), Buffer.from('xyz')]);
    assert.deepEqual(parseAll(Buffer.concat([unknown, encodePing(1)]), 2), [{ type: 'ping', id: 1 }]);
  });

  const hostile: [string, Buffer, RegExp][] = [
    ['a control frame over the limit', controlHeader(FrameType.SYN_STREAM, 0, MAX_CONTROL_FRAME_BYTES + 1), /at most/],
    ['another SPDY version', Buffer.concat([controlHeader(FrameType.PING, 0, 4, 2), Buffer.alloc(4)]), /version 2/],
    ['RST_STREAM of 4 bytes', Buffer.concat([controlHeader(FrameType.RST_STREAM, 0, 4), Buffer.alloc(4)]), /RST_STREAM frame of 4 bytes/],
    ['PING of 8 bytes', Buffer.concat([controlHeader(FrameType.PING, 0, 8), Buffer.alloc(8)]), /PING frame of 8 bytes/],
    ['WINDOW_UPDATE of 4 bytes', Buffer.concat([controlHeader(FrameType.WINDOW_UPDATE, 0, 4), Buffer.alloc(4)]), /WINDOW_UPDATE/],
    ['SYN_STREAM shorter than its fixed part', Buffer.concat([controlHeader(FrameType.SYN_STREAM, 0, 6), Buffer.alloc(6)]), /at least 10/],
    ['SETTINGS claiming 2^32-1 entries', Buffer.concat([controlHeader(FrameType.SETTINGS, 0, 4), Buffer.from([0xff, 0xff, 0xff, 0xff])]), /entries/],
    ['data on stream 0', encodeDataFrame(0, 0, Buffer.from('x')), /stream 0/],
  ];
  for (const [name, bytes, message] of hostile) {
    test(`refuses ${name}`, () => {
      assert.throws(
        () => new FrameParser().push(bytes),
        (err: unknown) => err instanceof SpdyProtocolError && message.test(err.message),
      );
    });
  }
});

describe('SPDY data out', () => {
  test("a chunk's data frames leave in one write, its bytes uncopied", async () => {
    // What the session writes, batch by batch (a corked socket hands its writes over as one writev).
    const batches: Buffer[][] = [];
    const socket = new Duplex({
      read() {},
      write(chunk: Buffer, _enc, cb) {
        batches.push([chunk]);
        cb();
      },
      writev(chunks, cb) {
        batches.push(chunks.map((c) => c.chunk as Buffer));
        cb();
      },
    });
    let opened: SpdyStream | undefined;
    const conn = new SpdyConnection(socket, Buffer.alloc(0), { onStream: (st) => ((opened = st), true), idleTimeoutMs: 0 });
    const deflater = new HeaderDeflater();
    socket.push(encodeSynStream(1, 0, await deflater.compress(encodeHeaderBlock([['streamtype', 'data']])), 0, 3));
    await waitFor(() => opened !== undefined && batches.length > 0, 'the stream and its SYN_REPLY');
    const stream = opened as SpdyStream;
    batches.length = 0;
    const chunk = Buffer.alloc(2 * MAX_DATA_FRAME_OUT + 100, 7);
    await new Promise<void>((resolve, reject) => stream.write(chunk, (e) => (e ? reject(e) : resolve())));
    assert.equal(batches.length, 1, 'one write for the whole chunk');
    const pieces = batches[0] ?? [];
    const frames = parseAll(Buffer.concat(pieces), 1 << 20);
    assert.deepEqual(
      frames.map((f) => (f.type === 'data' ? f.payload.length : -1)),
      [MAX_DATA_FRAME_OUT, MAX_DATA_FRAME_OUT, 100],
    );
    for (const p of pieces.filter((b) => b.length > 8)) assert.equal(p.buffer, chunk.buffer, 'a payload is a view of the chunk, not a copy');
    deflater.close();
    conn.destroy();
  });
});

describe('SPDY header blocks', () => {
  test("the dictionary is the spec's (1423 bytes, id 0xe3c6a7c2)", () => {
    assert.equal(SPDY3_DICTIONARY.length, 1423);
    assert.equal(adler32(SPDY3_DICTIONARY), 0xe3c6a7c2);
    assert.equal(adler32(Buffer.alloc(100_000, 0xff)), zlibAdler(Buffer.alloc(100_000, 0xff)));
  });

  test('name/value blocks round-trip; repeated values travel NUL-joined', () => {
    const raw = encodeHeaderBlock([
      ['streamType', 'stdin'],
      ['port', ['80', '8080']],
    ]);
    assert.deepEqual(
      decodeHeaderBlock(raw),
      new Map([
        ['streamtype', ['stdin']],
        ['port', ['80', '8080']],
      ]),
    );
    assert.deepEqual(decodeHeaderBlock(encodeHeaderBlock([])), new Map());
  });

  const pair = (name: string, value: string) => {
    const n = Buffer.from(name);
    const v = Buffer.from(value);
    const b = Buffer.alloc(8 + n.length + v.length);
    b.writeUInt32BE(n.length, 0);
    n.copy(b, 4);
    b.writeUInt32BE(v.length, 4 + n.length);
    v.copy(b, 8 + n.length);
    return b;
  };
  const count = (n: number) => Buffer.from([n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
  const badBlocks: [string, Buffer, RegExp][] = [
    ['a pair count of 2^32-1', count(0xffffffff), /pairs/],
    ['a name longer than the block', Buffer.concat([count(1), Buffer.from([0, 0, 0x10, 0]), Buffer.from('abc')]), /ends inside a name/],
    ['an uppercase name', Buffer.concat([count(1), pair('Port', '80')]), /lowercase/],
    ['a repeated name', Buffer.concat([count(2), pair('port', '80'), pair('port', '81')]), /repeats/],
    ['an empty name', Buffer.concat([count(1), pair('', 'x')]), /empty name/],
    ['bytes after the last pair', Buffer.concat([count(1), pair('port', '80'), Buffer.from('!')]), /after its last pair/],
  ];
  for (const [name, block, message] of badBlocks) {
    test(`refuses ${name}`, () => {
      assert.throws(
        () => decodeHeaderBlock(block),
        (err: unknown) => err instanceof SpdyProtocolError && message.test(err.message),
      );
    });
  }

  test('our blocks are one zlib stream with the dictionary that a standard inflater reads block by block', async () => {
    const c = new HeaderCompressor();
    const blocks = [encodeHeaderBlock([]), encodeHeaderBlock([['a', 'b']]), encodeHeaderBlock([['big', 'x'.repeat(70_000)]])];
    const inflate = zlib.createInflate({ dictionary: SPDY3_DICTIONARY });
    for (const raw of blocks) {
      const compressed = c.compress(raw);
      // Each ends with the sync-flush marker, without which Go's inflater holds the block's last bytes back.
      assert.deepEqual(compressed.subarray(-4), Buffer.from([0x00, 0x00, 0xff, 0xff]));
      assert.deepEqual(await inflateBlock(inflate, compressed), raw);
    }
    inflate.destroy();
  });

  test("a real deflater's blocks (shared context, level 9) inflate in order", async () => {
    const deflater = new HeaderDeflater();
    const d = new HeaderDecompressor();
    for (const headers of [{ streamtype: 'error' }, { streamtype: 'stdout' }, { streamtype: 'data', port: '80', requestid: '0' }]) {
      const raw = encodeHeaderBlock(Object.entries(headers));
      assert.deepEqual(await d.decompress(await deflater.compress(raw)), raw);
    }
    deflater.close();
    d.close();
  });

  test('a zlib bomb fails after MAX_DECODED_HEADER_BYTES of output, not after gigabytes', async () => {
    const bomb = zlibBomb();
    assert.ok(bomb.length < MAX_CONTROL_FRAME_BYTES, `bomb of ${bomb.length} bytes fits one control frame`);
    const before = process.memoryUsage().rss;
    const d = new HeaderDecompressor();
    await assert.rejects(d.decompress(bomb), (err: unknown) => err instanceof SpdyProtocolError && /more than 65536 bytes/.test(err.message));
    await assert.rejects(d.decompress(Buffer.from([0])), SpdyProtocolError, 'the stream stays failed');
    assert.ok(process.memoryUsage().rss - before < 64 * 1024 * 1024, 'no big allocation');
    assert.equal(MAX_DECODED_HEADER_BYTES, 65536);
  });

  test('garbage is a protocol error', async () => {
    await assert.rejects(new HeaderDecompressor().decompress(Buffer.from('not zlib at all')), SpdyProtocolError);
  });
});

let bomb: Buffer | undefined;
/**
 * 50 MiB of zeros as one SPDY header block of a few KiB. Made once, before any session that sends
 * it: compressing takes a while on a loaded machine, longer than a session waits for its streams.
 */
function zlibBomb(): Buffer {
  bomb ??= zlib.deflateSync(Buffer.alloc(50 * 1024 * 1024), { dictionary: SPDY3_DICTIONARY, level: 9, finishFlush: zlib.constants.Z_SYNC_FLUSH });
  return bomb;
}

function zlibAdler(data: Buffer): number {
  // zlib's own Adler-32 is the last 4 bytes of a zlib stream of the data.
  return zlib.deflateSync(data).readUInt32BE(zlib.deflateSync(data).length - 4);
}

function inflateBlock(inflate: zlib.Inflate, block: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const out: Buffer[] = [];
    const drain = () => {
      for (let c: unknown = inflate.read(); Buffer.isBuffer(c); c = inflate.read()) out.push(c);
    };
    inflate.on('readable', drain);
    inflate.once('error', reject);
    inflate.write(block);
    inflate.flush(zlib.constants.Z_SYNC_FLUSH, () => {
      drain();
      inflate.off('readable', drain);
      resolve(Buffer.concat(out));
    });
  });
}

// ---- sessions ----------------------------------------------------------------------------------

interface Behaviour {
  /** Bytes exec writes to stdout before exiting with `exitCode`. */
  output: number;
  exitCode: number;
  stdinSeen: Buffer[];
  /** A pause after each stdin chunk: a reader slower than the client. */
  stdinDelayMs: number;
  resizes: TerminalSize[];
}

/** exec writes `output` bytes of 'x' (or, with stdin, copies stdin), reads resizes, exits with `exitCode`. */
function scriptedRuntime(b: Behaviour): StreamingRuntime {
  return {
    async exec(_req: ExecRequest, io: ProcessStreams) {
      const resizing = (async () => {
        for await (const size of io.resize ?? []) b.resizes.push(size);
      })();
      if (io.stdin) {
        for await (const chunk of io.stdin) {
          if (Buffer.isBuffer(chunk)) b.stdinSeen.push(chunk);
          if (b.stdinDelayMs > 0) await new Promise((r) => setTimeout(r, b.stdinDelayMs));
        }
      }
      const out = io.stdout;
      if (out && b.output > 0) await new Promise<void>((resolve) => out.write(Buffer.alloc(b.output, 'x'), () => resolve()));
      if (io.resize) await resizing;
      return { exitCode: b.exitCode };
    },
    async attach() {},
    portForward() {
      return Promise.reject(new Error('not here'));
    },
  };
}

describe('SPDY sessions', () => {
  const b: Behaviour = { output: 0, exitCode: 0, stdinSeen: [], stdinDelayMs: 0, resizes: [] };
  const server = new StreamingServer({ runtime: scriptedRuntime(b), streamCreationTimeoutMs: 2000 });
  const idleServer = new StreamingServer({ runtime: scriptedRuntime(b), idleTimeoutMs: 300, streamCreationTimeoutMs: 10_000 });
  const clients: TestSpdyClient[] = [];
  const exec = (over: Partial<ExecRequest> = {}, srv = server) =>
    srv.getExec({ containerId: 'c', cmd: ['sh', '-c', 'exit 3'], tty: false, stdin: false, stdout: true, stderr: false, ...over });
  const connect = async (url: string) => {
    const { client, answer } = await TestSpdyClient.connect(url, [V4, 'v3.channel.k8s.io']);
    clients.push(client);
    return { client, answer };
  };

  before(async () => {
    zlibBomb(); // made now, not while a session waits
    await server.start();
    await idleServer.start();
  });
  after(async () => {
    for (const c of clients) c.close();
    await server.close();
    await idleServer.close();
  });

  test('the upgrade names the negotiated protocol; exec reports its exit code as a v4 Status', async () => {
    Object.assign(b, { output: 5, exitCode: 3 });
    const { client, answer } = await connect(exec());
    assert.equal(answer.status, 101);
    assert.equal(answer.headers.get('x-stream-protocol-version'), V4);
    const error = await client.open({ streamtype: 'error' });
    const stdout = await client.open({ streamtype: 'stdout' });
    await client.waitFin(error);
    await client.waitFin(stdout);
    assert.equal(client.received(stdout).toString(), 'xxxxx');
    assert.deepEqual(JSON.parse(client.received(error).toString()), {
      metadata: {},
      status: 'Failure',
      message: 'command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3',
      reason: 'NonZeroExitCode',
      details: { causes: [{ reason: 'ExitCode', message: '3' }] },
    });
    assert.deepEqual(client.replyHeaders.get(error), new Map(), 'SYN_REPLY carries an empty header block');
    await waitFor(() => client.closed, 'the server to close the session');
    assert.ok(client.frames.some((f) => f.type === 'goaway' && f.status === 0));
    await waitFor(() => server.sessionCount === 0, 'the session to end');
  });

  test('the token is single use; a wrong protocol is 403 naming what the server accepts', async () => {
    const url = exec();
    const first = await connect(url);
    first.client.close();
    assert.equal((await connect(url)).answer.status, 404);
    const { answer } = await TestSpdyClient.connect(exec(), ['v9.channel.k8s.io']);
    assert.equal(answer.status, 403);
    assert.match(answer.headers.get('x-accepted-stream-protocol-versions') ?? '', /v4\.channel\.k8s\.io/);
  });

  test('a client that ignores windows (spdystream) gets all the data without a WINDOW_UPDATE', async () => {
    Object.assign(b, { output: 1024 * 1024, exitCode: 0 });
    const { client } = await connect(exec());
    const error = await client.open({ streamtype: 'error' });
    const stdout = await client.open({ streamtype: 'stdout' });
    await client.waitFin(stdout);
    await client.waitFin(error);
    assert.equal(client.received(stdout).length, 1024 * 1024);
    assert.deepEqual(JSON.parse(client.received(error).toString()), { metadata: {}, status: 'Success' });
  });

  test('a client that keeps windows is honoured, per stream and per session (3.1), until WINDOW_UPDATE', async () => {
    Object.assign(b, { output: 100_000, exitCode: 0 });
    const { client } = await connect(exec());
    client.raw(encodeSettings([{ flags: 0, id: SETTINGS_INITIAL_WINDOW_SIZE, value: 10_000 }]));
    await client.open({ streamtype: 'error' });
    const stdout = await client.open({ streamtype: 'stdout' });
    const settle = () => new Promise((r) => setTimeout(r, 200));
    await waitFor(() => client.received(stdout).length === 10_000, 'a window of data');
    await settle();
    assert.equal(client.received(stdout).length, 10_000, 'nothing past the stream window');
    client.raw(encodeWindowUpdate(stdout, 90_000));
    await waitFor(() => client.received(stdout).length === 65_536, 'the session window');
    await settle();
    assert.equal(client.received(stdout).length, 65_536, 'nothing past the session window (64 KiB)');
    client.raw(encodeWindowUpdate(0, 65_536));
    await client.waitFin(stdout);
    assert.equal(client.received(stdout).length, 100_000);
  });

  test('the server sends WINDOW_UPDATE (stream and session) as the runtime reads stdin, and gets FIN as EOF', async () => {
    Object.assign(b, { output: 0, exitCode: 0 });
    b.stdinSeen.length = 0;
    const { client } = await connect(exec({ stdin: true }));
    await client.open({ streamtype: 'error' });
    const stdin = await client.open({ streamtype: 'stdin' });
    const stdout = await client.open({ streamtype: 'stdout' });
    await client.waitReply(stdout);
    for (let i = 0; i < 10; i++) client.send(stdin, Buffer.alloc(30_000, i));
    client.send(stdin, '', true);
    await client.waitFin(stdout);
    assert.equal(Buffer.concat(b.stdinSeen).length, 300_000);
    const updates = client.frames.filter((f) => f.type === 'window_update');
    assert.ok(
      updates.some((f) => f.type === 'window_update' && f.streamId === stdin),
      'stream window updates',
    );
    assert.ok(
      updates.some((f) => f.type === 'window_update' && f.streamId === 0),
      'session window updates',
    );
  });

  test('a reader slower than a client that ignores windows gets everything: the socket pauses and resumes', async () => {
    Object.assign(b, { output: 0, exitCode: 0, stdinDelayMs: 2 });
    b.stdinSeen.length = 0;
    const { client } = await connect(exec({ stdin: true }));
    await client.open({ streamtype: 'error' });
    const stdin = await client.open({ streamtype: 'stdin' });
    const stdout = await client.open({ streamtype: 'stdout' });
    await client.waitReply(stdout);
    const sent = Buffer.concat(Array.from({ length: 64 }, (_, i) => Buffer.alloc(16_384, i)));
    for (let off = 0; off < sent.length; off += 16_384) client.send(stdin, sent.subarray(off, off + 16_384));
    client.send(stdin, '', true);
    await client.waitFin(stdout, 20_000);
    b.stdinDelayMs = 0;
    assert.ok(Buffer.concat(b.stdinSeen).equals(sent), 'every byte, in order');
  });

  test('resizes reach the runtime with a TTY (v4 expects a resize stream)', async () => {
    Object.assign(b, { output: 0, exitCode: 0 });
    b.resizes.length = 0;
    const { client } = await connect(exec({ tty: true }));
    const error = await client.open({ streamtype: 'error' });
    await client.open({ streamtype: 'stdout' });
    const resize = await client.open({ streamtype: 'resize' });
    await client.waitReply(resize);
    client.send(resize, '{"Width":80,"Height":24}\n{"Width":1');
    client.send(resize, '00,"Height":50}\n', true);
    await client.waitFin(error);
    assert.deepEqual(b.resizes.at(-1), { width: 100, height: 50 });
  });

  test('unexpected and repeated streams are refused with RST_STREAM; PING is echoed', async () => {
    const { client } = await connect(exec());
    const odd = await client.open({ streamtype: 'stdin' }); // the request has no stdin
    const error = await client.open({ streamtype: 'error' });
    const again = await client.open({ streamtype: 'error' });
    client.raw(encodePing(41));
    await waitFor(() => client.frames.some((f) => f.type === 'ping' && f.id === 41), 'the PING echo');
    for (const id of [odd, again]) {
      await client.waitReply(id);
      assert.ok(
        client.frames.some((f) => f.type === 'rst_stream' && f.streamId === id && f.status === RstStatus.REFUSED_STREAM),
        `stream ${id} refused`,
      );
    }
    assert.ok(client.frames.some((f) => f.type === 'syn_reply' && f.streamId === error));
  });

  const protocolErrors: [string, (c: TestSpdyClient) => Promise<void>][] = [
    ['a zlib bomb in a SYN_STREAM', async (c) => c.raw(encodeSynStream(1, 0, zlibBomb()))],
    ['an even stream id', async (c) => c.raw(encodeSynStream(2, 0, await c.compress(encodeHeaderBlock([['streamtype', 'error']]))))],
    [
      'a stream id going backwards',
      async (c) => {
        c.raw(encodeSynStream(5, 0, await c.compress(encodeHeaderBlock([['streamtype', 'error']]))));
        c.raw(encodeSynStream(3, 0, await c.compress(encodeHeaderBlock([['streamtype', 'stdout']]))));
      },
    ],
    ['a control frame of 1 MiB', async (c) => c.raw(Buffer.concat([controlHeader(FrameType.HEADERS, 0, 1 << 20), Buffer.alloc(1 << 20)]))],
    ['a WINDOW_UPDATE of 0', async (c) => c.raw(encodeWindowUpdate(0, 0))],
  ];
  for (const [name, send] of protocolErrors) {
    test(`${name} ends the session with GOAWAY PROTOCOL_ERROR`, async () => {
      const { client } = await connect(exec());
      await send(client);
      await waitFor(() => client.closed, 'the server to close the connection');
      assert.ok(
        client.frames.some((f) => f.type === 'goaway' && f.status === 1),
        'GOAWAY PROTOCOL_ERROR',
      );
      await waitFor(
        () => server.sessionCount === 0,
        () => `the session to end (${server.sessionCount} open)`,
      );
    });
  }

  test('a client that opens no streams is cut off after the creation timeout; an idle session after the idle timeout', async () => {
    const started = Date.now();
    const { client } = await connect(exec());
    await waitFor(() => client.closed, 'the creation timeout', 5000);
    assert.ok(Date.now() - started >= 1900, 'not before the timeout');
    const idle = await connect(exec({}, idleServer));
    await waitFor(() => idle.client.closed, 'the idle timeout', 3000);
    await waitFor(() => idleServer.sessionCount === 0, 'the idle session to end');
  });

  test('a client that vanishes mid-stream aborts the runtime call and leaves no session', async () => {
    let signal: AbortSignal | undefined;
    const hanging = new StreamingServer({
      runtime: {
        exec: (_req, io) =>
          new Promise((resolve) => {
            signal = io.signal;
            io.signal.addEventListener('abort', () => resolve({ exitCode: 137 }));
          }),
        attach: async () => {},
        portForward: () => Promise.reject(new Error('no')),
      },
    });
    await hanging.start();
    try {
      const { client } = await connect(hanging.getExec({ containerId: 'c', cmd: ['sleep'], tty: false, stdin: true, stdout: true, stderr: false }));
      await client.open({ streamtype: 'error' });
      await client.open({ streamtype: 'stdin' });
      const stdout = await client.open({ streamtype: 'stdout' });
      await client.waitReply(stdout);
      await waitFor(() => signal !== undefined, 'the runtime call');
      assert.equal(hanging.sessionCount, 1);
      client.close();
      await waitFor(() => signal?.aborted === true, 'the abort');
      await waitFor(() => hanging.sessionCount === 0, 'the session to end');
    } finally {
      await hanging.close();
    }
  });

  // A client that provokes replies and never reads them: before they were bounded, 64 MiB of
  // PINGs grew cribd by a GiB. The server must hang up on it, not buffer for it.
  const floods: [string, Buffer][] = [
    ['PINGs', encodePing(1)],
    ['DATA frames to streams that do not exist', Buffer.concat(Array.from({ length: 64 }, (_, i) => encodeDataFrame(1001 + 2 * i, 0, Buffer.alloc(0))))],
  ];
  for (const [name, unit] of floods) {
    test(`a client that sends ${name} and never reads is cut off, not buffered for`, async () => {
      // Stream creation and idle timeouts far away: only the replies it does not read may end it.
      const patient = new StreamingServer({ runtime: scriptedRuntime(b), streamCreationTimeoutMs: 600_000 });
      await patient.start();
      const total = 64 * 1024 * 1024;
      try {
        const url = patient.getExec({ containerId: 'c', cmd: ['true'], tty: false, stdin: false, stdout: true, stderr: false });
        const flood = await floodWithoutReading(url, { to: 'spdy', protocols: [V4] }, unit, total);
        flood.socket.destroy();
        assert.ok(flood.closedByServer && flood.written < total, `the server hung up (after ${flood.written} of ${total} bytes)`);
        await waitFor(() => patient.sessionCount === 0, 'the session to end');
      } finally {
        await patient.close();
      }
    });
  }

  test('connections without a token, more than the server keeps, idle or trickling a request, keep no client with a token out', async () => {
    Object.assign(b, { output: 5, exitCode: 0 });
    const port = Number(new URL(server.baseUrl).port);
    const held = [...(await holdConnections('127.0.0.1', port, 300)), ...(await holdConnections('127.0.0.1', port, 100, true))];
    try {
      for (let i = 0; i < 18; i++) {
        const { client, answer } = await connect(exec());
        assert.equal(answer.status, 101);
        const error = await client.open({ streamtype: 'error' });
        const stdout = await client.open({ streamtype: 'stdout' });
        await client.waitFin(error);
        assert.equal(client.received(stdout).toString(), 'xxxxx');
        client.close();
      }
    } finally {
      for (const s of held) s.destroy();
    }
  });
});
