import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import { CribError } from './errors.js';

/** The pod and container a call touches, as far as it is known (a create learns its id midway). */
export interface CallIds {
  pod?: string;
  container?: string;
}

/** A call into the domain: which CRI method asked, an id for its log lines, and the caller's patience. */
export interface RequestContext {
  readonly method: string;
  readonly requestId: string;
  /** Filled in by the call and the domain; every log line of the call carries them. */
  readonly ids: CallIds;
  /** Aborted when the client cancels or its deadline passes: long work stops waiting and finishes quickly. */
  readonly signal: AbortSignal;
}

const current = new AsyncLocalStorage<RequestContext>();

/** Runs `fn` as part of `ctx`: every log line it leads to carries the method and request id. */
export function runInContext<T>(ctx: RequestContext, fn: () => T): T {
  return current.run(ctx, fn);
}

/** The call the current code runs for, if any. */
export function currentContext(): RequestContext | undefined {
  return current.getStore();
}

/** Random bytes for request ids, drawn a few hundred calls at a time (one system call each time, not one per call). */
const idPool = { bytes: Buffer.alloc(0), at: 0 };
const ID_BYTES = 4;

function newRequestId(): string {
  if (idPool.at + ID_BYTES > idPool.bytes.length) {
    idPool.bytes = randomBytes(1024);
    idPool.at = 0;
  }
  idPool.at += ID_BYTES;
  return idPool.bytes.toString('hex', idPool.at - ID_BYTES, idPool.at);
}

export function newContext(method: string, signal: AbortSignal, ids: CallIds = {}): RequestContext {
  return { method, requestId: newRequestId(), ids, signal };
}

/** For work no client asked for (startup recovery, the CLI, tests): never cancelled. */
export function internalContext(what: string): RequestContext {
  return newContext(what, new AbortController().signal);
}

/**
 * Waits for work that others may share (a pull several callers wait for) only as long as the
 * caller does: when `signal` fires, this caller gets its reason at once and the work goes on.
 */
export function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(abortReason(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof CribError ? signal.reason : new CribError('Cancelled', 'the call was cancelled');
}

/** How a call reaches the CRI: one answer, or a stream of them. */
export type CallKind = 'unary' | 'server_stream';

/**
 * Who watches calls begin and end (the Prometheus endpoint, when it is on). `begin` returns what
 * to call once the call has ended, with the name of its gRPC status code ("OK", "NOT_FOUND", ...).
 */
export interface CallObserver {
  begin(method: string, kind: CallKind): (code: string) => void;
}

let callObserver: CallObserver | undefined;

/** Sets (or with undefined, clears) the one observer of calls. */
export function observeCalls(observer: CallObserver | undefined): void {
  callObserver = observer;
}

const ignoreEnd = (): void => undefined;

/** For the CRI adapters (unary, serverStream): a call begins; call the result once when it ends. */
export function beginCall(method: string, kind: CallKind): (code: string) => void {
  return callObserver?.begin(method, kind) ?? ignoreEnd;
}
