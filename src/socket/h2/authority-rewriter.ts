// Client-to-server HTTP/2 byte stream filter that makes `:authority` acceptable to nghttp2.
//
// grpc-go clients on unix sockets send the socket path (e.g. "/run/crib.sock") as
// `:authority`. nghttp2 (Node's http2) rejects that as an invalid authority and resets the
// stream with PROTOCOL_ERROR. This filter sits between the socket and the HTTP/2 server:
// it passes the preface and every frame through untouched, except header blocks
// (HEADERS + CONTINUATION), which it decodes with the connection's HPACK state, repairs (an
// invalid `:authority` or `host` value becomes "localhost"), and re-encodes with literals
// that never index. Because the re-encoded blocks never add to the
// server's dynamic table, the server's HPACK state does not depend on the client's.
//
// Header blocks are bounded (compressed size and CONTINUATION frames here, decoded list size
// and field count in the decoder), so that a hostile block costs its connection and not the
// process: dynamic-table references let a small block decode to gigabytes.
//
// One more repair: Node's http2 treats a PING ACK it has no outstanding PING for as a
// connection error (stricter than RFC 9113). The filter can be told about the PINGs the
// server sends (ServerPingScanner watches the other direction) and then drops client PING
// ACKs that answer none of them, e.g. a replayed capture's acks.

import { Transform, type TransformCallback } from 'node:stream';
import { HpackDecoder, HpackError, HpackLimitError, MAX_HEADER_LIST_SIZE, encodeHeaderBlock, type HeaderField } from './hpack.js';

export const CLIENT_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export const FRAME_HEADER_LENGTH = 9;
/** Every HTTP/2 peer must accept frames this large (SETTINGS_MAX_FRAME_SIZE minimum). */
export const DEFAULT_MAX_FRAME_SIZE = 16384;

/**
 * CONTINUATION frames per header block. nghttp2 (1.61, the server behind the rewriter in Node
 * 20) ends a connection that sends more, so no client that works with it does; the block's size
 * bound alone would not stop an endless run of empty CONTINUATIONs.
 */
export const MAX_CONTINUATION_FRAMES = 8;

export const FrameType = {
  DATA: 0x0,
  HEADERS: 0x1,
  PRIORITY: 0x2,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PUSH_PROMISE: 0x5,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
} as const;

export const FrameFlag = {
  END_STREAM: 0x1,
  ACK: 0x1,
  END_HEADERS: 0x4,
  PADDED: 0x8,
  PRIORITY: 0x20,
} as const;

/** HTTP/2 error codes (RFC 9113 section 7) used here and by the tests. */
export const H2ErrorCode = {
  NO_ERROR: 0x0,
  PROTOCOL_ERROR: 0x1,
  INTERNAL_ERROR: 0x2,
  FLOW_CONTROL_ERROR: 0x3,
  FRAME_SIZE_ERROR: 0x6,
  REFUSED_STREAM: 0x7,
  CANCEL: 0x8,
  COMPRESSION_ERROR: 0x9,
  ENHANCE_YOUR_CALM: 0xb,
} as const;

export class H2RewriteError extends Error {
  constructor(
    message: string,
    readonly h2Code: number,
  ) {
    super(message);
    this.name = 'H2RewriteError';
  }
}

/**
 * True if `value` can be a URI authority (RFC 3986 section 3.2) as nghttp2 checks it: not
 * empty, and only unreserved, sub-delims, ':', '@', '[', ']' and '%' characters.
 */
export function isValidAuthority(value: string): boolean {
  if (value.length === 0) return false;
  for (const ch of value) {
    const c = ch.charCodeAt(0);
    const ok =
      (c >= 0x61 && c <= 0x7a) || // a-z
      (c >= 0x41 && c <= 0x5a) || // A-Z
      (c >= 0x30 && c <= 0x39) || // 0-9
      "-._~!$&'()*+,;=:@[]%".includes(ch);
    if (!ok) return false;
  }
  return true;
}

