// Port forwarding (kubelet's streaming/portforward): over SPDY, each forwarded TCP connection is a
// pair of streams (data, error) sharing a requestID; over WebSocket, each port given in the URL is a
// pair of channels (2i data, 2i+1 error) opened with the port as a little-endian uint16.

import { Duplex, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { WebSocket } from 'ws';
import { errorMessage } from '../util/errors.js';
import { log } from '../util/log.js';
import { linkSessionAbort, type SessionOptions } from './remotecommand.js';
import { SpdyConnection, type SpdyStream } from './spdy/connection.js';
import { WebSocketChannels, channelCodec } from './websocket.js';
import type { PortForwardRequest } from './types.js';

/**
 * Once the pod side has closed and everything it sent is delivered, how long the client has to
 * close its side before the connection is torn down. crictl and kubectl close theirs only after
 * the error stream ends, which happens at once; 1 s is containerd's (and socat's) grace.
 */
export const HALF_CLOSE_GRACE_MS = 1000;

/**
 * Carries bytes both ways between the client's stream and the pod's port until the pod side has
 * closed (and the client had its grace) or either side fails. Errors connecting go to `errorOut`,
 * which is ended either way; the target is destroyed at the end.
 */
export async function forwardPort(client: Duplex, errorOut: Writable, connect: () => Promise<Duplex>, describe: string, signal: AbortSignal): Promise<void> {
  let target: Duplex | undefined;
  try {
    target = await connect();
    const toPod = pipeline(client, target, { end: true });
    // The client reads the error stream to its end before it closes its side: end it once the pod is done.
    const fromPod = pipeline(target, client, { end: true }).finally(() => errorOut.end());
    const graceTimer: { t?: NodeJS.Timeout } = {};
    const grace = fromPod.then(() => new Promise<void>((resolve) => (graceTimer.t = setTimeout(resolve, HALF_CLOSE_GRACE_MS))));
    try {
      await Promise.race([Promise.all([toPod, fromPod]), grace]);
    } finally {
      clearTimeout(graceTimer.t);
      toPod.catch(() => undefined);
      grace.catch(() => undefined);
    }
  } catch (err) {
    if (!signal.aborted) {
      log.info('streaming: port forward failed', { target: describe, error: err });
      if (errorOut.writable) errorOut.write(`error forwarding ${describe}: ${errorMessage(err)}`);
    }
  } finally {
    target?.destroy();
    errorOut.end();
    client.end();
  }
}

// ---- over SPDY ----------------------------------------------------------------------------------

interface StreamPair {
  data?: SpdyStream;
  error?: SpdyStream;
  timer: NodeJS.Timeout;
}

/** The port a stream names, or why it cannot be forwarded. */
export function streamPort(value: string | undefined): number | string {
  if (!value) return 'the "port" header is required';
  if (!/^[0-9]{1,5}$/.test(value) || Number(value) < 1 || Number(value) > 65535) return `${JSON.stringify(value.slice(0, 20))} is not a port`;
  return Number(value);
}

/**
 * A port-forward session over SPDY, on a socket already answered 101. Streams come in (data,
 * error) pairs; each complete pair is one TCP connection to the pod. Settles when the socket closes.
 */
export async function servePortForwardSpdy(socket: Duplex, head: Buffer, req: PortForwardRequest, s: SessionOptions): Promise<void> {
  const pairs = new Map<string, StreamPair>();
  const forwards = new Set<Promise<void>>();
  const abort = new AbortController();

  const dropPair = (id: string, why: string) => {
    const pair = pairs.get(id);
    if (!pair) return;
    pairs.delete(id);
    clearTimeout(pair.timer);
    pair.error?.end(why);
    pair.data?.reset();
  };

  const onStream = (stream: SpdyStream): boolean => {
    const port = streamPort(stream.header('port'));
    const type = stream.header('streamtype');
    if (typeof port === 'string' || (type !== 'data' && type !== 'error')) {
      log.info('streaming: refusing a port-forward stream', { reason: typeof port === 'string' ? port : `stream type ${JSON.stringify(type ?? '')}` });
      return false;
    }
    // Clients before requestID paired streams by id: the error stream first, the data stream next (kubelet does the same).
    const id = stream.header('requestid') ?? String(type === 'error' ? stream.id : stream.id - 2);
    let pair = pairs.get(id);
    if (!pair) {
      pair = { timer: setTimeout(() => dropPair(id, `timed out waiting for the streams of request ${id}`), s.streamCreationTimeoutMs) };
      pairs.set(id, pair);
    }
    if (pair[type]) {
      log.info('streaming: refusing a repeated port-forward stream', { requestId: id, streamType: type });
      return false;
    }
    pair[type] = stream;
    const { data, error } = pair;
    if (data && error) {
      clearTimeout(pair.timer);
      pairs.delete(id);
      error.resume(); // the client sends nothing on it; reading lets its FIN close it
      const signal = abort.signal;
      const done = forwardPort(data, error, () => s.runtime.portForward(req.podSandboxId, port, signal), `port ${port} of pod ${req.podSandboxId}`, signal);
      forwards.add(done);
      void done.finally(() => forwards.delete(done));
    }
    return true;
  };

  const conn = new SpdyConnection(socket, head, { onStream, idleTimeoutMs: s.idleTimeoutMs });
  linkSessionAbort(abort, s.signal, conn.closed);
  abort.signal.addEventListener('abort', () => conn.destroy(), { once: true });
  await conn.closed;
  for (const id of [...pairs.keys()]) dropPair(id, 'session closed');
  await Promise.all(forwards);
}

// ---- over WebSocket -----------------------------------------------------------------------------

/** The ports of a WebSocket port forward: the URL's `port` parameters (comma lists allowed), else the CRI request's. */
export function webSocketPorts(url: URL, req: PortForwardRequest): number[] | string {
  const given = url.searchParams.getAll('port').flatMap((v) => v.split(','));
  if (given.length === 0) return req.ports.length > 0 ? req.ports : 'query parameter "port" is required';
  const ports: number[] = [];
  for (const v of given) {
    const p = streamPort(v);
    if (typeof p === 'string') return p;
    ports.push(p);
  }
  return ports;
}

/** The first message of each channel: the port, little-endian. */
function portPrefix(port: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(port);
  return b;
}

/** A port-forward session over an accepted WebSocket: one connection per port. Settles when it is closed. */
export async function servePortForwardWebSocket(
  ws: WebSocket,
  protocol: string,
  ports: readonly number[],
  req: PortForwardRequest,
  s: SessionOptions,
): Promise<void> {
  const channels = new WebSocketChannels(ws, channelCodec(protocol), {
    readable: ports.map((_, i) => 2 * i),
    writable: ports.flatMap((_, i) => [2 * i, 2 * i + 1]),
    idleTimeoutMs: s.idleTimeoutMs,
  });
  const abort = new AbortController();
  linkSessionAbort(abort, s.signal, channels.closed);
  abort.signal.addEventListener('abort', () => channels.close(1001, 'closing'), { once: true });
  await Promise.all(
    ports.map(async (port, i) => {
      const readable = channels.reader(2 * i);
      const writable = channels.writer(2 * i);
      const errorOut = channels.writer(2 * i + 1);
      if (!readable || !writable || !errorOut) return;
      writable.write(portPrefix(port));
      errorOut.write(portPrefix(port));
      const client = Duplex.from({ readable, writable });
      await forwardPort(
        client,
        errorOut,
        () => s.runtime.portForward(req.podSandboxId, port, abort.signal),
        `port ${port} of pod ${req.podSandboxId}`,
        abort.signal,
      );
    }),
  );
  channels.close(1000, '');
  await channels.closed;
}
