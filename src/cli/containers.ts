import { call, protoJson } from '../client/client.js';
import type { Command } from './command.js';
import type { ClientContext } from '../client/context.js';
import { CliError, UsageError } from '../client/errors.js';
import {
  ago,
  containerStateName,
  labelSelector,
  matchesLabels,
  nameMatcher,
  outputFormat,
  parseInfo,
  printData,
  renderTable,
  shortId,
  stateStyle,
  withInspectTimes,
} from './output.js';
import { forEach, listPods, podStatusDoc } from './pods.js';
import { resolve, resolveAll, resolvePod, type Target } from './resolve.js';
import type { Container__Output } from '../cri/generated/runtime/v1/Container.js';

/**
 * A row of `crib ps`: a container, or a sandbox's pause container (id = the sandbox id), in the
 * CRI Container shape so JSON consumers can treat both alike.
 */
export type PsRow = Container__Output;

const STATES = ['created', 'running', 'exited', 'unknown'];

/** The pause image of a sandbox, from its verbose status (`.info.image`). */
async function pauseImage(ctx: ClientContext, podId: string): Promise<{ image: string; imageId: string }> {
  const res = await call(ctx.clients.runtime, 'PodSandboxStatus', { pod_sandbox_id: podId, verbose: true });
  const info = parseInfo(res.info)['info'] as { image?: unknown; imageId?: unknown } | undefined;
  return { image: typeof info?.image === 'string' ? info.image : '', imageId: typeof info?.imageId === 'string' ? info.imageId : '' };
}

const byCreatedDesc = (a: { created_at: string }, b: { created_at: string }) =>
  BigInt(b.created_at || '0') > BigInt(a.created_at || '0') ? 1 : BigInt(b.created_at || '0') < BigInt(a.created_at || '0') ? -1 : 0;

