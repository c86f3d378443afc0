// Kubernetes' channel protocols over one WebSocket (apimachinery's wsstream): every message starts
// with its channel. Binary protocols put the channel in the first byte; base64 protocols send text
// frames: the channel as an ASCII digit, then the data in base64. v5 adds the close message
// [255, channel] that half-closes one channel. Uses the `ws` package for RFC 6455 itself.

import { Readable, Writable } from 'node:stream';
import type { WebSocket, RawData } from 'ws';
import { log } from '../util/log.js';
import { IdleTimer } from './idle-timer.js';

/** remotecommand's channels (apimachinery util/remotecommand constants). */
export const Channel = { STDIN: 0, STDOUT: 1, STDERR: 2, ERROR: 3, RESIZE: 4 } as const;
/** v5's close-channel message tag. */
export const CLOSE_CHANNEL = 255;

/**
 * Largest message the server accepts (ws's maxPayload). Clients send stdin and port data in pieces
 * of at most 32 KiB (Go's io.Copy); 1 MiB bounds what one message can make the server hold.
 */
export const MAX_WS_MESSAGE_BYTES = 1024 * 1024;

/** Bytes queued on the WebSocket before writers wait for the socket to take them. */
const WS_HIGH_WATER = 1024 * 1024;

export interface ChannelCodec {
  base64: boolean;
  /** The client may half-close a channel (v5). */
  closeMessages: boolean;
}

export function channelCodec(protocol: string): ChannelCodec {
  return { base64: protocol.endsWith('base64.channel.k8s.io'), closeMessages: protocol === 'v5.channel.k8s.io' };
}

export type ChannelMessage = { kind: 'data'; channel: number; data: Buffer } | { kind: 'close'; channel: number } | { kind: 'invalid'; reason: string };

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Reads one client message. Pure. */
export function decodeChannelMessage(msg: Buffer, codec: ChannelCodec): ChannelMessage | undefined {
  const tag = msg[0];
  if (tag === undefined) return undefined; // empty messages carry nothing
  if (codec.closeMessages && tag === CLOSE_CHANNEL) {
    const channel = msg[1];
    if (msg.length !== 2 || channel === undefined) return { kind: 'invalid', reason: `close message of ${msg.length} bytes (must be 2)` };
    return { kind: 'close', channel };
  }
  if (!codec.base64) return { kind: 'data', channel: tag, data: msg.subarray(1) };
  const text = msg.toString('latin1', 1);
  if (text.length % 4 !== 0 || !BASE64.test(text)) return { kind: 'invalid', reason: 'data is not base64' };
  return { kind: 'data', channel: tag - 0x30, data: Buffer.from(text, 'base64') };
}

/** One server message on `channel`. Pure. */
export function encodeChannelMessage(channel: number, data: Buffer, codec: ChannelCodec): Buffer | string {
  if (codec.base64) return String.fromCharCode(0x30 + channel) + data.toString('base64');
  return Buffer.concat([Buffer.from([channel]), data]);
}

export interface WebSocketChannelsOptions {
  /** Channels the client writes to (stdin, resize; port data). Messages on others are dropped. */
  readable: readonly number[];
  /** Channels the server writes to. */
  writable: readonly number[];
  idleTimeoutMs: number;
}

/**
 * A WebSocket as numbered channels: a Readable per channel the client writes, a Writable per
 * channel the server writes. Reading pauses the socket while a reader is full; closing the
 * WebSocket ends every reader.
 */
export class WebSocketChannels {
  readonly closed: Promise<void>;
  private readonly readers = new Map<number, Readable>();
  private readonly writers = new Map<number, Writable>();
  /** Readers the client closed (or the socket did): nothing more may be pushed to them. */
  private readonly endedReaders = new Set<number>();
  /** Readers whose buffer is full and whose reader has not asked for more since. */
  private readonly fullReaders = new Set<number>();
  private readonly idle: IdleTimer;

  constructor(
    private readonly ws: WebSocket,
    private readonly codec: ChannelCodec,
    opts: WebSocketChannelsOptions,
  ) {
    this.idle = new IdleTimer(opts.idleTimeoutMs, () => {
      log.info('streaming: closing idle WebSocket session', { idleTimeoutMs: opts.idleTimeoutMs });
      this.close(1000, 'idle');
    });
    for (const ch of opts.readable) this.readers.set(ch, new Readable({ read: () => this.readerWants(ch) }));
    for (const ch of opts.writable) this.writers.set(ch, this.newWriter(ch));
    this.closed = new Promise((resolve) => ws.once('close', () => resolve()));
    ws.on('message', (data: RawData, isBinary: boolean) => this.onMessage(data, isBinary));
    ws.on('error', (err) => log.debug('streaming: WebSocket error', { error: err.message }));
    ws.once('close', () => {
      this.idle.stop();
      for (const ch of this.readers.keys()) this.endReader(ch);
      for (const w of this.writers.values()) w.destroy();
    });
  }

  reader(channel: number): Readable | undefined {
    return this.readers.get(channel);
  }

  writer(channel: number): Writable | undefined {
    return this.writers.get(channel);
  }

  /** A message on `channel` (may be empty: kubelet's "connection established" signal). */
  send(channel: number, data: Buffer, cb?: (err?: Error) => void): void {
    if (this.ws.readyState !== this.ws.OPEN) {
      cb?.(new Error('WebSocket closed'));
      return;
    }
    this.idle.touch();
    this.ws.send(encodeChannelMessage(channel, data, this.codec), { binary: !this.codec.base64 }, cb);
  }

  close(code = 1000, reason = ''): void {
    if (this.ws.readyState === this.ws.OPEN || this.ws.readyState === this.ws.CONNECTING) this.ws.close(code, reason);
  }

  private newWriter(channel: number): Writable {
    return new Writable({
      write: (chunk: Buffer, _enc, cb) => {
        // Wait for the socket only when much is queued: one round trip per message would be slow.
        if (this.ws.bufferedAmount < WS_HIGH_WATER) {
          this.send(channel, chunk);
          cb();
        } else {
          this.send(channel, chunk, (err) => cb(err ?? null));
        }
      },
    });
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    this.idle.touch();
    const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
    // A base64 protocol's messages are text; a binary protocol's are binary.
    if (isBinary === this.codec.base64) {
      this.close(1003, `expected ${this.codec.base64 ? 'text' : 'binary'} messages`);
      return;
    }
    const msg = decodeChannelMessage(buf, this.codec);
    if (!msg) return;
    if (msg.kind === 'invalid') {
      log.info('streaming: closing WebSocket on a bad message', { reason: msg.reason });
      this.close(1002, msg.reason);
      return;
    }
    const reader = this.readers.get(msg.channel);
    // kubelet drops data for channels nobody reads, and so for channels the client closed.
    if (!reader || this.endedReaders.has(msg.channel)) return;
    if (msg.kind === 'close') this.endReader(msg.channel);
    else if (msg.data.length > 0 && !reader.push(msg.data)) {
      this.fullReaders.add(msg.channel);
      this.ws.pause();
    }
  }

  private endReader(channel: number): void {
    if (this.endedReaders.has(channel)) return;
    this.endedReaders.add(channel);
    this.readers.get(channel)?.push(null);
  }

  /** Node asks a reader for more once its buffer will be under the high-water mark: read on when none is full. */
  private readerWants(channel: number): void {
    this.fullReaders.delete(channel);
    if (this.fullReaders.size === 0 && this.ws.isPaused) this.ws.resume();
  }
}
