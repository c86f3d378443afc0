// A parsed Pod → the CRI configs kubelet would send for it (RunPodSandbox, CreateContainer).
// Pure: whatever comes from the node (uid, pod IP, volume paths, image user, the host's resolv.conf)
// is passed in.
import { createHash } from 'node:crypto';
import path from 'node:path';
import type { ContainerConfig } from '../../cri/generated/runtime/v1/ContainerConfig.js';
import type { DNSConfig } from '../../cri/generated/runtime/v1/DNSConfig.js';
import type { KeyValue } from '../../cri/generated/runtime/v1/KeyValue.js';
import type { LinuxContainerResources } from '../../cri/generated/runtime/v1/LinuxContainerResources.js';
import type { LinuxContainerSecurityContext } from '../../cri/generated/runtime/v1/LinuxContainerSecurityContext.js';
import type { Mount } from '../../cri/generated/runtime/v1/Mount.js';
import type { NamespaceOption } from '../../cri/generated/runtime/v1/NamespaceOption.js';
import type { PodSandboxConfig } from '../../cri/generated/runtime/v1/PodSandboxConfig.js';
import type { PortMapping } from '../../cri/generated/runtime/v1/PortMapping.js';
import type { SecurityProfile } from '../../cri/generated/runtime/v1/SecurityProfile.js';
import type { ContainerSpec, DnsConfig, Pod, PreStopHook, Resources, SeccompProfile } from './manifest.js';
import { milliCpuToQuota, milliCpuToShares, QUOTA_PERIOD } from './quantity.js';

// kubelet's label and annotation keys (pkg/kubelet/types/labels.go, kuberuntime/labels.go).
export const LABEL_POD_NAME = 'io.kubernetes.pod.name';
export const LABEL_POD_NAMESPACE = 'io.kubernetes.pod.namespace';
export const LABEL_POD_UID = 'io.kubernetes.pod.uid';
export const LABEL_CONTAINER_NAME = 'io.kubernetes.container.name';
export const ANN_GRACE = 'io.kubernetes.pod.terminationGracePeriod';
export const ANN_RESTART_COUNT = 'io.kubernetes.container.restartCount';
export const ANN_HASH = 'io.kubernetes.container.hash';
export const ANN_PRESTOP = 'io.kubernetes.container.preStopHandler';
export const ANN_PORTS = 'io.kubernetes.container.ports';
export const ANN_TERMINATION_MESSAGE_PATH = 'io.kubernetes.container.terminationMessagePath';
/** crib run's own: which list of the Pod a container comes from ("init" or "app"). */
export const ANN_CONTAINER_TYPE = 'io.crib.run.containerType';

/** NamespaceMode numbers of the CRI. */
const NS = { POD: 0, CONTAINER: 1, NODE: 2 } as const;
const PROTOCOL = { TCP: 0, UDP: 1, SCTP: 2 } as const;
const PROPAGATION = { None: 0, HostToContainer: 1, Bidirectional: 2 } as const;
const SECCOMP = { RuntimeDefault: 0, Unconfined: 1, Localhost: 2 } as const;

/** kubelet's pod log directory: /var/log/pods/NAMESPACE_NAME_UID. */
export function podLogDirectory(pod: Pod, uid: string, base = '/var/log/pods'): string {
  return path.join(base, `${pod.namespace}_${pod.name}_${uid}`);
}

/** The log file of one container attempt, relative to the pod's log directory (kubelet's layout). */
export const containerLogPath = (name: string, attempt: number): string => `${name}/${attempt}.log`;

/** Where a pod's namespaces come from, for the sandbox and every container (as kubelet sets them). */
export function namespaceOptions(pod: Pod): NamespaceOption {
  const s = pod.spec;
  return {
    network: s.hostNetwork ? NS.NODE : NS.POD,
    pid: s.hostPID ? NS.NODE : s.shareProcessNamespace ? NS.POD : NS.CONTAINER,
    ipc: s.hostIPC ? NS.NODE : NS.POD,
  };
}

/** The pod's hostname: spec.hostname, else its name (truncated to 63 like kubelet does). */
export function podHostname(pod: Pod): string {
  if (pod.spec.hostname) return pod.spec.hostname;
  return pod.name.length > 63 ? pod.name.slice(0, 63).replace(/[-.]+$/, '') : pod.name;
}

