// The real crib CLI (node bin/crib) against a harness's cribd, as the crib run tests drive it: to
// completion, or in the background with its output as it comes. Background runs are killed by
// `killAll` (each test's afterEach), so a failed test leaves no crib run behind.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, afterEach, before } from 'node:test';
import { call } from '../../src/client/client.js';
import { runCapture } from '../../src/util/exec.js';
import { repoRoot } from '../../src/util/paths.js';
import { importBusybox } from './busybox-image.js';
import { Harness } from './harness.js';

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

/**
 * A describe block that drives crib run: its own cribd with IMAGE imported; after each test its CLI
 * runs are killed, its pods removed and nothing may be left (the leak check). `manifest` writes a
 * YAML file of the test's own; `explain` is a failed run's output with cribd's last lines.
 */
export function cribRunSuite(image: string) {
  const h = new Harness();
  const cli = cribCli(h);
  let n = 0;
  before(async () => {
    await h.start();
    await importBusybox(h, image);
  });
  after(() => h.cleanup());
  afterEach(async () => {
    cli.killAll();
    await h.endSupervisor();
    for (const p of (await call(h.runtime, 'ListPodSandbox', {})).items) await call(h.runtime, 'RemovePodSandbox', { pod_sandbox_id: p.id });
    await h.assertNoLeaks();
  });
  const manifest = (yaml: string): string => {
    const file = path.join(h.base, `pod-${++n}.yaml`);
    fs.writeFileSync(file, yaml);
    return file;
  };
  const explain = (r: CliResult) => `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}\n--- cribd\n${h.logTail(15)}`;
  return { h, ...cli, manifest, explain };
}
