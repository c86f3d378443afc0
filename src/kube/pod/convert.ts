// A parsed Pod → the CRI configs kubelet would send for it (RunPodSandbox, CreateContainer).
// Pure: whatever comes from the node (uid, pod IP, volume paths, image user, the host's resolv.conf)
// is passed in.
import { createHash } from 'node:crypto';
import path from 'node:path';
import type { ContainerConfig } from '../../cri/generated/runtime/v1/ContainerConfig.js';
import type { DNSConfig } from '../../cri/generated/runtime/v1/DNSConfig.js';
import type { LinuxContainerResources } from '../../cri/generated/runtime/v1/LinuxContainerResources.js';
import type { LinuxContainerSecurityContext } from '../../cri/generated/runtime/v1/LinuxContainerSecurityContext.js';
import type { Mount } from '../../cri/generated/runtime/v1/Mount.js';
import type { NamespaceOption } from '../../cri/generated/runtime/v1/NamespaceOption.js';
import type { PodSandboxConfig } from '../../cri/generated/runtime/v1/PodSandboxConfig.js';
import type { PortMapping } from '../../cri/generated/runtime/v1/PortMapping.js';
import type { SecurityProfile } from '../../cri/generated/runtime/v1/SecurityProfile.js';
import { containerEnv, expand, type EnvInputs } from '../env/env.js';
import {
  ANN_CONTAINER_TYPE,
  ANN_GRACE,
  ANN_HASH,
  ANN_PORTS,
  ANN_PRESTOP,
  ANN_JOB_BACKOFF_LIMIT,
  ANN_JOB_COMPLETIONS,
  ANN_JOB_DEADLINE,
  ANN_QOS_CLASS,
  ANN_READINESS_PROBE,
  ANN_RESTART_COUNT,
  ANN_TERMINATION_MESSAGE_PATH,
  LABEL_CONTAINER_NAME,
  LABEL_OWNER_KIND,
  LABEL_OWNER_NAME,
  LABEL_OWNER_CRONJOB,
  LABEL_POD_NAME,
  LABEL_POD_NAMESPACE,
  LABEL_POD_UID,
} from '../records/keys.js';
import type { ContainerSpec, DnsConfig, Hook, Pod, Resources, SeccompProfile } from '../manifest/pod-spec.js';
import { oomScoreAdj, qosClass } from '../quantity/qos.js';
import { USERNS_LENGTH } from './userns.js';
import { milliCpuToQuota, milliCpuToShares, QUOTA_PERIOD } from '../quantity/quantity.js';

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

/**
 * Where a pod's namespaces come from, for the sandbox and every container (as kubelet sets them).
 * `usernsHostId`: the first node id of the pod's own user namespace (hostUsers: false), which maps
 * USERNS_LENGTH ids from 0, as kubelet's mapping does.
 */
