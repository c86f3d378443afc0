// `crib run`, `crib down` (alias `crib delete`) and `crib generate`: Kubernetes manifests on one
// machine, without a cluster, driven through cribd's CRI socket the way kubelet drives a runtime.
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { ClientContext } from '../../client/context.js';
import { describeError } from '../../client/errors.js';
import { backoffFrom, KUBELET_BACKOFF, type BackoffSettings } from '../../kube/loop/backoff.js';
import { emptyManifest, parseManifests, type Manifest } from '../../kube/manifest/documents.js';
import { downManifest, downPods } from '../../kube/run/down.js';
import { plannedWorkloads } from '../../kube/kinds/table.js';
import { generatePods } from './generate.js';
import { ManifestError, type PullPolicy } from '../../kube/manifest/pod-spec.js';
import { ManifestTooLarge, readManifest } from '../../kube/manifest/input.js';
import { runManifest } from '../../kube/run/runner.js';
import { runtimeRoot } from '../../kube/records/paths.js';
import { RunError } from '../../kube/volumes/volumes.js';
import { completeManifest } from '../../kube/kinds/table.js';
import { removeRun, runId, type ManifestFile } from '../../kube/records/runs.js';
import { handOver } from '../../kube/supervisor/start.js';

export const runUsage = `Usage: crib run [-d] [--replace] [--strict] [--pull always|never|missing] [--backoff DURATION] -f FILE...

Runs the Kubernetes objects of YAML files on this machine through cribd, as a cluster with one
node would: Pods, Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs and CronJobs (their
pods named as the controllers name them), with the ConfigMaps, Secrets and PersistentVolumeClaims they use, in
any order across the files. Each pod runs as kubelet runs it: images by imagePullPolicy, the pod
sandbox, the init containers in order, then the containers. In the foreground their logs are
printed as "[name] line", probes run, restartPolicy is applied with kubelet's back-off, logs are
rotated as kubelet rotates them (10 MiB, 5 files), Jobs run to completion (exit 1 if one fails),
CronJobs start Jobs on their schedules (foreground only; finished ones kept to their history limits),
and Ctrl-C (or SIGTERM) runs the preStop hooks and tears everything down; a second Ctrl-C kills
what still runs at once. An interrupted run exits 128 + the signal (130 for Ctrl-C).

  -f, --filename FILE  a YAML file, a directory of them (*.yaml, *.yml, *.json), or - for standard
                       input; repeatable (FILE may also be given without -f)
  -d, --detach         print each pod sandbox's id and exit once the containers have started;
                       the node's supervisor (crib supervise, started if none runs) then probes,
                       restarts, carries Jobs on and rotates logs until crib down -f; crib jobs
                       shows Job results
      --replace        tear down what an earlier run of the same objects left running first
      --strict         refuse fields crib does not support (exit 2) instead of warning about them
      --pull POLICY    always | never | missing: overrides every container's imagePullPolicy
      --backoff D      the restart back-off's base (default 10s; doubles up to 30 times it), e.g. 1s`;

export const downUsage = `Usage: crib down [--volumes] -f FILE...
       crib down [-n NAMESPACE] POD...

Tears down what crib run created from the files, in reverse order: each pod's preStop hooks, then
StopPodSandbox (containers newest first, each with the pod's grace period, then pause),
RemovePodSandbox, its volumes and logs. A StatefulSet's pods go highest ordinal first.
PersistentVolumeClaims keep their data unless --volumes. POD is a pod name in the namespace (-n,
default "default"), a sandbox id, or a unique id prefix. crib delete is the same command.`;

export const generateUsage = `Usage: crib generate POD...

Prints a pod as Kubernetes YAML that crib run takes again: the PersistentVolumeClaims, ConfigMaps
and Secrets it uses, then the Pod (as crib run ran it: its name, labels and spec). POD is a pod
name, a sandbox id or a unique id prefix (-n NAMESPACE for names in another namespace).`;

interface Flags {
  positional: string[];
  bool: Set<string>;
  values: Map<string, string[]>;
}

class Usage extends Error {}

/** A small parser for these commands' own flags (short aliases resolved; value flags repeatable). */
function parseFlags(argv: string[], booleans: Record<string, string>, values: Record<string, string>): Flags {
  const out: Flags = { positional: [], bool: new Set(), values: new Map() };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a === '--') {
      out.positional.push(...argv.slice(i + 1));
      break;
    }
    if (a === '-' || !a.startsWith('-')) {
      out.positional.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const key = eq > 0 ? a.slice(0, eq) : a;
    const bool = booleans[key];
    const val = values[key];
    if (bool) {
      if (eq > 0) throw new Usage(`${key} takes no value`);
      out.bool.add(bool);
    } else if (val) {
      const v = eq > 0 ? a.slice(eq + 1) : argv[++i];
      if (v === undefined || v === '') throw new Usage(`${key} needs a value`);
      out.values.set(val, [...(out.values.get(val) ?? []), v]);
    } else {
      throw new Usage(`unknown flag ${key}`);
    }
  }
  return out;
}

