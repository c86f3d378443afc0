// Registry authentication pieces that need no network: WWW-Authenticate parsing, credentials,
// token responses and the token cache. The exchanges themselves are in client.ts.
import { createHash } from 'node:crypto';
import { CribError } from '../../util/errors.js';
import { parseUntrustedJson } from '../../util/json.js';
import type { Credentials } from './types.js';

/** One challenge of a WWW-Authenticate header: scheme (lowercased) and its parameters (names lowercased). */
export interface Challenge {
  scheme: string;
  params: Record<string, string>;
  /** The token68 form (`Negotiate abc==`), when the challenge used it instead of parameters. */
  token68?: string;
}

const TOKEN = /[!#$%&'*+.^_`|~0-9A-Za-z-]+/y;
const TOKEN68 = /[A-Za-z0-9._~+/-]+=*/y;

/**
 * Parses a WWW-Authenticate header (RFC 7235): one or more challenges separated by commas, each a
 * scheme followed by `name=value` or `name="quoted \"value\""` parameters (or a token68). Node joins
 * repeated headers with ", ", which this grammar reads as more challenges. Malformed parts are
 * skipped rather than failing the whole header.
 */
export function parseWwwAuthenticate(header: string): Challenge[] {
  const out: Challenge[] = [];
  const n = header.length;
  let i = 0;
  const ws = () => {
    while (i < n && (header[i] === ' ' || header[i] === '\t')) i++;
  };
  const match = (re: RegExp): string | undefined => {
    re.lastIndex = i;
    const m = re.exec(header);
    if (!m) return undefined;
    i = re.lastIndex;
    return m[0];
  };
  const quoted = (): string => {
    let v = '';
    i++; // opening quote
    while (i < n && header[i] !== '"') {
      if (header[i] === '\\' && i + 1 < n) i++;
      v += header[i];
      i++;
    }
    i++; // closing quote (or end)
    return v;
  };
  /** At a parameter (`name = value`, not a token68 like `abc==`)? Leaves i unchanged. */
  const atParam = (): boolean => {
    const save = i;
    const name = match(TOKEN);
    ws();
    let yes = name !== undefined && header[i] === '=';
    if (yes) {
      i++;
      ws();
      yes = i < n && header[i] !== '=' && header[i] !== ',';
    }
    i = save;
    return yes;
  };
  /** Skips to just past the next comma (or the end). */
  const skipItem = () => {
    while (i < n && header[i] !== ',') {
      if (header[i] === '"') quoted();
      else i++;
    }
    if (i < n) i++;
  };

  while (i < n) {
    ws();
    if (header[i] === ',') {
      i++;
      continue;
    }
    if (i >= n) break;
    const scheme = match(TOKEN);
    if (!scheme) {
      skipItem();
      continue;
    }
    const ch: Challenge = { scheme: scheme.toLowerCase(), params: {} };
    out.push(ch);
    ws();
    if (i < n && header[i] !== ',' && !atParam()) {
      const t = match(TOKEN68);
      if (t) ch.token68 = t;
      ws();
      if (i < n && header[i] !== ',') skipItem();
      continue;
    }
    // Parameters, comma separated, until something that is not `name=` (the next challenge).
    for (;;) {
      ws();
      while (header[i] === ',') {
        i++;
        ws();
      }
      if (i >= n || !atParam()) break;
      const name = (match(TOKEN) as string).toLowerCase();
      ws();
      i++; // '='
      ws();
      let value: string;
      if (header[i] === '"') value = quoted();
      else {
        const start = i;
        while (i < n && header[i] !== ',' && header[i] !== ' ' && header[i] !== '\t') i++;
        value = header.slice(start, i);
      }
      if (!(name in ch.params)) ch.params[name] = value;
    }
  }
  return out;
}

/** The token server's scope for pulling (and pushing) one repository. */
export function repositoryScope(repository: string, push: boolean): string {
  return `repository:${repository}:${push ? 'pull,push' : 'pull'}`;
}

/** The username and password of credentials, from their fields or from `auth` (base64 "user:pass"). Empty fields count as absent, as the CRI sends them. */
export function userPassword(c: Credentials | undefined): { username: string; password: string } | undefined {
  if (!c) return undefined;
  if (c.username) return { username: c.username, password: c.password ?? '' };
  if (c.auth) {
    const decoded = Buffer.from(c.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) throw new CribError('InvalidArgument', 'credentials: "auth" is not the base64 of "user:password"');
    return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  return undefined;
}

export function basicAuthorization(user: { username: string; password: string }): string {
  return `Basic ${Buffer.from(`${user.username}:${user.password}`, 'utf8').toString('base64')}`;
}

/** True when the credentials carry nothing (the CRI sends an AuthConfig of empty strings). */
export function noCredentials(c: Credentials | undefined): boolean {
  return !c || (!c.username && !c.password && !c.auth && !c.identityToken && !c.registryToken);
}

/** A stable key of credentials, for caching tokens per identity without keeping secrets as keys. */
export function credentialsKey(c: Credentials | undefined): string {
  if (noCredentials(c)) return 'anonymous';
  const x = c as Credentials;
  return createHash('sha256')
    .update(JSON.stringify([x.username ?? '', x.password ?? '', x.auth ?? '', x.identityToken ?? '', x.registryToken ?? '']))
    .digest('hex')
    .slice(0, 32);
}

export interface TokenResponse {
  token: string;
  /** Seconds the token is valid for (60 when the server does not say, per the token spec). */
  expiresIn: number;
}

/** Reads a token server's JSON answer: `token` or `access_token`, `expires_in`. */
export function parseTokenResponse(body: Buffer): TokenResponse {
  let doc: unknown;
  try {
    doc = parseUntrustedJson(body, 'token server answer');
  } catch {
    throw new CribError('Unavailable', 'token server answered with something that is not JSON');
  }
  const d = (typeof doc === 'object' && doc !== null ? doc : {}) as Record<string, unknown>;
  const token = typeof d.token === 'string' && d.token ? d.token : typeof d.access_token === 'string' ? d.access_token : '';
  if (!token) throw new CribError('Unavailable', 'token server answered without a token');
  const expiresIn = typeof d.expires_in === 'number' && d.expires_in > 0 ? d.expires_in : 60;
  return { token, expiresIn };
}

/** Bearer tokens by key, each until shortly before it expires. */
export class TokenCache {
  private readonly tokens = new Map<string, { token: string; until: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  get(key: string): string | undefined {
    const t = this.tokens.get(key);
    if (!t) return undefined;
    if (this.now() >= t.until) {
      this.tokens.delete(key);
      return undefined;
    }
    return t.token;
  }

  set(key: string, token: string, expiresInSeconds: number): void {
    const ms = expiresInSeconds * 1000;
    const margin = Math.min(10_000, ms / 10);
    this.tokens.set(key, { token, until: this.now() + ms - margin });
  }

  delete(key: string): void {
    this.tokens.delete(key);
  }

  clear(): void {
    this.tokens.clear();
  }
}
