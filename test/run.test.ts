// `crib run` / `crib delete` end to end: the real CLI (node bin/crib) against a real cribd of the
// harness, with the busybox image imported under the examples' name.
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { call } from '../src/cli/client.js';
import { repoRoot } from '../src/util/paths.js';
import { Harness } from './support/harness.js';
import { cribCli, type CliResult } from './support/crib-cli.js';
import { importBusybox } from './support/busybox-image.js';
import { waitFor } from './support/wait-for.js';
import { assertPauseLast, watchExits } from './support/exit-watch.js';

const IMAGE = 'localhost/crib/examples:busybox';

describe('crib run', () => {
  const h = new Harness();
  const { crib, background: cribBackground, killAll } = cribCli(h);
  let n = 0;

  before(async () => {
    await h.start();
    await importBusybox(h, IMAGE);
  });
  after(() => h.cleanup());
  afterEach(async () => {
    killAll();
    for (const p of (await call(h.runtime, 'ListPodSandbox', {})).items) await call(h.runtime, 'RemovePodSandbox', { pod_sandbox_id: p.id });
    await h.assertNoLeaks();
  });

  function manifest(yaml: string): string {
    const file = path.join(h.base, `pod-${++n}.yaml`);
    fs.writeFileSync(file, yaml);
    return file;
  }

  const pods = async () => (await call(h.runtime, 'ListPodSandbox', {})).items;
  const explain = (r: CliResult) => `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}\n--- cribd\n${h.logTail(15)}`;

  /** The log file of a container of the pod, by name (its current attempt). */
  async function logOf(podId: string, name: string): Promise<string> {
    const list = await call(h.runtime, 'ListContainers', { filter: { pod_sandbox_id: podId, label_selector: { 'io.kubernetes.container.name': name } } });
    const c = list.containers[0];
    if (!c) return '';
    const st = await call(h.runtime, 'ContainerStatus', { container_id: c.id });
    try {
      return fs.readFileSync(st.status?.log_path ?? '', 'utf8');
    } catch {
      return '';
    }
  }

  it('runs the web-sidecar example detached: the sidecar gets the page over localhost; crib delete -f tears it down', async () => {
    const file = path.join(repoRoot, 'examples', 'web-sidecar.yaml');
    const r = await crib(['run', '-d', file]);
    assert.equal(r.code, 0, explain(r));
    const id = r.stdout.trim();
    assert.match(id, /^[0-9a-f]{64}$/, explain(r));
    assert.equal(r.stderr.match(/^warning:/m), null, `the example has no unsupported fields:\n${r.stderr}`);
    const [sb] = await pods();
    assert.equal(sb?.id, id);
    assert.equal(sb?.metadata?.name, 'web-sidecar');
    assert.equal(sb?.labels['io.kubernetes.pod.name'], 'web-sidecar');
    assert.equal(sb?.labels['io.kubernetes.pod.uid'], sb?.metadata?.uid);
    const uid = sb?.metadata?.uid ?? '';
    assert.match(uid, /^[0-9a-f-]{36}$/);

    await waitFor(async () => /stdout F got: hello from the web container/.test(await logOf(id, 'sidecar')), 'the sidecar to get the page', 30_000);
    assert.match(await logOf(id, 'sidecar'), /stdout F sidecar of web-sidecar at \d+\.\d+\.\d+\.\d+/, 'fieldRef env and $(VAR) expansion');
    const logDir = `/var/log/pods/default_web-sidecar_${uid}`;
    assert.ok(fs.existsSync(path.join(logDir, 'sidecar', '0.log')), "kubelet's log layout");

    const ctrs = (await call(h.runtime, 'ListContainers', { filter: { pod_sandbox_id: id } })).containers;
    const web = ctrs.find((c) => c.metadata?.name === 'web');
    assert.equal(web?.annotations['io.kubernetes.pod.terminationGracePeriod'], '5');
    assert.equal(web?.labels['io.kubernetes.pod.namespace'], 'default');

    const exits = watchExits(h.state);
    let d: CliResult;
    try {
      d = await crib(['delete', '-f', file]);
      await assertPauseLast(
        exits,
        id,
        ctrs.map((c) => c.id),
      );
    } finally {
      exits.close();
    }
    assert.equal(d.code, 0, explain(d));
    assert.match(d.stdout, /pod "default\/web-sidecar" deleted/);
    const order = /stop order.*:\n(.*\n){3}/.exec(d.stderr)?.[0] ?? '';
    assert.match(order, /1\. "sidecar".*\n.*2\. "web".*\n.*3\. pause/, `the report: newest first, pause last:\n${d.stderr}`);
    assert.deepEqual(await pods(), []);
    assert.equal(fs.existsSync(logDir), false, 'the pod log directory is removed');
    const again = await crib(['delete', 'web-sidecar']);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /pod "web-sidecar" not found in namespace "default"/);
  });

  it('runs the shared-pid example: the sidecar sees /pause as PID 1 and the app', async () => {
    const r = await crib(['run', '-d', path.join(repoRoot, 'examples', 'shared-pid.yaml')]);
    assert.equal(r.code, 0, explain(r));
    const id = r.stdout.trim();
    await waitFor(async () => /sleep 3600/.test(await logOf(id, 'sidecar')), 'the sidecar to list the processes', 30_000);
    const log = await logOf(id, 'sidecar');
    assert.match(log, /stdout F\s+1 root\s+\/pause$/m, log);
    assert.match(log, /stdout F\s+\d+ root\s+sleep 3600$/m, log);
    const d = await crib(['delete', id.slice(0, 12)]); // by id prefix
    assert.equal(d.code, 0, explain(d));
    assert.deepEqual(await pods(), []);
  });

  it('runs init containers in order before the app containers, sharing an emptyDir', async () => {
    const file = manifest(`apiVersion: v1
kind: Pod
metadata: {name: inits}
spec:
  restartPolicy: Never
  volumes: [{name: work, emptyDir: {}}]
  initContainers:
    - name: first
      image: ${IMAGE}
      command: [sh, -c, 'echo "first ran"; echo first >> /work/order']
      volumeMounts: [{name: work, mountPath: /work}]
    - name: second
      image: ${IMAGE}
      command: [sh, -c, 'sleep 0.3; echo "second ran"; echo second >> /work/order']
      volumeMounts: [{name: work, mountPath: /work}]
  containers:
    - name: main
      image: ${IMAGE}
      command: [sh, -c, 'echo "main sees: $(tr "\\n" " " < /work/order)"; touch /work/main-was-here']
      volumeMounts: [{name: work, mountPath: /work}]
`);
    const r = await crib(['run', file]);
    assert.equal(r.code, 0, explain(r));
    const lines = r.stdout.split('\n');
    const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
    assert.ok(at(/^\[first\] first ran$/) >= 0, explain(r));
    assert.ok(at(/^\[first\] first ran$/) < at(/^\[second\] second ran$/), explain(r));
    assert.ok(at(/^\[second\] second ran$/) < at(/^\[main\] main sees: first second $/), explain(r));
    const st = r.stderr;
    assert.ok(st.indexOf('init container "first" completed') < st.indexOf('init container "second" started'), st);
    assert.ok(st.indexOf('init container "second" completed') < st.indexOf('container "main" started'), st);
    assert.match(st, /all containers completed successfully/);
    assert.deepEqual(await pods(), [], 'torn down once the pod finished');
    const podsDir = path.join(h.root, 'pods');
    assert.deepEqual(fs.existsSync(podsDir) ? fs.readdirSync(podsDir) : [], [], 'the emptyDir is removed');
  });

  it('reports a failing init container and never creates the app containers', async () => {
    const marker = fs.mkdtempSync(path.join(h.base, 'never-'));
    const file = manifest(`apiVersion: v1
kind: Pod
metadata: {name: badinit}
spec:
  restartPolicy: Never
  volumes: [{name: host, hostPath: {path: ${marker}, type: Directory}}]
  initContainers:
    - name: setup
      image: ${IMAGE}
      command: [sh, -c, 'echo "setting up"; echo "setup broke" >&2; exit 3']
  containers:
    - name: app
      image: ${IMAGE}
      command: [sh, -c, 'touch /host/app-ran']
      volumeMounts: [{name: host, mountPath: /host}]
`);
    const r = await crib(['run', '-d', file]);
    assert.equal(r.code, 1, explain(r));
    assert.match(r.stderr, /init container "setup" failed with exit code 3 \(Error\); its last log lines:\n {2}\| setting up\n {2}\| setup broke/, explain(r));
    assert.match(r.stderr, /restartPolicy is Never: the pod failed; its containers \(app\) are not started/);
    assert.doesNotMatch(r.stderr, /container "app" started/);
    assert.equal(r.stdout, '', 'no pod id: it did not start');
    assert.equal(fs.existsSync(path.join(marker, 'app-ran')), false, 'the app container never ran');
    assert.deepEqual(await pods(), []);
  });

  it('retries a failed init container (restartPolicy Always) before starting the app', async () => {
    const file = manifest(`apiVersion: v1
kind: Pod
metadata: {name: retryinit}
spec:
  terminationGracePeriodSeconds: 2
  volumes: [{name: state, emptyDir: {}}]
  initContainers:
    - name: wait-for-it
      image: ${IMAGE}
      command: [sh, -c, 'if [ -e /state/tried ]; then echo "ready now"; exit 0; fi; touch /state/tried; echo "not ready"; exit 1']
      volumeMounts: [{name: state, mountPath: /state}]
  containers:
    - name: app
      image: ${IMAGE}
      command: [sh, -c, 'echo app up; trap "exit 0" TERM; while true; do sleep 0.1; done']
`);
    const r = await crib(['run', '-d', file]);
    assert.equal(r.code, 0, explain(r));
    assert.match(r.stderr, /init container "wait-for-it" failed with exit code 1 \(Error\); its last log lines:\n {2}\| not ready\n/);
    assert.match(r.stderr, /init container "wait-for-it" started \(restart 1\)\n.*init container "wait-for-it" completed\n.*container "app" started/);
    const id = r.stdout.trim();
    const inits = (
      await call(h.runtime, 'ListContainers', { filter: { pod_sandbox_id: id, label_selector: { 'io.kubernetes.container.name': 'wait-for-it' } } })
    ).containers;
    assert.deepEqual(
      inits.map((c) => c.metadata?.attempt),
      [1],
      'the failed attempt was removed, the retry is attempt 1',
    );
    assert.equal((await crib(['delete', 'retryinit'])).code, 0);
  });

  it('restartPolicy OnFailure restarts a container that exits 1 as a new attempt until it succeeds', async () => {
    const dir = fs.mkdtempSync(path.join(h.base, 'flaky-'));
    const file = manifest(`apiVersion: v1
kind: Pod
metadata: {name: flaky}
spec:
  restartPolicy: OnFailure
  volumes: [{name: state, hostPath: {path: ${dir}}}]
  containers:
    - name: flaky
      image: ${IMAGE}
      command: [sh, -c]
      args:
        - |
          echo "run $(ls /state | wc -l)"
          if [ -e /state/marker ]; then echo "second time lucky"; exit 0; fi
          touch /state/marker; echo "failing once"; exit 1
      volumeMounts: [{name: state, mountPath: /state}]
`);
    const r = await crib(['run', file]);
    assert.equal(r.code, 0, explain(r));
    assert.match(r.stderr, /container "flaky" exited with code 1 \(Error\)\n/);
    assert.match(r.stderr, /container "flaky" restarted \(restart count 1\)/);
    assert.match(r.stderr, /container "flaky" exited with code 0 \(Completed\); restartPolicy OnFailure: not restarted/);
    assert.match(r.stdout, /\[flaky\] run 0\n\[flaky\] failing once\n(.*\n)*\[flaky\] run 1\n\[flaky\] second time lucky\n/, explain(r));
    assert.deepEqual(await pods(), []);
  });

  it('restartPolicy Never with a failing container tears down and exits 1', async () => {
    const file = manifest(
      `apiVersion: v1\nkind: Pod\nmetadata: {name: fails}\nspec:\n  restartPolicy: Never\n  containers:\n    - {name: ok, image: ${IMAGE}, command: ["true"]}\n    - {name: bad, image: ${IMAGE}, command: [sh, -c, 'exit 7']}\n`,
    );
    const r = await crib(['run', file]);
    assert.equal(r.code, 1, explain(r));
    assert.match(r.stderr, /failed: "bad" \(exit code 7\)/);
    assert.deepEqual(await pods(), []);
  });

  /**
   * A pod whose container notes (in DIR/order, with the node's uptime) when it gets SIGTERM, with
   * the given preStop handler (YAML under `preStop:`); running detached and ready.
   */
  async function preStopPod(dir: string, handler: string): Promise<void> {
    const file = manifest(`apiVersion: v1
kind: Pod
metadata: {name: hooks}
spec:
  terminationGracePeriodSeconds: 10
  volumes: [{name: shared, hostPath: {path: ${dir}, type: DirectoryOrCreate}}]
  containers:
    - name: svc
      image: ${IMAGE}
      command: [sh, -c]
      args:
        - |
          trap 'echo "term $(cut -d" " -f1 /proc/uptime)" >> /shared/order; exit 0' TERM
          echo ready
          while true; do sleep 0.1; done
      lifecycle:
        preStop:
          ${handler}
      volumeMounts: [{name: shared, mountPath: /shared}]
`);
    const r = await crib(['run', '-d', file]);
    assert.equal(r.code, 0, explain(r));
    await waitFor(async () => /ready/.test(await logOf(r.stdout.trim(), 'svc')), 'the container to be ready', 30_000);
  }

  /** The DIR/order lines as [event, uptime]. */
  const orderIn = (dir: string) =>
    fs
      .readFileSync(path.join(dir, 'order'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split(' ') as [string, string]);

  /** The node's uptime in seconds: the clock the containers' notes use. */
  const uptime = () => Number(fs.readFileSync('/proc/uptime', 'utf8').split(' ')[0]);

  it('runs the preStop exec hook before the container gets SIGTERM', async () => {
    const dir = fs.mkdtempSync(path.join(h.base, 'prestop-'));
    await preStopPod(dir, `exec: {command: [sh, -c, 'echo "prestop $(cut -d" " -f1 /proc/uptime)" >> /shared/order; sleep 1']}`);
    const d = await crib(['delete', 'hooks']);
    assert.equal(d.code, 0, explain(d));
    assert.match(d.stderr, /preStop hook of "svc": exec/);
    const order = orderIn(dir);
    assert.deepEqual(
      order.map((o) => o[0]),
      ['prestop', 'term'],
      `the preStop hook ran first:\n${order.join('\n')}`,
    );
    assert.ok(Number(order[1]?.[1]) - Number(order[0]?.[1]) >= 0.9, `SIGTERM came after the hook finished: ${JSON.stringify(order)}`);
    assert.match(d.stderr, /1\. "svc".*exit code 0 \(Completed\)/, d.stderr);
  });

  it('waits out a preStop sleep hook before the container gets SIGTERM', async () => {
    const dir = fs.mkdtempSync(path.join(h.base, 'prestop-sleep-'));
    await preStopPod(dir, 'sleep: {seconds: 2}');
    const deleting = uptime();
    const d = await crib(['delete', 'hooks']);
    assert.equal(d.code, 0, explain(d));
    assert.match(d.stderr, /preStop hook of "svc": sleeping 2s/);
    const order = orderIn(dir);
    assert.deepEqual(
      order.map((o) => o[0]),
      ['term'],
    );
    const waited = Number(order[0]?.[1]) - deleting;
    assert.ok(waited >= 2, `SIGTERM came ${waited} s after the delete began, not after the 2 s sleep`);
  });

  it('backs a crash-looping container off (restartPolicy Always): the second restart waits 10 s, the next back-off is longer', async () => {
    const dir = fs.mkdtempSync(path.join(h.base, 'crashloop-'));
    const file = manifest(`apiVersion: v1
kind: Pod
metadata: {name: crashloop}
spec:
  restartPolicy: Always
  terminationGracePeriodSeconds: 1
  volumes: [{name: state, hostPath: {path: ${dir}}}]
  containers:
    - name: crash
      image: ${IMAGE}
      command: [sh, -c, 'cut -d" " -f1 /proc/uptime >> /state/starts; exit 1']
      volumeMounts: [{name: state, mountPath: /state}]
`);
    const run = cribBackground(['run', file]);
    const backOffs = () => [...run.out.stderr.matchAll(/back-off (\d+)s restarting failed container "crash"/g)].map((m) => Number(m[1]));
    await waitFor(
      () => backOffs().length >= 2 || run.child.exitCode !== null,
      () => `two back-offs:\n${run.out.stderr}`,
      120_000,
    );
    // The first restart is immediate, the second waits its back-off, and the third's is longer.
    const starts = fs.readFileSync(path.join(dir, 'starts'), 'utf8').trim().split('\n').map(Number);
    assert.equal(starts.length, 3, `three runs so far: ${starts.join(', ')}`);
    const [first = 0, second = 0] = backOffs();
    assert.ok(first > 0 && first <= 10 && second > 10 && second <= 20, `back-offs of 10 s then 20 s: ${backOffs().join(', ')}`);
    const waited = (starts[2] ?? 0) - (starts[1] ?? 0);
    assert.ok(waited >= 9.9, `the second restart came ${waited} s after the first, not after the 10 s back-off`);
    assert.match(
      run.out.stderr,
      /container "crash" restarted \(restart count 1\)\n(.*\n)*.*back-off \d+s restarting failed container "crash"\n(.*\n)*.*restarted \(restart count 2\)/,
    );
    const ctrs = (await call(h.runtime, 'ListContainers', {})).containers;
    assert.deepEqual(
      ctrs.map((c) => c.metadata?.attempt),
      [2],
      'each restart is a new attempt; the old ones are removed',
    );

    run.child.kill('SIGTERM');
    const code = await run.exited;
    assert.equal(code, 0, explain({ code, ...run.out }));
    assert.deepEqual(await pods(), []);
  });

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`tears a foreground run down on ${signal}: exit 0, logs followed until then, pause stopped last, nothing left`, async () => {
      const run = cribBackground(['run', path.join(repoRoot, 'examples', 'web-sidecar.yaml')]);
      await waitFor(
        () => /^\[sidecar\] got: hello from the web container$/m.test(run.out.stdout) || run.child.exitCode !== null,
        'the sidecar to print the page',
        30_000,
      );
      assert.match(run.out.stdout, /^\[sidecar\] sidecar of web-sidecar at /m);
      const [sb] = await pods();
      assert.ok(sb);
      const ctrs = (await call(h.runtime, 'ListContainers', { filter: { pod_sandbox_id: sb.id } })).containers.map((c) => c.id);
      const exits = watchExits(h.state);
      let code: number | null;
      try {
        run.child.kill(signal);
        code = await run.exited;
        await assertPauseLast(exits, sb.id, ctrs);
      } finally {
        exits.close();
      }
      const r = { code, ...run.out };
      assert.equal(code, 0, explain(r));
      assert.match(r.stderr, new RegExp(`${signal}: tearing down`));
      assert.match(r.stdout, /^\[sidecar\] sidecar: SIGTERM, bye$/m, 'the last lines are printed before the logs go');
      assert.match(r.stderr, /stop order.*:\n.*1\. "sidecar".*\n.*2\. "web".*\n.*3\. pause/, explain(r));
      assert.match(r.stderr, /removed \(sandbox [0-9a-f]{13}\)/);
      assert.deepEqual(await pods(), []);
    });
  }

  it('warns about unsupported fields, and refuses them with --strict before creating anything', async () => {
    const file = manifest(`apiVersion: v1
kind: Pod
metadata: {name: probed}
spec:
  terminationGracePeriodSeconds: 2
  containers:
    - name: c
      image: ${IMAGE}
      command: [sleep, "1000"]
      terminationMessagePolicy: File
`);
    const strict = await crib(['run', '--strict', '-d', file]);
    assert.equal(strict.code, 2, explain(strict));
    assert.match(strict.stderr, /^error: spec\.containers\[0\]\.terminationMessagePolicy is not supported by crib run$/m);
    assert.deepEqual(await pods(), [], 'nothing was created');

    const r = await crib(['run', '-d', file]);
    assert.equal(r.code, 0, explain(r));
    assert.match(r.stderr, /^warning: spec\.containers\[0\]\.terminationMessagePolicy is not supported by crib run; ignored$/m);
    assert.equal((await pods()).length, 1);
    const d = await crib(['delete', 'probed']);
    assert.equal(d.code, 0, explain(d));
  });

  it('refuses malformed YAML and an invalid Pod with a clear error, creating nothing', async () => {
    const bad = manifest('apiVersion: v1\nkind: Pod\nmetadata:\n  name: broken\nspec:\n  containers:\n    - name: c\n      image: [unclosed\n');
    const r = await crib(['run', bad]);
    assert.equal(r.code, 2, explain(r));
    assert.match(r.stderr, /pod-\d+\.yaml: malformed YAML at line \d+, column \d+/);
    const invalid = manifest(
      `apiVersion: v1\nkind: Pod\nmetadata: {name: dup}\nspec:\n  containers:\n    - {name: c, image: ${IMAGE}}\n    - {name: c, image: ${IMAGE}}\n`,
    );
    const r2 = await crib(['run', invalid]);
    assert.equal(r2.code, 2, explain(r2));
    assert.match(r2.stderr, /spec\.containers\[1\]\.name: "c" is already the name of spec\.containers\[0\]/);
    const missing = await crib(['run', path.join(h.base, 'no-such.yaml')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /cannot read .*no-such\.yaml: no such file/);
    assert.deepEqual(await pods(), []);
  });

  it('fails clearly on a missing image with imagePullPolicy Never, leaving nothing behind', async () => {
    const file = manifest(`apiVersion: v1
kind: Pod
metadata: {name: noimage}
spec:
  volumes: [{name: scratch, emptyDir: {}}]
  containers:
    - name: c
      image: localhost/crib/not-there:1
      imagePullPolicy: Never
      volumeMounts: [{name: scratch, mountPath: /scratch}]
`);
    const r = await crib(['run', file]);
    assert.equal(r.code, 1, explain(r));
    assert.match(r.stderr, /image "localhost\/crib\/not-there:1" is not present and its imagePullPolicy is Never \(container "c" of Pod noimage\)/);
    assert.deepEqual(await pods(), []);
    const podsDir = path.join(h.root, 'pods');
    assert.deepEqual(fs.existsSync(podsDir) ? fs.readdirSync(podsDir) : [], [], 'no volume was made');
    const pulled = await crib([
      'run',
      '--pull',
      'never',
      manifest(`apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec:\n  containers: [{name: c, image: "localhost/crib/not-there:2"}]\n`),
    ]);
    assert.equal(pulled.code, 1);
    assert.match(pulled.stderr, /not-there:2" is not present and its imagePullPolicy is Never/);
  });
});
