// Kubernetes Pod manifests for `crib run`: YAML → a validated, typed Pod, plus a warning for every
// field crib does not support. Every map of the manifest is read through `Fields`, which remembers
// which keys were read; whatever was not read is named in a warning, so nothing is dropped silently.
// Pure: no I/O.
import { isIP } from 'node:net';
import { parseAllDocuments } from 'yaml';
import { parseReference } from '../../image/reference.js';
import { describe, intValue, milliValue, parseQuantity, quantityLE, type Quantity } from './quantity.js';

export type RestartPolicy = 'Always' | 'OnFailure' | 'Never';
export type PullPolicy = 'Always' | 'IfNotPresent' | 'Never';
export type DnsPolicy = 'ClusterFirst' | 'ClusterFirstWithHostNet' | 'Default' | 'None';
export type Protocol = 'TCP' | 'UDP' | 'SCTP';
export type HostPathType = '' | 'DirectoryOrCreate' | 'Directory' | 'FileOrCreate' | 'File' | 'Socket' | 'CharDevice' | 'BlockDevice';
export type Propagation = 'None' | 'HostToContainer' | 'Bidirectional';

export interface SeccompProfile {
  type: 'RuntimeDefault' | 'Unconfined' | 'Localhost';
  /** For Localhost: relative to the runtime's seccomp directory. */
  localhostProfile?: string;
}

/** An env var: a literal value (after $(VAR) expansion by the converter) or a pod field. */
export type EnvVar = { name: string; value: string } | { name: string; fieldPath: string };

export interface ContainerPort {
  name?: string;
  containerPort: number;
  hostPort?: number;
  hostIP?: string;
  protocol: Protocol;
}

export interface Resources {
  /** CPU in thousandths and memory in bytes; requests default to limits, as the API server does. */
  limits: { cpuMilli?: bigint; memoryBytes?: bigint };
  requests: { cpuMilli?: bigint; memoryBytes?: bigint };
}

export interface ContainerSecurity {
  runAsUser?: number;
  runAsGroup?: number;
  runAsNonRoot?: boolean;
  readOnlyRootFilesystem?: boolean;
  privileged?: boolean;
  allowPrivilegeEscalation?: boolean;
  capabilities: { add: string[]; drop: string[] };
  seccompProfile?: SeccompProfile;
}

export type PreStopHook = { exec: string[] } | { sleepSeconds: number };

export interface VolumeMount {
  name: string;
  mountPath: string;
  readOnly: boolean;
  subPath?: string;
  propagation: Propagation;
}

export interface ContainerSpec {
  name: string;
  image: string;
  imagePullPolicy: PullPolicy;
  command: string[];
  args: string[];
  workingDir?: string;
  env: EnvVar[];
  ports: ContainerPort[];
  resources: Resources;
  securityContext: ContainerSecurity;
  preStop?: PreStopHook;
  volumeMounts: VolumeMount[];
}

export type VolumeSource =
  | { emptyDir: { medium: '' | 'Memory'; sizeLimitBytes?: bigint } }
  | { hostPath: { path: string; type: HostPathType } }
  /** A source crib cannot provide (warned about); mounts of it are left out. */
  | { unsupported: string };

export type Volume = { name: string } & VolumeSource;

export interface PodSecurity {
  runAsUser?: number;
  runAsGroup?: number;
  runAsNonRoot?: boolean;
  supplementalGroups: number[];
  sysctls: { name: string; value: string }[];
  seccompProfile?: SeccompProfile;
}

export interface DnsConfig {
  nameservers: string[];
  searches: string[];
  options: { name: string; value?: string }[];
}

export interface PodSpec {
  containers: ContainerSpec[];
  initContainers: ContainerSpec[];
  volumes: Volume[];
  shareProcessNamespace: boolean;
  hostNetwork: boolean;
  hostPID: boolean;
  hostIPC: boolean;
  hostname?: string;
  dnsPolicy: DnsPolicy;
  dnsConfig?: DnsConfig;
  securityContext: PodSecurity;
  terminationGracePeriodSeconds: number;
  restartPolicy: RestartPolicy;
}

export interface Pod {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  spec: PodSpec;
}

export interface ParsedManifests {
  pods: Pod[];
  /** One line each, without the "warning: " prefix: `spec.containers[0].livenessProbe is not supported by crib run; ignored`. */
  warnings: string[];
}

/** A manifest crib cannot run: `field` names the offending field (a YAML path), `reason` why. */
export class ManifestError extends Error {
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(field ? `${field}: ${reason}` : reason);
    this.name = 'ManifestError';
  }
}

