// Pure: ListMetricDescriptors and ListPodSandboxMetrics. kubelet (PodAndContainerStatsFromCRI) turns
// these into its /metrics/cadvisor endpoint, so the names, help and labels are cAdvisor's, as
// containerd and CRI-O emit them. Values come from the same PodUsage as PodSandboxStats.
import type { ContainerUsage } from '../container/stats.js';
import type { Container } from '../container/types.js';
import type { InterfaceUsage } from '../network/net-dev.js';
import type { PodUsage } from '../pod/usage.js';
import type { Metric } from './generated/runtime/v1/Metric.js';
import type { MetricDescriptor } from './generated/runtime/v1/MetricDescriptor.js';
import { MetricType } from './generated/runtime/v1/MetricType.js';
import type { PodSandboxMetrics } from './generated/runtime/v1/PodSandboxMetrics.js';

/** The labels every metric starts with (containerd's and CRI-O's set); kubelet passes them on as they are. */
export const baseLabelKeys = ['pod', 'namespace', 'container', 'id', 'image'] as const;

/** The `container` label of pod-level metrics (the network), as cAdvisor names the pod's pause container. */
export const POD_CONTAINER = 'POD';

type Kind = 'COUNTER' | 'GAUGE';
interface Def {
  help: string;
  kind: Kind;
  /** Labels after the base ones. */
  extra?: readonly string[];
}

const defs = {
  container_cpu_usage_seconds_total: { help: 'Cumulative CPU time consumed in seconds.', kind: 'COUNTER' },
  container_cpu_user_seconds_total: { help: 'Cumulative user CPU time consumed in seconds.', kind: 'COUNTER' },
  container_cpu_system_seconds_total: { help: 'Cumulative system CPU time consumed in seconds.', kind: 'COUNTER' },
  container_memory_usage_bytes: { help: 'Current memory usage in bytes, including all memory regardless of when it was accessed.', kind: 'GAUGE' },
  container_memory_working_set_bytes: { help: 'Current working set in bytes (usage less inactive file pages).', kind: 'GAUGE' },
  container_memory_rss: { help: 'Size of RSS (anonymous memory) in bytes.', kind: 'GAUGE' },
  container_memory_cache: { help: 'Number of bytes of page cache memory (tmpfs included).', kind: 'GAUGE' },
  container_memory_failures_total: { help: 'Cumulative count of memory allocation failures (page faults).', kind: 'COUNTER', extra: ['failure_type', 'scope'] },
  container_oom_events_total: { help: 'Count of out of memory events observed for the container.', kind: 'COUNTER' },
  container_fs_usage_bytes: { help: "Number of bytes that are consumed by the container's writable layer.", kind: 'GAUGE' },
  container_last_seen: { help: 'Last time a container was seen by the exporter (seconds since the epoch).', kind: 'GAUGE' },
  container_start_time_seconds: { help: 'Start time of the container since unix epoch in seconds.', kind: 'GAUGE' },
  container_network_receive_bytes_total: { help: 'Cumulative count of bytes received.', kind: 'COUNTER', extra: ['interface'] },
  container_network_receive_packets_total: { help: 'Cumulative count of packets received.', kind: 'COUNTER', extra: ['interface'] },
  container_network_receive_packets_dropped_total: { help: 'Cumulative count of packets dropped while receiving.', kind: 'COUNTER', extra: ['interface'] },
  container_network_receive_errors_total: { help: 'Cumulative count of errors encountered while receiving.', kind: 'COUNTER', extra: ['interface'] },
  container_network_transmit_bytes_total: { help: 'Cumulative count of bytes transmitted.', kind: 'COUNTER', extra: ['interface'] },
  container_network_transmit_packets_total: { help: 'Cumulative count of packets transmitted.', kind: 'COUNTER', extra: ['interface'] },
  container_network_transmit_packets_dropped_total: { help: 'Cumulative count of packets dropped while transmitting.', kind: 'COUNTER', extra: ['interface'] },
  container_network_transmit_errors_total: { help: 'Cumulative count of errors encountered while transmitting.', kind: 'COUNTER', extra: ['interface'] },
} satisfies Record<string, Def>;

export type MetricName = keyof typeof defs;

