// Unpacks one OCI / Docker image layer into an empty directory in overlayfs "lower dir" form:
// whiteouts become 0:0 character devices and opaque markers the trusted.overlay.opaque xattr, so
// stacking unpacked layers with `mount -t overlay` gives the image's root filesystem.
//
// The tar is streamed (never held whole) and applied with synchronous fs calls, one input chunk
// at a time: per-file syscalls then cost microseconds instead of a thread-pool round trip each,
// and the event loop gets control back between chunks (a chunk is at most 1 MiB of tar).
// What Node cannot do itself (mknod, setting xattrs) is collected and done at the end with a few
// processes per layer, not one per file.
//
// Safety: entry paths are normalized lexically; a leading "/" is dropped (the path is taken as
// relative to dest, as tar does) and a ".." that would climb above dest is refused. Every
// directory on the way to an entry is checked with lstat (cached per layer) and must be a real
// directory, so an earlier symlink entry can never redirect a later write; files are created with
// O_EXCL|O_NOFOLLOW. Hard links must point at something this layer already wrote. Refusals throw;
// dest is then left as it is, for the caller to remove.
//
// Bounds (limits.ts): the reader bounds each entry; the writer bounds what it keeps until the end
// of the layer (paths it remembers, xattrs to set), so no layer can grow cribd's heap past a few
// hundred MiB, and it hands xattrs to setfattr in batches of a few MiB.

import { createHash } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { CribError, errorMessage, quoteUntrusted } from '../util/errors.js';
import { run } from '../util/exec.js';
import { isErrno } from '../util/fsx.js';
import { log } from '../util/log.js';
import { openTarBytes, type LayerCompression } from './layer/decompress.js';
import { TarFormatError, TarReader, type TarEntry, type TarHandler } from './layer/tar-reader.js';
import { BOOKKEEPING_RECORD_BYTES, LAYER_LIMITS, type LayerLimits } from './limits.js';

export type { LayerCompression } from './layer/decompress.js';

export interface UnpackOptions {
  /** How the blob is compressed; 'auto' (the default) looks at its first bytes. */
  compression?: LayerCompression;
  /**
   * The layer's diffID ("sha256:HEX", the digest of the uncompressed tar). When given, the
   * uncompressed bytes are hashed on the way and a mismatch fails the unpack.
   */
  diffId?: string;
  /** Bounds on the layer (default LAYER_LIMITS). */
  limits?: Readonly<LayerLimits>;
}

export interface UnpackStats {
  /** Regular files written. */
  files: number;
  /** Directory entries (directories created implicitly for a deeper path are not counted). */
  dirs: number;
  symlinks: number;
  hardlinks: number;
  /** Character and block devices and FIFOs. */
  devices: number;
  /** Whiteout entries (.wh.NAME) applied as 0:0 character devices. */
  whiteouts: number;
  /** Directories marked opaque (.wh..wh..opq). */
  opaques: number;
  /** Bytes of regular-file data written. */
  bytes: number;
}

const WHITEOUT_PREFIX = '.wh.';
const OPAQUE_MARKER = '.wh..wh..opq';
const AUFS_META_PREFIX = '.wh..wh.';
/** Longest stretch of synchronous unpacking before the event loop gets a turn. */
const SLICE_MS = 20;
/** Each process that makes device nodes gets at most this many. */
const MKNOD_BATCH = 1000;
/** Each setfattr process gets about this much of its dump format (more only for one path's own). */
const SETFATTR_BATCH_BYTES = 4 << 20;
/** XATTR_NAME_MAX: the kernel refuses longer names. */
const MAX_XATTR_NAME = 255;

/**
 * Unpacks the layer `source` (a Readable or a file path) into the empty directory `dest`.
 * Throws on a malformed or unsafe layer; dest is then left for the caller to remove.
 */
