// The container OCI spec and its pure parts (user, capabilities, seccomp): no root, no daemon.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  allCapabilities,
  capabilitiesFromMask,
  defaultCapabilities,
  effectiveCapabilities,
  normalizeCapability,
} from '../../src/container/spec/capabilities.js';
import { containerSpec, mergeEnv, processArgs, type ContainerSpecInput } from '../../src/container/spec/container-spec.js';
import { CLONE_NAMESPACE_FLAGS, defaultSeccompProfile, localhostSeccompProfile } from '../../src/container/spec/seccomp-default.js';
import type { OciSeccomp, OciSpec } from '../../src/oci/spec-types.js';
import { parseGroup, parsePasswd, resolveUser, type UserRequest } from '../../src/container/spec/users.js';
import type { ContainerConfig, ContainerSecurity } from '../../src/container/types.js';
import type { ImageRuntimeConfig } from '../../src/image/types.js';
import { CribError } from '../../src/util/errors.js';
import { containerdDefaultCaps, containerdDefaultEnv, containerdMaskedPaths, containerdReadonlyPaths } from '../support/containerd-defaults.js';

const invalid = (f: () => unknown, msg: RegExp) =>
  assert.throws(f, (e: unknown) => e instanceof CribError && e.kind === 'InvalidArgument' && msg.test(e.message));

// ---------------------------------------------------------------- users

const passwd = `# the image's users
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
app:x:1000:1000:App:/home/app:/bin/sh
web:x:1001:2000::/srv:/bin/false
broken line
+nisuser::::::
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
`;
const group = `root:x:0:
daemon:x:1:
wheel:x:10:root,app
app:x:1000:
www:x:2000:
audio:x:29:app,web
video:x:44: app , web
nogroup:x:65534:
bad:x:notanumber:app
`;

const user = (o: Partial<UserRequest>) => resolveUser({ supplementalGroups: [], passwd, group, ...o });

describe('passwd and group files', () => {
  it('parses entries, skipping comments, NIS lines and malformed lines', () => {
    const u = parsePasswd(passwd);
    assert.deepEqual(
      u.map((e) => e.name),
      ['root', 'daemon', 'app', 'web', 'nobody'],
    );
    assert.deepEqual(u[3], { name: 'web', uid: 1001, gid: 2000 });
    const g = parseGroup(group);
    assert.ok(!g.some((e) => e.name === 'bad'));
    assert.deepEqual(g.find((e) => e.name === 'video')?.members, ['app', 'web']);
    assert.deepEqual(parsePasswd(undefined), []);
    assert.deepEqual(parseGroup(''), []);
  });
});

