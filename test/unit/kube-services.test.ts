// Services under crib run, pure: a Service read with the API server's rules and what crib cannot do
// as warnings, the names its pods get (ready ones, headless pods' own names, the endpoints cap),
// the in-place writes that change a pod's hosts file with no reader ever seeing a line half
// written, and what Services ask of the workloads (selection, target ports, node ports).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseManifests } from '../../src/kube/manifest/documents.js';
import { Fields, ManifestError } from '../../src/kube/manifest/fields.js';
import type { Workload } from '../../src/kube/manifest/workload.js';
import { PodHostsFile } from '../../src/kube/services/hosts-file.js';
import { HostsSlots, READ_CHUNK, REUSE_AFTER_MS, type HostsWrite } from '../../src/kube/services/hosts-slots.js';
import { podHostsHeader } from '../../src/kube/services/pod-hosts.js';
import { parseService, type Service } from '../../src/kube/services/service.js';
import { endpointsOf, MAX_ENDPOINTS, MAX_LINE, serviceHostLines, type PodEndpoint } from '../../src/kube/services/service-hosts.js';
import { planServices } from '../../src/kube/services/service-plan.js';
import { parse } from 'yaml';

function service(yaml: string): { svc: Service; warnings: string[] } {
  const warnings: string[] = [];
  const svc = parseService(Fields.of(parse(yaml), '', warnings));
  return { svc, warnings };
}

const svcYaml = (spec: string, name = 'web') => `apiVersion: v1\nkind: Service\nmetadata: { name: ${name} }\nspec:\n${spec}`;

describe('a Service as the API server reads it', () => {
  it('reads selector, ports (targetPort defaults to port), headless and publishNotReadyAddresses', () => {
    const { svc, warnings } = service(svcYaml('  selector: { app: web }\n  ports: [{ port: 80 }]\n'));
    assert.deepEqual(warnings, []);
    assert.equal(svc.type, 'ClusterIP');
    assert.equal(svc.headless, false);
    assert.deepEqual(svc.ports, [{ protocol: 'TCP', port: 80, targetPort: 80 }]);
    const h = service(svcYaml('  clusterIP: None\n  publishNotReadyAddresses: true\n  selector: { app: db }\n', 'peers')).svc;
    assert.equal(h.headless, true);
    assert.equal(h.publishNotReadyAddresses, true);
    assert.deepEqual(h.ports, [], 'a headless Service needs no port');
  });

  it('refuses what the API server refuses, naming the field', () => {
    const refused = (yaml: string, field: string, reason: RegExp) =>
      assert.throws(
        () => service(yaml),
        (e: unknown) => e instanceof ManifestError && e.field === field && reason.test(e.reason),
        `${field} ${String(reason)}`,
      );
    refused(svcYaml('  selector: { a: b }\n  ports: [{ port: 80 }]\n', 'x'.repeat(253)), 'metadata.name', /DNS-1035 label.*at most 63/);
    refused(svcYaml('  selector: { a: b }\n  ports: [{ port: 80 }]\n', '1web'), 'metadata.name', /starting with a letter/);
    refused(svcYaml('  selector: { a: b }\n'), 'spec.ports', /required/);
    refused(svcYaml('  ports: [{ port: 80, nodePort: 30080 }]\n'), 'spec.ports[0].nodePort', /may not be used when type is ClusterIP/);
    refused(svcYaml('  type: NodePort\n  ports: [{ port: 80, nodePort: 8080 }]\n'), 'spec.ports[0].nodePort', /not in the node port range 30000-32767/);
    refused(svcYaml('  type: NodePort\n  clusterIP: None\n  ports: [{ port: 80 }]\n'), 'spec.clusterIP', /may not be None when type is NodePort/);
    refused(svcYaml('  ports: [{ port: 80 }, { port: 81 }]\n'), 'spec.ports[0].name', /required when a Service has more than one port/);
    refused(svcYaml('  ports: [{ name: a, port: 80 }, { name: b, port: 80 }]\n'), 'spec.ports[1].port', /80\/TCP is used twice/);
    refused(svcYaml('  ports: [{ port: 70000 }]\n'), 'spec.ports[0].port', /out of range/);
    refused(svcYaml('  ports: [{ port: 80, targetPort: "Not_A_Name" }]\n'), 'spec.ports[0].targetPort', /port number or a port name/);
    refused(svcYaml('  type: Proxy\n  ports: [{ port: 80 }]\n'), 'spec.type', /not one of/);
  });

  it('names what needs a proxy or objects crib does not run in a warning', () => {
    const { warnings } = service(
      svcYaml(
        '  clusterIP: 10.96.0.10\n  sessionAffinity: ClientIP\n  sessionAffinityConfig: { clientIP: { timeoutSeconds: 10 } }\n  externalIPs: [1.2.3.4]\n  ports: [{ port: 80 }]\n',
      ),
    );
    assert.deepEqual(warnings, [
      "spec.clusterIP: crib run has no service proxy, so 10.96.0.10 is not served; the Service's names resolve to its pods' IPs; ignored",
      'spec.selector: a Service without a selector takes its endpoints from objects crib run does not run; its names resolve to nothing; ignored',
      'spec.sessionAffinity: ClientIP needs a service proxy, which crib run does not have; ignored',
      'spec.sessionAffinityConfig is not supported by crib run; ignored',
      'spec.externalIPs is not supported by crib run; ignored',
    ]);
    const ext = service(svcYaml('  type: ExternalName\n  externalName: db.example.com\n'));
    assert.deepEqual(ext.warnings, ['spec.type: ExternalName (a DNS alias) is not supported by crib run; ignored']);
  });
});

