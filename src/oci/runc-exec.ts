import fs from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { killProcessGroup, readPidFile } from '../host/process.js';
import type { RuncCli } from './runc.js';
import type { OciSpec } from './spec-types.js';

/** A command to run in a running container: the runtime's command line and how to end it. */
export interface RuncExec {
  /** The runtime's path and `exec` arguments. */
  argv: [string, ...string[]];
  /**
   * SIGKILLs the command's process group (the runtime makes the command a session leader), and so
   * what it started; false while the runtime has not yet written its pid.
   */
  killGroup(): Promise<boolean>;
  /** Where the runtime writes the command's host pid once it has started it. */
  pidFile: string;
  /** The command's host pid, once the runtime has started it (it writes the pid file then). */
  pid(): Promise<number | undefined>;
}

/**
 * Runs `body` with a command ready for `runc exec`: the container's process settings (user, env,
 * cwd, capabilities, rlimits, from its bundle's config.json) with the command's args and terminal,
 * as a process spec in `scratchDir`, beside the pid file the runtime will write. Both are removed
 * when `body` is done, which must be after the runtime has exited.
 */
export async function withRuncExec<T>(
  runc: RuncCli,
  r: { id: string; bundle: string; scratchDir: string; cmd: string[]; tty: boolean; detach?: boolean },
  body: (e: RuncExec) => Promise<T>,
): Promise<T> {
  const spec = JSON.parse(await fs.readFile(path.join(r.bundle, 'config.json'), 'utf8')) as OciSpec;
  const base = path.join(r.scratchDir, `exec-${randomBytes(6).toString('hex')}`);
  const files = { spec: `${base}.json`, pid: `${base}.pid` };
  try {
    await fs.writeFile(files.spec, JSON.stringify({ ...spec.process, args: r.cmd, terminal: r.tty }), { mode: 0o600 });
    return await body({
      argv: [runc.path, ...runc.execArgs(r.id, { processSpec: files.spec, pidFile: files.pid, tty: r.tty, detach: r.detach })],
      pidFile: files.pid,
      killGroup: async () => {
        const pid = await readPidFile(files.pid);
        if (pid === undefined) return false;
        killProcessGroup(pid);
        return true;
      },
      pid: () => readPidFile(files.pid),
    });
  } finally {
    await Promise.all(Object.values(files).map((f) => fs.rm(f, { force: true })));
  }
}
