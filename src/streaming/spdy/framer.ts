// SPDY/3.1 framing (draft 3, section 2.2; 3.1 adds only the session window): frame encoders and an
// incremental parser. Pure: no I/O, no timers. Header blocks stay compressed here; the connection
// inflates them in order (zlib-headers.ts).

import { SpdyProtocolError } from './errors.js';

export const SPDY_VERSION = 3;

export const FrameType = {
  SYN_STREAM: 1,
  SYN_REPLY: 2,
  RST_STREAM: 3,
  SETTINGS: 4,
  PING: 6,
  GOAWAY: 7,
  HEADERS: 8,
  WINDOW_UPDATE: 9,
} as const;

/** FIN on SYN_STREAM, SYN_REPLY, HEADERS and data frames; UNIDIRECTIONAL on SYN_STREAM. */
export const FLAG_FIN = 0x01;
export const FLAG_UNIDIRECTIONAL = 0x02;

export const RstStatus = {
  PROTOCOL_ERROR: 1,
  INVALID_STREAM: 2,
  REFUSED_STREAM: 3,
  UNSUPPORTED_VERSION: 4,
  CANCEL: 5,
  INTERNAL_ERROR: 6,
  FLOW_CONTROL_ERROR: 7,
  STREAM_IN_USE: 8,
  STREAM_ALREADY_CLOSED: 9,
  FRAME_TOO_LARGE: 11,
} as const;

export const GoAwayStatus = { OK: 0, PROTOCOL_ERROR: 1, INTERNAL_ERROR: 2 } as const;

export const SETTINGS_INITIAL_WINDOW_SIZE = 7;

/** Stream ids, window sizes and deltas are 31-bit. */
export const MAX_31BIT = 0x7fffffff;

/** A frame's length field is 24 bits. */
const MAX_FRAME_LENGTH = 0xffffff;

/**
 * The largest control frame accepted. Control frames are buffered whole; the ones Kubernetes
 * clients send are tens of bytes (a SYN_STREAM with three headers), so 64 KiB is ample and bounds
 * what a hostile frame can make the server hold. Data frames are never buffered whole (see DataPiece).
 */
export const MAX_CONTROL_FRAME_BYTES = 64 * 1024;

export interface SettingsEntry {
  flags: number;
  id: number;
  value: number;
}

export type ControlFrame =
  | { type: 'syn_stream'; streamId: number; associatedId: number; priority: number; flags: number; headerBlock: Buffer }
  | { type: 'syn_reply'; streamId: number; flags: number; headerBlock: Buffer }
  | { type: 'headers'; streamId: number; flags: number; headerBlock: Buffer }
  | { type: 'rst_stream'; streamId: number; status: number }
  | { type: 'settings'; flags: number; entries: SettingsEntry[] }
  | { type: 'ping'; id: number }
  | { type: 'goaway'; lastGoodStreamId: number; status: number }
  | { type: 'window_update'; streamId: number; delta: number };

/**
 * Part of a data frame, delivered as its bytes arrive so a 16 MiB frame never sits in memory whole.
 * `first` marks a frame's first piece; `fin` its last when the frame carries FIN.
 */
export interface DataPiece {
  type: 'data';
  streamId: number;
  payload: Buffer;
  first: boolean;
  fin: boolean;
}

export type ParsedFrame = ControlFrame | DataPiece;

// ---- encoders ---------------------------------------------------------------------------------

function controlFrame(type: number, flags: number, payload: Buffer): Buffer {
  if (payload.length > MAX_FRAME_LENGTH) throw new RangeError(`SPDY frame payload of ${payload.length} bytes`);
  const head = Buffer.alloc(8);
  head.writeUInt16BE(0x8000 | SPDY_VERSION, 0);
  head.writeUInt16BE(type, 2);
  head.writeUInt32BE((((flags & 0xff) << 24) | payload.length) >>> 0, 4);
  return Buffer.concat([head, payload]);
}

function words(...values: number[]): Buffer {
  const b = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => b.writeUInt32BE(v >>> 0, i * 4));
  return b;
}

