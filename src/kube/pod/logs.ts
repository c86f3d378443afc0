// Following containers' CRI log files (`TIMESTAMP stdout|stderr F|P TEXT`, written by the container monitor) and
// printing them interleaved, each line prefixed with its container's name (in colour on a TTY).
import fsp from 'node:fs/promises';
import type { Writable } from 'node:stream';

/** One logical line: partial (P) pieces joined up to their full (F) end. */
export interface LogText {
  stream: 'stdout' | 'stderr';
  text: string;
}

/** Turns CRI log bytes into logical lines; keeps an unfinished line and open partials for later. */
export class CriLogParser {
  private rest = Buffer.alloc(0);
  private readonly partial = new Map<string, string>();

  push(chunk: Buffer): LogText[] {
    const data = this.rest.length ? Buffer.concat([this.rest, chunk]) : chunk;
    const out: LogText[] = [];
    let start = 0;
    for (let nl = data.indexOf(10); nl >= 0; nl = data.indexOf(10, start)) {
      const line = data.subarray(start, nl).toString('utf8');
      start = nl + 1;
      const m = /^(\S+) (stdout|stderr) ([^ ]*)(?: (.*))?$/s.exec(line);
      if (!m) continue;
      const stream = m[2] as 'stdout' | 'stderr';
      const text = (this.partial.get(stream) ?? '') + (m[4] ?? '');
      if ((m[3] ?? '').split(':')[0] === 'P') {
        this.partial.set(stream, text);
        continue;
      }
      this.partial.delete(stream);
      out.push({ stream, text });
    }
    this.rest = Buffer.from(data.subarray(start));
    return out;
  }

  /** Partial lines still open when the log ends. */
  flush(): LogText[] {
    const out = [...this.partial].map(([stream, text]) => ({ stream: stream as 'stdout' | 'stderr', text }));
    this.partial.clear();
    return out;
  }
}

/** The last `n` logical lines of a CRI log file ([] when it does not exist). */
export async function lastLogLines(file: string, n: number): Promise<string[]> {
  let data: Buffer;
  try {
    data = await fsp.readFile(file);
  } catch {
    return [];
  }
  const p = new CriLogParser();
  const lines = [...p.push(data), ...p.flush()].map((l) => l.text);
  return lines.slice(-n);
}

/** Reads what was appended to one file since the last read. */
class FileTail {
  private offset = 0;
  readonly parser = new CriLogParser();

  /** `last`: of what is there at the first read, only the last lines (crib logs -f --tail N). */
  constructor(
    readonly file: string,
    private last?: number,
  ) {}

  /** The file under the name is a new one (the old one rotated away and read to its end). */
  reopened(): void {
    this.offset = 0;
  }

  /** What was appended since the last read (of `file`, or of where it was renamed to). */
  async read(from = this.file): Promise<LogText[]> {
    let fh: fsp.FileHandle;
    try {
      fh = await fsp.open(from, 'r');
    } catch {
      return []; // not created yet
    }
    try {
      const { size } = await fh.stat();
      if (size < this.offset) this.offset = 0; // truncated or replaced
      const out: LogText[] = [];
      while (this.offset < size) {
        const buf = Buffer.alloc(Math.min(size - this.offset, 1 << 20));
        const { bytesRead } = await fh.read(buf, 0, buf.length, this.offset);
        if (bytesRead <= 0) break;
        this.offset += bytesRead;
        out.push(...this.parser.push(buf.subarray(0, bytesRead)));
      }
      const last = this.last;
      this.last = undefined;
      return last === undefined ? out : out.slice(Math.max(0, out.length - last));
    } finally {
      await fh.close();
    }
  }
}

const COLOURS = [36, 33, 35, 32, 34, 91, 96, 93, 95, 92];

export interface LogPrinterOptions {
  out: NodeJS.WritableStream;
  color: boolean;
  pollMs?: number;
}

/**
 * Follows the log file of each container (by name) and prints new lines as `[name] text`. When a
 * container is restarted, `follow()` with its new file reads the old one to its end first.
 */
export class LogPrinter {
  private readonly tails = new Map<string, FileTail>();
  private readonly colours = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private busy: Promise<void> = Promise.resolve();

  constructor(private readonly o: LogPrinterOptions) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.poll(), this.o.pollMs ?? 200);
  }

  /** Follows `file` for `label` from its start (or its last `last` lines); a previous file of the label is drained first. */
  async follow(label: string, file: string, last?: number): Promise<void> {
    await this.exclusive(async () => {
      const prev = this.tails.get(label);
      if (prev?.file === file) return;
      if (prev) await this.print(label, [...(await prev.read()), ...prev.parser.flush()]);
      if (!this.colours.has(label)) this.colours.set(label, COLOURS[this.colours.size % COLOURS.length] ?? 0);
      this.tails.set(label, new FileTail(file, last));
    });
  }

  /**
   * Runs `rotate` (which renames the label's file and has a new one opened under its name,
   * returning where the old one went) with nothing read meanwhile; then prints the rest of the
   * old file and follows the new one from its start, so no line is lost or printed twice.
   */
  async rotate(label: string, rotate: () => Promise<string | undefined>): Promise<string | undefined> {
    let moved: string | undefined;
    await this.exclusive(async () => {
      const tail = this.tails.get(label);
      moved = await rotate();
      if (!tail || moved === undefined) return;
      await this.print(label, await tail.read(moved));
      tail.reopened(); // a partial line open at the rotation goes on in the new file
    });
    return moved;
  }

  /** Prints whatever is new in every followed file. */
  poll(): Promise<void> {
    return this.exclusive(async () => {
      for (const [label, tail] of this.tails) await this.print(label, await tail.read());
    });
  }

  /** Reads everything to the end (partials included) and stops following. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.exclusive(async () => {
      for (const [label, tail] of this.tails) await this.print(label, [...(await tail.read()), ...tail.parser.flush()]);
      this.tails.clear();
    });
  }

  private exclusive(fn: () => Promise<void>): Promise<void> {
    const next = this.busy.then(fn, fn);
    this.busy = next.catch(() => undefined);
    return next;
  }

  private async print(label: string, lines: LogText[]): Promise<void> {
    if (!lines.length) return;
    const c = this.colours.get(label) ?? 0;
    const prefix = this.o.color ? `\x1b[${c}m[${label}]\x1b[0m ` : `[${label}] `;
    const text = lines.map((l) => `${prefix}${l.text}\n`).join('');
    // A reader that went away (`crib run | tee`, tee gone) drains nothing: stop waiting then.
    const out = this.o.out as Writable;
    if (out.destroyed) return;
    await new Promise<void>((resolve) => {
      if (out.write(text) || out.destroyed) return resolve();
      const done = () => {
        out.off('drain', done);
        out.off('close', done);
        resolve();
      };
      out.once('drain', done);
      out.once('close', done);
    });
  }
}