export interface AuthorityRewriterOptions {
  /** What replaces an invalid `:authority` (and `host`). Default "localhost". */
  replacement?: string;
  /**
   * Upper bound for the client's dynamic table size updates: the server's advertised
   * SETTINGS_HEADER_TABLE_SIZE. Node's default is 4096; default here 65536, to be lenient.
   */
  maxTableSize?: number;
  /**
   * Largest header block (sum of fragments) accepted before giving up. Default
   * MAX_HEADER_LIST_SIZE: a block never needs more octets than the list it decodes to (a
   * field's encoding costs less than the 32 octets the list size adds per field), so a larger
   * one is padding or junk.
   */
  maxHeaderBlockSize?: number;
  /**
   * Drop client PING ACKs that match no PING reported with `noteServerPing` (see the file
   * comment). Default true.
   */
  dropUnsolicitedPingAcks?: boolean;
  /** Called for every header block after repair (for tests and tracing). */
  onHeaders?: (streamId: number, fields: readonly HeaderField[], rewritten: boolean) => void;
}

const enum State {
  Preface,
  FrameHeader,
  PassPayload,
  CollectPayload,
}

/** Server PINGs awaiting an ACK are remembered up to this many (oldest forgotten first). */
const MAX_OUTSTANDING_PINGS = 1024;

/**
 * The synchronous core: feed it the client's bytes in any chunking with `push`, get back the
 * bytes to hand to the server. Output depends only on the byte sequence (and the server PINGs
 * noted so far), not on chunking. Throws H2RewriteError on malformed input; after that every
 * call throws.
 */
export class AuthorityRewriter {
  private readonly decoder: HpackDecoder;
  private readonly replacement: string;
  private readonly maxBlock: number;
  private readonly onHeaders: AuthorityRewriterOptions['onHeaders'];
  private readonly dropPingAcks: boolean;
  /** Payloads (hex) of server PINGs not yet acknowledged, with multiplicity. */
  private readonly outstandingPings = new Map<string, number>();
  private outstandingPingCount = 0;
  /** Client PING ACKs dropped because they answered no server PING. */
  droppedPingAcks = 0;

  private state = State.Preface;
  private prefaceSeen = 0;
  private readonly header = Buffer.alloc(FRAME_HEADER_LENGTH);
  private headerSeen = 0;
  /** Payload bytes still to pass through or to collect for the current frame. */
  private remaining = 0;
  private frameType = 0;
  private frameFlags = 0;
  private frameStream = 0;
  /** Payload of the HEADERS/CONTINUATION/PING-ACK frame being collected. */
  private payload: Buffer = Buffer.alloc(0);
  private payloadSeen = 0;

  /** Header block in progress (HEADERS seen, END_HEADERS not yet). */
  private block: {
    streamId: number;
    flags: number;
    priority: Buffer | null;
    fragments: Buffer[];
    size: number;
    continuations: number;
  } | null = null;

  /** Set when a header block has just been emitted; `process` then cuts a segment. */
  private blockEmitted = false;

  /** The first frame after the preface's 24 octets (its SETTINGS) has been read in full. */
  private firstFrameRead = false;
  private highestStreamId = 0;

  private failure: H2RewriteError | null = null;

  constructor(opts: AuthorityRewriterOptions = {}) {
    this.replacement = opts.replacement ?? 'localhost';
    this.maxBlock = opts.maxHeaderBlockSize ?? MAX_HEADER_LIST_SIZE;
    this.onHeaders = opts.onHeaders;
    this.dropPingAcks = opts.dropUnsolicitedPingAcks ?? true;
    const limit = opts.maxTableSize ?? 65536;
    this.decoder = new HpackDecoder({ maxTableSizeLimit: limit });
  }

  /** Process a chunk of client bytes; returns the bytes for the server (possibly empty). */
  push(chunk: Uint8Array): Buffer {
    const segments = this.pushSegments(chunk);
    return segments.length === 1 && segments[0] ? segments[0] : Buffer.concat(segments);
  }

