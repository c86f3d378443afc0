// Pods in kubelet's cgroup layout: RunPodSandbox names a cgroup_parent such as
// /kubepods/burstable/pod<uid> (here below the harness's own stand-in for /kubepods). pause and the
// containers go under it; crib removes the parent only when it made it, and leaves kubelet's.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { call } from '../src/client/client.js';
import { cgroupExists, cgroupMounts } from '../src/host/cgroups.js';
import { TEST_IMAGE, cribdWithBusybox } from './support/busybox-image.js';

/** The cgroup path of a process in each hierarchy it is in (one line of /proc/PID/cgroup each). */
function cgroupsOf(pid: number): string[] {
  return fs
    .readFileSync(`/proc/${pid}/cgroup`, 'utf8')
    .trim()
    .split('\n')
    .map((l) => l.slice(l.indexOf(':', l.indexOf(':') + 1) + 1));
}

/** The cgroups directly below `cgroup`, in every hierarchy that has it. */
async function childCgroups(cgroup: string): Promise<string[]> {
  const out = new Set<string>();
  for (const m of await cgroupMounts()) {
    const dir = path.join(m, cgroup);
    if (!fs.existsSync(dir)) continue;
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) out.add(e.name);
  }
  return [...out].sort();
}

describe("pods in kubelet's cgroup layout", () => {
  const h = cribdWithBusybox();

  /** A pod under `parent` with one running container; their pids and ids. */
  async function podUnder(name: string, parent: string) {
    const id = await h.runPod(name, { linux: { cgroup_parent: parent } });
    const config = {
      metadata: { name: 'app', attempt: 0 },
      image: { image: TEST_IMAGE },
      command: ['sleep', '1000'],
      log_path: 'app.log',
      annotations: { 'io.kubernetes.pod.terminationGracePeriod': '1' },
    };
    const ctr = (
      await call(h.runtime, 'CreateContainer', { pod_sandbox_id: id, config, sandbox_config: h.podConfig(name, { linux: { cgroup_parent: parent } }) })
    ).container_id;
    await call(h.runtime, 'StartContainer', { container_id: ctr });
    const pausePid = (await h.inspect(id)).info.pid;
    const ctrPid = JSON.parse((await call(h.runtime, 'ContainerStatus', { container_id: ctr, verbose: true })).info['info'] ?? '{}').pid as number;
    return { id, ctr, pausePid, ctrPid };
  }

  async function stopAndRemove(id: string): Promise<void> {
    await call(h.runtime, 'StopPodSandbox', { pod_sandbox_id: id });
    await call(h.runtime, 'RemovePodSandbox', { pod_sandbox_id: id });
  }

  it('runs pause and containers under the pod cgroup kubelet made, and leaves that cgroup in place', async () => {
    const parent = await h.makeKubeletCgroup('burstable/pod-kubelet-made');
    const p = await podUnder('made-by-kubelet', parent);
    for (const c of cgroupsOf(p.pausePid)) assert.equal(c, `${parent}/${p.id}`, 'pause in PARENT/SANDBOX_ID in every hierarchy');
    for (const c of cgroupsOf(p.ctrPid)) assert.equal(c, `${parent}/${p.ctr}`, 'the container in PARENT/CONTAINER_ID in every hierarchy');
    assert.deepEqual(await childCgroups(parent), [p.ctr, p.id].sort());

    await stopAndRemove(p.id);
    for (const m of await cgroupMounts()) assert.ok(fs.existsSync(path.join(m, parent)), `kubelet's ${parent} is still in ${m}`);
    assert.deepEqual(await childCgroups(parent), [], "nothing of crib's is left in it");
    // afterEach: no other cgroup, process or file of the pod is left (kubelet's cgroups may stay).
  });

  it('makes the pod cgroup when kubelet has not, and removes it with the pod', async () => {
    const qos = await h.makeKubeletCgroup('burstable');
    const parent = `${qos}/pod-crib-made`;
    assert.equal(await cgroupExists(parent), false);
    const p = await podUnder('made-by-crib', parent);
    for (const c of cgroupsOf(p.pausePid)) assert.equal(c, `${parent}/${p.id}`);
    for (const c of cgroupsOf(p.ctrPid)) assert.equal(c, `${parent}/${p.ctr}`);

    await stopAndRemove(p.id);
    assert.equal(await cgroupExists(parent), false, 'the parent crib made is gone');
    assert.equal(await cgroupExists(qos), true, "kubelet's QoS cgroup above it stays");
  });
});
