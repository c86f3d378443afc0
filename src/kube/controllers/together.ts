// A Pod, Deployment, ReplicaSet or DaemonSet on one node: every pod at once.
import type { Random } from '../manifest/names.js';
import type { Workload } from '../manifest/workload.js';
import { initialPods } from '../plan/plan.js';
import { PodRun, type RunEnv } from '../pod/pod-run.js';
import { readinessReporter } from './report.js';

export async function runTogether(env: RunEnv, w: Workload, random: Random): Promise<number> {
  const pods = initialPods(w, random);
  const report = readinessReporter(env, w, pods.length);
  const codes = await Promise.all(pods.map((p) => new PodRun(env, p, { onReady: (r) => report(p, r) }).run()));
  return Math.max(0, ...codes);
}
