// Metrics against a real pod and a real scraper: a container that holds a known amount of memory
// and one that sends a known number of bytes over the pod network must show up in
// ListPodSandboxMetrics as they do in ContainerStats and PodSandboxStats; the Prometheus endpoint,
// read by the Python client's parser, must count the CRI calls, pulls and states the test made.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import zlib from 'node:zlib';
import { createHash } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { call } from '../src/client/client.js';
import { run } from '../src/util/exec.js';
import type { ContainerConfig } from '../src/cri/generated/runtime/v1/ContainerConfig.js';
import type { Metric__Output } from '../src/cri/generated/runtime/v1/Metric.js';
import { TEST_IMAGE, cribdWithBusybox } from './support/busybox-image.js';
import { fakeImage, startFakeRegistry, type FakeRegistry } from './support/fake-registry.js';
import { rejectsWith } from './support/grpc-assert.js';
import { makeTar } from './support/tar.js';
import { waitFor } from './support/wait-for.js';

const MiB = 1024 * 1024;
/** Held in the pod's /dev/shm (a 64 MiB tmpfs): charged to the writer's memory cgroup, never reclaimable. */
const HELD_MIB = 32;
const SENT_BYTES = 4 * MiB;
/** Debian's python3-prometheus-client (scripts/setup.sh); /usr/bin's python, not whatever PATH finds. */
const PYTHON = '/usr/bin/python3';

/** Scrapes URL with Python's urllib and parses it with prometheus_client's text parser. */
const SCRAPE = `
import json, sys, urllib.request
from prometheus_client.parser import text_string_to_metric_families
with urllib.request.urlopen(sys.argv[1], timeout=10) as r:
    ctype = r.headers.get('Content-Type')
    text = r.read().decode()
fams = [{'name': f.name, 'type': f.type, 'help': f.documentation,
         'samples': [{'name': s.name, 'labels': s.labels, 'value': s.value} for s in f.samples]} for f in text_string_to_metric_families(text)]
print(json.dumps({'contentType': ctype, 'families': fams}))
`;

interface Family {
  name: string;
  type: string;
  help: string;
  samples: { name: string; labels: Record<string, string>; value: number }[];
}

async function scrape(
  url: string,
): Promise<{ contentType: string; families: Family[]; value: (name: string, labels?: Record<string, string>) => number | undefined }> {
  const { stdout } = await run(PYTHON, ['-c', SCRAPE, url], { timeoutMs: 20_000 });
  const parsed = JSON.parse(stdout) as { contentType: string; families: Family[] };
  const value = (name: string, labels: Record<string, string> = {}) =>
    parsed.families.flatMap((f) => f.samples).find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
  return { ...parsed, value };
}

