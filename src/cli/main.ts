import fs from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type * as grpc from '@grpc/grpc-js';
import { cloneConfig, daemonFlags, defaultConfig, loadConfigFile, validateConfig, type CribConfig } from '../config.js';
import { startDaemon } from '../daemon.js';
import { errorMessage } from '../util/errors.js';
import { log } from '../util/log.js';
import { cribVersion } from '../version.js';
import { parseArgs } from './args.js';
import { call, connect, type CriClients } from './client.js';
import type { PodSandboxConfig } from '../cri/generated/runtime/v1/PodSandboxConfig.js';

const usage = `crib ${cribVersion}: a Kubernetes CRI runtime built around the pod sandbox

Usage: crib [--socket PATH] COMMAND [ARGS]

  daemon [FLAGS]        run cribd in the foreground (flags below)
  version               client and runtime versions
  info                  runtime status and conditions (JSON)
  runp FILE             create a pod sandbox from a CRI PodSandboxConfig (JSON or YAML, crictl's format)
  pods [-q]             list pod sandboxes
  inspectp ID           a sandbox's status with runtime info (JSON)
  stopp ID...           stop pod sandboxes
  rmp ID...             remove pod sandboxes (stopping them first)

Daemon flags: --config FILE, ${Object.keys(daemonFlags).map((f) => `--${f}`).join(', ')}
The socket defaults to ${defaultConfig.socket} (env CRIB_SOCKET).`;

/** Exit codes scripts can rely on: 0 ok, 1 the runtime said no, 2 bad usage. */
class UsageError extends Error {}

function daemonConfig(flags: Map<string, string>): CribConfig {
  let config: CribConfig = cloneConfig(defaultConfig);
  const file = flags.get('config');
  if (file) config = loadConfigFile(config, file);
  for (const [name, value] of flags) {
    if (name === 'config') continue;
    const set = daemonFlags[name];
    if (!set) throw new UsageError(`unknown daemon flag --${name}`);
    set(config, value);
  }
  return validateConfig(config);
}

async function runDaemon(flags: Map<string, string>): Promise<void> {
  const daemon = await startDaemon(daemonConfig(flags));
  let stopping = false;
  const shutdown = (sig: string) => {
    if (stopping) return;
    stopping = true;
    log.info(`cribd: ${sig}, closing the socket (pods keep running)`);
    daemon.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error('shutdown', { error: errorMessage(err) });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

function readConfigFile(file: string): PodSandboxConfig {
  const text = fs.readFileSync(file, 'utf8');
  return parseYaml(text) as PodSandboxConfig;
}

const stateName = (n: number): string => (n === 0 ? 'Ready' : 'NotReady');

function age(createdAtNanos: string): string {
  const s = Math.max(0, Math.round((Date.now() - Number(BigInt(createdAtNanos) / 1_000_000n)) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  return `${Math.floor(s / 3600)}h`;
}

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd((widths[i] ?? 0) + 3))).join('')).join('\n');
}

/** Verbose info maps hold JSON documents or plain strings; show both as JSON. */
function parseInfo(info: Record<string, string>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(info).map(([k, v]) => {
      try {
        return [k, JSON.parse(v) as unknown];
      } catch {
        return [k, v];
      }
    }),
  );
}

async function clientCommand(cmd: string, args: string[], flags: Map<string, string>, c: CriClients): Promise<void> {
  const r = c.runtime;
  const need = (n: number, what: string) => {
    if (args.length < n) throw new UsageError(`crib ${cmd}: missing ${what}`);
  };
  switch (cmd) {
    case 'version': {
      const v = await call(r, 'Version', { version: 'v1' });
      console.log(`Version:  ${v?.version}\nRuntimeName:  ${v?.runtime_name}\nRuntimeVersion:  ${v?.runtime_version}\nRuntimeApiVersion:  ${v?.runtime_api_version}`);
      return;
    }
    case 'info': {
      const s = await call(r, 'Status', { verbose: true });
      console.log(JSON.stringify({ status: s.status, ...parseInfo(s.info) }, null, 2));
      return;
    }
    case 'runp': {
      need(1, 'FILE');
      const res = await call(r, 'RunPodSandbox', { config: readConfigFile(args[0] as string), runtime_handler: flags.get('runtime') ?? '' });
      console.log(res?.pod_sandbox_id);
      return;
    }
    case 'pods': {
      const res = await call(r, 'ListPodSandbox', {});
      const items = res?.items ?? [];
      if (flags.has('q')) {
        for (const p of items) console.log(p.id);
        return;
      }
      const rows = [['POD ID', 'CREATED', 'STATE', 'NAME', 'NAMESPACE', 'ATTEMPT', 'RUNTIME']];
      for (const p of items) {
        rows.push([p.id.slice(0, 13), age(p.created_at), stateName(p.state), p.metadata?.name ?? '', p.metadata?.namespace ?? '', String(p.metadata?.attempt ?? 0), p.runtime_handler || '(default)']);
      }
      console.log(table(rows));
      return;
    }
    case 'inspectp': {
      need(1, 'ID');
      const res = await call(r, 'PodSandboxStatus', { pod_sandbox_id: args[0], verbose: true });
      console.log(JSON.stringify({ status: res.status, ...parseInfo(res.info) }, null, 2));
      return;
    }
    case 'stopp':
    case 'rmp': {
      need(1, 'ID');
      for (const id of args) {
        if (cmd === 'stopp') await call(r, 'StopPodSandbox', { pod_sandbox_id: id });
        else await call(r, 'RemovePodSandbox', { pod_sandbox_id: id });
        console.log(`${cmd === 'stopp' ? 'Stopped' : 'Removed'} sandbox ${id}`);
      }
      return;
    }
    default:
      throw new UsageError(`unknown command "${cmd}"`);
  }
}

export async function main(argv: string[]): Promise<number> {
  const parsed = parseArgs(argv, new Set(['q', 'help', 'h']));
  const [cmd, ...args] = parsed.positional;
  if (!cmd || parsed.flags.has('help') || parsed.flags.has('h')) {
    console.log(usage);
    return cmd || parsed.flags.size ? 0 : 2;
  }
  try {
    if (cmd === 'daemon') {
      await runDaemon(parsed.flags);
      return -1; // keeps running
    }
    const socket = parsed.flags.get('socket') ?? process.env['CRIB_SOCKET'] ?? defaultConfig.socket;
    const clients = connect(socket);
    try {
      await clientCommand(cmd, args, parsed.flags, clients);
    } finally {
      clients.close();
    }
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`crib: ${err.message}\n\n${usage}`);
      return 2;
    }
    const e = err as Partial<grpc.ServiceError>;
    console.error(`crib ${cmd}: ${e.details ?? errorMessage(err)}`);
    return 1;
  }
}
