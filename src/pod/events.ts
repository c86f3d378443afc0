// The lifecycle events subscribers see (GetContainerEvents, `crib events`): the services' notices,
// each with the pod as it is at that moment, republished in the order they happened.
import type { ContainerService } from '../container/service.js';
import type { ContainerNotice, ContainerState, ContainerView } from '../container/types.js';
import { EventBus, type Subscription } from '../events/bus.js';
import type { LifecycleEventType } from '../events/lifecycle.js';
import type { SandboxService } from '../sandbox/service.js';
import type { SandboxNotice, SandboxView } from '../sandbox/types.js';
import { internalContext } from '../util/context.js';
import { log } from '../util/log.js';
import { nowNanos } from '../util/time.js';

/** What the services say happened, as it happens: the feed of PodEvents. */
export type LifecycleNotice = SandboxNotice | ContainerNotice;

/** An event as subscribers get it: what happened, and the pod as it was then. */
export interface LifecycleEvent {
  type: LifecycleEventType;
  /** The container's id, or the sandbox's for the pod's own events. */
  id: string;
  /** Nanoseconds since the epoch, as a decimal string. */
  at: string;
  /** Absent only when the pod could not be looked at. */
  sandbox?: SandboxView;
  containers: ContainerView[];
}

/** A deleted container is no longer anyone's to look up: its last state comes from its record. */
const stateOf: Record<string, ContainerState> = { created: 'CREATED', running: 'RUNNING', exited: 'EXITED', creating: 'UNKNOWN' };

export class PodEvents {
  /** What subscribers read; a subscriber that falls 1024 events behind is dropped. */
  readonly events = new EventBus<LifecycleEvent>(1024);
  private readonly feed: Subscription<LifecycleNotice>;
  private readonly done: Promise<void>;

  constructor(
    notices: EventBus<LifecycleNotice>,
    private readonly sandboxes: Pick<SandboxService, 'find' | 'view'>,
    private readonly containers: Pick<ContainerService, 'list'>,
  ) {
    this.feed = notices.subscribe();
    this.done = this.run();
  }

  private async run(): Promise<void> {
    try {
      for await (const n of this.feed) {
        // Only when someone listens is the pod looked at (a status costs a few syscalls).
        if (this.events.subscriberCount === 0) continue;
        this.events.publish(await this.enrich(n).catch((err: unknown) => this.bare(n, err)));
      }
    } catch (err) {
      log.error('the lifecycle event feed stopped', { error: err });
    }
  }

  private async enrich(n: LifecycleNotice): Promise<LifecycleEvent> {
    const sandboxId = n.kind === 'sandbox' ? n.sandbox.id : n.container.sandboxId;
    const sb = n.kind === 'sandbox' ? n.sandbox : this.sandboxes.find(sandboxId);
    const live = await this.containers.list(internalContext('events'), { sandboxId });
    const gone: ContainerView[] =
      n.kind === 'container' && n.type === 'DELETED' ? [{ container: n.container, state: stateOf[n.container.phase] ?? 'UNKNOWN' }] : [];
    return {
      type: n.type,
      id: n.kind === 'sandbox' ? n.sandbox.id : n.container.id,
      at: nowNanos(),
      ...(sb ? { sandbox: await this.sandboxes.view(sb) } : {}),
      containers: [...live.filter((v) => v.container.sandboxId === sandboxId), ...gone],
    };
  }

  /** The event without the pod's state, when looking at it failed: better said thin than not at all. */
  private bare(n: LifecycleNotice, err: unknown): LifecycleEvent {
    log.warn('a lifecycle event goes out without the pod state', { error: err });
    return { type: n.type, id: n.kind === 'sandbox' ? n.sandbox.id : n.container.id, at: nowNanos(), containers: [] };
  }

  /** Ends the feed and every subscription (at shutdown). */
  async close(): Promise<void> {
    this.feed.close();
    await this.done;
    this.events.close();
  }
}
