// The node's supervisor (crib supervise), end to end on a real cribd: what `crib run -d` starts is
// probed, restarted and followed with no foreground command, READY and RESTARTS of `crib pods` say
// so, a detached Job's result comes from its pod's real exit, `crib down` ends the care, a file of
// the manifest directory runs while it is there, and a restarted supervisor (or cribd) takes the
// same pods over again rather than making new ones. Each test ends the supervisor it started.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { call } from '../src/client/client.js';
import { lockHolder } from '../src/kube/supervisor/lock.js';
import { cribRunSuite, type BackgroundCli } from './support/crib-cli.js';
import { waitFor } from './support/wait-for.js';

const IMAGE = 'localhost/crib/examples:busybox';

/** Ready once /tmp/ready exists, alive while /tmp/alive does; a new container makes both again after 1 s. */
const PROBED = `apiVersion: apps/v1
kind: Deployment
metadata: {name: probed}
spec:
  replicas: 1
  selector: {matchLabels: {app: probed}}
  template:
    metadata: {labels: {app: probed}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: app
          image: ${IMAGE}
          command: [sh, -c, 'trap "exit 0" TERM; touch /tmp/alive; sleep 1; touch /tmp/ready; while :; do sleep 1; done']
          env: [{name: TOKEN, valueFrom: {secretKeyRef: {name: probed-secret, key: token}}}]
          readinessProbe: {exec: {command: [test, -f, /tmp/ready]}, periodSeconds: 1}
          livenessProbe: {exec: {command: [test, -f, /tmp/alive]}, periodSeconds: 1, failureThreshold: 2}
---
apiVersion: v1
kind: Secret
metadata: {name: probed-secret}
stringData: {token: s3cret-t0ken}
`;

/** Files under DIR whose bytes hold `text`. */
function filesHolding(dir: string, text: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name))
    .filter((f) => fs.readFileSync(f).includes(text));
}

const FAILING_JOB = `apiVersion: batch/v1
kind: Job
metadata: {name: fails}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 1
      containers: [{name: try, image: "${IMAGE}", command: [sh, -c, 'sleep 2; exit 3']}]
`;

/** Every minute, a Job that says so and succeeds; one finished Job kept as history. */
const CRONJOB = `apiVersion: batch/v1
kind: CronJob
metadata: {name: tick}
spec:
  schedule: "*/1 * * * *"
  successfulJobsHistoryLimit: 1
  jobTemplate:
    spec:
      backoffLimit: 0
      template:
        spec:
          restartPolicy: Never
          terminationGracePeriodSeconds: 1
          containers: [{name: c, image: "${IMAGE}", command: [sh, -c, 'echo tick']}]
`;

interface JobsJson {
  items: { name: string; cronJob?: string; status: string; pods: { exitCodes: Record<string, number> }[] }[];
}

const STATIC_POD = `apiVersion: v1
kind: Pod
metadata: {name: static-web}
spec:
  terminationGracePeriodSeconds: 1
  containers: [{name: web, image: "${IMAGE}", command: [sh, -c, 'trap "exit 0" TERM; while :; do sleep 1; done']}]
`;

