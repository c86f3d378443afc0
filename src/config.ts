import fs from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { CribError } from './util/errors.js';
import { yaml } from './util/yaml.js';
import { logFormats, type LogFormat, type LogLevel } from './util/log.js';
import type { RegistryConfig } from './image/registry/types.js';
import { defaultSocketPath } from './util/paths.js';

/** Everything cribd can be told; each field has a default, a flag and a config-file key. */
export interface CribConfig {
  /** gRPC unix socket. */
  socket: string;
  /** Persistent state: images, records. */
  root: string;
  /** Runtime state: netns pins, conmon sockets, exit files, bundles. Gone after a reboot. */
  state: string;
  /** OCI runtime: "runc", "crun", or a path to a runc-compatible binary. */
  runtime: string;
  conmon: string;
  cniConfDir: string;
  cniBinDirs: string[];
  /** Pause image reference; empty means crib's built-in image. */
  pauseImage: string;
  /** cgroup (cgroupfs driver) under which pods without a cgroup_parent get their own. */
  cgroupRoot: string;
  /**
   * crib's built-in network, used when cniConfDir holds no configuration and `builtin` is on. A node
   * whose network add-on writes the CNI config turns it off, so the node stays NetworkReady=false
   * (no pods on the wrong network) until the add-on's config is there.
   */
  network: { name: string; bridge: string; subnet: string; ipMasq: boolean; builtin: boolean };
  /** Mirrors, insecure (plain HTTP) hosts and extra CA files for image pulls and pushes. */
  registries: RegistryConfig;
  /**
   * The streaming server Exec, Attach and PortForward send clients to (kubelet proxies to it): its
   * address (also put in the URLs) and port (0: ephemeral), TLS when both files are given, and how
   * long a session may sit idle.
   */
  streaming: { address: string; port: number; tlsCert: string; tlsKey: string; idleTimeoutSeconds: number };
  /** HOST:PORT of the Prometheus endpoint (/metrics, plain HTTP); empty: off. */
  metricsAddress: string;
  logLevel: LogLevel;
  logFormat: LogFormat;
}

export const defaultConfig: CribConfig = {
  socket: defaultSocketPath,
  root: '/var/lib/crib',
  state: '/run/crib',
  runtime: 'runc',
  conmon: 'conmon',
  cniConfDir: '/etc/cni/net.d',
  cniBinDirs: ['/usr/lib/cni', '/opt/cni/bin'],
  pauseImage: '',
  cgroupRoot: '/crib',
  network: { name: 'crib', bridge: 'crib0', subnet: '10.85.0.0/16', ipMasq: true, builtin: true },
  registries: { mirrors: {}, insecure: [], caFiles: [] },
  streaming: { address: '127.0.0.1', port: 0, tlsCert: '', tlsKey: '', idleTimeoutSeconds: 4 * 3600 },
  metricsAddress: '',
  logLevel: 'info',
  logFormat: 'text',
};

/** A copy of a config that can be changed without touching the original (or the defaults). */
export function cloneConfig(c: CribConfig): CribConfig {
  return structuredClone(c);
}

/** Flags of `crib daemon`, each mapped onto a config key. */
export const daemonFlags: Record<string, (c: CribConfig, v: string) => void> = {
  socket: (c, v) => (c.socket = v),
  root: (c, v) => (c.root = v),
  state: (c, v) => (c.state = v),
  runtime: (c, v) => (c.runtime = v),
  conmon: (c, v) => (c.conmon = v),
  'cni-conf-dir': (c, v) => (c.cniConfDir = v),
  'cni-bin-dir': (c, v) => (c.cniBinDirs = v.split(':').filter(Boolean)),
  'pause-image': (c, v) => (c.pauseImage = v),
  'cgroup-root': (c, v) => (c.cgroupRoot = v),
  'network-name': (c, v) => (c.network.name = v),
  bridge: (c, v) => (c.network.bridge = v),
  subnet: (c, v) => (c.network.subnet = v),
  'ip-masq': (c, v) => (c.network.ipMasq = v !== 'false'),
  'builtin-network': (c, v) => (c.network.builtin = v !== 'false'),
  'insecure-registry': (c, v) => c.registries.insecure.push(v),
  'registry-ca': (c, v) => c.registries.caFiles.push(v),
  'log-level': (c, v) => (c.logLevel = v as LogLevel),
  'log-format': (c, v) => (c.logFormat = v as LogFormat),
  'streaming-address': (c, v) => (c.streaming.address = v),
  'streaming-port': (c, v) => (c.streaming.port = Number(v)),
  'streaming-tls-cert': (c, v) => (c.streaming.tlsCert = v),
  'streaming-tls-key': (c, v) => (c.streaming.tlsKey = v),
  'streaming-idle-timeout': (c, v) => (c.streaming.idleTimeoutSeconds = Number(v)),
  'metrics-address': (c, v) => (c.metricsAddress = v),
};

function fail(field: string, why: string): never {
  throw new CribError('InvalidArgument', `config ${field}: ${why}`);
}