const pod = (name: string, ip: string, ready: boolean, extra: Partial<PodEndpoint> = {}): PodEndpoint => ({
  name,
  namespace: 'default',
  labels: { app: 'web' },
  ip,
  ready,
  ...extra,
});

describe('the names Services give', () => {
  const web = service(svcYaml('  selector: { app: web }\n  ports: [{ port: 8080 }]\n')).svc;
  const peers = service(svcYaml('  clusterIP: None\n  selector: { app: web }\n', 'peers')).svc;

  it("resolves NAME, NAME.NAMESPACE and NAME.NAMESPACE.svc.cluster.local to the ready pods' IPs only", () => {
    const lines = serviceHostLines([web], [pod('a', '10.0.0.2', true), pod('b', '10.0.0.3', false), pod('c', '10.0.0.4', true, { namespace: 'other' })]);
    assert.deepEqual([...lines], ['10.0.0.2\tweb web.default web.default.svc.cluster.local']);
    const all = serviceHostLines([{ ...web, publishNotReadyAddresses: true }], [pod('a', '10.0.0.2', true), pod('b', '10.0.0.3', false)]);
    assert.equal(all.size, 2, 'publishNotReadyAddresses counts the unready pod too');
  });

  it("gives a headless Service's pods HOSTNAME.SERVICE when their subdomain names it", () => {
    const lines = serviceHostLines(
      [peers],
      [pod('peer-0', '10.0.0.2', true, { hostname: 'peer-0', subdomain: 'peers' }), pod('other', '10.0.0.3', true, { hostname: 'other' })],
    );
    assert.deepEqual([...lines].sort(), [
      '10.0.0.2\tpeers peers.default peers.default.svc.cluster.local peer-0.peers peer-0.peers.default peer-0.peers.default.svc.cluster.local',
      '10.0.0.3\tpeers peers.default peers.default.svc.cluster.local',
    ]);
    // Not headless: no pod names, as kube-dns publishes them for headless Services only.
    assert.ok(![...serviceHostLines([web], [pod('peer-0', '10.0.0.2', true, { hostname: 'peer-0', subdomain: 'web' })])].some((l) => l.includes('peer-0')));
  });

  it('keeps each line within what musl reads as one line, for the longest names the API server allows', () => {
    const long = 'a'.repeat(63);
    const s = service(svcYaml('  clusterIP: None\n  selector: { app: web }\n', long)).svc;
    const lines = serviceHostLines(
      [{ ...s, namespace: long }],
      [pod(long, 'fd00:1234:5678:9abc:def0:1234:5678:9abc', true, { namespace: long, hostname: long, subdomain: long })],
    );
    assert.ok(lines.size > 1, 'the names are split over several lines');
    for (const l of lines) assert.ok(l.length <= MAX_LINE && l.length <= 511, `${l.length} bytes`);
    const names = [...lines].flatMap((l) => l.split('\t')[1]?.split(' ') ?? []);
    assert.equal(names.length, 6, 'no name lost in the split');
    assert.ok(names.includes(`${long}.${long}.${long}.svc.cluster.local`));
  });

  it("holds a Service selecting 1,200 pods to the endpoints controller's 1,000, ready ones first", () => {
    const pods = Array.from({ length: 1200 }, (_, i) => pod(`p-${String(i).padStart(4, '0')}`, `10.1.${i >> 8}.${i & 255}`, i % 6 !== 0));
    const chosen = endpointsOf(web, pods);
    assert.equal(chosen.length, 1000);
    assert.equal(MAX_ENDPOINTS, 1000);
    const withUnready = endpointsOf({ ...web, publishNotReadyAddresses: true }, pods);
    assert.equal(withUnready.length, 1000);
    assert.ok(
      withUnready.every((p) => p.ready),
      'the 1,000 ready pods are published before any unready one',
    );
  });
});

