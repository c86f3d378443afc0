// `crib run` and `crib delete`: Kubernetes Pod manifests on one machine, without a cluster, driven
// through cribd's CRI socket the way kubelet drives a runtime.
import fsp from 'node:fs/promises';
import path from 'node:path';
import { call } from '../client.js';
import type { CliContext } from '../context.js';
import { describeError } from '../errors.js';
import type { PodSandbox__Output } from '../../cri/generated/runtime/v1/PodSandbox.js';
import { LABEL_POD_UID } from './convert.js';
import { ManifestError, parseManifests, type ParsedManifests, type PullPolicy } from './manifest.js';
import { runPods, runtimeRoot } from './runner.js';
import { teardownPod } from './teardown.js';
import { RunError } from './volumes.js';

export const runUsage = `Usage: crib run [-d] [--strict] [--pull always|never|missing] FILE.yaml

Runs the Pods of a Kubernetes manifest (kind: Pod, several documents, or a List of Pods) on this
machine through cribd, as kubelet would: images by imagePullPolicy, the pod sandbox, the init
containers in order, then the containers. In the foreground their logs are printed as "[name] line"
and restartPolicy is applied; Ctrl-C (or SIGTERM) runs the preStop hooks and tears the pod down.

  -d, --detach        print the pod sandbox id and exit once the containers have started
      --strict        refuse fields crib does not support (exit 2) instead of warning about them
      --pull POLICY   always | never | missing: overrides every container's imagePullPolicy
  FILE may be - for standard input.`;

export const deleteUsage = `Usage: crib delete [-n NAMESPACE] POD...
       crib delete -f FILE.yaml

Tears down pods started by crib run (-d): their preStop hooks, StopPodSandbox (containers newest
first, each with the pod's grace period, then pause), RemovePodSandbox, emptyDir volumes and logs.
POD is a pod name in the namespace (-n, default "default") or a sandbox id or unique id prefix.`;

interface Flags {
  positional: string[];
  bool: Set<string>;
  values: Map<string, string>;
}

class Usage extends Error {}

/** A small parser for these two commands' own flags (short aliases resolved). */
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
      out.values.set(val, v);
    } else {
      throw new Usage(`unknown flag ${key}`);
    }
  }
  return out;
}

async function readManifest(file: string): Promise<string> {
  if (file === '-') {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }
  return fsp.readFile(file, 'utf8');
}

