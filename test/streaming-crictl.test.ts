// End to end with the real crictl (v1.26, Go's spdystream underneath, as kubelet and kubectl): a
// fake CRI socket answers Exec, Attach and PortForward with the StreamingServer's URLs and a
// stand-in runtime runs commands on this host. Proves exec (output, stdin, exit codes), attach,
// port-forward (an HTTP request, 100 MB each way intact), and that a crictl killed mid-stream
// leaves no session, timer or socket behind.
//
// crictl comes from the CRICTL environment variable, else PATH (scripts/test.sh sets CRICTL when
// the cri-tools build is beside the checkout). Without one it is skipped, and scripts/test.sh says so
// in one line after the summary; under .ci/run (CRIB_TEST_REQUIRE_TOOLS=1) it fails instead.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { runCapture, type Completed } from '../src/util/exec.js';
import { startFakeCri, type FakeCri } from './support/fake-cri-streaming.js';
import { crictl, withoutCrictl } from './support/crictl.js';
import { waitFor } from './support/wait-for.js';

const MiB = 1024 * 1024;
const BIG = 100 * MiB;

/** BIG bytes of a fixed pseudo-random pattern, in 1 MiB pieces, and their sha256. */
const piece = randomBytes(MiB);
const bigSha = (() => {
  const h = createHash('sha256');
  for (let i = 0; i < BIG / MiB; i++) h.update(piece);
  return h.digest('hex');
})();

