// kubelet's log rotation against a container that never stops writing: rename the log away, then
// ReopenContainerLog, 200 times. Every line the container wrote must be in one of the files, once,
// in order: what conmon wrote before the reopen went to the renamed file, the rest to the new one.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { call } from '../src/client/client.js';
import { TEST_IMAGE, cribdWithBusybox } from './support/busybox-image.js';
import { rejectsWith } from './support/grpc-assert.js';
import { waitFor } from './support/wait-for.js';

const ROTATIONS = 200;

/** The lines of a CRI log file's content, partial lines (P) joined to the full line (F) that ends them. */
function logLines(text: string, into: string[], pending: { s: string }): void {
  for (const line of text.split('\n')) {
    if (!line) continue;
    const m = /^\S+ (stdout|stderr) ([PF]) (.*)$/.exec(line);
    assert.ok(m, `a CRI log line: ${JSON.stringify(line.slice(0, 80))}`);
    pending.s += m[3];
    if (m[2] === 'F') {
      into.push(pending.s);
      pending.s = '';
    }
  }
}

describe('log rotation', () => {
  const h = cribdWithBusybox();

  it(`loses no line of a busy log over ${ROTATIONS} rotations`, async () => {
    const podId = await h.runPod('rotate');
    const config = {
      metadata: { name: 'writer' },
      image: { image: TEST_IMAGE },
      command: ['sh', '-c', 'i=0; while :; do echo "line $i"; i=$((i+1)); done'],
      log_path: 'writer.log',
    };
    const ctr = (await call(h.runtime, 'CreateContainer', { pod_sandbox_id: podId, config, sandbox_config: h.podConfig('rotate') })).container_id;
    const log = path.join(h.podConfig('rotate').log_directory ?? '', 'writer.log');
    await call(h.runtime, 'StartContainer', { container_id: ctr });
    await waitFor(() => fs.existsSync(log) && fs.statSync(log).size > 0, 'the first lines');

    const rotated: string[] = [];
    for (let i = 0; i < ROTATIONS; i++) {
      const to = `${log}.${String(i).padStart(3, '0')}`;
      fs.renameSync(log, to); // as kubelet does: rename, then ask the runtime to reopen
      rotated.push(to);
      await call(h.runtime, 'ReopenContainerLog', { container_id: ctr });
    }
    await call(h.runtime, 'StopContainer', { container_id: ctr, timeout: 0 });

    const lines: string[] = [];
    const pending = { s: '' };
    let empty = 0;
    for (const f of [...rotated, log]) {
      const text = fs.readFileSync(f, 'utf8');
      if (!text) empty++;
      logLines(text, lines, pending);
    }
    assert.ok(lines.length > ROTATIONS * 10, `a busy log (${lines.length} lines)`);
    assert.ok(empty < ROTATIONS / 2, `the writer kept writing while the log rotated (${empty} empty files)`);
    // The container was killed mid-write: only its very last line may be cut.
    lines.forEach((l, i) => assert.equal(l, `line ${i}`, `line ${i} of ${lines.length}`));
    await call(h.runtime, 'RemovePodSandbox', { pod_sandbox_id: podId });
  });

  it('refuses to reopen a log whose directory is gone, and the log goes on once it is back', async () => {
    const podId = await h.runPod('nodir');
    const config = {
      metadata: { name: 'ticker' },
      image: { image: TEST_IMAGE },
      command: ['sh', '-c', 'i=0; while :; do echo "tick $i"; i=$((i+1)); sleep 0.05; done'],
      log_path: 'ticker.log',
    };
    const ctr = (await call(h.runtime, 'CreateContainer', { pod_sandbox_id: podId, config, sandbox_config: h.podConfig('nodir') })).container_id;
    const dir = h.podConfig('nodir').log_directory ?? '';
    const log = path.join(dir, 'ticker.log');
    await call(h.runtime, 'StartContainer', { container_id: ctr });
    await waitFor(() => fs.existsSync(log) && fs.statSync(log).size > 0, 'the first lines');
    fs.rmSync(dir, { recursive: true });
    await rejectsWith(call(h.runtime, 'ReopenContainerLog', { container_id: ctr }), grpc.status.FAILED_PRECONDITION, /log directory .* is gone/);
    assert.equal(fs.existsSync(log), false, 'no log was reopened');
    const st = await call(h.runtime, 'ContainerStatus', { container_id: ctr });
    assert.equal(st.status?.state, 1, 'the container runs on');
    fs.mkdirSync(dir);
    await call(h.runtime, 'ReopenContainerLog', { container_id: ctr });
    await waitFor(() => /stdout F tick \d+/.test(fs.readFileSync(log, 'utf8')), 'new lines in the reopened log');
    await call(h.runtime, 'RemovePodSandbox', { pod_sandbox_id: podId });
  });
});
