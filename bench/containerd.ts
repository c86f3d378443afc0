import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { call, connect, type CriClients } from '../src/client/client.js';
import { run } from '../src/util/exec.js';
import { readMounts } from '../src/host/mounts.js';
import { vethsOn } from '../test/support/leaks.js';
import { findProcesses } from './proc.js';
import { sleep } from './stats.js';
import { killPids, reapCgroupRoot } from './teardown.js';

/**
 * containerd (Debian's package) beside crib: a child process of the bench on its own root, state,
 * socket, config, CNI config, bridge, subnet and cgroup parent, all under one temp dir, so it
 * touches nothing of a containerd the machine may run. Stopped and removed by `cleanup`.
 */

const CONTAINERD_RUN_DIR = '/run/containerd'; // containerd 1.6 puts its shims' sockets in ./s, whatever its state dir

/** Installs Debian's containerd when the binary is missing (apt, as scripts/setup.sh installs crib's tools). */
export async function ensureContainerdInstalled(): Promise<void> {
  const found = async (): Promise<boolean> =>
    run('sh', ['-c', 'command -v containerd && command -v ctr && command -v containerd-shim-runc-v2']).then(
      () => true,
      () => false,
    );
  if (await found()) return;
  console.error('bench: installing containerd (apt)');
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  await run('apt-get', ['update', '-qq'], { env, timeoutMs: 300_000 });
  await run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'containerd'], { env, timeoutMs: 600_000 });
  if (!(await found())) throw new Error('containerd, ctr or containerd-shim-runc-v2 still missing after apt-get install containerd');
}

