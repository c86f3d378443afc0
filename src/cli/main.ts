import fs from 'node:fs';
import type tty from 'node:tty';
import { defaultSocketPath } from '../util/paths.js';
import { cribVersion } from '../version.js';
import { parseArgs, parseCommandArgs } from './args.js';
import { connect } from '../client/client.js';
import { commandUsage, type Command, type RawCommand } from './command.js';
import type { ClientContext } from '../client/context.js';
import { UsageError, describeError, socketProblem } from '../client/errors.js';

const runRaw: RawCommand = {
  name: 'run',
  synopsis: '[FLAGS] -f FILE...',
  summary: 'Run the Pods, Deployments, StatefulSets, DaemonSets and Jobs of Kubernetes YAML (see crib run --help).',
  outlivesOutput: true,
  raw: async (argv, ctx) => (await import('./run/index.js')).runCommand(argv, ctx),
};

const downRaw: RawCommand = {
  name: 'down',
  aliases: ['delete'],
  synopsis: '[FLAGS] -f FILE... | POD...',
  summary: 'Tear down what crib run created from Kubernetes YAML, in reverse (see crib down --help).',
  outlivesOutput: true,
  raw: async (argv, ctx) => (await import('./run/index.js')).downCommand(argv, ctx),
};

const generateRaw: RawCommand = {
  name: 'generate',
  synopsis: 'POD...',
  summary: 'Print a running pod as Kubernetes YAML that crib run takes again.',
  raw: async (argv, ctx) => (await import('./run/index.js')).generateCommand(argv, ctx),
};

type AnyCommand = Command | RawCommand;

/**
 * Every client command by the words that name it (its name, then its aliases), in the order the
 * usage lists them. A command's module is loaded only when it runs: `crib pods` loads a third of
 * the CLI. (test/unit/cli-commands.test.ts checks the words against each command's own.)
 */
export const commandTable: readonly { words: readonly string[]; load: () => Promise<AnyCommand> }[] = [
  { words: ['version'], load: async () => (await import('./runtime-info.js')).versionCommand },
  { words: ['info'], load: async () => (await import('./runtime-info.js')).infoCommand },
  { words: ['run'], load: async () => runRaw },
  { words: ['down', 'delete'], load: async () => downRaw },
  { words: ['generate'], load: async () => generateRaw },
  { words: ['jobs'], load: async () => (await import('./run/jobs.js')).jobsCommand },
  { words: ['supervise'], load: async () => (await import('./supervise.js')).superviseCommand },
  { words: ['pods'], load: async () => (await import('./pods.js')).podsCommand },
  { words: ['ps'], load: async () => (await import('./containers.js')).psCommand },
  { words: ['inspect'], load: async () => (await import('./containers.js')).inspectCommand },
  { words: ['inspectp'], load: async () => (await import('./pods.js')).inspectpCommand },
  { words: ['inspecti'], load: async () => (await import('./containers.js')).inspectiCommand },
  { words: ['logs'], load: async () => (await import('./logs.js')).logsCommand },
  { words: ['exec'], load: async () => (await import('./interactive.js')).execCommand },
  { words: ['attach'], load: async () => (await import('./interactive.js')).attachCommand },
  { words: ['port-forward'], load: async () => (await import('./interactive.js')).portForwardCommand },
  { words: ['cp'], load: async () => (await import('./cp.js')).cpCommand },
  { words: ['stop'], load: async () => (await import('./containers.js')).stopCommand },
  { words: ['rm'], load: async () => (await import('./containers.js')).rmCommand },
  { words: ['stopp'], load: async () => (await import('./pods.js')).stoppCommand },
  { words: ['rmp'], load: async () => (await import('./pods.js')).rmpCommand },
  { words: ['runp'], load: async () => (await import('./pods.js')).runpCommand },
  { words: ['tree'], load: async () => (await import('./tree.js')).treeCommand },
  { words: ['events'], load: async () => (await import('./events.js')).eventsCommand },
  { words: ['images', 'image ls', 'image list'], load: async () => (await import('./images.js')).imagesCommand },
  { words: ['pull', 'image pull'], load: async () => (await import('./images.js')).pullCommand },
  { words: ['rmi', 'image rm', 'image remove'], load: async () => (await import('./images.js')).rmiCommand },
  { words: ['image import'], load: async () => (await import('./images.js')).imageImportCommand },
  { words: ['image export'], load: async () => (await import('./images.js')).imageExportCommand },
  { words: ['image push'], load: async () => (await import('./images.js')).imagePushCommand },
];