/** The nameserver, search and options lines of a resolv.conf. */
export function parseResolvConf(text: string): DnsConfig {
  const out: DnsConfig = { nameservers: [], searches: [], options: [] };
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const [key, ...fields] = line.split(/\s+/);
    if (key === 'nameserver' && fields[0]) out.nameservers.push(fields[0]);
    else if (key === 'search' || key === 'domain') out.searches = fields;
    else if (key === 'options') {
      for (const o of fields) {
        const i = o.indexOf(':');
        out.options.push(i < 0 ? { name: o } : { name: o.slice(0, i), value: o.slice(i + 1) });
      }
    }
  }
  return out;
}

const unique = <T>(xs: T[]): T[] => [...new Set(xs)];

/**
 * The sandbox's DNS as kubelet computes it without cluster DNS (ClusterFirst falls back to Default):
 * None → exactly dnsConfig; otherwise the host's resolv.conf with dnsConfig appended (options
 * replaced by name). No dnsConfig and not None → undefined: the runtime copies the host's file.
 */
export function podDns(pod: Pod, hostResolv: DnsConfig | undefined): DNSConfig | undefined {
  const d = pod.spec.dnsConfig;
  const fmt = (o: { name: string; value?: string }) => (o.value !== undefined ? `${o.name}:${o.value}` : o.name);
  if (pod.spec.dnsPolicy === 'None') {
    const cfg = d ?? { nameservers: [], searches: [], options: [] };
    return { servers: cfg.nameservers, searches: cfg.searches, options: cfg.options.map(fmt) };
  }
  if (!d) return undefined;
  const host = hostResolv ?? { nameservers: [], searches: [], options: [] };
  const options = new Map<string, { name: string; value?: string }>();
  for (const o of [...host.options, ...d.options]) options.set(o.name, o);
  return {
    servers: unique([...host.nameservers, ...d.nameservers]).slice(0, 3),
    searches: unique([...host.searches, ...d.searches]).slice(0, 32),
    options: [...options.values()].map(fmt),
  };
}

function seccomp(p: SeccompProfile | undefined, seccompRoot: string): SecurityProfile {
  // Without a profile kubelet asks for Unconfined (its SeccompDefault setting is off by default).
  if (!p) return { profile_type: SECCOMP.Unconfined };
  if (p.type === 'Localhost') return { profile_type: SECCOMP.Localhost, localhost_ref: path.join(seccompRoot, p.localhostProfile ?? '') };
  return { profile_type: SECCOMP[p.type] };
}

export function podPortMappings(pod: Pod): PortMapping[] {
  if (pod.spec.hostNetwork) return [];
  return pod.spec.containers.flatMap((c) =>
    c.ports
      .filter((p) => p.hostPort)
      .map((p): PortMapping => ({
        container_port: p.containerPort,
        host_port: p.hostPort,
        protocol: PROTOCOL[p.protocol],
        ...(p.hostIP ? { host_ip: p.hostIP } : {}),
      })),
  );
}

export interface SandboxInputs {
  uid: string;
  /** The host's resolv.conf, parsed (only used with a dnsConfig and a policy other than None). */
  hostResolv?: DnsConfig;
  /** Where the runtime's Localhost seccomp profiles live. */
  seccompRoot: string;
  logBase?: string;
}

/** The PodSandboxConfig kubelet would send for this pod. */
export function podSandboxConfig(pod: Pod, inputs: SandboxInputs): PodSandboxConfig {
  const s = pod.spec;
  const sc = s.securityContext;
  const dns = podDns(pod, inputs.hostResolv);
  const config: PodSandboxConfig = {
    metadata: { name: pod.name, namespace: pod.namespace, uid: inputs.uid, attempt: 0 },
    log_directory: podLogDirectory(pod, inputs.uid, inputs.logBase),
    port_mappings: podPortMappings(pod),
    labels: { ...pod.labels, [LABEL_POD_NAME]: pod.name, [LABEL_POD_NAMESPACE]: pod.namespace, [LABEL_POD_UID]: inputs.uid },
    annotations: { ...pod.annotations },
    linux: {
      sysctls: Object.fromEntries(sc.sysctls.map((x) => [x.name, x.value])),
      security_context: {
        namespace_options: namespaceOptions(pod),
        ...(sc.runAsUser !== undefined ? { run_as_user: { value: String(sc.runAsUser) } } : {}),
        ...(sc.runAsGroup !== undefined ? { run_as_group: { value: String(sc.runAsGroup) } } : {}),
        supplemental_groups: sc.supplementalGroups.map(String),
        privileged: [...s.containers, ...s.initContainers].some((c) => c.securityContext.privileged === true),
        seccomp: seccomp(sc.seccompProfile, inputs.seccompRoot),
      },
    },
  };
  if (!s.hostNetwork) config.hostname = podHostname(pod);
  if (dns) config.dns_config = dns;
  return config;
}