export const unsupported = (field: string): string => `${field} is not supported by crib run; ignored`;

// ---- reading maps field by field -------------------------------------------------------------

type Json = unknown;

const isMap = (v: Json): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v);
const join = (base: string, key: string): string => {
  const k = /^[A-Za-z_][\w-]*$/.test(key) ? key : `[${key}]`;
  return base ? (k.startsWith('[') ? `${base}${k}` : `${base}.${k}`) : k;
};

/** The fields of one YAML map, read by name; the ones never read become warnings in `done()`. */
class Fields {
  private readonly read = new Set<string>();

  constructor(
    readonly path: string,
    private readonly map: Record<string, Json>,
    private readonly warnings: string[],
  ) {}

  static of(value: Json, path: string, warnings: string[]): Fields {
    if (!isMap(value)) throw new ManifestError(path, `expected a map, got ${describe(value)}`);
    return new Fields(path, value, warnings);
  }

  field(key: string): string {
    return join(this.path, key);
  }

  /** Another map of the same manifest (a list item), warning into the same list. */
  item(value: Json, path: string): Fields {
    return Fields.of(value, path, this.warnings);
  }

  /** The raw value (null counts as absent, as in Kubernetes); marks the key as handled. */
  raw(key: string): Json {
    this.read.add(key);
    const v = this.map[key];
    return v === null ? undefined : v;
  }

  has(key: string): boolean {
    return this.map[key] !== undefined && this.map[key] !== null;
  }

  str(key: string, opts: { required?: boolean; nonEmpty?: boolean } = {}): string | undefined {
    const v = this.raw(key);
    if (v === undefined || v === '') {
      if (opts.required) throw new ManifestError(this.field(key), 'required');
      if (v === '' && opts.nonEmpty) throw new ManifestError(this.field(key), 'must not be empty');
      return v === '' ? '' : undefined;
    }
    if (typeof v !== 'string')
      throw new ManifestError(
        this.field(key),
        `must be a string${typeof v === 'number' || typeof v === 'boolean' ? ` (quote it: "${String(v)}")` : `, got ${describe(v)}`}`,
      );
    return v;
  }

  bool(key: string): boolean | undefined {
    const v = this.raw(key);
    if (v === undefined) return undefined;
    if (typeof v !== 'boolean') throw new ManifestError(this.field(key), `must be true or false, got ${describe(v)}`);
    return v;
  }

  int(key: string, min: number, max: number): number | undefined {
    const v = this.raw(key);
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v)) throw new ManifestError(this.field(key), `must be an integer, got ${describe(v)}`);
    if (v < min || v > max) throw new ManifestError(this.field(key), `${v} is out of range (${min}..${max})`);
    return v;
  }

  oneOf<T extends string>(key: string, allowed: readonly T[], fallback: T): T {
    const v = this.str(key);
    if (v === undefined || v === '') return fallback;
    if (!(allowed as readonly string[]).includes(v)) {
      throw new ManifestError(
        this.field(key),
        `"${v}" is not one of ${allowed
          .filter(Boolean)
          .map((a) => `"${a}"`)
          .join(', ')}`,
      );
    }
    return v as T;
  }

  /** A list; each item is handed to `each` with its path. */
  list<T>(key: string, each: (item: Json, path: string, index: number) => T): T[] {
    const v = this.raw(key);
    if (v === undefined) return [];
    if (!Array.isArray(v)) throw new ManifestError(this.field(key), `must be a list, got ${describe(v)}`);
    return v.map((item, i) => each(item, `${this.field(key)}[${i}]`, i));
  }

  strList(key: string): string[] {
    return this.list(key, (item, path) => {
      if (typeof item !== 'string') {
        throw new ManifestError(
          path,
          `must be a string${typeof item === 'number' || typeof item === 'boolean' ? ` (quote it: "${String(item)}")` : `, got ${describe(item)}`}`,
        );
      }
      return item;
    });
  }

  strMap(key: string): Record<string, string> {
    const v = this.raw(key);
    if (v === undefined) return {};
    if (!isMap(v)) throw new ManifestError(this.field(key), `must be a map of strings, got ${describe(v)}`);
    const out: Record<string, string> = {};
    for (const [k, val] of Object.entries(v)) {
      if (typeof val !== 'string') {
        throw new ManifestError(
          join(this.field(key), k),
          `must be a string${typeof val === 'number' || typeof val === 'boolean' ? ` (quote it: "${String(val)}")` : `, got ${describe(val)}`}`,
        );
      }
      out[k] = val;
    }
    return out;
  }

  /** A nested map read the same way (its own unread keys are warned about by `each`'s `done()`). */
  sub<T>(key: string, each: (f: Fields) => T): T | undefined {
    const v = this.raw(key);
    if (v === undefined) return undefined;
    const f = Fields.of(v, this.field(key), this.warnings);
    const out = each(f);
    f.done();
    return out;
  }

  /** Every key not read: one warning each. */
  done(): void {
    for (const [k, v] of Object.entries(this.map)) {
      if (!this.read.has(k) && v !== null && v !== undefined) this.warnings.push(unsupported(this.field(k)));
    }
  }
}

