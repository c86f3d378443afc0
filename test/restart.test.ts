import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { call } from '../src/cli/client.js';
import { Harness, inNetns } from './support/harness.js';

describe('cribd restarts', () => {
  const h = new Harness();
  before(() => h.start());
  after(() => h.cleanup());

  it('keeps pods across a SIGKILL of cribd: READY with the same IPs, NOTREADY if pause died meanwhile, and still cleans up', async () => {
    const keep = await h.runPod('keep');
    const dies = await h.runPod('dies');
    const host = await h.runPod('host', { linux: { security_context: { namespace_options: { network: 2 } } } });
    const before = await h.inspect(keep);
    const diesInfo = await h.inspect(dies);

    await h.stopDaemon('SIGKILL');
    process.kill(diesInfo.info.pid, 'SIGKILL');
    await h.start();

    const after = await h.inspect(keep);
    assert.equal(after.status?.state, 0, 'still READY');
    assert.equal(after.status?.network?.ip, before.status?.network?.ip);
    assert.equal(after.info.pid, before.info.pid, 'the same pause');
    await inNetns(after.info.netNamespacePath, ['ping', '-c', '1', '-W', '2', diesInfo.status?.network?.ip ?? '']).catch(() => undefined);
    assert.equal((await h.inspect(dies)).status?.state, 1, 'pause died while cribd was down: NOTREADY');
    assert.equal((await h.inspect(host)).status?.state, 0);

    // A pod created after the restart does not collide with the old ones.
    const fresh = await h.runPod('fresh');
    assert.notEqual((await h.inspect(fresh)).status?.network?.ip, after.status?.network?.ip);

    for (const id of [keep, dies, host, fresh]) {
      await call(h.runtime, 'StopPodSandbox', { pod_sandbox_id: id });
      await call(h.runtime, 'RemovePodSandbox', { pod_sandbox_id: id });
    }
    await h.assertNoLeaks();
  });

  it('rolls back at start a sandbox whose creation a crash interrupted', async () => {
    const id = await h.runPod('half');
    await h.stopDaemon('SIGKILL');
    // What a crash between CNI ADD and the final record leaves: a record still marked creating.
    const recordFile = path.join(h.root, 'records', 'sandboxes', `${id}.json`);
    const record = JSON.parse(fs.readFileSync(recordFile, 'utf8')) as Record<string, unknown>;
    fs.writeFileSync(recordFile, JSON.stringify({ ...record, phase: 'creating', network: undefined, pause: undefined }));
    await h.start();
    assert.equal((await call(h.runtime, 'ListPodSandbox', {})).items.length, 0);
    await h.assertNoLeaks();
    // The name is free again.
    const again = await h.runPod('half');
    await call(h.runtime, 'RemovePodSandbox', { pod_sandbox_id: again });
    await h.assertNoLeaks();
  });

  it('serves two daemons side by side with their own sockets, roots and networks', async () => {
    const other = new Harness();
    try {
      await other.start();
      const a = await h.runPod('side');
      const b = await other.runPod('side');
      assert.notEqual(a, b);
      assert.equal((await call(other.runtime, 'ListPodSandbox', {})).items.length, 1);
      assert.ok((await other.inspect(b)).status?.network?.ip?.startsWith(`${other.subnetPrefix}.`));
      await call(other.runtime, 'RemovePodSandbox', { pod_sandbox_id: b });
      await other.assertNoLeaks();
      await call(h.runtime, 'RemovePodSandbox', { pod_sandbox_id: a });
      await h.assertNoLeaks();
    } finally {
      await other.cleanup();
    }
  });
});
