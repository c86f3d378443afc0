// Building what an HTTP/2 client writes, frame by frame, for tests that need exact bytes.

import { frameHeader } from '../../src/socket/h2/authority-rewriter.js';
import { encodeHeaderBlock } from '../../src/socket/h2/hpack.js';

export function frame(type: number, flags: number, streamId: number, payload: Buffer): Buffer {
  return Buffer.concat([frameHeader(payload.length, type, flags, streamId), payload]);
}

/** A gRPC length-prefixed message (uncompressed). */
export function grpcFrame(message: Buffer): Buffer {
  const h = Buffer.alloc(5);
  h.writeUInt32BE(message.length, 1);
  return Buffer.concat([h, message]);
}

/**
 * An HPACK bomb: a dynamic table size update to 65536 (the most the rewriter allows), one literal
 * of `valueLength` octets with incremental indexing, then `refs` one-octet references to it
 * (index 62, the newest entry). Unbounded, it decodes to about refs × valueLength octets.
 */
export function hpackBomb(valueLength: number, refs: number): Buffer {
  const literal = encodeHeaderBlock([{ name: 'x-bomb', value: 'b'.repeat(valueLength) }]);
  literal[0] = 0x40; // "without indexing, new name" becomes "with incremental indexing, new name"
  return Buffer.concat([Buffer.from('3fe1ff03', 'hex'), literal, Buffer.alloc(refs, 0xbe)]);
}
