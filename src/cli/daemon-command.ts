// `crib daemon`: cribd in the foreground. Loaded only for it (and for the usage's flag list): the
// client commands start faster without the config, logging and systemd modules.
import { cloneConfig, daemonFlags, defaultConfig, loadConfigFile, validateConfig, type CribConfig } from '../config.js';
import { SystemdNotifier } from '../util/systemd-notify.js';
import { log } from '../util/log.js';
import { CliError, UsageError } from '../client/errors.js';
import { runtimeSettings, runtimeStateHelp } from '../oci/settings.js';

const d = defaultConfig;
/** What each daemon flag does, with its value form and default (test/unit/cli-commands.test.ts: one per flag). */
export const daemonFlagHelp: Readonly<Record<string, readonly [value: string, what: string]>> = {
  socket: ['PATH', `the CRI gRPC socket, mode 0660 (default ${d.socket})`],
  root: ['DIR', `persistent state: images, sandbox records, pod directories (default ${d.root})`],
  state: ['DIR', `runtime state: netns pins, shm mounts, ${runtimeStateHelp} (default ${d.state})`],
  ...Object.fromEntries(Object.entries(runtimeSettings).map(([name, s]) => [name, [s.value, s.help] as const])),
  'cni-conf-dir': ['DIR', `the first valid CNI config here is the pod network (default ${d.cniConfDir})`],
  'cni-bin-dir': ['DIRS', `where the CNI plugins are, colon-separated (default ${d.cniBinDirs.join(':')})`],
  'pause-image': ['REF', 'another pause image, pulled and pinned when first needed (default: the built-in one)'],
  'cgroup-root': ['PATH', `parent cgroup of pods that come without cgroup_parent (default ${d.cgroupRoot})`],
  'network-name': ['NAME', `the built-in bridge network's name (default ${d.network.name})`],
  bridge: ['NAME', `the built-in network's bridge, used when --cni-conf-dir has no config (default ${d.network.bridge})`],
  subnet: ['CIDR', `the built-in network's pod addresses; kubelet's pod CIDR replaces it (default ${d.network.subnet})`],
  'ip-masq': ['true|false', `masquerade pod traffic leaving the node (default ${d.network.ipMasq})`],
  'builtin-network': ['true|false', `false: no built-in network, the node waits for a CNI config (default ${d.network.builtin})`],
  'insecure-registry': ['HOST', 'a registry reached over plain HTTP or unverified HTTPS (repeatable; default none)'],
  'registry-ca': ['FILE', "a PEM CA trusted besides the system's (repeatable; default none)"],
  'log-level': ['LEVEL', `debug, info, warn or error (default ${d.logLevel})`],
  'log-format': ['FORMAT', `text or json, one line per entry (default ${d.logFormat})`],
  'streaming-address': ['IP', `where the exec/attach/port-forward server listens (default ${d.streaming.address})`],
  'streaming-port': ['PORT', 'its port (default 0: any free one)'],
  'streaming-tls-cert': ['FILE', 'serve the streaming server over HTTPS with this PEM certificate (default: plain HTTP)'],
  'streaming-tls-key': ['FILE', "that certificate's PEM key"],
  'streaming-idle-timeout': ['SECS', `seconds a streaming session may sit idle (default ${d.streaming.idleTimeoutSeconds})`],
  'metrics-address': ['IP:PORT', 'serve Prometheus metrics at http://IP:PORT/metrics (default: off)'],
};

/** `crib daemon --help`. */
export function daemonHelp(): string {
  const rows = [
    ['config', ['FILE', 'a YAML or JSON file of these settings (camelCase keys, as README.md lists); flags win over it']] as const,
    ...Object.entries(daemonFlagHelp),
  ];
  const left = rows.map(([name, [value]]) => `      --${name} ${value}`);
  const width = Math.max(...left.map((l) => l.length)) + 2;
  return [
    'Usage: crib daemon [--config FILE] [FLAGS]',
    '',
    'Run cribd, the CRI runtime, in the foreground, as root: kubelet, crictl and crib talk to it on its',
    'socket. It logs to standard error; SIGTERM or Ctrl-C closes the socket and leaves the pods running.',
    '',
    ...rows.map(([, [, what]], i) => `${(left[i] as string).padEnd(width)}${what}`),
    '',
    'Examples:',
    `  sudo crib daemon                                  the defaults: ${d.socket}, ${d.runtime}, ${d.network.bridge}`,
    '  sudo crib daemon --config /etc/crib/crib.yaml --log-level debug',
    '  sudo crib daemon --cni-conf-dir /etc/cni/net.d --runtime crun',
  ].join('\n');
}

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

/**
 * Whether this process can run cribd, checked before anything is written: it makes namespaces,
 * mounts, cgroups and network devices and chowns what it makes, which only root may.
 */
export function checkCanRun(euid: number): void {
  if (euid !== 0) throw new CliError(`cribd must run as root (it makes namespaces, mounts, cgroups and pod networks; this is uid ${euid}): sudo crib daemon`);
}

export async function runDaemon(flags: Map<string, string>): Promise<void> {
  const config = daemonConfig(flags);
  checkCanRun(process.geteuid?.() ?? 0);
  // Before anything is spawned: no child of cribd may inherit systemd's notify socket.
  const systemd = SystemdNotifier.fromEnvironment();
  // Loaded only here: the client commands start in a fraction of the time without the daemon's modules.
  const { startDaemon } = await import('../daemon.js');
  const daemon = await startDaemon(config);
  await systemd?.ready(`serving CRI on ${daemon.config.socket}`);
  systemd?.startWatchdog(() => daemon.healthy());
  let stopping = false;
  const shutdown = (sig: string) => {
    if (stopping) return;
    stopping = true;
    log.info(`cribd: ${sig}, closing the socket (pods keep running)`);
    (systemd?.stopping() ?? Promise.resolve())
      .then(() => daemon.stop())
      .then(
        () => process.exit(0),
        (err: unknown) => {
          log.error('shutdown', { error: err });
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}
