import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import assert from 'node:assert/strict';
import { call, connect, type CriClients } from '../../src/cli/client.js';
import { run } from '../../src/util/exec.js';
import { cgroupMounts } from '../../src/oci/cgroups.js';
import { readMounts } from '../../src/util/mounts.js';
import { repoRoot } from '../../src/util/paths.js';
import type { PodSandboxConfig } from '../../src/cri/generated/runtime/v1/PodSandboxConfig.js';

export interface HarnessOptions {
  /** Extra daemon flags (e.g. ["--cni-bin-dir", "/nowhere"]). */
  flags?: string[];
  /** A config file's contents (e.g. registry mirrors), passed with --config. */
  config?: Record<string, unknown>;
  /** Variables added to cribd's environment (e.g. systemd's NOTIFY_SOCKET). */
  env?: Record<string, string>;
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
  readonly cgroupRoot = `/crib-test-${this.id}`;
  readonly logFile = path.join(this.base, 'cribd.log');
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
      `crib-${this.id}`,
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
    this.daemon = spawn(process.execPath, [path.join(repoRoot, 'bin', 'crib'), 'daemon', ...this.flags], {
      stdio: ['ignore', log, log],
      env: { ...process.env, ...this.opts.env },
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
        return;
      } catch (err) {
        if (Date.now() > deadline || !this.daemon || this.daemon.exitCode !== null) throw err;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  logTail(lines = 30): string {
    try {
      return fs.readFileSync(this.logFile, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  /** Ends our cribd (SIGTERM for a clean stop, SIGKILL for a crash) and waits for it. */
  async stopDaemon(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    this.client?.close();
    const d = this.daemon;
    this.daemon = undefined;
    if (!d || d.exitCode !== null || d.signalCode !== null) return;
    const done = new Promise((r) => d.once('exit', r));
    d.kill(signal);
    await done;
  }

  get runtime() {
    return this.client.runtime;
  }

  /** Removes every sandbox through the CRI, stops cribd, and removes what a crash could leave. */
  async cleanup(): Promise<void> {
    if (this.daemon) {
      try {
        const list = await call(this.runtime, 'ListPodSandbox', {}, 30);
        for (const p of list.items) await call(this.runtime, 'RemovePodSandbox', { pod_sandbox_id: p.id }, 60);
      } catch (err) {
        console.error(`cleanup: ${(err as Error).message}\n${this.logTail()}`);
      }
      await this.stopDaemon();
    }
    await run('ip', ['link', 'del', this.bridge]).catch(() => undefined);
    for (const m of await cgroupMounts()) await fsp.rmdir(path.join(m, this.cgroupRoot)).catch(() => undefined);
    const mounted = await mountsUnder(this.base);
    for (const m of mounted.reverse()) await run('umount', ['-l', m]).catch(() => undefined);
    await fsp.rm(this.base, { recursive: true, force: true });
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

  /** Nothing of this daemon's pods may remain: netns, veth, mounts, cgroups, leases, pause or conmon. */
  async assertNoLeaks(): Promise<void> {
    const problems: string[] = [];
    const netnsDir = path.join(this.state, 'netns');
    const pins = fs.existsSync(netnsDir) ? fs.readdirSync(netnsDir) : [];
    if (pins.length) problems.push(`netns pins left: ${pins.join(', ')}`);
    const mounts = await mountsUnder(this.base);
    if (mounts.length) problems.push(`mounts left: ${mounts.join(', ')}`);
    const veths = await vethsOn(this.bridge);
    if (veths.length) problems.push(`veths left on ${this.bridge}: ${veths.join(', ')}`);
    const leases = leaseFiles(path.join(this.root, 'cni', 'networks'));
    if (leases.length) problems.push(`IP leases left: ${leases.join(', ')}`);
    for (const m of await cgroupMounts()) {
      const dir = path.join(m, this.cgroupRoot);
      const subdirs = fs.existsSync(dir) ? fs.readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()) : [];
      if (subdirs.length) problems.push(`cgroups left under ${dir}: ${subdirs.map((e) => e.name).join(', ')}`);
    }
    const procs = await this.ourProcesses();
    if (procs.length) problems.push(`processes left: ${procs.join(', ')}`);
    assert.deepEqual(problems, [], `leaks:\n${problems.join('\n')}\n--- cribd log ---\n${this.logTail()}`);
  }

  /** Live (non-zombie) conmon and pause processes belonging to this daemon, waiting briefly for exits. */
  async ourProcesses(): Promise<string[]> {
    let found: string[] = [];
    for (let i = 0; i < 40; i++) {
      found = [];
      for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
        try {
          const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
          const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
          const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
          if (state === 'Z' || (comm !== 'conmon' && comm !== 'pause')) continue;
          const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
          const cgroup = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8');
          if (cmdline.includes(this.base) || cgroup.includes(this.cgroupRoot)) found.push(`${comm}[${pid}]`);
        } catch {
          /* exited meanwhile */
        }
      }
      if (found.length === 0) return found;
      await new Promise((r) => setTimeout(r, 50));
    }
    return found;
  }
}

export async function mountsUnder(dir: string): Promise<string[]> {
  return (await readMounts()).map((m) => m.mountPoint).filter((m) => m.startsWith(dir + '/'));
}

export async function vethsOn(bridge: string): Promise<string[]> {
  try {
    const { stdout } = await run('ip', ['-o', 'link', 'show', 'master', bridge]);
    return stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(':')[1]?.trim() ?? l);
  } catch {
    return []; // no such bridge: nothing attached
  }
}

function leaseFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  const out: string[] = [];
  for (const net of fs.readdirSync(dir)) {
    for (const f of fs.readdirSync(path.join(dir, net))) {
      if (f !== 'lock' && !f.startsWith('last_reserved_ip')) out.push(`${net}/${f}`);
    }
  }
  return out;
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
