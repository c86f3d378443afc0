// A RunPodSandbox or CreateContainer whose client gives up (its deadline passes) mid-way leaves what
// a failed one leaves: nothing. The runtime is runc behind a wrapper that, on cue, stalls in
// `create` or `run` (as runc 1.1 does on a huge environment), so the deadline falls while the
// runtime's create runs (pause's is a `run --detach`); the leak check then looks for every netns, veth, lease, mount, cgroup, process and
// record the call made.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { call } from '../src/client/client.js';
import { findExecutable } from '../src/oci/find-runtime.js';
import { TEST_IMAGE, importBusybox } from '../support/busybox-image.js';
import { rejectsWith } from './support/grpc-assert.js';
import { Harness } from '../support/harness.js';
import { waitFor } from './support/wait-for.js';

/** Longer than the client waits, shorter than conmon's 30 s: a create that is not cut off succeeds. */
const STALL_SECONDS = 15;
const DEADLINE_SECONDS = 3;

describe('cancelled requests', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crib-stalling-'));
  const stall = path.join(dir, 'stall');
  const stalled = path.join(dir, 'stalled-pid');
  const wrapper = path.join(dir, 'runc');
  fs.writeFileSync(
    wrapper,
    [
      '#!/bin/sh',
      // On cue, `create` (or pause's `run`) waits first (its pid noted, so the test can see it end).
      `for a in "$@"; do if { [ "$a" = create ] || [ "$a" = run ]; } && [ -e ${stall} ]; then echo $$ > ${stalled}; sleep ${STALL_SECONDS}; fi; done`,
      `exec ${findExecutable('runc') ?? 'runc'} "$@"`,
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  const h = new Harness({ flags: ['--runtime', wrapper] });

  before(async () => {
    await h.start();
    await importBusybox(h, TEST_IMAGE);
  });
  after(async () => {
    await h.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const recordsOf = (kind: string) => fs.readdirSync(path.join(h.root, 'records', kind));
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };

  /** Runs `request` with the runtime's create stalled, and waits for that create to end (cut off, or done). */
  async function stalledCall(request: () => Promise<unknown>): Promise<void> {
    fs.rmSync(stalled, { force: true });
    fs.writeFileSync(stall, '');
    try {
      await rejectsWith(request(), grpc.status.DEADLINE_EXCEEDED, /deadline/i);
      await waitFor(() => fs.existsSync(stalled), 'the stalled create to have started', 10_000);
      const pid = Number(fs.readFileSync(stalled, 'utf8'));
      await waitFor(() => !alive(pid), 'the stalled create to end', (STALL_SECONDS + 10) * 1000);
    } finally {
      fs.rmSync(stall, { force: true });
    }
  }

  it('RunPodSandbox: the pod is rolled back, nothing is left', async () => {
    await stalledCall(() => call(h.runtime, 'RunPodSandbox', { config: h.podConfig('cancelled') }, DEADLINE_SECONDS));
    await waitFor(
      () => recordsOf('sandboxes').length === 0,
      () => `the rollback to end; records: ${recordsOf('sandboxes').join(', ')}`,
      20_000,
    );
    assert.deepEqual((await call(h.runtime, 'ListPodSandbox', {})).items, []);
    await h.assertNoLeaks();
  });

  it('CreateContainer: the container is rolled back, nothing is left', async () => {
    const config = h.podConfig('holds');
    const pod = (await call(h.runtime, 'RunPodSandbox', { config })).pod_sandbox_id;
    const container = { metadata: { name: 'cancelled', attempt: 0 }, image: { image: TEST_IMAGE }, command: ['sleep', '1000'], log_path: 'c.log' };
    await stalledCall(() => call(h.runtime, 'CreateContainer', { pod_sandbox_id: pod, config: container, sandbox_config: config }, DEADLINE_SECONDS));
    await waitFor(
      () => recordsOf('containers').length === 0,
      () => `the rollback to end; records: ${recordsOf('containers').join(', ')}`,
      20_000,
    );
    assert.deepEqual((await call(h.runtime, 'ListContainers', {})).containers, []);
    assert.deepEqual(fs.readdirSync(path.join(h.root, 'containers')), [], 'no container directory');
    await call(h.runtime, 'RemovePodSandbox', { pod_sandbox_id: pod });
    await h.assertNoLeaks();
  });

  it("CreateContainer with the 50,000 variables runc 1.1's create hung on: INVALID_ARGUMENT naming config.envs, nothing made", async () => {
    const config = h.podConfig('many-envs');
    const pod = (await call(h.runtime, 'RunPodSandbox', { config })).pod_sandbox_id;
    const envs = Array.from({ length: 50_000 }, (_, i) => ({ key: `V${i}`, value: 'x'.repeat(10) }));
    const container = { metadata: { name: 'envs', attempt: 0 }, image: { image: TEST_IMAGE }, command: ['sleep', '1000'], envs, log_path: 'e.log' };
    await rejectsWith(
      call(h.runtime, 'CreateContainer', { pod_sandbox_id: pod, config: container, sandbox_config: config }),
      grpc.status.INVALID_ARGUMENT,
      /^config\.envs: /,
    );
    assert.deepEqual(recordsOf('containers'), []);
    await call(h.runtime, 'RemovePodSandbox', { pod_sandbox_id: pod });
    await h.assertNoLeaks();
  });
});
