// A Pod spec (of a Pod, or of a controller's pod template) → a validated, typed PodSpec, with a
// warning for every field crib does not support (see fields.ts). Containers, their env, ports,
// probes and lifecycle hooks, security, resources, and the checks across the pod. Pure: no I/O.
import { CONTAINER_FIELDS, POD_SPEC_FIELDS, PROBE_FIELDS } from './schema.js';
import { isIP } from 'node:net';
import { parseReference } from '../../image/reference.js';
import { absolute, dnsLabel, dnsSubdomain, Fields, join, ManifestError, quantityOf, readType, relativeSubPath, type Json } from './fields.js';
import { intValue, milliValue, quantityLE, type Quantity } from '../quantity/quantity.js';
import {
  envFieldPaths,
  FIELD_PATH_KEY,
  parseResourceFieldRef,
  parseVolume,
  unfilledFieldPaths,
  type ResourceFieldRef,
  type Volume,
} from '../volumes/volume-spec.js';

export { ManifestError } from './fields.js';

export type RestartPolicy = 'Always' | 'OnFailure' | 'Never';
export type PullPolicy = 'Always' | 'IfNotPresent' | 'Never';
export type DnsPolicy = 'ClusterFirst' | 'ClusterFirstWithHostNet' | 'Default' | 'None';
export type Protocol = 'TCP' | 'UDP' | 'SCTP';
export type Propagation = 'None' | 'HostToContainer' | 'Bidirectional';
export type WorkloadKind = 'Pod' | 'Deployment' | 'ReplicaSet' | 'StatefulSet' | 'DaemonSet' | 'Job';

export interface SeccompProfile {
  type: 'RuntimeDefault' | 'Unconfined' | 'Localhost';
  /** For Localhost: relative to the runtime's seccomp directory. */
  localhostProfile?: string;
}

/** A key of a ConfigMap or Secret. */
export interface KeyRef {
  name: string;
  key: string;
  optional: boolean;
}

/** An env var: a literal value (after $(VAR) expansion), a pod field, a resource, or a key of a ConfigMap or Secret. */
export type EnvVar =
  | { name: string; value: string }
  | { name: string; fieldPath: string }
  | { name: string; resourceFieldRef: ResourceFieldRef }
  | { name: string; configMapKeyRef: KeyRef }
  | { name: string; secretKeyRef: KeyRef };

/** Every key of a ConfigMap or Secret as env vars (`prefix` + key). */
export interface EnvFrom {
  prefix: string;
  from: 'configMap' | 'secret';
  name: string;
  optional: boolean;
}

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

export interface HttpGet {
  path: string;
  /** Named ports are resolved against the container's ports when the manifest is read. */
  port: number;
  /** Default: the pod's IP. */
  host?: string;
  scheme: 'HTTP' | 'HTTPS';
  headers: { name: string; value: string }[];
}

/** What a probe or a lifecycle hook does. */
export type Handler =
  | { exec: string[] }
  | { httpGet: HttpGet }
  | { tcpSocket: { port: number; host?: string } }
  | { grpc: { port: number; service: string } }
  | { sleepSeconds: number };

export type ProbeHandler = Exclude<Handler, { sleepSeconds: number }>;
export type Hook = Exclude<Handler, { tcpSocket: unknown } | { grpc: unknown }>;
export type ProbeKind = 'startup' | 'liveness' | 'readiness';

export interface Probe {
  handler: ProbeHandler;
  initialDelaySeconds: number;
  periodSeconds: number;
  timeoutSeconds: number;
  successThreshold: number;
  failureThreshold: number;
  /** A liveness or startup failure's own grace period (else the pod's). */
  terminationGracePeriodSeconds?: number;
}

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
  envFrom: EnvFrom[];
  env: EnvVar[];
  ports: ContainerPort[];
  resources: Resources;
  securityContext: ContainerSecurity;
  preStop?: Hook;
  postStart?: Hook;
  probes: Partial<Record<ProbeKind, Probe>>;
  volumeMounts: VolumeMount[];
  /** Kept open for `crib attach -i` (set only when true, so other containers' hashes stay as they were). */
  stdin?: true;
  stdinOnce?: true;
  /** A terminal for the process (`crib attach -it`). */
  tty?: true;
}

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

export interface HostAlias {
  ip: string;
  hostnames: string[];
}

