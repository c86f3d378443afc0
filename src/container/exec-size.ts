// How much a container's process may be given to exec: what execve(2) takes, and what the OCI runtime's init
// can set up in time. Pure.
import { invalidArgument } from '../util/errors.js';

/** The kernel's MAX_ARG_STRLEN (32 pages of 4 KiB): execve refuses a longer argument or variable, NUL included (E2BIG). */
export const MAX_ARG_STRLEN = 32 * 4096;
/**
 * execve's whole budget for arguments and environment, their strings with NULs and the pointers to
 * them: a quarter of the stack limit (fs/exec.c), 2 MiB under the usual 8 MiB RLIMIT_STACK that
 * cribd, the OCI runtime and so the container's process start with. Past it the process could never start.
 */
export const ARG_MAX = 2 * 1024 * 1024;
/**
 * Variables of one process. The OCI runtime's init (1.1.5 here) sets them up in time that grows with their square:
 * 10,000 took 0.7 s on a loaded 2-core node, 20,000 took 4 s and 50,000 more than the create's
 * 30 s (then the create failed, with the runtime's init still running). Kubernetes itself has no bound;
 * its service links add 7 variables per Service of the namespace.
 */
export const MAX_ENV_ENTRIES = 10_000;

const POINTER_BYTES = 8;

/** One list of strings a process execs with, by the field that holds it. */
export interface ExecPart {
  field: string;
  values: readonly string[];
  /** Its environment (else its arguments). */
  env?: boolean;
}

/**
 * Refuses a process execve would refuse (a string past MAX_ARG_STRLEN, the whole past ARG_MAX) or
 * whose environment the OCI runtime cannot set up in time, naming the field at fault: the request's, or the
 * process as merged with the image's config.
 */
export function checkExecSize(parts: readonly ExecPart[]): void {
  const envs = parts.filter((p) => p.env);
  const entries = envs.reduce((n, p) => n + p.values.length, 0);
  if (entries > MAX_ENV_ENTRIES) {
    throw invalidArgument(envs.map((p) => p.field).join(' and '), `${entries} variables, more than the ${MAX_ENV_ENTRIES} a container's process may be given`);
  }
  let total = 2 * POINTER_BYTES;
  for (const { field, values } of parts) {
    for (const [i, s] of values.entries()) {
      const bytes = Buffer.byteLength(s) + 1;
      if (bytes > MAX_ARG_STRLEN) throw invalidArgument(`${field}[${i}]`, `${bytes} bytes, longer than execve takes (${MAX_ARG_STRLEN}, MAX_ARG_STRLEN)`);
      total += bytes + POINTER_BYTES;
    }
  }
  if (total > ARG_MAX) {
    throw invalidArgument(
      parts.map((p) => p.field).join(', '),
      `${total} bytes to exec, more than execve takes (${ARG_MAX}, ARG_MAX under an 8 MiB stack limit)`,
    );
  }
}
