// Where cribd learns that a command run by `runc exec` has exited, before runc itself exits.
import { constants, openSync } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { run } from '../util/exec.js';
import { log as logger } from '../util/log.js';

/** One exit as runc logs it, by the command's host pid; its status as a shell reports it (128+n for signal n). */
export interface LoggedExit {
  pid: number;
  status: number;
}

/** A log line longer than this is no exit record: it is skipped, not buffered. */
const MAX_LINE = 64 * 1024;

/**
 * The exit a runc log line (`--log-format json`, `--debug`) records, if it records one: runc's
 * signal handler logs "process exited" with the pid and status of every child it reaps.
 */
export function parseExitLine(line: string): LoggedExit | undefined {
  if (!line.includes('"process exited"')) return undefined;
  try {
    const v = JSON.parse(line) as { msg?: unknown; pid?: unknown; status?: unknown };
    if (v.msg !== 'process exited' || !Number.isInteger(v.pid) || !Number.isInteger(v.status)) return undefined;
    return { pid: v.pid as number, status: v.status as number };
  } catch {
    return undefined;
  }
}

/**
 * runc's exec in the foreground copies the command's output through pipes of its own and exits
 * only once every holder has closed them, so a child the command left in the background would hold
 * ExecSync for as long as it lives. runc reaps the command and logs its status at debug level as
 * soon as it exits, though: every ExecSync's runc logs to this one FIFO (`runtimeArgs`), and
 * cribd, its reader, hears each exit by pid. runc's errors still go to its stderr.
 */
export class RuncExitLog {
  private readonly listeners = new Set<(exit: LoggedExit) => void>();

  private constructor(readonly fifo: string) {}

  /** Makes the FIFO afresh (one mkfifo per daemon and runtime) and starts reading it. */
  static async open(fifo: string): Promise<RuncExitLog> {
    await fs.mkdir(path.dirname(fifo), { recursive: true, mode: 0o700 });
    await fs.rm(fifo, { force: true });
    await run('mkfifo', ['-m', '600', fifo]);
    // Read and write: there is always a writer, so no end of file between two runc processes.
    const fd = openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK);
    const log = new RuncExitLog(fifo);
    const reader = new net.Socket({ fd, readable: true, writable: false });
    reader.unref();
    // Unheard exits only make an ExecSync whose output is held in the background wait for the holder.
    reader.on('error', (err) => logger.warn('reading runc exit log failed', { fifo, error: err }));
    let rest = '';
    reader.setEncoding('utf8').on('data', (text: string) => {
      const lines = (rest + text).split('\n');
      rest = lines.pop() ?? '';
      if (rest.length > MAX_LINE) rest = '';
      for (const line of lines) {
        const exit = parseExitLine(line);
        if (exit) for (const l of log.listeners) l(exit);
      }
    });
    return log;
  }

  /** runc's global flags that send its log here. */
  get runtimeArgs(): string[] {
    return ['--debug', '--log', this.fifo, '--log-format', 'json'];
  }

  /** Calls `listener` with each exit from now on, until the returned function is called. */
  onExit(listener: (exit: LoggedExit) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
