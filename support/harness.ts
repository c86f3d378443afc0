import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import assert from 'node:assert/strict';
import { lockHolder } from '../src/kube/supervisor/lock.js';
import { call, connect, type CriClients } from '../src/client/client.js';
import { run } from '../src/util/exec.js';
import { cgroupMounts } from '../src/host/cgroups.js';
import { repoRoot } from '../src/util/paths.js';
import type { PodSandboxConfig } from '../src/cri/generated/runtime/v1/PodSandboxConfig.js';
import { RecordedPids, cgroupTree, leftovers, mountsUnder, type LeakScope } from './leaks.js';

/**
 * Node flags for cribd, as contrib/crib.service gives them: a young generation of 1 MiB
 * semi-spaces instead of up to 16 (measured: RSS at start 72 -> 67 MiB, after 600 list calls
 * 88 -> 72 MiB, the calls' CPU unchanged), collected on the main thread alone (measured on a busy
 * 2-core node, 30 pods, 400 rounds of the relist's calls, twice each way: cribd's CPU 2.15, 2.65 ->
 * 1.76, 2.00 s, and the calls' p99 about halved: helper threads that wait for a CPU hold up every
 * scavenge of so small a young generation). Tests and the bench run cribd as a node runs it.
 */
export const CRIBD_NODE_FLAGS = ['--max-semi-space-size=1', '--single-threaded-gc'];

export interface HarnessOptions {
  /** Extra daemon flags (e.g. ["--cni-bin-dir", "/nowhere"]). */
  flags?: string[];
  /** A config file's contents (e.g. registry mirrors), passed with --config. */
  config?: Record<string, unknown>;
  /** Variables added to cribd's environment (e.g. systemd's NOTIFY_SOCKET). */
  env?: Record<string, string>;
  /** cribd in a process group of its own, so a terminal's Ctrl-C reaches only its parent (the bench tears down). */
  detached?: boolean;
}

/**
 * A cribd of the test's own: its own root, state, socket, bridge, subnet and cgroup root, so test
 * files can run side by side with each other and with a real crib. Cleans up even after failures.
 */
export class Harness {
  readonly id = randomBytes(3).toString('hex');
  readonly base = fs.mkdtempSync(path.join(os.tmpdir(), 'crib-test-'));
  readonly root = path.join(this.base, 'root');
  readonly state = path.join(this.base, 'state');
  readonly socket = path.join(this.base, 'crib.sock');
  readonly cniConfDir = path.join(this.base, 'cni.d');
  readonly bridge = `crt${this.id}`;
  readonly subnetPrefix = `10.${100 + (parseInt(this.id.slice(0, 2), 16) % 100)}.${parseInt(this.id.slice(2, 4), 16)}`;
  readonly subnet = `${this.subnetPrefix}.0/24`;
  readonly networkName = `crib-${this.id}`;
  readonly cgroupRoot = `/crib-test-${this.id}`;
  /**
   * The harness's own /kubepods: pods that name a cgroup_parent (as kubelet's do) get one under it,
   * so no test touches the node's real one. As long as "/kubepods", so captured requests can name
   * it in its place byte for byte.
   */
  readonly kubeletCgroupRoot = `/kp${this.id}`;
  /** Cgroups the test made below kubeletCgroupRoot as kubelet would (relative paths): crib must leave them. */
  private readonly kubeletCgroups = new Set<string>();
  readonly logFile = path.join(this.base, 'cribd.log');
  /** The processes crib records for this harness's pods, for the leak check. */
  private readonly recorded = new RecordedPids(this.root);
  daemon: ChildProcess | undefined;
  client!: CriClients;

  constructor(private readonly opts: HarnessOptions = {}) {
    fs.mkdirSync(this.cniConfDir);
    if (opts.config) fs.writeFileSync(path.join(this.base, 'config.json'), JSON.stringify(opts.config));
  }

