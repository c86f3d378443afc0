import { CribError } from '../../util/errors.js';
import { normalizeCapability } from './capabilities.js';
import type { OciSeccomp, OciSeccompAction, OciSeccompArg, OciSeccompOperator, OciSyscall } from '../../oci/spec-types.js';

/*
 * crib's RuntimeDefault seccomp profile. Unknown and unlisted syscalls fail with EPERM. The
 * allow-list follows what Docker's and containerd's default profiles allow (the facts, not
 * their data layout); syscalls that are only safe with a capability are allowed only when the
 * container holds it, the way those profiles' `includes.caps` rules do.
 *
 * Choices, relative to Docker's current profile:
 * - ptrace, process_vm_readv/writev need CAP_SYS_PTRACE. Docker allows them without it on
 *   kernels >= 4.8; a pure function cannot see the kernel, and kubelet users who debug inside a
 *   container add SYS_PTRACE anyway.
 * - io_uring_* are not allowed (Docker 25+ and containerd dropped them: a large attack surface).
 * - pivot_root is allowed with CAP_SYS_ADMIN (which already allows mount); Docker never allows it.
 * - Never allowed: kexec_load, kexec_file_load, swapon, swapoff, userfaultfd, add_key, keyctl,
 *   request_key, uselib, nfsservctl, and the obsolete/unimplemented ones. None of them is
 *   namespaced, so no capability inside a container makes them safe.
 * Syscall names the running kernel or libseccomp does not know are skipped by the OCI runtimes, so
 * one list serves every architecture.
 */