export function namespaceOptions(pod: Pod, usernsHostId?: number): NamespaceOption {
  const s = pod.spec;
  const ids = usernsHostId === undefined ? [] : [{ container_id: 0, host_id: usernsHostId, length: USERNS_LENGTH }];
  return {
    network: s.hostNetwork ? NS.NODE : NS.POD,
    pid: s.hostPID ? NS.NODE : s.shareProcessNamespace ? NS.POD : NS.CONTAINER,
    ipc: s.hostIPC ? NS.NODE : NS.POD,
    ...(usernsHostId === undefined ? {} : { userns_options: { mode: NS.POD, uids: ids, gids: ids } }),
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
  /** With hostUsers: false, the first node id of the pod's user namespace. */
  usernsHostId?: number;
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
    labels: {
      ...pod.labels,
      [LABEL_POD_NAME]: pod.name,
      [LABEL_POD_NAMESPACE]: pod.namespace,
      [LABEL_POD_UID]: inputs.uid,
      [LABEL_OWNER_KIND]: pod.owner.kind,
      [LABEL_OWNER_NAME]: pod.owner.name,
      ...(pod.owner.cronJob !== undefined ? { [LABEL_OWNER_CRONJOB]: pod.owner.cronJob } : {}),
    },
    annotations: {
      ...pod.annotations,
      [ANN_QOS_CLASS]: qosClass(s),
      ...(pod.owner.completions !== undefined ? { [ANN_JOB_COMPLETIONS]: String(pod.owner.completions) } : {}),
      ...(pod.owner.backoffLimit !== undefined ? { [ANN_JOB_BACKOFF_LIMIT]: String(pod.owner.backoffLimit) } : {}),
      ...(pod.owner.deadlineMs !== undefined ? { [ANN_JOB_DEADLINE]: String(pod.owner.deadlineMs) } : {}),
    },
    linux: {
      sysctls: Object.fromEntries(sc.sysctls.map((x) => [x.name, x.value])),
      security_context: {
        namespace_options: namespaceOptions(pod, inputs.usernsHostId),
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

/**
 * kubelet's resources for a container (calculateLinuxResources): shares from the request, quota
 * from the limit, memory limit, and the oom_score_adj of the pod's QoS class.
 */
export function linuxResources(r: Resources, oomAdj = 0): LinuxContainerResources {
  const out: LinuxContainerResources = {
    cpu_shares: String(milliCpuToShares(r.requests.cpuMilli ?? 0n)),
    cpu_quota: String(milliCpuToQuota(r.limits.cpuMilli ?? 0n)),
    cpu_period: String(QUOTA_PERIOD),
    oom_score_adj: String(oomAdj),
  };
  if (r.limits.memoryBytes) out.memory_limit_in_bytes = String(r.limits.memoryBytes);
  return out;
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

export function preStopAnnotation(h: Hook): string {
  return JSON.stringify('exec' in h ? { exec: { command: h.exec } } : 'httpGet' in h ? { httpGet: h.httpGet } : { sleep: { seconds: h.sleepSeconds } });
}

/** The preStop hook back from a container's annotation (for `crib down` of detached pods). */
export function preStopFromAnnotation(v: string | undefined): Hook | undefined {
  if (!v) return undefined;
  try {
    const h = JSON.parse(v) as { exec?: { command?: unknown }; sleep?: { seconds?: unknown }; httpGet?: Record<string, unknown> };
    const cmd = h.exec?.command;
    if (Array.isArray(cmd) && cmd.every((x) => typeof x === 'string') && cmd.length) return { exec: cmd };
    const secs = h.sleep?.seconds;
    if (typeof secs === 'number' && secs >= 0) return { sleepSeconds: secs };
    const g = h.httpGet;
    if (g && typeof g['port'] === 'number' && typeof g['path'] === 'string' && (g['scheme'] === 'HTTP' || g['scheme'] === 'HTTPS')) {
      const headers = Array.isArray(g['headers'])
        ? (g['headers'] as unknown[]).filter(
            (x): x is { name: string; value: string } =>
              typeof (x as { name?: unknown }).name === 'string' && typeof (x as { value?: unknown }).value === 'string',
          )
        : [];
      return { httpGet: { port: g['port'], path: g['path'], scheme: g['scheme'], headers, ...(typeof g['host'] === 'string' ? { host: g['host'] } : {}) } };
    }
  } catch {
    /* not ours */
  }
  return undefined;
}

export interface ContainerInputs extends EnvInputs {
  attempt: number;
  /** The image as resolved by the runtime (its id), used in CreateContainer. */
  imageRef: string;
  /** Host directory of each volume the pod defines. */
  volumePaths: Record<string, string>;
  /** Where each volume mount with a subPath takes it from, by the mount's index (volumes.ts bindSubPaths). */
  subPathSources?: readonly (string | undefined)[];
  seccompRoot: string;
  init: boolean;
  /** Mounts the run's hooks add to every container (pod/hooks.ts), after the pod's own. */
  extraMounts?: readonly Mount[];
  /** With hostUsers: false, the first node id of the pod's user namespace (the sandbox's). */
  usernsHostId?: number;
}

/** The ContainerConfig kubelet would send for this container. */
export function containerConfig(pod: Pod, c: ContainerSpec, inputs: ContainerInputs): ContainerConfig {
  const envs = containerEnv(pod, c, inputs).env;
  const envMap = new Map(envs.map((e) => [e.key as string, e.value as string]));
  const lookup = (n: string) => envMap.get(n);
  const eff = effectiveSecurity(pod, c);
  const sc = c.securityContext;
  const security: LinuxContainerSecurityContext = {
    capabilities: { add_capabilities: sc.capabilities.add, drop_capabilities: sc.capabilities.drop },
    privileged: sc.privileged ?? false,
    namespace_options: namespaceOptions(pod, inputs.usernsHostId),
    readonly_rootfs: sc.readOnlyRootFilesystem ?? false,
    supplemental_groups: pod.spec.securityContext.supplementalGroups.map(String),
    no_new_privs: sc.allowPrivilegeEscalation === false,
    seccomp: seccomp(eff.seccomp, inputs.seccompRoot),
  };
  if (eff.runAsUser !== undefined) security.run_as_user = { value: String(eff.runAsUser) };
  if (eff.runAsGroup !== undefined) security.run_as_group = { value: String(eff.runAsGroup) };
  const mounts: Mount[] = c.volumeMounts.map((m, i) => {
    const image = pod.spec.volumes.find((x) => x.name === m.name);
    // An image volume is the runtime's to mount (read-only), as kubelet asks it; a subPath goes with it.
    if (image !== undefined && 'image' in image) {
      return { container_path: m.mountPath, image: { image: image.image.reference }, readonly: true, ...(m.subPath ? { image_sub_path: m.subPath } : {}) };
    }
    const base = inputs.volumePaths[m.name];
    if (base === undefined) throw new Error(`volume "${m.name}" of container "${c.name}" was not prepared`);
    // Never the volume's path joined with the subPath: the container may have made that a symlink out.
    const source = m.subPath ? inputs.subPathSources?.[i] : base;
    if (source === undefined) throw new Error(`subPath "${m.subPath}" of container "${c.name}" was not bound`);
    const v = pod.spec.volumes.find((x) => x.name === m.name);
    // kubelet mounts the projected kinds read-only whatever the mount says; a claim may be read-only too.
    const readonly =
      m.readOnly ||
      (v !== undefined && ('configMap' in v || 'secret' in v || 'downwardAPI' in v || 'projected' in v)) ||
      (v !== undefined && 'persistentVolumeClaim' in v && v.persistentVolumeClaim.readOnly);
    return {
      container_path: m.mountPath,
      host_path: source,
      readonly,
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
  if (c.probes.readiness) annotations[ANN_READINESS_PROBE] = 'true';
  if (c.ports.length) annotations[ANN_PORTS] = JSON.stringify(c.ports);
  const config: ContainerConfig = {
    metadata: { name: c.name, attempt: inputs.attempt },
    image: { image: inputs.imageRef, user_specified_image: c.image },
    command: c.command.map((s) => expand(s, lookup)),
    args: c.args.map((s) => expand(s, lookup)),
    envs,
    // A container's own mount wins, as kubelet leaves its /etc/hosts out for a container that mounts one.
    mounts: [...mounts, ...(inputs.extraMounts ?? []).filter((e) => !mounts.some((m) => m.container_path === e.container_path))],
    labels: { [LABEL_CONTAINER_NAME]: c.name, [LABEL_POD_NAME]: pod.name, [LABEL_POD_NAMESPACE]: pod.namespace, [LABEL_POD_UID]: inputs.uid },
    annotations,
    log_path: containerLogPath(c.name, inputs.attempt),
    linux: { resources: linuxResources(c.resources, oomScoreAdj(qosClass(pod.spec), c, inputs.capacity.memoryBytes)), security_context: security },
  };
  if (c.workingDir) config.working_dir = c.workingDir;
  if (c.stdin) config.stdin = true;
  if (c.stdinOnce) config.stdin_once = true;
  if (c.tty) config.tty = true;
  return config;
}