export function encodeSynStream(streamId: number, flags: number, headerBlock: Buffer, associatedId = 0, priority = 0): Buffer {
  const fixed = Buffer.alloc(10);
  fixed.writeUInt32BE(streamId & MAX_31BIT, 0);
  fixed.writeUInt32BE(associatedId & MAX_31BIT, 4);
  fixed[8] = (priority & 0x7) << 5;
  return controlFrame(FrameType.SYN_STREAM, flags, Buffer.concat([fixed, headerBlock]));
}

export function encodeSynReply(streamId: number, flags: number, headerBlock: Buffer): Buffer {
  return controlFrame(FrameType.SYN_REPLY, flags, Buffer.concat([words(streamId & MAX_31BIT), headerBlock]));
}

export function encodeHeaders(streamId: number, flags: number, headerBlock: Buffer): Buffer {
  return controlFrame(FrameType.HEADERS, flags, Buffer.concat([words(streamId & MAX_31BIT), headerBlock]));
}

export function encodeRstStream(streamId: number, status: number): Buffer {
  return controlFrame(FrameType.RST_STREAM, 0, words(streamId & MAX_31BIT, status));
}

export function encodeSettings(entries: readonly SettingsEntry[], flags = 0): Buffer {
  return controlFrame(FrameType.SETTINGS, flags, words(entries.length, ...entries.flatMap((e) => [((e.flags & 0xff) << 24) | (e.id & 0xffffff), e.value])));
}

export function encodePing(id: number): Buffer {
  return controlFrame(FrameType.PING, 0, words(id));
}

export function encodeGoAway(lastGoodStreamId: number, status: number): Buffer {
  return controlFrame(FrameType.GOAWAY, 0, words(lastGoodStreamId & MAX_31BIT, status));
}

export function encodeWindowUpdate(streamId: number, delta: number): Buffer {
  return controlFrame(FrameType.WINDOW_UPDATE, 0, words(streamId & MAX_31BIT, delta & MAX_31BIT));
}

/** A data frame's 8-byte header, for a payload written after it as it is (no copy). */
export function encodeDataFrameHead(streamId: number, flags: number, length: number): Buffer {
  if (length > MAX_FRAME_LENGTH) throw new RangeError(`SPDY data frame of ${length} bytes`);
  const head = Buffer.allocUnsafe(8);
  head.writeUInt32BE(streamId & MAX_31BIT, 0);
  head.writeUInt32BE((((flags & 0xff) << 24) | length) >>> 0, 4);
  return head;
}

export function encodeDataFrame(streamId: number, flags: number, payload: Buffer): Buffer {
  return Buffer.concat([encodeDataFrameHead(streamId, flags, payload.length), payload]);
}

// ---- parser -----------------------------------------------------------------------------------

/** Checks a control frame's payload length for its type; the connection checks meaning. */
function parseControl(type: number, flags: number, p: Buffer): ControlFrame | undefined {
  const exact = (n: number, name: string) => {
    if (p.length !== n) throw new SpdyProtocolError(`${name} frame of ${p.length} bytes (must be ${n})`);
  };
  const atLeast = (n: number, name: string) => {
    if (p.length < n) throw new SpdyProtocolError(`${name} frame of ${p.length} bytes (at least ${n})`);
  };
  const id = (off: number) => p.readUInt32BE(off) & MAX_31BIT;
  switch (type) {
    case FrameType.SYN_STREAM:
      atLeast(10, 'SYN_STREAM');
      return { type: 'syn_stream', streamId: id(0), associatedId: id(4), priority: (p[8] ?? 0) >> 5, flags, headerBlock: p.subarray(10) };
    case FrameType.SYN_REPLY:
      atLeast(4, 'SYN_REPLY');
      return { type: 'syn_reply', streamId: id(0), flags, headerBlock: p.subarray(4) };
    case FrameType.HEADERS:
      atLeast(4, 'HEADERS');
      return { type: 'headers', streamId: id(0), flags, headerBlock: p.subarray(4) };
    case FrameType.RST_STREAM:
      exact(8, 'RST_STREAM');
      return { type: 'rst_stream', streamId: id(0), status: p.readUInt32BE(4) };
    case FrameType.SETTINGS: {
      atLeast(4, 'SETTINGS');
      const n = p.readUInt32BE(0);
      // Checked against the frame's own length, so a count of 2^32-1 allocates nothing.
      if (p.length !== 4 + n * 8) throw new SpdyProtocolError(`SETTINGS frame of ${p.length} bytes for ${n} entries`);
      const entries: SettingsEntry[] = [];
      for (let i = 0; i < n; i++) {
        const fid = p.readUInt32BE(4 + i * 8);
        entries.push({ flags: fid >>> 24, id: fid & 0xffffff, value: p.readUInt32BE(8 + i * 8) });
      }
      return { type: 'settings', flags, entries };
    }
    case FrameType.PING:
      exact(4, 'PING');
      return { type: 'ping', id: p.readUInt32BE(0) };
    case FrameType.GOAWAY:
      exact(8, 'GOAWAY');
      return { type: 'goaway', lastGoodStreamId: id(0), status: p.readUInt32BE(4) };
    case FrameType.WINDOW_UPDATE:
      exact(8, 'WINDOW_UPDATE');
      return { type: 'window_update', streamId: id(0), delta: p.readUInt32BE(4) & MAX_31BIT };
    default:
      // Draft 3, 2.2.1: a control frame of an unknown type is ignored.
      return undefined;
  }
}

