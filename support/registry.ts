// Test support for image pulls and pushes: a real local registry (distribution's docker-registry),
// OCI layouts built by the tests' own code (a tiny tar writer, node:zlib), and skopeo to push them.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import https from 'node:https';
import zlib from 'node:zlib';
import { createHash, randomBytes } from 'node:crypto';
import { run } from '../src/util/exec.js';

export const REGISTRY_BIN = '/usr/bin/docker-registry';
export const BUSYBOX_BIN = '/bin/busybox';

const sha256 = (b: Buffer | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** A port nobody listens on right now (bound on 127.0.0.1:0, then released). */
export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', resolve);
  });
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

// ---- certificates and passwords ---------------------------------------------------------------

export interface TestCa {
  dir: string;
  caFile: string;
  certFile: string;
  keyFile: string;
}

/** A test CA and a server certificate for 127.0.0.1 (IP SAN) and localhost, made with openssl. */
export async function makeTestCa(dir: string): Promise<TestCa> {
  await fsp.mkdir(dir, { recursive: true });
  const f = (n: string) => path.join(dir, n);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await run('openssl', [
    'req',
    '-x509',
    ...ec,
    '-keyout',
    f('ca.key'),
    '-out',
    f('ca.crt'),
    '-days',
    '2',
    '-subj',
    '/CN=crib test CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  await run('openssl', ['req', '-new', ...ec, '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=127.0.0.1']);
  await fsp.writeFile(
    f('server.ext'),
    [
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      'basicConstraints=CA:FALSE',
      'keyUsage=digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth',
      '',
    ].join('\n'),
  );
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    f('server.csr'),
    '-CA',
    f('ca.crt'),
    '-CAkey',
    f('ca.key'),
    '-CAcreateserial',
    '-out',
    f('server.crt'),
    '-days',
    '2',
    '-extfile',
    f('server.ext'),
  ]);
  return { dir, caFile: f('ca.crt'), certFile: f('server.crt'), keyFile: f('server.key') };
}

// ---- the registry -------------------------------------------------------------------------------

export interface RegistryOptions {
  tls?: boolean;
  htpasswd?: { user: string; password: string };
  /** Log every request to `logFile` (to count what clients fetch). */
  accessLog?: boolean;
}

export interface TestRegistry {
  /** `127.0.0.1:PORT`, what references name. */
  host: string;
  port: number;
  /** `http://127.0.0.1:PORT` or `https://...`. */
  url: string;
  /** The CA that signed the server certificate (with tls). */
  caFile?: string;
  /** The registry's storage root (docker/registry/v2/... lies under it). */
  dataDir: string;
  /** Its stdout and stderr (and the access log, when asked for). */
  logFile: string;
  pid: number;
  stop(): Promise<void>;
}

