// The node's supervisor (`crib supervise`), as kubelet is for static pods: for every run recorded
// by `crib run -d` (records/runs.ts) and every file of the manifest directory, it takes the pods
// over (PodRun.adopt: probes, restarts with back-off, log rotation: the foreground run's own code)
// until `crib down` removes the record or the file goes. It keeps no state of its own but the
// records: restarted, it takes the same pods over again; cribd restarted, it takes them over once
// cribd answers. Its own end leaves the pods running.
import crypto from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { call } from '../../client/client.js';
import type { ClientContext } from '../../client/context.js';
import { describeError } from '../../client/errors.js';
import type { Container__Output } from '../../cri/generated/runtime/v1/Container.js';
import { every } from '../loop/every.js';
import { backoffFrom, KUBELET_BACKOFF } from '../loop/backoff.js';
import { emptyManifest, parseManifests, type Manifest } from '../manifest/documents.js';
import { ManifestError } from '../manifest/fields.js';
import { ManifestTooLarge, readManifest } from '../manifest/input.js';
import { podOf } from '../plan/plan.js';
import { PodRun, type RunEnv } from '../pod/pod-run.js';
import { addRecordedSecrets } from '../records/recorded-secrets.js';
import { readRuns, removeRun, runId, runStateDir, writeRun, type RunRecord } from '../records/runs.js';
import { downManifest, findWorkloadPods } from '../run/down.js';
import { ensureImages, runEnv, runManifest } from '../run/runner.js';
import { plannedWorkloads, startedKinds, workloadKind } from '../kinds/table.js';
import type { Workload } from '../manifest/workload.js';
import { releaseLock, stillHeld } from './lock.js';
import { completeManifest } from '../kinds/table.js';

export interface SupervisorOptions {
  /** kubelet's --pod-manifest-path: each *.yaml, *.yml, *.json is run while it is there. */
  manifestDir: string;
  scanMs: number;
  /** Started by `crib run -d`: ends once no run is recorded and the directory has no manifest. */
  exitWhenIdle: boolean;
}

export const DEFAULT_MANIFEST_DIR = '/etc/crib/manifests';

/** A recorded run as the supervisor follows it. */
interface Watched {
  record: RunRecord;
  manifest: Manifest;
  /** Aborted when the record goes: its pods' takeovers end (the pods stay for crib down). */
  stop: AbortController;
  env?: RunEnv;
  /** The kinds that act beside the workloads (CronJob, Service) were started for it. */
  started?: boolean;
  /** Its workloads that are their own controller (a Job): running, or done (complete or failed). */
  controllers: Map<Workload, 'running' | 'done'>;
}

/** Parses a run's files; a ManifestError names the file, the document and the field. */
export function parseRunFiles(files: readonly { name: string; text: string }[]): Manifest {
  const m = emptyManifest();
  for (const f of files) {
    try {
      parseManifests(f.text, m);
    } catch (err) {
      if (err instanceof ManifestError) throw new ManifestError(err.field ? `${f.name}: ${err.field}` : f.name, err.reason);
      throw err;
    }
  }
  completeManifest(m); // as crib run does: a Service's node ports, the same workloads
  return m;
}

const hash = (text: string): string => crypto.createHash('sha256').update(text).digest('hex');

export class Supervisor {
  private readonly watched = new Map<string, Watched>();
  /** Takeovers running, by sandbox id. */
  private readonly adopted = new Map<string, Promise<void>>();
  /** The started kinds' runs (a CronJob's): awaited at the end, so that what they keep is written whole. */
  private readonly kindRuns = new Set<Promise<void>>();
  /** Pods seen to their end (a Job's): left as they are until crib down. */
  private readonly finished = new Set<string>();
  /** Files of the directory that failed to start, by path: their hash and when, not retried for a minute unless changed. */
  private readonly failedFiles = new Map<string, { hash: string; at: number }>();

  constructor(
    private readonly ctx: ClientContext,
    private readonly root: string,
    private readonly o: SupervisorOptions,
    private readonly signal: AbortSignal,
  ) {}

  private say(line: string): void {
    this.ctx.err.write(`${new Date().toISOString()} ${line}\n`);
  }

  /** Runs until the signal, the lock is lost, or (exitWhenIdle) nothing is left to watch. */
  async run(): Promise<void> {
    const idle = new AbortController();
    const stop = AbortSignal.any([this.signal, idle.signal]);
    this.say(`crib supervise: watching ${this.o.manifestDir} and the runs of crib run -d (root ${this.root})`);
    await every(
      stop,
      this.o.scanMs,
      async () => {
        if (!(await stillHeld(this.root))) {
          this.say('crib supervise: the pid file no longer names this process; ending');
          return idle.abort();
        }
        const files = await this.syncDirectory();
        await this.syncRuns();
        if (this.o.exitWhenIdle && files === 0 && this.watched.size === 0) {
          this.say('crib supervise: nothing left to watch; ending');
          idle.abort();
        }
      },
      (l) => this.say(`crib supervise: ${l}`),
    );
    for (const w of this.watched.values()) w.stop.abort();
    await Promise.all([...this.adopted.values(), ...this.kindRuns]);
    // What the kinds' hooks were told (a Service's names) is written whole before the lock goes.
    await Promise.all([...this.watched.values()].flatMap((w) => w.env?.hooks.map((h) => h.settled?.() ?? Promise.resolve()) ?? []));
    await releaseLock(this.root);
  }

