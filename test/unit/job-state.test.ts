// The Job controller's decisions (controllers/job-state.ts) against its documented semantics
// (kubernetes.io "Jobs", batch/v1 JobSpec): pods replaced after a back-off of 10 s doubling up to six
// minutes, reset by a success; failed once more pods failed than backoffLimit, or (restartPolicy
// OnFailure) once container restarts reach it; completions with parallelism, Indexed completions
// once each, a work queue (no completions) done at its first success; activeDeadlineSeconds. Imports
// job-state.ts alone (the run-parsing mutation suite, test/mutation.md).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { JobState, observedJob, type ObservedPod } from '../../src/kube/controllers/job-state.js';
import type { JobSpec } from '../../src/kube/manifest/workload.js';

const SEC = 1000;
const spec = (s: Partial<JobSpec>): JobSpec => ({ parallelism: 1, completions: 1, backoffLimit: 6, indexed: false, ...s });
const BACKOFF_LIMIT = { state: 'failed', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' };
const DEADLINE = { state: 'failed', reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline' };

describe('Job controller: the back-off before a failed pod is replaced', () => {
  it('is 10 s, doubling per failure (10, 20, 40 … s), capped at six minutes', () => {
    const j = new JobState(spec({ backoffLimit: 100 }), 0);
    assert.equal(j.backoffDelay(0), 0, 'no failure: no back-off');
    const seen: number[] = [];
    let now = 0;
    for (let n = 0; n < 9; n++) {
      const [slot] = j.toStart(now);
      assert.ok(slot !== undefined, `a pod after failure ${n}`);
      j.failedPod(slot, now);
      seen.push(j.backoffDelay(now));
      now += j.backoffDelay(now);
    }
    assert.deepEqual(
      seen.map((ms) => ms / SEC),
      [10, 20, 40, 80, 160, 320, 360, 360, 360],
    );
  });

  it('counts down from the last failure; no pod starts until it has passed', () => {
    const j = new JobState(spec({}), 0);
    const [a] = j.toStart(0);
    j.failedPod(a ?? -1, 5 * SEC);
    assert.equal(j.backoffDelay(5 * SEC), 10 * SEC);
    assert.equal(j.backoffDelay(12 * SEC), 3 * SEC);
    assert.equal(j.backoffDelay(15 * SEC), 0);
    assert.equal(j.backoffDelay(100 * SEC), 0, 'never below 0');
    assert.deepEqual(j.toStart(15 * SEC - 1), [], 'backing off');
    assert.equal(j.toStart(15 * SEC).length, 1, 'the back-off has passed');
  });

  it("is reset by a success (the back-off count starts over after a pod's success)", () => {
    const j = new JobState(spec({ parallelism: 2, completions: 3 }), 0);
    const [a, b] = j.toStart(0);
    j.failedPod(a ?? -1, 0);
    j.succeededPod(b ?? -1);
    assert.equal(j.backoffDelay(0), 0);
    const [c] = j.toStart(0);
    j.failedPod(c ?? -1, 0);
    assert.equal(j.backoffDelay(0), 10 * SEC, 'the first failure since the success');
  });

  it('follows the back-off it is given', () => {
    const j = new JobState(spec({ backoffLimit: 10 }), 0, { baseMs: 1000, maxMs: 4000 });
    const delays: number[] = [];
    for (let n = 0; n < 4; n++) {
      const [s] = j.toStart(1e9 * n);
      j.failedPod(s ?? -1, 1e9 * n);
      delays.push(j.backoffDelay(1e9 * n));
    }
    assert.deepEqual(delays, [1000, 2000, 4000, 4000]);
  });
});

describe('Job controller: backoffLimit', () => {
  const failPods = (j: JobState, n: number): void => {
    for (let i = 0; i < n; i++) {
      const now = i * 1e9;
      const [s] = j.toStart(now);
      assert.ok(s !== undefined, `pod ${i + 1} starts`);
      j.failedPod(s, now);
    }
  };

  it('fails the Job once more pods failed than backoffLimit (retries), not before', () => {
    for (const limit of [0, 1, 2, 6]) {
      const j = new JobState(spec({ backoffLimit: limit }), 0);
      failPods(j, limit);
      assert.deepEqual(j.status(limit * 1e9), { state: 'running' }, `backoffLimit ${limit}: ${limit} failures are retried`);
      failPods(j, 0);
      const [s] = j.toStart(limit * 1e9);
      j.failedPod(s ?? -1, limit * 1e9);
      assert.deepEqual(j.status(limit * 1e9), BACKOFF_LIMIT, `backoffLimit ${limit}: failure ${limit + 1} ends it`);
      assert.deepEqual(j.toStart(1e12), [], 'a failed Job starts nothing');
    }
  });

  it('with restartPolicy OnFailure, counts container restarts: failed once they reach backoffLimit (any, with 0)', () => {
    const j = new JobState(spec({ backoffLimit: 3 }), 0);
    j.toStart(0);
    j.restarted();
    j.restarted();
    assert.equal(j.restarts, 2);
    assert.deepEqual(j.status(0), { state: 'running' });
    j.restarted();
    assert.deepEqual(j.status(0), BACKOFF_LIMIT);
    const zero = new JobState(spec({ backoffLimit: 0 }), 0);
    zero.toStart(0);
    assert.deepEqual(zero.status(0), { state: 'running' });
    zero.restarted();
    assert.deepEqual(zero.status(0), BACKOFF_LIMIT);
  });
});

describe('Job controller: completions and parallelism', () => {
  it('keeps parallelism pods running, never more than the completions still wanted', () => {
    const j = new JobState(spec({ parallelism: 3, completions: 5 }), 0);
    const first = j.toStart(0);
    assert.equal(first.length, 3);
    assert.equal(new Set(first).size, 3, 'each pod its own slot');
    assert.deepEqual(j.toStart(0), [], 'parallelism reached');
    j.succeededPod(first[0] ?? -1);
    j.succeededPod(first[1] ?? -1);
    assert.equal(j.succeeded, 2);
    // 3 completions wanted, 1 running: 2 more, though parallelism would allow 2 as well.
    const second = j.toStart(0);
    assert.equal(second.length, 2);
    j.succeededPod(second[0] ?? -1);
    // 2 wanted, 2 running: none, though parallelism allows one more.
    assert.deepEqual(j.toStart(0), []);
    assert.deepEqual(j.status(0), { state: 'running' });
    j.succeededPod(second[1] ?? -1);
    j.succeededPod(first[2] ?? -1);
    assert.deepEqual(j.status(0), { state: 'complete' });
    assert.deepEqual(j.toStart(0), [], 'a complete Job starts nothing');
  });

  it('parallelism 0 starts nothing; completions 0 is complete at once', () => {
    assert.deepEqual(new JobState(spec({ parallelism: 0, completions: 2 }), 0).toStart(0), []);
    const none = new JobState(spec({ completions: 0 }), 0);
    assert.deepEqual(none.status(0), { state: 'complete' });
    assert.deepEqual(none.toStart(0), []);
  });

  it('a work queue (no completions) runs parallelism pods; after a success none starts, and it is complete when none runs', () => {
    const j = new JobState(spec({ parallelism: 2, completions: undefined }), 0);
    const [a, b] = j.toStart(0);
    assert.ok(a !== undefined && b !== undefined && a !== b);
    j.failedPod(a, 0);
    const [c] = j.toStart(10 * SEC);
    assert.ok(c !== undefined, 'a failed pod is replaced');
    j.succeededPod(b);
    assert.deepEqual(j.status(10 * SEC), { state: 'running' }, 'one still runs');
    assert.deepEqual(j.toStart(1e9), [], 'no new pods after a success');
    j.succeededPod(c);
    assert.deepEqual(j.status(1e9), { state: 'complete' });
  });

  it('Indexed: each index 0..completions-1 once, lowest free first; a failed index runs again', () => {
    const j = new JobState(spec({ parallelism: 2, completions: 4, indexed: true }), 0);
    assert.deepEqual(j.toStart(0), [0, 1]);
    j.succeededPod(1);
    assert.deepEqual(j.toStart(0), [2]);
    j.failedPod(0, 0);
    assert.deepEqual(j.toStart(10 * SEC), [0], 'the failed index again, before index 3');
    j.succeededPod(2);
    assert.deepEqual(j.toStart(10 * SEC), [3]);
    j.succeededPod(3);
    assert.deepEqual(j.toStart(10 * SEC), [], 'every index done or running');
    assert.deepEqual(j.status(10 * SEC), { state: 'running' }, 'index 0 still runs');
    j.succeededPod(0);
    assert.deepEqual(j.status(10 * SEC), { state: 'complete' });
  });

  it('Indexed: completions counts distinct indexes, not successes', () => {
    const j = new JobState(spec({ parallelism: 1, completions: 2, indexed: true }), 0);
    assert.deepEqual(j.toStart(0), [0]);
    j.succeededPod(0);
    j.succeededPod(0);
    assert.deepEqual(j.status(0), { state: 'running' }, 'index 1 has not succeeded');
    assert.deepEqual(j.toStart(0), [1]);
  });
});

describe('Job controller: activeDeadlineSeconds', () => {
  it('fails the Job once it has been active that long, counted from its start', () => {
    const j = new JobState(spec({ activeDeadlineSeconds: 5 }), 1000 * SEC);
    assert.equal(j.deadline, 1005 * SEC);
    j.toStart(1000 * SEC);
    assert.deepEqual(j.status(1005 * SEC - 1), { state: 'running' });
    assert.deepEqual(j.status(1005 * SEC), DEADLINE);
    assert.deepEqual(j.toStart(1005 * SEC), []);
    assert.equal(new JobState(spec({}), 0).deadline, undefined, 'no deadline');
  });

  it('an outcome stays: a success after the deadline does not complete the Job, a late deadline does not fail a complete one', () => {
    const late = new JobState(spec({ activeDeadlineSeconds: 1 }), 0);
    const [s] = late.toStart(0);
    assert.deepEqual(late.status(SEC), DEADLINE);
    late.succeededPod(s ?? -1);
    assert.deepEqual(late.status(SEC), DEADLINE);
    const done = new JobState(spec({ activeDeadlineSeconds: 1 }), 0);
    const [d] = done.toStart(0);
    done.succeededPod(d ?? -1);
    assert.deepEqual(done.status(0), { state: 'complete' });
    assert.deepEqual(done.status(10 * SEC), { state: 'complete' });
  });
});

describe('Job controller: a Job taken over from its pods on the node (observedJob)', () => {
  it('counts the ended pods, the back-off from the last failure, and the running pods as active, each in its own slot', () => {
    const pods: ObservedPod[] = [
      { phase: 'Running', finishedMs: 0, restarts: 1 },
      { phase: 'Failed', finishedMs: 5 * SEC, restarts: 0 },
      { phase: 'Running', finishedMs: 0, restarts: 0 },
    ];
    const j = observedJob(spec({ parallelism: 3, completions: 3 }), 0, { baseMs: 10 * SEC, maxMs: 360 * SEC }, pods);
    assert.deepEqual([j.succeeded, j.failed, j.restarts, j.activeCount], [0, 1, 1, 2], 'succeeded, failed, restarts, active');
    assert.equal(j.backoffDelay(5 * SEC), 10 * SEC, 'from the failure at 5 s');
    assert.deepEqual(j.toStart(15 * SEC).length, 1, 'parallelism 3 with 2 running');
  });
});
