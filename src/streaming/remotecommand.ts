// Exec and attach sessions (kubelet's streaming/remotecommand): gather the client's streams, run
// the command through the runtime, report how it ended on the error stream, close.

import { finished } from 'node:stream/promises';
import type { Duplex, Readable, Writable } from 'node:stream';
import type { WebSocket } from 'ws';
import { errorMessage } from '../util/errors.js';
import { log } from '../util/log.js';
import { terminalSizes } from './resize.js';
import { SpdyConnection, type SpdyStream } from './spdy/connection.js';
import { Channel, WebSocketChannels, channelCodec } from './websocket.js';
import type { AttachRequest, ExecRequest, ProcessStreams, StreamingRuntime } from './types.js';

/** How long the client has to open its streams after the upgrade (kubelet's DefaultStreamCreationTimeout). */
export const STREAM_CREATION_TIMEOUT_MS = 30_000;

export type RemoteCommandTarget = { kind: 'exec'; req: ExecRequest } | { kind: 'attach'; req: AttachRequest };

/** What every session gets from the server. */
export interface SessionOptions {
  runtime: StreamingRuntime;
  idleTimeoutMs: number;
  streamCreationTimeoutMs: number;
  /** Aborted when the server closes. */
  signal: AbortSignal;
}

// ---- the status on the error stream (a metav1.Status) -------------------------------------------

export interface StatusCause {
  reason?: string;
  message: string;
}

/** metav1.Status with the fields kubelet fills, in Go's field order. */
export interface ApiStatus {
  metadata: Record<string, never>;
  status: 'Success' | 'Failure';
  message?: string;
  reason?: string;
  details?: { causes: StatusCause[] };
  code?: number;
}

export function successStatus(): ApiStatus {
  return { metadata: {}, status: 'Success' };
}

/** As kubelet reports a non-zero exit; clients read the code from the ExitCode cause. */
export function exitCodeStatus(cmd: readonly string[], exitCode: number): ApiStatus {
  return {
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: error executing command [${cmd.join(' ')}], exit code ${exitCode}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(exitCode) }] },
  };
}

/** apierrors.NewInternalError, as kubelet reports a runtime failure. */
export function internalErrorStatus(message: string): ApiStatus {
  return {
    metadata: {},
    status: 'Failure',
    message: `Internal error occurred: ${message}`,
    reason: 'InternalError',
    details: { causes: [{ message }] },
    code: 500,
  };
}

/**
 * The error stream's bytes: v4 and later carry the Status as JSON (success included); earlier
 * protocols carry only a failure's message as text, and nothing for success.
 */
export function encodeStatus(status: ApiStatus, json: boolean): Buffer | undefined {
  if (json) return Buffer.from(JSON.stringify(status));
  return status.status === 'Success' ? undefined : Buffer.from(status.message ?? 'unknown error');
}

function jsonStatusProtocol(protocol: string): boolean {
  return protocol.startsWith('v4.') || protocol.startsWith('v5.');
}

// ---- running the command ------------------------------------------------------------------------

/** The streams of a session, whatever carries them. */
export interface RemoteCommandChannels {
  stdin?: Readable;
  stdout?: Writable;
  stderr?: Writable;
  /** Bytes of JSON sizes. */
  resize?: Readable;
  error: Writable;
}

/** Runs the exec or attach and writes its status; ends the output streams and waits for them to drain. */
export async function runRemoteCommand(
  target: RemoteCommandTarget,
  ch: RemoteCommandChannels,
  jsonStatus: boolean,
  runtime: StreamingRuntime,
  signal: AbortSignal,
): Promise<void> {
  const io: ProcessStreams = { signal };
  if (ch.stdin) io.stdin = ch.stdin;
  if (ch.stdout) io.stdout = ch.stdout;
  if (ch.stderr) io.stderr = ch.stderr;
  if (ch.resize && target.req.tty) {
    io.resize = terminalSizes(ch.resize, (err) => log.info('streaming: ignoring further resizes', { error: err.message }));
  }
  let status: ApiStatus;
  try {
    if (target.kind === 'exec') {
      const { exitCode } = await runtime.exec(target.req, io);
      if (!Number.isInteger(exitCode) || exitCode < 0 || exitCode > 255) status = internalErrorStatus(`runtime reported exit code ${exitCode}`);
      else status = exitCode === 0 ? successStatus() : exitCodeStatus(target.req.cmd, exitCode);
    } else {
      await runtime.attach(target.req, io);
      status = successStatus();
    }
  } catch (err) {
    status = internalErrorStatus(`error executing command in container: ${errorMessage(err)}`);
  }
  const bytes = encodeStatus(status, jsonStatus);
  if (bytes && !signal.aborted) ch.error.write(bytes);
  await Promise.all([ch.stdout, ch.stderr, ch.error].map(endAndDrain));
}

async function endAndDrain(w: Writable | undefined): Promise<void> {
  if (!w) return;
  w.end();
  // A client that went away destroys the stream instead: nothing more to wait for.
  await finished(w, { readable: false }).catch(() => undefined);
}

/** Aborts `abort` with the server (`parent`) or when the client is gone (`gone` settles). */
export function linkSessionAbort(abort: AbortController, parent: AbortSignal, gone: Promise<void>): void {
  const onParent = () => abort.abort(parent.reason);
  if (parent.aborted) onParent();
  else parent.addEventListener('abort', onParent, { once: true });
  void gone.then(() => {
    parent.removeEventListener('abort', onParent);
    abort.abort(new Error('the client went away'));
  });
}