  /**
   * Like `push`, but the output is cut after every header block: each segment except the
   * last ends with a complete HEADERS (+ CONTINUATION) sequence. Delivering segments to Node's
   * http2 in separate event-loop turns lets the server dispatch a stream before later bytes
   * in the same chunk can tear the session down (grpc-js throws from its 'stream' handler
   * if the stream is already destroyed by then).
   */
  pushSegments(chunk: Uint8Array): Buffer[] {
    if (this.failure) throw this.failure;
    try {
      return this.process(chunk);
    } catch (err) {
      this.failure =
        err instanceof H2RewriteError
          ? err
          : err instanceof HpackLimitError
            ? new H2RewriteError(err.message, H2ErrorCode.ENHANCE_YOUR_CALM)
            : err instanceof HpackError
              ? new H2RewriteError(err.message, H2ErrorCode.COMPRESSION_ERROR)
              : new H2RewriteError(`h2 rewriter: ${(err as Error).message}`, H2ErrorCode.INTERNAL_ERROR);
      throw this.failure;
    }
  }

  /** The server sent a PING (not an ACK) with this 8-byte payload. */
  noteServerPing(payload: Uint8Array): void {
    const key = Buffer.from(payload).toString('hex');
    this.outstandingPings.set(key, (this.outstandingPings.get(key) ?? 0) + 1);
    if (++this.outstandingPingCount > MAX_OUTSTANDING_PINGS) {
      const oldest = this.outstandingPings.keys().next().value as string;
      this.takePing(oldest);
    }
  }

  private takePing(key: string): boolean {
    const n = this.outstandingPings.get(key);
    if (n === undefined) return false;
    if (n > 1) this.outstandingPings.set(key, n - 1);
    else this.outstandingPings.delete(key);
    this.outstandingPingCount--;
    return true;
  }

  /**
   * The client's connection preface is complete: the 24 octets and the frame after them (RFC
   * 9113 section 3.4 wants a SETTINGS frame there; the server checks that it is one).
   */
  get prefaceReceived(): boolean {
    return this.firstFrameRead;
  }

  /** The highest stream whose header block was passed to the server (for a GOAWAY). */
  get lastStreamId(): number {
    return this.highestStreamId;
  }

  /**
   * The client closed its side. Returns true if the stream ended on a frame boundary (a
   * truncated frame is not an error worth reporting: the connection is ending anyway).
   */
  end(): boolean {
    return this.state === State.FrameHeader && this.headerSeen === 0 && this.block === null;
  }

  private process(chunk: Uint8Array): Buffer[] {
    const segments: Buffer[] = [];
    let out: Buffer[] = [];
    const cut = () => {
      const [only, ...more] = out;
      if (only) segments.push(more.length === 0 ? Buffer.from(only) : Buffer.concat(out));
      out = [];
    };
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let pos = 0;
    while (pos < buf.length) {
      switch (this.state) {
        case State.Preface: {
          const n = Math.min(CLIENT_PREFACE.length - this.prefaceSeen, buf.length - pos);
          const part = buf.subarray(pos, pos + n);
          if (!part.equals(CLIENT_PREFACE.subarray(this.prefaceSeen, this.prefaceSeen + n))) {
            throw new H2RewriteError('h2: bad client connection preface', H2ErrorCode.PROTOCOL_ERROR);
          }
          out.push(part);
          this.prefaceSeen += n;
          pos += n;
          if (this.prefaceSeen === CLIENT_PREFACE.length) this.state = State.FrameHeader;
          break;
        }
        case State.FrameHeader: {
          const n = Math.min(FRAME_HEADER_LENGTH - this.headerSeen, buf.length - pos);
          buf.copy(this.header, this.headerSeen, pos, pos + n);
          this.headerSeen += n;
          pos += n;
          if (this.headerSeen === FRAME_HEADER_LENGTH) {
            this.headerSeen = 0;
            this.startFrame(out);
          }
          break;
        }
        case State.PassPayload: {
          const n = Math.min(this.remaining, buf.length - pos);
          out.push(buf.subarray(pos, pos + n));
          this.remaining -= n;
          pos += n;
          if (this.remaining === 0) this.frameRead();
          break;
        }
        case State.CollectPayload: {
          const n = Math.min(this.remaining, buf.length - pos);
          buf.copy(this.payload, this.payloadSeen, pos, pos + n);
          this.payloadSeen += n;
          this.remaining -= n;
          pos += n;
          if (this.remaining === 0) {
            this.frameRead();
            this.finishCollectedFrame(out);
          }
          break;
        }
      }
      if (this.blockEmitted) {
        this.blockEmitted = false;
        cut();
      }
    }
    cut();
    return segments;
  }

