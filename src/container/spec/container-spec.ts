import path from 'node:path';
import type { ContainerConfig, ContainerResources, MountPropagation } from '../types.js';
import type { ImageRuntimeConfig } from '../../image/types.js';
import { CribError, invalidArgument } from '../../util/errors.js';
import { effectiveCapabilities } from './capabilities.js';
import {
  cgroupMount,
  copyMount,
  defaultDeviceRules,
  defaultMaskedPaths,
  defaultNofile,
  defaultPath,
  defaultReadonlyPaths,
  devMount,
  devPtsMount,
  mqueueMount,
  procMount,
  sysfsMount,
} from '../../oci/defaults.js';
import { defaultSeccompProfile, localhostSeccompProfile } from './seccomp-default.js';
import type { OciCpu, OciDevice, OciDeviceCgroup, OciMemory, OciMount, OciNamespace, OciNamespaceType, OciSeccomp, OciSpec } from '../../oci/spec-types.js';
import { processGroups, type ResolvedUser } from './users.js';

/** A requested device node as the caller found it on the host (`path` is ignored: the container path comes from the config). */
export interface DeviceNode {
  path: string;
  type: 'c' | 'b';
  major: number;
  minor: number;
  fileMode: number;
  uid: number;
  gid: number;
}

export interface ContainerSpecInput {
  id: string;
  config: ContainerConfig;
  image: ImageRuntimeConfig;
  /** Resolved by the caller (`resolveUser`) from the image's /etc/passwd and /etc/group. */
  user: ResolvedUser;
  /**
   * Namespaces to join, as paths (/proc/PAUSEPID/ns/ipc, the pinned netns, a target's pid ns).
   * A kind whose mode is NODE gets none (the node's). Any other kind absent here gets a new one.
   * UTS follows the network mode (the pod's own UTS unless it is on the node's network).
   */
  namespaces: { network?: string; ipc?: string; uts?: string; pid?: string };
  /** The pod's hostname: the spec's hostname (with its own UTS) and $HOSTNAME. */
  hostname: string;
  /** The pod's files, bind-mounted at /etc/hostname, /etc/resolv.conf and /etc/hosts. */
  podFiles: { hostname: string; resolvConf: string; hosts: string };
  /** The pod's /dev/shm (a tmpfs on the host). */
  shmPath: string;
  cgroupsPath: string;
  /** Already clamped by the caller. */
  oomScoreAdj: number;
  /** The Localhost seccomp profile's parsed JSON (OCI or Docker form). */
  seccompLocalhostProfile?: unknown;
  /** One per `config.devices` entry, in the same order. */
  hostDevices: DeviceNode[];
  /** Added to the config's annotations (e.g. io.kubernetes.cri.sandbox-id); crib's own win. */
  annotations?: Record<string, string>;
  /** The node's architecture in `process.arch` terms (seccomp); defaults to this process's. */
  arch?: string;
  /**
   * RLIMIT_NOFILE (soft = hard) for the process; default 1048576 as Docker and containerd give.
   * Without CAP_SYS_RESOURCE the OCI runtime cannot raise the hard limit above its own, and the container
   * fails to start: such a caller passes min(1048576, its own hard limit). null sets no rlimit
   * (the container inherits its monitor's).
   */
  rlimitNofile?: number | null;
  /**
   * The capabilities the runtime holds (cribd's CapBnd, see `capabilitiesFromMask`); default
   * all. Privileged and `ALL` mean these; the OCI runtime fails to start a container asked for more.
   */
  availableCapabilities?: readonly string[];
}

export const CONTAINER_TYPE_ANNOTATION = 'io.kubernetes.cri.container-type';

const SC = 'config.linux.security_context';

/**
 * The process arguments, with Docker's and containerd's rules: config.command replaces the
 * image's Entrypoint (and drops its Cmd); config.args replace the image's Cmd. An image
 * Entrypoint of [""] means none.
 */
export function processArgs(config: Pick<ContainerConfig, 'command' | 'args'>, image: ImageRuntimeConfig): string[] {
  if (config.command.length) return [...config.command, ...config.args];
  const ep = image.Entrypoint ?? [];
  const entrypoint = ep.length === 1 && ep[0] === '' ? [] : ep;
  const args = config.args.length ? config.args : (image.Cmd ?? []);
  const out = [...entrypoint, ...args];
  if (!out.length) throw new CribError('InvalidArgument', 'no command specified: config.command, config.args and the image have none');
  return out;
}

const envKey = (e: string): string => {
  const eq = e.indexOf('=');
  return eq < 0 ? e : e.slice(0, eq);
};

/**
 * Layers `overrides` onto `base`: KEY=VALUE replaces KEY in place or is appended; a bare KEY removes
 * it. Linear: an image's Env is a registry's to choose and may hold 100,000 entries.
 */
