// Every use of runc's private state files, in one place: its `start` (the exec fifo handshake) and
// its `delete` of an exited container (cgroups, then the state dir), done by cribd to save a runc
// process each. Both read libcontainer's undocumented layout, which a runc upgrade may change
// without notice, so they are used only for the runc versions they were proven on (the installed
// one is pinned by test/runc-shortcuts.test.ts); any other runtime or version runs `runc start` and
// `runc delete` itself.
import fs from 'node:fs/promises';
import path from 'node:path';
import { run } from '../util/exec.js';
import { exists, isErrno } from '../util/fsx.js';
import { log } from '../util/log.js';
import { isAlive } from '../host/process.js';

/**
 * runc versions whose state dir these shortcuts were proven against, by test/runc-shortcuts.test.ts
 * (each shortcut and `runc start`/`runc delete` leave the same state). The version core only: a
 * distribution's build suffix (Debian's `+ds1`) repackages the same source.
 */
export const PROVEN_RUNC_VERSIONS: readonly string[] = ['1.1.5'];

/** The version core of `runc --version`'s first line ("runc version 1.1.5+ds1" gives 1.1.5); undefined for anything else. */
export function parseRuncVersion(text: string): string | undefined {
  return /^runc version (\d+\.\d+\.\d+)(?:[-+~][^\s]*)?\s*$/m.exec(text.split('\n')[0] ?? '')?.[1];
}

/** What cribd may do in place of runc's own start and delete, for one runc's state root. */
export interface RuncShortcuts {
  /** runc start's handshake; false when it could not be done (no fifo, init never wrote): run `runc start`. */
  start(id: string): Promise<boolean>;
  /** runc delete of an exited container; false when there is more to do: run `runc delete`. */
  deleteExited(id: string): Promise<boolean>;
}

/**
 * The shortcuts for the runtime at `runtimePath`, if it says it is a runc of a proven version;
 * undefined otherwise (crun, another runc, a runtime that does not answer). Read once per runtime,
 * when cribd starts.
 */
export async function runcShortcuts(runtimePath: string, stateRoot: string): Promise<RuncShortcuts | undefined> {
  let version: string | undefined;
  try {
    version = parseRuncVersion((await run(runtimePath, ['--version'], { timeoutMs: 30_000, maxOutputBytes: 4096 })).stdout);
  } catch (err) {
    log.debug('the runtime does not say its version: runc start and delete run as they are', { runtime: runtimePath, error: err });
    return undefined;
  }
  if (!version || !PROVEN_RUNC_VERSIONS.includes(version)) {
    if (version) log.info('runc version not among those crib was proven on: runc start and delete run as they are', { runtime: runtimePath, version });
    return undefined;
  }
  return {
    start: (id) => openExecFifo(path.join(stateRoot, id, EXEC_FIFO)),
    deleteExited: (id) => deleteExited(path.join(stateRoot, id)),
  };
}

/** runc's fifo in a container's state dir while it is created and not yet started (libcontainer's execFifoFilename). */
const EXEC_FIFO = 'exec.fifo';
/** How long init may take to reach the fifo before `runc start` is left to find out why. */
const EXEC_FIFO_WAIT_MS = 2000;

/**
 * runc start's handshake (libcontainer linuxContainer.exec): read init's byte from the fifo, wait
 * for the end (init's exec closes its end), remove the fifo. Non-blocking, so a dead init cannot
 * hang a thread; false when there is no fifo or init did not write within the wait.
 */
async function openExecFifo(fifo: string): Promise<boolean> {
  let fh: fs.FileHandle;
  try {
    fh = await fs.open(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return false;
    throw err;
  }
  const buf = Buffer.alloc(16);
  let got = 0;
  try {
    for (const deadline = Date.now() + EXEC_FIFO_WAIT_MS; ;) {
      let n = -1;
      try {
        n = (await fh.read(buf, 0, buf.length, null)).bytesRead;
      } catch (err) {
        if (!isErrno(err, 'EAGAIN')) throw err;
      }
      if (n > 0) got += n;
      // The end after init's byte: it has exec'd (or died, which the monitor records as for any exit).
      else if (n === 0 && got > 0) break;
      else if (got === 0 && Date.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, 1));
    }
  } finally {
    await fh.close();
  }
  await fs.rm(fifo, { force: true });
  return true;
}

/** What `deleteExited` reads of runc's state.json (libcontainer's State). */
interface RuncStateFile {
  init_process_pid?: number;
  init_process_start?: number;
  cgroup_paths?: Record<string, string>;
  intel_rdt_path?: string;
  config?: { Hooks?: Record<string, unknown[] | null>; cgroups?: { Systemd?: boolean } };
}

/**
 * runc delete of a container whose init has exited (libcontainer's destroy): its cgroups removed,
 * then its state dir. Only when nothing else is to be done: init gone, no hooks to run, no Intel RDT
 * group, no systemd unit, and every cgroup empty (rmdir fails on one that holds a process, which
 * runc would kill first, or a child cgroup). Else false, and `runc delete` runs. True with no state
 * dir: nothing to delete.
 */
export async function deleteExited(stateDir: string): Promise<boolean> {
  let st: RuncStateFile;
  try {
    st = JSON.parse(await fs.readFile(path.join(stateDir, 'state.json'), 'utf8')) as RuncStateFile;
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return !(await exists(stateDir));
    return false;
  }
  const hooks = Object.values(st.config?.Hooks ?? {}).some((h) => (h?.length ?? 0) > 0);
  if (hooks || st.intel_rdt_path || st.config?.cgroups?.Systemd || !st.init_process_pid) return false;
  if (isAlive(st.init_process_pid, String(st.init_process_start))) return false;
  for (const dir of Object.values(st.cgroup_paths ?? {})) {
    try {
      await fs.rmdir(dir);
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) return false;
    }
  }
  await fs.rm(stateDir, { recursive: true, force: true });
  return true;
}
