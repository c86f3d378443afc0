import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../src/util/paths.js';
import { runCapture } from '../src/util/exec.js';

/** The real crictl (cri-tools v1.26), found as scripts/test.sh finds it, and ways to run it against a socket. */

export function findCrictl(): string {
  const fromEnv = process.env['CRICTL'];
  if (fromEnv) return fromEnv;
  const shared = path.resolve(repoRoot, '..', 'shared', 'cri-tools', 'bin', 'crictl');
  if (fs.existsSync(shared)) return shared;
  for (const dir of (process.env['PATH'] ?? '').split(':')) {
    const candidate = path.join(dir, 'crictl');
    if (dir && fs.existsSync(candidate)) return candidate;
  }
  throw new Error('crictl not found: set CRICTL=/path/to/crictl (v1.26; e.g. ../shared/cri-tools/bin/crictl) or put crictl on PATH');
}

const endpointArgs = (socket: string): string[] => ['--runtime-endpoint', `unix://${socket}`, '--image-endpoint', `unix://${socket}`, '--timeout', '30s'];

/** Runs crictl to completion; rejects when it exits non-zero. */
export async function crictl(socket: string, args: readonly string[]): Promise<string> {
  const res = await runCapture(findCrictl(), [...endpointArgs(socket), ...args], { timeoutMs: 60_000 });
  if (res.code !== 0) throw new Error(`crictl ${args.join(' ')}: exited ${res.code ?? res.signal}: ${res.stderr.toString().trim().slice(-300)}`);
  return res.stdout.toString();
}

/** Starts a crictl that keeps running (port-forward); the caller ends it by its PID. */
export function spawnCrictl(socket: string, args: readonly string[]): ChildProcess {
  return spawn(findCrictl(), [...endpointArgs(socket), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
}