// ---- names ------------------------------------------------------------------------------------

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function dnsLabel(field: string, v: string): string {
  if (v.length > 63 || !DNS_LABEL.test(v)) {
    throw new ManifestError(
      field,
      `"${v}" must be a DNS label: lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters`,
    );
  }
  return v;
}

function dnsSubdomain(field: string, v: string): string {
  if (v.length > 253 || !DNS_SUBDOMAIN.test(v)) {
    throw new ManifestError(
      field,
      `"${v}" must be a DNS subdomain: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit, at most 253 characters`,
    );
  }
  return v;
}

const absolute = (field: string, p: string): string => {
  if (!p.startsWith('/')) throw new ManifestError(field, `"${p}" must be an absolute path`);
  if (p.includes('\0')) throw new ManifestError(field, 'must not contain NUL');
  return p;
};

function relativeSubPath(field: string, p: string): string {
  if (p.startsWith('/')) throw new ManifestError(field, `"${p}" must be a relative path`);
  if (p.split('/').includes('..')) throw new ManifestError(field, `"${p}" must not contain ".."`);
  if (p.includes('\0')) throw new ManifestError(field, 'must not contain NUL');
  return p;
}

// ---- the Pod ----------------------------------------------------------------------------------

const INT32 = 2 ** 31 - 1;
const UID_MAX = 2 ** 31 - 1;

/** The field paths `valueFrom.fieldRef` may name (metadata.labels['k'] and annotations too). */
export const supportedFieldPaths = ['metadata.name', 'metadata.namespace', 'metadata.uid', 'spec.nodeName', 'status.podIP', 'status.podIPs'];
const FIELD_PATH_MAP = /^metadata\.(labels|annotations)\['([^']+)'\]$/;
/** Field paths Kubernetes accepts but crib cannot fill (no API server, no service accounts). */
const knownFieldPaths = ['spec.serviceAccountName', 'status.hostIP', 'status.hostIPs', 'metadata.labels', 'metadata.annotations'];

function parseSeccomp(f: Fields): SeccompProfile {
  const type = f.str('type', { required: true }) as string;
  if (type !== 'RuntimeDefault' && type !== 'Unconfined' && type !== 'Localhost') {
    throw new ManifestError(f.field('type'), `"${type}" is not one of "RuntimeDefault", "Unconfined", "Localhost"`);
  }
  const localhostProfile = f.str('localhostProfile');
  if (type === 'Localhost') {
    if (!localhostProfile) throw new ManifestError(f.field('localhostProfile'), 'required with type Localhost');
    relativeSubPath(f.field('localhostProfile'), localhostProfile);
    return { type, localhostProfile };
  }
  if (localhostProfile) throw new ManifestError(f.field('localhostProfile'), 'only with type Localhost');
  return { type };
}

function quantityOf(field: string, v: Json): Quantity {
  const q = parseQuantity(v);
  if (typeof q === 'string') throw new ManifestError(field, q);
  return q;
}

function parseResources(f: Fields): Resources {
  const read = (key: 'limits' | 'requests') =>
    f.sub(key, (m) => {
      const out: { cpu?: Quantity; memory?: Quantity } = {};
      if (m.has('cpu')) out.cpu = quantityOf(m.field('cpu'), m.raw('cpu'));
      if (m.has('memory')) out.memory = quantityOf(m.field('memory'), m.raw('memory'));
      return out;
    }) ?? {};
  const limits = read('limits');
  const requests = read('requests');
  for (const r of ['cpu', 'memory'] as const) {
    const l = limits[r];
    const q = requests[r];
    if (l && q && !quantityLE(q, l))
      throw new ManifestError(join(f.field('requests'), r), `"${q.text}" must be less than or equal to the ${r} limit "${l.text}"`);
  }
  const cpu = (q: Quantity | undefined) => (q ? milliValue(q) : undefined);
  const mem = (q: Quantity | undefined) => (q ? intValue(q) : undefined);
  const out: Resources = { limits: {}, requests: {} };
  if (limits.cpu) out.limits.cpuMilli = cpu(limits.cpu);
  if (limits.memory) out.limits.memoryBytes = mem(limits.memory);
  // The API server defaults a missing request to the limit.
  const reqCpu = requests.cpu ?? limits.cpu;
  const reqMem = requests.memory ?? limits.memory;
  if (reqCpu) out.requests.cpuMilli = cpu(reqCpu);
  if (reqMem) out.requests.memoryBytes = mem(reqMem);
  return out;
}

