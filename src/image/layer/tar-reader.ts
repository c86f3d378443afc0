// A push-style, synchronous tar reader for image layers (ustar, GNU long names, PAX).
//
// Why not the `tar` package's Parser: its PAX decoder keeps only a fixed set of keys and reads
// values as text, so SCHILY.xattr.* records (security.capability on ping, for example) are lost,
// and every entry becomes a Minipass stream. Here a chunk goes in, and the handler gets entry
// headers and slices of that same chunk for file data (no copies), all synchronously.
//
// Layers are untrusted: every size the reader keeps is bounded (LayerLimits), so no header can
// make it hold more than a few MiB, and a path, xattr or id it hands on is one the kernel accepts.

import { performance } from 'node:perf_hooks';
import { quoteUntrusted } from '../../util/errors.js';
import { LAYER_LIMITS, type LayerLimits } from '../limits.js';

export type TarEntryType = 'file' | 'dir' | 'symlink' | 'link' | 'char' | 'block' | 'fifo';

export interface TarEntry {
  type: TarEntryType;
  /** The path as written in the archive (not normalized). */
  path: string;
  /** Symlink target, or hard-link target path as written in the archive. */
  linkpath: string;
  /** Bytes of file data that follow (only files have data passed on). */
  size: number;
  /** Permission bits including setuid/setgid/sticky (0o7777). */
  mode: number;
  uid: number;
  gid: number;
  /** Seconds since the epoch (PAX may give fractions). */
  mtime: number;
  atime: number | undefined;
  devmajor: number;
  devminor: number;
  /** Extended attributes from PAX SCHILY.xattr.* / LIBARCHIVE.xattr.* records, in archive order. */
  xattrs: [name: string, value: Buffer][];
}

export interface TarHandler {
  entry(e: TarEntry): void;
  /** A piece of the current file entry's data; only called for type 'file'. */
  data(chunk: Buffer): void;
  /** The current entry is complete (called for every entry, right after `entry` when it has no data). */
  entryEnd(): void;
}

export class TarFormatError extends Error {
  constructor(message: string) {
    super(`invalid layer tar: ${message}`);
    this.name = 'TarFormatError';
  }
}

const BLOCK = 512;
/** The largest uid or gid (uid_t is 32 bits). */
const MAX_ID = 0xffffffff;
/** Linux device numbers: 12 bits of major, 20 of minor. */
const MAX_DEV_MAJOR = 0xfff;
const MAX_DEV_MINOR = 0xfffff;

/** Extended attributes by name (a later record for a name replaces the earlier), with their total size. */
interface Xattrs {
  byName: Map<string, Buffer>;
  bytes: number;
}

interface Overrides {
  path?: string;
  linkpath?: string;
  size?: number;
  uid?: number;
  gid?: number;
  mtime?: number;
  atime?: number;
  xattrs?: Xattrs;
}

type State =
  | { kind: 'header' }
  | { kind: 'data'; remain: number; pad: number; deliver: boolean; notify: boolean }
  | { kind: 'meta'; type: string; remain: number; pad: number; parts: Buffer[] }
  | { kind: 'done' };

export class TarReader {
  private state: State = { kind: 'header' };
  private readonly hdr = Buffer.alloc(BLOCK);
  private hdrFill = 0;
  private local: Overrides = {};
  private global: Overrides = {};
  private longName: string | undefined;
  private longLink: string | undefined;
  private entries = 0;

  constructor(
    private readonly handler: TarHandler,
    private readonly limits: Readonly<LayerLimits> = LAYER_LIMITS,
  ) {}

  /** True once the end-of-archive marker was read; later input is ignored. */
  get finished(): boolean {
    return this.state.kind === 'done';
  }

