// Pods and containers named the way kubectl and podman users name them: a pod (its default container,
// or `-c NAME`), a container, or `deployment/NAME`, `job/NAME`, ... resolved to one of the pods crib run
// made for that object. Used by exec, attach, logs and port-forward.
import { call } from '../client/client.js';
import type { ClientContext } from '../client/context.js';
import { CliError } from '../client/errors.js';
import { resolve } from './resolve.js';
import { newestByName } from '../kube/records/newest.js';
import { LABEL_OWNER_KIND, LABEL_OWNER_NAME } from '../kube/records/keys.js';
import type { Container__Output } from '../cri/generated/runtime/v1/Container.js';
import type { PodSandbox__Output } from '../cri/generated/runtime/v1/PodSandbox.js';

/** kubectl's annotation naming the container `kubectl exec/logs/attach` use when none is given. */
export const ANN_DEFAULT_CONTAINER = 'kubectl.kubernetes.io/default-container';

/** kubectl's resource words (and short names) for the kinds crib run makes pods for. */
const KIND_WORDS: Readonly<Record<string, string>> = {
  pod: 'Pod',
  pods: 'Pod',
  po: 'Pod',
  deployment: 'Deployment',
  deployments: 'Deployment',
  deploy: 'Deployment',
  replicaset: 'ReplicaSet',
  replicasets: 'ReplicaSet',
  rs: 'ReplicaSet',
  job: 'Job',
  jobs: 'Job',
  statefulset: 'StatefulSet',
  statefulsets: 'StatefulSet',
  sts: 'StatefulSet',
  daemonset: 'DaemonSet',
  daemonsets: 'DaemonSet',
  ds: 'DaemonSet',
};

/** `deployment/web` → { kind: 'Deployment', name: 'web' }; undefined for any other word. Pure. */
export function parseKindWord(word: string): { kind: string; name: string } | undefined {
  const i = word.indexOf('/');
  if (i <= 0) return undefined;
  const kind = KIND_WORDS[word.slice(0, i).toLowerCase()];
  const name = word.slice(i + 1);
  return kind && name && !name.includes('/') ? { kind, name } : undefined;
}

/**
 * The pod kubectl would pick among an object's pods: a ready one before one that is not, then the
 * newest. Pure.
 */
export function pickOwnedPod(pods: readonly PodSandbox__Output[]): PodSandbox__Output | undefined {
  return [...pods].sort((a, b) => a.state - b.state || (BigInt(b.created_at || '0') > BigInt(a.created_at || '0') ? 1 : -1))[0];
}

/**
 * A pod by what the user typed: `KIND/NAME` (a pod crib run made for that object, or the pod so named
 * for `pod/NAME`), else an id, unique id prefix or unique pod name.
 */
export async function resolvePodWord(ctx: ClientContext, word: string): Promise<PodSandbox__Output> {
  const kw = parseKindWord(word);
  if (kw?.kind === 'Pod') return resolvePodWord(ctx, kw.name);
  if (kw) {
    const { items } = await call(ctx.clients.runtime, 'ListPodSandbox', {
      filter: { label_selector: { [LABEL_OWNER_KIND]: kw.kind, [LABEL_OWNER_NAME]: kw.name } },
    });
    const pod = pickOwnedPod(items);
    if (pod) return pod;
    throw new CliError(`no pods of ${kw.kind.toLowerCase()} "${kw.name}" (crib run makes them: crib pods -l ${LABEL_OWNER_NAME}=${kw.name} lists them)`);
  }
  const t = await resolve(ctx, word, ['pod']);
  if (t.kind !== 'pod') throw new CliError(`"${word}" is not a pod`);
  return t.pod;
}

export interface ContainerChoice {
  container: Container__Output;
  /** kubectl's note when it chose among several: `Defaulted container "a" out of: a, b`. */
  note?: string;
}

/**
 * kubectl's choice of a pod's container: `-c NAME`, else the default-container annotation, else the
 * only one, else the first (with a note naming the others). Pure.
 */
export function chooseContainer(pod: PodSandbox__Output, containers: readonly Container__Output[], name: string | undefined): ContainerChoice {
  const list = newestByName(containers);
  const names = list.map((c) => c.metadata?.name ?? '');
  const podName = pod.metadata?.name ?? pod.id.slice(0, 13);
  const byName = (n: string) => list.find((c) => c.metadata?.name === n);
  if (name !== undefined) {
    const c = byName(name);
    if (c) return { container: c };
    throw new CliError(`container "${name}" is not in pod "${podName}" (its containers: ${names.join(', ') || 'none'})`);
  }
  const annotated = pod.annotations[ANN_DEFAULT_CONTAINER];
  const preferred = annotated !== undefined ? byName(annotated) : undefined;
  if (preferred) return { container: preferred };
  const [first, ...more] = list;
  if (!first) throw new CliError(`pod "${podName}" has no containers`);
  return more.length ? { container: first, note: `Defaulted container "${names[0]}" out of: ${names.join(', ')}` } : { container: first };
}

/** A pod's containers, every attempt. */
export async function containersOf(ctx: ClientContext, podId: string): Promise<Container__Output[]> {
  return (await call(ctx.clients.runtime, 'ListContainers', { filter: { pod_sandbox_id: podId } })).containers;
}

/**
 * A container by what the user typed, as kubectl exec/attach/logs take it: with `-c NAME` the word
 * names a pod (or KIND/NAME); without, a container (id, prefix, name, POD/CONTAINER) or else a pod
 * and its default container. kubectl's "Defaulted container" note goes to stderr.
 */
export async function resolveContainerWord(
  ctx: ClientContext,
  word: string,
  name: string | undefined,
): Promise<{ pod?: PodSandbox__Output; container: Container__Output }> {
  if (name === undefined && !parseKindWord(word)) {
    const asContainer = await resolve(ctx, word, ['container']).catch((err: unknown) => err as Error);
    if (!(asContainer instanceof Error)) {
      if (asContainer.kind === 'container') return { container: asContainer.container };
    } else {
      const pod = await resolvePodWord(ctx, word).catch(() => undefined);
      if (!pod && asContainer.message.includes('ambiguous')) throw asContainer;
      if (!pod) throw new CliError(`no pod or container "${word}" (by id, id prefix or name; crib pods and crib ps -a list them)`);
      return fromPod(ctx, pod, name);
    }
  }
  return fromPod(ctx, await resolvePodWord(ctx, word), name);
}

async function fromPod(
  ctx: ClientContext,
  pod: PodSandbox__Output,
  name: string | undefined,
): Promise<{ pod: PodSandbox__Output; container: Container__Output }> {
  const choice = chooseContainer(pod, await containersOf(ctx, pod.id), name);
  if (choice.note) ctx.err.write(`${choice.note}\n`);
  return { pod, container: choice.container };
}