/** The file as bytes, the writes applied in order; `visible` is what a resolver reads after each one. */
class FakeFile {
  buf = Buffer.alloc(0);
  constructor(header: string) {
    this.buf = Buffer.from(header, 'ascii');
  }
  write(w: HostsWrite): void {
    const data = Buffer.from(w.data, 'ascii');
    const end = w.offset + data.length;
    if (end > this.buf.length) this.buf = Buffer.concat([this.buf, Buffer.alloc(end - this.buf.length)]);
    data.copy(this.buf, w.offset);
  }
  /** Lines a resolver takes: not comments, not empty (trailing blanks trimmed). */
  visible(from: number): string[] {
    return this.buf
      .subarray(from)
      .toString('ascii')
      .split('\n')
      .map((l) => l.trimEnd())
      .filter((l) => l && !l.startsWith('#'));
  }
}

describe("a pod's hosts file changed in place", () => {
  const header = podHostsHeader({ ip: '10.0.0.9', hostname: 'peer-1', namespace: 'default', subdomain: 'peers' });

  it("starts with kubelet's lines: loopback, the pod's FQDN and hostname, its hostAliases", () => {
    const h = podHostsHeader({
      ip: '10.0.0.9',
      hostname: 'peer-1',
      namespace: 'ns',
      subdomain: 'peers',
      hostAliases: [{ ip: '10.9.9.9', hostnames: ['a', 'b'] }],
    });
    assert.match(h, /^127\.0\.0\.1\tlocalhost$/m);
    assert.match(h, /^10\.0\.0\.9\tpeer-1\.peers\.ns\.svc\.cluster\.local\tpeer-1$/m);
    assert.match(h, /^10\.9\.9\.9\ta b$/m);
    assert.match(podHostsHeader({ ip: '10.0.0.9', hostname: 'web', namespace: 'ns' }), /^10\.0\.0\.9\tweb$/m);
  });

  it('never shows a reader a line that is neither before nor after, after any single write', () => {
    const file = new FakeFile(header);
    const slots = new HostsSlots(header.length);
    let now = 0;
    let shown = new Set<string>();
    const step = (want: Set<string>) => {
      const removed = [...shown].filter((l) => !want.has(l));
      const added = [...want].filter((l) => !shown.has(l));
      for (const w of slots.apply(removed, added, now)) {
        // A write is no atomic step for a reader: look half-way through it as well.
        const half = Math.floor(w.data.length / 2);
        for (const part of half ? [{ offset: w.offset, data: w.data.slice(0, half) }, w] : [w]) {
          file.write(part);
          for (const l of file.visible(header.length)) assert.ok(shown.has(l) || want.has(l), `a reader saw ${JSON.stringify(l)}`);
        }
      }
      assert.deepEqual(new Set(file.visible(header.length)), want);
      assert.deepEqual(new Set(slots.lines()), want);
      assert.equal(file.buf.length, slots.size);
      shown = want;
    };
    const line = (i: number) => `10.0.${i >> 8}.${i & 255}\t${'web-'.repeat(1 + (i % 40))}x`;
    // Random churn over 300 names of many lengths, time moving on.
    let seed = 7;
    const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let round = 0; round < 200; round++) {
      const want = new Set<string>();
      for (let i = 0; i < 300; i++) if (rnd() < 0.5) want.add(line(i));
      now += rnd() < 0.5 ? 10 : REUSE_AFTER_MS;
      step(want);
    }
    step(new Set());
  });

  it('puts no line across a read chunk, and refills a hidden slot only after REUSE_AFTER_MS', () => {
    const slots = new HostsSlots(header.length);
    const long = `10.0.0.1\t${'n'.repeat(400)}`;
    const writes: HostsWrite[] = [];
    for (let i = 0; i < 20; i++) writes.push(...slots.apply([], [`${long}${i}`], 0));
    const fills = writes.filter((w) => w.data.length > 1 && w.data.startsWith('#') && w.data.trimEnd().length > 2);
    for (const w of fills) assert.equal(Math.floor(w.offset / READ_CHUNK), Math.floor((w.offset + w.data.length - 1) / READ_CHUNK), `slot at ${w.offset}`);

    const s = new HostsSlots(0);
    const [fill] = s.apply([], ['10.0.0.1\ta'], 0);
    const again = s.apply(['10.0.0.1\ta'], ['10.0.0.2\ta'], 10);
    assert.notEqual(again[1]?.offset, fill?.offset, 'a slot hidden 10 ms ago is not filled again');
    const later = s.apply(['10.0.0.2\ta'], ['10.0.0.3\ta'], 10 + REUSE_AFTER_MS);
    assert.equal(later[1]?.offset, fill?.offset, 'the oldest slot hidden long enough is filled again');
  });

  it('is read back from the file as another process left it, and goes on from there', () => {
    const file = new FakeFile(header);
    const slots = new HostsSlots(header.length);
    const line = (i: number) => `10.0.${i >> 8}.${i & 255}\t${'db-'.repeat(1 + (i % 150))}x`;
    let seed = 11;
    const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    let shown = new Set<string>();
    const churn = (s: HostsSlots, now: number) => {
      const want = new Set<string>();
      for (let i = 0; i < 100; i++) if (rnd() < 0.5) want.add(line(i));
      for (const w of s.apply(
        [...shown].filter((l) => !want.has(l)),
        [...want].filter((l) => !shown.has(l)),
        now,
      ))
        file.write(w);
      shown = want;
    };
    for (let round = 0; round < 50; round++) churn(slots, round * REUSE_AFTER_MS);
    const body = () => file.buf.subarray(header.length).toString('latin1');
    const back = HostsSlots.parse(header.length, body(), 50 * REUSE_AFTER_MS);
    assert.ok(back, 'the file parses');
    assert.deepEqual(new Set(back.lines()), shown);
    assert.equal(back.size, file.buf.length);
    // Hidden slots count as freed just now: none is filled again at once.
    const size = back.size;
    const next = HostsSlots.parse(header.length, body(), 0);
    assert.ok(next);
    assert.deepEqual(
      next.apply([], ['10.9.9.9\tnew'], 0).map((w) => w.offset >= size),
      [true, true],
    );
    for (let round = 51; round < 100; round++) churn(back, round * REUSE_AFTER_MS);
    assert.deepEqual(new Set(file.visible(header.length)), shown);
    assert.equal(back.size, file.buf.length);
    assert.ok(HostsSlots.parse(header.length, body(), 0), 'still parses');
  });

  it('reads back only what it writes: every other body is undefined', () => {
    const slot = (line: string, size = 64) => `${line}${' '.repeat(size - line.length - 1)}\n`;
    const ok = slot('10.0.0.1\tdb') + slot('#0.0.0.2\tdb');
    const back = HostsSlots.parse(0, ok, 0);
    assert.deepEqual([...(back?.lines() ?? [])], ['10.0.0.1\tdb']);
    // a filler up to a read chunk's end, then a slot after it
    assert.ok(HostsSlots.parse(0, `#${' '.repeat(READ_CHUNK - 2)}\n${slot('10.0.0.1\tdb')}`, 0));
    for (const [why, body] of [
      ['no final newline', ok.slice(0, -1)],
      ['a slot of no multiple of 64', `${slot('10.0.0.1\tdb').slice(1)}`],
      ['the same line twice', slot('10.0.0.1\tdb') + slot('10.0.0.1\tdb')],
      ['a blank visible slot', slot(' ')],
      ['a slot across a read chunk', `${slot('#', 960)}${slot('10.0.0.1\tdb', 128)}`],
      ['a filler short of a read chunk', `#${' '.repeat(100)}\n`],
      ['a byte that is no text', slot('10.0.0.1\td\u00e9')],
      ['a control byte', slot('10.0.0.1\td\u0000')],
    ] as const)
      assert.equal(HostsSlots.parse(0, body, 0), undefined, why);
  });

  it('takes a file over: brought to the lines wanted; one that is not its own, or too large, rewritten whole in place; a symlink refused', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crib-hosts-'));
    try {
      const at = path.join(dir, 'etc-hosts');
      const a = '10.0.0.1\tdb';
      const b = '10.0.0.2\tdb';
      await PodHostsFile.create(at, header, [a], 0);
      const ino = fs.statSync(at).ino;
      await PodHostsFile.open(at, header, [b], 1 << 20, 0);
      const visible = () => new FakeFile(fs.readFileSync(at, 'latin1')).visible(header.length);
      assert.deepEqual(visible(), [b]);
      assert.ok(fs.readFileSync(at, 'latin1').includes(`#${a.slice(1)}`), 'the old line hidden in its slot, not rewritten');
      const free = `#${' '.repeat(62)}\n`;
      assert.ok(HostsSlots.parse(header.length, free + free, 0), 'the last case parses: only its size is wrong');
      for (const [bad, max] of [
        [`${header}10.0.0.3\tstale\n`, 1 << 20],
        [header.replace('localhost', 'elsewhere'), 1 << 20],
        [`${header}${free}${free}`, header.length + 64],
      ] as const) {
        fs.writeFileSync(at, bad);
        await PodHostsFile.open(at, header, [a], max, 0);
        assert.equal(fs.readFileSync(at, 'latin1'), `${header}${a}${' '.repeat(64 - a.length - 1)}\n`, JSON.stringify(bad));
        assert.equal(fs.statSync(at).ino, ino, 'the same inode: the one the containers mount');
      }
      fs.rmSync(at);
      fs.symlinkSync(path.join(dir, 'elsewhere'), at);
      await assert.rejects(PodHostsFile.open(at, header, [a], 1 << 20, 0), /ELOOP/);
      assert.equal(fs.existsSync(path.join(dir, 'elsewhere')), false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stays small while one pod flaps ready and unready 10,000 times', () => {
    const slots = new HostsSlots(0);
    const a = '10.0.0.2\tweb web.default web.default.svc.cluster.local';
    for (let i = 0; i < 10_000; i++) {
      slots.apply([], [a], i * REUSE_AFTER_MS);
      slots.apply([a], [], i * REUSE_AFTER_MS + 1);
    }
    assert.ok(slots.size <= 2 * 64, `${slots.size} bytes`);
  });
});

