// The order in which a pod's processes ended, seen from outside crib: conmon writes an exit file
// (STATE/exits/ID, pause's under the sandbox id) the moment the process it monitors ends. inotify
// reports events in the order they happened, so the order in which the names first appear is the
// order of the exits, even when RemovePodSandbox deletes the files right afterwards (no stat needed).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { waitFor } from './wait-for.js';

export interface ExitWatch {
  /** Every id whose exit file appeared, with its place in the order of exits. */
  readonly order: ReadonlyMap<string, number>;
  /** Stops watching (again is harmless). */
  close(): void;
}

export function watchExits(state: string): ExitWatch {
  const dir = path.join(state, 'exits');
  const order = new Map<string, number>();
  // The first event for a name is its creation (conmon's rename into place); later ones, its removal.
  const note = (name: string) => void (order.has(name) || order.set(name, order.size));
  const watcher = fs.watch(dir, (_event, name) => name && note(name));
  for (const name of fs.readdirSync(dir)) note(name);
  return { order, close: () => watcher.close() };
}

/**
 * Asserts that pause (the sandbox id) ended after every container, once the watch has seen all
 * their exits (its events may come in after whatever ended the pod); closes the watch.
 */
export async function assertPauseLast(watch: ExitWatch, sandboxId: string, containerIds: string[]): Promise<void> {
  const seen = () => JSON.stringify([...watch.order]);
  try {
    await waitFor(
      () => [sandboxId, ...containerIds].every((id) => watch.order.has(id)),
      () => `the exits of pause and every container, seen: ${seen()}`,
      10_000,
    );
  } finally {
    watch.close();
  }
  const pause = watch.order.get(sandboxId) ?? -1;
  for (const id of containerIds) {
    const ended = watch.order.get(id) ?? Infinity;
    assert.ok(ended < pause, `container ${id} ends before pause (it was exit #${ended}, pause #${pause}): ${seen()}`);
  }
}
