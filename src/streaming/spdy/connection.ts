// One SPDY/3.1 session on an upgraded HTTP connection, server side: the client opens streams
// (SYN_STREAM), the server answers each (SYN_REPLY) or refuses it (RST_STREAM), and each stream is a
// Node Duplex with half-close (FIN) in both directions.
//
// Flow control. The server always keeps the windows (64 KiB per stream, and the session window of
// 3.1) and sends WINDOW_UPDATE as the stream's consumer reads. Whether it holds back its own data
// at the client's window depends on the client: moby/spdystream, the SPDY of kubectl, crictl,
// kubelet and the API server, neither sends nor reads WINDOW_UPDATE, so a server that waited for
// one would stall every transfer at 64 KiB. So the client's window is honoured from the moment the
// client shows it keeps one (a WINDOW_UPDATE, or SETTINGS_INITIAL_WINDOW_SIZE); until then TCP's own
// backpressure paces the server. In the other direction, a client that ignores our window is
// paced by pausing the socket while any stream holds a window's worth of unread data (what
// spdystream itself does: it stops reading). A session therefore holds at most
// MAX_CONCURRENT_STREAMS x (a window + one socket read) of unread input.

import { Duplex } from 'node:stream';
import { log } from '../../util/log.js';
import { IdleTimer } from '../idle-timer.js';
import { ReplyBudget } from '../reply-budget.js';
import { SpdyProtocolError } from './errors.js';
import {
  FLAG_FIN,
  FLAG_UNIDIRECTIONAL,
  FrameParser,
  GoAwayStatus,
  MAX_31BIT,
  RstStatus,
  SETTINGS_INITIAL_WINDOW_SIZE,
  encodeDataFrame,
  encodeDataFrameHead,
  encodeGoAway,
  encodePing,
  encodeRstStream,
  encodeSynReply,
  encodeWindowUpdate,
  type ControlFrame,
  type DataPiece,
  type ParsedFrame,
} from './framer.js';
import { HeaderCompressor, HeaderDecompressor, decodeHeaderBlock, encodeHeaderBlock, headerValue, type SpdyHeaders } from './zlib-headers.js';

/** SPDY/3's initial window, per stream and (3.1) per session; the server's receive window too. */
export const DEFAULT_WINDOW = 64 * 1024;

/** Our data frames carry at most this much: the size Go's io.Copy writes, so no client buffers more per frame than it does today. */
export const MAX_DATA_FRAME_OUT = 32 * 1024;

/**
 * Streams open at once on one session. An exec uses up to 5, a port-forward 2 per forwarded TCP
 * connection: 128 allows 64 connections through one port-forward at once and bounds what one
 * client can make the server buffer (about 128 x 128 KiB).
 */
export const MAX_CONCURRENT_STREAMS = 128;

/** Frames queued while a header block inflates (inflation is asynchronous); past it the socket pauses. */
const MAX_QUEUED_FRAMES = 256;

/**
 * A read that holds more frames than this is handled, and then the socket rests until the event
 * loop's next turn: a client packing thousands of tiny frames into each read (a PING flood) gets
 * one read per turn, and everyone else (the CRI socket, other sessions) their turns between. Data
 * frames of real traffic come a few per read.
 */
const FRAMES_PER_TURN = 256;

/** After the server's GOAWAY, how long the client has to hang up before the socket is destroyed. */
export const CLOSE_GRACE_MS = 5000;

export interface SpdyConnectionOptions {
  /**
   * A stream the client opened, its headers decoded. Return false to refuse it (RST_STREAM
   * REFUSED_STREAM); otherwise the server answers SYN_REPLY. Data written to the stream from here
   * on goes out after the reply.
   */
  onStream(stream: SpdyStream): boolean;
  /** The session ends after this long without a frame either way; 0 never. */
  idleTimeoutMs: number;
  maxConcurrentStreams?: number;
}

/** What a stream asks of its connection. */
interface StreamIo {
  read(): void;
  write(chunk: Buffer, cb: (err?: Error | null) => void): void;
  final(cb: (err?: Error | null) => void): void;
  destroyed(): void;
  reset(status: number): void;
}

/** A stream the client opened: read what it sends, write back, end() to half-close (FIN). */
export class SpdyStream extends Duplex {
  constructor(
    readonly id: number,
    readonly headers: SpdyHeaders,
    private readonly io: StreamIo,
  ) {
    // The readable buffer is allowed a window's worth; beyond that the session pauses its socket.
    super({ allowHalfOpen: true, readableHighWaterMark: DEFAULT_WINDOW });
  }

