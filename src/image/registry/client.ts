// The registry client: resolves references to manifests and moves blobs, over the OCI
// distribution API (Docker registry v2), through mirrors, with anonymous, Basic and Bearer auth.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { CribError, errorMessage, quoteUntrusted } from '../../util/errors.js';
import { parseUntrustedJson } from '../../util/json.js';
import { log } from '../../util/log.js';
import { cribVersion } from '../../version.js';
import { MAX_CONFIG_BYTES, MAX_ERROR_BODY_BYTES, MAX_MANIFEST_BYTES, MAX_TOKEN_BODY_BYTES } from '../limits.js';
import { MANIFEST_ACCEPT, parseManifestOrIndex, selectPlatform } from '../manifest.js';
import { formatReference, isLoopbackHost, manifestReference, parseReference, referenceName, registryHost } from '../reference.js';
import {
  basicAuthorization,
  credentialsKey,
  noCredentials,
  parseTokenResponse,
  parseWwwAuthenticate,
  repositoryScope,
  TokenCache,
  userPassword,
  type Challenge,
  type TokenResponse,
} from './auth.js';
import {
  discard,
  HttpTransport,
  isPlainHttpAnswer,
  isTlsFailure,
  NetworkError,
  readBody,
  SYSTEM_CA_FILE,
  type HttpRequest,
  type HttpResponse,
} from './http.js';
import type { Credentials, Descriptor, ImageReference, Platform, Progress, RegistryConfig, ResolvedManifest } from './types.js';

export interface RegistryClientOptions {
  /** Idle limit for connecting, waiting for an answer, and between chunks of a body (default 30 s). */
  timeoutMs?: number;
  userAgent?: string;
  /** The system CA bundle (default Debian's /etc/ssl/certs/ca-certificates.crt). */
  systemCaFile?: string;
}

/** Where one reference can be served from: a mirror, or the registry itself. */
interface Endpoint {
  /** Scheme, host and optional path prefix, without `/v2`. */
  base: URL;
  mirror: boolean;
  /** No scheme was configured and the host is loopback or insecure: HTTPS may fall back to HTTP. */
  httpFallback: boolean;
  /** How messages name it. */
  label: string;
}

const PROGRESS_INTERVAL_MS = 100;

export const sha256Hex = (data: Buffer): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;

/** Reads `{"errors":[{"code","message"}]}` bodies into "CODE: message; ...". */
function registryErrorDetail(body: Buffer): string {
  try {
    const doc = parseUntrustedJson(body, 'registry error') as { errors?: { code?: unknown; message?: unknown }[] };
    if (Array.isArray(doc.errors) && doc.errors.length) {
      return doc.errors
        .map((e) => [e.code, e.message].filter((x) => typeof x === 'string' && x).join(': '))
        .filter(Boolean)
        .join('; ');
    }
  } catch {
    /* not the registry's JSON: fall through */
  }
  const text = body.toString('utf8').trim();
  return text.length > 200 || /[<>]/.test(text) ? '' : text;
}

const toRef = (r: ImageReference | string): ImageReference => (typeof r === 'string' ? parseReference(r) : r);

/**
 * A client of OCI distribution registries (Docker registry API v2).
 *
 * - Endpoints: for each reference the mirrors configured for its registry are tried first, in
 *   order, falling through on any error (including 404); then the registry itself (docker.io is
 *   served by registry-1.docker.io). Pushes go to the registry only.
 * - HTTPS verifies against the system CAs plus `caFiles`; hosts listed in `insecure` are not
 *   verified. Hosts given without a scheme that are loopback or insecure fall back to plain HTTP
 *   when the server does not speak TLS (insecure hosts: when the TLS handshake fails at all).
 * - Auth: anonymous first; a 401 challenge selects Bearer (token from the realm, cached per
 *   endpoint, scope and identity until it expires) or Basic. A `registryToken` is sent as the
 *   bearer directly.
 *
 * Errors are CribError: NotFound (repository, tag, manifest or blob missing), Unauthenticated
 * with a message starting "unauthorized:" (authentication or authorization failed), InvalidArgument
 * (malformed reference or credentials; manifests that are malformed or larger than crib takes,
 * configs said to be larger), Internal (content that does not match its digest or size),
 * Unavailable (network, TLS, timeouts, 5xx, 429; size mismatches caused by a connection cut
 * short), Unimplemented (schema 1 manifests).
 */