/** Asks GET /v2/ once; resolves with the status, rejects when nothing answers. */
function ping(url: string, caFile?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const mod = url.startsWith('https:') ? https : http;
    const req = mod.get(`${url}/v2/`, { ca: caFile ? fs.readFileSync(caFile) : undefined, agent: false, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** Sends SIGTERM (then SIGKILL) to the child we started, by its pid, and waits for it to exit. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    process.kill(child.pid, 'SIGTERM');
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    try {
      if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }, 5000);
  await exited;
  clearTimeout(timer);
}

/**
 * Starts `/usr/bin/docker-registry serve CONFIG` on a free port of 127.0.0.1, with filesystem
 * storage in a temp dir, optionally TLS (a test CA's certificate for 127.0.0.1) and htpasswd
 * Basic auth. Resolves once /v2/ answers. stop() kills it by pid and removes its temp dir.
 */
export async function startRegistry(opts: RegistryOptions = {}): Promise<TestRegistry> {
  const base = await fsp.mkdtemp(path.join(os.tmpdir(), 'crib-registry-'));
  let child: ChildProcess | undefined;
  const stop = async () => {
    if (child) await stopChild(child);
    await fsp.rm(base, { recursive: true, force: true });
  };
  try {
    const dataDir = path.join(base, 'data');
    await fsp.mkdir(dataDir);
    const port = await freePort();
    const host = `127.0.0.1:${port}`;
    const lines = [
      'version: 0.1',
      'log:',
      '  level: warn',
      '  accesslog:',
      `    disabled: ${opts.accessLog ? 'false' : 'true'}`,
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${dataDir}`,
      '  delete:',
      '    enabled: true',
      'http:',
      `  addr: ${host}`,
      `  secret: ${randomBytes(16).toString('hex')}`,
    ];
    let caFile: string | undefined;
    if (opts.tls) {
      const ca = await makeTestCa(path.join(base, 'tls'));
      caFile = ca.caFile;
      lines.push('  tls:', `    certificate: ${ca.certFile}`, `    key: ${ca.keyFile}`);
    }
    if (opts.htpasswd) {
      const { stdout } = await run('htpasswd', ['-Bbn', opts.htpasswd.user, opts.htpasswd.password]);
      const file = path.join(base, 'htpasswd');
      await fsp.writeFile(file, stdout.trim() + '\n');
      lines.push('auth:', '  htpasswd:', '    realm: crib-test', `    path: ${file}`);
    }
    const configFile = path.join(base, 'config.yml');
    await fsp.writeFile(configFile, lines.join('\n') + '\n');

    const logFile = path.join(base, 'registry.log');
    const logFd = fs.openSync(logFile, 'a');
    child = spawn(REGISTRY_BIN, ['serve', configFile], { stdio: ['ignore', logFd, logFd] });
    fs.closeSync(logFd);
    const c = child;
    let spawnError: Error | undefined;
    c.on('error', (err) => (spawnError = err));
    const url = `${opts.tls ? 'https' : 'http'}://${host}`;
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (spawnError) throw new Error(`cannot run ${REGISTRY_BIN} (apt-get install docker-registry): ${spawnError.message}`);
      if (c.exitCode !== null || c.signalCode !== null) {
        throw new Error(`docker-registry exited during start:\n${fs.readFileSync(logFile, 'utf8').slice(-2000)}`);
      }
      try {
        const status = await ping(url, caFile);
        if (status === 200 || status === 401) break;
      } catch {
        /* not listening yet */
      }
      if (Date.now() > deadline) throw new Error(`docker-registry did not answer on ${url}:\n${fs.readFileSync(logFile, 'utf8').slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const reg: TestRegistry = { host, port, url, dataDir, logFile, pid: c.pid as number, stop };
    if (caFile) reg.caFile = caFile;
    return reg;
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Where the registry keeps a blob's bytes. */
export function registryBlobPath(reg: TestRegistry, digest: string): string {
  const hex = digest.replace(/^sha256:/, '');
  return path.join(reg.dataDir, 'docker', 'registry', 'v2', 'blobs', 'sha256', hex.slice(0, 2), hex, 'data');
}

// ---- tar and OCI layouts -----------------------------------------------------------------------

export type TarEntry =
  | { path: string; type?: 'file'; content: Buffer | string; mode?: number }
  | { path: string; type: 'dir'; mode?: number }
  | { path: string; type: 'symlink'; target: string }
  | { path: string; type: 'hardlink'; target: string }
  | { path: string; type: 'fifo' };

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, '0') + '\0';
}

function tarHeader(name: string, size: number, mode: number, type: string, link: string): Buffer {
  const h = Buffer.alloc(512);
  let prefix = '';
  if (Buffer.byteLength(name) > 100) {
    let cut = -1;
    for (let i = name.indexOf('/'); i > 0; i = name.indexOf('/', i + 1)) {
      if (i <= 155 && Buffer.byteLength(name.slice(i + 1)) <= 100 && i < name.length - 1) {
        cut = i;
        break;
      }
    }
    if (cut < 0) throw new Error(`tar: path too long: ${name}`);
    prefix = name.slice(0, cut);
    name = name.slice(cut + 1);
  }
  h.write(name, 0, 100);
  h.write(octal(mode, 8), 100);
  h.write(octal(0, 8), 108);
  h.write(octal(0, 8), 116);
  h.write(octal(size, 12), 124);
  h.write(octal(1_700_000_000, 12), 136);
  h.write('        ', 148);
  h.write(type, 156);
  h.write(link, 157, 100);
  h.write('ustar\0', 257);
  h.write('00', 263);
  h.write('root', 265);
  h.write('root', 297);
  h.write(prefix, 345, 155);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(octal(sum, 7) + ' ', 148);
  return h;
}

/** A ustar archive of the entries, in order (uid/gid 0, a fixed mtime: reproducible). */
export function tarArchive(entries: TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const p = e.path.replace(/^\/+/, '');
    switch (e.type) {
      case 'dir':
        parts.push(tarHeader(p.endsWith('/') ? p : `${p}/`, 0, e.mode ?? 0o755, '5', ''));
        break;
      case 'symlink':
        parts.push(tarHeader(p, 0, 0o777, '2', e.target));
        break;
      case 'hardlink':
        parts.push(tarHeader(p, 0, 0o644, '1', e.target));
        break;
      case 'fifo':
        parts.push(tarHeader(p, 0, 0o644, '6', ''));
        break;
      default: {
        const data = typeof e.content === 'string' ? Buffer.from(e.content) : e.content;
        parts.push(tarHeader(p, data.length, e.mode ?? 0o644, '0', ''), data, Buffer.alloc((512 - (data.length % 512)) % 512));
      }
    }
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

/** A layer with busybox-static as /bin/busybox and links for a few applets (/bin/sh, ls, cat, echo, ...). */
export function busyboxLayer(): TarEntry[] {
  const applets = ['sh', 'ls', 'cat', 'echo', 'true', 'false', 'sleep', 'env', 'id', 'test'];
  return [
    { path: 'bin', type: 'dir' },
    { path: 'bin/busybox', content: fs.readFileSync(BUSYBOX_BIN), mode: 0o755 },
    ...applets.map((a): TarEntry => ({ path: `bin/${a}`, type: 'symlink', target: 'busybox' })),
    { path: 'tmp', type: 'dir', mode: 0o1777 },
  ];
}

export interface TestLayerSpec {
  entries: TarEntry[];
  /** Default gzip. */
  compression?: 'gzip' | 'none';
}

export interface TestImageSpec {
  layers: TestLayerSpec[];
  os?: string;
  architecture?: string;
  variant?: string;
  /** Merged into the image config's `config` (Cmd, Env, Entrypoint, ...). */
  config?: Record<string, unknown>;
  /** OCI media types (default) or Docker schema 2 ones. */
  format?: 'oci' | 'docker';
}

export interface BuiltBlob {
  mediaType: string;
  digest: string;
  size: number;
  file: string;
}

export interface BuiltLayer extends BuiltBlob {
  diffId: string;
  entries: TarEntry[];
}

export interface BuiltImage {
  manifest: BuiltBlob & { bytes: Buffer };
  config: BuiltBlob & { bytes: Buffer };
  layers: BuiltLayer[];
  platform: { os: string; architecture: string; variant?: string };
}

export interface TestLayout {
  /**
   * The directory: an OCI layout (oci-layout, index.json, blobs/sha256/HEX) for OCI images; for
   * Docker schema 2 images skopeo's `dir:` layout (version, manifest.json, HEX, HEX.manifest.json),
   * since skopeo's OCI layout reader only takes OCI media types.
   */
  dir: string;
  tag: string;
  /** What skopeo reads it as: `oci:DIR:TAG` or `dir:DIR`. */
  source: string;
  images: BuiltImage[];
  /** The image index (or manifest list) the tag names, for multi-platform layouts. */
  index?: BuiltBlob & { bytes: Buffer };
}

const OCI = {
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  index: 'application/vnd.oci.image.index.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar',
  layerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
};
const DOCKER = {
  manifest: 'application/vnd.docker.distribution.manifest.v2+json',
  list: 'application/vnd.docker.distribution.manifest.list.v2+json',
  config: 'application/vnd.docker.container.image.v1+json',
  layerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
};

async function writeBlob(dir: string, mediaType: string, bytes: Buffer, docker: boolean): Promise<BuiltBlob> {
  const digest = sha256(bytes);
  const file = docker ? path.join(dir, digest.slice(7)) : path.join(dir, 'blobs', 'sha256', digest.slice(7));
  await fsp.mkdir(path.dirname(file), { recursive: true });
  await fsp.writeFile(file, bytes);
  return { mediaType, digest, size: bytes.length, file };
}

async function buildImage(dir: string, spec: TestImageSpec): Promise<BuiltImage> {
  const docker = spec.format === 'docker';
  const platform: BuiltImage['platform'] = { os: spec.os ?? 'linux', architecture: spec.architecture ?? 'amd64' };
  if (spec.variant) platform.variant = spec.variant;
  const layers: BuiltLayer[] = [];
  for (const l of spec.layers) {
    const tar = tarArchive(l.entries);
    const gzip = (l.compression ?? 'gzip') === 'gzip';
    if (!gzip && docker) throw new Error('docker schema 2 layers are gzip');
    const bytes = gzip ? zlib.gzipSync(tar) : tar;
    const mediaType = docker ? DOCKER.layerGzip : gzip ? OCI.layerGzip : OCI.layer;
    layers.push({ ...(await writeBlob(dir, mediaType, bytes, docker)), diffId: sha256(tar), entries: l.entries });
  }
  const configDoc = {
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    created: '2024-01-01T00:00:00Z',
    config: { Env: ['PATH=/bin'], Cmd: ['/bin/sh'], ...spec.config },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map(() => ({ created: '2024-01-01T00:00:00Z', created_by: 'crib test' })),
  };
  const configBytes = Buffer.from(JSON.stringify(configDoc));
  const config = { ...(await writeBlob(dir, docker ? DOCKER.config : OCI.config, configBytes, docker)), bytes: configBytes };
  const manifestDoc = {
    schemaVersion: 2,
    mediaType: docker ? DOCKER.manifest : OCI.manifest,
    config: { mediaType: config.mediaType, digest: config.digest, size: config.size },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
  };
  const manifestBytes = Buffer.from(JSON.stringify(manifestDoc));
  const manifest = { ...(await writeBlob(dir, manifestDoc.mediaType, manifestBytes, docker)), bytes: manifestBytes };
  if (docker) await fsp.writeFile(path.join(dir, `${manifest.digest.slice(7)}.manifest.json`), manifestBytes);
  return { manifest, config, layers, platform };
}

/** Writes the layout's entry point; returns skopeo's name for it. */
async function writeLayout(dir: string, tag: string, top: BuiltBlob & { bytes: Buffer }, docker: boolean): Promise<string> {
  if (docker) {
    await fsp.writeFile(path.join(dir, 'version'), 'Directory Transport Version: 1.1\n');
    await fsp.writeFile(path.join(dir, 'manifest.json'), top.bytes);
    return `dir:${dir}`;
  }
  await fsp.writeFile(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const index = {
    schemaVersion: 2,
    mediaType: OCI.index,
    manifests: [{ mediaType: top.mediaType, digest: top.digest, size: top.size, annotations: { 'org.opencontainers.image.ref.name': tag } }],
  };
  await fsp.writeFile(path.join(dir, 'index.json'), JSON.stringify(index));
  return `oci:${dir}:${tag}`;
}

/** Builds a single-platform image as an OCI layout in `dir` (created), tagged `tag`. */
export async function buildTestImage(dir: string, spec: TestImageSpec, tag = 'latest'): Promise<TestLayout> {
  await fsp.mkdir(dir, { recursive: true });
  const image = await buildImage(dir, spec);
  const source = await writeLayout(dir, tag, image.manifest, spec.format === 'docker');
  return { dir, tag, source, images: [image] };
}

/**
 * Builds a multi-platform image as an OCI layout: the tag names an OCI image index (or, with
 * format 'docker', a Docker manifest list) of one manifest per spec.
 */
export async function buildTestIndex(dir: string, specs: TestImageSpec[], tag = 'latest', format: 'oci' | 'docker' = 'oci'): Promise<TestLayout> {
  await fsp.mkdir(dir, { recursive: true });
  const images: BuiltImage[] = [];
  for (const s of specs) images.push(await buildImage(dir, { ...s, format }));
  const doc = {
    schemaVersion: 2,
    mediaType: format === 'docker' ? DOCKER.list : OCI.index,
    manifests: images.map((i) => ({ mediaType: i.manifest.mediaType, digest: i.manifest.digest, size: i.manifest.size, platform: i.platform })),
  };
  const bytes = Buffer.from(JSON.stringify(doc));
  const index = { ...(await writeBlob(dir, doc.mediaType, bytes, format === 'docker')), bytes };
  const source = await writeLayout(dir, tag, index, format === 'docker');
  return { dir, tag, source, images, index };
}

// ---- skopeo ------------------------------------------------------------------------------------

export interface SkopeoOptions {
  srcTlsVerify?: boolean;
  destTlsVerify?: boolean;
  srcCreds?: string;
  destCreds?: string;
  /** Copy every image of an index (`--all`). */
  all?: boolean;
  /** Keep manifests byte for byte (no conversion, same digests). */
  preserveDigests?: boolean;
  /** `v2s2` or `oci`. */
  format?: string;
}

/** `skopeo copy` between transports (`oci:DIR:TAG`, `docker://HOST/REPO:TAG`, ...). */
export async function skopeoCopy(src: string, dest: string, opts: SkopeoOptions = {}): Promise<void> {
  const args = ['copy', '--quiet', '--retry-times', '0'];
  if (opts.srcTlsVerify !== undefined) args.push(`--src-tls-verify=${opts.srcTlsVerify}`);
  if (opts.destTlsVerify !== undefined) args.push(`--dest-tls-verify=${opts.destTlsVerify}`);
  if (opts.srcCreds) args.push('--src-creds', opts.srcCreds);
  if (opts.destCreds) args.push('--dest-creds', opts.destCreds);
  if (opts.all) args.push('--all');
  if (opts.preserveDigests) args.push('--preserve-digests');
  if (opts.format) args.push('--format', opts.format);
  args.push(src, dest);
  await run('skopeo', args, { timeoutMs: 120_000, env: { HOME: os.tmpdir() } });
}

/** `skopeo inspect` of a `docker://` reference: the raw manifest bytes with `raw`, else skopeo's JSON summary. */
export async function skopeoInspect(ref: string, opts: { tlsVerify?: boolean; creds?: string; raw?: boolean } = {}): Promise<string> {
  const args = ['inspect', '--retry-times', '0'];
  if (opts.tlsVerify !== undefined) args.push(`--tls-verify=${opts.tlsVerify}`);
  if (opts.creds) args.push('--creds', opts.creds);
  if (opts.raw) args.push('--raw');
  args.push(ref);
  const { stdout } = await run('skopeo', args, { timeoutMs: 60_000, env: { HOME: os.tmpdir() } });
  return stdout;
}

/** Pushes a layout built here to a registry under `repo:tag`, byte for byte (same digests). */
export async function pushLayout(
  layout: TestLayout,
  reg: TestRegistry,
  repo: string,
  tag = layout.tag,
  creds?: { user: string; password: string },
): Promise<void> {
  await skopeoCopy(layout.source, `docker://${reg.host}/${repo}:${tag}`, {
    destTlsVerify: false,
    destCreds: creds ? `${creds.user}:${creds.password}` : undefined,
    all: layout.index !== undefined,
    preserveDigests: true,
  });
}
