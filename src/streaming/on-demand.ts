// The streaming server, started by the first Exec, Attach or PortForward: until then cribd holds
// neither its listener nor its modules (HTTP(S), SPDY, WebSocket), a fifth of an idle cribd's memory.
import { log } from '../util/log.js';
import type { StreamingServer, StreamingServerOptions } from './server.js';
import { validatePortForward, validateStreamFlags, type AttachRequest, type ExecRequest, type PortForwardRequest } from './types.js';

/** What the CRI handlers ask of the streaming server: a single-use URL per request. */
export interface StreamingUrls {
  getExec(req: ExecRequest): Promise<string>;
  getAttach(req: AttachRequest): Promise<string>;
  getPortForward(req: PortForwardRequest): Promise<string>;
}

export class OnDemandStreamingServer implements StreamingUrls {
  private server: Promise<StreamingServer> | undefined;
  private closed = false;

  constructor(private readonly opts: StreamingServerOptions) {}

  // A malformed request is refused before anything starts.
  async getExec(req: ExecRequest): Promise<string> {
    validateStreamFlags(req);
    return (await this.started()).getExec(req);
  }

  async getAttach(req: AttachRequest): Promise<string> {
    validateStreamFlags(req);
    return (await this.started()).getAttach(req);
  }

  async getPortForward(req: PortForwardRequest): Promise<string> {
    validatePortForward(req);
    return (await this.started()).getPortForward(req);
  }

  async close(): Promise<void> {
    this.closed = true;
    const s = await this.server?.catch(() => undefined);
    await s?.close();
  }

  private started(): Promise<StreamingServer> {
    if (this.closed) return Promise.reject(new Error('the streaming server is closed'));
    if (!this.server) {
      const starting = (async () => {
        const { StreamingServer } = await import('./server.js');
        const s = new StreamingServer(this.opts);
        await s.start();
        log.info('streaming: serving', { url: s.baseUrl });
        return s;
      })();
      this.server = starting;
      // A failed start (the port taken) is reported to this call and tried again by the next.
      starting.catch(() => {
        if (this.server === starting) this.server = undefined;
      });
    }
    return this.server;
  }
}
