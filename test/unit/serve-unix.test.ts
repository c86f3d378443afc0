// listenUnix end to end: a real grpc-js server behind the socket, raw HTTP/2 clients, grpc-js
// clients and byte-for-byte replays of crictl's captured connections. (The rewriter and HPACK on
// their own: h2-authority.test.ts.)
//
// Everything talks over unix sockets in a temp dir only; everything the tests open is closed in
// `after` hooks, so the process exits on its own.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { encodeHeaderBlock } from '../../src/socket/h2/hpack.js';
import { CLIENT_PREFACE, FrameFlag, FrameType, H2ErrorCode } from '../../src/socket/h2/authority-rewriter.js';
import { listenUnix, type UnixListener } from '../../src/socket/serve-unix.js';
import { repoRoot } from '../../src/util/paths.js';
import { FrameReader, HeaderBlockAssembler, grpcStatus, replay, type Frame } from '../support/h2-replay.js';
import { frame, grpcFrame } from '../support/h2-frames.js';
import { unaryCall, unaryMethod } from '../support/grpc-bytes.js';
import { waitFor } from '../support/wait-for.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const fixturesDir = path.join(repoRoot, 'test/fixtures/cri-wire/connections');

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
