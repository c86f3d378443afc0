import path from 'node:path';
import { invalidArgument } from '../util/errors.js';
import { validateMetadataMap, validateName, validateUnixId } from '../util/validate.js';
import { cleanPath } from './spec/container-spec.js';
import type { ContainerConfig, ContainerMount, ContainerResources } from './types.js';

/**
 * The container's log file: log_path inside the sandbox's log directory, where a path that leaves
 * it is refused; without a log_path it is ID.log, as CRI-O does (kubelet always sends one).
 */
export function containerLogPath(logDirectory: string, logPath: string, id: string): string {
  const rel = logPath || `${id}.log`;
  if (rel.includes('\0')) throw invalidArgument('config.log_path', 'must not contain NUL');
  const full = path.resolve(logDirectory, rel);
  const inside = path.relative(logDirectory, full);
  if (inside === '' || inside === '..' || inside.startsWith('../') || path.isAbsolute(inside)) {
    throw invalidArgument('config.log_path', `"${rel}" escapes the sandbox's log_directory`);
  }
  return full;
}

const cpusetSyntax = /^\d+(-\d+)?(,\d+(-\d+)?)*$/;

/** A kernel cpu or node list ("0-3,8"), as inclusive ranges; undefined when it is not one. */
export function cpusetRanges(list: string): [number, number][] | undefined {
  if (!cpusetSyntax.test(list)) return undefined;
  const ranges = list.split(',').map((r): [number, number] => {
    const [lo, hi = lo] = r.split('-').map(Number);
    return [lo!, hi!];
  });
  return ranges.every(([lo, hi]) => Number.isSafeInteger(hi) && lo <= hi) ? ranges : undefined;
}

/**
 * The smallest memory limit a container starts with, CRI-O's (12 MiB): below a few MiB the OCI runtime's own
 * init is OOM-killed, and CreateContainer failed INTERNAL after the container's files existed.
 */
export const MIN_MEMORY_LIMIT = 12 * 1024 * 1024;

/** The node's online CPUs and memory nodes, as the kernel lists them (/sys/devices/system/{cpu,node}/online). */
export interface NodeCpusets {
  cpus: string;
  mems: string;
}

/**
 * cpuset_cpus and cpuset_mems name only CPUs and memory nodes the node has online: the kernel
 * refuses others when the OCI runtime writes the cgroup, after the container's files exist.
 */
export function validateCpusetsOnNode(field: string, r: ContainerResources, node: NodeCpusets): void {
  const check = (name: string, want: string | undefined, have: string, what: string) => {
    if (want === undefined) return;
    const online = cpusetRanges(have) ?? [];
    const outside = cpusetRanges(want)?.find(([lo, hi]) => !online.some(([a, b]) => a <= lo && hi <= b));
    if (outside) throw invalidArgument(`${field}.${name}`, `"${want}" names ${what} ${outside.join('-')} this node does not have online (${have || 'none'})`);
  };
  check('cpuset_cpus', r.cpusetCpus, node.cpus, 'CPUs');
  check('cpuset_mems', r.cpusetMems, node.mems, 'memory nodes');
}

/**
 * Resources as the kernel and the OCI runtime take them (0 means "not set", as in the CRI), so a bad value is
 * INVALID_ARGUMENT naming its field instead of a runtime failure: CreateContainer's
 * `config.linux.resources` and UpdateContainerResources' `linux` alike.
 */
export function validateResources(field: string, r: ContainerResources): void {
  const range = (name: string, v: number | undefined, min: number, max: number, also: number[] = []) => {
    if (v !== undefined && !also.includes(v) && !(v >= min && v <= max)) {
      throw invalidArgument(`${field}.${name}`, `${v} is out of range (${min} to ${max}${also.length ? ` or ${also.join(', ')}` : ''})`);
    }
  };
  range('cpu_shares', r.cpuShares, 2, 262144); // cgroup v1's cpu.shares bounds
  range('cpu_period', r.cpuPeriod, 1000, 1_000_000); // 1 ms to 1 s, in µs (CFS)
  range('cpu_quota', r.cpuQuota, 1000, Number.MAX_SAFE_INTEGER, [-1]); // -1: no limit
  range('memory_limit_in_bytes', r.memoryLimitBytes, MIN_MEMORY_LIMIT, Number.MAX_SAFE_INTEGER);
  range('memory_swap_limit_in_bytes', r.memorySwapLimitBytes, 1, Number.MAX_SAFE_INTEGER, [-1]);
  range('oom_score_adj', r.oomScoreAdj, -1000, 1000);
  const swap = r.memorySwapLimitBytes;
  if (swap !== undefined && swap !== -1 && r.memoryLimitBytes !== undefined && swap < r.memoryLimitBytes) {
    throw invalidArgument(`${field}.memory_swap_limit_in_bytes`, `${swap} is below memory_limit_in_bytes (it counts memory plus swap)`);
  }
  if (r.cpusetCpus !== undefined && !cpusetRanges(r.cpusetCpus))
    throw invalidArgument(`${field}.cpuset_cpus`, `"${r.cpusetCpus}" is not a CPU list like 0-3,5`);
  if (r.cpusetMems !== undefined && !cpusetRanges(r.cpusetMems)) throw invalidArgument(`${field}.cpuset_mems`, `"${r.cpusetMems}" is not a node list like 0-1`);
}

