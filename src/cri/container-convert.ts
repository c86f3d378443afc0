import { invalidArgument } from '../util/errors.js';
import type {
  ContainerConfig,
  ContainerFilter,
  ContainerResources,
  ContainerSecurity,
  ContainerState,
  ContainerView,
  MountPropagation,
  SeccompProfile,
} from '../container/types.js';
import type { LinuxContainerResources__Output } from './generated/runtime/v1/LinuxContainerResources.js';
import type { NamespaceMode } from '../sandbox/types.js';
import { toUserNamespace } from './userns-convert.js';
import type { ContainerConfig__Output } from './generated/runtime/v1/ContainerConfig.js';
import type { ContainerFilter__Output } from './generated/runtime/v1/ContainerFilter.js';
import type { Container as CriContainer } from './generated/runtime/v1/Container.js';
import type { ContainerStatus } from './generated/runtime/v1/ContainerStatus.js';
import type { LinuxContainerSecurityContext__Output } from './generated/runtime/v1/LinuxContainerSecurityContext.js';
import type { SecurityProfile__Output } from './generated/runtime/v1/SecurityProfile.js';

const modes: readonly NamespaceMode[] = ['POD', 'CONTAINER', 'NODE', 'TARGET'];
const propagations: readonly MountPropagation[] = ['private', 'host-to-container', 'bidirectional'];
const states: readonly ContainerState[] = ['CREATED', 'RUNNING', 'EXITED', 'UNKNOWN'];
const stateNumber = (s: ContainerState) => states.indexOf(s) as 0 | 1 | 2 | 3;

function int(field: string, v: string | undefined): number | undefined {
  if (v === undefined || v === '' || v === '0') return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw invalidArgument(field, `"${v}" is not an integer`);
  return n;
}

function seccomp(sec: LinuxContainerSecurityContext__Output | null): SeccompProfile {
  const field = 'config.linux.security_context.seccomp';
  const p: SecurityProfile__Output | null = sec?.seccomp ?? null;
  if (p) {
    if (p.profile_type === 0) return { type: 'RuntimeDefault' };
    if (p.profile_type === 1) return { type: 'Unconfined' };
    if (p.profile_type !== 2) throw invalidArgument(`${field}.profile_type`, `unknown profile type ${String(p.profile_type)}`);
    if (!p.localhost_ref.startsWith('/')) throw invalidArgument(`${field}.localhost_ref`, `"${p.localhost_ref}" must be an absolute path`);
    return { type: 'Localhost', path: p.localhost_ref };
  }
  // The deprecated string form, as older kubelets send it; anything else is refused, as containerd does.
  const legacy = sec?.seccomp_profile_path ?? '';
  if (legacy === '' || legacy === 'unconfined') return { type: 'Unconfined' };
  if (legacy === 'runtime/default' || legacy === 'docker/default') return { type: 'RuntimeDefault' };
  if (legacy.startsWith('localhost/')) return { type: 'Localhost', path: legacy.slice('localhost'.length) };
  throw invalidArgument(
    'config.linux.security_context.seccomp_profile_path',
    `"${legacy}" is not runtime/default, docker/default, unconfined or localhost/PATH`,
  );
}

function supplementalGroupsPolicy(p: number): NonNullable<ContainerSecurity['supplementalGroupsPolicy']> {
  if (p === 0) return 'Merge';
  if (p === 1) return 'Strict';
  throw invalidArgument('config.linux.security_context.supplemental_groups_policy', `unknown policy ${p}`);
}