describe('resolveUser', () => {
  it("is root with root's groups when nothing is asked", () => {
    assert.deepEqual(user({}), { uid: 0, gid: 0, additionalGids: [10] });
    assert.deepEqual(resolveUser({ supplementalGroups: [] }), { uid: 0, gid: 0, additionalGids: [] });
  });
  it('run_as_user wins over run_as_username and the image user', () => {
    assert.deepEqual(user({ runAsUser: 1000, runAsUsername: 'web', imageUser: 'web:www' }), { uid: 1000, gid: 1000, additionalGids: [10, 29, 44] });
  });
  it('a uid without a passwd entry gets gid 0 and no groups from /etc/group', () => {
    assert.deepEqual(user({ runAsUser: 4242 }), { uid: 4242, gid: 0, additionalGids: [] });
  });
  it('run_as_group overrides every other gid', () => {
    assert.deepEqual(user({ runAsUser: 1000, runAsGroup: 5 }), { uid: 1000, gid: 5, additionalGids: [10, 29, 44] });
    assert.deepEqual(user({ imageUser: 'web:www', runAsGroup: 7 }).gid, 7);
    assert.deepEqual(user({ runAsUsername: 'web', runAsGroup: 0 }).gid, 0);
  });
  it('run_as_username is looked up by name (or taken as a uid when numeric)', () => {
    assert.deepEqual(user({ runAsUsername: 'web' }), { uid: 1001, gid: 2000, additionalGids: [29, 44] });
    assert.deepEqual(user({ runAsUsername: '1000' }), { uid: 1000, gid: 1000, additionalGids: [10, 29, 44] });
  });
  it('understands every form of the image User', () => {
    const cases: [string, number, number][] = [
      ['app', 1000, 1000],
      ['1001', 1001, 2000],
      ['app:www', 1000, 2000],
      ['1000:44', 1000, 44],
      ['1001:audio', 1001, 29],
      ['web:0', 1001, 0],
      ['5000', 5000, 0],
      ['5000:5000', 5000, 5000],
      ['app:', 1000, 1000],
    ];
    for (const [u, uid, gid] of cases) {
      const r = user({ imageUser: u });
      assert.equal(r.uid, uid, u);
      assert.equal(r.gid, gid, u);
    }
  });
  it('adds group memberships and supplemental groups, deduplicated, without the primary gid', () => {
    assert.deepEqual(user({ imageUser: 'app', supplementalGroups: [44, 1000, 3000, 3000, 10] }).additionalGids, [10, 29, 44, 3000]);
    // primary 29 (from the image User) is left out although app is a member of audio
    assert.deepEqual(user({ imageUser: 'app:audio' }).additionalGids, [10, 44]);
    assert.deepEqual(user({ runAsUser: 4242, supplementalGroups: [1, 2] }).additionalGids, [1, 2]);
  });
  it('refuses unknown names', () => {
    invalid(() => user({ imageUser: 'ghost' }), /user "ghost" not found in the image's \/etc\/passwd/);
    invalid(() => user({ runAsUsername: 'ghost' }), /^config\.linux\.security_context\.run_as_username: user "ghost" not found/);
    invalid(() => resolveUser({ supplementalGroups: [], imageUser: 'app' }), /user "app" not found in the image's \/etc\/passwd/);
    invalid(() => user({ imageUser: 'app:ghosts' }), /group "ghosts" not found in the image's \/etc\/group/);
    invalid(() => user({ imageUser: ':www' }), /no user/);
  });
  it('refuses ids out of range', () => {
    invalid(() => user({ runAsUser: -1 }), /run_as_user/);
    invalid(() => user({ runAsGroup: 2 ** 32 }), /run_as_group/);
    invalid(() => user({ supplementalGroups: [1.5] }), /supplemental_groups\[0\]/);
  });
});

// ---------------------------------------------------------------- capabilities

describe('capabilities', () => {
  it("knows all of them up to CAP_CHECKPOINT_RESTORE and containerd's defaults", () => {
    assert.equal(allCapabilities.length, 41);
    assert.equal(allCapabilities[40], 'CAP_CHECKPOINT_RESTORE');
    assert.equal(new Set(allCapabilities).size, 41);
    assert.deepEqual(new Set(defaultCapabilities), new Set(containerdDefaultCaps));
    for (const c of defaultCapabilities) assert.ok(allCapabilities.includes(c), c);
  });
  it('accepts names with or without CAP_, in any case', () => {
    assert.equal(normalizeCapability('net_admin'), 'CAP_NET_ADMIN');
    assert.equal(normalizeCapability('Cap_Sys_Admin'), 'CAP_SYS_ADMIN');
    assert.equal(normalizeCapability('CAP_BPF'), 'CAP_BPF');
    assert.equal(normalizeCapability('FLY'), undefined);
  });
  it('gives the defaults in kernel order', () => {
    const caps = effectiveCapabilities([], [], false);
    assert.deepEqual(new Set(caps), new Set(containerdDefaultCaps));
    assert.deepEqual(
      caps,
      [...caps].sort((a, b) => allCapabilities.indexOf(a) - allCapabilities.indexOf(b)),
    );
  });
  it('adds and drops', () => {
    const caps = effectiveCapabilities(['NET_ADMIN', 'cap_sys_time', 'Sys_Ptrace'], ['CHOWN', 'CAP_KILL', 'net_raw'], false);
    for (const c of ['CAP_NET_ADMIN', 'CAP_SYS_TIME', 'CAP_SYS_PTRACE', 'CAP_SETUID']) assert.ok(caps.includes(c), c);
    for (const c of ['CAP_CHOWN', 'CAP_KILL', 'CAP_NET_RAW']) assert.ok(!caps.includes(c), c);
    assert.equal(caps.length, 14 + 3 - 3);
  });
  it('drops win over adds of the same capability', () => {
    assert.ok(!effectiveCapabilities(['SYS_ADMIN'], ['sys_admin'], false).includes('CAP_SYS_ADMIN'));
  });
  it('handles ALL as containerd does', () => {
    assert.deepEqual(effectiveCapabilities(['ALL'], [], false), [...allCapabilities]);
    const allButOne = effectiveCapabilities(['all'], ['NET_ADMIN'], false);
    assert.equal(allButOne.length, 40);
    assert.ok(!allButOne.includes('CAP_NET_ADMIN'));
    assert.deepEqual(effectiveCapabilities(['NET_BIND_SERVICE'], ['ALL'], false), ['CAP_NET_BIND_SERVICE']);
    assert.deepEqual(effectiveCapabilities([], ['ALL'], false), []);
    assert.deepEqual(effectiveCapabilities(['ALL'], ['ALL'], false), []);
  });
  it('privileged gets all of them whatever is dropped', () => {
    assert.deepEqual(effectiveCapabilities([], ['ALL', 'SYS_ADMIN'], true), [...allCapabilities]);
  });
  it('reads /proc status masks', () => {
    assert.deepEqual(capabilitiesFromMask('000001ffffffffff'), [...allCapabilities]);
    const noResource = capabilitiesFromMask('000001fffeffffff');
    assert.equal(noResource.length, 40);
    assert.ok(!noResource.includes('CAP_SYS_RESOURCE'));
    assert.deepEqual(capabilitiesFromMask('0x5'), ['CAP_CHOWN', 'CAP_DAC_READ_SEARCH']);
    assert.deepEqual(capabilitiesFromMask('0000000000000000'), []);
    assert.throws(() => capabilitiesFromMask('zz'), CribError);
  });
  it('limits all, privileged and the defaults to what the runtime holds', () => {
    const have = allCapabilities.filter((c) => c !== 'CAP_SYS_RESOURCE' && c !== 'CAP_MKNOD');
    assert.deepEqual(effectiveCapabilities([], [], true, have), have);
    assert.deepEqual(effectiveCapabilities(['ALL'], [], false, have), have);
    assert.ok(!effectiveCapabilities([], [], false, have).includes('CAP_MKNOD'));
    assert.equal(effectiveCapabilities([], [], false, have).length, 13);
    assert.deepEqual(effectiveCapabilities(['sys_admin'], ['ALL'], false, have), ['CAP_SYS_ADMIN']);
    invalid(() => effectiveCapabilities(['NET_ADMIN', 'sys_resource'], [], false, have), /add_capabilities\[1\]: CAP_SYS_RESOURCE is not available/);
  });
  it('refuses unknown names, naming the field', () => {
    invalid(
      () => effectiveCapabilities(['NET_ADMIN', 'FLY'], [], false),
      /^config\.linux\.security_context\.capabilities\.add_capabilities\[1\]: unknown capability "FLY"/,
    );
    invalid(() => effectiveCapabilities([], ['ALL', 'CAP_NOPE'], false), /^config\.linux\.security_context\.capabilities\.drop_capabilities\[1\]/);
    invalid(() => effectiveCapabilities(['NOPE'], [], true), /capabilities/);
  });
});

// ---------------------------------------------------------------- seccomp

/** Syscalls allowed whatever their arguments. */
const unconditional = (p: OciSeccomp): Set<string> =>
  new Set((p.syscalls ?? []).filter((s) => s.action === 'SCMP_ACT_ALLOW' && !s.args?.length).flatMap((s) => s.names));
const rulesFor = (p: OciSeccomp, name: string) => (p.syscalls ?? []).filter((s) => s.names.includes(name));
const defaults = [...defaultCapabilities];

describe('RuntimeDefault seccomp profile', () => {
  const p = defaultSeccompProfile(defaults);
  const allowed = unconditional(p);

  it('refuses with EPERM by default, for x86_64 and its 32-bit ABIs', () => {
    assert.equal(p.defaultAction, 'SCMP_ACT_ERRNO');
    assert.equal(p.defaultErrnoRet, 1);
    assert.deepEqual(p.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
  });
  it('allows what ordinary programs use', () => {
    for (const s of [
      'read',
      'write',
      'openat',
      'close',
      'execve',
      'mmap',
      'futex',
      'epoll_wait',
      'clock_gettime',
      'accept4',
      'setuid',
      'chown',
      'mknod',
      'arch_prctl',
      'rseq',
      'getrandom',
      'chroot',
      'statx',
      'prctl',
      'wait4',
    ]) {
      assert.ok(allowed.has(s), s);
    }
  });
  it('refuses the dangerous ones without their capability', () => {
    const refused = [
      'mount',
      'umount2',
      'pivot_root',
      'kexec_load',
      'kexec_file_load',
      'init_module',
      'finit_module',
      'delete_module',
      'swapon',
      'swapoff',
      'reboot',
      'open_by_handle_at',
      'add_key',
      'keyctl',
      'request_key',
      'bpf',
      'perf_event_open',
      'ptrace',
      'process_vm_readv',
      'unshare',
      'setns',
      'userfaultfd',
      'acct',
      'settimeofday',
      'clock_settime',
      'quotactl',
      'lookup_dcookie',
      'kcmp',
      'vhangup',
      'syslog',
      'iopl',
      'ioperm',
      'io_uring_setup',
      'sethostname',
      'fsopen',
      'mbind',
    ];
    for (const s of refused) assert.equal(rulesFor(p, s).length, 0, s);
  });
  it('allows clone only without namespace flags, and makes clone3 fail with ENOSYS', () => {
    assert.equal(CLONE_NAMESPACE_FLAGS, 0x7e020000);
    assert.ok(!allowed.has('clone'));
    assert.deepEqual(rulesFor(p, 'clone'), [
      { names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 0x7e020000, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }] },
    ]);
    assert.deepEqual(rulesFor(p, 'clone3'), [{ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 }]);
  });
  it('allows personality only with the safe values and socket but for AF_VSOCK', () => {
    const values = rulesFor(p, 'personality').map((r) => (assert.equal(r.args?.[0]?.op, 'SCMP_CMP_EQ'), r.args?.[0]?.value));
    assert.deepEqual(values, [0, 8, 0x20000, 0x20008, 0xffffffff]);
    assert.deepEqual(rulesFor(p, 'socket'), [{ names: ['socket'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 40, op: 'SCMP_CMP_NE' }] }]);
  });
  it('never lists a syscall both unconditionally and with argument rules', () => {
    const conditional = (p.syscalls ?? []).filter((s) => s.args?.length || s.action !== 'SCMP_ACT_ALLOW').flatMap((s) => s.names);
    for (const s of conditional) assert.ok(!allowed.has(s), s);
  });
  it('CAP_SYS_ADMIN allows mount, unshare, setns, clone and clone3', () => {
    const q = defaultSeccompProfile([...defaults, 'CAP_SYS_ADMIN']);
    const a = unconditional(q);
    for (const s of ['mount', 'umount2', 'unshare', 'setns', 'clone', 'clone3', 'pivot_root', 'sethostname', 'bpf', 'fsopen']) assert.ok(a.has(s), s);
    assert.equal(rulesFor(q, 'clone').length, 1);
    assert.equal(rulesFor(q, 'clone3').length, 1);
    for (const s of ['kexec_load', 'init_module', 'keyctl', 'swapon', 'reboot', 'ptrace']) assert.equal(rulesFor(q, s).length, 0, s);
  });
  it('other capabilities allow their syscalls (names with or without CAP_)', () => {
    const cases: [string, string[]][] = [
      ['SYS_MODULE', ['init_module', 'finit_module', 'delete_module']],
      ['CAP_SYS_BOOT', ['reboot']],
      ['sys_time', ['settimeofday', 'clock_settime']],
      ['SYS_PTRACE', ['ptrace', 'process_vm_readv', 'process_vm_writev', 'kcmp']],
      ['SYS_RAWIO', ['iopl', 'ioperm']],
      ['SYS_PACCT', ['acct']],
      ['SYS_TTY_CONFIG', ['vhangup']],
      ['SYSLOG', ['syslog']],
      ['BPF', ['bpf']],
      ['PERFMON', ['perf_event_open']],
      ['DAC_READ_SEARCH', ['open_by_handle_at']],
      ['SYS_NICE', ['mbind', 'set_mempolicy']],
    ];
    for (const [cap, calls] of cases) {
      const a = unconditional(defaultSeccompProfile([cap]));
      for (const s of calls) assert.ok(a.has(s), `${cap} → ${s}`);
      assert.ok(!a.has('mount'), cap);
    }
    assert.ok(!unconditional(defaultSeccompProfile([])).has('chroot'));
  });
  it('has a table for arm64 and a portable fallback for other architectures', () => {
    const arm = defaultSeccompProfile(defaults, 'arm64');
    assert.deepEqual(arm.architectures, ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
    assert.ok(unconditional(arm).has('cacheflush'));
    assert.ok(!unconditional(arm).has('arch_prctl'));
    const s390 = defaultSeccompProfile(defaults, 's390x');
    assert.equal(rulesFor(s390, 'clone')[0]?.args?.[0]?.index, 1);
    const other = defaultSeccompProfile(defaults, 'loong64');
    assert.equal(other.architectures, undefined);
    assert.ok(unconditional(other).has('read'));
  });
});

describe('Localhost seccomp profiles', () => {
  it('pass an OCI-form profile through unchanged', () => {
    const oci = {
      defaultAction: 'SCMP_ACT_ERRNO',
      defaultErrnoRet: 1,
      architectures: ['SCMP_ARCH_X86_64'],
      flags: ['SECCOMP_FILTER_FLAG_LOG'],
      syscalls: [
        { names: ['read', 'write'], action: 'SCMP_ACT_ALLOW' },
        { names: ['socket'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 2, valueTwo: 0, op: 'SCMP_CMP_EQ' }] },
        { names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 13, args: [] },
      ],
    };
    assert.deepEqual(localhostSeccompProfile(structuredClone(oci), defaults), oci);
    assert.deepEqual(localhostSeccompProfile({ defaultAction: 'SCMP_ACT_LOG' }, []), { defaultAction: 'SCMP_ACT_LOG' });
  });
  it('convert Docker-form profiles: archMap, name, includes and excludes', () => {
    const docker = {
      defaultAction: 'SCMP_ACT_ERRNO',
      archMap: [
        { architecture: 'SCMP_ARCH_AARCH64', subArchitectures: ['SCMP_ARCH_ARM'] },
        { architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'] },
      ],
      syscalls: [
        { name: 'read', action: 'SCMP_ACT_ALLOW', args: null, comment: 'old style' },
        { names: ['mount'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_ADMIN'] } },
        { names: ['clone'], action: 'SCMP_ACT_ALLOW', excludes: { caps: ['CAP_SYS_ADMIN'] } },
        { names: ['arch_prctl'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['amd64', 'x32'] } },
        { names: ['cacheflush'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['arm64'] } },
        { names: ['ptrace'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: '4.8' } },
      ],
    };
    const plain = localhostSeccompProfile(docker, defaults, 'x64');
    assert.deepEqual(plain.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
    assert.deepEqual(
      plain.syscalls?.map((s) => s.names[0]),
      ['read', 'clone', 'arch_prctl', 'ptrace'],
    );
    assert.ok(!('comment' in (plain.syscalls?.[0] ?? {})));
    const admin = localhostSeccompProfile(docker, [...defaults, 'SYS_ADMIN'], 'arm64');
    assert.deepEqual(admin.architectures, ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
    assert.deepEqual(
      admin.syscalls?.map((s) => s.names[0]),
      ['read', 'mount', 'cacheflush', 'ptrace'],
    );
  });
  it('refuse malformed profiles', () => {
    const field = /^config\.linux\.security_context\.seccomp: Localhost profile/;
    invalid(() => localhostSeccompProfile([], []), field);
    invalid(() => localhostSeccompProfile({ defaultAction: 'ALLOW' }, []), /defaultAction/);
    invalid(() => localhostSeccompProfile({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: {} }, []), /syscalls is not a list/);
    invalid(() => localhostSeccompProfile({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ action: 'SCMP_ACT_ERRNO' }] }, []), /syscalls\[0\] names no syscall/);
    invalid(
      () =>
        localhostSeccompProfile(
          { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['x'], action: 'SCMP_ACT_ERRNO', args: [{ index: 9, value: 1, op: 'SCMP_CMP_EQ' }] }] },
          [],
        ),
      /args\[0\]\.index/,
    );
    invalid(
      () =>
        localhostSeccompProfile(
          { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['x'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 1, op: 'EQ' }] }] },
          [],
        ),
      /op "EQ"/,
    );
  });
});

