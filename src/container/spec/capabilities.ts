import { CribError } from '../../util/errors.js';

/** Every Linux capability up to CAP_CHECKPOINT_RESTORE (40), in kernel number order. */
export const allCapabilities: readonly string[] = Object.freeze([
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_DAC_READ_SEARCH',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETPCAP',
  'CAP_LINUX_IMMUTABLE',
  'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST',
  'CAP_NET_ADMIN',
  'CAP_NET_RAW',
  'CAP_IPC_LOCK',
  'CAP_IPC_OWNER',
  'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO',
  'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT',
  'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG',
  'CAP_MKNOD',
  'CAP_LEASE',
  'CAP_AUDIT_WRITE',
  'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE',
  'CAP_MAC_ADMIN',
  'CAP_SYSLOG',
  'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ',
  'CAP_PERFMON',
  'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE',
]);

/** The capabilities containerd (and Docker) give a container that asks for nothing else. */
export const defaultCapabilities: readonly string[] = Object.freeze([
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
]);

const rank = new Map(allCapabilities.map((c, i) => [c, i]));

/**
 * `net_admin`, `CAP_NET_ADMIN`, `Cap_Net_Admin` → `CAP_NET_ADMIN`; undefined when unknown (also
 * with blanks around it: containerd passes `CAP_ NET_ADMIN` on, which the OCI runtime refuses).
 */
export function normalizeCapability(name: string): string | undefined {
  const up = name.toUpperCase();
  const full = up.startsWith('CAP_') ? up : `CAP_${up}`;
  return rank.has(full) ? full : undefined;
}

const isAll = (name: string): boolean => name.toUpperCase() === 'ALL';

/**
 * The capability names in a /proc/PID/status mask (`CapBnd:\t000001ffffffffff`, hex), for
 * `available` below. Bits beyond CAP_CHECKPOINT_RESTORE are ignored.
 */
export function capabilitiesFromMask(hex: string): string[] {
  const t = hex.trim().replace(/^0x/i, '');
  if (!/^[0-9a-f]+$/i.test(t)) throw new CribError('Internal', `not a capability mask: "${hex}"`);
  const mask = BigInt(`0x${t}`);
  return allCapabilities.filter((_, bit) => (mask >> BigInt(bit)) & 1n);
}

/**
 * The container's bounding/effective/permitted set, in kernel order. Privileged: all of them.
 * Otherwise containerd's order: start from the defaults; `ALL` in add gives all; `ALL` in drop
 * gives none; then the other adds are added, then the other drops removed (so a capability both
 * added and dropped ends up dropped). Names are case-insensitive, with or without `CAP_`; an
 * unknown one is INVALID_ARGUMENT, also for privileged containers.
 *
 * `available` is what the runtime itself holds (cribd's bounding set; default: all). The OCI runtime cannot
 * grant a capability it lacks, so "all" (privileged, `ALL`) and the defaults mean all available
 * ones, as containerd's "all current capabilities" does, and an explicit add of one that is not
 * available is INVALID_ARGUMENT rather than a container that cannot start.
 */
export function effectiveCapabilities(add: string[], drop: string[], privileged: boolean, available: readonly string[] = allCapabilities): string[] {
  const field = 'config.linux.security_context.capabilities';
  const check = (list: string[], which: string): string[] => {
    const out: string[] = [];
    list.forEach((n, i) => {
      if (isAll(n)) return;
      const c = normalizeCapability(n);
      if (!c) throw new CribError('InvalidArgument', `${field}.${which}[${i}]: unknown capability "${n}"`);
      out.push(c);
    });
    return out;
  };
  const adds = check(add, 'add_capabilities');
  const drops = check(drop, 'drop_capabilities');
  const have = new Set(available.map(normalizeCapability));
  const all = allCapabilities.filter((c) => have.has(c));
  if (privileged) return all;

  let set = new Set<string>(defaultCapabilities.filter((c) => have.has(c)));
  if (add.some(isAll)) set = new Set(all);
  if (drop.some(isAll)) set = new Set();
  adds.forEach((c) => {
    if (!have.has(c)) {
      throw new CribError(
        'InvalidArgument',
        `${field}.add_capabilities[${add.findIndex((n) => normalizeCapability(n) === c)}]: ${c} is not available to the runtime on this node`,
      );
    }
    set.add(c);
  });
  for (const c of drops) set.delete(c);
  return [...set].sort((a, b) => rank.get(a)! - rank.get(b)!);
}