  /** The directory's manifests: new ones run, changed ones run again, removed ones torn down. How many there are. */
  private async syncDirectory(): Promise<number> {
    const dir = this.o.manifestDir;
    const names = (await fsp.readdir(dir).catch(() => [] as string[])).filter((n) => /\.(ya?ml|json)$/.test(n) && !n.startsWith('.')).sort();
    const records = (await readRuns(this.root)).filter((r) => r.source !== undefined);
    const present = new Set<string>();
    for (const name of names) {
      const file = path.join(dir, name);
      present.add(file);
      let text: string;
      try {
        text = await readManifest(file);
      } catch (err) {
        const h = `unreadable:${err instanceof ManifestTooLarge ? 'large' : describeError(err)}`;
        if (this.failedFiles.get(file)?.hash !== h) this.say(`crib supervise: ${file}: ${err instanceof ManifestTooLarge ? err.message : describeError(err)}`);
        this.failedFiles.set(file, { hash: h, at: Date.now() });
        continue;
      }
      const h = hash(text);
      const old = records.find((r) => r.source === file);
      if (old?.sourceHash === h) continue;
      const failed = this.failedFiles.get(file);
      if (failed?.hash === h && Date.now() - failed.at < 60_000) continue;
      if (old) await this.tearDown(old, `${file} changed`);
      await this.start(file, text, h);
    }
    for (const r of records) if (r.source && !present.has(r.source)) await this.tearDown(r, `${r.source} was removed`);
    return names.length;
  }

  /** Runs a file of the directory as `crib run -d --replace` would, then records it. */
  private async start(file: string, text: string, h: string): Promise<void> {
    let m: Manifest;
    try {
      m = parseRunFiles([{ name: file, text }]);
    } catch (err) {
      if (!(err instanceof ManifestError)) throw err;
      this.say(`crib supervise: ${err.message}; not started`);
      this.failedFiles.set(file, { hash: h, at: Date.now() });
      return;
    }
    for (const w of [...m.ignoredKinds, ...m.warnings]) this.say(`crib supervise: ${file}: warning: ${w}`);
    if (m.workloads.length === 0 && plannedWorkloads(m).length === 0) {
      this.say(`crib supervise: ${file}: nothing to run (no Pod, Deployment, ReplicaSet, StatefulSet, DaemonSet, Job or CronJob)`);
      this.failedFiles.set(file, { hash: h, at: Date.now() });
      return;
    }
    this.say(`crib supervise: ${file}: starting`);
    const code = await runManifest(this.ctx, m, { detach: true, replace: true, backoff: KUBELET_BACKOFF, quiet: true });
    if (code !== 0) {
      this.say(`crib supervise: ${file}: not started (exit ${code}); tried again when it changes, or in a minute`);
      this.failedFiles.set(file, { hash: h, at: Date.now() });
      return;
    }
    this.failedFiles.delete(file);
    await writeRun(this.root, {
      id: runId(m, plannedWorkloads(m)),
      files: [{ name: file, text }],
      backoffMs: KUBELET_BACKOFF.initialMs,
      source: file,
      sourceHash: h,
    });
  }

  /** Stops watching a directory file's run and tears its pods down (its claims' data stays). */
  private async tearDown(r: RunRecord, why: string): Promise<void> {
    this.say(`crib supervise: ${why}: tearing down what it started`);
    await removeRun(this.root, r.id);
    this.watched.get(r.id)?.stop.abort();
    this.watched.delete(r.id);
    try {
      await downManifest(this.ctx, this.root, parseRunFiles(r.files), false);
    } catch (err) {
      this.say(`crib supervise: ${why}: ${describeError(err)}`);
    }
  }

