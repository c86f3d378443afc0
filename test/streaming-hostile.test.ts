// Hostile clients of the streaming server, against a real cribd with a real pod: each is built as
// an attacker builds it (a client that hangs up at the worst moment, one that never reads, one that
// holds connections open), and while it runs cribd keeps serving the CRI and root's own streams,
// and its memory stays bounded.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import { call } from '../src/client/client.js';
import { encodeDataFrame, encodePing } from '../src/streaming/spdy/framer.js';
import { TEST_IMAGE, cribdWithBusybox } from './support/busybox-image.js';
import { floodWithoutReading, holdConnections, webSocketPing, type Upgrade } from './support/hostile-client.js';
import { TestSpdyClient } from './support/spdy-client.js';
import { waitFor } from './support/wait-for.js';
import { readProcStatus } from './support/harness.js';

/** The bound: cribd stays under this while any one hostile client runs. */
const MAX_CRIBD_RSS_MB = 200;
/** What the hostile clients send, in all: 64 MiB, the figure. */
const FLOOD_BYTES = 64 * 1024 * 1024;

describe('hostile streaming clients against a real cribd', () => {
  const h = cribdWithBusybox({ shared: true, flags: ['--metrics-address', '127.0.0.1:0'] });
  let ctr = '';

  before(async () => {
    const podId = await h.runPod('hostile');
    const config = { metadata: { name: 'idle' }, image: { image: TEST_IMAGE }, command: ['sleep', '100000'], log_path: 'idle.log' };
    ctr = (await call(h.runtime, 'CreateContainer', { pod_sandbox_id: podId, config, sandbox_config: h.podConfig('hostile') })).container_id;
    await call(h.runtime, 'StartContainer', { container_id: ctr });
  });

  const execUrl = async (cmd: string[]) => (await call(h.runtime, 'Exec', { container_id: ctr, cmd, stdin: true, stdout: true })).url;
  const rssMb = () => Number.parseInt(readProcStatus(h.daemon?.pid ?? 0)['VmRSS'] ?? '0', 10) / 1024;

  /** Processes on the node whose arguments `match`, as "PID: ARGS". */
  const processes = (match: (argv: string[]) => boolean) =>
    fs
      .readdirSync('/proc')
      .filter((p) => /^\d+$/.test(p))
      .flatMap((p) => {
        try {
          const argv = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').slice(0, -1);
          return match(argv) ? [`${p}: ${argv.join(' ')}`] : [];
        } catch {
          return [];
        }
      });
  /** The hostile execs' commands, and every runc exec of this cribd. */
  const leftovers = (marker: string) => [
    ...processes((argv) => argv.length === 2 && argv[0] === 'sleep' && argv[1] === marker),
    ...processes((argv) => argv.includes('exec') && argv.includes('--pid-file') && argv.some((a) => a.startsWith(h.base))),
  ];

  /** An exec session whose client has opened its streams; `then` runs right after the last SYN_STREAM is written. */
  async function execClient(cmd: string[]): Promise<TestSpdyClient> {
    const { client, answer } = await TestSpdyClient.connect(await execUrl(cmd), ['v4.channel.k8s.io']);
    assert.equal(answer.status, 101);
    for (const streamtype of ['error', 'stdin', 'stdout']) await client.open({ streamtype });
    return client;
  }

  it('an exec client that hangs up as runc exec starts leaves no runc and no command; cribd still serves, and exits on SIGTERM', async () => {
    const marker = '31337';
    // Hung up right after the last stream is opened: the session starts the exec for a client that is already gone.
    for (let i = 0; i < 8; i++) (await execClient(['sleep', marker])).close();
    // And hung up a moment later, while runc is still starting the command.
    for (let i = 0; i < 8; i++) {
      const c = await execClient(['sleep', marker]);
      await new Promise((r) => setTimeout(r, i * 5));
      c.close();
    }
    await waitFor(
      () => leftovers(marker).length === 0,
      () => `the execs to be killed and reaped:\n${leftovers(marker).join('\n')}`,
      20_000,
    );
    // The sessions are gone too: a well-behaved exec still runs and returns its output.
    const c = await execClient(['echo', 'still-serving']);
    c.send(3, '', true);
    await c.waitFin(5, 20_000);
    assert.equal(c.received(5).toString(), 'still-serving\n');
    c.close();

    // Clients gone while cribd is told to stop: it exits (a session waiting on a leaked exec held it
    // up), and what those clients started is gone with it.
    for (let i = 0; i < 8; i++) {
      const late = await execClient(['sleep', marker]);
      await new Promise((r) => setTimeout(r, i * 5));
      late.close();
    }
    let timer: NodeJS.Timeout | undefined;
    const stopped = await Promise.race([
      h.stopDaemon('SIGTERM'),
      new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), 60_000))),
    ]).finally(() => clearTimeout(timer));
    assert.deepEqual(stopped, { code: 0, signal: null }, 'cribd exits on SIGTERM');
    assert.deepEqual(leftovers(marker), [], 'nothing of the execs outlives cribd');
    await h.start();
  });

  /**
   * Runs `hostile` over and over (each round with a fresh token, as a client allowed to exec would
   * get) while the node's own work goes on: CRI calls one after another, cribd's memory sampled.
   * Every call must complete while the hostile client runs; returns the most memory seen.
   */
  async function whileHostile(hostile: () => Promise<unknown>, calls = 20): Promise<{ maxRssMb: number; slowestCallMs: number }> {
    let running = true;
    let rounds = 0;
    let maxRssMb = rssMb();
    const sampler = setInterval(() => (maxRssMb = Math.max(maxRssMb, rssMb())), 20);
    const attacker = (async () => {
      while (running) {
        await hostile();
        rounds++;
      }
    })();
    let slowestCallMs = 0;
    try {
      for (let i = 0; i < calls; i++) {
        const started = Date.now();
        if (i % 2) await call(h.runtime, 'ListContainers', {}, 10);
        else await call(h.runtime, 'ContainerStatus', { container_id: ctr }, 10);
        slowestCallMs = Math.max(slowestCallMs, Date.now() - started);
      }
    } finally {
      running = false;
      await attacker;
      clearInterval(sampler);
    }
    assert.ok(rounds >= 1, 'the hostile client ran');
    return { maxRssMb, slowestCallMs };
  }

  const floods: [string, Upgrade, Buffer][] = [
    ['SPDY PINGs', { to: 'spdy', protocols: ['v4.channel.k8s.io'] }, encodePing(1)],
    ['SPDY DATA to streams that do not exist', { to: 'spdy', protocols: ['v4.channel.k8s.io'] }, encodeDataFrame(1001, 0, Buffer.alloc(0))],
    ['WebSocket PINGs', { to: 'websocket', protocol: 'v5.channel.k8s.io' }, webSocketPing()],
  ];
  for (const [name, upgrade, unit] of floods) {
    it(`a client sending ${name} that never reads: cribd stays under ${MAX_CRIBD_RSS_MB} MB and answers the CRI`, async () => {
      const { maxRssMb, slowestCallMs } = await whileHostile(async () => {
        const flood = await floodWithoutReading(await execUrl(['sleep', '600']), upgrade, unit, FLOOD_BYTES);
        flood.socket.destroy();
      });
      console.log(`${name}: cribd at most ${maxRssMb.toFixed(0)} MB, slowest CRI call ${slowestCallMs} ms`);
      assert.ok(maxRssMb < MAX_CRIBD_RSS_MB, `cribd reached ${maxRssMb.toFixed(0)} MB`);
    });
  }

  it("connections held open by anyone who can connect keep neither root's execs nor a scrape out", async () => {
    const streaming = new URL(await execUrl(['true']));
    // The last cribd started (the first test restarts it) says where its endpoint is.
    const line = [...fs.readFileSync(h.logFile, 'utf8').matchAll(/metrics endpoint listening url="(http:\/\/[^"]+)"/g)].at(-1);
    assert.ok(line?.[1], 'the metrics endpoint is on');
    const metrics = new URL(line[1]);
    const held: net.Socket[] = [];
    try {
      // More than every slot of each listener: idle ones, and ones that trickle a request line.
      held.push(...(await holdConnections(streaming.hostname, Number(streaming.port), 200)));
      held.push(...(await holdConnections(streaming.hostname, Number(streaming.port), 100, true)));
      held.push(...(await holdConnections(metrics.hostname, Number(metrics.port), 40)));
      held.push(...(await holdConnections(metrics.hostname, Number(metrics.port), 20, true)));
      let served = 0;
      for (let i = 0; i < 18; i++) {
        const c = await execClient(['echo', `exec-${i}`]);
        c.send(3, '', true);
        await c.waitFin(5, 20_000);
        if (c.received(5).toString() === `exec-${i}\n`) served++;
        c.close();
      }
      assert.equal(served, 18, 'every exec by root is served');
      const scrape = await new Promise<number>((resolve, reject) =>
        http.get(metrics, { agent: false }, (res) => res.resume().once('end', () => resolve(res.statusCode ?? 0))).once('error', reject),
      );
      assert.equal(scrape, 200, 'the scrape is served');
    } finally {
      for (const s of held) s.destroy();
    }
  });
});
