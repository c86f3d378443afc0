import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { onAbort } from '../util/on-abort.js';
import { terminalDimension } from '../host/crib-io.js';
import type { RuncCli } from './runc.js';

export interface ConmonOptions {
  conmonPath: string;
  runtime: RuncCli;
  id: string;
  name: string;
  bundle: string;
  logPath: string;
  exitDir: string;
  socketDir: string;
  timeoutMs?: number;
  /** The request's: a cancelled one ends the wait for conmon's answer, as its timeout does. */
  signal?: AbortSignal;
  terminal?: boolean;
  stdin?: boolean;
  stdinOnce?: boolean;
}

/** Paths conmon writes inside a bundle. */
export const conmonFiles = (bundle: string) => ({
  containerPid: `${bundle}/pidfile`,
  conmonPid: `${bundle}/conmon.pid`,
  /** Its control fifo ("2 0 0": reopen the log). */
  ctl: `${bundle}/ctl`,
  /** Written when the kernel's OOM killer ended the container. */
  oom: `${bundle}/oom`,
});

/** What conmon is told first: the API, the container, the runtime and its flags, where to log. */
function commonArgs(o: { id: string; runtime: RuncCli; socketDir: string; logPath: string }): string[] {
  return [
    ...flags({ '--api-version': '1', '--cid': o.id, '--cuuid': o.id, '--runtime': o.runtime.path }),
    ...flags({ '--log-path': `k8s-file:${o.logPath}`, '--socket-dir-path': o.socketDir, '--log-level': 'error' }),
    ...o.runtime.globalArgs.flatMap((a) => ['--runtime-arg', a]),
  ];
}

/** Flags with values, in the order given. */
const flags = (pairs: Record<string, string>): string[] => Object.entries(pairs).flat();

/**
 * Starts conmon, which daemonizes, runs `RUNTIME create` for the bundle and then monitors the
 * container (stdio, log, exit file) for as long as it lives, independently of cribd. Resolves
 * with the container's host pid once the runtime has created it; the caller then starts it. On a
 * failure, timeout or cancel the caller ends what conmon started (ConmonRuntime.create).
 */
export function conmonCreate(o: ConmonOptions): Promise<number> {
  const files = conmonFiles(o.bundle);
  const args = [
    ...commonArgs({ id: o.id, runtime: o.runtime, socketDir: o.socketDir, logPath: o.logPath }),
    ...flags({
      '--name': o.name,
      '--bundle': o.bundle,
      '--container-pidfile': files.containerPid,
      '--conmon-pidfile': files.conmonPid,
      '--exit-dir': o.exitDir,
    }),
    // A terminal (conmon takes the console from the runtime) and a stdin held open for Attach.
    ...(o.terminal ? ['--terminal'] : []),
    ...(o.stdin ? ['--stdin', ...(o.stdinOnce ? [] : ['--leave-stdin-open'])] : []),
  ];
  return new Promise((resolve, reject) => {
    const { child, stderr } = spawnConmon(
      o.conmonPath,
      args,
      o.bundle,
      (msg) => {
        if (msg.data > 0) finish(undefined, msg.data);
        else finish(new Error(`${o.runtime.name} create ${o.id} failed: ${msg.message ?? (stderr().trim() || 'no message')}`));
      },
      () => {
        // conmon closed the pipe without reporting: it failed before running the runtime.
        finish(new Error(`conmon for ${o.id} exited without reporting a pid: ${stderr().trim() || 'no message'}`));
      },
    );
    let settled = false;
    let stopListening = (): void => undefined;
    const finish = (err: Error | undefined, pid?: number) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      stopListening();
      child.stdio[3]?.destroy();
      child.stderr?.destroy();
      // Not daemonized yet (its daemon writes the conmon pid file the caller's cleanup reads): ended here.
      if (err && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      if (err) reject(err);
      else resolve(pid ?? -1);
    };
    const timer = setTimeout(() => finish(new Error(`conmon for ${o.id}: no answer within ${o.timeoutMs ?? 30000} ms`)), o.timeoutMs ?? 30_000);
    stopListening = onAbort(o.signal, () => finish(new Error(`creating ${o.id} was cancelled with its request`)));
    child.on('error', (e) => finish(new Error(`could not run conmon (${o.conmonPath}): ${e.message}`)));
    child.unref();
  });
}

/** conmon's sync pipe message: a pid, or -1 with what failed. */
export interface SyncMessage {
  data: number;
  message?: string;
}

/**
 * Spawns conmon with its sync pipe on fd 3 (one JSON message per line) and its stderr kept for
 * error messages. `onEnd` runs when the pipe closes (conmon exited), after every message.
 */
function spawnConmon(conmonPath: string, args: string[], cwd: string, onMessage: (m: SyncMessage) => void, onEnd: () => void) {
  const child = spawn(conmonPath, args, {
    // conmon writes an `oom` file into its working directory when the container is OOM-killed:
    // the bundle, removed with the container, not cribd's directory.
    cwd,
    stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
    env: { ...process.env, _OCI_SYNCPIPE: '3' },
    // It outlives cribd: not in its process group, so a signal to that does not reach it.
    detached: true,
  });
  let err = '';
  child.stderr?.on('data', (b: Buffer) => (err += b.toString()));
  const sync = child.stdio[3] as Readable;
  let text = '';
  sync.on('data', (b: Buffer) => {
    text += b.toString();
    for (let m = parseSyncMessage(text); m; m = parseSyncMessage(text)) {
      text = m.rest;
      onMessage(m.message);
    }
  });
  sync.on('end', () => setImmediate(onEnd));
  return { child, stderr: () => err };
}

/** The first message of `text` and what follows it, or undefined while it is incomplete. */
export function parseSyncMessage(text: string): { message: SyncMessage; rest: string } | undefined {
  // The message may itself contain '}', so try each closing brace until one ends valid JSON.
  for (let end = text.indexOf('}'); end >= 0; end = text.indexOf('}', end + 1)) {
    let v: { data?: unknown; pid?: unknown; message?: unknown };
    try {
      v = JSON.parse(text.slice(0, end + 1)) as typeof v;
    } catch {
      continue;
    }
    const data = typeof v.data === 'number' ? v.data : typeof v.pid === 'number' ? v.pid : -1;
    const message: SyncMessage = typeof v.message === 'string' ? { data, message: v.message } : { data };
    return { message, rest: text.slice(end + 1).replace(/^\s+/, '') };
  }
  return undefined;
}

/**
 * A resize message for conmon's control fifo (BUNDLE/ctl) of a container created with a terminal:
 * "1 HEIGHT WIDTH\n" (type 1 is a resize; note the order). conmon before 2.2.0 applies the first
 * line of what one read() returns once per line it holds (the later lines are lost), so write
 * each message on its own and not faster than conmon reads them.
 */
export function conmonResizeMessage(width: number, height: number): string {
  return `1 ${terminalDimension(height)} ${terminalDimension(width)}\n`;
}
