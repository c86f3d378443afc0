import type { OciMount } from './spec-types.js';

export const defaultPath = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** /proc entries hidden from containers, as containerd and CRI-O hide them. */
export const defaultMaskedPaths = [
  '/proc/acpi',
  '/proc/asound',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
];

export const defaultReadonlyPaths = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

export const procMount: OciMount = { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] };

export const devMount: OciMount = {
  destination: '/dev',
  type: 'tmpfs',
  source: 'tmpfs',
  options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
};

export function bindMount(source: string, destination: string, readonly: boolean, extra: string[] = []): OciMount {
  return { destination, type: 'bind', source, options: ['rbind', readonly ? 'ro' : 'rw', ...extra] };
}

export const noCapabilities = { bounding: [], effective: [], inheritable: [], permitted: [], ambient: [] };

/** A fresh copy of a mount, so specs never share (and a caller never mutates) these constants. */
export function copyMount(m: OciMount): OciMount {
  return { ...m, options: [...m.options] };
}

export const devPtsMount: OciMount = {
  destination: '/dev/pts',
  type: 'devpts',
  source: 'devpts',
  options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
};

export const mqueueMount: OciMount = { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] };

export function sysfsMount(readonly: boolean): OciMount {
  return { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', readonly ? 'ro' : 'rw'] };
}

export function cgroupMount(readonly: boolean): OciMount {
  return { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', readonly ? 'ro' : 'rw'] };
}

/**
 * Device nodes every container may use (after a deny-all rule): null, zero, full, random, urandom,
 * tty, ptmx and the pty slaves /dev/pts/*.
 */
export const defaultDeviceRules: { type: 'c'; major: number; minor?: number; access: string }[] = [
  { type: 'c', major: 1, minor: 3, access: 'rwm' }, // null
  { type: 'c', major: 1, minor: 5, access: 'rwm' }, // zero
  { type: 'c', major: 1, minor: 7, access: 'rwm' }, // full
  { type: 'c', major: 1, minor: 8, access: 'rwm' }, // random
  { type: 'c', major: 1, minor: 9, access: 'rwm' }, // urandom
  { type: 'c', major: 5, minor: 0, access: 'rwm' }, // tty
  { type: 'c', major: 5, minor: 2, access: 'rwm' }, // ptmx
  { type: 'c', major: 136, access: 'rwm' }, // pts/*
];

/** Open files per process, as Docker and containerd give containers. */
export const defaultNofile = 1048576;
