// The client side of crib's streaming server for the CLI: exec and attach over WebSocket with
// kubelet's v5.channel.k8s.io subprotocol (channel byte first: 0 stdin, 1 stdout, 2 stderr, 3 the
// Status, 4 resize, 255 close a channel), and one port-forwarded connection per WebSocket.
import type { Duplex } from 'node:stream';
import WebSocket from 'ws';

const STDIN = 0;
const STDOUT = 1;
const STDERR = 2;
const ERROR = 3;
const RESIZE = 4;
const CLOSE = 255;
/** Input goes in messages of at most this (kubectl's pieces: Go's io.Copy buffer); the server takes at most 1 MiB. */
const STDIN_PIECE = 32 * 1024;
/** Bytes of input sent but not yet taken by the socket before the input is paused. */
const SEND_BUFFER = 1024 * 1024;

export interface TerminalIO {
  stdin?: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** The terminal's size now; called again on every change (SIGWINCH) when given. */
  size?: () => { width: number; height: number };
  /** Subscribes to size changes; returns the unsubscribe. */
  onResize?: (listener: () => void) => () => void;
  /** Ends the session from this side (the server then ends the command). */
  signal?: AbortSignal;
}

/** The exit code a v4/v5 Status carries: 0 for Success, the ExitCode cause for NonZeroExitCode. */
export function exitCodeOf(status: string): number {
  let parsed: { status?: unknown; details?: { causes?: { reason?: unknown; message?: unknown }[] }; message?: unknown };
  try {
    parsed = JSON.parse(status) as typeof parsed;
  } catch {
    throw new Error(`the streaming server sent a status that is not JSON: ${status.slice(0, 200)}`);
  }
  if (parsed.status === 'Success') return 0;
  const cause = parsed.details?.causes?.find((c) => c.reason === 'ExitCode');
  if (cause) return Number(cause.message);
  throw new Error(typeof parsed.message === 'string' ? parsed.message : 'the command failed');
}

/** Runs an exec or attach session on `url` until the server ends it; the exit code (attach: 0). */
export function runSession(url: string, io: TerminalIO): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, ['v5.channel.k8s.io']);
    let status: string | undefined;
    const cleanups: (() => void)[] = [];
    const finish = (fn: () => void) => {
      for (const c of cleanups.splice(0)) c();
      fn();
    };
    ws.on('error', (e) => finish(() => reject(e)));
    if (io.signal) {
      const stop = () => ws.terminate();
      if (io.signal.aborted) stop();
      io.signal.addEventListener('abort', stop, { once: true });
      cleanups.push(() => io.signal?.removeEventListener('abort', stop));
    }
    ws.on('open', () => {
      if (io.size) {
        const send = () => {
          const { width, height } = io.size?.() ?? { width: 0, height: 0 };
          ws.send(Buffer.concat([Buffer.from([RESIZE]), Buffer.from(JSON.stringify({ Width: width, Height: height }))]));
        };
        send();
        if (io.onResize) cleanups.push(io.onResize(send));
      }
      if (io.stdin) {
        const stdin = io.stdin;
        // input faster than the server takes it (crib cp of a large tree) waits in the pipe, not here
        const onData = (b: Buffer) => {
          for (let off = 0; off < b.length; off += STDIN_PIECE) {
            ws.send(Buffer.concat([Buffer.from([STDIN]), b.subarray(off, off + STDIN_PIECE)]), () => {
              if (ws.bufferedAmount < SEND_BUFFER) stdin.resume();
            });
          }
          if (ws.bufferedAmount >= SEND_BUFFER) stdin.pause();
        };
        const onEnd = () => ws.send(Buffer.from([CLOSE, STDIN]));
        stdin.on('data', onData).once('end', onEnd);
        cleanups.push(() => {
          stdin.off('data', onData).off('end', onEnd);
          stdin.pause();
        });
      }
    });
    ws.on('message', (data: Buffer) => {
      const channel = data[0];
      const payload = data.subarray(1);
      const out = channel === STDOUT ? io.stdout : channel === STDERR ? io.stderr : undefined;
      // a slow reader of the output pauses the socket instead of being buffered for
      if (out && !out.write(payload)) {
        ws.pause();
        out.once('drain', () => ws.resume());
      }
      if (channel === ERROR) status = (status ?? '') + payload.toString();
    });
    ws.on('close', (code: number, reason: Buffer) =>
      finish(() => {
        try {
          // no Status and no normal close: the session broke off (the command's end is unknown)
          if (status === undefined && code !== 1000 && code !== 1005)
            throw new Error(`the streaming session broke off (${code}${reason.length ? ` ${reason.toString()}` : ''})`);
          resolve(status === undefined ? 0 : exitCodeOf(status));
        } catch (err) {
          reject(err instanceof Error ? err : new Error(String(err)));
        }
      }),
    );
  });
}

/**
 * Forwards one local connection to `port` of the pod over `url` (a PortForward URL): data on
 * channel 0 both ways (each of the server's channels opens with the port, which is skipped), and
 * the pod side's error on channel 1.
 */
export function forwardConnection(url: string, port: number, local: Duplex): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url}?port=${port}`, ['v4.channel.k8s.io']);
    const seen = new Set<number>();
    let error = '';
    ws.on('error', (e) => {
      local.destroy();
      reject(e);
    });
    ws.on('open', () => {
      local.on('data', (b: Buffer) => ws.send(Buffer.concat([Buffer.from([0]), b])));
      local.once('end', () => ws.close());
      local.once('error', () => ws.close());
    });
    ws.on('message', (data: Buffer) => {
      const channel = data[0] ?? -1;
      // The first frame of each channel is the port (2 bytes, little endian).
      const payload = seen.has(channel) ? data.subarray(1) : data.subarray(3);
      seen.add(channel);
      if (channel === 0) local.write(payload);
      else if (channel === 1) error += payload.toString();
    });
    ws.on('close', () => {
      local.end();
      if (error) reject(new Error(error.trim()));
      else resolve();
    });
  });
}
