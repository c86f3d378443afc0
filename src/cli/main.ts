import fs from 'node:fs';
import type tty from 'node:tty';
import { defaultSocketPath } from '../util/paths.js';
import { cribVersion } from '../version.js';
import { parseArgs, parseCommandArgs } from './args.js';
import { call, connect } from './client.js';
import { commandUsage, type Command, type RawCommand } from './command.js';
import type { CliContext } from './context.js';
import { UsageError, describeError } from './errors.js';
import { inspectCommand, inspectiCommand, psCommand, rmCommand, stopCommand } from './containers.js';
import { attachCommand, execCommand, portForwardCommand } from './interactive.js';
import { imageExportCommand, imageImportCommand, imagePushCommand, imagesCommand, pullCommand, rmiCommand } from './images.js';
import { logsCommand } from './logs.js';
import { outputFormat, parseInfo, printData } from './output.js';
import { inspectpCommand, podsCommand, rmpCommand, runpCommand, stoppCommand } from './pods.js';
import { treeCommand } from './tree.js';
import { eventsCommand } from './events.js';

const versionCommand: Command = {
  name: 'version',
  synopsis: '[-o json|yaml]',
  summary: "The client's version and the runtime's (CRI Version).",
  flags: { value: ['output'], alias: { o: 'output' } },
  async run(args, ctx) {
    const format = outputFormat(args.get('output'));
    const v = await call(ctx.clients.runtime, 'Version', { version: 'v1' });
    if (format !== 'table') {
      printData(ctx, format, { clientVersion: cribVersion, ...v });
      return 0;
    }
    ctx.out.write(
      `ClientVersion:  ${cribVersion}\nVersion:  ${v.version}\nRuntimeName:  ${v.runtime_name}\nRuntimeVersion:  ${v.runtime_version}\nRuntimeApiVersion:  ${v.runtime_api_version}\n`,
    );
    return 0;
  },
};

const infoCommand: Command = {
  name: 'info',
  synopsis: '[-o json|yaml]',
  summary: "The runtime's status: conditions (RuntimeReady, NetworkReady), its config and the network's (CRI Status, verbose).",
  flags: { value: ['output'], alias: { o: 'output' } },
  async run(args, ctx) {
    const s = await call(ctx.clients.runtime, 'Status', { verbose: true });
    printData(ctx, args.get('output') === 'yaml' ? 'yaml' : 'json', { status: s.status, ...parseInfo(s.info) });
    return 0;
  },
};

const runRaw: RawCommand = {
  name: 'run',
  synopsis: '[FLAGS] -f FILE...',
  summary: 'Run the Pods, Deployments, StatefulSets, DaemonSets and Jobs of Kubernetes YAML (see crib run --help).',
  raw: async (argv, ctx) => (await import('./run/index.js')).runCommand(argv, ctx),
};

const downRaw: RawCommand = {
  name: 'down',
  aliases: ['delete'],
  synopsis: '[FLAGS] -f FILE... | POD...',
  summary: 'Tear down what crib run created from Kubernetes YAML, in reverse (see crib down --help).',
  raw: async (argv, ctx) => (await import('./run/index.js')).downCommand(argv, ctx),
};

const generateRaw: RawCommand = {
  name: 'generate',
  synopsis: 'POD...',
  summary: 'Print a running pod as Kubernetes YAML that crib run takes again.',
  raw: async (argv, ctx) => (await import('./run/index.js')).generateCommand(argv, ctx),
};

/** Every client command, in the order the usage lists them. */
export const commands: readonly (Command | RawCommand)[] = [
  versionCommand,
  infoCommand,
  runRaw,
  downRaw,
  generateRaw,
  podsCommand,
  psCommand,
  inspectCommand,
  inspectpCommand,
  inspectiCommand,
  logsCommand,
  execCommand,
  attachCommand,
  portForwardCommand,
  stopCommand,
  rmCommand,
  stoppCommand,
  rmpCommand,
  runpCommand,
  treeCommand,
  eventsCommand,
  imagesCommand,
  pullCommand,
  rmiCommand,
  imageImportCommand,
  imageExportCommand,
  imagePushCommand,
];