  /** The current frame has been read to its end; the next frame header follows. */
  private frameRead(): void {
    this.state = State.FrameHeader;
    this.firstFrameRead = true;
  }

  /** Pass the current frame's header and `length` octets of payload through unchanged. */
  private pass(out: Buffer[], length: number): void {
    out.push(Buffer.from(this.header));
    this.remaining = length;
    if (length > 0) this.state = State.PassPayload;
    else this.frameRead();
  }

  /** A collected frame is complete. */
  private finishCollectedFrame(out: Buffer[]): void {
    if (this.frameType !== FrameType.PING) {
      this.finishHeaderFrame(out);
      return;
    }
    // A PING ACK: forward it only if it answers a PING the server sent.
    if (this.takePing(this.payload.toString('hex'))) {
      out.push(Buffer.from(this.header), this.payload);
    } else {
      this.droppedPingAcks++;
    }
  }

  private startFrame(out: Buffer[]): void {
    const h = this.header;
    const length = h.readUIntBE(0, 3);
    this.frameType = h.readUInt8(3);
    this.frameFlags = h.readUInt8(4);
    this.frameStream = h.readUInt32BE(5) & 0x7fffffff;

    if (this.block && (this.frameType !== FrameType.CONTINUATION || this.frameStream !== this.block.streamId)) {
      throw new H2RewriteError(
        `h2: expected CONTINUATION for stream ${this.block.streamId}, got frame type ${this.frameType} on stream ${this.frameStream}`,
        H2ErrorCode.PROTOCOL_ERROR,
      );
    }
    switch (this.frameType) {
      case FrameType.HEADERS:
      case FrameType.CONTINUATION:
        if (this.frameType === FrameType.CONTINUATION && !this.block) {
          throw new H2RewriteError('h2: CONTINUATION without a preceding HEADERS', H2ErrorCode.PROTOCOL_ERROR);
        }
        if (this.frameStream === 0) {
          throw new H2RewriteError('h2: header block on stream 0', H2ErrorCode.PROTOCOL_ERROR);
        }
        if ((this.block?.size ?? 0) + length > this.maxBlock) {
          throw new H2RewriteError('h2: header block too large', H2ErrorCode.ENHANCE_YOUR_CALM);
        }
        if (this.block && this.block.continuations >= MAX_CONTINUATION_FRAMES) {
          throw new H2RewriteError(`h2: more than ${MAX_CONTINUATION_FRAMES} CONTINUATION frames in a header block`, H2ErrorCode.ENHANCE_YOUR_CALM);
        }
        this.payload = Buffer.allocUnsafe(length);
        this.payloadSeen = 0;
        this.remaining = length;
        this.state = State.CollectPayload;
        if (length === 0) {
          this.frameRead();
          this.finishHeaderFrame(out);
        }
        return;
      case FrameType.PING:
        if (this.dropPingAcks && this.frameFlags & FrameFlag.ACK && length === 8 && this.frameStream === 0) {
          this.payload = Buffer.allocUnsafe(length);
          this.payloadSeen = 0;
          this.remaining = length;
          this.state = State.CollectPayload;
          return;
        }
        this.pass(out, length);
        return;
      case FrameType.PUSH_PROMISE:
        // Only servers push; a client's PUSH_PROMISE would also carry a header block we would
        // have to track. nghttp2 treats it as a connection error anyway.
        throw new H2RewriteError('h2: client sent PUSH_PROMISE', H2ErrorCode.PROTOCOL_ERROR);
      default:
        this.pass(out, length);
    }
  }

