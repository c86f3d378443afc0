import type * as grpc from '@grpc/grpc-js';
import { runInContext, type RequestContext } from '../util/context.js';
import { log, logsAt } from '../util/log.js';
import { callContext } from './call-context.js';
import { statusName, toStatus } from './errors.js';

/**
 * Adapts an async handler to grpc-js. The handler gets the call's context: the method, a request id
 * and the pod/container ids that every log line of the call carries, and a signal aborted when the
 * client cancels or its deadline passes. The response or a thrown error (as a status) goes back to the client.
 */
export function unary<Req, Res>(method: string, fn: (req: Req, ctx: RequestContext) => Promise<Res>): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    // The time of each call is a debug line: off (as on a node), the call takes no clock and no second context.
    const started = logsAt('debug') ? process.hrtime.bigint() : undefined;
    const { ctx, done } = callContext(method, 'unary', call);
    runInContext(ctx, () => fn(call.request, ctx)).then(
      (res) => {
        done('OK');
        if (started !== undefined) runInContext(ctx, () => log.debug(method, { ms: Number(process.hrtime.bigint() - started) / 1e6 }));
        callback(null, res);
      },
      (err: unknown) => {
        const status = toStatus(err);
        done(statusName(status.code));
        runInContext(ctx, () => log.info(`${method} failed`, { code: status.code, error: err }));
        callback(status);
      },
    );
  };
}