// ---------------------------------------------------------------- containerSpec

const security = (s: Partial<ContainerSecurity> = {}): ContainerSecurity => ({
  privileged: false,
  capabilities: { add: [], drop: [] },
  namespaces: { network: 'POD', pid: 'CONTAINER', ipc: 'POD', targetId: '' },
  supplementalGroups: [],
  readonlyRootfs: false,
  noNewPrivs: false,
  maskedPaths: [],
  readonlyPaths: [],
  seccomp: { type: 'RuntimeDefault' },
  ...s,
});

const config = (c: Partial<ContainerConfig> = {}): ContainerConfig => ({
  metadata: { name: 'app', attempt: 0 },
  image: 'docker.io/library/busybox:latest',
  command: [],
  args: [],
  workingDir: '',
  envs: [],
  mounts: [],
  devices: [],
  labels: {},
  annotations: {},
  logPath: 'app/0.log',
  stdin: false,
  stdinOnce: false,
  tty: false,
  resources: {},
  security: security(),
  ...c,
});

const image: ImageRuntimeConfig = { Entrypoint: ['/entry'], Cmd: ['serve'], Env: ['PATH=/usr/bin:/bin', 'LANG=C'], WorkingDir: '/srv' };
const pause = '/proc/4242/ns';

const input = (c: Partial<ContainerConfig> = {}, rest: Partial<ContainerSpecInput> = {}): ContainerSpecInput => ({
  id: 'c1',
  config: config(c),
  image,
  user: { uid: 1000, gid: 1000, additionalGids: [10, 29] },
  namespaces: { network: '/run/crib/netns/s1', ipc: `${pause}/ipc`, uts: `${pause}/uts` },
  hostname: 'web-0',
  podFiles: {
    hostname: '/var/lib/crib/sandboxes/s1/hostname',
    resolvConf: '/var/lib/crib/sandboxes/s1/resolv.conf',
    hosts: '/var/lib/crib/sandboxes/s1/hosts',
  },
  shmPath: '/run/crib/shm/s1',
  cgroupsPath: '/kubepods/pod1/c1',
  oomScoreAdj: 500,
  hostDevices: [],
  arch: 'x64',
  ...rest,
});

