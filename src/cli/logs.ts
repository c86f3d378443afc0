import fsp from 'node:fs/promises';
import path from 'node:path';
import { call } from '../client/client.js';
import type { Command } from './command.js';
import type { ClientContext } from '../client/context.js';
import { CliError, UsageError, grpcCode } from '../client/errors.js';
import { GrpcStatus } from '../client/grpc/status.js';
import { parseInfo } from './output.js';
import { ANN_DEFAULT_CONTAINER, containersOf, parseKindWord, resolveContainerWord, resolvePodWord } from './address.js';
import { newestByName } from '../kube/records/newest.js';
import { resolve } from './resolve.js';
import { ANN_CONTAINER_TYPE } from '../kube/records/keys.js';
import { write } from './output.js';
import { LogTail } from './log-tail.js';
import type { Container__Output } from '../cri/generated/runtime/v1/Container.js';
import type { PodSandbox__Output } from '../cri/generated/runtime/v1/PodSandbox.js';

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

async function printEntries(ctx: ClientContext, entries: readonly LogEntry[], timestamps: boolean): Promise<void> {
  for (const e of entries) {
    const line = `${timestamps ? `${e.time} ` : ''}${e.text}${e.complete ? '\n' : ''}`;
    await write(e.stream === 'stderr' ? ctx.err : ctx.out, line);
  }
}

/** Where a container's log file is: ContainerStatus.log_path, or under the pod's log directory when relative. */
async function logPathOf(ctx: ClientContext, id: string): Promise<string> {
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
async function hasExited(ctx: ClientContext, id: string): Promise<boolean> {
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

/** Go's time.ParseDuration as kubectl's --since takes it (`90s`, `5m`, `1h30m`, `1.5h`), in milliseconds. Pure. */
export function parseGoDuration(s: string): number {
  const unit: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/gy;
  let ms = 0;
  let end = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    ms += Number(m[1]) * (unit[m[2] as string] as number);
    end = re.lastIndex;
  }
  if (s === '' || end !== s.length) throw new UsageError(`--since wants a duration such as 30s, 5m or 1h30m, not "${s}"`);
  return ms;
}

/** Whether a log entry was written at or after `since` (milliseconds since the epoch; undefined: all). */
function isSince(e: LogEntry, since: number | undefined): boolean {
  return since === undefined || Date.parse(e.time) >= since;
}

/** A whole log's logical lines since `since` (the last `tail` of them when tail >= 0). */
async function readEntries(file: string, tail: number, since?: number): Promise<LogEntry[]> {
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
    if (e && isSince(e, since)) entries.push(e);
  }
  entries.push(...joiner.flush().filter((e) => isSince(e, since)));
  return tail >= 0 ? entries.slice(Math.max(0, entries.length - tail)) : entries;
}

/** Prints a whole log since `since` (the last `tail` logical lines when tail >= 0). */
async function printLog(ctx: ClientContext, file: string, tail: number, timestamps: boolean, since: number | undefined): Promise<void> {
  await printEntries(ctx, await readEntries(file, tail, since), timestamps);
}

/** The newest attempt of each container of a pod, oldest created first. */
async function podContainers(ctx: ClientContext, podId: string): Promise<Container__Output[]> {
  const list = (await call(ctx.clients.runtime, 'ListContainers', { filter: { pod_sandbox_id: podId } })).containers;
  const newest = new Map<string, Container__Output>();
  for (const c of list) {
    const name = c.metadata?.name ?? c.id;
    const prev = newest.get(name);
    if (!prev || (c.metadata?.attempt ?? 0) > (prev.metadata?.attempt ?? 0)) newest.set(name, c);
  }
  return [...newest.values()].sort((a, b) => (BigInt(a.created_at || '0') < BigInt(b.created_at || '0') ? -1 : 1));
}

/**
 * Every container's log of a pod, merged in time order, each line prefixed with `[container]`. A
 * container's unfinished last line ends with a newline here, so the next container's line starts
 * on its own.
 */
