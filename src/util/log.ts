import { currentContext } from './context.js';
import { errorChain } from './errors.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
/** text: one `time level message key=value...` line (a terminal, journald); json: one object per line (log shippers). */
export type LogFormat = 'text' | 'json';
export const logFormats: readonly LogFormat[] = ['text', 'json'];
const order: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

let threshold: LogLevel = 'info';
let format: LogFormat = 'text';
const said = new Set<string>();

export function setLogLevel(level: LogLevel): void {
  threshold = level;
}

export function setLogFormat(f: LogFormat): void {
  format = f;
}

/**
 * A line's fields: those of the CRI call it is written for (method, request id, the pod and
 * container it touches), then the caller's; an Error becomes its message and the chain of its causes.
 */
export function lineFields(fields?: Record<string, unknown>): Record<string, unknown> {
  const ctx = currentContext();
  const out: Record<string, unknown> = ctx ? { method: ctx.method, req: ctx.requestId, ...ctx.ids } : {};
  for (const [k, v] of Object.entries(fields ?? {})) {
    if (v instanceof Error) {
      const [first, ...causes] = errorChain(v);
      out[k] = first;
      if (causes.length) out[`${k}Causes`] = causes;
    } else if (v !== undefined) out[k] = v;
  }
  return out;
}

/** One log line, without its newline. */
export function formatLine(f: LogFormat, time: Date, level: LogLevel, msg: string, fields: Record<string, unknown>): string {
  if (f === 'json') return JSON.stringify({ time: time.toISOString(), level, msg, ...fields });
  const extra = Object.entries(fields)
    .map(([k, v]) => ` ${k}=${JSON.stringify(v)}`)
    .join('');
  return `${time.toISOString()} ${level.padEnd(5)} ${msg}${extra}`;
}

/** Whether lines of `level` are written (for work done only to log them). */
export function logsAt(level: LogLevel): boolean {
  return order[level] >= order[threshold];
}

function emit(level: LogLevel, msg: string, fields?: Record<string, unknown>): void {
  if (!logsAt(level)) return;
  process.stderr.write(formatLine(format, new Date(), level, msg, lineFields(fields)) + '\n');
}

export const log = {
  debug: (msg: string, fields?: Record<string, unknown>) => emit('debug', msg, fields),
  info: (msg: string, fields?: Record<string, unknown>) => emit('info', msg, fields),
  warn: (msg: string, fields?: Record<string, unknown>) => emit('warn', msg, fields),
  error: (msg: string, fields?: Record<string, unknown>) => emit('error', msg, fields),
  /** Logs a message only the first time its key is seen in this process. */
  once: (key: string, level: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (said.has(key)) return;
    said.add(key);
    emit(level, msg, fields);
  },
};