function findCommand(words: readonly string[]): { cmd: Command | RawCommand; used: number } | undefined {
  for (const used of [2, 1]) {
    const name = words.slice(0, used).join(' ');
    if (words.length < used) continue;
    const cmd = commands.find((c) => c.name === name || c.aliases?.includes(name));
    if (cmd) return { cmd, used };
  }
  return undefined;
}

/** The whole usage; the daemon's flags are read from its module, loaded only for this. */
async function usage(): Promise<string> {
  const { daemonFlagNames } = await import('./daemon-command.js');
  return `crib ${cribVersion}: a Kubernetes CRI runtime built around the pod sandbox

Usage: crib [--socket PATH] COMMAND [ARGS]     (crib COMMAND --help for its flags)

  daemon [FLAGS]                      run cribd in the foreground (flags below)
  version | info                      client and runtime versions | runtime status and config (JSON)
  run [-d] [--replace] -f FILE...     run Kubernetes YAML: Pods, Deployments, StatefulSets, DaemonSets,
                                      Jobs, with their ConfigMaps, Secrets and PersistentVolumeClaims
  down -f FILE... | POD...            tear down what crib run created (alias: delete)
  generate POD...                     a running pod as Kubernetes YAML that crib run takes again
  pods [-q] [FILTERS] [-o FMT]        list pod sandboxes
  ps [-a] [-q] [FILTERS] [-o FMT]     list containers, and each pod's pause container (POD-pause)
  inspect ID... | inspectp | inspecti status and verbose info of a container, pod or image (JSON)
  logs [-f] [--tail N] CONTAINER|POD  a container's log, stdout and stderr apart; a pod's: every container, prefixed
  exec [-it] CONTAINER [--] CMD...    run a command in a container (exit code = the command's)
  attach [-i] CONTAINER               join a container's main process (output, and input with -i)
  port-forward POD [LOCAL:]REMOTE...  forward local ports to ports on the pod's localhost
  stop [-t N] ID... | rm [-f] ID...   stop | remove containers or pods
  stopp POD... | rmp POD...           stop | remove pod sandboxes
  runp FILE                           a pod sandbox from a CRI PodSandboxConfig (JSON or YAML)
  tree [-o json] POD                  the pod's namespaces and processes as the node sees them
  events [-o json]                    pod and container lifecycle events, as they happen
  images [-q] [-o FMT]                list images
  pull [--creds U:P] REF              pull an image with per-layer progress
  rmi IMAGE...                        remove images (or tags)
  image import [--name REF] FILE      import a docker-archive / oci-archive tar
  image export -o FILE IMAGE...       export images (--format oci-archive|docker-archive)
  image push IMAGE [TARGET]           push an image to a registry

IDs may be a unique prefix; pods and containers may also be named (POD, CONTAINER, POD/CONTAINER), images by reference.
Exit codes: 0 ok, 1 runtime error, 2 usage error; exec exits with the command's code.
Daemon flags: --config FILE, ${daemonFlagNames()
    .map((f) => `--${f}`)
    .join(', ')}
The socket defaults to ${defaultSocketPath} (env CRIB_SOCKET).`;
}

/** Takes `--socket PATH` / `--socket=PATH` out of argv (before a `--`). */
function takeSocket(argv: string[]): { argv: string[]; socket?: string } {
  const out: string[] = [];
  let socket: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a === '--') {
      out.push(...argv.slice(i));
      break;
    }
    if (a === '--socket' || a === '-socket') {
      const v = argv[i + 1];
      if (v === undefined) throw new UsageError('--socket needs a value');
      socket = v;
      i++;
    } else if (a.startsWith('--socket=')) socket = a.slice('--socket='.length);
    else out.push(a);
  }
  return socket === undefined ? { argv: out } : { argv: out, socket };
}

export interface MainIo {
  out?: NodeJS.WritableStream;
  err?: NodeJS.WritableStream;
}

