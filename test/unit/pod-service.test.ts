// PodService decides the order of a pod's end; the services it drives are stand-ins that record calls.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PodService, type PodContainers, type PodSandboxes } from '../../src/pod/service.js';
import type { Sandbox } from '../../src/sandbox/types.js';
import { internalContext } from '../../src/util/context.js';
import { CribError } from '../../src/util/errors.js';

function pod(phase: Sandbox['phase'] = 'ready', pauseDies = true) {
  const calls: string[] = [];
  /** A step that settles on a later turn, so steps run side by side interleave in the calls. */
  const step = async (start: string, end: string) => {
    calls.push(start);
    await new Promise((r) => setImmediate(r));
    calls.push(end);
  };
  const sb = { id: 'a'.repeat(64), phase } as Sandbox;
  let present = true;
  let held: Promise<unknown> = Promise.resolve();
  const sandboxes: PodSandboxes = {
    find: (id: string) => (present && sb.id.startsWith(id) ? sb : undefined),
    exists: () => present,
    // One holder at a time, as the real per-sandbox lock.
    locked: <R>(_s: Sandbox, fn: () => Promise<R>): Promise<R> => {
      const run = held.then(async () => {
        calls.push('lock');
        try {
          return await fn();
        } finally {
          calls.push('unlock');
        }
      });
      held = run.catch(() => undefined);
      return run;
    },
    killPause: async () => {
      calls.push('pause-killed');
      return pauseDies;
    },
    deletePause: () => step('pause-delete', 'pause-deleted'),
    releaseNetwork: () => step('network', 'network-released'),
    markStopped: async (s: Sandbox) => {
      s.phase = 'stopped';
      calls.push('stopped');
    },
    remove: async () => {
      present = false;
      calls.push('sandbox-removed');
    },
    imageUser: () => undefined,
  };
  const containers: PodContainers = {
    stopAllIn: async () => void calls.push('containers-stopped'),
    releaseAllIn: () => step('containers-release', 'containers-released'),
    removeAllIn: async () => void calls.push('containers-removed'),
    imageUser: () => undefined,
  };
  return { sb, calls, pods: new PodService(sandboxes, containers) };
}

const ctx = internalContext('test');

describe('pod service', () => {
  it('StopPodSandbox: containers, then pause, then pause delete, network and container state side by side, under the pod lock; again only the containers', async () => {
    const p = pod();
    await p.pods.stop(ctx, p.sb.id);
    assert.deepEqual(p.calls, [
      'lock',
      'containers-stopped',
      'pause-killed',
      'pause-delete',
      'network',
      'containers-release',
      'pause-deleted',
      'network-released',
      'containers-released',
      'stopped',
      'unlock',
    ]);
    p.calls.length = 0;
    await p.pods.stop(ctx, p.sb.id);
    assert.deepEqual(p.calls, ['lock', 'containers-stopped', 'unlock'], 'a stopped pod is not stopped twice');
  });

  it('StopPodSandbox: a pause that outlived its SIGKILL is deleted before the network goes', async () => {
    const p = pod('ready', false);
    await p.pods.stop(ctx, p.sb.id);
    const at = (c: string) => p.calls.indexOf(c);
    assert.ok(at('pause-deleted') < at('network'), p.calls.join(' '));
    assert.ok(at('stopped') > at('network-released'));
  });

  it('RemovePodSandbox: containers first; an unknown id is success, a malformed one is not', async () => {
    const p = pod();
    await p.pods.remove(ctx, p.sb.id);
    assert.deepEqual(p.calls, ['lock', 'containers-removed', 'sandbox-removed', 'unlock']);
    p.calls.length = 0;
    await p.pods.remove(ctx, p.sb.id);
    assert.deepEqual(p.calls, [], 'already removed: nothing to do');
    await assert.rejects(
      p.pods.remove(ctx, '../x'),
      (e: unknown) => e instanceof CribError && e.kind === 'InvalidArgument' && /^pod_sandbox_id: /.test(e.message),
    );
  });

  it('RemovePodSandbox twice at once: the second finds the pod gone once it holds the lock, and does nothing', async () => {
    const p = pod();
    await Promise.all([p.pods.remove(ctx, p.sb.id), p.pods.remove(ctx, p.sb.id)]);
    assert.deepEqual(p.calls, ['lock', 'containers-removed', 'sandbox-removed', 'unlock', 'lock', 'unlock']);
  });

  it("names an image's user: a sandbox's first, else a container's", () => {
    const service = (sandbox?: string, container?: string) =>
      new PodService({ imageUser: () => sandbox } as unknown as PodSandboxes, { imageUser: () => container } as unknown as PodContainers);
    assert.equal(service('sandbox s', 'container c').imageUser('i'), 'sandbox s');
    assert.equal(service(undefined, 'container c').imageUser('i'), 'container c');
    assert.equal(service().imageUser('i'), undefined);
  });

  it('StopPodSandbox: an unknown or removed id is success (critest v1.32 Idempotence), a malformed one is not', async () => {
    const p = pod();
    await p.pods.stop(ctx, 'f'.repeat(64));
    assert.deepEqual(p.calls, [], 'unknown: nothing to do');
    await p.pods.remove(ctx, p.sb.id);
    p.calls.length = 0;
    await p.pods.stop(ctx, p.sb.id);
    assert.deepEqual(p.calls, [], 'removed: nothing to do');
    await assert.rejects(
      p.pods.stop(ctx, '../x'),
      (e: unknown) => e instanceof CribError && e.kind === 'InvalidArgument' && /^pod_sandbox_id: /.test(e.message),
    );
  });

  it('StopPodSandbox while RemovePodSandbox holds the lock: it finds the pod gone once it holds the lock, and does nothing', async () => {
    const p = pod();
    await Promise.all([p.pods.remove(ctx, p.sb.id), p.pods.stop(ctx, p.sb.id)]);
    assert.deepEqual(p.calls, ['lock', 'containers-removed', 'sandbox-removed', 'unlock', 'lock', 'unlock']);
  });
});
