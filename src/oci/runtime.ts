// The one boundary between crib and the programs that run containers: an OCI runtime (runc, crun)
// under a per-container monitor (conmon). The sandbox and container services speak only this; what
// runc's flags are, where conmon puts its exit files and how it is told to reopen a log live behind it.
import type { Readable, Writable } from 'node:stream';
import type { HandlerFeatures } from './features.js';
import type { OciCpu, OciMemory } from './spec-types.js';

/** One process for good: a pid and its start time (pids are reused). */
export interface ProcessRef {
  pid: number;
  startTime: string;
}

export interface CreateRequest {
  id: string;
  /** For the monitor's logs and `ps`. */
  name: string;
  /** The OCI bundle (config.json and rootfs). */
  bundle: string;
  /** Where the container's output goes, in the CRI log format. */
  logPath: string;
  /** Its process has a terminal (the spec's process.terminal): output is one stream. */
  terminal?: boolean;
  /** Its stdin is kept open for Attach; with `stdinOnce`, closed when the first attach ends. */
  stdin?: boolean;
  stdinOnce?: boolean;
}

/** A process that needs no stdio and no log: a pod's pause. */
export interface DetachedRequest {
  id: string;
  /** The OCI bundle (config.json and rootfs). */
  bundle: string;
  /** Where the runtime's own messages go (its errors, which a failed run quotes). */
  runtimeLogPath: string;
}

export interface ExecRequest {
  id: string;
  bundle: string;
  /** A directory of the container's for the exec's scratch files. */
  scratchDir: string;
  cmd: string[];
  /** Seconds; 0 waits for as long as the command runs. */
  timeoutSeconds: number;
}

/** The streams of an interactive exec or attach, as the client asked for them (with a TTY, one output). */
export interface ProcessIO {
  stdin?: Readable;
  stdout?: Writable;
  stderr?: Writable;
  /** The terminal's size, as the client changes it. */
  resize?: AsyncIterable<{ width: number; height: number }>;
  /** Aborted when the client goes away: the process (exec) or the attachment (attach) ends. */
  signal: AbortSignal;
}

export interface ExecStreamRequest {
  id: string;
  bundle: string;
  scratchDir: string;
  cmd: string[];
  tty: boolean;
}

export type ExecOutcome = { timedOut: true } | { timedOut: false; exitCode: number; stdout: Buffer; stderr: Buffer };

/** What a stop is asked for: the caller's wishes, not how the runtime meets them. */
export interface StopOptions {
  signal: string;
  graceMs: number;
  /** Cuts the grace period short: SIGKILL at once (the caller has gone). */
  abort?: AbortSignal;
}

/** A stop under way. */
export interface Stopping {
  /**
   * Resolves once the main process has taken the stop signal (its handler runs), or there was
   * nothing to signal: a pod's stops are sent one after the other on this, newest first. Never rejects.
   */
  signalled: Promise<void>;
  /** Resolves once every process of the container is gone. */
  stopped: Promise<void>;
}

/** How a container's main process ended, as its monitor saw it. */
export interface ExitRecord {
  exitCode: number;
  /** Nanoseconds since the epoch, as a decimal string. */
  finishedAt: string;
  /** The monitor saw the kernel's OOM killer end it. */
  oomKilled: boolean;
}

export interface OciRuntime {
  /** The runtime handler's name (runc, crun). */
  readonly name: string;
  /** What `crictl inspect` shows of the runtime. */
  readonly info: { name: string; path: string; root: string };

  /** What the handler can do, read from the runtime once (later calls share that answer). */
  features(): Promise<HandlerFeatures>;

  /**
   * Creates the container under its monitor; its process then waits in the runtime's init for
   * start. A create that fails, times out or is cancelled (`signal`: the request's) leaves nothing
   * running: its monitor, the runtime and the runtime's init are killed, its cgroup removed.
   */
  create(r: CreateRequest, signal?: AbortSignal): Promise<ProcessRef>;
  /**
   * Creates and starts a process that needs no stdio and no log (a pod's pause) under a monitor that
   * records its exit as `create`'s does (`exited`, `watchExits`, `exitRecord`; `delete` waits for it
   * too). Its stdio is /dev/null. A run that fails or is cancelled leaves nothing running, as `create`.
   */
  runDetached(r: DetachedRequest, signal?: AbortSignal): Promise<ProcessRef>;
  /**
   * Starts a created container. `signal` is looked at before the start only: a start cut short
   * would leave it unknown whether the process runs.
   */
  start(id: string, signal?: AbortSignal): Promise<void>;
  /** Sends a signal to the main process, or with `all` to every process of the container. Gone is fine. */
  kill(id: string, signal: string, all?: boolean): Promise<void>;
  /**
   * Stops a running container: the stop signal, up to `graceMs` for it to work, then SIGKILL to every
   * process. Done at once if it is not running.
   */
  stop(id: string, proc: ProcessRef | undefined, how: StopOptions): Stopping;
  /** Deletes the container from the runtime and waits for its monitor to leave. Gone is fine. */
  delete(id: string, bundle: string): Promise<void>;
  /** Removes what the monitor left beside the bundle (exit file, attach socket). */
  forget(id: string): Promise<void>;
  /** Runs a command in the running container (ExecSync). */
  exec(r: ExecRequest, abort?: AbortSignal): Promise<ExecOutcome>;
  /** Runs a command in the running container with the client's streams (Exec), until it exits. */
  execStream(r: ExecStreamRequest, io: ProcessIO): Promise<{ exitCode: number }>;
  /** Joins the main process's stdio (Attach) until it exits or the client goes away. */
  attach(r: { id: string; bundle: string; tty: boolean }, io: ProcessIO): Promise<void>;
  update(id: string, resources: { cpu: OciCpu; memory: OciMemory }): Promise<void>;
  /** Has the monitor reopen the log file (after kubelet renamed it away); resolves once it exists again. */
  reopenLog(id: string, bundle: string, logPath: string): Promise<void>;
  /**
   * Calls `onExit(id)` whenever the monitor records a main process's exit, from now until the
   * returned function is called (exits that happened before are found by `exited`).
   */
  watchExits(onExit: (id: string) => void): () => void;
  /** True once the monitor has recorded the main process's exit. */
  exited(id: string): boolean;
  /** The recorded exit, waiting up to `waitMs` for the monitor to write it; undefined if it never does. */
  exitRecord(id: string, bundle: string, waitMs: number): Promise<ExitRecord | undefined>;
}