export async function unpackLayer(source: Readable | string, dest: string, opts: UnpackOptions = {}): Promise<UnpackStats> {
  let root: string;
  const expected = opts.diffId === undefined ? undefined : /^sha256:([a-f0-9]{64})$/.exec(opts.diffId)?.[1];
  try {
    if (opts.diffId !== undefined && expected === undefined) {
      throw new CribError('InvalidArgument', `unpack: not a sha256 diffID: ${opts.diffId}`);
    }
    root = await fsp.realpath(dest);
    if ((await fsp.readdir(root)).length > 0) throw new CribError('FailedPrecondition', `unpack: ${dest} is not empty`);
  } catch (err) {
    if (typeof source !== 'string') source.destroy();
    throw err;
  }
  const limits = opts.limits ?? LAYER_LIMITS;
  const input = await openTarBytes(source, opts.compression ?? 'auto');
  const writer = new LayerWriter(root, limits);
  const reader = new TarReader(writer, limits);
  const hash = expected === undefined ? undefined : createHash('sha256');
  try {
    for await (const chunk of input.chunks) {
      hash?.update(chunk);
      // After the end marker, keep reading (and hashing) to the end: the caller's stream may be
      // teed into a digest of its own, and the diffID covers the tar's trailing padding too.
      if (reader.finished) continue;
      // The work is synchronous; the event loop gets a turn after each chunk and at least every
      // SLICE_MS (a chunk of tiny files on a slow disk takes a while). That turn also lets the
      // decompressor's completions run, so it inflates the next chunk while this one is written.
      let off = 0;
      while (off < chunk.length) {
        off += reader.write(off === 0 ? chunk : chunk.subarray(off), performance.now() + SLICE_MS);
        await yieldToLoop();
      }
    }
    reader.end();
    if (hash) {
      const got = hash.digest('hex');
      if (got !== expected) throw new CribError('InvalidArgument', `unpack: layer diffID is sha256:${got}, expected ${opts.diffId}`);
    }
    await writer.finish();
  } catch (err) {
    input.destroy();
    writer.abort();
    if (err instanceof TarFormatError) throw new CribError('InvalidArgument', err.message, { cause: err });
    const code = (err as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && code.startsWith('Z_')) {
      throw new CribError('InvalidArgument', `invalid layer: bad compressed data (${errorMessage(err)})`, { cause: err });
    }
    throw err;
  }
  return writer.stats;
}

/** Refuses a layer entry: an InvalidArgument naming the entry. */
function refuse(entryPath: string, why: string): CribError {
  return new CribError('InvalidArgument', `unsafe layer entry ${quoteUntrusted(entryPath)}: ${why}`);
}

/** A layer whose bookkeeping or xattrs crossed a per-layer bound. */
function overLimit(what: string, limit: number): CribError {
  return new CribError('InvalidArgument', `invalid layer: it makes crib keep more than ${limit} bytes of ${what} (a per-layer limit)`);
}

/**
 * Errors of a file system call that an entry's content caused (a name component or whole path
 * the kernel will not take, more hard links to one file than it allows), as a refusal of the entry.
 */
function entryFault(err: unknown, entryPath: string): unknown {
  if (isErrno(err, 'ENAMETOOLONG')) return refuse(entryPath, 'a name in its path is too long for the file system');
  if (isErrno(err, 'EMLINK')) return refuse(entryPath, 'too many hard links to one file');
  return err;
}

/**
 * The entry path relative to the layer root, normalized: "" is the root itself. A leading "/"
 * is dropped; "." and empty components vanish; ".." removes the previous component and is
 * refused when there is none (it would leave the layer).
 */
export function layerRelativePath(p: string): string | undefined {
  if (p.includes('\0')) return undefined;
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length === 0) return undefined;
      out.pop();
      continue;
    }
    out.push(part);
  }
  return out.join('/');
}

const parentOf = (rel: string): string => {
  const i = rel.lastIndexOf('/');
  return i < 0 ? '' : rel.slice(0, i);
};

interface PendingNode {
  type: 'char' | 'block' | 'fifo';
  major: number;
  minor: number;
  mode: number;
  uid: number;
  gid: number;
  atime: number;
  mtime: number;
}