/** runAsUser, runAsGroup and runAsNonRoot, which pod and container security contexts share. */
function parseRunAs(f: Fields, s: { runAsUser?: number; runAsGroup?: number; runAsNonRoot?: boolean }): void {
  const uid = f.int('runAsUser', 0, UID_MAX);
  if (uid !== undefined) s.runAsUser = uid;
  const gid = f.int('runAsGroup', 0, UID_MAX);
  if (gid !== undefined) s.runAsGroup = gid;
  const nonRoot = f.bool('runAsNonRoot');
  if (nonRoot !== undefined) s.runAsNonRoot = nonRoot;
}

function parseContainerSecurity(f: Fields): ContainerSecurity {
  const s: ContainerSecurity = { capabilities: { add: [], drop: [] } };
  parseRunAs(f, s);
  const ro = f.bool('readOnlyRootFilesystem');
  if (ro !== undefined) s.readOnlyRootFilesystem = ro;
  const priv = f.bool('privileged');
  if (priv !== undefined) s.privileged = priv;
  const ape = f.bool('allowPrivilegeEscalation');
  if (ape !== undefined) s.allowPrivilegeEscalation = ape;
  f.sub('capabilities', (c) => {
    s.capabilities = { add: c.strList('add'), drop: c.strList('drop') };
  });
  const sc = f.sub('seccompProfile', parseSeccomp);
  if (sc) s.seccompProfile = sc;
  if (s.allowPrivilegeEscalation === false && s.privileged) {
    throw new ManifestError(f.field('allowPrivilegeEscalation'), 'cannot be false with privileged: true');
  }
  if (s.allowPrivilegeEscalation === false && s.capabilities.add.some((c) => c.replace(/^CAP_/, '') === 'SYS_ADMIN')) {
    throw new ManifestError(f.field('allowPrivilegeEscalation'), 'cannot be false with the capability SYS_ADMIN added');
  }
  if (s.runAsNonRoot && s.runAsUser === 0) throw new ManifestError(f.field('runAsUser'), 'is 0 (root) but runAsNonRoot is true');
  return s;
}

function parsePreStop(f: Fields): PreStopHook | undefined {
  const hooks: PreStopHook[] = [];
  const exec = f.sub('exec', (e) => e.strList('command'));
  if (exec) {
    if (exec.length === 0) throw new ManifestError(`${f.field('exec')}.command`, 'required');
    hooks.push({ exec });
  }
  const sleep = f.sub('sleep', (s) => {
    const n = s.int('seconds', 0, INT32);
    if (n === undefined) throw new ManifestError(s.field('seconds'), 'required');
    return n;
  });
  if (sleep !== undefined) hooks.push({ sleepSeconds: sleep });
  const others = ['httpGet', 'tcpSocket'].filter((k) => f.has(k));
  if (hooks.length + others.length > 1) throw new ManifestError(f.path, 'must have exactly one handler (exec, sleep, httpGet or tcpSocket)');
  return hooks[0];
}

function parseEnv(item: Json, path: string, warnings: string[]): EnvVar | undefined {
  const f = Fields.of(item, path, warnings);
  const name = f.str('name', { required: true }) as string;
  if (name.includes('=')) throw new ManifestError(f.field('name'), `"${name}" must not contain "="`);
  const value = f.str('value');
  let out: EnvVar | undefined;
  if (f.has('valueFrom')) {
    if (value) throw new ManifestError(f.field('valueFrom'), 'may not be set when value is not empty');
    f.sub('valueFrom', (vf) => {
      vf.sub('fieldRef', (fr) => {
        const fieldPath = fr.str('fieldPath', { required: true }) as string;
        const apiVersion = fr.str('apiVersion');
        if (apiVersion && apiVersion !== 'v1') throw new ManifestError(fr.field('apiVersion'), `"${apiVersion}" is not supported (v1)`);
        if (supportedFieldPaths.includes(fieldPath) || FIELD_PATH_MAP.test(fieldPath)) {
          out = { name, fieldPath };
        } else if (knownFieldPaths.includes(fieldPath)) {
          warnings.push(`${fr.field('fieldPath')} "${fieldPath}" is not supported by crib run; ${name} is not set`);
        } else {
          throw new ManifestError(
            fr.field('fieldPath'),
            `"${fieldPath}" is not a supported field path (${supportedFieldPaths.join(', ')}, metadata.labels['KEY'], metadata.annotations['KEY'])`,
          );
        }
      });
      const sources = ['fieldRef', 'resourceFieldRef', 'configMapKeyRef', 'secretKeyRef', 'fileKeyRef'].filter((k) => vf.has(k));
      if (sources.length > 1) throw new ManifestError(vf.path, 'must have exactly one source');
      if (sources.length === 0) throw new ManifestError(vf.path, 'must have a source (fieldRef)');
    });
  } else {
    out = { name, value: value ?? '' };
  }
  f.done();
  return out;
}