async function printPodLog(ctx: ClientContext, podId: string, tail: number, timestamps: boolean, since: number | undefined): Promise<void> {
  const all: LogEntry[] = [];
  for (const c of await podContainers(ctx, podId)) {
    const prefix = `[${c.metadata?.name ?? c.id.slice(0, 13)}] `;
    for (const e of await readEntries(await logPathOf(ctx, c.id), tail, since)) all.push({ ...e, text: `${prefix}${e.text}`, complete: true });
  }
  // CRI log timestamps (RFC 3339 with nanoseconds, as the container monitor writes them) sort as text; the sort is stable.
  all.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
  await printEntries(ctx, all, timestamps);
}

/**
 * Follows every container of a pod, as `kubectl logs -f --all-containers` does: each container's
 * newest attempt (the last `tail` lines of each, then new ones, each prefixed `[name] `) until that
 * attempt stops running; ends when all have (0), or on SIGINT (130). Attempts made after the start
 * are not followed, as kubectl follows none.
 */
async function followPodLog(ctx: ClientContext, podId: string, tail: number): Promise<number> {
  const sig = new Interrupt();
  const followed = await Promise.all(
    (await podContainers(ctx, podId)).map(async (c) => ({
      id: c.id,
      prefix: `[${c.metadata?.name ?? c.id.slice(0, 13)}] `,
      log: new FollowedLog(await logPathOf(ctx, c.id), undefined),
    })),
  );
  const print = (prefix: string, entries: LogEntry[]) =>
    printEntries(
      ctx,
      entries.map((e) => ({ ...e, text: `${prefix}${e.text}`, complete: true })),
      false,
    );
  try {
    let first = true;
    let lastCheck = 0;
    for (let open = followed; open.length;) {
      if (sig.interrupted) return 130;
      const check = Date.now() - lastCheck >= 500;
      if (check) lastCheck = Date.now();
      const still: typeof open = [];
      for (const f of open) {
        const exited = check && (await hasExited(ctx, f.id));
        await print(f.prefix, await f.log.next(first && tail >= 0 ? tail : undefined));
        if (exited) {
          await print(f.prefix, f.log.end());
          await f.log.tail.close();
        } else still.push(f);
      }
      first = false;
      open = still;
      if (open.length) await sig.nap(100);
    }
    return 0;
  } finally {
    sig.dispose();
    for (const f of followed) await f.log.tail.close();
  }
}

/** Resolves on SIGINT (or after `ms`); `interrupted` says which. */
class Interrupt {
  interrupted = false;
  private wake: (() => void) | undefined;
  private readonly onSigint = () => {
    this.interrupted = true;
    this.wake?.();
  };

  constructor() {
    process.on('SIGINT', this.onSigint);
  }

  nap(ms: number): Promise<void> {
    return new Promise<void>((r) => {
      const t = setTimeout(() => {
        this.wake = undefined;
        r();
      }, ms);
      this.wake = () => {
        clearTimeout(t);
        this.wake = undefined;
        r();
      };
    });
  }

  dispose(): void {
    process.off('SIGINT', this.onSigint);
  }
}

/** One container's log as it grows: bytes in, logical lines out (partials joined, --since applied). */
class FollowedLog {
  readonly tail: LogTail;
  private readonly split = new LineSplitter();
  private readonly joiner = new LogJoiner();

  constructor(
    file: string,
    private readonly since: number | undefined,
  ) {
    this.tail = new LogTail(file);
  }

  /** What was written since the last call, to the end of the file (the last `last` lines when given). */
  async next(last?: number): Promise<LogEntry[]> {
    const entries: LogEntry[] = [];
    let whole = last !== undefined && last >= 0;
    do {
      for (const line of this.split.push(await this.tail.read(whole))) {
        const l = parseLogLine(line);
        const e = l && this.joiner.push(l);
        if (e && isSince(e, this.since)) entries.push(e);
      }
      whole = false;
    } while (this.tail.more);
    return last !== undefined && last >= 0 ? entries.slice(Math.max(0, entries.length - last)) : entries;
  }

