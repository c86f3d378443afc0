// Pure pieces, tested without root or a daemon: sandbox config rules, pod files, the pause spec, CNI
// inputs, filters, daemon config, conmon's sync pipe, image users, untrusted JSON, request contexts.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import { applyConfigFile, defaultConfig, validateConfig } from '../../src/config.js';
import { builtinNetwork, parseNetworkConfig } from '../../src/network/cni-config.js';
import { parsePodCidrs } from '../../src/network/pod-cidr.js';
import { isNoop, pluginInput, podIPs } from '../../src/network/cni.js';
import { procStat, signalNumber, stillAlive } from '../../src/host/process.js';
import { spawnSync } from 'node:child_process';
import { parseSyncMessage } from '../../src/oci/conmon.js';
import { pauseSpec } from '../../src/sandbox/spec.js';
import { matchesFilter } from '../../src/sandbox/filter.js';
import { hostsFile, podHostname, resolvConf } from '../../src/sandbox/pod-files.js';
import type { Sandbox, SandboxConfig, SandboxView } from '../../src/sandbox/types.js';
import { validateSandboxConfig } from '../../src/sandbox/validate.js';
import { validateId } from '../../src/util/validate.js';
import { CribError } from '../../src/util/errors.js';
import { parseUntrustedJson } from '../../src/util/json.js';
import { untilAborted } from '../../src/util/context.js';
import { onAbort } from '../../src/util/on-abort.js';
import { nowNanos } from '../../src/util/time.js';
import { imageUser } from '../../src/cri/image-service.js';

const base: SandboxConfig = {
  metadata: { name: 'web', uid: 'u1', namespace: 'default', attempt: 0 },
  hostname: 'web',
  logDirectory: '/var/log/pods/x',
  portMappings: [],
  labels: {},
  annotations: {},
  cgroupParent: '',
  sysctls: {},
  namespaces: { network: 'POD', pid: 'POD', ipc: 'POD', targetId: '' },
  runtimeHandler: '',
};

const invalid = (c: Partial<SandboxConfig>, field: RegExp) =>
  assert.throws(
    () => validateSandboxConfig({ ...base, ...c }),
    (e: CribError) => e.kind === 'InvalidArgument' && field.test(e.message),
  );

describe('sandbox config validation', () => {
  it('accepts a kubelet-like config', () => validateSandboxConfig(base));
  it('names the field at fault', () => {
    invalid({ metadata: { ...base.metadata, name: '' } }, /^config\.metadata\.name/);
    invalid({ metadata: { ...base.metadata, namespace: 'a;K8S_POD_NAME=other' } }, /^config\.metadata\.namespace.*CNI_ARGS/);
    invalid({ metadata: { ...base.metadata, uid: 'u;x' } }, /^config\.metadata\.uid/);
    invalid({ metadata: { ...base.metadata, name: 'web\nINFO forged' } }, /^config\.metadata\.name.*control/);
    invalid({ hostname: 'two words' }, /^config\.hostname/);
    invalid({ hostname: 'a'.repeat(65) }, /^config\.hostname.*64 bytes/);
    invalid({ logDirectory: 'rel' }, /^config\.log_directory/);
    invalid({ logDirectory: '/a/../b' }, /^config\.log_directory/);
    invalid({ portMappings: [{ hostPort: 70000, containerPort: 80, protocol: 'tcp' }] }, /port_mappings\[0\]\.host_port/);
    invalid({ portMappings: [{ hostPort: -8080, containerPort: 80, protocol: 'tcp' }] }, /port_mappings\[0\]\.host_port/);
    invalid({ namespaces: { ...base.namespaces, network: 'CONTAINER' } }, /namespace_options\.network/);
    invalid({ namespaces: { ...base.namespaces, pid: 'TARGET' } }, /namespace_options\.pid/);
    invalid({ cgroupParent: 'kubepods.slice' }, /cgroup_parent/);
    invalid({ cgroupParent: '/kubepods.slice' }, /cgroup_parent/);
    invalid({ sysctls: { 'vm.swappiness': '1' } }, /sysctls\[vm\.swappiness\]/);
    invalid({ sysctls: { 'kernel.shmmax': '1' }, namespaces: { ...base.namespaces, ipc: 'NODE' } }, /sysctls\[kernel\.shmmax\]/);
  });
  it('leaves naming rules to the API server, as containerd and CRI-O do', () => {
    // critest's names are longer than a DNS label; the kernel takes any 64-byte hostname.
    validateSandboxConfig({ ...base, metadata: { ...base.metadata, name: `podsandbox-for-test-${'x'.repeat(90)}`, uid: '' } });
    validateSandboxConfig({ ...base, hostname: 'A_host-name.'.padEnd(64, 'z') });
    validateSandboxConfig({ ...base, hostname: '' });
  });
  it('allows namespaced sysctls in either separator style', () => {
    validateSandboxConfig({ ...base, sysctls: { 'net/ipv4/ip_forward': '1', 'kernel.sem': '250 32000 32 128', 'fs.mqueue.msg_max': '20' } });
  });
  it('checks ids', () => {
    validateId('id', 'abc123');
    assert.throws(() => validateId('pod_sandbox_id', '../x'), /pod_sandbox_id/);
    assert.throws(() => validateId('pod_sandbox_id', ''), /must not be empty/);
  });
});

