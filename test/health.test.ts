// What a node operator relies on: Status telling the truth about the network as the CNI config
// comes and goes, kubelet's pod CIDR for the built-in network, systemd's notify protocol (READY,
// WATCHDOG, STOPPING, sent as cribd), and log lines that say which call and which pod or container.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import * as grpc from '@grpc/grpc-js';
import { call } from '../src/client/client.js';
import { Harness } from './support/harness.js';
import { rejectsWith } from './support/grpc-assert.js';
import { waitFor } from './support/wait-for.js';

async function networkCondition(h: Harness) {
  const res = await call(h.runtime, 'Status', {});
  const c = res.status?.conditions.find((x) => x.type === 'NetworkReady');
  assert.ok(c, 'a NetworkReady condition');
  return c;
}

async function podIp(h: Harness, id: string): Promise<string> {
  return (await call(h.runtime, 'PodSandboxStatus', { pod_sandbox_id: id })).status?.network?.ip ?? '';
}

describe('NetworkReady follows the CNI config directory, without a restart', () => {
  const h = new Harness({ flags: ['--builtin-network', 'false'] });
  const conf = path.join(h.cniConfDir, '10-test.conflist');
  const network = (pluginType: string) =>
    JSON.stringify({
      cniVersion: '1.0.0',
      name: `crib-${h.id}`,
      plugins: [
        {
          type: pluginType,
          bridge: h.bridge,
          isGateway: true,
          ipam: { type: 'host-local', ranges: [[{ subnet: h.subnet }]], routes: [{ dst: '0.0.0.0/0' }], dataDir: path.join(h.root, 'cni', 'networks') },
        },
      ],
    });
  before(() => h.start());
  after(() => h.cleanup());

  it('is false with a reason while the directory is empty, and pods are refused', async () => {
    const c = await networkCondition(h);
    assert.equal(c.status, false);
    assert.equal(c.reason, 'NetworkPluginNotReady');
    assert.match(c.message, new RegExp(`no network config found in ${h.cniConfDir}`));
    await rejectsWith(h.runPod('early'), grpc.status.FAILED_PRECONDITION, /network is not ready/);
    assert.deepEqual((await call(h.runtime, 'ListPodSandbox', {})).items, [], 'nothing half-created');
  });

  it('is false, naming the plugin, when a config names a plugin that is not installed', async () => {
    fs.writeFileSync(conf, network('no-such-plugin'));
    const c = await networkCondition(h);
    assert.equal(c.status, false);
    assert.match(c.message, /no-such-plugin not found/);
  });

  it('turns true when a usable config appears, and false again when it goes', async () => {
    fs.writeFileSync(conf, network('bridge'));
    assert.equal((await networkCondition(h)).status, true);
    const id = await h.runPod('late');
    assert.ok((await podIp(h, id)).startsWith(h.subnetPrefix + '.'));
    await call(h.runtime, 'RemovePodSandbox', { pod_sandbox_id: id });
    fs.rmSync(conf);
    const c = await networkCondition(h);
    assert.equal(c.status, false);
    assert.equal(c.reason, 'NetworkPluginNotReady');
    await h.assertNoLeaks();
  });
});

describe("UpdateRuntimeConfig: kubelet's pod CIDR for the built-in network", () => {
  const h = new Harness();
  // Inside the harness's own subnet, so no other test's network is touched.
  const podCidr = `${h.subnetPrefix}.128/25`;
  before(() => h.start());
  after(() => h.cleanup());

  it('refuses a CIDR that is not one, naming the field', async () => {
    for (const bad of ['10.0.0.0', '10.0.0.0/33', 'fe80::/64,fe81::/64', 'x/8']) {
      await rejectsWith(
        call(h.runtime, 'UpdateRuntimeConfig', { runtime_config: { network_config: { pod_cidr: bad } } }),
        grpc.status.INVALID_ARGUMENT,
        /runtime_config\.network_config\.pod_cidr/,
      );
    }
  });

  it('gives new pods addresses from it, also after cribd restarts', async () => {
    await call(h.runtime, 'UpdateRuntimeConfig', { runtime_config: { network_config: { pod_cidr: podCidr } } });
    const inCidr = (ip: string) => ip.startsWith(h.subnetPrefix + '.') && Number(ip.split('.')[3]) > 128;
    const first = await h.runPod('cidr-a');
    assert.ok(inCidr(await podIp(h, first)), `${await podIp(h, first)} in ${podCidr}`);
    await h.stopDaemon();
    await h.start();
    const second = await h.runPod('cidr-b');
    assert.ok(inCidr(await podIp(h, second)), `${await podIp(h, second)} in ${podCidr} after a restart`);
    for (const id of [first, second]) await call(h.runtime, 'RemovePodSandbox', { pod_sandbox_id: id });
    await h.assertNoLeaks();
  });
});

