// The crib-io helper (helpers/crib-io, built by scripts/build-helpers.sh): where it is, and the pure
// pieces of its stdio protocols. See helpers/crib-io/README.md for the protocols themselves.
import path from 'node:path';
import { run } from '../util/exec.js';
import { repoRoot } from '../util/paths.js';
import type { IdMapping } from './id-mapping.js';

/** Where the build step puts the static crib-io binary. */
export const builtCribIoBinary = path.join(repoRoot, 'build', 'crib-io');

/** One change to the mount table by `crib-io mount`. */
export type MountOp = { netns: string } | { tmpfs: string; bytes: number } | { umount: string };

export function mountOpArgs(ops: readonly MountOp[]): string[] {
  return ops.flatMap((o) => ('netns' in o ? ['netns', o.netns] : 'tmpfs' in o ? ['tmpfs', o.tmpfs, String(o.bytes)] : ['umount', o.umount]));
}

/** Makes the changes in one crib-io process (none: no process); every one is tried, any failure throws. */
export async function cribIoMount(ops: readonly MountOp[]): Promise<void> {
  if (ops.length) await run(builtCribIoBinary, ['mount', ...mountOpArgs(ops)], { timeoutMs: 30_000 });
}

/**
 * A new user namespace with these mappings pinned at `pin`, and with `netns` a network namespace
 * it owns, lo up, pinned there (both pins existing files). On failure nothing is left mounted.
 */
export async function cribIoUserns(o: { pin: string; uids: IdMapping; gids: IdMapping; netns?: string }): Promise<void> {
  const map = (m: IdMapping) => `${m.containerId}:${m.hostId}:${m.length}`;
  await run(builtCribIoBinary, ['userns', o.pin, map(o.uids), map(o.gids), ...(o.netns ? [o.netns] : [])], { timeoutMs: 30_000 });
}

/** Idmapped clones (with the user namespace pinned at `userns`) of the mounts at each source, attached at each target. */
export async function cribIoIdmap(userns: string, pairs: readonly { source: string; target: string }[]): Promise<void> {
  if (pairs.length) await run(builtCribIoBinary, ['idmap', userns, ...pairs.flatMap((p) => [p.source, p.target])], { timeoutMs: 30_000 });
}

/** `crib-io attach` frames: [stream: 1 stdout, 2 stderr][length: 4 bytes, big-endian][data]. */
export const ATTACH_FRAME_HEADER = 5;
/** crib-io receives the attach socket's packets (a pipe byte and at most 8192 bytes) into 65536 bytes. */
export const MAX_ATTACH_FRAME_DATA = 65535;

export interface AttachFrame {
  stream: 'stdout' | 'stderr';
  /** A view into the decoded buffer, not a copy. */
  data: Buffer;
}

/**
 * Splits the complete frames off the front of `buf` (what `crib-io attach` wrote to its stdout so
 * far, after the `rest` of the previous call); `rest` is the incomplete tail to put before the next
 * chunk. Throws on bytes that are not crib-io's framing (an unknown stream or an impossible length),
 * after which the stream cannot be resynchronised.
 */
export function decodeAttachFrames(buf: Buffer): { frames: AttachFrame[]; rest: Buffer } {
  const frames: AttachFrame[] = [];
  let at = 0;
  while (buf.length - at >= ATTACH_FRAME_HEADER) {
    const id = buf.readUInt8(at);
    const len = buf.readUInt32BE(at + 1);
    if (id !== 1 && id !== 2) throw new Error(`crib-io attach: bad frame: stream ${id} at byte ${at}`);
    if (len > MAX_ATTACH_FRAME_DATA) throw new Error(`crib-io attach: bad frame: length ${len} at byte ${at}`);
    if (buf.length - at - ATTACH_FRAME_HEADER < len) break;
    frames.push({ stream: id === 1 ? 'stdout' : 'stderr', data: buf.subarray(at + ATTACH_FRAME_HEADER, at + ATTACH_FRAME_HEADER + len) });
    at += ATTACH_FRAME_HEADER + len;
  }
  return { frames, rest: buf.subarray(at) };
}

/** A resize command for `crib-io pty` (written to its fd 3): "WIDTH HEIGHT\n". */
export function ptyResizeLine(width: number, height: number): string {
  return `${terminalDimension(width)} ${terminalDimension(height)}\n`;
}

/** A terminal width or height as the kernel's winsize holds it (16 bits). */
export function terminalDimension(n: number): number {
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new RangeError(`terminal dimension out of range: ${n}`);
  return n;
}