  /**
   * Feeds `chunk`. Returns how many bytes were taken: all of them, unless `deadline` (a
   * performance.now() value) passed, in which case it stops between two entries and the caller
   * feeds the rest later (after letting its event loop run). After the end marker, input is
   * taken and ignored.
   */
  write(chunk: Buffer, deadline = Infinity): number {
    let pos = 0;
    const len = chunk.length;
    while (pos < len) {
      const st = this.state;
      switch (st.kind) {
        case 'done':
          return len;
        case 'header': {
          if (this.hdrFill === 0 && pos > 0 && deadline !== Infinity && performance.now() > deadline) return pos;
          if (this.hdrFill === 0 && len - pos >= BLOCK) {
            this.onHeader(chunk.subarray(pos, pos + BLOCK));
            pos += BLOCK;
          } else {
            const n = Math.min(BLOCK - this.hdrFill, len - pos);
            chunk.copy(this.hdr, this.hdrFill, pos, pos + n);
            this.hdrFill += n;
            pos += n;
            if (this.hdrFill === BLOCK) {
              this.hdrFill = 0;
              this.onHeader(this.hdr);
            }
          }
          break;
        }
        case 'data': {
          pos = this.body(
            st,
            chunk,
            pos,
            (bytes) => st.deliver && this.handler.data(bytes),
            () => st.notify && this.handler.entryEnd(),
          );
          break;
        }
        case 'meta': {
          pos = this.body(
            st,
            chunk,
            pos,
            (bytes) => st.parts.push(Buffer.from(bytes)),
            () => this.onMeta(st.type, Buffer.concat(st.parts)),
          );
          break;
        }
      }
    }
    return len;
  }

  /** The input ended: fine at an entry boundary (a missing end marker is tolerated, as tar does). */
  end(): void {
    const st = this.state;
    if (st.kind === 'done') return;
    if (st.kind !== 'header' || this.hdrFill !== 0) throw new TarFormatError('unexpected end of archive');
    if (this.longName !== undefined || this.longLink !== undefined || Object.keys(this.local).length > 0) {
      throw new TarFormatError('archive ends after an extended header');
    }
    this.state = { kind: 'done' };
  }

  /**
   * Takes an entry's body bytes from `chunk` (handing them to `take`), then its padding to the
   * next block; when both are done, calls `end` and expects a header. Returns the new position.
   */
  private body(st: { remain: number; pad: number }, chunk: Buffer, pos: number, take: (bytes: Buffer) => unknown, end: () => unknown): number {
    const len = chunk.length;
    if (st.remain > 0) {
      const n = Math.min(st.remain, len - pos);
      take(chunk.subarray(pos, pos + n));
      st.remain -= n;
      pos += n;
      if (st.remain > 0) return pos;
    }
    const p = Math.min(st.pad, len - pos);
    st.pad -= p;
    pos += p;
    if (st.pad === 0) {
      this.state = { kind: 'header' };
      end();
    }
    return pos;
  }