/** kubelet's resources for a container (calculateLinuxResources): shares from the request, quota from the limit. */
export function linuxResources(r: Resources): LinuxContainerResources {
  const out: LinuxContainerResources = {
    cpu_shares: String(milliCpuToShares(r.requests.cpuMilli ?? 0n)),
    cpu_quota: String(milliCpuToQuota(r.limits.cpuMilli ?? 0n)),
    cpu_period: String(QUOTA_PERIOD),
  };
  if (r.limits.memoryBytes) out.memory_limit_in_bytes = String(r.limits.memoryBytes);
  return out;
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

export interface PodFacts {
  uid: string;
  podIP: string;
  podIPs: string[];
  nodeName: string;
}

/** The value of a fieldRef env var. */
export function fieldValue(pod: Pod, fieldPath: string, facts: PodFacts): string {
  switch (fieldPath) {
    case 'metadata.name':
      return pod.name;
    case 'metadata.namespace':
      return pod.namespace;
    case 'metadata.uid':
      return facts.uid;
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

/** The container's environment in order, values expanded against the variables before them. */
export function containerEnv(pod: Pod, c: ContainerSpec, facts: PodFacts): KeyValue[] {
  const vars = new Map<string, string>();
  for (const e of c.env) {
    const value = 'fieldPath' in e ? fieldValue(pod, e.fieldPath, facts) : expand(e.value, (n) => vars.get(n));
    vars.set(e.name, value);
  }
  return [...vars].map(([key, value]) => ({ key, value }));
}

/** The effective security settings: the container's, else the pod's. */
export function effectiveSecurity(pod: Pod, c: ContainerSpec): { runAsUser?: number; runAsGroup?: number; runAsNonRoot?: boolean; seccomp?: SeccompProfile } {
  const p = pod.spec.securityContext;
  const s = c.securityContext;
  const out: { runAsUser?: number; runAsGroup?: number; runAsNonRoot?: boolean; seccomp?: SeccompProfile } = {};
  const uid = s.runAsUser ?? p.runAsUser;
  if (uid !== undefined) out.runAsUser = uid;
  const gid = s.runAsGroup ?? p.runAsGroup;
  if (gid !== undefined) out.runAsGroup = gid;
  const nonRoot = s.runAsNonRoot ?? p.runAsNonRoot;
  if (nonRoot !== undefined) out.runAsNonRoot = nonRoot;
  const sc = s.seccompProfile ?? p.seccompProfile;
  if (sc) out.seccomp = sc;
  return out;
}

/**
 * kubelet's verifyRunAsNonRoot: with runAsNonRoot the container must run as a known non-zero uid.
 * `imageUser` is what ImageStatus says: a numeric uid, or a user name, or neither (root).
 */
export function checkRunAsNonRoot(pod: Pod, c: ContainerSpec, imageUser: { uid?: string; username?: string }): string | undefined {
  const eff = effectiveSecurity(pod, c);
  if (!eff.runAsNonRoot) return undefined;
  if (eff.runAsUser !== undefined) return eff.runAsUser === 0 ? `container "${c.name}": runAsUser 0 breaks runAsNonRoot` : undefined;
  if (imageUser.uid !== undefined && imageUser.uid !== '') {
    return Number(imageUser.uid) === 0 ? `container "${c.name}" has runAsNonRoot and image will run as root (uid 0)` : undefined;
  }
  if (imageUser.username)
    return `container "${c.name}" has runAsNonRoot and image has non-numeric user (${imageUser.username}), cannot verify user is non-root`;
  return `container "${c.name}" has runAsNonRoot and image will run as root (no user set)`;
}

export function preStopAnnotation(h: PreStopHook): string {
  return JSON.stringify('exec' in h ? { exec: { command: h.exec } } : { sleep: { seconds: h.sleepSeconds } });
}

/** The preStop hook back from a container's annotation (for `crib delete` of detached pods). */
export function preStopFromAnnotation(v: string | undefined): PreStopHook | undefined {
  if (!v) return undefined;
  try {
    const h = JSON.parse(v) as { exec?: { command?: unknown }; sleep?: { seconds?: unknown } };
    const cmd = h.exec?.command;
    if (Array.isArray(cmd) && cmd.every((x) => typeof x === 'string') && cmd.length) return { exec: cmd };
    const secs = h.sleep?.seconds;
    if (typeof secs === 'number' && secs >= 0) return { sleepSeconds: secs };
  } catch {
    /* not ours */
  }
  return undefined;
}

export interface ContainerInputs extends PodFacts {
  attempt: number;
  /** The image as resolved by the runtime (its id), used in CreateContainer. */
  imageRef: string;
  /** Host directory of each volume the pod defines. */
  volumePaths: Record<string, string>;
  seccompRoot: string;
  init: boolean;
}

/** The ContainerConfig kubelet would send for this container. */
export function containerConfig(pod: Pod, c: ContainerSpec, inputs: ContainerInputs): ContainerConfig {
  const envs = containerEnv(pod, c, inputs);
  const envMap = new Map(envs.map((e) => [e.key as string, e.value as string]));
  const lookup = (n: string) => envMap.get(n);
  const eff = effectiveSecurity(pod, c);
  const sc = c.securityContext;
  const security: LinuxContainerSecurityContext = {
    capabilities: { add_capabilities: sc.capabilities.add, drop_capabilities: sc.capabilities.drop },
    privileged: sc.privileged ?? false,
    namespace_options: namespaceOptions(pod),
    readonly_rootfs: sc.readOnlyRootFilesystem ?? false,
    supplemental_groups: pod.spec.securityContext.supplementalGroups.map(String),
    no_new_privs: sc.allowPrivilegeEscalation === false,
    seccomp: seccomp(eff.seccomp, inputs.seccompRoot),
  };
  if (eff.runAsUser !== undefined) security.run_as_user = { value: String(eff.runAsUser) };
  if (eff.runAsGroup !== undefined) security.run_as_group = { value: String(eff.runAsGroup) };
  const mounts: Mount[] = c.volumeMounts.map((m) => {
    const base = inputs.volumePaths[m.name];
    if (base === undefined) throw new Error(`volume "${m.name}" of container "${c.name}" was not prepared`);
    return {
      container_path: m.mountPath,
      host_path: m.subPath ? path.join(base, m.subPath) : base,
      readonly: m.readOnly,
      propagation: PROPAGATION[m.propagation],
    };
  });
  const annotations: Record<string, string> = {
    [ANN_HASH]: createHash('sha256')
      .update(JSON.stringify(c, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)))
      .digest('hex')
      .slice(0, 8),
    [ANN_RESTART_COUNT]: String(inputs.attempt),
    [ANN_TERMINATION_MESSAGE_PATH]: '',
    [ANN_GRACE]: String(pod.spec.terminationGracePeriodSeconds),
    [LABEL_CONTAINER_NAME]: c.name,
    [ANN_CONTAINER_TYPE]: inputs.init ? 'init' : 'app',
  };
  if (c.preStop) annotations[ANN_PRESTOP] = preStopAnnotation(c.preStop);
  if (c.ports.length) annotations[ANN_PORTS] = JSON.stringify(c.ports);
  const config: ContainerConfig = {
    metadata: { name: c.name, attempt: inputs.attempt },
    image: { image: inputs.imageRef, user_specified_image: c.image },
    command: c.command.map((s) => expand(s, lookup)),
    args: c.args.map((s) => expand(s, lookup)),
    envs,
    mounts,
    labels: { [LABEL_CONTAINER_NAME]: c.name, [LABEL_POD_NAME]: pod.name, [LABEL_POD_NAMESPACE]: pod.namespace, [LABEL_POD_UID]: inputs.uid },
    annotations,
    log_path: containerLogPath(c.name, inputs.attempt),
    linux: { resources: linuxResources(c.resources), security_context: security },
  };
  if (c.workingDir) config.working_dir = c.workingDir;
  return config;
}
