// Running a program to completion with its output collected (src/util/exec.ts), on the host's sh.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runCapture, spawnCapture } from '../../src/util/exec.js';

describe('captured programs', () => {
  it('with untilExit, are done when they exit, though a child left in the background holds their output', async () => {
    const started = Date.now();
    const r = await spawnCapture('sh', ['-c', 'sleep 60 & echo $!; echo to-err >&2; exit 3'], { untilExit: true }).done;
    process.kill(Number(r.stdout.toString()), 'SIGKILL');
    assert.ok(Date.now() - started < 30_000, `done after ${Date.now() - started} ms`);
    assert.match(r.stdout.toString(), /^\d+\n$/);
    assert.equal(r.stderr.toString(), 'to-err\n');
    assert.equal(r.code, 3);
  });

  // A timeout bounds the wait: runc or a CNI plugin that leaves a process holding its output would
  // otherwise hold the CRI call that ran it until that process ends.
  it('past their timeout, are done though a child left in the background holds their output, exited or not', async () => {
    for (const script of ['sleep 60 & echo $!; exit 0', 'sleep 60 & echo $!; exec sleep 60']) {
      const started = Date.now();
      const r = await runCapture('sh', ['-c', script], { timeoutMs: 300 });
      process.kill(Number(r.stdout.toString()), 'SIGKILL');
      assert.ok(Date.now() - started < 30_000, `${script}: done after ${Date.now() - started} ms, not when the background sleep ends`);
      assert.equal(r.timedOut, true, script);
    }
  });

  it('cancelled, are done though a child left in the background holds their output', async () => {
    const ac = new AbortController();
    const p = spawnCapture('sh', ['-c', 'sleep 60 & echo $!; exit 0'], { signal: ac.signal });
    setTimeout(() => ac.abort(), 300);
    const r = await p.done;
    process.kill(Number(r.stdout.toString()), 'SIGKILL');
    assert.equal(r.cancelled, true);
    assert.equal(r.code, 0, 'it had exited on its own');
  });

  it('keep at most maxOutputBytes per stream and read the rest, so the writer is never blocked', async () => {
    const r = await runCapture('sh', ['-c', 'head -c 1000000 /dev/zero; echo to-err >&2'], { maxOutputBytes: 10 });
    assert.deepEqual(r.stdout, Buffer.alloc(10));
    assert.equal(r.stderr.toString(), 'to-err\n');
    assert.equal(r.truncated, true);
    assert.equal(r.code, 0);
  });
});
