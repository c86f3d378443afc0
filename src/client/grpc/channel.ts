// A gRPC client channel over node:http2, for the calls the CLI makes: unary and server streaming,
// no compression, no TLS (a unix socket, or a pod's port for a probe). grpc-js does all this and
// far more, but loading it was the larger part of a CLI command's time.
import http2 from 'node:http2';
import net from 'node:net';
import { Readable } from 'node:stream';
import { FrameReader, decodeGrpcMessage, frameMessage, grpcTimeout, httpStatusToGrpc, rstCodeToGrpc } from './framing.js';
import { GrpcError, GrpcStatus } from './status.js';

/**
 * The largest reply taken: an ExecSync's (`crib exec`), two streams of up to 16 MiB each and a few
 * bytes more. What the client sends stays far below cribd's 16 MiB bound on a request.
 */
export const MAX_MESSAGE_BYTES = 33 * 1024 * 1024;

export type GrpcTarget = { socket: string } | { host: string; port: number };

interface CallHandle {
  /** Resolves at status OK, rejects with a GrpcError for any other end. */
  done: Promise<void>;
  cancel(): void;
  pause(): void;
  resume(): void;
}

const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e));

export class GrpcChannel {
  private session: http2.ClientHttp2Session | undefined;
  private sessionError: Error | undefined;
  private active = 0;
  private closed = false;

  constructor(
    private readonly target: GrpcTarget,
    private readonly userAgent = 'crib',
  ) {}

  /** One request message, one response message; `deadline` in ms since the epoch; `signal` cancels it. */
  unary(path: string, message: Buffer, deadline?: number, signal?: AbortSignal): Promise<Buffer> {
    const replies: Buffer[] = [];
    const handle = this.start(path, message, deadline, (m) => void replies.push(m));
    if (signal) {
      const cancel = () => handle.cancel();
      if (signal.aborted) cancel();
      else {
        signal.addEventListener('abort', cancel, { once: true });
        void handle.done.finally(() => signal.removeEventListener('abort', cancel)).catch(() => undefined);
      }
    }
    return handle.done.then(() => {
      const [reply] = replies;
      if (reply === undefined || replies.length > 1) throw new GrpcError(GrpcStatus.UNIMPLEMENTED, `${replies.length} response messages to a unary call`);
      return reply;
    });
  }

  /** One request message, a stream of decoded response messages (an object-mode Readable). */
  serverStream<T>(path: string, message: Buffer, decode: (m: Buffer) => T, deadline?: number): ServerStream<T> {
    return new ServerStream<T>((onMessage) => this.start(path, message, deadline, onMessage), decode);
  }

  /** No new calls; the connection ends once the calls still running have (as grpc-js's close). */
  close(): void {
    this.closed = true;
    if (this.active === 0) this.session?.destroy();
    else this.session?.close();
  }

