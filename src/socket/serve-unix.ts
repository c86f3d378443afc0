// Serve a grpc-js Server on a unix socket, with every connection's client bytes passed through
// the :authority rewriter (see h2/authority-rewriter.ts for why), and with bounds on what a
// client can hold: how many connections are open, and how long one may take to start HTTP/2.
//
// grpc-js cannot be given a listening socket, but `createConnectionInjector` hands any Duplex
// to a private http2 server that grpc-js has wired to its handlers. We own the net.Server and
// build one Duplex per accepted socket: its readable side is the socket's bytes after the
// rewriter, its writable side writes straight to the socket.

import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { Duplex } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import { AuthorityRewriter, ServerPingScanner, goawayFrame, type AuthorityRewriterOptions, type H2RewriteError } from './h2/authority-rewriter.js';
import { ThrottledWarning } from './throttled-warning.js';
import { log } from '../util/log.js';

export interface UnixListener {
  readonly socketPath: string;
  /** Number of client connections currently open. */
  readonly connectionCount: number;
  /** Stop accepting, destroy open connections, remove the socket file. Idempotent. */
  close(): Promise<void>;
}

export interface ListenUnixOptions {
  rewriter?: AuthorityRewriterOptions;
  /** How long a new connection may take to send the HTTP/2 client preface. */
  handshakeTimeoutMs?: number;
  /** Connections open at once; further ones are closed as they arrive. */
  maxConnections?: number;
}

/** How long a connection may stay open after the client's EOF, or after our GOAWAY. */
const EOF_GRACE_MS = 1000;

/**
 * How long a new connection has to send the client connection preface (24 octets and a
 * SETTINGS frame). grpc-go writes it as soon as it connects; until it is in, the connection
 * holds one of the MAX_CONNECTIONS places, which a client that never speaks HTTP/2 gives back
 * after 5 s. Once it is in, idle connections are grpc-js's business (kubelet keeps one open
 * for months).
 */
export const HANDSHAKE_TIMEOUT_MS = 5000;

/**
 * Connections open at once. kubelet holds one or two and each crictl or crib command one while it
 * runs, but a client may also leave connections open for good: critest opens two per spec and
 * closes none (about 170 in a run). 1024 is well above that and still bounds what clients can hold
 * of cribd (a file descriptor and up to a 128 KiB header block in the rewriter each).
 */
export const MAX_CONNECTIONS = 1024;

/**
 * Held output (see RewritingConnection.queueOutput) goes out at once past this size, and at the
 * latest this many turns of the event loop after a reply began: a unary reply's trailers follow
 * its message two turns later (the session learns that the message was written one turn after the
 * write, and sends the trailers in the next).
 */
const OUTPUT_FLUSH_BYTES = 64 * 1024;
const OUTPUT_HOLD_TURNS = 3;

/** Each kind of connection warning is logged at most once this often (see ThrottledWarning). */
const WARNING_INTERVAL_MS = 10_000;

/** Warnings about connections, shared by a listener's connections. */
interface ConnectionWarnings {
  protocolError: ThrottledWarning;
  handshakeTimeout: ThrottledWarning;
  refused: ThrottledWarning;
}

/**
 * A client connection as the http2 server sees it. Node wraps non-native streams in a
 * JSStreamSocket, which relies on the usual stream events: 'data'/'end' for input, write/end
 * for output, 'error' and 'close' to tear down. Destroying either side destroys the other.
 *
 * Input is delivered in the rewriter's segments, one per event-loop turn when a segment ends
 * with a header block (see AuthorityRewriter.pushSegments), and never more than one segment
 * buffered in this stream, so Node cannot read two segments in one go.
 */
