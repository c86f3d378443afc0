import { CribError } from './errors.js';

/**
 * Parses untrusted JSON (from an archive, a registry, a file a request names). A failure says what
 * was being read and where it broke, never the content: V8's messages quote the input, and an
 * error must not become a way to read a host file through cribd.
 */
export function parseUntrustedJson(bytes: Buffer | string, what: string): unknown {
  try {
    return JSON.parse(typeof bytes === 'string' ? bytes : bytes.toString('utf8')) as unknown;
  } catch (err) {
    const at = /position (\d+)/.exec(err instanceof Error ? err.message : '')?.[1];
    throw new CribError('InvalidArgument', `${what} is not valid JSON${at === undefined ? '' : ` (at byte ${at})`}`);
  }
}
