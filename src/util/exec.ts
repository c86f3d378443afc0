import { spawn, type StdioOptions } from 'node:child_process';
import { log } from './log.js';

export interface RunOptions {
  /** Bytes written to the command's stdin, which is then closed. */
  stdin?: string | Buffer;
  /** Variables added to (or, with cleanEnv, replacing) the daemon's environment. */
  env?: Record<string, string>;
  cleanEnv?: boolean;
  timeoutMs?: number;
  cwd?: string;
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

/** A command that could not be started, exited non-zero, or was killed. */
export class CommandError extends Error {
  constructor(
    readonly command: string,
    readonly args: readonly string[],
    readonly exitCode: number | null,
    readonly signal: string | null,
    readonly stdout: string,
    readonly stderr: string,
    reason?: string,
  ) {
    const detail = (stderr.trim() || stdout.trim()).split('\n').slice(-5).join('; ');
    const how = reason ?? (signal ? `killed by ${signal}` : `exited with ${exitCode}`);
    super(`${command} ${args.slice(0, 3).join(' ')}${args.length > 3 ? ' …' : ''}: ${how}${detail ? `: ${detail}` : ''}`);
    this.name = 'CommandError';
  }
}

/**
 * Runs an external program (runc, conmon, CNI plugins, mount, ...) to completion, capturing its
 * output. Every external command in crib goes through here so failures all read the same way.
 */
export function run(command: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const stdio: StdioOptions = [opts.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'];
    const child = spawn(command, args, {
      stdio,
      cwd: opts.cwd,
      env: opts.cleanEnv ? opts.env : { ...process.env, ...opts.env },
      timeout: opts.timeoutMs,
      killSignal: 'SIGKILL',
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (b: Buffer) => out.push(b));
    child.stderr?.on('data', (b: Buffer) => err.push(b));
    let spawnError: Error | undefined;
    child.on('error', (e) => {
      spawnError = e;
    });
    child.on('close', (code, signal) => {
      log.debug('exec', { command, arg: args[0] ?? '', code, ms: Number(process.hrtime.bigint() - started) / 1e6 });
      const stdout = Buffer.concat(out).toString();
      const stderr = Buffer.concat(err).toString();
      if (spawnError) {
        reject(new CommandError(command, args, null, null, stdout, stderr, `could not run: ${spawnError.message}`));
      } else if (code === 0) {
        resolve({ stdout, stderr });
      } else {
        const timedOut = signal === 'SIGKILL' && opts.timeoutMs !== undefined;
        reject(new CommandError(command, args, code, signal, stdout, stderr, timedOut ? `timed out after ${opts.timeoutMs} ms` : undefined));
      }
    });
    if (opts.stdin !== undefined && child.stdin) {
      child.stdin.on('error', () => {
        /* the program may exit without reading its input; its exit status tells the story */
      });
      child.stdin.end(opts.stdin);
    }
  });
}
