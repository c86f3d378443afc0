import { call } from '../src/cli/client.js';
import { Harness, readProcStatus } from '../test/support/harness.js';
import { importBusybox } from '../test/support/busybox-image.js';
import fs from 'node:fs';

/** Container figures: create→running, whole pod start, ExecSync, conmon RSS, cribd RSS with 50 pods of 2 containers. */

const percentile = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)] ?? NaN;
const ms = (n: number): string => `${n.toFixed(1)} ms`;

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t = process.hrtime.bigint();
  const v = await fn();
  return [v, Number(process.hrtime.bigint() - t) / 1e6];
}

export async function containerBench(pods = 50): Promise<string[]> {
  const h = new Harness({ flags: ['--log-level', 'warn'] });
  try {
    await h.start();
    const image = await importBusybox(h);
    const config = (name: string) => ({ metadata: { name, attempt: 0 }, image: { image }, command: ['sleep', '100000'], log_path: `${name}.log` });
    const createToRunning: number[] = [];
    const podStart: number[] = [];
    const ids: string[] = [];
    const start = async (sb: string, i: number, name: string) => {
      const c = await call(h.runtime, 'CreateContainer', { pod_sandbox_id: sb, config: config(name), sandbox_config: h.podConfig(`bench-${i}`) });
      await call(h.runtime, 'StartContainer', { container_id: c.container_id });
      return c.container_id;
    };
    for (let i = 0; i < pods; i++) {
      const t0 = process.hrtime.bigint();
      const sb = await h.runPod(`bench-${i}`);
      const [app, t] = await timed(() => start(sb, i, 'app'));
      podStart.push(Number(process.hrtime.bigint() - t0) / 1e6);
      createToRunning.push(t);
      ids.push(app);
      await start(sb, i, 'side');
    }
    const cribdRss = readProcStatus(h.daemon?.pid as number)['VmRSS'];
    const execs: number[] = [];
    for (let i = 0; i < 30; i++)
      execs.push((await timed(() => call(h.runtime, 'ExecSync', { container_id: ids[i % ids.length], cmd: ['true'], timeout: 10 })))[1]);
    const verbose = JSON.parse((await call(h.runtime, 'ContainerStatus', { container_id: ids[0], verbose: true })).info['info'] ?? '{}') as { bundle: string };
    const conmonPid = Number(fs.readFileSync(`${verbose.bundle}/conmon.pid`, 'utf8').trim());
    const conmonRss = readProcStatus(conmonPid)['VmRSS'];
    for (const p of (await call(h.runtime, 'ListPodSandbox', {})).items) {
      await call(h.runtime, 'StopPodSandbox', { pod_sandbox_id: p.id });
      await call(h.runtime, 'RemovePodSandbox', { pod_sandbox_id: p.id });
    }
    await h.assertNoLeaks();
    return [
      `crib container benchmark (${pods} pods x 2 containers, busybox, runc)`,
      `  CreateContainer + StartContainer (to running): p50 ${ms(percentile(createToRunning, 50))}  p95 ${ms(percentile(createToRunning, 95))}`,
      `  pod start (RunPodSandbox + Create + Start, image present): p50 ${ms(percentile(podStart, 50))}  p95 ${ms(percentile(podStart, 95))}`,
      `  ExecSync (true): p50 ${ms(percentile(execs, 50))}  p95 ${ms(percentile(execs, 95))}`,
      `  RSS: conmon per container ${conmonRss}, cribd with ${pods} pods of 2 containers ${cribdRss}`,
    ];
  } finally {
    await h.cleanup();
  }
}