export interface PodSpec {
  containers: ContainerSpec[];
  initContainers: ContainerSpec[];
  volumes: Volume[];
  shareProcessNamespace: boolean;
  hostNetwork: boolean;
  hostPID: boolean;
  hostIPC: boolean;
  /** false: the pod gets its own user namespace (crib run picks its ids: src/kube/pod/userns.ts). */
  hostUsers: boolean;
  hostname?: string;
  /** Extra lines of the pod's /etc/hosts (crib run's managed file: ../services). */
  hostAliases?: HostAlias[];
  dnsPolicy: DnsPolicy;
  dnsConfig?: DnsConfig;
  securityContext: PodSecurity;
  terminationGracePeriodSeconds: number;
  restartPolicy: RestartPolicy;
}

/** Labels, annotations and spec of a pod: a Pod's own, or a controller's template. */
export interface PodTemplate {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  spec: PodSpec;
  /** The spec as written (JSON), which `crib generate` gives back. */
  source: Record<string, Json>;
}

/** One pod to run: a Pod of the manifest, or one a controller makes from its template. */
export interface Pod extends PodTemplate {
  name: string;
  namespace: string;
  /**
   * The object of the manifest it comes from (for a Pod: itself); a Job's pods also carry the
   * successes it wants, its backoffLimit and when its activeDeadlineSeconds passes (ms epoch): crib
   * jobs judges the Job from them as its controller does.
   */
  owner: { kind: WorkloadKind; name: string; completions?: number; backoffLimit?: number; deadlineMs?: number; cronJob?: string };
}

const INT32 = 2 ** 31 - 1;
const UID_MAX = 2 ** 31 - 1;

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

// ---- probes and hooks -------------------------------------------------------------------------

type HandlerKind = 'exec' | 'httpGet' | 'tcpSocket' | 'grpc' | 'sleep';

/** A port of a handler: a number, or the name of one of the container's ports. */
function resolvePort(field: string, v: number | string | undefined, ports: ContainerPort[]): number {
  if (v === undefined) throw new ManifestError(field, 'required');
  if (typeof v === 'number') {
    if (v < 1 || v > 65535) throw new ManifestError(field, `${v} is not a port (1..65535)`);
    return v;
  }
  const p = ports.find((x) => x.name === v);
  if (!p) throw new ManifestError(field, `no port named "${v}" in the container's ports`);
  return p.containerPort;
}

function parseHost(f: Fields): string | undefined {
  const host = f.str('host');
  if (host && (/[\s/]/.test(host) || host.length > 253)) throw new ManifestError(f.field('host'), `"${host}" is not a host name or IP address`);
  return host || undefined;
}

/** The one handler of a probe or hook, among the kinds `allowed`; another kind is warned about (undefined). */
function parseHandler(f: Fields, ports: ContainerPort[], allowed: readonly HandlerKind[]): Handler | undefined {
  const present = (['exec', 'httpGet', 'tcpSocket', 'grpc', 'sleep'] as const).filter((k) => f.has(k));
  if (present.length > 1) throw new ManifestError(f.path, `must have exactly one handler, has ${present.join(', ')}`);
  const kind = present[0];
  if (kind === undefined) throw new ManifestError(f.path, `must have a handler (${allowed.join(', ')})`);
  if (!allowed.includes(kind)) return undefined; // left unread: done() warns about it
  switch (kind) {
    case 'exec': {
      const command = f.sub('exec', (e) => e.strList('command')) as string[];
      if (command.length === 0) throw new ManifestError(`${f.field('exec')}.command`, 'required');
      return { exec: command };
    }
    case 'httpGet':
      return {
        httpGet: f.sub('httpGet', (h) => {
          const out: HttpGet = {
            path: h.str('path') || '/',
            port: resolvePort(h.field('port'), h.intOrString('port'), ports),
            scheme: h.oneOf('scheme', ['HTTP', 'HTTPS'] as const, 'HTTP'),
            headers: h.list('httpHeaders', (item, p) => {
              const hf = h.item(item, p);
              const name = hf.str('name', { required: true }) as string;
              if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name)) throw new ManifestError(hf.field('name'), `"${name}" is not an HTTP header name`);
              const value = hf.str('value') ?? '';
              if (/[\r\n\0]/.test(value)) throw new ManifestError(hf.field('value'), 'must not contain line breaks');
              hf.done();
              return { name, value };
            }),
          };
          if (!out.path.startsWith('/')) out.path = `/${out.path}`;
          if (/[\s]/.test(out.path)) throw new ManifestError(h.field('path'), `"${out.path}" must not contain spaces`);
          const host = parseHost(h);
          if (host) out.host = host;
          return out;
        }) as HttpGet,
      };
    case 'tcpSocket':
      return {
        tcpSocket: f.sub('tcpSocket', (t) => {
          const port = resolvePort(t.field('port'), t.intOrString('port'), ports);
          const host = parseHost(t);
          return host ? { port, host } : { port };
        }) as { port: number; host?: string },
      };
    case 'grpc':
      return {
        grpc: f.sub('grpc', (g) => {
          const port = g.int('port', 1, 65535);
          if (port === undefined) throw new ManifestError(g.field('port'), 'required');
          return { port, service: g.str('service') ?? '' };
        }) as { port: number; service: string },
      };
    case 'sleep':
      return {
        sleepSeconds: f.sub('sleep', (s) => {
          const n = s.int('seconds', 0, INT32);
          if (n === undefined) throw new ManifestError(s.field('seconds'), 'required');
          return n;
        }) as number,
      };
  }
}

