// The h2 fuzz targets, each run in a worker thread by test/unit/fuzz-h2.test.ts: the main thread can
// then stop a target that hangs, and the worker's own heap limit bounds what a runaway input
// can take.
//
// A target feeds one parser random and mutated inputs until its time budget is spent and checks,
// besides "no error but the expected class", what must hold of every result. The input of
// iteration i depends only on the seed, so FUZZ_SEED replays a failure.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { HuffmanError, huffmanDecode, huffmanEncode } from '../../src/socket/h2/huffman.js';
import {
  ENTRY_OVERHEAD,
  HpackDecoder,
  HpackError,
  MAX_HEADER_FIELDS,
  MAX_HEADER_LIST_SIZE,
  encodeHeaderBlock,
  type HeaderField,
} from '../../src/socket/h2/hpack.js';
import {
  AuthorityRewriter,
  CLIENT_PREFACE,
  FrameFlag,
  FrameType,
  H2ErrorCode,
  H2RewriteError,
  isValidAuthority,
} from '../../src/socket/h2/authority-rewriter.js';
import { repoRoot } from '../../src/util/paths.js';
import { FrameReader, HeaderBlockAssembler, parseClientBytes, type Frame } from './h2-replay.js';
import { frame, hpackBomb } from './h2-frames.js';
import { heapUsedAfterGc } from './heap.js';
import { mutate } from './mutate.js';
import { Prng } from './prng.js';

export type TargetName = 'huffman' | 'hpack' | 'rewriter';

export interface FuzzJob {
  target: TargetName;
  seed: number;
  budgetMs: number;
  /** Inputs run even when the budget is spent first (a loaded machine): the count, not the clock, says fuzzing happened. */
  minIterations: number;
  /** Int32 slot 0: the iteration under way, for the main thread to name when the worker hangs. */
  progress: SharedArrayBuffer;
}

export interface FuzzReport {
  iterations: number;
  /** How many inputs ended each way: "ok" or the expected error's name. */
  outcomes: Record<string, number>;
  /** Largest growth of the heap (after a full GC) over the run's baseline, in octets. */
  heapGrowth: number;
  slowestMs: number;
}

export type FuzzResult = { ok: true; report: FuzzReport } | { ok: false; iteration: number; error: string; input: string };

/** One input, and how to run it: returns the outcome, throws on anything unexpected. */
interface FuzzCase {
  input: Buffer | Buffer[];
  run(): string;
}
type Target = (rng: Prng) => FuzzCase;

/** One input taking this long is a bug too (super-linear work), if not a hang. */
const SLOW_INPUT_MS = 2000;
/** How often the heap is measured (a full GC each time). */
const HEAP_SAMPLE_MS = 250;
/** The rewriter's default limit on client table sizes, which the decoders here use too. */
const TABLE_SIZE_LIMIT = 65536;

// -------------------------------------------------------------------------------------------
// Seeds: what real clients send, and what the tests build

const fixtureStreams = fs
  .readdirSync(path.join(repoRoot, 'test/fixtures/cri-wire/connections'))
  .filter((n) => n.endsWith('.h2'))
  .sort()
  .map((n) => fs.readFileSync(path.join(repoRoot, 'test/fixtures/cri-wire/connections', n)));

/** The header blocks of each captured connection, in order (they share the HPACK state). */
const fixtureBlocks: { block: Buffer; fields: HeaderField[] }[][] = fixtureStreams.map((bytes) => {
  const asm = new HeaderBlockAssembler(TABLE_SIZE_LIMIT);
  return parseClientBytes(bytes)
    .map((f) => asm.feed(f))
    .filter((b) => b !== null)
    .map((b) => ({ block: b.block, fields: b.fields }));
});

const fields = (pairs: [string, string][]): HeaderField[] => pairs.map(([name, value]) => ({ name, value }));

const syntheticBlocks: Buffer[] = [
  encodeHeaderBlock(
    fields([
      [':method', 'POST'],
      [':authority', '/run/crib.sock'],
      ['x-k', 'v\xff\x00'],
    ]),
    { huffman: true },
  ),
  encodeHeaderBlock([
    { name: 'authorization', value: 'secret', neverIndex: true },
    { name: 'host', value: 'a b' },
  ]),
  hpackBomb(100, 2000),
  hpackBomb(60_000, 3),
];

