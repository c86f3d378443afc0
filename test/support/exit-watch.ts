// The order in which a pod's processes ended, seen from outside crib: conmon writes an exit file
// (STATE/exits/ID, pause's under the sandbox id) the moment the process it monitors ends. Watching
// that directory keeps each file's time even when RemovePodSandbox deletes the files afterwards.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

export interface ExitWatch {
  /** Stops watching; the exit time (mtime, ns) of every id whose exit file appeared. */
  stop(): Map<string, bigint>;
}

export function watchExits(state: string): ExitWatch {
  const dir = path.join(state, 'exits');
  const seen = new Map<string, bigint>();
  const note = (name: string) => {
    if (name.startsWith('.')) return;
    try {
      seen.set(name, fs.statSync(path.join(dir, name), { bigint: true }).mtimeNs);
    } catch {
      /* renamed or removed since: the time already noted (if any) stays */
    }
  };
  const watcher = fs.watch(dir, (_event, name) => name && note(name));
  for (const name of fs.readdirSync(dir)) note(name);
  return {
    stop() {
      watcher.close();
      return seen;
    },
  };
}

/** Asserts from the watched exits that pause (the sandbox id) ended after every container. */
export function assertPauseLast(exits: Map<string, bigint>, sandboxId: string, containerIds: string[]): void {
  const pause = exits.get(sandboxId);
  assert.ok(pause !== undefined, "pause's exit was seen");
  for (const id of containerIds) {
    const ended = exits.get(id);
    assert.ok(ended !== undefined, `the exit of container ${id} was seen`);
    assert.ok(ended <= pause, `container ${id} ended before pause (${ended} <= ${pause})`);
  }
}
