// Pause's OCI spec (src/sandbox/spec.ts): the pod's namespaces, no capabilities, a read-only root.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pauseSpec } from '../../src/sandbox/spec.js';

describe('pause OCI spec', () => {
  const input = {
    args: ['/pause'],
    env: [],
    newPidNamespace: true,
    newIpcNamespace: true,
    hostname: 'web',
    shmPath: '/run/crib/shm/x',
    etcFiles: { hostname: '/p/hostname', resolvConf: '/p/resolv.conf', hosts: '/p/hosts' },
    cgroupsPath: '/crib/pod-x/x',
    sysctls: {},
    uid: 0,
    gid: 0,
    oomScoreAdj: 0,
    annotations: {},
  };
  it('joins the pinned netns, makes pid/ipc/uts, has no capabilities and a read-only root', () => {
    const s = pauseSpec({ ...input, netnsPath: '/run/crib/netns/x' });
    assert.deepEqual(s.linux.namespaces, [
      { type: 'mount' },
      { type: 'network', path: '/run/crib/netns/x' },
      { type: 'pid' },
      { type: 'ipc' },
      { type: 'uts' },
    ]);
    assert.deepEqual(s.process.capabilities.bounding, []);
    assert.equal(s.process.noNewPrivileges, true);
    assert.equal(s.root.readonly, true);
    assert.equal(s.hostname, 'web');
    assert.ok(s.mounts.some((m) => m.destination === '/dev/shm' && m.source === '/run/crib/shm/x'));
  });
  it('stays in the node namespaces when asked', () => {
    const s = pauseSpec({ ...input, newPidNamespace: false, newIpcNamespace: false, hostname: undefined });
    assert.deepEqual(s.linux.namespaces, [{ type: 'mount' }]);
    assert.equal(s.hostname, undefined);
  });
});