function request(streamId: number, block: Buffer, flags: number = FrameFlag.END_HEADERS): Buffer {
  return frame(FrameType.HEADERS, flags, streamId, block);
}

const SETTINGS = frame(FrameType.SETTINGS, 0, 0, Buffer.from('000300000064', 'hex'));
const syntheticStreams: Buffer[] = [
  // Padding, priority and CONTINUATIONs; a PING, a PING ACK.
  Buffer.concat([
    CLIENT_PREFACE,
    SETTINGS,
    frame(
      FrameType.HEADERS,
      FrameFlag.PADDED | FrameFlag.PRIORITY,
      1,
      // Pad length 3, priority (exclusive, on stream 3, weight 16), a fragment, the padding.
      Buffer.concat([Buffer.from('038000000310', 'hex'), syntheticBlocks[0]!.subarray(0, 5), Buffer.alloc(3)]),
    ),
    frame(FrameType.CONTINUATION, FrameFlag.END_HEADERS, 1, syntheticBlocks[0]!.subarray(5)),
    frame(FrameType.PING, 0, 0, Buffer.alloc(8, 1)),
    frame(FrameType.PING, FrameFlag.ACK, 0, Buffer.alloc(8, 2)),
    frame(FrameType.DATA, FrameFlag.END_STREAM, 1, Buffer.from('0000000001aa', 'hex')),
  ]),
  // A large block in several frames, then one that indexes and one that refers back.
  Buffer.concat([
    CLIENT_PREFACE,
    SETTINGS,
    ...(() => {
      const big = encodeHeaderBlock(
        fields([
          [':authority', ''],
          ['x-big', 'v'.repeat(20_000)],
        ]),
      );
      return [
        frame(FrameType.HEADERS, 0, 3, big.subarray(0, 9000)),
        frame(FrameType.CONTINUATION, 0, 3, big.subarray(9000, 18000)),
        frame(FrameType.CONTINUATION, FrameFlag.END_HEADERS, 3, big.subarray(18000)),
      ];
    })(),
    // :method GET, :scheme http, :path /, then :authority "/x.sck" with incremental indexing.
    request(5, Buffer.concat([Buffer.from('8286844106', 'hex'), Buffer.from('/x.sck')])),
    request(7, Buffer.from('828684be', 'hex'), FrameFlag.END_HEADERS | FrameFlag.END_STREAM),
  ]),
  // A bomb.
  Buffer.concat([CLIENT_PREFACE, SETTINGS, request(1, hpackBomb(60_000, 1000))]),
];

// -------------------------------------------------------------------------------------------
// Targets

/** The expected error's name, or rethrow. */
function expected(err: unknown, cls: new (...args: never[]) => Error): string {
  if (err instanceof cls) return err.name;
  throw err;
}

const huffmanTarget = (): Target => {
  const corpus = [
    ...fixtureBlocks.flat().flatMap((b) => b.fields.flatMap((f) => [f.name, f.value])),
    'www.example.com',
    'Mon, 21 Oct 2013 20:13:21 GMT',
    Array.from({ length: 256 }, (_, i) => String.fromCharCode(i)).join(''),
  ].map((s) => huffmanEncode(Buffer.from(s, 'latin1')));
  return (rng) => {
    const kind = rng.below(3);
    const input = kind === 0 ? rng.bytes(rng.below(64)) : kind === 1 ? mutate(rng.pick(corpus), rng, corpus) : huffmanEncode(rng.bytes(rng.below(64)));
    return {
      input,
      run() {
        let out: Buffer;
        try {
          out = huffmanDecode(input);
        } catch (err) {
          return expected(err, HuffmanError);
        }
        assert.ok(out.length <= Math.ceil((input.length * 8) / 5), 'output within 8/5 of the input');
        // The code is prefix-free and valid padding is forced, so a valid input is the encoding.
        assert.ok(huffmanEncode(out).equals(input), 'encode(decode(x)) = x');
        return 'ok';
      },
    };
  };
};

