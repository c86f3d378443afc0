// PodService decides the order of a pod's end; the services it drives are stand-ins that record calls.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PodService, type PodContainers, type PodSandboxes } from '../../src/pod/service.js';
import type { Sandbox } from '../../src/sandbox/types.js';
import { internalContext } from '../../src/util/context.js';
import { CribError } from '../../src/util/errors.js';

function pod(phase: Sandbox['phase'] = 'ready') {
  const calls: string[] = [];
  const sb = { id: 'a'.repeat(64), phase } as Sandbox;
  let present = true;
  const sandboxes: PodSandboxes = {
    get: (id: string) => {
      if (id !== sb.id) throw new CribError('NotFound', `sandbox ${id} not found`);
      return sb;
    },
    find: (id: string) => (present && sb.id.startsWith(id) ? sb : undefined),
    exists: () => present,
    locked: async <R>(_s: Sandbox, fn: () => Promise<R>) => {
      calls.push('lock');
      try {
        return await fn();
      } finally {
        calls.push('unlock');
      }
    },
    stopPause: async () => void calls.push('pause'),
    releaseNetwork: async () => void calls.push('network'),
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
    removeAllIn: async () => void calls.push('containers-removed'),
    imageUser: () => undefined,
  };
  return { sb, calls, pods: new PodService(sandboxes, containers) };
}

const ctx = internalContext('test');

describe('pod service', () => {
  it('StopPodSandbox: containers, then pause, then the network, under the pod lock; again only the containers', async () => {
    const p = pod();
    await p.pods.stop(ctx, p.sb.id);
    assert.deepEqual(p.calls, ['lock', 'containers-stopped', 'pause', 'network', 'stopped', 'unlock']);
    p.calls.length = 0;
    await p.pods.stop(ctx, p.sb.id);
    assert.deepEqual(p.calls, ['lock', 'containers-stopped', 'unlock'], 'a stopped pod is not stopped twice');
  });

  it('RemovePodSandbox: containers first; an unknown id is success, a malformed one is not', async () => {
    const p = pod();
    await p.pods.remove(ctx, p.sb.id);
    assert.deepEqual(p.calls, ['lock', 'containers-removed', 'sandbox-removed', 'unlock']);
    p.calls.length = 0;
    await p.pods.remove(ctx, p.sb.id);
    assert.deepEqual(p.calls, [], 'already removed: nothing to do');
    await assert.rejects(p.pods.remove(ctx, '../x'), (e: unknown) => e instanceof CribError && e.kind === 'InvalidArgument');
  });
});
