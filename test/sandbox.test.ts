import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { call } from '../src/client/client.js';
import { run } from '../src/util/exec.js';
import { Harness, inNetns, readProcStatus } from './support/harness.js';
import { rejectsWith } from './support/grpc-assert.js';

describe('pod sandboxes on a real cribd', () => {
  const h = new Harness();
  before(() => h.start());
  after(() => h.cleanup());
  afterEach(async () => {
    for (const p of (await call(h.runtime, 'ListPodSandbox', {})).items) {
      await call(h.runtime, 'RemovePodSandbox', { pod_sandbox_id: p.id });
    }
    await h.assertNoLeaks();
  });

  it('gives two sandboxes distinct IPs on the bridge that reach each other', async () => {
    const a = await h.runPod('alpha');
    const b = await h.runPod('beta');
    const ia = await h.inspect(a);
    const ib = await h.inspect(b);
    const ipA = ia.status?.network?.ip ?? '';
    const ipB = ib.status?.network?.ip ?? '';
    assert.ok(ipA.startsWith(`${h.subnetPrefix}.`), ipA);
    assert.ok(ipB.startsWith(`${h.subnetPrefix}.`), ipB);
    assert.notEqual(ipA, ipB);
    await inNetns(ia.info.netNamespacePath, ['ping', '-c', '1', '-W', '2', ipB]);
    await inNetns(ib.info.netNamespacePath, ['ping', '-c', '1', '-W', '2', ipA]);
    // and each pod has a working loopback of its own
    await inNetns(ia.info.netNamespacePath, ['ping', '-c', '1', '-W', '2', '127.0.0.1']);
  });

  it('runs pause as PID 1 of the pod, without capabilities, with the hostname, DNS and sysctls asked for', async () => {
    const id = await h.runPod('inside', {
      hostname: 'inside-host',
      dns_config: { servers: ['10.96.0.10'], searches: ['default.svc.cluster.local'], options: ['ndots:5'] },
      linux: { sysctls: { 'net.ipv4.ip_unprivileged_port_start': '0', 'kernel.shmmni': '2048' }, security_context: { namespace_options: { pid: 0 } } },
    });
    const { info, status } = await h.inspect(id);
    assert.equal(status?.state, 0);
    const st = readProcStatus(info.pid);
    assert.equal(st['CapEff'], '0000000000000000');
    assert.equal(st['CapBnd'], '0000000000000000');
    assert.equal(st['NSpid']?.split(/\s+/).at(-1), '1', 'pause is PID 1 of its namespace');
    assert.equal(fs.readFileSync(`/proc/${info.pid}/root/etc/hostname`, 'utf8').trim(), 'inside-host');
    const resolv = fs.readFileSync(`/proc/${info.pid}/root/etc/resolv.conf`, 'utf8');
    assert.match(resolv, /^nameserver 10\.96\.0\.10$/m);
    assert.match(resolv, /^search default\.svc\.cluster\.local$/m);
    assert.match(resolv, /^options ndots:5$/m);
    const hosts = fs.readFileSync(`/proc/${info.pid}/root/etc/hosts`, 'utf8');
    assert.match(hosts, new RegExp(`^${status?.network?.ip?.replaceAll('.', '\\.')}\\s+inside-host$`, 'm'));
    const { stdout: uts } = await run('nsenter', ['-t', String(info.pid), '-u', 'hostname']);
    assert.equal(uts.trim(), 'inside-host');
    const { stdout: port } = await inNetns(info.netNamespacePath, ['cat', '/proc/sys/net/ipv4/ip_unprivileged_port_start']);
    assert.equal(port.trim(), '0');
    const { stdout: shm } = await run('nsenter', ['-t', String(info.pid), '-i', 'cat', '/proc/sys/kernel/shmmni']);
    assert.equal(shm.trim(), '2048');
    assert.notEqual(fs.readlinkSync(`/proc/${info.pid}/ns/net`), fs.readlinkSync('/proc/self/ns/net'));
    assert.notEqual(fs.readlinkSync(`/proc/${info.pid}/ns/ipc`), fs.readlinkSync('/proc/self/ns/ipc'));
  });

  it('uses the node network, IPC and PID as asked (hostNetwork pods)', async () => {
    const id = await h.runPod('hostnet', {
      linux: { security_context: { namespace_options: { network: 2, pid: 2, ipc: 2 } } },
    });
    const { info, status } = await h.inspect(id);
    assert.equal(status?.state, 0);
    assert.equal(status?.network?.ip, '');
    assert.equal(info.netNamespacePath, '');
    for (const ns of ['net', 'ipc', 'pid', 'uts']) {
      assert.equal(fs.readlinkSync(`/proc/${info.pid}/ns/${ns}`), fs.readlinkSync(`/proc/self/ns/${ns}`), ns);
    }
    assert.equal(status?.linux?.namespaces?.options?.network, 2);
  });

  it('reports a sandbox whose pause was killed NOTREADY at once, and still cleans it all up', async () => {
    const id = await h.runPod('victim');
    const { info } = await h.inspect(id);
    process.kill(info.pid, 'SIGKILL');
    const deadline = Date.now() + 1000;
    let state = 0;
    while (Date.now() < deadline && state === 0) {
      state = (await h.inspect(id)).status?.state ?? 0;
      if (state === 0) await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(state, 1, 'NOTREADY within a second');
    const listed = await call(h.runtime, 'ListPodSandbox', { filter: { state: { state: 1 } } });
    assert.deepEqual(
      listed.items.map((p) => p.id),
      [id],
    );
    await call(h.runtime, 'StopPodSandbox', { pod_sandbox_id: id });
    await call(h.runtime, 'StopPodSandbox', { pod_sandbox_id: id });
    // The IP is free again: the next pod gets an address and nothing is leaked (afterEach).
  });

  it('refuses a second sandbox with the same name, namespace, uid and attempt', async () => {
    const id = await h.runPod('dup');
    await rejectsWith(h.runPod('dup'), grpc.status.ALREADY_EXISTS, new RegExp(id));
    // another attempt of the same pod is a different sandbox
    await h.runPod('dup', { metadata: { name: 'dup', namespace: 'default', uid: 'uid-dup', attempt: 1 } });
  });

  it('starts 20 sandboxes concurrently with 20 distinct IPs', async () => {
    const ids = await Promise.all(Array.from({ length: 20 }, (_, i) => h.runPod(`many-${i}`)));
    const ips = await Promise.all(ids.map(async (id) => (await h.inspect(id)).status?.network?.ip));
    assert.equal(new Set(ips).size, 20);
    const list = await call(h.runtime, 'ListPodSandbox', { filter: { state: { state: 0 } } });
    assert.equal(list.items.length, 20);
    await Promise.all(ids.map((id) => call(h.runtime, 'StopPodSandbox', { pod_sandbox_id: id })));
  });

  it('lists with filters by id prefix, state and labels', async () => {
    const a = await h.runPod('la', { labels: { app: 'web', tier: 'front' } });
    const b = await h.runPod('lb', { labels: { app: 'web', tier: 'back' } });
    await call(h.runtime, 'StopPodSandbox', { pod_sandbox_id: b });
    const ids = async (filter: object) => (await call(h.runtime, 'ListPodSandbox', { filter })).items.map((p) => p.id).sort();
    assert.deepEqual(await ids({ label_selector: { app: 'web' } }), [a, b].sort());
    assert.deepEqual(await ids({ label_selector: { app: 'web', tier: 'back' } }), [b]);
    assert.deepEqual(await ids({ state: { state: 0 } }), [a]);
    assert.deepEqual(await ids({ id: a.slice(0, 12) }), [a]);
    const all = await call(h.runtime, 'ListPodSandbox', {});
    const pa = all.items.find((p) => p.id === a);
    assert.equal(pa?.metadata?.name, 'la');
    assert.deepEqual(pa?.labels, { app: 'web', tier: 'front' });
    assert.ok(BigInt(pa?.created_at ?? '0') > BigInt(Date.now() - 60_000) * 1_000_000n);
  });

  it('answers PodSandboxStatus with the fields kubelet reads, and verbose info crictl inspectp shows', async () => {
    const id = await h.runPod('status', { annotations: { 'example.com/x': 'y' } });
    const res = await call(h.runtime, 'PodSandboxStatus', { pod_sandbox_id: id, verbose: true });
    assert.equal(res.status?.id, id);
    assert.equal(res.status?.metadata?.name, 'status');
    assert.deepEqual(res.status?.annotations, { 'example.com/x': 'y' });
    const info = JSON.parse(res.info['info'] ?? '{}') as Record<string, unknown>;
    assert.ok(typeof info['pid'] === 'number' && info['pid'] > 1);
    assert.match(String(info['netNamespacePath']), new RegExp(`${h.state}/netns/${id}$`));
    assert.ok(fs.existsSync(String(info['bundle']) + '/config.json'));
    assert.equal(info['runtimeType'], 'runc');
    const plain = await call(h.runtime, 'PodSandboxStatus', { pod_sandbox_id: id });
    assert.deepEqual(plain.info, {});
  });

  it('validates requests and names the field at fault', async () => {
    const bad = (config: object) => call(h.runtime, 'RunPodSandbox', { config });
    await rejectsWith(call(h.runtime, 'RunPodSandbox', {}), grpc.status.INVALID_ARGUMENT, /config/);
    await rejectsWith(bad({ hostname: 'x' }), grpc.status.INVALID_ARGUMENT, /config\.metadata/);
    await rejectsWith(bad(h.podConfig('')), grpc.status.INVALID_ARGUMENT, /config\.metadata\.name/);
    await rejectsWith(bad({ ...h.podConfig('ok'), hostname: 'bad host' }), grpc.status.INVALID_ARGUMENT, /config\.hostname/);
    await rejectsWith(bad({ ...h.podConfig('ok'), hostname: 'h'.repeat(65) }), grpc.status.INVALID_ARGUMENT, /config\.hostname/);
    await rejectsWith(bad(h.podConfig('ok;IgnoreUnknown=0')), grpc.status.INVALID_ARGUMENT, /config\.metadata\.name.*CNI_ARGS/);
    await rejectsWith(bad({ ...h.podConfig('ok'), log_directory: 'relative/logs' }), grpc.status.INVALID_ARGUMENT, /config\.log_directory/);
    await rejectsWith(bad({ ...h.podConfig('ok'), log_directory: '/var/log/../../etc' }), grpc.status.INVALID_ARGUMENT, /config\.log_directory/);
    await rejectsWith(bad({ ...h.podConfig('ok'), linux: { sysctls: { 'kernel.panic': '1' } } }), grpc.status.INVALID_ARGUMENT, /sysctls\[kernel\.panic\]/);
    await rejectsWith(
      bad({ ...h.podConfig('ok'), linux: { sysctls: { 'net.core.somaxconn': '1' }, security_context: { namespace_options: { network: 2 } } } }),
      grpc.status.INVALID_ARGUMENT,
      /sysctls\[net\.core\.somaxconn\]/,
    );
    await rejectsWith(bad({ ...h.podConfig('ok'), dns_config: { servers: ['not-an-ip'] } }), grpc.status.INVALID_ARGUMENT, /dns_config\.servers/);
    await rejectsWith(
      call(h.runtime, 'RunPodSandbox', { config: h.podConfig('ok'), runtime_handler: 'kata' }),
      grpc.status.INVALID_ARGUMENT,
      /runtime_handler/,
    );
    await rejectsWith(call(h.runtime, 'PodSandboxStatus', { pod_sandbox_id: '../etc' }), grpc.status.INVALID_ARGUMENT, /pod_sandbox_id/);
    await rejectsWith(call(h.runtime, 'PodSandboxStatus', { pod_sandbox_id: '' }), grpc.status.INVALID_ARGUMENT, /pod_sandbox_id/);
    await rejectsWith(call(h.runtime, 'PodSandboxStatus', { pod_sandbox_id: 'f'.repeat(64) }), grpc.status.NOT_FOUND);
    // Stop and Remove of an unknown id are success (the CRI's idempotence; critest v1.32 checks Stop).
    await call(h.runtime, 'StopPodSandbox', { pod_sandbox_id: 'f'.repeat(64) });
    await rejectsWith(call(h.runtime, 'StopPodSandbox', { pod_sandbox_id: '../etc' }), grpc.status.INVALID_ARGUMENT, /pod_sandbox_id/);
    await call(h.runtime, 'RemovePodSandbox', { pod_sandbox_id: 'f'.repeat(64) });
    assert.equal((await call(h.runtime, 'ListPodSandbox', {})).items.length, 0, 'nothing half-created');
  });

  it('rolls back everything when the runtime refuses the pod, and frees the name', async () => {
    // runc cannot write a sysctl that does not exist: the failure comes after netns, CNI and shm were made.
    await assert.rejects(h.runPod('doomed', { linux: { sysctls: { 'net.ipv4.no_such_sysctl': '1' } } }), /no_such_sysctl|sysctl/);
    assert.equal((await call(h.runtime, 'ListPodSandbox', {})).items.length, 0);
    await h.assertNoLeaks();
    await h.runPod('doomed');
  });

  it('keeps Stop and Remove idempotent', async () => {
    const id = await h.runPod('idem');
    await call(h.runtime, 'StopPodSandbox', { pod_sandbox_id: id });
    await call(h.runtime, 'StopPodSandbox', { pod_sandbox_id: id });
    assert.equal((await h.inspect(id)).status?.state, 1);
    await call(h.runtime, 'RemovePodSandbox', { pod_sandbox_id: id });
    await call(h.runtime, 'RemovePodSandbox', { pod_sandbox_id: id });
    await rejectsWith(call(h.runtime, 'PodSandboxStatus', { pod_sandbox_id: id }), grpc.status.NOT_FOUND);
  });

  it('reports runtime and network readiness, runtime handlers and the cgroup driver', async () => {
    const st = await call(h.runtime, 'Status', { verbose: true });
    const cond = Object.fromEntries((st.status?.conditions ?? []).map((c) => [c.type, c]));
    assert.equal(cond['RuntimeReady']?.status, true);
    assert.equal(cond['NetworkReady']?.status, true);
    assert.ok(st.runtime_handlers.some((r) => r.name === 'runc'));
    assert.ok(JSON.parse(st.info['config'] ?? '{}').socket === h.socket);
    assert.equal(fs.statSync(h.socket).mode & 0o777, 0o660, 'socket mode 0660');
    const rc = await call(h.runtime, 'RuntimeConfig', {});
    assert.equal(rc.linux?.cgroup_driver, 1);
    const v = await call(h.runtime, 'Version', { version: 'v1' });
    assert.equal(v.runtime_name, 'crib');
    assert.equal(v.runtime_api_version, 'v1');
  });

  it('answers UNIMPLEMENTED for calls not built yet', async () => {
    await rejectsWith(call(h.runtime, 'CheckpointContainer', { container_id: 'x' }), grpc.status.UNIMPLEMENTED);
  });

  it('has the pause image in its store, pinned, without any pull', async () => {
    const list = await call(h.client.image, 'ListImages', {});
    const pause = list.images.find((i) => i.repo_tags.some((t) => t.startsWith('localhost/crib/pause:')));
    assert.ok(pause, 'pause image listed');
    assert.equal(pause.pinned, true);
    const st = await call(h.client.image, 'ImageStatus', { image: { image: pause.repo_tags[0] } });
    assert.equal(st.image?.id, pause.id);
  });
});

describe('a cribd whose CNI plugins are missing', () => {
  const h = new Harness({ flags: ['--cni-bin-dir', '/nonexistent-cni'] });
  before(() => h.start());
  after(() => h.cleanup());

  it('says NetworkReady false with a reason, refuses pod-network sandboxes, still runs host-network ones', async () => {
    const st = await call(h.runtime, 'Status', {});
    const net = st.status?.conditions.find((c) => c.type === 'NetworkReady');
    assert.equal(net?.status, false);
    assert.equal(net?.reason, 'NetworkPluginNotReady');
    assert.match(net?.message ?? '', /bridge/);
    await rejectsWith(h.runPod('nonet'), grpc.status.FAILED_PRECONDITION, /network/);
    const id = await h.runPod('hostnet', { linux: { security_context: { namespace_options: { network: 2 } } } });
    assert.equal((await h.inspect(id)).status?.state, 0);
    await call(h.runtime, 'RemovePodSandbox', { pod_sandbox_id: id });
    await h.assertNoLeaks();
  });
});

describe('a cribd told to use a pause image it does not have', () => {
  const h = new Harness({ flags: ['--pause-image', 'localhost/crib/pause:absent'] });
  before(() => h.start());
  after(() => h.cleanup());

  it('fails RunPodSandbox with FAILED_PRECONDITION naming the image, leaving nothing', async () => {
    await rejectsWith(h.runPod('nopause'), grpc.status.FAILED_PRECONDITION, /localhost\/crib\/pause:absent/);
    assert.equal((await call(h.runtime, 'ListPodSandbox', {})).items.length, 0);
    await h.assertNoLeaks();
  });
});
