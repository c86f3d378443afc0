// What a CronJob's controller keeps across the supervisor's restarts (its status, as the API
// server would keep it): when it was created, the scheduled time of its last Job, and its finished
// Jobs still kept as history. One small JSON file per CronJob in the run's state dir, written
// atomically (a temporary file renamed), read back bounded and checked: a file that is not whole
// or not this shape is as if absent, and only names this CronJob's Jobs would have are taken.
import fsp from 'node:fs/promises';
import path from 'node:path';
import { isCronJobsJob } from './controller.js';
import type { FinishedJob } from './history.js';

export interface SavedCron {
  createdMs: number;
  lastScheduleMs?: number;
  finished: FinishedJob[];
}

/** The newest finished Jobs kept in the file; older ones are left to crib down. */
export const MAX_SAVED_JOBS = 1000;
/** Far above MAX_SAVED_JOBS entries of the longest names: a bigger file is not read. */
export const MAX_SAVED_BYTES = 256 * 1024;

const isMs = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** The saved state from a file's text, or undefined when it is not one of this CronJob's. Pure. */
export function parseSaved(text: string, cronJob: string): SavedCron | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const r = v as Record<string, unknown>;
  const last = r['lastScheduleMs'];
  if (!isMs(r['createdMs']) || (last !== undefined && !isMs(last)) || !Array.isArray(r['finished'])) return undefined;
  const finished: FinishedJob[] = [];
  for (const j of r['finished'].slice(-MAX_SAVED_JOBS) as unknown[]) {
    if (typeof j !== 'object' || j === null) return undefined;
    const f = j as Record<string, unknown>;
    // Only a name this CronJob's Jobs have: nothing else is ever removed by a name read here.
    if (typeof f['name'] !== 'string' || !isCronJobsJob(cronJob, f['name']) || typeof f['succeeded'] !== 'boolean') return undefined;
    if (f['startMs'] !== undefined && !isMs(f['startMs'])) return undefined;
    finished.push({ name: f['name'], succeeded: f['succeeded'], ...(f['startMs'] !== undefined ? { startMs: f['startMs'] } : {}) });
  }
  return { createdMs: r['createdMs'], ...(last !== undefined ? { lastScheduleMs: last } : {}), finished };
}

const fileOf = (dir: string, namespace: string, name: string): string => path.join(dir, `cronjob_${namespace}_${name}.json`);

/** The CronJob's saved state in `dir`, if there is a whole one. */
export async function loadCron(dir: string, namespace: string, name: string): Promise<SavedCron | undefined> {
  let fh: fsp.FileHandle | undefined;
  try {
    // O_NOFOLLOW: the state dir is crib's own (0700 under the root), but a link is never followed out of it.
    fh = await fsp.open(fileOf(dir, namespace, name), fsp.constants.O_RDONLY | fsp.constants.O_NOFOLLOW);
    const st = await fh.stat();
    if (!st.isFile() || st.size > MAX_SAVED_BYTES) return undefined;
    const buf = Buffer.alloc(st.size);
    const { bytesRead } = await fh.read(buf, 0, st.size, 0);
    return parseSaved(buf.subarray(0, bytesRead).toString('utf8'), name);
  } catch {
    return undefined;
  } finally {
    await fh?.close();
  }
}

/** Saves the CronJob's state in `dir`, whole or not at all. */
export async function saveCron(dir: string, namespace: string, name: string, s: SavedCron): Promise<void> {
  await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  const file = fileOf(dir, namespace, name);
  const tmp = `${file}.${process.pid}.tmp`;
  await fsp.writeFile(tmp, JSON.stringify({ ...s, finished: s.finished.slice(-MAX_SAVED_JOBS) }), { mode: 0o600 });
  await fsp.rename(tmp, file);
}
