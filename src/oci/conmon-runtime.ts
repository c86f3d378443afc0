import { watch as fsWatch, type FSWatcher } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import type { Readable, Writable } from 'node:stream';
import path from 'node:path';
import { spawnCapture, spawnStreaming } from '../util/exec.js';
import { CribError } from '../util/errors.js';
import { onAbort } from '../util/on-abort.js';
import { exists } from '../util/fsx.js';
import { MAX_TIMER_MS } from '../util/time.js';
import { log } from '../util/log.js';
import { forgetBundleProcess } from './bundle-process.js';
import { conmonCreate, conmonFiles, conmonResizeMessage } from './conmon.js';
import { monitorFiles, monitorRun } from './crib-io-monitor.js';
import { exitFilesOf, type ExitFiles } from './exit-files.js';
import { noFeatures, parseHandlerFeatures, type HandlerFeatures } from './features.js';
import { builtCribIoBinary, decodeAttachFrames, ptyResizeLine } from '../host/crib-io.js';
import { isAlive, killProcessGroup, procStat, readPidFile, signalNumber, signalProcess, waitGone } from '../host/process.js';
import { killCgroup, removeCgroup } from '../host/cgroups.js';
import { isNamespaceInit, readProcStatus, waitSignalTaken } from '../host/proc-status.js';
import { withRuncExec, type RuncExec } from './runc-exec.js';
import type { RuncCli } from './runc.js';
import type {
  CreateRequest,
  DetachedRequest,
  ExecOutcome,
  ExecRequest,
  ExecStreamRequest,
  ExitRecord,
  OciRuntime,
  ProcessIO,
  ProcessRef,
  StopOptions,
  Stopping,
} from './runtime.js';
import type { OciCpu, OciMemory, OciSpec } from './spec-types.js';

/** Output kept per stream of an ExecSync, as kubelet's own limit for probes and ExecSync. */
const MAX_EXEC_OUTPUT = 16 * 1024 * 1024;
/** After killing an exec (timed out, or its client gone), how long its waiter gets to reap it and exit before it is killed too. */
const REAP_GRACE_MS = 10_000;
const SIGKILL = os.constants.signals.SIGKILL;
/**
 * How long a stop waits for the main process to take its stop signal before the next container's is
 * sent (one in uninterruptible sleep takes it only when it wakes).
 */
const SIGNAL_TAKEN_MS = 1000;
/** How long a monitor may take to leave after its container is deleted. */
const MONITOR_EXIT_MS = 10_000;
/**
 * An attach client that reads slower than the container writes is cut off past this much unsent
 * output: conmon writes to attach sockets with blocking writes, so waiting for it would stall the
 * container's log for everyone.
 */
const MAX_ATTACH_BACKLOG = 8 * 1024 * 1024;
/** How long conmon may take to open a new log file when asked to. */
const LOG_REOPEN_MS = 1000;

/** Polls `cond` every 10 ms until it holds or `ms` pass; says which. */
async function waitFor(cond: () => Promise<boolean>, ms: number): Promise<boolean> {
  for (const deadline = Date.now() + ms; ; await new Promise((r) => setTimeout(r, 10))) {
    if (await cond()) return true;
    if (Date.now() >= deadline) return false;
  }
}

/**
 * Resolves once `dir/name` exists (seen by inotify, the moment conmon renames it into place), or
 * after `ms`; says which.
 */
function appears(dir: string, name: string, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    let watcher: FSWatcher | undefined;
    const done = (found: boolean) => {
      clearTimeout(timer);
      watcher?.close();
      resolve(found);
    };
    const timer = setTimeout(() => done(false), ms);
    try {
      watcher = fsWatch(dir, (_event, file) => {
        if (file === name) done(true);
      });
      watcher.on('error', () => void exists(path.join(dir, name)).then(done));
    } catch {
      /* no dir to watch: the check below says whether the file is there */
    }
    // Checked once the watch is set, so a file that came before it is not missed.
    void exists(path.join(dir, name)).then((found) => (found || !watcher) && done(found));
  });
}

