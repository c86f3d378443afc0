// The streaming server (kubelet's pkg/kubelet/cri/streaming/server.go): the CRI Exec, Attach and
// PortForward calls store their request under a token and return this server's URL for it; the
// client connects there and upgrades to SPDY/3.1 or WebSocket.

import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { CribError } from '../util/errors.js';
import { ConnectionGate } from '../util/connection-gate.js';
import { log } from '../util/log.js';
import {
  ACCEPTED_PROTOCOLS_HEADER,
  PROTOCOL_VERSION_HEADER,
  SPDY_PORT_FORWARD_PROTOCOLS,
  SPDY_REMOTE_COMMAND_PROTOCOLS,
  WS_PORT_FORWARD_PROTOCOLS,
  WS_REMOTE_COMMAND_PROTOCOLS,
  acceptSpdyUpgrade,
  headerTokens,
  isSpdyUpgrade,
  isWebSocketUpgrade,
  negotiate,
  rejectUpgrade,
} from './handshake.js';
import { servePortForwardSpdy, servePortForwardWebSocket, webSocketPorts } from './portforward.js';
import { STREAM_CREATION_TIMEOUT_MS, serveRemoteCommandSpdy, serveRemoteCommandWebSocket, type SessionOptions } from './remotecommand.js';
import { MAX_CACHED_REQUESTS, RequestCache, TOKEN_TTL_MS } from './request-cache.js';
import { MAX_WS_MESSAGE_BYTES } from './websocket.js';
import {
  validatePortForward,
  validateStreamFlags,
  type AttachRequest,
  type CachedRequest,
  type ExecRequest,
  type PortForwardRequest,
  type StreamKind,
  type StreamingRuntime,
} from './types.js';

/** A session with no traffic either way ends after this: kubelet's and containerd's default (4 h). */
export const DEFAULT_IDLE_TIMEOUT_MS = 4 * 60 * 60 * 1000;

/**
 * Streaming sessions open at once. Each holds a socket, up to a few MiB of buffers and (for exec) a
 * process; kubelet's own traffic is a handful at a time, so 128 is generous and still bounded.
 */
export const DEFAULT_MAX_SESSIONS = 128;

/**
 * Connections that have not yet presented a valid token, and how long one has for its TLS handshake
 * and request. Anyone who can reach the port can open them, so they never take a
 * session's slot: a connection that has not shown a token in time is closed, and when all are taken
 * the oldest is closed for the newest. A client that sends its request at once (kubelet, crictl,
 * kubectl) gets in however many others hold idle connections.
 */
const MAX_UNAUTHENTICATED_CONNECTIONS = 64;
const UNAUTHENTICATED_TIMEOUT_MS = 5_000;

export interface StreamingServerOptions {
  /** Address to listen on and to put in URLs; default 127.0.0.1 (containerd's default). */
  address?: string;
  /** 0 (the default) takes an ephemeral port. */
  port?: number;
  tls?: { cert: string | Buffer; key: string | Buffer };
  runtime: StreamingRuntime;
  tokenTtlMs?: number;
  /** Concurrent streaming sessions; a client beyond them gets 503. */
  maxStreams?: number;
  idleTimeoutMs?: number;
  /** How long a client has after upgrading to open its streams. */
  streamCreationTimeoutMs?: number;
  /** Tokens outstanding at once. */
  maxCachedRequests?: number;
}

/** kubelet's routes: /exec/TOKEN, /attach/TOKEN, /portforward/TOKEN (the kinds are checked below). */
const ROUTE = /^\/([a-z]+)\/([A-Za-z0-9_-]+)$/;

function parseRoute(url: string | undefined): { kind: StreamKind; token: string } | undefined {
  const [, kind, token = ''] = ROUTE.exec(new URL(url ?? '/', 'http://streaming').pathname) ?? [];
  if (kind !== 'exec' && kind !== 'attach' && kind !== 'portforward') return undefined;
  return { kind, token };
}

export class StreamingServer {
  private readonly server: http.Server;
  private readonly wss: WebSocketServer;
  private readonly cache: RequestCache<CachedRequest>;
  private readonly sessions = new Set<Promise<void>>();
  private readonly closing = new AbortController();
  /** The WebSocket subprotocol chosen for each request being upgraded (ws asks for it by request). */
  private readonly wsProtocols = new WeakMap<http.IncomingMessage, string>();
  private readonly maxSessions: number;
  private readonly unauthenticated: ConnectionGate;
  private readonly session: SessionOptions;
  private url: string | undefined;

