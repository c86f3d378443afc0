import fs from 'node:fs/promises';
import os from 'node:os';
import { readKernelFile } from '../util/fsx.js';

export interface ProcStat {
  state: string;
  ppid: number;
  /** Clock ticks since boot; with the pid it names one process for good (pids are reused). */
  startTime: string;
}

export function procStat(pid: number): ProcStat | undefined {
  const text = readKernelFile(`/proc/${pid}/stat`);
  if (text === undefined) return undefined;
  // The command name may contain spaces and parentheses; fields resume after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: rest[0] ?? '?', ppid: Number(rest[1]), startTime: rest[19] ?? '' };
}

/** True while that very process (pid and start time) exists and is not a zombie. */
export function isAlive(pid: number, startTime: string): boolean {
  const st = procStat(pid);
  return st !== undefined && st.startTime === startTime && st.state !== 'Z' && st.state !== 'X';
}

/** How long a process seen alive by `isAlive` is trusted by `stillAlive` on its pid alone. */
const TRUSTED_MS = 10_000;
/** Processes `stillAlive` has checked in full, with when; cleared when it grows past this many. */
const MAX_TRUSTED = 8192;
const trusted = new Map<number, { startTime: string; at: number }>();

/**
 * isAlive for the status and list calls, which ask about every pod and container each second
 * (kubelet's relist): a full check of /proc/PID/stat (about half a ListPodSandbox's CPU at 110
 * pods) at most every 10 s per process, and between them kill(pid, 0), which sees the process gone.
 * What it cannot see: the pid reused within those 10 s (a wrap of the pid space), or a zombie not
 * yet reaped (its monitor reaps it at once); the next full check does.
 */
export function stillAlive(pid: number, startTime: string): boolean {
  const seen = trusted.get(pid);
  if (seen?.startTime === startTime && Date.now() - seen.at < TRUSTED_MS) {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      trusted.delete(pid);
      return false;
    }
  }
  const alive = isAlive(pid, startTime);
  if (!alive) trusted.delete(pid);
  else {
    if (trusted.size >= MAX_TRUSTED) trusted.clear();
    trusted.set(pid, { startTime, at: Date.now() });
  }
  return alive;
}

export async function readPidFile(file: string): Promise<number | undefined> {
  try {
    const n = Number((await fs.readFile(file, 'utf8')).trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Waits until the process is gone (or a zombie), polling; false if it is still there at the deadline
 * or when `abort` fires first.
 */
export async function waitGone(pid: number, startTime: string | undefined, timeoutMs: number, abort?: AbortSignal): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 2; ; delay = Math.min(delay * 2, 50)) {
    const st = procStat(pid);
    if (!st || st.state === 'Z' || st.state === 'X' || (startTime !== undefined && st.startTime !== startTime)) return true;
    if (Date.now() >= deadline || abort?.aborted) return false;
    await new Promise((r) => setTimeout(r, delay));
  }
}

/** What cribd itself holds, read once: it bounds what it can hand to containers. */
interface DaemonLimits {
  /** cribd's own oom_score_adj: the lowest a child may get without CAP_SYS_RESOURCE. */
  oomScoreAdj: number;
  canLowerOomScoreAdj: boolean;
  /** The hard RLIMIT_NOFILE (capped at 2^20): the runtime cannot raise a container's past it. */
  rlimitNofile: number;
  /** The bounding set: capabilities cribd can pass on. */
  capabilityBoundingMask: string;
}

const CAP_SYS_RESOURCE = 24n;
const MAX_NOFILE = 1048576;
let limits: Promise<DaemonLimits> | undefined;

export function daemonLimits(): Promise<DaemonLimits> {
  limits ??= (async () => {
    const [status, lim, adj] = await Promise.all(
      ['/proc/self/status', '/proc/self/limits', '/proc/self/oom_score_adj'].map((f) => fs.readFile(f, 'utf8').catch(() => '')),
    );
    const capEff = /^CapEff:\s*([0-9a-f]+)/m.exec(status ?? '')?.[1] ?? '0';
    const hard = /^Max open files\s+\S+\s+(\S+)/m.exec(lim ?? '')?.[1];
    return {
      oomScoreAdj: Number((adj ?? '').trim()) || 0,
      canLowerOomScoreAdj: ((BigInt(`0x${capEff}`) >> CAP_SYS_RESOURCE) & 1n) === 1n,
      rlimitNofile: Math.min(MAX_NOFILE, hard && hard !== 'unlimited' ? Number(hard) : MAX_NOFILE),
      capabilityBoundingMask: /^CapBnd:\s*([0-9a-f]+)/m.exec(status ?? '')?.[1] ?? '0',
    };
  })();
  return limits;
}

/**
 * A child's oom_score_adj may only go below the daemon's own with CAP_SYS_RESOURCE; without it
 * (as on these machines) the value is raised to the daemon's, as containerd's
 * restrict_oom_score_adj does, and that is logged once.
 */
export async function clampOomScoreAdj(desired: number, onClamp: (from: number, to: number) => void): Promise<number> {
  const { oomScoreAdj: own, canLowerOomScoreAdj } = await daemonLimits();
  if (canLowerOomScoreAdj || desired >= own) return desired;
  onClamp(desired, own);
  return own;
}

/** Kills a process group a runtime made its command lead (and so what it started), or the command alone. */
export function killProcessGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone already */
    }
  }
}

/**
 * The number of a signal as the OCI runtime's kill takes it ("SIGTERM", "TERM", "15"); undefined for a name Node does
 * not know (SIGRTMIN+3): the caller then leaves it to the runtime.
 */
export function signalNumber(signal: string): number | undefined {
  if (/^\d+$/.test(signal)) {
    const n = Number(signal);
    return n > 0 && n < 65 ? n : undefined;
  }
  const name = signal.toUpperCase();
  return os.constants.signals[(name.startsWith('SIG') ? name : `SIG${name}`) as NodeJS.Signals];
}

/**
 * Signals that very process (pid and start time, checked just before); false if it is gone. What
 * an OCI runtime's `kill ID SIG` does without --all, without a process of its own.
 */
export async function signalProcess(proc: { pid: number; startTime: string }, signal: number): Promise<boolean> {
  if (!isAlive(proc.pid, proc.startTime)) return false;
  try {
    process.kill(proc.pid, signal);
    return true;
  } catch {
    return false;
  }
}
