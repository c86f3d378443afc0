import type * as grpc from '@grpc/grpc-js';
import { beginCall, newContext, type CallIds, type CallKind, type RequestContext } from '../util/context.js';
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
 * deadline passes. `done` takes the status the call ended with (a gRPC code's name), clears the
 * deadline timer and tells the call observer (the metrics).
 */
export function callContext(
  method: string,
  kind: CallKind,
  call: grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>,
): { ctx: RequestContext; done: (code: string) => void } {
  const ended = beginCall(method, kind);
  const abort = new AbortController();
  const ctx = newContext(method, abort.signal, requestIds(call.request));
  const cancelled = () => abort.abort(new CribError('Cancelled', `${method} was cancelled by the client`));
  call.once('cancelled', cancelled);
  const deadline = call.getDeadline();
  const ms = deadline instanceof Date ? deadline.getTime() - Date.now() : Number(deadline);
  const timer = Number.isFinite(ms)
    ? setTimeout(() => abort.abort(new CribError('DeadlineExceeded', `${method} ran past the client's deadline`)), Math.max(0, Math.min(ms, MAX_TIMER_MS)))
    : undefined;
  return {
    ctx,
    done: (code) => {
      clearTimeout(timer);
      // grpc-js says 'cancelled' of every call once its stream closes, answered or not: past this
      // point that is no cancellation, and not worth an error with its stack.
      call.removeListener('cancelled', cancelled);
      ended(code);
    },
  };
}
