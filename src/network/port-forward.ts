import net from 'node:net';
import { Duplex } from 'node:stream';
import { builtCribIoBinary } from '../host/crib-io.js';
import { CribError } from '../util/errors.js';
import { spawnStreaming } from '../util/exec.js';
import { onAbort } from '../util/on-abort.js';

/**
 * A byte stream to `port` on a pod's localhost (PortForward): inside its network namespace through
 * `crib-io netconnect` (Node cannot enter one), or directly for a pod on the node's network. Nothing
 * listening is an error carrying the connect failure; `signal` ends the stream.
 */
export function openPodPort(netnsPath: string | undefined, port: number, signal: AbortSignal): Promise<Duplex> {
  return netnsPath ? viaNetns(netnsPath, port, signal) : direct(port, signal);
}

function direct(port: number, signal: AbortSignal): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port, signal });
    sock.once('connect', () => resolve(sock));
    sock.once('error', (e) => reject(new CribError('Unavailable', `connect 127.0.0.1:${port}: ${e.message}`)));
  });
}

function viaNetns(netnsPath: string, port: number, signal: AbortSignal): Promise<Duplex> {
  const p = spawnStreaming(builtCribIoBinary, ['netconnect', netnsPath, String(port)], { fd3: true });
  const end = () => p.kill();
  void p.exited.then(onAbort(signal, end));
  return new Promise((resolve, reject) => {
    // crib-io says "connected" on fd 3 once it is; exiting first means the connect failed.
    p.fd3?.once('data', () => {
      const stream = Duplex.from({ readable: p.stdout, writable: p.stdin });
      stream.once('close', end);
      resolve(stream);
    });
    void p.exited.then(({ stderr }) => reject(new CribError('Unavailable', stderr.replace(/^error: /, '') || `nothing answered on port ${port}`)));
  });
}