  /** The log is over: an unfinished last line and open partials, as they are. */
  end(): LogEntry[] {
    const rest = this.split.take();
    const l = rest !== undefined ? parseLogLine(rest) : undefined;
    const e = l && this.joiner.push(l);
    return [...(e ? [e] : []), ...this.joiner.flush()].filter((x) => isSince(x, this.since));
  }
}

/**
 * Follows one container attempt's log as kubelet's ReadLogs does for `kubectl logs -f`: what is
 * there (the last `tail` lines), then what is appended, across rotations (see LogTail), until the
 * container is no longer running and its log is read to the end (exit 0), or SIGINT (exit 130).
 * A restart does not carry it on to the next attempt (kubelet ends the stream when the container
 * it follows stops running; kubectl then exits): `crib logs -f` again follows the new one, and
 * `--previous` prints this one.
 */
async function followLog(ctx: ClientContext, id: string, file: string, tail: number, timestamps: boolean, since: number | undefined): Promise<number> {
  const sig = new Interrupt();
  const log = new FollowedLog(file, since);
  try {
    let first = true;
    let lastCheck = 0;
    for (;;) {
      if (sig.interrupted) return 130;
      // The state is asked before the file is read: once it says exited, this read sees every line.
      const exited = Date.now() - lastCheck >= 500 && ((lastCheck = Date.now()), await hasExited(ctx, id));
      await printEntries(ctx, await log.next(first ? tail : undefined), timestamps);
      first = false;
      if (exited) {
        await printEntries(ctx, log.end(), timestamps);
        return 0;
      }
      await sig.nap(100);
    }
  } finally {
    sig.dispose();
    await log.tail.close();
  }
}

export const logsCommand: Command = {
  name: 'logs',
  synopsis: '[-f] [--tail N] [--since DURATION] [-t] [-p] [-c CONTAINER | --all-containers] POD|CONTAINER',
  summary:
    "Print a container's log (its CRI log file on this node): stdout lines to stdout, stderr lines to stderr. For a pod: its default container's (kubectl.kubernetes.io/default-container, or its only one); for a pod of several containers and no default (or --all-containers): every container's, each line prefixed with [container], in time order (-f: as they come).",
  details: [
    '  -f, --follow          keep printing new lines until the container stops running (or Ctrl-C), across',
    '                        log rotations; as kubectl, a restart ends it (crib logs -f again follows the',
    '                        new attempt, --previous prints the one that ended)',
    '      --tail N          only the last N lines (default -1: all)',
    '      --since DURATION  only lines written in the last DURATION (5s, 2m, 1h30m; default: all)',
    '      --since-time TIME only lines written at or after TIME (RFC 3339, 2024-05-01T10:00:00Z)',
    '  -t, --timestamps      prefix each line with its timestamp (RFC 3339, nanoseconds)',
    '  -p, --previous        the previous attempt of the container (the one before a restart)',
    "  -c, --container NAME  the pod's container to print",
    '      --all-containers  every container of the pod, merged (the default for a pod of several',
    '                        containers with no kubectl.kubernetes.io/default-container)',
    '',
    'POD is a pod (id, prefix or name) or KIND/NAME (deployment/web, job/migrate: one of the pods crib run',
    'made for it); CONTAINER an id, prefix, name or POD/CONTAINER.',
    '',
    'Examples:',
    '  crib logs -f --tail 20 web-7d9c -c web   the last 20 lines of container web, then new ones',
    "  crib logs --previous web-7d9c            the default container's log before its last restart",
    '  crib logs --since 10m job/migrate        what a pod of job migrate wrote in the last 10 minutes',
  ].join('\n'),
  flags: {
    bool: ['follow', 'timestamps', 'previous', 'all-containers'],
    value: ['tail', 'since', 'since-time', 'container'],
    alias: { f: 'follow', t: 'timestamps', p: 'previous', c: 'container' },
  },
  async run(args, ctx) {
    const word = args.positional[0];
    if (!word) throw new UsageError('missing POD or CONTAINER');
    if (args.positional.length > 1) throw new UsageError(`unexpected argument "${args.positional[1]}"`);
    const tail = args.int('tail', -1);
    const timestamps = args.has('timestamps');
    const since = sinceOf(args.get('since'), args.get('since-time'));
    const name = args.get('container');
    const allContainers = args.has('all-containers');
    if (allContainers && name !== undefined) throw new UsageError('--all-containers and -c name different things: give one');
    if (allContainers && args.has('previous')) throw new UsageError('--previous wants one container: give -c NAME');
    const t = await logTarget(ctx, word, name, allContainers || args.has('previous') ? (allContainers ? 'all' : 'one') : 'auto');
    if (t.kind === 'pod') {
      if (args.has('follow')) {
        if (since !== undefined) throw new UsageError('--since with -f on a whole pod: name a container (-c NAME)');
        return followPodLog(ctx, t.pod.id, tail);
      }
      await printPodLog(ctx, t.pod.id, tail, timestamps, since);
      return 0;
    }
    const container = args.has('previous') ? await previousAttempt(ctx, t.container) : t.container;
    const file = await logPathOf(ctx, container.id);
    if (args.has('follow') && !args.has('previous')) return followLog(ctx, container.id, file, tail, timestamps, since);
    await printLog(ctx, file, tail, timestamps, since);
    return 0;
  },
};

