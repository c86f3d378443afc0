// gRPC's length-prefixed messages on an HTTP/2 stream (grpc/doc/PROTOCOL-HTTP2.md): a compressed
// flag byte, a 4-byte big-endian length, the message.
import { GrpcError, GrpcStatus } from './status.js';

/** One message as a frame (never compressed: the client offers no encoding). */
export function frameMessage(message: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + message.length);
  out[0] = 0;
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

/** Cuts a stream's DATA into messages, refusing one longer than `maxMessage` before buffering it. */
export class FrameReader {
  private chunks: Buffer[] = [];
  private bytes = 0;
  /** The current frame's whole length (prefix and message), once its prefix is in. */
  private frameLength: number | undefined;

  constructor(private readonly maxMessage: number) {}

  /** The messages this chunk completes. */
  push(chunk: Buffer): Buffer[] {
    this.chunks.push(chunk);
    this.bytes += chunk.length;
    const out: Buffer[] = [];
    while (this.bytes >= 5) {
      if (this.frameLength === undefined) {
        const head = this.joined();
        const length = head.readUInt32BE(1);
        if (head[0] !== 0) throw new GrpcError(GrpcStatus.INTERNAL, 'compressed message, but no compression was offered');
        if (length > this.maxMessage) throw new GrpcError(GrpcStatus.RESOURCE_EXHAUSTED, `received message larger than max (${length} vs. ${this.maxMessage})`);
        this.frameLength = 5 + length;
      }
      if (this.bytes < this.frameLength) break;
      // Joined once per message, when all of it is in.
      const all = this.joined();
      out.push(all.subarray(5, this.frameLength));
      const rest = all.subarray(this.frameLength);
      this.chunks = rest.length ? [rest] : [];
      this.bytes = rest.length;
      this.frameLength = undefined;
    }
    return out;
  }

  /** Whether a message was cut off (the stream ended inside it). */
  get partial(): boolean {
    return this.bytes > 0;
  }

  private joined(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks, this.bytes)];
    return this.chunks[0] as Buffer;
  }
}

/** The grpc-timeout header for a deadline this many milliseconds away (at most 8 digits a unit). */
export function grpcTimeout(ms: number): string {
  const m = Math.max(0, Math.ceil(ms));
  if (m < 1e8) return `${m}m`;
  const s = Math.ceil(m / 1000);
  return s < 1e8 ? `${s}S` : `${Math.min(Math.ceil(s / 3600), 99_999_999)}H`;
}

/** grpc-message is percent-encoded (PROTOCOL-HTTP2.md); a malformed one is kept as it came. */
export function decodeGrpcMessage(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/** The status an HTTP response that is not gRPC's maps to (grpc/doc/http-grpc-status-mapping.md). */
export function httpStatusToGrpc(status: number): number {
  switch (status) {
    case 400:
      return GrpcStatus.INTERNAL;
    case 401:
      return GrpcStatus.UNAUTHENTICATED;
    case 403:
      return GrpcStatus.PERMISSION_DENIED;
    case 404:
      return GrpcStatus.UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
      return GrpcStatus.UNAVAILABLE;
    default:
      return GrpcStatus.UNKNOWN;
  }
}

/** The status a stream reset by the server maps to (PROTOCOL-HTTP2.md, "Errors"). */
export function rstCodeToGrpc(rstCode: number): number {
  switch (rstCode) {
    case 0x7: // REFUSED_STREAM
      return GrpcStatus.UNAVAILABLE;
    case 0x8: // CANCEL
      return GrpcStatus.CANCELLED;
    case 0xb: // ENHANCE_YOUR_CALM
      return GrpcStatus.RESOURCE_EXHAUSTED;
    case 0xc: // INADEQUATE_SECURITY
      return GrpcStatus.PERMISSION_DENIED;
    default:
      return GrpcStatus.INTERNAL;
  }
}
