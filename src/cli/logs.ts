import fsp from 'node:fs/promises';
import path from 'node:path';
import { call } from './client.js';
import type { Command } from './command.js';
import type { CliContext } from './context.js';
import { CliError, UsageError, grpcCode } from './errors.js';
import { GrpcStatus } from './grpc/status.js';
import { parseInfo } from './output.js';
import { resolve } from './resolve.js';
import { write } from './output.js';
import { LogPrinter } from './run/logs.js';
import type { Container__Output } from '../cri/generated/runtime/v1/Container.js';

export type LogStream = 'stdout' | 'stderr';

/** One line of the CRI log format: `TIMESTAMP STREAM TAGS TEXT` (TAGS `F` full or `P` partial). */
export interface LogLine {
  time: string;
  stream: LogStream;
  partial: boolean;
  text: string;
}

/** A logical log line: partial pieces joined; `complete` is false for a trailing piece with no end yet. */
export interface LogEntry {
  time: string;
  stream: LogStream;
  text: string;
  complete: boolean;
}

export function parseLogLine(line: string): LogLine | undefined {
  const a = line.indexOf(' ');
  const b = a < 0 ? -1 : line.indexOf(' ', a + 1);
  if (b < 0) return undefined;
  const stream = line.slice(a + 1, b);
  if (stream !== 'stdout' && stream !== 'stderr') return undefined;
  const c = line.indexOf(' ', b + 1);
  const tags = c < 0 ? line.slice(b + 1) : line.slice(b + 1, c);
  return { time: line.slice(0, a), stream, partial: tags.split(':')[0] === 'P', text: c < 0 ? '' : line.slice(c + 1) };
}

/** Joins partial lines per stream into logical lines. */
export class LogJoiner {
  private readonly pending = new Map<LogStream, { time: string; text: string }>();

  push(l: LogLine): LogEntry | undefined {
    const prev = this.pending.get(l.stream);
    const text = (prev?.text ?? '') + l.text;
    if (l.partial) {
      this.pending.set(l.stream, { time: prev?.time ?? l.time, text });
      return undefined;
    }
    this.pending.delete(l.stream);
    return { time: l.time, stream: l.stream, text, complete: true };
  }

  /** The pieces still waiting for their end (printed as they are when the log is over). */
  flush(): LogEntry[] {
    const out = [...this.pending].map(([stream, p]): LogEntry => ({ time: p.time, stream, text: p.text, complete: false }));
    this.pending.clear();
    return out;
  }
}

/** Splits bytes into complete lines, keeping an unfinished last line for the next chunk. */
class LineSplitter {
  private rest: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): string[] {
    const data = this.rest.length ? Buffer.concat([this.rest, chunk]) : chunk;
    const lines: string[] = [];
    let start = 0;
    for (let i = data.indexOf(10); i >= 0; i = data.indexOf(10, start)) {
      lines.push(data.subarray(start, i).toString('utf8'));
      start = i + 1;
    }
    this.rest = Buffer.from(data.subarray(start));
    return lines;
  }

  /** The unfinished last line (a file that ends without a newline), emptied. */
  take(): string | undefined {
    if (!this.rest.length) return undefined;
    const s = this.rest.toString('utf8');
    this.rest = Buffer.alloc(0);
    return s;
  }
}

async function printEntries(ctx: CliContext, entries: readonly LogEntry[], timestamps: boolean): Promise<void> {
  for (const e of entries) {
    const line = `${timestamps ? `${e.time} ` : ''}${e.text}${e.complete ? '\n' : ''}`;
    await write(e.stream === 'stderr' ? ctx.err : ctx.out, line);
  }
}

/** Where a container's log file is: ContainerStatus.log_path, or under the pod's log directory when relative. */
async function logPathOf(ctx: CliContext, id: string): Promise<string> {
  const st = (await call(ctx.clients.runtime, 'ContainerStatus', { container_id: id })).status;
  const p = st?.log_path ?? '';
  if (!p) throw new CliError(`container ${id} has no log file (its pod has no log_directory)`);
  if (path.isAbsolute(p)) return p;
  const pod = (await call(ctx.clients.runtime, 'ListContainers', { filter: { id } })).containers[0]?.pod_sandbox_id ?? '';
  const res = await call(ctx.clients.runtime, 'PodSandboxStatus', { pod_sandbox_id: pod, verbose: true });
  const config = (parseInfo(res.info)['info'] as { config?: { logDirectory?: string; log_directory?: string } } | undefined)?.config;
  const dir = config?.logDirectory ?? config?.log_directory;
  if (!dir) throw new CliError(`container ${id}: relative log path ${p} and no pod log directory`);
  return path.join(dir, p);
}