export const psCommand: Command = {
  name: 'ps',
  synopsis: '[-a] [-q] [--pod POD] [--name RE] [--label K=V]... [--state STATE] [-o FORMAT]',
  summary: 'List containers, with one row per pod sandbox for its pause container (NAME POD-pause, ID the sandbox id).\nWithout -a only running ones.',
  details: [
    '  -a, --all             also created and exited containers (and pause of stopped pods)',
    '  -q, --quiet           only the ids',
    '  -p, --pod POD         containers of one pod (id, prefix or name)',
    '      --name RE         containers whose name matches the regular expression',
    "  -l, --label K=V       containers with this label (repeatable); pause rows match the pod's labels",
    '  -s, --state STATE     created, running, exited or unknown (implies -a)',
    '  -o, --output FORMAT   table (default), wide (adds POD ID and IMAGE ID), json or yaml',
    '                        (json/yaml as crictl ps -o json prints them: containers only, no pause rows)',
    '',
    'Examples:',
    '  crib ps -a --pod web-7d9c         every container of one pod, exited ones too',
    '  crib ps -o json | jq -r \'.containers[] | .metadata.name + " " + .state\'',
  ].join('\n'),
  flags: {
    bool: ['all', 'quiet'],
    value: ['pod', 'name', 'state', 'output'],
    multi: ['label'],
    alias: { a: 'all', q: 'quiet', p: 'pod', l: 'label', s: 'state', o: 'output' },
  },
  async run(args, ctx) {
    if (args.positional.length) throw new UsageError(`unexpected argument "${args.positional[0]}"`);
    const format = outputFormat(args.get('output'), ['table', 'wide', 'json', 'yaml']);
    const stateWord = args.get('state')?.toLowerCase();
    if (stateWord !== undefined && !STATES.includes(stateWord)) throw new UsageError(`--state wants one of ${STATES.join(', ')}, not "${stateWord}"`);
    const wantState = stateWord === undefined ? undefined : STATES.indexOf(stateWord);
    const all = args.has('all') || wantState !== undefined;
    const byName = nameMatcher(args.get('name'));
    const labels = labelSelector(args.all('label'));
    const podWord = args.get('pod');
    const podId = podWord !== undefined ? (await resolvePod(ctx, podWord)).id : undefined;

    const pods = await listPods(ctx);
    const podById = new Map(pods.map((p) => [p.id, p]));
    const stateOk = (s: number) => (wantState !== undefined ? s === wantState : all || s === 1);
    const containers = (await call(ctx.clients.runtime, 'ListContainers', {})).containers.filter(
      (c) => (podId === undefined || c.pod_sandbox_id === podId) && stateOk(c.state) && byName(c.metadata?.name ?? '') && matchesLabels(c.labels, labels),
    );
    const shown = pods.filter((p) => {
      const state = p.state === 0 ? 1 : 2;
      return (podId === undefined || p.id === podId) && stateOk(state) && byName(`${p.metadata?.name ?? ''}-pause`) && matchesLabels(p.labels, labels);
    });
    const images = await Promise.all(shown.map((p) => pauseImage(ctx, p.id).catch(() => ({ image: '', imageId: '' }))));
    const pauseRows = shown.map((p, i): PsRow => {
      const name = `${p.metadata?.name ?? ''}-pause`;
      const state = p.state === 0 ? 1 : 2;
      const img = images[i] ?? { image: '', imageId: '' };
      return {
        id: p.id,
        pod_sandbox_id: p.id,
        metadata: { name, attempt: p.metadata?.attempt ?? 0 },
        image: { image: img.image, annotations: {}, user_specified_image: '', runtime_handler: '', image_ref: img.imageId },
        image_ref: img.imageId,
        image_id: img.imageId,
        state,
        created_at: p.created_at,
        labels: p.labels,
        annotations: {},
      };
    });
    const rows = [...containers, ...pauseRows].sort(byCreatedDesc);
    if (args.has('quiet')) {
      for (const r of rows) ctx.out.write(`${r.id}\n`);
      return 0;
    }
    if (format === 'json' || format === 'yaml') {
      printData(ctx, format, protoJson('ListContainersResponse', { containers: containers.sort(byCreatedDesc) }));
      return 0;
    }
    const wide = format === 'wide';
    const table = rows.map((c) => {
      const st = containerStateName(c.state);
      const image = c.image?.image ?? '';
      return [
        c.id.slice(0, 13),
        image.startsWith('sha256:') || image === '' ? shortId(image || c.image_ref) : image,
        ago(c.created_at),
        { text: st, style: stateStyle(st) },
        c.metadata?.name ?? '',
        String(c.metadata?.attempt ?? 0),
        podById.get(c.pod_sandbox_id)?.metadata?.name ?? '',
        ...(wide ? [c.pod_sandbox_id.slice(0, 13), shortId(c.image_ref)] : []),
      ];
    });
    // POD ID and IMAGE ID only in -o wide: the default table stays within 100 columns for usual names
    const header = ['CONTAINER', 'IMAGE', 'CREATED', 'STATE', 'NAME', 'ATTEMPT', 'POD', ...(wide ? ['POD ID', 'IMAGE ID'] : [])];
    ctx.out.write(renderTable(ctx, header, table));
    return 0;
  },
};

/** The inspect document of a resolved object: `{status, info}` as crictl inspect/inspectp/inspecti print. */
export async function inspectDoc(ctx: ClientContext, t: Target): Promise<Record<string, unknown>> {
  switch (t.kind) {
    case 'pod': {
      return podStatusDoc(ctx, t.id);
    }
    case 'container': {
      const res = await call(ctx.clients.runtime, 'ContainerStatus', { container_id: t.id, verbose: true });
      return { status: withInspectTimes(protoJson('ContainerStatus', res.status), ['createdAt', 'startedAt', 'finishedAt']), ...parseInfo(res.info) };
    }
    case 'image': {
      const res = await call(ctx.clients.image, 'ImageStatus', { image: { image: t.id }, verbose: true });
      return { status: protoJson('Image', res.image), ...parseInfo(res.info) };
    }
  }
}

export const inspectCommand: Command = {
  name: 'inspect',
  synopsis: '[-o json|yaml] ID...',
  summary: 'Show the status and verbose runtime info of containers, pods or images.',
  details: [
    '  -o, --output FORMAT   json (default) or yaml; status as crictl inspect prints it',
    '',
    'ID is an id, a unique id prefix or a unique name (container, pod, POD/CONTAINER, image reference).',
    '',
    'Examples:',
    "  crib inspect web-7d9c/web | jq .info.pid     the host pid of a pod's container",
    '  crib inspect -o yaml web-7d9c                 a pod, as YAML',
  ].join('\n'),
  flags: { value: ['output'], alias: { o: 'output' } },
  async run(args, ctx) {
    if (!args.positional.length) throw new UsageError('missing ID');
    const format = outputFormat(args.get('output'), ['json', 'yaml']);
    const targets = await resolveAll(ctx, args.positional, ['container', 'pod', 'image']);
    for (const t of targets) printData(ctx, format, { kind: t.kind, ...(await inspectDoc(ctx, t)) });
    return 0;
  },
};