export class RegistryClient {
  private readonly transport: HttpTransport;
  private readonly tokens = new TokenCache();
  private readonly pendingTokens = new Map<string, Promise<TokenResponse>>();
  /** The auth challenge each endpoint (origin) last answered with. */
  private readonly challenges = new Map<string, Challenge>();
  /** Endpoint hosts found to speak plain HTTP. */
  private readonly plainHttp = new Set<string>();

  constructor(
    private readonly config: RegistryConfig,
    opts: RegistryClientOptions = {},
  ) {
    this.transport = new HttpTransport({
      caFiles: config.caFiles ?? [],
      insecure: config.insecure ?? [],
      timeoutMs: opts.timeoutMs ?? 30_000,
      userAgent: opts.userAgent ?? `crib/${cribVersion}`,
      systemCaFile: opts.systemCaFile ?? SYSTEM_CA_FILE,
    });
  }

  /** Destroys every connection the client holds; the client cannot be used afterwards. */
  close(): void {
    this.transport.close();
    this.tokens.clear();
  }

  /**
   * Resolves a reference to a single-platform manifest: fetches it (by digest when the reference
   * has one, else by tag), and when it is an index or manifest list picks `platform` (default:
   * this machine's) and fetches that manifest. Every manifest's sha256 is checked against the
   * reference's digest, the index entry, or the Docker-Content-Digest header.
   */
  async resolve(reference: ImageReference | string, creds?: Credentials, platform?: Platform): Promise<ResolvedManifest> {
    const ref = toRef(reference);
    return this.withEndpoints(ref, true, async (ep) => {
      const top = await this.getManifest(ep, ref, manifestReference(ref), creds, ref.digest);
      const parsed = parseManifestOrIndex(top.bytes, top.contentType);
      if (parsed.kind === 'manifest') {
        return { digest: top.digest, manifestDigest: top.digest, bytes: top.bytes, manifest: parsed.manifest };
      }
      const desc = selectPlatform(parsed.index, platform);
      const child = await this.getManifest(ep, ref, desc.digest, creds, desc.digest, desc.size);
      const inner = parseManifestOrIndex(child.bytes, child.contentType ?? desc.mediaType);
      if (inner.kind !== 'manifest') {
        throw new CribError('InvalidArgument', `invalid manifest: ${desc.digest} in the index of ${formatReference(ref)} is an index itself`);
      }
      return { digest: top.digest, manifestDigest: child.digest, bytes: child.bytes, manifest: inner.manifest };
    });
  }

  /**
   * Streams a blob into `destFile` (created or truncated), checking its size and sha256 on the
   * way; on any failure destFile is removed. Redirects to storage hosts are followed without the
   * registry's Authorization. `onProgress` is called at most every 100 ms and once at the end.
   */
  async fetchBlob(
    reference: ImageReference | string,
    desc: Descriptor,
    destFile: string,
    creds?: Credentials,
    onProgress?: (p: Progress) => void,
  ): Promise<void> {
    const ref = toRef(reference);
    await this.withEndpoints(ref, true, async (ep) => {
      const res = await this.authed(ep, ref, false, creds, { method: 'GET', url: this.apiUrl(ep, `${ref.repository}/blobs/${desc.digest}`) });
      if (res.status !== 200) await this.failure(ep, ref, res, `blob ${desc.digest} of ${referenceName(ref)}`);
      await streamToFile(res, desc, destFile, onProgress);
    });
  }

  /**
   * Fetches the image config into memory, checking its size and sha256. Its size is the
   * manifest's word, so a config said to be larger than MAX_CONFIG_BYTES is refused unfetched.
   */
  async fetchConfig(reference: ImageReference | string, desc: Descriptor, creds?: Credentials): Promise<Buffer> {
    const ref = toRef(reference);
    if (desc.size > MAX_CONFIG_BYTES) {
      throw new CribError(
        'InvalidArgument',
        `image config ${desc.digest} of ${formatReference(ref)} is ${desc.size} bytes, more than the ${MAX_CONFIG_BYTES} crib takes`,
      );
    }
    return this.withEndpoints(ref, true, async (ep) => {
      const res = await this.authed(ep, ref, false, creds, { method: 'GET', url: this.apiUrl(ep, `${ref.repository}/blobs/${desc.digest}`) });
      if (res.status !== 200) await this.failure(ep, ref, res, `blob ${desc.digest} of ${referenceName(ref)}`);
      const bytes = await readBody(
        res,
        desc.size,
        () => new CribError('Internal', `size mismatch: blob ${desc.digest} from ${ep.label} is larger than ${desc.size} bytes`),
      );
      if (bytes.length !== desc.size) {
        throw new CribError('Internal', `size mismatch: blob ${desc.digest} from ${ep.label} has ${bytes.length} bytes, expected ${desc.size}`);
      }
      const got = sha256Hex(bytes);
      if (got !== desc.digest) throw new CribError('Internal', `digest mismatch: blob ${desc.digest} from ${ep.label} has digest ${got}`);
      return bytes;
    });
  }