/** Applies tar entries to the layer directory; see the file comment for the rules. */
class LayerWriter implements TarHandler {
  readonly stats: UnpackStats = { files: 0, dirs: 0, symlinks: 0, hardlinks: 0, devices: 0, whiteouts: 0, opaques: 0, bytes: 0 };
  /** Relative paths known to be real directories (not symlinks); a cache of lstat results. */
  private knownDirs = new Set<string>(['']);
  /**
   * Estimated bytes of the paths kept below (LayerLimits.bookkeepingBytes). Counted when a path is
   * kept, not when it is dropped: a layer that keeps replacing paths pays each time, which no real
   * layer does. Only the cache of known directories gives its share back, when it is dropped.
   */
  private kept = 0;
  private knownDirsBytes = 0;
  /** Bytes of xattr names and values kept (LayerLimits.layerXattrBytes). */
  private xattrBytes = 0;
  /** Work for the end of the layer, by relative path. */
  private readonly dirTimes = new Map<string, [atime: number, mtime: number]>();
  private readonly nodes = new Map<string, PendingNode>();
  private readonly whiteouts = new Set<string>();
  private readonly opaques = new Set<string>();
  private readonly xattrs = new Map<string, [string, Buffer][]>();
  /** Hard links to device nodes that only exist once finish() has made them: [target, link]. */
  private deferredLinks: [target: string, link: string][] = [];

  private fd = -1;
  private current: TarEntry | undefined;

  constructor(
    private readonly root: string,
    private readonly limits: Readonly<LayerLimits>,
  ) {}

  private abs(rel: string): string {
    return rel === '' ? this.root : `${this.root}/${rel}`;
  }

  /** Counts a path kept until the end of the layer; over the bound, the known-dirs cache goes first. */
  private keep(rel: string, cache = false): void {
    const cost = rel.length + BOOKKEEPING_RECORD_BYTES;
    if (this.kept + cost > this.limits.bookkeepingBytes && this.knownDirsBytes > 0) this.dropKnownDirs();
    if (this.kept + cost > this.limits.bookkeepingBytes) throw overLimit('paths to finish the layer with', this.limits.bookkeepingBytes);
    this.kept += cost;
    if (cache) this.knownDirsBytes += cost;
  }

  private knowDir(rel: string): void {
    if (this.knownDirs.has(rel)) return;
    this.keep(rel, true);
    this.knownDirs.add(rel);
  }

  private dropKnownDirs(): void {
    this.knownDirs = new Set(['']);
    this.kept -= this.knownDirsBytes;
    this.knownDirsBytes = 0;
  }

  // ---- TarHandler -------------------------------------------------------------------------

  entry(e: TarEntry): void {
    try {
      this.apply(e);
    } catch (err) {
      throw entryFault(err, e.path);
    }
  }