class RewritingConnection extends Duplex {
  private readonly rewriter: AuthorityRewriter;
  private readonly pings: ServerPingScanner;
  /** Segments not yet pushed; `null` marks the client's EOF. */
  private readonly queue: (Buffer | null)[] = [];
  private pumpScheduled = false;
  private eofTimer: NodeJS.Timeout | undefined;
  private handshakeTimer: NodeJS.Timeout | undefined;
  /** A GOAWAY of ours is on its way to the client: let it drain before the socket closes. */
  private goawaySent = false;
  /** The session's output of this event-loop turn, not yet written (see queueOutput). */
  private output: Buffer[] = [];
  private outputBytes = 0;
  /** Turns of the event loop the held output may still wait; 0: none is held. */
  private holdTurns = 0;

  constructor(
    private readonly socket: net.Socket,
    rewriterOpts: AuthorityRewriterOptions,
    handshakeTimeoutMs: number,
    private readonly warnings: ConnectionWarnings,
  ) {
    super({ allowHalfOpen: true });
    this.rewriter = new AuthorityRewriter(rewriterOpts);
    this.pings = new ServerPingScanner((payload) => this.rewriter.noteServerPing(payload));
    this.handshakeTimer = setTimeout(() => this.handshakeTimedOut(handshakeTimeoutMs), handshakeTimeoutMs);
    socket.on('data', (chunk: Buffer) => {
      // After a failure, whatever else the client sends is dropped unread.
      if (this.destroyed) return;
      let segments: Buffer[];
      try {
        segments = this.rewriter.pushSegments(chunk);
      } catch (err) {
        this.fail(err as H2RewriteError);
        return;
      }
      if (this.handshakeTimer && this.rewriter.prefaceReceived) {
        clearTimeout(this.handshakeTimer);
        this.handshakeTimer = undefined;
      }
      if (segments.length === 0) return;
      this.queue.push(...segments);
      this.pump();
    });
    socket.on('end', () => {
      if (this.destroyed) return;
      this.rewriter.end();
      this.queue.push(null);
      this.pump();
      // Normally the session reads up to the EOF and closes the connection. But once nghttp2
      // has given up on a connection (after sending GOAWAY for a protocol error) it stops
      // reading, never sees the EOF, and would keep the socket open forever (native sockets
      // behave the same). The client is gone either way; don't wait long for it.
      this.eofTimer = setTimeout(() => this.destroy(), EOF_GRACE_MS);
      this.eofTimer.unref();
    });
    socket.on('error', (err) => this.destroy(err));
    socket.on('close', () => this.destroy());
  }

  /** The client broke the protocol (pushSegments throws only H2RewriteError): say why, close. */
  private fail(err: H2RewriteError): void {
    this.warnings.protocolError.warn({ error: err.message });
    // Our GOAWAY may only go between two of the server's frames, after its SETTINGS.
    if (this.pings.canInsertFrame && this.socket.writable) {
      this.flushOutput();
      this.socket.end(goawayFrame(this.rewriter.lastStreamId, err.h2Code, err.message));
      this.goawaySent = true;
    }
    this.destroy(err);
  }

  private handshakeTimedOut(timeoutMs: number): void {
    // Timers run before I/O in an event-loop turn, so after a stall of the loop the preface may
    // be waiting unread: decide once pending input has been read.
    setImmediate(() => {
      if (this.destroyed || this.rewriter.prefaceReceived) return;
      this.warnings.handshakeTimeout.warn({ timeoutMs });
      this.destroy();
    });
  }

  private pump(): void {
    if (this.pumpScheduled || this.destroyed) return;
    while (this.queue.length > 0) {
      if (this.readableLength > 0) {
        // Node has not taken the last segment yet. An empty push clears Readable's "read in
        // progress" state, so _read (and with it pump) runs again once the buffer drains.
        this.push(Buffer.alloc(0));
        break;
      }
      const seg = this.queue.shift()!;
      if (seg === null) {
        this.push(null);
        break;
      }
      this.push(seg);
      if (this.queue.length > 0) {
        // Let Node dispatch the stream the header block just opened before it sees more.
        this.pumpScheduled = true;
        setImmediate(() => {
          this.pumpScheduled = false;
          this.pump();
        });
        break;
      }
    }
    // Backpressure towards the client: stop reading the socket while segments wait.
    if (this.queue.length > 0) this.socket.pause();
    else this.socket.resume();
  }