  private onHeader(b: Buffer): void {
    if (isZeroBlock(b)) {
      // One zero block ends the archive for us (GNU tar stops there too, with a warning).
      this.state = { kind: 'done' };
      return;
    }
    verifyChecksum(b);
    const typeflag = b[156] === 0 ? '' : String.fromCharCode(b.readUInt8(156));
    const headerSize = num(b, 124, 12, 'size');

    switch (typeflag) {
      case 'x':
      case 'g':
      case 'L':
      case 'K': {
        if (headerSize > this.limits.metaBytes) {
          throw new TarFormatError(`extended header of ${headerSize} bytes is larger than the ${this.limits.metaBytes} allowed`);
        }
        const metaPad = (BLOCK - (headerSize % BLOCK)) % BLOCK;
        if (headerSize === 0) {
          this.onMeta(typeflag, Buffer.alloc(0));
        } else {
          this.state = { kind: 'meta', type: typeflag, remain: headerSize, pad: metaPad, parts: [] };
        }
        return;
      }
    }
    const size = this.local.size ?? headerSize;
    const pad = (BLOCK - (size % BLOCK)) % BLOCK;

    const ustar = b.toString('latin1', 257, 263) === 'ustar\0';
    let name = str(b, 0, 100);
    if (ustar) {
      const prefix = str(b, 345, 155);
      if (prefix) name = `${prefix}/${name}`;
    }
    let type: TarEntryType;
    switch (typeflag) {
      case '':
      case '0':
      case '7':
        // Pre-POSIX archives mark directories only by a trailing slash.
        type = typeflag !== '7' && !ustar && name.endsWith('/') ? 'dir' : 'file';
        break;
      case '1':
        type = 'link';
        break;
      case '2':
        type = 'symlink';
        break;
      case '3':
        type = 'char';
        break;
      case '4':
        type = 'block';
        break;
      case '5':
      case 'D': // GNU dump dir: a directory whose data is a listing we do not need
        type = 'dir';
        break;
      case '6':
        type = 'fifo';
        break;
      case 'V': // GNU volume label: not a file
        this.clearLocal();
        if (size > 0) this.state = { kind: 'data', remain: size, pad, deliver: false, notify: false };
        return;
      default:
        throw new TarFormatError(`unsupported entry type ${quoteUntrusted(typeflag)} (${quoteUntrusted(name)})`);
    }

    if (++this.entries > this.limits.entries) throw new TarFormatError(`more than ${this.limits.entries} entries in one layer`);
    const g = this.global;
    const l = this.local;
    const path = this.longName ?? l.path ?? name;
    const device = type === 'char' || type === 'block';
    const entry: TarEntry = {
      type,
      path,
      linkpath: this.longLink ?? l.linkpath ?? str(b, 157, 100),
      size,
      mode: num(b, 100, 8, 'mode') & 0o7777,
      uid: inRange(l.uid ?? g.uid ?? num(b, 108, 8, 'uid'), MAX_ID, 'uid', path),
      gid: inRange(l.gid ?? g.gid ?? num(b, 116, 8, 'gid'), MAX_ID, 'gid', path),
      mtime: l.mtime ?? g.mtime ?? num(b, 136, 12, 'mtime'),
      atime: l.atime ?? g.atime,
      devmajor: device ? inRange(num(b, 329, 8, 'devmajor'), MAX_DEV_MAJOR, 'device major', path) : 0,
      devminor: device ? inRange(num(b, 337, 8, 'devminor'), MAX_DEV_MINOR, 'device minor', path) : 0,
      xattrs: this.entryXattrs(path),
    };
    this.clearLocal();
    this.handler.entry(entry);
    // Only regular files carry data we use; anything else (a hard link with content) is skipped.
    if (size === 0) this.handler.entryEnd();
    else this.state = { kind: 'data', remain: size, pad, deliver: type === 'file', notify: true };
  }

  /** The global xattrs overridden by the entry's own, within the per-entry bounds. */
  private entryXattrs(path: string): [string, Buffer][] {
    const g = this.global.xattrs;
    const l = this.local.xattrs;
    if (!g) return l ? [...l.byName] : [];
    if (!l) return [...g.byName];
    const merged: Xattrs = { byName: new Map(g.byName), bytes: g.bytes };
    for (const [name, value] of l.byName) putXattr(merged, name, value, this.limits, `entry ${quoteUntrusted(path)}`);
    return [...merged.byName];
  }

  private clearLocal(): void {
    this.local = {};
    this.longName = undefined;
    this.longLink = undefined;
  }

  private onMeta(type: string, body: Buffer): void {
    switch (type) {
      case 'L':
        this.longName = cstr(body, this.limits.pathBytes, 'long name');
        break;
      case 'K':
        this.longLink = cstr(body, this.limits.pathBytes, 'long link name');
        break;
      case 'x':
        parsePax(body, this.local, false, this.limits);
        break;
      case 'g':
        parsePax(body, this.global, true, this.limits);
        break;
    }
  }
}

