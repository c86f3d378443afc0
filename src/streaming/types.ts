// The contract between the streaming server (this folder) and the runtime that runs processes and
// opens pod ports. The server speaks the protocols; the runtime only sees Node streams.

import type { Duplex, Readable, Writable } from 'node:stream';
import { CribError } from '../util/errors.js';

export interface ExecRequest {
  containerId: string;
  cmd: string[];
  tty: boolean;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
}

export interface AttachRequest {
  containerId: string;
  tty: boolean;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
}

export interface PortForwardRequest {
  podSandboxId: string;
  /** Ports named in the CRI request. WebSocket clients may name theirs in the URL instead; SPDY clients name one per stream. */
  ports: number[];
}

export interface TerminalSize {
  width: number;
  height: number;
}

/**
 * What a running exec or attach gets: the streams the client asked for (with a TTY, stderr is merged
 * into stdout and absent). The server ends stdout and stderr once the call settles; the runtime may
 * end them earlier. `resize` yields the latest terminal size (older ones a slow reader missed are
 * dropped) and ends when the client stops sending them.
 */
export interface ProcessStreams {
  stdin?: Readable;
  stdout?: Writable;
  stderr?: Writable;
  resize?: AsyncIterable<TerminalSize>;
  /** Aborted when the client goes away (or the server closes): stop the process's I/O and return. */
  signal: AbortSignal;
}

export interface StreamingRuntime {
  /** Runs `req.cmd` in the container until it exits. A rejection is reported to the client as an internal error. */
  exec(req: ExecRequest, io: ProcessStreams): Promise<{ exitCode: number }>;
  /** Joins the container's main process I/O until the client or the process is done. */
  attach(req: AttachRequest, io: ProcessStreams): Promise<void>;
  /**
   * A byte stream to `port` on the pod's localhost, inside its network namespace. A rejection (nothing
   * listens) is written to the client's error stream. The server destroys the stream when done.
   */
  portForward(podSandboxId: string, port: number, signal: AbortSignal): Promise<Duplex>;
}

/** A request the streaming server refuses as malformed: the CRI layer answers INVALID_ARGUMENT. */
export class StreamingRequestError extends CribError {
  constructor(message: string) {
    super('InvalidArgument', message);
    this.name = 'StreamingRequestError';
  }
}

/** kubelet's rules for the streams of an exec or attach (pkg/kubelet/cri/streaming/server.go). */
export function validateStreamFlags(req: ExecRequest | AttachRequest): void {
  if (!req.containerId) throw new StreamingRequestError('missing required container_id');
  // With a TTY the process has one output; there is nothing to multiplex onto a stderr stream.
  if (req.tty && req.stderr) throw new StreamingRequestError('tty and stderr cannot both be true');
  if (!req.stdin && !req.stdout && !req.stderr) throw new StreamingRequestError('one of stdin, stdout, or stderr must be set');
}

export function validatePortForward(req: PortForwardRequest): void {
  if (!req.podSandboxId) throw new StreamingRequestError('missing required pod_sandbox_id');
  for (const port of req.ports) {
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new StreamingRequestError(`port ${port} is not between 1 and 65535`);
  }
}

/** A request waiting under its token for the client to connect. */
export type CachedRequest = { kind: 'exec'; req: ExecRequest } | { kind: 'attach'; req: AttachRequest } | { kind: 'portforward'; req: PortForwardRequest };

export type StreamKind = CachedRequest['kind'];
