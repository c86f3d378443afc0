import type { ClientContext } from '../client/context.js';
import { yaml } from '../util/yaml.js';
import { UsageError } from '../client/errors.js';

const codes = { bold: [1, 22], dim: [2, 22], red: [31, 39], green: [32, 39], yellow: [33, 39], cyan: [36, 39] } as const;
export type Style = keyof typeof codes;

/** Wraps text in an ANSI style when the context wants colour; plain text otherwise. */
export function paint(ctx: Pick<ClientContext, 'color'>, style: Style | undefined, text: string): string {
  if (!ctx.color || !style || text === '') return text;
  const [on, off] = codes[style];
  return `\x1b[${on}m${text}\x1b[${off}m`;
}

/** The colour of a pod or container state word. */
export function stateStyle(state: string): Style {
  switch (state) {
    case 'Ready':
    case 'Running':
      return 'green';
    case 'Created':
    case 'NotReady':
      return 'yellow';
    default:
      return 'red';
  }
}

/**
 * Text that came from a container or a request, safe to print on a terminal: control characters
 * (C0, DEL and C1, where ESC and CSI start the sequences that set the title or clear the screen)
 * are shown as \xNN.
 */
export function terminalSafe(text: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are what this escapes
  return text.replace(/[\x00-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

export interface Cell {
  text: string;
  style?: Style;
}

/** A crictl-like table: columns padded to their widest cell plus three spaces, a bold header; cells terminal-safe. */
export function renderTable(ctx: Pick<ClientContext, 'color'>, header: readonly string[], rows: readonly (readonly (string | Cell)[])[]): string {
  const cells = rows.map((r) => r.map((c): Cell => (typeof c === 'string' ? { text: terminalSafe(c) } : { ...c, text: terminalSafe(c.text) })));
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]?.text.length ?? 0)));
  const line = (r: readonly Cell[]) =>
    r
      .map((c, i) => {
        const pad = i === r.length - 1 ? '' : ' '.repeat((widths[i] ?? 0) - c.text.length + 3);
        return paint(ctx, c.style, c.text) + pad;
      })
      .join('');
  return [line(header.map((h) => ({ text: h, style: 'bold' as const }))), ...cells.map(line)].join('\n') + '\n';
}

/**
 * `-o FORMAT`, the one parse of it: one of the command's `formats`, the first when absent (a table,
 * or JSON for the commands that print documents); anything else is a usage error naming them.
 */
export function outputFormat<F extends string>(value: string | undefined, formats: readonly [F, F, ...F[]]): F {
  const v = value ?? formats[0];
  if ((formats as readonly string[]).includes(v)) return v as F;
  throw new UsageError(`-o wants ${formats.slice(0, -1).join(', ')} or ${formats.at(-1)}, not "${v}"`);
}

/** Prints data as JSON (two-space indented) or YAML (its module loaded only then: most calls print tables). */
export function printData(ctx: ClientContext, format: 'json' | 'yaml', data: unknown): void {
  ctx.out.write(format === 'json' ? JSON.stringify(data, null, 2) + '\n' : yaml().stringify(data));
}

/** Verbose info maps hold JSON documents or plain strings; show both as data. */
export function parseInfo(info: Record<string, string>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(info).map(([k, v]) => {
      try {
        return [k, JSON.parse(v) as unknown];
      } catch {
        return [k, v];
      }
    }),
  );
}

/**
 * A CRI timestamp (nanoseconds since the epoch, as a decimal string) as Go's RFC3339Nano in UTC,
 * the way crictl inspect and inspectp print createdAt, startedAt and finishedAt: trailing zeros of
 * the fraction dropped, and 0 as Go's zero time.
 */
export function rfc3339Nano(nanos: string): string {
  let n: bigint;
  try {
    n = BigInt(nanos);
  } catch {
    return nanos;
  }
  if (n === 0n) return '0001-01-01T00:00:00Z';
  const secs = n / 1_000_000_000n;
  const frac = (n % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  return `${new Date(Number(secs) * 1000).toISOString().slice(0, 19)}${frac ? `.${frac}` : ''}Z`;
}

/** Replaces a JSON status's CRI timestamps with crictl inspect's RFC3339Nano strings. */
export function withInspectTimes(status: Record<string, unknown> | null, fields: readonly string[]): Record<string, unknown> | null {
  if (!status) return status;
  return { ...status, ...Object.fromEntries(fields.filter((f) => typeof status[f] === 'string').map((f) => [f, rfc3339Nano(status[f] as string)])) };
}

/** Docker's (go-units) HumanDuration: "5 seconds", "About a minute", "3 hours". */
export function humanDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 1) return 'Less than a second';
  if (s === 1) return '1 second';
  if (s < 60) return `${s} seconds`;
  const m = Math.floor(s / 60);
  if (m === 1) return 'About a minute';
  if (m < 60) return `${m} minutes`;
  const h = Math.round(s / 3600);
  if (h === 1) return 'About an hour';
  if (h < 48) return `${h} hours`;
  const d = Math.floor(h / 24);
  if (d < 14) return `${d} days`;
  if (d < 90) return `${Math.floor(d / 7)} weeks`;
  if (d < 730) return `${Math.floor(d / 30)} months`;
  return `${Math.floor(d / 365)} years`;
}

/** How long ago a CRI timestamp (nanoseconds since the epoch, as a decimal string) was. */
export function ago(nanos: string | number): string {
  let ms: number;
  try {
    ms = Number(BigInt(nanos) / 1_000_000n);
  } catch {
    return '';
  }
  if (ms <= 0) return '';
  return `${humanDuration(Math.max(0, Date.now() - ms))} ago`;
}

const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];

/** Decimal sizes as docker and crictl print them: "1.47MB", "512B". */
export function humanSize(bytes: number, sep = ''): string {
  let v = bytes;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${Number(v.toPrecision(4))}${sep}${units[u]}`;
}

/** One decimal, a space: "12.3 MB" (progress lines). */
export function progressSize(bytes: number): string {
  let v = bytes;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(1)} ${units[u]}`;
}

/** The first 13 characters of an id (crictl's truncation), without a `sha256:` prefix. */
export function shortId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 13);
}

export const podStateName = (s: number): string => (s === 0 ? 'Ready' : 'NotReady');
export const containerStateName = (s: number): string => ['Created', 'Running', 'Exited'][s] ?? 'Unknown';

/** `--label k=v` values as a map (usage error on a word without `=`). */
export function labelSelector(values: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const i = v.indexOf('=');
    if (i <= 0) throw new UsageError(`--label wants KEY=VALUE, not "${v}"`);
    out[v.slice(0, i)] = v.slice(i + 1);
  }
  return out;
}

export function matchesLabels(labels: Record<string, string> | undefined, want: Record<string, string>): boolean {
  return Object.entries(want).every(([k, v]) => labels?.[k] === v);
}

/** crictl's --name/--namespace filters are regular expressions. */
export function nameMatcher(pattern: string | undefined): (s: string) => boolean {
  if (pattern === undefined) return () => true;
  let re: RegExp;
  try {
    re = new RegExp(pattern);
  } catch {
    throw new UsageError(`not a regular expression: ${pattern}`);
  }
  return (s) => re.test(s);
}

/** Writes and waits for the bytes to be taken (so exit codes never cut output short). */
export function write(stream: NodeJS.WritableStream, data: Buffer | string): Promise<void> {
  if (data.length === 0) return Promise.resolve();
  return new Promise((resolveWrite) => {
    if (stream.write(data)) resolveWrite();
    else stream.once('drain', () => resolveWrite());
  });
}
