// What /proc/PID/status says of a container's main process that a stop needs: whether a signal sent
// to it has been taken (no longer pending), and whether it is the init of its own PID namespace
// (then its end is the end of every process in it: the kernel kills them).
import { readKernelFile } from '../util/fsx.js';

/** The fields of /proc/PID/status a stop reads. Pure. */
export interface ProcStatus {
  /** Signals pending for the main thread and for the whole process, and those it blocks (proc(5): SigPnd, ShdPnd, SigBlk). */
  pending: bigint;
  blocked: bigint;
  /** Its pid in each PID namespace it is in, outermost first (NSpid). */
  nsPids: number[];
}

/** Parses /proc/PID/status's text. Pure. */
export function parseProcStatus(text: string): ProcStatus {
  const mask = (field: string): bigint => {
    const hex = new RegExp(`^${field}:\\s*([0-9a-f]+)\\s*$`, 'm').exec(text)?.[1];
    return hex ? BigInt(`0x${hex}`) : 0n;
  };
  const nsPids = (/^NSpid:\s*(.*)$/m.exec(text)?.[1] ?? '').split(/\s+/).filter(Boolean).map(Number);
  return { pending: mask('SigPnd') | mask('ShdPnd'), blocked: mask('SigBlk'), nsPids };
}

/** Signal n's bit in a /proc signal mask (bit n-1). */
const bit = (signal: number): bigint => 1n << BigInt(signal - 1);

/** True once the process has taken the signal (or will not: it blocks it). Pure. */
export function signalSettled(st: ProcStatus, signal: number): boolean {
  return (st.pending & bit(signal)) === 0n || (st.blocked & bit(signal)) !== 0n;
}

/** True when the process is PID 1 of a PID namespace of its own (it is in more than the node's). Pure. */
export function isNamespaceInit(st: ProcStatus): boolean {
  return st.nsPids.length > 1 && st.nsPids[st.nsPids.length - 1] === 1;
}

export function readProcStatus(pid: number): ProcStatus | undefined {
  const text = readKernelFile(`/proc/${pid}/status`);
  return text === undefined ? undefined : parseProcStatus(text);
}

/**
 * Waits until the process has taken `signal` (its handler runs, or its default action), it is gone,
 * or `ms` pass (a process in uninterruptible sleep takes it only when it wakes).
 */
export async function waitSignalTaken(pid: number, signal: number, ms: number): Promise<void> {
  for (const deadline = Date.now() + ms; ; await new Promise((r) => setTimeout(r, 1))) {
    const st = readProcStatus(pid);
    if (!st || signalSettled(st, signal) || Date.now() >= deadline) return;
  }
}
