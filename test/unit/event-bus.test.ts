// The event bus behind GetContainerEvents: every subscriber gets every event in order, and one that
// stops reading is dropped instead of holding memory.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EventBus, SubscriptionEnded } from '../../src/events/bus.js';

describe('event bus', () => {
  it('delivers every event to every subscriber, in order, and ends cleanly on close', async () => {
    const bus = new EventBus<number>(100);
    const a = bus.subscribe();
    const b = bus.subscribe();
    const read = async (s: AsyncIterable<number>) => {
      const got: number[] = [];
      for await (const n of s) got.push(n);
      return got;
    };
    const ra = read(a);
    const rb = read(b);
    for (let i = 0; i < 50; i++) bus.publish(i);
    bus.close();
    const want = Array.from({ length: 50 }, (_, i) => i);
    assert.deepEqual(await ra, want);
    assert.deepEqual(await rb, want);
    assert.equal(bus.subscriberCount, 0);
  });

  it('drops a subscriber that stops reading, keeps the others, and holds no more than its bound', async () => {
    const bus = new EventBus<{ payload: string }>(64);
    const stalled = bus.subscribe()[Symbol.asyncIterator]();
    const reader = bus.subscribe();
    let seen = 0;
    const reading = (async () => {
      for await (const _ of reader) seen++;
    })();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 200_000; i++) {
      bus.publish({ payload: 'x'.repeat(100) + String(i) });
      if (i % 16 === 0) await new Promise((r) => setImmediate(r)); // let the reader keep up
    }
    global.gc?.();
    assert.ok(process.memoryUsage().heapUsed - before < 64 * 1024 * 1024, 'memory stayed bounded');
    assert.equal(bus.subscriberCount, 1, 'the stalled one was dropped');
    await assert.rejects(stalled.next(), SubscriptionEnded);
    reader.close();
    await reading;
    assert.equal(seen, 200_000);
  });
});
