// `crib supervise`: the node's supervisor in the foreground (src/kube/supervisor), for a systemd
// unit (contrib/crib-supervise.service) or started detached by the first `crib run -d`.
import { parseArgs } from './args.js';
import type { ClientContext } from '../client/context.js';
import type { RawCommand } from './command.js';
import { runtimeRoot } from '../kube/records/paths.js';
import { takeLock } from '../kube/supervisor/lock.js';
import { DEFAULT_MANIFEST_DIR, Supervisor } from '../kube/supervisor/supervisor.js';
import { describeError } from '../client/errors.js';
import { sleep } from '../kube/loop/abort.js';

export const superviseUsage = `Usage: crib supervise [--manifest-dir DIR] [--scan DURATION_MS]

Watches what crib run -d started, and the manifests of DIR (kubelet's --pod-manifest-path, default
${DEFAULT_MANIFEST_DIR}), as kubelet watches its static pods: probes, restarts with back-off, log
rotation (10 MiB, 5 files), Jobs' pods to their end. A file put in DIR is run (crib run -d
--replace), a changed one run again, a removed one torn down; crib down -f ends the care of a run.
One supervisor runs per cribd root (ROOT/kube/supervisor.pid); its output goes to stderr (started by
crib run -d: ROOT/kube/supervisor.log). SIGTERM ends it and leaves the pods running: started again,
it takes them over. It outlives cribd restarts.`;

async function supervise(argv: string[], ctx: ClientContext): Promise<number> {
  const { positional, flags } = parseArgs(argv, new Set(['exit-when-idle', 'help', 'h']));
  if (flags.has('help') || flags.has('h')) {
    ctx.out.write(`${superviseUsage}\n`);
    return 0;
  }
  const unknown = [...flags.keys()].find((k) => !['manifest-dir', 'scan', 'exit-when-idle'].includes(k));
  const scanMs = Number(flags.get('scan') ?? 2000);
  if (positional.length || unknown || !Number.isInteger(scanMs) || scanMs < 100 || scanMs > 60_000) {
    ctx.err.write(
      `crib supervise: ${unknown ? `unknown flag --${unknown}` : positional.length ? `unexpected ${positional[0]}` : '--scan takes 100 to 60000 (ms)'}\n\n${superviseUsage}\n`,
    );
    return 2;
  }
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    // cribd may start after it (a boot): its root is asked for until it answers.
    let root: string | undefined;
    while (root === undefined) {
      root = await runtimeRoot(ctx).catch(() => undefined);
      if (root === undefined) await sleep(2000, stop.signal);
    }
    const lock = await takeLock(root);
    if (!lock.ok) {
      ctx.err.write(`crib supervise: a supervisor already runs for ${root} (pid ${lock.holder})\n`);
      return 1;
    }
    await new Supervisor(
      ctx,
      root,
      { manifestDir: flags.get('manifest-dir') ?? DEFAULT_MANIFEST_DIR, scanMs, exitWhenIdle: flags.has('exit-when-idle') },
      stop.signal,
    ).run();
    return 0;
  } catch (err) {
    if (stop.signal.aborted) return 0;
    ctx.err.write(`crib supervise: ${describeError(err)}\n`);
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

export const superviseCommand: RawCommand = {
  name: 'supervise',
  synopsis: '[--manifest-dir DIR]',
  summary: 'Watch what crib run -d started and a directory of manifests, as kubelet its static pods (see crib supervise --help).',
  outlivesOutput: true,
  raw: supervise,
};