export interface ConmonRuntimeOptions {
  conmonPath: string;
  runc: RuncCli;
  /** Where conmon writes exit files (one per container id) and puts attach sockets. */
  exitDir: string;
  socketDir: string;
  /**
   * What monitors a process without stdio (`runDetached`: pause): `crib-io` (the default: no conmon
   * start-up on RunPodSandbox's longest branch), or `conmon`, as for every container.
   */
  detachedMonitor?: 'crib-io' | 'conmon';
}

/** OciRuntime as conmon over a runc-compatible runtime, the way CRI-O runs containers. */
export class ConmonRuntime implements OciRuntime {
  private featuresRead?: Promise<HandlerFeatures>;
  private readonly exits: ExitFiles;

  constructor(private readonly o: ConmonRuntimeOptions) {
    this.exits = exitFilesOf(o.exitDir);
  }

  features(): Promise<HandlerFeatures> {
    this.featuresRead ??= this.o.runc.features().then(parseHandlerFeatures, (err: unknown) => {
      log.warn('the runtime does not say what it supports: no optional feature is announced for it', { runtime: this.name, error: err });
      return noFeatures;
    });
    return this.featuresRead;
  }

  get name(): string {
    return this.o.runc.name;
  }

  get info() {
    return { name: this.o.runc.name, path: this.o.runc.path, root: this.o.runc.stateRoot };
  }

  async create(r: CreateRequest, signal?: AbortSignal): Promise<ProcessRef> {
    signal?.throwIfAborted();
    return this.started(r.id, r.bundle, r.logPath, () =>
      conmonCreate({
        conmonPath: this.o.conmonPath,
        runtime: this.o.runc,
        id: r.id,
        name: r.name,
        bundle: r.bundle,
        logPath: r.logPath,
        exitDir: this.o.exitDir,
        socketDir: this.o.socketDir,
        terminal: r.terminal ?? false,
        stdin: r.stdin ?? false,
        stdinOnce: r.stdinOnce ?? false,
        signal,
      }),
    );
  }

  async runDetached(r: DetachedRequest, signal?: AbortSignal): Promise<ProcessRef> {
    if (this.o.detachedMonitor === 'conmon') {
      const proc = await this.create({ id: r.id, name: r.id, bundle: r.bundle, logPath: r.runtimeLogPath }, signal);
      try {
        await this.start(r.id, signal);
      } catch (err) {
        await this.abandon(r).catch((e: unknown) => log.warn('ending what a failed start left running', { id: r.id, error: e }));
        throw err;
      }
      return proc;
    }
    signal?.throwIfAborted();
    return this.started(r.id, r.bundle, r.runtimeLogPath, () =>
      monitorRun({ runtime: this.o.runc, id: r.id, bundle: r.bundle, exitFile: path.join(this.o.exitDir, r.id), runtimeLogPath: r.runtimeLogPath, signal }),
    );
  }

  /** The process `launch` made (its pid and start time); whatever a failed launch left is ended first. */
  private async started(id: string, bundle: string, logPath: string, launch: () => Promise<number>): Promise<ProcessRef> {
    let pid: number;
    try {
      pid = await launch();
    } catch (err) {
      await this.abandon({ id, bundle }).catch((e: unknown) => log.warn('ending what a failed create left running', { id, error: e }));
      throw err;
    }
    const st = procStat(pid);
    if (!st) throw new Error(`the process of ${id} (pid ${pid}) exited right after it was created; see ${logPath}`);
    return { pid, startTime: st.startTime };
  }

  /**
   * After a create that failed, timed out or was cancelled, whatever it started may still run:
   * conmon and the runtime's create (conmon's process group), and the runtime's init, in a session
   * of its own but already in the container's cgroup. All are killed, and the cgroup removed; the
   * caller's delete then finds at most the runtime's state to remove.
   */
  private async abandon(r: { id: string; bundle: string }): Promise<void> {
    for (const pid of await monitorPids(r.bundle)) killProcessGroup(pid);
    const spec = await fs.readFile(path.join(r.bundle, 'config.json'), 'utf8').then(
      (t) => JSON.parse(t) as OciSpec,
      () => undefined,
    );
    const cgroup = spec?.linux?.cgroupsPath;
    if (!cgroup) return;
    if (!(await killCgroup(cgroup, MONITOR_EXIT_MS))) throw new Error(`processes of ${r.id} outlived SIGKILL in cgroup ${cgroup}`);
    await removeCgroup(cgroup);
  }

