// Metrics without root or a daemon: cgroup and /proc/net/dev parsing, the CRI metric conversion
// (and that it agrees with PodSandboxStats and crosses the wire), the call and pull counters, and
// the /metrics endpoint's bounds.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type * as grpc from '@grpc/grpc-js';
import type * as protoLoader from '@grpc/proto-loader';
import { applyConfigFile, daemonFlags, defaultConfig, cloneConfig, validateConfig, listenAddress } from '../../src/config.js';
import { usageFromV1, usageFromV2 } from '../../src/container/cgroup-stats.js';
import type { Container } from '../../src/container/types.js';
import { baseLabelKeys, metricDescriptors, metricsTimeAt, toPodSandboxMetrics } from '../../src/cri/metrics-convert.js';
import { toPodSandboxStats } from '../../src/cri/stats-convert.js';
import { criPackageDefinition } from '../../src/cri/proto.js';
import { unary } from '../../src/cri/unary.js';
import type { Metric } from '../../src/cri/generated/runtime/v1/Metric.js';
import type { ListPodSandboxMetricsResponse, ListPodSandboxMetricsResponse__Output } from '../../src/cri/generated/runtime/v1/ListPodSandboxMetricsResponse.js';
import { CribMetrics } from '../../src/metrics/crib-metrics.js';
import { MetricsServer } from '../../src/metrics/server.js';
import { parseNetDev } from '../../src/network/net-dev.js';
import type { PodUsage } from '../../src/pod/usage.js';
import type { Sandbox } from '../../src/sandbox/types.js';
import { observeCalls } from '../../src/util/context.js';
import { holdConnections } from '../support/hostile-client.js';
import { CribError } from '../../src/util/errors.js';

const MiB = 1024 * 1024;

describe('cgroup usage parsing', () => {
  it('v1: cpuacct in ns, hierarchical memory.stat fields, OOM kills from oom_control', () => {
    const u = usageFromV1({
      'cpuacct.usage': '3500000000\n',
      'cpuacct.usage_user': '2000000000\n',
      'cpuacct.usage_sys': '1500000000\n',
      'memory.usage_in_bytes': `${40 * MiB}\n`,
      'memory.stat': `cache 1\nrss 2\ntotal_cache ${33 * MiB}\ntotal_rss ${6 * MiB}\ntotal_inactive_file ${MiB}\ntotal_pgfault 900\ntotal_pgmajfault 3\n`,
      'memory.oom_control': 'oom_kill_disable 0\nunder_oom 0\noom_kill 2\n',
    });
    assert.deepEqual(u, {
      cpuNanos: 3.5e9,
      cpuUserNanos: 2e9,
      cpuSystemNanos: 1.5e9,
      memoryUsage: 40 * MiB,
      workingSet: 39 * MiB,
      rss: 6 * MiB,
      cache: 33 * MiB,
      pageFaults: 900,
      majorPageFaults: 3,
      oomKills: 2,
    });
  });

  it('v2: cpu.stat in µs, memory.current, anon and file, oom_kill from memory.events', () => {
    const u = usageFromV2({
      'cpu.stat': 'usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 0\n',
      'memory.current': '8192\n',
      'memory.stat': 'anon 4096\nfile 4096\ninactive_file 10000\npgfault 7\npgmajfault 0\n',
      'memory.events': 'low 0\nhigh 0\nmax 0\noom 1\noom_kill 1\n',
    });
    assert.equal(u.cpuNanos, 1_500_000);
    assert.equal(u.cpuUserNanos, 1_000_000);
    assert.equal(u.workingSet, 0, 'never below zero');
    assert.equal(u.rss, 4096);
    assert.equal(u.cache, 4096);
    assert.equal(u.oomKills, 1);
  });

  it('leaves out what it could not read or parse', () => {
    const u = usageFromV1({ 'memory.usage_in_bytes': 'garbage', 'memory.stat': undefined });
    assert.equal(u.cpuNanos, undefined);
    assert.equal(u.memoryUsage, undefined);
    assert.equal(u.workingSet, undefined);
    assert.equal(u.oomKills, undefined);
  });
});