const hpackTarget = (): Target => {
  const sequences: Buffer[][] = [...fixtureBlocks.map((c) => c.map((b) => b.block)), ...syntheticBlocks.map((b) => [b])];
  const flat = sequences.flat();
  return (rng) => {
    const seq = [...rng.pick(sequences)];
    const i = rng.below(seq.length + 1);
    seq[i] = rng.chance(0.1) ? rng.bytes(rng.below(128)) : mutate(seq[i] ?? rng.pick(flat), rng, flat);
    const huffman = rng.chance(0.5);
    return {
      input: seq,
      run() {
        const decoder = new HpackDecoder({ maxTableSizeLimit: TABLE_SIZE_LIMIT });
        for (const block of seq) {
          let decoded: HeaderField[];
          try {
            decoded = decoder.decode(block);
          } catch (err) {
            return expected(err, HpackError);
          }
          const listSize = decoded.reduce((n, f) => n + f.name.length + f.value.length + ENTRY_OVERHEAD, 0);
          assert.ok(listSize <= MAX_HEADER_LIST_SIZE, `header list of ${listSize} octets`);
          assert.ok(decoded.length <= MAX_HEADER_FIELDS, `${decoded.length} fields`);
          assert.ok(decoder.table.currentSize <= decoder.table.maxSize && decoder.table.maxSize <= TABLE_SIZE_LIMIT);
          // Re-encoded, the list decodes to itself and leaves a decoder's table untouched.
          const fresh = new HpackDecoder();
          assert.deepEqual(fresh.decode(encodeHeaderBlock(decoded, { huffman })), decoded);
          assert.equal(fresh.table.length, 0);
        }
        return 'ok';
      },
    };
  };
};

const isHeaderFrame = (f: Frame) => f.type === FrameType.HEADERS || f.type === FrameType.CONTINUATION;

/** A copy of `stream` with one header frame's payload mutated and its length fixed. */
function mutateHeaderFrame(stream: Buffer, rng: Prng, corpus: readonly Buffer[]): Buffer {
  if (stream.length < CLIENT_PREFACE.length) return stream;
  const frames = new FrameReader().push(stream.subarray(CLIENT_PREFACE.length));
  const targets = frames.map((f, i) => (isHeaderFrame(f) ? i : -1)).filter((i) => i >= 0);
  if (targets.length === 0) return stream;
  const i = rng.pick(targets);
  const f = frames[i]!;
  frames[i] = { ...f, raw: frame(f.type, f.flags, f.streamId, mutate(f.payload, rng, corpus)) };
  return Buffer.concat([CLIENT_PREFACE, ...frames.map((x) => x.raw)]);
}

/** Feed `input` in chunks of the given sizes (the last one takes the rest). */
function rewrite(input: Buffer, chunks: number[], dropAcks: boolean): { out: Buffer; ended: boolean; error?: H2RewriteError } {
  const r = new AuthorityRewriter({ dropUnsolicitedPingAcks: dropAcks });
  const out: Buffer[] = [];
  let pos = 0;
  try {
    for (const n of chunks) {
      out.push(r.push(input.subarray(pos, pos + n)));
      pos += n;
    }
    out.push(r.push(input.subarray(pos)));
  } catch (err) {
    if (!(err instanceof H2RewriteError)) throw err;
    // The rewriter turns unexpected exceptions into INTERNAL_ERROR: a bug, not a verdict.
    assert.notEqual(err.h2Code, H2ErrorCode.INTERNAL_ERROR, err.message);
    return { out: Buffer.concat(out), ended: false, error: err };
  }
  return { out: Buffer.concat(out), ended: r.end() };
}

