import fs from 'node:fs';
import { call } from '../client/client.js';
import type { Command } from './command.js';
import type { ClientContext } from '../client/context.js';
import { UsageError } from '../client/errors.js';
import { containerStateName, outputFormat, paint, parseInfo, podStateName, printData, stateStyle, terminalSafe as t_ } from './output.js';
import { resolvePod } from './resolve.js';

export const NAMESPACES = ['net', 'ipc', 'uts', 'pid', 'user'] as const;
export type NsName = (typeof NAMESPACES)[number];

/** How a process's namespace relates to the pod: pause's (`pause`), the node's (`host`), or its own. */
export type Sharing = 'pause' | 'host' | 'own';

export interface NsInfo {
  /** As /proc/PID/ns/NAME reads: `net:[4026532177]`. */
  inode: string;
  shared: Sharing;
}

export interface ProcessInfo {
  pid: number;
  ppid: number;
  command: string;
  namespaces: Partial<Record<NsName, NsInfo>>;
}

export interface InterfaceInfo {
  index: number;
  name: string;
  kind: 'loopback' | 'veth' | 'other';
  state: string;
  mac: string;
  addresses: string[];
  /** eth0@ifN: the index of the other end of the veth pair. */
  peerIndex?: number;
  /** The other end, on the node. */
  hostPeer?: { index: number; name: string; master?: string };
}

/** A line of /proc/PID/uid_map or gid_map: `length` ids from `inside` are `node` up on the node. */
export interface IdRange {
  inside: number;
  node: number;
  length: number;
}

export interface PodTree {
  pod: { id: string; name: string; namespace: string; uid: string; state: string; ip: string; additionalIps: string[] };
  /** The pod's own user namespace, as pause is in it; null when pause is in the node's (or not running). */
  userns: { inode: string; uids: IdRange[]; gids: IdRange[] } | null;
  netns: { path: string; inode: string; interfaces: InterfaceInfo[]; error?: string } | null;
  pause: { pid: number; image: string; processes: ProcessInfo[] };
  containers: { id: string; name: string; state: string; pid: number; processes: ProcessInfo[] }[];
}

interface ProcStat {
  pid: number;
  ppid: number;
  comm: string;
}

function procTable(): Map<number, ProcStat> {
  const out = new Map<number, ProcStat>();
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const s = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
      const close = s.lastIndexOf(')');
      const fields = s.slice(close + 2).split(' ');
      out.set(Number(e), { pid: Number(e), ppid: Number(fields[1]), comm: s.slice(s.indexOf('(') + 1, close) });
    } catch {
      /* exited meanwhile */
    }
  }
  return out;
}

/** A pid and its descendants (pre-order, children by pid). */
function withDescendants(root: number, table: Map<number, ProcStat>): number[] {
  const children = new Map<number, number[]>();
  for (const p of table.values()) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p.pid]);
  const out: number[] = [];
  const walk = (pid: number) => {
    out.push(pid);
    for (const c of (children.get(pid) ?? []).sort((a, b) => a - b)) walk(c);
  };
  if (table.has(root)) walk(root);
  return out;
}

function nsLink(pid: number | 'self', ns: NsName): string {
  try {
    return fs.readlinkSync(`/proc/${pid}/ns/${ns}`);
  } catch {
    return '';
  }
}

function commandOf(pid: number, table: Map<number, ProcStat>): string {
  try {
    const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    // One line per process: scripts passed to `sh -c` carry newlines.
    if (argv.length) return argv.join(' ').replace(/\s+/g, ' ').trim();
  } catch {
    /* gone */
  }
  return `[${table.get(pid)?.comm ?? '?'}]`;
}

function processInfo(pid: number, table: Map<number, ProcStat>, relativeTo: (ns: NsName, inode: string) => Sharing): ProcessInfo {
  const namespaces: Partial<Record<NsName, NsInfo>> = {};
  for (const ns of NAMESPACES) {
    const inode = nsLink(pid, ns);
    if (inode) namespaces[ns] = { inode, shared: relativeTo(ns, inode) };
  }
  return { pid, ppid: table.get(pid)?.ppid ?? 0, command: commandOf(pid, table), namespaces };
}

/** One line of `ip -o link`. */
export interface LinkLine {
  index: number;
  name: string;
  state: string;
  mac: string;
  peerIndex?: number;
  master?: string;
}

