import protobuf from 'protobufjs/light.js';
import type { Container, ContainerView } from '../container/types.js';
import type { Sandbox, SandboxView } from '../sandbox/types.js';
import type { ContainerStatusResponse } from './generated/runtime/v1/ContainerStatusResponse.js';
import type { ListContainersResponse } from './generated/runtime/v1/ListContainersResponse.js';
import type { ListPodSandboxResponse } from './generated/runtime/v1/ListPodSandboxResponse.js';
import type { PodSandboxStatusResponse } from './generated/runtime/v1/PodSandboxStatusResponse.js';
import { toContainerStatus, toCriContainer } from './container-convert.js';
import { asBuffer, criType, encodedReply } from './proto.js';
import { toPodSandbox, toPodSandboxStatus } from './sandbox-convert.js';

/**
 * The replies of kubelet's relist (ListPodSandbox, ListContainers each second; the status of what
 * changed, without verbose) from bytes kept per pod and container: each one's message is encoded
 * once and kept while what it shows stays the same, so a list of 220 containers is one copy of
 * kept bytes, not 220 objects built and encoded (the allocation that brought the GC into these
 * calls' p99). A kept message holds while its record is the same object and the fields that
 * change after a record joins the registry are the same (the key below); everything else a reply
 * shows (ids, metadata, image, labels, annotations, mounts, log path, namespaces) is written once,
 * at create.
 */

/** A message as field 1 of its reply (tag, length, message), with the values it was made from. */
interface Kept {
  key: readonly unknown[];
  bytes: Buffer;
}

const FIELD_1 = (1 << 3) | 2; // field 1, length-delimited
const TIMESTAMP_FIELD_4 = (4 << 3) | 0; // PodSandboxStatusResponse.timestamp, varint

class KeptMessages<R extends object, V> {
  private readonly kept = new WeakMap<R, Kept>();
  private type: protobuf.Type | undefined;

  constructor(
    private readonly typeName: string,
    private readonly build: (v: V) => object,
    private readonly keyOf: (v: V) => readonly unknown[],
  ) {}

  field1(record: R, v: V): Buffer {
    const key = this.keyOf(v);
    const hit = this.kept.get(record);
    if (hit && sameKey(hit.key, key)) return hit.bytes;
    this.type ??= criType(this.typeName);
    const w = protobuf.Writer.create().uint32(FIELD_1).fork();
    this.type.encode(this.build(v), w);
    const bytes = asBuffer(w.ldelim().finish());
    this.kept.set(record, { key, bytes });
    return bytes;
  }
}

function sameKey(a: readonly unknown[], b: readonly unknown[]): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return a.length === b.length;
}

// What changes of a pod or container once it is in the registry: its state (phase, pause or the
// process alive), its network (attached while the pod is made), and a container's start and end.
const podItems = new KeptMessages<Sandbox, SandboxView>('runtime.v1.PodSandbox', toPodSandbox, (v) => [v.state]);
const podStatuses = new KeptMessages<Sandbox, SandboxView>('runtime.v1.PodSandboxStatus', toPodSandboxStatus, (v) => [v.state, v.sandbox.network]);
const containerItems = new KeptMessages<Container, ContainerView>('runtime.v1.Container', toCriContainer, (v) => [v.state]);
const containerStatuses = new KeptMessages<Container, ContainerView>('runtime.v1.ContainerStatus', toContainerStatus, (v) => {
  const c = v.container;
  return [v.state, c.startedAt, c.finishedAt, c.exitCode, c.reason, c.message, c.user];
});

export function listPodSandboxReply(views: readonly SandboxView[]): ListPodSandboxResponse {
  return encodedReply(Buffer.concat(views.map((v) => podItems.field1(v.sandbox, v))));
}

export function listContainersReply(views: readonly ContainerView[]): ListContainersResponse {
  return encodedReply(Buffer.concat(views.map((v) => containerItems.field1(v.container, v))));
}

/** PodSandboxStatus without verbose: no info, no container statuses (as containerd), and the time of the reply. */
export function podSandboxStatusReply(v: SandboxView, timestamp: string): PodSandboxStatusResponse {
  const status = podStatuses.field1(v.sandbox, v);
  const time = asBuffer(protobuf.Writer.create().uint32(TIMESTAMP_FIELD_4).int64(timestamp).finish());
  return encodedReply(Buffer.concat([status, time]));
}

/** ContainerStatus without verbose: no info. */
export function containerStatusReply(v: ContainerView): ContainerStatusResponse {
  return encodedReply(containerStatuses.field1(v.container, v));
}