  get flags(): string[] {
    return [
      '--socket',
      this.socket,
      '--root',
      this.root,
      '--state',
      this.state,
      '--cni-conf-dir',
      this.cniConfDir,
      '--bridge',
      this.bridge,
      '--subnet',
      this.subnet,
      '--network-name',
      this.networkName,
      '--cgroup-root',
      this.cgroupRoot,
      '--ip-masq',
      'false',
      '--log-level',
      'debug',
      ...(this.opts.config ? ['--config', path.join(this.base, 'config.json')] : []),
      ...(this.opts.flags ?? []),
    ];
  }

  async start(): Promise<void> {
    const log = fs.openSync(this.logFile, 'a');
    this.daemon = spawn(process.execPath, [...CRIBD_NODE_FLAGS, path.join(repoRoot, 'bin', 'crib'), 'daemon', ...this.flags], {
      stdio: ['ignore', log, log],
      env: { ...process.env, ...this.opts.env },
      detached: this.opts.detached ?? false,
    });
    fs.closeSync(log);
    const exited = new Promise<never>((_, reject) =>
      this.daemon?.once('exit', (code) => reject(new Error(`cribd exited (${code}) during start:\n${this.logTail()}`))),
    );
    this.client = connect(this.socket);
    const deadline = Date.now() + 20_000;
    for (;;) {
      try {
        await Promise.race([call(this.client.runtime, 'Version', { version: 'v1' }, 2), exited]);
        this.recorded.watch();
        return;
      } catch (err) {
        if (Date.now() > deadline || !this.daemon || this.daemon.exitCode !== null) throw err;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  /**
   * Runs `fn`; when it fails, its error says what cribd logged last: a hook's teardown that fails
   * once in many runs (a call past its deadline) is otherwise gone with the harness's directory.
   */
  async explained<T>(fn: () => Promise<T>, lines = 200): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof Error) err.message += `\n--- the last ${lines} lines of cribd's log ---\n${this.logTail(lines)}`;
      throw err;
    }
  }

  logTail(lines = 30): string {
    try {
      return fs.readFileSync(this.logFile, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  /** Ends our cribd (SIGTERM for a clean stop, SIGKILL for a crash), waits for it, and says how it ended. */
  async stopDaemon(signal: NodeJS.Signals = 'SIGTERM'): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    this.client?.close();
    const d = this.daemon;
    this.daemon = undefined;
    if (!d) return { code: null, signal: null };
    if (d.exitCode !== null || d.signalCode !== null) return { code: d.exitCode, signal: d.signalCode };
    const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => d.once('exit', (code, sig) => r({ code, signal: sig })));
    d.kill(signal);
    return done;
  }

  get runtime() {
    return this.client.runtime;
  }

  /**
   * Removes every sandbox through the CRI, checks that nothing of them is left (so every file that
   * starts a cribd checks for leaks once at its end), stops cribd, and removes what a crash could
   * leave; then fails if the check found anything.
   */
  /**
   * Ends the supervisor a `crib run -d` against this cribd started (by the pid in its pid file) and
   * waits until it is gone, so that it touches no pod removed next.
   */
  async endSupervisor(): Promise<void> {
    const pid = await lockHolder(this.root);
    if (pid === undefined) return;
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 200 && fs.existsSync(`/proc/${pid}`); i++) await new Promise((r) => setTimeout(r, 50));
    if (fs.existsSync(`/proc/${pid}`)) process.kill(pid, 'SIGKILL');
  }