/** Reads and parses a manifest file; ManifestError and read errors are reported, then rethrown as exit 2. */
async function loadManifest(ctx: CliContext, cmd: string, file: string): Promise<ParsedManifests | number> {
  let text: string;
  try {
    text = await readManifest(file);
  } catch (err) {
    ctx.err.write(`crib ${cmd}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : describeError(err)}\n`);
    return 2;
  }
  try {
    return parseManifests(text);
  } catch (err) {
    if (err instanceof ManifestError) {
      ctx.err.write(`crib ${cmd}: ${file === '-' ? 'stdin' : path.basename(file)}: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}

const pullPolicies: Record<string, PullPolicy> = { always: 'Always', never: 'Never', missing: 'IfNotPresent' };

export async function runCommand(argv: string[], ctx: CliContext): Promise<number> {
  let flags: Flags;
  try {
    flags = parseFlags(
      argv,
      { '-d': 'detach', '--detach': 'detach', '--strict': 'strict', '-h': 'help', '--help': 'help' },
      { '--pull': 'pull', '-f': 'file', '--filename': 'file' },
    );
    if (flags.bool.has('help')) {
      ctx.out.write(`${runUsage}\n`);
      return 0;
    }
    const file = flags.values.get('file');
    if (file) flags.positional.unshift(file);
    if (flags.positional.length !== 1) throw new Usage(flags.positional.length ? 'takes one FILE' : 'missing FILE');
    const pull = flags.values.get('pull');
    if (pull !== undefined && !pullPolicies[pull]) throw new Usage(`--pull must be always, never or missing, not "${pull}"`);
  } catch (err) {
    if (err instanceof Usage) {
      ctx.err.write(`crib run: ${err.message}\n\n${runUsage}\n`);
      return 2;
    }
    throw err;
  }
  const [file = ''] = flags.positional;
  const parsed = await loadManifest(ctx, 'run', file);
  if (typeof parsed === 'number') return parsed;
  const strict = flags.bool.has('strict');
  for (const w of parsed.warnings) ctx.err.write(strict ? `error: ${w.replace(/; [^;]*$/, '')}\n` : `warning: ${w}\n`);
  if (strict && parsed.warnings.length) {
    ctx.err.write(
      `crib run: --strict: ${parsed.warnings.length} unsupported field${parsed.warnings.length === 1 ? '' : 's'} in ${file}; nothing was created\n`,
    );
    return 2;
  }
  const pull = flags.values.get('pull');
  return runPods(ctx, parsed.pods, { detach: flags.bool.has('detach'), ...(pull ? { pull: pullPolicies[pull] } : {}) });
}

/** The sandbox's log directory from its verbose status (crib's: `config.logDirectory`). */
async function sandboxLogDirectory(ctx: CliContext, s: PodSandbox__Output): Promise<string | undefined> {
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

export async function deleteCommand(argv: string[], ctx: CliContext): Promise<number> {
  let flags: Flags;
  try {
    flags = parseFlags(argv, { '-h': 'help', '--help': 'help' }, { '-f': 'file', '--filename': 'file', '-n': 'namespace', '--namespace': 'namespace' });
    if (flags.bool.has('help')) {
      ctx.out.write(`${deleteUsage}\n`);
      return 0;
    }
    if (flags.values.has('file') === flags.positional.length > 0)
      throw new Usage(flags.positional.length ? 'give either -f FILE or POD names, not both' : 'missing POD or -f FILE');
  } catch (err) {
    if (err instanceof Usage) {
      ctx.err.write(`crib delete: ${err.message}\n\n${deleteUsage}\n`);
      return 2;
    }
    throw err;
  }
  const namespace = flags.values.get('namespace') ?? 'default';
  const wanted: { name: string; namespace: string; byIdToo: boolean }[] = [];
  const file = flags.values.get('file');
  if (file) {
    const parsed = await loadManifest(ctx, 'delete', file);
    if (typeof parsed === 'number') return parsed;
    for (const p of parsed.pods) wanted.push({ name: p.name, namespace: p.namespace, byIdToo: false });
  } else {
    for (const name of flags.positional) wanted.push({ name, namespace, byIdToo: true });
  }

  let code = 0;
  try {
    const root = await runtimeRoot(ctx);
    const items = (await call(ctx.clients.runtime, 'ListPodSandbox', {}, 30)).items;
    const targets = new Map<string, PodSandbox__Output>();
    for (const w of wanted) {
      let found = items.filter((s) => s.metadata?.name === w.name && s.metadata.namespace === w.namespace);
      if (!found.length && w.byIdToo) {
        found = items.filter((s) => s.id.startsWith(w.name));
        if (found.length > 1) {
          ctx.err.write(`crib delete: "${w.name}" matches ${found.length} sandboxes; give more of the id\n`);
          code = 1;
          continue;
        }
      }
      if (!found.length) {
        ctx.err.write(`crib delete: pod "${w.name}" not found in namespace "${w.namespace}"\n`);
        code = 1;
        continue;
      }
      for (const s of found) targets.set(s.id, s);
    }
    for (const s of targets.values()) {
      const label = `${s.metadata?.namespace ?? ''}/${s.metadata?.name ?? s.id.slice(0, 13)}`;
      const uid = s.labels[LABEL_POD_UID] === s.metadata?.uid ? (s.metadata?.uid ?? '') : '';
      const logDirectory = await sandboxLogDirectory(ctx, s);
      try {
        await teardownPod(
          ctx,
          { sandboxId: s.id, label, uid, ...(logDirectory ? { logDirectory } : {}) },
          { root, say: (l) => void ctx.err.write(`pod ${label}: ${l}\n`) },
        );
        ctx.out.write(`pod "${label}" deleted (sandbox ${s.id.slice(0, 13)})\n`);
      } catch (err) {
        ctx.err.write(`crib delete: pod ${label}: ${describeError(err)}\n`);
        code = 1;
      }
    }
  } catch (err) {
    if (err instanceof RunError) {
      ctx.err.write(`crib delete: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  return code;
}