const spec = (c: Partial<ContainerConfig> = {}, rest: Partial<ContainerSpecInput> = {}): OciSpec => containerSpec(input(c, rest));
const sec = (s: Partial<ContainerSecurity>, rest: Partial<ContainerSpecInput> = {}): OciSpec => spec({ security: security(s) }, rest);
const mount = (s: OciSpec, dest: string) => s.mounts.find((m) => m.destination === dest);

/** No key may be present with an undefined value (JSON would drop it; runc would see no field). */
function noUndefined(v: unknown, at = 'spec'): void {
  if (Array.isArray(v)) v.forEach((x, i) => noUndefined(x, `${at}[${i}]`));
  else if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      assert.notEqual(x, undefined, `${at}.${k}`);
      noUndefined(x, `${at}.${k}`);
    }
  }
}

describe('container spec: process', () => {
  it('merges command and args with the image as containerd does', () => {
    const table: [string[], string[], string[] | undefined, string[] | undefined, string[]][] = [
      // command, args, Entrypoint, Cmd → process args
      [[], [], ['/entry'], ['serve'], ['/entry', 'serve']],
      [['/bin/sh'], [], ['/entry'], ['serve'], ['/bin/sh']],
      [['/bin/sh'], ['-c', 'id'], ['/entry'], ['serve'], ['/bin/sh', '-c', 'id']],
      [[], ['x', 'y'], ['/entry'], ['serve'], ['/entry', 'x', 'y']],
      [[], ['x'], undefined, ['serve'], ['x']],
      [[], [], undefined, ['serve', '-v'], ['serve', '-v']],
      [[], [], ['/entry'], undefined, ['/entry']],
      [[], [], [''], ['serve'], ['serve']],
      [['/bin/sh'], [], undefined, undefined, ['/bin/sh']],
    ];
    for (const [command, args, Entrypoint, Cmd, want] of table) {
      assert.deepEqual(processArgs({ command, args }, { Entrypoint, Cmd }), want, JSON.stringify([command, args, Entrypoint, Cmd]));
    }
    assert.deepEqual(spec({ args: ['--port', '80'] }).process.args, ['/entry', '--port', '80']);
  });
  it('refuses a container with no command at all', () => {
    invalid(() => processArgs({ command: [], args: [] }, {}), /^no command specified: config\.command, config\.args and the image have none$/);
    invalid(() => processArgs({ command: [], args: [] }, { Entrypoint: [''] }), /no command specified/);
    invalid(() => spec({}, { image: {} }), /no command specified/);
  });
  it('layers the environment: defaults, image, config', () => {
    const env = spec({
      envs: [
        { key: 'LANG', value: 'C.UTF-8' },
        { key: 'MODE', value: 'a=b' },
      ],
    }).process.env;
    assert.deepEqual(env, ['PATH=/usr/bin:/bin', 'HOSTNAME=web-0', 'LANG=C.UTF-8', 'MODE=a=b']);
    assert.deepEqual(spec({}, { image: { Cmd: ['x'] } }).process.env, [...containerdDefaultEnv, 'HOSTNAME=web-0']);
    const tty = spec({ tty: true, envs: [{ key: 'HOSTNAME', value: 'mine' }] }).process;
    assert.equal(tty.terminal, true);
    assert.deepEqual(tty.env, ['PATH=/usr/bin:/bin', 'TERM=xterm', 'HOSTNAME=mine', 'LANG=C']);
    assert.equal(spec().process.terminal, false);
  });
  it('removes a variable an override names without a value', () => {
    assert.deepEqual(mergeEnv(['A=1', 'B=2', 'A=3'], ['A', 'C=4', 'B=5']), ['B=5', 'C=4']);
  });
  it('picks the working directory: config, then image, then /', () => {
    assert.equal(spec({ workingDir: '/work' }).process.cwd, '/work');
    assert.equal(spec().process.cwd, '/srv');
    assert.equal(spec({}, { image: { Cmd: ['x'] } }).process.cwd, '/');
    assert.equal(spec({}, { image: { Cmd: ['x'], WorkingDir: 'rel' } }).process.cwd, '/rel');
  });
  it('runs as the resolved user, keeping the primary gid among the supplementary ones', () => {
    assert.deepEqual(spec().process.user, { uid: 1000, gid: 1000, additionalGids: [1000, 10, 29] });
    assert.deepEqual(spec({}, { user: { uid: 0, gid: 0, additionalGids: [] } }).process.user, { uid: 0, gid: 0, additionalGids: [0] });
  });
  it('sets capabilities, no_new_privs, oom_score_adj and rlimits', () => {
    const p = sec({ capabilities: { add: ['NET_ADMIN'], drop: ['ALL'] }, noNewPrivs: true }).process;
    assert.deepEqual(p.capabilities, { bounding: ['CAP_NET_ADMIN'], effective: ['CAP_NET_ADMIN'], permitted: ['CAP_NET_ADMIN'], inheritable: [], ambient: [] });
    assert.equal(p.noNewPrivileges, true);
    assert.equal(p.oomScoreAdj, 500);
    assert.deepEqual(p.rlimits, [{ type: 'RLIMIT_NOFILE', hard: 1048576, soft: 1048576 }]);
    assert.deepEqual(new Set(spec().process.capabilities.effective), new Set(containerdDefaultCaps));
    assert.equal(spec().process.noNewPrivileges, false);
  });
  it('privileged: all capabilities and no no_new_privs', () => {
    const p = sec({ privileged: true, noNewPrivs: true, capabilities: { add: [], drop: ['ALL'] } }).process;
    assert.deepEqual(p.capabilities.bounding, [...allCapabilities]);
    assert.deepEqual(p.capabilities.permitted, [...allCapabilities]);
    assert.deepEqual(p.capabilities.ambient, []);
    assert.equal(p.noNewPrivileges, false);
  });
  it('refuses unknown capabilities', () => {
    invalid(() => sec({ capabilities: { add: ['WINGS'], drop: [] } }), /^config\.linux\.security_context\.capabilities/);
  });
  it('gives privileged containers the capabilities the runtime holds', () => {
    const have = allCapabilities.filter((c) => c !== 'CAP_SYS_RESOURCE');
    assert.deepEqual(sec({ privileged: true }, { availableCapabilities: have }).process.capabilities.effective, have);
  });
  it('takes the RLIMIT_NOFILE the caller can grant, or none', () => {
    assert.deepEqual(spec({}, { rlimitNofile: 20000 }).process.rlimits, [{ type: 'RLIMIT_NOFILE', hard: 20000, soft: 20000 }]);
    assert.ok(!('rlimits' in spec({}, { rlimitNofile: null }).process));
  });
});