// Stryker disable StringLiteral,ArrayDeclaration,ObjectLiteral: the syscall lists are data (containerd's profile); tests check by name the ones that matter
/** Allowed for every container, by topic. */
const allowed: Record<string, readonly string[]> = {
  files: [
    'access',
    'chdir',
    'chmod',
    'chown',
    'chown32',
    'close',
    'close_range',
    'copy_file_range',
    'creat',
    'dup',
    'dup2',
    'dup3',
    'faccessat',
    'faccessat2',
    'fadvise64',
    'fadvise64_64',
    'fallocate',
    'fanotify_mark',
    'fchdir',
    'fchmod',
    'fchmodat',
    'fchmodat2',
    'fchown',
    'fchown32',
    'fchownat',
    'fcntl',
    'fcntl64',
    'fdatasync',
    'fgetxattr',
    'flistxattr',
    'flock',
    'fremovexattr',
    'fsetxattr',
    'fstat',
    'fstat64',
    'fstatat64',
    'fstatfs',
    'fstatfs64',
    'fsync',
    'ftruncate',
    'ftruncate64',
    'futimesat',
    'getcwd',
    'getdents',
    'getdents64',
    'getxattr',
    'inotify_add_watch',
    'inotify_init',
    'inotify_init1',
    'inotify_rm_watch',
    'ioctl',
    'lchown',
    'lchown32',
    'lgetxattr',
    'link',
    'linkat',
    'listxattr',
    'llistxattr',
    '_llseek',
    'lremovexattr',
    'lseek',
    'lsetxattr',
    'lstat',
    'lstat64',
    'mkdir',
    'mkdirat',
    'mknod',
    'mknodat',
    'name_to_handle_at',
    'newfstatat',
    'open',
    'openat',
    'openat2',
    'pread64',
    'preadv',
    'preadv2',
    'pwrite64',
    'pwritev',
    'pwritev2',
    'read',
    'readahead',
    'readlink',
    'readlinkat',
    'readv',
    'removexattr',
    'rename',
    'renameat',
    'renameat2',
    'rmdir',
    'sendfile',
    'sendfile64',
    'setxattr',
    'splice',
    'stat',
    'stat64',
    'statfs',
    'statfs64',
    'statx',
    'symlink',
    'symlinkat',
    'sync',
    'sync_file_range',
    'syncfs',
    'tee',
    'truncate',
    'truncate64',
    'umask',
    'unlink',
    'unlinkat',
    'utime',
    'utimensat',
    'utimensat_time64',
    'utimes',
    'vmsplice',
    'write',
    'writev',
    'cachestat',
  ],
  asyncIo: ['io_cancel', 'io_destroy', 'io_getevents', 'io_pgetevents', 'io_pgetevents_time64', 'io_setup', 'io_submit'],
  waiting: [
    'epoll_create',
    'epoll_create1',
    'epoll_ctl',
    'epoll_ctl_old',
    'epoll_pwait',
    'epoll_pwait2',
    'epoll_wait',
    'epoll_wait_old',
    'eventfd',
    'eventfd2',
    'pipe',
    'pipe2',
    'poll',
    'ppoll',
    'ppoll_time64',
    'pselect6',
    'pselect6_time64',
    'select',
    '_newselect',
    'signalfd',
    'signalfd4',
    'timerfd_create',
    'timerfd_gettime',
    'timerfd_gettime64',
    'timerfd_settime',
    'timerfd_settime64',
    'futex',
    'futex_time64',
    'futex_waitv',
    'futex_wait',
    'futex_wake',
    'futex_requeue',
    'pause',
  ],
  memory: [
    'brk',
    'madvise',
    'membarrier',
    'memfd_create',
    'memfd_secret',
    'mincore',
    'mlock',
    'mlock2',
    'mlockall',
    'mmap',
    'mmap2',
    'mprotect',
    'mremap',
    'msync',
    'munlock',
    'munlockall',
    'munmap',
    'pkey_alloc',
    'pkey_free',
    'pkey_mprotect',
    'remap_file_pages',
    'map_shadow_stack',
    'mseal',
  ],
  processes: [
    'capget',
    'capset',
    'execve',
    'execveat',
    'exit',
    'exit_group',
    'fork',
    'vfork',
    'getcpu',
    'getpgid',
    'getpgrp',
    'getpid',
    'getppid',
    'getpriority',
    'setpriority',
    'getrlimit',
    'setrlimit',
    'prlimit64',
    'ugetrlimit',
    'getrusage',
    'getsid',
    'setsid',
    'setpgid',
    'gettid',
    'get_robust_list',
    'set_robust_list',
    'set_tid_address',
    'get_thread_area',
    'set_thread_area',
    'kill',
    'tgkill',
    'tkill',
    'pidfd_open',
    'pidfd_send_signal',
    'process_mrelease',
    'prctl',
    'rseq',
    'restart_syscall',
    'seccomp',
    'landlock_add_rule',
    'landlock_create_ruleset',
    'landlock_restrict_self',
    'ioprio_get',
    'ioprio_set',
    'sched_getaffinity',
    'sched_getattr',
    'sched_getparam',
    'sched_get_priority_max',
    'sched_get_priority_min',
    'sched_getscheduler',
    'sched_rr_get_interval',
    'sched_rr_get_interval_time64',
    'sched_setaffinity',
    'sched_setattr',
    'sched_setparam',
    'sched_setscheduler',
    'sched_yield',
    'wait4',
    'waitid',
    'waitpid',
    'times',
    'sysinfo',
    'uname',
    'getrandom',
  ],
  signals: [
    'alarm',
    'getitimer',
    'setitimer',
    'rt_sigaction',
    'rt_sigpending',
    'rt_sigprocmask',
    'rt_sigqueueinfo',
    'rt_sigreturn',
    'rt_sigsuspend',
    'rt_sigtimedwait',
    'rt_sigtimedwait_time64',
    'rt_tgsigqueueinfo',
    'sigaltstack',
    'sigprocmask',
    'sigreturn',
  ],
  identity: [
    'getegid',
    'getegid32',
    'geteuid',
    'geteuid32',
    'getgid',
    'getgid32',
    'getgroups',
    'getgroups32',
    'getresgid',
    'getresgid32',
    'getresuid',
    'getresuid32',
    'getuid',
    'getuid32',
    'setfsgid',
    'setfsgid32',
    'setfsuid',
    'setfsuid32',
    'setgid',
    'setgid32',
    'setgroups',
    'setgroups32',
    'setregid',
    'setregid32',
    'setresgid',
    'setresgid32',
    'setresuid',
    'setresuid32',
    'setreuid',
    'setreuid32',
    'setuid',
    'setuid32',
  ],
  clocks: [
    'adjtimex',
    'clock_adjtime',
    'clock_adjtime64',
    'clock_getres',
    'clock_getres_time64',
    'clock_gettime',
    'clock_gettime64',
    'clock_nanosleep',
    'clock_nanosleep_time64',
    'gettimeofday',
    'nanosleep',
    'time',
    'timer_create',
    'timer_delete',
    'timer_getoverrun',
    'timer_gettime',
    'timer_gettime64',
    'timer_settime',
    'timer_settime64',
  ],
  ipc: [
    'ipc',
    'msgctl',
    'msgget',
    'msgrcv',
    'msgsnd',
    'semctl',
    'semget',
    'semop',
    'semtimedop',
    'semtimedop_time64',
    'shmat',
    'shmctl',
    'shmdt',
    'shmget',
    'mq_getsetattr',
    'mq_notify',
    'mq_open',
    'mq_timedreceive',
    'mq_timedreceive_time64',
    'mq_timedsend',
    'mq_timedsend_time64',
    'mq_unlink',
  ],
  sockets: [
    'accept',
    'accept4',
    'bind',
    'connect',
    'getpeername',
    'getsockname',
    'getsockopt',
    'listen',
    'recv',
    'recvfrom',
    'recvmmsg',
    'recvmmsg_time64',
    'recvmsg',
    'send',
    'sendmmsg',
    'sendmsg',
    'sendto',
    'setsockopt',
    'shutdown',
    'socketcall',
    'socketpair',
  ],
};