function parseProbe(f: Fields, kind: ProbeKind, ports: ContainerPort[]): Probe {
  f.schema(PROBE_FIELDS);
  const handler = parseHandler(f, ports, ['exec', 'httpGet', 'tcpSocket', 'grpc']) as ProbeHandler | undefined;
  if (!handler) throw new ManifestError(f.path, 'a probe has exec, httpGet, tcpSocket or grpc');
  const p: Probe = {
    handler,
    initialDelaySeconds: f.int('initialDelaySeconds', 0, INT32) ?? 0,
    periodSeconds: f.int('periodSeconds', 1, INT32) ?? 10,
    timeoutSeconds: f.int('timeoutSeconds', 1, INT32) ?? 1,
    successThreshold: f.int('successThreshold', 1, INT32) ?? 1,
    failureThreshold: f.int('failureThreshold', 1, INT32) ?? 3,
  };
  if (kind !== 'readiness' && p.successThreshold !== 1) throw new ManifestError(f.field('successThreshold'), `must be 1 for a ${kind} probe`);
  const grace = f.int('terminationGracePeriodSeconds', 1, INT32);
  if (grace !== undefined) {
    if (kind === 'readiness') throw new ManifestError(f.field('terminationGracePeriodSeconds'), 'may not be set for a readiness probe');
    p.terminationGracePeriodSeconds = grace;
  }
  return p;
}

// ---- env --------------------------------------------------------------------------------------

function parseKeyRef(f: Fields): KeyRef {
  const name = f.str('name', { required: true }) as string;
  const key = f.str('key', { required: true }) as string;
  return { name: dnsSubdomain(f.field('name'), name), key, optional: f.bool('optional') ?? false };
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
      const sources = ['fieldRef', 'resourceFieldRef', 'configMapKeyRef', 'secretKeyRef', 'fileKeyRef'].filter((k) => vf.has(k));
      if (sources.length > 1) throw new ManifestError(vf.path, `must have exactly one source, has ${sources.join(', ')}`);
      if (sources.length === 0) throw new ManifestError(vf.path, 'must have a source (fieldRef, resourceFieldRef, configMapKeyRef, secretKeyRef)');
      vf.sub('fieldRef', (fr) => {
        const fieldPath = fr.str('fieldPath', { required: true }) as string;
        const apiVersion = fr.str('apiVersion');
        if (apiVersion && apiVersion !== 'v1') throw new ManifestError(fr.field('apiVersion'), `"${apiVersion}" is not supported (v1)`);
        if (envFieldPaths.includes(fieldPath) || FIELD_PATH_KEY.test(fieldPath)) {
          out = { name, fieldPath };
        } else if (unfilledFieldPaths.includes(fieldPath)) {
          fr.warn(`${fr.field('fieldPath')} "${fieldPath}" is not supported by crib run; ${name} is not set`);
        } else {
          throw new ManifestError(
            fr.field('fieldPath'),
            `"${fieldPath}" is not a supported field path (${envFieldPaths.join(', ')}, metadata.labels['KEY'], metadata.annotations['KEY'])`,
          );
        }
      });
      const res = vf.sub('resourceFieldRef', (r) => parseResourceFieldRef(r, false));
      if (res) out = { name, resourceFieldRef: res };
      const cm = vf.sub('configMapKeyRef', parseKeyRef);
      if (cm) out = { name, configMapKeyRef: cm };
      const sec = vf.sub('secretKeyRef', parseKeyRef);
      if (sec) out = { name, secretKeyRef: sec };
    });
  } else {
    out = { name, value: value ?? '' };
  }
  f.done();
  return out;
}

