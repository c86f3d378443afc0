// The interactive commands: exec -i/-t, attach and port-forward. They ask cribd for a streaming URL
// (Exec, Attach, PortForward, as kubelet does) and speak WebSocket to it (src/cli/streaming-client.ts).
import net from 'node:net';
import { call } from '../client/client.js';
import type { Command } from './command.js';
import type { ClientContext } from '../client/context.js';
import { resolveContainerWord, resolvePodWord } from './address.js';
import { CliError, UsageError, describeError } from '../client/errors.js';
import { write } from './output.js';
import type { TerminalIO } from './streaming-client.js';

/** The WebSocket client, loaded only by the commands that stream. */
const streams = () => import('./streaming-client.js');

/**
 * Runs the streaming session at `url` on this terminal as the session sees it: raw mode while it
 * runs (keys go to the container, not to the local line editor), its size and SIGWINCH, restored
 * after. Resolves to the remote command's exit code.
 */
async function runOnTerminal(ctx: ClientContext, url: string, tty: boolean, stdin: boolean): Promise<number> {
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
  synopsis: '[-i] [-t] [-c CONTAINER] [--timeout SECS] POD|CONTAINER [--] CMD [ARG...]',
  summary: "Run a command in a running container and print its output; the exit code is the command's.",
  details: [
    "  -i, --stdin           pass this terminal's input to the command (the streaming Exec call)",
    '  -t, --tty             give the command a terminal (raw mode here, resized with this window)',
    "  -c, --container NAME  the pod's container to run in (default: the pod's",
    '                        kubectl.kubernetes.io/default-container, else its only or first one)',
    '      --timeout SECS    without -i/-t: kill the command after SECS (default: none)',
    '',
    'POD is a pod (id, prefix or name) or KIND/NAME (deployment/web, job/migrate, statefulset/db,',
    'daemonset/agent, pod/web-0: one of the pods crib run made for it); CONTAINER an id, prefix, name',
    'or POD/CONTAINER. Without -i or -t the command runs through ExecSync; with them through Exec.',
    "Flags go before CMD (or before --); everything from CMD on is the command's.",
    '',
    'Examples:',
    "  crib exec -it web-7d9c -- sh              a shell in the pod's default container",
    '  crib exec -it deployment/web -c app -- sh  a shell in container app of a pod of deployment web',
    '  crib exec web-7d9c -- cat /etc/hostname   one command, its output and exit code',
  ].join('\n'),
  flags: { bool: ['stdin', 'tty'], value: ['timeout', 'container'], alias: { i: 'stdin', t: 'tty', c: 'container' }, positionalLimit: 1 },
  async run(args, ctx) {
    const [word, ...cmd] = args.positional;
    if (!word) throw new UsageError('missing POD or CONTAINER');
    if (!cmd.length) throw new UsageError('missing CMD (crib exec POD -- CMD [ARG...])');
    const { container } = await resolveContainerWord(ctx, word, args.get('container'));
    const stdin = args.has('stdin');
    const tty = args.has('tty');
    if (!stdin && !tty) {
      const timeout = args.int('timeout', 0);
      if (timeout < 0) throw new UsageError('--timeout must not be negative');
      const res = await call(ctx.clients.runtime, 'ExecSync', { container_id: container.id, cmd, timeout }, timeout > 0 ? timeout + 60 : 24 * 3600);
      await write(ctx.out, res.stdout);
      await write(ctx.err, res.stderr);
      return res.exit_code;
    }
    const { url } = await call(ctx.clients.runtime, 'Exec', { container_id: container.id, cmd, tty, stdin, stdout: true, stderr: !tty });
    return runOnTerminal(ctx, url, tty, stdin);
  },
};

export const attachCommand: Command = {
  name: 'attach',
  synopsis: '[-i] [-t] [-c CONTAINER] POD|CONTAINER',
  summary: "Join a running container's main process: its output from now on, and with -i this terminal's input.",
  details: [
    "  -i, --stdin           pass this terminal's input (the container must have been created with stdin: true)",
    "  -t, --tty             use this terminal raw, as the container's (when it was created with tty: true)",
    "  -c, --container NAME  the pod's container (default: as crib exec picks it)",
    '',
    "The session ends when the container's process exits; without -t, Ctrl-C ends it and the container",
    'runs on (with -t, keys go to the container). POD and CONTAINER are as for crib exec.',
    '',
    'Examples:',
    '  crib run -d shell.yaml && crib attach -it shell     the shell of a `stdin: true, tty: true` container',
    '  crib attach web-7d9c -c web                        follow what container web prints from now on',
  ].join('\n'),
  flags: { bool: ['stdin', 'tty'], value: ['container'], alias: { i: 'stdin', t: 'tty', c: 'container' } },
  async run(args, ctx) {
    const [word, extra] = args.positional;
    if (!word) throw new UsageError('missing POD or CONTAINER');
    if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}"`);
    const { container } = await resolveContainerWord(ctx, word, args.get('container'));
    // The session's terminal is the container's own: read it from the spec it runs with.
    const status = await call(ctx.clients.runtime, 'ContainerStatus', { container_id: container.id, verbose: true });
    const spec = JSON.parse(status.info['info'] ?? '{}') as { runtimeSpec?: { process?: { terminal?: boolean } } };
    const tty = spec.runtimeSpec?.process?.terminal === true;
    if (args.has('tty') && !tty) ctx.err.write(`Unable to use a TTY - container ${container.metadata?.name ?? container.id} did not allocate one\n`);
    const stdin = args.has('stdin');
    if (stdin && tty && process.stdin.isTTY) ctx.err.write("If you don't see a command prompt, try pressing enter.\n");
    const { url } = await call(ctx.clients.runtime, 'Attach', { container_id: container.id, tty, stdin, stdout: true, stderr: !tty });
    return runOnTerminal(ctx, url, tty, stdin);
  },
};

