import { currentContext } from './context.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const order: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

let threshold: LogLevel = 'info';
const said = new Set<string>();

export function setLogLevel(level: LogLevel): void {
  threshold = level;
}

function emit(level: LogLevel, msg: string, fields?: Record<string, unknown>): void {
  if (order[level] < order[threshold]) return;
  // A line written for a CRI call says which one: its method and request id.
  const ctx = currentContext();
  const all = ctx ? { method: ctx.method, req: ctx.requestId, ...fields } : fields;
  const extra = all
    ? ' ' +
      Object.entries(all)
        .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
        .join(' ')
    : '';
  process.stderr.write(`${new Date().toISOString()} ${level.padEnd(5)} ${msg}${extra}\n`);
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