async function findCommand(words: readonly string[]): Promise<{ cmd: AnyCommand; used: number } | undefined> {
  for (const used of [2, 1]) {
    if (words.length < used) continue;
    const name = words.slice(0, used).join(' ');
    const entry = commandTable.find((c) => c.words.includes(name));
    if (entry) return { cmd: await entry.load(), used };
  }
  return undefined;
}

/** The whole usage. */
function usage(): string {
  return `crib ${cribVersion}: a Kubernetes CRI runtime built around the pod sandbox

Usage: crib [--socket PATH] COMMAND [ARGS]     (crib COMMAND --help for its flags)

  daemon [FLAGS]                      run cribd in the foreground (crib daemon --help for its flags)
  version | info                      client and runtime versions | runtime status and config (JSON)
  run [-d] [--replace] -f FILE...     run Kubernetes YAML: Pods, Deployments, StatefulSets, DaemonSets,
                                      Jobs, with their ConfigMaps, Secrets and PersistentVolumeClaims
  down -f FILE... | POD...            tear down what crib run created (alias: delete)
  generate POD...                     a running pod as Kubernetes YAML that crib run takes again
  jobs [-n NS] [-o FMT]               the Jobs crib run started and their pods' results
  supervise [--manifest-dir DIR]      watch crib run -d's pods and a manifest directory, as kubelet
  pods [-q] [FILTERS] [-o FMT]        list pod sandboxes (-o wide: with IPs)
  ps [-a] [-q] [FILTERS] [-o FMT]     list containers, and each pod's pause container (POD-pause)
  inspect ID... | inspectp | inspecti status and verbose info of a container, pod or image (JSON)
  logs [-f] [--tail N] [-c C] POD     a container's log (-p: its previous attempt); a pod's default container's
  exec [-it] [-c C] POD -- CMD...     run a command in a pod's container (exit code = the command's)
  attach [-it] [-c C] POD             join a container's main process (output, and input with -i)
  port-forward POD [LOCAL:]REMOTE...  forward local ports (127.0.0.1 and ::1) to the pod's ports
  cp [-c C] SRC DEST                  copy files to or from a container (POD:PATH), as kubectl cp
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

IDs may be a unique prefix; pods and containers may also be named (POD, CONTAINER, POD/CONTAINER), images by
reference. Where a POD is taken, so is KIND/NAME (deployment/web, job/migrate): a pod crib run made for it;
and a CONTAINER: -c picks among a pod's (default: kubectl.kubernetes.io/default-container, else the first).
Output: -o json|yaml prints what crictl prints (protobuf's JSON names); NO_COLOR or TERM=dumb: no colour.
Exit codes: 0 ok, 1 runtime error, 2 usage error; exec exits with the command's code.
The socket defaults to ${defaultSocketPath} (env CRIB_SOCKET).

Examples:
  crib run -d app.yaml && crib pods -o wide
  crib exec -it web-7d9c -- sh
  crib logs -f --tail 20 deployment/web -c web`;
}