  private finishHeaderFrame(out: Buffer[]): void {
    const p = this.payload;
    const flags = this.frameFlags;
    if (this.frameType === FrameType.HEADERS) {
      let start = 0;
      let end = p.length;
      let padLength = 0;
      if (flags & FrameFlag.PADDED) {
        if (p.length < 1) throw new H2RewriteError('h2: PADDED HEADERS without pad length', H2ErrorCode.FRAME_SIZE_ERROR);
        padLength = p.readUInt8(0);
        start = 1;
      }
      let priority: Buffer | null = null;
      if (flags & FrameFlag.PRIORITY) {
        if (end - start < 5) throw new H2RewriteError('h2: HEADERS too short for PRIORITY', H2ErrorCode.FRAME_SIZE_ERROR);
        priority = Buffer.from(p.subarray(start, start + 5));
        start += 5;
      }
      if (padLength > end - start) {
        throw new H2RewriteError('h2: HEADERS padding exceeds the payload', H2ErrorCode.PROTOCOL_ERROR);
      }
      end -= padLength;
      this.block = {
        streamId: this.frameStream,
        flags,
        priority,
        fragments: [p.subarray(start, end)],
        size: end - start,
        continuations: 0,
      };
    } else {
      // CONTINUATION: no padding or priority; the whole payload is block fragment.
      this.block!.fragments.push(p);
      this.block!.size += p.length;
      this.block!.continuations++;
    }
    if (flags & FrameFlag.END_HEADERS) {
      const block = this.block!;
      this.block = null;
      this.emitBlock(block, out);
      this.blockEmitted = true;
    }
  }

  private emitBlock(block: { streamId: number; flags: number; priority: Buffer | null; fragments: Buffer[] }, out: Buffer[]): void {
    const fields = this.decoder.decode(Buffer.concat(block.fragments));
    let rewritten = false;
    for (const f of fields) {
      if ((f.name === ':authority' || f.name === 'host') && !isValidAuthority(f.value)) {
        f.value = this.replacement;
        rewritten = true;
      }
    }
    this.onHeaders?.(block.streamId, fields, rewritten);
    const encoded = encodeHeaderBlock(fields);
    this.highestStreamId = Math.max(this.highestStreamId, block.streamId);

    const prio = block.priority;
    const firstRoom = DEFAULT_MAX_FRAME_SIZE - (prio ? prio.length : 0);
    let offset = 0;
    let first = true;
    do {
      const room = first ? firstRoom : DEFAULT_MAX_FRAME_SIZE;
      const n = Math.min(room, encoded.length - offset);
      const last = offset + n === encoded.length;
      let type: number = FrameType.CONTINUATION;
      let flags = last ? FrameFlag.END_HEADERS : 0;
      const parts: Buffer[] = [];
      if (first) {
        type = FrameType.HEADERS;
        flags |= block.flags & FrameFlag.END_STREAM;
        if (prio) {
          flags |= FrameFlag.PRIORITY;
          parts.push(prio);
        }
      }
      parts.push(encoded.subarray(offset, offset + n));
      const length = parts.reduce((s, b) => s + b.length, 0);
      out.push(frameHeader(length, type, flags, block.streamId), ...parts);
      offset += n;
      first = false;
    } while (offset < encoded.length);
  }
}

/** A GOAWAY frame (RFC 9113 section 6.8); `debug` goes in as its opaque debug data. */
export function goawayFrame(lastStreamId: number, errorCode: number, debug: string): Buffer {
  const payload = Buffer.alloc(8 + Buffer.byteLength(debug));
  payload.writeUInt32BE(lastStreamId & 0x7fffffff, 0);
  payload.writeUInt32BE(errorCode, 4);
  payload.write(debug, 8);
  return Buffer.concat([frameHeader(payload.length, FrameType.GOAWAY, 0, 0), payload]);
}

