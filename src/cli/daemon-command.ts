// `crib daemon`: cribd in the foreground. Loaded only for it (and for the usage's flag list): the
// client commands start faster without the config, logging and systemd modules.
import { cloneConfig, daemonFlags, defaultConfig, loadConfigFile, validateConfig, type CribConfig } from '../config.js';
import { SystemdNotifier } from '../util/systemd-notify.js';
import { log } from '../util/log.js';
import { CliError, UsageError } from './errors.js';

export const daemonFlagNames = (): string[] => Object.keys(daemonFlags);

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
