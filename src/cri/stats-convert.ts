import { nowNanos } from '../util/time.js';
import type { Container } from '../container/types.js';
import type { CgroupUsage, ContainerUsage } from '../container/stats.js';
import type { InterfaceUsage } from '../network/net-dev.js';
import type { PodUsage } from '../pod/usage.js';
import type { ContainerStats } from './generated/runtime/v1/ContainerStats.js';
import type { NetworkUsage } from './generated/runtime/v1/NetworkUsage.js';
import type { PodSandboxStats } from './generated/runtime/v1/PodSandboxStats.js';

const u64 = (n: number | undefined) => (n === undefined ? null : { value: String(Math.max(0, Math.round(n))) });

function cpuMemory(u: CgroupUsage, timestamp: string) {
  return {
    cpu: { timestamp, usage_core_nano_seconds: u64(u.cpuNanos) },
    memory: {
      timestamp,
      working_set_bytes: u64(u.workingSet),
      usage_bytes: u64(u.memoryUsage),
      rss_bytes: u64(u.rss),
      page_faults: u64(u.pageFaults),
      major_page_faults: u64(u.majorPageFaults),
    },
  };
}

export function toContainerStats(c: Container, s: ContainerUsage, timestamp = nowNanos()): ContainerStats {
  return {
    attributes: { id: c.id, metadata: c.config.metadata, labels: c.config.labels, annotations: c.config.annotations },
    ...cpuMemory(s.usage, timestamp),
    writable_layer: {
      timestamp,
      fs_id: { mountpoint: s.mountpoint },
      used_bytes: u64(s.writable.bytes),
      inodes_used: u64(s.writable.inodes),
    },
  };
}

/** The pod's interfaces; eth0 (what CNI names the pod's interface) is the default one. */
function toNetworkUsage(ifaces: InterfaceUsage[], timestamp: string): NetworkUsage {
  const cri = ifaces.map((i) => ({ name: i.name, rx_bytes: u64(i.rxBytes), rx_errors: u64(i.rxErrors), tx_bytes: u64(i.txBytes), tx_errors: u64(i.txErrors) }));
  return { timestamp, default_interface: cri.find((i) => i.name === 'eth0') ?? cri[0] ?? null, interfaces: cri };
}

export function toPodSandboxStats(u: PodUsage, timestamp = nowNanos()): PodSandboxStats {
  const sb = u.sandbox;
  const m = sb.config.metadata;
  return {
    attributes: {
      id: sb.id,
      metadata: { name: m.name, uid: m.uid, namespace: m.namespace, attempt: m.attempt },
      labels: sb.config.labels,
      annotations: sb.config.annotations,
    },
    linux: {
      ...cpuMemory(u.cgroup ?? {}, timestamp),
      network: u.network ? toNetworkUsage(u.network, timestamp) : null,
      containers: u.containers.map((c) => toContainerStats(c.container, c.usage, timestamp)),
    },
  };
}