/** Parses `ip -o link` lines. */
export function parseIpLink(text: string): LinkLine[] {
  const out: LinkLine[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\d+):\s+([^:@\s]+)(?:@([^:\s]+))?:\s+<([^>]*)>(.*)$/.exec(line);
    if (!m) continue;
    const rest = m[5] ?? '';
    const peer = /^if(\d+)$/.exec(m[3] ?? '');
    const entry: LinkLine = {
      index: Number(m[1]),
      name: m[2] ?? '',
      state: /\bstate (\S+)/.exec(rest)?.[1] ?? '',
      mac: /link\/\w+ (\S+)/.exec(rest)?.[1] ?? '',
    };
    if (peer) entry.peerIndex = Number(peer[1]);
    const master = /\bmaster (\S+)/.exec(rest)?.[1];
    if (master) entry.master = master;
    out.push(entry);
  }
  return out;
}

/** Parses `ip -o addr` lines: interface name → addresses (CIDR). */
export function parseIpAddr(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const m = /^\d+:\s+(\S+)\s+inet6?\s+(\S+)/.exec(line);
    const [, name, addr] = m ?? [];
    if (name && addr) out.set(name, [...(out.get(name) ?? []), addr]);
  }
  return out;
}

async function interfaces(netnsPath: string): Promise<InterfaceInfo[]> {
  // Loaded here: the exec wrapper (child_process, logging) is for this command alone.
  const { run } = await import('../util/exec.js');
  const inNs = (args: string[]) => run('nsenter', [`--net=${netnsPath}`, '--', 'ip', '-o', ...args], { timeoutMs: 10_000 });
  const [link, addr, host] = await Promise.all([inNs(['link']), inNs(['addr']), run('ip', ['-o', 'link'], { timeoutMs: 10_000 })]);
  const addrs = parseIpAddr(addr.stdout);
  const hostLinks = parseIpLink(host.stdout);
  return parseIpLink(link.stdout).map((l): InterfaceInfo => {
    const info: InterfaceInfo = {
      index: l.index,
      name: l.name,
      kind: l.name === 'lo' ? 'loopback' : l.peerIndex !== undefined ? 'veth' : 'other',
      state: l.state,
      mac: l.mac,
      addresses: addrs.get(l.name) ?? [],
    };
    if (l.peerIndex !== undefined) {
      info.peerIndex = l.peerIndex;
      // the node's end: the link with that index whose own peer is this interface
      const h = hostLinks.find((x) => x.index === l.peerIndex && (x.peerIndex === undefined || x.peerIndex === l.index));
      if (h) info.hostPeer = { index: h.index, name: h.name, ...(h.master ? { master: h.master } : {}) };
    }
    return info;
  });
}

/** Parses /proc/PID/uid_map (or gid_map) text. */
export function parseIdMap(text: string): IdRange[] {
  return text
    .split('\n')
    .map((l) => l.trim().split(/\s+/).map(Number))
    .filter((f) => f.length === 3 && f.every(Number.isInteger))
    .map(([inside, node, length]) => ({ inside: inside!, node: node!, length: length! }));
}

function idMapOf(pid: number, file: 'uid_map' | 'gid_map'): IdRange[] {
  try {
    return parseIdMap(fs.readFileSync(`/proc/${pid}/${file}`, 'utf8'));
  } catch {
    return [];
  }
}

function nsInode(p: string): string {
  try {
    return `net:[${fs.statSync(p).ino}]`;
  } catch {
    return '';
  }
}

