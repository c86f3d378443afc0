// Every CRI call carries a context: its log lines name the method and a request id, and a client's
// deadline or cancellation stops long work (grace periods, execs) instead of leaving it running.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { call } from '../src/client/client.js';
import type { ContainerConfig } from '../src/cri/generated/runtime/v1/ContainerConfig.js';
import { TEST_IMAGE, cribdWithBusybox } from './support/busybox-image.js';
import { rejectsWith } from './support/grpc-assert.js';
import { waitFor } from './support/wait-for.js';

const IMAGE = TEST_IMAGE;

describe('request context', () => {
  const h = cribdWithBusybox();

  async function running(name: string, command: string[]): Promise<string> {
    const podId = await h.runPod(name);
    const config: ContainerConfig = { metadata: { name }, image: { image: IMAGE }, command, log_path: `${name}.log` };
    const id = (await call(h.runtime, 'CreateContainer', { pod_sandbox_id: podId, config, sandbox_config: h.podConfig(name) })).container_id;
    await call(h.runtime, 'StartContainer', { container_id: id });
    return id;
  }

  const state = async (id: string) => (await call(h.runtime, 'ContainerStatus', { container_id: id })).status?.state;

  it('names the method and a request id on every log line of a call', async () => {
    await rejectsWith(call(h.runtime, 'PodSandboxStatus', { pod_sandbox_id: 'f'.repeat(64) }), grpc.status.NOT_FOUND);
    const line = fs
      .readFileSync(h.logFile, 'utf8')
      .split('\n')
      .find((l) => l.includes('PodSandboxStatus failed'));
    assert.match(line ?? '', /method="PodSandboxStatus" req="[0-9a-f]{8}"/, `cribd log:\n${h.logTail()}`);
  });

  it('a StopContainer whose client deadline passes cuts the grace period short', async () => {
    const id = await running('stubborn', ['sh', '-c', "trap '' TERM; echo ready; while :; do sleep 1; done"]);
    const started = Date.now();
    // A 60 s grace, but the client waits only 2 s: the container is killed then, not a minute later.
    await rejectsWith(call(h.runtime, 'StopContainer', { container_id: id, timeout: '60' }, 2), grpc.status.DEADLINE_EXCEEDED);
    await waitFor(async () => (await state(id)) === 2, 'the container to be killed', 15_000);
    assert.ok(Date.now() - started < 30_000, `stopped after ${Date.now() - started} ms`);
  });

  it('an ExecSync whose client goes away kills the command', async () => {
    const id = await running('execs', ['tail', '-f', '/dev/null']);
    await rejectsWith(call(h.runtime, 'ExecSync', { container_id: id, cmd: ['sleep', '4242'], timeout: '600' }, 2), grpc.status.DEADLINE_EXCEEDED);
    const ps = async () => (await call(h.runtime, 'ExecSync', { container_id: id, cmd: ['ps', '-o', 'args'], timeout: '10' })).stdout.toString();
    await waitFor(async () => !(await ps()).includes('sleep 4242'), 'the command to be killed', 15_000);
  });
});
