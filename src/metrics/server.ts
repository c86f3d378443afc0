// The Prometheus endpoint: GET /metrics on plain HTTP, nothing else. Whoever can reach it may
// scrape it, so it is bounded like the other listeners: small headers, short timeouts, a few
// connections (the oldest idle one closed for a new one), no request bodies, and one collection at
// a time (concurrent scrapes share it).
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { ConnectionGate } from '../util/connection-gate.js';
import { errorMessage } from '../util/errors.js';
import { log } from '../util/log.js';

/** Header bytes a scraper needs (Prometheus sends about 300). */
const MAX_HEADER_BYTES = 8 * 1024;
const MAX_HEADERS = 32;
/**
 * Prometheus scrapes every few seconds; a handful of scrapers is plenty. Connections waiting for a
 * request (new, or idle between scrapes) are held to this many, each for KEEP_ALIVE_TIMEOUT_MS, the
 * oldest closed for the newest: whoever holds connections open cannot keep a scraper out.
 */
const MAX_WAITING_CONNECTIONS = 16;
/** Requests being answered at once: each is served from the one collection in progress. */
const MAX_BUSY_CONNECTIONS = 16;
const HEADERS_TIMEOUT_MS = 5_000;
const REQUEST_TIMEOUT_MS = 10_000;
const KEEP_ALIVE_TIMEOUT_MS = 5_000;

export type Exposition = () => Promise<{ body: string; contentType: string }>;

export class MetricsServer {
  private readonly server: http.Server;
  private readonly sockets = new Set<Socket>();
  private readonly waiting = new ConnectionGate({ max: MAX_WAITING_CONNECTIONS, timeoutMs: KEEP_ALIVE_TIMEOUT_MS, what: 'metrics' });
  private collecting: ReturnType<Exposition> | undefined;

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly expose: Exposition,
  ) {
    this.server = http.createServer({ maxHeaderSize: MAX_HEADER_BYTES, headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS });
    this.server.maxHeadersCount = MAX_HEADERS;
    // A ceiling only: the gate keeps the waiting ones below their share (one more while it evicts).
    this.server.maxConnections = MAX_WAITING_CONNECTIONS + MAX_BUSY_CONNECTIONS + 1;
    this.server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
    this.server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
      this.waiting.admit(s);
    });
    this.server.on('clientError', (_err, socket) => socket.destroy());
    this.server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      // Busy while answered, waiting again once the answer is out (keep-alive).
      const socket = req.socket;
      this.waiting.release(socket);
      res.once('finish', () => this.waiting.admit(socket));
      void this.serve(req, res);
    });
  }

  async start(): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port, this.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.server.on('error', (err) => log.error('metrics: server error', { error: err.message }));
    return this.server.address() as AddressInfo;
  }

  async close(): Promise<void> {
    this.waiting.close();
    const closed = this.server.listening ? new Promise<void>((resolve) => this.server.close(() => resolve())) : Promise.resolve();
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  private async serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/metrics') return reply(res, 404, 'only /metrics is served here\n');
    if (req.method !== 'GET') return reply(res, 405, 'only GET\n', { Allow: 'GET' });
    // A scrape has no body; one that comes with a body is not a scrape (and is never read).
    if (req.headers['transfer-encoding'] || Number(req.headers['content-length'] ?? 0) > 0) return reply(res, 400, 'a scrape has no body\n');
    try {
      this.collecting ??= this.expose().finally(() => (this.collecting = undefined));
      const { body, contentType } = await this.collecting;
      reply(res, 200, body, { 'Content-Type': contentType });
    } catch (err) {
      log.warn('metrics: collecting failed', { error: errorMessage(err) });
      reply(res, 500, 'collecting the metrics failed\n');
    }
  }
}

function reply(res: http.ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  const bytes = Buffer.from(body);
  // Anything but a good scrape closes the connection: nothing unread stays on it.
  res.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': String(bytes.length),
    ...(status === 200 ? {} : { Connection: 'close' }),
    ...headers,
  });
  res.end(bytes);
}