/** ListMetricDescriptors: every metric ListPodSandboxMetrics may return. */
export function metricDescriptors(): MetricDescriptor[] {
  return Object.entries(defs).map(([name, d]: [string, Def]) => ({ name, help: d.help, label_keys: [...baseLabelKeys, ...(d.extra ?? [])] }));
}

/** When a set of metrics was read: the CRI timestamp (ns, decimal) and whole seconds for the *_seconds gauges. */
export interface MetricsTime {
  nanos: string;
  seconds: number;
}

export function metricsTimeAt(nanos: string): MetricsTime {
  return { nanos, seconds: Number(BigInt(nanos) / 1_000_000_000n) };
}

/** Collects metrics that share base label values; an unknown value (an unreadable file) is left out. */
function emitter(base: string[], time: MetricsTime) {
  const out: Metric[] = [];
  const add = (name: MetricName, value: number | undefined, extra: string[] = []) => {
    if (value === undefined || !Number.isFinite(value)) return;
    const d: Def = defs[name];
    out.push({
      name,
      timestamp: time.nanos,
      metric_type: d.kind === 'COUNTER' ? MetricType.COUNTER : MetricType.GAUGE,
      label_values: [...base, ...extra],
      value: { value: String(Math.max(0, Math.floor(value))) },
    });
  };
  return { out, add };
}

/** The CRI's values are whole numbers: seconds are cut to whole seconds, as containerd and CRI-O do. */
const seconds = (nanos: number | undefined) => (nanos === undefined ? undefined : nanos / 1e9);

function containerMetrics(sb: PodUsage['sandbox'], c: Container, u: ContainerUsage, time: MetricsTime): Metric[] {
  const m = sb.config.metadata;
  const { out, add } = emitter([m.name, m.namespace, c.config.metadata.name, c.id, c.image.ref], time);
  const g = u.usage;
  add('container_cpu_usage_seconds_total', seconds(g.cpuNanos));
  add('container_cpu_user_seconds_total', seconds(g.cpuUserNanos));
  add('container_cpu_system_seconds_total', seconds(g.cpuSystemNanos));
  add('container_memory_usage_bytes', g.memoryUsage);
  add('container_memory_working_set_bytes', g.workingSet);
  add('container_memory_rss', g.rss);
  add('container_memory_cache', g.cache);
  // cAdvisor reports faults for the container and its hierarchy; a container's cgroup has no children.
  for (const scope of ['container', 'hierarchy']) {
    add('container_memory_failures_total', g.pageFaults, ['pgfault', scope]);
    add('container_memory_failures_total', g.majorPageFaults, ['pgmajfault', scope]);
  }
  add('container_oom_events_total', g.oomKills);
  add('container_fs_usage_bytes', u.writable.bytes);
  add('container_last_seen', time.seconds);
  add('container_start_time_seconds', c.startedAt ? Number(BigInt(c.startedAt) / 1_000_000_000n) : undefined);
  return out;
}

function networkMetrics(sb: PodUsage['sandbox'], ifaces: InterfaceUsage[], time: MetricsTime): Metric[] {
  const m = sb.config.metadata;
  const { out, add } = emitter([m.name, m.namespace, POD_CONTAINER, sb.id, ''], time);
  for (const i of ifaces) {
    const l = [i.name];
    add('container_network_receive_bytes_total', i.rxBytes, l);
    add('container_network_receive_packets_total', i.rxPackets, l);
    add('container_network_receive_packets_dropped_total', i.rxDropped, l);
    add('container_network_receive_errors_total', i.rxErrors, l);
    add('container_network_transmit_bytes_total', i.txBytes, l);
    add('container_network_transmit_packets_total', i.txPackets, l);
    add('container_network_transmit_packets_dropped_total', i.txDropped, l);
    add('container_network_transmit_errors_total', i.txErrors, l);
  }
  return out;
}

/** One pod's metrics: the network at pod level (the pod's netns), CPU, memory and disk per container. */
export function toPodSandboxMetrics(u: PodUsage, time: MetricsTime): PodSandboxMetrics {
  return {
    pod_sandbox_id: u.sandbox.id,
    metrics: u.network ? networkMetrics(u.sandbox, u.network, time) : [],
    container_metrics: u.containers.map((c) => ({ container_id: c.container.id, metrics: containerMetrics(u.sandbox, c.container, c.usage, time) })),
  };
}