/** A port that was free a moment ago (containerd 1.6 puts the configured port, not the bound one, into its streaming URLs, so 0 will not do). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = addr && typeof addr === 'object' ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export class Containerd {
  readonly id = randomBytes(3).toString('hex');
  readonly base = fs.mkdtempSync(path.join(os.tmpdir(), 'crib-bench-containerd-'));
  readonly socket = path.join(this.base, 'containerd.sock');
  readonly bridge = `cbn${this.id}`;
  readonly subnet = `10.${200 + (parseInt(this.id.slice(0, 2), 16) % 50)}.${parseInt(this.id.slice(2, 4), 16)}.0/24`;
  readonly cgroupRoot = `/crib-bench-containerd-${this.id}`;
  readonly logFile = path.join(this.base, 'containerd.log');
  private child: ChildProcess | undefined;
  private madeRunDir = false;
  clients: CriClients | undefined;

  get pid(): number {
    const pid = this.child?.pid;
    if (pid === undefined) throw new Error('containerd is not running');
    return pid;
  }

  /** The shims of this containerd: their command line names its socket. */
  shimPids(): number[] {
    return findProcesses('containerd-shim', this.socket);
  }

  private config(sandboxImage: string, streamingPort: number): string {
    const d = (p: string) => JSON.stringify(path.join(this.base, p));
    return `version = 2
root = ${d('root')}
state = ${d('state')}
# Plugins this bench never uses, left out so they neither start nor probe the host.
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = ${JSON.stringify(this.socket)}
[ttrpc]
  address = ${JSON.stringify(`${this.socket}.ttrpc`)}
[debug]
  address = ""
  level = "warn"
[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = ${d('opt')}
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = ${JSON.stringify(sandboxImage)}
  stream_server_address = "127.0.0.1"
  stream_server_port = "${streamingPort}"
  # These machines lack CAP_SYS_RESOURCE: never ask for an oom_score_adj below containerd's own.
  restrict_oom_score_adj = true
  # Pods' netns pinned under our state dir, not /var/run/netns, so teardown finds any left by their mounts.
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = ${d('runc')}
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = ${d('cni.d')}
    max_conf_num = 1
`;
  }

  /** crib's built-in network (src/network/cni-config.ts) on containerd's own bridge and subnet. */
  private cniConfig(): string {
    return JSON.stringify({
      cniVersion: '1.0.0',
      name: `bench-containerd-${this.id}`,
      plugins: [
        {
          type: 'bridge',
          bridge: this.bridge,
          isGateway: true,
          ipMasq: false,
          hairpinMode: true,
          ipam: { type: 'host-local', ranges: [[{ subnet: this.subnet }]], routes: [{ dst: '0.0.0.0/0' }], dataDir: path.join(this.base, 'cni-ipam') },
        },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    });
  }

  async start(sandboxImage: string): Promise<void> {
    await fsp.mkdir(path.join(this.base, 'cni.d'));
    await fsp.writeFile(path.join(this.base, 'cni.d', '10-bench.conflist'), this.cniConfig());
    const configFile = path.join(this.base, 'config.toml');
    await fsp.writeFile(configFile, this.config(sandboxImage, await freePort()));
    this.madeRunDir = !fs.existsSync(CONTAINERD_RUN_DIR);
    const log = fs.openSync(this.logFile, 'a');
    // Its own process group, as cribd's: Ctrl-C reaches the bench alone, which tears down.
    this.child = spawn('containerd', ['--config', configFile], { stdio: ['ignore', log, log], detached: true });
    fs.closeSync(log);
    const child = this.child;
    const exited = new Promise<never>((_, reject) =>
      child.once('exit', (code) => reject(new Error(`containerd exited (${code}) during start: ${this.logTail()}`))),
    );
    this.clients = connect(this.socket);
    const clients = this.clients;
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        const status = await Promise.race([call(clients.runtime, 'Status', {}, 2), exited]);
        const notReady = (status.status?.conditions ?? []).filter((c) => !c.status).map((c) => `${c.type}: ${c.message}`);
        if (notReady.length === 0) return;
        if (Date.now() > deadline) throw new Error(`containerd not ready: ${notReady.join('; ')}`);
      } catch (err) {
        if (Date.now() > deadline || child.exitCode !== null) throw err;
      }
      await sleep(100);
    }
  }

  /** `ctr images import` of a docker-archive or oci-archive into the CRI plugin's namespace. */
  async importImage(tarFile: string): Promise<void> {
    await run('ctr', ['--address', this.socket, '--namespace', 'k8s.io', 'images', 'import', tarFile], { timeoutMs: 120_000 });
  }

  logTail(lines = 20): string {
    try {
      return fs.readFileSync(this.logFile, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  /** SIGTERM to our containerd (by its PID), SIGKILL after 20 s. Its shims outlive it by design. */
  async stop(): Promise<void> {
    this.clients?.close();
    this.clients = undefined;
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const done = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const killed = await Promise.race([done.then(() => false), sleep(20_000).then(() => true)]);
    if (killed) {
      child.kill('SIGKILL');
      await done;
    }
  }

  /**
   * Stops containerd and removes what it made: shims of ours still alive (pods should be gone
   * through the CRI first; a shim is ours when its command line names our socket), mounts under
   * our temp dir (pods' netns pins among them), veths on our bridge, the bridge, the cgroups under our parent, /run/containerd if we made it, the dir.
   * Returns what it had to clean up that a clean teardown would not have left.
   */
  async cleanup(): Promise<string[]> {
    const leftovers: string[] = [];
    await this.stop();
    const veths = await vethsOn(this.bridge);
    if (veths.length) leftovers.push(`veths on ${this.bridge}: ${veths.join(', ')}`);
    const shims = this.shimPids();
    if (shims.length) leftovers.push(`shims ${shims.join(', ')}`);
    await killPids(shims);
    // What the shims ran (pause, containers) outlives them: killed through our cgroup root.
    leftovers.push(...(await reapCgroupRoot(this.cgroupRoot)));
    const mounts = (await readMounts()).map((m) => m.mountPoint).filter((m) => m.startsWith(this.base + '/'));
    for (const m of mounts.reverse()) {
      leftovers.push(`mount ${m}`);
      await run('umount', ['-l', m]).catch(() => undefined);
    }
    await run('ip', ['link', 'del', this.bridge]).catch(() => undefined);
    if (this.madeRunDir) {
      await fsp.rmdir(path.join(CONTAINERD_RUN_DIR, 's')).catch(() => undefined);
      await fsp.rmdir(CONTAINERD_RUN_DIR).catch(() => undefined);
    }
    await fsp.rm(this.base, { recursive: true, force: true });
    return leftovers;
  }
}
