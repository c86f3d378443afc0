// Paths inside a directory a container can write (a volume) or an image wrote (a rootfs): the one
// way crib resolves them. A container may have replaced any name there with a symlink to the
// node's /etc, or may rename things while crib looks, so such a path is never joined as a string
// and opened or handed to a mount; `crib-io beneath` resolves it with openat2 RESOLVE_BENEATH (a
// rootfs's: RESOLVE_IN_ROOT) and mounts what it opened (helpers/crib-io/README.md).
// test/unit/beneath-callers.test.ts lists the callers.
import fs from 'node:fs/promises';
import path from 'node:path';
import { CommandError, run, runCapture } from '../util/exec.js';
import { isErrno } from '../util/fsx.js';
import { builtCribIoBinary } from './crib-io.js';

/** One operation beneath a root; every REL is relative to it and may not leave it. */
export type BeneathOp =
  /** REL's missing directories, with the root's mode. */
  | { mkdir: string }
  /** REL (made a directory if missing) bind-mounted onto `target`, a staging path no container can write. */
  | { bind: string; target: string }
  /** A new file REL with `data` and `mode` (its directories made as mkdir; what was there replaced). */
  | { write: string; data: Buffer; mode: number };

/** A path beneath a root that could not be used: it leads out (a planted symlink) or is not what it must be. */
export class BeneathError extends Error {
  override readonly name = 'BeneathError';
}

/** crib-io's arguments and stdin for the operations (pure). */
export function beneathArgs(root: string, ops: readonly BeneathOp[]): { args: string[]; stdin: Buffer } {
  const args = ['beneath', root];
  const data: Buffer[] = [];
  for (const o of ops) {
    const rel = 'mkdir' in o ? o.mkdir : 'bind' in o ? o.bind : o.write;
    if (rel === '' || rel.startsWith('/') || rel.includes('\0')) throw new BeneathError(`"${rel}" is not a relative path`);
    if ('mkdir' in o) args.push('mkdir', o.mkdir);
    else if ('bind' in o) args.push('bind', o.bind, o.target);
    else {
      if (!Number.isInteger(o.mode) || o.mode < 0 || o.mode > 0o7777) throw new BeneathError(`mode ${o.mode} of "${o.write}" is not a file mode`);
      args.push('write', o.write, o.mode.toString(8), String(o.data.length));
      data.push(o.data);
    }
  }
  return { args, stdin: Buffer.concat(data) };
}

/** Runs the operations in order in one crib-io process; the first that fails throws a BeneathError saying why. */
export async function beneath(root: string, ops: readonly BeneathOp[]): Promise<void> {
  if (ops.length === 0) return;
  const { args, stdin } = beneathArgs(root, ops);
  try {
    await run(builtCribIoBinary, args, { stdin, timeoutMs: 60_000 });
  } catch (err) {
    const why = err instanceof CommandError ? err.stderr.trim().replace(/^error: /, '') : '';
    throw new BeneathError(why || (err instanceof Error ? err.message : String(err)), { cause: err });
  }
}

/**
 * Splits `crib-io beneath ROOT read ...`'s stdout into one file per read: "SIZE\n" and the bytes,
 * or "-\n" for a missing file (pure).
 */
export function parseReads(out: Buffer, count: number): (Buffer | undefined)[] {
  const files: (Buffer | undefined)[] = [];
  let at = 0;
  while (files.length < count) {
    const nl = out.indexOf(0x0a, at);
    const head = nl < 0 ? '' : out.subarray(at, nl).toString('latin1');
    if (head === '-') files.push(undefined);
    else if (/^\d+$/.test(head) && nl + 1 + Number(head) <= out.length) files.push(out.subarray(nl + 1, nl + 1 + Number(head)));
    else throw new BeneathError(`crib-io beneath read: malformed output at byte ${at}`);
    at = nl + 1 + (files.at(-1)?.length ?? 0);
  }
  if (at !== out.length) throw new BeneathError(`crib-io beneath read: ${out.length - at} bytes past the last file`);
  return files;
}

/** What readPlain says when a name on the way is a symlink (or ".."): crib-io must resolve it. */
const SYMLINK = Symbol('symlink');

/**
 * A file of a rootfs no container runs in yet (nothing but crib writes it: its image's layers are
 * the store's, its upper directory new), read by Node when no name on the way is a symlink: each
 * is lstat'ed and the file opened O_NOFOLLOW, so nothing is followed at all. A crib-io costs a
 * process spawn per CreateContainer (6 to 18 ms measured on a busy 2-core node); images rarely
 * make /etc/passwd a symlink.
 */
async function readPlain(root: string, rel: string, maxBytes: number): Promise<Buffer | undefined | typeof SYMLINK> {
  const parts = rel.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) return SYMLINK;
  let p = root;
  for (const [i, part] of parts.entries()) {
    p = path.join(p, part);
    const st = await fs.lstat(p).catch((err: unknown) => {
      if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) return undefined;
      throw err;
    });
    if (!st || (i < parts.length - 1 && !st.isDirectory() && !st.isSymbolicLink())) return undefined;
    if (st.isSymbolicLink()) return SYMLINK;
  }
  const fh = await fs.open(p, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY);
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new BeneathError(`read ${rel} in ${root}: not a regular file`);
    if (st.size > maxBytes) throw new BeneathError(`read ${rel} in ${root}: larger than ${maxBytes} bytes`);
    const buf = Buffer.alloc(st.size);
    for (let at = 0; at < buf.length;) {
      const { bytesRead } = await fh.read(buf, at, buf.length - at, at);
      if (bytesRead === 0) break; // shorter than it was: the rest stays zeros, as crib-io pads it
      at += bytesRead;
    }
    return buf;
  } finally {
    await fh.close();
  }
}

/**
 * Regular files of a rootfs no container runs in yet, as a process with `root` as its / will see
 * them (absolute symlinks too stay inside it), each at most `maxBytes`; undefined for one that is
 * missing. One that is not a regular file (a planted fifo or device) or is larger throws a
 * BeneathError.
 */
export async function readInRoot(root: string, rels: readonly string[], maxBytes: number): Promise<(Buffer | undefined)[]> {
  for (const rel of rels) if (rel === '' || rel.startsWith('/') || rel.includes('\0')) throw new BeneathError(`"${rel}" is not a relative path`);
  const plain = await Promise.all(rels.map((rel) => readPlain(root, rel, maxBytes)));
  if (!plain.includes(SYMLINK)) return plain as (Buffer | undefined)[];
  const args = ['beneath', root, ...rels.flatMap((rel) => ['read', rel, String(maxBytes)])];
  const r = await runCapture(builtCribIoBinary, args, { timeoutMs: 60_000, maxOutputBytes: rels.length * (maxBytes + 32) });
  if (r.code !== 0 || r.truncated)
    throw new BeneathError(
      r.stderr
        .toString()
        .trim()
        .replace(/^error: /, '') || `crib-io beneath read ended with ${r.code ?? r.signal}`,
    );
  return parseReads(r.stdout, rels.length);
}