/** What must hold of the output of an input the rewriter took whole. */
function checkRewritten(input: Buffer, out: Buffer, dropAcks: boolean): void {
  const inFrames = new FrameReader().push(input.subarray(CLIENT_PREFACE.length));
  const outFrames = new FrameReader().push(out.subarray(CLIENT_PREFACE.length));
  // Header blocks decode, carry only valid authorities, and never index.
  const asm = new HeaderBlockAssembler();
  for (const f of outFrames) {
    for (const field of asm.feed(f)?.fields ?? []) {
      if (field.name === ':authority' || field.name === 'host') assert.ok(isValidAuthority(field.value), field.value);
    }
  }
  assert.equal(asm.decoder.table.length, 0, 'rewritten blocks never index');
  // Every other frame passes unchanged, in order, but for the PING ACKs the rewriter drops (it
  // has been told of no server PING, so it drops all it takes for ACKs).
  const isAck = (f: Frame) => f.type === FrameType.PING && (f.flags & FrameFlag.ACK) !== 0 && f.payload.length === 8 && f.streamId === 0;
  const others = (frames: Frame[]) => frames.filter((f) => !isHeaderFrame(f)).map((f) => f.raw.toString('hex'));
  assert.deepEqual(others(outFrames), others(inFrames.filter((f) => !dropAcks || !isAck(f))));
}

const rewriterTarget = (): Target => {
  const corpus = [...fixtureStreams, ...syntheticStreams];
  return (rng) => {
    const base = rng.pick(corpus);
    const kind = rng.below(3);
    const input =
      kind === 0
        ? mutate(base, rng, corpus)
        : kind === 1
          ? mutateHeaderFrame(base, rng, corpus)
          : Buffer.concat([base, frame(rng.below(12), rng.below(256), rng.below(8), rng.bytes(rng.below(32)))]);
    const chunks = Array.from({ length: rng.below(8) }, () => rng.between(1, 64));
    const dropAcks = rng.chance(0.5);
    return {
      input,
      run() {
        const whole = rewrite(input, [], dropAcks);
        const chunked = rewrite(input, chunks, dropAcks);
        // The outcome depends on the bytes only, not on how they arrive.
        assert.equal(chunked.error?.message, whole.error?.message, 'same verdict in chunks');
        if (whole.error) return `${whole.error.name}:${whole.error.h2Code}`;
        assert.ok(chunked.out.equals(whole.out), 'same output in chunks');
        if (whole.ended && whole.out.length >= CLIENT_PREFACE.length) checkRewritten(input, whole.out, dropAcks);
        return 'ok';
      },
    };
  };
};

const targets: Record<TargetName, () => Target> = {
  huffman: huffmanTarget,
  hpack: hpackTarget,
  rewriter: rewriterTarget,
};

// -------------------------------------------------------------------------------------------
// The run

function run(job: FuzzJob): FuzzResult {
  const progress = new Int32Array(job.progress);
  const target = targets[job.target]();
  const rng = new Prng(job.seed);
  const outcomes: Record<string, number> = {};
  const baseline = heapUsedAfterGc();
  const deadline = Date.now() + job.budgetMs;
  let heapGrowth = 0;
  let slowestMs = 0;
  let nextSample = Date.now() + HEAP_SAMPLE_MS;
  let iteration = 0;
  for (; iteration < job.minIterations || Date.now() < deadline; iteration++) {
    Atomics.store(progress, 0, iteration);
    const c = target(rng);
    const started = Date.now();
    try {
      const outcome = c.run();
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
      const took = Date.now() - started;
      slowestMs = Math.max(slowestMs, took);
      assert.ok(took < SLOW_INPUT_MS, `one input took ${took} ms`);
    } catch (err) {
      const shown = (Array.isArray(c.input) ? c.input : [c.input]).map((b) => b.subarray(0, 2048).toString('hex'));
      return { ok: false, iteration, error: (err as Error).stack ?? String(err), input: shown.join(' | ') };
    }
    if (Date.now() >= nextSample) {
      heapGrowth = Math.max(heapGrowth, heapUsedAfterGc() - baseline);
      nextSample = Date.now() + HEAP_SAMPLE_MS;
    }
  }
  heapGrowth = Math.max(heapGrowth, heapUsedAfterGc() - baseline);
  return { ok: true, report: { iterations: iteration, outcomes, heapGrowth, slowestMs } };
}

if (parentPort) parentPort.postMessage(run(workerData as FuzzJob));