const one = (f: Flags, key: string): string | undefined => f.values.get(key)?.at(-1);

/** "10s", "500ms", "2m" or plain seconds → ms. */
export function parseDuration(v: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(v);
  if (!m) return undefined;
  const n = Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 'm' ? 60_000 : 1000);
  return n >= 1 && n <= 3_600_000 ? Math.round(n) : undefined;
}

/** The files a -f names: itself, or a directory's manifests (not recursive), in name order. */
async function expandFile(file: string): Promise<string[]> {
  if (file === '-') return [file];
  const st = await fsp.stat(file);
  if (!st.isDirectory()) return [file];
  const names = (await fsp.readdir(file)).filter((n) => /\.(ya?ml|json)$/.test(n)).sort();
  if (!names.length) throw new Error(`no *.yaml, *.yml or *.json files in ${file}`);
  return names.map((n) => path.join(file, n));
}

/** Reads and parses the files into one manifest; reports read and manifest errors (exit 2). */
async function loadManifest(ctx: ClientContext, cmd: string, files: string[]): Promise<{ m: Manifest; read: ManifestFile[] } | number> {
  const m = emptyManifest();
  const read: ManifestFile[] = [];
  const all: string[] = [];
  for (const f of files) {
    try {
      all.push(...(await expandFile(f)));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      ctx.err.write(`crib ${cmd}: cannot read ${f}: ${code === 'ENOENT' ? 'no such file' : describeError(err)}\n`);
      return 2;
    }
  }
  for (const file of all) {
    const name = file === '-' ? 'stdin' : file;
    let text: string;
    try {
      text = await readManifest(file);
    } catch (err) {
      if (err instanceof ManifestTooLarge) {
        ctx.err.write(`crib ${cmd}: ${name}: ${err.message}\n`);
        return 2;
      }
      ctx.err.write(`crib ${cmd}: cannot read ${name}: ${describeError(err)}\n`);
      return 2;
    }
    read.push({ name, text });
    const before = { warnings: m.warnings.length, ignoredKinds: m.ignoredKinds.length };
    try {
      parseManifests(text, m);
    } catch (err) {
      if (err instanceof ManifestError) {
        ctx.err.write(`crib ${cmd}: ${name}: ${err.message}\n`);
        return 2;
      }
      throw err;
    }
    if (all.length > 1) {
      for (const list of ['warnings', 'ignoredKinds'] as const)
        m[list].splice(before[list], Infinity, ...m[list].slice(before[list]).map((w) => `${name}: ${w}`));
    }
  }
  return { m, read };
}

const pullPolicies: Record<string, PullPolicy> = { always: 'Always', never: 'Never', missing: 'IfNotPresent' };

function usageError(ctx: ClientContext, cmd: string, usage: string, err: unknown): number {
  if (!(err instanceof Usage)) throw err;
  ctx.err.write(`crib ${cmd}: ${err.message}\n\n${usage}\n`);
  return 2;
}