function parsePort(item: Json, path: string, warnings: string[]): ContainerPort {
  const f = Fields.of(item, path, warnings);
  const containerPort = f.int('containerPort', 1, 65535);
  if (containerPort === undefined) throw new ManifestError(f.field('containerPort'), 'required');
  const p: ContainerPort = { containerPort, protocol: f.oneOf('protocol', ['TCP', 'UDP', 'SCTP'] as const, 'TCP') };
  const hostPort = f.int('hostPort', 0, 65535);
  if (hostPort) p.hostPort = hostPort;
  const name = f.str('name');
  if (name) {
    if (name.length > 15 || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name) || !/[a-z]/.test(name)) {
      throw new ManifestError(f.field('name'), `"${name}" must be at most 15 lowercase letters, digits and '-', with at least one letter`);
    }
    p.name = name;
  }
  const hostIP = f.str('hostIP');
  if (hostIP) {
    if (!isIP(hostIP)) throw new ManifestError(f.field('hostIP'), `"${hostIP}" is not an IP address`);
    p.hostIP = hostIP;
  }
  f.done();
  return p;
}

function parseVolumeMount(item: Json, path: string, warnings: string[]): VolumeMount {
  const f = Fields.of(item, path, warnings);
  const m: VolumeMount = {
    name: f.str('name', { required: true }) as string,
    mountPath: absolute(f.field('mountPath'), f.str('mountPath', { required: true }) as string),
    readOnly: f.bool('readOnly') ?? false,
    propagation: f.oneOf('mountPropagation', ['None', 'HostToContainer', 'Bidirectional'] as const, 'None'),
  };
  const sub = f.str('subPath');
  if (sub) m.subPath = relativeSubPath(f.field('subPath'), sub);
  f.done();
  return m;
}

function defaultPullPolicy(image: string): PullPolicy {
  try {
    const ref = parseReference(image);
    if (ref.digest) return 'IfNotPresent';
  } catch {
    /* reported by the caller */
  }
  // "latest" explicitly or no tag at all: Always (as the API server defaults it).
  const lastSlash = image.lastIndexOf('/');
  const colon = image.lastIndexOf(':');
  const tag = colon > lastSlash ? image.slice(colon + 1) : '';
  return tag === '' || tag === 'latest' ? 'Always' : 'IfNotPresent';
}

function parseContainer(item: Json, path: string, warnings: string[], init: boolean): ContainerSpec {
  const f = Fields.of(item, path, warnings);
  const name = dnsLabel(f.field('name'), f.str('name', { required: true }) as string);
  const image = f.str('image', { required: true }) as string;
  try {
    parseReference(image);
  } catch (err) {
    throw new ManifestError(f.field('image'), (err as Error).message);
  }
  const c: ContainerSpec = {
    name,
    image,
    imagePullPolicy: f.oneOf('imagePullPolicy', ['Always', 'IfNotPresent', 'Never'] as const, defaultPullPolicy(image)),
    command: f.strList('command'),
    args: f.strList('args'),
    env: f.list('env', (e, p) => parseEnv(e, p, warnings)).filter((e): e is EnvVar => e !== undefined),
    ports: f.list('ports', (p, pp) => parsePort(p, pp, warnings)),
    resources: f.sub('resources', parseResources) ?? { limits: {}, requests: {} },
    securityContext: f.sub('securityContext', parseContainerSecurity) ?? { capabilities: { add: [], drop: [] } },
    volumeMounts: f.list('volumeMounts', (m, p) => parseVolumeMount(m, p, warnings)),
  };
  const wd = f.str('workingDir');
  if (wd) c.workingDir = absolute(f.field('workingDir'), wd);
  if (f.has('lifecycle')) {
    if (init) throw new ManifestError(f.field('lifecycle'), 'may not be set for init containers');
    const hook = f.sub('lifecycle', (l) => l.sub('preStop', parsePreStop));
    if (hook) c.preStop = hook;
  }
  const seen = new Set<string>();
  c.volumeMounts.forEach((m, i) => {
    if (seen.has(m.mountPath)) throw new ManifestError(`${f.field('volumeMounts')}[${i}].mountPath`, `"${m.mountPath}" is mounted twice`);
    seen.add(m.mountPath);
  });
  f.done();
  return c;
}

