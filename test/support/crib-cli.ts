// The real crib CLI (node bin/crib) against a harness's cribd, as the crib run tests drive it: to
// completion, or in the background with its output as it comes. Background runs are killed by
// `killAll` (each test's afterEach), so a failed test leaves no crib run behind.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { runCapture } from '../../src/util/exec.js';
import { repoRoot } from '../../src/util/paths.js';
import type { Harness } from './harness.js';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface BackgroundCli {
  child: ChildProcess;
  out: { stdout: string; stderr: string };
  exited: Promise<number | null>;
}

export function cribCli(h: Harness) {
  const children: ChildProcess[] = [];
  const argv = (args: string[]) => [path.join(repoRoot, 'bin', 'crib'), '--socket', h.socket, ...args];
  return {
    crib: async (args: string[], timeoutMs = 120_000): Promise<CliResult> => {
      const r = await runCapture(process.execPath, argv(args), { timeoutMs, env: { NO_COLOR: '1' } });
      return { code: r.timedOut ? null : r.code, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
    },
    background: (args: string[]): BackgroundCli => {
      const child = spawn(process.execPath, argv(args), { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
      children.push(child);
      const out = { stdout: '', stderr: '' };
      child.stdout?.on('data', (b: Buffer) => (out.stdout += b.toString()));
      child.stderr?.on('data', (b: Buffer) => (out.stderr += b.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
      return { child, out, exited };
    },
    killAll: (): void => {
      for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    },
  };
}