  private apply(e: TarEntry): void {
    const rel = layerRelativePath(e.path);
    if (rel === undefined) throw refuse(e.path, 'path leaves the layer directory');
    const dir = parentOf(rel);
    const base = rel.slice(dir === '' ? 0 : dir.length + 1);

    // Inside AUFS bookkeeping dirs (.wh..wh.plnk/...): not image content.
    if (dir.includes(AUFS_META_PREFIX) && dir.split('/').some((c) => c.startsWith(AUFS_META_PREFIX))) return;
    if (base.startsWith(WHITEOUT_PREFIX)) {
      this.whiteoutEntry(e, dir, base);
      return;
    }
    if (rel === '') {
      // "./": the layer root's own ownership, mode and times.
      if (e.type !== 'dir') throw refuse(e.path, 'the layer root must be a directory');
      this.setDirMeta(rel, e);
      return;
    }
    this.ensureDir(dir, e.path);
    const abs = this.abs(rel);
    // A later entry for the same path replaces the earlier one, so nothing pending for it stays.
    this.dropPendingAt(rel);

    switch (e.type) {
      case 'file': {
        this.fd = this.create(rel, abs, () =>
          fs.openSync(abs, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600),
        );
        this.current = e;
        break;
      }
      case 'dir': {
        try {
          fs.mkdirSync(abs, 0o700);
        } catch (err) {
          if (!isErrno(err, 'EEXIST')) throw err;
          // Directory over directory: keep the contents, take the new metadata.
          if (!fs.lstatSync(abs).isDirectory()) {
            this.remove(rel, abs);
            fs.mkdirSync(abs, 0o700);
          }
        }
        this.setDirMeta(rel, e);
        this.stats.dirs++;
        break;
      }
      case 'symlink': {
        if (e.linkpath === '') throw refuse(e.path, 'symlink with an empty target');
        this.create(rel, abs, () => fs.symlinkSync(e.linkpath, abs));
        fs.lchownSync(abs, e.uid, e.gid);
        fs.lutimesSync(abs, e.atime ?? e.mtime, e.mtime);
        this.stats.symlinks++;
        break;
      }
      case 'link':
        this.hardLink(e, rel, abs);
        break;
      case 'char':
      case 'block':
      case 'fifo': {
        if (this.exists(abs)) this.remove(rel, abs);
        if (!this.nodes.has(rel)) this.keep(rel);
        this.nodes.set(rel, {
          type: e.type,
          major: e.devmajor,
          minor: e.devminor,
          mode: e.mode,
          uid: e.uid,
          gid: e.gid,
          atime: e.atime ?? e.mtime,
          mtime: e.mtime,
        });
        this.stats.devices++;
        break;
      }
    }
    this.noteXattrs(rel, e);
  }

  data(chunk: Buffer): void {
    if (this.fd < 0) return; // the content of a whiteout marker
    let off = 0;
    while (off < chunk.length) off += fs.writeSync(this.fd, chunk, off, chunk.length - off);
  }

  entryEnd(): void {
    if (this.fd < 0) return;
    const e = this.current as TarEntry;
    const fd = this.fd;
    this.fd = -1;
    this.current = undefined;
    try {
      // chown first: it clears setuid/setgid, which chmod then sets.
      fs.fchownSync(fd, e.uid, e.gid);
      fs.fchmodSync(fd, e.mode);
      fs.futimesSync(fd, e.atime ?? e.mtime, e.mtime);
    } finally {
      fs.closeSync(fd);
    }
    this.stats.files++;
    this.stats.bytes += e.size;
  }

  // ---- entries ----------------------------------------------------------------------------

  private whiteoutEntry(e: TarEntry, dir: string, base: string): void {
    if (base !== OPAQUE_MARKER && base.startsWith(AUFS_META_PREFIX)) {
      return; // other ".wh..wh." names are AUFS bookkeeping (.wh..wh.plnk, .wh..wh.aufs)
    }
    this.ensureDir(dir, e.path);
    if (base === OPAQUE_MARKER) {
      this.keepIn(this.opaques, dir);
      return;
    }
    const name = base.slice(WHITEOUT_PREFIX.length);
    if (name === '' || name === '.' || name === '..') throw refuse(e.path, 'whiteout without a name');
    this.keepIn(this.whiteouts, dir === '' ? name : `${dir}/${name}`);
  }

  private keepIn(set: Set<string>, rel: string): void {
    if (set.has(rel)) return;
    this.keep(rel);
    set.add(rel);
  }