/** Gathers the pod's namespaces and processes from the node. */
export async function podTree(ctx: ClientContext, word: string): Promise<PodTree> {
  const pod = await resolvePod(ctx, word);
  const st = await call(ctx.clients.runtime, 'PodSandboxStatus', { pod_sandbox_id: pod.id, verbose: true });
  const info = (parseInfo(st.info)['info'] ?? {}) as { pid?: number; netNamespacePath?: string; image?: string };
  const pausePid = Number(info.pid ?? 0);
  const netnsPath = info.netNamespacePath ?? '';
  const table = procTable();
  const pauseAlive = pausePid > 0 && table.has(pausePid);
  const host: Partial<Record<NsName, string>> = {};
  for (const ns of NAMESPACES) host[ns] = nsLink(1, ns);
  const pauseNs: Partial<Record<NsName, string>> = {};
  if (pauseAlive) for (const ns of NAMESPACES) pauseNs[ns] = nsLink(pausePid, ns);

  const ctrs = (await call(ctx.clients.runtime, 'ListContainers', { filter: { pod_sandbox_id: pod.id } })).containers.sort((a, b) =>
    BigInt(a.created_at || '0') < BigInt(b.created_at || '0') ? -1 : 1,
  );
  const containers: PodTree['containers'] = [];
  const claimed = new Set<number>();
  const vsPause = (ns: NsName, inode: string): Sharing => (pauseNs[ns] === inode ? 'pause' : host[ns] === inode ? 'host' : 'own');
  for (const c of ctrs) {
    let pid = 0;
    if (c.state === 1) {
      const cs = await call(ctx.clients.runtime, 'ContainerStatus', { container_id: c.id, verbose: true });
      pid = Number((parseInfo(cs.info)['info'] as { pid?: number } | undefined)?.pid ?? 0);
    }
    const pids = pid > 0 ? withDescendants(pid, table) : [];
    for (const p of pids) claimed.add(p);
    containers.push({
      id: c.id,
      name: c.metadata?.name ?? '',
      state: containerStateName(c.state),
      pid,
      processes: pids.map((p) => processInfo(p, table, vsPause)),
    });
  }
  const pauseProcs = pauseAlive
    ? withDescendants(pausePid, table)
        .filter((p) => p === pausePid || !claimed.has(p))
        .map((p) => processInfo(p, table, (ns, inode) => (p !== pausePid && pauseNs[ns] === inode ? 'pause' : host[ns] === inode ? 'host' : 'own')))
    : [];

  let netns: PodTree['netns'] = null;
  if (netnsPath && fs.existsSync(netnsPath)) {
    netns = { path: netnsPath, inode: nsInode(netnsPath), interfaces: [] };
    try {
      netns.interfaces = await interfaces(netnsPath);
    } catch (err) {
      netns.error = (err as Error).message;
    }
  }
  const userns =
    pauseAlive && pauseNs.user && pauseNs.user !== host.user
      ? { inode: pauseNs.user, uids: idMapOf(pausePid, 'uid_map'), gids: idMapOf(pausePid, 'gid_map') }
      : null;
  const s = st.status;
  return {
    pod: {
      id: pod.id,
      name: pod.metadata?.name ?? '',
      namespace: pod.metadata?.namespace ?? '',
      uid: pod.metadata?.uid ?? '',
      state: podStateName(pod.state),
      ip: s?.network?.ip ?? '',
      additionalIps: (s?.network?.additional_ips ?? []).map((a) => a.ip),
    },
    userns,
    netns,
    pause: { pid: pauseAlive ? pausePid : 0, image: info.image ?? '', processes: pauseProcs },
    containers,
  };
}

interface Node {
  label: string;
  notes?: string[];
  children?: Node[];
}

function render(root: Node): string {
  const lines: string[] = [root.label, ...(root.notes ?? []).map((n) => `    ${n}`)];
  const walk = (nodes: Node[], prefix: string) => {
    nodes.forEach((n, i) => {
      const last = i === nodes.length - 1;
      lines.push(`${prefix}${last ? '└── ' : '├── '}${n.label}`);
      const inner = prefix + (last ? '    ' : '│   ');
      for (const note of n.notes ?? []) lines.push(`${inner}${n.children?.length ? '│' : ' '}     ${note}`);
      walk(n.children ?? [], inner);
    });
  };
  walk(root.children ?? [], '');
  return lines.join('\n') + '\n';
}

function nsNote(ctx: ClientContext, p: ProcessInfo, netnsInode: string, isPause: boolean): string {
  return NAMESPACES.map((ns) => {
    const n = p.namespaces[ns];
    if (!n) return `${ns}:?`;
    let how: string;
    if (ns === 'net' && isPause && n.inode === netnsInode) how = paint(ctx, 'green', 'pod netns');
    else if (n.shared === 'pause') how = paint(ctx, 'green', '= pause');
    else if (n.shared === 'host') how = paint(ctx, 'yellow', 'host');
    else how = paint(ctx, 'cyan', 'own');
    return `${n.inode} ${how}`;
  }).join('  ');
}

/**
 * The drawing: the pod, its network namespace and interfaces, pause and each container's processes.
 * Every string from the pod, its containers or the node goes through terminalSafe (t_): a process's
 * arguments are the container's to choose, and would otherwise drive the terminal.
 */
