import { invalidArgument } from '../util/errors.js';
import type { PortMapping } from '../network/types.js';
import { toUserNamespace } from './userns-convert.js';
import type { NamespaceMode, SandboxConfig, SandboxFilter, SandboxView } from '../sandbox/types.js';
import type { PodSandboxConfig__Output } from './generated/runtime/v1/PodSandboxConfig.js';
import type { PodSandboxFilter__Output } from './generated/runtime/v1/PodSandboxFilter.js';
import type { PodSandbox } from './generated/runtime/v1/PodSandbox.js';
import type { PodSandboxStatus } from './generated/runtime/v1/PodSandboxStatus.js';
import type { PortMapping__Output } from './generated/runtime/v1/PortMapping.js';

const namespaceModes: readonly NamespaceMode[] = ['POD', 'CONTAINER', 'NODE', 'TARGET'];
const modeNumber = (m: NamespaceMode): 0 | 1 | 2 | 3 => namespaceModes.indexOf(m) as 0 | 1 | 2 | 3;
const protocols = ['tcp', 'udp', 'sctp'] as const;

function namespaceMode(field: string, n: number): NamespaceMode {
  const m = namespaceModes[n];
  if (!m) throw invalidArgument(field, `unknown namespace mode ${n}`);
  return m;
}

function int64Field(field: string, v: { value: string } | null): number | undefined {
  if (!v) return undefined;
  const n = Number(v.value);
  if (!Number.isSafeInteger(n)) throw invalidArgument(field, `"${v.value}" is not an integer`);
  return n;
}

function portMappings(list: PortMapping__Output[]): PortMapping[] {
  return list.map((p, i) => {
    const protocol = protocols[p.protocol];
    if (!protocol) throw invalidArgument(`config.port_mappings[${i}].protocol`, `unknown protocol ${p.protocol}`);
    return { hostPort: p.host_port, containerPort: p.container_port, protocol, ...(p.host_ip ? { hostIP: p.host_ip } : {}) };
  });
}

/** RunPodSandboxRequest → crib's SandboxConfig; only shape checks here, the rules live in sandbox/validate. */
export function toSandboxConfig(c: PodSandboxConfig__Output | null, runtimeHandler: string): SandboxConfig {
  if (!c) throw invalidArgument('config', 'required');
  if (!c.metadata) throw invalidArgument('config.metadata', 'required');
  const sec = c.linux?.security_context ?? null;
  const ns = sec?.namespace_options ?? null;
  const nsField = 'config.linux.security_context.namespace_options';
  return {
    metadata: { name: c.metadata.name, uid: c.metadata.uid, namespace: c.metadata.namespace, attempt: c.metadata.attempt },
    hostname: c.hostname,
    logDirectory: c.log_directory,
    dnsConfig: c.dns_config ? { servers: c.dns_config.servers, searches: c.dns_config.searches, options: c.dns_config.options } : undefined,
    portMappings: portMappings(c.port_mappings),
    labels: c.labels,
    annotations: c.annotations,
    cgroupParent: c.linux?.cgroup_parent ?? '',
    sysctls: c.linux?.sysctls ?? {},
    namespaces: {
      network: namespaceMode(`${nsField}.network`, ns?.network ?? 0),
      pid: namespaceMode(`${nsField}.pid`, ns?.pid ?? 0),
      ipc: namespaceMode(`${nsField}.ipc`, ns?.ipc ?? 0),
      targetId: ns?.target_id ?? '',
    },
    runAsUser: int64Field('config.linux.security_context.run_as_user', sec?.run_as_user ?? null),
    runAsGroup: int64Field('config.linux.security_context.run_as_group', sec?.run_as_group ?? null),
    runtimeHandler,
    userns: toUserNamespace(`${nsField}.userns_options`, ns?.userns_options),
  };
}

export function toSandboxFilter(f: PodSandboxFilter__Output | null): SandboxFilter | undefined {
  if (!f) return undefined;
  return {
    id: f.id || undefined,
    // A present state sub-message filters, even at its zero value (SANDBOX_READY).
    state: f.state ? (f.state.state === 0 ? 'READY' : 'NOTREADY') : undefined,
    labelSelector: f.label_selector,
  };
}

const stateNumber = (v: SandboxView): 0 | 1 => (v.state === 'READY' ? 0 : 1);

function metadata(v: SandboxView) {
  const m = v.sandbox.config.metadata;
  return { name: m.name, uid: m.uid, namespace: m.namespace, attempt: m.attempt };
}

export function toPodSandbox(v: SandboxView): PodSandbox {
  const sb = v.sandbox;
  return {
    id: sb.id,
    metadata: metadata(v),
    state: stateNumber(v),
    created_at: sb.createdAt,
    labels: sb.config.labels,
    annotations: sb.config.annotations,
    runtime_handler: sb.config.runtimeHandler,
  };
}

export function toPodSandboxStatus(v: SandboxView): PodSandboxStatus {
  const sb = v.sandbox;
  const ips = sb.network?.ips ?? [];
  const ns = sb.config.namespaces;
  return {
    id: sb.id,
    metadata: metadata(v),
    state: stateNumber(v),
    created_at: sb.createdAt,
    network: { ip: ips[0]?.ip ?? '', additional_ips: ips.slice(1).map((i) => ({ ip: i.ip })) },
    linux: {
      namespaces: {
        options: { network: modeNumber(ns.network), pid: modeNumber(ns.pid), ipc: modeNumber(ns.ipc), target_id: ns.targetId },
      },
    },
    labels: sb.config.labels,
    annotations: sb.config.annotations,
    runtime_handler: sb.config.runtimeHandler,
  };
}
