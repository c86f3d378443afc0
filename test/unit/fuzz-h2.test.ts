// Fuzzing the h2 shim's parsers: the Huffman decoder, the HPACK decoder and the authority
// rewriter (the frame parser) get thousands of random inputs and mutations of real client bytes
// (test/fixtures/cri-wire/connections) for a few seconds each. No error but the parser's own may escape, every
// result must satisfy the checks in support/fuzz-h2-worker.ts, no input may hang, and the heap
// may not grow.
//
// The run's seed is printed; FUZZ_SEED=N replays it (FUZZ_MS=N changes the time per target).
// Each target runs in a worker thread with a heap limit of its own, so a hang or a memory blowup
// fails the test instead of the test process.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { subSeed } from '../support/prng.js';
import type { FuzzJob, FuzzResult, TargetName } from '../support/fuzz-h2-worker.js';

/** Time per target: thousands of inputs, and all three well under 30 s. */
const BUDGET_MS = envInteger('FUZZ_MS') ?? 3000;
/** A worker whose iteration counter stands still this long counts as hung. */
const HANG_GRACE_MS = 10_000;
/** A worker's heap; a parser that holds on to input-sized memory runs out of it. */
const WORKER_HEAP_MB = 256;
/** Heap growth (after a full GC) allowed over a run: parsers keep no state between inputs. */
const MAX_HEAP_GROWTH = 16 * 1024 * 1024;
/** Inputs per target however long they take (a loaded machine runs them past the budget). */
const MIN_ITERATIONS = 1000;

function envInteger(name: string): number | undefined {
  const v = process.env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n >= 2 ** 32) throw new Error(`${name} must be an integer in [0, 2^32), got ${v}`);
  return n;
}

const seed = envInteger('FUZZ_SEED') ?? randomInt(2 ** 32 - 1);
console.log(`fuzz-h2: FUZZ_SEED=${seed} (set it to replay this run)`);

function runTarget(target: TargetName): Promise<FuzzResult> {
  const job: FuzzJob = { target, seed: subSeed(seed, target), budgetMs: BUDGET_MS, minIterations: MIN_ITERATIONS, progress: new SharedArrayBuffer(4) };
  const progress = new Int32Array(job.progress);
  const worker = new Worker(new URL('../support/fuzz-h2-worker.js', import.meta.url), {
    workerData: job,
    resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB },
  });
  let timer: NodeJS.Timeout | undefined;
  return new Promise<FuzzResult>((resolve, reject) => {
    let seen = -1;
    timer = setInterval(() => {
      const now = Atomics.load(progress, 0);
      if (now === seen) reject(new Error(`hung at iteration ${now} (FUZZ_SEED=${seed})`));
      seen = now;
    }, HANG_GRACE_MS);
    worker.once('message', resolve);
    worker.once('error', (err) => reject(new Error(`worker died at iteration ${Atomics.load(progress, 0)} (FUZZ_SEED=${seed}): ${err.message}`)));
    worker.once('exit', (code) => reject(new Error(`worker exited (${code}) without a result (FUZZ_SEED=${seed})`)));
  }).finally(async () => {
    clearInterval(timer);
    await worker.terminate();
  });
}

for (const target of ['huffman', 'hpack', 'rewriter'] as const) {
  test(`fuzz ${target}`, async (t) => {
    const result = await runTarget(target);
    if (!result.ok) {
      assert.fail(`input ${result.iteration} (FUZZ_SEED=${seed}) failed: ${result.error}\ninput: ${result.input}`);
    }
    const { iterations, outcomes, heapGrowth, slowestMs } = result.report;
    t.diagnostic(`${iterations} inputs, ${JSON.stringify(outcomes)}, slowest ${slowestMs} ms, heap growth ${heapGrowth} octets`);
    assert.ok((outcomes.ok ?? 0) > 0, 'some inputs were accepted');
    assert.ok(Object.keys(outcomes).length > 1, 'some inputs were refused');
    assert.ok(heapGrowth < MAX_HEAP_GROWTH, `heap grew by ${heapGrowth} octets`);
  });
}