describe('pod files', () => {
  it('names the pod after the node when it asks for no hostname, as containerd does', () => {
    assert.equal(podHostname({ hostname: 'web' }), 'web');
    assert.equal(podHostname({ hostname: '' }), os.hostname());
  });
  it('writes resolv.conf from the DNS config, else keeps the host one', () => {
    assert.equal(resolvConf({ servers: ['1.1.1.1'], searches: ['a.b'], options: ['ndots:5'] }, 'host'), 'search a.b\nnameserver 1.1.1.1\noptions ndots:5\n');
    assert.equal(resolvConf(undefined, 'nameserver 9.9.9.9\n'), 'nameserver 9.9.9.9\n');
  });
  it('maps the hostname to the pod IP once known', () => {
    assert.doesNotMatch(hostsFile('web'), /web/);
    assert.match(hostsFile('web', '10.0.0.5'), /^10\.0\.0\.5\tweb$/m);
  });
});

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

describe('CNI', () => {
  it('builds the built-in bridge network', () => {
    const n = builtinNetwork({ name: 'crib', bridge: 'crib0', subnet: '10.85.0.0/16', ipMasq: true, ipamDataDir: '/var/lib/crib/cni/networks' });
    assert.deepEqual(
      n.plugins.map((p) => p.type),
      ['bridge', 'portmap'],
    );
  });
  it("takes kubelet's pod CIDR, one per family, and gives the built-in network a range and a route for each", () => {
    const field = 'runtime_config.network_config.pod_cidr';
    assert.deepEqual(parsePodCidrs(' 10.244.1.0/24 , fd00:1::/64', field), ['10.244.1.0/24', 'fd00:1::/64']);
    assert.deepEqual(parsePodCidrs('', field), []);
    for (const bad of ['10.0.0.1', '10.0.0.0/31', '300.0.0.0/8', '10.0.0.0/8,10.1.0.0/16', 'a,b,c', '::/127']) {
      assert.throws(
        () => parsePodCidrs(bad, field),
        (e: CribError) => e.kind === 'InvalidArgument' && e.message.startsWith(field),
        bad,
      );
    }
    const n = builtinNetwork({ name: 'crib', bridge: 'crib0', subnet: '10.244.1.0/24,fd00:1::/64', ipMasq: false, ipamDataDir: '/d' });
    const ipam = n.plugins[0]?.['ipam'] as { ranges: unknown; routes: unknown };
    assert.deepEqual(ipam.ranges, [[{ subnet: '10.244.1.0/24' }], [{ subnet: 'fd00:1::/64' }]]);
    assert.deepEqual(ipam.routes, [{ dst: '0.0.0.0/0' }, { dst: '::/0' }]);
  });
  it('reads .conf and .conflist files', () => {
    const one = parseNetworkConfig('{"cniVersion":"0.4.0","name":"n","type":"bridge"}', '/x/10-n.conf');
    assert.deepEqual(one.plugins, [{ type: 'bridge' }]);
    assert.throws(() => parseNetworkConfig('{"name":"n","plugins":[]}', '/x/a.conflist'), /plugins/);
  });
  it('gives plugins runtimeConfig only when they ask for port mappings', () => {
    const list = parseNetworkConfig(
      '{"cniVersion":"1.0.0","name":"n","plugins":[{"type":"bridge"},{"type":"portmap","capabilities":{"portMappings":true}}]}',
      'a.conflist',
    );
    const ports = [{ hostPort: 80, containerPort: 8080, protocol: 'tcp' as const }];
    assert.equal(pluginInput(list, list.plugins[0]!, ports, undefined)['runtimeConfig'], undefined);
    assert.deepEqual(pluginInput(list, list.plugins[1]!, ports, { ips: [] })['runtimeConfig'], { portMappings: ports });
    // A container port without a host port is only informational: portmap gets nothing for it.
    const informational = [...ports, { hostPort: 0, containerPort: 9090, protocol: 'tcp' as const }];
    assert.deepEqual(pluginInput(list, list.plugins[1]!, informational, { ips: [] })['runtimeConfig'], { portMappings: ports });
    // portmap with nothing to map is not run at all; other plugins always are.
    assert.equal(isNoop(list.plugins[1]!, ports), false);
    assert.equal(isNoop(list.plugins[1]!, informational.slice(1)), true);
    assert.equal(isNoop(list.plugins[0]!, []), false);
  });
  it('takes IPv4 first from a result', () => {
    const ips = podIPs({ ips: [{ address: 'fd00::5/64' }, { address: '10.0.0.5/24', gateway: '10.0.0.1' }] });
    assert.deepEqual(
      ips.map((i) => i.ip),
      ['10.0.0.5', 'fd00::5'],
    );
  });
});