/** --since / --since-time as milliseconds since the epoch (undefined: from the start). */
function sinceOf(duration: string | undefined, time: string | undefined): number | undefined {
  if (duration !== undefined && time !== undefined) throw new UsageError('--since and --since-time: give one');
  if (duration !== undefined) return Date.now() - parseGoDuration(duration);
  if (time === undefined) return undefined;
  const at = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(time) ? Date.parse(time) : NaN;
  if (Number.isNaN(at)) throw new UsageError(`--since-time wants an RFC 3339 time such as 2024-05-01T10:00:00Z, not "${time}"`);
  return at;
}

type LogTarget = { kind: 'pod'; pod: PodSandbox__Output } | { kind: 'container'; container: Container__Output };

/**
 * What a word's log is: a container's, or a whole pod's merged. `auto` (no -c, -p or --all-containers)
 * keeps a pod of several containers and no default-container annotation whole.
 */
async function logTarget(ctx: ClientContext, word: string, name: string | undefined, mode: 'auto' | 'one' | 'all'): Promise<LogTarget> {
  if (mode === 'all') return { kind: 'pod', pod: await resolvePodWord(ctx, word) };
  if (mode === 'auto' && name === undefined) {
    const asContainer = parseKindWord(word) ? undefined : await resolve(ctx, word, ['container']).catch(() => undefined);
    if (asContainer?.kind === 'container') return { kind: 'container', container: asContainer.container };
    const pod = await resolvePodWord(ctx, word).catch(() => undefined);
    if (pod && newestByName(await containersOf(ctx, pod.id)).length > 1 && pod.annotations[ANN_DEFAULT_CONTAINER] === undefined) return { kind: 'pod', pod };
  }
  return { kind: 'container', container: (await resolveContainerWord(ctx, word, name)).container };
}

/** The attempt of a container before its newest one (kubectl logs --previous). */
async function previousAttempt(ctx: ClientContext, c: Container__Output): Promise<Container__Output> {
  const name = c.metadata?.name ?? '';
  const attempts = (await containersOf(ctx, c.pod_sandbox_id)).filter(
    (x) => x.metadata?.name === name && x.annotations[ANN_CONTAINER_TYPE] === c.annotations[ANN_CONTAINER_TYPE],
  );
  const newest = Math.max(...attempts.map((x) => x.metadata?.attempt ?? 0));
  const prev = attempts.filter((x) => (x.metadata?.attempt ?? 0) < newest).sort((a, b) => (b.metadata?.attempt ?? 0) - (a.metadata?.attempt ?? 0))[0];
  if (!prev) throw new CliError(`previous terminated container "${name}" not found (it has not restarted, or the earlier attempt was removed)`);
  return prev;
}
