import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { call } from '../src/client/client.js';
import type { ContainerConfig } from '../src/cri/generated/runtime/v1/ContainerConfig.js';
import type { PodSandboxConfig } from '../src/cri/generated/runtime/v1/PodSandboxConfig.js';
import { rejectsWith } from './support/grpc-assert.js';
import { mountsUnder } from '../support/leaks.js';
import { waitFor } from './support/wait-for.js';
import { TEST_IMAGE, cribdWithBusybox } from '../support/busybox-image.js';

const IMAGE = TEST_IMAGE;
const GRACE = 'io.kubernetes.pod.terminationGracePeriod';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('containers in the sandbox', () => {
  const h = cribdWithBusybox();

  const ctr = (name: string, command: string[], extra: Partial<ContainerConfig> = {}): ContainerConfig => ({
    metadata: { name, attempt: 0 },
    image: { image: IMAGE },
    command,
    log_path: `${name}.log`,
    annotations: { [GRACE]: '5' },
    ...extra,
  });

  async function pod(name: string, extra: Partial<PodSandboxConfig> = {}) {
    const id = await h.runPod(name, extra);
    const config = h.podConfig(name, extra);
    return { id, config };
  }

  async function runCtr(p: { id: string; config: PodSandboxConfig }, c: ContainerConfig): Promise<string> {
    const res = await call(h.runtime, 'CreateContainer', { pod_sandbox_id: p.id, config: c, sandbox_config: p.config });
    await call(h.runtime, 'StartContainer', { container_id: res.container_id });
    return res.container_id;
  }

  const status = async (id: string) => (await call(h.runtime, 'ContainerStatus', { container_id: id, verbose: true })).status!;

  async function waitExit(id: string, ms = 15_000) {
    const deadline = Date.now() + ms;
    for (;;) {
      const st = await status(id);
      if (st.state === 2) return st;
      if (Date.now() > deadline) throw new Error(`container ${id} still ${st.state} after ${ms} ms`);
      await sleep(50);
    }
  }

  const exec = (id: string, cmd: string[], timeout = 10) => call(h.runtime, 'ExecSync', { container_id: id, cmd, timeout });

  const logOf = (p: { config: PodSandboxConfig }, name: string) => fs.readFileSync(path.join(p.config.log_directory as string, `${name}.log`), 'utf8');

  it('shares localhost between a web container and its sidecar; another pod reaches only the pod IP', async () => {
    const web = await pod('web');
    await runCtr(web, ctr('web', ['httpd', '-f', '-p', '8080', '-h', '/www']));
    const side = await runCtr(
      web,
      ctr('sidecar', ['sh', '-c', 'for i in $(seq 50); do timeout 2 wget -q -O - http://localhost:8080/ && exit 0; sleep 0.1; done; exit 1']),
    );
    const st = await waitExit(side);
    assert.equal(st.exit_code, 0, logOf(web, 'sidecar'));
    assert.equal(st.reason, 'Completed');
    assert.match(logOf(web, 'sidecar'), /stdout F hello from the web container/);

    const ip = (await h.inspect(web.id)).status?.network?.ip as string;
    const other = await pod('other');
    const probe = await runCtr(other, ctr('probe', ['sleep', '1000']));
    const viaLocalhost = await exec(probe, ['sh', '-c', 'timeout 2 wget -q -O - http://localhost:8080/']);
    assert.notEqual(viaLocalhost.exit_code, 0, 'the other pod has its own localhost');
    const viaIP = await exec(probe, ['sh', '-c', `timeout 5 wget -q -O - http://${ip}:8080/`]);
    assert.equal(viaIP.exit_code, 0, viaIP.stderr.toString());
    assert.match(viaIP.stdout.toString(), /hello from the web container/);
  });

  it('with a shared PID namespace shows /pause as PID 1 and the sibling; pause reaps orphans', async () => {
    const p = await pod('sharedpid', { linux: { security_context: { namespace_options: { pid: 0 } } } });
    const shared: Partial<ContainerConfig> = { linux: { security_context: { namespace_options: { pid: 0 } } } };
    await runCtr(p, ctr('app', ['sleep', '1001'], shared));
    const side = await runCtr(p, ctr('side', ['sleep', '1002'], shared));
    const ps = (await exec(side, ['ps', '-o', 'pid,args'])).stdout.toString();
    assert.match(ps, /^\s*1\s+\/pause\s*$/m, ps);
    assert.match(ps, /sleep 1001/);
    // An orphan: pause (PID 1) adopts it, and once it is killed reaps it (no zombie is left).
    await exec(side, ['sh', '-c', '(sleep 1006 &) ; exit 0']);
    const procs = async () => (await exec(side, ['ps', '-o', 'pid,ppid,stat,args'])).stdout.toString();
    const orphan = /^\s*(\d+)\s+1\s+\S+\s+sleep 1006$/m.exec(await procs())?.[1];
    assert.ok(orphan, `the orphan is a child of PID 1:\n${await procs()}`);
    await exec(side, ['kill', orphan]);
    await waitFor(
      async () => !/sleep 1006$|^\s*\d+\s+\d+\s+Z/m.test(await procs()),
      async () => `the orphan to exit and be reaped:\n${await procs()}`,
      15_000,
    );

    const own = await pod('ownpid');
    const c = await runCtr(own, ctr('solo', ['sleep', '1003'], { linux: { security_context: { namespace_options: { pid: 1 } } } }));
    const ps2 = (await exec(c, ['ps', '-o', 'pid,args'])).stdout.toString();
    assert.match(ps2, /^\s*1\s+sleep 1003\s*$/m, ps2);
    assert.doesNotMatch(ps2, /pause/);
  });

  it("joins a target container's PID namespace (kubectl debug), binds host paths and devices", async () => {
    const p = await pod('debug');
    const app = await runCtr(p, ctr('app', ['sleep', '1004'], { linux: { security_context: { namespace_options: { pid: 1 } } } }));
    const hostDir = fs.mkdtempSync(path.join(h.base, 'hostpath-'));
    fs.writeFileSync(path.join(hostDir, 'hello'), 'from the host');
    const dbg = await runCtr(
      p,
      ctr('debugger', ['sleep', '1005'], {
        linux: { security_context: { namespace_options: { pid: 3, target_id: app } } },
        mounts: [
          { container_path: '/ro', host_path: hostDir, readonly: true },
          { container_path: '/rw', host_path: hostDir },
        ],
        devices: [{ container_path: '/dev/mynull', host_path: '/dev/null', permissions: 'rw' }],
      }),
    );
    const ps = (await exec(dbg, ['ps', '-o', 'pid,args'])).stdout.toString();
    assert.match(ps, /^\s*1\s+sleep 1004\s*$/m, ps);
    assert.equal((await exec(dbg, ['cat', '/ro/hello'])).stdout.toString(), 'from the host');
    assert.notEqual((await exec(dbg, ['touch', '/ro/x'])).exit_code, 0, 'read-only bind');
    assert.equal((await exec(dbg, ['sh', '-c', 'echo w > /rw/written'])).exit_code, 0);
    assert.equal(fs.readFileSync(path.join(hostDir, 'written'), 'utf8'), 'w\n');
    assert.equal((await exec(dbg, ['sh', '-c', 'echo x > /dev/mynull'])).exit_code, 0, 'device usable');
  });

  it('stops containers with SIGTERM newest first, their grace periods side by side, pause last, the network up throughout', async () => {
    const p = await pod('order');
    const dir = fs.mkdtempSync(path.join(h.base, 'order-'));
    const shared = { mounts: [{ container_path: '/order', host_path: dir }] };
    // Each notes its SIGTERM at once (`wait` is interrupted by it) and its end after a 1 s grace.
    const graceful = (name: string, work = '') =>
      `trap 'echo ${name}-term >> /order/log; sleep 1; ${work} echo ${name}-end >> /order/log; exit 0' TERM; echo ready; sleep 1000 & wait`;
    // The web server keeps serving through its own grace: the sidecar's shutdown work needs it.
    const web = await runCtr(p, ctr('web', ['sh', '-c', `httpd -p 8080 -h /www; ${graceful('web').replace('sleep 1;', 'sleep 2;')}`], shared));
    const mid = await runCtr(p, ctr('mid', ['sh', '-c', graceful('mid')], shared));
    const ip = (await h.inspect(p.id)).status?.network?.ip as string;
    const fetch = `wget -q -O - http://127.0.0.1:8080/ && wget -q -O /dev/null http://${ip}:8080/ && echo FETCH-OK;`;
    const drain = await runCtr(p, ctr('drain', ['sh', '-c', graceful('drain', fetch)], shared));
    for (const name of ['web', 'mid', 'drain']) await waitFor(() => logOf(p, name).includes('ready'), `${name} to be ready`, 15_000);
    await call(h.runtime, 'StopPodSandbox', { pod_sandbox_id: p.id });
    // The order the signals went out in, as cribd sent them: the apps' own lines below may come in
    // another order, since an app that took its signal can still be waiting for a CPU.
    const sent = fs
      .readFileSync(h.logFile, 'utf8')
      .split('\n')
      .filter((l) => l.includes(' stop signal sent '))
      .map((l) => [web, mid, drain].find((id) => l.includes(`id="${id}"`)))
      .filter((id) => id !== undefined);
    assert.deepEqual(sent, [drain, mid, web], 'SIGTERM newest first');
    const events = fs.readFileSync(path.join(dir, 'log'), 'utf8').trim().split('\n');
    assert.deepEqual(events.slice(0, 3).sort(), ['drain-term', 'mid-term', 'web-term'], `every SIGTERM before any grace ended: ${events.join(', ')}`);
    assert.deepEqual(events.slice(3).sort(), ['drain-end', 'mid-end', 'web-end']);
    const [sw, sm, sd] = await Promise.all([status(web), status(mid), status(drain)]);
    const fin = (s: typeof sw) => BigInt(s.finished_at);
    const pauseExit = BigInt(Math.round(fs.statSync(path.join(h.state, 'exits', p.id)).mtimeMs * 1e6));
    for (const s of [sw, sm, sd]) assert.ok(fin(s) <= pauseExit, 'pause stopped last');
    assert.equal(sd.exit_code, 0);
    assert.match(logOf(p, 'drain'), /FETCH-OK/, 'the pod network was still there during the grace period');
    const mounted = await mountsUnder(h.root);
    for (const id of [web, mid, drain])
      assert.ok(!mounted.some((m) => m.includes(id)), 'the stop unmounted each rootfs (RemovePodSandbox has only files left)');
  });

  it('writes CRI-format logs for both streams with partial lines, and reopens a rotated log', async () => {
    const p = await pod('logs');
    const c = await runCtr(
      p,
      ctr('talker', [
        'sh',
        '-c',
        'echo out-line; echo err-line >&2; printf no-newline; sleep 0.3; echo; i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.1; done',
      ]),
    );
    await waitFor(() => /stdout F tick 1$/m.test(logOf(p, 'talker')), 'the first tick', 15_000);
    const log = logOf(p, 'talker');
    assert.match(log, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+(Z|[+-]\d\d:\d\d) stdout F out-line$/m);
    assert.match(log, /^\S+ stderr F err-line$/m);
    assert.match(log, /^\S+ stdout P no-newline$/m);
    const file = path.join(p.config.log_directory as string, 'talker.log');
    fs.renameSync(file, `${file}.1`);
    await call(h.runtime, 'ReopenContainerLog', { container_id: c });
    await waitFor(() => /stdout F tick \d+/.test(fs.readFileSync(file, 'utf8')), 'a tick in the reopened log', 15_000);
  });

  it('gives a container that ignores SIGTERM its grace period, then SIGKILL (exit code 137)', async () => {
    const p = await pod('stubborn');
    // The shell notes SIGTERM and carries on; only SIGKILL ends it.
    // What it would do 4 s after SIGTERM must never happen: SIGKILL comes when the 2 s are over.
    const c = await runCtr(
      p,
      ctr('stubborn', [
        'sh',
        '-c',
        "trap 'echo got SIGTERM, staying; sleep 4; echo outlived its grace period' TERM; echo ready; while true; do sleep 0.1; done",
      ]),
    );
    await waitFor(() => logOf(p, 'stubborn').includes('ready'), 'the container to be ready', 15_000);
    const asked = BigInt(Date.now()) * 1_000_000n;
    await call(h.runtime, 'StopContainer', { container_id: c, timeout: 2 });
    const st = await status(c);
    assert.equal(st.state, 2);
    assert.deepEqual([st.exit_code, st.reason], [137, 'Error'], 'killed by SIGKILL');
    assert.match(logOf(p, 'stubborn'), /stdout F got SIGTERM, staying$/m, 'SIGTERM came first');
    const waited = Number(BigInt(st.finished_at) - asked) / 1e9;
    assert.ok(waited >= 2, `it was killed ${waited} s after the stop was asked for, before its 2 s grace period ended`);
    assert.doesNotMatch(logOf(p, 'stubborn'), /outlived/, `still running 4 s after SIGTERM with a 2 s grace period (killed after ${waited} s)`);
  });

  it('reports exit codes and reasons: Completed, Error, OOMKilled', async () => {
    const p = await pod('exits');
    const ok = await runCtr(p, ctr('ok', ['true']));
    const bad = await runCtr(p, ctr('bad', ['sh', '-c', 'exit 3']));
    const oom = await runCtr(
      p,
      ctr('oom', ['sh', '-c', 'a=0123456789; while true; do a="$a$a"; done'], {
        linux: { resources: { memory_limit_in_bytes: String(24 * 1024 * 1024) } },
      }),
    );
    const [so, sb, sx] = await Promise.all([waitExit(ok), waitExit(bad), waitExit(oom, 30_000)]);
    assert.deepEqual([so.exit_code, so.reason], [0, 'Completed']);
    assert.deepEqual([sb.exit_code, sb.reason], [3, 'Error']);
    assert.equal(sx.reason, 'OOMKilled', `exit ${sx.exit_code}`);
    // conmon writes `oom` into its working directory: the bundle, never cribd's (here the test's).
    assert.ok(!fs.existsSync(path.join(process.cwd(), 'oom')), "an oom file in cribd's working directory");
    assert.ok(BigInt(so.finished_at) >= BigInt(so.started_at));
  });

  it('applies the security context: capabilities, user, read-only root, seccomp', async () => {
    const p = await pod('sec');
    const dropped = await runCtr(p, ctr('dropped', ['sleep', '1000'], { linux: { security_context: { capabilities: { drop_capabilities: ['NET_RAW'] } } } }));
    const capEff = BigInt('0x' + /CapEff:\s*([0-9a-f]+)/.exec((await exec(dropped, ['cat', '/proc/self/status'])).stdout.toString())![1]);
    assert.equal((capEff >> 13n) & 1n, 0n, 'CAP_NET_RAW dropped');
    assert.equal((capEff >> 0n) & 1n, 1n, 'CAP_CHOWN kept');

    const user = await runCtr(p, ctr('user', ['sleep', '1000'], { linux: { security_context: { run_as_user: { value: '1000' } } } }));
    assert.equal((await exec(user, ['id', '-u'])).stdout.toString().trim(), '1000');
    assert.match((await exec(user, ['id', '-G'])).stdout.toString(), /2000/, 'groups from the image /etc/group');

    const ro = await runCtr(p, ctr('ro', ['sleep', '1000'], { linux: { security_context: { readonly_rootfs: true } } }));
    const write = await exec(ro, ['touch', '/newfile']);
    assert.notEqual(write.exit_code, 0);
    assert.match(write.stderr.toString(), /Read-only file system/);

    const confined = await runCtr(p, ctr('confined', ['sleep', '1000'], { linux: { security_context: { seccomp: { profile_type: 0 } } } }));
    const blocked = await exec(confined, ['unshare', '-U', 'true']);
    assert.notEqual(blocked.exit_code, 0, 'RuntimeDefault refuses unshare(CLONE_NEWUSER)');
    assert.match(blocked.stderr.toString(), /not permitted/i);
    const free = await runCtr(p, ctr('free', ['sleep', '1000'], { linux: { security_context: { seccomp: { profile_type: 1 } } } }));
    assert.equal((await exec(free, ['unshare', '-U', 'true'])).exit_code, 0, 'Unconfined allows it');
  });

  it('runs ExecSync with both streams, exit codes and a timeout', async () => {
    const p = await pod('exec');
    const c = await runCtr(p, ctr('box', ['tail', '-f', '/dev/null']));
    const r = await exec(c, ['sh', '-c', 'echo to-out; echo to-err >&2; exit 7']);
    assert.equal(r.stdout.toString(), 'to-out\n');
    assert.equal(r.stderr.toString(), 'to-err\n');
    assert.equal(r.exit_code, 7);
    // Each stream is kept up to 16 MiB, kubelet's own bound; the rest is read and dropped, so the
    // command is never blocked on a full pipe and ends normally.
    const MiB = 1024 * 1024;
    const chatty = await call(h.client.runtime, 'ExecSync', {
      container_id: c,
      cmd: ['sh', '-c', `head -c ${17 * MiB} /dev/zero; echo done >&2`],
      timeout: 30,
    });
    assert.equal(chatty.stdout.length, 16 * MiB);
    assert.equal(chatty.stderr.toString(), 'done\n');
    assert.equal(chatty.exit_code, 0);
    // A command that needs 3 s does not finish under a 1 s timeout (a timer of any multiple from 3 up would let it).
    await rejectsWith(exec(c, ['sleep', '3'], 1), grpc.status.DEADLINE_EXCEEDED, /timeout/);
    // Gone, not a zombie: tail (PID 1 here) never reaps, so the runtime must have (critest checks with pgrep).
    const ps = (await exec(c, ['ps', '-o', 'pid,stat,comm'])).stdout.toString();
    assert.doesNotMatch(ps, /\bsleep\b/, `the timed-out command was killed and reaped:\n${ps}`);
    await rejectsWith(call(h.client.image, 'RemoveImage', { image: { image: IMAGE } }), grpc.status.FAILED_PRECONDITION, new RegExp(`container ${c}`));
  });

  it('updates resources and reports stats', async () => {
    const p = await pod('stats');
    const c = await runCtr(p, ctr('busy', ['sh', '-c', 'i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; echo x > /tmp/file; sleep 1000']));
    await waitFor(async () => (await exec(c, ['test', '-e', '/tmp/file'])).exit_code === 0, 'the busy loop to end', 30_000);
    const st = await call(h.runtime, 'ContainerStats', { container_id: c });
    assert.ok(Number(st.stats?.cpu?.usage_core_nano_seconds?.value) > 0);
    assert.ok(Number(st.stats?.memory?.working_set_bytes?.value) > 0);
    assert.ok(Number(st.stats?.writable_layer?.used_bytes?.value) > 0);
    const list = await call(h.runtime, 'ListContainerStats', { filter: { pod_sandbox_id: p.id } });
    assert.deepEqual(
      list.stats.map((s) => s.attributes?.id),
      [c],
    );
    const pst = await call(h.runtime, 'PodSandboxStats', { pod_sandbox_id: p.id });
    assert.equal(pst.stats?.linux?.containers?.length, 1);
    // ListPodSandboxStats: every pod, or those its filter names (id prefix, labels), as PodSandboxStats gives each.
    const listStats = async (filter: object) => (await call(h.runtime, 'ListPodSandboxStats', { filter })).stats;
    const all = await listStats({});
    assert.deepEqual(
      all.map((s) => s.attributes?.id),
      [p.id],
    );
    assert.deepEqual(all[0]?.attributes?.labels, p.config.labels);
    assert.deepEqual(
      all[0]?.linux?.containers?.map((s) => s.attributes?.id),
      [c],
    );
    assert.ok(Number(all[0]?.linux?.cpu?.usage_core_nano_seconds?.value) > 0, 'the pod used CPU');
    assert.ok(Number(all[0]?.linux?.memory?.working_set_bytes?.value) > 0);
    assert.deepEqual(
      (await listStats({ id: p.id.slice(0, 12) })).map((s) => s.attributes?.id),
      [p.id],
      'by id prefix',
    );
    assert.deepEqual(
      (await listStats({ label_selector: { app: 'stats' } })).map((s) => s.attributes?.id),
      [p.id],
    );
    assert.deepEqual(await listStats({ label_selector: { app: 'other' } }), []);
    assert.deepEqual(await listStats({ id: 'f'.repeat(64) }), []);
    await call(h.runtime, 'UpdateContainerResources', {
      container_id: c,
      linux: { memory_limit_in_bytes: String(64 * 1024 * 1024), cpu_shares: '512', cpu_period: '100000', cpu_quota: '50000' },
    });
    const spec = JSON.parse((await call(h.runtime, 'ContainerStatus', { container_id: c, verbose: true })).info['info'] ?? '{}');
    assert.ok(spec.pid > 0);
    const cgroup = (controller: string, file: string) => Number(fs.readFileSync(path.join('/sys/fs/cgroup', controller, spec.cgroupsPath, file), 'utf8'));
    assert.equal(cgroup('memory', 'memory.limit_in_bytes'), 64 * 1024 * 1024);
    assert.equal(cgroup('cpu', 'cpu.shares'), 512);
    assert.equal(cgroup('cpu', 'cpu.cfs_period_us'), 100000);
    assert.equal(cgroup('cpu', 'cpu.cfs_quota_us'), 50000);
  });

  it('refuses ExecSync, Exec, Attach and ReopenContainerLog on a container that is not running (created, exited)', async () => {
    const p = await pod('idle');
    const created = (
      await call(h.runtime, 'CreateContainer', { pod_sandbox_id: p.id, config: ctr('created', ['sleep', '1000'], { stdin: true }), sandbox_config: p.config })
    ).container_id;
    const exited = await runCtr(p, ctr('exited', ['true'], { stdin: true }));
    await waitExit(exited);
    for (const [id, state] of [
      [created, 'created'],
      [exited, 'exited'],
    ] as const) {
      const notRunning = new RegExp(`container ${id} is ${state}, not running`);
      await rejectsWith(exec(id, ['true']), grpc.status.FAILED_PRECONDITION, notRunning);
      await rejectsWith(call(h.runtime, 'Exec', { container_id: id, cmd: ['true'], stdout: true }), grpc.status.FAILED_PRECONDITION, notRunning);
      await rejectsWith(call(h.runtime, 'Attach', { container_id: id, stdin: true, stdout: true }), grpc.status.FAILED_PRECONDITION, notRunning);
      await rejectsWith(call(h.runtime, 'ReopenContainerLog', { container_id: id }), grpc.status.FAILED_PRECONDITION, notRunning);
    }
  });

  it('takes names longer than a DNS label and a pod without a hostname, as containerd does', async () => {
    const long = `container-for-create-test-${'0123456789'.repeat(8)}`;
    const p = await pod(`podsandbox-${'p'.repeat(90)}`, { hostname: '' });
    const c = await runCtr(p, ctr(long, ['sleep', '1000']));
    assert.equal((await status(c)).metadata?.name, long);
    // The node's hostname, cut to nothing: runc used to fail with "sethostname: invalid argument".
    assert.equal((await exec(c, ['hostname'])).stdout.toString().trim(), os.hostname());
    assert.match((await exec(c, ['env'])).stdout.toString(), new RegExp(`^HOSTNAME=${os.hostname()}$`, 'm'));
    assert.equal((await exec(c, ['cat', '/etc/hostname'])).stdout.toString().trim(), os.hostname());
    // Without a log_path the log is ID.log in the pod's log directory (as CRI-O does), whatever the name.
    const unlogged = (
      await call(h.runtime, 'CreateContainer', { pod_sandbox_id: p.id, config: { ...ctr('no/log;path', ['true']), log_path: '' }, sandbox_config: p.config })
    ).container_id;
    assert.equal((await status(unlogged)).log_path, path.join(p.config.log_directory as string, `${unlogged}.log`));
    // A missing host path becomes a directory, as containerd and CRI-O make it (kubelet relies on it).
    const missing = path.join(h.base, 'made-by-create', 'data');
    const mounted = await runCtr(p, ctr('mounts', ['sleep', '1000'], { mounts: [{ container_path: '/data', host_path: missing }] }));
    assert.ok(fs.statSync(missing).isDirectory());
    assert.equal((await exec(mounted, ['touch', '/data/x'])).exit_code, 0);
    assert.ok(fs.existsSync(path.join(missing, 'x')));
  });

  it('refuses bad requests clearly and leaves nothing behind', async () => {
    const p = await pod('bad');
    const create = (config: ContainerConfig, sandbox = p.id) =>
      call(h.runtime, 'CreateContainer', { pod_sandbox_id: sandbox, config, sandbox_config: p.config });
    await rejectsWith(create(ctr('x', ['true']), 'f'.repeat(64)), grpc.status.NOT_FOUND, /sandbox/);
    await rejectsWith(create({ ...ctr('x', ['true']), image: { image: 'localhost/nope:1' } }), grpc.status.NOT_FOUND, /image/);
    await rejectsWith(
      create(ctr('x', ['true'], { mounts: [{ container_path: 'relative', host_path: '/tmp' }] })),
      grpc.status.INVALID_ARGUMENT,
      /mounts\[0\]\.container_path/,
    );
    await rejectsWith(create({ ...ctr('x', ['true']), log_path: '../../escape.log' }), grpc.status.INVALID_ARGUMENT, /log_path/);
    await rejectsWith(create(ctr('x\ny', ['true'])), grpc.status.INVALID_ARGUMENT, /config\.metadata\.name/);
    await rejectsWith(
      create(ctr('x', ['true'], { linux: { security_context: { run_as_group: { value: '1002' } } } })),
      grpc.status.INVALID_ARGUMENT,
      /run_as_group/,
    );
    await rejectsWith(
      create(ctr('x', ['true'], { linux: { security_context: { seccomp_profile_path: '/tmp/profile.json' } } })),
      grpc.status.INVALID_ARGUMENT,
      /seccomp_profile_path/,
    );
    assert.deepEqual((await call(h.runtime, 'ListContainers', {})).containers, []);
    const first = await create(ctr('dup', ['sleep', '100']));
    await rejectsWith(create(ctr('dup', ['sleep', '100'])), grpc.status.ALREADY_EXISTS, new RegExp(first.container_id));
    await call(h.runtime, 'RemoveContainer', { container_id: first.container_id });
    await call(h.runtime, 'RemoveContainer', { container_id: first.container_id });
    await rejectsWith(call(h.runtime, 'ContainerStatus', { container_id: first.container_id }), grpc.status.NOT_FOUND);
    // Stop of an unknown (here: removed) id is success, as Remove's is (the CRI's idempotence).
    await call(h.runtime, 'StopContainer', { container_id: first.container_id, timeout: '0' });
    await call(h.runtime, 'StopContainer', { container_id: 'f'.repeat(64), timeout: '0' });
    await rejectsWith(call(h.runtime, 'StopContainer', { container_id: '../x', timeout: '0' }), grpc.status.INVALID_ARGUMENT, /container_id/);
  });

  it('keeps containers across a cribd restart and reports an exit that happened while it was down', async () => {
    const p = await pod('restart');
    const keep = await runCtr(p, ctr('keep', ['sleep', '1000']));
    // New limits for `keep`: a restarted cribd neither forgets nor resets them.
    await call(h.runtime, 'UpdateContainerResources', { container_id: keep, linux: { memory_limit_in_bytes: String(48 * 1024 * 1024), cpu_shares: '256' } });
    const cgroupsPath = JSON.parse((await call(h.runtime, 'ContainerStatus', { container_id: keep, verbose: true })).info['info'] ?? '{}')
      .cgroupsPath as string;
    const limits = () =>
      ['memory/memory.limit_in_bytes', 'cpu/cpu.shares'].map((f) =>
        Number(fs.readFileSync(path.join('/sys/fs/cgroup', path.dirname(f), cgroupsPath, path.basename(f)), 'utf8')),
      );
    assert.deepEqual(limits(), [48 * 1024 * 1024, 256]);
    const ctl = fs.mkdtempSync(path.join(h.base, 'ctl-'));
    const quits = await runCtr(
      p,
      ctr('quits', ['sh', '-c', 'while [ ! -e /ctl/go ]; do sleep 0.05; done; exit 5'], { mounts: [{ container_path: '/ctl', host_path: ctl }] }),
    );
    await h.stopDaemon('SIGKILL');
    // `quits` exits (code 5) while cribd is down: its monitor records the exit.
    fs.writeFileSync(path.join(ctl, 'go'), '');
    const exitFile = path.join(h.state, 'exits', quits);
    await waitFor(() => fs.existsSync(exitFile), 'the monitor to record the exit', 15_000);
    const restartedAt = BigInt(Date.now()) * 1_000_000n;
    await h.start();
    assert.equal((await status(keep)).state, 1, 'still running');
    const sq = await waitExit(quits, 5000);
    assert.equal(sq.exit_code, 5);
    assert.ok(BigInt(sq.finished_at) < restartedAt, 'finish time is when it exited, not when asked');
    assert.equal((await exec(keep, ['echo', 'alive'])).stdout.toString(), 'alive\n');
    assert.deepEqual(limits(), [48 * 1024 * 1024, 256], 'the updated limits hold after the restart');
    await call(h.runtime, 'UpdateContainerResources', { container_id: keep, linux: { cpu_shares: '128' } });
    assert.deepEqual(limits(), [48 * 1024 * 1024, 128], 'and the restarted cribd updates them again');
  });
});