/** Merges a config file's contents (YAML or JSON, camelCase keys as in CribConfig) over the defaults. */
export function applyConfigFile(base: CribConfig, text: string, source: string): CribConfig {
  const doc: unknown = yaml().parse(text);
  if (doc === null || doc === undefined) return base;
  if (typeof doc !== 'object' || Array.isArray(doc)) fail(source, 'must be a mapping');
  const out = cloneConfig(base);
  const strings = (field: string, v: unknown): string[] => {
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) fail(field, 'must be a list of strings');
    return v;
  };
  for (const [key, value] of Object.entries(doc as Record<string, unknown>)) {
    if (key === 'network') {
      if (typeof value !== 'object' || value === null) fail('network', 'must be a mapping');
      for (const [nk, nv] of Object.entries(value as Record<string, unknown>)) {
        if (nk === 'ipMasq' || nk === 'builtin') {
          if (typeof nv !== 'boolean') fail(`network.${nk}`, 'must be true or false');
          out.network[nk] = nv;
        } else if (nk === 'name' || nk === 'bridge' || nk === 'subnet') {
          if (typeof nv !== 'string') fail(`network.${nk}`, 'must be a string');
          out.network[nk] = nv;
        } else fail(`network.${nk}`, 'unknown key');
      }
    } else if (key === 'registries') {
      if (typeof value !== 'object' || value === null) fail('registries', 'must be a mapping');
      for (const [rk, rv] of Object.entries(value as Record<string, unknown>)) {
        if (rk === 'insecure' || rk === 'caFiles') out.registries[rk] = strings(`registries.${rk}`, rv);
        else if (rk === 'mirrors') {
          if (typeof rv !== 'object' || rv === null) fail('registries.mirrors', 'must map registry hosts to lists of endpoints');
          out.registries.mirrors = Object.fromEntries(
            Object.entries(rv as Record<string, unknown>).map(([host, eps]) => [host, strings(`registries.mirrors.${host}`, eps)]),
          );
        } else fail(`registries.${rk}`, 'unknown key');
      }
    } else if (key === 'streaming') {
      if (typeof value !== 'object' || value === null) fail('streaming', 'must be a mapping');
      for (const [sk, sv] of Object.entries(value as Record<string, unknown>)) {
        if (sk === 'port' || sk === 'idleTimeoutSeconds') {
          if (typeof sv !== 'number') fail(`streaming.${sk}`, 'must be a number');
          out.streaming[sk] = sv;
        } else if (sk === 'address' || sk === 'tlsCert' || sk === 'tlsKey') {
          if (typeof sv !== 'string') fail(`streaming.${sk}`, 'must be a string');
          out.streaming[sk] = sv;
        } else fail(`streaming.${sk}`, 'unknown key');
      }
    } else if (key === 'cniBinDirs') {
      out.cniBinDirs = strings(key, value);
    } else if (key in base) {
      if (typeof value !== 'string') fail(key, 'must be a string');
      (out as unknown as Record<string, string>)[key] = value;
    } else fail(key, 'unknown key');
  }
  return out;
}

export function validateConfig(c: CribConfig): CribConfig {
  for (const key of ['socket', 'root', 'state', 'cgroupRoot'] as const) {
    if (!path.isAbsolute(c[key])) fail(key, `must be an absolute path, got "${c[key]}"`);
  }
  if (!/^[a-zA-Z0-9_.-]{1,15}$/.test(c.network.bridge)) fail('network.bridge', 'must be a valid interface name (1-15 chars)');
  if (!/^\d+\.\d+\.\d+\.\d+\/\d+$/.test(c.network.subnet)) fail('network.subnet', 'must be an IPv4 CIDR');
  if (!['debug', 'info', 'warn', 'error'].includes(c.logLevel)) fail('logLevel', 'must be debug, info, warn or error');
  if (!logFormats.includes(c.logFormat)) fail('logFormat', 'must be text or json');
  const st = c.streaming;
  if (!isIP(st.address)) fail('streaming.address', `must be an IP address (it goes into the URLs), got "${st.address}"`);
  if (!Number.isInteger(st.port) || st.port < 0 || st.port > 65535) fail('streaming.port', 'must be 0 (ephemeral) to 65535');
  if (!st.tlsCert !== !st.tlsKey) fail('streaming.tlsCert', 'TLS needs both tlsCert and tlsKey');
  if (!(st.idleTimeoutSeconds > 0)) fail('streaming.idleTimeoutSeconds', 'must be more than 0');
  if (c.metricsAddress) listenAddress('metricsAddress', c.metricsAddress);
  return c;
}

/** HOST:PORT (an IPv6 host in brackets) of something cribd listens on; port 0 is ephemeral. */
export function listenAddress(field: string, text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  const host = m?.[1] ?? m?.[2] ?? '';
  const port = Number(m?.[3]);
  if (!m || !isIP(host) || (m[1] !== undefined && isIP(host) !== 6)) fail(field, `must be IP:PORT (e.g. 127.0.0.1:9090 or [::1]:9090), got "${text}"`);
  if (port > 65535) fail(field, `port must be 0 (ephemeral) to 65535, got ${port}`);
  return { host, port };
}

export function loadConfigFile(base: CribConfig, file: string): CribConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new CribError('InvalidArgument', `config file ${file}: ${(err as Error).message}`);
  }
  return applyConfigFile(base, text, file);
}