/** CreateContainerRequest.config → crib's ContainerConfig (shape only; rules in container/validate). */
export function toContainerConfig(c: ContainerConfig__Output | null): ContainerConfig {
  if (!c) throw invalidArgument('config', 'required');
  if (!c.metadata) throw invalidArgument('config.metadata', 'required');
  const lx = c.linux;
  const sec = lx?.security_context ?? null;
  const ns = sec?.namespace_options ?? null;
  const res = lx?.resources ?? null;
  const nsMode = (f: string, n: number | undefined): NamespaceMode => {
    const m = modes[n ?? 0];
    if (!m) throw invalidArgument(`config.linux.security_context.namespace_options.${f}`, `unknown mode ${n}`);
    return m;
  };
  return {
    metadata: { name: c.metadata.name, attempt: c.metadata.attempt },
    image: c.image?.image ?? '',
    command: c.command,
    args: c.args,
    workingDir: c.working_dir,
    envs: c.envs.map((e) => ({ key: e.key, value: e.value })),
    mounts: c.mounts.map((m, i) => {
      const propagation = propagations[m.propagation];
      if (!propagation) throw invalidArgument(`config.mounts[${i}].propagation`, `unknown propagation ${m.propagation}`);
      return {
        containerPath: m.container_path,
        hostPath: m.host_path,
        readonly: m.readonly,
        propagation,
        recursiveReadOnly: m.recursive_read_only,
        ...(m.image?.image ? { image: m.image.image } : {}),
        ...(m.image_sub_path ? { imageSubPath: m.image_sub_path } : {}),
      };
    }),
    devices: c.devices.map((d) => ({ containerPath: d.container_path, hostPath: d.host_path, permissions: d.permissions || 'rwm' })),
    labels: c.labels,
    annotations: c.annotations,
    logPath: c.log_path,
    stdin: c.stdin,
    stdinOnce: c.stdin_once,
    tty: c.tty,
    resources: toContainerResources(res, 'config.linux.resources'),
    security: {
      privileged: sec?.privileged ?? false,
      capabilities: { add: sec?.capabilities?.add_capabilities ?? [], drop: sec?.capabilities?.drop_capabilities ?? [] },
      namespaces: { network: nsMode('network', ns?.network), pid: nsMode('pid', ns?.pid), ipc: nsMode('ipc', ns?.ipc), targetId: ns?.target_id ?? '' },
      userns: toUserNamespace('config.linux.security_context.namespace_options.userns_options', ns?.userns_options),
      runAsUser: sec?.run_as_user ? Number(sec.run_as_user.value) : undefined,
      runAsGroup: sec?.run_as_group ? Number(sec.run_as_group.value) : undefined,
      runAsUsername: sec?.run_as_username || undefined,
      supplementalGroups: (sec?.supplemental_groups ?? []).map(Number),
      supplementalGroupsPolicy: supplementalGroupsPolicy(sec?.supplemental_groups_policy ?? 0),
      readonlyRootfs: sec?.readonly_rootfs ?? false,
      noNewPrivs: sec?.no_new_privs ?? false,
      maskedPaths: sec?.masked_paths ?? [],
      readonlyPaths: sec?.readonly_paths ?? [],
      seccomp: seccomp(sec),
      apparmorProfile: sec?.apparmor?.localhost_ref || sec?.apparmor_profile || undefined,
    },
  };
}

/** LinuxContainerResources → crib's; zero values mean "not set", as in the CRI. */
export function toContainerResources(res: LinuxContainerResources__Output | null, field: string): ContainerResources {
  return {
    cpuPeriod: int(`${field}.cpu_period`, res?.cpu_period),
    cpuQuota: int(`${field}.cpu_quota`, res?.cpu_quota),
    cpuShares: int(`${field}.cpu_shares`, res?.cpu_shares),
    memoryLimitBytes: int(`${field}.memory_limit_in_bytes`, res?.memory_limit_in_bytes),
    memorySwapLimitBytes: int(`${field}.memory_swap_limit_in_bytes`, res?.memory_swap_limit_in_bytes),
    oomScoreAdj: res?.oom_score_adj ? Number(res.oom_score_adj) : undefined,
    cpusetCpus: res?.cpuset_cpus || undefined,
    cpusetMems: res?.cpuset_mems || undefined,
  };
}

export function toContainerFilter(f: ContainerFilter__Output | null): ContainerFilter | undefined {
  if (!f) return undefined;
  return {
    id: f.id || undefined,
    state: f.state ? states[f.state.state] : undefined,
    sandboxId: f.pod_sandbox_id || undefined,
    labelSelector: f.label_selector,
  };
}

export function toCriContainer(v: ContainerView): CriContainer {
  const c = v.container;
  return {
    id: c.id,
    pod_sandbox_id: c.sandboxId,
    metadata: c.config.metadata,
    image: { image: c.image.ref, annotations: {} },
    image_ref: c.image.repoDigest || c.image.id,
    image_id: c.image.id,
    state: stateNumber(v.state),
    created_at: c.createdAt,
    labels: c.config.labels,
    annotations: c.config.annotations,
  };
}

export function toContainerStatus(v: ContainerView): ContainerStatus {
  const c = v.container;
  return {
    id: c.id,
    metadata: c.config.metadata,
    state: stateNumber(v.state),
    created_at: c.createdAt,
    started_at: c.startedAt ?? '0',
    finished_at: c.finishedAt ?? '0',
    exit_code: c.exitCode ?? 0,
    image: { image: c.image.ref, annotations: {} },
    image_ref: c.image.repoDigest || c.image.id,
    image_id: c.image.id,
    reason: c.reason ?? '',
    message: c.message ?? '',
    labels: c.config.labels,
    annotations: c.config.annotations,
    mounts: c.config.mounts.map((m) => ({
      container_path: m.containerPath,
      host_path: m.hostPath,
      readonly: m.readonly,
      propagation: propagations.indexOf(m.propagation) as 0 | 1 | 2,
      recursive_read_only: m.recursiveReadOnly ?? false,
      ...(m.image ? { image: { image: m.image, annotations: {} } } : {}),
      ...(m.imageSubPath ? { image_sub_path: m.imageSubPath } : {}),
    })),
    log_path: c.paths.log,
    ...(c.user ? { user: { linux: { uid: String(c.user.uid), gid: String(c.user.gid), supplemental_groups: c.user.supplementalGroups.map(String) } } } : {}),
  };
}