  override _read(): void {
    this.pump();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.queueOutput([chunk], cb);
  }

  override _writev(chunks: { chunk: Buffer }[], cb: (err?: Error | null) => void): void {
    this.queueOutput(
      chunks.map((c) => c.chunk),
      cb,
    );
  }

  /**
   * The session's output is held until a reply is complete: a unary reply is its HEADERS, DATA
   * and trailers, which the session hands over in two writes two event-loop turns apart, each a
   * system call that wakes the client for a part of the reply. Held output goes out, in order and
   * in one system call, once a frame ends a stream (the trailers), past OUTPUT_FLUSH_BYTES, or
   * after OUTPUT_HOLD_TURNS turns of the event loop from the last reply begun (a streaming reply's
   * messages); frames of the connection alone (SETTINGS, PING ACKs) at the end of the turn.
   * The write is taken at once, so the session goes on, unless the socket asks to drain.
   */
  private queueOutput(chunks: Buffer[], cb: (err?: Error | null) => void): void {
    if (this.socket.destroyed) {
      cb(new Error('socket closed'));
      return;
    }
    const { begunStreams: begun, endedStreams: ended } = this.pings;
    for (const chunk of chunks) {
      this.pings.scan(chunk);
      this.output.push(chunk);
      this.outputBytes += chunk.length;
    }
    if (this.pings.endedStreams !== ended || this.outputBytes >= OUTPUT_FLUSH_BYTES) this.flushOutput();
    else {
      const turns = this.pings.begunStreams !== begun ? OUTPUT_HOLD_TURNS : 1;
      if (this.holdTurns === 0) setImmediate(this.holdTurn);
      this.holdTurns = Math.max(this.holdTurns, turns);
    }
    if (this.socket.writableNeedDrain) this.socket.once('drain', () => cb());
    else cb();
  }

  /** One turn of the event loop with output held; the last one writes it. */
  private readonly holdTurn = (): void => {
    if (this.holdTurns === 0) return;
    if (--this.holdTurns > 0) setImmediate(this.holdTurn);
    else this.flushOutput();
  };

  /** Writes what the session handed over, in order, in one system call. */
  private flushOutput(): void {
    this.holdTurns = 0;
    const out = this.output;
    if (out.length === 0) return;
    this.output = [];
    this.outputBytes = 0;
    if (this.socket.destroyed) return;
    if (out.length === 1) {
      this.socket.write(out[0]!);
      return;
    }
    this.socket.cork();
    for (const chunk of out) this.socket.write(chunk);
    this.socket.uncork();
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (this.socket.destroyed) {
      cb();
      return;
    }
    this.flushOutput();
    this.socket.end(() => cb());
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.queue.length = 0;
    // What the session said before it let go (a GOAWAY, the last replies) still goes out.
    this.flushOutput();
    clearTimeout(this.eofTimer);
    clearTimeout(this.handshakeTimer);
    if (this.goawaySent) {
      // Let the client read the GOAWAY and hang up, but not wait long for a client that does not
      // read; what it still sends is read and dropped meanwhile.
      const timer = setTimeout(() => this.socket.destroy(), EOF_GRACE_MS);
      timer.unref();
      this.socket.once('close', () => clearTimeout(timer));
      this.socket.resume();
    } else {
      this.socket.destroy();
    }
    cb(err);
  }
}

/** Refuse if something answers on `socketPath`; remove it if it is a stale socket. */
async function clearStaleSocket(socketPath: string): Promise<void> {
  let st;
  try {
    st = await fs.lstat(socketPath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (!st.isSocket()) throw new Error(`${socketPath} exists and is not a socket; not removing it`);
  const live = await new Promise<boolean>((resolve, reject) => {
    const probe = net.connect(socketPath);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', (err: NodeJS.ErrnoException) => {
      probe.destroy();
      if (err.code === 'ECONNREFUSED' || err.code === 'ENOENT') resolve(false);
      else reject(new Error(`cannot probe ${socketPath}: ${err.message}`));
    });
  });
  if (live) throw new Error(`another server is already listening on ${socketPath}`);
  await fs.rm(socketPath, { force: true });
}

