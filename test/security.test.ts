// The security context as real containers get it, observed from inside them (their /proc) and
// compared with containerd's defaults written out in test/support/containerd-defaults.ts: default
// capabilities, masked and read-only paths, privileged containers, a Localhost seccomp profile.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { call } from '../src/client/client.js';
import type { ContainerConfig } from '../src/cri/generated/runtime/v1/ContainerConfig.js';
import { TEST_IMAGE, cribdWithBusybox } from './support/busybox-image.js';
import { containerdDefaultCapMask, containerdMaskedPaths, containerdReadonlyPaths } from './support/containerd-defaults.js';
import { readProcStatus } from './support/harness.js';

/** A line of /proc/PID/mountinfo: where, and with which per-mount options. */
interface MountLine {
  mountPoint: string;
  options: string[];
}

const parseMountinfo = (text: string): MountLine[] =>
  text
    .trim()
    .split('\n')
    .map((l) => l.split(' '))
    .map((f) => ({ mountPoint: f[4] ?? '', options: (f[5] ?? '').split(',') }));

/** The paths of `list` that this kernel has (runc masks only what exists); the container's /proc and /sys show the same. */
const present = (list: string[]) => list.filter((p) => fs.existsSync(p));

describe('the security context in real containers', () => {
  const h = cribdWithBusybox();

  /** A running container with this security context, in the test's pod (made by the first call). */
  let podId = '';
  async function run(name: string, security: NonNullable<NonNullable<ContainerConfig['linux']>['security_context']> = {}): Promise<string> {
    if (!(await call(h.runtime, 'ListPodSandbox', {})).items.some((p) => p.id === podId)) podId = await h.runPod('secure');
    const config: ContainerConfig = {
      metadata: { name },
      image: { image: TEST_IMAGE },
      command: ['sleep', '1000'],
      log_path: `${name}.log`,
      linux: { security_context: security },
    };
    const id = (await call(h.runtime, 'CreateContainer', { pod_sandbox_id: podId, config, sandbox_config: h.podConfig('secure') })).container_id;
    await call(h.runtime, 'StartContainer', { container_id: id });
    return id;
  }

  const exec = async (id: string, cmd: string[]) => {
    const r = await call(h.runtime, 'ExecSync', { container_id: id, cmd, timeout: 30 });
    return { code: r.exit_code, out: r.stdout.toString(), err: r.stderr.toString() };
  };

  /** The container's own view of itself: /proc/self/status fields and its mounts. */
  async function inside(id: string): Promise<{ status: Record<string, string>; mounts: MountLine[] }> {
    const status = Object.fromEntries(
      (await exec(id, ['cat', '/proc/self/status'])).out
        .split('\n')
        .filter((l) => l.includes(':'))
        .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]),
    );
    return { status, mounts: parseMountinfo((await exec(id, ['cat', '/proc/self/mountinfo'])).out) };
  }

  const mask = (hex: string | undefined) => BigInt(`0x${hex ?? 'x'}`);
  /** `kmsg` is a character device (1:11) outside the default device rules: made and opened for reading. */
  const openKmsg = ['sh', '-c', 'mknod /tmp/kmsg c 1 11 && : < /tmp/kmsg'];

  it("gives a default container exactly containerd's capabilities, its masked and read-only paths, and the device rules", async () => {
    const id = await run('default');
    const { status, mounts } = await inside(id);
    const want = containerdDefaultCapMask();
    for (const set of ['CapEff', 'CapPrm', 'CapBnd']) assert.equal(mask(status[set]), want, `${set} ${status[set]} is containerd's default set`);

    const masked = present(containerdMaskedPaths);
    assert.ok(masked.length > 0, 'this kernel has some of the masked paths');
    for (const p of masked) {
      assert.ok(
        mounts.some((m) => m.mountPoint === p),
        `${p} is masked (something is mounted over it)`,
      );
      const seen = await exec(id, ['sh', '-c', `if [ -d ${p} ]; then ls -A ${p}; else cat ${p}; fi`]);
      assert.equal(seen.out, '', `${p} shows nothing`);
    }
    for (const p of present(containerdReadonlyPaths)) {
      const top = mounts.filter((m) => m.mountPoint === p).at(-1);
      assert.ok(top?.options.includes('ro'), `${p} is mounted read-only: ${JSON.stringify(top)}`);
    }
    const dev = await exec(id, openKmsg);
    assert.notEqual(dev.code, 0, 'a device outside the default rules cannot be opened');
    assert.match(dev.err, /Operation not permitted/);
  });

  it('gives a privileged container every capability cribd holds, no seccomp, masks or read-only paths, and every device', async () => {
    const id = await run('privileged', { privileged: true });
    const { status, mounts } = await inside(id);
    const daemon = readProcStatus(h.daemon?.pid ?? 0);
    for (const set of ['CapEff', 'CapPrm', 'CapBnd']) assert.equal(mask(status[set]), mask(daemon['CapBnd']), `${set} holds all of cribd's`);
    assert.equal(status['Seccomp'], '0');
    for (const p of [...present(containerdMaskedPaths), ...present(containerdReadonlyPaths)]) {
      assert.ok(!mounts.some((m) => m.mountPoint === p), `nothing is mounted over ${p}`);
    }
    assert.ok(mounts.find((m) => m.mountPoint === '/sys')?.options.includes('rw'), '/sys is writable');
    const dev = await exec(id, openKmsg);
    assert.equal(dev.code, 0, dev.err);
  });

  it('applies a Localhost seccomp profile', async () => {
    // Everything allowed but mkdir, which fails with an errno no other layer would give.
    const profile = path.join(h.base, 'no-mkdir.json');
    fs.writeFileSync(
      profile,
      JSON.stringify({
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 95 }],
      }),
    );
    const confined = await run('confined', { seccomp: { profile_type: 2, localhost_ref: profile } });
    assert.equal((await inside(confined)).status['Seccomp'], '2');
    const refused = await exec(confined, ['mkdir', '/tmp/dir']);
    assert.notEqual(refused.code, 0);
    assert.match(refused.err, /Operation not supported/, 'EOPNOTSUPP (95), as the profile says');
    assert.equal((await exec(confined, ['touch', '/tmp/file'])).code, 0, 'what the profile allows works');
    const free = await run('free');
    assert.equal((await exec(free, ['mkdir', '/tmp/dir'])).code, 0, 'without the profile mkdir works');
  });
});
