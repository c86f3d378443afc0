// Reading HTTP/2 as a client sees it: frames, header blocks, and a byte-for-byte replay of a
// captured client connection against a server socket.

import assert from 'node:assert/strict';
import net from 'node:net';
import { HpackDecoder, type HeaderField } from '../../src/socket/h2/hpack.js';
import { CLIENT_PREFACE, FrameFlag, FrameType } from '../../src/socket/h2/authority-rewriter.js';

export interface Frame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
  raw: Buffer;
}

/** Incremental frame parser (no preface handling). */
export class FrameReader {
  private buf = Buffer.alloc(0);
  push(chunk: Buffer): Frame[] {
    this.buf = Buffer.concat([this.buf, chunk]);
    const frames: Frame[] = [];
    while (this.buf.length >= 9) {
      const len = this.buf.readUIntBE(0, 3);
      if (this.buf.length < 9 + len) break;
      const raw = this.buf.subarray(0, 9 + len);
      frames.push({
        type: raw.readUInt8(3),
        flags: raw.readUInt8(4),
        streamId: raw.readUInt32BE(5) & 0x7fffffff,
        payload: raw.subarray(9),
        raw,
      });
      this.buf = this.buf.subarray(9 + len);
    }
    return frames;
  }
  get pending(): number {
    return this.buf.length;
  }
}

export function parseClientBytes(bytes: Buffer): Frame[] {
  assert.ok(bytes.subarray(0, 24).equals(CLIENT_PREFACE), 'client preface');
  const r = new FrameReader();
  const frames = r.push(bytes.subarray(24));
  assert.equal(r.pending, 0, 'no trailing partial frame');
  return frames;
}

/** Joins HEADERS/CONTINUATION into header blocks and decodes them. */
export class HeaderBlockAssembler {
  readonly decoder: HpackDecoder;
  private pending: { streamId: number; flags: number; parts: Buffer[] } | null = null;
  constructor(maxTableSize = 4096) {
    this.decoder = new HpackDecoder({ maxTableSizeLimit: maxTableSize });
  }
  /** Returns the block (as sent, and decoded) when `f` completes one. */
  feed(f: Frame): { streamId: number; endStream: boolean; block: Buffer; fields: HeaderField[] } | null {
    if (f.type === FrameType.HEADERS) {
      let start = 0;
      let end = f.payload.length;
      if (f.flags & FrameFlag.PADDED) {
        end -= f.payload.readUInt8(0);
        start = 1;
      }
      if (f.flags & FrameFlag.PRIORITY) start += 5;
      this.pending = { streamId: f.streamId, flags: f.flags, parts: [f.payload.subarray(start, end)] };
    } else if (f.type === FrameType.CONTINUATION) {
      assert.ok(this.pending && this.pending.streamId === f.streamId, 'CONTINUATION follows HEADERS');
      this.pending.parts.push(f.payload);
    } else {
      assert.equal(this.pending, null, 'no frame inside a header block');
      return null;
    }
    if (!(f.flags & FrameFlag.END_HEADERS)) return null;
    const p = this.pending;
    this.pending = null;
    const block = Buffer.concat(p.parts);
    return {
      streamId: p.streamId,
      endStream: (p.flags & FrameFlag.END_STREAM) !== 0,
      block,
      fields: this.decoder.decode(block),
    };
  }
}

export interface ReplayResult {
  clientStreams: number[];
  blocks: Map<number, HeaderField[][]>;
  data: Map<number, Buffer>;
  rst: { streamId: number; code: number }[];
  goaway: { lastStreamId: number; code: number; debug: string }[];
}

/** Write a captured client byte stream as is and read the server's frames until every client
 *  stream has its trailers. */
export async function replay(socketPath: string, bytes: Buffer, timeoutMs = 5000): Promise<ReplayResult> {
  const clientStreams = [
    ...new Set(
      parseClientBytes(bytes)
        .filter((f) => f.type === FrameType.HEADERS)
        .map((f) => f.streamId),
    ),
  ];
  const res: ReplayResult = { clientStreams, blocks: new Map(), data: new Map(), rst: [], goaway: [] };
  const reader = new FrameReader();
  const asm = new HeaderBlockAssembler(4096);
  const sock = net.connect(socketPath);
  const done = () =>
    clientStreams.every((id) => res.rst.some((r) => r.streamId === id) || (res.blocks.get(id) ?? []).some((b) => b.some((f) => f.name === 'grpc-status')));
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`replay timed out: ${JSON.stringify([...res.blocks])}`)), timeoutMs);
      sock.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      sock.on('close', () => {
        clearTimeout(timer);
        if (done()) resolve();
        else reject(new Error('server closed the connection early'));
      });
      sock.on('data', (chunk: Buffer) => {
        for (const f of reader.push(chunk)) {
          const b = asm.feed(f);
          if (b) res.blocks.set(b.streamId, [...(res.blocks.get(b.streamId) ?? []), b.fields]);
          if (f.type === FrameType.DATA) {
            res.data.set(f.streamId, Buffer.concat([res.data.get(f.streamId) ?? Buffer.alloc(0), f.payload]));
          } else if (f.type === FrameType.RST_STREAM) {
            res.rst.push({ streamId: f.streamId, code: f.payload.readUInt32BE(0) });
          } else if (f.type === FrameType.GOAWAY) {
            res.goaway.push({
              lastStreamId: f.payload.readUInt32BE(0) & 0x7fffffff,
              code: f.payload.readUInt32BE(4),
              debug: f.payload.subarray(8).toString(),
            });
          }
        }
        if (done()) {
          clearTimeout(timer);
          resolve();
        }
      });
      sock.write(bytes);
    });
  } finally {
    sock.destroy();
  }
  return res;
}

export const grpcStatus = (fields: HeaderField[][]): string | undefined => fields.flat().find((f) => f.name === 'grpc-status')?.value;
