import type * as grpc from '@grpc/grpc-js';
import { errorMessage } from '../util/errors.js';
import { runInContext, type RequestContext } from '../util/context.js';
import { callContext } from './call-context.js';
import { log } from '../util/log.js';
import { toStatus } from './errors.js';

/**
 * Adapts a server-streaming handler to grpc-js, as unary() does for unary calls: the handler writes
 * with `send` until it is done or the client goes away (its context's signal); a throw becomes the
 * call's status. `send` resolves once the message is taken, so a slow client slows the handler.
 */
export function serverStream<Req, Res>(
  method: string,
  fn: (req: Req, send: (res: Res) => Promise<void>, ctx: RequestContext) => Promise<void>,
): grpc.handleServerStreamingCall<Req, Res> {
  return (call) => {
    const { ctx, done } = callContext(method, call);
    const send = (res: Res) =>
      new Promise<void>((resolve) => {
        if (call.write(res)) resolve();
        else call.once('drain', resolve);
      });
    runInContext(ctx, () => fn(call.request, send, ctx)).then(
      () => {
        done();
        call.end();
      },
      (err: unknown) => {
        done();
        if (ctx.signal.aborted) return call.end();
        runInContext(ctx, () => log.info(`${method} failed`, { error: err }));
        // grpc-js ends a server stream with the status of an 'error' event.
        call.emit('error', Object.assign(new Error(errorMessage(err)), toStatus(err)));
      },
    );
  };
}
