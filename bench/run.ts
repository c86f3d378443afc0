import fs from 'node:fs';
import { call } from '../src/cli/client.js';
import { builtPauseBinary } from '../src/util/paths.js';
import { Harness, readProcStatus } from '../test/support/harness.js';
import { imageBench } from './images.js';
import { containerBench } from './containers.js';

/** Prints crib's figures on this machine: sandbox latencies, pause size, and memory. */

const percentile = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? NaN;
};
const ms = (n: number): string => `${n.toFixed(1)} ms`;
const kib = (kb: string | undefined): string => `${parseInt(kb ?? '0', 10).toFixed(0)} KiB`;

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t = process.hrtime.bigint();
  const v = await fn();
  return [v, Number(process.hrtime.bigint() - t) / 1e6];
}

async function removeAll(h: Harness): Promise<number[]> {
  const ids = (await call(h.runtime, 'ListPodSandbox', {})).items.map((p) => p.id);
  const times: number[] = [];
  for (const id of ids) {
    const [, t] = await timed(async () => {
      await call(h.runtime, 'StopPodSandbox', { pod_sandbox_id: id });
      await call(h.runtime, 'RemovePodSandbox', { pod_sandbox_id: id });
    });
    times.push(t);
  }
  return times;
}

async function main(): Promise<void> {
  const h = new Harness({ flags: ['--log-level', 'warn'] });
  const pods = Number(process.env['CRIB_BENCH_PODS'] ?? 50);
  try {
    await h.start();
    const daemonPid = h.daemon?.pid as number;
    // Warm up (first CNI run creates the bridge).
    await h.runPod('warmup');
    await removeAll(h);
    await new Promise((r) => setTimeout(r, 500));
    const idleRss = readProcStatus(daemonPid)['VmRSS'];

    const seq: number[] = [];
    for (let i = 0; i < pods; i++) seq.push((await timed(() => h.runPod(`seq-${i}`)))[1]);
    const rss50 = readProcStatus(daemonPid)['VmRSS'];
    const first = (await call(h.runtime, 'ListPodSandbox', {})).items[0];
    const info = await h.inspect(first?.id ?? '');
    const pauseRss = readProcStatus(info.info.pid)['VmRSS'];
    const conmonPid = Number(fs.readFileSync(`${info.info.bundle}/conmon.pid`, 'utf8').trim());
    const conmonRss = readProcStatus(conmonPid)['VmRSS'];
    const stopRemove = await removeAll(h);

    const conc: number[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: 10 }, async () => {
        while (next < pods) {
          const i = next++;
          conc.push((await timed(() => h.runPod(`conc-${i}`)))[1]);
        }
      }),
    );
    await removeAll(h);
    await h.assertNoLeaks();

    console.log('crib sandbox benchmark (runc, built-in bridge network, this machine)');
    console.log(`  RunPodSandbox, ${pods} sequential:        p50 ${ms(percentile(seq, 50))}  p95 ${ms(percentile(seq, 95))}`);
    console.log(`  RunPodSandbox, ${pods} at concurrency 10: p50 ${ms(percentile(conc, 50))}  p95 ${ms(percentile(conc, 95))}`);
    console.log(`  StopPodSandbox + RemovePodSandbox:        p50 ${ms(percentile(stopRemove, 50))}  p95 ${ms(percentile(stopRemove, 95))}`);
    console.log(`  pause binary: ${fs.statSync(builtPauseBinary).size} bytes`);
    console.log(`  RSS: pause ${kib(pauseRss)}, conmon ${kib(conmonRss)}, cribd idle ${kib(idleRss)}, cribd with ${pods} pods ${kib(rss50)}`);
  } finally {
    await h.cleanup();
  }
}

await main();
for (const line of await imageBench()) console.log(line);
for (const line of await containerBench()) console.log(line);
