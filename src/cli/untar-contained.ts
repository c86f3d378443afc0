// Unpacking the tar stream `crib cp POD:SRC DEST` reads from `tar cf - SRC` run in the container.
// Whoever controls the container writes that stream, so it is taken as hostile: every entry must be
// SRC or lie below it (no absolute name, no `..`), lands at DEST or below it, is never written
// through a symlink (one the archive made, or one already under DEST), and the entries and bytes
// are bounded. As kubectl cp, symlinks are skipped with a warning, as are hard links and devices;
// permission bits are kept without setuid, setgid and sticky. The handler is synchronous (the tar
// reader calls it as it parses a chunk), so a chunk is on disk before the next one is read.
import fs from 'node:fs';
import path from 'node:path';
import { TarFormatError, TarReader, type TarEntry, type TarHandler } from '../image/layer/tar-reader.js';
import { LAYER_LIMITS } from '../image/limits.js';
import { CliError } from '../client/errors.js';

export interface UntarBounds {
  /** Entries in the stream (files, directories, links, devices). */
  entries: number;
  /** Bytes of file data in the stream. */
  bytes: number;
}

/** `tar cf - SRC`'s member name for SRC: tar drops the leading `/`; `.` and `..` as the path means them. Pure. */
export function memberPrefix(src: string): string {
  const p = path.posix.normalize(src).replace(/^\/+/, '').replace(/\/+$/, '');
  // `..` above the container's root is the root again, as the kernel resolves it
  return p
    .split('/')
    .filter((c) => c !== '..' && c !== '')
    .join('/');
}

/**
 * Where an entry named `name` goes, as path components below DEST ([] for DEST itself), or a
 * reason it is refused. Pure.
 */
export function entryTarget(name: string, prefix: string): string[] | { refused: string } {
  if (name.startsWith('/')) return { refused: 'an absolute name' };
  const parts = name.split('/').filter((c) => c !== '' && c !== '.');
  if (parts.includes('..')) return { refused: 'a ".." component' };
  const pre = prefix.split('/').filter((c) => c !== '' && c !== '.');
  if (pre.some((c, i) => parts[i] !== c)) return { refused: `not below ${prefix || '.'}, the path asked for` };
  return parts.slice(pre.length);
}

const quote = (s: string) => JSON.stringify(s.length > 200 ? `${s.slice(0, 200)}…` : s);

class ContainedWriter implements TarHandler {
  entries = 0;
  bytes = 0;
  private fd: number | undefined;
  private readonly made = new Set<string>();

  constructor(
    private readonly dest: string,
    private readonly prefix: string,
    private readonly bounds: UntarBounds,
    private readonly warn: (line: string) => void,
  ) {}

  entry(e: TarEntry): void {
    if (++this.entries > this.bounds.entries) throw new CliError(`the archive from the container has more than ${this.bounds.entries} entries: stopped`);
    const where = entryTarget(e.path, this.prefix);
    if (!Array.isArray(where)) throw new CliError(`the archive from the container names ${quote(e.path)}, ${where.refused}: refused (nothing more is written)`);
    const target = path.join(this.dest, ...where);
    if (e.type === 'symlink') return this.warn(`warning: skipping symlink: ${quote(target)} -> ${quote(e.linkpath)}`);
    if (e.type !== 'file' && e.type !== 'dir') return this.warn(`warning: skipping ${e.type === 'link' ? 'hard link' : e.type} ${quote(target)}`);
    this.parents(where);
    const mode = e.mode & 0o777;
    if (e.type === 'dir') return this.dir(target, mode | 0o700);
    this.bytes += e.size;
    if (this.bytes > this.bounds.bytes)
      throw new CliError(`the archive from the container holds more than ${this.bounds.bytes} bytes, more than DEST's filesystem has free: stopped`);
    try {
      // O_NOFOLLOW: a symlink already at the name is refused, never written through
      this.fd = fs.openSync(target, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC | fs.constants.O_NOFOLLOW, mode | 0o600);
    } catch (err) {
      throw this.fsError(err, target);
    }
  }

  data(chunk: Buffer): void {
    for (let off = 0; off < chunk.length;) off += fs.writeSync(this.fd as number, chunk, off);
  }

  entryEnd(): void {
    if (this.fd === undefined) return;
    fs.closeSync(this.fd);
    this.fd = undefined;
  }

  close(): void {
    this.entryEnd();
  }

  /**
   * DEST and the directories it is in are the user's and made as mkdir -p makes them (as kubectl
   * does); every directory between DEST and the entry must be a real directory (made when missing),
   * never a symlink.
   */
  private parents(where: readonly string[]): void {
    if (!this.made.has(this.dest)) {
      fs.mkdirSync(where.length ? this.dest : path.dirname(this.dest), { recursive: true });
      if (where.length) this.made.add(this.dest);
    }
    let p = this.dest;
    for (const c of where.slice(0, -1)) {
      p = path.join(p, c);
      if (this.made.has(p)) continue;
      this.dir(p, 0o755);
    }
  }

  private dir(p: string, mode: number): void {
    try {
      const st = fs.lstatSync(p, { throwIfNoEntry: false });
      if (!st) fs.mkdirSync(p, { mode });
      else if (st.isSymbolicLink()) throw new CliError(`${quote(p)} is a symlink: crib cp writes nothing through one`);
      else if (!st.isDirectory()) throw new CliError(`${quote(p)} is in the way: not a directory`);
    } catch (err) {
      throw this.fsError(err, p);
    }
    this.made.add(p);
  }

  private fsError(err: unknown, p: string): Error {
    if (err instanceof CliError) return err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') return new CliError(`${quote(p)} is a symlink: crib cp writes nothing through one`);
    return new CliError(`cannot write ${quote(p)}: ${(err as Error).message}`);
  }
}

/** Free bytes of the filesystem DEST (or the directory it will be made in) is on. */
export function freeBytes(dest: string): number {
  let dir = path.resolve(dest);
  while (!fs.existsSync(dir) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  const s = fs.statfsSync(dir);
  return s.bavail * s.bsize;
}

/**
 * A sink for the tar stream: `write` each chunk as it comes, `end` when it is over. Entries of SRC (by `prefix`) land at DEST and below.
 */
export function containedUntar(dest: string, prefix: string, warn: (line: string) => void, bounds?: Partial<UntarBounds>) {
  const writer = new ContainedWriter(dest, prefix, { entries: LAYER_LIMITS.entries, bytes: freeBytes(dest), ...bounds }, warn);
  const reader = new TarReader(writer);
  const fail = (err: unknown): never => {
    writer.close();
    if (err instanceof TarFormatError)
      throw new CliError(`the archive from the container is not a valid tar: ${err.message.replace(/^invalid layer tar: /, '')}`);
    throw err;
  };
  return {
    write(chunk: Buffer): void {
      try {
        reader.write(chunk);
      } catch (err) {
        fail(err);
      }
    },
    /** The stream is over; whether the archive came to its end marker. */
    end(): boolean {
      writer.close();
      return reader.finished;
    },
  };
}
