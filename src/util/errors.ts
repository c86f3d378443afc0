/** The failure kinds crib reports; the CRI layer maps each to one gRPC status code. */
export type ErrorKind =
  | 'InvalidArgument'
  | 'NotFound'
  | 'AlreadyExists'
  | 'FailedPrecondition'
  | 'Unauthenticated'
  | 'Unimplemented'
  | 'Unavailable'
  | 'DeadlineExceeded'
  | 'Internal';

export class CribError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CribError';
  }
}

export const invalidArgument = (field: string, why: string): CribError =>
  new CribError('InvalidArgument', `${field}: ${why}`);

export const notFound = (what: string): CribError => new CribError('NotFound', `${what} not found`);

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
