// Everything a harness's pods can leave on the node, found by where crib put it rather than by
// what it is called: files under the daemon's ROOT and STATE, mounts under the harness's base dir,
// veths on its bridge, IP leases, cgroups under its cgroup roots, iptables and ip6tables rules
// naming its subnet or network and the CNI chains of its pods (empty ones too), files in the image
// store's tmp dir, and processes crib recorded, in its cgroups or running from its directories.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { run } from '../src/util/exec.js';
import { cgroupMounts } from '../src/host/cgroups.js';
import { readMounts } from '../src/host/mounts.js';

/** What one harness owns on the node. */
export interface LeakScope {
  /** The harness's temp dir: ROOT, STATE, socket, logs and test files are all under it. */
  base: string;
  root: string;
  state: string;
  bridge: string;
  /** The first three octets of its /24 subnet. */
  subnetPrefix: string;
  /** The CNI network name (portmap names it in its rule comments). */
  networkName: string;
  /** crib's --cgroup-root, where nothing may remain. */
  cgroupRoot: string;
  /** The harness's stand-in for /kubepods, holding what kubelet would make beside what crib makes. */
  kubeletCgroupRoot: string;
  /** Cgroups below kubeletCgroupRoot that the test made as kubelet (relative paths): they stay. */
  kubeletCgroups: ReadonlySet<string>;
  /** Processes that may run from the base dir: the daemon itself. */
  allowedPids: ReadonlySet<number>;
  /** Every process crib recorded for a pod or container while the harness watched: pid, start time. */
  recordedPids: ReadonlyMap<number, string>;
  /** Every sandbox crib recorded while the harness watched (its CNI chains are named for it). */
  sandboxIds: ReadonlySet<string>;
}

/**
 * A process's start time (field 22 of /proc/PID/stat), unless it is gone or a zombie (an exited
 * process whose new parent, after cribd's death PID 1, has not reaped it yet).
 */
export function liveStartTime(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[0] === 'Z' || rest[0] === 'X' ? undefined : rest[19];
  } catch {
    return undefined;
  }
}

/**
 * Notes every process crib records for a pod or a container, as its records are written: pause's
 * and a container's pid from the record, and the monitor's and the runtime's init from the
 * bundle's conmon.pid (monitor.pid for pause under crib-io) and pidfile. The leak check then looks for each of them by pid and start time,
 * whatever it is called and wherever it runs.
 */
export class RecordedPids {
  readonly pids = new Map<number, string>();
  /** The ids of the sandboxes whose records were seen. */
  readonly sandboxIds = new Set<string>();
  private readonly watchers: fs.FSWatcher[] = [];

  constructor(private readonly root: string) {}

  /** Starts watching the record directories (cribd has made them); again is harmless. */
  watch(): void {
    if (this.watchers.length) return;
    for (const kind of ['sandboxes', 'containers']) {
      const dir = path.join(this.root, 'records', kind);
      this.watchers.push(fs.watch(dir, (_event, name) => name && this.noteRecord(path.join(dir, name))));
      for (const name of fs.readdirSync(dir)) this.noteRecord(path.join(dir, name));
    }
  }

  close(): void {
    for (const w of this.watchers.splice(0)) w.close();
  }

  private noteRecord(file: string): void {
    let record: { id?: string; pid?: number; pause?: { pid?: number }; paths?: { bundle?: string } };
    try {
      record = JSON.parse(fs.readFileSync(file, 'utf8')) as typeof record;
    } catch {
      return; // removed, or half written: a later event reads it whole
    }
    if (record.id && path.basename(path.dirname(file)) === 'sandboxes') this.sandboxIds.add(record.id);
    const bundle = record.paths?.bundle;
    const fromBundle = (f: string) => {
      try {
        return Number(fs.readFileSync(path.join(bundle ?? '', f), 'utf8'));
      } catch {
        return undefined;
      }
    };
    for (const pid of [record.pid, record.pause?.pid, fromBundle('conmon.pid'), fromBundle('monitor.pid'), fromBundle('pidfile')]) {
      if (pid === undefined || !(pid > 0) || this.pids.has(pid)) continue;
      const start = liveStartTime(pid);
      if (start !== undefined) this.pids.set(pid, start);
    }
  }
}

/** Directories whose every entry is a pod's, a container's or a monitor's, and must go with them. */
function perObjectDirs(s: LeakScope): string[] {
  const runtimes = path.join(s.state, 'runtime');
  const runtimeStates = fs.existsSync(runtimes) ? fs.readdirSync(runtimes).map((r) => path.join(runtimes, r)) : [];
  return [
    path.join(s.root, 'sandboxes'),
    path.join(s.root, 'containers'),
    path.join(s.root, 'records', 'sandboxes'),
    path.join(s.root, 'records', 'containers'),
    path.join(s.root, 'pods'),
    path.join(s.state, 'exits'),
    path.join(s.state, 'sockets'),
    path.join(s.state, 'netns'),
    path.join(s.state, 'shm'),
    path.join(s.state, 'userns'),
    path.join(s.state, 'roots'),
    ...runtimeStates,
  ];
}

function entries(dir: string): string[] {
  return fs.existsSync(dir) ? fs.readdirSync(dir) : [];
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
  const out: string[] = [];
  for (const net of entries(dir)) {
    for (const f of fs.readdirSync(path.join(dir, net))) {
      if (f !== 'lock' && !f.startsWith('last_reserved_ip')) out.push(`${net}/${f}`);
    }
  }
  return out;
}

/** Every cgroup directory below `dir` (relative to it), parents before children. */
export function cgroupTree(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const e of fs.existsSync(dir) ? fs.readdirSync(dir, { withFileTypes: true }) : []) {
    if (!e.isDirectory()) continue;
    const r = rel ? `${rel}/${e.name}` : e.name;
    out.push(r, ...cgroupTree(path.join(dir, e.name), r));
  }
  return out;
}