/** Whether the container is over: exited, or gone. */
async function hasExited(ctx: CliContext, id: string): Promise<boolean> {
  try {
    const st = (await call(ctx.clients.runtime, 'ContainerStatus', { container_id: id }, 10)).status;
    return !st || st.state === 2 || st.state === 3;
  } catch (err) {
    if (grpcCode(err) === GrpcStatus.NOT_FOUND) return true;
    throw err;
  }
}

const isMissing = (err: unknown) => (err as NodeJS.ErrnoException).code === 'ENOENT';

async function readAll(file: string): Promise<Buffer | undefined> {
  try {
    return await fsp.readFile(file);
  } catch (err) {
    if (isMissing(err)) return undefined;
    throw err;
  }
}

/** A whole log's logical lines (the last `tail` when tail >= 0). */
async function readEntries(file: string, tail: number): Promise<LogEntry[]> {
  const data = await readAll(file);
  if (data === undefined) return [];
  const split = new LineSplitter();
  const joiner = new LogJoiner();
  const entries: LogEntry[] = [];
  const lines = split.push(data);
  const last = split.take();
  if (last !== undefined) lines.push(last);
  for (const line of lines) {
    const l = parseLogLine(line);
    const e = l && joiner.push(l);
    if (e) entries.push(e);
  }
  entries.push(...joiner.flush());
  return tail >= 0 ? entries.slice(Math.max(0, entries.length - tail)) : entries;
}

/** Prints a whole log (the last `tail` logical lines when tail >= 0). */
async function printLog(ctx: CliContext, file: string, tail: number, timestamps: boolean): Promise<void> {
  await printEntries(ctx, await readEntries(file, tail), timestamps);
}

/** The newest attempt of each container of a pod, oldest created first. */
async function podContainers(ctx: CliContext, podId: string): Promise<Container__Output[]> {
  const list = (await call(ctx.clients.runtime, 'ListContainers', { filter: { pod_sandbox_id: podId } })).containers;
  const newest = new Map<string, Container__Output>();
  for (const c of list) {
    const name = c.metadata?.name ?? c.id;
    const prev = newest.get(name);
    if (!prev || (c.metadata?.attempt ?? 0) > (prev.metadata?.attempt ?? 0)) newest.set(name, c);
  }
  return [...newest.values()].sort((a, b) => (BigInt(a.created_at || '0') < BigInt(b.created_at || '0') ? -1 : 1));
}

/** Every container's log of a pod, merged in time order, each line prefixed with `[container]`. */
async function printPodLog(ctx: CliContext, podId: string, tail: number, timestamps: boolean): Promise<void> {
  const all: LogEntry[] = [];
  for (const c of await podContainers(ctx, podId)) {
    const prefix = `[${c.metadata?.name ?? c.id.slice(0, 13)}] `;
    for (const e of await readEntries(await logPathOf(ctx, c.id), tail)) all.push({ ...e, text: `${prefix}${e.text}` });
  }
  // CRI log timestamps (RFC 3339 with nanoseconds, as conmon writes them) sort as text; the sort is stable.
  all.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
  await printEntries(ctx, all, timestamps);
}

/** Follows every container of a pod (new attempts as they come; the last `tail` lines of each when tail >= 0) until all have exited or Ctrl-C. */
async function followPodLog(ctx: CliContext, podId: string, tail: number): Promise<number> {
  const printer = new LogPrinter({ out: ctx.out, color: ctx.color });
  let interrupted = false;
  const onSigint = () => (interrupted = true);
  process.on('SIGINT', onSigint);
  try {
    for (;;) {
      const containers = await podContainers(ctx, podId);
      for (const c of containers) await printer.follow(c.metadata?.name ?? c.id.slice(0, 13), await logPathOf(ctx, c.id), tail >= 0 ? tail : undefined);
      await printer.poll();
      if (interrupted) return 130;
      if (containers.length && containers.every((c) => c.state === 2 || c.state === 3)) return 0;
      await new Promise((r) => setTimeout(r, 300));
    }
  } finally {
    process.off('SIGINT', onSigint);
    await printer.stop();
  }
}

interface Open {
  fh: fsp.FileHandle;
  ino: number;
  pos: number;
}

async function openLog(file: string): Promise<Open | undefined> {
  try {
    const fh = await fsp.open(file, 'r');
    return { fh, ino: (await fh.stat()).ino, pos: 0 };
  } catch (err) {
    if (isMissing(err)) return undefined;
    throw err;
  }
}

