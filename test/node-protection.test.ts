// Requests built to harm the node, against a real cribd: each gets a clear gRPC status naming what was
// wrong, the host is untouched, and cribd keeps serving.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { call } from '../src/client/client.js';
import type { ContainerConfig } from '../src/cri/generated/runtime/v1/ContainerConfig.js';
import { run } from '../src/util/exec.js';
import { TEST_IMAGE, cribdWithBusybox } from './support/busybox-image.js';
import { rejectsWith } from './support/grpc-assert.js';

const IMAGE = TEST_IMAGE;

describe('a cribd given hostile requests', () => {
  const h = cribdWithBusybox();

  const ctr = (name: string, command: string[], extra: Partial<ContainerConfig> = {}): ContainerConfig => ({
    metadata: { name },
    image: { image: IMAGE },
    command,
    log_path: `${name}.log`,
    ...extra,
  });

  async function podWith(name: string, command: string[], extra: Partial<ContainerConfig> = {}) {
    const podId = await h.runPod(name);
    const create = (c: ContainerConfig) => call(h.runtime, 'CreateContainer', { pod_sandbox_id: podId, config: c, sandbox_config: h.podConfig(name) });
    const id = (await create(ctr(name, command, extra))).container_id;
    await call(h.runtime, 'StartContainer', { container_id: id });
    return { podId, id, create };
  }

  const exec = (id: string, cmd: string[], timeout: number | string) => call(h.runtime, 'ExecSync', { container_id: id, cmd, timeout: String(timeout) });
  const processes = async (id: string) => (await exec(id, ['ps', '-o', 'pid,stat,args'], 10)).stdout.toString();

  it("keeps the store and containers' specs from other users: ROOT and STATE's entries are 0700 (STATE itself 0711), even if they were not", async () => {
    const { id } = await podWith('private', ['sleep', '1000'], { envs: [{ key: 'API_TOKEN', value: 'secret-value' }] });
    const mode = (p: string) => fs.statSync(p).mode & 0o777;
    for (const dir of [h.root, path.join(h.root, 'images'), path.join(h.root, 'containers')]) assert.equal(mode(dir), 0o700, dir);
    // STATE may be passed through (a user-namespaced pod's root reaches its rootfs in STATE/roots), never listed.
    assert.equal(mode(h.state), 0o711);
    assert.equal(mode(path.join(h.state, 'roots')), 0o711);
    for (const e of fs.readdirSync(h.state).filter((e) => e !== 'roots')) {
      const p = path.join(h.state, e);
      if (fs.statSync(p).isDirectory()) assert.equal(mode(p), 0o700, p);
    }
    // As a user other than root, with the test's own temp dir opened up: nothing to read or run.
    fs.chmodSync(h.base, 0o755);
    const spec = path.join(h.root, 'containers', id, 'bundle', 'config.json');
    assert.match(fs.readFileSync(spec, 'utf8'), /secret-value/);
    const asNobody = (cmd: string[]) => run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', ...cmd]);
    await assert.rejects(asNobody(['cat', spec]), /Permission denied/);
    await assert.rejects(asNobody(['ls', path.join(h.root, 'images', 'layers')]), /Permission denied/);
    await assert.rejects(asNobody(['ls', h.state]), /Permission denied/);
    await assert.rejects(asNobody(['cat', path.join(h.state, 'runtime', 'runc', id, 'state.json')]), /Permission denied/);
    // A cribd restarted over a store made world-readable makes it private again.
    fs.chmodSync(h.root, 0o755);
    await h.stopDaemon();
    await h.start();
    assert.equal(mode(h.root), 0o700);
    fs.chmodSync(h.base, 0o700);
  });

  it("ExecSync: a timeout past setTimeout's range waits; a timed-out command dies with its children, reaped", async () => {
    const { id } = await podWith('exec', ['tail', '-f', '/dev/null']);
    // 2^31 ms and more used to fire at once.
    const long = await exec(id, ['echo', 'patient'], 3_000_000);
    assert.equal(long.stdout.toString(), 'patient\n');
    // sh execs the last command: "sleep 303" is the command itself, the others its children.
    await rejectsWith(exec(id, ['sh', '-c', 'sleep 301 & sleep 302 & sleep 303'], 1), grpc.status.DEADLINE_EXCEEDED, /timeout/);
    const ps = await processes(id);
    assert.doesNotMatch(ps, /^\s*\d+ [^Z]\S*\s+sleep 30[123]/m, `every process of the timed-out command is dead:\n${ps}`);
    // The command was reaped by the runtime; orphaned children are the node's init's to reap.
    assert.doesNotMatch(ps, /sleep 303/, `the command itself is not left a zombie:\n${ps}`);
  });

  it('ExecSync returns when the command exits, though a child it put in the background holds its output', async () => {
    const { id } = await podWith('bg', ['tail', '-f', '/dev/null']);
    const started = Date.now();
    const r = await exec(id, ['sh', '-c', 'sleep 300 & echo started'], 60);
    assert.equal(r.stdout.toString(), 'started\n');
    assert.equal(r.exit_code, 0);
    assert.ok(Date.now() - started < 20_000, `returned after ${Date.now() - started} ms`);
  });

  it('reads a Localhost seccomp profile only from a bounded regular file, never echoing it', async () => {
    const podId = await h.runPod('seccomp');
    const withProfile = (file: string) =>
      call(h.runtime, 'CreateContainer', {
        pod_sandbox_id: podId,
        config: ctr('s', ['true'], { linux: { security_context: { seccomp: { profile_type: 2, localhost_ref: file } } } }),
        sandbox_config: h.podConfig('seccomp'),
      });
    const field = /seccomp\.localhost_ref/;
    const secret = path.join(h.base, 'secret.txt');
    fs.writeFileSync(secret, 'TOKEN=hunter2-very-secret\n');
    await assert.rejects(withProfile(secret), (err: grpc.ServiceError) => {
      assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
      assert.match(err.details, field);
      assert.doesNotMatch(err.details, /hunter2|TOKEN/, 'the file is not echoed');
      return true;
    });
    const fifo = path.join(h.base, 'profile.fifo');
    await run('mkfifo', [fifo]);
    await rejectsWith(withProfile(fifo), grpc.status.INVALID_ARGUMENT, /not a regular file/); // and did not hang
    await rejectsWith(withProfile('/dev/zero'), grpc.status.INVALID_ARGUMENT, /not a regular file/);
    const big = path.join(h.base, 'big.json');
    fs.writeFileSync(big, `{"defaultAction":"SCMP_ACT_ALLOW","pad":"${'x'.repeat(2 << 20)}"}`);
    await rejectsWith(withProfile(big), grpc.status.INVALID_ARGUMENT, /larger than/);
    await rejectsWith(withProfile(path.join(h.base, 'missing.json')), grpc.status.INVALID_ARGUMENT, /ENOENT/);
    assert.deepEqual((await call(h.runtime, 'ListContainers', {})).containers, [], 'nothing half-created');
  });

  it('refuses a negative host port and bad resources as INVALID_ARGUMENT naming the field', async () => {
    await rejectsWith(
      call(h.runtime, 'RunPodSandbox', { config: { ...h.podConfig('ports'), port_mappings: [{ container_port: 80, host_port: -8080 }] } }),
      grpc.status.INVALID_ARGUMENT,
      /port_mappings\[0\]\.host_port/,
    );
    const { id, create } = await podWith('res', ['sleep', '1000']);
    await rejectsWith(
      create(ctr('neg', ['true'], { linux: { resources: { memory_limit_in_bytes: '-1' } } })),
      grpc.status.INVALID_ARGUMENT,
      /memory_limit_in_bytes/,
    );
    await rejectsWith(
      call(h.runtime, 'UpdateContainerResources', { container_id: id, linux: { cpu_shares: '-5' } }),
      grpc.status.INVALID_ARGUMENT,
      /linux\.cpu_shares/,
    );
    await rejectsWith(
      call(h.runtime, 'UpdateContainerResources', { container_id: id, linux: { cpu_period: '1' } }),
      grpc.status.INVALID_ARGUMENT,
      /linux\.cpu_period/,
    );
    await call(h.runtime, 'UpdateContainerResources', { container_id: id, linux: { cpu_shares: '512' } });
    assert.equal((await call(h.runtime, 'Version', { version: 'v1' })).runtime_name, 'crib', 'still serving');
  });

  it('refuses a host_path (or a log directory) that cannot be made, under /proc, at once; and still stops on SIGTERM', async () => {
    const missing = `/proc/crib-${process.pid}-missing/x`;
    const { create } = await podWith('procpath', ['sleep', '1000']);
    const before = (await call(h.runtime, 'ListContainers', {})).containers.length;
    await rejectsWith(
      create(ctr('procmount', ['true'], { mounts: [{ container_path: '/x', host_path: missing }] })),
      grpc.status.FAILED_PRECONDITION,
      /config\.mounts\[0\]\.host_path: .*cannot be made a directory: ENOENT/,
    );
    const logDirectory = path.dirname(missing);
    const podId = await h.runPod('proclog', { log_directory: logDirectory });
    await rejectsWith(
      call(h.runtime, 'CreateContainer', {
        pod_sandbox_id: podId,
        config: ctr('proclog', ['true']),
        sandbox_config: h.podConfig('proclog', { log_directory: logDirectory }),
      }),
      grpc.status.FAILED_PRECONDITION,
      /log directory .* cannot be made/,
    );
    assert.equal((await call(h.runtime, 'ListContainers', {})).containers.length, before, 'nothing half-created');
    assert.equal((await call(h.runtime, 'Version', { version: 'v1' })).runtime_name, 'crib', 'still serving');
    for (const p of (await call(h.runtime, 'ListPodSandbox', {})).items) await call(h.runtime, 'RemovePodSandbox', { pod_sandbox_id: p.id });
    assert.deepEqual(await h.stopDaemon('SIGTERM'), { code: 0, signal: null }, 'cribd exits on SIGTERM');
    await h.start();
  });
});
