// cribd's own runc start and delete (src/oci/runc-shortcuts.ts) pinned to the installed runc: its
// version must be one they were proven on, and a container started and deleted through them must
// end as one started with `runc start` and deleted with `runc delete` does. A runc upgrade that
// fails here needs the shortcuts proven again (or its version left off, so runc runs as it is).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { cgroupMounts } from '../src/host/cgroups.js';
import { findExecutable } from '../src/oci/find-runtime.js';
import { waitGone } from '../src/host/process.js';
import { PROVEN_RUNC_VERSIONS, parseRuncVersion } from '../src/oci/runc-shortcuts.js';
import { RuncCli } from '../src/oci/runc.js';
import { run, spawnCapture } from '../src/util/exec.js';
import { builtPauseBinary } from '../src/util/paths.js';
import { waitFor } from './support/wait-for.js';

const runcPath = findExecutable('runc');

describe('the runc shortcuts against the installed runc', { skip: !runcPath && 'runc is not installed' }, () => {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'crib-runc-shortcuts-'));
  const cgroupParent = `/crib-shortcuts-${randomBytes(4).toString('hex')}`;
  // A runc that notes each subcommand before it runs the real one: which of them cribd ran.
  const noting = path.join(base, 'bin', 'runc');
  const calls = path.join(base, 'calls');
  const real = runcPath ?? 'runc';

  before(() => {
    fs.mkdirSync(path.dirname(noting));
    fs.writeFileSync(noting, `#!/bin/sh\necho "$*" >> ${calls}\nexec ${real} "$@"\n`, { mode: 0o755 });
  });
  after(async () => {
    for (const m of await cgroupMounts()) await fs.promises.rmdir(path.join(m, cgroupParent)).catch(() => undefined);
    fs.rmSync(base, { recursive: true, force: true });
  });

  it('is a runc of a version the shortcuts were proven on', async () => {
    const version = parseRuncVersion((await run(real, ['--version'])).stdout);
    assert.ok(version && PROVEN_RUNC_VERSIONS.includes(version), `runc ${version} is not among ${PROVEN_RUNC_VERSIONS.join(', ')}: prove the shortcuts on it`);
  });

  /** A container of the pause binary made with `runc create`, started and deleted through `cli`; what each step left. */
  async function lifecycle(cli: RuncCli, tag: string) {
    const id = `shortcut-${tag}-${randomBytes(4).toString('hex')}`;
    const bundle = path.join(base, id);
    fs.mkdirSync(path.join(bundle, 'rootfs'), { recursive: true });
    fs.copyFileSync(builtPauseBinary, path.join(bundle, 'rootfs', 'pause'));
    await run(real, ['spec', '--bundle', bundle]);
    const spec = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8')) as {
      process: { args: string[]; terminal: boolean };
      linux: { cgroupsPath?: string; namespaces: { type: string }[] };
    };
    spec.process = { ...spec.process, args: ['/pause'], terminal: false };
    spec.linux.cgroupsPath = `${cgroupParent}/${id}`;
    spec.linux.namespaces = spec.linux.namespaces.filter((n) => n.type !== 'network');
    fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(spec));
    // runc create, as conmon runs it: done when runc exits (its init keeps the pipes open).
    const created = await spawnCapture(real, [...cli.globalArgs, 'create', '--bundle', bundle, id], { untilExit: true, timeoutMs: 30_000 }).done;
    assert.equal(created.code, 0, created.stderr.toString());
    const stateDir = path.join(cli.stateRoot, id);
    const cgroupPaths = Object.values(
      (JSON.parse(fs.readFileSync(path.join(stateDir, 'state.json'), 'utf8')) as { cgroup_paths: Record<string, string> }).cgroup_paths,
    );
    await cli.start(id);
    const started = await cli.state(id);
    const afterStart = { status: started?.status, fifo: fs.existsSync(path.join(stateDir, 'exec.fifo')) };
    const pid = started?.pid ?? 0;
    process.kill(pid, 'SIGKILL');
    await waitGone(pid, undefined, 10_000);
    await waitFor(async () => (await cli.state(id))?.status === 'stopped', 'runc to see the container stopped', 10_000);
    await cli.delete(id);
    const afterDelete = {
      state: (await cli.state(id)) ?? 'gone',
      stateDir: fs.existsSync(stateDir),
      cgroups: cgroupPaths.filter((d) => fs.existsSync(d)),
    };
    return { afterStart, afterDelete };
  }

  it('starts and deletes a container as runc start and runc delete do', async () => {
    fs.rmSync(calls, { force: true });
    const shortcut = await lifecycle(new RuncCli('runc', noting, path.join(base, 'state-shortcut')), 'a');
    const shortcutCalls = fs.readFileSync(calls, 'utf8');
    fs.rmSync(calls, { force: true });
    const plain = await lifecycle(new RuncCli('runc', noting, path.join(base, 'state-plain'), { shortcuts: false }), 'b');
    const plainCalls = fs.readFileSync(calls, 'utf8');
    assert.doesNotMatch(shortcutCalls, /^\S+ (start|delete) /m, `the shortcuts ran instead of runc start and delete:\n${shortcutCalls}`);
    assert.match(plainCalls, /^\S+ start /m, 'without them runc start ran');
    assert.match(plainCalls, /^\S+ delete /m, 'and runc delete');
    assert.deepEqual(shortcut.afterStart, { status: 'running', fifo: false });
    assert.deepEqual(shortcut, plain);
    assert.deepEqual(plain.afterDelete, { state: 'gone', stateDir: false, cgroups: [] });
  });
});