function isZeroBlock(b: Buffer): boolean {
  for (let i = 0; i < BLOCK; i += 8) {
    if (b.readBigUInt64LE(i) !== 0n) return false;
  }
  return true;
}

function verifyChecksum(b: Buffer): void {
  const want = num(b, 148, 8, 'checksum');
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const v = i >= 148 && i < 156 ? 0x20 : b[i]!; // i < BLOCK = b.length
    unsigned += v;
    signed += v > 127 ? v - 256 : v;
  }
  if (want !== unsigned && want !== signed) throw new TarFormatError('header checksum mismatch');
}

/** A NUL-terminated header string field. */
function str(b: Buffer, off: number, len: number): string {
  let end = off;
  const max = off + len;
  while (end < max && b[end] !== 0) end++;
  // Names are bytes; layers in practice use UTF-8 (PAX requires it). Invalid sequences become U+FFFD.
  return b.toString('utf8', off, end);
}

/** A NUL-terminated (or not) name from a GNU long-name body, at most `limit` bytes. */
function cstr(body: Buffer, limit: number, what: string): string {
  const nul = body.indexOf(0);
  const end = nul < 0 ? body.length : nul;
  if (end > limit) throw new TarFormatError(`${what} of ${end} bytes is longer than the ${limit} allowed`);
  return body.toString('utf8', 0, end);
}

function inRange(v: number, max: number, what: string, path: string): number {
  if (v > max) throw new TarFormatError(`${what} ${v} of ${quoteUntrusted(path)} is out of range`);
  return v;
}

/** Sets one xattr in `into`, replacing one of the same name; refuses what crosses the per-entry bounds. */
function putXattr(into: Xattrs, name: string, value: Buffer, limits: Readonly<LayerLimits>, where: string): void {
  if (value.length > limits.xattrValueBytes) {
    throw new TarFormatError(
      `extended attribute ${quoteUntrusted(name)} of ${where} has a value of ${value.length} bytes, more than the ${limits.xattrValueBytes} allowed`,
    );
  }
  const old = into.byName.get(name);
  const bytes = into.bytes - (old ? name.length + old.length : 0) + name.length + value.length;
  into.byName.set(name, value);
  into.bytes = bytes;
  if (into.byName.size > limits.xattrsPerEntry) {
    throw new TarFormatError(`${where} has more than ${limits.xattrsPerEntry} extended attributes`);
  }
  if (bytes > limits.xattrBytesPerEntry) {
    throw new TarFormatError(`${where} has extended attributes of more than ${limits.xattrBytesPerEntry} bytes`);
  }
}

/** A numeric header field: octal text, or GNU base-256 when the high bit of the first byte is set. */
function num(b: Buffer, off: number, len: number, what: string): number {
  const first = b.readUInt8(off);
  if (first & 0x80) {
    if (first === 0xff) throw new TarFormatError(`negative ${what}`);
    let v = first & 0x7f;
    for (let i = 1; i < len; i++) {
      v = v * 256 + b.readUInt8(off + i);
      if (v > Number.MAX_SAFE_INTEGER) throw new TarFormatError(`${what} out of range`);
    }
    return v;
  }
  let i = off;
  const end = off + len;
  while (i < end && (b[i] === 0x20 || b[i] === 0)) i++;
  let v = 0;
  for (; i < end; i++) {
    const c = b.readUInt8(i);
    if (c < 0x30 || c > 0x37) break;
    v = v * 8 + (c - 0x30);
  }
  for (; i < end; i++) {
    const c = b.readUInt8(i);
    if (c !== 0x20 && c !== 0) throw new TarFormatError(`bad ${what} field`);
  }
  return v;
}

