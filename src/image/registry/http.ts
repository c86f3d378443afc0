// HTTP(S) for the registry client: one keep-alive agent per trust setting, the system CAs plus
// configured ones, idle timeouts, redirects (dropping Authorization across hosts), and network
// errors turned into CribError('Unavailable') that say what failed.
import fs from 'node:fs';
import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import type { Readable } from 'node:stream';
import { CribError, errorMessage } from '../../util/errors.js';
import { log } from '../../util/log.js';

export const SYSTEM_CA_FILE = '/etc/ssl/certs/ca-certificates.crt';

export interface TransportOptions {
  /** PEM files trusted in addition to the system CAs. */
  caFiles: string[];
  /** Hosts (`host` or `host:port`) whose HTTPS certificates are not verified. */
  insecure: string[];
  /** Idle limit on connecting, waiting for an answer and between body chunks. */
  timeoutMs: number;
  userAgent: string;
  /** The system CA bundle (Debian's). When missing, Node's bundled CAs are used instead. */
  systemCaFile: string;
}

export interface HttpRequest {
  method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: URL;
  headers?: Record<string, string>;
  /** Made anew for each attempt, so a request can be sent again (after a 401 or a redirect). */
  body?: () => Buffer | Readable;
  /** Follow 301/302/303/307/308 (default: for GET and HEAD). */
  followRedirects?: boolean;
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** The URL that answered (after redirects). */
  url: URL;
  body: IncomingMessage;
}

const MAX_REDIRECTS = 10;

/** The error a failed connection or exchange produced, with the URL it was for. */
export class NetworkError extends CribError {
  constructor(
    readonly url: URL,
    readonly code: string | undefined,
    message: string,
    cause: unknown,
    /** The connection was up but its TLS handshake had not completed. */
    readonly duringHandshake = false,
  ) {
    super('Unavailable', message, { cause });
  }
}

const CERT_CODES = /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ALTNAME|INVALID_CA|PATH_LENGTH|INVALID_PURPOSE/;

