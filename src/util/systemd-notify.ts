import { run } from './exec.js';
import { log } from './log.js';
import { MAX_TIMER_MS } from './time.js';

/** What systemd put in the environment of a Type=notify service (and what no child may inherit). */
const NOTIFY_VARS = ['NOTIFY_SOCKET', 'WATCHDOG_USEC', 'WATCHDOG_PID'] as const;

/**
 * Tells systemd how cribd is doing (sd_notify): READY=1 once the socket serves, STOPPING=1 on
 * shutdown, WATCHDOG=1 while healthy. Node cannot send unix datagrams, so each message goes through
 * `systemd-notify`, which (run as root) sends it with cribd's pid: NotifyAccess=main is enough.
 */
export class SystemdNotifier {
  private watchdog: NodeJS.Timeout | undefined;
  private constructor(
    private readonly env: Record<string, string>,
    /** Half the watchdog interval, as sd_watchdog_enabled(3) advises; 0 when there is no watchdog. */
    private readonly pingMs: number,
  ) {}

  /**
   * Takes systemd's variables out of the environment: the OCI runtime would otherwise proxy NOTIFY_SOCKET into
   * containers and its `start` wait for them to say READY. Undefined when not run by systemd.
   */
  static fromEnvironment(env: NodeJS.ProcessEnv = process.env): SystemdNotifier | undefined {
    const vars: Record<string, string> = {};
    for (const k of NOTIFY_VARS) {
      const v = env[k];
      if (v !== undefined) vars[k] = v;
      delete env[k];
    }
    if (!vars['NOTIFY_SOCKET']) return undefined;
    const usec = Number(vars['WATCHDOG_USEC']);
    const forUs = !vars['WATCHDOG_PID'] || Number(vars['WATCHDOG_PID']) === process.pid;
    return new SystemdNotifier({ NOTIFY_SOCKET: vars['NOTIFY_SOCKET'] }, forUs && usec > 0 ? Math.max(1, Math.floor(usec / 2000)) : 0);
  }

  ready(status: string): Promise<void> {
    return this.send(['READY=1', `STATUS=${status}`]);
  }

  stopping(): Promise<void> {
    clearInterval(this.watchdog);
    return this.send(['STOPPING=1', 'STATUS=stopping']);
  }

  /** Pings the watchdog while `healthy()` says so; a hung event loop or a failed check lets systemd restart cribd. */
  startWatchdog(healthy: () => Promise<boolean>): void {
    if (!this.pingMs) return;
    this.watchdog = setInterval(
      () => {
        void healthy().then(
          (ok) => (ok ? this.send(['WATCHDOG=1']) : log.warn('health check failed: not pinging the systemd watchdog')),
          (err: unknown) => log.warn('health check failed: not pinging the systemd watchdog', { error: err }),
        );
      },
      Math.min(this.pingMs, MAX_TIMER_MS),
    );
    this.watchdog.unref();
  }

  private async send(lines: string[]): Promise<void> {
    try {
      // --no-block: the message carries cribd's pid, which systemd can always attribute; no need to wait.
      await run('systemd-notify', ['--no-block', ...lines], { env: this.env, timeoutMs: 5000 });
    } catch (err) {
      log.warn('could not notify systemd', { message: lines[0], error: err });
    }
  }
}
