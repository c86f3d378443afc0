import { existsSync, readdirSync, watch as fsWatch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import { log } from '../util/log.js';

/**
 * Which ids have an exit file in a monitor's exit dir (conmon writes one per exit: `.ID`, renamed
 * to `ID`), kept in memory by one inotify watch of the dir: the status and list calls ask about
 * every pod and container each second (kubelet's relist), and a Set answers without a syscall.
 * Started on first use, the dir listed once the watch is set so that no file is missed between the
 * two. Should the watch fail (the dir gone), every answer is the file system's again.
 */
export class ExitFiles {
  private readonly ids = new Set<string>();
  private readonly listeners = new Set<(id: string) => void>();
  private watcher: FSWatcher | undefined;
  private broken = false;

  constructor(readonly dir: string) {}

  /** True once the exit of `id` has been recorded. */
  has(id: string): boolean {
    if (!this.watching()) return existsSync(path.join(this.dir, id));
    return this.ids.has(id);
  }

  /** Calls `onExit(id)` for each exit file that arrives from now until the returned function is called. */
  subscribe(onExit: (id: string) => void): () => void {
    this.watching();
    this.listeners.add(onExit);
    return () => this.listeners.delete(onExit);
  }

  /** The exit file of `id` was removed (the container or pod is gone). */
  forget(id: string): void {
    this.ids.delete(id);
  }

  private watching(): boolean {
    if (this.watcher) return true;
    if (this.broken) return false;
    try {
      this.watcher = fsWatch(this.dir, (_event, file) => {
        if (file && !file.startsWith('.')) this.changed(file);
      });
      // Daemon-long, and no reason on its own to keep the process up.
      this.watcher.unref();
      this.watcher.on('error', (err) => this.stop(err));
      for (const name of readdirSync(this.dir)) if (!name.startsWith('.')) this.ids.add(name);
      return true;
    } catch (err) {
      this.stop(err);
      return false;
    }
  }

  /** A name came or went: inotify says `rename` for both, the file system says which. */
  private changed(id: string): void {
    if (!existsSync(path.join(this.dir, id))) {
      this.ids.delete(id);
      return;
    }
    if (this.ids.has(id)) return;
    this.ids.add(id);
    for (const fn of this.listeners) fn(id);
  }

  private stop(err: unknown): void {
    log.warn('watching the exit dir failed: exits are looked up in it one by one', { dir: this.dir, error: err });
    this.watcher?.close();
    this.watcher = undefined;
    this.broken = true;
    this.ids.clear();
  }
}

const byDir = new Map<string, ExitFiles>();

/** The one index of an exit dir (runtime handlers under the same monitor share theirs). */
export function exitFilesOf(dir: string): ExitFiles {
  let e = byDir.get(dir);
  if (!e) byDir.set(dir, (e = new ExitFiles(dir)));
  return e;
}