describe('container spec: namespaces', () => {
  const kinds = (s: OciSpec) => Object.fromEntries(s.linux.namespaces.map((n) => [n.type, n.path ?? 'new']));

  it("joins the pod's network, IPC and UTS, gets its own mount, PID and cgroup namespaces", () => {
    const s = spec();
    assert.deepEqual(kinds(s), { mount: 'new', network: '/run/crib/netns/s1', ipc: `${pause}/ipc`, uts: `${pause}/uts`, pid: 'new', cgroup: 'new' });
    assert.equal(s.hostname, 'web-0');
  });
  it("joins the pod's PID namespace when shared", () => {
    const s = sec(
      { namespaces: { network: 'POD', pid: 'POD', ipc: 'POD', targetId: '' } },
      { namespaces: { network: '/n', ipc: '/i', uts: '/u', pid: `${pause}/pid` } },
    );
    assert.equal(kinds(s)['pid'], `${pause}/pid`);
  });
  it("joins a target container's PID namespace", () => {
    const s = sec(
      { namespaces: { network: 'POD', pid: 'TARGET', ipc: 'POD', targetId: 'c0' } },
      { namespaces: { network: '/n', ipc: '/i', uts: '/u', pid: '/proc/77/ns/pid' } },
    );
    assert.equal(kinds(s)['pid'], '/proc/77/ns/pid');
    invalid(() => sec({ namespaces: { network: 'POD', pid: 'TARGET', ipc: 'POD', targetId: 'c0' } }), /target_id.*"c0"/);
  });
  it("uses the node's namespaces for NODE (UTS follows the network), with no hostname", () => {
    const s = sec({ namespaces: { network: 'NODE', pid: 'NODE', ipc: 'NODE', targetId: '' } }, { namespaces: {} });
    assert.deepEqual(kinds(s), { mount: 'new', cgroup: 'new' });
    assert.equal(s.hostname, undefined);
    assert.ok(!('hostname' in s));
  });
  it('mixes: node network, pod IPC, container PID', () => {
    const s = sec({ namespaces: { network: 'NODE', pid: 'CONTAINER', ipc: 'POD', targetId: '' } }, { namespaces: { ipc: '/i' } });
    assert.deepEqual(kinds(s), { mount: 'new', ipc: '/i', pid: 'new', cgroup: 'new' });
  });
  it('creates a namespace of a kind with no path to join', () => {
    const s = spec({}, { namespaces: {} });
    assert.deepEqual(kinds(s), { mount: 'new', network: 'new', ipc: 'new', uts: 'new', pid: 'new', cgroup: 'new' });
    assert.equal(s.hostname, 'web-0');
  });
  it("privileged containers keep the node's cgroup namespace", () => {
    assert.equal(kinds(sec({ privileged: true }))['cgroup'], undefined);
  });
});

