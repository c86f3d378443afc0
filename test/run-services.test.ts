// Services under `crib run`, end to end with real pods: a StatefulSet's pods reach each other as
// POD.SERVICE through its headless Service, a Deployment reaches a "database" Deployment by its
// Service's name, a pod whose readiness probe fails drops out of the name and comes back (in the
// foreground, and under -d through crib supervise, also across its restart), and a NodePort
// Service is reachable on the node at its node port.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import { call } from '../src/client/client.js';
import { lockHolder } from '../src/kube/supervisor/lock.js';
import { cribRunSuite, type BackgroundCli } from './support/crib-cli.js';
import { freePort } from '../support/registry.js';
import { waitFor } from './support/wait-for.js';

const IMAGE = 'localhost/crib/examples:busybox';

/** A web server answering its hostname on 8080. */
const serving = `command: [sh, -c, 'mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www']`;

const MANIFEST = `
apiVersion: v1
kind: Service
metadata: { name: peers }
spec:
  clusterIP: None
  selector: { app: peer }
---
apiVersion: apps/v1
kind: StatefulSet
metadata: { name: peer }
spec:
  serviceName: peers
  replicas: 2
  podManagementPolicy: Parallel
  selector: { matchLabels: { app: peer } }
  template:
    metadata: { labels: { app: peer } }
    spec:
      terminationGracePeriodSeconds: 1
      containers: [{ name: web, image: ${IMAGE}, ${serving} }]
---
apiVersion: v1
kind: Service
metadata: { name: db }
spec:
  selector: { app: db }
  ports: [{ port: 8080 }]
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: db }
spec:
  selector: { matchLabels: { app: db } }
  template:
    metadata: { labels: { app: db } }
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: db
          image: ${IMAGE}
          ${serving}
          readinessProbe: { exec: { command: [test, -f, /tmp/ready] }, periodSeconds: 1 }
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: app }
spec:
  selector: { matchLabels: { app: app } }
  template:
    metadata: { labels: { app: app } }
    spec:
      terminationGracePeriodSeconds: 1
      hostAliases: [{ ip: 10.1.2.3, hostnames: [legacy.example] }]
      containers: [{ name: app, image: ${IMAGE}, command: [sleep, '3600'] }]
`;

