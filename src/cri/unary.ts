import type * as grpc from '@grpc/grpc-js';
import { beginCall, newRequestId, runInContext, type RequestContext } from '../util/context.js';
import { CribError, errorMessage } from '../util/errors.js';
import { log } from '../util/log.js';
import { MAX_TIMER_MS } from '../util/time.js';
import { statusName, toStatus } from './errors.js';

/**
 * Adapts an async handler to grpc-js. The handler gets the call's context: the method, a request id
 * that every log line of the call carries, and a signal aborted when the client cancels or its
 * deadline passes. The response or a thrown error (as a status) goes back to the client.
 */
export function unary<Req, Res>(method: string, fn: (req: Req, ctx: RequestContext) => Promise<Res>): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    const started = process.hrtime.bigint();
    const ended = beginCall(method, 'unary');
    const abort = new AbortController();
    const ctx: RequestContext = { method, requestId: newRequestId(), signal: abort.signal };
    call.once('cancelled', () => abort.abort(new CribError('Cancelled', `${method} was cancelled by the client`)));
    const deadline = call.getDeadline();
    const ms = deadline instanceof Date ? deadline.getTime() - Date.now() : Number(deadline);
    const timer = Number.isFinite(ms)
      ? setTimeout(() => abort.abort(new CribError('DeadlineExceeded', `${method} ran past the client's deadline`)), Math.max(0, Math.min(ms, MAX_TIMER_MS)))
      : undefined;
    runInContext(ctx, () => fn(call.request, ctx)).then(
      (res) => {
        clearTimeout(timer);
        runInContext(ctx, () => log.debug(method, { ms: Number(process.hrtime.bigint() - started) / 1e6 }));
        ended('OK');
        callback(null, res);
      },
      (err: unknown) => {
        clearTimeout(timer);
        const status = toStatus(err);
        runInContext(ctx, () => log.info(`${method} failed`, { code: status.code, error: errorMessage(err) }));
        ended(statusName(status.code));
        callback(status);
      },
    );
  };
}
