// The streaming server's WebSocket side, with `ws` as the client: exec over v5 (binary, stdin
// half-closed with the close message) and base64, the v4 Status, and port forwarding with its
// port-prefixed channels; TLS too.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { run } from '../../src/util/exec.js';
import { StreamingServer } from '../../src/streaming/server.js';
import { hostRuntime, type StandInLog } from '../support/fake-cri-streaming.js';
import { floodWithoutReading, webSocketPing } from '../support/hostile-client.js';
import { waitFor } from '../support/wait-for.js';

interface Received {
  channels: Map<number, Buffer[]>;
  closed: Promise<number>;
}

/** Connects with `protocols` and records every message by channel (decoding base64 ones). */
async function wsConnect(url: string, protocols: string[], opts: WebSocket.ClientOptions = {}): Promise<{ ws: WebSocket; got: Received }> {
  const ws = new WebSocket(url.replace(/^http/, 'ws'), protocols, opts);
  const got: Received = { channels: new Map(), closed: new Promise((resolve) => ws.once('close', (code) => resolve(code))) };
  ws.on('message', (data: Buffer, isBinary) => {
    const channel = isBinary ? (data[0] ?? -1) : (data[0] ?? 0) - 0x30;
    const payload = isBinary ? data.subarray(1) : Buffer.from(data.toString('latin1', 1), 'base64');
    const list = got.channels.get(channel) ?? [];
    list.push(payload);
    got.channels.set(channel, list);
  });
  await new Promise<void>((resolve, reject) => ws.once('open', () => resolve()).once('error', reject));
  return { ws, got };
}

const text = (got: Received, ch: number) => Buffer.concat(got.channels.get(ch) ?? []).toString();