export async function main(argv: string[], io: MainIo = {}): Promise<number> {
  const out = io.out ?? process.stdout;
  if (out === process.stdout) {
    // `crib ps | head -1`, `crib logs -f x | grep -m1 y`: a closed pipe ends crib quietly
    process.stdout.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(0);
      throw e;
    });
  }
  const err = io.err ?? process.stderr;
  const isTTY = (out as Partial<tty.WriteStream>).isTTY === true;
  const noColor = (process.env['NO_COLOR'] ?? '') !== '';
  let cmdName = '';
  let cmd: Command | RawCommand | undefined;
  try {
    // global options, then the command word(s)
    let i = 0;
    let globalSocket: string | undefined;
    for (; i < argv.length; i++) {
      const a = argv[i] ?? '';
      if (a === '--help' || a === '-h') {
        out.write(`${await usage()}\n`);
        return 0;
      }
      if (a === '--version' || a === '-v') {
        out.write(`crib ${cribVersion}\n`);
        return 0;
      }
      if (a === '--socket') {
        globalSocket = argv[++i];
        if (globalSocket === undefined) throw new UsageError('--socket needs a value');
      } else if (a.startsWith('--socket=')) globalSocket = a.slice('--socket='.length);
      else if (a.startsWith('-')) throw new UsageError(`unknown option ${a} (before the command)`);
      else break;
    }
    const words = argv.slice(i);
    if (words.length === 0) {
      err.write(`${await usage()}\n`);
      return 2;
    }
    if (words[0] === 'help') {
      const found = findCommand(words.slice(1));
      out.write(`${found ? commandUsage(found.cmd) : await usage()}\n`);
      return 0;
    }
    if (words[0] === 'daemon') {
      cmdName = 'daemon';
      const { daemonFlagNames, runDaemon } = await import('./daemon-command.js');
      const parsed = parseArgs(words.slice(1), new Set(['help', 'h']));
      if (parsed.flags.has('help') || parsed.flags.has('h')) {
        out.write(
          `Usage: crib daemon [--config FILE] [FLAGS]\n\nRun cribd in the foreground.\nFlags: ${daemonFlagNames()
            .map((f) => `--${f}`)
            .join(', ')}\n`,
        );
        return 0;
      }
      if (parsed.positional.length) throw new UsageError(`daemon takes no arguments ("${parsed.positional[0]}")`);
      if (globalSocket !== undefined && !parsed.flags.has('socket')) parsed.flags.set('socket', globalSocket);
      await runDaemon(parsed.flags);
      return -1; // keeps running
    }
    if (words[0] === 'image' && (words.length === 1 || words[1] === '--help' || words[1] === '-h')) {
      out.write(
        `Usage: crib image COMMAND\n\n${commands
          .filter((c) => c.name.startsWith('image ') || c.aliases?.some((a) => a.startsWith('image ')))
          .map((c) => `  crib ${c.name} ${c.synopsis}`)
          .join('\n')}\n  crib image ls | pull | rm   (= images, pull, rmi)\n`,
      );
      return words.length === 1 ? 2 : 0;
    }
    const found = findCommand(words);
    if (!found) throw new UsageError(`unknown command "${words.slice(0, words[0] === 'image' ? 2 : 1).join(' ')}"`);
    cmd = found.cmd;
    cmdName = cmd.name;
    const taken = takeSocket(words.slice(found.used));
    const socket = taken.socket ?? globalSocket ?? process.env['CRIB_SOCKET'] ?? defaultSocketPath;
    let parsedArgs: ReturnType<typeof parseCommandArgs> | undefined;
    if ('run' in cmd) {
      parsedArgs = parseCommandArgs(taken.argv, cmd.flags);
      if (parsedArgs.has('help')) {
        out.write(`${commandUsage(cmd)}\n`);
        return 0;
      }
    }
    if (!fs.existsSync(socket) && !('raw' in cmd)) {
      err.write(`crib ${cmdName}: no runtime socket at ${socket} (is cribd running? --socket PATH or CRIB_SOCKET)\n`);
      return 1;
    }
    const clients = connect(socket);
    const ctx: CliContext = { clients, socket, out, err, isTTY, color: isTTY && !noColor };
    try {
      return 'run' in cmd ? await cmd.run(parsedArgs as ReturnType<typeof parseCommandArgs>, ctx) : await cmd.raw(taken.argv, ctx);
    } finally {
      clients.close();
    }
  } catch (e) {
    if (e instanceof UsageError) {
      err.write(`crib${cmdName ? ` ${cmdName}` : ''}: ${e.message}\n\n${cmd ? commandUsage(cmd) : await usage()}\n`);
      return 2;
    }
    err.write(`crib${cmdName ? ` ${cmdName}` : ''}: ${describeError(e)}\n`);
    return 1;
  }
}