describe('list filter', () => {
  const view = (id: string, state: 'READY' | 'NOTREADY', labels: Record<string, string>): SandboxView => ({
    sandbox: { id, config: { ...base, labels } } as Sandbox,
    state,
    pauseAlive: state === 'READY',
  });
  it('matches id prefix, state and every selector label', () => {
    const v = view('abcdef', 'READY', { app: 'web', tier: 'front' });
    assert.ok(matchesFilter(v, undefined));
    assert.ok(matchesFilter(v, { id: 'abc', state: 'READY', labelSelector: { app: 'web' } }));
    assert.ok(!matchesFilter(v, { id: 'abd' }));
    assert.ok(!matchesFilter(v, { state: 'NOTREADY' }));
    assert.ok(!matchesFilter(v, { labelSelector: { app: 'web', tier: 'back' } }));
  });
});

describe('daemon config', () => {
  it('merges a YAML file over the defaults and validates it', () => {
    const c = applyConfigFile(defaultConfig, 'runtime: crun\nnetwork:\n  bridge: br9\n  ipMasq: false\ncniBinDirs: [/a, /b]\n', 'f');
    assert.equal(c.runtime, 'crun');
    assert.equal(c.network.bridge, 'br9');
    assert.equal(c.network.ipMasq, false);
    assert.deepEqual(c.cniBinDirs, ['/a', '/b']);
    assert.equal(defaultConfig.network.bridge, 'crib0', 'defaults untouched');
    assert.throws(() => applyConfigFile(defaultConfig, 'sokcet: /x', 'f'), /sokcet: unknown key/);
    assert.throws(() => validateConfig({ ...defaultConfig, root: 'relative' }), /root/);
  });
  it('takes the log format and whether the built-in network is used', () => {
    const c = applyConfigFile(defaultConfig, 'logFormat: json\nnetwork:\n  builtin: false\n', 'f');
    assert.equal(validateConfig(c).logFormat, 'json');
    assert.equal(c.network.builtin, false);
    assert.throws(() => validateConfig({ ...defaultConfig, logFormat: 'xml' as 'json' }), /logFormat/);
    assert.throws(() => applyConfigFile(defaultConfig, 'network:\n  builtin: "no"\n', 'f'), /network.builtin/);
  });
});