  start(id: string, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    return this.o.runc.start(id);
  }

  kill(id: string, signal: string, all = false): Promise<void> {
    return this.o.runc.kill(id, signal, all);
  }

  stop(id: string, proc: ProcessRef | undefined, how: StopOptions): Stopping {
    let signalled!: () => void;
    const sent = new Promise<void>((resolve) => (signalled = resolve));
    return { signalled: sent, stopped: this.stopping(id, proc, how, signalled).finally(signalled) };
  }

  private async stopping(id: string, proc: ProcessRef | undefined, how: StopOptions, signalled: () => void): Promise<void> {
    if (!proc || !isAlive(proc.pid, proc.startTime)) return;
    const sig = signalNumber(how.signal);
    if (sig !== SIGKILL && how.graceMs > 0 && !how.abort?.aborted) {
      // What `runc kill ID SIG` does, without its process; a signal Node cannot name goes through the runtime.
      if (sig === undefined) await this.o.runc.kill(id, how.signal);
      else if (await signalProcess(proc, sig)) await waitSignalTaken(proc.pid, sig, SIGNAL_TAKEN_MS);
      // The order a pod's stop signals went out in, which its apps' own output cannot show: an app
      // that took its signal may still wait for a CPU while the next one's handler runs.
      log.debug('stop signal sent', { id, signal: how.signal });
      signalled();
      if (await waitGone(proc.pid, proc.startTime, how.graceMs, how.abort)) return;
    }
    // The init of a PID namespace of its own takes every process in it along (the kernel kills
    // them): kill(2) is enough. Else the runtime kills each process of the container's cgroup.
    const st = readProcStatus(proc.pid);
    if (st && isNamespaceInit(st)) await signalProcess(proc, SIGKILL);
    else await this.o.runc.kill(id, 'KILL', true);
    await waitGone(proc.pid, proc.startTime, MONITOR_EXIT_MS);
  }

  async delete(id: string, bundle: string): Promise<void> {
    await this.o.runc.delete(id);
    forgetBundleProcess(bundle);
    for (const pid of await monitorPids(bundle)) {
      const st = procStat(pid);
      if (st && !(await waitGone(pid, st.startTime, MONITOR_EXIT_MS))) {
        throw new Error(`the monitor (pid ${pid}) of ${id} did not exit after its container stopped`);
      }
    }
  }

  async forget(id: string): Promise<void> {
    await fs.rm(path.join(this.o.exitDir, id), { force: true });
    this.exits.forget(id);
    await fs.rm(path.join(this.o.socketDir, id), { recursive: true, force: true });
  }

  /**
   * ExecSync: `runc exec --detach` under `crib-io reap`, conmon's way without conmon's start-up.
   * runc hands cribd's pipes straight to the command and exits; crib-io, a child subreaper, inherits
   * the orphaned command and exits with its status as soon as it exits, whatever it left running
   * with the output open. The command gets the container's process settings with its own args; its
   * output is read in memory, bounded per stream. At the timeout, or when the caller goes away, the
   * command's process group is killed and crib-io reaps it.
   */
  exec(r: ExecRequest, abort?: AbortSignal): Promise<ExecOutcome> {
    return withRuncExec(this.o.runc, { ...r, tty: false, detach: true }, async (e) => {
      const p = spawnCapture(builtCribIoBinary, ['reap', e.pidFile, '--', ...e.argv], { maxOutputBytes: MAX_EXEC_OUTPUT, untilExit: true });
      let timedOut = false;
      const end = () => {
        if (timedOut) return;
        timedOut = true;
        void killOnceStarted(e, { exited: p.done, kill: () => p.kill() });
      };
      const timer = r.timeoutSeconds > 0 ? setTimeout(end, Math.min(r.timeoutSeconds * 1000, MAX_TIMER_MS)) : undefined;
      const stopListening = onAbort(abort, end);
      try {
        const { code, signal, stdout, stderr } = await p.done;
        if (timedOut) return { timedOut: true };
        // Without a pid file runc never started the command: what it says is why.
        if (code !== 0 && (await e.pid()) === undefined) {
          throw new Error(`${this.o.runc.name} exec in ${r.id} failed: ${stderr.toString().trim() || `exited with ${code ?? signal}`}`);
        }
        return { timedOut: false, exitCode: exitStatus(code, signal), stdout, stderr };
      } finally {
        clearTimeout(timer);
        stopListening();
      }
    });
  }