describe('WebSocket streaming', () => {
  const seen: StandInLog = { resizes: [], execs: [], attaches: [], running: 0 };
  const server = new StreamingServer({ runtime: hostRuntime(seen) });
  let echo: net.Server;
  let echoPort = 0;
  const sockets: WebSocket[] = [];

  before(async () => {
    await server.start();
    echo = net.createServer((s) => s.pipe(s));
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    const addr = echo.address();
    if (!addr || typeof addr === 'string') throw new Error('no echo port');
    echoPort = addr.port;
  });
  after(async () => {
    for (const ws of sockets) ws.terminate();
    await server.close();
    await new Promise<void>((resolve) => echo.close(() => resolve()));
  });

  test('exec over v5: stdin, half-closed with the close message; stdout, stderr and a Success status', async () => {
    const url = server.getExec({ containerId: 'c', cmd: ['sh', '-c', 'cat; echo oops >&2'], tty: false, stdin: true, stdout: true, stderr: true });
    const { ws, got } = await wsConnect(url, ['v5.channel.k8s.io', 'v4.channel.k8s.io']);
    sockets.push(ws);
    assert.equal(ws.protocol, 'v5.channel.k8s.io');
    ws.send(Buffer.concat([Buffer.from([0]), Buffer.from('hello\n')]));
    ws.send(Buffer.from([255, 0]));
    assert.equal(await got.closed, 1000);
    assert.equal(text(got, 1), 'hello\n');
    assert.equal(text(got, 2), 'oops\n');
    assert.deepEqual(JSON.parse(text(got, 3)), { metadata: {}, status: 'Success' });
    assert.deepEqual(got.channels.get(1)?.[0], Buffer.alloc(0), 'the first message is the empty "ready" one on stdout');
  });

  test('exec over v4 base64: text frames, and the exit code in the Status', async () => {
    const url = server.getExec({ containerId: 'c', cmd: ['sh', '-c', 'echo out; exit 4'], tty: false, stdin: false, stdout: true, stderr: false });
    const { ws, got } = await wsConnect(url, ['v4.base64.channel.k8s.io']);
    sockets.push(ws);
    await got.closed;
    assert.equal(text(got, 1), 'out\n');
    const status = JSON.parse(text(got, 3));
    assert.equal(status.reason, 'NonZeroExitCode');
    assert.deepEqual(status.details.causes, [{ reason: 'ExitCode', message: '4' }]);
  });

  test('exec with a TTY: resize messages on channel 4 reach the runtime', async () => {
    seen.resizes.length = 0;
    const url = server.getExec({ containerId: 'c', cmd: ['sh', '-c', 'read x'], tty: true, stdin: true, stdout: true, stderr: false });
    const { ws, got } = await wsConnect(url, ['v4.channel.k8s.io']);
    sockets.push(ws);
    ws.send(Buffer.concat([Buffer.from([4]), Buffer.from('{"Width":132,"Height":43}')]));
    await waitFor(() => seen.resizes.length > 0, 'the resize');
    ws.send(Buffer.concat([Buffer.from([0]), Buffer.from('line\n')]));
    await got.closed;
    assert.deepEqual(seen.resizes, [{ width: 132, height: 43 }]);
  });

  test('an unsupported subprotocol is refused before the upgrade', async () => {
    const url = server.getExec({ containerId: 'c', cmd: ['true'], tty: false, stdin: false, stdout: true, stderr: false });
    await assert.rejects(wsConnect(url, ['v9.channel.k8s.io']), /400/);
  });

  // A token is good for the route it was issued on only (kubelet's streaming server keys its cache
  // by token and checks the request's kind): an exec token used for attach or port-forward, or the
  // other way round, is 404, and nothing runs.
  test('a token used on another route than its own is refused with 404, and nothing runs', async () => {
    const execsBefore = seen.execs.length;
    const attachesBefore = seen.attaches.length;
    const exec = () => server.getExec({ containerId: 'c', cmd: ['echo', 'wrong-route'], tty: false, stdin: false, stdout: true, stderr: false });
    const attach = () => server.getAttach({ containerId: 'c', tty: false, stdin: false, stdout: true, stderr: false });
    const forward = () => server.getPortForward({ podSandboxId: 'p', ports: [echoPort] });
    for (const [url, from, to] of [
      [exec(), '/exec/', '/attach/'],
      [exec(), '/exec/', '/portforward/'],
      [attach(), '/attach/', '/exec/'],
      [forward(), '/portforward/', '/exec/'],
    ] as const) {
      const protocols = to === '/portforward/' ? ['v4.channel.k8s.io', 'portforward.k8s.io'] : ['v5.channel.k8s.io'];
      await assert.rejects(wsConnect(url.replace(from, to), protocols), /404/, `${from} token on ${to}`);
    }
    assert.equal(seen.execs.length, execsBefore);
    assert.equal(seen.attaches.length, attachesBefore);
  });

  test('port forward: each channel opens with the port, data goes both ways, and an unreachable port reports on its error channel', async () => {
    const closedPort = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const a = s.address();
        s.close(() => resolve(a && typeof a !== 'string' ? a.port : 1));
      });
    });
    const url = server.getPortForward({ podSandboxId: 'pod', ports: [] });
    const { ws, got } = await wsConnect(`${url}?port=${echoPort}&port=${closedPort}`, ['v4.channel.k8s.io']);
    sockets.push(ws);
    const le = (p: number) => Buffer.from([p & 0xff, p >> 8]);
    await waitFor(() => (got.channels.get(3)?.length ?? 0) >= 2, 'the error of the unreachable port');
    assert.deepEqual(got.channels.get(0)?.[0], le(echoPort));
    assert.deepEqual(got.channels.get(1)?.[0], le(echoPort));
    assert.deepEqual(got.channels.get(2)?.[0], le(closedPort));
    assert.match(Buffer.concat(got.channels.get(3)?.slice(1) ?? []).toString(), /ECONNREFUSED/);
    ws.send(Buffer.concat([Buffer.from([0]), Buffer.from('ping through the pod')]));
    await waitFor(() => Buffer.concat(got.channels.get(0)?.slice(1) ?? []).toString() === 'ping through the pod', 'the echo');
    ws.close();
    await got.closed;
    await waitFor(() => server.sessionCount === 0, 'the sessions to end');
  });

  test('over TLS', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crib-stream-tls-'));
    try {
      const key = path.join(dir, 'key.pem');
      const cert = path.join(dir, 'cert.pem');
      await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1'], {
        timeoutMs: 30_000,
      });
      const tls = new StreamingServer({ runtime: hostRuntime(seen), tls: { cert: fs.readFileSync(cert), key: fs.readFileSync(key) } });
      await tls.start();
      try {
        // Longer than a connection may go without showing a token (5 s): the TLS socket that showed
        // one is known as the TCP connection under it, and left alone.
        const url = tls.getExec({ containerId: 'c', cmd: ['sh', '-c', 'sleep 6; echo secret'], tty: false, stdin: false, stdout: true, stderr: false });
        assert.match(url, /^https:\/\/127\.0\.0\.1:\d+\/exec\//);
        const { ws, got } = await wsConnect(url, ['v4.channel.k8s.io'], { rejectUnauthorized: false });
        sockets.push(ws);
        await got.closed;
        assert.equal(text(got, 1), 'secret\n');
      } finally {
        await tls.close();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a client that sends PINGs and never reads the pongs is cut off, not buffered for', async () => {
    const total = 64 * 1024 * 1024;
    const url = server.getExec({ containerId: 'c', cmd: ['sleep', '60'], tty: false, stdin: false, stdout: true, stderr: false });
    const flood = await floodWithoutReading(url, { to: 'websocket', protocol: 'v5.channel.k8s.io' }, webSocketPing(), total);
    flood.socket.destroy();
    assert.ok(flood.closedByServer && flood.written < total, `the server hung up (after ${flood.written} of ${total} bytes)`);
    await waitFor(() => server.sessionCount === 0, 'the session to end');
  });
});
