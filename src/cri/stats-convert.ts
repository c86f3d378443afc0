import { nowNanos } from '../util/time.js';
import type { Container } from '../container/types.js';
import type { CgroupUsage } from '../container/stats.js';
import type { Sandbox } from '../sandbox/types.js';
import type { ContainerStats } from './generated/runtime/v1/ContainerStats.js';
import type { PodSandboxStats } from './generated/runtime/v1/PodSandboxStats.js';

const u64 = (n: number | undefined) => (n === undefined ? null : { value: String(Math.max(0, Math.round(n))) });

function cpuMemory(u: CgroupUsage) {
  const timestamp = nowNanos();
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

export function toContainerStats(c: Container, s: { usage: CgroupUsage; writable: { bytes: number; inodes: number }; mountpoint: string }): ContainerStats {
  return {
    attributes: { id: c.id, metadata: c.config.metadata, labels: c.config.labels, annotations: c.config.annotations },
    ...cpuMemory(s.usage),
    writable_layer: {
      timestamp: nowNanos(),
      fs_id: { mountpoint: s.mountpoint },
      used_bytes: u64(s.writable.bytes),
      inodes_used: u64(s.writable.inodes),
    },
  };
}

export function toPodSandboxStats(sb: Sandbox, pod: CgroupUsage, containers: ContainerStats[]): PodSandboxStats {
  const m = sb.config.metadata;
  return {
    attributes: {
      id: sb.id,
      metadata: { name: m.name, uid: m.uid, namespace: m.namespace, attempt: m.attempt },
      labels: sb.config.labels,
      annotations: sb.config.annotations,
    },
    linux: { ...cpuMemory(pod), containers },
  };
}
