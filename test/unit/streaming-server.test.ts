// The streaming server's refusals, as a client on 127.0.0.1 sees them on the wire: what is not an
// upgrade, a route or method kubelet's server does not have, a token that is unknown, used or for
// another route, upgrade headers that name no protocol crib speaks, the session cap, a request
// larger than any HTTP server takes. Each refusal is an HTTP status with a message saying why
// (kubelet's texts where kubelet has one), and the server goes on serving.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import WebSocket from 'ws';
import { CribError } from '../../src/util/errors.js';
import { StreamingServer } from '../../src/streaming/server.js';
import type { AttachRequest, ExecRequest, ProcessStreams, StreamingRuntime } from '../../src/streaming/types.js';
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

interface Calls {
  attaches: AttachRequest[];
  forwards: string[];
  /** Why each exec's signal was aborted. */
  reasons: unknown[];
}

/** exec records its request and holds the session until the client goes away; attach and portForward record theirs. */
function holdingRuntime(execs: ExecRequest[], calls: Calls = { attaches: [], forwards: [], reasons: [] }): StreamingRuntime {
  return {
    async exec(req: ExecRequest, io: ProcessStreams) {
      execs.push(req);
      if (!io.signal.aborted) await new Promise((resolve) => io.signal.addEventListener('abort', resolve, { once: true }));
      calls.reasons.push(io.signal.reason);
      return { exitCode: 0 };
    },
    async attach(req: AttachRequest) {
      calls.attaches.push(req);
    },
    portForward: (pod: string, port: number) => {
      calls.forwards.push(`${pod}:${port}`);
      return Promise.reject(new Error('connection refused'));
    },
  };
}

const WS_HEAD = ['Connection: Upgrade', 'Upgrade: websocket', 'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=='];

describe('streaming server refusals', () => {
  const execs: ExecRequest[] = [];
  const calls: Calls = { attaches: [], forwards: [], reasons: [] };
  const server = new StreamingServer({ runtime: holdingRuntime(execs, calls), maxStreams: 1, streamCreationTimeoutMs: 60_000 });
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
    assert.deepEqual(a.headers.get('content-type'), ['text/plain; charset=utf-8']);
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
    const ws = WS_HEAD;
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

  // kubelet's wsstream: a client that names no subprotocol gets the plain binary channel protocol.
  test('a WebSocket client naming no subprotocol is served (binary channels); none offered compression', async () => {
    const ws = new WebSocket(exec(['no-subprotocol']).replace(/^http/, 'ws'), { perMessageDeflate: true });
    const upgraded = new Promise<Map<string, string>>((resolve) =>
      ws.once('upgrade', (res) => resolve(new Map(Object.entries(res.headers).map(([k, v]) => [k, String(v)])))),
    );
    await new Promise<void>((resolve, reject) => ws.once('open', () => resolve()).once('error', reject));
    const headers = await upgraded;
    assert.equal(ws.protocol, '');
    assert.equal(headers.get('sec-websocket-extensions'), undefined, 'permessage-deflate is not taken (a compression bomb needs it)');
    await waitFor(() => execs.some((e) => e.cmd[0] === 'no-subprotocol'), 'the exec to start');
    ws.terminate();
    await waitFor(() => server.sessionCount === 0, 'the session to end');
  });

  test('WebSocket port forward: the ports in the URL must be ports; without any, the CRI request’s are forwarded', async () => {
    const ws = [...WS_HEAD, 'Sec-WebSocket-Protocol: v4.channel.k8s.io'];
    const bad = await ask(server.baseUrl, 'GET', `${pathOf(server.getPortForward({ podSandboxId: 'p', ports: [80] }))}?port=0`, ws);
    assert.equal(bad.status, 400);
    assert.equal(bad.body, '"0" is not a port\n');
    const client = new WebSocket(server.getPortForward({ podSandboxId: 'pod-a', ports: [7777] }).replace(/^http/, 'ws'), ['v4.channel.k8s.io']);
    await new Promise<void>((resolve, reject) => client.once('open', () => resolve()).once('error', reject));
    await waitFor(() => calls.forwards.includes('pod-a:7777'), 'the runtime to be asked for port 7777 of pod-a');
    client.terminate();
    await waitFor(() => server.sessionCount === 0, 'the session to end');
  });

  test('the attach and port-forward requests stored under a token are the ones the runtime gets', async () => {
    const attach = server.getAttach({ containerId: 'ctr-b', tty: false, stdin: false, stdout: true, stderr: false });
    const a = await TestSpdyClient.connect(attach, ['v4.channel.k8s.io']);
    clients.push(a.client);
    await a.client.open({ streamtype: 'error' });
    await a.client.open({ streamtype: 'stdout' });
    await waitFor(() => calls.attaches.length === 1, 'the attach to start');
    assert.equal(calls.attaches[0]?.containerId, 'ctr-b');
    a.client.close();
    const forward = server.getPortForward({ podSandboxId: 'pod-c', ports: [8080] });
    const f = await TestSpdyClient.connect(forward, ['portforward.k8s.io']);
    clients.push(f.client);
    await f.client.open({ streamtype: 'error', port: '9090', requestid: '0' });
    await f.client.open({ streamtype: 'data', port: '9090', requestid: '0' });
    await waitFor(() => calls.forwards.includes('pod-c:9090'), 'the forward to be tried');
    f.client.close();
    await waitFor(() => server.sessionCount === 0, 'the sessions to end');
  });
});

