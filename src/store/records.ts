import fs from 'node:fs/promises';
import path from 'node:path';
import { isErrno, readJson, writeFileAtomic } from '../util/fsx.js';
import { log } from '../util/log.js';

/** Durable JSON records, one file per id; each write is atomic and fsynced. */
export class RecordStore<T> {
  constructor(readonly dir: string) {}

  async open(): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
  }

  private file(id: string): string {
    return path.join(this.dir, `${id}.json`);
  }

  put(id: string, record: T): Promise<void> {
    return writeFileAtomic(this.file(id), JSON.stringify(record, null, 1), 0o600);
  }

  async remove(id: string): Promise<void> {
    try {
      await fs.unlink(this.file(id));
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
    }
  }

  /** Every readable record; an unreadable one is logged and left on disk for a human. */
  async loadAll(): Promise<T[]> {
    const out: T[] = [];
    for (const f of await fs.readdir(this.dir)) {
      if (!f.endsWith('.json') || f.startsWith('.')) continue;
      try {
        out.push(await readJson<T>(path.join(this.dir, f)));
      } catch (err) {
        log.error('unreadable record left in place', { file: path.join(this.dir, f), error: (err as Error).message });
      }
    }
    return out;
  }
}
