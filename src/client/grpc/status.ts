/** gRPC status codes (grpc/doc/statuscodes.md), by name and by number. */
export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

const NAMES = Object.keys(GrpcStatus);

/** The code's name (NOT_FOUND), or its number when it has none. */
export function statusName(code: number): string {
  return NAMES[code] ?? String(code);
}

/**
 * A call that ended with a status other than OK, shaped as grpc-js's ServiceError (code, details,
 * message "CODE NAME: details"), so callers and tests read either the same way.
 */
export class GrpcError extends Error {
  override readonly name = 'GrpcError';
  constructor(
    readonly code: number,
    readonly details: string,
  ) {
    super(`${code} ${statusName(code)}: ${details}`);
  }
}
