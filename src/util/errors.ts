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
  | 'Cancelled'
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

export const invalidArgument = (field: string, why: string): CribError => new CribError('InvalidArgument', `${field}: ${why}`);

export const notFound = (what: string): CribError => new CribError('NotFound', `${what} not found`);

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** An error's message, then each cause's (at most 8 deep, so a cycle cannot loop), for a log line. */
export function errorChain(err: unknown): string[] {
  const out: string[] = [];
  for (let e: unknown = err; e !== undefined && out.length < 8; e = e instanceof Error ? e.cause : undefined) out.push(errorMessage(e));
  return out;
}

/**
 * Untrusted text (a name from an archive, a registry, a request) for an error message: JSON-quoted
 * and cut to `max` characters, so a message stays short and printable whatever came in.
 */
export function quoteUntrusted(text: string, max = 120): string {
  return text.length > max ? `${JSON.stringify(text.slice(0, max)).slice(0, -1)}…" (${text.length} characters)` : JSON.stringify(text);
}