  /**
   * Uploads a blob from a file unless the repository has it already (HEAD): POST starts an
   * upload, one PUT with the digest completes it. The registry checks the digest.
   */
  async pushBlob(reference: ImageReference | string, desc: Descriptor, sourceFile: string, creds?: Credentials): Promise<void> {
    const ref = toRef(reference);
    const ep = this.registryEndpoint(ref);
    const st = await fsp.stat(sourceFile);
    if (st.size !== desc.size) {
      throw new CribError('InvalidArgument', `size mismatch: ${sourceFile} has ${st.size} bytes, the descriptor of ${desc.digest} says ${desc.size}`);
    }
    const what = `blob ${desc.digest} of ${referenceName(ref)}`;
    const head = await this.authed(ep, ref, true, creds, { method: 'HEAD', url: this.apiUrl(ep, `${ref.repository}/blobs/${desc.digest}`) });
    if (head.status === 200) {
      discard(head);
      return;
    }
    if (head.status !== 404) await this.failure(ep, ref, head, what);
    discard(head);

    const post = await this.authed(ep, ref, true, creds, {
      method: 'POST',
      url: this.apiUrl(ep, `${ref.repository}/blobs/uploads/`),
      followRedirects: false,
    });
    if (post.status !== 202) await this.failure(ep, ref, post, `upload of ${what}`);
    discard(post);
    const location = post.headers.location;
    if (!location) throw new CribError('Internal', `${ep.label} started an upload of ${what} without a Location`);
    const put = new URL(location, post.url);
    put.searchParams.set('digest', desc.digest);
    const res = await this.authed(ep, ref, true, creds, {
      method: 'PUT',
      url: put,
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(desc.size) },
      body: () => fs.createReadStream(sourceFile),
      followRedirects: false,
    });
    if (res.status !== 201) await this.failure(ep, ref, res, `upload of ${what}`);
    discard(res);
  }

  /**
   * Uploads a manifest (or index) under the reference's tag, or its digest when it has no tag.
   * Returns the manifest's digest. A reference digest that does not match the bytes is refused.
   */
  async pushManifest(reference: ImageReference | string, bytes: Buffer, mediaType: string, creds?: Credentials): Promise<string> {
    const ref = toRef(reference);
    const digest = sha256Hex(bytes);
    if (ref.digest && ref.digest !== digest) {
      throw new CribError('InvalidArgument', `digest mismatch: the manifest has digest ${digest}, the reference says ${ref.digest}`);
    }
    const ep = this.registryEndpoint(ref);
    const target = ref.tag ?? digest;
    const res = await this.authed(ep, ref, true, creds, {
      method: 'PUT',
      url: this.apiUrl(ep, `${ref.repository}/manifests/${target}`),
      headers: { 'content-type': mediaType },
      body: () => bytes,
      followRedirects: false,
    });
    if (res.status !== 201) await this.failure(ep, ref, res, `manifest ${formatReference(ref)}`);
    discard(res);
    const header = res.headers['docker-content-digest'];
    if (typeof header === 'string' && header.startsWith('sha256:') && header !== digest) {
      throw new CribError('Internal', `digest mismatch: ${ep.label} stored the manifest as ${header}, its digest is ${digest}`);
    }
    return digest;
  }

  // ---- endpoints --------------------------------------------------------------------------

  /** The mirrors of the reference's registry (when asked for), then the registry itself. */
  private endpoints(ref: ImageReference, withMirrors: boolean): Endpoint[] {
    const mirrors = withMirrors ? (this.config.mirrors?.[ref.registry] ?? []).map((m) => this.endpoint(m, true, ref.registry)) : [];
    return [...mirrors, this.registryEndpoint(ref)];
  }

  /** The registry itself (pushes never go to a mirror). */
  private registryEndpoint(ref: ImageReference): Endpoint {
    return this.endpoint(registryHost(ref.registry), false, ref.registry);
  }

  private endpoint(spec: string, mirror: boolean, registry: string): Endpoint {
    const explicit = /^[a-z][a-z0-9+.-]*:\/\//i.test(spec);
    let base: URL;
    try {
      base = new URL(explicit ? spec : `https://${spec}`);
    } catch {
      throw new CribError('FailedPrecondition', `registry mirror ${JSON.stringify(spec)} for ${registry} is not a valid URL`);
    }
    if (base.protocol !== 'https:' && base.protocol !== 'http:') {
      throw new CribError('FailedPrecondition', `registry mirror ${JSON.stringify(spec)} for ${registry}: only http and https are supported`);
    }
    base.pathname = base.pathname.replace(/\/+$/, '').replace(/\/v2$/, '');
    base.search = '';
    base.hash = '';
    const httpFallback = !explicit && (isLoopbackHost(base.host) || this.transport.skipsVerify(base.host));
    const label = mirror ? `mirror ${base.host} of ${registry}` : registry;
    return { base, mirror, httpFallback, label };
  }

  private apiUrl(ep: Endpoint, path: string): URL {
    return new URL(`${ep.base.href.replace(/\/+$/, '')}/v2/${path}`);
  }

  /** Runs `fn` on each endpoint in turn until one succeeds; the last endpoint's error is thrown, naming what the mirrors said. */
  private async withEndpoints<T>(ref: ImageReference, withMirrors: boolean, fn: (ep: Endpoint) => Promise<T>): Promise<T> {
    const eps = this.endpoints(ref, withMirrors);
    const notes: string[] = [];
    for (const [i, ep] of eps.entries()) {
      try {
        return await fn(ep);
      } catch (err) {
        if (i === eps.length - 1) {
          if (notes.length && err instanceof CribError) {
            throw new CribError(err.kind, `${err.message} (tried first: ${notes.join('; ')})`, { cause: err });
          }
          throw err;
        }
        log.debug('registry endpoint failed, trying the next', { endpoint: ep.base.href, error: err });
        notes.push(errorMessage(err));
      }
    }
    throw new Error('no registry endpoint'); // endpoints() always holds the registry itself
  }

  // ---- requests, TLS fallback and auth -----------------------------------------------------

  /** Sends a request to an endpoint, dropping to plain HTTP where that is allowed and needed. */
  private async send(ep: Endpoint, req: HttpRequest): Promise<HttpResponse> {
    const url = new URL(req.url);
    const own = url.host === ep.base.host;
    if (own && ep.httpFallback && url.protocol === 'https:' && this.plainHttp.has(url.host)) url.protocol = 'http:';
    try {
      return await this.transport.request({ ...req, url });
    } catch (err) {
      if (!own || !ep.httpFallback || url.protocol !== 'https:') throw err;
      const insecure = this.transport.skipsVerify(url.host);
      if (!(insecure ? isTlsFailure(err) : isPlainHttpAnswer(err))) throw err;
      const plain = new URL(url);
      plain.protocol = 'http:';
      log.debug('registry: HTTPS failed, trying plain HTTP', { host: url.host, error: err });
      try {
        const res = await this.transport.request({ ...req, url: plain });
        this.plainHttp.add(url.host);
        return res;
      } catch (err2) {
        if (isPlainHttpAnswer(err) || !(err2 instanceof NetworkError)) throw err2;
        throw new NetworkError(plain, err2.code, `${errorMessage(err)}; over plain HTTP: ${errorMessage(err2)}`, err2);
      }
    }
  }

  /** Sends a request with whatever authorization the endpoint wants, answering one 401 challenge. */
  private async authed(ep: Endpoint, ref: ImageReference, push: boolean, creds: Credentials | undefined, req: HttpRequest): Promise<HttpResponse> {
    const scope = repositoryScope(ref.repository, push);
    const withAuth = (header: string | undefined): HttpRequest => {
      const headers = { ...req.headers };
      if (header && req.url.host === ep.base.host) headers.authorization = header;
      return { ...req, headers };
    };
    const first = await this.authorization(ep, ref, scope, creds);
    let res = await this.send(ep, withAuth(first.header));
    if (res.status !== 401) return res;

    const raw = res.headers['www-authenticate'];
    const detail = registryErrorDetail(await readBody(res, MAX_ERROR_BODY_BYTES).catch(() => Buffer.alloc(0)));
    const challenges = parseWwwAuthenticate(Array.isArray(raw) ? raw.join(', ') : (raw ?? ''));
    const ch = challenges.find((c) => c.scheme === 'bearer') ?? challenges.find((c) => c.scheme === 'basic');
    if (!ch) throw this.unauthorized(ep, ref, push, creds, `answered 401 without a Bearer or Basic challenge${detail ? ` (${detail})` : ''}`);
    this.challenges.set(ep.base.origin, ch);
    if (first.fresh) {
      // Credentials just accepted by the token server, or sent as Basic, were refused. A Bearer
      // challenge asking for more scope than the token had is worth one more token.
      const wants = (ch.params.scope ?? '').split(' ').filter(Boolean);
      const more = ch.scheme === 'bearer' && first.kind === 'bearer' && wants.some((s) => s !== scope);
      if (!more) throw this.unauthorized(ep, ref, push, creds, detail, first.kind);
    }
    const second = await this.authorization(ep, ref, scope, creds, ch);
    if (!second.header) throw this.unauthorized(ep, ref, push, creds, detail);
    res = await this.send(ep, withAuth(second.header));
    if (res.status === 401) {
      const d = registryErrorDetail(await readBody(res, MAX_ERROR_BODY_BYTES).catch(() => Buffer.alloc(0)));
      throw this.unauthorized(ep, ref, push, creds, d, second.kind);
    }
    return res;
  }

  /**
   * The Authorization header for a request: none until the endpoint has challenged; with a
   * challenge given (just received) a fresh token or the Basic credentials.
   */
  private async authorization(
    ep: Endpoint,
    ref: ImageReference,
    scope: string,
    creds: Credentials | undefined,
    challenge?: Challenge,
  ): Promise<{ header?: string; fresh: boolean; kind?: 'bearer' | 'basic' | 'token' }> {
    if (creds?.registryToken) return { header: `Bearer ${creds.registryToken}`, fresh: true, kind: 'token' };
    const ch = challenge ?? this.challenges.get(ep.base.origin);
    if (!ch) return { fresh: false };
    if (ch.scheme === 'basic') {
      const up = userPassword(creds);
      return up ? { header: basicAuthorization(up), fresh: true, kind: 'basic' } : { fresh: false };
    }
    if (ch.scheme !== 'bearer') return { fresh: false };
    const key = `${ep.base.origin}|${scope}|${credentialsKey(creds)}`;
    if (!challenge) {
      const cached = this.tokens.get(key);
      if (cached) return { header: `Bearer ${cached}`, fresh: false, kind: 'bearer' };
    }
    let pending = this.pendingTokens.get(key);
    if (!pending) {
      pending = this.fetchToken(ep, ref, ch, scope, creds).finally(() => this.pendingTokens.delete(key));
      this.pendingTokens.set(key, pending);
    }
    const t = await pending;
    this.tokens.set(key, t.token, t.expiresIn);
    return { header: `Bearer ${t.token}`, fresh: true, kind: 'bearer' };
  }

  /** Asks a Bearer challenge's realm for a token: GET with Basic credentials, or POST with a refresh token. */
  private async fetchToken(ep: Endpoint, ref: ImageReference, ch: Challenge, scope: string, creds: Credentials | undefined): Promise<TokenResponse> {
    const realm = ch.params.realm;
    let url: URL;
    try {
      url = new URL(realm ?? '');
      if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error('not http(s)');
    } catch {
      throw new CribError('Unavailable', `${ep.label} sent a Bearer challenge without a usable realm (${quoteUntrusted(realm ?? '')})`);
    }
    const up = userPassword(creds);
    if (url.protocol === 'http:' && (up || creds?.identityToken) && !this.mayCarryCredentials(ep, url)) {
      throw new CribError(
        'Unauthenticated',
        `unauthorized: ${ep.label} names the token server ${quoteUntrusted(`${url.origin}${url.pathname}`)}, which is plain HTTP: crib does not send credentials there in clear (list ${ep.base.host} in registries.insecure to allow it)`,
      );
    }
    const scopes = [...new Set([scope, ...(ch.params.scope ?? '').split(' ').filter(Boolean)])];
    const service = ch.params.service;
    let req: HttpRequest;
    if (creds?.identityToken) {
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: creds.identityToken, client_id: 'crib' });
      if (service) form.set('service', service);
      form.set('scope', scopes.join(' '));
      const body = Buffer.from(form.toString());
      req = { method: 'POST', url, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: () => body };
    } else {
      if (service) url.searchParams.set('service', service);
      for (const s of scopes) url.searchParams.append('scope', s);
      if (up) url.searchParams.set('account', up.username);
      req = { method: 'GET', url, headers: up ? { authorization: basicAuthorization(up) } : {} };
    }
    const res = await this.transport.request(req);
    if (res.status === 401 || res.status === 403) {
      const detail = registryErrorDetail(await readBody(res, MAX_ERROR_BODY_BYTES).catch(() => Buffer.alloc(0)));
      const push = scope.endsWith(',push');
      throw this.unauthorized(ep, ref, push, creds, `token server ${url.host} answered ${res.status}${detail ? `: ${detail}` : ''}`, 'basic');
    }
    if (res.status < 200 || res.status > 299) {
      const detail = registryErrorDetail(await readBody(res, MAX_ERROR_BODY_BYTES).catch(() => Buffer.alloc(0)));
      throw new CribError('Unavailable', `token server ${url.host} for ${ep.label} answered ${res.status}${detail ? `: ${detail}` : ''}`);
    }
    return parseTokenResponse(await readBody(res, MAX_TOKEN_BODY_BYTES));
  }

  /**
   * Whether credentials may go to a plain-HTTP token realm: when they stay on this machine (a
   * loopback realm), or when the registry or the realm host is listed insecure (the operator took
   * plain HTTP there). A realm is the registry's word, and a registry must not be able to make
   * crib send a user's password across the network in clear.
   */
  private mayCarryCredentials(ep: Endpoint, realm: URL): boolean {
    return isLoopbackHost(realm.host) || this.transport.skipsVerify(ep.base.host) || this.transport.skipsVerify(realm.host);
  }

  /** "unauthorized: ..." (CribError Unauthenticated), worded by what was tried. */
  private unauthorized(
    ep: Endpoint,
    ref: ImageReference,
    push: boolean,
    creds: Credentials | undefined,
    detail: string,
    rejected?: 'bearer' | 'basic' | 'token',
  ): CribError {
    const action = push ? 'push to' : 'pull';
    const repo = referenceName(ref);
    const tail = detail ? ` (${detail})` : '';
    let msg: string;
    if (noCredentials(creds) && rejected === 'bearer') {
      msg = `unauthorized: ${ep.label} denied anonymous access to ${action} ${repo}: the repository may not exist or may need credentials${tail}`;
    } else if (noCredentials(creds)) {
      msg = `unauthorized: ${ep.label} requires authentication to ${action} ${repo} (no credentials given)${tail}`;
    } else if (rejected === 'bearer') {
      msg = `unauthorized: ${ep.label} denied access to ${action} ${repo}: the repository may not exist or the credentials may not grant access${tail}`;
    } else if (rejected === 'token') {
      msg = `unauthorized: ${ep.label} rejected the registry token for ${repo}${tail}`;
    } else {
      let user = '';
      try {
        user = userPassword(creds)?.username ?? '';
      } catch {
        /* malformed auth: the generic wording does */
      }
      msg = `unauthorized: ${ep.label} rejected the credentials${user ? ` of user ${JSON.stringify(user)}` : ''} to ${action} ${repo}${tail}`;
    }
    return new CribError('Unauthenticated', msg);
  }

  /** Turns an unexpected answer into the CribError it means. */
  private async failure(ep: Endpoint, ref: ImageReference, res: HttpResponse, what: string): Promise<never> {
    // An answer from the host a redirect led to is not the registry's: it may be any service the
    // registry chose to point cribd at (one on the node's loopback, a cloud metadata endpoint), and
    // its words must not reach the caller's error (kubelet shows it in the pod's events).
    const own = res.url.host === ep.base.host;
    const detail = own ? registryErrorDetail(await readBody(res, MAX_ERROR_BODY_BYTES).catch(() => Buffer.alloc(0))) : (discard(res), '');
    const tail = detail ? `: ${detail}` : '';
    const s = res.status;
    if (s === 404) throw new CribError('NotFound', `${what} not found on ${ep.label}${tail}`);
    if (s === 403) throw new CribError('Unauthenticated', `unauthorized: ${ep.label} denied access to ${referenceName(ref)}${tail}`);
    if (s === 429) throw new CribError('Unavailable', `${ep.label}: too many requests${tail}`);
    if (s >= 500) throw new CribError('Unavailable', `${ep.label} answered ${s} for ${what}${tail}`);
    throw new CribError('Internal', `${ep.label} answered ${s} for ${what}${tail}`);
  }

  /** GETs a manifest and checks its digest (and size, when known). */
  private async getManifest(
    ep: Endpoint,
    ref: ImageReference,
    reference: string,
    creds: Credentials | undefined,
    expectDigest?: string,
    expectSize?: number,
  ): Promise<{ bytes: Buffer; digest: string; contentType?: string }> {
    const res = await this.authed(ep, ref, false, creds, {
      method: 'GET',
      url: this.apiUrl(ep, `${ref.repository}/manifests/${reference}`),
      headers: { accept: MANIFEST_ACCEPT },
    });
    const what = reference === manifestReference(ref) ? formatReference(ref) : `manifest ${reference} of ${referenceName(ref)}`;
    if (res.status !== 200) await this.failure(ep, ref, res, what);
    const bytes = await readBody(
      res,
      MAX_MANIFEST_BYTES,
      () => new CribError('InvalidArgument', `${what} from ${ep.label} is larger than the ${MAX_MANIFEST_BYTES} bytes crib takes`),
    );
    const digest = sha256Hex(bytes);
    if (expectDigest && digest !== expectDigest) {
      throw new CribError('Internal', `digest mismatch: ${what} from ${ep.label} has digest ${digest}, expected ${expectDigest}`);
    }
    const header = res.headers['docker-content-digest'];
    if (typeof header === 'string' && header.startsWith('sha256:') && header !== digest) {
      throw new CribError('Internal', `digest mismatch: ${what} from ${ep.label} has digest ${digest}, the registry says ${header}`);
    }
    if (expectSize !== undefined && bytes.length !== expectSize) {
      throw new CribError('Internal', `size mismatch: ${what} from ${ep.label} has ${bytes.length} bytes, expected ${expectSize}`);
    }
    const contentType = res.headers['content-type'];
    return contentType ? { bytes, digest, contentType } : { bytes, digest };
  }
}

