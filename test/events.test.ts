// GetContainerEvents on a real cribd: a pod's whole life, in order, as kubelet's evented PLEG reads
// it, including a container that exits by itself (seen as it happens, not when someone asks).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { call, serverStream } from '../src/client/client.js';
import type { ContainerEventResponse__Output } from '../src/cri/generated/runtime/v1/ContainerEventResponse.js';
import { TEST_IMAGE, cribdWithBusybox } from './support/busybox-image.js';
import { waitFor } from './support/wait-for.js';

const TYPES = ['CREATED', 'STARTED', 'STOPPED', 'DELETED'];

describe('lifecycle events', () => {
  const h = cribdWithBusybox({ flags: ['--metrics-address', '127.0.0.1:0'] });

  /** GetContainerEvents calls cribd is still serving, and how many it ended as CANCELLED, from /metrics. */
  async function eventCalls(): Promise<{ inFlight: number; cancelled: number }> {
    const url = /metrics endpoint listening url="(http:\/\/[^"]+)"/.exec(fs.readFileSync(h.logFile, 'utf8'))?.[1];
    assert.ok(url, 'cribd says where /metrics is');
    const body = await (await fetch(url)).text();
    const value = (re: RegExp) => Number(re.exec(body)?.[1] ?? 0);
    return {
      inFlight: value(/^crib_cri_requests_in_flight\{method="GetContainerEvents",type="server_stream"\} (\d+)$/m),
      cancelled: value(/^crib_cri_requests_total\{method="GetContainerEvents",type="server_stream",code="CANCELLED"\} (\d+)$/m),
    };
  }

  it("a subscriber sees a pod's whole life in order, with the pod's state in each event", async () => {
    const stream = serverStream(h.runtime, 'GetContainerEvents', {});
    const got: ContainerEventResponse__Output[] = [];
    stream.on('data', (e: ContainerEventResponse__Output) => got.push(e));
    stream.on('error', () => undefined); // cancelled at the end
    try {
      const podId = await h.runPod('events');
      const config = { metadata: { name: 'short' }, image: { image: TEST_IMAGE }, command: ['sh', '-c', 'exit 3'], log_path: 'short.log' };
      const ctr = (await call(h.runtime, 'CreateContainer', { pod_sandbox_id: podId, config, sandbox_config: h.podConfig('events') })).container_id;
      await call(h.runtime, 'StartContainer', { container_id: ctr });
      // Nobody asks about it: the exit must come as an event by itself.
      await waitFor(() => got.some((e) => e.container_id === ctr && e.container_event_type === 2), 'the exit to be seen', 10_000);
      await call(h.runtime, 'StopPodSandbox', { pod_sandbox_id: podId });
      await call(h.runtime, 'RemovePodSandbox', { pod_sandbox_id: podId });
      await waitFor(() => got.filter((e) => e.container_event_type === 3).length === 2, 'both deletions', 10_000);

      const seq = got.map((e) => `${e.container_id === podId ? 'pod' : 'ctr'} ${TYPES[e.container_event_type]}`);
      assert.deepEqual(seq, ['pod CREATED', 'pod STARTED', 'ctr CREATED', 'ctr STARTED', 'ctr STOPPED', 'pod STOPPED', 'ctr DELETED', 'pod DELETED']);
      const exited = got[4];
      assert.equal(exited?.containers_statuses.find((s) => s.id === ctr)?.exit_code, 3);
      assert.equal(exited?.pod_sandbox_status?.state, 0, 'the pod was still ready when its container exited');
      assert.equal(got[5]?.pod_sandbox_status?.state, 1, 'not ready once stopped');
      for (const e of got) assert.equal(e.pod_sandbox_status?.id, podId);
      assert.ok(
        got.every((e, i) => i === 0 || BigInt(e.created_at) >= BigInt(got[i - 1]?.created_at ?? 0)),
        'times in order',
      );
    } finally {
      stream.cancel();
    }
    // The subscription ends with the call: nothing more happens on the node to wake a handler that
    // missed the cancel, so one that did would stay in flight for good.
    await waitFor(
      async () => {
        const calls = await eventCalls();
        return calls.inFlight === 0 && calls.cancelled === 1;
      },
      async () => `the cancelled GetContainerEvents call to end: ${JSON.stringify(await eventCalls())}`,
      10_000,
    );
  });
});
