import http from 'node:http';
import { call } from '../../src/client/client.js';
import type { BenchConfig } from '../config.js';
import { spawnCrictl } from '../crictl.js';
import type { Target } from '../runtimes.js';
import { alternate, eachTarget, row } from '../sample.js';
import { median, msSince, sleep } from '../stats.js';
import type { Row } from '../table.js';
import { startPod, stopRemovePod, type RunningPod } from '../workload.js';

const POD_PORT = 8080;

/** busybox httpd on the pod's port, serving `big` (the download) and `ok` (readiness). Ends at once on SIGTERM. */
const serverCommand = (bytes: number): string[] => [
  'sh',
  '-c',
  `mkdir -p /tmp/www && head -c ${bytes} /dev/zero > /tmp/www/big && echo ok > /tmp/www/ok && httpd -f -p ${POD_PORT} -h /tmp/www & trap "exit 0" TERM; wait`,
];

async function waitForServer(t: Target, containerId: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const res = await call(t.clients.runtime, 'ExecSync', {
      container_id: containerId,
      cmd: ['sh', '-c', `timeout 2 wget -q -O - http://127.0.0.1:${POD_PORT}/ok`],
      timeout: 5,
    });
    if (res.stdout.toString().trim() === 'ok') return;
    if (Date.now() > deadline) throw new Error(`httpd in the pod did not answer: ${res.stderr.toString().trim()}`);
    await sleep(200);
  }
}

/** GET through the local port; resolves with the body's length and the time to its last byte. */
function download(port: number, urlPath: string): Promise<{ bytes: number; ms: number }> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, agent: false }, (res) => {
      let bytes = 0;
      res.on('data', (c: Buffer) => (bytes += c.length));
      res.on('end', () => (res.statusCode === 200 ? resolve({ bytes, ms: msSince(t0) }) : reject(new Error(`GET ${urlPath}: HTTP ${res.statusCode}`))));
      res.on('error', reject);
    });
    req.setTimeout(120_000, () => req.destroy(new Error(`GET ${urlPath}: timed out`)));
    req.on('error', reject);
  });
}

/** One `crictl port-forward POD 0:8080`, one download of `big` through it; MB/s (10^6 bytes). */
async function forwardOnce(t: Target, podId: string, expected: number): Promise<number> {
  const pf = spawnCrictl(t.socket, ['port-forward', podId, `0:${POD_PORT}`]);
  const exited = new Promise<void>((r) => pf.once('exit', () => r()));
  try {
    let out = '';
    pf.stdout?.on('data', (c: Buffer) => (out += c.toString()));
    pf.stderr?.on('data', (c: Buffer) => (out += c.toString()));
    const deadline = Date.now() + 15_000;
    let port = 0;
    while (!port) {
      port = Number(/Forwarding from 127\.0\.0\.1:(\d+)/.exec(out)?.[1] ?? 0);
      if (pf.exitCode !== null || Date.now() > deadline) throw new Error(`crictl port-forward did not listen: ${out.trim().slice(-300)}`);
      await sleep(10);
    }
    await download(port, '/ok');
    const { bytes, ms } = await download(port, '/big');
    if (bytes !== expected) throw new Error(`port-forward delivered ${bytes} of ${expected} bytes`);
    return bytes / 1e6 / (ms / 1000);
  } finally {
    if (pf.exitCode === null && pf.signalCode === null) pf.kill('SIGTERM');
    await exited;
  }
}

/**
 * 5b. Port-forward throughput: a pod whose container serves a file of CRIB_BENCH_PF_MB MB with
 * busybox httpd on a port it does not publish; `crictl port-forward` to it, and one HTTP download
 * through the forwarded local port, timed from the request to the last byte. Rounds alternate
 * runtimes; the median is reported.
 */
export async function portForwardScenario(targets: readonly Target[], cfg: BenchConfig): Promise<Row[]> {
  const bytes = cfg.portForwardMB * 1e6;
  const pods = await eachTarget(targets, async (t): Promise<RunningPod> => {
    const pod = await startPod(t, 'port-forward', ['httpd'], serverCommand(bytes));
    await waitForServer(t, pod.containerIds[0] ?? '');
    return pod;
  });
  const ready = targets.filter((t) => pods[t.name].ok);
  const rates = await alternate(ready, cfg.portForwardRounds, (t) => {
    const pod = pods[t.name];
    if (!pod.ok) throw pod.error;
    return forwardOnce(t, pod.value.podId, bytes);
  });
  for (const t of ready) {
    const pod = pods[t.name];
    if (pod.ok) await stopRemovePod(t, pod.value.podId).catch(() => undefined);
  }
  for (const t of targets) {
    const pod = pods[t.name];
    if (!pod.ok) rates[t.name] = pod;
  }
  return [row(`5. port-forward ${cfg.portForwardMB} MB download, median of ${cfg.portForwardRounds}`, 'MB/s', 'higher', rates, median)];
}