/** Writes a blob response to a file, checking size and digest; removes the file on any failure. */
async function streamToFile(res: HttpResponse, desc: Descriptor, destFile: string, onProgress?: (p: Progress) => void): Promise<void> {
  const announced = res.headers['content-length'];
  if (announced !== undefined && Number(announced) !== desc.size) {
    res.body.destroy();
    await fsp.rm(destFile, { force: true });
    throw new CribError('Internal', `size mismatch: ${res.url.host} sends ${announced} bytes for blob ${desc.digest}, expected ${desc.size}`);
  }
  const fh = await fsp.open(destFile, 'w', 0o644);
  let open = true;
  const hash = createHash('sha256');
  let done = 0;
  let last = Date.now();
  try {
    try {
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        done += chunk.length;
        if (done > desc.size) {
          throw new CribError('Internal', `size mismatch: blob ${desc.digest} from ${res.url.host} is longer than ${desc.size} bytes`);
        }
        hash.update(chunk);
        for (let off = 0; off < chunk.length;) off += (await fh.write(chunk, off, chunk.length - off)).bytesWritten;
        if (onProgress && Date.now() - last >= PROGRESS_INTERVAL_MS) {
          last = Date.now();
          onProgress({ digest: desc.digest, done, total: desc.size });
        }
      }
    } catch (err) {
      if (err instanceof CribError) throw err;
      throw new NetworkError(
        res.url,
        (err as NodeJS.ErrnoException).code,
        `size mismatch: blob ${desc.digest} from ${res.url.host} ended after ${done} of ${desc.size} bytes (${errorMessage(err)})`,
        err,
      );
    }
    if (done !== desc.size) {
      throw new CribError('Internal', `size mismatch: blob ${desc.digest} from ${res.url.host} has ${done} bytes, expected ${desc.size}`);
    }
    const got = `sha256:${hash.digest('hex')}`;
    if (got !== desc.digest) throw new CribError('Internal', `digest mismatch: blob ${desc.digest} from ${res.url.host} has digest ${got}`);
    await fh.sync();
    open = false;
    await fh.close();
    onProgress?.({ digest: desc.digest, done, total: desc.size });
  } catch (err) {
    res.body.destroy();
    if (open) await fh.close().catch(() => {});
    await fsp.rm(destFile, { force: true });
    throw err;
  }
}
