import fs from 'node:fs/promises';
import path from 'node:path';
import { CommandError, run, runCapture } from '../util/exec.js';
import { MAX_FEATURES_BYTES } from './features.js';
import { runcShortcuts, type RuncShortcuts } from './runc-shortcuts.js';
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
  /** cribd's own start and delete, for a runc of a proven version (src/oci/runc-shortcuts.ts); asked once, as cribd starts. */
  private readonly shortcuts: Promise<RuncShortcuts | undefined>;

  constructor(
    readonly name: string,
    readonly path: string,
    readonly stateRoot: string,
    opts: { shortcuts?: boolean } = {},
  ) {
    this.shortcuts = opts.shortcuts === false ? Promise.resolve(undefined) : runcShortcuts(path, stateRoot);
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
   * Starts a created container: through runc's own handshake done by cribd where that was proven
   * (saving a runc process, tens of ms on a small node), else, or when that could not be done,
   * `start` itself, which reports what is wrong.
   */
  async start(id: string): Promise<void> {
    if (await (await this.shortcuts)?.start(id)) return;
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

  /**
   * `run --detach`'s arguments (after the runtime's path): the bundle's process created and started
   * in one go, its host pid written to `pidFile`, the runtime's own messages to `logFile` (JSON lines,
   * `msg` the text: what runc and crun both write). Its stdio
   * is the caller's, which the process keeps.
   */
  runDetachedArgs(id: string, o: { bundle: string; pidFile: string; logFile: string }): string[] {
    return [...this.globalArgs, `--log=${o.logFile}`, '--log-format=json', 'run', '--detach', '--pid-file', o.pidFile, '--bundle', o.bundle, id];
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
   * Deletes the container, killing it if needed. Deleting one that is gone is not an error. A
   * container whose init has exited is deleted by cribd where that was proven and is all there is
   * to do, saving a runtime process.
   */
  async delete(id: string): Promise<void> {
    if (await (await this.shortcuts)?.deleteExited(id)) return;
    try {
      await this.exec(['delete', '--force', id]);
    } catch (err) {
      if (!isGone(err)) throw err;
      // A create cut off before the runtime wrote its state leaves the container's directory of
      // the root it was given (--root), which no command of the runtime then removes.
      await fs.rm(path.join(this.stateRoot, id), { recursive: true, force: true });
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