export function drawTree(ctx: ClientContext, t: PodTree): string {
  const b = (s: string) => paint(ctx, 'bold', t_(s));
  const procNodes = (procs: ProcessInfo[], isPause: boolean): Node[] =>
    procs.map((p) => ({ label: `pid ${p.pid}  ${t_(p.command)}`, notes: [nsNote(ctx, p, t.netns?.inode ?? '', isPause)] }));
  const children: Node[] = [];
  if (t.netns) {
    const ifaces: Node[] = t.netns.interfaces.map((i) => {
      const addrs = t_(i.addresses.filter((a) => !a.startsWith('fe80:')).join(', '));
      if (i.kind === 'loopback') return { label: `${b(i.name)} (loopback) ${addrs}` };
      let peer = '';
      if (i.kind === 'veth') {
        peer = i.hostPeer
          ? ` (veth pair to host: ${b(i.hostPeer.name)}, ifindex ${i.hostPeer.index}${i.hostPeer.master ? `, on bridge ${t_(i.hostPeer.master)}` : ''})`
          : ` (veth pair to host ifindex ${i.peerIndex})`;
      }
      return { label: `${b(i.name)} ${addrs}${peer}` };
    });
    if (t.netns.error) ifaces.push({ label: `(cannot read interfaces: ${t_(t.netns.error)})` });
    for (const c of t.containers) {
      const net = c.processes[0]?.namespaces.net;
      if (!net) continue;
      const how = net.inode === t.netns.inode ? 'shares with Pod' : net.shared === 'host' ? "the node's, not the Pod's" : "its own, not the Pod's";
      ifaces.push({ label: `container ${b(c.name)}'s network stack (${how})` });
    }
    children.push({ label: `Pod's network namespace (created by pause)  ${t_(t.netns.path)}  ${t.netns.inode}`, children: ifaces });
  } else children.push({ label: "Pod's network namespace: gone (the pod is stopped)" });
  if (t.userns) {
    const ranges = (r: IdRange[]) => r.map((x) => `${x.inside}-${x.inside + x.length - 1} → node ${x.node}-${x.node + x.length - 1}`).join(', ');
    children.push({
      label: `Pod's user namespace  ${t.userns.inode}`,
      children: [{ label: `uids ${ranges(t.userns.uids)}` }, { label: `gids ${ranges(t.userns.gids)}` }],
    });
  }
  children.push({
    label: `${b('pause')}  ${t_(t.pause.image)}${t.pause.pid ? '' : '  (not running)'}`,
    children: procNodes(t.pause.processes, true),
  });
  for (const c of t.containers) {
    children.push({
      label: `container ${b(c.name)}  ${t_(c.id.slice(0, 13))}  ${paint(ctx, stateStyle(c.state), c.state)}`,
      children: procNodes(c.processes, false),
    });
  }
  const ip = [t.pod.ip, ...t.pod.additionalIps].filter(Boolean).join(', ');
  return render({
    label: `Pod ${b(t.pod.name)} (namespace ${t_(t.pod.namespace)})  ${t_(t.pod.id.slice(0, 13))}  ${paint(ctx, stateStyle(t.pod.state), t.pod.state)}${ip ? `  IP ${t_(ip)}` : ''}`,
    children,
  });
}

export const treeCommand: Command = {
  name: 'tree',
  synopsis: '[-o json] POD',
  summary:
    "Draw a pod's namespaces as the node sees them: its network namespace (lo, eth0 and the host veth), pause and\nevery container process with its net, ipc, uts, pid and user namespaces, marked = pause (shared), own, or host;\na pod with its own user namespace shows it with its id mappings.",
  details:
    '  -o, --output FORMAT   text (default), json or yaml\n\nPOD is an id, a unique id prefix or a unique pod name. Needs root (reads /proc and enters the netns).',
  flags: { value: ['output'], alias: { o: 'output' } },
  async run(args, ctx) {
    const word = args.positional[0];
    if (!word) throw new UsageError('missing POD');
    if (args.positional.length > 1) throw new UsageError(`unexpected argument "${args.positional[1]}"`);
    const format = outputFormat(args.get('output'), ['text', 'json', 'yaml']);
    const t = await podTree(ctx, word);
    if (format === 'json' || format === 'yaml') printData(ctx, format, t);
    else ctx.out.write(drawTree(ctx, t));
    return 0;
  },
};