/** Allowed only when the container holds the capability (any one that lists the syscall). */
const byCapability: Record<string, readonly string[]> = {
  CAP_SYS_ADMIN: [
    'bpf',
    'clone',
    'clone3',
    'fanotify_init',
    'fsconfig',
    'fsmount',
    'fsopen',
    'fspick',
    'lookup_dcookie',
    'mount',
    'mount_setattr',
    'move_mount',
    'open_tree',
    'perf_event_open',
    'pivot_root',
    'quotactl',
    'quotactl_fd',
    'setdomainname',
    'sethostname',
    'setns',
    'syslog',
    'umount',
    'umount2',
    'unshare',
  ],
  CAP_SYS_BOOT: ['reboot'],
  CAP_SYS_CHROOT: ['chroot'],
  CAP_SYS_MODULE: ['delete_module', 'init_module', 'finit_module'],
  CAP_SYS_PACCT: ['acct'],
  CAP_SYS_PTRACE: ['kcmp', 'pidfd_getfd', 'process_madvise', 'process_vm_readv', 'process_vm_writev', 'ptrace'],
  CAP_SYS_RAWIO: ['iopl', 'ioperm'],
  CAP_SYS_TIME: ['settimeofday', 'stime', 'clock_settime', 'clock_settime64'],
  CAP_SYS_TTY_CONFIG: ['vhangup'],
  CAP_SYS_NICE: ['get_mempolicy', 'mbind', 'set_mempolicy', 'set_mempolicy_home_node'],
  CAP_SYSLOG: ['syslog'],
  CAP_BPF: ['bpf'],
  CAP_PERFMON: ['perf_event_open'],
  CAP_DAC_READ_SEARCH: ['open_by_handle_at'],
};

interface ArchInfo {
  /** libseccomp's name of the native architecture, then the ones its processes may also use. */
  seccomp: string[];
  /** The name Docker-format profiles use for it in `includes.arches` / `excludes.arches`. */
  docker: string;
  /** Syscalls only this architecture has (or needs). */
  syscalls: string[];
  /** Which clone argument holds the flags (s390 swaps the first two). */
  cloneFlagsArg: number;
}

