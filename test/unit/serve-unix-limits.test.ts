// Hostile clients against a real listenUnix server (an HPACK bomb, no preface in time, more
// connections than the cap), where a real gRPC client must still be served; the rate-limited
// warnings. (The header block bounds unit by unit: h2-limits.test.ts.)
//
// Everything lives in a temp dir of the file's own; `after` closes whatever the tests opened.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { encodeHeaderBlock } from '../../src/socket/h2/hpack.js';
import { CLIENT_PREFACE, FrameFlag, FrameType, H2ErrorCode } from '../../src/socket/h2/authority-rewriter.js';
import { listenUnix, type ListenUnixOptions, type UnixListener } from '../../src/socket/serve-unix.js';
import { ThrottledWarning } from '../../src/socket/throttled-warning.js';
import { FrameReader, HeaderBlockAssembler, grpcStatus, type Frame } from '../support/h2-replay.js';
import { frame, grpcFrame, hpackBomb } from '../support/h2-frames.js';
import { unaryCall, unaryMethod } from '../support/grpc-bytes.js';
import { heapUsedAfterGc } from '../support/heap.js';
import { waitFor } from '../support/wait-for.js';

const ECHO = '/test.Echo/Echo';
const MiB = 1 << 20;
const SETTINGS = frame(FrameType.SETTINGS, 0, 0, Buffer.alloc(0));

/** A gRPC request's header block as grpc-go sends it on a unix socket (:authority = the path). */
const REQUEST_BLOCK = encodeHeaderBlock(
  [
    [':method', 'POST'],
    [':scheme', 'http'],
    [':path', ECHO],
    [':authority', '/run/crib/crib.sock'],
    ['content-type', 'application/grpc'],
    ['te', 'trailers'],
  ].map(([name = '', value = '']) => ({ name, value })),
);

function echoRequest(streamId: number, message: string): Buffer {
  return Buffer.concat([
    frame(FrameType.HEADERS, FrameFlag.END_HEADERS, streamId, REQUEST_BLOCK),
    frame(FrameType.DATA, FrameFlag.END_STREAM, streamId, grpcFrame(Buffer.from(message))),
  ]);
}

/** Growth of the peak resident set size, in octets, while `fn` runs. */
async function peakRssGrowth(fn: () => Promise<void>): Promise<number> {
  const before = process.resourceUsage().maxRSS;
  await fn();
  return (process.resourceUsage().maxRSS - before) * 1024;
}

describe('ThrottledWarning', () => {
  test('one line at once, one summary at the end of the interval, the rest at close', async () => {
    const lines: [string, Record<string, unknown>][] = [];
    const w = new ThrottledWarning('refused', 200, (message, fields) => void lines.push([message, fields]));
    for (let i = 1; i <= 5; i++) w.warn({ n: i });
    assert.deepEqual(lines, [['refused', { n: 1 }]]);
    await waitFor(() => lines.length === 2, 'the summary line', 2000);
    assert.deepEqual(lines[1], ['refused (4 more since the last such line)', { n: 5 }]);
    w.warn({ n: 6 });
    assert.equal(lines.length, 2, 'still inside the interval of the summary');
    w.close();
    assert.deepEqual(lines[2], ['refused (1 more since the last such line)', { n: 6 }]);
    w.close();
    assert.equal(lines.length, 3);
  });
});

// -------------------------------------------------------------------------------------------
// Against a real server

/** A client connection writing raw bytes, recording the server's frames and when it closed. */
class RawClient {
  readonly frames: Frame[] = [];
  readonly socket: net.Socket;
  /** Resolves with how long after opening the connection closed. */
  readonly closed: Promise<number>;
  isClosed = false;
  private readonly reader = new FrameReader();

  constructor(socketPath: string) {
    const openedAt = Date.now();
    this.socket = net.connect(socketPath);
    // EPIPE / ECONNRESET when the server hangs up while we still write are expected here.
    this.socket.on('error', () => {});
    this.socket.on('data', (d: Buffer) => this.frames.push(...this.reader.push(d)));
    this.closed = new Promise((resolve) =>
      this.socket.once('close', () => {
        this.isClosed = true;
        resolve(Date.now() - openedAt);
      }),
    );
  }

