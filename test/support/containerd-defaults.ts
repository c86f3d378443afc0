// What containerd gives a container that asks for nothing else, copied by hand from its source
// (containerd/containerd pkg/oci/spec.go at commit 301026e58c619e63d09c0ec411012e54c0124b03:
// defaultUnixEnv, defaultUnixCaps, and populateDefaultUnixSpec's MaskedPaths and ReadonlyPaths),
// so tests compare crib with containerd and not with crib's own constants.

export const containerdDefaultEnv = ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'];

export const containerdDefaultCaps = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

export const containerdMaskedPaths = [
  '/proc/acpi',
  '/proc/asound',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
  '/proc/scsi',
];

export const containerdReadonlyPaths = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

/** The kernel's numbers for those capabilities (include/uapi/linux/capability.h). */
const capabilityBits: Record<string, number> = {
  CAP_CHOWN: 0,
  CAP_DAC_OVERRIDE: 1,
  CAP_FOWNER: 3,
  CAP_FSETID: 4,
  CAP_KILL: 5,
  CAP_SETGID: 6,
  CAP_SETUID: 7,
  CAP_SETPCAP: 8,
  CAP_NET_BIND_SERVICE: 10,
  CAP_NET_RAW: 13,
  CAP_SYS_CHROOT: 18,
  CAP_MKNOD: 27,
  CAP_AUDIT_WRITE: 29,
  CAP_SETFCAP: 31,
};

/** The /proc/PID/status mask (CapEff and the like) of containerd's default capabilities. */
export function containerdDefaultCapMask(): bigint {
  return containerdDefaultCaps.reduce((mask, c) => {
    const bit = capabilityBits[c];
    if (bit === undefined) throw new Error(`no bit for ${c}`);
    return mask | (1n << BigInt(bit));
  }, 0n);
}
