import fs from 'node:fs';
import { errorMessage } from '../util/errors.js';
import { GrpcStatus, statusName } from './grpc/status.js';

/** Bad usage (unknown flag, missing argument): exit code 2 with the command's usage. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** A failure the CLI found itself (not found, ambiguous, a running container): exit code 1. */
export class CliError extends Error {
  override readonly name = 'CliError';
}

/** A call's failure: this client's GrpcError, or grpc-js's ServiceError (the same shape). */
interface ServiceError extends Error {
  code: number;
  details: string;
}

function isServiceError(err: unknown): err is ServiceError {
  return err instanceof Error && typeof (err as Partial<ServiceError>).code === 'number' && 'details' in err;
}

/** The name of a group id, from /etc/group ('' when it has none there). */
function groupName(gid: number): string {
  try {
    const line = fs
      .readFileSync('/etc/group', 'utf8')
      .split('\n')
      .find((l) => l.split(':')[2] === String(gid));
    return line?.split(':')[0] ?? '';
  } catch {
    return '';
  }
}

/**
 * What to tell a user whose command cannot reach cribd's socket, by the errno of the attempt (the
 * socket's stat or connect): one message per situation, whichever command met it, saying what to do.
 */
export function socketProblem(socket: string, code: string | undefined): string {
  const where = '(another socket: --socket PATH or CRIB_SOCKET)';
  switch (code) {
    case 'ENOENT':
    case 'ENOTDIR':
      return `no runtime socket at ${socket}: is cribd running? Start it with \`sudo crib daemon\` (or its systemd unit) ${where}`;
    case 'ECONNREFUSED':
      return `nothing answers on ${socket}: cribd is not running (the socket is left from an earlier one). Start it with \`sudo crib daemon\` ${where}`;
    case 'EACCES':
    case 'EPERM': {
      let group = '';
      try {
        const gid = fs.statSync(socket).gid;
        group = groupName(gid) || String(gid);
      } catch {
        // the directory itself is closed to us: only root gets in
      }
      const member = group && group !== 'root' && group !== '0' ? ` or membership of the socket's group "${group}"` : '';
      return `permission denied on ${socket}: crib needs root (run it with sudo)${member} ${where}`;
    }
    default:
      return `cannot reach the runtime at ${socket}${code ? ` (${code})` : ''}: is cribd running? ${where}`;
  }
}

/** One line for a failure: the gRPC status name and details for runtime errors, else the message. */
export function describeError(err: unknown): string {
  if (isServiceError(err)) {
    const name = statusName(err.code);
    if (err.code === GrpcStatus.UNAVAILABLE) {
      // the connection itself failed: the same words as main's check of the socket
      const m = /^connect (E[A-Z]+) (.+)$/.exec(err.details);
      if (m) return socketProblem(m[2] as string, m[1]);
      return `cannot reach the runtime (${name}): ${err.details}`;
    }
    return `${err.details || err.message} (${name})`;
  }
  return errorMessage(err);
}

/** The gRPC status code of an error, if it is a gRPC error. */
export function grpcCode(err: unknown): number | undefined {
  return isServiceError(err) ? err.code : undefined;
}