describe('container spec: filesystem', () => {
  it('has the default mounts, pod files and /dev/shm, rw', () => {
    const s = spec();
    assert.deepEqual(s.root, { path: 'rootfs', readonly: false });
    assert.deepEqual(
      s.mounts.map((m) => m.destination),
      ['/proc', '/dev', '/dev/pts', '/dev/mqueue', '/sys', '/sys/fs/cgroup', '/dev/shm', '/etc/hostname', '/etc/resolv.conf', '/etc/hosts'],
    );
    assert.deepEqual(mount(s, '/sys')?.options.at(-1), 'ro');
    assert.deepEqual(mount(s, '/sys/fs/cgroup'), {
      destination: '/sys/fs/cgroup',
      type: 'cgroup',
      source: 'cgroup',
      options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'],
    });
    assert.equal(mount(s, '/dev/pts')?.type, 'devpts');
    assert.equal(mount(s, '/dev/mqueue')?.type, 'mqueue');
    assert.deepEqual(mount(s, '/dev/shm'), {
      destination: '/dev/shm',
      type: 'bind',
      source: '/run/crib/shm/s1',
      options: ['rbind', 'rprivate', 'rw', 'nosuid', 'nodev', 'noexec'],
    });
    assert.deepEqual(mount(s, '/etc/hosts'), {
      destination: '/etc/hosts',
      type: 'bind',
      source: '/var/lib/crib/sandboxes/s1/hosts',
      options: ['rbind', 'rprivate', 'rw'],
    });
    assert.equal(mount(s, '/etc/resolv.conf')?.source, '/var/lib/crib/sandboxes/s1/resolv.conf');
    assert.equal(mount(s, '/etc/hostname')?.source, '/var/lib/crib/sandboxes/s1/hostname');
    assert.equal(s.linux.rootfsPropagation, undefined);
  });
  it('a read-only rootfs makes the pod files read-only, not /dev/shm', () => {
    const s = sec({ readonlyRootfs: true });
    assert.equal(s.root.readonly, true);
    for (const f of ['/etc/hostname', '/etc/resolv.conf', '/etc/hosts']) assert.ok(mount(s, f)?.options.includes('ro'), f);
    assert.ok(mount(s, '/dev/shm')?.options.includes('rw'));
  });
  it('privileged: writable /sys and cgroupfs', () => {
    const s = sec({ privileged: true });
    assert.equal(mount(s, '/sys')?.options.at(-1), 'rw');
    assert.equal(mount(s, '/sys/fs/cgroup')?.options.at(-1), 'rw');
  });
  it('maps propagation and read-only for requested mounts, parents first', () => {
    const s = spec({
      mounts: [
        { containerPath: '/data/cache/', hostPath: '/srv/cache', readonly: false, propagation: 'host-to-container' },
        { containerPath: '/data', hostPath: '/srv/data', readonly: true, propagation: 'private' },
        { containerPath: '/shared', hostPath: '/srv/shared', readonly: false, propagation: 'bidirectional' },
      ],
    });
    assert.deepEqual(mount(s, '/data'), { destination: '/data', type: 'bind', source: '/srv/data', options: ['rbind', 'rprivate', 'ro'] });
    assert.deepEqual(mount(s, '/data/cache'), { destination: '/data/cache', type: 'bind', source: '/srv/cache', options: ['rbind', 'rslave', 'rw'] });
    assert.deepEqual(mount(s, '/shared')?.options, ['rbind', 'rshared', 'rw']);
    const order = s.mounts.map((m) => m.destination);
    assert.ok(order.indexOf('/data') < order.indexOf('/data/cache'));
    assert.equal(s.linux.rootfsPropagation, 'rshared');
    const slave = spec({ mounts: [{ containerPath: '/x', hostPath: '/y', readonly: false, propagation: 'host-to-container' }] });
    assert.equal(slave.linux.rootfsPropagation, 'rslave');
  });
  it('a requested mount replaces a default one at the same path', () => {
    const s = spec({
      mounts: [
        { containerPath: '/etc/hosts', hostPath: '/mine/hosts', readonly: true, propagation: 'private' },
        { containerPath: '/dev/shm', hostPath: '/mine/shm', readonly: false, propagation: 'private' },
        { containerPath: '/sys/fs/cgroup/', hostPath: '/sys/fs/cgroup', readonly: true, propagation: 'private' },
      ],
    });
    for (const d of ['/etc/hosts', '/dev/shm', '/sys/fs/cgroup']) assert.equal(s.mounts.filter((m) => m.destination === d).length, 1, d);
    assert.equal(mount(s, '/etc/hosts')?.source, '/mine/hosts');
    assert.equal(mount(s, '/dev/shm')?.source, '/mine/shm');
    assert.equal(mount(s, '/sys/fs/cgroup')?.type, 'bind');
    assert.equal(mount(s, '/etc/resolv.conf')?.source, '/var/lib/crib/sandboxes/s1/resolv.conf');
  });
  it("masks and read-only paths: containerd's by default, the given ones, none for privileged", () => {
    assert.deepEqual(new Set(spec().linux.maskedPaths), new Set(containerdMaskedPaths));
    assert.equal(spec().linux.maskedPaths.length, containerdMaskedPaths.length, 'each once');
    assert.deepEqual(new Set(spec().linux.readonlyPaths), new Set(containerdReadonlyPaths));
    assert.equal(spec().linux.readonlyPaths.length, containerdReadonlyPaths.length, 'each once');
    const given = sec({ maskedPaths: ['/proc/secret'], readonlyPaths: ['/proc/ro'] });
    assert.deepEqual(given.linux.maskedPaths, ['/proc/secret']);
    assert.deepEqual(given.linux.readonlyPaths, ['/proc/ro']);
    const priv = sec({ privileged: true, maskedPaths: ['/proc/secret'] });
    assert.deepEqual(priv.linux.maskedPaths, []);
    assert.deepEqual(priv.linux.readonlyPaths, []);
  });
});

