// Whether this node can run pods with their own user namespace as crib makes them: a pinned user
// namespace (crib-io userns) and idmapped mounts of the filesystem images and volumes live on
// (crib-io idmap). Status announces the feature only when both work here.
import fs from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { cribIoIdmap, cribIoMount, cribIoUserns } from './crib-io.js';
import { log } from '../util/log.js';
import { readMounts } from './mounts.js';

/**
 * The directories above STATE/roots must let others pass: the OCI runtime reaches a pod's rootfs there as the
 * pod's unprivileged root (/run does; a state dir under a 0700 directory does not).
 */
async function othersMayPass(dir: string): Promise<string | undefined> {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    if (((await fs.stat(d)).mode & 0o001) === 0) return d;
    if (d === path.dirname(d)) return undefined;
  }
}

/**
 * Tries both once, in `scratch` (a private directory of STATE), on the filesystem of `root`, and
 * checks that `roots` can be reached; leaves nothing behind.
 */
export async function probeUserNamespaces(scratch: string, root: string, roots: string): Promise<boolean> {
  const closed = await othersMayPass(roots);
  if (closed) {
    log.warn(`user namespaces are not announced: ${closed} does not let other users pass (mode o+x), and a pod's root must reach ${roots}`);
    return false;
  }
  const base = path.join(scratch, `probe-${randomBytes(6).toString('hex')}`);
  const pin = `${base}.pin`;
  const target = `${base}.d`;
  try {
    await fs.writeFile(pin, '', { flag: 'wx', mode: 0o444 });
    await fs.mkdir(target);
    const ids = { containerId: 0, hostId: 65536, length: 65536 };
    await cribIoUserns({ pin, uids: ids, gids: ids });
    await cribIoIdmap(pin, [{ source: root, target }]);
    return true;
  } catch (err) {
    log.warn('user namespaces are not announced: idmapped mounts do not work here', { error: err });
    return false;
  } finally {
    const mounted = new Set((await readMounts()).map((m) => m.mountPoint));
    await cribIoMount([target, pin].filter((p) => mounted.has(p)).map((umount) => ({ umount })));
    await fs.rm(target, { recursive: true, force: true });
    await fs.rm(pin, { force: true });
  }
}
