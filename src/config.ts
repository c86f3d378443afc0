import fs from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { CribError } from './util/errors.js';
import { yaml } from './util/yaml.js';
import { logFormats, type LogFormat, type LogLevel } from './util/log.js';
import type { RegistryConfig } from './image/registry/types.js';
import { defaultSocketPath } from './util/paths.js';
import { defaultRuntimeSettings, runtimeSettings, type RuntimeSettings } from './oci/settings.js';

/**
 * Everything cribd can be told; each field has a default, a flag and a config-file key. Which
 * programs run containers (`RuntimeSettings`) is src/oci's to say.
 */
export interface CribConfig extends RuntimeSettings {
  /** gRPC unix socket. */
  socket: string;
  /** Persistent state: images, records. */
  root: string;
  /** Runtime state: netns pins, the monitors' sockets and exit files, the runtime's state. Gone after a reboot. */
  state: string;
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
  ...defaultRuntimeSettings,
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
  ...Object.fromEntries(Object.entries(runtimeSettings).map(([name, s]) => [name, s.set])),
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

/** How a config-file value is read: each leaf's type, each section a schema of its own. */
type Schema<T> = {
  [K in keyof T]-?: T[K] extends string
    ? 'string'
    : T[K] extends number
      ? 'number'
      : T[K] extends boolean
        ? 'boolean'
        : T[K] extends string[]
          ? 'strings'
          : T[K] extends Record<string, string[]>
            ? 'lists by key'
            : Schema<T[K]>;
};
type Leaf = 'string' | 'number' | 'boolean' | 'strings' | 'lists by key';

/** The config file's keys: CribConfig's, which the type holds this to. */
const configSchema: Schema<CribConfig> = {
  socket: 'string',
  root: 'string',
  state: 'string',
  ...(Object.fromEntries(Object.keys(runtimeSettings).map((name) => [name, 'string'])) as Schema<RuntimeSettings>),
  cniConfDir: 'string',
  cniBinDirs: 'strings',
  pauseImage: 'string',
  cgroupRoot: 'string',
  network: { name: 'string', bridge: 'string', subnet: 'string', ipMasq: 'boolean', builtin: 'boolean' },
  registries: { mirrors: 'lists by key', insecure: 'strings', caFiles: 'strings' },
  streaming: { address: 'string', port: 'number', tlsCert: 'string', tlsKey: 'string', idleTimeoutSeconds: 'number' },
  metricsAddress: 'string',
  logLevel: 'string',
  logFormat: 'string',
};

const isMapping = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function strings(field: string, v: unknown): string[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) fail(field, 'must be a list of strings');
  return v;
}

function leaf(field: string, kind: Leaf, v: unknown): unknown {
  switch (kind) {
    case 'string':
      if (typeof v !== 'string') fail(field, 'must be a string');
      return v;
    case 'number':
      if (typeof v !== 'number') fail(field, 'must be a number');
      return v;
    case 'boolean':
      if (typeof v !== 'boolean') fail(field, 'must be true or false');
      return v;
    case 'strings':
      return strings(field, v);
    case 'lists by key':
      if (!isMapping(v)) fail(field, 'must map keys to lists of strings');
      return Object.fromEntries(Object.entries(v).map(([k, list]) => [k, strings(`${field}.${k}`, list)]));
  }
}

/** Writes each key of `doc` into `target` as `schema` says, refusing keys it does not have; `prefix` names the section. */
function merge(target: Record<string, unknown>, schema: object, doc: unknown, prefix: string): void {
  if (!isMapping(doc)) fail(prefix, 'must be a mapping');
  for (const [key, value] of Object.entries(doc)) {
    const field = prefix ? `${prefix}.${key}` : key;
    if (!Object.hasOwn(schema, key)) fail(field, 'unknown key');
    const kind = (schema as Record<string, Leaf | object>)[key];
    if (typeof kind === 'string') target[key] = leaf(field, kind, value);
    else merge(target[key] as Record<string, unknown>, kind as object, value, field);
  }
}

/** Merges a config file's contents (YAML or JSON, camelCase keys as in CribConfig) over the defaults. */
export function applyConfigFile(base: CribConfig, text: string, source: string): CribConfig {
  const doc: unknown = yaml().parse(text);
  if (doc === null || doc === undefined) return base;
  if (!isMapping(doc)) fail(source, 'must be a mapping');
  const out = cloneConfig(base);
  merge(out as unknown as Record<string, unknown>, configSchema, doc, '');
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
