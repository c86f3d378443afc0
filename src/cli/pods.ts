import fs from 'node:fs';
import { yaml } from '../util/yaml.js';
import { call, protoJson } from '../client/client.js';
import type { Command } from './command.js';
import type { ClientContext } from '../client/context.js';
import { CliError, UsageError, describeError } from '../client/errors.js';
import {
  ago,
  labelSelector,
  matchesLabels,
  nameMatcher,
  outputFormat,
  parseInfo,
  podStateName,
  printData,
  renderTable,
  stateStyle,
  withInspectTimes,
} from './output.js';
import { resolveAll } from './resolve.js';
import { listAllContainers, podsReadiness } from '../kube/records/readiness.js';
import type { PodSandboxConfig } from '../cri/generated/runtime/v1/PodSandboxConfig.js';
import type { PodSandbox__Output } from '../cri/generated/runtime/v1/PodSandbox.js';
import type { Container__Output } from '../cri/generated/runtime/v1/Container.js';
import { newestByName } from '../kube/records/newest.js';

const OUTPUT_HELP = '  -o, --output FORMAT   table (default), wide (adds IP), json or yaml (as crictl pods -o json)';

/** kubectl's RESTARTS: the restarts of each app container (its newest attempt's number), summed. Pure. */
export function podRestarts(containers: readonly Container__Output[]): number {
  return newestByName(containers).reduce((n, c) => n + (c.metadata?.attempt ?? 0), 0);
}

/** A pod's IP (its first), from PodSandboxStatus; '' when it has none or is gone. */
async function podIp(ctx: ClientContext, id: string): Promise<string> {
  const res = await call(ctx.clients.runtime, 'PodSandboxStatus', { pod_sandbox_id: id }).catch(() => undefined);
  return res?.status?.network?.ip ?? '';
}

/** Every pod sandbox, newest first. */
export async function listPods(ctx: ClientContext): Promise<PodSandbox__Output[]> {
  const items = (await call(ctx.clients.runtime, 'ListPodSandbox', {})).items;
  return items.sort((a, b) => (BigInt(b.created_at || '0') > BigInt(a.created_at || '0') ? 1 : -1));
}

export const podsCommand: Command = {
  name: 'pods',
  synopsis: '[-a] [-q] [--name RE] [--namespace RE] [--label K=V]... [--state ready|notready] [-o FORMAT]',
  summary:
    "List pod sandboxes (every namespace, ready and not), newest first. READY counts the app containers that run (and whose readiness probe, run by crib run, passes); RESTARTS their restarts, as kubectl's.",
  details: [
    '  -a, --all             every pod, ready or not (the default; accepted as crictl ps -a is)',
    '  -A, --all-namespaces  every namespace (the default; accepted as kubectl get pods -A is)',
    '  -q, --quiet           only the pod ids',
    '      --id PREFIX       pods whose id starts with PREFIX',
    '      --name RE         pods whose name matches the regular expression',
    '      --namespace RE    pods whose namespace matches the regular expression',
    '  -l, --label K=V       pods with this label (repeatable: all must match)',
    '  -s, --state STATE     ready or notready',
    OUTPUT_HELP,
    '',
    'Examples:',
    "  crib pods -o wide                  with each pod's IP",
    '  crib pods -l app=web -q            the ids of the pods labelled app=web',
    "  crib pods -o json | jq -r '.items[].metadata.name'",
  ].join('\n'),
  flags: {
    bool: ['quiet', 'all', 'all-namespaces'],
    value: ['name', 'namespace', 'state', 'output', 'id'],
    multi: ['label'],
    alias: { q: 'quiet', o: 'output', l: 'label', s: 'state', a: 'all', A: 'all-namespaces' },
  },
  async run(args, ctx) {
    if (args.positional.length) throw new UsageError(`unexpected argument "${args.positional[0]}"`);
    const format = outputFormat(args.get('output'), ['table', 'wide', 'json', 'yaml']);
    const state = args.get('state')?.toLowerCase();
    if (state !== undefined && state !== 'ready' && state !== 'notready') throw new UsageError(`--state wants ready or notready, not "${state}"`);
    const byName = nameMatcher(args.get('name'));
    const byNamespace = nameMatcher(args.get('namespace'));
    const labels = labelSelector(args.all('label'));
    const idPrefix = args.get('id') ?? '';
    const table = (format === 'table' || format === 'wide') && !args.has('quiet');
    const [pods, containers] = await Promise.all([listPods(ctx), table ? listAllContainers(ctx) : []]);
    const items = pods.filter(
      (p) =>
        p.id.startsWith(idPrefix) &&
        byName(p.metadata?.name ?? '') &&
        byNamespace(p.metadata?.namespace ?? '') &&
        matchesLabels(p.labels, labels) &&
        (state === undefined || (state === 'ready') === (p.state === 0)),
    );
    if (args.has('quiet')) {
      for (const p of items) ctx.out.write(`${p.id}\n`);
      return 0;
    }
    if (format === 'json' || format === 'yaml') {
      printData(ctx, format, protoJson('ListPodSandboxResponse', { items }));
      return 0;
    }
    const wide = format === 'wide';
    const [readiness, ips] = await Promise.all([podsReadiness(ctx, items, containers), wide ? Promise.all(items.map((p) => podIp(ctx, p.id))) : []]);
    const byPod = new Map<string, Container__Output[]>();
    for (const c of containers) byPod.set(c.pod_sandbox_id, [...(byPod.get(c.pod_sandbox_id) ?? []), c]);
    const rows = items.map((p, i) => {
      const st = podStateName(p.state);
      const r = readiness.get(p.id) ?? { ready: 0, total: 0 };
      return [
        p.id.slice(0, 13),
        ago(p.created_at),
        { text: st, style: stateStyle(st) },
        `${r.ready}/${r.total}`,
        String(podRestarts(byPod.get(p.id) ?? [])),
        p.metadata?.name ?? '',
        p.metadata?.namespace ?? '',
        String(p.metadata?.attempt ?? 0),
        p.runtime_handler || '(default)',
        ...(wide ? [ips[i] || '<none>'] : []),
      ];
    });
    const header = ['POD ID', 'CREATED', 'STATE', 'READY', 'RESTARTS', 'NAME', 'NAMESPACE', 'ATTEMPT', 'RUNTIME', ...(wide ? ['IP'] : [])];
    ctx.out.write(renderTable(ctx, header, rows));
    return 0;
  },
};