// ---- over SPDY ----------------------------------------------------------------------------------

type StreamType = 'error' | 'stdin' | 'stdout' | 'stderr' | 'resize';
const STREAM_TYPES: readonly StreamType[] = ['error', 'stdin', 'stdout', 'stderr', 'resize'];

/** The streams the client opens for this request under this protocol (resize from v3 on, with a TTY). */
export function expectedStreams(req: ExecRequest | AttachRequest, protocol: string): Set<StreamType> {
  const want = new Set<StreamType>(['error']);
  if (req.stdin) want.add('stdin');
  if (req.stdout) want.add('stdout');
  if (req.stderr) want.add('stderr');
  if (req.tty && (protocol === 'v3.channel.k8s.io' || protocol === 'v4.channel.k8s.io')) want.add('resize');
  return want;
}

/** Collects the expected streams as the client opens them; refuses others and repeats. */
class StreamCollector {
  private readonly got = new Map<StreamType, SpdyStream>();
  private complete: (() => void) | undefined;

  constructor(private readonly want: ReadonlySet<StreamType>) {}

  offer(stream: SpdyStream): boolean {
    const type = STREAM_TYPES.find((t) => t === stream.header('streamtype'));
    if (!type || !this.want.has(type) || this.got.has(type)) {
      log.info('streaming: refusing an unexpected stream', { streamType: stream.header('streamtype') ?? '' });
      return false;
    }
    this.got.set(type, stream);
    if (this.got.size === this.want.size) this.complete?.();
    return true;
  }

  /** All expected streams, or a rejection at the timeout or when the connection closes first. */
  wait(timeoutMs: number, closed: Promise<void>): Promise<Map<StreamType, SpdyStream>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.complete = undefined;
        reject(new Error(`timed out waiting for the client to create streams (${[...this.want].filter((t) => !this.got.has(t)).join(', ')} missing)`));
      }, timeoutMs);
      this.complete = () => {
        clearTimeout(timer);
        resolve(this.got);
      };
      void closed.then(() => {
        clearTimeout(timer);
        reject(new Error('the client closed the connection before creating its streams'));
      });
      if (this.got.size === this.want.size) this.complete();
    });
  }
}

/** An exec or attach over SPDY, on a socket already answered 101 with `protocol`. Settles when the socket is closed. */
export async function serveRemoteCommandSpdy(socket: Duplex, head: Buffer, protocol: string, target: RemoteCommandTarget, s: SessionOptions): Promise<void> {
  const collector = new StreamCollector(expectedStreams(target.req, protocol));
  const conn = new SpdyConnection(socket, head, { onStream: (st) => collector.offer(st), idleTimeoutMs: s.idleTimeoutMs });
  const abort = new AbortController();
  linkSessionAbort(abort, s.signal, conn.closed);
  abort.signal.addEventListener('abort', () => conn.destroy(), { once: true });
  try {
    const streams = await collector.wait(s.streamCreationTimeoutMs, conn.closed);
    const error = streams.get('error');
    if (!error) throw new Error('no error stream'); // every session expects one, so wait() never resolves without it
    await runRemoteCommand(
      target,
      { stdin: streams.get('stdin'), stdout: streams.get('stdout'), stderr: streams.get('stderr'), resize: streams.get('resize'), error },
      jsonStatusProtocol(protocol),
      s.runtime,
      abort.signal,
    );
  } catch (err) {
    log.info(`streaming: ${target.kind} session ended early`, { error: err });
  } finally {
    conn.close();
    await conn.closed;
  }
}

// ---- over WebSocket -----------------------------------------------------------------------------

/** An exec or attach over an accepted WebSocket speaking `protocol` ('' for none). Settles when it is closed. */
export async function serveRemoteCommandWebSocket(ws: WebSocket, protocol: string, target: RemoteCommandTarget, s: SessionOptions): Promise<void> {
  const req = target.req;
  const readable = [req.stdin ? Channel.STDIN : -1, req.tty ? Channel.RESIZE : -1].filter((c) => c >= 0);
  const writable = [req.stdout ? Channel.STDOUT : -1, req.stderr ? Channel.STDERR : -1, Channel.ERROR].filter((c) => c >= 0);
  const channels = new WebSocketChannels(ws, channelCodec(protocol), { readable, writable, idleTimeoutMs: s.idleTimeoutMs });
  const abort = new AbortController();
  linkSessionAbort(abort, s.signal, channels.closed);
  abort.signal.addEventListener('abort', () => channels.close(1001, 'closing'), { once: true });
  // As kubelet: an empty message on the lowest channel the server writes says the session is up.
  channels.send(writable[0] ?? Channel.ERROR, Buffer.alloc(0));
  const error = channels.writer(Channel.ERROR);
  try {
    if (!error) throw new Error('no error channel');
    await runRemoteCommand(
      target,
      {
        stdin: channels.reader(Channel.STDIN),
        stdout: channels.writer(Channel.STDOUT),
        stderr: channels.writer(Channel.STDERR),
        resize: channels.reader(Channel.RESIZE),
        error,
      },
      jsonStatusProtocol(protocol),
      s.runtime,
      abort.signal,
    );
  } catch (err) {
    log.info(`streaming: ${target.kind} session ended early`, { error: err });
  } finally {
    channels.close(1000, '');
    await channels.closed;
  }
}
