import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import type { OciRuntime } from './runtime.js';

export interface ConmonOptions {
  conmonPath: string;
  runtime: OciRuntime;
  id: string;
  name: string;
  bundle: string;
  logPath: string;
  exitDir: string;
  socketDir: string;
  timeoutMs?: number;
}

/** Paths conmon writes inside a bundle. */
export const conmonFiles = (bundle: string) => ({
  containerPid: `${bundle}/pidfile`,
  conmonPid: `${bundle}/conmon.pid`,
});

/**
 * Starts conmon, which daemonizes, runs `RUNTIME create` for the bundle and then monitors the
 * container (stdio, log, exit file) for as long as it lives, independently of cribd. Resolves
 * with the container's host pid once the runtime has created it; the caller then starts it.
 */
export function conmonCreate(o: ConmonOptions): Promise<number> {
  const files = conmonFiles(o.bundle);
  const args = [
    '--api-version', '1',
    '--cid', o.id,
    '--cuuid', o.id,
    '--name', o.name,
    '--runtime', o.runtime.path,
    '--bundle', o.bundle,
    '--container-pidfile', files.containerPid,
    '--conmon-pidfile', files.conmonPid,
    '--log-path', `k8s-file:${o.logPath}`,
    '--exit-dir', o.exitDir,
    '--socket-dir-path', o.socketDir,
    '--log-level', 'error',
    ...o.runtime.globalArgs.flatMap((a) => ['--runtime-arg', a]),
  ];
  return new Promise((resolve, reject) => {
    // fd 3 is conmon's sync pipe: it reports {"data": pid} (or -1 and a message) once create is done.
    const child = spawn(o.conmonPath, args, {
      stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
      env: { ...process.env, _OCI_SYNCPIPE: '3' },
      detached: true,
    });
    const sync = child.stdio[3] as Readable;
    let syncText = '';
    let stderr = '';
    let settled = false;
    const finish = (err: Error | undefined, pid?: number) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sync.destroy();
      child.stderr?.destroy();
      if (err) reject(err);
      else resolve(pid ?? -1);
    };
    const timer = setTimeout(() => finish(new Error(`conmon for ${o.id}: no answer within ${o.timeoutMs ?? 30000} ms`)), o.timeoutMs ?? 30_000);
    child.stderr?.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('error', (e) => finish(new Error(`could not run conmon (${o.conmonPath}): ${e.message}`)));
    sync.on('data', (b: Buffer) => {
      syncText += b.toString();
      const msg = parseSyncMessage(syncText);
      if (!msg) return;
      if (msg.data > 0) finish(undefined, msg.data);
      else finish(new Error(`${o.runtime.name} create ${o.id} failed: ${msg.message ?? (stderr.trim() || 'no message')}`));
    });
    sync.on('end', () => {
      // conmon closed the pipe without reporting: it failed before running the runtime.
      setImmediate(() => finish(new Error(`conmon for ${o.id} exited without reporting a pid: ${stderr.trim() || 'no message'}`)));
    });
    child.unref();
  });
}

export function parseSyncMessage(text: string): { data: number; message?: string } | undefined {
  // The message may itself contain '}', so try each closing brace until one ends valid JSON.
  for (let end = text.indexOf('}'); end >= 0; end = text.indexOf('}', end + 1)) {
    let v: { data?: unknown; pid?: unknown; message?: unknown };
    try {
      v = JSON.parse(text.slice(0, end + 1)) as typeof v;
    } catch {
      continue;
    }
    const data = typeof v.data === 'number' ? v.data : typeof v.pid === 'number' ? v.pid : -1;
    return { data, message: typeof v.message === 'string' ? v.message : undefined };
  }
  return undefined;
}
