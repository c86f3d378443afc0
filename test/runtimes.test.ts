// Which OCI runtime runs a pod: crun by runtime handler (on a hybrid cgroup host such as these, its
// refusal; elsewhere, a pod), and a runtime given to cribd by path with --runtime, which becomes the default.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { call } from '../src/client/client.js';
import { cgroupMounts } from '../src/host/cgroups.js';
import { findExecutable } from '../src/oci/find-runtime.js';
import { Harness } from '../support/harness.js';
import { rejectsWith } from './support/grpc-assert.js';

/**
 * Whether crun (1.x) refuses this host: it does on a hybrid layout (cgroup v1 controllers, plus a
 * cgroup2 mount beside them) whose cgroup2 hierarchy has controllers, and works on pure cgroup v1
 * or v2 hosts. These machines are hybrid, with hugetlb on the cgroup2 side.
 */
async function crunRefusesThisHost(): Promise<boolean> {
  const mounts = await cgroupMounts();
  const v2 = mounts.filter((m) => fs.existsSync(path.join(m, 'cgroup.controllers')));
  const hybrid = v2.length > 0 && v2.length < mounts.length;
  return hybrid && v2.some((m) => fs.readFileSync(path.join(m, 'cgroup.controllers'), 'utf8').trim() !== '');
}

const crunRefuses = await crunRefusesThisHost();

describe('runtime handlers', () => {
  const h = new Harness();
  before(() => h.start());
  after(() => h.cleanup());

  const offersCrun = async () =>
    assert.ok(
      (await call(h.runtime, 'Status', {})).runtime_handlers.some((r) => r.name === 'crun'),
      'crun is offered',
    );

  // These machines: crun refuses, so what is proven here is the refusal, word for word, and that
  // it leaves nothing; the next test runs where crun can (pure cgroup v1 or v2 hosts).
  it(
    "refuses a pod for crun on a hybrid cgroup host with crun's own reason, leaving nothing",
    { skip: !crunRefuses && 'this host is not hybrid: crun runs here (the next test)' },
    async () => {
      await offersCrun();
      await rejectsWith(
        call(h.runtime, 'RunPodSandbox', { config: h.podConfig('crunpod'), runtime_handler: 'crun' }),
        grpc.status.INTERNAL,
        /^crun run [0-9a-f]{64} failed: cgroups in hybrid mode not supported, drop all controllers from cgroupv2\s*$/,
      );
      assert.deepEqual((await call(h.runtime, 'ListPodSandbox', {})).items, []);
      await h.assertNoLeaks();
    },
  );

  it(
    'runs a pod with crun when asked by runtime handler',
    { skip: crunRefuses && 'crun refuses hybrid cgroup hosts such as this one (the test before)' },
    async () => {
      await offersCrun();
      const id = (await call(h.runtime, 'RunPodSandbox', { config: h.podConfig('crunpod'), runtime_handler: 'crun' })).pod_sandbox_id;
      const { status } = await h.inspect(id);
      assert.equal(status?.state, 0);
      assert.equal(status?.runtime_handler, 'crun');
      assert.ok(fs.existsSync(path.join(h.state, 'runtime', 'crun', id)), "crun's own state has the pod");
      await call(h.runtime, 'RemovePodSandbox', { pod_sandbox_id: id });
      await h.assertNoLeaks();
    },
  );
});

describe('a cribd given --runtime PATH', () => {
  // A runc that notes every call (its arguments) before it runs the real one. It calls itself
  // another runtime than runc, so cribd runs its start and delete (no runc shortcut).
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crib-runtime-'));
  const wrapper = path.join(dir, 'noting-runc');
  const calls = path.join(dir, 'calls');
  fs.writeFileSync(
    wrapper,
    `#!/bin/sh\necho "$*" >> ${calls}\n[ "$1" = --version ] && { echo 'noting-runc version 0.1'; exit 0; }\nexec ${findExecutable('runc') ?? 'runc'} "$@"\n`,
    { mode: 0o755 },
  );
  const h = new Harness({ flags: ['--runtime', wrapper] });
  before(() => h.start());
  after(async () => {
    await h.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('offers it by its name, makes it the default, and runs pods with it', async () => {
    const handlers = (await call(h.runtime, 'Status', {})).runtime_handlers.map((r) => r.name);
    assert.ok(handlers.includes('noting-runc'), handlers.join(', '));
    const id = await h.runPod('noted');
    const { status, info } = await h.inspect(id);
    assert.equal(status?.state, 0);
    assert.equal(
      JSON.parse((await call(h.runtime, 'PodSandboxStatus', { pod_sandbox_id: id, verbose: true })).info['info'] ?? '{}').runtimeType,
      'noting-runc',
    );
    assert.ok(info.pid > 0);
    const noted = () => fs.readFileSync(calls, 'utf8');
    assert.match(noted(), new RegExp(`^.* run --detach .*${id}$`, 'm'), 'it ran pause (created and started in one go)');
    await call(h.runtime, 'RemovePodSandbox', { pod_sandbox_id: id });
    assert.match(noted(), new RegExp(`^.* delete .*${id}$`, 'm'), 'it deleted pause');
    await h.assertNoLeaks();
  });
});
