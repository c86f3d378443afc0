/** Why a subscription ended: its reader fell behind, or the bus closed. */
export class SubscriptionEnded extends Error {}

/**
 * One subscriber's view of the bus: the events published since it subscribed, in order. A reader
 * that lets more than `maxQueued` events pile up is dropped (its iteration throws
 * SubscriptionEnded) rather than growing memory without bound.
 */
export interface Subscription<T> extends AsyncIterable<T> {
  close(): void;
}

interface Subscriber<T> {
  queue: T[];
  wake: (() => void) | undefined;
  ended: Error | undefined;
}

/** The side of a bus a service that only says what happened needs. */
export interface Publisher<T> {
  publish(event: T): void;
}

/** Publishes events to every subscriber, in order, each with a bounded queue. */
export class EventBus<T> implements Publisher<T> {
  private readonly subscribers = new Set<Subscriber<T>>();

  constructor(private readonly maxQueued = 1024) {}

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  publish(event: T): void {
    for (const s of this.subscribers) {
      if (s.queue.length >= this.maxQueued) {
        this.end(s, new SubscriptionEnded(`the subscriber fell more than ${this.maxQueued} events behind and was dropped`));
        continue;
      }
      s.queue.push(event);
      s.wake?.();
    }
  }

  subscribe(): Subscription<T> {
    const s: Subscriber<T> = { queue: [], wake: undefined, ended: undefined };
    this.subscribers.add(s);
    const subscribers = this.subscribers;
    return {
      close: () => this.end(s, undefined),
      async *[Symbol.asyncIterator]() {
        try {
          for (;;) {
            const next = s.queue.shift();
            if (next !== undefined) {
              yield next;
              continue;
            }
            if (s.ended) throw s.ended;
            if (!subscribers.has(s)) return;
            await new Promise<void>((resolve) => (s.wake = resolve));
            s.wake = undefined;
          }
        } finally {
          subscribers.delete(s);
        }
      },
    };
  }

  /** Ends every subscription (at shutdown). */
  close(): void {
    for (const s of this.subscribers) this.end(s, undefined);
  }

  private end(s: Subscriber<T>, why: Error | undefined): void {
    this.subscribers.delete(s);
    s.ended = why;
    if (why) s.queue.length = 0;
    s.wake?.();
  }
}
