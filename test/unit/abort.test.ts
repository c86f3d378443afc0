// What a cancelled caller gets (src/util/context.ts, src/util/on-abort.ts): untilAborted and onAbort.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CribError } from '../../src/util/errors.js';
import { untilAborted } from '../../src/util/context.js';
import { onAbort } from '../../src/util/on-abort.js';

describe('request context', () => {
  it("untilAborted: the caller gets the signal's reason at once while the shared work goes on", async () => {
    const ac = new AbortController();
    let finish!: (v: string) => void;
    const work = new Promise<string>((r) => (finish = r));
    const waiting = untilAborted(work, ac.signal);
    ac.abort(new CribError('DeadlineExceeded', 'too slow'));
    await assert.rejects(waiting, (e: unknown) => e instanceof CribError && e.kind === 'DeadlineExceeded');
    finish('done');
    assert.equal(await work, 'done');
    assert.equal(await untilAborted(Promise.resolve(1), new AbortController().signal), 1);
    await assert.rejects(untilAborted(Promise.resolve(1), AbortSignal.abort()), (e: unknown) => e instanceof CribError && e.kind === 'Cancelled');
  });

  it('onAbort: runs at once for a signal that fired before anyone listened, later for one that fires later, never after stopping', () => {
    let ran = 0;
    onAbort(AbortSignal.abort(), () => ran++);
    assert.equal(ran, 1, 'a caller gone before the listener was added is still seen');
    const later = new AbortController();
    onAbort(later.signal, () => ran++);
    const stopped = onAbort(later.signal, () => (ran += 100));
    stopped();
    later.abort();
    assert.equal(ran, 2);
  });
});