describe('container spec: resources and devices', () => {
  it('maps cpu and memory; swap defaults to the memory limit', () => {
    const s = spec({ resources: { cpuShares: 512, cpuQuota: 50000, cpuPeriod: 100000, cpusetCpus: '0-1', cpusetMems: '0', memoryLimitBytes: 256 << 20 } });
    assert.deepEqual(s.linux.resources.cpu, { shares: 512, quota: 50000, period: 100000, cpus: '0-1', mems: '0' });
    assert.deepEqual(s.linux.resources.memory, { limit: 256 << 20, swap: 256 << 20 });
    assert.equal(s.linux.cgroupsPath, '/kubepods/pod1/c1');
  });
  it('passes an explicit swap limit (and unlimited swap) through', () => {
    assert.deepEqual(spec({ resources: { memoryLimitBytes: 100, memorySwapLimitBytes: 300 } }).linux.resources.memory, { limit: 100, swap: 300 });
    assert.deepEqual(spec({ resources: { memoryLimitBytes: 100, memorySwapLimitBytes: -1 } }).linux.resources.memory, { limit: 100, swap: -1 });
  });
  it('leaves cpu and memory out when nothing is asked', () => {
    const r = spec({ resources: { cpuShares: 0, memoryLimitBytes: 0 } }).linux.resources;
    assert.ok(!('cpu' in r));
    assert.ok(!('memory' in r));
  });
  it('denies all devices, then allows the defaults and the requested ones', () => {
    const s = spec(
      {
        devices: [
          { containerPath: '/dev/fuse', hostPath: '/dev/fuse', permissions: 'mrw' },
          { containerPath: '/dev/sdz', hostPath: '/dev/sdb', permissions: 'r' },
        ],
      },
      {
        hostDevices: [
          { path: '/dev/fuse', type: 'c', major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 0 },
          { path: '/dev/sdz', type: 'b', major: 8, minor: 16, fileMode: 0o660, uid: 0, gid: 6 },
        ],
      },
    );
    const rules = s.linux.resources.devices;
    assert.deepEqual(rules[0], { allow: false, access: 'rwm' });
    const allowed = rules.slice(1).map((r) => `${r.type} ${r.major}:${r.minor ?? '*'} ${r.access}`);
    assert.deepEqual(allowed, [
      'c 1:3 rwm',
      'c 1:5 rwm',
      'c 1:7 rwm',
      'c 1:8 rwm',
      'c 1:9 rwm',
      'c 5:0 rwm',
      'c 5:2 rwm',
      'c 136:* rwm',
      'c 10:229 rwm',
      'b 8:16 r',
    ]);
    assert.deepEqual(s.linux.devices, [
      { path: '/dev/fuse', type: 'c', major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 0 },
      { path: '/dev/sdz', type: 'b', major: 8, minor: 16, fileMode: 0o660, uid: 0, gid: 6 },
    ]);
    assert.ok(!('devices' in spec().linux));
  });
  it('reads empty device permissions as rwm', () => {
    const dev = { path: '/dev/x', type: 'c' as const, major: 1, minor: 1, fileMode: 0o600, uid: 0, gid: 0 };
    assert.equal(
      spec({ devices: [{ containerPath: '/dev/x', hostPath: '/dev/x', permissions: '' }] }, { hostDevices: [dev] }).linux.resources.devices.at(-1)?.access,
      'rwm',
    );
  });
  it('privileged: all devices allowed, requested nodes still created', () => {
    const dev = { path: '/dev/x', type: 'c' as const, major: 1, minor: 1, fileMode: 0o600, uid: 0, gid: 0 };
    const s = spec(
      { security: security({ privileged: true }), devices: [{ containerPath: '/dev/x', hostPath: '/dev/x', permissions: 'rw' }] },
      { hostDevices: [dev] },
    );
    assert.deepEqual(s.linux.resources.devices, [{ allow: true, access: 'rwm' }]);
    assert.equal(s.linux.devices?.length, 1);
  });
});

