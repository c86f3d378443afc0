import os from 'node:os';
import { benchConfig, type BenchConfig } from './config.js';
import { imageBench } from './images.js';
import { startTargets, type Targets } from './runtimes.js';
import { eachTarget, row } from './sample.js';
import { cliScenario } from './scenarios/cli.js';
import { crictlExecScenario } from './scenarios/crictl-exec.js';
import { execSyncScenario } from './scenarios/exec-sync.js';
import { idleRssScenario, podMemoryScenario } from './scenarios/memory.js';
import { nodeScenario } from './scenarios/node.js';
import { probeNodeScenario } from './scenarios/probe-node.js';
import { podStartScenario } from './scenarios/pod-start.js';
import { podStopScenario } from './scenarios/pod-stop.js';
import { portForwardScenario } from './scenarios/port-forward.js';
import { runPodSandboxScenario } from './scenarios/run-pod-sandbox.js';
import { usernsPodStartScenario } from './scenarios/userns-pod-start.js';
import { msSince, sleep } from './stats.js';
import { renderTable, type Row, type RuntimeName } from './table.js';
import { removeAllPods, startPod, type RunningPod } from './workload.js';

/**
 * `npm run bench`: crib beside containerd, in one run on this machine, through the same CRI client;
 * prints a table of both and their ratio. See bench/README.md.
 */

/** Runs one scenario; a scenario that throws as a whole becomes one row of errors instead of ending the bench. */
async function scenario(rows: Row[], title: string, fn: () => Promise<Row[]>): Promise<void> {
  const t0 = process.hrtime.bigint();
  console.error(`bench: ${title}`);
  try {
    rows.push(...(await fn()));
  } catch (err) {
    const error = { error: (err as Error).message ?? String(err) };
    rows.push({ scenario: title, unit: 'ms', better: 'lower', cells: { crib: error, containerd: error } });
  }
  console.error(`bench: ${title}: ${(msSince(t0) / 1000).toFixed(1)} s`);
}

/** Every pod gone from both runtimes before the next scenario, whatever the last one left. */
async function clean(targets: Targets): Promise<void> {
  for (const t of targets.all) await removeAllPods(t).catch((err: unknown) => console.error(`bench: removing ${t.name}'s pods: ${String(err)}`));
}

async function runScenarios(targets: Targets, cfg: BenchConfig): Promise<Row[]> {
  const on = (n: number): boolean => !cfg.only || cfg.only.has(n);
  const all = targets.all;
  const rows: Row[] = [];

  // One pod with a container on each first: the bridge, the first CNI run, caches.
  await scenario(rows, 'warm-up', async () => {
    const warm = await eachTarget(all, (t) => startPod(t, 'warmup', ['app']));
    await clean(targets);
    await sleep(1000);
    return [warm.crib, warm.containerd].some((w) => !w.ok) ? [row('warm-up pod', 'ms', 'lower', warm, () => NaN)] : [];
  });
  if (on(7)) await scenario(rows, '7. daemon idle RSS', () => idleRssScenario(all));
  if (on(1)) await scenario(rows, '1. RunPodSandbox', () => runPodSandboxScenario(all, cfg));
  await clean(targets);

  // Scenario 2's pods (one running container each) serve 4, 5a, 6 and 9, and are stopped by 3.
  let pods = new Map<RuntimeName, RunningPod[]>();
  const needPods = [2, 3, 4, 5, 6, 9].some(on);
  if (needPods)
    await scenario(rows, '2. pod start', async () => {
      const res = await podStartScenario(all, cfg);
      pods = res.pods;
      return on(2) ? res.rows : [];
    });
  if (on(4)) await scenario(rows, '4. ExecSync', () => execSyncScenario(all, pods, cfg.pods));
  if (on(5)) await scenario(rows, '5. crictl exec', () => crictlExecScenario(all, pods, cfg.execs));
  if (on(6)) await scenario(rows, '6. memory per pod', () => podMemoryScenario(all, pods));
  if (on(9)) await scenario(rows, '9. CLI', () => cliScenario(targets.crib, cfg.execs));
  if (needPods && on(3)) await scenario(rows, '3. stop + remove', () => podStopScenario(all, pods));
  await clean(targets);

  if (on(5)) await scenario(rows, '5. port-forward', () => portForwardScenario(all, cfg));
  await clean(targets);
  if (on(8)) await scenario(rows, '8. node', () => nodeScenario(all, cfg));
  await clean(targets);
  if (on(11)) await scenario(rows, '11. exec-probe node', () => probeNodeScenario(all, cfg));
  await clean(targets);
  if (on(10)) await scenario(rows, '10. user namespace pod start', () => usernsPodStartScenario(targets.crib, cfg.pods));
  await clean(targets);

  // The table in scenario order (rows were made in the order that shares pods best).
  const num = (r: Row): number => Number(/^(\d+)\./.exec(r.scenario)?.[1] ?? 0);
  return rows
    .map((r, i) => ({ r, i }))
    .sort((a, b) => num(a.r) - num(b.r) || a.i - b.i)
    .map(({ r }) => r);
}

/** Machine and load, for reading absolute figures: the ratios hold better than these. */
function machine(): string {
  const load = os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
  return `${new Date().toISOString()}, ${os.availableParallelism()} CPUs, load average ${load}`;
}

async function main(): Promise<void> {
  const cfg = benchConfig();
  const t0 = process.hrtime.bigint();
  const startedAt = machine();
  const targets = await startTargets();
  // One teardown, whether the run ends, fails, or is interrupted (Ctrl-C, a timeout's SIGTERM).
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= targets.close().then((left) => {
      if (left.length) console.error(`bench: teardown had to clean up: ${left.join('; ')}`);
    }));
  for (const sig of ['SIGINT', 'SIGTERM'] as const)
    process.once(sig, () => {
      console.error(`bench: ${sig}: tearing down`);
      void close().finally(() => process.exit(130));
    });
  let rows: Row[] = [];
  try {
    rows = await runScenarios(targets, cfg);
  } finally {
    await close();
  }
  const mode = cfg.quick ? 'quick' : 'full';
  console.log(`crib beside containerd on this machine (runc; ${mode}: ${cfg.pods} pods per latency scenario; node ${cfg.nodePods} pods, ${cfg.nodeSeconds} s)`);
  console.log(`start: ${startedAt}`);
  console.log(`end:   ${machine()}`);
  console.log(renderTable(rows));
  console.log(`(ratio = crib / containerd; total ${(msSince(t0) / 1000).toFixed(0)} s)`);
  if (cfg.images) for (const line of await imageBench()) console.log(line);
}

await main();
