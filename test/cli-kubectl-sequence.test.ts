// Issue 23's "Done when": a kubectl user's sequence, typed unchanged into the real crib CLI against a
// real cribd: crib run -d app.yaml, crib exec POD -- sh -c ..., crib logs -f --tail 20 POD -c web,
// crib logs --previous POD, crib port-forward deployment/web LOCAL:80, crib pods -o wide. Then the
// same --previous where crib run (in the foreground, the pods' kubelet) restarted a container.
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { call } from '../src/client/client.js';
import { Harness } from '../support/harness.js';
import { importBusybox } from '../support/busybox-image.js';
import { cribCli } from './support/crib-cli.js';
import { waitFor } from './support/wait-for.js';

const IMAGE = 'localhost/test/busybox:1';

const app = (name: string, web: string) => `apiVersion: apps/v1
kind: Deployment
metadata: { name: ${name} }
spec:
  replicas: 1
  selector: { matchLabels: { app: ${name} } }
  template:
    metadata: { labels: { app: ${name} } }
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: side
          image: ${IMAGE}
          command: ['sh', '-c', 'echo side up; exec sleep 3600']
        - name: web
          image: ${IMAGE}
          command: ['sh', '-c', '${web}']
          volumeMounts: [{ name: state, mountPath: /state }]
      volumes: [{ name: state, emptyDir: {} }]
`;

/** A port nothing listens on now (the kernel's pick), for LOCAL in LOCAL:REMOTE. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

function httpGet(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => s.write('GET / HTTP/1.0\r\n\r\n'));
    let got = '';
    s.on('data', (b: Buffer) => (got += b.toString()));
    s.on('end', () => resolve(got));
    s.on('error', reject);
    s.setTimeout(20_000, () => s.destroy(new Error('no answer')));
  });
}

describe("a kubectl user's sequence", () => {
  const h = new Harness();
  const cli = cribCli(h);
  const ok = async (args: string[]): Promise<string> => {
    const r = await cli.crib(args);
    assert.equal(r.code, 0, `crib ${args.join(' ')} exited ${r.code}:\n${r.stderr}\n${r.stdout}`);
    return r.stdout;
  };
  before(async () => {
    await h.start();
    await importBusybox(h, IMAGE);
  });
  afterEach(async () => {
    cli.killAll();
    for (const p of (await call(h.runtime, 'ListPodSandbox', {})).items) await cli.crib(['down', p.id]);
  });
  after(() => h.cleanup());

  it('crib run -d, exec, logs -f --tail 20 -c web, logs --previous, port-forward deployment/web, pods -o wide', async () => {
    const file = path.join(h.base, 'app.yaml');
    fs.writeFileSync(
      file,
      app('web', 'mkdir -p /www; echo hello from web > /www/index.html; httpd -p 80 -h /www; i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.2; done'),
    );
    await ok(['run', '-d', file]);
    const pod = (JSON.parse(await ok(['pods', '-o', 'json'])) as { items: { metadata: { name: string } }[] }).items[0]?.metadata.name ?? '';
    assert.match(pod, /^web-[a-z0-9]+-[a-z0-9]{5}$/);

    // crib exec -it POD -- sh, its non-interactive stand-in: the pod's first container (no default annotation), as kubectl
    const exec = await cli.crib(['exec', pod, '--', 'sh', '-c', 'echo in $(cat /proc/1/cmdline | tr "\\0" " ")']);
    assert.equal(exec.code, 0, exec.stderr);
    assert.match(exec.stdout, /^in sleep 3600/, 'the side container');
    assert.match(exec.stderr, /^Defaulted container "side" out of: side, web$/m);

    // crib logs -f --tail 20 POD -c web: the last 20 lines, then the new ones, none twice or missing
    await waitFor(async () => /tick 25\n/.test(await ok(['logs', pod, '-c', 'web'])), 'web ticks past 25');
    const f = cli.background(['logs', '-f', '--tail', '20', pod, '-c', 'web']);
    await waitFor(
      () => f.out.stdout.split('\n').length > 30,
      () => `more than the tail: ${JSON.stringify(f.out)}`,
      30_000,
    );
    const lines = f.out.stdout.split('\n').filter(Boolean);
    const n = (l: string) => Number(/^tick (\d+)$/.exec(l)?.[1]);
    assert.ok(n(lines[0] as string) > 5, 'it began at the tail, not the start');
    assert.ok(
      lines.every((l, i) => i === 0 || n(l) === n(lines[i - 1] as string) + 1),
      `consecutive: ${lines.join(',')}`,
    );
    f.child.kill('SIGINT');
    assert.equal(await f.exited, 130);

    // crib logs --previous POD: nothing restarted it (a detached pod is not restarted), so kubectl's answer
    const prev = await cli.crib(['logs', '--previous', pod]);
    assert.equal(prev.code, 1);
    assert.match(prev.stderr, /previous terminated container "side" not found/);

    // crib port-forward deployment/web LOCAL:80
    const port = await freePort();
    const pf = cli.background(['port-forward', 'deployment/web', `${port}:80`]);
    await waitFor(
      () => pf.out.stdout.includes(`127.0.0.1:${port} -> 80`),
      () => `listening: ${JSON.stringify(pf.out)}`,
      30_000,
    );
    assert.match(await httpGet(port), /hello from web/);
    pf.child.kill('SIGTERM');
    assert.equal(await pf.exited, 0);

    // crib pods -o wide: READY, RESTARTS and the IP
    const wide = await ok(['pods', '-o', 'wide']);
    const ip = (JSON.parse(await ok(['inspectp', pod])) as { status: { network: { ip: string } } }).status.network.ip;
    assert.match(wide, new RegExp(`\\s2/2\\s+0\\s+${pod}\\s.*\\s${ip.replace(/\./g, '\\.')}$`, 'm'));
    await ok(['down', '-f', file]);
  });

  it('crib logs --previous POD after crib run restarted a container: the attempt before', async () => {
    const file = path.join(h.base, 'crashes.yaml');
    // the first attempt leaves a mark in its emptyDir and fails; the second serves
    fs.writeFileSync(file, app('crashy', 'if [ ! -e /state/ran ]; then touch /state/ran; echo first life; exit 1; fi; echo second life; exec sleep 3600'));
    const run = cli.background(['run', '--backoff', '1s', file]);
    await waitFor(
      () => /restarted \(restart count 1\)/.test(run.out.stderr),
      () => `a restart: ${JSON.stringify(run.out)}`,
      60_000,
    );
    await waitFor(async () => (await cli.crib(['logs', 'deployment/crashy', '-c', 'web'])).stdout === 'second life\n', 'the second attempt logs');
    const prev = await cli.crib(['logs', '--previous', 'deployment/crashy', '-c', 'web']);
    assert.equal(prev.code, 0, prev.stderr);
    assert.equal(prev.stdout, 'first life\n');
    assert.match(await ok(['pods']), /\s2\/2\s+1\s+crashy-/, 'RESTARTS 1');
    run.child.kill('SIGINT');
    assert.equal(await run.exited, 130);
  });
});