  /**
   * Exec with the client's streams: `runc exec` with the container's process settings and the
   * command's args, under `crib-io pty` for a TTY (runc copies the outer terminal's size into the
   * container's on every resize). When the client goes away (also before this runs) the command's
   * process group is killed once runc has started it: runc killed first would leave it running.
   */
  execStream(r: ExecStreamRequest, io: ProcessIO): Promise<{ exitCode: number }> {
    return withRuncExec(this.o.runc, r, async (e) => {
      if (io.signal.aborted) throw new Error('the client went away before the command started');
      const [cmd, ...args] = r.tty ? [builtCribIoBinary, 'pty', '--', ...e.argv] : e.argv;
      const p = spawnStreaming(cmd, args, { fd3: r.tty, streamStderr: !r.tty });
      const stopListening = onAbort(io.signal, () => void killOnceStarted(e, p));
      try {
        if (io.stdin) io.stdin.pipe(p.stdin);
        else p.stdin.end();
        sink(p.stdout, io.stdout);
        if (p.stderr) sink(p.stderr, io.stderr);
        if (p.fd3 && io.resize) void forEachResize(io.resize, (w, h) => p.fd3?.write(ptyResizeLine(w, h)));
        const { code, signal, stderr } = await p.exited;
        if (code === null && signal === null) throw new Error(stderr);
        return { exitCode: exitStatus(code, signal) };
      } finally {
        stopListening();
        io.stdin?.unpipe(p.stdin);
      }
    });
  }

  /**
   * Attach through conmon's attach socket (`crib-io attach`): the container's output from now on,
   * and the client's input to its stdin (held open for it when the container was created with
   * stdin). Resizes go to conmon's control fifo.
   */
  async attach(r: { id: string; bundle: string; tty: boolean }, io: ProcessIO): Promise<void> {
    const p = spawnStreaming(builtCribIoBinary, ['attach', path.join(r.bundle, 'attach')]);
    const end = () => p.kill();
    const stopListening = onAbort(io.signal, end);
    try {
      // No input from the client: keep crib-io's stdin open, or conmon would close the container's.
      io.stdin?.pipe(p.stdin);
      let rest = Buffer.alloc(0);
      p.stdout.on('data', (chunk: Buffer) => {
        const { frames, rest: left } = decodeAttachFrames(rest.length ? Buffer.concat([rest, chunk]) : chunk);
        rest = Buffer.from(left);
        for (const f of frames) {
          const out = f.stream === 'stderr' && !r.tty ? io.stderr : io.stdout;
          out?.write(Buffer.from(f.data));
          if ((out?.writableLength ?? 0) > MAX_ATTACH_BACKLOG) end();
        }
      });
      if (io.resize) void forEachResize(io.resize, (w, h) => writeFifo(conmonFiles(r.bundle).ctl, conmonResizeMessage(w, h)));
      const { code, stderr } = await p.exited;
      if (code !== 0 && !io.signal.aborted) throw new Error(`attach to ${r.id}: ${stderr || `crib-io exited with ${code}`}`);
    } finally {
      stopListening();
      io.stdin?.unpipe(p.stdin);
      p.stdin.end();
    }
  }