describe('Services under crib run', () => {
  const { h, crib, background, manifest, explain } = cribRunSuite(IMAGE);

  /** The one container of the pod labelled app=APP (the nth by name). */
  async function containerOf(app: string, nth = 0): Promise<{ id: string; pod: string }> {
    const sbs = (await call(h.runtime, 'ListPodSandbox', { filter: { label_selector: { app } } })).items.sort((a, b) =>
      (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''),
    );
    const sb = sbs[nth];
    if (!sb) return { id: '', pod: '' };
    const c = (await call(h.runtime, 'ListContainers', { filter: { pod_sandbox_id: sb.id } })).containers[0];
    return { id: c?.id ?? '', pod: sb.metadata?.name ?? '' };
  }

  /** Runs the manifest in the foreground; `body` drives it; a Ctrl-C then tears it down (also when `body` failed, so nothing is left). */
  async function withRun(yaml: string, body: (run: BackgroundCli, explain: () => string) => Promise<void>): Promise<void> {
    const run = background(['run', '--backoff', '1s', '-f', manifest(yaml)]);
    const explain = () => `--- crib run\n${run.out.stderr}\n--- cribd\n${h.logTail(15)}`;
    try {
      await body(run, explain);
    } finally {
      run.child.kill('SIGINT');
      assert.equal(await run.exited, 130, explain());
    }
  }

  async function sh(id: string, script: string): Promise<{ code: number; out: string }> {
    const r = await call(h.runtime, 'ExecSync', { container_id: id, cmd: ['sh', '-c', script], timeout: 20 });
    return { code: r.exit_code, out: `${r.stdout.toString()}${r.stderr.toString()}` };
  }

  /**
   * `url` fetched from container `id` gives `want`, once the names have caught up: a pod's line is
   * written when it is ready, which the run's "ready" line and `crib run -d`'s return do not wait for
   * (a name not there yet is asked of DNS, which may not answer here: wget then waits out its 5 s).
   */
  async function answers(id: string, url: string, want: string, explain: () => string): Promise<void> {
    let r = { code: 0, out: '' };
    await waitFor(
      async () => (r = await sh(id, `timeout 5 wget -qO- ${url}`)).code === 0 && r.out === want,
      () => `${url} to answer ${JSON.stringify(want)}: ${JSON.stringify(r)}\n${explain()}`,
      30_000,
    );
  }

  it("resolves a headless Service's POD.SERVICE and a Service's name to its ready pods, kept current as readiness changes", async () => {
    await withRun(MANIFEST, async (run, explain) => {
      await waitFor(
        () => /Deployment app: 1\/1 pods ready/.test(run.out.stderr) && /StatefulSet peer: 2\/2 pods ready/.test(run.out.stderr),
        () => `the pods to run\n${explain()}`,
        120_000,
      );
      const peer0 = await containerOf('peer', 0);
      const peer1 = await containerOf('peer', 1);
      const app = await containerOf('app');
      const db = await containerOf('db');
      assert.deepEqual([peer0.pod, peer1.pod], ['peer-0', 'peer-1']);

      // The StatefulSet's pods by POD.SERVICE, and the longer forms.
      await answers(peer0.id, 'http://peer-1.peers:8080/', 'peer-1\n', explain);
      let r = await sh(peer1.id, 'timeout 5 wget -qO- http://peer-0.peers.default.svc.cluster.local:8080/');
      assert.deepEqual(r, { code: 0, out: 'peer-0\n' }, explain());
      // kubelet's own line for the pod stays: its FQDN under the subdomain and its hostname.
      r = await sh(peer0.id, 'grep -c "peer-0.peers.default.svc.cluster.local.peer-0$" /etc/hosts');
      assert.equal(r.out.trim(), '1', (await sh(peer0.id, 'cat /etc/hosts')).out);

      // hostAliases are in the same file, as kubelet writes them.
      r = await sh(app.id, 'grep -c "^10.1.2.3.legacy.example$" /etc/hosts');
      assert.equal(r.out.trim(), '1', (await sh(app.id, 'cat /etc/hosts')).out);

      // The database is not ready (its probe's file is missing): its name resolves to nothing.
      r = await sh(app.id, 'timeout 5 wget -qO- http://db:8080/');
      assert.notEqual(r.code, 0, `db resolved before it was ready: ${r.out}`);
      await sh(db.id, 'touch /tmp/ready');
      await waitFor(
        async () => (r = await sh(app.id, 'timeout 5 wget -qO- http://db:8080/')).code === 0,
        () => `db to resolve once ready: ${r.out}\n${explain()}`,
        30_000,
      );
      assert.equal(r.out, `${db.pod}\n`);
      r = await sh(app.id, 'timeout 5 wget -qO- http://db.default.svc.cluster.local:8080/');
      assert.deepEqual(r, { code: 0, out: `${db.pod}\n` });

      // Unready again: out of the name; ready: back.
      await sh(db.id, 'rm /tmp/ready');
      await waitFor(
        async () => (r = await sh(app.id, 'timeout 5 wget -qO- http://db:8080/')).code !== 0,
        () => `db to drop out: ${r.out}\n${explain()}`,
        30_000,
      );
      await sh(db.id, 'touch /tmp/ready');
      await waitFor(
        async () => (r = await sh(app.id, 'timeout 5 wget -qO- http://db:8080/')).code === 0,
        () => `db to come back: ${r.out}\n${explain()}`,
        30_000,
      );
    });
  });

  it("keeps a detached run's names current through the supervisor, also after the supervisor restarts", async () => {
    // The same pods, the StatefulSet's in order (OrderedReady, its default) this time.
    const file = manifest(MANIFEST.replace('  podManagementPolicy: Parallel\n', ''));
    // The test's own supervisor (crib run -d hands over to it), so that it can end it by its pid.
    const startSupervisor = async (): Promise<BackgroundCli> => {
      const s = background(['supervise', '--manifest-dir', path.join(h.base, 'manifests'), '--scan', '300']);
      await waitFor(
        async () => (await lockHolder(h.root)) === s.child.pid,
        () => `the supervisor to take its lock:\n${s.out.stderr}`,
        20_000,
      );
      return s;
    };
    let s = await startSupervisor();
    const r = await crib(['run', '-d', '-f', file]);
    try {
      assert.equal(r.code, 0, explain(r));
      const peer0 = await containerOf('peer', 0);
      const peer1 = await containerOf('peer', 1);
      // OrderedReady: peer-1 came after peer-0 was ready, and peer-0's file got its name then.
      await answers(peer0.id, 'http://peer-1.peers:8080/', 'peer-1\n', () => explain(r));
      await answers(peer1.id, 'http://peer-0.peers:8080/', 'peer-0\n', () => explain(r));

      const app = await containerOf('app');
      const db = await containerOf('db');
      const says = () => `--- crib supervise\n${s.out.stderr}\n--- cribd\n${h.logTail(15)}`;
      /** db's name, from the app pod, resolves (and db answers) or not, as the supervisor keeps the files now. */
      const dbResolves = async (want: boolean, what: string): Promise<void> => {
        let got = { code: 0, out: '' };
        await waitFor(
          async () => ((got = await sh(app.id, 'timeout 5 wget -qO- http://db:8080/')).code === 0) === want,
          async () => `db ${what}: ${got.out}\n${(await sh(app.id, 'cat /etc/hosts')).out}\n${says()}`,
          30_000,
        );
        if (want) assert.equal(got.out, `${db.pod}\n`);
      };
      await dbResolves(false, 'resolved before it was ready');
      await sh(db.id, 'touch /tmp/ready');
      await dbResolves(true, 'to resolve once ready');
      await sh(db.id, 'rm /tmp/ready');
      await dbResolves(false, 'to drop out when unready');
      await sh(db.id, 'touch /tmp/ready');
      await dbResolves(true, 'to come back');

      // A new supervisor reads each pod's file back and follows readiness as the first did.
      s.child.kill('SIGTERM');
      assert.equal(await s.exited, 0, s.out.stderr);
      // Its end is not the pods': their names stay while no supervisor runs.
      assert.deepEqual(await sh(app.id, 'timeout 5 wget -qO- http://db:8080/'), { code: 0, out: `${db.pod}\n` }, says());
      s = await startSupervisor();
      await waitFor(
        () => (s.out.stderr.match(/: taken over/g) ?? []).length === 4,
        () => `the pods taken over again:\n${says()}`,
        30_000,
      );
      await dbResolves(true, 'to resolve once ready again after the restart');
      await sh(db.id, 'rm /tmp/ready');
      await dbResolves(false, 'to drop out after the restart');
      await sh(db.id, 'touch /tmp/ready');
      await dbResolves(true, 'to come back after the restart');
      assert.deepEqual(await sh(peer0.id, 'timeout 5 wget -qO- http://peer-1.peers:8080/'), { code: 0, out: 'peer-1\n' }, says());
    } finally {
      const d = await crib(['down', '-f', file]);
      assert.equal(d.code, 0, explain(d));
      s.child.kill('SIGTERM');
      await s.exited;
    }
  });

  it('publishes a NodePort Service on the node at its node port', async () => {
    const nodePort = 30000 + ((await freePort()) % 2768);
    await withRun(
      `
apiVersion: v1
kind: Service
metadata: { name: web }
spec:
  type: NodePort
  selector: { app: web }
  ports: [{ port: 8080, nodePort: ${nodePort} }]
---
apiVersion: v1
kind: Pod
metadata: { name: web, labels: { app: web } }
spec:
  terminationGracePeriodSeconds: 1
  containers: [{ name: web, image: ${IMAGE}, ${serving}, ports: [{ containerPort: 8080 }] }]
`,
      async (run, explain) => {
        await waitFor(
          () => /container "web" started/.test(run.out.stderr),
          () => `the pod to run\n${explain()}`,
          120_000,
        );
        assert.match(run.out.stderr, new RegExp(`Service default/web: node port ${nodePort}/TCP -> Pod web:8080`), explain());
        let body = '';
        await waitFor(
          async () => (body = await get('127.0.0.1', nodePort)) === 'web\n',
          () => `the page on 127.0.0.1:${nodePort}: ${body}\n${explain()}`,
          30_000,
        );
      },
    );
  });
});

function get(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const req = http.get({ host, port, path: '/', agent: false, timeout: 3000 }, (res) => {
      let body = '';
      res.on('data', (b: Buffer) => (body += b.toString()));
      res.on('end', () => resolve(body));
      res.on('error', (e: Error) => resolve(e.message));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e: Error) => resolve(e.message));
  });
}