/** A certificate the client did not trust (unknown CA, wrong name, expired). */
export function isCertificateError(err: unknown): boolean {
  const code = err instanceof NetworkError ? err.code : (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' && CERT_CODES.test(code);
}

/** The TLS hello was answered by something that is not TLS (a plain HTTP server). */
export function isPlainHttpAnswer(err: unknown): boolean {
  const e = err instanceof NetworkError ? (err.cause as NodeJS.ErrnoException | undefined) : (err as NodeJS.ErrnoException | undefined);
  if (!e) return false;
  if (e.code === 'ERR_SSL_WRONG_VERSION_NUMBER' || e.code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG' || e.code === 'ERR_SSL_HTTP_REQUEST') return true;
  return e.code === 'EPROTO' && /wrong version number|packet length too long|http request/i.test(e.message);
}

/** Any failure of the TLS handshake (protocol, certificate, or the peer hanging up during it). */
export function isTlsFailure(err: unknown): boolean {
  if (!(err instanceof NetworkError)) return false;
  return isCertificateError(err) || isPlainHttpAnswer(err) || err.code === 'EPROTO' || (err.code ?? '').startsWith('ERR_SSL_') || err.duringHandshake;
}

function hostMatches(list: readonly string[], hostport: string): boolean {
  const host = hostport.replace(/:\d+$/, '');
  return list.some((h) => h === hostport || h === host);
}

/** The extra CA files, read at start: an unreadable one fails loudly then, not at every pull later. */
function readCaFiles(files: readonly string[]): string[] {
  return files.map((f) => {
    try {
      return fs.readFileSync(f, 'utf8');
    } catch (err) {
      throw new CribError('FailedPrecondition', `registry CA file ${f}: ${errorMessage(err)}`, { cause: err });
    }
  });
}

/** The system's CA bundle, or Node's bundled CAs when it cannot be read. */
function systemCas(file: string): string[] {
  try {
    return [fs.readFileSync(file, 'utf8')];
  } catch {
    log.once(`system-ca-${file}`, 'warn', "system CA bundle not readable; using Node's bundled CAs", { file });
    return [...tls.rootCertificates];
  }
}

const AGENT_OPTIONS = { keepAlive: true, maxSockets: 16, maxFreeSockets: 4, scheduling: 'lifo' as const };

/** HTTP and HTTPS with crib's trust settings. close() destroys every socket it holds. */
export class HttpTransport {
  private readonly httpAgent = new http.Agent(AGENT_OPTIONS);
  private readonly insecureAgent = new https.Agent({ ...AGENT_OPTIONS, rejectUnauthorized: false });
  private verifyingAgent: https.Agent | undefined;
  private readonly extraCas: string[];
  private closed = false;

  constructor(private readonly opts: TransportOptions) {
    this.extraCas = readCaFiles(opts.caFiles);
  }

  /**
   * The verifying agent, made at the first HTTPS request: the system's CAs parsed into a secure
   * context hold about 1 MiB, which a cribd that never pulls over HTTPS need not.
   */
  private get httpsAgent(): https.Agent {
    this.verifyingAgent ??= new https.Agent({
      ...AGENT_OPTIONS,
      secureContext: tls.createSecureContext({ ca: [...systemCas(this.opts.systemCaFile), ...this.extraCas] }),
    });
    return this.verifyingAgent;
  }

  /** True when the host's certificates are not verified (it is listed in `insecure`). */
  skipsVerify(hostport: string): boolean {
    return hostMatches(this.opts.insecure, hostport);
  }

  /**
   * Sends one request, following redirects when asked. The response body must be consumed
   * (readBody) or discarded (discard). Connection failures and timeouts throw NetworkError.
   */
  async request(req: HttpRequest): Promise<HttpResponse> {
    if (this.closed) throw new CribError('Unavailable', 'registry client is closed');
    const follow = req.followRedirects ?? (req.method === 'GET' || req.method === 'HEAD');
    let url = req.url;
    let method = req.method;
    let headers = { ...req.headers };
    let body = req.body;
    for (let hop = 0; ; hop++) {
      const res = await this.once(method, url, headers, body);
      const location = res.headers.location;
      if (!follow || ![301, 302, 303, 307, 308].includes(res.status) || !location) return res;
      discard(res);
      if (hop >= MAX_REDIRECTS) throw new CribError('Unavailable', `too many redirects from ${req.url.origin}${req.url.pathname}`);
      const next = new URL(location, url);
      if (next.protocol !== 'http:' && next.protocol !== 'https:') {
        throw new CribError('Unavailable', `${url.host} redirected to an unsupported URL scheme ${next.protocol}`);
      }
      if (next.host !== url.host || next.protocol !== url.protocol) {
        // Credentials are for the registry, never for the storage it sends us to.
        const { authorization: _drop, Authorization: _drop2, ...rest } = headers;
        headers = rest;
      }
      if (res.status === 303 && method !== 'HEAD') {
        method = 'GET';
        body = undefined;
      }
      log.debug('registry redirect', { from: url.host, to: next.host, status: res.status });
      url = next;
    }
  }

  private once(method: string, url: URL, headers: Record<string, string>, body: (() => Buffer | Readable) | undefined): Promise<HttpResponse> {
    const isHttps = url.protocol === 'https:';
    const agent = isHttps ? (this.skipsVerify(url.host) ? this.insecureAgent : this.httpsAgent) : this.httpAgent;
    const mod = isHttps ? https : http;
    const ms = this.opts.timeoutMs;
    return new Promise((resolve, reject) => {
      let settled = false;
      let connected = false;
      let handshakeDone = !isHttps;
      const fail = (err: unknown) => {
        if (settled) return;
        settled = true;
        reject(networkError(url, method, err, ms, connected && !handshakeDone));
      };
      const payload = body?.();
      const h: Record<string, string> = { 'user-agent': this.opts.userAgent, ...headers };
      if (Buffer.isBuffer(payload)) h['content-length'] = String(payload.length);
      else if (payload === undefined && (method === 'PUT' || method === 'POST' || method === 'PATCH')) h['content-length'] = '0';
      const r = mod.request(url, { method, headers: h, agent }, (res) => {
        settled = true;
        resolve({ status: res.statusCode ?? 0, headers: res.headers, url, body: res });
      });
      r.setTimeout(ms, () => r.destroy(Object.assign(new Error(`no answer for ${ms / 1000} s`), { code: 'ETIMEDOUT' })));
      r.on('socket', (s) => {
        if (!isHttps || r.reusedSocket) {
          connected = true;
          handshakeDone = true;
          return;
        }
        s.once('connect', () => (connected = true));
        s.once('secureConnect', () => (handshakeDone = true));
      });
      r.on('error', fail);
      if (payload === undefined || Buffer.isBuffer(payload)) r.end(payload);
      else {
        payload.on('error', (err) => r.destroy(err));
        // The server may answer (a 401, an error) before reading it all: release the source.
        r.on('close', () => payload.destroy());
        payload.pipe(r);
      }
    });
  }

  close(): void {
    this.closed = true;
    this.httpAgent.destroy();
    this.verifyingAgent?.destroy();
    this.insecureAgent.destroy();
  }
}

function networkError(url: URL, method: string, err: unknown, ms: number, duringHandshake: boolean): NetworkError {
  const e = err as NodeJS.ErrnoException;
  const code = e?.code;
  const where = `${url.protocol}//${url.host}`;
  let msg: string;
  if (code && CERT_CODES.test(code)) {
    msg = `TLS certificate of ${url.host} not trusted (${code}: ${e.message}); add its CA to registries.caFiles, or list ${url.host} in registries.insecure`;
  } else if (code === 'ETIMEDOUT') {
    msg = `${method} ${where}${url.pathname}: no answer for ${ms / 1000} s`;
  } else if (code === 'ECONNREFUSED') {
    msg = `cannot connect to ${where}: connection refused`;
  } else if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    msg = `cannot resolve registry host ${url.hostname}`;
  } else if (isPlainHttpAnswer(err)) {
    msg = `${url.host} does not speak TLS (a plain HTTP server?)`;
  } else {
    msg = `${method} ${where}${url.pathname}: ${errorMessage(err).split('\n')[0]}`;
  }
  return new NetworkError(url, code, msg, err, duringHandshake);
}

/** Throws away a response body so the connection can be reused. */
export function discard(res: HttpResponse): void {
  res.body.on('error', () => {});
  res.body.resume();
}

/**
 * Reads a whole response body, at most `limit` bytes: more is `tooLarge()`, by default a CribError
 * 'Internal'. The socket idle timeout applies while reading.
 */
export async function readBody(res: HttpResponse, limit: number, tooLarge?: () => CribError): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  try {
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      n += chunk.length;
      if (n > limit) {
        res.body.destroy();
        throw tooLarge?.() ?? new CribError('Internal', `response from ${res.url.host}${res.url.pathname} is larger than ${limit} bytes`);
      }
      chunks.push(chunk);
    }
  } catch (err) {
    if (err instanceof CribError) throw err;
    throw new NetworkError(res.url, (err as NodeJS.ErrnoException).code, `reading ${res.url.host}${res.url.pathname}: ${errorMessage(err)}`, err);
  }
  return Buffer.concat(chunks);
}
