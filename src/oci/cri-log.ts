/** What a command wrote, per stream, rebuilt from a CRI-format log. */
export interface LoggedOutput {
  stdout: Buffer;
  stderr: Buffer;
  /** A stream had more than the bound; the rest of it was dropped. */
  truncated: boolean;
}

const NL = 0x0a;
const SP = 0x20;

/**
 * Rebuilds the bytes of stdout and stderr from the CRI log format conmon writes
 * (`TIMESTAMP STREAM F|P CONTENT\n`: `F` ends a line, so its newline comes back; `P` is a piece of
 * one). Works on bytes, so binary output survives; keeps at most `maxPerStream` bytes of each.
 */
export function criLogStreams(log: Buffer, maxPerStream: number): LoggedOutput {
  const parts = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
  const sizes = { stdout: 0, stderr: 0 };
  let truncated = false;
  const keep = (stream: 'stdout' | 'stderr', b: Buffer) => {
    const room = maxPerStream - sizes[stream];
    if (b.length > room) truncated = true;
    if (room <= 0) return;
    const piece = b.length > room ? b.subarray(0, room) : b;
    parts[stream].push(piece);
    sizes[stream] += piece.length;
  };
  for (let pos = 0; pos < log.length;) {
    let end = log.indexOf(NL, pos);
    if (end < 0) end = log.length;
    const a = log.indexOf(SP, pos);
    const b = a < 0 || a >= end ? -1 : log.indexOf(SP, a + 1);
    if (b >= 0) {
      // The content follows the tag's space; an empty line may come without it.
      const sp = log.indexOf(SP, b + 1);
      const c = sp < 0 || sp > end ? end : sp;
      const stream = log.toString('latin1', a + 1, b);
      if (stream === 'stdout' || stream === 'stderr') {
        keep(stream, log.subarray(Math.min(c + 1, end), end));
        if (log[b + 1] === 0x46 /* F */) keep(stream, Buffer.from('\n'));
      }
    }
    pos = end + 1;
  }
  return { stdout: Buffer.concat(parts.stdout), stderr: Buffer.concat(parts.stderr), truncated };
}
