// Reading a container's CRI log file as it grows, across rotations, as kubelet's ReadLogs follows
// one: kubelet (or crib run) renames the file and asks the runtime to reopen it (ReopenContainerLog),
// so a new file appears under the name while the old one may still hold lines not read yet. The old
// file stays open here until the name holds another file; it is then read to its end before the new
// one is read from its start, so no line is lost or printed twice.
import fsp from 'node:fs/promises';

/** The most one read hands back: a log that grows faster than it is printed is not held in memory. */
const READ_CHUNK = 1024 * 1024;

const isMissing = (err: unknown) => (err as NodeJS.ErrnoException).code === 'ENOENT';

export class LogTail {
  private fh: fsp.FileHandle | undefined;
  private ino = 0;
  private pos = 0;
  /** True when the last read stopped at READ_CHUNK with more to read. */
  more = false;

  constructor(readonly file: string) {}

  /**
   * What was written since the last read: the rest of a file rotated away, then the new file's
   * start. At most READ_CHUNK bytes (`more` says whether there is more), or with `whole` all of it
   * (the first read of --tail N, which must see the end). Empty while the file does not exist yet.
   */
  async read(whole = false): Promise<Buffer> {
    const out: Buffer[] = [];
    let budget = whole ? Infinity : READ_CHUNK;
    this.more = false;
    // At most two files per read: the one rotated away and the one under the name now.
    for (let files = 0; files < 2 && budget > 0; files++) {
      if (!this.fh && !(await this.open())) break;
      // Asked before the drain: once the name holds a new file, nothing more is written to the open
      // one, so this drain reads it to its true end. Asked after, lines written between the drain
      // and the rotation would be lost with the closed file.
      const rotated = await this.rotated();
      const got = await this.drain(budget);
      out.push(got);
      budget -= got.length;
      if (budget <= 0) {
        this.more = true;
        break;
      }
      if (!rotated) break;
      await this.close();
    }
    return Buffer.concat(out);
  }

  async close(): Promise<void> {
    const fh = this.fh;
    this.fh = undefined;
    await fh?.close();
  }

  private async open(): Promise<boolean> {
    try {
      this.fh = await fsp.open(this.file, 'r');
    } catch (err) {
      if (isMissing(err)) return false;
      throw err;
    }
    this.ino = (await this.fh.stat()).ino;
    this.pos = 0;
    return true;
  }

  /** Whether the name holds another file than the one open (a new one after a rotation). */
  private async rotated(): Promise<boolean> {
    try {
      return (await fsp.stat(this.file)).ino !== this.ino;
    } catch (err) {
      if (isMissing(err)) return false; // renamed, not reopened yet: the old file is still the one written
      throw err;
    }
  }

  /** Up to `budget` bytes of the open file past our position. */
  private async drain(budget: number): Promise<Buffer> {
    const fh = this.fh as fsp.FileHandle;
    const { size } = await fh.stat();
    if (size < this.pos) this.pos = 0; // truncated in place
    const want = Math.min(size - this.pos, budget);
    if (want <= 0) return Buffer.alloc(0);
    const buf = Buffer.alloc(want);
    let got = 0;
    while (got < want) {
      const { bytesRead } = await fh.read(buf, got, want - got, this.pos + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    this.pos += got;
    return buf.subarray(0, got);
  }
}
