// `crib down` (and its older name `crib delete`): tear down what a manifest's `crib run` created, in
// reverse order of the documents (a StatefulSet's pods highest ordinal first, one by one; other
// controllers' pods together), each pod as kubelet deletes one (preStop hooks, StopPodSandbox,
// RemovePodSandbox, its volumes and logs). Claims stay unless --volumes.
import fs from 'node:fs';
import path from 'node:path';
import { call } from '../../client/client.js';
import type { ClientContext } from '../../client/context.js';
import { describeError } from '../../client/errors.js';
import type { PodSandbox__Output } from '../../cri/generated/runtime/v1/PodSandbox.js';
import { LABEL_OWNER_CRONJOB, LABEL_OWNER_KIND, LABEL_OWNER_NAME, LABEL_POD_UID } from '../records/keys.js';
import type { Manifest } from '../manifest/documents.js';
import { LABEL_POD_INDEX } from '../kinds/labels.js';
import { plannedWorkloads, workloadKind } from '../kinds/table.js';
import { teardownPod } from '../pod/teardown.js';
import { removeClaim } from '../volumes/volumes.js';
import { claimDir } from '../records/paths.js';
import type { Workload } from '../manifest/workload.js';

type Owner = Pick<Workload, 'kind' | 'name' | 'namespace' | 'cronJob'>;

/** A pod of a workload that runs on the node. */
export interface WorkloadPod {
  workload: Owner;
  pod: PodSandbox__Output;
}

/** What made a workload's pods, in messages: its kind and name, or a CronJob for its Jobs' template. */
export const describeOwner = (w: Owner): string => (w.cronJob !== undefined ? `CronJob ${w.namespace}/${w.cronJob}` : `${w.kind} ${w.namespace}/${w.name}`);

/**
 * The sandboxes the workloads' pods run in (by the owner labels crib run puts on them; a Pod also
 * by its name; a CronJob's Jobs' template: every Job of that CronJob).
 */
export async function findWorkloadPods(ctx: ClientContext, workloads: readonly Owner[]): Promise<WorkloadPod[]> {
  const items = (await call(ctx.clients.runtime, 'ListPodSandbox', {}, 30)).items;
  const out: WorkloadPod[] = [];
  const taken = new Set<string>();
  for (const w of workloads) {
    const mine = items.filter((s) => {
      if (taken.has(s.id) || s.metadata?.namespace !== w.namespace) return false;
      if (w.cronJob !== undefined) return s.labels[LABEL_OWNER_CRONJOB] === w.cronJob;
      const kind = s.labels[LABEL_OWNER_KIND];
      if (kind) return kind === w.kind && s.labels[LABEL_OWNER_NAME] === w.name;
      return w.kind === 'Pod' && s.metadata.name === w.name;
    });
    for (const s of mine) {
      taken.add(s.id);
      out.push({ workload: w, pod: s });
    }
  }
  return out;
}

/** The sandbox's log directory from its verbose status (crib's: `config.logDirectory`). */
async function sandboxLogDirectory(ctx: ClientContext, s: PodSandbox__Output): Promise<string | undefined> {
  try {
    const r = await call(ctx.clients.runtime, 'PodSandboxStatus', { pod_sandbox_id: s.id, verbose: true }, 30);
    const info = JSON.parse(r.info['info'] ?? '{}') as { config?: { logDirectory?: unknown } };
    const dir = info.config?.logDirectory;
    const uid = s.metadata?.uid ?? '';
    // Only a per-pod directory named after the pod (kubelet's NAMESPACE_NAME_UID) is removed.
    if (typeof dir === 'string' && path.isAbsolute(dir) && uid && path.basename(dir).endsWith(`_${uid}`)) return dir;
  } catch {
    /* gone already, or not crib */
  }
  return undefined;
}

/** Tears one pod down, saying so; false when it failed. */
async function downPod(ctx: ClientContext, root: string, s: PodSandbox__Output, say: (l: string) => void): Promise<boolean> {
  const label = `${s.metadata?.namespace ?? ''}/${s.metadata?.name ?? s.id.slice(0, 13)}`;
  const uid = s.labels[LABEL_POD_UID] === s.metadata?.uid ? (s.metadata?.uid ?? '') : '';
  const logDirectory = await sandboxLogDirectory(ctx, s);
  try {
    await teardownPod(ctx, { sandboxId: s.id, label, uid, ...(logDirectory ? { logDirectory } : {}) }, { root, say: (l) => say(`pod ${label}: ${l}`) });
    ctx.out.write(`pod "${label}" deleted (sandbox ${s.id.slice(0, 13)})\n`);
    return true;
  } catch (err) {
    say(`crib down: pod ${label}: ${describeError(err)}`);
    return false;
  }
}