  /** Follows the recorded runs: new records are watched, removed ones let go, their pods taken over. */
  private async syncRuns(): Promise<void> {
    const records = await readRuns(this.root);
    const ids = new Set(records.map((r) => r.id));
    for (const [id, w] of this.watched) {
      if (ids.has(id)) continue;
      this.say(`crib supervise: run ${id} was taken down (crib down); no longer watched`);
      w.stop.abort();
      this.watched.delete(id);
    }
    let containers: Container__Output[] | undefined;
    for (const r of records) {
      let w = this.watched.get(r.id);
      if (!w) {
        try {
          w = { record: r, manifest: parseRunFiles(r.files), stop: new AbortController(), controllers: new Map() };
        } catch (err) {
          this.say(`crib supervise: run ${r.id}: ${describeError(err)}; removed`);
          await removeRun(this.root, r.id);
          continue;
        }
        this.watched.set(r.id, w);
        const what = [...w.manifest.workloads, ...plannedWorkloads(w.manifest)].map((x) =>
          x.cronJob !== undefined ? `CronJob ${x.cronJob}` : `${x.kind} ${x.name}`,
        );
        this.say(`crib supervise: watching run ${r.id} (${what.join(', ')})`);
      }
      await this.startKinds(w);
      await this.startControllers(w);
      const pods = await findWorkloadPods(this.ctx, w.manifest.workloads);
      // A CronJob's run has no pods between its Jobs: it is watched until crib down.
      if (pods.length === 0 && plannedWorkloads(w.manifest).length === 0) {
        this.say(`crib supervise: run ${r.id}: none of its pods is left; no longer watched`);
        await removeRun(this.root, r.id);
        w.stop.abort();
        this.watched.delete(r.id);
        continue;
      }
      for (const p of pods) {
        if (p.pod.state !== 0 || this.adopted.has(p.pod.id) || this.finished.has(p.pod.id)) continue;
        if (workloadKind(p.workload.kind).ownController) continue;
        const workload = w.manifest.workloads.find((x) => x === p.workload);
        if (!workload || !p.pod.metadata?.uid) continue;
        containers ??= (await call(this.ctx.clients.runtime, 'ListContainers', {}, 30)).containers;
        await this.adopt(w, podOf(workload, { name: p.pod.metadata.name, labels: p.pod.labels }), p.pod.id, p.pod.metadata.uid, containers);
      }
    }
  }

  /** What the run's pods share (made at the first need: it resolves the images). */
  private async envOf(w: Watched): Promise<RunEnv> {
    if (w.env) return w.env;
    const say = (l: string) => this.say(l);
    const signal = AbortSignal.any([this.signal, w.stop.signal]);
    // A CronJob's Jobs' images too: its kind is started with this env.
    const templates = [...w.manifest.workloads, ...plannedWorkloads(w.manifest)].map((x) => ({ name: `${x.kind} ${x.name}`, spec: x.template.spec }));
    const images = await ensureImages(this.ctx, templates, { pull: 'IfNotPresent' }, say, signal);
    w.env = await runEnv(this.ctx, this.root, w.manifest, images, {
      detach: false,
      printLogs: false,
      backoff: backoffFrom(w.record.backoffMs),
      signal,
      hurry: signal,
      say,
      supervised: { stateDir: runStateDir(this.root, w.record.id) },
    });
    return w.env;
  }

  /** Starts the kinds that act beside the workloads (a CronJob's schedule) once per watched run, as a foreground run does. */
  private async startKinds(w: Watched): Promise<void> {
    const kinds = startedKinds();
    if (w.started || kinds.length === 0) return;
    w.started = true;
    const env = await this.envOf(w);
    for (const k of kinds) {
      const done: Promise<void> = (k.start?.(env, w.manifest, Math.random) ?? Promise.resolve(0)).then(
        () => void this.kindRuns.delete(done),
        (err: unknown) => {
          this.kindRuns.delete(done);
          this.say(`crib supervise: ${k.kind}: ${describeError(err)}`);
        },
      );
      this.kindRuns.add(done);
    }
  }

  /**
   * Runs the run's workloads that are their own controller (a Job), once each: they take their pods
   * over and carry on. One that ends in an error (cribd away) is started again by a later scan.
   */
  private async startControllers(w: Watched): Promise<void> {
    for (const x of w.manifest.workloads) {
      const kind = workloadKind(x.kind);
      if (!kind.ownController || w.controllers.has(x)) continue;
      w.controllers.set(x, 'running');
      const env = await this.envOf(w);
      const done: Promise<void> = kind.run(env, x, Math.random).then(
        () => {
          this.kindRuns.delete(done);
          if (!env.signal.aborted) w.controllers.set(x, 'done');
        },
        (err: unknown) => {
          this.kindRuns.delete(done);
          w.controllers.delete(x);
          this.say(`crib supervise: ${x.kind} ${x.name}: ${describeError(err)}; taken over again at a later scan`);
        },
      );
      this.kindRuns.add(done);
    }
  }

  /** Takes one pod over; once it ends (cribd gone, its record gone), the next scan may take it over again. */
  private async adopt(w: Watched, pod: ReturnType<typeof podOf>, sandboxId: string, uid: string, all: readonly Container__Output[]): Promise<void> {
    await addRecordedSecrets(this.root, w.manifest, uid);
    const run = new PodRun(await this.envOf(w), pod, {}, uid);
    const done = run
      .adopt(
        sandboxId,
        all.filter((c) => c.pod_sandbox_id === sandboxId),
      )
      .then(() => {
        this.adopted.delete(sandboxId);
        if (run.completed) this.finished.add(sandboxId);
      });
    this.adopted.set(sandboxId, done);
  }
}
