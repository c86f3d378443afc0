// A container's environment as kubelet makes it (makeEnvironmentVariables): envFrom first, then
// env in order, each value $(VAR)-expanded against what came before; values from pod fields,
// resources, ConfigMaps and Secrets. And the downward API's values, which volumes share. Pure:
// the node's facts (pod IP, capacity) and the manifest's objects are passed in.
import type { KeyValue } from '../../cri/generated/runtime/v1/KeyValue.js';
import { objectKey } from '../manifest/documents.js';
import type { ContainerSpec, Pod } from '../manifest/pod-spec.js';
import type { DataObject } from '../manifest/objects.js';
import { intValue, milliValue } from '../quantity/quantity.js';
import type { ResourceFieldRef } from '../volumes/volume-spec.js';

/** What the node knows of a pod once its sandbox runs. */
export interface PodFacts {
  uid: string;
  podIP: string;
  podIPs: string[];
  nodeName: string;
  /** The node's CPUs (thousandths) and memory (bytes): a limit that is not set means these. */
  capacity: { cpuMilli: bigint; memoryBytes: bigint };
}

export interface EnvInputs extends PodFacts {
  /** ConfigMaps and Secrets by objectKey(). */
  objects: ReadonlyMap<string, DataObject>;
}

/**
 * Kubernetes' $(VAR) expansion (command, args, env values): $(NAME) becomes the variable's value
 * when it is defined and stays as written otherwise; $$ is a literal $.
 */
export function expand(input: string, lookup: (name: string) => string | undefined): string {
  let out = '';
  for (let i = 0; i < input.length; i++) {
    const ch = input.charAt(i);
    if (ch !== '$' || i + 1 >= input.length) {
      out += ch;
      continue;
    }
    const next = input[i + 1];
    if (next === '$') {
      out += '$';
      i++;
    } else if (next === '(') {
      const close = input.indexOf(')', i + 2);
      if (close < 0) {
        out += input.slice(i);
        break;
      }
      const name = input.slice(i + 2, close);
      out += lookup(name) ?? `$(${name})`;
      i = close;
    } else {
      out += ch;
    }
  }
  return out;
}

/** kubelet's FormatMap: `key="value"` lines, sorted by key (a downwardAPI file of all labels). */
export function formatMap(m: Record<string, string>): string {
  return Object.keys(m)
    .sort()
    .map((k) => `${k}=${JSON.stringify(m[k])}`)
    .join('\n');
}

/** The value of a pod field (env fieldRef, downwardAPI files). */
export function fieldValue(pod: Pod, fieldPath: string, facts: Pick<PodFacts, 'uid' | 'podIP' | 'podIPs' | 'nodeName'>): string {
  switch (fieldPath) {
    case 'metadata.name':
      return pod.name;
    case 'metadata.namespace':
      return pod.namespace;
    case 'metadata.uid':
      return facts.uid;
    case 'metadata.labels':
      return formatMap(pod.labels);
    case 'metadata.annotations':
      return formatMap(pod.annotations);
    case 'spec.nodeName':
      return facts.nodeName;
    case 'status.podIP':
      return facts.podIP;
    case 'status.podIPs':
      return facts.podIPs.join(',');
  }
  const m = /^metadata\.(labels|annotations)\['([^']+)'\]$/.exec(fieldPath);
  const [, kind, key = ''] = m ?? [];
  if (m) return (kind === 'labels' ? pod.labels : pod.annotations)[key] ?? '';
  return '';
}

const ceilDiv = (a: bigint, b: bigint): bigint => (a + b - 1n) / b;

/**
 * A container's request or limit in units of the divisor, rounded up (kubelet's
 * ExtractContainerResourceValue); a limit that is not set is the node's capacity.
 */
export function resourceValue(pod: Pod, containerName: string, ref: ResourceFieldRef, capacity: PodFacts['capacity']): string {
  const c = [...pod.spec.containers, ...pod.spec.initContainers].find((x) => x.name === containerName);
  const r = c?.resources ?? { limits: {}, requests: {} };
  switch (ref.resource) {
    case 'limits.cpu':
      return String(ceilDiv(r.limits.cpuMilli ?? capacity.cpuMilli, milliValue(ref.divisor)));
    case 'requests.cpu':
      return String(ceilDiv(r.requests.cpuMilli ?? 0n, milliValue(ref.divisor)));
    case 'limits.memory':
      return String(ceilDiv(r.limits.memoryBytes ?? capacity.memoryBytes, intValue(ref.divisor)));
    case 'requests.memory':
      return String(ceilDiv(r.requests.memoryBytes ?? 0n, intValue(ref.divisor)));
  }
}

/** IsEnvVarName: what envFrom keys must look like to become variables (others are skipped). */
const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

export interface ContainerEnv {
  env: KeyValue[];
  /** envFrom keys that are not variable names, skipped (kubelet reports them as an event). */
  skipped: string[];
}

/** The container's environment in order; a later definition of a name replaces the earlier one. */
export function containerEnv(pod: Pod, c: ContainerSpec, inputs: EnvInputs): ContainerEnv {
  const vars = new Map<string, string>();
  const skipped: string[] = [];
  const object = (kind: DataObject['kind'], name: string) => inputs.objects.get(objectKey(kind, pod.namespace, name));
  for (const e of c.envFrom) {
    const o = object(e.from === 'configMap' ? 'ConfigMap' : 'Secret', e.name);
    for (const [k, v] of o?.data ?? []) {
      const name = e.prefix + k;
      if (ENV_NAME.test(name)) vars.set(name, v.toString('utf8'));
      else skipped.push(name);
    }
  }
  for (const e of c.env) {
    let value: string | undefined;
    if ('value' in e) value = expand(e.value, (n) => vars.get(n));
    else if ('fieldPath' in e) value = fieldValue(pod, e.fieldPath, inputs);
    else if ('resourceFieldRef' in e) value = resourceValue(pod, e.resourceFieldRef.containerName ?? c.name, e.resourceFieldRef, inputs.capacity);
    else {
      const [kind, ref] = 'configMapKeyRef' in e ? (['ConfigMap', e.configMapKeyRef] as const) : (['Secret', e.secretKeyRef] as const);
      // Missing and not optional was refused before anything ran (plan.ts); optional and missing: unset.
      value = object(kind, ref.name)?.data.get(ref.key)?.toString('utf8');
    }
    if (value !== undefined) vars.set(e.name, value);
  }
  return { env: [...vars].map(([key, value]) => ({ key, value })), skipped };
}
