// A pod's hosts file on disk: made whole before its containers start (they bind-mount it read-only
// as /etc/hosts), then changed only by the in-place writes hosts-slots.ts plans, so what the
// containers read is always whole lines (see there why).
import { constants } from 'node:fs';
import fsp from 'node:fs/promises';
import { HostsSlots, type HostsWrite } from './hosts-slots.js';

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