/** Why the socket cannot be used (errors.ts' words), or undefined when it is a socket we may open. */
function socketCheck(socket: string): string | undefined {
  try {
    if (!fs.statSync(socket).isSocket()) return `${socket} is not a socket (--socket PATH or CRIB_SOCKET names cribd's)`;
    fs.accessSync(socket, fs.constants.R_OK | fs.constants.W_OK);
    return undefined;
  } catch (e) {
    return socketProblem(socket, (e as NodeJS.ErrnoException).code);
  }
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
  // `crib ps | head -1`, `crib logs -f x | grep -m1 y`: a closed pipe ends crib quietly, unless the
  // command must first tear down what it started (then what it writes is dropped).
  let outlivesOutput = false;
  const onClosedPipe = (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    if (!outlivesOutput) process.exit(0);
  };
  if (out === process.stdout) process.stdout.on('error', onClosedPipe);
  const err = io.err ?? process.stderr;
  const isTTY = (out as Partial<tty.WriteStream>).isTTY === true;
  // no-color.org, and a terminal that says it cannot show colour
  const noColor = (process.env['NO_COLOR'] ?? '') !== '' || process.env['TERM'] === 'dumb';
  let cmdName = '';
  let cmd: Command | RawCommand | undefined;
  try {
    // global options, then the command word(s)
    let i = 0;
    let globalSocket: string | undefined;
    for (; i < argv.length; i++) {
      const a = argv[i] ?? '';
      if (a === '--help' || a === '-h') {
        out.write(`${usage()}\n`);
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
    // `crib help X` is `crib X --help`: one help text per command, whichever way it is asked for
    const words = argv[i] === 'help' && argv.length > i + 1 ? [...argv.slice(i + 1), '--help'] : argv.slice(i);
    if (words.length === 0) {
      err.write(`${usage()}\n`);
      return 2;
    }
    if (words[0] === 'help') {
      out.write(`${usage()}\n`);
      return 0;
    }
    if (words[0] === 'daemon') {
      cmdName = 'daemon';
      const { daemonHelp, runDaemon } = await import('./daemon-command.js');
      const parsed = parseArgs(words.slice(1), new Set(['help', 'h']));
      if (parsed.flags.has('help') || parsed.flags.has('h')) {
        out.write(`${daemonHelp()}\n`);
        return 0;
      }
      if (parsed.positional.length) throw new UsageError(`daemon takes no arguments ("${parsed.positional[0]}")`);
      if (globalSocket !== undefined && !parsed.flags.has('socket')) parsed.flags.set('socket', globalSocket);
      await runDaemon(parsed.flags);
      return -1; // keeps running
    }
    if (words[0] === 'image' && (words.length === 1 || words[1] === '--help' || words[1] === '-h')) {
      out.write(
        `Usage: crib image COMMAND\n\n${(await Promise.all(commandTable.map((c) => c.load())))
          .filter((c) => c.name.startsWith('image ') || c.aliases?.some((a) => a.startsWith('image ')))
          .map((c) => `  crib ${c.name} ${c.synopsis}`)
          .join('\n')}\n  crib image ls | pull | rm   (= images, pull, rmi)\n`,
      );
      return words.length === 1 ? 2 : 0;
    }
    const found = await findCommand(words);
    if (!found) throw new UsageError(`unknown command "${words.slice(0, words[0] === 'image' ? 2 : 1).join(' ')}"`);
    cmd = found.cmd;
    cmdName = cmd.name;
    if ('raw' in cmd && cmd.outlivesOutput) {
      outlivesOutput = true;
      if (err === process.stderr) process.stderr.on('error', onClosedPipe);
    }
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
    if (!('raw' in cmd)) {
      // Checked before connecting for a clear word; crib run (raw) meets the same words at its first call
      const problem = socketCheck(socket);
      if (problem) {
        err.write(`crib ${cmdName}: ${problem}\n`);
        return 1;
      }
    }
    const clients = connect(socket);
    const ctx: ClientContext = { clients, socket, out, err, isTTY, color: isTTY && !noColor };
    try {
      return 'run' in cmd ? await cmd.run(parsedArgs as ReturnType<typeof parseCommandArgs>, ctx) : await cmd.raw(taken.argv, ctx);
    } finally {
      clients.close();
    }
  } catch (e) {
    if (e instanceof UsageError) {
      err.write(`crib${cmdName ? ` ${cmdName}` : ''}: ${e.message}\n\n${cmd ? commandUsage(cmd) : usage()}\n`);
      return 2;
    }
    err.write(`crib${cmdName ? ` ${cmdName}` : ''}: ${describeError(e)}\n`);
    return 1;
  }
}
