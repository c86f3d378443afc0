import { spawn, type StdioOptions } from 'node:child_process';
import fs from 'node:fs';
import type { Duplex, Readable, Writable } from 'node:stream';
import { log } from './log.js';
import { onAbort } from './on-abort.js';
import { MAX_TIMER_MS } from './time.js';

export interface RunOptions {
  /** Bytes written to the command's stdin, which is then closed. */
  stdin?: string | Buffer;
  /** Variables added to (or, with cleanEnv, replacing) the daemon's environment. */
  env?: Record<string, string>;
  cleanEnv?: boolean;
  timeoutMs?: number;
  /** Kills the program (SIGKILL) when it fires: the request it serves was cancelled. */
  signal?: AbortSignal;
  cwd?: string;
  /** Output kept per stream; the rest is dropped (and `truncated` set). */
  maxOutputBytes?: number;
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

/** Everything a finished command left: its output as bytes and how it ended. */
export interface Completed {
  stdout: Buffer;
  stderr: Buffer;
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  /** Killed because `signal` fired. */
  cancelled: boolean;
  truncated: boolean;
}

/** What a debug line names a command by: its first word that is not a flag (a runtime's subcommand, umount's target). */
const firstOperand = (args: readonly string[]): string => args.find((a) => !a.startsWith('-')) ?? args[0] ?? '';

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

/** How a captured program is run: RunOptions, and when its run counts as over. */
export interface CaptureOptions extends RunOptions {
  /**
   * Done when the program itself exits, with what it wrote until then, rather than when its output
   * closes: something it left in the background may hold that open for good. The pipes are then
   * closed.
   */
  untilExit?: boolean;
}

/** A program running to completion with its output collected, which the caller may kill meanwhile. */
export interface CapturingProcess {
  readonly pid: number | undefined;
  readonly done: Promise<Completed>;
  kill(signal?: NodeJS.Signals): void;
}

/**
 * Runs an external program (the OCI runtime, its monitor, CNI plugins, mount, ...) to completion and reports how it
 * ended, whatever the exit status. Only a program that cannot be started is an error here.
 */
export function runCapture(command: string, args: readonly string[], opts: RunOptions = {}): Promise<Completed> {
  return spawnCapture(command, args, opts).done;
}

/** runCapture, with the process at hand while it runs. */
export function spawnCapture(command: string, args: readonly string[], opts: CaptureOptions = {}): CapturingProcess {
  const started = process.hrtime.bigint();
  const max = opts.maxOutputBytes ?? 64 * 1024 * 1024;
  const stdio: StdioOptions = [opts.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'];
  const child = spawn(command, args, {
    stdio,
    cwd: opts.cwd,
    env: opts.cleanEnv ? opts.env : { ...process.env, ...opts.env },
  });
  const done = new Promise<Completed>((resolve, reject) => {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const sizes = { out: 0, err: 0 };
    let truncated = false;
    // Past the bound the output is still read (a writer never blocks on a full pipe), and dropped.
    const collect = (into: Buffer[], key: 'out' | 'err') => (b: Buffer) => {
      const room = max - sizes[key];
      if (room <= 0) {
        truncated = true;
        return;
      }
      if (b.length > room) truncated = true;
      into.push(b.length > room ? b.subarray(0, room) : b);
      sizes[key] += Math.min(b.length, room);
    };
    child.stdout?.on('data', collect(out, 'out'));
    child.stderr?.on('data', collect(err, 'err'));
    const exited = () => child.exitCode !== null || child.signalCode !== null;
    let timedOut = false;
    let cancelled = false;
    /**
     * The timeout and a cancel bound the wait even when something the program left in the
     * background holds its output open: once the program itself has exited, it is done.
     */
    const giveUp = () => {
      if (exited()) doneAtExit();
      else child.kill('SIGKILL');
    };
    const timer =
      opts.timeoutMs === undefined
        ? undefined
        : setTimeout(
            () => {
              timedOut = true;
              giveUp();
            },
            Math.min(opts.timeoutMs, MAX_TIMER_MS),
          );
    const stopListening = onAbort(opts.signal, () => {
      cancelled = true;
      giveUp();
    });
    let spawnError: Error | undefined;
    child.on('error', (e) => {
      spawnError = e;
    });
    let ended = false;
    const end = (code: number | null, signal: NodeJS.Signals | null) => {
      if (ended) return;
      ended = true;
      if (timer) clearTimeout(timer);
      stopListening();
      log.debug('exec', { command, arg: firstOperand(args), code, ms: Number(process.hrtime.bigint() - started) / 1e6 });
      if (spawnError) {
        reject(new CommandError(command, args, null, null, '', '', `could not run: ${spawnError.message}`));
        return;
      }
      resolve({ stdout: Buffer.concat(out), stderr: Buffer.concat(err), code, signal, timedOut, cancelled, truncated });
    };
    /** Done with what the program wrote, without waiting for its pipes to close. */
    function doneAtExit(): void {
      // What it wrote before it exited is in the pipes already, their readiness seen in the same
      // poll as the exit: one turn of the event loop has read it.
      setImmediate(() => {
        end(child.exitCode, child.signalCode);
        child.stdout?.destroy();
        child.stderr?.destroy();
      });
    }
    child.on('close', end);
    child.on('exit', () => {
      if (opts.untilExit || timedOut || cancelled) doneAtExit();
    });
    if (opts.stdin !== undefined && child.stdin) {
      child.stdin.on('error', () => {
        /* the program may exit without reading its input; its exit status tells the story */
      });
      child.stdin.end(opts.stdin);
    }
  });
  return { pid: child.pid, done, kill: (signal = 'SIGKILL') => void child.kill(signal) };
}

/** Runs a program that must succeed: a non-zero exit, a signal or a timeout is a CommandError. */
export async function run(command: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const r = await runCapture(command, args, opts);
  const stdout = r.stdout.toString();
  const stderr = r.stderr.toString();
  if (r.code === 0 && !r.timedOut && !r.cancelled) return { stdout, stderr };
  const reason = r.timedOut ? `timed out after ${opts.timeoutMs} ms` : r.cancelled ? 'cancelled with its request' : undefined;
  throw new CommandError(command, args, r.code, r.signal, stdout, stderr, reason);
}

/** A program whose stdio stays open for streaming (exec, attach, port forwarding). */
export interface StreamingProcess {
  readonly stdin: Writable;
  readonly stdout: Readable;
  /** Its stderr as a stream, when asked for (`streamStderr`); else it is kept for `exited`. */
  readonly stderr: Readable | undefined;
  /** fd 3, when asked for: a pipe for side messages (resizes in, notices out). */
  readonly fd3: Duplex | undefined;
  readonly pid: number | undefined;
  /** How it ended; `stderr` is the last of what it said there (its error message, if any). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
  kill(signal?: NodeJS.Signals): void;
}

/** Of a streaming program's stderr, only this much of the end is kept: its last message. */
const STREAMING_STDERR_KEEP = 4096;

/**
 * Starts a program whose stdin and stdout the caller streams (with fd 3 as a pipe too, when asked).
 * Its stderr is kept (the tail) to name what failed; a program that cannot be started ends with
 * code null and a message saying so.
 */
export function spawnStreaming(command: string, args: readonly string[], opts: { fd3?: boolean; streamStderr?: boolean } = {}): StreamingProcess {
  const started = process.hrtime.bigint();
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe', ...(opts.fd3 ? (['pipe'] as const) : [])] });
  let stderr = '';
  if (!opts.streamStderr) {
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      stderr = (stderr + s).slice(-STREAMING_STDERR_KEEP);
    });
  }
  child.stdin.on('error', () => {
    /* it may exit without reading all of its input; how it ended tells the story */
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) => {
    child.on('error', (e) => resolve({ code: null, signal: null, stderr: `could not run ${command}: ${e.message}` }));
    child.on('close', (code, signal) => {
      log.debug('exec', { command, arg: firstOperand(args), code, ms: Number(process.hrtime.bigint() - started) / 1e6 });
      resolve({ code, signal, stderr: stderr.trim() });
    });
  });
  return {
    stdin: child.stdin,
    stdout: child.stdout,
    stderr: opts.streamStderr ? child.stderr : undefined,
    fd3: opts.fd3 ? (child.stdio[3] as Duplex) : undefined,
    pid: child.pid,
    exited,
    kill: (signal = 'SIGKILL') => void child.kill(signal),
  };
}

/**
 * Starts a program that outlives its caller (a daemon of its own): in a session of its own, stdin
 * from /dev/null, stdout and stderr appended to `logFile`. Its pid, once it has been started.
 */
export function spawnDetached(command: string, args: readonly string[], logFile: string): Promise<number> {
  const fd = fs.openSync(logFile, 'a', 0o600);
  try {
    const child = spawn(command, args, { detached: true, stdio: ['ignore', fd, fd] });
    return new Promise((resolve, reject) => {
      child.once('error', (e) => reject(new Error(`could not run ${command}: ${e.message}`)));
      child.once('spawn', () => {
        child.unref();
        resolve(child.pid ?? 0);
      });
    });
  } finally {
    fs.closeSync(fd);
  }
}
