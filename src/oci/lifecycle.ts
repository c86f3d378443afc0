import { conmonFiles } from './conmon.js';
import { isAlive, procStat, readPidFile, waitGone } from './process.js';
import type { OciRuntime } from './runtime.js';

export interface RunningProcess {
  pid: number;
  startTime: string;
}

/**
 * Stops a container's processes: `signal` first and up to `graceMs` for it to work, then SIGKILL
 * to everything in the container. Returns at once if it is not running.
 */
export async function terminate(runtime: OciRuntime, id: string, proc: RunningProcess | undefined, signal: string, graceMs: number): Promise<void> {
  if (!proc || !(await isAlive(proc.pid, proc.startTime))) return;
  if (signal !== 'KILL' && signal !== 'SIGKILL' && graceMs > 0) {
    await runtime.kill(id, signal);
    if (await waitGone(proc.pid, proc.startTime, graceMs)) return;
  }
  await runtime.kill(id, 'KILL', true);
  await waitGone(proc.pid, proc.startTime, 10_000);
}

/** Deletes the runtime's container and waits for its conmon (which writes the exit file) to leave. */
export async function deleteAndWaitConmon(runtime: OciRuntime, id: string, bundle: string): Promise<void> {
  await runtime.delete(id);
  const conmonPid = await readPidFile(conmonFiles(bundle).conmonPid);
  if (conmonPid === undefined) return;
  const st = await procStat(conmonPid);
  if (st && !(await waitGone(conmonPid, st.startTime, 10_000))) {
    throw new Error(`conmon (pid ${conmonPid}) of ${id} did not exit after its container stopped`);
  }
}
