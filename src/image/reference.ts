// Image references, parsed and normalized the way Docker and containerd read them:
//   busybox                         -> docker.io/library/busybox:latest
//   user/app                        -> docker.io/user/app:latest
//   registry.k8s.io/pause:3.9       -> registry.k8s.io/pause:3.9
//   127.0.0.1:5000/a/b@sha256:...   -> 127.0.0.1:5000/a/b@sha256:...   (no tag added)
// Pure: no I/O.
import { BlockList, isIP } from 'node:net';
import { CribError, quoteUntrusted } from '../util/errors.js';
import type { ImageReference } from './registry/types.js';

export const DOCKER_HUB = 'docker.io';
const DOCKER_HUB_API = 'registry-1.docker.io';
const DOCKER_HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);
const DEFAULT_TAG = 'latest';
const MAX_NAME = 255;

// One repository path component: lowercase alphanumerics joined by '.', '_', '__' or dashes.
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
// A host name (labels of alphanumerics and inner dashes), an IPv4 address, or a bracketed IPv6
// address, with an optional port.
const HOST = /^(?:(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*|\[[0-9a-fA-F:.]+\])(?::[0-9]{1,5})?$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST_SHAPE = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-zA-Z=_-]+$/;
const SHA256_DIGEST = /^sha256:[a-f0-9]{64}$/;

// A reference may come from an archive's JSON: quoted, and cut well past the longest valid one.
const invalid = (ref: string, why: string): CribError => new CribError('InvalidArgument', `invalid image reference ${quoteUntrusted(ref, 512)}: ${why}`);

/** Checks a digest string: only sha256 with 64 lowercase hex digits is accepted. */
export function validateDigest(digest: string): string | undefined {
  if (SHA256_DIGEST.test(digest)) return undefined;
  if (!DIGEST_SHAPE.test(digest)) return `malformed digest ${quoteUntrusted(digest)}`;
  const [algorithm, hex] = digest.split(':') as [string, string];
  if (algorithm !== 'sha256') return `unsupported digest algorithm ${quoteUntrusted(algorithm)} (only sha256 is supported)`;
  return `a sha256 digest is 64 lowercase hex digits, got ${quoteUntrusted(hex)}`;
}

/** True when a first path component names a registry host rather than a Docker Hub namespace. */
function looksLikeHost(first: string): boolean {
  return first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase();
}

/**
 * Parses and normalizes an image reference. Throws CribError('InvalidArgument') naming what is
 * wrong. A reference with neither tag nor digest gets the tag `latest`; one with a digest keeps
 * whatever tag it had (the digest is what gets fetched).
 */
export function parseReference(s: string): ImageReference {
  if (typeof s !== 'string' || s === '') throw invalid(String(s), 'empty');
  // \s matches every character trim() would remove (ECMAScript's WhiteSpace and LineTerminator).
  if (/\s/.test(s)) throw invalid(s, 'contains whitespace');
  if (s.includes('://')) throw invalid(s, 'a reference has no scheme (write host/repository:tag)');

  let rest = s;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    const why = validateDigest(digest);
    if (why) throw invalid(s, why);
  }

  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw invalid(s, `invalid tag ${quoteUntrusted(tag)} (letters, digits, '_', '.', '-'; at most 128; not starting with '.' or '-')`);
  }
  if (rest === '') throw invalid(s, 'no repository name');

  let registry: string;
  let repository: string;
  const slash = rest.indexOf('/');
  if (slash >= 0 && looksLikeHost(rest.slice(0, slash))) {
    registry = rest.slice(0, slash);
    repository = rest.slice(slash + 1);
    if (!HOST.test(registry)) throw invalid(s, `invalid registry host ${quoteUntrusted(registry)}`);
    const port = /:(\d+)$/.exec(registry);
    if (port && Number(port[1]) > 65535) throw invalid(s, `invalid port in ${quoteUntrusted(registry)}`);
  } else {
    registry = DOCKER_HUB;
    repository = rest;
  }
  if (DOCKER_HUB_ALIASES.has(registry.toLowerCase())) {
    registry = DOCKER_HUB;
    if (!repository.includes('/')) repository = `library/${repository}`;
  }

  if (repository === '') throw invalid(s, 'no repository name');
  for (const component of repository.split('/')) {
    if (component === '') throw invalid(s, 'empty path component in repository name');
    if (!COMPONENT.test(component)) {
      const why =
        component !== component.toLowerCase()
          ? 'repository name must be lowercase'
          : `invalid path component ${quoteUntrusted(component)} (lowercase letters and digits, separated by '.', '_', '__' or '-')`;
      throw invalid(s, why);
    }
  }
  if (registry.length + 1 + repository.length > MAX_NAME) throw invalid(s, `name longer than ${MAX_NAME} characters`);

  if (tag === undefined && digest === undefined) tag = DEFAULT_TAG;
  const ref: ImageReference = { registry, repository };
  if (tag !== undefined) ref.tag = tag;
  if (digest !== undefined) ref.digest = digest;
  return ref;
}

/** The full normalized form: `registry/repository[:tag][@digest]`. */
export function formatReference(r: ImageReference): string {
  return `${r.registry}/${r.repository}${r.tag !== undefined ? `:${r.tag}` : ''}${r.digest !== undefined ? `@${r.digest}` : ''}`;
}

/** `registry/repository` without tag or digest. */
export function referenceName(r: ImageReference): string {
  return `${r.registry}/${r.repository}`;
}

/** What to ask the registry's manifests endpoint for: the digest when there is one, else the tag. */
export function manifestReference(r: ImageReference): string {
  return r.digest ?? r.tag ?? DEFAULT_TAG;
}

/** The host that serves a registry's API: docker.io is served by registry-1.docker.io. */
export function registryHost(registry: string): string {
  return DOCKER_HUB_ALIASES.has(registry.toLowerCase()) ? DOCKER_HUB_API : registry;
}

/** Splits `host[:port]` / `[v6][:port]` into the host part (brackets removed) and the port, if any. */
export function splitHostPort(hostport: string): { host: string; port?: string } {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(hostport);
  const [, v6host = '', v6port] = v6 ?? [];
  if (v6) return v6port !== undefined ? { host: v6host, port: v6port } : { host: v6host };
  const colons = hostport.split(':').length - 1;
  if (colons === 1) {
    const [host, port] = hostport.split(':') as [string, string];
    return { host, port };
  }
  return { host: hostport }; // a name, an IPv4 address, or a bare IPv6 address
}

// Loopback as containerd's MatchLocalhost has it (Go's net.IP.IsLoopback): 127.0.0.0/8, ::1 and
// 127.0.0.0/8 mapped into IPv6 (BlockList matches an IPv4-mapped address against the IPv4 rule).
const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/**
 * localhost or a loopback address, with an optional port: a registry that may be reached over plain
 * HTTP. Only what names loopback wherever it is resolved: an address in the form Go's ParseIP and
 * Node's isIP accept (no leading zeros: the resolver reads `0127.0.0.1` as octal 87.0.0.1 and sends
 * `127.0.0.08` to DNS) and `localhost` itself (not `localhost.`, which also goes to DNS).
 */
export function isLoopbackHost(hostport: string): boolean {
  const { host } = splitHostPort(hostport.trim());
  const h = host.toLowerCase();
  if (h === 'localhost') return true;
  const family = isIP(h);
  return family !== 0 && LOOPBACK.check(h, family === 4 ? 'ipv4' : 'ipv6');
}
