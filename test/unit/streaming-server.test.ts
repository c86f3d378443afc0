// The streaming server's refusals, as a client on 127.0.0.1 sees them on the wire: what is not an
// upgrade, a route or method kubelet's server does not have, a token that is unknown, used or for
// another route, upgrade headers that name no protocol crib speaks, the session cap, a request
// larger than any HTTP server takes. Each refusal is an HTTP status with a message saying why
// (kubelet's texts where kubelet has one), and the server goes on serving.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { CribError } from '../../src/util/errors.js';
import { StreamingServer } from '../../src/streaming/server.js';
import type { ExecRequest, ProcessStreams, StreamingRuntime } from '../../src/streaming/types.js';
import { TestSpdyClient } from '../support/spdy-client.js';
import { waitFor } from '../support/wait-for.js';

interface Answer {
  status: number;
  headers: Map<string, string[]>;
  body: string;
}

/** Sends one raw HTTP/1.1 request and reads the answer until the server closes the connection. */
async function ask(base: string, method: string, path: string, headers: readonly string[]): Promise<Answer> {
  const u = new URL(base);
  const socket = net.connect({ host: u.hostname, port: Number(u.port) });
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  socket.write([`${method} ${path} HTTP/1.1`, `Host: ${u.host}`, ...headers, '', ''].join('\r\n'));
  // A refusal closes the connection; a 101 leaves it open: stop at the end of the head then.
  await new Promise<void>((resolve) => {
    socket.once('close', () => resolve());
    socket.on('data', () => {
      if (Buffer.concat(chunks).toString('latin1').startsWith('HTTP/1.1 101 ')) resolve();
    });
    socket.on('error', () => {});
  });
  socket.destroy();
  const raw = Buffer.concat(chunks).toString();
  const [head = '', body = ''] = raw.split('\r\n\r\n', 2);
  const [statusLine = '', ...lines] = head.split('\r\n');
  const answerHeaders = new Map<string, string[]>();
  for (const line of lines) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).toLowerCase();
    answerHeaders.set(name, [...(answerHeaders.get(name) ?? []), line.slice(colon + 1).trim()]);
  }
  return { status: Number(/^HTTP\/1\.1 (\d{3}) /.exec(statusLine)?.[1] ?? 0), headers: answerHeaders, body };
}

const SPDY = ['Connection: Upgrade', 'Upgrade: SPDY/3.1'];
const V4 = 'X-Stream-Protocol-Version: v4.channel.k8s.io';

/** exec records its request and holds the session until the client goes away. */
function holdingRuntime(execs: ExecRequest[]): StreamingRuntime {
  return {
    async exec(req: ExecRequest, io: ProcessStreams) {
      execs.push(req);
      if (!io.signal.aborted) await new Promise((resolve) => io.signal.addEventListener('abort', resolve, { once: true }));
      return { exitCode: 0 };
    },
    async attach() {},
    portForward: () => Promise.reject(new Error('not here')),
  };
}

