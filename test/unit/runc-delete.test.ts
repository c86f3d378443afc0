// cribd's own delete of an exited runc container: what it removes, and when it leaves the work to
// `runc delete` instead. Plain directories stand in for the cgroups (rmdir fails on a non-empty one
// as on a cgroup that holds a process).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { procStat } from '../../src/host/process.js';
import { deleteExited } from '../../src/oci/runc.js';

function container(state: Record<string, unknown> = {}) {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'crib-runc-delete-'));
  const stateDir = path.join(base, 'state');
  const cgroups = { '': path.join(base, 'unified', 'c'), memory: path.join(base, 'memory', 'c') };
  for (const d of [stateDir, ...Object.values(cgroups)]) fs.mkdirSync(d, { recursive: true });
  // A pid that cannot be alive: the kernel's pid_max is at most 2^22.
  const full = {
    init_process_pid: 2 ** 23,
    init_process_start: 1,
    cgroup_paths: cgroups,
    intel_rdt_path: '',
    config: { Hooks: { poststop: null }, cgroups: { Systemd: false } },
    ...state,
  };
  fs.writeFileSync(path.join(stateDir, 'state.json'), JSON.stringify(full));
  return { stateDir, cgroups, cleanup: () => fs.rmSync(base, { recursive: true, force: true }) };
}

describe('deleting an exited runc container', () => {
  it('removes its cgroups and its state dir when its init is gone', async () => {
    const c = container();
    try {
      assert.equal(await deleteExited(c.stateDir), true);
      assert.equal(fs.existsSync(c.stateDir), false);
      for (const d of Object.values(c.cgroups)) assert.equal(fs.existsSync(d), false);
    } finally {
      c.cleanup();
    }
  });

  it('leaves it to runc with a process in a cgroup, hooks, a live init, or an unreadable state', async () => {
    const cases: [string, Record<string, unknown>, (c: ReturnType<typeof container>) => void][] = [
      ['a busy cgroup', {}, (c) => fs.writeFileSync(path.join(c.cgroups.memory, 'cgroup.procs'), '42\n')],
      ['a poststop hook', { config: { Hooks: { poststop: [{ path: '/bin/true' }] } } }, () => undefined],
      ['a live init', { init_process_pid: process.pid, init_process_start: Number(procStat(process.pid)?.startTime) }, () => undefined],
      ['a systemd unit', { config: { cgroups: { Systemd: true } } }, () => undefined],
      ['broken JSON', {}, (c) => fs.writeFileSync(path.join(c.stateDir, 'state.json'), '{')],
    ];
    for (const [what, state, arrange] of cases) {
      const c = container(state);
      try {
        arrange(c);
        assert.equal(await deleteExited(c.stateDir), false, what);
        assert.equal(fs.existsSync(c.stateDir), true, `${what}: the state dir stays for runc`);
      } finally {
        c.cleanup();
      }
    }
  });

  it('has nothing to do for a container that is gone', async () => {
    assert.equal(await deleteExited(path.join(os.tmpdir(), 'crib-no-such-container')), true);
  });
});
