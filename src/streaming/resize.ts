// Terminal resizes: the client writes JSON values back to back on the resize stream (Go's
// json.Encoder: {"Width":80,"Height":24} and a newline each); the runtime reads the latest size.

import type { Readable } from 'node:stream';
import type { TerminalSize } from './types.js';

/** An undelivered value may be this long: a size is ~30 bytes, so this only stops a client that never closes a brace. */
export const MAX_RESIZE_VALUE_BYTES = 4096;

export class ResizeFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ResizeFormatError';
  }
}

/** Splits a byte stream into top-level JSON objects and reads each as a size. Pure; throws ResizeFormatError. */
export class TerminalSizeDecoder {
  private pending = '';

  push(chunk: Buffer): TerminalSize[] {
    this.pending += chunk.toString('utf8');
    const sizes: TerminalSize[] = [];
    let depth = 0;
    let inString = false;
    let escaped = false;
    let start = -1;
    let consumed = 0;
    for (let i = 0; i < this.pending.length; i++) {
      const c = this.pending[i];
      if (inString) {
        if (escaped) escaped = false;
        else if (c === '\\') escaped = true;
        else if (c === '"') inString = false;
      } else if (c === '"') {
        inString = true;
      } else if (c === '{') {
        if (depth === 0) start = i;
        depth++;
      } else if (c === '}') {
        depth--;
        if (depth < 0) throw new ResizeFormatError('resize stream has a stray }');
        if (depth === 0) {
          sizes.push(toSize(this.pending.slice(start, i + 1)));
          consumed = i + 1;
        }
      } else if (depth === 0 && c !== undefined && !/\s/.test(c)) {
        throw new ResizeFormatError(`resize stream has ${JSON.stringify(c)} between values`);
      }
    }
    this.pending = this.pending.slice(consumed);
    if (Buffer.byteLength(this.pending) > MAX_RESIZE_VALUE_BYTES) throw new ResizeFormatError(`resize value longer than ${MAX_RESIZE_VALUE_BYTES} bytes`);
    return sizes;
  }
}

/** Go decodes {"Width","Height"} into uint16 fields, matching names case-insensitively. */
function toSize(text: string): TerminalSize {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ResizeFormatError('resize value is not JSON');
  }
  if (typeof value !== 'object' || value === null) throw new ResizeFormatError('resize value is not an object');
  const fields = new Map(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k.toLowerCase(), v]));
  const dim = (name: string): number => {
    const v = fields.get(name) ?? 0;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffff) throw new ResizeFormatError(`resize ${name} is not a uint16`);
    return v;
  };
  return { width: dim('width'), height: dim('height') };
}

/**
 * The sizes read from `source`, as the runtime's AsyncIterable. The stream is read whether or not
 * the runtime iterates (an unread stream would hold up the session), and only the latest size waits
 * for a slow reader: a terminal needs its current size, not the history.
 */
export function terminalSizes(source: Readable, onError: (err: Error) => void): AsyncIterable<TerminalSize> {
  const decoder = new TerminalSizeDecoder();
  let latest: TerminalSize | undefined;
  let done = false;
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const finish = () => {
    done = true;
    notify();
  };
  source.on('data', (chunk: Buffer) => {
    if (done) return;
    try {
      const sizes = decoder.push(chunk);
      const last = sizes[sizes.length - 1];
      if (last) {
        latest = last;
        notify();
      }
    } catch (err) {
      onError(err instanceof Error ? err : new Error(String(err)));
      finish();
      source.resume();
    }
  });
  source.once('end', finish);
  source.once('close', finish);
  return {
    [Symbol.asyncIterator]: () => ({
      async next(): Promise<IteratorResult<TerminalSize>> {
        while (!latest && !done) await new Promise<void>((resolve) => (wake = resolve));
        if (latest) {
          const value = latest;
          latest = undefined;
          return { value, done: false };
        }
        return { value: undefined, done: true };
      },
    }),
  };
}