/** `--address` words as host addresses: localhost is both loopbacks, as kubectl binds it. Pure. */
export function listenAddresses(values: readonly string[]): string[] {
  const words = (values.length ? values : ['localhost']).flatMap((v) => v.split(',')).map((w) => w.trim());
  const out = words.flatMap((w) => (w === 'localhost' ? ['127.0.0.1', '::1'] : [w]));
  for (const a of out) if (net.isIP(a) === 0) throw new UsageError(`--address wants localhost or IP addresses, not "${a}"`);
  return [...new Set(out)];
}

/** Listens on one address; resolves to the server, or to the error when the address cannot be bound. */
function listen(server: net.Server, port: number, host: string): Promise<Error | undefined> {
  return new Promise((done) => {
    const failed = (err: Error) => done(err);
    server.once('error', failed);
    server.listen(port, host, () => {
      server.off('error', failed);
      done(undefined);
    });
  });
}

export const portForwardCommand: Command = {
  name: 'port-forward',
  synopsis: '[--address ADDR] POD|KIND/NAME [LOCAL:]REMOTE...',
  summary: "Forward local ports to ports on the pod's localhost, until interrupted (Ctrl-C).",
  details: [
    '      --address ADDR    where to listen: localhost (default: 127.0.0.1 and ::1, as kubectl), or IP',
    '                        addresses, comma-separated or repeated',
    '',
    'Each connection to LOCAL is a new PortForward to REMOTE inside the pod (no port needs to be published);',
    'each is reported with a "Handling connection for LOCAL" line. LOCAL 0 or :REMOTE takes a free port.',
    'POD is an id, prefix or name, or KIND/NAME (deployment/web: one of the pods crib run made for it).',
    '',
    'Examples:',
    '  crib port-forward deployment/web 8080:80   localhost:8080 to port 80 of a pod of deployment web',
    '  crib port-forward web-7d9c 5432            the same port on both sides',
  ].join('\n'),
  flags: { multi: ['address'] },
  async run(args, ctx) {
    const [word, ...specs] = args.positional;
    if (!word) throw new UsageError('missing POD');
    if (!specs.length) throw new UsageError('missing [LOCAL:]REMOTE');
    const pairs = specs.map(parsePortPair);
    const hosts = listenAddresses(args.all('address'));
    const pod = await resolvePodWord(ctx, word);
    const { forwardConnection } = await streams();
    const servers: net.Server[] = [];
    try {
      for (const { local, remote } of pairs) {
        let port = local;
        let bound = 0;
        for (const host of hosts) {
          const server = net.createServer((conn) => {
            ctx.out.write(`Handling connection for ${port}\n`);
            call(ctx.clients.runtime, 'PortForward', { pod_sandbox_id: pod.id, port: [remote] })
              .then(({ url }) => forwardConnection(url, remote, conn))
              .catch((err: unknown) => {
                ctx.err.write(`port-forward ${port} -> ${remote}: ${describeError(err)}\n`);
                conn.destroy();
              });
          });
          const err = await listen(server, port, host);
          if (err) {
            // kubectl goes on when one loopback cannot be bound (a host without IPv6), and fails when none can
            ctx.err.write(`Unable to listen on ${host}:${port}: ${err.message}\n`);
            continue;
          }
          servers.push(server);
          bound++;
          const addr = server.address();
          if (typeof addr === 'object' && addr) port = addr.port;
          ctx.out.write(`Forwarding from ${host.includes(':') ? `[${host}]` : host}:${port} -> ${remote}\n`);
        }
        if (!bound) throw new CliError(`unable to listen on any of the requested ports: ${local}`);
      }
      await new Promise<void>((done) => {
        for (const s of ['SIGINT', 'SIGTERM'] as const) process.once(s, () => done());
      });
    } finally {
      await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    }
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
