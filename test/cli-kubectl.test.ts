// A kubectl user's habits on the real crib CLI (node bin/crib) against a real cribd: a Deployment run
// with crib run -d, then exec, logs and port-forward by pod name or deployment/NAME, with -c and the
// default-container annotation; logs --previous, --since; pods -o wide and RESTARTS.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { call } from '../src/client/client.js';
import { runCapture } from '../src/util/exec.js';
import { repoRoot } from '../src/util/paths.js';
import type { ContainerConfig } from '../src/cri/generated/runtime/v1/ContainerConfig.js';
import { Harness } from '../support/harness.js';
import { importBusybox } from '../support/busybox-image.js';
import { cribCli } from './support/crib-cli.js';
import { waitFor } from './support/wait-for.js';

const IMAGE = 'localhost/test/busybox:1';

/** Two containers; the annotation makes `web` the one kubectl (and crib) pick without -c. */
const APP = `apiVersion: apps/v1
kind: Deployment
metadata: { name: web }
spec:
  replicas: 1
  selector: { matchLabels: { app: web } }
  template:
    metadata:
      labels: { app: web }
      annotations: { kubectl.kubernetes.io/default-container: web }
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: side
          image: ${IMAGE}
          command: ['sh', '-c', 'echo side up; exec sleep 3600']
        - name: web
          image: ${IMAGE}
          command: ['sh', '-c', 'httpd -p 80 -h /www; i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.2; done']
`;

/** One HTTP/1.0 GET over a plain socket to host:port; resolves to the whole answer. */
function httpGet(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port }, () => s.write('GET / HTTP/1.0\r\n\r\n'));
    let got = '';
    s.on('data', (b: Buffer) => (got += b.toString()));
    s.on('end', () => resolve(got));
    s.on('error', reject);
    s.setTimeout(20_000, () => s.destroy(new Error(`no answer from ${host}:${port}`)));
  });
}