  private start(path: string, message: Buffer, deadline: number | undefined, onMessage: (m: Buffer) => void): CallHandle {
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    let stream: http2.ClientHttp2Stream | undefined;
    let resolveDone!: () => void;
    let rejectDone!: (e: GrpcError) => void;
    const done = new Promise<void>((res, rej) => {
      resolveDone = res;
      rejectDone = rej;
    });
    const finish = (err: GrpcError | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      this.release();
      if (err) rejectDone(err);
      else resolveDone();
    };
    const abandon = (err: GrpcError) => {
      stream?.close(http2.constants.NGHTTP2_CANCEL);
      finish(err);
    };
    const handle: CallHandle = {
      done,
      cancel: () => abandon(new GrpcError(GrpcStatus.CANCELLED, 'Cancelled on client')),
      pause: () => stream?.pause(),
      resume: () => stream?.resume(),
    };
    if (this.closed) {
      finish(new GrpcError(GrpcStatus.CANCELLED, 'the channel is closed'));
      return handle;
    }
    this.acquire();
    let session: http2.ClientHttp2Session;
    try {
      session = this.connect();
      stream = session.request({
        ':method': 'POST',
        ':path': path,
        'content-type': 'application/grpc',
        te: 'trailers',
        'user-agent': this.userAgent,
        ...(deadline !== undefined ? { 'grpc-timeout': grpcTimeout(deadline - Date.now()) } : {}),
      });
    } catch (e) {
      finish(new GrpcError(GrpcStatus.UNAVAILABLE, errorText(this.sessionError ?? e)));
      return handle;
    }
    if (deadline !== undefined)
      timer = setTimeout(() => abandon(new GrpcError(GrpcStatus.DEADLINE_EXCEEDED, 'Deadline exceeded')), Math.max(0, deadline - Date.now()));
    const reader = new FrameReader(MAX_MESSAGE_BYTES);
    let httpStatus = 0;
    let status: GrpcError | null | undefined; // null: OK
    let streamError: Error | undefined;
    const readStatus = (h: http2.IncomingHttpHeaders) => {
      const code = Number(h['grpc-status']);
      const raw = h['grpc-message'];
      status =
        code === GrpcStatus.OK
          ? null
          : new GrpcError(Number.isInteger(code) ? code : GrpcStatus.UNKNOWN, decodeGrpcMessage(typeof raw === 'string' ? raw : ''));
    };
    stream.on('response', (h) => {
      httpStatus = Number(h[':status']);
      if (h['grpc-status'] !== undefined) readStatus(h); // trailers-only
    });
    stream.on('trailers', readStatus);
    stream.on('data', (chunk: Buffer) => {
      if (settled) return;
      try {
        for (const m of reader.push(chunk)) onMessage(m);
      } catch (e) {
        abandon(e instanceof GrpcError ? e : new GrpcError(GrpcStatus.INTERNAL, errorText(e)));
      }
    });
    stream.on('error', (e: Error) => {
      streamError = e;
    });
    stream.on('close', () => {
      if (status === null) finish(reader.partial ? new GrpcError(GrpcStatus.INTERNAL, 'the stream ended inside a message') : undefined);
      else if (status) finish(status);
      else if (httpStatus && httpStatus !== 200) finish(new GrpcError(httpStatusToGrpc(httpStatus), `Received HTTP status code ${httpStatus}`));
      else if (session.destroyed || !httpStatus)
        finish(
          new GrpcError(
            GrpcStatus.UNAVAILABLE,
            errorText(this.sessionError ?? streamError?.cause ?? streamError ?? 'the connection closed before the call ended'),
          ),
        );
      else if (stream?.rstCode) finish(new GrpcError(rstCodeToGrpc(stream.rstCode), `Received RST_STREAM with code ${stream.rstCode}`));
      else finish(new GrpcError(GrpcStatus.UNKNOWN, 'the call ended without a status'));
    });
    stream.end(frameMessage(message));
    return handle;
  }

  private connect(): http2.ClientHttp2Session {
    if (this.session && !this.session.closed && !this.session.destroyed) return this.session;
    const t = this.target;
    const s =
      'socket' in t
        ? http2.connect('http://localhost', { createConnection: () => net.connect(t.socket) })
        : http2.connect(`http://${net.isIPv6(t.host) ? `[${t.host}]` : t.host}:${t.port}`);
    this.sessionError = undefined;
    s.on('error', (e: Error) => {
      this.sessionError = e;
    });
    s.on('close', () => {
      if (this.session === s) this.session = undefined;
    });
    this.session = s;
    return s;
  }

  // An idle connection does not keep the process alive (as with grpc-js).
  private acquire(): void {
    this.active++;
    this.session?.ref();
  }

  private release(): void {
    if (--this.active === 0) this.session?.unref();
  }
}

/** A server-streaming call's messages; `cancel()` ends it with a CANCELLED error, as grpc-js does. */
export class ServerStream<T> extends Readable {
  private readonly handle: CallHandle;

  constructor(start: (onMessage: (m: Buffer) => void) => CallHandle, decode: (m: Buffer) => T) {
    super({ objectMode: true });
    this.handle = start((m) => {
      let value: T;
      try {
        value = decode(m);
      } catch (e) {
        this.destroy(new GrpcError(GrpcStatus.INTERNAL, `Response message parsing error: ${errorText(e)}`));
        this.handle.cancel();
        return;
      }
      if (!this.push(value)) this.handle.pause();
    });
    this.handle.done.then(
      () => this.push(null),
      (e: GrpcError) => this.destroy(e),
    );
  }

  override _read(): void {
    this.handle.resume();
  }

  cancel(): void {
    this.handle.cancel();
  }
}
