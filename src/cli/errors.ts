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

/** One line for a failure: the gRPC status name and details for runtime errors, else the message. */
export function describeError(err: unknown): string {
  if (isServiceError(err)) {
    const name = statusName(err.code);
    if (err.code === GrpcStatus.UNAVAILABLE) return `cannot reach the runtime (${name}): ${err.details}`;
    return `${err.details || err.message} (${name})`;
  }
  return errorMessage(err);
}

/** The gRPC status code of an error, if it is a gRPC error. */
export function grpcCode(err: unknown): number | undefined {
  return isServiceError(err) ? err.code : undefined;
}
