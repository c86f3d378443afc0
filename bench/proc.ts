import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

/** What the bench reads of processes in /proc: CPU times, memory, parents, command lines. */

const CLK_TCK = ((): number => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

export interface ProcStat {
  pid: number;
  comm: string;
  state: string;
  ppid: number;
  /** utime + stime of the process itself, in seconds. */
  ownCpu: number;
  /** cutime + cstime: the children it has waited for (runc, CNI plugins, exec'd commands), in seconds. */
  childCpu: number;
}

/** /proc/PID/stat, or undefined when the process is gone. */
export function readStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const close = text.lastIndexOf(')');
  const comm = text.slice(text.indexOf('(') + 1, close);
  // Fields after "(comm) ": state(3) ppid(4) ... utime(14) stime(15) cutime(16) cstime(17).
  const f = text.slice(close + 2).split(' ');
  const n = (i: number): number => Number(f[i - 3] ?? 0);
  return { pid, comm, state: f[0] ?? '?', ppid: n(4), ownCpu: (n(14) + n(15)) / CLK_TCK, childCpu: (n(16) + n(17)) / CLK_TCK };
}

/** CPU seconds of a process and of the children it reaped; 0 when it is gone. */
export function cpuSeconds(pid: number): number {
  const s = readStat(pid);
  return s ? s.ownCpu + s.childCpu : 0;
}

function statusField(pid: number, field: string): number {
  const text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

/** Resident set size in KiB. */
export const rssKiB = (pid: number): number => statusField(pid, 'VmRSS');

/** Its anonymous part in KiB (heap, stacks; not the program's file pages). */
export const rssAnonKiB = (pid: number): number => statusField(pid, 'RssAnon');

/** Proportional set size in KiB (shared pages divided among the processes mapping them). */
export function pssKiB(pid: number): number {
  const text = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const m = /^Pss:\s+(\d+) kB/m.exec(text);
  return m ? Number(m[1]) : 0;
}

export function cmdline(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
}

/** Live (not zombie) processes with this comm whose command line contains `marker`. */
export function findProcesses(comm: string, marker: string): number[] {
  const out: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = readStat(Number(name));
    if (!s || s.comm !== comm || s.state === 'Z') continue;
    if (cmdline(s.pid).includes(marker)) out.push(s.pid);
  }
  return out;
}

export function alive(pid: number): boolean {
  const s = readStat(pid);
  return s !== undefined && s.state !== 'Z';
}
