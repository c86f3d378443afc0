// A pod's hosts file on disk: made whole before its containers start (they bind-mount it read-only
// as /etc/hosts), then changed only by the in-place writes hosts-slots.ts plans, so what the
// containers read is always whole lines (see there why). A supervisor taking a pod over reads the
// file back (open) rather than making it.
import { constants } from 'node:fs';
import fsp from 'node:fs/promises';
import { HostsSlots, type HostsWrite } from './hosts-slots.js';
import { MAX_ENDPOINTS, MAX_LINE } from './service-hosts.js';

/**
 * The most a pod's hosts file is read back: its header, and slots for every Service's endpoints at
 * their longest line, twice over (freed slots are reused by size, so the file outgrows what it
 * shows by at most that much). A larger file is not one crib wrote: it is rewritten.
 */
export const maxHostsFileSize = (headerSize: number, services: number): number => headerSize + 2 * Math.max(1, services) * MAX_ENDPOINTS * (MAX_LINE + 1);

export class PodHostsFile {
  private constructor(
    readonly path: string,
    private readonly slots: HostsSlots,
  ) {}

  /** Makes the file (it must not exist: O_EXCL, and no symlink followed) with its header and `lines`. */
  static async create(path: string, header: string, lines: Iterable<string>, now: number): Promise<PodHostsFile> {
    const fh = await fsp.open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
    try {
      await fh.write(header, 0, 'ascii');
    } finally {
      await fh.close();
    }
    const file = new PodHostsFile(path, new HostsSlots(Buffer.byteLength(header, 'ascii')));
    await file.apply([], lines, now);
    return file;
  }

  /**
   * The file an earlier process made for the pod, taken over: its slots read back, and `lines`
   * shown in it (what it shows besides, hidden). A file that is not `header` and slots, or larger
   * than `maxSize`, is written again whole, in place (its inode is what the containers mount).
   */
  static async open(path: string, header: string, lines: Iterable<string>, maxSize: number, now: number): Promise<PodHostsFile> {
    const headerSize = Buffer.byteLength(header, 'ascii');
    const fh = await fsp.open(path, constants.O_RDWR | constants.O_NOFOLLOW);
    let slots: HostsSlots | undefined;
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw new Error(`${path} is no regular file`);
      if (st.size <= maxSize) {
        const buf = Buffer.alloc(st.size);
        const { bytesRead } = await fh.read(buf, 0, st.size, 0);
        const text = buf.subarray(0, bytesRead).toString('latin1');
        if (text.startsWith(header)) slots = HostsSlots.parse(headerSize, text.slice(headerSize), now);
      }
      if (!slots) {
        await fh.write(header, 0, 'ascii');
        await fh.truncate(headerSize);
        slots = new HostsSlots(headerSize);
      }
    } finally {
      await fh.close();
    }
    const want = new Set(lines);
    const file = new PodHostsFile(path, slots);
    await file.apply(
      [...slots.lines()].filter((l) => !want.has(l)),
      want,
      now,
    );
    return file;
  }

  /** Hides `removed` and shows `added`; a file gone with its pod is left gone. */
  async apply(removed: Iterable<string>, added: Iterable<string>, now: number): Promise<void> {
    const writes: HostsWrite[] = this.slots.apply(removed, added, now);
    if (!writes.length) return;
    const fh = await fsp.open(this.path, constants.O_WRONLY | constants.O_NOFOLLOW).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    if (!fh) return;
    try {
      // In order, one write each: a slot's first byte is written only after the rest of it.
      for (const w of writes) await fh.write(w.data, w.offset, 'ascii');
    } finally {
      await fh.close();
    }
  }
}