/** systemd's end of sd_notify: a datagram socket that reports each message with its sender's pid. */
const NOTIFY_LISTENER = `
import json, socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind(sys.argv[1])
print(json.dumps({"listening": True}), flush=True)
while True:
    msg, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(12))
    pid = next((struct.unpack("iII", d)[0] for l, t, d in anc if t == socket.SCM_CREDENTIALS), 0)
    print(json.dumps({"pid": pid, "lines": msg.decode().split("\\n")}), flush=True)
`;

describe('systemd Type=notify and JSON logs', () => {
  const notifyDir = fs.mkdtempSync(path.join(os.tmpdir(), 'crib-notify-'));
  const notifySocket = path.join(notifyDir, 'notify.sock');
  const messages: { pid: number; lines: string[] }[] = [];
  let listener: ReturnType<typeof spawn> | undefined;
  // The watchdog every 0.4 s (cribd pings at half that), so a few pings come quickly.
  const h = new Harness({ flags: ['--log-format', 'json'], env: { NOTIFY_SOCKET: notifySocket, WATCHDOG_USEC: '400000' } });
  const sent = (line: string) => messages.filter((m) => m.lines.includes(line));

  before(async () => {
    listener = spawn('python3', ['-c', NOTIFY_LISTENER, notifySocket], { stdio: ['ignore', 'pipe', 'inherit'] });
    const lines = createInterface({ input: listener.stdout! });
    const listening = new Promise<void>((resolve) => lines.once('line', () => resolve()));
    lines.on('line', (l) => {
      const m = JSON.parse(l) as { pid?: number; lines?: string[] };
      if (m.lines) messages.push({ pid: m.pid ?? 0, lines: m.lines });
    });
    await listening;
    await h.start();
  });
  after(async () => {
    await h.cleanup();
    listener?.kill();
    fs.rmSync(notifyDir, { recursive: true, force: true });
  });

  it('says READY=1 as cribd, once the socket serves, then pings the watchdog', async () => {
    await waitFor(() => sent('READY=1').length === 1, 'READY=1');
    assert.equal(sent('READY=1')[0]?.pid, h.daemon?.pid, "sent with cribd's pid (NotifyAccess=main)");
    await waitFor(() => sent('WATCHDOG=1').length >= 3, 'three watchdog pings', 10_000);
    assert.ok(sent('WATCHDOG=1').every((m) => m.pid === h.daemon?.pid));
  });

  it('keeps the notify socket from runc and the pods: a pod starts as usual', async () => {
    const id = await h.runPod('notify');
    const pid = (await h.inspect(id)).info.pid;
    assert.doesNotMatch(fs.readFileSync(`/proc/${pid}/environ`, 'utf8'), /NOTIFY_SOCKET/);
    await call(h.runtime, 'RemovePodSandbox', { pod_sandbox_id: id });
  });

  it('writes JSON lines carrying the method, request id and the ids a call touches', async () => {
    const missing = 'f'.repeat(64);
    await rejectsWith(call(h.runtime, 'ContainerStatus', { container_id: missing }), grpc.status.NOT_FOUND);
    const id = await h.runPod('logged');
    await call(h.runtime, 'RemovePodSandbox', { pod_sandbox_id: id });
    const lines = fs
      .readFileSync(h.logFile, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const failed = lines.find((l) => l['msg'] === 'ContainerStatus failed');
    assert.equal(failed?.['container'], missing);
    assert.equal(failed?.['code'], grpc.status.NOT_FOUND);
    assert.match(String(failed?.['req']), /^[0-9a-f]{8}$/);
    const run = lines.filter((l) => l['method'] === 'RunPodSandbox');
    assert.ok(run.length > 0 && run.every((l) => typeof l['req'] === 'string' && typeof l['time'] === 'string' && typeof l['level'] === 'string'));
    assert.ok(
      run.some((l) => l['pod'] === id),
      'RunPodSandbox lines carry the id it made',
    );
  });

  it('says STOPPING=1 when told to stop', async () => {
    await h.stopDaemon();
    await waitFor(() => sent('STOPPING=1').length === 1, 'STOPPING=1');
  });
});
