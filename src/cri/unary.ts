import type * as grpc from '@grpc/grpc-js';
import { runInContext, type RequestContext } from '../util/context.js';
import { log } from '../util/log.js';
import { callContext } from './call-context.js';
import { toStatus } from './errors.js';

/**
 * Adapts an async handler to grpc-js. The handler gets the call's context: the method, a request id
 * and the pod/container ids that every log line of the call carries, and a signal aborted when the
 * client cancels or its deadline passes. The response or a thrown error (as a status) goes back to the client.
 */
export function unary<Req, Res>(method: string, fn: (req: Req, ctx: RequestContext) => Promise<Res>): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    const started = process.hrtime.bigint();
    const { ctx, done } = callContext(method, call);
    runInContext(ctx, () => fn(call.request, ctx)).then(
      (res) => {
        done();
        runInContext(ctx, () => log.debug(method, { ms: Number(process.hrtime.bigint() - started) / 1e6 }));
        callback(null, res);
      },
      (err: unknown) => {
        done();
        const status = toStatus(err);
        runInContext(ctx, () => log.info(`${method} failed`, { code: status.code, error: err }));
        callback(status);
      },
    );
  };
}
