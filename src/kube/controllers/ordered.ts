// A StatefulSet: with OrderedReady, pod N+1 is created once pod N is ready (detached: started);
// with Parallel, every pod at once.
import type { Random } from '../manifest/names.js';
import type { Workload } from '../manifest/workload.js';
import { initialPods } from '../plan/plan.js';
import { PodRun, type RunEnv } from '../pod/pod-run.js';
import { describeWorkload, readinessReporter } from './report.js';
import { runTogether } from './together.js';

export async function runOrdered(env: RunEnv, w: Workload, random: Random): Promise<number> {
  if (!w.statefulSet?.ordered) return runTogether(env, w, random);
  const pods = initialPods(w, random);
  const report = readinessReporter(env, w, pods.length);
  const runs: Promise<number>[] = [];
  for (const p of pods) {
    let go!: () => void;
    const next = new Promise<void>((resolve) => (go = resolve));
    const run = new PodRun(env, p, {
      onStarted: () => env.detach && go(),
      onReady: (r) => {
        report(p, r);
        if (r) go();
      },
    });
    const done = run.run();
    runs.push(done);
    // A pod that ends before it is ready stops the rollout, as the controller would wait for it forever.
    const ended = await Promise.race([next.then(() => false), done.then(() => true)]);
    if (ended || env.signal.aborted) {
      if (!env.signal.aborted) env.say(`${describeWorkload(w)}: pod ${p.name} ended before it was ready; the pods after it are not created`);
      break;
    }
  }
  return Math.max(0, ...(await Promise.all(runs)));
}