  update(id: string, resources: { cpu: OciCpu; memory: OciMemory }): Promise<void> {
    return this.o.runc.update(id, resources);
  }

  /** conmon's control fifo takes "2 0 0": reopen the log file. conmon does it asynchronously, at once. */
  async reopenLog(_id: string, bundle: string, logPath: string): Promise<void> {
    // conmon ends when it cannot open the new file, leaving the container unmonitored: it is asked
    // only when the file's directory is there (containerd fails the call alike, on its own open).
    const dir = path.dirname(logPath);
    if (
      !(await fs.stat(dir).then(
        (st) => st.isDirectory(),
        () => false,
      ))
    ) {
      throw new CribError('FailedPrecondition', `the log directory ${dir} is gone: no log file can be reopened in it`);
    }
    await writeFifo(conmonFiles(bundle).ctl, '2 0 0\n');
    if (!(await waitFor(() => exists(logPath), LOG_REOPEN_MS))) throw new CribError('Internal', `conmon did not reopen ${logPath} within ${LOG_REOPEN_MS} ms`);
  }

  /** conmon writes one file per exit into the exit dir: the dir's one watch sees each arrive. */
  watchExits(onExit: (id: string) => void): () => void {
    return this.exits.subscribe(onExit);
  }

  exited(id: string): boolean {
    return this.exits.has(id);
  }

  async exitRecord(id: string, bundle: string, waitMs: number): Promise<ExitRecord | undefined> {
    const file = path.join(this.o.exitDir, id);
    await appears(this.o.exitDir, id, waitMs);
    try {
      const [text, st] = await Promise.all([fs.readFile(file, 'utf8'), fs.stat(file)]);
      return {
        exitCode: Number(text.trim()),
        finishedAt: (BigInt(Math.round(st.mtimeMs * 1000)) * 1000n).toString(),
        oomKilled: await exists(conmonFiles(bundle).oom),
      };
    } catch {
      return undefined;
    }
  }
}

/** The pids of a bundle's monitors: conmon's, or crib-io's for a process run detached. */
async function monitorPids(bundle: string): Promise<number[]> {
  const pids = await Promise.all([readPidFile(conmonFiles(bundle).conmonPid), readPidFile(monitorFiles(bundle).monitorPid)]);
  return pids.filter((p) => p !== undefined);
}

/**
 * Kills an exec'd command as soon as runc has written its pid (it may still be starting it); its
 * waiter (runc, or crib-io's reap or pty) then exits. The waiter itself is killed only if it has
 * not exited in time.
 */
async function killOnceStarted(e: RuncExec, waiter: { exited: Promise<unknown>; kill(): void }): Promise<void> {
  let over = false;
  const lastResort = setTimeout(() => waiter.kill(), REAP_GRACE_MS);
  const settle = () => {
    over = true;
    clearTimeout(lastResort);
  };
  waiter.exited.then(settle, settle);
  while (!over && !(await e.killGroup())) await new Promise((r) => setTimeout(r, 10));
}

/** A process's exit status as a shell reports it: its code, or 128+n for signal n. */
const exitStatus = (code: number | null, signal: NodeJS.Signals | null): number => code ?? 128 + ((signal && signalNumber(signal)) ?? 1);

/** Copies a process's output to the client's stream without ending it (the server does); drops it if unwanted. */
function sink(from: Readable, to: Writable | undefined): void {
  if (to) from.pipe(to, { end: false });
  else from.resume();
}

/** Applies each size the client sends, until it stops sending them. */
async function forEachResize(sizes: AsyncIterable<{ width: number; height: number }>, apply: (width: number, height: number) => unknown): Promise<void> {
  try {
    for await (const { width, height } of sizes) await apply(width, height);
  } catch {
    /* a resize to a process that is gone: nothing to do */
  }
}

/** One message to a fifo someone reads (conmon's ctl), without waiting for a reader. */
async function writeFifo(file: string, message: string): Promise<void> {
  const fh = await fs.open(file, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
  try {
    await fh.write(message);
  } finally {
    await fh.close();
  }
}