  constructor(private readonly opts: StreamingServerOptions) {
    this.maxSessions = opts.maxStreams ?? DEFAULT_MAX_SESSIONS;
    this.cache = new RequestCache({ ttlMs: opts.tokenTtlMs ?? TOKEN_TTL_MS, maxEntries: opts.maxCachedRequests ?? MAX_CACHED_REQUESTS });
    this.session = {
      runtime: opts.runtime,
      idleTimeoutMs: opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
      streamCreationTimeoutMs: opts.streamCreationTimeoutMs ?? STREAM_CREATION_TIMEOUT_MS,
      signal: this.closing.signal,
    };
    const serverOpts: http.ServerOptions = { headersTimeout: UNAUTHENTICATED_TIMEOUT_MS, requestTimeout: UNAUTHENTICATED_TIMEOUT_MS };
    this.server = opts.tls ? https.createServer({ ...serverOpts, cert: opts.tls.cert, key: opts.tls.key }) : http.createServer(serverOpts);
    // A ceiling only: the gate keeps the unauthenticated ones below it (one more while it evicts).
    this.server.maxConnections = this.maxSessions + MAX_UNAUTHENTICATED_CONNECTIONS + 1;
    this.unauthenticated = new ConnectionGate({ max: MAX_UNAUTHENTICATED_CONNECTIONS, timeoutMs: UNAUTHENTICATED_TIMEOUT_MS, what: 'streaming' });
    this.server.on('connection', (socket: Socket) => this.unauthenticated.admit(socket));
    this.server.on('request', (_req: http.IncomingMessage, res: http.ServerResponse) => {
      res.writeHead(400, { 'Content-Type': 'text/plain; charset=utf-8', Connection: 'close' });
      res.end('streaming requests must upgrade the connection (SPDY/3.1 or websocket)\n');
    });
    this.server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => this.onUpgrade(req, socket, head));
    this.server.on('clientError', (_err, socket: Duplex) => socket.destroy());
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: MAX_WS_MESSAGE_BYTES,
      perMessageDeflate: false,
      handleProtocols: (_offered, req) => this.wsProtocols.get(req) ?? false,
    });
  }

  async start(): Promise<void> {
    const address = this.opts.address ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port ?? 0, address, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    // Stryker disable next-line all: a log line for an error after listening
    this.server.on('error', (err) => log.error('streaming: server error', { error: err.message }));
    const bound = this.server.address();
    if (!bound || typeof bound === 'string') throw new Error(`streaming server bound to ${String(bound)}`);
    const host = address.includes(':') ? `[${address}]` : address;
    this.url = `${this.opts.tls ? 'https' : 'http'}://${host}:${bound.port}`;
  }

  /** http(s)://ADDRESS:PORT, once started. */
  get baseUrl(): string {
    if (!this.url) throw new CribError('Unavailable', 'the streaming server is not running');
    return this.url;
  }

  /** Sessions open now (from the upgrade until the socket is closed and the runtime call returned). */
  get sessionCount(): number {
    return this.sessions.size;
  }

  /** The URL the client of an Exec connects to. Throws StreamingRequestError (INVALID_ARGUMENT) for a malformed request. */
  getExec(req: ExecRequest): string {
    validateStreamFlags(req);
    return this.urlFor({ kind: 'exec', req: { ...req, cmd: [...req.cmd] } });
  }

  getAttach(req: AttachRequest): string {
    validateStreamFlags(req);
    return this.urlFor({ kind: 'attach', req: { ...req } });
  }

  getPortForward(req: PortForwardRequest): string {
    validatePortForward(req);
    return this.urlFor({ kind: 'portforward', req: { podSandboxId: req.podSandboxId, ports: [...req.ports] } });
  }

  /** Stops listening, ends every session (their runtime calls see the abort) and forgets every token. */
  async close(): Promise<void> {
    this.closing.abort(new CribError('Unavailable', 'the streaming server is closing'));
    this.unauthenticated.close();
    this.cache.clear();
    this.url = undefined;
    const closed = this.server.listening ? new Promise<void>((resolve) => this.server.close(() => resolve())) : Promise.resolve();
    this.server.closeAllConnections();
    await Promise.all([...this.sessions]);
    await closed;
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  private urlFor(entry: CachedRequest): string {
    const base = this.baseUrl;
    return `${base}/${entry.kind}/${this.cache.insert(entry)}`;
  }

  private onUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    // Stryker disable next-line all: a log line for a socket error
    socket.on('error', (err) => log.debug('streaming: client socket error', { error: err.message }));
    const route = parseRoute(req.url);
    if (!route || (req.method !== 'GET' && req.method !== 'POST')) return rejectUpgrade(socket, 404, 'not found');
    // (No check for a closing server: close() drops every connection in the same tick it aborts.)
    if (this.sessions.size >= this.maxSessions) {
      // Stryker disable next-line StringLiteral,ObjectLiteral: log text
      log.warn('streaming: refusing a session: too many open', { limit: this.maxSessions });
      return rejectUpgrade(socket, 503, `too many streaming sessions (${this.maxSessions})`);
    }
    // Single use: consumed whatever happens next, as kubelet does.
    const cached = this.cache.consume(route.token);
    if (!cached || cached.kind !== route.kind) return rejectUpgrade(socket, 404, 'not found');
    // A valid token: root's client, through the CRI. Its connection leaves the gate for a session's slot.
    this.unauthenticated.release(req.socket);
    if (isWebSocketUpgrade(req)) return this.upgradeWebSocket(req, socket, head, cached);
    if (!isSpdyUpgrade(req))
      return rejectUpgrade(socket, 400, 'unable to upgrade: missing upgrade headers in request (Connection: Upgrade, Upgrade: SPDY/3.1 or websocket)');
    const offered = headerTokens(req, PROTOCOL_VERSION_HEADER);
    if (offered.length === 0) return rejectUpgrade(socket, 400, 'unable to upgrade: header X-Stream-Protocol-Version does not exist in request');
    const supported = cached.kind === 'portforward' ? SPDY_PORT_FORWARD_PROTOCOLS : SPDY_REMOTE_COMMAND_PROTOCOLS;
    const protocol = negotiate(offered, supported);
    if (!protocol) {
      return rejectUpgrade(
        socket,
        403,
        `unable to upgrade: unable to negotiate protocol: client supports [${offered.join(' ')}], server accepts [${supported.join(' ')}]`,
        {
          [ACCEPTED_PROTOCOLS_HEADER]: supported,
        },
      );
    }
    acceptSpdyUpgrade(socket, protocol);
    this.track(
      cached.kind === 'portforward'
        ? servePortForwardSpdy(socket, head, cached.req, this.session)
        : serveRemoteCommandSpdy(socket, head, protocol, cached, this.session),
    );
  }

  private upgradeWebSocket(req: http.IncomingMessage, socket: Duplex, head: Buffer, cached: CachedRequest): void {
    const offered = headerTokens(req, 'sec-websocket-protocol');
    const supported = cached.kind === 'portforward' ? WS_PORT_FORWARD_PROTOCOLS : WS_REMOTE_COMMAND_PROTOCOLS;
    const protocol = offered.length === 0 ? '' : negotiate(offered, supported);
    if (protocol === undefined)
      return rejectUpgrade(socket, 400, `requested protocol(s) are not supported: [${offered.join(' ')}]; supports [${supported.join(' ')}]`);
    let ports: number[] = [];
    if (cached.kind === 'portforward') {
      const p = webSocketPorts(new URL(req.url ?? '/', 'http://streaming'), cached.req);
      if (typeof p === 'string') return rejectUpgrade(socket, 400, p);
      ports = p;
    }
    this.wsProtocols.set(req, protocol);
    this.wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
      this.track(
        cached.kind === 'portforward'
          ? servePortForwardWebSocket(ws, protocol, ports, cached.req, this.session)
          : serveRemoteCommandWebSocket(ws, protocol, cached, this.session),
      );
    });
  }

  private track(session: Promise<void>): void {
    // Stryker disable next-line StringLiteral,ObjectLiteral,ArrowFunction: log text (the session's own code reports to its client)
    const tracked = session.catch((err: unknown) => log.warn('streaming: session failed', { error: err }));
    this.sessions.add(tracked);
    void tracked.finally(() => this.sessions.delete(tracked));
  }
}