/** The "pod": an HTTP server on 127.0.0.1 with a greeting, a 100 MB download and an upload digest. */
function podServer(): http.Server {
  return http.createServer((req, res) => {
    if (req.url === '/hello') {
      res.end('hello from the pod');
    } else if (req.url === '/big') {
      res.writeHead(200, { 'Content-Length': String(BIG) });
      let sent = 0;
      const pump = () => {
        while (sent < BIG) {
          sent += MiB;
          if (!res.write(piece)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    } else if (req.url === '/upload') {
      const h = createHash('sha256');
      let n = 0;
      req.on('data', (c: Buffer) => {
        h.update(c);
        n += c.length;
      });
      req.on('end', () => res.end(`${n} ${h.digest('hex')}`));
    } else {
      res.writeHead(404).end();
    }
  });
}

function fetchThrough(
  port: number,
  urlPath: string,
  body?: () => AsyncIterable<Buffer>,
): Promise<{ status: number; sha: string; length: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: urlPath, method: body ? 'POST' : 'GET', agent: false }, (res) => {
      const h = createHash('sha256');
      let length = 0;
      const head: Buffer[] = [];
      res.on('data', (c: Buffer) => {
        h.update(c);
        length += c.length;
        if (head.length < 4) head.push(c);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, sha: h.digest('hex'), length, text: Buffer.concat(head).toString().slice(0, 200) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (!body) return void req.end();
    void (async () => {
      for await (const chunk of body()) if (!req.write(chunk)) await new Promise((r) => req.once('drain', r));
      req.end();
    })();
  });
}

describe('crictl against the streaming server', () => {
  let dir = '';
  let cri: FakeCri;
  let pod: http.Server;
  let podPort = 0;
  const children = new Set<ChildProcess>();

  const crictlArgs = (args: string[]) => ['--runtime-endpoint', `unix://${cri.socketPath}`, '--timeout', '10s', ...args];
  const runCrictl = (args: string[], stdin?: string | Buffer): Promise<Completed> => runCapture(crictl, crictlArgs(args), { stdin, timeoutMs: 60_000 });
  /** A crictl that stays running (port-forward, or an exec fed by the test); ended by PID in `after`. */
  const startCrictl = (args: string[]): ChildProcess => {
    const child = spawn(crictl, crictlArgs(args), { stdio: ['pipe', 'pipe', 'pipe'] });
    children.add(child);
    child.once('exit', () => children.delete(child));
    return child;
  };

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crib-crictl-stream-'));
    cri = await startFakeCri(dir);
    pod = podServer();
    await new Promise<void>((resolve) => pod.listen(0, '127.0.0.1', resolve));
    const addr = pod.address();
    if (!addr || typeof addr === 'string') throw new Error('pod server has no port');
    podPort = addr.port;
  });

  after(async () => {
    for (const child of children) child.kill('SIGKILL');
    await cri?.close();
    pod?.closeAllConnections();
    await new Promise<void>((resolve) => (pod ? pod.close(() => resolve()) : resolve()));
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('exec: output and a zero exit', { skip: withoutCrictl }, async () => {
    const r = await runCrictl(['exec', 'ctr', 'echo', 'hi']);
    assert.equal(r.code, 0, r.stderr.toString());
    assert.equal(r.stdout.toString(), 'hi\n');
    assert.deepEqual(cri.seen.execs.at(-1), { containerId: 'ctr', cmd: ['echo', 'hi'], tty: false, stdin: false, stdout: true, stderr: true });
  });

  test('exec -i: 4 MiB of stdin through the command and back, intact', { skip: withoutCrictl }, async () => {
    const input = randomBytes(3 * MiB).toString('base64');
    const r = await runCrictl(['exec', '-i', 'ctr', 'cat'], input);
    assert.equal(r.code, 0, r.stderr.toString());
    assert.equal(r.stdout.length, input.length);
    assert.ok(r.stdout.toString() === input, 'the same bytes');
  });

  test('exec: stderr apart, and a non-zero exit code passed through', { skip: withoutCrictl }, async () => {
    const r = await runCrictl(['exec', 'ctr', 'sh', '-c', 'echo to-out; echo to-err >&2; exit 3']);
    assert.equal(r.stdout.toString(), 'to-out\n');
    assert.match(r.stderr.toString(), /to-err/);
    assert.match(r.stderr.toString(), /command terminated with exit code 3/);
    assert.notEqual(r.code, 0);
  });

  test('attach -i: stdin echoed back until it ends', { skip: withoutCrictl }, async () => {
    const r = await runCrictl(['attach', '-i', 'ctr'], 'attached line\n');
    assert.equal(r.code, 0, r.stderr.toString());
    assert.equal(r.stdout.toString(), 'attached line\n');
    assert.equal(cri.seen.attaches.at(-1)?.stdin, true);
  });

  test('port-forward: an HTTP request, 100 MB down and 100 MB up, intact', { skip: withoutCrictl }, async () => {
    const pf = startCrictl(['port-forward', 'pod', `0:${podPort}`]);
    let out = '';
    pf.stdout?.on('data', (c: Buffer) => (out += c.toString()));
    pf.stderr?.resume();
    await waitFor(
      () => /Forwarding from 127\.0\.0\.1:\d+/.test(out),
      () => `crictl to listen (said ${JSON.stringify(out)})`,
      10_000,
    );
    const local = Number(/Forwarding from 127\.0\.0\.1:(\d+)/.exec(out)?.[1]);
    const hello = await fetchThrough(local, '/hello');
    assert.equal(hello.status, 200);
    assert.equal(hello.text, 'hello from the pod');
    const down = await fetchThrough(local, '/big');
    assert.equal(down.length, BIG);
    assert.equal(down.sha, bigSha);
    const up = await fetchThrough(local, '/upload', async function* () {
      for (let i = 0; i < BIG / MiB; i++) yield piece;
    });
    assert.equal(up.text, `${BIG} ${bigSha}`);
    pf.kill('SIGTERM');
    await waitFor(() => cri.streaming.sessionCount === 0, 'the port-forward session to end', 10_000);
  });

  test('a crictl killed mid-stream leaves no session, runtime call, timer or socket', { skip: withoutCrictl }, async () => {
    const resources = () =>
      process
        .getActiveResourcesInfo()
        .filter((r) => r === 'Timeout' || r === 'TCPSocketWrap')
        .sort();
    const fds = () => fs.readdirSync('/proc/self/fd').length;
    const baseline = { resources: resources(), fds: fds() };

    const ex = startCrictl(['exec', '-i', 'ctr', 'cat']);
    ex.stdout?.resume();
    ex.stderr?.resume();
    ex.stdin?.write('still typing\n');
    await waitFor(() => cri.streaming.sessionCount === 1 && cri.seen.running === 1, 'the exec to be running');

    const pf = startCrictl(['port-forward', 'pod', `0:${podPort}`]);
    let out = '';
    pf.stdout?.on('data', (c: Buffer) => (out += c.toString()));
    pf.stderr?.resume();
    await waitFor(() => /Forwarding from 127\.0\.0\.1:\d+/.test(out), 'crictl port-forward to listen', 10_000);
    const local = Number(/Forwarding from 127\.0\.0\.1:(\d+)/.exec(out)?.[1]);
    const download = fetchThrough(local, '/big').catch((err: unknown) => err);
    await waitFor(() => cri.streaming.sessionCount === 2, 'the port-forward session');
    await new Promise((r) => setTimeout(r, 100)); // mid-transfer

    ex.kill('SIGKILL');
    pf.kill('SIGKILL');
    await download;
    await waitFor(
      () => cri.streaming.sessionCount === 0 && cri.seen.running === 0,
      () => `sessions to end (${cri.streaming.sessionCount} open, ${cri.seen.running} running)`,
      10_000,
    );
    await waitFor(
      () => JSON.stringify(resources()) === JSON.stringify(baseline.resources),
      () => `timers and sockets to settle (${resources().join(',')} vs ${baseline.resources.join(',')})`,
      10_000,
    );
    await waitFor(
      () => fds() <= baseline.fds,
      () => `fds to settle (${fds()} vs ${baseline.fds})`,
      10_000,
    );
  });
});
