import fs from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { CribError, invalidArgument } from '../util/errors.js';
import { conmonExec } from '../oci/conmon.js';
import { criLogStreams } from '../oci/cri-log.js';
import type { OciRuntime } from '../oci/runtime.js';
import type { OciSpec } from '../oci/spec-types.js';

export interface ExecResult {
  stdout: Buffer;
  stderr: Buffer;
  exitCode: number;
}

/** Output kept per stream, as kubelet's own limit for probes and ExecSync. */
const MAX_OUTPUT = 16 * 1024 * 1024;
/** conmon's log of both streams, with its per-line framing, stays below this on disk. */
const MAX_LOG_BYTES = 4 * MAX_OUTPUT;

export interface ExecTarget {
  id: string;
  /** The container's OCI bundle: its spec's process is the base of the command's. */
  bundle: string;
  /** A directory of the container's for the exec's scratch files. */
  scratchDir: string;
}

/**
 * ExecSync: runs a command in a running container with the container's process settings (user,
 * env, cwd, capabilities, rlimits; its namespaces and cgroup), under conmon, and returns its
 * output when the command exits, even if something it put in the background still holds that
 * output open. At the timeout conmon kills the command's whole process group and reaps it: the
 * call is DEADLINE_EXCEEDED.
 */
export async function execSync(conmonPath: string, runtime: OciRuntime, t: ExecTarget, cmd: string[], timeoutSeconds: number): Promise<ExecResult> {
  if (cmd.length === 0 || !cmd[0]) throw invalidArgument('cmd', 'required');
  const spec = JSON.parse(await fs.readFile(path.join(t.bundle, 'config.json'), 'utf8')) as OciSpec;
  const base = path.join(t.scratchDir, `exec-${randomBytes(6).toString('hex')}`);
  const files = { spec: `${base}.json`, pid: `${base}.pid`, log: `${base}.log` };
  try {
    await fs.writeFile(files.spec, JSON.stringify({ ...spec.process, args: cmd, terminal: false }), { mode: 0o600 });
    const outcome = await conmonExec({
      conmonPath,
      runtime,
      id: t.id,
      processSpec: files.spec,
      logPath: files.log,
      logSizeMax: MAX_LOG_BYTES,
      pidFile: files.pid,
      socketDir: t.scratchDir,
      timeoutSeconds,
    });
    if ('timedOut' in outcome) {
      throw new CribError('DeadlineExceeded', `command ${JSON.stringify(cmd)} in container ${t.id} ran past its ${timeoutSeconds} s timeout and was killed`);
    }
    const out = criLogStreams(await fs.readFile(files.log).catch(() => Buffer.alloc(0)), MAX_OUTPUT);
    return { stdout: out.stdout, stderr: out.stderr, exitCode: outcome.exitCode };
  } finally {
    await Promise.all(Object.values(files).map((f) => fs.rm(f, { force: true })));
  }
}
