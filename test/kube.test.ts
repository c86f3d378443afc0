// `crib run` with the manifests people keep in repositories, end to end on a real cribd: a
// Deployment of 2 replicas with a ConfigMap, a Secret and a PersistentVolumeClaim, probes (startup
// exec, readiness and liveness over HTTP), `crib pods` READY, liveness restarts with back-off, a Job
// that fails twice then succeeds, `crib down`, `--replace`, and `crib generate` run again.
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { call } from '../src/client/client.js';
import { claimDir } from '../src/kube/records/paths.js';
import { repoRoot } from '../src/util/paths.js';
import { Harness } from './support/harness.js';
import { cribCli, type CliResult } from './support/crib-cli.js';
import { importBusybox } from './support/busybox-image.js';
import { waitFor } from './support/wait-for.js';

const IMAGE = 'localhost/crib/examples:busybox';

const APP = `apiVersion: v1
kind: ConfigMap
metadata: {name: app-config}
data:
  GREETING: hello from crib
  index.html: "<h1>app</h1>\\n"
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: app}
spec:
  replicas: 2
  selector: {matchLabels: {app: app}}
  template:
    metadata: {labels: {app: app}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
        - name: web
          image: ${IMAGE}
          command: [sh, -c]
          args:
            - |
              echo "$POD_NAME" >> /data/names
              echo "serving as $POD_NAME"
              cp /config/index.html /www/index.html
              echo "$GREETING, says $POD_NAME" >> /www/index.html
              echo alive > /www/alive.html
              trap 'exit 0' TERM
              httpd -f -p 8080 -h /www & wait
          env:
            - name: GREETING
              valueFrom: {configMapKeyRef: {name: app-config, key: GREETING}}
            - name: POD_NAME
              valueFrom: {fieldRef: {fieldPath: metadata.name}}
          envFrom: [{secretRef: {name: app-secret}, prefix: S_}]
          ports: [{name: http, containerPort: 8080}]
          startupProbe: {exec: {command: [test, -f, /www/alive.html]}, periodSeconds: 1}
          readinessProbe: {httpGet: {path: /ready.html, port: http}, periodSeconds: 1}
          livenessProbe: {httpGet: {path: /alive.html, port: 8080}, periodSeconds: 1, failureThreshold: 2}
          volumeMounts:
            - {name: config, mountPath: /config}
            - {name: secret, mountPath: /etc/secret}
            - {name: data, mountPath: /data}
            - {name: www, mountPath: /www}
      volumes:
        - {name: config, configMap: {name: app-config}}
        - name: secret
          secret:
            secretName: app-secret
            defaultMode: 0400
            items: [{key: password, path: pw}, {key: token, path: t/token, mode: 0440}]
        - {name: data, persistentVolumeClaim: {claimName: app-data}}
        - {name: www, emptyDir: {}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: app-data}
spec: {accessModes: [ReadWriteOnce]}
---
apiVersion: v1
kind: Secret
metadata: {name: app-secret}
stringData: {password: s3cret}
data: {token: dG9rZW4=}
`;

const JOB = `apiVersion: batch/v1
kind: Job
metadata: {name: flaky}
spec:
  backoffLimit: 3
  template:
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 1
      containers:
        - name: try
          image: ${IMAGE}
          command: [sh, -c, 'n=$(( $(cat /state/n 2>/dev/null || echo 0) + 1 )); echo $n > /state/n; echo "attempt $n"; [ $n -ge 3 ]']
          volumeMounts: [{name: state, mountPath: /state}]
      volumes: [{name: state, persistentVolumeClaim: {claimName: job-state}}]
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: job-state}
`;

/** A Job whose every pod fails: with backoffLimit 1 the second failure ends it. */
const DOOMED_JOB = `apiVersion: batch/v1
kind: Job
metadata: {name: doomed}
spec:
  backoffLimit: 1
  template:
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 1
      containers: [{name: try, image: "${IMAGE}", command: [sh, -c, 'echo trying; exit 4']}]
`;