  header(name: string): string | undefined {
    return headerValue(this.headers, name);
  }

  /** Ends both directions at once with RST_STREAM. */
  reset(status: number = RstStatus.CANCEL): void {
    this.io.reset(status);
  }

  override _read(): void {
    this.io.read();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.io.write(chunk, cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.io.final(cb);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.io.destroyed();
    cb(err);
  }
}

interface StreamState {
  readonly id: number;
  readonly stream: SpdyStream;
  replied: boolean;
  /** The client sent FIN (or RST). */
  remoteClosed: boolean;
  /** The server sent FIN (or cannot send: a unidirectional stream). */
  localClosed: boolean;
  /** Bytes received, and bytes acknowledged with WINDOW_UPDATE (once consumed). */
  pushed: number;
  acked: number;
  /** The readable buffer reached its high-water mark and its reader has not asked for more since. */
  full: boolean;
  /** Bytes we may send (the client's window for this stream). */
  sendWindow: number;
  pendingWrite: { chunk: Buffer; offset: number; cb: (err?: Error | null) => void } | undefined;
  pendingFin: ((err?: Error | null) => void) | undefined;
}

export class SpdyConnection {
  /** Settles when the socket has closed, however the session ended. */
  readonly closed: Promise<void>;

  private readonly parser = new FrameParser();
  private readonly inflater = new HeaderDecompressor();
  private readonly deflater = new HeaderCompressor();
  private readonly streams = new Map<number, StreamState>();
  /** Frames parsed and not yet handled, from `inboundHead` on (a queue without shift's copying). */
  private readonly inbound: ParsedFrame[] = [];
  private inboundHead = 0;
  /** Control frames written since the last flush: one socket write per batch of frames handled. */
  private readonly outbox: Buffer[] = [];
  private outboxBytes = 0;
  private readonly drainWaiters: ((err?: Error | null) => void)[] = [];
  private readonly idle: IdleTimer;
  private readonly maxStreams: number;
  /** Bounds the control frames the client provokes while it does not read (data frames wait for 'drain'). */
  private readonly replies = new ReplyBudget();
  private pumping = false;
  private paused = false;
  /** The socket rests until the next turn of the event loop (FRAMES_PER_TURN). */
  private resting = false;
  private lastRemoteId = 0;
  /** No new streams: the client sent GOAWAY, or we are closing. */
  private goneAway = false;
  private ended = false;
  private peerKeepsWindows = false;
  private peerInitialWindow = DEFAULT_WINDOW;
  private sessionSendWindow = DEFAULT_WINDOW;
  /** Bytes consumed (or dropped) across streams that no session WINDOW_UPDATE has acknowledged yet. */
  private sessionUnacked = 0;
  private closeTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly socket: Duplex,
    head: Buffer,
    private readonly opts: SpdyConnectionOptions,
  ) {
    this.maxStreams = opts.maxConcurrentStreams ?? MAX_CONCURRENT_STREAMS;
    this.idle = new IdleTimer(opts.idleTimeoutMs, () => {
      log.info('streaming: closing idle SPDY session', { idleTimeoutMs: opts.idleTimeoutMs });
      this.close();
    });
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.once('close', () => {
      clearTimeout(this.closeTimer);
      this.teardown();
    });
    socket.on('error', (err) => {
      log.debug('streaming: SPDY socket error', { error: err.message });
      this.destroy();
    });
    // The client hung up its side: it can send nothing more, and a SPDY client that hangs up is gone.
    socket.on('end', () => this.destroy());
    socket.on('drain', () => {
      for (const cb of this.drainWaiters.splice(0)) cb();
    });
    socket.on('data', (chunk: Buffer) => this.onBytes(chunk));
    // The HTTP server hands over upgraded sockets paused.
    socket.resume();
    if (head.length > 0) this.onBytes(head);
  }

  /** Graceful end: GOAWAY, then the socket closes once written (destroyed if the client lingers). */
  close(): void {
    if (this.ended) return;
    this.goneAway = true;
    this.write(encodeGoAway(this.lastRemoteId, GoAwayStatus.OK));
    this.endSocket();
  }

  /** Abrupt end: the socket is destroyed, every stream with it. */
  destroy(): void {
    this.socket.destroy();
    this.teardown();
  }

  // ---- inbound ------------------------------------------------------------------------------

  private onBytes(chunk: Buffer): void {
    if (this.ended) return;
    this.idle.touch();
    try {
      const frames = this.parser.push(chunk);
      for (const f of frames) this.inbound.push(f);
      if (frames.length > FRAMES_PER_TURN && !this.resting) {
        this.resting = true;
        setImmediate(() => {
          this.resting = false;
          this.updateReading();
        });
      }
    } catch (err) {
      this.protocolError(err);
      return;
    }
    void this.pump();
  }