  private hardLink(e: TarEntry, rel: string, abs: string): void {
    const target = layerRelativePath(e.linkpath);
    if (target === undefined) throw refuse(e.path, `hard link target ${JSON.stringify(e.linkpath)} leaves the layer directory`);
    if (target === '') throw refuse(e.path, 'hard link to the layer root');
    if (target === rel) return; // a link to itself changes nothing
    if (!this.isDir(parentOf(target), e.path)) {
      throw refuse(e.path, `hard link target ${JSON.stringify(e.linkpath)} is not in the layer`);
    }
    if (this.nodes.has(target)) {
      if (this.exists(abs)) this.remove(rel, abs);
      this.keep(target);
      this.keep(rel);
      this.deferredLinks.push([target, rel]);
      this.stats.hardlinks++;
      return;
    }
    const targetAbs = this.abs(target);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(targetAbs);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) throw refuse(e.path, `hard link target ${JSON.stringify(e.linkpath)} is not in the layer`);
      throw err;
    }
    if (st.isDirectory()) throw refuse(e.path, 'hard link to a directory');
    // link(2) does not follow a symlink target: the link is to the symlink itself, as tar means.
    this.create(rel, abs, () => fs.linkSync(targetAbs, abs));
    this.stats.hardlinks++;
  }

  private setDirMeta(rel: string, e: TarEntry): void {
    const abs = this.abs(rel);
    fs.lchownSync(abs, e.uid, e.gid);
    fs.chmodSync(abs, e.mode); // abs is a directory we made or checked, never a symlink
    this.knowDir(rel);
    if (!this.dirTimes.has(rel)) this.keep(rel);
    this.dirTimes.set(rel, [e.atime ?? e.mtime, e.mtime]);
  }

  /** Keeps the xattrs that are safe and simple to set; the rest are dropped (see xattrAllowed). */
  private noteXattrs(rel: string, e: TarEntry): void {
    if (e.xattrs.length === 0) {
      if (this.xattrs.size > 0) this.xattrs.delete(rel);
      return;
    }
    const kept = e.xattrs.filter(([name]) => xattrAllowed(name, e.type));
    if (kept.length === 0) {
      this.xattrs.delete(rel);
      return;
    }
    for (const [name, value] of kept) this.xattrBytes += name.length + value.length;
    if (this.xattrBytes > this.limits.layerXattrBytes) throw overLimit('extended attributes', this.limits.layerXattrBytes);
    if (!this.xattrs.has(rel)) this.keep(rel);
    this.xattrs.set(rel, kept);
  }

  // ---- paths ------------------------------------------------------------------------------

  /** Runs `make` to create `rel`; if something is already there, replaces it and tries again. */
  private create<T>(rel: string, abs: string, make: () => T): T {
    try {
      return make();
    } catch (err) {
      if (!isErrno(err, 'EEXIST')) throw err;
    }
    this.remove(rel, abs);
    return make();
  }

  private exists(abs: string): boolean {
    try {
      fs.lstatSync(abs);
      return true;
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return false;
      throw err;
    }
  }

  /** Removes what is at `rel` (an earlier entry of this layer) and forgets pending work for it. */
  private remove(rel: string, abs: string): void {
    const wasDir = fs.lstatSync(abs).isDirectory();
    if (wasDir)
      fs.rmSync(abs, { recursive: true, force: true }); // rm does not follow symlinks
    else fs.unlinkSync(abs);
    this.forget(rel, wasDir);
  }

  /** Work that finish() would do at exactly `rel` and that a new entry there supersedes. */
  private dropPendingAt(rel: string): void {
    this.nodes.delete(rel);
    if (this.deferredLinks.length > 0) this.deferredLinks = this.deferredLinks.filter(([, link]) => link !== rel);
  }

  private forget(rel: string, subtree: boolean): void {
    const prefix = `${rel}/`;
    const drop = (m: Map<string, unknown> | Set<string>): void => {
      m.delete(rel);
      if (!subtree) return;
      for (const k of m.keys()) if (k.startsWith(prefix)) m.delete(k);
    };
    drop(this.dirTimes);
    drop(this.nodes);
    drop(this.whiteouts);
    drop(this.opaques);
    drop(this.xattrs);
    if (subtree) {
      // The cache is only a cache: start over rather than scan it.
      this.dropKnownDirs();
      const inside = (p: string) => p === rel || p.startsWith(prefix);
      this.deferredLinks = this.deferredLinks.filter(([t, l]) => !inside(t) && !inside(l));
    } else {
      this.knownDirs.delete(rel);
    }
  }

  /**
   * Makes sure `rel` is a real directory, creating missing ones (mode 0755, root-owned, as tar
   * does for parents it has no entry for). A symlink or a non-directory on the way is refused.
   */
  private ensureDir(rel: string, entryPath: string): void {
    if (this.knownDirs.has(rel)) return;
    this.ensureDir(parentOf(rel), entryPath);
    const abs = this.abs(rel);
    const st = lstatIfExists(abs);
    if (!st) {
      fs.mkdirSync(abs, 0o755);
      fs.chmodSync(abs, 0o755);
      this.dropPendingAt(rel);
    } else if (st.isSymbolicLink()) {
      throw refuse(entryPath, `${JSON.stringify(rel)} is a symlink; refusing to write through it`);
    } else if (!st.isDirectory()) {
      throw refuse(entryPath, `${JSON.stringify(rel)} is not a directory`);
    }
    this.knowDir(rel);
  }

  /** Like ensureDir without creating anything: false when a component is missing. */
  private isDir(rel: string, entryPath: string): boolean {
    if (this.knownDirs.has(rel)) return true;
    if (!this.isDir(parentOf(rel), entryPath)) return false;
    let st: fs.Stats;
    try {
      st = fs.lstatSync(this.abs(rel));
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return false;
      throw err;
    }
    if (st.isSymbolicLink()) throw refuse(entryPath, `${JSON.stringify(rel)} is a symlink; refusing to follow it`);
    if (!st.isDirectory()) return false;
    this.knowDir(rel);
    return true;
  }

  // ---- end of layer -----------------------------------------------------------------------

  abort(): void {
    if (this.fd >= 0) {
      try {
        fs.closeSync(this.fd);
      } catch {
        /* already failing */
      }
      this.fd = -1;
    }
  }

  /** Device nodes, whiteouts, xattrs, then directory times (last: the steps before touch dirs). */
  async finish(): Promise<void> {
    if (this.nodes.size > 0 || this.whiteouts.size > 0) await this.makeNodes();
    if (this.opaques.size > 0) {
      // Must work: without it the lower layers' content shows through.
      const opaque: [string, Buffer][] = [['trusted.overlay.opaque', Buffer.from('y')]];
      for (const dump of xattrDumps([...this.opaques].map((rel) => [rel, opaque] as const))) await restoreXattrs(this.root, dump);
      this.stats.opaques = this.opaques.size;
    }
    for (const dump of xattrDumps(this.xattrs)) {
      try {
        await restoreXattrs(this.root, dump);
      } catch (err) {
        // Best effort, as tar --xattrs: e.g. a security.* name this kernel does not accept.
        log.warn('unpack: some extended attributes could not be set', { dir: this.root, error: err });
      }
    }
    for (const [rel, [atime, mtime]] of this.dirTimes) fs.lutimesSync(this.abs(rel), atime, mtime);
  }

  /**
   * mknod has no Node API: all nodes of the layer are made by one shell loop in a fresh staging
   * directory inside the layer (plain numbered names, so no entry path reaches a command line),
   * then renamed into place. Whiteouts are hard links to one 0:0 node, as overlayfs itself shares
   * its whiteouts; overlayfs only looks at the type and device number.
   */
  private async makeNodes(): Promise<void> {
    const staging = fs.mkdtempSync(path.join(this.root, '.crib-mknod-'));
    try {
      const nodes = [...this.nodes];
      const specs: string[][] = nodes.map(([, n], i) =>
        n.type === 'fifo' ? [`n${i}`, 'p'] : [`n${i}`, n.type === 'char' ? 'c' : 'b', String(n.major), String(n.minor)],
      );
      if (this.whiteouts.size > 0) specs.push(['wh', 'c', '0', '0']);
      const script =
        'while [ "$#" -gt 0 ]; do if [ "$2" = p ]; then mknod -- "$1" p || exit 1; shift 2; else mknod -- "$1" "$2" "$3" "$4" || exit 1; shift 4; fi; done';
      for (let i = 0; i < specs.length; i += MKNOD_BATCH) {
        await run('sh', ['-c', script, 'sh', ...specs.slice(i, i + MKNOD_BATCH).flat()], { cwd: staging });
      }
      nodes.forEach(([rel, n], i) => {
        // Parents were checked when the entry was read; checked again, as the cache may be gone.
        this.ensureDir(parentOf(rel), rel);
        const abs = this.abs(rel);
        fs.renameSync(path.join(staging, `n${i}`), abs);
        fs.lchownSync(abs, n.uid, n.gid);
        fs.chmodSync(abs, n.mode); // a device node or FIFO we just put there, not a symlink
        fs.lutimesSync(abs, n.atime, n.mtime);
      });
      for (const [target, rel] of this.deferredLinks) {
        const abs = this.abs(rel);
        this.ensureDir(parentOf(rel), rel);
        if (this.exists(abs)) this.remove(rel, abs);
        fs.linkSync(this.abs(target), abs);
      }
      const template = path.join(staging, 'wh');
      for (const rel of this.whiteouts) {
        this.ensureDir(parentOf(rel), rel);
        const abs = this.abs(rel);
        const st = lstatIfExists(abs);
        if (!st) {
          fs.linkSync(template, abs);
          this.stats.whiteouts++;
        } else if (st.isDirectory()) {
          // The layer deletes NAME and also brings a NAME/ of its own: the lower one must not show.
          this.opaques.add(rel);
        }
        // Else the layer's own NAME already hides the lower one.
      }
    } finally {
      fs.rmSync(staging, { recursive: true, force: true });
    }
  }
}

