import type * as grpc from '@grpc/grpc-js';
import { status } from '@grpc/grpc-js';
import { errorMessage } from '../util/errors.js';

/** Bad usage (unknown flag, missing argument): exit code 2 with the command's usage. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** A failure the CLI found itself (not found, ambiguous, a running container): exit code 1. */
export class CliError extends Error {
  override readonly name = 'CliError';
}

function isServiceError(err: unknown): err is grpc.ServiceError {
  return err instanceof Error && typeof (err as Partial<grpc.ServiceError>).code === 'number' && 'details' in err;
}

/** One line for a failure: the gRPC status name and details for runtime errors, else the message. */
export function describeError(err: unknown): string {
  if (isServiceError(err)) {
    const name = status[err.code] ?? String(err.code);
    if (err.code === status.UNAVAILABLE) return `cannot reach the runtime (${name}): ${err.details}`;
    return `${err.details || err.message} (${name})`;
  }
  return errorMessage(err);
}

/** The gRPC status code of an error, if it is a gRPC error. */
export function grpcCode(err: unknown): number | undefined {
  return isServiceError(err) ? err.code : undefined;
}