  connected(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.socket.once('connect', resolve);
      this.socket.once('close', () => reject(new Error('closed before connecting')));
    });
  }

  async closedWithin(ms: number, what: string): Promise<number> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: still open after ${ms} ms`)), ms);
    });
    try {
      return await Promise.race([this.closed, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  goaway(): { code: number; debug: string } | undefined {
    const f = this.frames.find((x) => x.type === FrameType.GOAWAY);
    return f && { code: f.payload.readUInt32BE(4), debug: f.payload.subarray(8).toString() };
  }

  /** The grpc-status the server has sent on `streamId` so far. */
  grpcStatus(streamId: number): string | undefined {
    const asm = new HeaderBlockAssembler();
    const blocks = this.frames.map((f) => asm.feed(f)).filter((b) => b !== null && b.streamId === streamId);
    return grpcStatus(blocks.map((b) => b!.fields));
  }
}

/** Echoes every line cribd's log writes to stderr into `lines` as well. */
function captureStderr(lines: string[]): () => void {
  // eslint-disable-next-line @typescript-eslint/unbound-method -- put back as it was, and called with its stream
  const write = process.stderr.write;
  process.stderr.write = function (this: NodeJS.WriteStream, ...args: Parameters<typeof write>) {
    lines.push(String(args[0]));
    return write.apply(this, args);
  } as typeof write;
  return () => void (process.stderr.write = write);
}

describe('listenUnix against hostile clients', () => {
  let dir: string;
  let server: grpc.Server;
  const listeners: UnixListener[] = [];
  const raws: RawClient[] = [];
  const clients: grpc.Client[] = [];
  const logged: string[] = [];
  let restoreStderr: () => void = () => {};

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crib-h2-limits-'));
    server = new grpc.Server();
    server.addService(
      { Echo: unaryMethod(ECHO) },
      { Echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, call.request) },
    );
    restoreStderr = captureStderr(logged);
  });

  after(async () => {
    restoreStderr();
    for (const c of clients) c.close();
    for (const r of raws) r.socket.destroy();
    for (const l of listeners) await l.close();
    server.forceShutdown();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function listen(name: string, opts: ListenUnixOptions = {}): Promise<{ socketPath: string; listener: UnixListener }> {
    const socketPath = path.join(dir, `${name}.sock`);
    const listener = await listenUnix(server, socketPath, 0o600, opts);
    listeners.push(listener);
    return { socketPath, listener };
  }

  /** A grpc-js client on a connection of its own (not shared through the global pool). */
  function grpcClient(socketPath: string): grpc.Client {
    const c = new grpc.Client(`unix://${socketPath}`, grpc.credentials.createInsecure(), {
      'grpc.use_local_subchannel_pool': 1,
    });
    clients.push(c);
    return c;
  }

  async function rawClient(socketPath: string, ...writes: Buffer[]): Promise<RawClient> {
    const r = new RawClient(socketPath);
    raws.push(r);
    await r.connected();
    for (const w of writes) r.socket.write(w);
    return r;
  }

  const echo = async (c: grpc.Client, message: string) => (await unaryCall(c, ECHO, Buffer.from(message))).toString();

  test('an HPACK bomb costs its own connection only, and little memory', async () => {
    const { socketPath, listener } = await listen('bomb');
    const bystander = grpcClient(socketPath);
    assert.equal(await echo(bystander, 'before'), 'before');

    const heapBefore = heapUsedAfterGc();
    const rssGrowth = await peakRssGrowth(async () => {
      // Decoded-size bound: the block is under the compressed bound, but decodes to ~4 GB.
      const bomb = await rawClient(socketPath, CLIENT_PREFACE, SETTINGS);
      await waitFor(() => bomb.frames.length > 0, "the server's SETTINGS");
      bomb.socket.write(frame(FrameType.HEADERS, FrameFlag.END_HEADERS, 1, hpackBomb(65_000, 60_000)));
      await bomb.closedWithin(5000, 'the bomb connection');
      assert.equal(bomb.goaway()?.code, H2ErrorCode.ENHANCE_YOUR_CALM);
      assert.match(bomb.goaway()!.debug, /header list larger than/);

      // The shape (4 KB, a million references) in one HEADERS frame: refused by the
      // compressed bound as soon as its frame header is in.
      const big = await rawClient(socketPath, CLIENT_PREFACE, SETTINGS);
      await waitFor(() => big.frames.length > 0, "the server's SETTINGS");
      big.socket.write(frame(FrameType.HEADERS, FrameFlag.END_HEADERS, 1, hpackBomb(4096, 1_000_000)));
      await big.closedWithin(5000, 'the 1 MB bomb connection');
      assert.equal(big.goaway()?.code, H2ErrorCode.ENHANCE_YOUR_CALM);
    });
    const heapGrowth = heapUsedAfterGc() - heapBefore;
    assert.ok(heapGrowth < 8 * MiB, `heap grew by ${heapGrowth} octets`);
    assert.ok(rssGrowth < 64 * MiB, `peak RSS grew by ${rssGrowth} octets`);
    assert.ok(logged.some((l) => /dropping connection after HTTP\/2 protocol error.*header list larger than/.test(l)));

    // The connection opened before is still served, and so is a new one.
    assert.equal(await echo(bystander, 'after'), 'after');
    assert.equal(await echo(grpcClient(socketPath), 'new'), 'new');
    await waitFor(
      () => listener.connectionCount === 2,
      () => `2 connections left (${listener.connectionCount})`,
    );
  });

  test('a connection without the full client preface is closed after the handshake timeout', async () => {
    const handshakeTimeoutMs = 300;
    const { socketPath } = await listen('handshake', { handshakeTimeoutMs });
    const silent = await rawClient(socketPath);
    const magicOnly = await rawClient(socketPath, CLIENT_PREFACE);
    const partialSettings = await rawClient(socketPath, CLIENT_PREFACE, SETTINGS.subarray(0, 5));
    const good = await rawClient(socketPath, CLIENT_PREFACE, SETTINGS);
    for (const [name, r] of Object.entries({ silent, magicOnly, partialSettings })) {
      const after = await r.closedWithin(5000, name);
      assert.ok(after >= handshakeTimeoutMs - 50, `${name} closed after ${after} ms, before the timeout`);
    }
    // Idle connections past the handshake are left alone, and served when they speak.
    await new Promise((r) => setTimeout(r, 3 * handshakeTimeoutMs));
    assert.equal(good.isClosed, false, 'an idle connection after the handshake stays open');
    good.socket.write(echoRequest(1, 'late'));
    await waitFor(() => good.grpcStatus(1) !== undefined, 'the answer on the idle connection');
    assert.equal(good.grpcStatus(1), '0');
    assert.equal(logged.filter((l) => l.includes('sent no HTTP/2 client preface in time')).length, 1, 'one line, rate-limited');
  });

  test('connections over the cap are refused at once while the open ones are served', async () => {
    const maxConnections = 4;
    const { socketPath, listener } = await listen('cap', { maxConnections });
    const first = grpcClient(socketPath);
    assert.equal(await echo(first, 'one'), 'one');
    const held: RawClient[] = [];
    for (let i = 1; i < maxConnections; i++) held.push(await rawClient(socketPath, CLIENT_PREFACE, SETTINGS));
    await waitFor(() => listener.connectionCount === maxConnections, 'the cap to be reached');

    const refusedLines = () => logged.filter((l) => l.includes('refusing connection: too many open'));
    for (let i = 0; i < 3; i++) {
      const extra = new RawClient(socketPath);
      raws.push(extra);
      extra.socket.write(Buffer.concat([CLIENT_PREFACE, SETTINGS]));
      await extra.closedWithin(2000, `connection ${maxConnections + 1 + i}`);
      assert.deepEqual(extra.frames, [], 'refused before any HTTP/2');
    }
    assert.equal(listener.connectionCount, maxConnections);
    assert.equal(refusedLines().length, 1, 'one line for three refusals');

    // The connections under the cap still work: the grpc-js one (had it been dropped, its
    // reconnection would have been refused) and a raw one.
    assert.equal(await echo(first, 'two'), 'two');
    held[0]!.socket.write(echoRequest(1, 'raw'));
    await waitFor(() => held[0]!.grpcStatus(1) !== undefined, 'the answer on a held connection');
    assert.equal(held[0]!.grpcStatus(1), '0');

    // A place freed is a place taken.
    held[1]!.socket.destroy();
    await waitFor(() => listener.connectionCount === maxConnections - 1, 'a place to free up');
    assert.equal(await echo(grpcClient(socketPath), 'three'), 'three');

    await listener.close();
    assert.ok(
      refusedLines().some((l) => l.includes('(2 more since the last such line)')),
      `the held refusals are counted when the listener closes: ${refusedLines().join('')}`,
    );
  });
});