describe('crib supervise', () => {
  const { h, crib, background, manifest, explain } = cribRunSuite(IMAGE);
  const manifestDir = () => path.join(h.base, 'manifests');

  /** A supervisor of the test's own (ended by the suite's afterEach, by its pid, if the test does not). */
  async function startSupervisor(): Promise<BackgroundCli> {
    fs.mkdirSync(manifestDir(), { recursive: true });
    const s = background(['supervise', '--manifest-dir', manifestDir(), '--scan', '300']);
    await waitFor(
      async () => (await lockHolder(h.root)) === s.child.pid,
      () => `the supervisor to take its lock:\n${s.out.stderr}`,
      20_000,
    );
    return s;
  }

  async function stopSupervisor(s: BackgroundCli): Promise<void> {
    s.child.kill('SIGTERM');
    assert.equal(await s.exited, 0, s.out.stderr);
  }

  /** READY and RESTARTS of `crib pods` for the pod whose name starts with `prefix`. */
  async function podRow(prefix: string): Promise<{ ready: string; restarts: number } | undefined> {
    const r = await crib(['pods']);
    const line = r.stdout.split('\n').find((l) => l.includes(` ${prefix}`));
    const m = line ? /\s(\d+\/\d+)\s+(\d+)\s+\S/.exec(line) : null;
    return m ? { ready: m[1] ?? '', restarts: Number(m[2]) } : undefined;
  }

  const sandboxes = async () => (await call(h.runtime, 'ListPodSandbox', {})).items;

  it('probes and restarts a -d Deployment with no foreground command: READY 1/1, 0/1, a liveness restart; crib down ends the care', async () => {
    const s = await startSupervisor();
    const file = manifest(PROBED);
    const r = await crib(['run', '-d', '--backoff', '1s', '-f', file]);
    assert.equal(r.code, 0, explain(r));
    assert.match(r.stderr, new RegExp(`crib supervise \\(pid ${s.child.pid}\\) watches these pods`), explain(r));
    const [sb] = await sandboxes();
    const name = sb?.metadata?.name ?? '';

    await waitFor(
      async () => (await podRow('probed-'))?.ready === '1/1',
      () => `READY 1/1:\n${s.out.stderr}`,
      20_000,
    );
    await crib(['exec', name, '--', 'rm', '/tmp/ready']);
    await waitFor(
      async () => (await podRow('probed-'))?.ready === '0/1',
      () => `READY 0/1 once the probe fails:\n${s.out.stderr}`,
      20_000,
    );
    await crib(['exec', name, '--', 'touch', '/tmp/ready']);
    await waitFor(
      async () => (await podRow('probed-'))?.ready === '1/1',
      () => `READY 1/1 again:\n${s.out.stderr}`,
      20_000,
    );

    await crib(['exec', name, '--', 'rm', '/tmp/alive']);
    await waitFor(
      async () => (await podRow('probed-'))?.restarts === 1,
      () => `a liveness restart:\n${s.out.stderr}`,
      30_000,
    );
    assert.match(s.out.stderr, /container "app" failed its liveness probe 2 times; killing it/);
    await waitFor(
      async () => (await podRow('probed-'))?.ready === '1/1',
      () => `ready after the restart:\n${s.out.stderr}`,
      20_000,
    );
    assert.equal((await sandboxes()).length, 1, 'the same pod, restarted in place');
    assert.match((await crib(['exec', name, '--', 'sh', '-c', 'echo $TOKEN'])).stdout, /s3cret-t0ken/, "the restart's env has the Secret");
    assert.deepEqual(filesHolding(path.join(h.root, 'kube'), 's3cret-t0ken'), [], 'the run record keeps no Secret on the disk');

    const d = await crib(['down', '-f', file]);
    assert.equal(d.code, 0, explain(d));
    await waitFor(
      () => /was taken down \(crib down\); no longer watched/.test(s.out.stderr),
      () => `the supervisor lets go:\n${s.out.stderr}`,
      10_000,
    );
    assert.deepEqual(await sandboxes(), []);
    await stopSupervisor(s);
  });

  it('a -d Job gets its real result in crib jobs; a restarted supervisor takes the pods over again rather than making new ones', async () => {
    let s = await startSupervisor();
    const job = manifest(FAILING_JOB);
    const web = manifest(PROBED);
    for (const f of [job, web]) {
      const r = await crib(['run', '-d', '-f', f]);
      assert.equal(r.code, 0, explain(r));
    }
    await waitFor(
      async () => /fails\s+Failed\s+0\/1/.test((await crib(['jobs'])).stdout),
      async () => `the Job's failure:\n${(await crib(['jobs'])).stdout}\n${s.out.stderr}`,
      30_000,
    );
    await waitFor(
      async () => (await podRow('probed-'))?.ready === '1/1',
      () => `READY 1/1:\n${s.out.stderr}`,
      20_000,
    );

    await stopSupervisor(s);
    const before = (await sandboxes()).map((p) => p.id).sort();
    s = await startSupervisor();
    await waitFor(
      () => /pod probed-[^:]*: taken over/.test(s.out.stderr),
      () => `taken over again:\n${s.out.stderr}`,
      20_000,
    );
    assert.deepEqual((await sandboxes()).map((p) => p.id).sort(), before, 'no pod made anew');
    const [probed] = (await sandboxes()).filter((p) => p.metadata?.name.startsWith('probed-'));
    await crib(['exec', probed?.metadata?.name ?? '', '--', 'rm', '/tmp/ready']);
    await waitFor(
      async () => (await podRow('probed-'))?.ready === '0/1',
      () => `probed again after the restart:\n${s.out.stderr}`,
      20_000,
    );

    // cribd restarts: the supervisor takes the pods over again once it answers.
    await h.stopDaemon();
    await h.start();
    await crib(['exec', probed?.metadata?.name ?? '', '--', 'touch', '/tmp/ready']);
    await waitFor(
      async () => (await podRow('probed-'))?.ready === '1/1',
      () => `probed after cribd's restart:\n${s.out.stderr}`,
      30_000,
    );
    for (const f of [job, web]) assert.equal((await crib(['down', '-f', f])).code, 0);
    await stopSupervisor(s);
  });

  it('runs a -d CronJob with no foreground command, across its own restart: each start once, the kept Job counted for the history limit', async () => {
    const started = Date.now();
    let s = await startSupervisor();
    const file = manifest(CRONJOB);
    const r = await crib(['run', '-d', '-f', file]);
    assert.equal(r.code, 0, explain(r));
    const starts = (out: string) => [...out.matchAll(/CronJob tick: starting Job (tick-\d+)/g)].map((x) => x[1] ?? '');
    const jobs = async () => JSON.parse((await crib(['jobs', '-o', 'json'])).stdout) as JobsJson;
    // The first start comes at the first minute after the run began: within 60 s (and the image check).
    // Complete in crib jobs (its pod's record) and to the controller (counted for the history limit).
    await waitFor(
      async () => (await jobs()).items.some((j) => j.status === 'Complete') && /Job tick-\d+: complete/.test(s.out.stderr),
      async () => `the first Job to complete:\n${JSON.stringify(await jobs())}\n${s.out.stderr}`,
      90_000,
    );
    const [first = ''] = starts(s.out.stderr);
    assert.ok(first, s.out.stderr);
    // The supervisor's end leaves the Job's pod as it is.
    await stopSupervisor(s);
    assert.equal((await sandboxes()).filter((p) => p.metadata?.name.startsWith(`${first}-`)).length, 1, `${first}'s pod kept:\n${s.out.stderr}`);

    s = await startSupervisor();
    // The next minute's Job, and the first is not started again: the last start time was kept.
    await waitFor(
      () => starts(s.out.stderr).length > 0,
      () => `the second start:\n${s.out.stderr}`,
      150_000 - (Date.now() - started),
    );
    const [second = ''] = starts(s.out.stderr);
    assert.equal(Number(second.split('-')[1]) - Number(first.split('-')[1]), 1, `the next minute's Job:\n${s.out.stderr}`);
    // The kept Job counts for successfulJobsHistoryLimit 1: once the second completes, the first goes with its pod.
    let listed: JobsJson = { items: [] };
    await waitFor(
      async () => {
        listed = await jobs();
        return listed.items.length === 1 && listed.items[0]?.status === 'Complete';
      },
      () => `only ${second} left, complete:\n${JSON.stringify(listed)}\n${s.out.stderr}`,
      60_000,
    );
    assert.equal(listed.items[0]?.name, second);
    assert.equal(listed.items[0]?.cronJob, 'tick');
    assert.deepEqual(
      listed.items[0]?.pods.map((p) => p.exitCodes),
      [{ c: 0 }],
      'the real exit code',
    );
    assert.match(s.out.stderr, new RegExp(`CronJob tick: removing Job ${first}\\b`));

    assert.equal((await crib(['down', '-f', file])).code, 0);
    await waitFor(
      () => /run [0-9a-f]+ was taken down \(crib down\); no longer watched/.test(s.out.stderr),
      () => `let go:\n${s.out.stderr}`,
      10_000,
    );
    assert.deepEqual(await sandboxes(), [], 'crib down removes its Jobs');
    await stopSupervisor(s);
  });

  it('runs a file put in the manifest directory while it is there; a bad one is a message naming the document and field, and starts nothing', async () => {
    const s = await startSupervisor();
    fs.writeFileSync(path.join(manifestDir(), 'bad.yaml'), STATIC_POD.replace('terminationGracePeriodSeconds: 1', 'terminationGracePeriodSeconds: soon'));
    await waitFor(
      () => /bad\.yaml: spec\.terminationGracePeriodSeconds: .*; not started/.test(s.out.stderr),
      () => `the bad file's message:\n${s.out.stderr}`,
      10_000,
    );
    assert.deepEqual(await sandboxes(), [], 'nothing half-started');

    const file = path.join(manifestDir(), 'web.yaml');
    fs.writeFileSync(file, STATIC_POD);
    await waitFor(
      async () => (await sandboxes()).some((p) => p.metadata?.name === 'static-web' && p.state === 0),
      () => `the static pod:\n${s.out.stderr}`,
      30_000,
    );
    await waitFor(
      () => /pod static-web: taken over/.test(s.out.stderr),
      () => `watched:\n${s.out.stderr}`,
      10_000,
    );
    fs.rmSync(file);
    await waitFor(
      async () => (await sandboxes()).length === 0,
      () => `torn down once removed:\n${s.out.stderr}`,
      30_000,
    );
    await stopSupervisor(s);
  });
});