function parseVolume(item: Json, path: string, warnings: string[]): Volume {
  const f = Fields.of(item, path, warnings);
  const name = dnsLabel(f.field('name'), f.str('name', { required: true }) as string);
  const sources: Volume[] = [];
  const empty = f.sub('emptyDir', (e) => {
    const medium = e.oneOf('medium', ['', 'Memory'] as const, '');
    const out: { medium: '' | 'Memory'; sizeLimitBytes?: bigint } = { medium };
    if (e.has('sizeLimit')) {
      const q = quantityOf(e.field('sizeLimit'), e.raw('sizeLimit'));
      if (medium === 'Memory') out.sizeLimitBytes = intValue(q);
      else warnings.push(`${e.field('sizeLimit')} is not supported by crib run without medium: Memory; ignored`);
    }
    return out;
  });
  // `emptyDir: {}` reads as an empty map; a bare `emptyDir:` (null) also means an emptyDir.
  if (empty || (f.raw('emptyDir') === undefined && Object.prototype.hasOwnProperty.call(item, 'emptyDir'))) {
    sources.push({ name, emptyDir: empty ?? { medium: '' } });
  }
  const host = f.sub('hostPath', (h) => ({
    path: absolute(h.field('path'), h.str('path', { required: true }) as string),
    type: h.oneOf('type', ['', 'DirectoryOrCreate', 'Directory', 'FileOrCreate', 'File', 'Socket', 'CharDevice', 'BlockDevice'] as const, ''),
  }));
  if (host) sources.push({ name, hostPath: host });
  const others = Object.keys(item as Record<string, Json>).filter(
    (k) => k !== 'name' && k !== 'emptyDir' && k !== 'hostPath' && (item as Record<string, Json>)[k] != null,
  );
  if (sources.length + others.length > 1)
    throw new ManifestError(
      path,
      `must have exactly one volume source, has ${[...sources.map((s) => ('emptyDir' in s ? 'emptyDir' : 'hostPath')), ...others].join(', ')}`,
    );
  f.done(); // warns about the unsupported source (configMap, secret, persistentVolumeClaim, ...)
  if (sources[0]) return sources[0];
  if (others[0]) return { name, unsupported: others[0] };
  return { name, emptyDir: { medium: '' } }; // no source at all: the API server defaults it to emptyDir
}

function parsePodSecurity(f: Fields): PodSecurity {
  const s: PodSecurity = { supplementalGroups: [], sysctls: [] };
  parseRunAs(f, s);
  s.supplementalGroups = f.list('supplementalGroups', (g, p) => {
    if (typeof g !== 'number' || !Number.isInteger(g) || g < 0 || g > UID_MAX) throw new ManifestError(p, `must be a group id, got ${describe(g)}`);
    return g;
  });
  s.sysctls = f.list('sysctls', (item, p) => {
    const sf = f.item(item, p);
    const name = sf.str('name', { required: true }) as string;
    if (!/^[a-z0-9]([-_a-z0-9]*[a-z0-9])?([./][a-z0-9]([-_a-z0-9]*[a-z0-9])?)*$/.test(name))
      throw new ManifestError(sf.field('name'), `"${name}" is not a sysctl name`);
    const value = sf.str('value', { required: true }) as string;
    sf.done();
    return { name, value };
  });
  const sc = f.sub('seccompProfile', parseSeccomp);
  if (sc) s.seccompProfile = sc;
  if (s.runAsNonRoot && s.runAsUser === 0) throw new ManifestError(f.field('runAsUser'), 'is 0 (root) but runAsNonRoot is true');
  return s;
}

function parseDnsConfig(f: Fields): DnsConfig {
  const nameservers = f.strList('nameservers');
  nameservers.forEach((n, i) => {
    if (!isIP(n)) throw new ManifestError(`${f.field('nameservers')}[${i}]`, `"${n}" is not an IP address`);
  });
  if (nameservers.length > 3) throw new ManifestError(f.field('nameservers'), 'at most 3 nameservers');
  const searches = f.strList('searches');
  searches.forEach((s, i) => {
    if (!s || /\s/.test(s)) throw new ManifestError(`${f.field('searches')}[${i}]`, `"${s}" is not a domain`);
  });
  if (searches.length > 32) throw new ManifestError(f.field('searches'), 'at most 32 search domains');
  const options = f.list('options', (item, p) => {
    const of = f.item(item, p);
    const name = of.str('name', { required: true }) as string;
    if (/\s/.test(name)) throw new ManifestError(of.field('name'), `"${name}" is not a resolver option`);
    const value = of.str('value');
    if (value && /\s/.test(value)) throw new ManifestError(of.field('value'), `"${value}" is not a resolver option value`);
    of.done();
    return value ? { name, value } : { name };
  });
  return { nameservers, searches, options };
}