/**
 * Serve `server` (services already added) on a unix socket at `socketPath`, chmod'ed to
 * `mode`. A stale socket file is replaced; a live one (something accepts connections on it)
 * or a non-socket file is an error. The grpc-js Server needs no bindAsync() or start() for
 * this (don't call the deprecated start(): with no bound port it throws). Close the listener
 * before shutting the grpc-js Server down, or new connections go to a closed server.
 */
export async function listenUnix(server: grpc.Server, socketPath: string, mode = 0o660, opts: ListenUnixOptions = {}): Promise<UnixListener> {
  await fs.mkdir(path.dirname(socketPath), { recursive: true });
  await clearStaleSocket(socketPath);

  const handshakeTimeoutMs = opts.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS;
  const maxConnections = opts.maxConnections ?? MAX_CONNECTIONS;
  const warnings: ConnectionWarnings = {
    protocolError: new ThrottledWarning('cri: dropping connection after HTTP/2 protocol error', WARNING_INTERVAL_MS),
    handshakeTimeout: new ThrottledWarning('cri: closing connection that sent no HTTP/2 client preface in time', WARNING_INTERVAL_MS),
    refused: new ThrottledWarning('cri: refusing connection: too many open', WARNING_INTERVAL_MS),
  };

  const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
  const sockets = new Set<net.Socket>();
  // allowHalfOpen: a client's FIN must not end our side before the http2 session has read
  // the bytes before it; the EOF travels through the Duplex and the session (or the grace
  // timer in RewritingConnection) closes the connection.
  const netServer = net.createServer({ allowHalfOpen: true });
  // Over the limit, Node closes each new connection as it is accepted and emits 'drop'.
  netServer.maxConnections = maxConnections;
  netServer.on('drop', () => warnings.refused.warn({ limit: maxConnections }));

  netServer.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    const conn = new RewritingConnection(socket, opts.rewriter ?? {}, handshakeTimeoutMs, warnings);
    try {
      injector.injectConnection(conn);
    } catch (err) {
      log.warn('cri: could not hand a connection to the gRPC server', { error: (err as Error).message });
      conn.destroy();
    }
  });

  let socketIno = -1;
  let bound = false;
  try {
    await new Promise<void>((resolve, reject) => {
      netServer.once('error', reject);
      netServer.listen(socketPath, () => {
        netServer.off('error', reject);
        resolve();
      });
    });
    bound = true;
    await fs.chmod(socketPath, mode);
    socketIno = (await fs.lstat(socketPath)).ino;
  } catch (err) {
    injector.destroy();
    if (bound) {
      await new Promise<void>((resolve) => netServer.close(() => resolve()));
      await fs.rm(socketPath, { force: true }).catch(() => {});
    }
    throw err;
  }
  // After listening, errors (e.g. EMFILE on accept) must not crash the process.
  netServer.on('error', (err) => log.error('cri: unix socket server error', { error: err.message }));

  let closing: Promise<void> | null = null;
  return {
    socketPath,
    get connectionCount() {
      return sockets.size;
    },
    close() {
      closing ??= (async () => {
        const closed = new Promise<void>((resolve) => netServer.close(() => resolve()));
        injector.destroy();
        for (const s of sockets) s.destroy();
        for (const w of [warnings.protocolError, warnings.handshakeTimeout, warnings.refused]) w.close();
        await closed;
        // Leave the path alone if someone else has put a new socket there meanwhile.
        const st = await fs.lstat(socketPath).catch(() => null);
        if (st && st.ino === socketIno) await fs.rm(socketPath, { force: true });
      })();
      return closing;
    },
  };
}
