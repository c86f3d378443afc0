// The HTTP side of a streaming request: which upgrade the client asks for, the subprotocol both
// sides speak (X-Stream-Protocol-Version for SPDY, as apimachinery's httpstream.Handshake; the
// WebSocket subprotocol for WebSocket), and the answers written on the raw socket.

import http from 'node:http';
import type { Duplex } from 'node:stream';

export const SPDY_UPGRADE = 'SPDY/3.1';
export const PROTOCOL_VERSION_HEADER = 'x-stream-protocol-version';
export const ACCEPTED_PROTOCOLS_HEADER = 'X-Accepted-Stream-Protocol-Versions';

/** remotecommand over SPDY, most preferred first (kubelet's SupportedStreamingProtocols). */
export const SPDY_REMOTE_COMMAND_PROTOCOLS = ['v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io'] as const;
export const SPDY_PORT_FORWARD_PROTOCOLS = ['portforward.k8s.io'] as const;

/**
 * remotecommand over WebSocket: kubelet's list plus v5 (the API server's, which adds the
 * close-channel message). '' is a client that names no subprotocol: binary, v1 errors.
 */
export const WS_REMOTE_COMMAND_PROTOCOLS = [
  'v5.channel.k8s.io',
  'v4.channel.k8s.io',
  'v4.base64.channel.k8s.io',
  'channel.k8s.io',
  'base64.channel.k8s.io',
] as const;
export const WS_PORT_FORWARD_PROTOCOLS = ['portforward.k8s.io', 'v4.channel.k8s.io', 'v4.base64.channel.k8s.io'] as const;

/** Every value of a header, comma lists split, blanks dropped (Go clients repeat the header line). */
export function headerTokens(req: http.IncomingMessage, name: string): string[] {
  return (req.headersDistinct[name] ?? [])
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter((v) => v.length > 0);
}

function connectionUpgrades(req: http.IncomingMessage): boolean {
  return headerTokens(req, 'connection').some((v) => v.toLowerCase() === 'upgrade');
}

export function isWebSocketUpgrade(req: http.IncomingMessage): boolean {
  return connectionUpgrades(req) && headerTokens(req, 'upgrade').some((v) => v.toLowerCase() === 'websocket');
}

export function isSpdyUpgrade(req: http.IncomingMessage): boolean {
  return connectionUpgrades(req) && headerTokens(req, 'upgrade').some((v) => v.toLowerCase() === SPDY_UPGRADE.toLowerCase());
}

/** The first protocol the client lists that the server speaks (the client's preference wins, as in Go). */
export function negotiate(client: readonly string[], server: readonly string[]): string | undefined {
  return client.find((p) => server.includes(p));
}

/** An HTTP error on a socket the server owns after 'upgrade'; the connection closes after it. */
export function rejectUpgrade(socket: Duplex, status: number, message: string, headers: Record<string, string | readonly string[]> = {}): void {
  const body = `${message}\n`;
  const lines = [
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? 'Error'}`,
    'Content-Type: text/plain; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
  ];
  for (const [name, value] of Object.entries(headers)) {
    for (const v of typeof value === 'string' ? [value] : value) lines.push(`${name}: ${v}`);
  }
  if (socket.writable) socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`);
  else socket.destroy();
}

/** The 101 that hands the socket to SPDY, naming the negotiated subprotocol. */
export function acceptSpdyUpgrade(socket: Duplex, protocol: string): void {
  socket.write(
    ['HTTP/1.1 101 Switching Protocols', 'Connection: Upgrade', `Upgrade: ${SPDY_UPGRADE}`, `X-Stream-Protocol-Version: ${protocol}`, '', ''].join('\r\n'),
  );
}
