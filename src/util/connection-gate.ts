// Connections whose peer has not shown it is wanted (no valid streaming token yet; a scraper between
// scrapes). Anyone who can reach a local port can open them, and on loopback every peer has the same
// address, so they are not counted per peer: each gets a short time, and when all places are taken
// the oldest is closed for the newest. Holding connections open then locks nobody out: a client that
// sends its request at once is served before it is the oldest.
import type { Socket } from 'node:net';
import { log } from './log.js';

export interface ConnectionGateOptions {
  /** Connections waiting at once. */
  max: number;
  /** How long one may wait before it is closed. */
  timeoutMs: number;
  /** The listener, for the log. */
  what: string;
}

/** What a TCP socket and the TLS socket over it share: the peer's address and port. */
type PeerSocket = Pick<Socket, 'remoteAddress' | 'remotePort'>;
const peerKey = (s: PeerSocket): string => `${s.remoteAddress ?? ''}|${s.remotePort ?? ''}`;

export class ConnectionGate {
  /** Oldest first: a Map iterates in insertion order. */
  private readonly waiting = new Map<string, { socket: Socket; timer: NodeJS.Timeout }>();
  /** Sockets whose close this gate listens for (once each, however often they wait again). */
  private readonly watched = new WeakSet<Socket>();
  private closed = false;

  constructor(private readonly opts: ConnectionGateOptions) {}

  /** How many wait now. */
  get size(): number {
    return this.waiting.size;
  }

  /** A new connection (or one that is idle again) starts waiting; the oldest gives way when all places are taken. */
  admit(socket: Socket): void {
    if (this.closed || socket.destroyed) {
      socket.destroy();
      return;
    }
    const key = peerKey(socket);
    this.release(socket);
    if (this.waiting.size >= this.opts.max) {
      const [oldestKey, oldest] = this.waiting.entries().next().value ?? [];
      if (oldestKey !== undefined && oldest) {
        log.debug(`${this.opts.what}: closing the oldest waiting connection for a new one`, { waiting: this.waiting.size });
        this.drop(oldestKey, oldest.socket);
      }
    }
    const timer = setTimeout(() => {
      log.debug(`${this.opts.what}: closing a connection that sent no valid request in time`, { timeoutMs: this.opts.timeoutMs });
      this.drop(key, socket);
    }, this.opts.timeoutMs);
    this.waiting.set(key, { socket, timer });
    if (this.watched.has(socket)) return;
    this.watched.add(socket);
    socket.once('close', () => {
      if (this.waiting.get(key)?.socket === socket) this.forget(key);
    });
  }

  /** The connection showed it is wanted (a valid token; a request being served): it stops waiting. */
  release(socket: PeerSocket): void {
    this.forget(peerKey(socket));
  }

  /** Closes every waiting connection, and any admitted from now on. */
  close(): void {
    this.closed = true;
    for (const [key, { socket }] of [...this.waiting]) this.drop(key, socket);
  }

  private drop(key: string, socket: Socket): void {
    this.forget(key);
    socket.destroy();
  }

  private forget(key: string): void {
    const entry = this.waiting.get(key);
    if (!entry) return;
    clearTimeout(entry.timer);
    this.waiting.delete(key);
  }
}
