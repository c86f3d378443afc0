import fs from 'node:fs/promises';
import path from 'node:path';
import { CommandError, run, runCapture } from '../util/exec.js';
import { exists, isErrno } from '../util/fsx.js';
import { MAX_FEATURES_BYTES } from './features.js';
import { isAlive } from '../host/process.js';
import type { OciCpu, OciMemory } from './spec-types.js';

export interface RuntimeState {
  /** creating, created, running, stopped or paused (runtimes may add others). */
  status: string;
  pid: number;
}

/**
 * The command line of a runc-compatible OCI runtime (runc, crun), with a state root of its own so
 * two daemons never see each other's containers. Only `ConmonRuntime` uses it.
 */
export class RuncCli {
  constructor(
    readonly name: string,
    readonly path: string,
    readonly stateRoot: string,
  ) {}

  /**
   * The runtime is runc, whose state dir cribd knows (libcontainer's exec fifo and state.json): it
   * may do runc's start and delete itself. Other runtimes always run their own.
   */
  private get knownState(): boolean {
    return path.basename(this.path) === 'runc';
  }

  /** The runtime's features document (`runc features`), its text. */
  async features(): Promise<string> {
    return (await run(this.path, ['features'], { timeoutMs: 30_000, maxOutputBytes: MAX_FEATURES_BYTES + 1 })).stdout;
  }

  /** The arguments that go before every subcommand (conmon passes them on as --runtime-arg). */
  get globalArgs(): string[] {
    return [`--root=${this.stateRoot}`];
  }

  private exec(args: string[], timeoutMs = 30_000) {
    return run(this.path, [...this.globalArgs, ...args], { timeoutMs });
  }

  /**
   * Starts a created container. runc's `start` only opens the container's exec fifo, reads the byte
   * its init writes there before it execs the process, and removes the fifo; cribd does the same
   * and saves a runc process (tens of ms on a small node). Without a fifo, or if init never writes
   * to it, `runc start` itself runs and reports what is wrong. Other runtimes (crun) always run
   * their own start: their handshake is theirs.
   */
  async start(id: string): Promise<void> {
    if (this.knownState && (await openExecFifo(path.join(this.stateRoot, id, EXEC_FIFO)))) return;
    await this.exec(['start', id]);
  }

  /**
   * `exec`'s arguments (after the runtime's path, with `global` flags of the caller's): a process of
   * `processSpec` (an OCI process, JSON) in the running container, its host pid written to
   * `pidFile`. In the foreground the runtime exits with the command's status (a signal as 128+n);
   * with `detach` it exits once the command runs, which keeps the runtime's stdio as its own.
   */
  execArgs(id: string, o: { processSpec: string; pidFile: string; tty: boolean; detach?: boolean }): string[] {
    return [
      ...this.globalArgs,
      'exec',
      ...(o.detach ? ['--detach'] : []),
      ...(o.tty ? ['--tty'] : []),
      '--process',
      o.processSpec,
      '--pid-file',
      o.pidFile,
      id,
    ];
  }

  /** Sends a signal (to every process of the container with `all`); one that is gone is not an error. */
  async kill(id: string, signal: string, all = false): Promise<void> {
    try {
      await this.exec(['kill', ...(all ? ['--all'] : []), id, signal]);
    } catch (err) {
      if (!isGone(err)) throw err;
    }
  }

  /**
   * Deletes the container, killing it if needed. Deleting one that is gone is not an error. For
   * runc, a container whose init has exited is deleted by cribd when that is all there is to do
   * (`deleteExited`), saving a runc process; other runtimes always run their own delete.
   */
  async delete(id: string): Promise<void> {
    if (this.knownState && (await deleteExited(path.join(this.stateRoot, id)))) return;
    try {
      await this.exec(['delete', '--force', id]);
    } catch (err) {
      if (!isGone(err)) throw err;
    }
  }

  async state(id: string): Promise<RuntimeState | undefined> {
    try {
      const { stdout } = await this.exec(['state', id]);
      return JSON.parse(stdout) as RuntimeState;
    } catch (err) {
      if (isGone(err)) return undefined;
      throw err;
    }
  }

  /** Changes a running container's CPU and memory limits (`update --resources -`, OCI JSON on stdin). */
  async update(id: string, resources: { cpu: OciCpu; memory: OciMemory }): Promise<void> {
    const res = await runCapture(this.path, [...this.globalArgs, 'update', '--resources', '-', id], { stdin: JSON.stringify(resources), timeoutMs: 30_000 });
    if (res.code !== 0) throw new Error(`${this.name} update ${id}: ${res.stderr.toString().trim() || `exited with ${res.code}`}`);
  }
}

function isGone(err: unknown): boolean {
  return err instanceof CommandError && /does not exist|not exist|no such file|container not running|not running/i.test(err.stderr + err.stdout);
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