type ParserState =
  | { at: 'header' }
  | { at: 'control'; type: number; flags: number; length: number }
  | { at: 'data'; streamId: number; fin: boolean; remaining: number; first: boolean };

/**
 * Turns the peer's bytes into frames, whatever way they are cut. Errors are SpdyProtocolError and
 * leave the parser unusable (the session is over).
 */
export class FrameParser {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private state: ParserState = { at: 'header' };

  constructor(private readonly maxControlFrame = MAX_CONTROL_FRAME_BYTES) {}

  push(chunk: Buffer): ParsedFrame[] {
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    const out: ParsedFrame[] = [];
    for (;;) {
      const s = this.state;
      if (s.at === 'header') {
        if (this.buffered < 8) break;
        const h = this.take(8);
        const flags = h[4] ?? 0;
        const length = h.readUInt32BE(4) & 0xffffff;
        if ((h[0] ?? 0) & 0x80) {
          const version = h.readUInt16BE(0) & 0x7fff;
          if (version !== SPDY_VERSION) throw new SpdyProtocolError(`control frame of SPDY version ${version} (only ${SPDY_VERSION})`);
          if (length > this.maxControlFrame) throw new SpdyProtocolError(`control frame of ${length} bytes (at most ${this.maxControlFrame})`);
          this.state = { at: 'control', type: h.readUInt16BE(2), flags, length };
        } else {
          const streamId = h.readUInt32BE(0) & MAX_31BIT;
          if (streamId === 0) throw new SpdyProtocolError('data frame on stream 0');
          const fin = (flags & FLAG_FIN) !== 0;
          if (length === 0) out.push({ type: 'data', streamId, payload: Buffer.alloc(0), first: true, fin });
          else this.state = { at: 'data', streamId, fin, remaining: length, first: true };
        }
      } else if (s.at === 'control') {
        if (this.buffered < s.length) break;
        const frame = parseControl(s.type, s.flags, this.take(s.length));
        this.state = { at: 'header' };
        if (frame) out.push(frame);
      } else {
        if (this.buffered === 0) break;
        const payload = this.take(Math.min(s.remaining, this.buffered));
        s.remaining -= payload.length;
        out.push({ type: 'data', streamId: s.streamId, payload, first: s.first, fin: s.fin && s.remaining === 0 });
        s.first = false;
        if (s.remaining === 0) this.state = { at: 'header' };
      }
    }
    return out;
  }

  /** Removes and returns the next `n` buffered bytes (n <= buffered), copying only across chunks. */
  private take(n: number): Buffer {
    const first = this.chunks[0];
    if (first && first.length >= n) {
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      this.buffered -= n;
      return first.subarray(0, n);
    }
    const all = Buffer.concat(this.chunks);
    this.chunks = all.length > n ? [all.subarray(n)] : [];
    this.buffered -= n;
    return all.subarray(0, n);
  }
}