/** Cgroups crib made and left: anything under its cgroup root, and under the kubelet root anything kubelet (the test) did not make. */
async function cgroupLeftovers(s: LeakScope): Promise<string[]> {
  const out: string[] = [];
  for (const m of await cgroupMounts()) {
    const own = cgroupTree(path.join(m, s.cgroupRoot));
    if (own.length) out.push(`cgroups left under ${path.join(m, s.cgroupRoot)}: ${own.join(', ')}`);
    const kube = cgroupTree(path.join(m, s.kubeletCgroupRoot)).filter((c) => !s.kubeletCgroups.has(c));
    if (kube.length) out.push(`cgroups crib made left under ${path.join(m, s.kubeletCgroupRoot)}: ${kube.join(', ')}`);
  }
  return out;
}

/**
 * The chains the CNI plugins make for one pod, as containernetworking/plugins names them
 * (pkg/utils FormatChainName): "CNI-" (bridge's ipMasq), "CNI-DN-" or "CNI-SN-" (portmap), then the
 * hex SHA-512 of the network name and the container (sandbox) id, cut to 28 characters.
 */
export function cniChains(networkName: string, sandboxId: string): string[] {
  const hash = createHash('sha512')
    .update(networkName + sandboxId)
    .digest('hex');
  return ['CNI-', 'CNI-DN-', 'CNI-SN-'].map((prefix) => (prefix + hash).slice(0, 28));
}

/**
 * iptables and ip6tables rules (every table) that name the harness's subnet or its network, and
 * the chains its pods had, empty or not: portmap's DNAT chains and bridge's masquerade chains.
 */
async function iptablesRules(s: LeakScope): Promise<string[]> {
  const subnet = new RegExp(`(^|[^0-9.])${s.subnetPrefix.replaceAll('.', '\\.')}\\.`);
  const network = `"${s.networkName}"`;
  const chains = new Set([...s.sandboxIds].flatMap((id) => cniChains(s.networkName, id)));
  const out: string[] = [];
  for (const save of ['iptables-save', 'ip6tables-save']) {
    const { stdout } = await run(save, []);
    for (const l of stdout.split('\n')) {
      const chain = /^(?::|-A )(\S+)/.exec(l)?.[1] ?? '';
      if (chains.has(chain) || (l.startsWith('-A ') && (subnet.test(l) || l.includes(network)))) out.push(`${save}: ${l}`);
    }
  }
  return out;
}

const readlink = (p: string): string => {
  try {
    return fs.readlinkSync(p);
  } catch {
    return '';
  }
};

const under = (p: string, dir: string): boolean => p === dir || p.startsWith(`${dir}/`);

/**
 * Live processes crib made for this harness: recorded by crib (by pid and start time), in its
 * cgroups (pause, containers, their children) or running from its directories (conmon, runc, crib-io: their command line, cwd or root is under
 * the base dir). Zombies hold nothing but a pid and are their parent's to reap.
 */
export function harnessProcesses(s: LeakScope): string[] {
  const found: string[] = [];
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    if (s.allowedPids.has(Number(pid))) continue;
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      if (stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z') continue;
      const cgroups = fs
        .readFileSync(`/proc/${pid}/cgroup`, 'utf8')
        .split('\n')
        .map((l) => l.slice(l.indexOf(':', l.indexOf(':') + 1) + 1));
      const why = [
        s.recordedPids.has(Number(pid)) && s.recordedPids.get(Number(pid)) === liveStartTime(Number(pid)) && 'recorded by crib',
        cgroups.some((c) => under(c, s.cgroupRoot) || under(c, s.kubeletCgroupRoot)) && 'cgroup',
        fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(s.base) && 'cmdline',
        under(readlink(`/proc/${pid}/cwd`), s.base) && 'cwd',
        under(readlink(`/proc/${pid}/root`), s.base) && 'root',
      ].filter(Boolean);
      if (why.length) found.push(`${comm}[${pid}] (${why.join(', ')})`);
    } catch {
      /* exited meanwhile */
    }
  }
  return found;
}

/** Everything of the harness's pods still on the node, one line per kind; empty when nothing is. */
export async function leftovers(s: LeakScope): Promise<string[]> {
  const problems: string[] = [];
  for (const dir of perObjectDirs(s)) {
    const left = entries(dir);
    if (left.length) problems.push(`left in ${dir}: ${left.join(', ')}`);
  }
  // Pulls and imports write there and rename or remove what they wrote when they end.
  const tmp = entries(path.join(s.root, 'images', 'tmp'));
  if (tmp.length) problems.push(`left in the image store's tmp dir: ${tmp.join(', ')}`);
  const mounts = await mountsUnder(s.base);
  if (mounts.length) problems.push(`mounts left: ${mounts.join(', ')}`);
  const veths = await vethsOn(s.bridge);
  if (veths.length) problems.push(`veths left on ${s.bridge}: ${veths.join(', ')}`);
  const leases = leaseFiles(path.join(s.root, 'cni', 'networks'));
  if (leases.length) problems.push(`IP leases left: ${leases.join(', ')}`);
  problems.push(...(await cgroupLeftovers(s)));
  const rules = await iptablesRules(s);
  if (rules.length) problems.push(`iptables rules left:\n  ${rules.join('\n  ')}`);
  // Processes are the one thing that may still be on its way out (a monitor exits after its container).
  let procs = harnessProcesses(s);
  for (let i = 0; i < 40 && procs.length; i++) {
    await new Promise((r) => setTimeout(r, 50));
    procs = harnessProcesses(s);
  }
  if (procs.length) problems.push(`processes left: ${procs.join(', ')}`);
  return problems;
}
