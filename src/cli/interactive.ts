// The interactive commands: exec -i/-t, attach and port-forward. They ask cribd for a streaming URL
// (Exec, Attach, PortForward, as kubelet does) and speak WebSocket to it (src/cli/streams.ts).
import net from 'node:net';
import { call } from './client.js';
import type { Command } from './command.js';
import type { CliContext } from './context.js';
import { UsageError } from './errors.js';
import { write } from './output.js';
import { resolve, resolvePod } from './resolve.js';
import type { TerminalIO } from './streams.js';

/** The WebSocket client, loaded only by the commands that stream. */
const streams = () => import('./streams.js');

/**
 * Runs the streaming session at `url` on this terminal as the session sees it: raw mode while it
 * runs (keys go to the container, not to the local line editor), its size and SIGWINCH, restored
 * after. Resolves to the remote command's exit code.
 */
async function runOnTerminal(ctx: CliContext, url: string, tty: boolean, stdin: boolean): Promise<number> {
  const input = process.stdin;
  const rawable = tty && stdin && input.isTTY;
  if (rawable) input.setRawMode(true);
  const io: TerminalIO = { stdout: ctx.out, stderr: ctx.err, ...(stdin ? { stdin: input } : {}) };
  if (tty) {
    io.size = () => ({ width: process.stdout.columns || 80, height: process.stdout.rows || 24 });
    io.onResize = (listener) => {
      process.on('SIGWINCH', listener);
      return () => void process.off('SIGWINCH', listener);
    };
  }
  try {
    const { runSession } = await streams();
    return await runSession(url, io);
  } finally {
    if (rawable) input.setRawMode(false);
    input.pause();
  }
}

export const execCommand: Command = {
  name: 'exec',
  synopsis: '[-i] [-t] [--timeout SECS] CONTAINER [--] CMD [ARG...]',
  summary: "Run a command in a running container and print its output; the exit code is the command's.",
  details: [
    "  -i, --stdin           pass this terminal's input to the command (the streaming Exec call)",
    '  -t, --tty             give the command a terminal (raw mode here, resized with this window)',
    '      --timeout SECS    without -i/-t: kill the command after SECS (default: none)',
    '',
    'Without -i or -t the command runs through ExecSync; with them through Exec, as kubectl exec -it.',
  ].join('\n'),
  flags: { bool: ['stdin', 'tty'], value: ['timeout'], alias: { i: 'stdin', t: 'tty' }, positionalLimit: 1 },
  async run(args, ctx) {
    const [word, ...cmd] = args.positional;
    if (!word) throw new UsageError('missing CONTAINER');
    if (!cmd.length) throw new UsageError('missing CMD');
    const t = await resolve(ctx, word, ['container']);
    const stdin = args.has('stdin');
    const tty = args.has('tty');
    if (!stdin && !tty) {
      const timeout = args.int('timeout', 0);
      if (timeout < 0) throw new UsageError('--timeout must not be negative');
      const res = await call(ctx.clients.runtime, 'ExecSync', { container_id: t.id, cmd, timeout }, timeout > 0 ? timeout + 60 : 24 * 3600);
      await write(ctx.out, res.stdout);
      await write(ctx.err, res.stderr);
      return res.exit_code;
    }
    const { url } = await call(ctx.clients.runtime, 'Exec', { container_id: t.id, cmd, tty, stdin, stdout: true, stderr: !tty });
    return runOnTerminal(ctx, url, tty, stdin);
  },
};

export const attachCommand: Command = {
  name: 'attach',
  synopsis: '[-i] CONTAINER',
  summary: "Join a running container's main process: its output from now on, and with -i this terminal's input.",
  details: "  -i, --stdin           pass this terminal's input (the container must have been created with stdin)",
  flags: { bool: ['stdin'], alias: { i: 'stdin' } },
  async run(args, ctx) {
    const [word] = args.positional;
    if (!word) throw new UsageError('missing CONTAINER');
    const t = await resolve(ctx, word, ['container']);
    // The session's terminal is the container's own: read it from the spec it runs with.
    const status = await call(ctx.clients.runtime, 'ContainerStatus', { container_id: t.id, verbose: true });
    const spec = JSON.parse(status.info['info'] ?? '{}') as { runtimeSpec?: { process?: { terminal?: boolean } } };
    const tty = spec.runtimeSpec?.process?.terminal === true;
    const stdin = args.has('stdin');
    const { url } = await call(ctx.clients.runtime, 'Attach', { container_id: t.id, tty, stdin, stdout: true, stderr: !tty });
    return runOnTerminal(ctx, url, tty, stdin);
  },
};

export const portForwardCommand: Command = {
  name: 'port-forward',
  synopsis: 'POD [LOCAL:]REMOTE...',
  summary: "Forward local ports on 127.0.0.1 to ports on the pod's localhost, until interrupted.",
  details: '  Each connection to LOCAL is a new PortForward to REMOTE inside the pod (no port needs to be published).',
  flags: {},
  async run(args, ctx) {
    const [word, ...specs] = args.positional;
    if (!word) throw new UsageError('missing POD');
    if (!specs.length) throw new UsageError('missing [LOCAL:]REMOTE');
    const pairs = specs.map(parsePortPair);
    const pod = await resolvePod(ctx, word);
    const { forwardConnection } = await streams();
    const servers = await Promise.all(
      pairs.map(
        ({ local, remote }) =>
          new Promise<net.Server>((listening, failed) => {
            const server = net.createServer((conn) => {
              call(ctx.clients.runtime, 'PortForward', { pod_sandbox_id: pod.id, port: [remote] })
                .then(({ url }) => forwardConnection(url, remote, conn))
                .catch((err: unknown) => {
                  ctx.err.write(`port-forward ${local} -> ${remote}: ${err instanceof Error ? err.message : String(err)}\n`);
                  conn.destroy();
                });
            });
            server.once('error', failed);
            server.listen(local, '127.0.0.1', () => {
              const addr = server.address();
              ctx.out.write(`Forwarding from 127.0.0.1:${typeof addr === 'object' && addr ? addr.port : local} -> ${remote}\n`);
              listening(server);
            });
          }),
      ),
    );
    await new Promise<void>((done) => {
      for (const s of ['SIGINT', 'SIGTERM'] as const) process.once(s, () => done());
    });
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    return 0;
  },
};

/** `8080:80`, or `80` for the same port on both sides (0 for LOCAL takes any free one). */
export function parsePortPair(spec: string): { local: number; remote: number } {
  const m = /^(?:(\d+):)?(\d+)$/.exec(spec);
  const remote = Number(m?.[2]);
  const local = m?.[1] === undefined ? remote : Number(m[1]);
  if (!m || !(remote >= 1 && remote <= 65535) || !(local >= 0 && local <= 65535)) throw new UsageError(`"${spec}" is not [LOCAL:]REMOTE with ports 1-65535`);
  return { local, remote };
}
