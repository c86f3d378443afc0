// The pure pieces of crib-io's stdio protocols (src/host/crib-io.ts): the attach framing decoder and
// the resize messages. The helper itself is tested against real programs in test/crib-io.test.ts.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ATTACH_FRAME_HEADER, decodeAttachFrames, mountOpArgs, ptyResizeLine, type AttachFrame } from '../../src/host/crib-io.js';
import { conmonResizeMessage } from '../../src/oci/conmon.js';

function frame(stream: number, data: Buffer | string): Buffer {
  const d = Buffer.from(data);
  const h = Buffer.alloc(ATTACH_FRAME_HEADER);
  h.writeUInt8(stream, 0);
  h.writeUInt32BE(d.length, 1);
  return Buffer.concat([h, d]);
}

/** Feeds `chunks` through the decoder as a reader of crib-io's stdout would. */
function decodeAll(chunks: Buffer[]): { frames: { stream: string; data: string }[]; rest: Buffer } {
  const out: AttachFrame[] = [];
  let rest: Buffer = Buffer.alloc(0);
  for (const c of chunks) {
    const r = decodeAttachFrames(Buffer.concat([rest, c]));
    // Frames are views into the buffer they were decoded from; copy them to compare.
    out.push(...r.frames.map((f) => ({ stream: f.stream, data: Buffer.from(f.data) })));
    rest = r.rest;
  }
  return { frames: out.map((f) => ({ stream: f.stream, data: f.data.toString('latin1') })), rest };
}

describe('crib-io attach framing', () => {
  const stream = Buffer.concat([frame(1, 'out:one\n'), frame(2, 'err:one\n'), frame(1, ''), frame(2, Buffer.alloc(8192, 'x'))]);
  const want = [
    { stream: 'stdout', data: 'out:one\n' },
    { stream: 'stderr', data: 'err:one\n' },
    { stream: 'stdout', data: '' },
    { stream: 'stderr', data: 'x'.repeat(8192) },
  ];

  it('decodes a whole buffer', () => {
    assert.deepEqual(decodeAll([stream]), { frames: want, rest: Buffer.alloc(0) });
  });

  it('decodes the same however the bytes are split', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      assert.deepEqual(decodeAll([stream.subarray(0, cut), stream.subarray(cut)]).frames, want, `cut at ${cut}`);
    }
    const bytes = [...stream].map((b) => Buffer.from([b]));
    assert.deepEqual(decodeAll(bytes), { frames: want, rest: Buffer.alloc(0) });
  });

  it('keeps an incomplete frame for the next chunk', () => {
    const r = decodeAttachFrames(Buffer.concat([frame(1, 'a'), frame(2, 'bcd').subarray(0, 6)]));
    assert.equal(r.frames.length, 1);
    assert.deepEqual([...r.rest], [2, 0, 0, 0, 3, 0x62]);
    assert.deepEqual(decodeAttachFrames(Buffer.from([1, 0, 0])), { frames: [], rest: Buffer.from([1, 0, 0]) });
  });

  it('refuses bytes that are not its framing', () => {
    assert.throws(() => decodeAttachFrames(frame(3, 'x')), /stream 3 at byte 0/);
    assert.throws(() => decodeAttachFrames(Buffer.concat([frame(1, 'ok'), frame(0, 'x')])), /stream 0 at byte 7/);
    const huge = Buffer.from([1, 0, 1, 0, 0]); // 65536 bytes: more than crib-io can receive in one packet
    assert.throws(() => decodeAttachFrames(huge), /length 65536/);
  });
});

describe('resize messages', () => {
  it('crib-io pty fd 3: WIDTH HEIGHT', () => assert.equal(ptyResizeLine(120, 40), '120 40\n'));
  it("conmon's ctl fifo: 1 HEIGHT WIDTH", () => assert.equal(conmonResizeMessage(120, 40), '1 40 120\n'));
  it('refuses what a winsize cannot hold', () => {
    for (const bad of [-1, 1.5, 65536, NaN]) assert.throws(() => ptyResizeLine(bad, 1), RangeError);
    assert.throws(() => conmonResizeMessage(80, 70000), RangeError);
  });
});

describe('crib-io mount', () => {
  it('puts the operations on one command line, in order', () =>
    assert.deepEqual(mountOpArgs([{ netns: '/s/n' }, { tmpfs: '/s/shm', bytes: 65536 }, { umount: '/x' }]), [
      'netns',
      '/s/n',
      'tmpfs',
      '/s/shm',
      '65536',
      'umount',
      '/x',
    ]));
});