  async cleanup(): Promise<void> {
    let leaks = '';
    await this.endSupervisor();
    if (this.daemon) {
      try {
        const list = await call(this.runtime, 'ListPodSandbox', {}, 30);
        for (const p of list.items) await call(this.runtime, 'RemovePodSandbox', { pod_sandbox_id: p.id }, 60);
      } catch (err) {
        console.error(`cleanup: ${(err as Error).message}\n${this.logTail()}`);
      }
    }
    if (fs.existsSync(this.logFile)) {
      // A check that cannot run fails the cleanup too, but only after the teardown below.
      const problems = await leftovers(this.leakScope()).catch((err: Error) => [`the leak check failed: ${err.message}`]);
      if (problems.length) leaks = `leaks at cleanup:\n${problems.join('\n')}\n--- cribd log ---\n${this.logTail()}`;
    }
    await this.stopDaemon();
    this.recorded.close();
    await run('ip', ['link', 'del', this.bridge]).catch(() => undefined);
    // Children first; a cgroup that still holds a process stays (the leak check has said so).
    for (const m of await cgroupMounts()) {
      for (const root of [this.cgroupRoot, this.kubeletCgroupRoot]) {
        const dir = path.join(m, root);
        for (const d of [...cgroupTree(dir).reverse(), '']) await fsp.rmdir(path.join(dir, d)).catch(() => undefined);
      }
    }
    const mounted = await mountsUnder(this.base);
    for (const m of mounted.reverse()) await run('umount', ['-l', m]).catch(() => undefined);
    await fsp.rm(this.base, { recursive: true, force: true });
    assert.equal(leaks, '', 'the pods left nothing behind');
  }

  /**
   * Makes `${kubeletCgroupRoot}/REL` in every hierarchy, as kubelet makes its QoS and pod cgroups
   * before RunPodSandbox names them; returns its path. The leak check then expects it to stay.
   */
  async makeKubeletCgroup(rel: string): Promise<string> {
    const full = path.posix.join(this.kubeletCgroupRoot, rel);
    for (const m of await cgroupMounts()) await fsp.mkdir(path.join(m, full), { recursive: true });
    const parts = rel.split('/');
    for (let i = 1; i <= parts.length; i++) this.kubeletCgroups.add(parts.slice(0, i).join('/'));
    return full;
  }

  podConfig(name: string, extra: Partial<PodSandboxConfig> = {}): PodSandboxConfig {
    return {
      metadata: { name, namespace: 'default', uid: `uid-${name}`, attempt: 0 },
      hostname: name,
      log_directory: path.join(this.base, 'logs', name),
      labels: { app: name },
      ...extra,
    };
  }

  async runPod(name: string, extra: Partial<PodSandboxConfig> = {}): Promise<string> {
    const res = await call(this.runtime, 'RunPodSandbox', { config: this.podConfig(name, extra) });
    return res.pod_sandbox_id;
  }

  async inspect(id: string) {
    const res = await call(this.runtime, 'PodSandboxStatus', { pod_sandbox_id: id, verbose: true });
    const info = JSON.parse(res.info['info'] ?? '{}') as { pid: number; netNamespacePath: string; bundle: string };
    return { status: res.status, info };
  }

  /** Nothing of this daemon's pods may remain anywhere on the node (test/support/leaks.ts says what is looked at). */
  async assertNoLeaks(): Promise<void> {
    const problems = await leftovers(this.leakScope());
    assert.deepEqual(problems, [], `leaks:\n${problems.join('\n')}\n--- cribd log ---\n${this.logTail()}`);
  }

  private leakScope(): LeakScope {
    return {
      base: this.base,
      root: this.root,
      state: this.state,
      bridge: this.bridge,
      subnetPrefix: this.subnetPrefix,
      networkName: this.networkName,
      cgroupRoot: this.cgroupRoot,
      kubeletCgroupRoot: this.kubeletCgroupRoot,
      kubeletCgroups: this.kubeletCgroups,
      allowedPids: new Set(this.daemon?.pid === undefined ? [] : [this.daemon.pid]),
      recordedPids: this.recorded.pids,
      sandboxIds: this.recorded.sandboxIds,
    };
  }
}

/** Runs a command in a sandbox's network namespace. */
export function inNetns(netnsPath: string, cmd: string[]): Promise<{ stdout: string; stderr: string }> {
  return run('nsenter', [`--net=${netnsPath}`, '--', ...cmd], { timeoutMs: 20_000 });
}

export function readProcStatus(pid: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return out;
}