function parseSpec(f: Fields, warnings: string[]): PodSpec {
  const containers = f.list('containers', (c, p) => parseContainer(c, p, warnings, false));
  if (containers.length === 0) throw new ManifestError(f.field('containers'), 'required: a Pod needs at least one container');
  const initContainers = f.list('initContainers', (c, p) => parseContainer(c, p, warnings, true));
  const volumes = f.list('volumes', (v, p) => parseVolume(v, p, warnings));
  const spec: PodSpec = {
    containers,
    initContainers,
    volumes,
    shareProcessNamespace: f.bool('shareProcessNamespace') ?? false,
    hostNetwork: f.bool('hostNetwork') ?? false,
    hostPID: f.bool('hostPID') ?? false,
    hostIPC: f.bool('hostIPC') ?? false,
    dnsPolicy: f.oneOf('dnsPolicy', ['ClusterFirst', 'ClusterFirstWithHostNet', 'Default', 'None'] as const, 'ClusterFirst'),
    securityContext: f.sub('securityContext', parsePodSecurity) ?? { supplementalGroups: [], sysctls: [] },
    terminationGracePeriodSeconds: f.int('terminationGracePeriodSeconds', 0, INT32) ?? 30,
    restartPolicy: f.oneOf('restartPolicy', ['Always', 'OnFailure', 'Never'] as const, 'Always'),
  };
  const hostname = f.str('hostname');
  if (hostname) spec.hostname = dnsLabel(f.field('hostname'), hostname);
  const dns = f.sub('dnsConfig', parseDnsConfig);
  if (dns) spec.dnsConfig = dns;
  if (spec.dnsPolicy === 'None' && !(dns && dns.nameservers.length > 0)) {
    throw new ManifestError(f.field('dnsConfig'), 'dnsPolicy None needs dnsConfig with at least one nameserver');
  }
  if (spec.shareProcessNamespace && spec.hostPID) throw new ManifestError(f.field('shareProcessNamespace'), 'cannot be true together with hostPID');

  // Names and references across the pod.
  const names = new Map<string, string>();
  const all = [
    ...initContainers.map((c, i) => [c, `${f.field('initContainers')}[${i}]`] as const),
    ...containers.map((c, i) => [c, `${f.field('containers')}[${i}]`] as const),
  ];
  for (const [c, p] of all) {
    const prev = names.get(c.name);
    if (prev) throw new ManifestError(`${p}.name`, `"${c.name}" is already the name of ${prev}`);
    names.set(c.name, p);
  }
  const volumeNames = new Map<string, Volume>();
  volumes.forEach((v, i) => {
    if (volumeNames.has(v.name)) throw new ManifestError(`${f.field('volumes')}[${i}].name`, `"${v.name}" is defined twice`);
    volumeNames.set(v.name, v);
  });
  for (const [c, p] of all) {
    c.volumeMounts = c.volumeMounts.filter((m, i) => {
      const v = volumeNames.get(m.name);
      if (!v) throw new ManifestError(`${p}.volumeMounts[${i}].name`, `no volume named "${m.name}" in spec.volumes`);
      if ('unsupported' in v) {
        warnings.push(`${p}.volumeMounts[${i}] mounts volume "${m.name}" (${v.unsupported}), which crib run cannot provide; ignored`);
        return false;
      }
      if (m.propagation === 'Bidirectional' && !c.securityContext.privileged) {
        throw new ManifestError(`${p}.volumeMounts[${i}].mountPropagation`, 'Bidirectional needs a privileged container');
      }
      return true;
    });
  }
  const hostPorts = new Map<string, string>();
  containers.forEach((c, ci) =>
    c.ports.forEach((port, pi) => {
      const p = `${f.field('containers')}[${ci}].ports[${pi}]`;
      if (spec.hostNetwork) {
        if (port.hostPort !== undefined && port.hostPort !== port.containerPort)
          throw new ManifestError(`${p}.hostPort`, 'must equal containerPort with hostNetwork');
      }
      if (port.hostPort) {
        const key = `${port.hostIP ?? ''}/${port.hostPort}/${port.protocol}`;
        const prev = hostPorts.get(key);
        if (prev) throw new ManifestError(`${p}.hostPort`, `${port.hostPort}/${port.protocol} is already used by ${prev}`);
        hostPorts.set(key, p);
      }
    }),
  );
  return spec;
}