/** Three ordered pods (OrderedReady, the default) that each start a long-running container. */
const STATEFUL_SET = `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  replicas: 3
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      terminationGracePeriodSeconds: 1
      containers: [{name: c, image: "${IMAGE}", command: [sleep, '3600']}]
`;

describe('crib run: Kubernetes workloads', () => {
  const h = new Harness();
  const { crib, background: cribBackground, killAll } = cribCli(h);
  const appFile = () => path.join(h.base, 'app.yaml');
  const dataDir = () => claimDir(h.root, 'default', 'app-data');

  before(async () => {
    await h.start();
    await importBusybox(h, IMAGE);
    fs.writeFileSync(appFile(), APP);
  });
  after(() => h.cleanup());
  afterEach(async () => {
    killAll();
    await h.endSupervisor();
    for (const p of await pods()) await crib(['down', p.id]);
    await h.assertNoLeaks();
  });

  const pods = async () => (await call(h.runtime, 'ListPodSandbox', {})).items;

  /** Files under the pods' directory that are on the disk (not on a tmpfs mounted below it) and hold `text`. */
  function onDiskHolding(text: string): string[] {
    const top = path.join(h.root, 'pods');
    const disk = fs.statSync(top).dev;
    const found: string[] = [];
    const walk = (dir: string) => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (fs.lstatSync(p).dev !== disk) continue;
        if (e.isDirectory()) walk(p);
        else if (e.isFile() && fs.readFileSync(p).includes(text)) found.push(p);
      }
    };
    walk(top);
    return found;
  }
  const explain = (r: CliResult) => `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}\n--- cribd\n${h.logTail(10)}`;

  /** The running container of a pod by name (its newest attempt). */
  async function container(podId: string, name: string) {
    const list = (await call(h.runtime, 'ListContainers', { filter: { pod_sandbox_id: podId } })).containers;
    return list.filter((c) => c.metadata?.name === name).sort((a, b) => (b.metadata?.attempt ?? 0) - (a.metadata?.attempt ?? 0))[0];
  }

  async function exec(podId: string, cmd: string): Promise<string> {
    const c = await container(podId, 'web');
    const r = await call(h.runtime, 'ExecSync', { container_id: c?.id ?? '', cmd: ['sh', '-c', cmd], timeout: 10 });
    assert.equal(r.exit_code, 0, `${cmd}: ${Buffer.from(r.stderr).toString()}`);
    return Buffer.from(r.stdout).toString();
  }

  function get(ip: string, urlPath: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = http.get({ host: ip, port: 8080, path: urlPath, agent: false, timeout: 5000 }, (res) => {
        let body = '';
        res.on('data', (b: Buffer) => (body += b.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('timeout', () => req.destroy(new Error(`GET ${ip}${urlPath}: timed out`)));
      req.on('error', reject);
    });
  }

  async function podIP(id: string): Promise<string> {
    return (await call(h.runtime, 'PodSandboxStatus', { pod_sandbox_id: id })).status?.network?.ip ?? '';
  }

  /** READY of `crib pods` by pod name. */
  async function readyColumn(): Promise<Map<string, string>> {
    const r = await crib(['pods']);
    const [header = [], ...rows] = r.stdout
      .trim()
      .split('\n')
      .map((l) => l.split(/\s{2,}/));
    const name = header.indexOf('NAME');
    const ready = header.indexOf('READY');
    return new Map(rows.map((cols) => [cols[name] ?? '', cols[ready] ?? '']));
  }

  it('runs a Deployment with a ConfigMap, a Secret and a claim; probes gate readiness and restart a dead container with back-off', async () => {
    const run = cribBackground(['run', '--backoff', '1s', '-f', appFile()]);
    await waitFor(
      async () => (run.out.stderr.match(/: container "web" started$/gm)?.length ?? 0) === 2,
      () => `2 pods to start:\n${run.out.stderr}`,
      60_000,
    );
    const sandboxes = await pods();
    const names = sandboxes.map((s) => s.metadata?.name ?? '');
    for (const n of names) assert.match(n, /^app-[0-9a-f]{6,10}-[a-z0-9]{5}$/, "a Deployment's pod names: NAME-HASH-RANDOM");
    assert.equal(sandboxes[0]?.labels['app'], 'app');

    // Reachable on each pod IP, with the ConfigMap in env and as files, the Secret as env and files.
    for (const s of sandboxes) {
      const ip = await podIP(s.id);
      await waitFor(async () => (await get(ip, '/').catch(() => ({ status: 0, body: '' }))).status === 200, `${ip}:8080 to answer`, 20_000);
      assert.equal((await get(ip, '/')).body, `<h1>app</h1>\nhello from crib, says ${s.metadata?.name}\n`);
      assert.equal(await exec(s.id, 'echo $S_password $S_token'), 's3cret token\n');
      assert.equal(
        await exec(s.id, 'stat -L -c %a /etc/secret/pw /etc/secret/t/token; cat /etc/secret/t/token; echo; ls /etc/secret'),
        '400\n440\ntoken\npw\nt\n',
      );
      assert.equal(await exec(s.id, 'grep " /etc/secret " /proc/mounts | cut -d" " -f3'), 'tmpfs\n');
    }

    // Not ready until /ready.html appears; then `crib pods` and crib run's output say so.
    const before = await readyColumn();
    for (const n of names) assert.equal(before.get(n), '0/1', `no ready file yet: ${n}`);
    for (const s of sandboxes) await exec(s.id, 'echo ok > /www/ready.html');
    await waitFor(
      () => /Deployment app: 2\/2 pods ready/.test(run.out.stderr),
      () => `both pods to be ready:\n${run.out.stderr}`,
      20_000,
    );
    const ready = await readyColumn();
    for (const n of names) assert.equal(ready.get(n), '1/1', `ready: ${n}`);

    // Liveness: the page goes, the container is killed and restarted (at once, then after the back-off).
    const [first] = sandboxes;
    const who = `pod ${first?.metadata?.name}`;
    for (const restart of [1, 2]) {
      await exec(first?.id ?? '', 'rm /www/alive.html');
      await waitFor(
        () => new RegExp(`${who}: container "web" restarted \\(restart count ${restart}\\)`).test(run.out.stderr),
        () => `restart ${restart}:\n${run.out.stderr}`,
        30_000,
      );
    }
    assert.match(run.out.stderr, new RegExp(`${who}: container "web" failed its liveness probe 2 times; killing it`));
    assert.match(run.out.stderr, new RegExp(`${who}: back-off 1s restarting failed container "web"`), 'the second restart waits');
    assert.equal((await container(first?.id ?? '', 'web'))?.metadata?.attempt, 2);
    await waitFor(() => /Deployment app: 2\/2 pods ready[^]*Deployment app: 1\/2[^]*Deployment app: 2\/2/.test(run.out.stderr), 'ready again', 20_000);

    run.child.kill('SIGINT');
    assert.equal(await run.exited, 130, explain({ code: 130, ...run.out }));
    assert.deepEqual(await pods(), []);
    const written = fs.readFileSync(path.join(dataDir(), 'names'), 'utf8').trim().split('\n');
    assert.equal(written.length, 4, `each pod wrote its name to the claim on each start: ${written.join(', ')}`);
  });

  it('crib run -d, again refused, --replace, crib generate run again, crib down keeps the claim until --volumes', async () => {
    const page = async (id: string) => (await get(await podIP(id), '/')).body;
    const lines = () => (fs.existsSync(path.join(dataDir(), 'names')) ? fs.readFileSync(path.join(dataDir(), 'names'), 'utf8').trim().split('\n').length : 0);
    const written = lines();
    const r1 = await crib(['run', '-d', '-f', appFile()]);
    assert.equal(r1.code, 0, explain(r1));
    assert.match(r1.stderr, /crib supervise \(pid \d+\) watches these pods from now/);
    assert.equal((await pods()).length, 2);
    // The Secret's data, as written and decoded, is in no file on the disk: its volume and the
    // pods' records keep it on tmpfs (crib generate below still gives it back whole).
    for (const secret of ['s3cret', 'dG9rZW4=']) assert.deepEqual(onDiskHolding(secret), [], `${secret} on disk`);

    const again = await crib(['run', '-d', '-f', appFile()]);
    assert.equal(again.code, 1, explain(again));
    assert.match(again.stderr, /Deployment default\/app already runs \(pod app-/);
    assert.match(again.stderr, /tear it down first \(crib down -f FILE\), or run with --replace/);

    const old = new Set((await pods()).map((p) => p.id));
    const r2 = await crib(['run', '-d', '--replace', '-f', appFile()]);
    assert.equal(r2.code, 0, explain(r2));
    assert.match(r2.stderr, /--replace: tearing down 2 pods of an earlier run/);
    const now = await pods();
    assert.equal(now.length, 2);
    assert.ok(
      now.every((p) => !old.has(p.id)),
      'new pods',
    );

    // crib generate gives back a Pod with what it uses; run again, it serves the same page.
    const target = now[0];
    const name = target?.metadata?.name ?? '';
    await waitFor(async () => (await page(target?.id ?? '').catch(() => '')).includes('says'), 'the page', 20_000);
    const before = await page(target?.id ?? '');
    const gen = await crib(['generate', name]);
    assert.equal(gen.code, 0, explain(gen));
    const docs = parseAllDocuments(gen.stdout, { version: '1.1' }).map((d) => d.toJS() as { kind: string; metadata: { name: string } });
    assert.deepEqual(docs.map((d) => `${d.kind}/${d.metadata.name}`).sort(), [
      'ConfigMap/app-config',
      'PersistentVolumeClaim/app-data',
      `Pod/${name}`,
      'Secret/app-secret',
    ]);
    const genFile = path.join(h.base, 'generated.yaml');
    fs.writeFileSync(genFile, gen.stdout);

    const down = await crib(['down', '-f', appFile()]);
    assert.equal(down.code, 0, explain(down));
    assert.equal(down.stdout.match(/^pod "default\/app-[^"]+" deleted \(sandbox [0-9a-f]{13}\)$/gm)?.length, 2, down.stdout);
    assert.match(down.stderr, /kept the data of 1 PersistentVolumeClaim \(--volumes removes it\)/);
    assert.deepEqual(await pods(), []);
    assert.equal(lines(), written + 4, 'the claim outlives crib down and a --replace');

    const r3 = await crib(['run', '-d', '-f', genFile]);
    assert.equal(r3.code, 0, explain(r3));
    assert.equal(r3.stderr.match(/^warning: .*not supported/m), null, `generated YAML has no unsupported fields:\n${r3.stderr}`);
    const [rerun] = await pods();
    assert.equal(rerun?.metadata?.name, name);
    await waitFor(async () => (await page(rerun?.id ?? '').catch(() => '')).includes('says'), 'the page again', 20_000);
    assert.equal(await page(rerun?.id ?? ''), before);
    assert.equal(lines(), written + 5, 'the re-run pod found the data');
    const logs = await crib(['logs', name]);
    assert.equal(logs.stdout, `serving as ${name}\n`, explain(logs));
    const regen = await crib(['generate', name]);
    assert.equal(regen.stdout, gen.stdout, 'generate of the re-run pod gives the same YAML');

    const gone = await crib(['down', '--volumes', '-f', genFile]);
    assert.equal(gone.code, 0, explain(gone));
    assert.match(gone.stdout, /persistentvolumeclaim "default\/app-data" deleted, with its data/);
    assert.equal(fs.existsSync(dataDir()), false);
  });

  it("runs the README's example in the foreground: both replicas turn ready, each serves its page", async () => {
    const run = cribBackground(['run', '-f', path.join(repoRoot, 'examples', 'web-app.yaml')]);
    await waitFor(
      () => /Deployment web: 2\/2 pods ready/.test(run.out.stderr) || run.child.exitCode !== null,
      () => `2/2 ready:\n${run.out.stderr}`,
      60_000,
    );
    assert.equal(run.out.stderr.match(/^warning:/m), null, run.out.stderr);
    for (const s of await pods()) {
      assert.match((await get(await podIP(s.id), '/')).body, new RegExp(`hello from crib, says ${s.metadata?.name}`));
      assert.equal((await exec(s.id, 'stat -L -c %a /etc/secret/password')).trim(), '400');
    }
    run.child.kill('SIGTERM');
    assert.equal(await run.exited, 143, explain({ code: null, ...run.out }));
    assert.deepEqual(await pods(), []);
  });

  it('fails a Job whose pods fail past its backoffLimit: exit 1, BackoffLimitExceeded, nothing left', async () => {
    const file = path.join(h.base, 'doomed.yaml');
    fs.writeFileSync(file, DOOMED_JOB);
    const r = await crib(['run', '--backoff', '1s', '-f', file]);
    assert.equal(r.code, 1, explain(r));
    assert.equal(r.stderr.match(/Job doomed: pod doomed-[a-z0-9]{5} failed/g)?.length, 2, r.stderr);
    assert.match(r.stderr, /Job doomed: failed: BackoffLimitExceeded: Job has reached the specified backoff limit \(0 succeeded, 2 failed\)/);
    assert.doesNotMatch(r.stderr, /Job doomed: pod \S+ succeeded/);
    assert.equal(r.stdout.match(/trying/g)?.length, 2, 'two pods ran, no third');
    assert.deepEqual(await pods(), []);
  });

  it("starts a StatefulSet's pods in ordinal order, each after the one before it runs, and tears them down highest ordinal first", async () => {
    const file = path.join(h.base, 'sts.yaml');
    fs.writeFileSync(file, STATEFUL_SET);
    const r = await crib(['run', '-d', '-f', file]);
    assert.equal(r.code, 0, explain(r));
    const byName = new Map((await pods()).map((p) => [p.metadata?.name ?? '', p]));
    assert.deepEqual([...byName.keys()].sort(), ['db-0', 'db-1', 'db-2']);
    // OrderedReady, detached: pod N+1's sandbox is created only once pod N's container has started.
    for (const [prev, next] of [
      ['db-0', 'db-1'],
      ['db-1', 'db-2'],
    ] as const) {
      const prevPod = byName.get(prev);
      const started = (await container(prevPod?.id ?? '', 'c')) ?? assert.fail(`${prev} has no container`);
      const startedAt = (await call(h.runtime, 'ContainerStatus', { container_id: started.id })).status?.started_at ?? '0';
      assert.ok(BigInt(startedAt) > 0n, `${prev} started`);
      assert.ok(BigInt(byName.get(next)?.created_at ?? 0) > BigInt(startedAt), `${next} was created after ${prev}'s container started`);
    }
    const down = await crib(['down', '-f', file]);
    assert.equal(down.code, 0, explain(down));
    const order = [...down.stdout.matchAll(/pod "default\/(db-\d)" deleted/g)].map((m) => m[1]);
    assert.deepEqual(order, ['db-2', 'db-1', 'db-0'], down.stdout);
  });

  it('runs a Job that fails twice, then succeeds within its backoffLimit', async () => {
    const file = path.join(h.base, 'job.yaml');
    fs.writeFileSync(file, JOB);
    const started = Date.now();
    const r = await crib(['run', '--backoff', '1s', '-f', file]);
    assert.equal(r.code, 0, explain(r));
    assert.match(r.stderr, /Job flaky: wants 1 completion, 1 at a time, backoffLimit 3/);
    assert.equal(r.stderr.match(/Job flaky: pod flaky-[a-z0-9]{5} failed/g)?.length, 2, r.stderr);
    assert.match(r.stderr, /back-off 1s before the next pod[^]*back-off 2s before the next pod/, 'the back-off doubles');
    assert.match(r.stderr, /Job flaky: complete \(1 succeeded, 2 failed\)/);
    assert.match(r.stdout, /attempt 3/);
    assert.ok(Date.now() - started >= 3000, 'waited 1 s and 2 s between pods');
    assert.deepEqual(await pods(), []);
    const down = await crib(['down', '--volumes', '-f', file]);
    assert.match(down.stdout, /persistentvolumeclaim "default\/job-state" deleted/, explain(down));
  });
});
