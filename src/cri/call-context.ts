import type * as grpc from '@grpc/grpc-js';
import { newContext, type CallIds, type RequestContext } from '../util/context.js';
import { CribError } from '../util/errors.js';
import { MAX_TIMER_MS } from '../util/time.js';

/** The ids a CRI request names (`pod_sandbox_id`, `container_id`), for the call's log lines. */
export function requestIds(req: unknown): CallIds {
  const ids: CallIds = {};
  if (typeof req !== 'object' || req === null) return ids;
  const r = req as Record<string, unknown>;
  if (typeof r['pod_sandbox_id'] === 'string' && r['pod_sandbox_id']) ids.pod = r['pod_sandbox_id'];
  if (typeof r['container_id'] === 'string' && r['container_id']) ids.container = r['container_id'];
  return ids;
}

/**
 * The context of one incoming call: its ids, and a signal aborted when the client cancels or its
 * deadline passes. `done` clears the deadline timer once the call has answered.
 */
export function callContext(
  method: string,
  call: grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>,
): { ctx: RequestContext; done: () => void } {
  const abort = new AbortController();
  const ctx = newContext(method, abort.signal, requestIds(call.request));
  call.once('cancelled', () => abort.abort(new CribError('Cancelled', `${method} was cancelled by the client`)));
  const deadline = call.getDeadline();
  const ms = deadline instanceof Date ? deadline.getTime() - Date.now() : Number(deadline);
  const timer = Number.isFinite(ms)
    ? setTimeout(() => abort.abort(new CribError('DeadlineExceeded', `${method} ran past the client's deadline`)), Math.max(0, Math.min(ms, MAX_TIMER_MS)))
    : undefined;
  return { ctx, done: () => clearTimeout(timer) };
}
