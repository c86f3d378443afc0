import { CommandError, run, runCapture } from '../util/exec.js';
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

  /** The arguments that go before every subcommand (conmon passes them on as --runtime-arg). */
  get globalArgs(): string[] {
    return [`--root=${this.stateRoot}`];
  }

  private exec(args: string[], timeoutMs = 30_000) {
    return run(this.path, [...this.globalArgs, ...args], { timeoutMs });
  }

  async start(id: string): Promise<void> {
    await this.exec(['start', id]);
  }

  /** Sends a signal (to every process of the container with `all`); one that is gone is not an error. */
  async kill(id: string, signal: string, all = false): Promise<void> {
    try {
      await this.exec(['kill', ...(all ? ['--all'] : []), id, signal]);
    } catch (err) {
      if (!isGone(err)) throw err;
    }
  }

  /** Deletes the container, killing it if needed. Deleting one that is gone is not an error. */
  async delete(id: string): Promise<void> {
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
