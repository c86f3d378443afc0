// A CRI server that serves only what crictl's exec, attach and port-forward call (Version, Exec,
// Attach, PortForward), answering with a real StreamingServer's URLs, and a stand-in runtime behind
// it: exec runs the command on this host, attach echoes stdin, port-forward dials 127.0.0.1.
// For tests: no root, no containers.

import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import { criServices } from '../../src/cri/proto.js';
import { unary } from '../../src/cri/unary.js';
import type { RuntimeServiceHandlers } from '../../src/cri/generated/runtime/v1/RuntimeService.js';
import { listenUnix, type UnixListener } from '../../src/socket/serve-unix.js';
import { StreamingServer, type StreamingServerOptions } from '../../src/streaming/server.js';
import type { AttachRequest, ExecRequest, ProcessStreams, StreamingRuntime, TerminalSize } from '../../src/streaming/types.js';

/** What the stand-in saw, for tests to check. */
export interface StandInLog {
  resizes: TerminalSize[];
  execs: ExecRequest[];
  attaches: AttachRequest[];
  /** Calls running now: drops to 0 once every session's runtime call has returned. */
  running: number;
}

/**
 * The host as a "container": exec spawns the command with pipes (stderr joins stdout with a TTY;
 * the real PTY is the runtime's business), killed when the client goes away; attach copies stdin
 * to stdout until stdin ends; portForward connects to `port` on 127.0.0.1.
 */
export function hostRuntime(seen: StandInLog): StreamingRuntime {
  const readResizes = (io: ProcessStreams) => {
    if (!io.resize) return;
    void (async () => {
      for await (const size of io.resize ?? []) seen.resizes.push(size);
    })();
  };
  return {
    async exec(req, io) {
      seen.execs.push(req);
      seen.running++;
      try {
        readResizes(io);
        const [file, ...args] = req.cmd;
        if (!file) throw new Error('empty command');
        // Streaming I/O, so not src/util/exec.ts, which collects output until the program exits.
        const child = spawn(file, args, { stdio: [io.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
        const kill = () => child.kill('SIGKILL');
        io.signal.addEventListener('abort', kill, { once: true });
        if (io.stdin && child.stdin) {
          child.stdin.on('error', () => undefined); // the command may exit without reading it all
          io.stdin.pipe(child.stdin);
        }
        if (io.stdout) child.stdout?.pipe(io.stdout, { end: false });
        const errOut = req.tty ? io.stdout : io.stderr;
        if (errOut) child.stderr?.pipe(errOut, { end: false });
        const code = await new Promise<number>((resolve, reject) => {
          child.once('error', reject);
          child.once('close', (c, signal) => resolve(c ?? (signal ? 128 + (signal === 'SIGKILL' ? 9 : 15) : 1)));
        });
        io.signal.removeEventListener('abort', kill);
        if (io.stdin && child.stdin) io.stdin.unpipe(child.stdin);
        return { exitCode: code };
      } finally {
        seen.running--;
      }
    },
    async attach(req, io) {
      seen.attaches.push(req);
      seen.running++;
      try {
        readResizes(io);
        const stdin = io.stdin;
        if (stdin && io.stdout) stdin.pipe(io.stdout, { end: false });
        await new Promise<void>((resolve) => {
          if (io.signal.aborted) return resolve();
          io.signal.addEventListener('abort', () => resolve(), { once: true });
          stdin?.once('end', () => resolve());
        });
      } finally {
        seen.running--;
      }
    },
    portForward(_pod, port, signal) {
      return new Promise<Duplex>((resolve, reject) => {
        const socket = net.connect({ host: '127.0.0.1', port });
        const onAbort = () => socket.destroy(new Error('aborted'));
        signal.addEventListener('abort', onAbort, { once: true });
        socket.once('connect', () => {
          signal.removeEventListener('abort', onAbort);
          socket.removeAllListeners('error');
          socket.on('error', () => undefined); // the forwarder sees it through the stream
          resolve(socket);
        });
        socket.once('error', (err) => {
          signal.removeEventListener('abort', onAbort);
          reject(err);
        });
      });
    },
  };
}

export interface FakeCri {
  socketPath: string;
  streaming: StreamingServer;
  seen: StandInLog;
  close(): Promise<void>;
}

/** Starts the streaming server and the CRI socket `dir/cri.sock` in front of it. */
export async function startFakeCri(dir: string, opts: Partial<StreamingServerOptions> = {}): Promise<FakeCri> {
  const seen: StandInLog = { resizes: [], execs: [], attaches: [], running: 0 };
  const streaming = new StreamingServer({ runtime: hostRuntime(seen), ...opts });
  await streaming.start();
  const handlers: Partial<RuntimeServiceHandlers> = {
    Version: unary('Version', async () => ({ version: '0.1.0', runtime_name: 'fake-cri-streaming', runtime_version: '0', runtime_api_version: 'v1' })),
    Exec: unary('Exec', async (req) => ({
      url: streaming.getExec({ containerId: req.container_id, cmd: req.cmd, tty: req.tty, stdin: req.stdin, stdout: req.stdout, stderr: req.stderr }),
    })),
    Attach: unary('Attach', async (req) => ({
      url: streaming.getAttach({ containerId: req.container_id, tty: req.tty, stdin: req.stdin, stdout: req.stdout, stderr: req.stderr }),
    })),
    PortForward: unary('PortForward', async (req) => ({ url: streaming.getPortForward({ podSandboxId: req.pod_sandbox_id, ports: req.port }) })),
  };
  const grpcServer = new grpc.Server();
  grpcServer.addService(criServices().runtime, handlers as grpc.UntypedServiceImplementation); // as daemon.ts does
  const socketPath = path.join(dir, 'cri.sock');
  let listener: UnixListener;
  try {
    listener = await listenUnix(grpcServer, socketPath);
  } catch (err) {
    await streaming.close();
    throw err;
  }
  return {
    socketPath,
    streaming,
    seen,
    async close() {
      await listener.close();
      grpcServer.forceShutdown();
      await streaming.close();
    },
  };
}
