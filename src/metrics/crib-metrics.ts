// cribd's own metrics for Prometheus (the /metrics endpoint, off unless --metrics-address is set):
// CRI calls, image pulls, sandboxes and containers by state, and the process. prom-client keeps
// the values and writes the text format; nothing else in crib knows it is there: the CRI adapters
// and the puller report through the CallObserver and PullObserver seams.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ContainerService } from '../container/service.js';
import type { ContainerState } from '../container/types.js';
import type { PullObserver } from '../image/pull.js';
import type { SandboxService } from '../sandbox/service.js';
import type { SandboxState } from '../sandbox/types.js';
import type { CallKind, CallObserver } from '../util/context.js';

/** Where the state gauges are counted from, when scraped. */
export interface StateSources {
  sandboxes: Pick<SandboxService, 'list'>;
  containers: Pick<ContainerService, 'list'>;
}

const SANDBOX_STATES: readonly SandboxState[] = ['READY', 'NOTREADY'];
const CONTAINER_STATES: readonly ContainerState[] = ['CREATED', 'RUNNING', 'EXITED', 'UNKNOWN'];

/** From a Version call (about a millisecond) to a StopPodSandbox that waits out a grace period. */
const CALL_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
/** From a pull that finds every blob in the store to a large image over a slow link. */
const PULL_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

/** Counts in the given order, every state present (a state with nothing in it is 0, not absent). */
function countBy<S extends string>(states: readonly S[], items: { state: S }[]): Map<S, number> {
  const counts = new Map(states.map((s) => [s, 0]));
  for (const i of items) counts.set(i.state, (counts.get(i.state) ?? 0) + 1);
  return counts;
}

export class CribMetrics {
  readonly registry = new Registry();
  readonly calls: CallObserver;
  readonly pulls: PullObserver;

  private readonly registers = [this.registry];

  constructor(version: string) {
    const registers = this.registers;
    // Process metrics under the names every Prometheus client uses (process_*, nodejs_*), so
    // the usual dashboards and alerts for a process work on cribd as they are.
    collectDefaultMetrics({ register: this.registry });
    new Gauge({ name: 'crib_build_info', help: 'Always 1; the version of cribd is a label.', labelNames: ['version'], registers }).set({ version }, 1);

    const requests = new Counter({
      name: 'crib_cri_requests_total',
      help: 'CRI calls that ended, by method, type (unary or server_stream) and gRPC status code (OK, NOT_FOUND, ...).',
      labelNames: ['method', 'type', 'code'],
      registers,
    });
    const duration = new Histogram({
      name: 'crib_cri_request_duration_seconds',
      help: 'How long unary CRI calls took, by method (errors included).',
      labelNames: ['method'],
      buckets: CALL_BUCKETS,
      registers,
    });
    const inFlight = new Gauge({
      name: 'crib_cri_requests_in_flight',
      help: 'CRI calls being served now (server streams such as GetContainerEvents stay in flight while their client listens).',
      labelNames: ['method', 'type'],
      registers,
    });
    this.calls = {
      begin(method: string, type: CallKind) {
        inFlight.inc({ method, type });
        const stop = type === 'unary' ? duration.startTimer({ method }) : undefined;
        return (code: string) => {
          inFlight.dec({ method, type });
          stop?.();
          requests.inc({ method, type, code });
        };
      },
    };

    const pulls = new Counter({
      name: 'crib_image_pulls_total',
      help: 'Image pulls that ended, by result (success or failure); callers sharing one pull count once.',
      labelNames: ['result'],
      registers,
    });
    const pullSeconds = new Histogram({
      name: 'crib_image_pull_duration_seconds',
      help: 'How long image pulls took, by result.',
      labelNames: ['result'],
      buckets: PULL_BUCKETS,
      registers,
    });
    const pullBytes = new Counter({
      name: 'crib_image_pull_bytes_total',
      help: 'Verified manifest, config and layer bytes fetched from registries.',
      registers,
    });
    this.pulls = {
      pulled(seconds, ok) {
        const result = ok ? 'success' : 'failure';
        pulls.inc({ result });
        pullSeconds.observe({ result }, seconds);
      },
      fetched: (bytes) => pullBytes.inc(bytes),
    };
  }

  /** Adds the gauges of sandboxes and containers by state, counted when scraped: never out of step with what the CRI lists. */
  countStates(sources: StateSources): void {
    const registers = this.registers;
    new Gauge({
      name: 'crib_pod_sandboxes',
      help: 'Pod sandboxes by state (READY: pause runs; NOTREADY: stopped or pause gone).',
      labelNames: ['state'],
      registers,
      async collect() {
        for (const [state, n] of countBy(SANDBOX_STATES, await sources.sandboxes.list())) this.set({ state }, n);
      },
    });
    new Gauge({
      name: 'crib_containers',
      help: 'Containers by state (CREATED, RUNNING, EXITED, UNKNOWN).',
      labelNames: ['state'],
      registers,
      async collect() {
        for (const [state, n] of countBy(CONTAINER_STATES, await sources.containers.list())) this.set({ state }, n);
      },
    });
  }

  /** The text exposition format (version 0.0.4) of every metric, and its content type. */
  async expose(): Promise<{ body: string; contentType: string }> {
    return { body: await this.registry.metrics(), contentType: this.registry.contentType };
  }
}