describe('streaming server refusals', () => {
  const execs: ExecRequest[] = [];
  const server = new StreamingServer({ runtime: holdingRuntime(execs), maxStreams: 1, streamCreationTimeoutMs: 60_000 });
  const clients: TestSpdyClient[] = [];
  const exec = (cmd = ['true']) => server.getExec({ containerId: 'c', cmd, tty: false, stdin: false, stdout: true, stderr: false });
  const pathOf = (url: string) => new URL(url).pathname;

  before(() => server.start());
  after(async () => {
    for (const c of clients) c.close();
    await server.close();
  });

  test('a request that does not upgrade is 400 saying it must', async () => {
    const a = await ask(server.baseUrl, 'GET', pathOf(exec()), []);
    assert.equal(a.status, 400);
    assert.match(a.body, /streaming requests must upgrade the connection \(SPDY\/3\.1 or websocket\)\n/);
    assert.deepEqual(a.headers.get('connection'), ['close']);
  });

  // kubelet's routes: GET and POST on /exec/{token}, /attach/{token}, /portforward/{token}.
  test('a path or method kubelet does not route is 404, and leaves the token usable', async () => {
    const url = exec();
    const token = pathOf(url).split('/')[2] ?? '';
    for (const path of [`/run/${token}`, `/exec`, `/exec/`, `/exec/${token}/x`, `/x/exec/${token}`, `/exec/${token}.`, `/exec/a%2Fb`]) {
      const a = await ask(server.baseUrl, 'GET', path, [...SPDY, V4]);
      assert.equal(a.status, 404, path);
      assert.equal(a.body, 'not found\n', path);
    }
    for (const method of ['PUT', 'DELETE', 'PATCH']) {
      assert.equal((await ask(server.baseUrl, method, pathOf(url), [...SPDY, V4])).status, 404, method);
    }
    const { client, answer } = await TestSpdyClient.connect(url, ['v4.channel.k8s.io']);
    clients.push(client);
    assert.equal(answer.status, 101, 'the token still works after the refusals');
    client.close();
    await waitFor(() => server.sessionCount === 0, 'the session to end');
  });

  test('GET upgrades as POST does; a query string does not change the route', async () => {
    const a = await ask(server.baseUrl, 'GET', `${pathOf(exec())}?command=ignored`, [...SPDY, V4]);
    assert.equal(a.status, 101);
    assert.deepEqual(a.headers.get('x-stream-protocol-version'), ['v4.channel.k8s.io']);
    await waitFor(() => server.sessionCount === 0, 'the session to end');
  });

  test('an unknown token, a used one and one issued for another route are 404', async () => {
    assert.equal((await ask(server.baseUrl, 'POST', '/exec/AAAAAAAAAAAAAAAA', [...SPDY, V4])).status, 404);
    const forward = server.getPortForward({ podSandboxId: 'p', ports: [80] });
    const onExec = await ask(server.baseUrl, 'POST', pathOf(forward).replace('/portforward/', '/exec/'), [...SPDY, V4]);
    assert.equal(onExec.status, 404);
    assert.equal(onExec.body, 'not found\n');
    // Single use: the refusal consumed it (kubelet's cache deletes a token on first lookup).
    const again = await ask(server.baseUrl, 'POST', pathOf(forward), [...SPDY, 'X-Stream-Protocol-Version: portforward.k8s.io']);
    assert.equal(again.status, 404);
  });

  test('an upgrade to neither SPDY/3.1 nor websocket is 400 naming both', async () => {
    const a = await ask(server.baseUrl, 'POST', pathOf(exec()), ['Connection: Upgrade', 'Upgrade: h2c', V4]);
    assert.equal(a.status, 400);
    assert.equal(a.body, 'unable to upgrade: missing upgrade headers in request (Connection: Upgrade, Upgrade: SPDY/3.1 or websocket)\n');
  });

  // apimachinery's httpstream.Handshake: no X-Stream-Protocol-Version is 400, none in common is 403
  // with X-Accepted-Stream-Protocol-Versions listing the server's.
  test('SPDY without X-Stream-Protocol-Version is 400; with none in common 403 listing what the route speaks', async () => {
    const none = await ask(server.baseUrl, 'POST', pathOf(exec()), [...SPDY, 'X-Stream-Protocol-Version: ,']);
    assert.equal(none.status, 400);
    assert.equal(none.body, 'unable to upgrade: header X-Stream-Protocol-Version does not exist in request\n');

    const cmd = await ask(server.baseUrl, 'POST', pathOf(exec()), [...SPDY, 'X-Stream-Protocol-Version: portforward.k8s.io, v9.channel.k8s.io']);
    assert.equal(cmd.status, 403);
    const remote = ['v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io'];
    assert.equal(
      cmd.body,
      `unable to upgrade: unable to negotiate protocol: client supports [portforward.k8s.io v9.channel.k8s.io], server accepts [${remote.join(' ')}]\n`,
    );
    assert.deepEqual(cmd.headers.get('x-accepted-stream-protocol-versions'), remote);

    const forward = pathOf(server.getPortForward({ podSandboxId: 'p', ports: [80] }));
    const pf = await ask(server.baseUrl, 'POST', forward, [...SPDY, V4]);
    assert.equal(pf.status, 403);
    assert.deepEqual(pf.headers.get('x-accepted-stream-protocol-versions'), ['portforward.k8s.io']);
  });

  test('a WebSocket subprotocol the route does not speak is 400 naming what it does', async () => {
    const ws = ['Connection: Upgrade', 'Upgrade: websocket', 'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=='];
    const a = await ask(server.baseUrl, 'GET', pathOf(exec()), [...ws, 'Sec-WebSocket-Protocol: portforward.k8s.io']);
    assert.equal(a.status, 400);
    assert.match(a.body, /^requested protocol\(s\) are not supported: \[portforward\.k8s\.io\]; supports \[v5\.channel\.k8s\.io /);
    const forward = pathOf(server.getPortForward({ podSandboxId: 'p', ports: [80] }));
    const b = await ask(server.baseUrl, 'GET', forward, [...ws, 'Sec-WebSocket-Protocol: v5.channel.k8s.io']);
    assert.equal(b.status, 400);
    assert.equal(
      b.body,
      'requested protocol(s) are not supported: [v5.channel.k8s.io]; supports [portforward.k8s.io v4.channel.k8s.io v4.base64.channel.k8s.io]\n',
    );
  });

  test('beyond the session cap a client is 503 naming it, and gets in once a session ends', async () => {
    const { client, answer } = await TestSpdyClient.connect(exec(['held']), ['v4.channel.k8s.io']);
    clients.push(client);
    assert.equal(answer.status, 101);
    await client.open({ streamtype: 'error' });
    await client.open({ streamtype: 'stdout' });
    await waitFor(() => execs.some((e) => e.cmd[0] === 'held'), 'the held exec to start');
    const refused = await ask(server.baseUrl, 'POST', pathOf(exec()), [...SPDY, V4]);
    assert.equal(refused.status, 503);
    assert.equal(refused.body, 'too many streaming sessions (1)\n');
    client.close();
    await waitFor(() => server.sessionCount === 0, 'the held session to end');
    assert.equal((await ask(server.baseUrl, 'POST', pathOf(exec()), [...SPDY, V4])).status, 101);
    await waitFor(() => server.sessionCount === 0, 'the session to end');
  });

  // Go's net/http takes at most 1 MiB of request head (DefaultMaxHeaderBytes), Node 16 KiB: a 2 MiB
  // head is over both. The connection is cut without a session and the server goes on.
  test('a request head larger than any HTTP server takes is cut off; the server goes on', async () => {
    const a = await ask(server.baseUrl, 'POST', pathOf(exec()), [...SPDY, V4, `X-Padding: ${'a'.repeat(2 * 1024 * 1024)}`]);
    assert.notEqual(a.status, 101);
    assert.equal(server.sessionCount, 0);
    assert.equal((await ask(server.baseUrl, 'POST', pathOf(exec()), [...SPDY, V4])).status, 101);
    await waitFor(() => server.sessionCount === 0, 'the session to end');
  });

  test('the request stored under a token is a copy: changing the caller’s afterwards changes nothing', async () => {
    const cmd = ['echo', 'stored'];
    const url = exec(cmd);
    cmd[1] = 'changed';
    const { client, answer } = await TestSpdyClient.connect(url, ['v4.channel.k8s.io']);
    clients.push(client);
    assert.equal(answer.status, 101);
    await client.open({ streamtype: 'error' });
    await client.open({ streamtype: 'stdout' });
    await waitFor(() => execs.some((e) => e.cmd[0] === 'echo'), 'the exec to start');
    assert.deepEqual(execs.find((e) => e.cmd[0] === 'echo')?.cmd, ['echo', 'stored']);
    client.close();
    await waitFor(() => server.sessionCount === 0, 'the session to end');
  });
});

describe('streaming server lifecycle', () => {
  test('no URL before start or after close (Unavailable); an IPv6 address is bracketed in it', async () => {
    const server = new StreamingServer({ runtime: holdingRuntime([]), address: '::1' });
    const unavailable = (err: unknown) => err instanceof CribError && err.kind === 'Unavailable';
    assert.throws(() => server.baseUrl, unavailable);
    assert.throws(() => server.getAttach({ containerId: 'c', tty: false, stdin: false, stdout: true, stderr: false }), unavailable);
    await server.start();
    try {
      assert.match(server.baseUrl, /^http:\/\/\[::1\]:\d+$/);
      assert.match(
        server.getAttach({ containerId: 'c', tty: false, stdin: false, stdout: true, stderr: false }),
        /^http:\/\/\[::1\]:\d+\/attach\/[A-Za-z0-9_-]+$/,
      );
    } finally {
      await server.close();
    }
    assert.throws(() => server.baseUrl, unavailable);
  });

  test('close ends open sessions: their runtime calls see the abort and return', async () => {
    const execs: ExecRequest[] = [];
    const server = new StreamingServer({ runtime: holdingRuntime(execs), streamCreationTimeoutMs: 60_000 });
    await server.start();
    const exec = () => server.getExec({ containerId: 'c', cmd: ['held'], tty: false, stdin: false, stdout: true, stderr: false });
    const { client, answer } = await TestSpdyClient.connect(exec(), ['v4.channel.k8s.io']);
    try {
      assert.equal(answer.status, 101);
      await client.open({ streamtype: 'error' });
      await client.open({ streamtype: 'stdout' });
      await waitFor(() => execs.length === 1, 'the exec to start');
      assert.equal(server.sessionCount, 1);
      await server.close();
      assert.equal(server.sessionCount, 0);
      await waitFor(() => client.closed, 'the client to see the close');
    } finally {
      client.close();
    }
  });
});
