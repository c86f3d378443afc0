// crib logs -f on the real CLI against a real cribd, as kubelet's ReadLogs serves `kubectl logs -f`:
// it follows a container's log across rotations (the file renamed, ReopenContainerLog, a new file),
// losing and repeating no line, and ends when the attempt it follows stops running (a restart ends
// it; the next `crib logs -f` follows the new attempt, --previous prints the one that ended).
import { after, afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { call } from '../src/client/client.js';
import type { ContainerConfig } from '../src/cri/generated/runtime/v1/ContainerConfig.js';
import { TEST_IMAGE, cribdWithBusybox } from '../support/busybox-image.js';
import { cribCli, type BackgroundCli } from './support/crib-cli.js';
import { waitFor } from './support/wait-for.js';

const ROTATIONS = 40;

/** Every full line of a follower's stdout, asserted to be `line 0`, `line 1`, ... with none missing or twice. */
function assertConsecutive(out: string, prefix: string): number {
  const lines = out.split('\n');
  const last = lines.pop(); // the container was killed mid-write: only its very last line may be cut
  lines.forEach((l, i) => assert.equal(l, `${prefix}line ${i}`, `line ${i} of ${lines.length}`));
  assert.ok(last === '' || `${prefix}line ${lines.length}`.startsWith(last ?? ''), `a cut last line: ${last}`);
  return lines.length;
}

describe('crib logs -f', () => {
  const h = cribdWithBusybox();
  const cli = cribCli(h);
  afterEach(() => cli.killAll());
  after(() => cli.killAll());

  const ctr = (name: string, attempt: number, cmd: string): ContainerConfig => ({
    metadata: { name, attempt },
    image: { image: TEST_IMAGE },
    command: ['sh', '-c', cmd],
    log_path: `${name}/${attempt}.log`,
  });
  const start = async (pod: string, id: string, config: ContainerConfig): Promise<string> => {
    const c = (await call(h.runtime, 'CreateContainer', { pod_sandbox_id: id, config, sandbox_config: h.podConfig(pod) })).container_id;
    await call(h.runtime, 'StartContainer', { container_id: c });
    return c;
  };
  const exited = (f: BackgroundCli) => Promise.race([f.exited, new Promise<'still running'>((r) => setTimeout(() => r('still running'), 30_000))]);

  it(`follows a busy log across ${ROTATIONS} rotations, each line once and in order (one container, and the pod merged)`, async () => {
    const id = await h.runPod('rotating');
    const c = await start('rotating', id, ctr('writer', 0, 'i=0; while :; do echo "line $i"; i=$((i+1)); [ $((i % 100)) = 0 ] && usleep 2000; done'));
    const log = path.join(h.podConfig('rotating').log_directory ?? '', 'writer', '0.log');
    await waitFor(() => fs.existsSync(log) && fs.statSync(log).size > 0, 'the first lines');
    const one = cli.background(['logs', '-f', c]);
    const merged = cli.background(['logs', '-f', '--all-containers', 'rotating']);
    await waitFor(
      () => one.out.stdout.length > 0 && merged.out.stdout.length > 0,
      () => `both follow: ${one.out.stdout.length} ${one.out.stderr} / ${merged.out.stdout.length} ${merged.out.stderr}`,
    );
    for (let i = 0; i < ROTATIONS; i++) {
      fs.renameSync(log, `${log}.${String(i).padStart(3, '0')}`); // as kubelet: rename, then reopen
      await call(h.runtime, 'ReopenContainerLog', { container_id: c });
      // kubelet rotates a log of 10 MiB at most every 10 s, so a follower reads the new file before
      // the next rotation (neither it nor kubelet's ReadLogs looks for files rotated in between): wait
      // until both have printed a line of the new file. The wait is long: on a loaded machine the
      // followers fall behind the writer (a shell loop) and must first print the old file's rest;
      // it is there to end a follower that never reads the new file, not to time one.
      let seen = '';
      await waitFor(
        () => {
          seen ||= /stdout F (line \d+)\n/.exec(fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '')?.[1] ?? '';
          return !!seen && (one.out.stdout.startsWith(`${seen}\n`) || one.out.stdout.includes(`\n${seen}\n`)) && merged.out.stdout.includes(`] ${seen}\n`);
        },
        `both followers read rotation ${i}'s new file`,
        60_000,
      );
    }
    await call(h.runtime, 'StopContainer', { container_id: c, timeout: 0 });
    assert.equal(await exited(one), 0, `crib logs -f ends once the container stopped: ${one.out.stderr}`);
    assert.equal(await exited(merged), 0, `crib logs -f --all-containers too: ${merged.out.stderr}`);
    const written = fs
      .readdirSync(path.dirname(log))
      .sort()
      .map((f) => fs.readFileSync(path.join(path.dirname(log), f), 'utf8'))
      .join('')
      .split('\n')
      .filter((l) => / stdout F /.test(l)).length;
    assert.ok(written > ROTATIONS * 10, `a busy log (${written} lines)`);
    assert.equal(assertConsecutive(one.out.stdout, ''), written, 'every line the files hold');
    assert.equal(assertConsecutive(merged.out.stdout, '[writer] '), written);
    await call(h.runtime, 'RemovePodSandbox', { pod_sandbox_id: id });
  });

  it('ends when the attempt it follows stops, as kubectl; follows the new one when asked again; --previous after rotations', async () => {
    const id = await h.runPod('restarts');
    const dir = path.join(h.podConfig('restarts').log_directory ?? '', 'app');
    const first = await start('restarts', id, ctr('app', 0, 'echo first; while [ ! -e /tmp/go ]; do sleep 0.1; done; echo first-end'));
    await waitFor(() => fs.existsSync(path.join(dir, '0.log')) && fs.statSync(path.join(dir, '0.log')).size > 0, 'the first line');
    const one = cli.background(['logs', '-f', 'restarts']);
    const merged = cli.background(['logs', '-f', '--all-containers', 'restarts']);
    await waitFor(
      () => one.out.stdout === 'first\n' && merged.out.stdout === '[app] first\n',
      () => `both follow: ${JSON.stringify([one.out, merged.out])}`,
    );
    // attempt 0's log rotates while it runs: the followers go on into the new file
    fs.renameSync(path.join(dir, '0.log'), path.join(dir, '0.log.20260101-000000'));
    await call(h.runtime, 'ReopenContainerLog', { container_id: first });
    // kubelet makes the next attempt once this one ended; it is made early here, so a follower
    // that wrongly went on to the newest attempt would follow it and never end
    const second = (
      await call(h.runtime, 'CreateContainer', {
        pod_sandbox_id: id,
        config: ctr('app', 1, 'echo second; exec sleep 3600'),
        sandbox_config: h.podConfig('restarts'),
      })
    ).container_id;
    await call(h.runtime, 'ExecSync', { container_id: first, cmd: ['touch', '/tmp/go'], timeout: 30 });
    assert.equal(await exited(one), 0, `the follow ends with attempt 0: ${one.out.stderr}`);
    assert.equal(await exited(merged), 0, `the merged follow too: ${merged.out.stderr}`);
    assert.equal(one.out.stdout, 'first\nfirst-end\n');
    assert.equal(merged.out.stdout, '[app] first\n[app] first-end\n');

    await call(h.runtime, 'StartContainer', { container_id: second });
    const again = cli.background(['logs', '-f', 'restarts']);
    await waitFor(
      () => again.out.stdout === 'second\n',
      () => `the new attempt: ${JSON.stringify(again.out)}`,
    );
    // the new attempt's log rotates too; --previous is still attempt 0's (its live file, as kubelet reads it)
    fs.renameSync(path.join(dir, '1.log'), path.join(dir, '1.log.20260101-000001'));
    await call(h.runtime, 'ReopenContainerLog', { container_id: second });
    const prev = await cli.crib(['logs', '--previous', 'restarts']);
    assert.equal(prev.code, 0, prev.stderr);
    assert.equal(prev.stdout, 'first-end\n', "attempt 0's log file: what it wrote after its rotation");
    again.child.kill('SIGINT');
    assert.equal(await exited(again), 130);
    await call(h.runtime, 'RemovePodSandbox', { pod_sandbox_id: id });
  });
});