describe('container spec: seccomp and annotations', () => {
  it("RuntimeDefault follows the container's capabilities", () => {
    const plain = spec().linux.seccomp!;
    assert.equal(rulesFor(plain, 'mount').length, 0);
    assert.equal(rulesFor(plain, 'kexec_load').length, 0);
    const admin = sec({ capabilities: { add: ['SYS_ADMIN'], drop: [] } }).linux.seccomp!;
    assert.ok(unconditional(admin).has('mount'));
    assert.equal(rulesFor(admin, 'kexec_load').length, 0);
    const chrootless = sec({ capabilities: { add: [], drop: ['SYS_CHROOT'] } }).linux.seccomp!;
    assert.equal(rulesFor(chrootless, 'chroot').length, 0);
  });
  it('Localhost passes the loaded profile through', () => {
    const profile = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }] };
    const s = sec({ seccomp: { type: 'Localhost', path: '/var/lib/kubelet/seccomp/p.json' } }, { seccompLocalhostProfile: profile });
    assert.deepEqual(s.linux.seccomp, profile);
    invalid(
      () => sec({ seccomp: { type: 'Localhost', path: '/p.json' } }),
      /^config\.linux\.security_context\.seccomp\.localhost_ref: profile \/p\.json was not loaded/,
    );
  });
  it('Unconfined and privileged have no filter', () => {
    assert.ok(!('seccomp' in sec({ seccomp: { type: 'Unconfined' } }).linux));
    assert.ok(!('seccomp' in sec({ privileged: true }).linux));
    assert.ok(
      !(
        'seccomp' in
        sec({ privileged: true, seccomp: { type: 'Localhost', path: '/p' } }, { seccompLocalhostProfile: { defaultAction: 'SCMP_ACT_KILL' } }).linux
      ),
    );
  });
  it("annotates the container type over the config's and the caller's annotations", () => {
    const s = spec(
      { annotations: { a: '1', 'io.kubernetes.cri.container-type': 'sandbox' } },
      { annotations: { 'io.kubernetes.cri.sandbox-id': 's1', a: '2' } },
    );
    assert.deepEqual(s.annotations, { a: '2', 'io.kubernetes.cri.container-type': 'container', 'io.kubernetes.cri.sandbox-id': 's1' });
  });
  it('is plain JSON with no undefined fields', () => {
    for (const s of [spec(), sec({ privileged: true }), sec({ namespaces: { network: 'NODE', pid: 'NODE', ipc: 'NODE', targetId: '' } }, { namespaces: {} })]) {
      noUndefined(s);
      assert.deepEqual(JSON.parse(JSON.stringify(s)), s);
      assert.equal(s.ociVersion, '1.0.2');
    }
  });
  it('does not share mutable state between specs', () => {
    const a = spec();
    a.mounts[0]!.options.push('oops');
    a.linux.maskedPaths.push('/oops');
    const b = spec();
    assert.ok(!b.mounts[0]!.options.includes('oops'));
    assert.ok(!b.linux.maskedPaths.includes('/oops'));
  });
});
