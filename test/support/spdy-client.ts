// A minimal SPDY/3.1 client for tests, built from the server's own framer plus a real zlib deflater
// (as Go's spdystream compresses: level 9, the SPDY dictionary, a sync flush per block). It records
// every frame the server sends and can send anything, well-formed or not.

import net from 'node:net';
import zlib from 'node:zlib';
import { FrameParser, encodeDataFrame, encodeSynStream, type ParsedFrame } from '../../src/streaming/spdy/framer.js';
import { HeaderDecompressor, SPDY3_DICTIONARY, decodeHeaderBlock, encodeHeaderBlock } from '../../src/streaming/spdy/zlib-headers.js';
import { waitFor } from './wait-for.js';

/** One zlib stream, each block sync-flushed: what any real SPDY peer sends. */
export class HeaderDeflater {
  private readonly deflate = zlib.createDeflate({ dictionary: SPDY3_DICTIONARY, level: 9 });
  private queue: Promise<Buffer> = Promise.resolve(Buffer.alloc(0));

  compress(raw: Buffer): Promise<Buffer> {
    this.queue = this.queue.then(
      () =>
        new Promise<Buffer>((resolve) => {
          const out: Buffer[] = [];
          const drain = () => {
            for (let c: unknown = this.deflate.read(); Buffer.isBuffer(c); c = this.deflate.read()) out.push(c);
          };
          this.deflate.on('readable', drain);
          this.deflate.write(raw);
          this.deflate.flush(zlib.constants.Z_SYNC_FLUSH, () => {
            drain();
            this.deflate.off('readable', drain);
            resolve(Buffer.concat(out));
          });
        }),
    );
    return this.queue;
  }

  close(): void {
    this.deflate.destroy();
  }
}

export interface UpgradeAnswer {
  status: number;
  headers: Map<string, string>;
  body: string;
}

export class TestSpdyClient {
  readonly frames: ParsedFrame[] = [];
  /** Data received per stream, and the streams the server has FIN'd. */
  readonly data = new Map<number, Buffer[]>();
  readonly fins = new Set<number>();
  readonly replyHeaders = new Map<number, Map<string, string[]>>();
  closed = false;
  private readonly parser = new FrameParser(16 * 1024 * 1024);
  private readonly inflater = new HeaderDecompressor();
  private readonly deflater = new HeaderDeflater();
  private nextId = 1;
  private inbound = Promise.resolve();

  private constructor(readonly socket: net.Socket) {}

  /** Connects to `url` (http://host:port/path) and asks for SPDY/3.1 with `protocols`. */
  static async connect(url: string, protocols: readonly string[]): Promise<{ client: TestSpdyClient; answer: UpgradeAnswer }> {
    const u = new URL(url);
    const socket = net.connect({ host: u.hostname, port: Number(u.port) });
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const lines = [
      `POST ${u.pathname} HTTP/1.1`,
      `Host: ${u.host}`,
      'Connection: Upgrade',
      'Upgrade: SPDY/3.1',
      ...protocols.map((p) => `X-Stream-Protocol-Version: ${p}`),
      'Content-Length: 0',
    ];
    socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    const client = new TestSpdyClient(socket);
    const answer = await new Promise<UpgradeAnswer>((resolve, reject) => {
      let buf = Buffer.alloc(0);
      let answered = false;
      const onData = (chunk: Buffer) => {
        buf = Buffer.concat([buf, chunk]);
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        answered = true;
        socket.off('data', onData);
        const [statusLine = '', ...rest] = buf.toString('latin1', 0, end).split('\r\n');
        const headers = new Map<string, string>();
        for (const line of rest) {
          const name = line.slice(0, line.indexOf(':')).toLowerCase();
          const value = line.slice(line.indexOf(':') + 1).trim();
          headers.set(name, headers.has(name) ? `${headers.get(name) ?? ''}, ${value}` : value);
        }
        const status = Number(statusLine.split(' ')[1]);
        const after = buf.subarray(end + 4);
        if (status === 101) {
          client.listen(after);
          resolve({ status, headers, body: '' });
        } else {
          socket.on('data', (c: Buffer) => (buf = Buffer.concat([buf, c])));
          socket.once('close', () => resolve({ status, headers, body: buf.toString('utf8', end + 4) }));
        }
      };
      socket.on('data', onData);
      socket.once('error', reject);
      socket.once('close', () => {
        if (!answered) reject(new Error('the server closed the connection without answering'));
      });
    });
    return { client, answer };
  }

  private listen(first: Buffer): void {
    const onBytes = (chunk: Buffer) => {
      for (const f of this.parser.push(chunk)) {
        this.frames.push(f);
        if (f.type === 'data') {
          const list = this.data.get(f.streamId) ?? [];
          list.push(f.payload);
          this.data.set(f.streamId, list);
          if (f.fin) this.fins.add(f.streamId);
        } else if (f.type === 'syn_reply') {
          const id = f.streamId;
          const block = f.headerBlock;
          this.inbound = this.inbound
            .then(async () => {
              this.replyHeaders.set(id, decodeHeaderBlock(await this.inflater.decompress(block)));
            })
            .catch(() => undefined); // the connection closed under it
        }
      }
    };
    this.socket.on('data', onBytes);
    this.socket.on('error', () => undefined);
    this.socket.once('close', () => {
      this.closed = true;
      this.inflater.close();
      this.deflater.close();
    });
    if (first.length > 0) onBytes(first);
  }

  /** Opens a stream with these headers; resolves with its id once the SYN_STREAM is written. */
  async open(headers: Record<string, string>, flags = 0): Promise<number> {
    const id = this.nextId;
    this.nextId += 2;
    const block = await this.deflater.compress(encodeHeaderBlock(Object.entries(headers)));
    this.socket.write(encodeSynStream(id, flags, block));
    return id;
  }

  /** Compresses a raw header block in this connection's zlib stream (for hand-made frames). */
  compress(raw: Buffer): Promise<Buffer> {
    return this.deflater.compress(raw);
  }

  send(id: number, data: Buffer | string, fin = false): void {
    this.socket.write(encodeDataFrame(id, fin ? 1 : 0, Buffer.from(data)));
  }

  raw(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  received(id: number): Buffer {
    return Buffer.concat(this.data.get(id) ?? []);
  }

  async waitReply(id: number): Promise<void> {
    await waitFor(() => this.frames.some((f) => (f.type === 'syn_reply' || f.type === 'rst_stream') && f.streamId === id), `a reply to stream ${id}`);
  }

  async waitFin(id: number, ms = 5000): Promise<void> {
    await waitFor(() => this.fins.has(id), `FIN on stream ${id}`, ms);
  }

  close(): void {
    this.socket.destroy();
  }
}