  /** Handles queued frames in order; a header block's inflation is awaited before what follows it. */
  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      for (let f = this.nextFrame(); f && !this.ended; f = this.nextFrame()) {
        if (f.type === 'data') this.onData(f);
        else if (f.type === 'syn_stream' || f.type === 'syn_reply' || f.type === 'headers') await this.onHeaderFrame(f);
        else this.onControl(f);
      }
    } catch (err) {
      this.protocolError(err);
    } finally {
      this.pumping = false;
    }
    this.updateReading();
  }

  private nextFrame(): ParsedFrame | undefined {
    const f = this.inbound[this.inboundHead];
    if (f) this.inboundHead++;
    else this.inbound.length = this.inboundHead = 0;
    return f;
  }

  private onData(f: DataPiece): void {
    const st = this.streams.get(f.streamId);
    if (!st || st.remoteClosed) {
      // Dropped bytes still count against the session window: give them back at once.
      this.consumedForSession(f.payload.length);
      if (f.first) this.write(encodeRstStream(f.streamId, st ? RstStatus.STREAM_ALREADY_CLOSED : RstStatus.INVALID_STREAM));
      return;
    }
    if (f.payload.length > 0) {
      st.pushed += f.payload.length;
      if (!st.stream.push(f.payload)) st.full = true;
    }
    if (f.fin) {
      st.remoteClosed = true;
      st.stream.push(null);
      this.maybeForget(st);
    }
  }

  private async onHeaderFrame(f: Extract<ControlFrame, { headerBlock: Buffer }>): Promise<void> {
    // Every block is inflated, even of frames the server ignores: the zlib stream must stay in step.
    const headers = decodeHeaderBlock(await this.inflater.decompress(f.headerBlock));
    if (f.type !== 'syn_stream') return; // HEADERS add nothing the protocols use; a client never SYN_REPLYs
    if (f.streamId === 0 || f.streamId % 2 === 0 || f.streamId <= this.lastRemoteId) {
      throw new SpdyProtocolError(`SYN_STREAM with stream id ${f.streamId} (must be odd and above ${this.lastRemoteId})`);
    }
    this.lastRemoteId = f.streamId;
    if (this.ended) return;
    if (this.goneAway || this.streams.size >= this.maxStreams) {
      this.write(encodeRstStream(f.streamId, RstStatus.REFUSED_STREAM));
      return;
    }
    const st = this.newStream(f.streamId, headers);
    if (f.flags & FLAG_FIN) {
      st.remoteClosed = true;
      st.stream.push(null);
    }
    const unidirectional = (f.flags & FLAG_UNIDIRECTIONAL) !== 0;
    if (unidirectional) {
      st.localClosed = true;
      st.stream.end();
    }
    let accepted = false;
    try {
      accepted = this.opts.onStream(st.stream);
    } catch (err) {
      log.warn('streaming: stream handler failed', { error: err });
    }
    if (!accepted) {
      this.resetStream(st, RstStatus.REFUSED_STREAM);
      return;
    }
    // A unidirectional stream is half-closed on our side from the start: no reply (draft 3, 2.3.6).
    if (!unidirectional) this.write(encodeSynReply(st.id, 0, this.deflater.compress(encodeHeaderBlock([]))));
    st.replied = true;
    this.flushStream(st);
    this.maybeForget(st);
  }

  private onControl(f: Exclude<ControlFrame, { headerBlock: Buffer }>): void {
    switch (f.type) {
      case 'rst_stream': {
        const st = this.streams.get(f.streamId);
        if (!st) return;
        st.remoteClosed = true;
        st.localClosed = true; // no RST back
        st.stream.destroy();
        return;
      }
      case 'settings':
        for (const e of f.entries) {
          if (e.id !== SETTINGS_INITIAL_WINDOW_SIZE) continue;
          if (e.value > MAX_31BIT) throw new SpdyProtocolError(`SETTINGS_INITIAL_WINDOW_SIZE of ${e.value}`);
          // Draft 3, 2.6.8: a new initial window moves every open stream's window by the difference.
          const delta = e.value - this.peerInitialWindow;
          this.peerInitialWindow = e.value;
          for (const st of this.streams.values()) st.sendWindow += delta;
          this.peerKeepsWindows = true;
        }
        this.flushAll();
        return;
      case 'window_update': {
        if (f.delta === 0) throw new SpdyProtocolError(`WINDOW_UPDATE of 0 on stream ${f.streamId}`);
        this.peerKeepsWindows = true;
        if (f.streamId === 0) {
          if (this.sessionSendWindow + f.delta > MAX_31BIT) throw new SpdyProtocolError('session window above 2^31-1');
          this.sessionSendWindow += f.delta;
          this.flushAll();
          return;
        }
        const st = this.streams.get(f.streamId);
        if (!st) return;
        if (st.sendWindow + f.delta > MAX_31BIT) {
          this.resetStream(st, RstStatus.FLOW_CONTROL_ERROR);
          return;
        }
        st.sendWindow += f.delta;
        this.flushStream(st);
        return;
      }
      case 'ping':
        // Odd ids are the client's (draft 3, 2.6.5): echo them. The server sends none, so even ones are stray.
        if (f.id % 2 === 1) this.write(encodePing(f.id));
        return;
      case 'goaway':
        this.goneAway = true;
        return;
    }
  }

  // ---- streams ------------------------------------------------------------------------------

  private newStream(id: number, headers: SpdyHeaders): StreamState {
    let st: StreamState | undefined;
    const self = (): StreamState => {
      if (!st) throw new Error('SpdyStream used before it was set up');
      return st;
    };
    const stream = new SpdyStream(id, headers, {
      read: () => this.streamRead(self()),
      write: (chunk, cb) => this.streamWrite(self(), chunk, cb),
      final: (cb) => this.streamFinal(self(), cb),
      destroyed: () => this.streamDestroyed(self()),
      reset: (status) => this.resetStream(self(), status),
    });
    // A stream's errors are its user's; none may take the process down.
    stream.on('error', (err) => log.debug('streaming: SPDY stream error', { stream: id, error: err.message }));
    st = {
      id,
      stream,
      replied: false,
      remoteClosed: false,
      localClosed: false,
      pushed: 0,
      acked: 0,
      full: false,
      sendWindow: this.peerInitialWindow,
      pendingWrite: undefined,
      pendingFin: undefined,
    };
    this.streams.set(id, st);
    return st;
  }

  /**
   * The reader wants more: Node calls _read once its buffer will be under the high-water mark, and
   * not again until the next push, so this call is the signal to read on. What it took is
   * acknowledged (once half a window) after the read completes, when the buffer's length is final.
   */
  private streamRead(st: StreamState): void {
    st.full = false;
    this.updateReading();
    queueMicrotask(() => {
      const consumed = st.pushed - st.stream.readableLength;
      const delta = consumed - st.acked;
      if (delta >= DEFAULT_WINDOW / 2 && !st.remoteClosed && !this.ended) {
        st.acked = consumed;
        this.write(encodeWindowUpdate(st.id, delta));
        this.consumedForSession(delta);
      }
    });
  }

  private consumedForSession(n: number): void {
    this.sessionUnacked += n;
    if (this.sessionUnacked >= DEFAULT_WINDOW / 2) {
      this.write(encodeWindowUpdate(0, this.sessionUnacked));
      this.sessionUnacked = 0;
    }
  }

  private streamWrite(st: StreamState, chunk: Buffer, cb: (err?: Error | null) => void): void {
    if (this.ended || st.localClosed) {
      cb(new Error(`SPDY stream ${st.id} can no longer be written`));
      return;
    }
    st.pendingWrite = { chunk, offset: 0, cb };
    this.flushStream(st);
  }

  private streamFinal(st: StreamState, cb: (err?: Error | null) => void): void {
    st.pendingFin = cb;
    this.flushStream(st);
  }

  /** Sends what the stream has pending, as far as the windows allow once the client keeps them. */
  private flushStream(st: StreamState): void {
    if (!st.replied || this.ended) return;
    const w = st.pendingWrite;
    if (w) {
      // The chunk's frames go in one writev: each header, then its slice of the chunk, uncopied.
      this.socket.cork();
      try {
        while (w.offset < w.chunk.length) {
          let n = Math.min(w.chunk.length - w.offset, MAX_DATA_FRAME_OUT);
          if (this.peerKeepsWindows) n = Math.min(n, st.sendWindow, this.sessionSendWindow);
          if (n <= 0) return; // a WINDOW_UPDATE calls us again
          this.send(encodeDataFrameHead(st.id, 0, n), w.chunk.subarray(w.offset, w.offset + n));
          st.sendWindow -= n;
          this.sessionSendWindow -= n;
          w.offset += n;
        }
      } finally {
        this.socket.uncork();
      }
      st.pendingWrite = undefined;
      if (this.socket.writableNeedDrain) this.drainWaiters.push(w.cb);
      else w.cb();
    }
    const fin = st.pendingFin;
    if (fin && !st.pendingWrite) {
      st.pendingFin = undefined;
      if (!st.localClosed) this.write(encodeDataFrame(st.id, FLAG_FIN, Buffer.alloc(0)));
      st.localClosed = true;
      this.maybeForget(st);
      fin();
    }
  }

  private flushAll(): void {
    for (const st of this.streams.values()) this.flushStream(st);
  }

  private resetStream(st: StreamState, status: number): void {
    if (!st.remoteClosed || !st.localClosed) this.write(encodeRstStream(st.id, status));
    st.remoteClosed = true;
    st.localClosed = true;
    st.stream.destroy();
  }

  /** The stream was destroyed: if it was still open either way, tell the client (RST CANCEL). */
  private streamDestroyed(st: StreamState): void {
    if (this.streams.get(st.id) !== st) return;
    this.streams.delete(st.id);
    if (!st.remoteClosed || !st.localClosed) this.write(encodeRstStream(st.id, RstStatus.CANCEL));
    const w = st.pendingWrite;
    st.pendingWrite = undefined;
    w?.cb(new Error(`SPDY stream ${st.id} was closed`));
    this.updateReading();
  }

  /** A stream closed both ways leaves the session's count; its object lives on for its readers. */
  private maybeForget(st: StreamState): void {
    if (st.remoteClosed && st.localClosed && this.streams.get(st.id) === st) {
      this.streams.delete(st.id);
      this.updateReading();
    }
  }

  /** Pauses the socket while frames queue for a header block or a client outruns a reader. */
  private updateReading(): void {
    if (this.ended) return;
    let full = false;
    for (const st of this.streams.values()) full ||= st.full;
    const pause = this.inbound.length - this.inboundHead > MAX_QUEUED_FRAMES || full || this.resting;
    if (pause && !this.paused) this.socket.pause();
    else if (!pause && this.paused) this.socket.resume();
    this.paused = pause;
  }

  // ---- the socket ---------------------------------------------------------------------------

  /**
   * A control frame: every one answers something the client did (or ends the session), so while the
   * client is behind they count against the reply budget, and past it the session is cut off.
   */
  private write(frame: Buffer): void {
    if (this.ended || !this.socket.writable) return;
    const unsent = this.socket.writableLength + this.outboxBytes;
    if (!this.replies.spend(frame.length, unsent >= this.socket.writableHighWaterMark)) {
      log.warn('streaming: closing a SPDY session whose client does not read the replies it provokes', { unsent });
      this.destroy();
      return;
    }
    // Batched: a few thousand PINGs in one read are answered in one write, not thousands.
    if (this.outbox.length === 0) queueMicrotask(() => this.flushOutbox());
    this.outbox.push(frame);
    this.outboxBytes += frame.length;
    this.idle.touch();
  }

  /** A data frame, after the control frames before it: its writer waits for 'drain' (flushStream), so it needs no budget. */
  private send(head: Buffer, payload: Buffer): void {
    if (this.ended || !this.socket.writable) return;
    this.flushOutbox();
    this.socket.write(head);
    this.socket.write(payload);
    this.idle.touch();
  }

  private flushOutbox(): void {
    if (this.outbox.length === 0 || this.ended || !this.socket.writable) return;
    const frames = this.outbox.splice(0);
    this.outboxBytes = 0;
    this.socket.write(frames.length === 1 ? frames[0] : Buffer.concat(frames));
  }

  private protocolError(err: unknown): void {
    if (this.ended) return;
    log.warn('streaming: ending SPDY session on a protocol error', { error: err });
    this.write(encodeGoAway(this.lastRemoteId, err instanceof SpdyProtocolError ? GoAwayStatus.PROTOCOL_ERROR : GoAwayStatus.INTERNAL_ERROR));
    this.endSocket();
  }

  /** Ends our side after what is written; a client that does not hang up in time is cut off. */
  private endSocket(): void {
    this.flushOutbox();
    this.socket.end();
    this.closeTimer ??= setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS);
    this.teardown();
  }

  /** Once: every stream and the inflater go; nothing more is read or written. */
  private teardown(): void {
    if (this.ended) return;
    this.ended = true;
    this.idle.stop();
    this.inflater.close();
    this.inbound.length = this.inboundHead = 0;
    this.outbox.length = this.outboxBytes = 0;
    for (const cb of this.drainWaiters.splice(0)) cb(new Error('SPDY session closed'));
    const states = [...this.streams.values()];
    this.streams.clear();
    for (const st of states) st.stream.destroy();
    this.socket.resume(); // drain and drop what the client still sends until it hangs up
  }
}
