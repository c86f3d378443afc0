import fsSync from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

/** Writes a file so that a crash leaves either the old or the new content: temp file, fsync, rename. */
export async function writeFileAtomic(file: string, data: string | Buffer, mode = 0o644): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(4).toString('hex')}.tmp`);
  const fh = await fs.open(tmp, 'w', mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
}

/**
 * A directory only root may enter (0700), made so even when it exists with another mode: the store
 * holds setuid binaries from image layers and containers' specs carry their secrets (as Docker
 * learned in CVE-2021-41091).
 */
export async function ensurePrivateDir(dir: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  await fs.chmod(dir, 0o700);
}

/**
 * A directory others may pass through but not list (0711), made so even when it exists with
 * another mode: what is inside is reached only by its exact name, and each entry keeps itself
 * private (see src/image/idmapped.ts for who needs to pass).
 */
export async function ensureTraversableDir(dir: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode: 0o711 });
  await fs.chmod(dir, 0o711);
}

export async function readJson<T>(file: string): Promise<T> {
  return JSON.parse(await fs.readFile(file, 'utf8')) as T;
}

/**
 * A file the kernel makes up on reading (procfs, cgroupfs), read synchronously; undefined if it is
 * gone. Such a read never waits on a disk and takes microseconds, while the promise API costs four
 * thread-pool round trips (open, fstat, read, close): the list and stats calls read hundreds.
 */
export function readKernelFile(file: string): string | undefined {
  try {
    return fsSync.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

export async function exists(p: string): Promise<boolean> {
  try {
    await fs.access(p);
    return true;
  } catch {
    return false;
  }
}

export function isErrno(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as NodeJS.ErrnoException).code === code;
}

/**
 * `mkdir -p` of a path a request names: each missing directory made once, parents first, and one
 * that cannot be made is that error. Node's own recursive mkdir never returns where mkdir answers
 * ENOENT under a parent that exists (/proc, /sys): it loops making the parent again, in a
 * thread-pool thread that then also holds up the process's exit.
 */
export async function makeDirs(dir: string, mode = 0o777): Promise<void> {
  const missing: string[] = [];
  for (let p = path.resolve(dir); ; p = path.dirname(p)) {
    try {
      await fs.mkdir(p, { mode });
      break;
    } catch (err) {
      if (isErrno(err, 'EEXIST')) break;
      if (!isErrno(err, 'ENOENT') || p === path.dirname(p)) throw err;
      missing.push(p);
    }
  }
  for (const p of missing.reverse()) {
    await fs.mkdir(p, { mode }).catch((err: unknown) => {
      if (!isErrno(err, 'EEXIST')) throw err;
    });
  }
}