export function frameHeader(length: number, type: number, flags: number, streamId: number): Buffer {
  const h = Buffer.alloc(FRAME_HEADER_LENGTH);
  h[0] = (length >> 16) & 0xff;
  h[1] = (length >> 8) & 0xff;
  h[2] = length & 0xff;
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(streamId & 0x7fffffff, 5);
  return h;
}

/**
 * Watches the server-to-client byte stream (frames only; servers send no preface) and reports
 * the payload of every PING the server sends, so the rewriter can tell solicited PING ACKs
 * from unsolicited ones, whether a frame of our own (a GOAWAY) may follow what the server
 * has sent so far, and how many replies the server has begun (HEADERS without END_STREAM) and
 * ended (END_STREAM). It never changes the bytes.
 */
export class ServerPingScanner {
  private readonly header = Buffer.alloc(FRAME_HEADER_LENGTH);
  private headerSeen = 0;
  private skip = 0;
  private ping: Buffer | null = null;
  private pingSeen = 0;
  private sawFrame = false;
  /** HEADERS frames without END_STREAM (a reply begins) seen so far. */
  begunStreams = 0;
  /** HEADERS and DATA frames with END_STREAM (a reply is complete) seen so far. */
  endedStreams = 0;

  constructor(private readonly onPing: (payload: Buffer) => void) {}

  /**
   * The server's output so far is its SETTINGS (the first frame a server sends) and more whole
   * frames, so a frame of our own may follow without breaking the stream.
   */
  get canInsertFrame(): boolean {
    return this.sawFrame && this.headerSeen === 0 && this.skip === 0 && this.ping === null;
  }

  scan(chunk: Uint8Array): void {
    let pos = 0;
    while (pos < chunk.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - pos);
        this.skip -= n;
        pos += n;
      } else if (this.ping) {
        const n = Math.min(8 - this.pingSeen, chunk.length - pos);
        this.ping.set(chunk.subarray(pos, pos + n), this.pingSeen);
        this.pingSeen += n;
        pos += n;
        if (this.pingSeen === 8) {
          const p = this.ping;
          this.ping = null;
          this.onPing(p);
        }
      } else {
        const n = Math.min(FRAME_HEADER_LENGTH - this.headerSeen, chunk.length - pos);
        this.header.set(chunk.subarray(pos, pos + n), this.headerSeen);
        this.headerSeen += n;
        pos += n;
        if (this.headerSeen < FRAME_HEADER_LENGTH) continue;
        this.headerSeen = 0;
        this.sawFrame = true;
        const h = this.header;
        const length = h.readUIntBE(0, 3);
        const type = h.readUInt8(3);
        if (type === FrameType.HEADERS || type === FrameType.DATA) {
          if ((h.readUInt8(4) & FrameFlag.END_STREAM) !== 0) this.endedStreams++;
          else if (type === FrameType.HEADERS) this.begunStreams++;
        }
        if (type === FrameType.PING && (h.readUInt8(4) & FrameFlag.ACK) === 0 && length === 8) {
          this.ping = Buffer.alloc(8);
          this.pingSeen = 0;
        } else {
          this.skip = length;
        }
      }
    }
  }
}

/**
 * The rewriter as a Transform stream. A protocol error destroys the stream with the
 * H2RewriteError (no exception escapes to the process).
 */
export class AuthorityRewriteStream extends Transform {
  readonly rewriter: AuthorityRewriter;

  constructor(opts: AuthorityRewriterOptions = {}) {
    super();
    this.rewriter = new AuthorityRewriter(opts);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    let out: Buffer;
    try {
      out = this.rewriter.push(chunk);
    } catch (err) {
      cb(err as Error);
      return;
    }
    cb(null, out.length > 0 ? out : undefined);
  }
}