function parsePod(f: Fields, warnings: string[]): Pod {
  const apiVersion = f.str('apiVersion', { required: true });
  if (apiVersion !== 'v1') throw new ManifestError(f.field('apiVersion'), `"${apiVersion}" is not v1 (a Pod is apiVersion: v1)`);
  f.str('kind');
  const meta = f.sub('metadata', (m) => {
    const name = dnsSubdomain(m.field('name'), m.str('name', { required: true }) as string);
    const namespace = dnsLabel(m.field('namespace'), m.str('namespace') || 'default');
    return { name, namespace, labels: m.strMap('labels'), annotations: m.strMap('annotations') };
  });
  if (!meta) throw new ManifestError(f.field('metadata'), 'required (at least metadata.name)');
  if (!f.has('spec')) throw new ManifestError(f.field('spec'), 'required');
  const spec = f.sub('spec', (s) => parseSpec(s, warnings)) as PodSpec;
  f.done();
  return { ...meta, spec };
}

/**
 * Parses a manifest file's text: one or several YAML documents, each a Pod or a List of Pods.
 * Throws ManifestError for malformed YAML or an invalid Pod; unsupported fields become warnings.
 */
export function parseManifests(text: string): ParsedManifests {
  const docs = parseAllDocuments(text, { prettyErrors: true, uniqueKeys: true });
  const list = Array.isArray(docs) ? docs : [docs];
  const values: Json[] = [];
  for (const [i, doc] of list.entries()) {
    const err = doc.errors[0];
    if (err) {
      const where = err.linePos?.[0] ? ` at line ${err.linePos[0].line}, column ${err.linePos[0].col}` : '';
      throw new ManifestError('', `malformed YAML${list.length > 1 ? ` in document ${i + 1}` : ''}${where}: ${err.message.split('\n')[0]}`);
    }
    values.push(doc.toJS({ maxAliasCount: 100 }) as Json);
  }
  const present = values.map((v, i) => [v, i] as const).filter(([v]) => v !== null && v !== undefined);
  const several = present.length > 1;
  const warnings: string[] = [];
  const pods: Pod[] = [];
  for (const [value, i] of present) {
    const where = several ? `document ${i + 1}: ` : '';
    try {
      if (!isMap(value)) throw new ManifestError('', `expected a Kubernetes object (a map with apiVersion, kind, ...), got ${describe(value)}`);
      const kind = value['kind'];
      if (kind === 'List' || kind === 'PodList') {
        const listWarnings: string[] = [];
        const lf = Fields.of(value, '', listWarnings);
        lf.str('apiVersion');
        lf.str('kind');
        lf.raw('metadata');
        const items = lf.list('items', (item, path) => [item, path] as const);
        lf.done();
        warnings.push(...listWarnings.map((w) => `${where}${w}`));
        for (const [item, path] of items) {
          if (!isMap(item)) throw new ManifestError(path, `expected a Pod, got ${describe(item)}`);
          if (item['kind'] !== 'Pod') {
            warnings.push(`${where}${path} (kind ${JSON.stringify(item['kind'] ?? null)}) is not supported by crib run; ignored`);
            continue;
          }
          const own: string[] = [];
          pods.push(parsePod(new Fields(path, item, own), own));
          warnings.push(...own.map((w) => `${where}${w}`));
        }
      } else if (kind === 'Pod') {
        const own: string[] = [];
        pods.push(parsePod(new Fields('', value, own), own));
        warnings.push(...own.map((w) => `${where}${w}`));
      } else if (kind === undefined || kind === null) {
        throw new ManifestError('kind', 'required (crib run takes kind: Pod, or a List of Pods)');
      } else {
        warnings.push(`${several ? `document ${i + 1}` : 'the document'} (kind ${JSON.stringify(kind)}) is not supported by crib run (only Pod); ignored`);
      }
    } catch (err) {
      if (err instanceof ManifestError && where) throw new ManifestError(`${where}${err.field}`.replace(/: $/, ''), err.reason);
      throw err;
    }
  }
  if (pods.length === 0) throw new ManifestError('', 'no Pod in the manifest (crib run takes kind: Pod, or a List of Pods)');
  const seen = new Set<string>();
  for (const p of pods) {
    const key = `${p.namespace}/${p.name}`;
    if (seen.has(key)) throw new ManifestError('metadata.name', `pod ${key} is defined twice`);
    seen.add(key);
  }
  return { pods, warnings };
}