describe('hostAliases', () => {
  it("are read with the API server's rules and go into the pod's hosts file", () => {
    const pod = (aliases: string) =>
      `apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  hostAliases: ${aliases}\n  containers: [{name: c, image: busybox}]\n`;
    const m = parseManifests(pod('[{ip: 10.1.2.3, hostnames: [foo.local, bar]}]'));
    assert.deepEqual(m.warnings, []);
    assert.deepEqual(m.workloads[0]?.template.spec.hostAliases, [{ ip: '10.1.2.3', hostnames: ['foo.local', 'bar'] }]);
    assert.throws(
      () => parseManifests(pod('[{ip: 10.1.2, hostnames: [a]}]')),
      (e: unknown) => e instanceof ManifestError && e.field === 'spec.hostAliases[0].ip',
    );
    assert.throws(
      () => parseManifests(pod('[{ip: 10.1.2.3, hostnames: [Not_A_Name]}]')),
      (e: unknown) => e instanceof ManifestError && e.field === 'spec.hostAliases[0].hostnames[0]',
    );
  });
});

describe('what Services ask of the workloads', () => {
  const manifest = (services: string) =>
    parseManifests(`
apiVersion: apps/v1
kind: Deployment
metadata: { name: web }
spec:
  replicas: 2
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec: { containers: [{ name: web, image: x, ports: [{ name: http, containerPort: 8080 }] }] }
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: db }
spec:
  selector: { matchLabels: { app: db } }
  template:
    metadata: { labels: { app: db } }
    spec: { containers: [{ name: db, image: x, ports: [{ containerPort: 5432 }] }] }
${services}`);
  const services = (yaml: string): Service[] =>
    yaml
      .split('---')
      .filter((d) => d.trim())
      .map((d) => service(d).svc);
  const plan = (yaml: string) => planServices(services(yaml), manifest('').workloads);
  const port = (w: Workload | undefined) => w?.template.spec.containers[0]?.ports[0];

  it('warns about a Service selecting nothing, a target port no container names, and a port that needs a proxy', () => {
    const p = plan(
      `${svcYaml('  selector: { app: none }\n  ports: [{ port: 80 }]\n', 'ghost')}\n---\n${svcYaml('  selector: { app: web }\n  ports: [{ port: 80, targetPort: metrics }]\n')}\n---\n${svcYaml('  selector: { app: db }\n  ports: [{ port: 5433, targetPort: 5432 }]\n', 'db')}`,
    );
    assert.deepEqual(p.warnings, [
      'Service default/ghost: spec.selector selects no pod of the manifest, so its names resolve to nothing; ignored',
      'Service default/web: spec.ports[0].targetPort: no container of Deployment web declares a TCP port named "metrics"; ignored',
      'Service default/db: spec.ports[0].port 5433 differs from its target port 5432, and crib run has no service proxy: clients of db must use 5432; port 5433 ignored',
    ]);
    assert.deepEqual(
      plan(svcYaml('  selector: { app: web }\n  ports: [{ port: 8080, targetPort: http }]\n')).warnings,
      [],
      'a named port that resolves to port',
    );
  });

  it('publishes a node port as a host port of the one pod it selects, and says so when it selects several', () => {
    const p = plan(svcYaml('  type: NodePort\n  selector: { app: db }\n  ports: [{ port: 5432, nodePort: 30432 }]\n', 'db'));
    assert.deepEqual(p.warnings, []);
    assert.equal(port(p.workloads[1])?.hostPort, 30432);
    assert.equal(port(p.workloads[0])?.hostPort, undefined);
    assert.deepEqual(p.notes, ['Service default/db: node port 30432/TCP -> Deployment db:5432']);

    const lb = plan(svcYaml('  type: LoadBalancer\n  selector: { app: db }\n  ports: [{ port: 5432 }]\n', 'db'));
    assert.equal(port(lb.workloads[1])?.hostPort, 5432, "a LoadBalancer's own port on the node");
    const np = plan(svcYaml('  type: NodePort\n  selector: { app: db }\n  ports: [{ port: 5432 }]\n', 'db'));
    assert.equal(port(np.workloads[1])?.hostPort, 30000, 'a node port handed out from the range');

    const several = plan(svcYaml('  type: NodePort\n  selector: { app: web }\n  ports: [{ port: 8080, nodePort: 30080 }]\n'));
    assert.deepEqual(several.warnings, [
      'Service default/web: spec.ports[0]: a node port reaches one pod without a service proxy, and it selects Deployment web (2 pods); not published',
    ]);
    assert.equal(port(several.workloads[0])?.hostPort, undefined);
  });
});