export function mergeEnv(base: string[], overrides: string[]): string[] {
  const out: (string | undefined)[] = [...base];
  // Where each key's live entries are (base may name a key twice); the first is the one replaced.
  const at = new Map<string, number[]>();
  out.forEach((e, i) => {
    const key = envKey(e!);
    const where = at.get(key);
    if (where) where.push(i);
    else at.set(key, [i]);
  });
  for (const e of overrides) {
    const key = envKey(e);
    const where = at.get(key);
    if (!e.includes('=')) {
      for (const i of where ?? []) out[i] = undefined;
      at.delete(key);
    } else if (where) out[where[0]!] = e;
    else at.set(key, [out.push(e) - 1]);
  }
  return out.filter((e) => e !== undefined);
}

/**
 * The environment, as containerd builds it: PATH (default), TERM=xterm with a tty, HOSTNAME,
 * then the image's Env, then the config's envs, each overriding earlier ones by key.
 */
export function containerEnv(config: Pick<ContainerConfig, 'envs' | 'tty'>, image: ImageRuntimeConfig, hostname: string): string[] {
  const base = [defaultPath];
  if (config.tty) base.push('TERM=xterm');
  base.push(`HOSTNAME=${hostname}`);
  return mergeEnv(
    mergeEnv(base, image.Env ?? []),
    config.envs.map((e) => `${e.key}=${e.value}`),
  );
}

const propagationOption: Record<MountPropagation, string> = {
  private: 'rprivate',
  'host-to-container': 'rslave',
  bidirectional: 'rshared',
};