/** Parses PAX records ("LEN KEY=VALUE\n", LEN counting the whole record) into `into`. */
function parsePax(body: Buffer, into: Overrides, global: boolean, limits: Readonly<LayerLimits>): void {
  let pos = 0;
  while (pos < body.length) {
    if (body[pos] === 0) break; // some writers pad with NULs
    const sp = body.indexOf(0x20, pos);
    if (sp < 0) throw new TarFormatError('bad PAX record');
    // LEN is decimal digits (Number() would also take "0x1a" or "1e2") and counts the whole record,
    // which ends with a newline inside the body: 0 would point back at the record before.
    const digits = body.toString('latin1', pos, sp);
    const len = /^\d{1,9}$/.test(digits) ? Number(digits) : 0;
    if (len <= sp - pos || body[pos + len - 1] !== 0x0a) throw new TarFormatError('bad PAX record length');
    const eq = body.indexOf(0x3d, sp + 1);
    if (eq < 0 || eq >= pos + len - 1) throw new TarFormatError('bad PAX record');
    const key = body.toString('utf8', sp + 1, eq);
    const raw = body.subarray(eq + 1, pos + len - 1);
    pos += len;
    applyPax(key, raw, into, global, limits);
  }
}

function applyPax(key: string, raw: Buffer, into: Overrides, global: boolean, limits: Readonly<LayerLimits>): void {
  const text = (): string => raw.toString('utf8');
  const pathText = (): string => {
    if (raw.length > limits.pathBytes) throw new TarFormatError(`PAX ${key} of ${raw.length} bytes is longer than the ${limits.pathBytes} allowed`);
    if (raw.includes(0)) throw new TarFormatError(`PAX ${key} holds a NUL byte`);
    return text();
  };
  const int = (): number => {
    const t = text();
    if (!/^\d+$/.test(t)) throw new TarFormatError(`bad PAX ${quoteUntrusted(key)}=${quoteUntrusted(t)}`);
    const v = Number(t);
    if (!Number.isSafeInteger(v)) throw new TarFormatError(`PAX ${quoteUntrusted(key)} out of range`);
    return v;
  };
  const time = (): number => {
    const t = text();
    if (!/^-?\d+(\.\d+)?$/.test(t)) throw new TarFormatError(`bad PAX ${quoteUntrusted(key)}=${quoteUntrusted(t)}`);
    const v = Number(t);
    if (!(Math.abs(v) <= Number.MAX_SAFE_INTEGER)) throw new TarFormatError(`PAX ${quoteUntrusted(key)} out of range`);
    return v;
  };
  // An empty value removes the field (PAX semantics); we simply do not set it.
  if (raw.length === 0 && !key.startsWith('SCHILY.xattr.')) return;
  switch (key) {
    case 'path':
      if (!global) into.path = pathText();
      return;
    case 'linkpath':
      if (!global) into.linkpath = pathText();
      return;
    case 'size':
      if (!global) into.size = int();
      return;
    case 'uid':
      into.uid = int();
      return;
    case 'gid':
      into.gid = int();
      return;
    case 'mtime':
      into.mtime = time();
      return;
    case 'atime':
      into.atime = time();
      return;
  }
  const where = global ? 'the global header' : 'an entry';
  if (key.startsWith('SCHILY.xattr.')) {
    putXattr((into.xattrs ??= { byName: new Map(), bytes: 0 }), key.slice('SCHILY.xattr.'.length), Buffer.from(raw), limits, where);
  } else if (key.startsWith('LIBARCHIVE.xattr.')) {
    // bsdtar: the name is URL-encoded, the value base64.
    let name: string;
    try {
      name = decodeURIComponent(key.slice('LIBARCHIVE.xattr.'.length));
    } catch {
      return;
    }
    putXattr((into.xattrs ??= { byName: new Map(), bytes: 0 }), name, Buffer.from(text(), 'base64'), limits, where);
  } else if (key.startsWith('GNU.sparse.')) {
    throw new TarFormatError('sparse files are not supported');
  }
  // Everything else (uname, gname, ctime, charset, comment, SCHILY.dev/ino/nlink, ...) is not needed.
}
