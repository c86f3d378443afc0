// Requests waiting for their client, under single-use tokens (kubelet's request_cache.go): the CRI
// call stores the request and returns a URL naming the token; the client's HTTP request consumes it.

import { randomBytes } from 'node:crypto';
import { CribError } from '../util/errors.js';

/** How long a token stays valid: kubelet's value; a client connects within milliseconds. */
export const TOKEN_TTL_MS = 60_000;

/** Tokens outstanding at once (kubelet's maxInFlight): bounds what CRI callers can make the server hold. */
export const MAX_CACHED_REQUESTS = 1000;

/** 128 random bits: a token is the only credential the streaming URL carries. */
const TOKEN_BYTES = 16;

export interface RequestCacheOptions {
  ttlMs?: number;
  maxEntries?: number;
  /** The clock, for tests. */
  now?: () => number;
}

interface Entry<T> {
  value: T;
  expires: number;
}

/**
 * Expiry is checked on use, not by timers, so an idle cache holds no timer. Entries expire in the
 * order they were inserted (one TTL for all), which a Map iterates in.
 */
export class RequestCache<T> {
  private readonly entries = new Map<string, Entry<T>>();
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(opts: RequestCacheOptions = {}) {
    this.ttlMs = opts.ttlMs ?? TOKEN_TTL_MS;
    this.maxEntries = opts.maxEntries ?? MAX_CACHED_REQUESTS;
    this.now = opts.now ?? Date.now;
  }

  get size(): number {
    this.evictExpired();
    return this.entries.size;
  }

  /** Stores `value` and returns its token (URL-safe). Full of live tokens: Unavailable, try later. */
  insert(value: T): string {
    this.evictExpired();
    if (this.entries.size >= this.maxEntries) {
      throw new CribError('Unavailable', `too many streaming requests in flight (${this.maxEntries}); try again`);
    }
    let token = randomBytes(TOKEN_BYTES).toString('base64url');
    while (this.entries.has(token)) token = randomBytes(TOKEN_BYTES).toString('base64url');
    this.entries.set(token, { value, expires: this.now() + this.ttlMs });
    return token;
  }

  /** The request under `token`, removed: a second use, or a use after expiry, finds nothing. */
  consume(token: string): T | undefined {
    const entry = this.entries.get(token);
    if (!entry) return undefined;
    this.entries.delete(token);
    return entry.expires > this.now() ? entry.value : undefined;
  }

  clear(): void {
    this.entries.clear();
  }

  private evictExpired(): void {
    const now = this.now();
    for (const [token, entry] of this.entries) {
      if (entry.expires > now) break;
      this.entries.delete(token);
    }
  }
}
