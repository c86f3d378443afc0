import fs from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { CribError, invalidArgument } from '../util/errors.js';
import { runCapture } from '../util/exec.js';
import { readPidFile } from '../oci/process.js';
import type { OciRuntime } from '../oci/runtime.js';

export interface ExecResult {
  stdout: Buffer;
  stderr: Buffer;
  exitCode: number;
}

/** Output kept per stream, as kubelet's own limit for probes and ExecSync. */
const MAX_OUTPUT = 16 * 1024 * 1024;

/**
 * Runs a command in a running container (its user, env, cwd, capabilities and namespaces) and
 * waits for it. A command still running at the timeout is killed (by the pid the runtime wrote)
 * and reported as DEADLINE_EXCEEDED. The runtime then gets a moment to reap it: killed first, the
 * runtime would leave it a zombie under the container's PID 1, which may never wait for it.
 */
export async function execSync(runtime: OciRuntime, id: string, scratchDir: string, cmd: string[], timeoutSeconds: number): Promise<ExecResult> {
  if (cmd.length === 0 || !cmd[0]) throw invalidArgument('cmd', 'required');
  const pidFile = path.join(scratchDir, `exec-${randomBytes(6).toString('hex')}.pid`);
  try {
    const r = await runCapture(runtime.path, [...runtime.globalArgs, 'exec', '--pid-file', pidFile, id, ...cmd], {
      timeoutMs: timeoutSeconds > 0 ? timeoutSeconds * 1000 : undefined,
      maxOutputBytes: MAX_OUTPUT,
      onTimeout: async () => {
        const pid = await readPidFile(pidFile);
        if (pid) process.kill(pid, 'SIGKILL');
      },
      killGraceMs: 2000,
    });
    if (r.timedOut) {
      throw new CribError('DeadlineExceeded', `command ${JSON.stringify(cmd)} in container ${id} ran past its ${timeoutSeconds} s timeout and was killed`);
    }
    const exitCode = r.code ?? 128 + signalNumber(r.signal);
    return { stdout: r.stdout, stderr: r.stderr, exitCode };
  } finally {
    await fs.rm(pidFile, { force: true });
  }
}

function signalNumber(sig: NodeJS.Signals | null): number {
  return sig === 'SIGKILL' ? 9 : sig === 'SIGTERM' ? 15 : 1;
}
