// The files of an unpacked image archive, found by the paths and digests the archive's own JSON
// names. That JSON is untrusted: a path may climb out with "..", be absolute, or run through a
// symlink the archive brought, and a digest may be "sha256:../../etc/passwd". Every name is
// checked and resolved to a real path inside the extraction directory, which must be a regular
// file, before anything reads it; reads are bounded before anything is buffered.
import { createHash } from 'node:crypto';
import { constants, createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { CribError, quoteUntrusted } from '../util/errors.js';
import { isErrno } from '../util/fsx.js';
import { LAYER_LIMITS } from './limits.js';
import { validateDigest } from './reference.js';

/** A regular file inside the extraction directory: its real path and what lstat said. */
export interface ContainedFile {
  path: string;
  size: number;
  /** Hard links to it: more than one, and it may be shared, so it is copied, never moved. */
  nlink: number;
}

const refuse = (what: string, name: string, why: string): CribError => new CribError('InvalidArgument', `archive: ${what} ${quoteUntrusted(name)} ${why}`);

/**
 * The regular file `rel` names inside `root` (the real path of the extraction directory).
 * Refused (InvalidArgument): an absolute path, a ".." component, a path whose real location is
 * outside root (through a symlink of the archive's), anything but a regular file, and a missing one.
 * Symlinks that stay inside are followed: docker save links a layer it already wrote.
 */
export async function containedFile(root: string, rel: string, what: string): Promise<ContainedFile> {
  if (rel === '' || rel.includes('\0') || Buffer.byteLength(rel) > LAYER_LIMITS.pathBytes) throw refuse(what, rel, 'is not a usable path');
  if (path.isAbsolute(rel) || rel.split('/').includes('..')) throw refuse(what, rel, 'leaves the archive');
  let real: string;
  try {
    // The kernel's realpath(3). (fs.realpathSync's JavaScript version resolves link targets by
    // their text, so `x -> .` then `y -> x/x/../..` would fool it; node-tar extracts exactly that.)
    real = await fs.realpath(path.join(root, rel));
  } catch (err) {
    if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) throw refuse(what, rel, 'is not in the archive');
    if (isErrno(err, 'ELOOP') || isErrno(err, 'ENAMETOOLONG')) throw refuse(what, rel, 'cannot be resolved (a symlink loop)');
    throw err;
  }
  if (!real.startsWith(`${root}/`)) throw refuse(what, rel, 'leaves the archive through a symlink');
  const st = await fs.lstat(real);
  if (!st.isFile()) throw refuse(what, rel, 'is not a regular file');
  return { path: real, size: st.size, nlink: st.nlink };
}

/** The file of a blob in an OCI layout (blobs/sha256/HEX), by a digest the archive names. */
export async function containedBlob(root: string, digest: string, what: string): Promise<ContainedFile> {
  const why = validateDigest(digest);
  if (why) throw new CribError('InvalidArgument', `archive: ${what}: ${why}`);
  return containedFile(root, `blobs/sha256/${digest.slice('sha256:'.length)}`, what);
}

/** Reads a contained file of at most `limit` bytes; a larger one is refused before it is read. */
export async function readContained(f: ContainedFile, limit: number, what: string): Promise<Buffer> {
  if (f.size > limit) throw new CribError('InvalidArgument', `archive: ${what} is ${f.size} bytes, more than the ${limit} crib takes`);
  const fh = await fs.open(f.path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    // One byte more than lstat said: a file that grew since is noticed, not read on and on.
    const buf = Buffer.alloc(f.size + 1);
    let n = 0;
    while (n < buf.length) {
      const { bytesRead } = await fh.read(buf, n, buf.length - n, n);
      if (bytesRead === 0) break;
      n += bytesRead;
    }
    if (n !== f.size) throw new CribError('InvalidArgument', `archive: ${what} changed while it was read`);
    return buf.subarray(0, n);
  } finally {
    await fh.close();
  }
}

/** The first `n` bytes of a contained file (fewer if it is shorter). */
export async function readHead(f: ContainedFile, n: number): Promise<Buffer> {
  const fh = await fs.open(f.path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const buf = Buffer.alloc(n);
    const { bytesRead } = await fh.read(buf, 0, n, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** The sha256 digest of a contained file, streamed. */
export async function fileDigest(f: ContainedFile): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(f.path)) h.update(chunk as Buffer);
  return `sha256:${h.digest('hex')}`;
}

/** Whether the archive has `name` at its top (a file, or anything else that will then be refused). */
export async function hasEntry(root: string, name: string): Promise<boolean> {
  try {
    await fs.lstat(path.join(root, name));
    return true;
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return false;
    throw err;
  }
}