describe('signals', () => {
  it('takes the names and numbers runc takes; leaves the rest to runc', () => {
    for (const s of ['SIGTERM', 'TERM', 'term', '15']) assert.equal(signalNumber(s), 15, s);
    assert.equal(signalNumber('SIGKILL'), 9);
    for (const s of ['SIGRTMIN+3', 'NOPE', '0', '99']) assert.equal(signalNumber(s), undefined, s);
  });
});

describe('process liveness for status calls', () => {
  it('trusts a process it saw alive, and sees it gone at once', () => {
    const self = procStat(process.pid)?.startTime ?? '';
    assert.equal(stillAlive(process.pid, self), true);
    assert.equal(stillAlive(process.pid, self), true);
    assert.equal(stillAlive(process.pid, `${self}1`), false, 'another start time is another process');
    const gone = spawnSync('true').pid ?? 0;
    assert.equal(stillAlive(gone, procStat(gone)?.startTime ?? '0'), false);
  });
});

describe('timestamps', () => {
  it('rise with every call, on the wall clock', () => {
    let last = 0n;
    for (let i = 0; i < 20_000; i++) {
      const t = BigInt(nowNanos());
      assert.ok(t > last, `${t} after ${last}`);
      last = t;
    }
    const skew = Number(last / 1_000_000n) - Date.now();
    assert.ok(Math.abs(skew) < 1000, `${skew} ms from Date.now()`);
  });
});

describe('conmon sync pipe', () => {
  it('reads the pid, or the failure message even when it holds braces', () => {
    assert.deepEqual(parseSyncMessage('{"data": 42}\n'), { message: { data: 42 }, rest: '' });
    assert.deepEqual(parseSyncMessage('{"data": -1, "message": "bad {x}"}\n'), { message: { data: -1, message: 'bad {x}' }, rest: '' });
    assert.equal(parseSyncMessage('{"data": 4'), undefined);
    // Two messages may come in one read.
    assert.deepEqual(parseSyncMessage('{"data": 4242}\n{"data": 3}\n'), { message: { data: 4242 }, rest: '{"data": 3}\n' });
  });
});

describe('image user', () => {
  it('splits numeric uids from names', () => {
    assert.deepEqual(imageUser('1000:1000'), { uid: '1000', username: '' });
    assert.deepEqual(imageUser('nobody'), { username: 'nobody' });
    assert.deepEqual(imageUser(''), { username: '' });
  });
});

describe('untrusted JSON', () => {
  it('says what was read and where it broke, never the content', () => {
    assert.deepEqual(parseUntrustedJson('{"a":1}', 'x'), { a: 1 });
    assert.throws(
      () => parseUntrustedJson(Buffer.from('root:x:0:0:root:/root:/bin/bash\n'), 'seccomp profile /etc/passwd'),
      (e: unknown) =>
        e instanceof CribError &&
        e.kind === 'InvalidArgument' &&
        /^seccomp profile \/etc\/passwd is not valid JSON/.test(e.message) &&
        !e.message.includes('root:x'),
    );
  });
});

describe('request context', () => {
  it("untilAborted: the caller gets the signal's reason at once while the shared work goes on", async () => {
    const ac = new AbortController();
    let finish!: (v: string) => void;
    const work = new Promise<string>((r) => (finish = r));
    const waiting = untilAborted(work, ac.signal);
    ac.abort(new CribError('DeadlineExceeded', 'too slow'));
    await assert.rejects(waiting, (e: unknown) => e instanceof CribError && e.kind === 'DeadlineExceeded');
    finish('done');
    assert.equal(await work, 'done');
    assert.equal(await untilAborted(Promise.resolve(1), new AbortController().signal), 1);
    await assert.rejects(untilAborted(Promise.resolve(1), AbortSignal.abort()), (e: unknown) => e instanceof CribError && e.kind === 'Cancelled');
  });

  it('onAbort: runs at once for a signal that fired before anyone listened, later for one that fires later, never after stopping', () => {
    let ran = 0;
    onAbort(AbortSignal.abort(), () => ran++);
    assert.equal(ran, 1, 'a caller gone before the listener was added is still seen');
    const later = new AbortController();
    onAbort(later.signal, () => ran++);
    const stopped = onAbort(later.signal, () => (ran += 100));
    stopped();
    later.abort();
    assert.equal(ran, 2);
  });
});