/** A container path as the spec holds it: normalized, without a trailing slash. */
export function cleanPath(p: string): string {
  const n = path.posix.normalize(p);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

const depth = (p: string): number => (p === '/' ? 0 : p.split('/').length - 1);

function bind(source: string, destination: string, readonly: boolean, extra: string[] = []): OciMount {
  return { destination, type: 'bind', source, options: ['rbind', 'rprivate', readonly ? 'ro' : 'rw', ...extra] };
}

/** "rwm" letters in canonical order; empty means all three (Docker's default). */
function devicePermissions(p: string): string {
  if (!p) return 'rwm';
  return ['r', 'w', 'm'].filter((c) => p.includes(c)).join('');
}

/** The OCI spec of an application container in a pod (containerd's behaviour). */
/**
 * The OCI cpu and memory settings for a container's resources (CreateContainer's spec and
 * UpdateContainerResources alike): zero means unset; swap defaults to the memory limit, so no
 * swap beyond it, as containerd does.
 */
/** CRI resources as OCI's (validated already: container/validate.ts); zero means "not set". */
export function ociResources(r: ContainerResources): { cpu: OciCpu; memory: OciMemory } {
  const cpu: OciCpu = {};
  if (r.cpuShares) cpu.shares = r.cpuShares;
  if (r.cpuQuota) cpu.quota = r.cpuQuota;
  if (r.cpuPeriod) cpu.period = r.cpuPeriod;
  if (r.cpusetCpus) cpu.cpus = r.cpusetCpus;
  if (r.cpusetMems) cpu.mems = r.cpusetMems;
  const memory: OciMemory = {};
  if (r.memoryLimitBytes && r.memoryLimitBytes > 0) memory.limit = r.memoryLimitBytes;
  if (r.memorySwapLimitBytes) {
    memory.swap = r.memorySwapLimitBytes;
  } else if (memory.limit !== undefined) {
    memory.swap = memory.limit;
  }
  return { cpu, memory };
}

export function containerSpec(i: ContainerSpecInput): OciSpec {
  const { config } = i;
  const sec = config.security;
  const privileged = sec.privileged;
  const arch = i.arch ?? process.arch;
  const nofile = i.rlimitNofile === undefined ? defaultNofile : i.rlimitNofile;
  if (nofile !== null && (!Number.isInteger(nofile) || nofile < 1)) throw new CribError('Internal', `container spec: bad RLIMIT_NOFILE ${nofile}`);

  // ---- process ----
  const args = processArgs(config, i.image);
  const imageWd = i.image.WorkingDir ? path.posix.resolve('/', i.image.WorkingDir) : '';
  const cwd = config.workingDir || imageWd || '/';
  const caps = effectiveCapabilities(sec.capabilities.add, sec.capabilities.drop, privileged, i.availableCapabilities);
  const additionalGids = processGroups(i.user);

  // ---- namespaces ----
  const ns = sec.namespaces;
  const namespaces: OciNamespace[] = [{ type: 'mount' }];
  const addNs = (type: OciNamespaceType, node: boolean, join: string | undefined): void => {
    if (node) return;
    namespaces.push(join ? { type, path: join } : { type });
  };
  addNs('network', ns.network === 'NODE', i.namespaces.network);
  addNs('ipc', ns.ipc === 'NODE', i.namespaces.ipc);
  const ownUts = ns.network !== 'NODE';
  addNs('uts', !ownUts, i.namespaces.uts);
  if (ns.pid === 'TARGET' && !i.namespaces.pid) {
    throw invalidArgument(`${SC}.namespace_options.target_id`, `the PID namespace of target container "${ns.targetId}" is unknown`);
  }
  addNs('pid', ns.pid === 'NODE', i.namespaces.pid);
  if (!privileged) namespaces.push({ type: 'cgroup' });

  // ---- mounts ----
  const requested: OciMount[] = [];
  const seen = new Set<string>();
  let rootfsPropagation: string | undefined;
  for (const m of config.mounts) {
    const dest = cleanPath(m.containerPath);
    seen.add(dest);
    const prop = propagationOption[m.propagation];
    if (m.propagation === 'bidirectional') rootfsPropagation = 'rshared';
    else if (m.propagation === 'host-to-container' && rootfsPropagation !== 'rshared') rootfsPropagation = 'rslave';
    // rro (mount_setattr(AT_RECURSIVE)) beside ro, as containerd writes it: ro alone leaves mounts below the source writable.
    const options = ['rbind', prop, m.readonly ? 'ro' : 'rw', ...(m.recursiveReadOnly ? ['rro'] : [])];
    requested.push({ destination: dest, type: 'bind', source: m.hostPath, options });
  }
  const notReplaced = (m: OciMount): boolean => !seen.has(m.destination);
  const system = [procMount, devMount, devPtsMount, mqueueMount, sysfsMount(!privileged), cgroupMount(!privileged)].map(copyMount).filter(notReplaced);
  const podMounts = [
    bind(i.shmPath, '/dev/shm', false, ['nosuid', 'nodev', 'noexec']),
    bind(i.podFiles.hostname, '/etc/hostname', sec.readonlyRootfs),
    bind(i.podFiles.resolvConf, '/etc/resolv.conf', sec.readonlyRootfs),
    bind(i.podFiles.hosts, '/etc/hosts', sec.readonlyRootfs),
  ].filter(notReplaced);
  // Parents before children (a stable sort keeps the given order otherwise).
  const binds = [...podMounts, ...requested].map((m, n) => ({ m, n, d: depth(m.destination) }));
  binds.sort((a, b) => a.d - b.d || a.n - b.n);
  const mounts = [...system, ...binds.map((b) => b.m)];

  // ---- devices ----
  if (i.hostDevices.length !== config.devices.length) {
    throw new CribError('Internal', `container spec: ${i.hostDevices.length} host devices for ${config.devices.length} requested`);
  }
  const deviceRules: OciDeviceCgroup[] = privileged
    ? [{ allow: true, access: 'rwm' }]
    : [{ allow: false, access: 'rwm' }, ...defaultDeviceRules.map((d) => ({ allow: true, ...d }))];
  const devices: OciDevice[] = config.devices.map((d, n) => {
    const access = devicePermissions(d.permissions);
    const h = i.hostDevices[n]!;
    if (!privileged) deviceRules.push({ allow: true, type: h.type, major: h.major, minor: h.minor, access });
    return { path: cleanPath(d.containerPath), type: h.type, major: h.major, minor: h.minor, fileMode: h.fileMode, uid: h.uid, gid: h.gid };
  });

  const { cpu, memory } = ociResources(config.resources);

  // ---- seccomp ----
  let seccomp: OciSeccomp | undefined;
  if (!privileged) {
    if (sec.seccomp.type === 'RuntimeDefault') seccomp = defaultSeccompProfile(caps, arch);
    else if (sec.seccomp.type === 'Localhost') {
      if (i.seccompLocalhostProfile === undefined) throw invalidArgument(`${SC}.seccomp.localhost_ref`, `profile ${sec.seccomp.path} was not loaded`);
      seccomp = localhostSeccompProfile(i.seccompLocalhostProfile, caps, arch);
    }
  }

  return {
    ociVersion: '1.0.2',
    process: {
      terminal: config.tty,
      user: { uid: i.user.uid, gid: i.user.gid, additionalGids },
      args,
      env: containerEnv(config, i.image, i.hostname),
      cwd,
      capabilities: { bounding: [...caps], effective: [...caps], permitted: [...caps], inheritable: [], ambient: [] },
      noNewPrivileges: !privileged && sec.noNewPrivs,
      oomScoreAdj: i.oomScoreAdj,
      ...(nofile !== null ? { rlimits: [{ type: 'RLIMIT_NOFILE', hard: nofile, soft: nofile }] } : {}),
    },
    root: { path: 'rootfs', readonly: sec.readonlyRootfs },
    ...(ownUts ? { hostname: i.hostname } : {}),
    mounts,
    annotations: { ...config.annotations, ...(i.annotations ?? {}), [CONTAINER_TYPE_ANNOTATION]: 'container' },
    linux: {
      namespaces,
      cgroupsPath: i.cgroupsPath,
      resources: {
        devices: deviceRules,
        ...(Object.keys(cpu).length ? { cpu } : {}),
        ...(Object.keys(memory).length ? { memory } : {}),
      },
      ...(devices.length ? { devices } : {}),
      ...(seccomp ? { seccomp } : {}),
      ...(rootfsPropagation ? { rootfsPropagation } : {}),
      maskedPaths: privileged ? [] : sec.maskedPaths.length ? [...sec.maskedPaths] : [...defaultMaskedPaths],
      readonlyPaths: privileged ? [] : sec.readonlyPaths.length ? [...sec.readonlyPaths] : [...defaultReadonlyPaths],
    },
  };
}