/**
 * An image volume names its image and no host path; a recursive read-only mount is read-only with
 * private propagation (a propagated mount could not stay read-only below), as kubelet, containerd
 * and CRI-O require.
 */
function validateMountKind(field: string, m: ContainerMount): void {
  if (m.image !== undefined && m.hostPath) throw invalidArgument(`${field}.host_path`, 'must be empty for an image volume (image is set)');
  if (m.imageSubPath !== undefined && m.image === undefined) throw invalidArgument(`${field}.image_sub_path`, 'is only for an image volume (image is not set)');
  if (!m.recursiveReadOnly) return;
  if (!m.readonly) throw invalidArgument(`${field}.recursive_read_only`, 'requires readonly: true');
  if (m.propagation !== 'private') throw invalidArgument(`${field}.recursive_read_only`, `requires propagation PROPAGATION_PRIVATE, not ${m.propagation}`);
}

/**
 * Checks a container config, every rule in one place; throws INVALID_ARGUMENT naming the CRI field
 * at fault. What needs the node (the sandbox, the image, host files) is checked where it is used.
 */
export function validateContainerConfig(c: ContainerConfig): void {
  const SC = 'config.linux.security_context';
  validateName('config.metadata.name', c.metadata.name);
  if (!c.image) throw invalidArgument('config.image.image', 'required');
  validateMetadataMap('config.labels', c.labels);
  validateMetadataMap('config.annotations', c.annotations);
  if (c.workingDir && !path.posix.isAbsolute(c.workingDir)) throw invalidArgument('config.working_dir', `"${c.workingDir}" must be absolute`);
  const destinations = new Set<string>();
  c.mounts.forEach((m, i) => {
    const field = `config.mounts[${i}]`;
    if (!path.posix.isAbsolute(m.containerPath)) throw invalidArgument(`${field}.container_path`, `"${m.containerPath}" must be absolute`);
    const dest = cleanPath(m.containerPath);
    if (dest === '/') throw invalidArgument(`${field}.container_path`, "cannot mount over the container's root");
    if (destinations.has(dest)) throw invalidArgument(`${field}.container_path`, `"${dest}" is mounted twice`);
    destinations.add(dest);
    if (m.image === undefined && !path.posix.isAbsolute(m.hostPath)) throw invalidArgument(`${field}.host_path`, `"${m.hostPath}" must be absolute`);
    validateMountKind(field, m);
  });
  c.devices.forEach((d, i) => {
    if (!path.posix.isAbsolute(d.containerPath)) throw invalidArgument(`config.devices[${i}].container_path`, `"${d.containerPath}" must be absolute`);
    if (!path.posix.isAbsolute(d.hostPath)) throw invalidArgument(`config.devices[${i}].host_path`, `"${d.hostPath}" must be absolute`);
    if (!/^[rwm]*$/.test(d.permissions)) throw invalidArgument(`config.devices[${i}].permissions`, `"${d.permissions}" must be letters of "rwm"`);
  });
  c.envs.forEach((e, i) => {
    if (!e.key || e.key.includes('=')) throw invalidArgument(`config.envs[${i}].key`, `"${e.key}" is not a variable name`);
    // execve takes NUL-terminated strings: the OCI runtime would refuse the spec after the container's files exist.
    if (e.key.includes('\0')) throw invalidArgument(`config.envs[${i}].key`, 'must not contain NUL');
    if (e.value.includes('\0')) throw invalidArgument(`config.envs[${i}].value`, 'must not contain NUL');
  });
  validateResources('config.linux.resources', c.resources);
  const sec = c.security;
  if (sec.runAsUser !== undefined) validateUnixId(`${SC}.run_as_user`, sec.runAsUser);
  if (sec.runAsGroup !== undefined) validateUnixId(`${SC}.run_as_group`, sec.runAsGroup);
  sec.supplementalGroups.forEach((g, i) => validateUnixId(`${SC}.supplemental_groups[${i}]`, g));
  if (sec.runAsGroup !== undefined && sec.runAsUser === undefined && !sec.runAsUsername) {
    // A group alone would mix with the image's user in ways nobody asked for; containerd refuses it too.
    throw invalidArgument(`${SC}.run_as_group`, 'is set without run_as_user or run_as_username');
  }
  if (sec.namespaces.pid === 'TARGET' && !sec.namespaces.targetId) throw invalidArgument(`${SC}.namespace_options.target_id`, 'required with pid TARGET');
}