describe('/proc/net/dev', () => {
  const text = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:     840      10    0    0    0     0          0         0      840      10    0    0    0     0       0          0
  eth0: 1048576    800    1    2    0     0          0         0  2097152    1600    3    4    0     0       0          0
  bad0: 1 2 3
`;
  it('reads each interface but loopback; skips lines that do not parse', () => {
    assert.deepEqual(parseNetDev(text), [
      { name: 'eth0', rxBytes: MiB, rxPackets: 800, rxErrors: 1, rxDropped: 2, txBytes: 2 * MiB, txPackets: 1600, txErrors: 3, txDropped: 4 },
    ]);
  });
});

const sandbox = {
  id: 'a'.repeat(64),
  config: { metadata: { name: 'web', uid: 'u1', namespace: 'shop', attempt: 0 }, labels: {}, annotations: {} },
} as unknown as Sandbox;
const container = {
  id: 'c'.repeat(64),
  sandboxId: sandbox.id,
  config: { metadata: { name: 'app', attempt: 0 }, labels: {}, annotations: {} },
  image: { ref: 'docker.io/library/busybox:1.36', id: 'sha256:x', repoDigest: '' },
  startedAt: '1700000000123456789',
} as unknown as Container;
const usage: PodUsage = {
  sandbox,
  cgroup: { cpuNanos: 9e9, memoryUsage: 50 * MiB },
  containers: [
    {
      container,
      usage: {
        usage: {
          cpuNanos: 2_999_999_999,
          cpuUserNanos: 2e9,
          cpuSystemNanos: 999_999_999,
          memoryUsage: 40 * MiB,
          workingSet: 39 * MiB,
          rss: 6 * MiB,
          cache: 33 * MiB,
          pageFaults: 900,
          majorPageFaults: 3,
          oomKills: 0,
        },
        writable: { bytes: 12288, inodes: 3 },
        mountpoint: '/var/lib/crib/containers/c/upper',
      },
    },
  ],
  network: parseNetDev('  eth0: 1048576 800 1 2 0 0 0 0 2097152 1600 3 4 0 0 0 0\n'),
};
const time = metricsTimeAt('1700000100000000000');

describe('CRI metrics', () => {
  const m = toPodSandboxMetrics(usage, time);
  const byName = (ms: Metric[], name: string) => ms.filter((x) => x.name === name);
  const value = (ms: Metric[], name: string, extra: string[] = []) => {
    const found = byName(ms, name).filter((x) => (x.label_values ?? []).slice(baseLabelKeys.length).join('/') === extra.join('/'));
    assert.equal(found.length, 1, `${name}{${extra.join(',')}} once`);
    return Number(found[0]?.value?.value);
  };
  const ctr = m.container_metrics?.[0]?.metrics ?? [];

  it('describes every metric it returns, with as many label keys as values', () => {
    const descs = new Map(metricDescriptors().map((d) => [d.name, d]));
    assert.equal(descs.size, metricDescriptors().length, 'names are unique');
    for (const x of [...(m.metrics ?? []), ...ctr]) {
      const d = descs.get(x.name ?? '');
      assert.ok(d, `${x.name} is described`);
      assert.equal(x.label_values?.length, d.label_keys?.length, `${x.name}: labels`);
      assert.match(d.help ?? '', /\S/);
    }
    for (const name of [
      'container_cpu_usage_seconds_total',
      'container_cpu_user_seconds_total',
      'container_cpu_system_seconds_total',
      'container_memory_usage_bytes',
      'container_memory_working_set_bytes',
      'container_memory_rss',
      'container_memory_cache',
      'container_oom_events_total',
      'container_network_receive_bytes_total',
      'container_network_transmit_bytes_total',
      'container_fs_usage_bytes',
      'container_last_seen',
      'container_start_time_seconds',
    ]) {
      assert.ok(descs.has(name), name);
    }
  });

  it("labels containers with the pod, namespace, container, id and image; the pod's network as POD", () => {
    assert.deepEqual(baseLabelKeys, ['pod', 'namespace', 'container', 'id', 'image']);
    assert.deepEqual(byName(ctr, 'container_memory_rss')[0]?.label_values, ['web', 'shop', 'app', container.id, 'docker.io/library/busybox:1.36']);
    assert.deepEqual(byName(m.metrics ?? [], 'container_network_receive_bytes_total')[0]?.label_values, ['web', 'shop', 'POD', sandbox.id, '', 'eth0']);
    assert.equal(m.pod_sandbox_id, sandbox.id);
    assert.equal(m.container_metrics?.[0]?.container_id, container.id);
  });

  it('agrees with PodSandboxStats read from the same usage; seconds are whole, as the CRI carries integers', () => {
    const st = toPodSandboxStats(usage, time.nanos);
    const cs = st.linux?.containers?.[0];
    assert.equal(value(ctr, 'container_memory_working_set_bytes'), Number(cs?.memory?.working_set_bytes?.value));
    assert.equal(value(ctr, 'container_memory_usage_bytes'), Number(cs?.memory?.usage_bytes?.value));
    assert.equal(value(ctr, 'container_memory_rss'), Number(cs?.memory?.rss_bytes?.value));
    assert.equal(value(ctr, 'container_fs_usage_bytes'), Number(cs?.writable_layer?.used_bytes?.value));
    assert.equal(value(ctr, 'container_cpu_usage_seconds_total'), Math.floor(Number(cs?.cpu?.usage_core_nano_seconds?.value) / 1e9));
    assert.equal(value(ctr, 'container_cpu_usage_seconds_total'), 2);
    assert.equal(value(ctr, 'container_cpu_system_seconds_total'), 0);
    assert.equal(value(ctr, 'container_memory_cache'), 33 * MiB);
    assert.equal(value(ctr, 'container_memory_failures_total', ['pgmajfault', 'container']), 3);
    assert.equal(value(ctr, 'container_start_time_seconds'), 1700000000);
    assert.equal(value(ctr, 'container_last_seen'), 1700000100);
    const net = st.linux?.network;
    assert.equal(net?.default_interface?.name, 'eth0');
    assert.equal(value(m.metrics ?? [], 'container_network_transmit_bytes_total', ['eth0']), Number(net?.default_interface?.tx_bytes?.value));
    assert.equal(value(m.metrics ?? [], 'container_network_receive_packets_dropped_total', ['eth0']), 2);
    assert.equal(Number(st.linux?.memory?.usage_bytes?.value), 50 * MiB, 'the pod cgroup, in stats only');
    for (const x of ctr) assert.equal(x.timestamp, time.nanos);
  });

  it('leaves out values it could not read, and has no network for a pod without one', () => {
    const bare = toPodSandboxMetrics({ sandbox, containers: [{ container, usage: { usage: {}, writable: { bytes: 0, inodes: 0 }, mountpoint: '' } }] }, time);
    assert.deepEqual(bare.metrics, []);
    const names = new Set((bare.container_metrics?.[0]?.metrics ?? []).map((x) => x.name));
    assert.deepEqual([...names].sort(), ['container_fs_usage_bytes', 'container_last_seen', 'container_start_time_seconds']);
    assert.equal(toPodSandboxStats({ sandbox, containers: [] }).linux?.network, null);
  });

  it('crosses the wire as the CRI proto says (field numbers, uint64 values, int64 timestamps)', () => {
    const svc = criPackageDefinition()['runtime.v1.RuntimeService'] as protoLoader.ServiceDefinition;
    const method = svc['ListPodSandboxMetrics'] as protoLoader.MethodDefinition<
      object,
      ListPodSandboxMetricsResponse,
      object,
      ListPodSandboxMetricsResponse__Output
    >;
    const bytes = method.responseSerialize({ pod_metrics: [m] });
    const back = method.responseDeserialize(bytes);
    const metric = back.pod_metrics[0]?.container_metrics[0]?.metrics.find((x) => x.name === 'container_memory_working_set_bytes');
    assert.equal(metric?.value?.value, String(39 * MiB));
    assert.equal(metric?.timestamp, time.nanos);
    assert.equal(metric?.metric_type, 1, 'GAUGE');
    assert.equal(back.pod_metrics[0]?.metrics.find((x) => x.name === 'container_network_receive_bytes_total')?.metric_type, 0, 'COUNTER');
  });
});

describe('metrics address', () => {
  it('takes IP:PORT from the flag or the config file; off by default', () => {
    assert.equal(defaultConfig.metricsAddress, '');
    const c = cloneConfig(defaultConfig);
    daemonFlags['metrics-address']?.(c, '127.0.0.1:9090');
    assert.deepEqual(listenAddress('metricsAddress', validateConfig(c).metricsAddress), { host: '127.0.0.1', port: 9090 });
    assert.equal(applyConfigFile(defaultConfig, 'metricsAddress: "[::1]:0"', 'f').metricsAddress, '[::1]:0');
    assert.deepEqual(listenAddress('m', '[::1]:0'), { host: '::1', port: 0 });
    for (const bad of ['9090', ':9090', 'localhost:9090', '::1:9090', '1.2.3.4:70000', '[1.2.3.4]:80', '1.2.3.4:80/x']) {
      assert.throws(() => validateConfig({ ...defaultConfig, metricsAddress: bad }), /metricsAddress/, bad);
    }
  });
});

/** Drives a unary() handler as grpc-js would, with a stand-in call. */
function callUnary<Res>(handler: grpc.handleUnaryCall<object, Res>): Promise<{ err: grpc.ServiceError | null }> {
  return new Promise((resolve) => {
    const call = { request: {}, once: () => undefined, removeListener: () => undefined, getDeadline: () => Infinity } as unknown as grpc.ServerUnaryCall<
      object,
      Res
    >;
    handler(call, (err) => resolve({ err: err as grpc.ServiceError | null }));
  });
}

describe('crib metrics', () => {
  it('counts calls by method and code, times unary ones, and counts pulls and their bytes', async () => {
    const metrics = new CribMetrics('9.9.9');
    observeCalls(metrics.calls);
    try {
      for (let i = 0; i < 3; i++) await callUnary(unary('Version', async () => ({})));
      const { err } = await callUnary(
        unary('ContainerStatus', async () => {
          throw new CribError('NotFound', 'container x not found');
        }),
      );
      assert.equal(err?.code, 5);
    } finally {
      observeCalls(undefined);
    }
    metrics.pulls.pulled(1.5, true);
    metrics.pulls.pulled(0.5, false);
    metrics.pulls.fetched(1000);
    metrics.pulls.fetched(24);
    const { body, contentType } = await metrics.expose();
    assert.match(contentType, /^text\/plain; version=0\.0\.4/);
    const lines = body.split('\n');
    const has = (line: string) => assert.ok(lines.includes(line), `${line} in:\n${body}`);
    has('crib_cri_requests_total{method="Version",type="unary",code="OK"} 3');
    has('crib_cri_requests_total{method="ContainerStatus",type="unary",code="NOT_FOUND"} 1');
    has('crib_cri_request_duration_seconds_count{method="Version"} 3');
    has('crib_cri_requests_in_flight{method="Version",type="unary"} 0');
    has('crib_image_pulls_total{result="success"} 1');
    has('crib_image_pulls_total{result="failure"} 1');
    has('crib_image_pull_duration_seconds_count{result="success"} 1');
    has('crib_image_pull_duration_seconds_count{result="failure"} 1');
    has('crib_image_pull_bytes_total 1024');
    has('crib_build_info{version="9.9.9"} 1');
    assert.ok(lines.some((l) => l.startsWith('process_resident_memory_bytes ')));
    for (const l of lines.filter((x) => x.startsWith('# TYPE crib_'))) {
      const name = l.split(' ')[2];
      assert.ok(
        lines.some((x) => x.startsWith(`# HELP ${name} `)),
        `${name} has HELP`,
      );
    }
  });

  it('counts sandboxes and containers by state when scraped, every state present', async () => {
    const metrics = new CribMetrics('1');
    metrics.countStates({
      sandboxes: { list: async () => [{ state: 'READY' }, { state: 'READY' }, { state: 'NOTREADY' }] as never },
      containers: { list: async () => [{ state: 'RUNNING' }] as never },
    });
    const { body } = await metrics.expose();
    for (const line of [
      'crib_pod_sandboxes{state="READY"} 2',
      'crib_pod_sandboxes{state="NOTREADY"} 1',
      'crib_containers{state="RUNNING"} 1',
      'crib_containers{state="EXITED"} 0',
    ]) {
      assert.ok(body.split('\n').includes(line), line);
    }
  });
});

