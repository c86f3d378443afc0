import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { call, serverStream } from '../src/client/client.js';
import type { ContainerEventResponse__Output } from '../src/cri/generated/runtime/v1/ContainerEventResponse.js';
import { Harness, inNetns } from '../support/harness.js';
import { TEST_IMAGE, importBusybox } from '../support/busybox-image.js';
import { liveStartTime } from '../support/leaks.js';
import { waitFor } from './support/wait-for.js';

describe('cribd restarts', () => {
  const h = new Harness();
  before(async () => {
    await h.start();
    await importBusybox(h, TEST_IMAGE);
  });
  after(() => h.cleanup());

  /** A container of the busybox image in the pod made by runPod(podName); started unless told not to. */
  async function container(podId: string, podName: string, name: string, command: string[], start = true): Promise<string> {
    const config = { metadata: { name }, image: { image: TEST_IMAGE }, command, log_path: `${name}.log` };
    const id = (await call(h.runtime, 'CreateContainer', { pod_sandbox_id: podId, config, sandbox_config: h.podConfig(podName) })).container_id;
    if (start) await call(h.runtime, 'StartContainer', { container_id: id });
    return id;
  }

  /** Rewrites a record on disk (cribd is down) as a crash at some step would have left it. */
  function rewriteRecord(kind: 'sandboxes' | 'containers', id: string, patch: Record<string, unknown>): void {
    const file = path.join(h.root, 'records', kind, `${id}.json`);
    const record = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
    fs.writeFileSync(file, JSON.stringify({ ...record, ...patch }));
  }

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
    assert.equal((await h.inspect(dies)).status?.state, 1, 'pause died while cribd was down: NOTREADY');
    assert.equal((await h.inspect(host)).status?.state, 0);

    // A pod created after the restart does not collide with the old ones, and reaches the kept one.
    const fresh = await h.runPod('fresh');
    const freshInfo = await h.inspect(fresh);
    assert.notEqual(freshInfo.status?.network?.ip, after.status?.network?.ip);
    await inNetns(freshInfo.info.netNamespacePath, ['ping', '-c', '1', '-W', '2', after.status?.network?.ip ?? '']);

    for (const id of [keep, dies, host, fresh]) {
      await call(h.runtime, 'StopPodSandbox', { pod_sandbox_id: id });
      await call(h.runtime, 'RemovePodSandbox', { pod_sandbox_id: id });
    }
    await h.assertNoLeaks();
  });

  it("learns pause's exit from its own monitor (crib-io, not conmon), which records it while cribd is down too", async () => {
    const down = await h.runPod('mon-down');
    const live = await h.runPod('mon-live');
    const pauseOf = async (id: string) => (await h.inspect(id)).info.pid;
    const parentOf = (pid: number) => Number(fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ')[1]);
    const [downPause, livePause] = [await pauseOf(down), await pauseOf(live)];
    const monitor = parentOf(downPause);
    assert.match(fs.readFileSync(`/proc/${monitor}/cmdline`, 'utf8').split('\0').slice(0, 2).join(' '), /crib-io monitor$/, "pause's parent is its monitor");
    const exitFile = path.join(h.state, 'exits', down);

    await h.stopDaemon('SIGKILL');
    try {
      process.kill(downPause, 'SIGKILL');
      await waitFor(() => fs.existsSync(exitFile), 'the exit file of pause, killed while cribd is down', 10_000);
      assert.equal(fs.readFileSync(exitFile, 'utf8').trim(), '137', 'SIGKILL, as conmon records it (128 + 9)');
      await waitFor(() => liveStartTime(monitor) === undefined, 'the monitor to leave once it recorded the exit', 10_000);
    } finally {
      // Up again whatever happened, so the cleanup removes the pods through it.
      await h.start();
    }
    assert.equal((await h.inspect(down)).status?.state, 1, 'NOTREADY after the restart');
    // A pause that dies while cribd runs is said at once, from the exit file alone (nobody asks).
    const stream = serverStream(h.runtime, 'GetContainerEvents', {});
    const got: ContainerEventResponse__Output[] = [];
    stream.on('data', (e: ContainerEventResponse__Output) => got.push(e));
    stream.on('error', () => undefined); // cancelled at the end
    try {
      // The subscription is in place once it sees an event: the first pod's removal.
      await call(h.runtime, 'RemovePodSandbox', { pod_sandbox_id: down });
      await waitFor(() => got.some((e) => e.container_id === down && e.container_event_type === 3), "the first pod's DELETED event", 10_000);
      process.kill(livePause, 'SIGKILL');
      await waitFor(() => got.some((e) => e.container_id === live && e.container_event_type === 2), "the pod's STOPPED event", 10_000);
    } finally {
      stream.cancel();
    }
    await call(h.runtime, 'RemovePodSandbox', { pod_sandbox_id: live });
    await h.assertNoLeaks();
  });

  it('leaves pods and containers running on SIGTERM; the restarted cribd picks them up', async () => {
    const id = await h.runPod('calm');
    const ctr = await container(id, 'calm', 'ticker', ['sh', '-c', 'i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.1; done']);
    const ctrPid = async () => JSON.parse((await call(h.runtime, 'ContainerStatus', { container_id: ctr, verbose: true })).info['info'] ?? '{}').pid as number;
    const pids = [(await h.inspect(id)).info.pid, await ctrPid()];
    const started = pids.map(liveStartTime);
    const log = path.join(h.podConfig('calm').log_directory ?? '', 'ticker.log');
    const lastTick = () => Number(/ tick (\d+)\n$/.exec(fs.readFileSync(log, 'utf8'))?.[1] ?? 0);

    assert.deepEqual(await h.stopDaemon('SIGTERM'), { code: 0, signal: null }, 'cribd exits cleanly on SIGTERM');
    const atStop = lastTick();
    await waitFor(() => lastTick() >= atStop + 3, 'the container to go on logging while cribd is down', 20_000);
    assert.deepEqual(pids.map(liveStartTime), started, 'pause and the container are the same processes, still running');

    await h.start();
    const pod = await h.inspect(id);
    assert.equal(pod.status?.state, 0, 'READY');
    assert.equal(pod.info.pid, pids[0]);
    assert.equal((await call(h.runtime, 'ContainerStatus', { container_id: ctr })).status?.state, 1, 'RUNNING');
    assert.equal(await ctrPid(), pids[1]);
    assert.equal((await call(h.runtime, 'ExecSync', { container_id: ctr, cmd: ['echo', 'alive'], timeout: 10 })).stdout.toString(), 'alive\n');
    await call(h.runtime, 'StopPodSandbox', { pod_sandbox_id: id });
    await call(h.runtime, 'RemovePodSandbox', { pod_sandbox_id: id });
    await h.assertNoLeaks();
  });

  it('rolls back at start a sandbox whose creation a crash interrupted', async () => {
    const id = await h.runPod('half');
    await h.stopDaemon('SIGKILL');
    // What a crash between CNI ADD and the final record leaves: a record still marked creating.
    rewriteRecord('sandboxes', id, { phase: 'creating', network: undefined, pause: undefined });
    await h.start();
    assert.equal((await call(h.runtime, 'ListPodSandbox', {})).items.length, 0);
    await h.assertNoLeaks();
    // The name is free again.
    const again = await h.runPod('half');
    await call(h.runtime, 'RemovePodSandbox', { pod_sandbox_id: again });
    await h.assertNoLeaks();
  });

  it('rolls back at start a container whose creation a crash interrupted, and frees its name', async () => {
    const pod = await h.runPod('halfctr');
    const id = await container(pod, 'halfctr', 'half', ['sleep', '1000'], false);
    const pidIn = (file: string) => Number(fs.readFileSync(path.join(h.root, 'containers', id, 'bundle', file), 'utf8'));
    const [conmonPid, initPid] = [pidIn('conmon.pid'), pidIn('pidfile')];
    assert.ok(liveStartTime(conmonPid) && liveStartTime(initPid), 'conmon and the waiting init run');
    await h.stopDaemon('SIGKILL');
    // What a crash after the runtime made the container, before its record said so, leaves: the
    // bundle, the rootfs mount, conmon, the runtime's state, and a record still marked creating.
    rewriteRecord('containers', id, { phase: 'creating', pid: undefined, startTime: undefined });
    await h.start();
    assert.deepEqual((await call(h.runtime, 'ListContainers', {})).containers, []);
    assert.equal(fs.existsSync(path.join(h.root, 'containers', id)), false, 'its directory is gone');
    assert.equal(liveStartTime(conmonPid), undefined, 'its monitor is gone');
    assert.equal(liveStartTime(initPid), undefined, 'its process is gone');
    // The name is free again, and the pod still works.
    const again = await container(pod, 'halfctr', 'half', ['sleep', '1000']);
    assert.equal((await call(h.runtime, 'ContainerStatus', { container_id: again })).status?.state, 1);
    await call(h.runtime, 'RemovePodSandbox', { pod_sandbox_id: pod });
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