const ordinal = (s: PodSandbox__Output): number => Number(s.labels[LABEL_POD_INDEX] ?? /-(\d+)$/.exec(s.metadata?.name ?? '')?.[1] ?? 0);

/**
 * Tears the pods down: workloads in reverse order of the list, a StatefulSet's pods highest ordinal
 * first and one at a time (as it scales down), other workloads' pods together. Returns how many failed.
 */
export async function tearDownWorkloads(ctx: ClientContext, root: string, pods: WorkloadPod[], say: (l: string) => void): Promise<number> {
  const groups: WorkloadPod[][] = [];
  for (const p of pods) {
    const last = groups[groups.length - 1];
    if (last && last[0]?.workload === p.workload) last.push(p);
    else groups.push([p]);
  }
  let failed = 0;
  for (const g of groups.reverse()) {
    if (g[0] && workloadKind(g[0].workload.kind).teardown === 'highest-ordinal-first') {
      for (const p of [...g].sort((a, b) => ordinal(b.pod) - ordinal(a.pod))) if (!(await downPod(ctx, root, p.pod, say))) failed++;
    } else {
      failed += (await Promise.all(g.map((p) => downPod(ctx, root, p.pod, say)))).filter((ok) => !ok).length;
    }
  }
  return failed;
}

/** The claims of a manifest: its PersistentVolumeClaims and every claim its StatefulSets' templates made. */
function manifestClaims(root: string, m: Manifest): { namespace: string; name: string }[] {
  const out = [...m.claims.values()].map((c) => ({ namespace: c.namespace, name: c.name }));
  for (const w of m.workloads) {
    for (const t of w.statefulSet?.claimTemplates ?? []) {
      const re = new RegExp(`^${t.name.replace(/[.]/g, '\\.')}-${w.name.replace(/[.]/g, '\\.')}-\\d+$`);
      const dir = path.dirname(claimDir(root, w.namespace, 'x'));
      const names = fs.existsSync(dir) ? fs.readdirSync(dir).filter((n) => re.test(n)) : [];
      out.push(...names.map((name) => ({ namespace: w.namespace, name })));
    }
  }
  return out;
}

/** Tears down a manifest's workloads (reverse order); with `volumes` its claims' data too. Exit code. */
export async function downManifest(ctx: ClientContext, root: string, m: Manifest, volumes: boolean): Promise<number> {
  const say = (l: string) => void ctx.err.write(`${l}\n`);
  const workloads = [...m.workloads, ...plannedWorkloads(m)];
  const pods = await findWorkloadPods(ctx, workloads);
  const missing = workloads.filter((w) => !pods.some((p) => p.workload === w));
  for (const w of missing) say(`crib down: ${describeOwner(w)}: no pods of it run here`);
  const failed = await tearDownWorkloads(ctx, root, pods, say);
  if (volumes) {
    for (const c of manifestClaims(root, m)) {
      if (await removeClaim(root, c.namespace, c.name)) ctx.out.write(`persistentvolumeclaim "${c.namespace}/${c.name}" deleted, with its data\n`);
    }
  } else if (m.claims.size) {
    say(`crib down: kept the data of ${m.claims.size} PersistentVolumeClaim${m.claims.size === 1 ? '' : 's'} (--volumes removes it)`);
  }
  return failed || (missing.length && !pods.length) ? 1 : 0;
}

/** The pods a word names: a name in the namespace, a sandbox id, or a unique id prefix; a reason when none. */
export function matchPods(items: PodSandbox__Output[], word: string, namespace: string): PodSandbox__Output[] | string {
  const byName = items.filter((s) => s.metadata?.name === word && s.metadata.namespace === namespace);
  if (byName.length) return byName;
  const byId = items.filter((s) => s.id.startsWith(word));
  if (byId.length > 1) return `"${word}" matches ${byId.length} sandboxes; give more of the id`;
  return byId.length ? byId : `pod "${word}" not found in namespace "${namespace}"`;
}

/** Tears down pods named on the command line. */
export async function downPods(ctx: ClientContext, root: string, words: string[], namespace: string): Promise<number> {
  const say = (l: string) => void ctx.err.write(`${l}\n`);
  const items = (await call(ctx.clients.runtime, 'ListPodSandbox', {}, 30)).items;
  const targets = new Map<string, PodSandbox__Output>();
  let code = 0;
  for (const w of words) {
    const found = matchPods(items, w, namespace);
    if (typeof found === 'string') {
      say(`crib down: ${found}`);
      code = 1;
      continue;
    }
    for (const s of found) targets.set(s.id, s);
  }
  for (const s of targets.values()) if (!(await downPod(ctx, root, s, say))) code = 1;
  return code;
}
