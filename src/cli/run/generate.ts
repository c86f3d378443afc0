// `crib generate POD`: a running pod as Kubernetes YAML that `crib run` takes again. A pod crib run
// started is given back exactly as it was run (its record: the claims, ConfigMaps and Secrets it
// uses, then the Pod); any other pod (crictl's, kubelet's) is described from what the runtime
// knows of it: images, commands, environment, mounts as hostPath volumes, ports.
import { stringify } from 'yaml';
import { call } from '../../client/client.js';
import type { ClientContext } from '../../client/context.js';
import { describeError } from '../../client/errors.js';
import type { PodSandbox__Output } from '../../cri/generated/runtime/v1/PodSandbox.js';
import { ANN_CONTAINER_TYPE, ANN_PORTS, LABEL_POD_UID } from '../../kube/records/keys.js';
import { matchPods } from '../../kube/run/down.js';
import type { Json } from '../../kube/manifest/fields.js';
import { readRecord } from '../../kube/records/record.js';

/** Labels and annotations the runtime's clients add (kubelet's, crib run's): not the pod's own. */
const ownKey = (k: string): boolean => !k.startsWith('io.kubernetes.') && !k.startsWith('io.crib.');
const own = (m: Record<string, string>): Record<string, string> => Object.fromEntries(Object.entries(m).filter(([k]) => ownKey(k)));

/** Variables the runtime or image sets by itself: left out of a generated env. */
const RUNTIME_ENV = new Set(['PATH', 'HOSTNAME', 'TERM', 'HOME']);

interface RuntimeSpec {
  process?: { args?: string[]; env?: string[]; cwd?: string };
}

/** A Pod from the runtime's view of a pod crib run did not start. */
async function fromRuntime(ctx: ClientContext, s: PodSandbox__Output): Promise<Record<string, Json>> {
  const rt = ctx.clients.runtime;
  const list = (await call(rt, 'ListContainers', { filter: { pod_sandbox_id: s.id } }, 30)).containers;
  // The newest attempt of each container name.
  const newest = new Map<string, (typeof list)[number]>();
  for (const c of list) {
    const name = c.metadata?.name ?? '';
    const prev = newest.get(name);
    if (!prev || (c.metadata?.attempt ?? 0) > (prev.metadata?.attempt ?? 0)) newest.set(name, c);
  }
  const volumes: Record<string, Json>[] = [];
  const containers: Record<string, Json>[] = [];
  const initContainers: Record<string, Json>[] = [];
  for (const [name, c] of [...newest].sort((a, b) => (BigInt(a[1].created_at || '0') < BigInt(b[1].created_at || '0') ? -1 : 1))) {
    const r = await call(rt, 'ContainerStatus', { container_id: c.id, verbose: true }, 30);
    const st = r.status;
    let spec: RuntimeSpec = {};
    try {
      spec = (JSON.parse(r.info['info'] ?? '{}') as { runtimeSpec?: RuntimeSpec }).runtimeSpec ?? {};
    } catch {
      /* no verbose info: image and mounts only */
    }
    const out: Record<string, Json> = { name, image: st?.image?.user_specified_image || st?.image?.image || st?.image_ref || c.image_ref };
    const args = spec.process?.args ?? [];
    if (args.length) out['command'] = args;
    const env = (spec.process?.env ?? []).flatMap((kv) => {
      const i = kv.indexOf('=');
      const k = i < 0 ? kv : kv.slice(0, i);
      return RUNTIME_ENV.has(k) ? [] : [{ name: k, value: i < 0 ? '' : kv.slice(i + 1) }];
    });
    if (env.length) out['env'] = env;
    if (spec.process?.cwd && spec.process.cwd !== '/') out['workingDir'] = spec.process.cwd;
    const mounts = (st?.mounts ?? []).map((m) => {
      const vol = `vol-${volumes.length}`;
      volumes.push({ name: vol, hostPath: { path: m.host_path } });
      return { name: vol, mountPath: m.container_path, ...(m.readonly ? { readOnly: true } : {}) };
    });
    if (mounts.length) out['volumeMounts'] = mounts;
    try {
      const ports = JSON.parse(c.annotations[ANN_PORTS] ?? '[]') as Json[];
      if (Array.isArray(ports) && ports.length) out['ports'] = ports;
    } catch {
      /* not kubelet's */
    }
    (c.annotations[ANN_CONTAINER_TYPE] === 'init' ? initContainers : containers).push(out);
  }
  const spec: Record<string, Json> = { containers };
  if (initContainers.length) spec['initContainers'] = initContainers;
  if (volumes.length) spec['volumes'] = volumes;
  const metadata: Record<string, Json> = { name: s.metadata?.name ?? s.id.slice(0, 13), namespace: s.metadata?.namespace ?? 'default' };
  if (Object.keys(own(s.labels)).length) metadata['labels'] = own(s.labels);
  if (Object.keys(own(s.annotations)).length) metadata['annotations'] = own(s.annotations);
  return { apiVersion: 'v1', kind: 'Pod', metadata, spec };
}

/** Prints each pod as YAML documents (1.1, as crib run reads them: `yes` and `0644` stay strings); exit 1 when one could not be found or read. */
export async function generatePods(ctx: ClientContext, root: string, words: string[], namespace: string): Promise<number> {
  const items = (await call(ctx.clients.runtime, 'ListPodSandbox', {}, 30)).items;
  let code = 0;
  const docs: Json[] = [];
  for (const w of words) {
    const found = matchPods(items, w, namespace);
    if (typeof found === 'string') {
      ctx.err.write(`crib generate: ${found}\n`);
      code = 1;
      continue;
    }
    for (const s of found) {
      try {
        const uid = s.labels[LABEL_POD_UID] === s.metadata?.uid ? (s.metadata?.uid ?? '') : '';
        const record = uid ? await readRecord(root, uid) : undefined;
        if (record) docs.push(...record.objects, record.pod);
        else docs.push(await fromRuntime(ctx, s));
      } catch (err) {
        ctx.err.write(`crib generate: pod ${s.metadata?.name ?? s.id}: ${describeError(err)}\n`);
        code = 1;
      }
    }
  }
  ctx.out.write(docs.map((d) => stringify(d, { lineWidth: 0, version: '1.1' })).join('---\n'));
  return code;
}
