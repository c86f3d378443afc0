// A Job judged from its pods on the node: the state a controller taking it over rebuilds
// (observedJob: counts, the back-off since the last success, active slots) and what crib jobs says
// of it (jobRows with the backoffLimit and deadline its pods carry; a stopped pod's phase).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { observedJob, type ObservedPod } from '../../src/kube/controllers/job-state.js';
import type { JobSpec } from '../../src/kube/manifest/workload.js';
import { jobRows, podPhase, type JobPod } from '../../src/kube/records/job-status.js';

const backoff = { baseMs: 1000, maxMs: 4000 };
const spec = (s: Partial<JobSpec>): JobSpec => ({ parallelism: 1, completions: 1, backoffLimit: 6, indexed: false, ...s });
const ended = (phase: 'Succeeded' | 'Failed', finishedMs: number, index?: number): ObservedPod => ({
  phase,
  finishedMs,
  restarts: 0,
  ...(index !== undefined ? { index } : {}),
});
const running = (index?: number): ObservedPod => ({ phase: 'Running', finishedMs: 0, restarts: 0, ...(index !== undefined ? { index } : {}) });

describe('a Job taken over: its state from its pods', () => {
  it('counts the ended pods and backs off from the newest failure, doubling per failure since the last success', () => {
    // Given out of order: the replay goes by their ends.
    const j = observedJob(spec({ backoffLimit: 4 }), 0, backoff, [ended('Failed', 5000), ended('Failed', 3000), ended('Succeeded', 100)]);
    assert.deepEqual([j.succeeded, j.failed, j.activeCount], [1, 2, 0]);
    assert.equal(j.backoffDelay(5000), 2000, 'two failures after the success: the base doubled once, from the newest');
    assert.deepEqual(j.toStart(6999), []);
    assert.equal(j.status(0).state, 'complete', 'completions 1: the success completed it');
    const after = observedJob(spec({ backoffLimit: 4 }), 0, backoff, [ended('Succeeded', 9000), ended('Failed', 3000)]);
    assert.equal(after.backoffDelay(9000), 0, 'a success resets the back-off');
  });

  it('keeps a running pod active: no second pod for its slot, nor for a completion it may still make', () => {
    const j = observedJob(spec({ completions: 3 }), 0, backoff, [ended('Succeeded', 100), running()]);
    assert.equal(j.activeCount, 1);
    assert.deepEqual(j.toStart(200), [], 'parallelism 1, one runs');
    const k = observedJob(spec({ completions: 3 }), 0, backoff, [ended('Succeeded', 100), ended('Succeeded', 300)]);
    assert.equal(k.toStart(400).length, 1, 'the third completion');
  });

  it('an Indexed Job: a failed index that runs again is active, the done ones are not started again', () => {
    const j = observedJob(spec({ completions: 3, parallelism: 3, indexed: true }), 0, backoff, [
      running(0),
      ended('Failed', 100, 0),
      ended('Succeeded', 50, 1),
    ]);
    assert.equal(j.activeCount, 1, 'index 0 runs again');
    assert.deepEqual(j.toStart(5000), [2], 'only index 2 wants a pod');
  });

  it('fails past backoffLimit, counting restarts too, and past its deadline from the start it had', () => {
    assert.equal(observedJob(spec({ backoffLimit: 1 }), 0, backoff, [ended('Failed', 1), ended('Failed', 2)]).status(3).state, 'failed');
    assert.equal(observedJob(spec({ backoffLimit: 2 }), 0, backoff, [{ ...running(), restarts: 2 }]).status(3).state, 'failed');
    const d = observedJob(spec({ activeDeadlineSeconds: 5 }), 1000, backoff, [running()]);
    assert.equal(d.status(5999).state, 'running');
    const st = d.status(6000);
    assert.equal(st.state === 'failed' ? st.reason : st.state, 'DeadlineExceeded');
  });
});

describe('crib jobs: a Job judged as its controller judges it', () => {
  let n = 0;
  const pod = (exits: (number | undefined)[], more: Partial<JobPod> = {}): JobPod => ({
    namespace: 'default',
    job: 'j',
    pod: `j-${++n}`,
    uid: `u${n}`,
    sandboxId: `s${n}`,
    completions: 1,
    createdMs: 1000,
    backoffLimit: 2,
    containers: exits.map((e, i) => ({ name: `c${i}`, exited: e !== undefined, exitCode: e ?? 0, finishedMs: e === undefined ? 0 : 5000 })),
    ...more,
  });

  it('is Running while failures are within backoffLimit, even with none active (a replacement is due); Failed past it', () => {
    assert.equal(jobRows([pod([3]), pod([3])])[0]?.status, 'Running');
    const row = jobRows([pod([3]), pod([3]), pod([3])])[0];
    assert.deepEqual([row?.status, row?.failed, row?.active], ['Failed', 3, 0]);
    assert.equal(jobRows([pod([3], { backoffLimit: 0 })])[0]?.status, 'Failed');
  });

  it('is Failed once the deadline its pods carry has passed, and Complete with its completions', () => {
    const p = pod([undefined], { deadlineMs: 10_000 });
    assert.equal(jobRows([p], 9_999)[0]?.status, 'Running');
    assert.equal(jobRows([p], 10_000)[0]?.status, 'Failed');
    assert.equal(jobRows([pod([3]), pod([0])])[0]?.status, 'Complete');
  });

  it("a stopped pod's phase: Succeeded only when its containers exited 0; one with none (its init container failed) Failed", () => {
    assert.equal(podPhase({ sandboxReady: false, containers: [] }), 'Failed');
    assert.equal(podPhase({ sandboxReady: true, containers: [] }), 'Running', 'still in its init containers');
    assert.equal(podPhase({ sandboxReady: false, containers: [{ name: 'c', exited: true, exitCode: 0, finishedMs: 1 }] }), 'Succeeded');
    assert.equal(podPhase({ sandboxReady: false, containers: [{ name: 'c', exited: false, exitCode: 0, finishedMs: 0 }] }), 'Failed');
  });
});
