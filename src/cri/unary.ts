import type * as grpc from '@grpc/grpc-js';
import { errorMessage } from '../util/errors.js';
import { log } from '../util/log.js';
import { toStatus } from './errors.js';

/** Adapts an async handler to grpc-js: resolves to the response, any throw becomes a status. */
export function unary<Req, Res>(method: string, fn: (req: Req) => Promise<Res>): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    const started = process.hrtime.bigint();
    fn(call.request).then(
      (res) => {
        log.debug(method, { ms: Number(process.hrtime.bigint() - started) / 1e6 });
        callback(null, res);
      },
      (err: unknown) => {
        const status = toStatus(err);
        log.info(`${method} failed`, { code: status.code, error: errorMessage(err) });
        callback(status);
      },
    );
  };
}
