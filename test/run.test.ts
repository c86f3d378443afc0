// `crib run` / `crib delete` end to end: the real CLI (node bin/crib) against a real cribd of the
// harness, with the busybox image imported under the examples' name.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { call } from '../src/client/client.js';
import { repoRoot } from '../src/util/paths.js';
import { cribRunSuite, type CliResult } from './support/crib-cli.js';
import { waitFor } from './support/wait-for.js';
import { assertPauseLast, watchExits } from './support/exit-watch.js';
import { spawn } from 'node:child_process';

const IMAGE = 'localhost/crib/examples:busybox';

describe('crib run', () => {
  const { h, crib, background: cribBackground, manifest, explain } = cribRunSuite(IMAGE);

  const pods = async () => (await call(h.runtime, 'ListPodSandbox', {})).items;

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

  it('mounts an image volume read-only, whole and by subPath', async () => {
    const file = manifest(`apiVersion: v1
kind: Pod
metadata: {name: imgvol}
spec:
  restartPolicy: Never
  volumes: [{name: site, image: {reference: "${IMAGE}", pullPolicy: Never}}]
  containers:
    - name: main
      image: ${IMAGE}
      command: [sh, -c, 'cat /site/www/index.html /page/index.html; touch /site/x 2>&1 | grep -q "Read-only" && echo read-only']
      volumeMounts: [{name: site, mountPath: /site}, {name: site, mountPath: /page, subPath: www}]
`);
    const r = await crib(['run', file]);
    assert.equal(r.code, 0, explain(r));
    assert.match(r.stdout, /^\[main\] hello from the web container\n\[main\] hello from the web container\n\[main\] read-only$/m, explain(r));
    assert.deepEqual(await pods(), [], 'torn down once the pod finished');
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
    assert.equal(code, 143, explain({ code, ...run.out }));
    assert.deepEqual(await pods(), []);
  });

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`tears a foreground run down on ${signal}: exit 128 + the signal, logs followed until then, pause stopped last, nothing left`, async () => {
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
      assert.equal(code, signal === 'SIGINT' ? 130 : 143, `an interrupted run says so (128 + the signal)\n${explain(r)}`);
      assert.match(r.stderr, new RegExp(`${signal}: tearing down`));
      assert.match(r.stdout, /^\[sidecar\] sidecar: SIGTERM, bye$/m, 'the last lines are printed before the logs go');
      assert.match(r.stderr, /stop order.*:\n.*1\. "sidecar".*\n.*2\. "web".*\n.*3\. pause/, explain(r));
      assert.match(r.stderr, /removed \(sandbox [0-9a-f]{13}\)/);
      assert.deepEqual(await pods(), []);
    });
  }

  /** A pod whose container prints "tick" every 0.2 s; it ends on SIGTERM, or (stubborn) ignores it. */
  const ticker = (name: string, grace: number, stubborn = false) =>
    manifest(`apiVersion: v1
kind: Pod
metadata: {name: ${name}}
spec:
  terminationGracePeriodSeconds: ${grace}
  containers:
    - name: c
      image: ${IMAGE}
      command: [sh, -c, '${stubborn ? 'trap "" TERM' : 'trap "echo bye; exit 0" TERM'}; while true; do echo tick; sleep 0.2; done']
`);

  it('Ctrl-C with the output piped (crib run | tee): tee goes on the same signal, crib run still tears down and exits 130', async () => {
    const file = ticker('piped', 5);
    const [out, err, codeFile] = ['out', 'err', 'code'].map((n) => path.join(h.base, `piped.${n}`)) as [string, string, string];
    const crib = [process.execPath, path.join(repoRoot, 'bin', 'crib'), '--socket', h.socket, 'run', '-f', file].map((a) => `'${a}'`).join(' ');
    // As a shell runs a pipeline: both in one process group, which the terminal's Ctrl-C signals as a whole.
    const shell = spawn('bash', ['-c', `{ ${crib} 2>'${err}'; echo $? > '${codeFile}'; } | tee '${out}' > /dev/null`], {
      detached: true,
      stdio: 'ignore',
      env: { ...process.env, NO_COLOR: '1' },
    });
    const read = (f: string) => (fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : '');
    try {
      await waitFor(() => /^\[c\] tick$/m.test(read(out)) || fs.existsSync(codeFile), 'the log to reach tee', 60_000);
      process.kill(-(shell.pid as number), 'SIGINT');
      await waitFor(
        () => read(codeFile) !== '',
        () => `crib run to end:\n${read(err)}`,
        60_000,
      );
    } finally {
      try {
        process.kill(-(shell.pid as number), 'SIGKILL');
      } catch {
        // already gone
      }
    }
    assert.equal(read(codeFile).trim(), '130', read(err));
    assert.match(read(err), /SIGINT: tearing down/);
    assert.match(read(err), /removed \(sandbox [0-9a-f]{13}\)/);
    assert.deepEqual(await pods(), [], 'no pod is left running');
  });

  it('a second Ctrl-C cuts the grace period short; until then the teardown says what it waits for (crib down -f too)', async () => {
    const file = ticker('stubborn', 60, true);
    const run = cribBackground(['run', file]);
    await waitFor(() => /^\[c\] tick$/m.test(run.out.stdout) || run.child.exitCode !== null, 'the container to run', 60_000);
    const started = Date.now();
    run.child.kill('SIGINT');
    await waitFor(() => /waiting for "c" to exit: \d+s of the grace period \(up to 60s\)/.test(run.out.stderr), 'a progress line', 30_000);
    run.child.kill('SIGINT');
    const code = await run.exited;
    const r = { code, ...run.out };
    assert.equal(code, 130, explain(r));
    assert.match(r.stderr, /skipping the grace periods/);
    assert.match(r.stderr, /killing its containers now/);
    assert.match(r.stderr, /1\. "c" .* exit code 137/, 'SIGKILLed: it ignores SIGTERM');
    assert.ok(Date.now() - started < 60_000, 'ended before its 60 s grace period would have');
    assert.deepEqual(await pods(), []);

    const down = ticker('stubborn-down', 6, true);
    assert.equal((await crib(['run', '-d', down])).code, 0);
    const d = await crib(['down', '-f', down]);
    assert.equal(d.code, 0, explain(d));
    assert.match(d.stderr, /waiting for "c" to exit: 5s of the grace period \(up to 6s\) so far/, 'the 6 s wait is not silent');
    assert.deepEqual(await pods(), []);
  });

  it('a second Ctrl-C during the preStop hooks skips them and the grace period', async () => {
    const file = manifest(`apiVersion: v1
kind: Pod
metadata: {name: hooked}
spec:
  terminationGracePeriodSeconds: 60
  containers:
    - name: c
      image: ${IMAGE}
      command: [sh, -c, 'trap "" TERM; while true; do echo tick; sleep 0.2; done']
      lifecycle: {preStop: {sleep: {seconds: 50}}}
`);
    const run = cribBackground(['run', file]);
    await waitFor(() => /^\[c\] tick$/m.test(run.out.stdout) || run.child.exitCode !== null, 'the container to run', 60_000);
    const started = Date.now();
    run.child.kill('SIGINT');
    await waitFor(() => /preStop hook of "c": sleeping 50s/.test(run.out.stderr), 'the preStop hook', 30_000);
    run.child.kill('SIGINT');
    const code = await run.exited;
    const r = { code, ...run.out };
    assert.equal(code, 130, explain(r));
    assert.match(r.stderr, /killing its containers now/);
    assert.match(r.stderr, /1\. "c" .* exit code 137/);
    assert.ok(Date.now() - started < 50_000, 'ended before the hook and the grace period would have');
    assert.deepEqual(await pods(), []);
  });

  it('crib run -d claims no result for a Job; crib jobs shows its exit later; the foreground run exits 1 with no back-off announced', async () => {
    const file = manifest(`apiVersion: batch/v1
kind: Job
metadata: {name: fails}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 1
      containers:
        - {name: c, image: ${IMAGE}, command: [sh, -c, 'sleep 2; exit 3']}
`);
    const d = await crib(['run', '-d', file]);
    assert.equal(d.code, 0, explain(d));
    assert.doesNotMatch(d.stderr, /succeeded|failed/, 'nothing is known of its result yet');
    assert.match(d.stderr, /started detached; crib jobs shows how it ends/);
    let jobs: CliResult = { code: null, stdout: '', stderr: '' };
    await waitFor(
      async () => /\bFailed\b/.test((jobs = await crib(['jobs'])).stdout),
      () => `crib jobs to show it failed:\n${explain(jobs)}`,
      30_000,
    );
    assert.match(jobs.stdout, /^default\s+fails\s+Failed\s+0\/1\s+0\s+0\s+1\s/m);
    const json = JSON.parse((await crib(['jobs', '-o', 'json'])).stdout) as { items: { pods: { exitCodes: Record<string, number> }[] }[] };
    assert.deepEqual(json.items[0]?.pods[0]?.exitCodes, { c: 3 }, "the container's real exit code");
    assert.equal((await crib(['down', '-f', file])).code, 0);

    const fg = await crib(['run', file]);
    assert.equal(fg.code, 1, explain(fg));
    assert.match(fg.stderr, /Job fails: pod fails-\w+ failed; 0 succeeded, 1 failed \(backoffLimit 0\)\n/);
    assert.doesNotMatch(fg.stderr, /back-off/, 'backoffLimit 0: no pod follows, so no back-off');
    assert.match(fg.stderr, /Job fails: failed: BackoffLimitExceeded/);
    assert.deepEqual(await pods(), []);
  });

  it('crib logs -f --tail 2 POD starts at the last two lines', async () => {
    const file = manifest(
      `apiVersion: v1\nkind: Pod\nmetadata: {name: tailed}\nspec:\n  terminationGracePeriodSeconds: 1\n  containers:\n    - {name: c, image: ${IMAGE}, command: [sh, -c, 'for i in 1 2 3 4 5; do echo line $i; done; sleep 3600']}\n`,
    );
    const r = await crib(['run', '-d', file]);
    assert.equal(r.code, 0, explain(r));
    await waitFor(async () => /line 5/.test(await logOf(r.stdout.trim(), 'c')), 'the five lines', 30_000);
    const f = cribBackground(['logs', '-f', '--tail', '2', 'tailed']);
    await waitFor(() => /line 5/.test(f.out.stdout) || f.child.exitCode !== null, 'the tail', 30_000);
    f.child.kill('SIGINT');
    await f.exited;
    assert.deepEqual(f.out.stdout.trim().split('\n'), ['line 4', 'line 5']);
    assert.equal((await crib(['down', 'tailed'])).code, 0);
  });

  it("rotates a container's log at kubelet's 10 MiB in the foreground; every line printed once, the old file renamed", async () => {
    const file = manifest(`apiVersion: v1
kind: Pod
metadata: {name: chatty}
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: c
      image: ${IMAGE}
      command: [sh, -c, 'yes 0123456789012345678901234567890123456789 | head -n 300000; echo marker-before; sleep 25; echo marker-after; sleep 3600']
`);
    const run = cribBackground(['run', file]);
    // (the end of 12 MB of output: looking at all of it every 10 ms would take the test's CPU)
    await waitFor(() => run.out.stdout.slice(-100).includes('marker-after') || run.child.exitCode !== null, 'the line after the first rotation', 90_000);
    const [sb] = await pods();
    assert.ok(sb);
    const [c] = (await call(h.runtime, 'ListContainers', { filter: { pod_sandbox_id: sb.id } })).containers;
    const logPath = (await call(h.runtime, 'ContainerStatus', { container_id: c?.id ?? '' })).status?.log_path ?? '';
    const rotated = fs.readdirSync(path.dirname(logPath)).filter((n) => n.startsWith(`${path.basename(logPath)}.`));
    assert.equal(rotated.length, 1, `one rotated file: ${rotated.join(', ')}`);
    assert.match(rotated[0] ?? '', /\.\d{8}-\d{6}$/, "kubelet's LOG.YYYYMMDD-HHMMSS");
    assert.ok(fs.statSync(path.join(path.dirname(logPath), rotated[0] ?? '')).size >= 10 * 1024 * 1024);
    assert.match(fs.readFileSync(path.join(path.dirname(logPath), rotated[0] ?? ''), 'utf8'), /marker-before/);
    const live = fs.readFileSync(logPath, 'utf8');
    assert.match(live, /marker-after/);
    assert.doesNotMatch(live, /marker-before/, 'the live log starts after the rotation');
    assert.equal(run.out.stdout.match(/^\[c\] marker-before$/gm)?.length, 1, 'printed once');
    assert.equal(run.out.stdout.match(/^\[c\] 0123456789012345678901234567890123456789$/gm)?.length, 300_000, 'every full line printed once');
    run.child.kill('SIGTERM');
    assert.equal(await run.exited, 143);
    assert.deepEqual(await pods(), []);
  });

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