/** Reads what the open file has past our position. */
async function readNew(f: Open): Promise<Buffer> {
  const size = (await f.fh.stat()).size;
  if (size < f.pos) f.pos = 0; // truncated in place
  const chunks: Buffer[] = [];
  for (;;) {
    const buf = Buffer.alloc(256 * 1024);
    const { bytesRead } = await f.fh.read(buf, 0, buf.length, f.pos);
    if (bytesRead === 0) break;
    f.pos += bytesRead;
    chunks.push(buf.subarray(0, bytesRead));
  }
  return Buffer.concat(chunks);
}

/**
 * Follows a log: prints what is there (the last `tail` lines), then what is appended, across
 * rotations (the file renamed and a new one opened: the old one is read to its end first). Ends
 * when the container has exited and the file is drained, or on SIGINT (exit 130).
 */
async function followLog(ctx: CliContext, id: string, file: string, tail: number, timestamps: boolean): Promise<number> {
  let interrupted = false;
  let wake: (() => void) | undefined;
  const onSigint = () => {
    interrupted = true;
    wake?.();
  };
  process.on('SIGINT', onSigint);
  const nap = (ms: number) =>
    new Promise<void>((r) => {
      const t = setTimeout(() => {
        wake = undefined;
        r();
      }, ms);
      wake = () => {
        clearTimeout(t);
        wake = undefined;
        r();
      };
    });
  const joiner = new LogJoiner();
  let split = new LineSplitter();
  const feed = async (data: Buffer, skipTo?: number) => {
    const entries: LogEntry[] = [];
    for (const line of split.push(data)) {
      const l = parseLogLine(line);
      const e = l && joiner.push(l);
      if (e) entries.push(e);
    }
    await printEntries(ctx, skipTo !== undefined && skipTo >= 0 ? entries.slice(Math.max(0, entries.length - skipTo)) : entries, timestamps);
  };
  let f: Open | undefined;
  let first = true;
  let lastCheck = 0;
  try {
    for (;;) {
      if (interrupted) return 130;
      f ??= await openLog(file);
      if (f) {
        await feed(await readNew(f), first ? tail : undefined);
        first = false;
        // rotated: a new file under the name (or none yet); the old one is drained above
        const now = await fsp.stat(file).catch((err: unknown) => {
          if (isMissing(err)) return undefined;
          throw err;
        });
        if (now && now.ino !== f.ino) {
          await feed(await readNew(f));
          await f.fh.close();
          f = await openLog(file);
          split = new LineSplitter();
          continue;
        }
      }
      if (Date.now() - lastCheck >= 500) {
        lastCheck = Date.now();
        if (await hasExited(ctx, id)) {
          // drained: read what was written up to the exit, and a file opened meanwhile
          if (!f) f = await openLog(file);
          if (f) await feed(await readNew(f), first ? tail : undefined);
          const rest = split.take();
          const l = rest !== undefined ? parseLogLine(rest) : undefined;
          const e = l && joiner.push(l);
          await printEntries(ctx, [...(e ? [e] : []), ...joiner.flush()], timestamps);
          return 0;
        }
      }
      await nap(100);
    }
  } finally {
    process.off('SIGINT', onSigint);
    await f?.fh.close();
  }
}

export const logsCommand: Command = {
  name: 'logs',
  synopsis: '[-f] [--tail N] [--timestamps] CONTAINER|POD',
  summary:
    "Print a container's log (its CRI log file on this node): stdout lines to stdout, stderr lines to stderr. For a pod (a word that names no container): every container's, each line prefixed with [container], in time order (-f: as they come, stdout and stderr together).",
  details: [
    '  -f, --follow          keep printing new lines until the container exits (or Ctrl-C); survives log rotation',
    '      --tail N          only the last N lines (default all)',
    '  -t, --timestamps      prefix each line with its timestamp',
  ].join('\n'),
  flags: { bool: ['follow', 'timestamps'], value: ['tail'], alias: { f: 'follow', t: 'timestamps' } },
  async run(args, ctx) {
    const word = args.positional[0];
    if (!word) throw new UsageError('missing CONTAINER');
    if (args.positional.length > 1) throw new UsageError(`unexpected argument "${args.positional[1]}"`);
    const tail = args.int('tail', -1);
    const timestamps = args.has('timestamps');
    const t = await resolve(ctx, word, ['container']).catch(async (err: unknown) => {
      // Not a container: a pod's word gives all its containers (an unknown word keeps the container error).
      const pod = await resolve(ctx, word, ['pod']).catch(() => undefined);
      if (!pod) throw err;
      return pod;
    });
    if (t.kind === 'pod') {
      if (args.has('follow')) return followPodLog(ctx, t.id, tail);
      await printPodLog(ctx, t.id, tail, timestamps);
      return 0;
    }
    const file = await logPathOf(ctx, t.id);
    if (args.has('follow')) return followLog(ctx, t.id, file, tail, timestamps);
    await printLog(ctx, file, tail, timestamps);
    return 0;
  },
};