/**
 * Which xattrs from the tar are set. Simple ones only: names of printable ASCII, values up to
 * 64 KiB, in the user (files and directories only, as the kernel allows), security and trusted
 * namespaces. Not set: system.* (POSIX ACLs, whose binary form names uids and would need ACL
 * handling), and *.overlay.* (layer content must not forge overlayfs metadata; opaque dirs come
 * only from .wh..wh..opq).
 */
function xattrAllowed(name: string, type: TarEntry['type']): boolean {
  if (name.length > MAX_XATTR_NAME || !/^[\x21-\x7e]+$/.test(name) || name.includes('=') || name.includes('\\')) return false;
  if (name.startsWith('trusted.overlay.') || name.startsWith('user.overlay.')) return false;
  if (name.startsWith('user.')) return type === 'file' || type === 'dir';
  return name.startsWith('security.') || name.startsWith('trusted.');
}

/** getfattr's dump quoting, which setfattr --restore undoes: bytes outside printable ASCII, and \, as \ooo. */
function quotePath(rel: string): string {
  let out = '';
  for (const byte of Buffer.from(rel === '' ? '.' : rel)) {
    out += byte > 0x20 && byte < 0x7f && byte !== 0x5c ? String.fromCharCode(byte) : `\\${byte.toString(8).padStart(3, '0')}`;
  }
  return out;
}

/**
 * getfattr's dump format of xattrs on paths relative to the layer root, in pieces of about
 * SETFATTR_BATCH_BYTES (a piece holds whole paths), made as they are consumed.
 */
function* xattrDumps(items: Iterable<readonly [string, readonly (readonly [string, Buffer])[]]>): Generator<string> {
  let lines: string[] = [];
  let size = 0;
  for (const [rel, list] of items) {
    const block = [`# file: ${quotePath(rel)}`];
    for (const [name, value] of list) block.push(value.length === 0 ? `${name}=""` : `${name}=0x${value.toString('hex')}`);
    block.push('');
    lines.push(...block);
    for (const l of block) size += l.length + 1;
    if (size >= SETFATTR_BATCH_BYTES) {
      yield `${lines.join('\n')}\n`;
      lines = [];
      size = 0;
    }
  }
  if (lines.length > 0) yield `${lines.join('\n')}\n`;
}

/** Sets xattrs from a dump with one setfattr process (without following symlinks). */
async function restoreXattrs(root: string, dump: string): Promise<void> {
  await run('setfattr', ['-h', '--restore=-'], { cwd: root, stdin: dump });
}

/** lstat, or undefined when nothing is there. */
function lstatIfExists(p: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(p);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw err;
  }
}