describe('streaming server options', () => {
  test('port: the server listens there and says so in its URLs', async () => {
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const addr = probe.address();
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const port = typeof addr === 'object' && addr ? addr.port : 0;
    const server = new StreamingServer({ runtime: holdingRuntime([]), port });
    await server.start();
    try {
      assert.equal(server.baseUrl, `http://127.0.0.1:${port}`);
    } finally {
      await server.close();
    }
  });

  test('a port already taken: start fails with the listen error, and the server can start elsewhere after', async () => {
    const first = new StreamingServer({ runtime: holdingRuntime([]) });
    await first.start();
    try {
      const port = Number(new URL(first.baseUrl).port);
      const second = new StreamingServer({ runtime: holdingRuntime([]), port });
      await assert.rejects(second.start(), /EADDRINUSE/);
      await second.close();
    } finally {
      await first.close();
    }
  });

  test('tokenTtlMs: a token is refused once it is older', async () => {
    const server = new StreamingServer({ runtime: holdingRuntime([]), tokenTtlMs: 1 });
    await server.start();
    try {
      const url = server.getExec({ containerId: 'c', cmd: ['true'], tty: false, stdin: false, stdout: true, stderr: false });
      await new Promise((r) => setTimeout(r, 20));
      assert.equal((await ask(server.baseUrl, 'POST', new URL(url).pathname, [...SPDY, V4])).status, 404);
    } finally {
      await server.close();
    }
  });

  test('maxCachedRequests: beyond that many outstanding tokens a request is Unavailable, naming the bound', async () => {
    const server = new StreamingServer({ runtime: holdingRuntime([]), maxCachedRequests: 2 });
    await server.start();
    try {
      const exec = () => server.getExec({ containerId: 'c', cmd: ['true'], tty: false, stdin: false, stdout: true, stderr: false });
      exec();
      exec();
      assert.throws(
        exec,
        (err: unknown) => err instanceof CribError && err.kind === 'Unavailable' && err.message === 'too many streaming requests in flight (2); try again',
      );
    } finally {
      await server.close();
    }
  });
});

describe('streaming server lifecycle', () => {
  test('no URL before start or after close (Unavailable); an IPv6 address is bracketed in it', async () => {
    const server = new StreamingServer({ runtime: holdingRuntime([]), address: '::1' });
    const unavailable = (err: unknown) => err instanceof CribError && err.kind === 'Unavailable' && err.message === 'the streaming server is not running';
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

  test('close ends open sessions: their runtime calls see the abort (Unavailable: closing) and return', async () => {
    const execs: ExecRequest[] = [];
    const calls: Calls = { attaches: [], forwards: [], reasons: [] };
    const server = new StreamingServer({ runtime: holdingRuntime(execs, calls), streamCreationTimeoutMs: 60_000 });
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
      const [reason] = calls.reasons;
      assert.ok(reason instanceof CribError && reason.kind === 'Unavailable' && reason.message === 'the streaming server is closing', String(reason));
      await waitFor(() => client.closed, 'the client to see the close');
    } finally {
      client.close();
    }
  });
});