describe('crib as a kubectl user types it', () => {
  const h = new Harness();
  const cli = cribCli(h);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crib-kubectl-'));
  let podName = '';

  async function ok(args: string[]): Promise<string> {
    const r = await cli.crib(args);
    assert.equal(r.code, 0, `crib ${args.join(' ')} exited ${r.code}:\n${r.stderr}\n${r.stdout}`);
    return r.stdout;
  }

  before(async () => {
    await h.start();
    await importBusybox(h, IMAGE);
    fs.writeFileSync(path.join(dir, 'app.yaml'), APP);
    await ok(['run', '-d', path.join(dir, 'app.yaml')]);
    const pods = JSON.parse(await ok(['pods', '-o', 'json'])) as { items: { metadata: { name: string } }[] };
    podName = pods.items[0]?.metadata.name ?? '';
    assert.match(podName, /^web-/);
  });
  after(async () => {
    cli.killAll();
    await cli.crib(['down', '-f', path.join(dir, 'app.yaml')]);
    await h.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('exec takes a pod (its default container), -c, and deployment/NAME', async () => {
    // the annotated default: web has /www's page at hand, as does side; the hostname tells nothing, so ask the process
    const comm = (args: string[]) => ok(['exec', ...args, '--', 'sh', '-c', 'cat /proc/1/cmdline | tr "\\0" " "']);
    assert.match(await comm([podName]), /httpd|while/, 'the pod: its default container, web');
    assert.match(await comm([podName, '-c', 'side']), /sleep 3600/, '-c after the pod, before --');
    assert.match(await comm(['-c', 'side', 'deployment/web']), /sleep 3600/, 'deployment/NAME');
    assert.match(await comm(['deploy/web']), /httpd|while/);
    // -i: input from a pipe; the command's exit code is crib's
    const piped = await runCapture(process.execPath, [path.join(repoRoot, 'bin', 'crib'), '--socket', h.socket, 'exec', '-i', podName, '--', 'sh'], {
      stdin: 'echo "in $(cat /proc/1/cmdline | tr "\\0" " " | cut -c1-5)"; exit 7\n',
      timeoutMs: 60_000,
    });
    assert.equal(piped.code, 7, piped.stderr.toString());
    assert.match(piped.stdout.toString(), /^in sh -c/);
    // errors that say what there is
    const noCtr = await cli.crib(['exec', podName, '-c', 'nope', '--', 'true']);
    assert.equal(noCtr.code, 1);
    assert.match(noCtr.stderr, /container "nope" is not in pod "web-[^"]+" \(its containers: side, web\)/);
    const noDeploy = await cli.crib(['exec', 'deployment/nope', '--', 'true']);
    assert.equal(noDeploy.code, 1);
    assert.match(noDeploy.stderr, /no pods of deployment "nope"/);
    const nothing = await cli.crib(['exec', 'no-such', '--', 'true']);
    assert.equal(nothing.code, 1);
    assert.match(nothing.stderr, /no pod or container "no-such"/);
  });

  it('logs: the default container, -c, --tail, -f, --since, --all-containers', async () => {
    await waitFor(async () => (await ok(['logs', podName])).includes('tick 3'), 'web ticks');
    const web = await ok(['logs', podName]);
    assert.match(web, /^tick 1\ntick 2\n/, 'the annotated container, unprefixed');
    assert.equal(await ok(['logs', podName, '-c', 'side']), 'side up\n');
    assert.equal(await ok(['logs', '--tail', '1', '-c', 'side', 'deployment/web']), 'side up\n');
    const merged = await ok(['logs', '--all-containers', podName]);
    assert.match(merged, /^\[side\] side up$/m);
    assert.match(merged, /^\[web\] tick 1$/m);
    assert.equal(await ok(['logs', '--since', '1h', podName, '-c', 'side']), 'side up\n');
    assert.equal(await ok(['logs', '--since-time', '2999-01-01T00:00:00Z', podName, '-c', 'side']), '', 'nothing written after 2999');
    assert.equal((await cli.crib(['logs', '--since', 'soon', podName])).code, 2);
    // -f --tail 20 -c web: 20 lines, then new ones as they come
    const f = cli.background(['logs', '-f', '--tail', '20', podName, '-c', 'web']);
    await waitFor(
      () => f.out.stdout.split('\n').length > 25,
      () => `more than the tail: ${JSON.stringify(f.out.stdout)}`,
      30_000,
    );
    const lines = f.out.stdout.split('\n').filter(Boolean);
    const n = (l: string) => Number(/^tick (\d+)$/.exec(l)?.[1]);
    assert.ok(
      lines.every((l, i) => i === 0 || n(l) === n(lines[i - 1] as string) + 1),
      `consecutive ticks: ${lines.join(',')}`,
    );
    f.child.kill('SIGINT');
    assert.equal(await f.exited, 130);
  });

  it('logs --previous, RESTARTS and pods -o wide', async () => {
    // a pod whose container ran once and was made again (attempt 1), as kubelet restarts one
    const id = await h.runPod('again');
    const config = h.podConfig('again');
    const ctr = (attempt: number, cmd: string): ContainerConfig => ({
      metadata: { name: 'app', attempt },
      image: { image: IMAGE },
      command: ['sh', '-c', cmd],
      log_path: `app-${attempt}.log`,
    });
    const first = (await call(h.runtime, 'CreateContainer', { pod_sandbox_id: id, config: ctr(0, 'echo first life'), sandbox_config: config })).container_id;
    await call(h.runtime, 'StartContainer', { container_id: first });
    await waitFor(async () => (await call(h.runtime, 'ContainerStatus', { container_id: first })).status?.state === 2, 'the first attempt exits');
    const second = (
      await call(h.runtime, 'CreateContainer', { pod_sandbox_id: id, config: ctr(1, 'echo second life; exec sleep 3600'), sandbox_config: config })
    ).container_id;
    await call(h.runtime, 'StartContainer', { container_id: second });
    await waitFor(async () => (await ok(['logs', 'again'])) === 'second life\n', 'the second attempt logs');
    assert.equal(await ok(['logs', '--previous', 'again']), 'first life\n');
    assert.equal(await ok(['logs', '-p', 'again', '-c', 'app']), 'first life\n');
    const none = await cli.crib(['logs', '--previous', podName, '-c', 'side']);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /previous terminated container "side" not found/);

    const table = await ok(['pods']);
    assert.match(table, /^POD ID\s+CREATED\s+STATE\s+READY\s+RESTARTS\s+NAME\s/m);
    assert.match(table, /\sReady\s+1\/1\s+1\s+again\s/, 'one restart');
    assert.match(table, new RegExp(`\\sReady\\s+2/2\\s+0\\s+${podName}\\s`));
    const wide = await ok(['pods', '-o', 'wide']);
    const ip = (await h.inspect(id)).status?.network?.ip as string;
    assert.ok(ip, 'the pod has an IP');
    assert.match(wide, /\sRUNTIME\s+IP$/m);
    assert.match(wide, new RegExp(`\\sagain\\s.*\\s${ip.replace(/\./g, '\\.')}$`, 'm'));
    assert.equal((await ok(['pods', '-a', '-q'])).trim().split('\n').length, 2, '-a: every pod');
    await call(h.runtime, 'RemovePodSandbox', { pod_sandbox_id: id });
  });

  it("a pod's merged log ends a container's unfinished line before the next container's", async () => {
    const id = await h.runPod('glue');
    const config = h.podConfig('glue');
    for (const [name, cmd] of [
      ['a', 'printf unfinished'],
      ['b', 'sleep 0.5; echo whole'],
    ] as const) {
      const c = (
        await call(h.runtime, 'CreateContainer', {
          pod_sandbox_id: id,
          config: { metadata: { name, attempt: 0 }, image: { image: IMAGE }, command: ['sh', '-c', cmd], log_path: `${name}.log` },
          sandbox_config: config,
        })
      ).container_id;
      await call(h.runtime, 'StartContainer', { container_id: c });
    }
    await waitFor(async () => (await ok(['logs', 'glue/b'])) === 'whole\n', 'b logs');
    assert.equal(await ok(['logs', 'glue']), '[a] unfinished\n[b] whole\n');
    await call(h.runtime, 'RemovePodSandbox', { pod_sandbox_id: id });
  });

  it('a stdin/tty container stays up under crib run -d and takes crib attach -it, as kubectl keeps it', async () => {
    const file = path.join(dir, 'shell.yaml');
    fs.writeFileSync(
      file,
      `apiVersion: v1\nkind: Pod\nmetadata: { name: shell }\nspec:\n  terminationGracePeriodSeconds: 1\n  containers:\n    - { name: shell, image: ${IMAGE}, command: [sh], stdin: true, tty: true }\n`,
    );
    const run = await cli.crib(['run', '-d', file]);
    assert.equal(run.code, 0, run.stderr);
    assert.doesNotMatch(run.stderr, /stdin|tty/, 'no warning: both are kept');
    // the shell waits on its terminal instead of reading an end of input at once
    await new Promise((r) => setTimeout(r, 1000));
    assert.match(await ok(['ps', '--pod', 'shell']), /Running\s+shell\s/);
    const attached = await runCapture(process.execPath, [path.join(repoRoot, 'bin', 'crib'), '--socket', h.socket, 'attach', '-it', 'shell'], {
      stdin: 'echo hi-$((2+3))\nexit 4\n',
      timeoutMs: 60_000,
    });
    assert.equal(attached.code, 0, attached.stderr.toString());
    assert.match(attached.stdout.toString(), /^hi-5\r?$/m, 'the shell ran what came in through attach');
    // The node's supervisor watches -d pods (restartPolicy Always: it restarts the shell, as kubelet would).
    const supervisorLog = path.join(h.root, 'kube', 'supervisor.log');
    const said = () => (fs.existsSync(supervisorLog) ? fs.readFileSync(supervisorLog, 'utf8') : '');
    await waitFor(
      () => /pod shell: container "shell" exited with code 4/.test(said()),
      () => `the shell exits with 4:\n${said()}`,
      20_000,
    );
    await ok(['down', '-f', file]);
  });

  it('port-forward deployment/NAME listens on both loopbacks and says so per connection', async (t) => {
    const v6 = Object.values(os.networkInterfaces()).some((l) => l?.some((a) => a.address === '::1'));
    const pf = cli.background(['port-forward', 'deployment/web', '0:80']);
    await waitFor(
      () => (v6 ? /\[::1\]:\d+ -> 80/ : /127\.0\.0\.1:\d+ -> 80/).test(pf.out.stdout),
      () => `listening: ${pf.out.stdout}${pf.out.stderr}`,
      30_000,
    );
    const port = Number(/127\.0\.0\.1:(\d+) -> 80/.exec(pf.out.stdout)?.[1]);
    assert.match(await httpGet('127.0.0.1', port), /hello from the web container/);
    if (v6) assert.match(await httpGet('::1', port), /hello from the web container/);
    else t.diagnostic('no ::1 on this host: IPv6 loopback not tried');
    await waitFor(
      () => pf.out.stdout.split(`Handling connection for ${port}\n`).length - 1 === (v6 ? 2 : 1),
      () => `a line per connection: ${pf.out.stdout}`,
    );
    pf.child.kill('SIGTERM');
    assert.equal(await pf.exited, 0);
  });
});
