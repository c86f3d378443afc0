// One supervisor per node (per cribd root): ROOT/kube/supervisor.pid names the one that runs. It is
// taken by linking a complete file into place (never half-written, never two winners); a file
// whose process is gone, or is not a supervisor, is stale and taken over.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { kubeDir } from '../records/runs.js';

export const pidFile = (root: string): string => path.join(kubeDir(root), 'supervisor.pid');
export const supervisorLog = (root: string): string => path.join(kubeDir(root), 'supervisor.log');

/** Whether `pid` is a running crib supervisor (its command line says `supervise`). */
function isSupervisor(pid: number): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes('supervise');
  } catch {
    return false;
  }
}

/** The pid the file names. Pure. */
export function parsePid(text: string): number | undefined {
  const pid = Number(text.trim());
  return Number.isInteger(pid) && pid > 1 && pid < 2 ** 22 ? pid : undefined;
}

/** The running supervisor's pid, if one runs. */
export async function lockHolder(root: string): Promise<number | undefined> {
  const pid = parsePid(await fsp.readFile(pidFile(root), 'utf8').catch(() => ''));
  return pid !== undefined && isSupervisor(pid) ? pid : undefined;
}

/** Takes the lock for this process; the pid of the one that holds it otherwise. */
export async function takeLock(root: string): Promise<{ ok: true } | { ok: false; holder: number }> {
  const file = pidFile(root);
  await fsp.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}`;
  await fsp.writeFile(tmp, `${process.pid}\n`, { mode: 0o644 });
  try {
    for (;;) {
      try {
        await fsp.link(tmp, file);
        return { ok: true };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const holder = await lockHolder(root);
      if (holder !== undefined && holder !== process.pid) return { ok: false, holder };
      // Stale: moved aside (one of several racers wins the rename), then taken as above.
      await fsp.rename(file, `${file}.stale.${process.pid}`).catch(() => undefined);
      await fsp.rm(`${file}.stale.${process.pid}`, { force: true });
    }
  } finally {
    await fsp.rm(tmp, { force: true });
  }
}

/** Whether the file still names this process (a removed root, or a file taken over, ends the supervisor). */
export async function stillHeld(root: string): Promise<boolean> {
  return parsePid(await fsp.readFile(pidFile(root), 'utf8').catch(() => '')) === process.pid;
}

/** Gives the lock up, if it is still this process's. */
export async function releaseLock(root: string): Promise<void> {
  if (await stillHeld(root)) await fsp.rm(pidFile(root), { force: true });
}