describe('/metrics endpoint', () => {
  const request = (port: number, method: string, path: string, body?: string) =>
    new Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, method, path, agent: false }, (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, headers: res.headers }));
      });
      req.on('error', reject);
      req.end(body);
    });

  it('serves GET /metrics only; shares one collection among concurrent scrapes', async () => {
    let collections = 0;
    const server = new MetricsServer('127.0.0.1', 0, async () => {
      collections++;
      await new Promise((r) => setTimeout(r, 50));
      return { body: 'up 1\n', contentType: 'text/plain; version=0.0.4; charset=utf-8' };
    });
    const { port } = await server.start();
    try {
      const [a, b] = await Promise.all([request(port, 'GET', '/metrics'), request(port, 'GET', '/metrics?x=1')]);
      assert.equal(a.status, 200);
      assert.equal(a.body, 'up 1\n');
      assert.equal(b.body, 'up 1\n');
      assert.equal(collections, 1);
      assert.equal((await request(port, 'GET', '/')).status, 404);
      assert.equal((await request(port, 'GET', '/metrics/../x')).status, 404);
      const post = await request(port, 'POST', '/metrics', 'x');
      assert.equal(post.status, 405);
      assert.equal(post.headers['allow'], 'GET');
      assert.equal((await request(port, 'HEAD', '/metrics')).status, 405);
      const withBody = await new Promise<number>((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port, method: 'GET', path: '/metrics', agent: false, headers: { 'content-length': '3' } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end('abc');
      });
      assert.equal(withBody, 400);
      const huge = await request(port, 'GET', `/metrics?${'x'.repeat(20_000)}`).catch((e: Error) => ({ status: -1, body: e.message }));
      assert.ok(huge.status === 431 || huge.status === -1, `oversized headers refused (${huge.status})`);
    } finally {
      await server.close();
    }
  });

  it('a scrape is served while anyone who can connect holds more connections than the endpoint keeps', async () => {
    const server = new MetricsServer('127.0.0.1', 0, async () => ({ body: 'up 1\n', contentType: 'text/plain; version=0.0.4; charset=utf-8' }));
    const { port } = await server.start();
    const held = [...(await holdConnections('127.0.0.1', port, 80)), ...(await holdConnections('127.0.0.1', port, 20, true))];
    try {
      for (let i = 0; i < 5; i++) assert.equal((await request(port, 'GET', '/metrics')).status, 200);
    } finally {
      for (const s of held) s.destroy();
      await server.close();
    }
  });
});
