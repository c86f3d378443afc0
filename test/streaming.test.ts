// Exec, Attach and PortForward on a real cribd with real pods, driven by the real crictl (SPDY/3.1)
// and by crib's own CLI (WebSocket): output and exit codes, stdin, a terminal under tmux with a
// resize, attach to a container's stdin, a 100 MB port-forward, and clients killed mid-stream.
// The tests that drive crictl are skipped where the machine has none (test/support/crictl.ts).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { call } from '../src/client/client.js';
import type { ContainerConfig } from '../src/cri/generated/runtime/v1/ContainerConfig.js';
import { run, runCapture, type Completed } from '../src/util/exec.js';
import { repoRoot } from '../src/util/paths.js';
import { TEST_IMAGE, cribdWithBusybox } from '../support/busybox-image.js';
import { crictl, withoutCrictl } from './support/crictl.js';
import { freePort } from '../support/registry.js';
import { TestSpdyClient } from './support/spdy-client.js';
import { waitFor } from './support/wait-for.js';

const BIG_MB = 100;

describe('streaming on a real cribd: crictl (SPDY) and the crib CLI (WebSocket)', () => {
  const h = cribdWithBusybox({ shared: true });
  let podId = '';
  let web = '';
  let bigSha = '';
  const children = new Set<ChildProcess>();

  const crictlArgs = (args: string[]) => ['--runtime-endpoint', `unix://${h.socket}`, '--timeout', '30s', ...args];
  const runCrictl = (args: string[], stdin?: string): Promise<Completed> => runCapture(crictl, crictlArgs(args), { stdin, timeoutMs: 60_000 });
  const cribArgs = (args: string[]) => [path.join(repoRoot, 'bin', 'crib'), '--socket', h.socket, ...args];
  const runCrib = (args: string[], stdin?: string): Promise<Completed> => runCapture(process.execPath, cribArgs(args), { stdin, timeoutMs: 60_000 });
  /** A client that stays up (port-forward, a fed exec); ended by its PID. */
  const start = (cmd: string, args: string[]): ChildProcess => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    children.add(child);
    child.once('exit', () => children.delete(child));
    return child;
  };
  const exited = (child: ChildProcess) => new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(undefined) : child.once('exit', r)));

  async function container(name: string, command: string[], extra: Partial<ContainerConfig> = {}): Promise<string> {
    const config: ContainerConfig = { metadata: { name }, image: { image: TEST_IMAGE }, command, log_path: `${name}.log`, ...extra };
    const id = (await call(h.runtime, 'CreateContainer', { pod_sandbox_id: podId, config, sandbox_config: h.podConfig('streams') })).container_id;
    await call(h.runtime, 'StartContainer', { container_id: id });
    return id;
  }
  const inContainer = async (id: string, cmd: string[]) => (await call(h.runtime, 'ExecSync', { container_id: id, cmd, timeout: '60' })).stdout.toString();

  /**
   * crib-io processes a stream started for this cribd (their arguments name its state dir or its
   * bundles); not the pods' pause monitors (`crib-io monitor`), which live as long as their pods.
   */
  const cribIoProcesses = () =>
    fs
      .readdirSync('/proc')
      .filter((p) => /^\d+$/.test(p))
      .flatMap((p) => {
        try {
          const cmd = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8');
          const [program, sub] = cmd.split('\0');
          return program === path.join(repoRoot, 'build', 'crib-io') && sub !== 'monitor' && cmd.includes(h.base) ? [`${p}: ${cmd.replaceAll('\0', ' ')}`] : [];
        } catch {
          return [];
        }
      });

  before(async () => {
    // A pod with a web server holding a 100 MB file, and nothing published.
    podId = await h.runPod('streams');
    web = await container('web', [
      'sh',
      '-c',
      `mkdir /srv; echo hello-from-the-pod > /srv/index.html; dd if=/dev/urandom of=/srv/big bs=1M count=${BIG_MB} 2>/dev/null; echo ready; httpd -f -p 8080 -h /srv`,
    ]);
    await waitFor(
      async () => (await inContainer(web, ['sh', '-c', 'test -s /srv/big && wget -q -O - http://127.0.0.1:8080/index.html || true'])).includes('hello'),
      'the web server',
      60_000,
    );
    bigSha = (await inContainer(web, ['sha256sum', '/srv/big'])).split(' ')[0] ?? '';
  });
  after(() => {
    for (const c of children) if (c.pid) process.kill(c.pid, 'SIGKILL');
  });

  it('crictl exec: output, stderr apart, the exit code; -i passes stdin', { skip: withoutCrictl }, async () => {
    const r = await runCrictl(['exec', web, 'sh', '-c', 'echo out; echo err >&2; exit 3']);
    assert.equal(r.stdout.toString(), 'out\n');
    assert.match(r.stderr.toString(), /^err\n.*command terminated with exit code 3/s);
    const i = await runCrictl(['exec', '-i', web, 'sh', '-c', 'cat; echo done'], 'line one\nline two\n');
    assert.equal(i.code, 0, i.stderr.toString());
    assert.equal(i.stdout.toString(), 'line one\nline two\ndone\n');
  });

  it('crib exec -i over WebSocket: stdin, output and the exit code', async () => {
    const r = await runCrib(['exec', '-i', web, '--', 'sh', '-c', 'cat; echo err >&2; exit 5'], 'through websocket\n');
    assert.equal(r.code, 5, r.stderr.toString());
    assert.equal(r.stdout.toString(), 'through websocket\n');
    assert.equal(r.stderr.toString(), 'err\n');
  });

  for (const client of ['crictl', 'crib'] as const) {
    it(`${client} exec -it: a terminal under tmux, its prompt, a resize, the exit code`, { skip: client === 'crictl' && withoutCrictl }, async () => {
      const sock = path.join(h.base, `tmux-${client}`);
      const tmux = (...args: string[]) => run('tmux', ['-S', sock, ...args]);
      const cmd = client === 'crictl' ? [crictl, ...crictlArgs(['exec', '-it', web, 'sh'])] : [process.execPath, ...cribArgs(['exec', '-it', web, '--', 'sh'])];
      const quoted = cmd.map((a) => `'${a}'`).join(' ');
      await tmux('new-session', '-d', '-x', '100', '-y', '30', '-s', 't', `${quoted}; echo CLIENT-EXIT=$?; sleep 60`);
      try {
        const screen = async () => (await tmux('capture-pane', '-p', '-t', 't')).stdout;
        await waitFor(
          async () => /^\/ #\s*$/m.test(await screen()),
          async () => `the shell's prompt:\n${await screen()}`,
          20_000,
        );
        await tmux('send-keys', '-t', 't', 'stty size; tty', 'Enter');
        await waitFor(async () => /^30 100$/m.test(await screen()), 'the first size (30 rows, 100 columns)', 20_000);
        assert.match(await screen(), /\/dev\/pts\/\d+/);
        await tmux('resize-window', '-t', 't', '-x', '120', '-y', '40');
        // The resize travels (client, server, runtime, container terminal) while we ask: ask until it shows.
        await waitFor(
          async () => {
            await tmux('send-keys', '-t', 't', 'clear; stty size', 'Enter');
            await new Promise((r) => setTimeout(r, 200));
            return /^40 120$/m.test(await screen());
          },
          async () => `the size after the resize (40 rows, 120 columns):\n${await screen()}`,
          20_000,
        );
        await tmux('send-keys', '-t', 't', 'exit 7', 'Enter');
        const code = client === 'crictl' ? /exit code 7[\s\S]*CLIENT-EXIT=1|CLIENT-EXIT=7/ : /CLIENT-EXIT=7/;
        await waitFor(
          async () => code.test(await screen()),
          async () => `the client's exit:\n${await screen()}`,
          20_000,
        );
      } finally {
        await tmux('kill-server').catch(() => undefined);
      }
    });
  }

  it('attach: crictl and crib reach a container created with stdin, and see its output', { skip: withoutCrictl }, async () => {
    const echo = await container('echo', ['sh', '-c', 'while read l; do echo got:$l; done'], { stdin: true, stdin_once: true });
    const r = await runCrictl(['attach', '-i', echo], 'hello\nworld\n');
    assert.equal(r.stdout.toString(), 'got:hello\ngot:world\n', r.stderr.toString());
    // stdin_once: the first attach's end closed the container's stdin, so it has exited.
    await waitFor(async () => (await call(h.runtime, 'ContainerStatus', { container_id: echo })).status?.state === 2, 'the container to exit');

    const again = await container('echo2', ['sh', '-c', 'while read l; do echo got:$l; done; echo bye'], { stdin: true, stdin_once: true });
    const c = await runCrib(['attach', '-i', again], 'via crib\n');
    assert.equal(c.code, 0, c.stderr.toString());
    assert.equal(c.stdout.toString(), 'got:via crib\nbye\n');
  });

  for (const client of ['crictl', 'crib'] as const) {
    it(
      `${client} port-forward: an HTTP request and ${BIG_MB} MB intact, to a port nothing publishes`,
      { skip: client === 'crictl' && withoutCrictl },
      async () => {
        const local = await freePort();
        const args = ['port-forward', podId, `${local}:8080`];
        const fwd = client === 'crictl' ? start(crictl, crictlArgs(args)) : start(process.execPath, cribArgs(args));
        try {
          let said = '';
          fwd.stdout?.on('data', (b: Buffer) => (said += b.toString()));
          await waitFor(
            () => said.includes('Forwarding from'),
            () => `the forward to start: ${said}`,
            20_000,
          );
          const index = await get(local, '/index.html');
          assert.equal(index.text, 'hello-from-the-pod\n');
          const big = await get(local, '/big');
          assert.equal(big.length, BIG_MB * 1024 * 1024);
          assert.equal(big.sha, bigSha);
        } finally {
          if (fwd.pid) process.kill(fwd.pid, 'SIGTERM');
          await exited(fwd);
        }
        await waitFor(
          () => cribIoProcesses().length === 0,
          () => `crib-io processes to end: ${cribIoProcesses().join('; ')}`,
          10_000,
        );
      },
    );
  }

  // kubelet's streaming server (portforward/httpstream.go): a pair of streams whose port nothing
  // listens on gets the dial error written on its error stream, both streams closed, and the
  // connection stays up for the client's next pair.
  it('port-forward to a closed port: the error stream says why, both streams end, the session and cribd go on', async () => {
    const { url } = await call(h.runtime, 'PortForward', { pod_sandbox_id: podId, port: [8080] });
    const { client, answer } = await TestSpdyClient.connect(url, ['portforward.k8s.io']);
    try {
      assert.equal(answer.status, 101);
      assert.equal(answer.headers.get('x-stream-protocol-version'), 'portforward.k8s.io');
      // As kubectl and crictl pair them: the error stream first, one requestID, the port on both.
      const closedError = await client.open({ streamtype: 'error', port: '9', requestid: '0' });
      const closedData = await client.open({ streamtype: 'data', port: '9', requestid: '0' });
      await client.waitFin(closedError, 20_000);
      await client.waitFin(closedData, 20_000);
      assert.match(client.received(closedError).toString(), /^error forwarding port 9 of pod [0-9a-f]+: .*connection refused/i);
      assert.equal(client.received(closedData).length, 0);
      assert.equal(client.closed, false, 'the session stays open');

      const openError = await client.open({ streamtype: 'error', port: '8080', requestid: '1' });
      const openData = await client.open({ streamtype: 'data', port: '8080', requestid: '1' });
      client.send(openData, 'GET /index.html HTTP/1.0\r\n\r\n', true);
      await client.waitFin(openData, 20_000);
      assert.match(client.received(openData).toString(), /^HTTP\/1\.[01] 200 .*\r\n\r\nhello-from-the-pod\n$/s);
      await client.waitFin(openError, 20_000);
      assert.equal(client.received(openError).toString(), '');
    } finally {
      client.close();
    }
    const status = await call(h.runtime, 'PodSandboxStatus', { pod_sandbox_id: podId });
    assert.equal(status.status?.state, 0, 'cribd still serves the CRI: the pod is SANDBOX_READY');
    await waitFor(
      () => cribIoProcesses().length === 0,
      () => `crib-io processes to end: ${cribIoProcesses().join('; ')}`,
      10_000,
    );
  });

  it('a client killed mid-stream leaves nothing: the exec is killed, the port connection closed', { skip: withoutCrictl }, async () => {
    const execing = start(crictl, crictlArgs(['exec', web, 'sleep', '4242']));
    await waitFor(async () => (await inContainer(web, ['ps', '-o', 'args'])).includes('sleep 4242'), 'the exec to start', 20_000);
    if (execing.pid) process.kill(execing.pid, 'SIGKILL');
    await waitFor(async () => !(await inContainer(web, ['ps', '-o', 'args'])).includes('sleep 4242'), 'the exec to be killed', 20_000);

    const local = await freePort();
    const fwd = start(crictl, crictlArgs(['port-forward', podId, `${local}:8080`]));
    let said = '';
    fwd.stdout?.on('data', (b: Buffer) => (said += b.toString()));
    await waitFor(() => said.includes('Forwarding from'), 'the forward to start', 20_000);
    const req = http.get({ host: '127.0.0.1', port: local, path: '/big', agent: false });
    await new Promise<void>((resolve, reject) => req.once('response', (res) => res.once('data', () => resolve())).once('error', reject));
    assert.ok(cribIoProcesses().length > 0, 'crib-io carries the connection');
    if (fwd.pid) process.kill(fwd.pid, 'SIGKILL');
    req.destroy();
    await exited(fwd);
    await waitFor(
      () => cribIoProcesses().length === 0,
      () => `crib-io processes to end: ${cribIoProcesses().join('; ')}`,
      20_000,
    );
  });
});

/** GET through a local port: the status, the body's sha256 and length, and the text of a short body. */
function get(port: number, urlPath: string): Promise<{ sha: string; length: number; text: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: urlPath, agent: false }, (res) => {
        const hash = createHash('sha256');
        let length = 0;
        let text = '';
        res.on('data', (c: Buffer) => {
          hash.update(c);
          length += c.length;
          if (text.length < 200) text += c.toString();
        });
        res.on('end', () => resolve({ sha: hash.digest('hex'), length, text }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}
