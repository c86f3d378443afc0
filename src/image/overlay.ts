// Mounting unpacked layers (see unpack.ts) as one overlayfs root filesystem, and unmounting it.
//
// The mount options travel to the kernel in one page (4096 bytes, NUL included), and overlayfs
// takes every lower dir in one "lowerdir=a:b:c" option, so 120 layers with long absolute paths do
// not fit. When the plain options would be too long (or a path holds a character the option
// syntax gives a meaning to: ':' ',' '\' or whitespace), every dir gets a short symlink ("0", "1",
// ..., "u", "w") in a fresh temporary directory and mount runs with that directory as its cwd,
// so the options name only the short relative links. overlayfs resolves the paths (following the
// links) when it mounts and keeps the directories themselves, so the links are removed right
// after. The mount table then shows the short names; everything else is as with full paths.

import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CribError } from '../util/errors.js';
import { CommandError, run } from '../util/exec.js';
import { isErrno } from '../util/fsx.js';
import { mountAt } from '../host/mounts.js';
import { cribIoMount } from '../host/crib-io.js';

export interface OverlayMountOptions {
  /** Layer directories, top-most first (overlayfs order). */
  lowerDirs: readonly string[];
  /** Writable layer; needs workDir (an empty directory on the same filesystem). Created if missing. */
  upperDir?: string;
  workDir?: string;
  /** The mount point; created if missing. */
  target: string;
  /** Mount read-only. Always the case without an upper dir. */
  readonly?: boolean;
}

/** overlayfs stacks at most this many lower layers (OVL_MAX_STACK). */
export const MAX_LOWER_DIRS = 500;
/** The kernel copies one page of mount options; stay a little below it. */
const OPTIONS_LIMIT = 4000;
const UNSAFE_IN_OPTIONS = /[:,\\\s]/;

/** Mounts an overlay at `target`. Refuses when something is already mounted there. */
export async function mountOverlay(o: OverlayMountOptions): Promise<void> {
  if (o.lowerDirs.length === 0) throw new CribError('InvalidArgument', 'overlay: at least one lower dir is needed');
  if (o.lowerDirs.length > MAX_LOWER_DIRS) {
    throw new CribError('InvalidArgument', `overlay: ${o.lowerDirs.length} lower dirs; overlayfs stacks at most ${MAX_LOWER_DIRS}`);
  }
  if ((o.upperDir === undefined) !== (o.workDir === undefined)) {
    throw new CribError('InvalidArgument', 'overlay: upperDir and workDir go together');
  }
  const target = path.resolve(o.target);
  const lowers = o.lowerDirs.map((d) => path.resolve(d));
  const upper = o.upperDir === undefined ? undefined : path.resolve(o.upperDir);
  const work = o.workDir === undefined ? undefined : path.resolve(o.workDir);

  await fs.mkdir(target, { recursive: true });
  if (upper !== undefined && work !== undefined) {
    await fs.mkdir(upper, { recursive: true });
    await fs.mkdir(work, { recursive: true });
  } else if (lowers.length === 1) {
    // Without an upper dir overlayfs wants two lower dirs: put an empty one below.
    lowers.push(await emptyDir());
  }
  if ((await mountAt(await fs.realpath(target))) !== undefined) {
    throw new CribError('AlreadyExists', `overlay: something is already mounted at ${target}`);
  }

  const flags = o.readonly || upper === undefined ? ['ro'] : [];
  const build = (l: readonly string[], u?: string, w?: string): string =>
    [`lowerdir=${l.join(':')}`, ...(u === undefined ? [] : [`upperdir=${u}`, `workdir=${w}`])].join(',');

  const all = [...lowers, ...(upper === undefined ? [] : [upper, work as string])];
  const direct = build(lowers, upper, work);
  if (direct.length <= OPTIONS_LIMIT && !all.some((p) => UNSAFE_IN_OPTIONS.test(p))) {
    await run('mount', ['-t', 'overlay', '-o', [...flags, direct].join(','), 'overlay', target]);
    return;
  }

  const linkDir = await fs.mkdtemp(path.join(os.tmpdir(), 'crib-ovl-'));
  try {
    const names = lowers.map((_, i) => i.toString(36));
    await Promise.all(lowers.map((d, i) => fs.symlink(d, path.join(linkDir, i.toString(36)))));
    if (upper !== undefined && work !== undefined) {
      await fs.symlink(upper, path.join(linkDir, 'u'));
      await fs.symlink(work, path.join(linkDir, 'w'));
    }
    const short = build(names, upper === undefined ? undefined : 'u', 'w');
    if (short.length > OPTIONS_LIMIT) throw new CribError('InvalidArgument', `overlay: mount options too long even with short names`);
    await run('mount', ['-t', 'overlay', '-o', [...flags, short].join(','), 'overlay', target], { cwd: linkDir });
  } finally {
    await fs.rm(linkDir, { recursive: true, force: true });
  }
}

/**
 * Unmounts the overlay at `target` (and any overlay stacked on it). Nothing mounted, or no such
 * path, is success. A busy mount is reported (FailedPrecondition), never detached lazily: a lazy
 * unmount would hide a leak, not fix it.
 */
export async function unmountOverlay(target: string): Promise<void> {
  let real: string;
  try {
    real = await fs.realpath(target);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return;
    throw err;
  }
  for (let i = 0; i < 32; i++) {
    const m = await mountAt(real);
    if (m === undefined) return;
    if (m.fstype !== 'overlay') {
      throw new CribError('FailedPrecondition', `overlay: ${target} is a ${m.fstype} mount, not an overlay`);
    }
    try {
      // crib-io's umount2, not util-linux's umount: a static helper starts quicker and parses no mount table.
      await cribIoMount([{ umount: real }]);
    } catch (err) {
      const now = await mountAt(real);
      if (now?.id !== m.id) continue; // someone else unmounted it meanwhile: look again
      if (err instanceof CommandError && /busy/i.test(err.stderr)) {
        throw new CribError('FailedPrecondition', `overlay: ${target} is busy (still in use); not unmounted`, { cause: err });
      }
      throw err;
    }
  }
  throw new CribError('Internal', `overlay: ${target} is still mounted after 32 unmounts`);
}

/**
 * An empty, root-owned directory used as the bottom layer of a read-only overlay of one layer.
 * It lives in the temp dir (sticky, so nobody else can swap it) and is checked before each use.
 */
async function emptyDir(): Promise<string> {
  const dir = path.join(os.tmpdir(), 'crib-overlay-empty');
  try {
    await fs.mkdir(dir, 0o555);
  } catch (err) {
    if (!isErrno(err, 'EEXIST')) throw err;
  }
  const st = await fs.lstat(dir);
  const ok = st.isDirectory() && st.uid === process.getuid?.() && (st.mode & 0o022) === 0 && (await fs.readdir(dir)).length === 0;
  if (!ok) throw new CribError('FailedPrecondition', `overlay: ${dir} must be an empty directory owned by us and writable by nobody else`);
  return dir;
}
