import * as grpc from '@grpc/grpc-js';
import { CribError, errorMessage, type ErrorKind } from '../util/errors.js';

const codes: Record<ErrorKind, grpc.status> = {
  InvalidArgument: grpc.status.INVALID_ARGUMENT,
  NotFound: grpc.status.NOT_FOUND,
  AlreadyExists: grpc.status.ALREADY_EXISTS,
  FailedPrecondition: grpc.status.FAILED_PRECONDITION,
  Unauthenticated: grpc.status.UNAUTHENTICATED,
  Unimplemented: grpc.status.UNIMPLEMENTED,
  Unavailable: grpc.status.UNAVAILABLE,
  DeadlineExceeded: grpc.status.DEADLINE_EXCEEDED,
  Cancelled: grpc.status.CANCELLED,
  Internal: grpc.status.INTERNAL,
};

/** Any error from the domain as a gRPC status: crib's own kinds keep their code, the rest are INTERNAL. */
export function toStatus(err: unknown): Partial<grpc.StatusObject> {
  const code = err instanceof CribError ? codes[err.kind] : grpc.status.INTERNAL;
  return { code, details: errorMessage(err), metadata: new grpc.Metadata() };
}

/** The canonical name of a gRPC status code ("OK", "NOT_FOUND"), as metrics label calls. */
export function statusName(code: grpc.status | undefined): string {
  return grpc.status[code ?? grpc.status.UNKNOWN] ?? 'UNKNOWN';
}