describe('metrics', () => {
  const h = cribdWithBusybox({ shared: true, flags: ['--metrics-address', '127.0.0.1:0'] });
  let registry: FakeRegistry | undefined;
  before(async () => (registry = await startFakeRegistry()));
  after(() => registry?.close());

  const ctr = (name: string, script: string): ContainerConfig => ({
    metadata: { name, attempt: 0 },
    image: { image: TEST_IMAGE },
    command: ['sh', '-c', script],
    log_path: `${name}.log`,
  });

  it('ListPodSandboxMetrics shows the memory a container holds and the bytes the pod sent, as the stats calls do', async () => {
    const t0 = Date.now();
    const podId = await h.runPod('metered');
    const config = h.podConfig('metered');
    const { info } = await h.inspect(podId);
    const gateway = (info as unknown as { cniResult: { ips: { gateway: string }[] } }).cniResult.ips[0]?.gateway;
    assert.ok(gateway, 'the pod network has a gateway (the bridge)');

    // The bytes go to the test on the bridge's own address: they leave through the pod's eth0.
    let received = 0;
    const sink = net.createServer((sock) => {
      sock.on('data', (d: Buffer) => {
        received += d.length;
        if (received >= SENT_BYTES) sock.end();
      });
      sock.on('error', () => undefined);
    });
    await new Promise<void>((r) => sink.listen(0, gateway, r));
    const port = (sink.address() as net.AddressInfo).port;
    try {
      const start = async (c: ContainerConfig) => {
        const { container_id } = await call(h.runtime, 'CreateContainer', { pod_sandbox_id: podId, config: c, sandbox_config: config });
        await call(h.runtime, 'StartContainer', { container_id });
        return container_id;
      };
      const holder = await start(ctr('holder', `dd if=/dev/zero of=/dev/shm/held bs=1M count=${HELD_MIB} 2>/dev/null && echo held && exec sleep 1000`));
      const sender = await start(ctr('sender', `head -c ${SENT_BYTES} /dev/zero | nc ${gateway} ${port}; echo sent; exec sleep 1000`));
      const logged = (name: string, word: string) => () =>
        fs.existsSync(`${config.log_directory}/${name}.log`) && fs.readFileSync(`${config.log_directory}/${name}.log`, 'utf8').includes(word);
      await waitFor(logged('holder', 'held'), 'the holder to fill /dev/shm', 20_000);
      await waitFor(logged('sender', 'sent'), () => `the sender to send (${received} bytes arrived)`, 20_000);
      assert.equal(received, SENT_BYTES);

      const [metrics, descriptors, podStats, holderStats] = await Promise.all([
        call(h.runtime, 'ListPodSandboxMetrics', {}),
        call(h.runtime, 'ListMetricDescriptors', {}),
        call(h.runtime, 'PodSandboxStats', { pod_sandbox_id: podId }),
        call(h.runtime, 'ContainerStats', { container_id: holder }),
      ]);
      const pod = metrics.pod_metrics.find((p) => p.pod_sandbox_id === podId);
      assert.ok(pod, 'the pod has metrics');
      const labelsOf = new Map(descriptors.descriptors.map((d) => [d.name, d.label_keys]));
      const all = [...pod.metrics, ...pod.container_metrics.flatMap((c) => c.metrics)];
      for (const m of all) assert.equal(m.label_values.length, labelsOf.get(m.name)?.length, `${m.name} is described, with its labels`);
      const ofCtr = (id: string) => pod.container_metrics.find((c) => c.container_id === id)?.metrics ?? [];
      const get = (ms: Metric__Output[], name: string, last?: string) => {
        const m = ms.find((x) => x.name === name && (last === undefined || x.label_values.at(-1) === last));
        assert.ok(m, `${name} is there`);
        return Number(m.value?.value);
      };

      // Memory: the held bytes, in the holder's cgroup, as ContainerStats reads the same cgroup.
      const hm = ofCtr(holder);
      const held = HELD_MIB * MiB;
      for (const name of ['container_memory_usage_bytes', 'container_memory_working_set_bytes', 'container_memory_cache']) {
        const v = get(hm, name);
        assert.ok(v >= held && v < held + 16 * MiB, `${name} ${v} is the ${held} held (and a little)`);
      }
      const ws = Number(holderStats.stats?.memory?.working_set_bytes?.value);
      assert.ok(Math.abs(get(hm, 'container_memory_working_set_bytes') - ws) < MiB, `working set agrees with ContainerStats (${ws})`);
      assert.ok(Math.abs(get(hm, 'container_memory_rss') - Number(holderStats.stats?.memory?.rss_bytes?.value)) < MiB, 'rss agrees');
      const cpuSeconds = Number(holderStats.stats?.cpu?.usage_core_nano_seconds?.value) / 1e9;
      assert.ok(Math.abs(get(hm, 'container_cpu_usage_seconds_total') - Math.floor(cpuSeconds)) <= 1, 'CPU agrees, in whole seconds');
      assert.equal(get(hm, 'container_oom_events_total'), 0);
      assert.equal(get(hm, 'container_fs_usage_bytes'), Number(holderStats.stats?.writable_layer?.used_bytes?.value));
      const started = get(hm, 'container_start_time_seconds');
      assert.ok(started >= Math.floor(t0 / 1000) && started <= Date.now() / 1000, `started at ${started}`);
      assert.ok(Math.abs(get(hm, 'container_last_seen') - Date.now() / 1000) < 30);
      assert.deepEqual(hm.find((m) => m.name === 'container_memory_rss')?.label_values, ['metered', 'default', 'holder', holder, TEST_IMAGE]);
      assert.ok(ofCtr(sender).length > 0, 'every running container has metrics');

      // Network: at pod level, from the pod's netns; what left eth0 is at least what arrived.
      const tx = get(pod.metrics, 'container_network_transmit_bytes_total', 'eth0');
      assert.ok(tx >= SENT_BYTES && tx < SENT_BYTES * 1.1 + 64 * 1024, `tx ${tx} for ${SENT_BYTES} sent`);
      assert.ok(get(pod.metrics, 'container_network_receive_bytes_total', 'eth0') > 0, 'the ACKs came back');
      assert.ok(get(pod.metrics, 'container_network_transmit_packets_total', 'eth0') >= SENT_BYTES / 65536);
      assert.equal(get(pod.metrics, 'container_network_transmit_errors_total', 'eth0'), 0);
      assert.deepEqual(pod.metrics[0]?.label_values.slice(0, 5), ['metered', 'default', 'POD', podId, '']);
      const net0 = podStats.stats?.linux?.network?.default_interface;
      assert.equal(net0?.name, 'eth0');
      assert.ok(Math.abs(tx - Number(net0?.tx_bytes?.value)) < 4096, `PodSandboxStats says ${net0?.tx_bytes?.value} sent, the metric ${tx}`);
      const inStats = podStats.stats?.linux?.containers?.find((c) => c.attributes?.id === holder);
      assert.ok(Math.abs(Number(inStats?.memory?.working_set_bytes?.value) - ws) < MiB, "PodSandboxStats' container agrees");
    } finally {
      await new Promise((r) => sink.close(r));
    }
  });

  it('/metrics counts CRI calls by code, pulls and their bytes, and sandboxes by state, in a format Prometheus parses', async () => {
    const line = /metrics endpoint listening url="(http:\/\/[^"]+)"/.exec(fs.readFileSync(h.logFile, 'utf8'));
    assert.ok(line?.[1], 'cribd says where /metrics is');
    const url = line[1];

    const layer = zlib.gzipSync(makeTar([{ path: 'hello.txt', data: 'hello\n' }]));
    const diffId = `sha256:${createHash('sha256').update(zlib.gunzipSync(layer)).digest('hex')}`;
    const image = fakeImage([{ blob: layer, diffId }]);
    registry?.serveImage('tiny/hello', '1', image);
    const blobBytes = [...image.blobs.values()].reduce((n, b) => n + b.length, 0);

    const before = await scrape(url);
    const versions = () => before.value('crib_cri_requests_total', { method: 'Version', code: 'OK' }) ?? 0;
    for (let i = 0; i < 5; i++) await call(h.runtime, 'Version', {});
    await rejectsWith(call(h.runtime, 'ContainerStatus', { container_id: 'f'.repeat(64) }), grpc.status.NOT_FOUND);
    await call(h.client.image, 'PullImage', { image: { image: `${registry?.host}/tiny/hello:1` } });
    await rejectsWith(call(h.client.image, 'PullImage', { image: { image: `${registry?.host}/tiny/absent:1` } }), grpc.status.NOT_FOUND);
    await h.runPod('counted');

    const after = await scrape(url);
    assert.match(after.contentType, /^text\/plain; version=0\.0\.4/);
    assert.equal(after.value('crib_cri_requests_total', { method: 'Version', type: 'unary', code: 'OK' }), versions() + 5);
    assert.equal(after.value('crib_cri_requests_total', { method: 'ContainerStatus', code: 'NOT_FOUND' }), 1);
    assert.equal(after.value('crib_cri_request_duration_seconds_count', { method: 'Version' }), versions() + 5);
    assert.equal(after.value('crib_cri_requests_in_flight', { method: 'Version' }), 0);
    assert.equal(after.value('crib_image_pulls_total', { result: 'success' }), 1);
    assert.equal(after.value('crib_image_pull_duration_seconds_count', { result: 'success' }), 1);
    assert.equal(after.value('crib_image_pulls_total', { result: 'failure' }), 1, 'the pull of an absent tag failed');
    assert.equal(after.value('crib_image_pull_duration_seconds_count', { result: 'failure' }), 1);
    // Every byte the registry sent once: the manifest as served, the config and the layer.
    const manifestBytes = Buffer.byteLength(JSON.stringify(image.manifest));
    const pulledBytes = (after.value('crib_image_pull_bytes_total') ?? 0) - (before.value('crib_image_pull_bytes_total') ?? 0);
    assert.equal(pulledBytes, manifestBytes + blobBytes, `the ${manifestBytes} bytes of the manifest and ${blobBytes} of blobs`);
    const ready = (await call(h.runtime, 'ListPodSandbox', { filter: { state: { state: 0 } } })).items.length;
    assert.equal(after.value('crib_pod_sandboxes', { state: 'READY' }), ready);
    assert.equal(after.value('crib_pod_sandboxes', { state: 'READY' }), (before.value('crib_pod_sandboxes', { state: 'READY' }) ?? 0) + 1);
    assert.equal(after.value('crib_pod_sandboxes', { state: 'NOTREADY' }), 0);
    const running = (await call(h.runtime, 'ListContainers', { filter: { state: { state: 1 } } })).containers.length;
    assert.equal(after.value('crib_containers', { state: 'RUNNING' }), running);
    assert.ok((after.value('process_resident_memory_bytes') ?? 0) > 0, "cribd's process metrics");
    for (const f of after.families.filter((x) => x.name.startsWith('crib_'))) assert.match(f.help, /\w/, `${f.name} has HELP`);

    // Nothing but GET /metrics.
    const port = new URL(url).port;
    const status = async (method: string, path: string) => (await fetch(`http://127.0.0.1:${port}${path}`, { method })).status;
    assert.equal(await status('GET', '/'), 404);
    assert.equal(await status('POST', '/metrics'), 405);
  });
});
