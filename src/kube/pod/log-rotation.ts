// kubelet's container log manager (pkg/kubelet/logs) for the containers a foreground crib run
// keeps: every 10 s, a running container's log of 10 MiB or more is renamed to LOG.YYYYMMDD-HHMMSS
// and the runtime asked to reopen it (ReopenContainerLog); of the rotated files the older ones are
// gzipped (LOG.TIMESTAMP.gz, through LOG.TIMESTAMP.tmp) and the oldest removed, so that with the
// live log at most 5 files are kept. Leftovers of a rotation that failed half way (a .tmp, a file
// whose .gz exists) are removed first, as kubelet does.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';

export interface LogRotationPolicy {
  /** A log this large (bytes) is rotated. */
  maxBytes: number;
  /** Files kept per container, the live log included (kubelet refuses fewer than 2). */
  maxFiles: number;
  /** How often the logs are looked at (ms). */
  intervalMs: number;
}

/** kubelet's defaults: containerLogMaxSize 10Mi, containerLogMaxFiles 5, containerLogMonitorInterval 10s. */
export const KUBELET_LOG_ROTATION: LogRotationPolicy = { maxBytes: 10 * 1024 * 1024, maxFiles: 5, intervalMs: 10_000 };

const GZ = '.gz';
const TMP = '.tmp';

/** The suffix of a rotated log: Go's "20060102-150405" of the local time, as kubelet formats it. */
export function rotationStamp(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

export interface RotationPlan {
  /** Leftovers of a failed rotation: temporary files, and files already compressed. */
  unused: string[];
  /** The oldest rotated files beyond maxFiles - 2 (the live log and the one rotated now). */
  excess: string[];
  /** Rotated files kept that are not compressed yet. */
  compress: string[];
}

/** What to do with the rotated files of a log (names of LOG.*, any order) before rotating it again. Pure. */
export function planRotation(rotated: readonly string[], maxFiles: number): RotationPlan {
  const names = new Set(rotated);
  const inUse = (n: string) => !n.endsWith(TMP) && (n.endsWith(GZ) || !names.has(`${n}${GZ}`));
  const kept = rotated.filter(inUse).sort();
  const keep = Math.max(0, maxFiles - 2);
  const excess = kept.slice(0, Math.max(0, kept.length - keep));
  return {
    unused: rotated.filter((n) => !inUse(n)),
    excess,
    compress: kept.slice(excess.length).filter((n) => !n.endsWith(GZ)),
  };
}

async function gzipFile(file: string): Promise<void> {
  const tmp = `${file}${TMP}`;
  const { mode } = await fsp.stat(file);
  try {
    await pipeline(fs.createReadStream(file), createGzip(), fs.createWriteStream(tmp, { mode: mode & 0o777 }));
    await fsp.rename(tmp, `${file}${GZ}`);
  } finally {
    await fsp.rm(tmp, { force: true });
  }
  await fsp.rm(file, { force: true });
}

/**
 * Rotates `file` when it has reached the policy's size: prunes and compresses the files rotated
 * before, renames it to FILE.TIMESTAMP, and calls `reopen` (ReopenContainerLog). If the reopen
 * fails the file is renamed back, to be tried again next time. Returns the rotated file's path.
 */
export async function rotateLog(file: string, reopen: () => Promise<void>, policy: LogRotationPolicy, now = new Date()): Promise<string | undefined> {
  const st = await fsp.stat(file).catch(() => undefined);
  if (!st || st.size < policy.maxBytes) return undefined;
  const dir = path.dirname(file);
  const base = `${path.basename(file)}.`;
  const rotated = (await fsp.readdir(dir)).filter((n) => n.startsWith(base));
  const plan = planRotation(rotated, policy.maxFiles);
  for (const n of [...plan.unused, ...plan.excess]) await fsp.rm(path.join(dir, n), { force: true });
  for (const n of plan.compress) await gzipFile(path.join(dir, n));
  const target = `${file}.${rotationStamp(now)}`;
  await fsp.rename(file, target);
  try {
    await reopen();
  } catch (err) {
    await fsp.rename(target, file);
    throw err;
  }
  return target;
}