export async function runCommand(argv: string[], ctx: ClientContext): Promise<number> {
  let flags: Flags;
  let backoff: BackoffSettings = KUBELET_BACKOFF;
  try {
    flags = parseFlags(
      argv,
      { '-d': 'detach', '--detach': 'detach', '--strict': 'strict', '--replace': 'replace', '-h': 'help', '--help': 'help' },
      { '--pull': 'pull', '-f': 'file', '--filename': 'file', '--backoff': 'backoff' },
    );
    if (flags.bool.has('help')) {
      ctx.out.write(`${runUsage}\n`);
      return 0;
    }
    flags.positional.unshift(...(flags.values.get('file') ?? []));
    if (flags.positional.length === 0) throw new Usage('missing FILE');
    const pull = one(flags, 'pull');
    if (pull !== undefined && !pullPolicies[pull]) throw new Usage(`--pull must be always, never or missing, not "${pull}"`);
    const b = one(flags, 'backoff');
    if (b !== undefined) {
      const ms = parseDuration(b);
      if (ms === undefined) throw new Usage(`--backoff wants a duration from 1ms to 60m (10s, 500ms, 2m), not "${b}"`);
      backoff = backoffFrom(ms);
    }
  } catch (err) {
    return usageError(ctx, 'run', runUsage, err);
  }
  const files = flags.positional;
  const loaded = await loadManifest(ctx, 'run', files);
  if (typeof loaded === 'number') return loaded;
  const m = loaded.m;
  // Checks across documents and what kinds change in the workloads (a Service's node ports).
  const notes = completeManifest(m);
  const strict = flags.bool.has('strict');
  for (const w of [...m.ignoredKinds, ...m.warnings]) ctx.err.write(strict ? `error: ${w.replace(/; [^;]*$/, '')}\n` : `warning: ${w}\n`);
  if (strict && (m.warnings.length || m.ignoredKinds.length)) {
    const count = (n: number, what: string) => (n ? [`${n} ${what}${n === 1 ? '' : 's'}`] : []);
    const what = [...count(m.ignoredKinds.length, 'unsupported kind'), ...count(m.warnings.length, 'unsupported field')].join(' and ');
    ctx.err.write(`crib run: --strict: ${what} in ${files.join(', ')}; nothing was created\n`);
    return 2;
  }
  if (m.workloads.length === 0 && plannedWorkloads(m).length === 0) {
    ctx.err.write(`crib run: nothing to run in ${files.join(', ')} (no Pod, Deployment, ReplicaSet, StatefulSet, DaemonSet, Job or CronJob)\n`);
    return 2;
  }
  const pull = one(flags, 'pull');
  for (const n of notes) ctx.err.write(`${n}\n`);
  const policy = pull ? pullPolicies[pull] : undefined;
  const detach = flags.bool.has('detach');
  const code = await runManifest(ctx, m, { detach, replace: flags.bool.has('replace'), backoff, ...(policy ? { pull: policy } : {}) });
  if (!detach || code !== 0) return code;
  // Detached: the node's supervisor takes the pods over from here (probes, restarts, logs, Jobs).
  try {
    const root = await runtimeRoot(ctx);
    const s = await handOver(root, ctx.socket, {
      id: runId(m, plannedWorkloads(m)),
      files: loaded.read,
      backoffMs: backoff.initialMs,
      ...(policy ? { pull: policy } : {}),
    });
    ctx.err.write(
      `crib run: ${s.started ? 'started crib supervise' : 'crib supervise'} (pid ${s.pid}) watches these pods from now (probes, restarts, log rotation); crib down -f ${files.join(' ')} ends that\n`,
    );
  } catch (err) {
    ctx.err.write(`crib run: the pods run, but no supervisor watches them: ${describeError(err)}\n`);
    return 1;
  }
  return 0;
}

export async function downCommand(argv: string[], ctx: ClientContext, cmd = 'down'): Promise<number> {
  let flags: Flags;
  try {
    flags = parseFlags(
      argv,
      { '-h': 'help', '--help': 'help', '--volumes': 'volumes' },
      { '-f': 'file', '--filename': 'file', '-n': 'namespace', '--namespace': 'namespace' },
    );
    if (flags.bool.has('help')) {
      ctx.out.write(`${downUsage}\n`);
      return 0;
    }
    if (flags.values.has('file') === flags.positional.length > 0)
      throw new Usage(flags.positional.length ? 'give either -f FILE or POD names, not both' : 'missing POD or -f FILE');
    if (flags.bool.has('volumes') && !flags.values.has('file')) throw new Usage("--volumes goes with -f FILE (the claims are the file's)");
  } catch (err) {
    return usageError(ctx, cmd, downUsage, err);
  }
  try {
    const files = flags.values.get('file');
    if (files) {
      const loaded = await loadManifest(ctx, cmd, files);
      if (typeof loaded === 'number') return loaded;
      const root = await runtimeRoot(ctx);
      // The supervisor lets go first, so it restarts nothing of what is being torn down.
      await removeRun(root, runId(loaded.m, plannedWorkloads(loaded.m)));
      return await downManifest(ctx, root, loaded.m, flags.bool.has('volumes'));
    }
    return await downPods(ctx, await runtimeRoot(ctx), flags.positional, one(flags, 'namespace') ?? 'default');
  } catch (err) {
    if (err instanceof RunError) {
      ctx.err.write(`crib ${cmd}: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

export async function generateCommand(argv: string[], ctx: ClientContext): Promise<number> {
  let flags: Flags;
  try {
    flags = parseFlags(argv, { '-h': 'help', '--help': 'help' }, { '-n': 'namespace', '--namespace': 'namespace' });
    if (flags.bool.has('help')) {
      ctx.out.write(`${generateUsage}\n`);
      return 0;
    }
    if (!flags.positional.length) throw new Usage('missing POD');
  } catch (err) {
    return usageError(ctx, 'generate', generateUsage, err);
  }
  return generatePods(ctx, await runtimeRoot(ctx), flags.positional, one(flags, 'namespace') ?? 'default');
}
