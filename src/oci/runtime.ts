import { CommandError, run } from '../util/exec.js';

export interface RuntimeState {
  status: 'creating' | 'created' | 'running' | 'stopped' | 'paused' | string;
  pid: number;
}

/** A runc-compatible OCI runtime (runc, crun), with its own state root so daemons don't collide. */
export class OciRuntime {
  constructor(
    readonly name: string,
    readonly path: string,
    readonly stateRoot: string,
  ) {}

  /** The arguments conmon passes to the runtime before its subcommand. */
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
}

function isGone(err: unknown): boolean {
  return err instanceof CommandError && /does not exist|not exist|no such file|container not running|not running/i.test(err.stderr + err.stdout);
}
