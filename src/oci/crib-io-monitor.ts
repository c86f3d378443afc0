// A pod's pause under `crib-io monitor` instead of conmon: pause has no stdio worth a log and no
// attach, so all its monitor has to do is learn its exit. crib-io (static, a few ms to start where
// conmon takes tens) runs `runc run --detach`, stays as pause's subreaper and writes the exit file
// conmon would (STATE/exits/ID), so exits are learned the one way (ExitFiles) whoever monitors.
import fs from 'node:fs/promises';
import { CommandError, run } from '../util/exec.js';
import { builtCribIoBinary } from '../host/crib-io.js';
import type { RuncCli } from './runc.js';

/** Paths the monitor writes inside a bundle (beside conmon's, which a created container has instead). */
export const monitorFiles = (bundle: string) => ({
  /** The monitor's own pid: what a cancelled run kills, and what a delete waits for. */
  monitorPid: `${bundle}/monitor.pid`,
  /** The process's host pid, written by the runtime. */
  containerPid: `${bundle}/pidfile`,
});

/** Of the runtime's log, the end a failure quotes. */
const RUNTIME_LOG_TAIL = 4096;

export interface MonitorRunOptions {
  runtime: RuncCli;
  id: string;
  bundle: string;
  /** The exit file (EXIT_DIR/ID). */
  exitFile: string;
  runtimeLogPath: string;
  signal?: AbortSignal;
  timeoutMs?: number;
}

/**
 * Runs the bundle's process detached under a monitor of its own; resolves with its host pid once
 * it runs. On a failure, timeout or cancel the caller ends what was started (ConmonRuntime.abandon).
 */
export async function monitorRun(o: MonitorRunOptions): Promise<number> {
  const files = monitorFiles(o.bundle);
  const runtimeArgs = o.runtime.runDetachedArgs(o.id, { bundle: o.bundle, pidFile: files.containerPid, logFile: o.runtimeLogPath });
  let stdout: string;
  try {
    ({ stdout } = await run(builtCribIoBinary, ['monitor', files.monitorPid, files.containerPid, o.exitFile, '--', o.runtime.path, ...runtimeArgs], {
      timeoutMs: o.timeoutMs ?? 30_000,
      signal: o.signal,
      maxOutputBytes: 4096,
    }));
  } catch (err) {
    if (!(err instanceof CommandError) || err.exitCode === null || err.exitCode === 125) throw err;
    throw new Error(`${o.runtime.name} run ${o.id} failed: ${(await logTail(o.runtimeLogPath)) || err.message}`);
  }
  const pid = Number(stdout.trim());
  if (!Number.isSafeInteger(pid) || pid <= 0) throw new Error(`crib-io monitor for ${o.id} reported no pid: ${JSON.stringify(stdout.slice(0, 100))}`);
  return pid;
}

/** The last message the runtime logged (its error), from the end of its log. */
async function logTail(file: string): Promise<string> {
  let fh: fs.FileHandle | undefined;
  try {
    fh = await fs.open(file, 'r');
    const { size } = await fh.stat();
    const buf = Buffer.alloc(Math.min(size, RUNTIME_LOG_TAIL));
    await fh.read(buf, 0, buf.length, size - buf.length);
    return logMessage(buf.toString('utf8').trim().split('\n').at(-1) ?? '');
  } catch {
    return '';
  } finally {
    await fh?.close();
  }
}

/** A JSON log line's `msg`; any other line as it is. */
export function logMessage(line: string): string {
  try {
    const v = JSON.parse(line) as { msg?: unknown };
    if (typeof v.msg === 'string') return v.msg;
  } catch {
    /* not JSON: the line itself */
  }
  return line;
}
