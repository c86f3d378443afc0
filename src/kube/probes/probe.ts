// kubelet's probe workers (pkg/kubelet/prober/worker.go) as a state machine: when each probe of a
// container is due, what a run of results settles to (success and failure thresholds), startup
// gating liveness and readiness, and what follows (ready, not ready, kill). Pure: the caller probes
// and passes the time in.
import type { Probe, ProbeKind } from '../manifest/pod-spec.js';

export type ProbeOutcome = 'success' | 'failure';

/** One probe of one container attempt. */
export class ProbeWorker {
  /** The settled result: readiness starts failed, liveness succeeded, startup unknown (kubelet's initial values). */
  result: ProbeOutcome | 'unknown';
  /** When the probe is next due (ms epoch): ticks every period from the initial delay on. */
  due: number;
  private last: ProbeOutcome | undefined;
  private run = 0;

  constructor(
    readonly kind: ProbeKind,
    readonly probe: Probe,
    startedAt: number,
  ) {
    this.result = kind === 'readiness' ? 'failure' : kind === 'liveness' ? 'success' : 'unknown';
    this.due = startedAt + probe.initialDelaySeconds * 1000;
  }

  /** Moves `due` to the first tick after `now` (a tick that found the probe gated is skipped). */
  skip(now: number): void {
    const period = this.probe.periodSeconds * 1000;
    while (this.due <= now) this.due += period;
  }

  /** Records one outcome at `now`; returns the settled result when the thresholds change it. */
  record(outcome: ProbeOutcome, now: number): ProbeOutcome | undefined {
    this.skip(now);
    if (this.last === outcome) this.run++;
    else {
      this.last = outcome;
      this.run = 1;
    }
    const threshold = outcome === 'failure' ? this.probe.failureThreshold : this.probe.successThreshold;
    if (this.run < threshold || this.result === outcome) return undefined;
    this.result = outcome;
    return outcome;
  }
}

export type ProbeEvent =
  /** The startup probe succeeded: liveness and readiness probes begin. */
  | { type: 'started' }
  | { type: 'ready'; ready: boolean }
  /** A liveness or startup probe failed its threshold: kill the container (the restart policy decides the rest). */
  | { type: 'failed'; probe: 'liveness' | 'startup' };

/** The probes of one container attempt, from its start. */
export class ContainerProbes {
  private readonly workers = new Map<ProbeKind, ProbeWorker>();
  /** Whether the startup probe succeeded (true without one). */
  started: boolean;
  /** Whether the container counts as ready (without a readiness probe: once started). */
  ready: boolean;
  /** A liveness or startup failure stopped probing until the next attempt. */
  private held = false;

  constructor(probes: Partial<Record<ProbeKind, Probe>>, startedAt: number) {
    for (const kind of ['startup', 'liveness', 'readiness'] as const) {
      const p = probes[kind];
      if (p) this.workers.set(kind, new ProbeWorker(kind, p, startedAt));
    }
    this.started = !this.workers.has('startup');
    this.ready = this.started && !this.workers.has('readiness');
  }

  get hasReadiness(): boolean {
    return this.workers.has('readiness');
  }

  /** The probes to run at `now` (startup until it succeeds, then liveness and readiness). */
  due(now: number): ProbeWorker[] {
    if (this.held) return [];
    const out: ProbeWorker[] = [];
    for (const w of this.workers.values()) {
      if (w.due > now) continue;
      const active = w.kind === 'startup' ? !this.started : this.started;
      if (active) out.push(w);
      else w.skip(now);
    }
    return out;
  }

  /** When the next probe is due, if any. */
  nextDue(): number | undefined {
    if (this.held) return undefined;
    const dues = [...this.workers.values()].filter((w) => (w.kind === 'startup' ? !this.started : this.started)).map((w) => w.due);
    return dues.length ? Math.min(...dues) : undefined;
  }

  /** Records a probe's outcome and says what it changes. */
  record(kind: ProbeKind, outcome: ProbeOutcome, now: number): ProbeEvent[] {
    const w = this.workers.get(kind);
    if (!w || this.held) return [];
    const settled = w.record(outcome, now);
    if (settled === undefined) return [];
    const events: ProbeEvent[] = [];
    if (kind === 'readiness') {
      this.ready = settled === 'success';
      events.push({ type: 'ready', ready: this.ready });
    } else if (settled === 'failure') {
      this.held = true;
      if (this.ready) {
        this.ready = false;
        events.push({ type: 'ready', ready: false });
      }
      events.push({ type: 'failed', probe: kind });
    } else if (kind === 'startup') {
      this.started = true;
      events.push({ type: 'started' });
      const readiness = this.workers.get('readiness');
      if (readiness)
        readiness.due = now; // kubelet triggers the first readiness probe at once
      else {
        this.ready = true;
        events.push({ type: 'ready', ready: true });
      }
    }
    return events;
  }
}