/** A pod's status with its verbose info (crictl inspectp's shape). */
export async function podStatusDoc(ctx: ClientContext, id: string): Promise<Record<string, unknown>> {
  const res = await call(ctx.clients.runtime, 'PodSandboxStatus', { pod_sandbox_id: id, verbose: true });
  return { status: withInspectTimes(protoJson('PodSandboxStatus', res.status), ['createdAt']), ...parseInfo(res.info) };
}

export const inspectpCommand: Command = {
  name: 'inspectp',
  synopsis: '[-o json|yaml] POD...',
  summary: "Show pod sandboxes' status with the runtime's verbose info (pid, netns, bundle, CNI result, spec).",
  details: '  -o, --output FORMAT   json (default) or yaml\n\nPOD is an id, a unique id prefix or a unique pod name.',
  flags: { value: ['output'], alias: { o: 'output' } },
  async run(args, ctx) {
    if (!args.positional.length) throw new UsageError('missing POD');
    const format = outputFormat(args.get('output'), ['json', 'yaml']);
    for (const t of await resolveAll(ctx, args.positional, ['pod'])) printData(ctx, format, await podStatusDoc(ctx, t.id));
    return 0;
  },
};

export const runpCommand: Command = {
  name: 'runp',
  synopsis: '[--runtime HANDLER] FILE',
  summary: "Create a pod sandbox from a CRI PodSandboxConfig (JSON or YAML, crictl's format); prints its id.",
  details: "  -r, --runtime HANDLER the runtime handler (RuntimeClass) to run it with (default: cribd's default)",
  flags: { value: ['runtime'], alias: { r: 'runtime' } },
  async run(args, ctx) {
    const file = args.positional[0];
    if (!file) throw new UsageError('missing FILE');
    let config: PodSandboxConfig;
    try {
      config = yaml().parse(fs.readFileSync(file, 'utf8')) as PodSandboxConfig;
    } catch (err) {
      throw new CliError(`${file}: ${describeError(err)}`);
    }
    const res = await call(ctx.clients.runtime, 'RunPodSandbox', { config, runtime_handler: args.get('runtime') ?? '' });
    ctx.out.write(`${res.pod_sandbox_id}\n`);
    return 0;
  },
};

/** Runs `act` for every word, reporting each failure and going on; exit 1 if any failed. */
export async function forEach<T>(ctx: ClientContext, cmd: string, items: readonly T[], act: (item: T) => Promise<void>): Promise<number> {
  let code = 0;
  for (const item of items) {
    try {
      await act(item);
    } catch (err) {
      ctx.err.write(`crib ${cmd}: ${describeError(err)}\n`);
      code = 1;
    }
  }
  return code;
}

/** Resolves words to pods, reporting the ones that resolve to nothing. */
async function podIds(ctx: ClientContext, cmd: string, words: readonly string[]): Promise<{ ids: string[]; code: number }> {
  const ids: string[] = [];
  const code = await forEach(ctx, cmd, words, async (w) => {
    const [t] = await resolveAll(ctx, [w], ['pod']);
    if (t) ids.push(t.id);
  });
  return { ids, code };
}

export const stoppCommand: Command = {
  name: 'stopp',
  synopsis: 'POD...',
  summary: 'Stop pod sandboxes: their containers (newest first, each with its grace period), pause, and the network.',
  flags: {},
  async run(args, ctx) {
    if (!args.positional.length) throw new UsageError('missing POD');
    const { ids, code } = await podIds(ctx, 'stopp', args.positional);
    const code2 = await forEach(ctx, 'stopp', ids, async (id) => {
      await call(ctx.clients.runtime, 'StopPodSandbox', { pod_sandbox_id: id });
      ctx.out.write(`Stopped sandbox ${id}\n`);
    });
    return code || code2;
  },
};

export const rmpCommand: Command = {
  name: 'rmp',
  synopsis: 'POD...',
  summary: 'Remove pod sandboxes (stopping them first) with their containers.',
  details: '  -f, --force           accepted for crictl rmp -f: a ready pod is always stopped first',
  flags: { bool: ['force'], alias: { f: 'force' } },
  async run(args, ctx) {
    if (!args.positional.length) throw new UsageError('missing POD');
    const { ids, code } = await podIds(ctx, 'rmp', args.positional);
    const code2 = await forEach(ctx, 'rmp', ids, async (id) => {
      await call(ctx.clients.runtime, 'RemovePodSandbox', { pod_sandbox_id: id });
      ctx.out.write(`Removed sandbox ${id}\n`);
    });
    return code || code2;
  },
};