/** By Node's `process.arch`. */
const arches: Record<string, ArchInfo> = {
  x64: { seccomp: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'], docker: 'amd64', syscalls: ['arch_prctl', 'modify_ldt'], cloneFlagsArg: 0 },
  ia32: { seccomp: ['SCMP_ARCH_X86'], docker: 'x86', syscalls: ['modify_ldt'], cloneFlagsArg: 0 },
  arm64: {
    seccomp: ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM'],
    docker: 'arm64',
    syscalls: ['arm_fadvise64_64', 'arm_sync_file_range', 'sync_file_range2', 'breakpoint', 'cacheflush', 'set_tls'],
    cloneFlagsArg: 0,
  },
  arm: {
    seccomp: ['SCMP_ARCH_ARM'],
    docker: 'arm',
    syscalls: ['arm_fadvise64_64', 'arm_sync_file_range', 'sync_file_range2', 'breakpoint', 'cacheflush', 'set_tls'],
    cloneFlagsArg: 0,
  },
  ppc64: { seccomp: ['SCMP_ARCH_PPC64LE'], docker: 'ppc64le', syscalls: ['sync_file_range2', 'swapcontext'], cloneFlagsArg: 0 },
  s390x: {
    seccomp: ['SCMP_ARCH_S390X', 'SCMP_ARCH_S390'],
    docker: 's390x',
    syscalls: ['s390_pci_mmio_read', 's390_pci_mmio_write', 's390_runtime_instr'],
    cloneFlagsArg: 1,
  },
  riscv64: { seccomp: ['SCMP_ARCH_RISCV64'], docker: 'riscv64', syscalls: ['riscv_flush_icache'], cloneFlagsArg: 0 },
};

// Stryker restore StringLiteral,ArrayDeclaration,ObjectLiteral

/** An architecture crib has no table for gets the portable list and libseccomp's native arch only. */
function archInfo(arch: string): ArchInfo {
  return arches[arch] ?? { seccomp: [], docker: arch, syscalls: [], cloneFlagsArg: 0 };
}

/** CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET. */
export const CLONE_NAMESPACE_FLAGS = 0x7e020000;
const EPERM = 1;
const ENOSYS = 38;
/** personality(2) values that only change what uname reports or query: PER_LINUX, PER_LINUX32, UNAME26 variants, 0xffffffff. */
const safePersonalities = [0x0, 0x8, 0x20000, 0x20008, 0xffffffff];
const AF_VSOCK = 40;

/** A capability name as the sets below hold it: normalized, or as written when crib does not know it. */
const capabilityName = (c: string): string => normalizeCapability(c) ?? c;

/**
 * The RuntimeDefault profile for a container holding `capabilities` (its effective set; names
 * with or without `CAP_`), for the node's architecture (`process.arch` names; x64 by default,
 * which also covers x86 and x32 processes).
 */
export function defaultSeccompProfile(capabilities: string[], arch = 'x64'): OciSeccomp {
  const a = archInfo(arch);
  const caps = new Set(capabilities.map(capabilityName));
  const sysAdmin = caps.has('CAP_SYS_ADMIN');

  const names = new Set<string>();
  for (const group of Object.values(allowed)) for (const n of group) names.add(n);
  for (const n of a.syscalls) names.add(n);
  for (const [cap, list] of Object.entries(byCapability)) if (caps.has(cap)) for (const n of list) names.add(n);

  const syscalls: OciSyscall[] = [{ names: [...names].sort(), action: 'SCMP_ACT_ALLOW' }];
  // socket(2) for every family but vsock, which reaches the hypervisor on VMs.
  syscalls.push({ names: ['socket'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: AF_VSOCK, op: 'SCMP_CMP_NE' }] });
  for (const p of safePersonalities) {
    syscalls.push({ names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: p, op: 'SCMP_CMP_EQ' }] });
  }
  if (!sysAdmin) {
    // Threads and processes, but no new namespaces: (flags & NAMESPACE_FLAGS) == 0.
    syscalls.push({
      names: ['clone'],
      action: 'SCMP_ACT_ALLOW',
      args: [{ index: a.cloneFlagsArg, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
    });
    // clone3 passes its flags in memory, where seccomp cannot look: ENOSYS makes libcs use clone.
    syscalls.push({ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS });
  }
  return {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: EPERM,
    ...(a.seccomp.length ? { architectures: [...a.seccomp] } : {}),
    syscalls,
  };
}

// ---- Localhost profiles ----

// The actions and operators of the OCI runtime-spec's seccomp section.
const actions: ReadonlySet<unknown> = new Set<OciSeccompAction>([
  'SCMP_ACT_KILL',
  'SCMP_ACT_KILL_PROCESS',
  'SCMP_ACT_KILL_THREAD',
  'SCMP_ACT_TRAP',
  'SCMP_ACT_ERRNO',
  'SCMP_ACT_TRACE',
  'SCMP_ACT_ALLOW',
  'SCMP_ACT_LOG',
  'SCMP_ACT_NOTIFY',
]);

const operators: ReadonlySet<unknown> = new Set<OciSeccompOperator>([
  'SCMP_CMP_NE',
  'SCMP_CMP_LT',
  'SCMP_CMP_LE',
  'SCMP_CMP_EQ',
  'SCMP_CMP_GE',
  'SCMP_CMP_GT',
  'SCMP_CMP_MASKED_EQ',
]);

/** JSON null reads as an absent field, as Go's encoding/json (containerd, CRI-O) reads it. */
const absent = (v: unknown): v is undefined | null => v === undefined || v === null;
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');
const isCount = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0;

/**
 * A Localhost profile (the parsed JSON of the file kubelet named) as `linux.seccomp`. A profile
 * in the OCI form passes through unchanged (unknown keys dropped). A profile in Docker's form is
 * converted as CRI-O (containers/common) and Docker do: `archMap` gives the architectures for the
 * node's (its first entry for it), a rule's `includes`/`excludes` (`caps`: all of them held / any
 * of them held; `arches`) decide whether it applies, and the singular `name` is accepted; a profile
 * with both `architectures` and `archMap`, or a rule with both `name` and `names`, is refused as
 * they refuse it. `includes.minKernel` is taken as met (crib does not look at the kernel here). A
 * malformed profile is INVALID_ARGUMENT.
 */
export function localhostSeccompProfile(profile: unknown, capabilities: string[], arch = 'x64'): OciSeccomp {
  const field = 'config.linux.security_context.seccomp';
  const bad = (why: string): CribError => new CribError('InvalidArgument', `${field}: Localhost profile ${why}`);
  if (!isRecord(profile)) throw bad('is not a JSON object');
  const p = profile;
  if (!actions.has(p['defaultAction'])) throw bad(`defaultAction ${JSON.stringify(p['defaultAction'])} is not a seccomp action`);
  const out: OciSeccomp = { defaultAction: p['defaultAction'] as OciSeccompAction };
  if (!absent(p['defaultErrnoRet'])) {
    if (!isCount(p['defaultErrnoRet'])) throw bad('defaultErrnoRet is not an errno');
    out.defaultErrnoRet = p['defaultErrnoRet'];
  }

  const archs = p['architectures'];
  const archMap = p['archMap'];
  if (!absent(archs) && !isStringArray(archs)) throw bad('architectures is not a list of names');
  if (!absent(archMap) && !Array.isArray(archMap)) throw bad('archMap is not a list');
  if (archs?.length && archMap?.length) throw bad('has both architectures and archMap (use either)');
  if (archs?.length) out.architectures = [...archs];
  const native = arches[arch]?.seccomp[0];
  (archMap ?? []).forEach((m: unknown, i: number) => {
    if (!isRecord(m) || typeof m['architecture'] !== 'string') throw bad(`archMap[${i}] names no architecture`);
    const subs = m['subArchitectures'];
    if (!absent(subs) && !isStringArray(subs)) throw bad(`archMap[${i}].subArchitectures is not a list of names`);
    if (m['architecture'] === native && !out.architectures) out.architectures = [native, ...(subs ?? [])];
  });
  if (!absent(p['flags'])) {
    if (!isStringArray(p['flags'])) throw bad('flags is not a list of strings');
    out.flags = [...p['flags']];
  }
  for (const k of ['listenerPath', 'listenerMetadata'] as const) {
    if (absent(p[k]) || p[k] === '') continue;
    if (typeof p[k] !== 'string') throw bad(`${k} is not a string`);
    out[k] = p[k];
  }

  if (absent(p['syscalls'])) return out;
  if (!Array.isArray(p['syscalls'])) throw bad('syscalls is not a list');
  const a = arches[arch];
  const caps = new Set(capabilities.map(capabilityName));
  const held = (list: string[]): boolean[] => list.map((c) => caps.has(capabilityName(c)));
  const syscalls: OciSyscall[] = [];
  p['syscalls'].forEach((s: unknown, i: number) => {
    const at = `syscalls[${i}]`;
    if (!isRecord(s)) throw bad(`${at} is not an object`);
    const list = s['names'];
    const one = s['name'];
    if (!absent(list) && !isStringArray(list)) throw bad(`${at}.names is not a list of names`);
    if (!absent(one) && typeof one !== 'string') throw bad(`${at}.name is not a name`);
    if (one && list?.length) throw bad(`${at} has both name and names (use either)`);
    const names = one ? [one] : [...(list ?? [])];
    if (!names.length) throw bad(`${at} names no syscall`);
    if (!actions.has(s['action'])) throw bad(`${at}.action ${JSON.stringify(s['action'])} is not a seccomp action`);

    for (const [key, wanted] of [
      ['includes', true],
      ['excludes', false],
    ] as const) {
      const cond = s[key];
      if (absent(cond)) continue;
      if (!isRecord(cond)) throw bad(`${at}.${key} is not an object`);
      const cc = cond['caps'] ?? [];
      const ca = cond['arches'] ?? [];
      if (!isStringArray(cc)) throw bad(`${at}.${key}.caps is not a list of names`);
      if (!isStringArray(ca)) throw bad(`${at}.${key}.arches is not a list of names`);
      const onArch = a !== undefined && ca.includes(a.docker);
      if (wanted) {
        if (!held(cc).every(Boolean)) return;
        if (ca.length && !onArch) return;
      } else if (held(cc).some(Boolean) || onArch) return;
    }

    const rule: OciSyscall = { names, action: s['action'] as OciSeccompAction };
    if (!absent(s['errnoRet'])) {
      if (!isCount(s['errnoRet'])) throw bad(`${at}.errnoRet is not an errno`);
      rule.errnoRet = s['errnoRet'];
    }
    if (!absent(s['args'])) {
      if (!Array.isArray(s['args'])) throw bad(`${at}.args is not a list`);
      rule.args = s['args'].map((x: unknown, j: number): OciSeccompArg => {
        const aat = `${at}.args[${j}]`;
        if (!isRecord(x)) throw bad(`${aat} is not an object`);
        // A syscall has six arguments.
        if (!isCount(x['index']) || x['index'] > 5) throw bad(`${aat}.index is not 0..5`);
        if (!isCount(x['value'])) throw bad(`${aat}.value is not a number`);
        if (!operators.has(x['op'])) throw bad(`${aat}.op ${JSON.stringify(x['op'])} is not a seccomp operator`);
        const arg: OciSeccompArg = { index: x['index'], value: x['value'], op: x['op'] as OciSeccompOperator };
        if (!absent(x['valueTwo'])) {
          if (!isCount(x['valueTwo'])) throw bad(`${aat}.valueTwo is not a number`);
          arg.valueTwo = x['valueTwo'];
        }
        return arg;
      });
    }
    syscalls.push(rule);
  });
  out.syscalls = syscalls;
  return out;
}