function parseEnvFrom(item: Json, path: string, warnings: string[]): EnvFrom {
  const f = Fields.of(item, path, warnings);
  const prefix = f.str('prefix') ?? '';
  if (prefix.includes('=')) throw new ManifestError(f.field('prefix'), `"${prefix}" must not contain "="`);
  const ref = (from: 'configMap' | 'secret') => (r: Fields) => ({
    prefix,
    from,
    name: dnsSubdomain(r.field('name'), r.str('name', { required: true }) as string),
    optional: r.bool('optional') ?? false,
  });
  const both = ['configMapRef', 'secretRef'].filter((k) => f.has(k));
  if (both.length !== 1) throw new ManifestError(path, 'needs exactly one of configMapRef and secretRef');
  const out = (f.sub('configMapRef', ref('configMap')) ?? f.sub('secretRef', ref('secret'))) as EnvFrom;
  f.done();
  return out;
}

// ---- containers -------------------------------------------------------------------------------

function parsePort(item: Json, path: string, warnings: string[]): ContainerPort {
  const f = Fields.of(item, path, warnings);
  const containerPort = f.int('containerPort', 1, 65535);
  if (containerPort === undefined) throw new ManifestError(f.field('containerPort'), 'required');
  const p: ContainerPort = { containerPort, protocol: f.oneOf('protocol', ['TCP', 'UDP', 'SCTP'] as const, 'TCP') };
  const hostPort = f.int('hostPort', 0, 65535);
  if (hostPort) p.hostPort = hostPort;
  const name = f.str('name');
  if (name) {
    // An IANA service name (IsValidPortName): no '-' at either end or twice in a row.
    if (name.length > 15 || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name) || !/[a-z]/.test(name) || name.includes('--')) {
      throw new ManifestError(f.field('name'), `"${name}" must be at most 15 lowercase letters, digits and single '-' between them, with at least one letter`);
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

/** The API server's default pull policy of an image reference (a container's, an image volume's). */
export function defaultPullPolicy(image: string): PullPolicy {
  // "latest" explicitly or no tag at all: Always (as the API server defaults it). With a digest the
  // text after the last ':' is the digest's hex, so it gives IfNotPresent as the API server does.
  const lastSlash = image.lastIndexOf('/');
  const colon = image.lastIndexOf(':');
  const tag = colon > lastSlash ? image.slice(colon + 1) : '';
  return tag === '' || tag === 'latest' ? 'Always' : 'IfNotPresent';
}

const PROBES: readonly [ProbeKind, string][] = [
  ['startup', 'startupProbe'],
  ['liveness', 'livenessProbe'],
  ['readiness', 'readinessProbe'],
];

function parseContainer(item: Json, path: string, warnings: string[], init: boolean): ContainerSpec {
  const f = Fields.of(item, path, warnings).schema(CONTAINER_FIELDS);
  const name = dnsLabel(f.field('name'), f.str('name', { required: true }) as string);
  const image = f.str('image', { required: true }) as string;
  try {
    parseReference(image);
  } catch (err) {
    throw new ManifestError(f.field('image'), (err as Error).message);
  }
  const ports = f.list('ports', (p, pp) => parsePort(p, pp, warnings));
  const c: ContainerSpec = {
    name,
    image,
    imagePullPolicy: f.oneOf('imagePullPolicy', ['Always', 'IfNotPresent', 'Never'] as const, defaultPullPolicy(image)),
    command: f.strList('command'),
    args: f.strList('args'),
    envFrom: f.list('envFrom', (e, p) => parseEnvFrom(e, p, warnings)),
    env: f.list('env', (e, p) => parseEnv(e, p, warnings)).filter((e): e is EnvVar => e !== undefined),
    ports,
    resources: f.sub('resources', parseResources) ?? { limits: {}, requests: {} },
    securityContext: f.sub('securityContext', parseContainerSecurity) ?? { capabilities: { add: [], drop: [] } },
    probes: {},
    volumeMounts: f.list('volumeMounts', (m, p) => parseVolumeMount(m, p, warnings)),
  };
  const wd = f.str('workingDir');
  if (wd) c.workingDir = absolute(f.field('workingDir'), wd);
  // As kubelet: a shell container keeps its stdin (and terminal) and waits for `crib attach -it`
  for (const key of ['stdin', 'stdinOnce', 'tty'] as const) if (f.bool(key) === true) c[key] = true;
  // Init containers may not have hooks or probes (only restartable sidecars may, which crib does not run).
  for (const key of ['lifecycle', ...PROBES.map(([, k]) => k)]) {
    if (init && f.has(key)) throw new ManifestError(f.field(key), 'may not be set for init containers');
  }
  f.sub('lifecycle', (l) => {
    const preStop = l.sub('preStop', (h) => parseHandler(h, ports, ['exec', 'httpGet', 'sleep']) as Hook);
    if (preStop) c.preStop = preStop;
    const postStart = l.sub('postStart', (h) => parseHandler(h, ports, ['exec', 'httpGet', 'sleep']) as Hook);
    if (postStart) c.postStart = postStart;
  });
  for (const [kind, key] of PROBES) {
    const p = f.sub(key, (pf) => parseProbe(pf, kind, ports));
    if (p) c.probes[kind] = p;
  }
  const seen = new Set<string>();
  c.volumeMounts.forEach((m, i) => {
    if (seen.has(m.mountPath)) throw new ManifestError(`${f.field('volumeMounts')}[${i}].mountPath`, `"${m.mountPath}" is mounted twice`);
    seen.add(m.mountPath);
  });
  f.done();
  return c;
}

// ---- the pod ----------------------------------------------------------------------------------

function parsePodSecurity(f: Fields): PodSecurity {
  const supplementalGroups = f.list('supplementalGroups', (g, p) => {
    if (typeof g !== 'number' || !Number.isInteger(g) || g < 0 || g > UID_MAX) throw new ManifestError(p, `must be a group id, got ${JSON.stringify(g)}`);
    return g;
  });
  const sysctls = f.list('sysctls', (item, p) => {
    const sf = f.item(item, p);
    const name = sf.str('name', { required: true }) as string;
    // The API server's IsValidSysctlName: at most 253 characters, segments split by '.' or '/'.
    if (name.length > 253 || !/^[a-z0-9]([-_a-z0-9]*[a-z0-9])?([./][a-z0-9]([-_a-z0-9]*[a-z0-9])?)*$/.test(name))
      throw new ManifestError(sf.field('name'), `"${name}" is not a sysctl name`);
    const value = sf.str('value', { required: true }) as string;
    sf.done();
    return { name, value };
  });
  const s: PodSecurity = { supplementalGroups, sysctls };
  parseRunAs(f, s);
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

/** `claimVolumes`: volume names a StatefulSet's claim templates provide (mounts may name them). */
function parseSpec(f: Fields, warnings: string[], claimVolumes: readonly string[]): PodSpec {
  f.schema(POD_SPEC_FIELDS);
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
    hostUsers: f.bool('hostUsers') ?? true,
    dnsPolicy: f.oneOf('dnsPolicy', ['ClusterFirst', 'ClusterFirstWithHostNet', 'Default', 'None'] as const, 'ClusterFirst'),
    securityContext: f.sub('securityContext', parsePodSecurity) ?? { supplementalGroups: [], sysctls: [] },
    terminationGracePeriodSeconds: f.int('terminationGracePeriodSeconds', 0, INT32) ?? 30,
    restartPolicy: f.oneOf('restartPolicy', ['Always', 'OnFailure', 'Never'] as const, 'Always'),
  };
  const hostname = f.str('hostname');
  if (hostname) spec.hostname = dnsLabel(f.field('hostname'), hostname);
  const aliases = f.list('hostAliases', (item, p) => {
    const a = f.item(item, p);
    const ip = a.str('ip', { required: true }) as string;
    if (!isIP(ip)) throw new ManifestError(a.field('ip'), `"${ip}" is not an IP address`);
    const hostnames = a.strList('hostnames').map((h, i) => dnsSubdomain(`${a.field('hostnames')}[${i}]`, h));
    a.done();
    return { ip, hostnames };
  });
  if (aliases.length && spec.hostNetwork) f.warn(`${f.field('hostAliases')} with hostNetwork: the pod has the node's /etc/hosts; ignored`);
  else if (aliases.length) spec.hostAliases = aliases;
  const dns = f.sub('dnsConfig', parseDnsConfig);
  if (dns) spec.dnsConfig = dns;
  if (spec.dnsPolicy === 'None' && !(dns && dns.nameservers.length > 0)) {
    throw new ManifestError(f.field('dnsConfig'), 'dnsPolicy None needs dnsConfig with at least one nameserver');
  }
  if (spec.shareProcessNamespace && spec.hostPID) throw new ManifestError(f.field('shareProcessNamespace'), 'cannot be true together with hostPID');
  if (!spec.hostUsers) {
    // The API server's rule: a pod's own user namespace cannot hold the node's other namespaces.
    for (const k of ['hostNetwork', 'hostPID', 'hostIPC'] as const) {
      if (spec[k]) throw new ManifestError(f.field('hostUsers'), `false cannot go with ${k}: true`);
    }
  }

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
  for (const [c, p] of all) {
    c.env.forEach((e, i) => {
      const other = 'resourceFieldRef' in e ? e.resourceFieldRef.containerName : undefined;
      if (other !== undefined && !names.has(other)) {
        throw new ManifestError(`${p}.env[${i}].valueFrom.resourceFieldRef.containerName`, `no container named "${other}" in the pod`);
      }
    });
  }
  const volumeNames = new Map<string, Volume>();
  volumes.forEach((v, i) => {
    if (volumeNames.has(v.name)) throw new ManifestError(`${f.field('volumes')}[${i}].name`, `"${v.name}" is defined twice`);
    volumeNames.set(v.name, v);
    const files =
      'downwardAPI' in v ? v.downwardAPI.items : 'projected' in v ? v.projected.sources.flatMap((s) => ('downwardAPI' in s ? s.downwardAPI : [])) : [];
    for (const d of files) {
      if (!('resourceFieldRef' in d)) continue;
      // Stryker disable next-line StringLiteral: for the type only (in a volume parseResourceFieldRef requires containerName)
      const target = d.resourceFieldRef.containerName ?? '';
      if (!names.has(target)) throw new ManifestError(`${f.field('volumes')}[${i}]`, `resourceFieldRef names no container of the pod ("${target}")`);
    }
  });
  for (const [c, p] of all) {
    c.volumeMounts = c.volumeMounts.filter((m, i) => {
      const v = volumeNames.get(m.name);
      if (!v && claimVolumes.includes(m.name)) return true;
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

/** A pod spec at `f` (its `source` is the JSON as written). */
export function parsePodSpec(f: Fields, warnings: string[], claimVolumes: readonly string[] = []): { spec: PodSpec; source: Record<string, Json> } {
  if (!f.has('spec')) throw new ManifestError(f.field('spec'), 'required');
  const source = structuredClone(f.raw('spec')) as Record<string, Json>;
  const spec = f.sub('spec', (s) => parseSpec(s, warnings, claimVolumes)) as PodSpec;
  return { spec, source };
}

/** An object's metadata: name (required unless `nameOptional`), namespace, labels, annotations. */
export function parseMetadata(
  f: Fields,
  opts: { nameOptional?: boolean } = {},
): { name: string; namespace: string; labels: Record<string, string>; annotations: Record<string, string> } {
  const meta = f.sub('metadata', (m) => {
    const raw = m.str('name', { required: !opts.nameOptional }) ?? '';
    const name = raw ? dnsSubdomain(m.field('name'), raw) : '';
    const namespace = dnsLabel(m.field('namespace'), m.str('namespace') || 'default');
    // What the API server fills in or a client left behind: nothing to act on here.
    m.accept('uid', 'resourceVersion', 'generation', 'creationTimestamp', 'managedFields', 'selfLink');
    return { name, namespace, labels: m.strMap('labels'), annotations: m.strMap('annotations') };
  });
  if (meta) return meta;
  if (opts.nameOptional) return { name: '', namespace: 'default', labels: {}, annotations: {} };
  throw new ManifestError(f.field('metadata'), 'required (at least metadata.name)');
}

/** A controller's `template` (metadata and spec). */
export function parsePodTemplate(f: Fields, warnings: string[], claimVolumes: readonly string[] = []): PodTemplate {
  const meta = parseMetadata(f, { nameOptional: true });
  const { spec, source } = parsePodSpec(f, warnings, claimVolumes);
  f.done();
  return { labels: meta.labels, annotations: meta.annotations, spec, source };
}

/** A `kind: Pod` object. */
export function parsePod(f: Fields, warnings: string[]): Pod {
  readType(f, 'Pod', ['v1']);
  const meta = parseMetadata(f);
  const { spec, source } = parsePodSpec(f, warnings);
  f.accept('status'); // what a cluster reports (kubectl get -o yaml): not an input
  f.done();
  return { ...meta, spec, source, owner: { kind: 'Pod', name: meta.name } };
}