export const inspectiCommand: Command = {
  name: 'inspecti',
  synopsis: '[-o json|yaml] IMAGE...',
  summary: 'Show the status and verbose info of images.',
  details: '  -o, --output FORMAT   json (default) or yaml; status as crictl inspecti prints it',
  flags: { value: ['output'], alias: { o: 'output' } },
  async run(args, ctx) {
    if (!args.positional.length) throw new UsageError('missing IMAGE');
    const format = outputFormat(args.get('output'), ['json', 'yaml']);
    for (const t of await resolveAll(ctx, args.positional, ['image'])) printData(ctx, format, await inspectDoc(ctx, t));
    return 0;
  },
};

/** Each word resolved to a pod or a container; failures reported, the rest returned. */
async function targets(ctx: ClientContext, cmd: string, words: readonly string[]): Promise<{ list: Target[]; code: number }> {
  const list: Target[] = [];
  const code = await forEach(ctx, cmd, words, async (w) => {
    list.push(await resolve(ctx, w, ['container', 'pod']));
  });
  return { list, code };
}

export const stopCommand: Command = {
  name: 'stop',
  synopsis: '[-t SECS] ID...',
  summary: 'Stop containers (StopContainer) or pods (StopPodSandbox), by id, unique id prefix or unique name.',
  details: [
    "  -t, --timeout SECS    a container's grace period before SIGKILL (default 10)",
    '',
    'Examples:',
    '  crib stop web-7d9c/web       one container of a pod',
    '  crib stop -t 0 web-7d9c      a whole pod, its containers killed at once',
  ].join('\n'),
  flags: { value: ['timeout'], alias: { t: 'timeout' } },
  async run(args, ctx) {
    if (!args.positional.length) throw new UsageError('missing ID');
    const timeout = args.int('timeout', 10);
    if (timeout < 0) throw new UsageError('--timeout must not be negative');
    const { list, code } = await targets(ctx, 'stop', args.positional);
    const code2 = await forEach(ctx, 'stop', list, async (t) => {
      if (t.kind === 'pod') await call(ctx.clients.runtime, 'StopPodSandbox', { pod_sandbox_id: t.id });
      else await call(ctx.clients.runtime, 'StopContainer', { container_id: t.id, timeout }, timeout + 120);
      ctx.out.write(`${t.id}\n`);
    });
    return code || code2;
  },
};

export const rmCommand: Command = {
  name: 'rm',
  synopsis: '[-f] ID...',
  summary: 'Remove containers (RemoveContainer) or pods (RemovePodSandbox). A running container or a ready pod needs -f.',
  details: [
    '  -f, --force           stop it first if it runs',
    '',
    'Examples:',
    '  crib rm $(crib ps -q --state exited)   every exited container',
    '  crib rm -f web-7d9c                   a pod, stopped first',
  ].join('\n'),
  flags: { bool: ['force'], alias: { f: 'force' } },
  async run(args, ctx) {
    if (!args.positional.length) throw new UsageError('missing ID');
    const force = args.has('force');
    const { list, code } = await targets(ctx, 'rm', args.positional);
    const code2 = await forEach(ctx, 'rm', list, async (t) => {
      if (t.kind === 'pod') {
        if (t.pod.state === 0 && !force) throw new CliError(`pod ${t.id} is ready: stop it first (crib stopp) or use -f`);
        await call(ctx.clients.runtime, 'RemovePodSandbox', { pod_sandbox_id: t.id });
      } else {
        const st = (await call(ctx.clients.runtime, 'ContainerStatus', { container_id: t.id })).status;
        if (st?.state === 1) {
          if (!force) throw new CliError(`container ${t.id} is running: stop it first (crib stop) or use -f`);
          await call(ctx.clients.runtime, 'StopContainer', { container_id: t.id, timeout: 0 });
        }
        await call(ctx.clients.runtime, 'RemoveContainer', { container_id: t.id });
      }
      ctx.out.write(`${t.id}\n`);
    });
    return code || code2;
  },
};
