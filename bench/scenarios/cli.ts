import path from 'node:path';
import { runCapture } from '../../src/util/exec.js';
import { repoRoot } from '../../src/util/paths.js';
import { crictl } from '../crictl.js';
import type { Target } from '../runtimes.js';
import { row, type Outcome } from '../sample.js';
import { percentile, timed } from '../stats.js';
import type { Row } from '../table.js';

/**
 * NODE_EXTRA_CA_CERTS makes every Node process parse that CA bundle as it starts (40% of a bare
 * start on the development machines, which set it); crictl has no such cost. When it is set, crib
 * pods is also timed without it, so both figures are there to read.
 */
const extraCaCerts = process.env['NODE_EXTRA_CA_CERTS'];

async function cribPods(socket: string, withoutExtraCa = false): Promise<void> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k, v]) => v !== undefined && !(withoutExtraCa && k === 'NODE_EXTRA_CA_CERTS'))) as Record<
    string,
    string
  >;
  const res = await runCapture(process.execPath, [path.join(repoRoot, 'bin', 'crib'), '--socket', socket, 'pods'], { timeoutMs: 60_000, env, cleanEnv: true });
  if (res.code !== 0) throw new Error(`crib pods exited ${res.code ?? res.signal}: ${res.stderr.toString().trim().slice(-300)}`);
}

/**
 * 9. CLI latency: the wall time of `crib pods` (Node) beside `crictl pods` (Go), both listing the
 * pods of the same cribd (scenario 2's pods are up), alternating per run. The second column is
 * crictl here, not containerd.
 */
export async function cliScenario(crib: Target, n: number): Promise<Row[]> {
  const times = { crib: [] as number[], cribNoCa: [] as number[], crictl: [] as number[] };
  const errors: { crib?: unknown; cribNoCa?: unknown; crictl?: unknown } = {};
  for (let i = 0; i < n; i++) {
    if (errors.crib === undefined)
      await timed(() => cribPods(crib.socket)).then(
        ([, ms]) => times.crib.push(ms),
        (err: unknown) => (errors.crib = err),
      );
    if (extraCaCerts !== undefined && errors.cribNoCa === undefined)
      await timed(() => cribPods(crib.socket, true)).then(
        ([, ms]) => times.cribNoCa.push(ms),
        (err: unknown) => (errors.cribNoCa = err),
      );
    if (errors.crictl === undefined)
      await timed(() => crictl(crib.socket, ['pods'])).then(
        ([, ms]) => times.crictl.push(ms),
        (err: unknown) => (errors.crictl = err),
      );
  }
  const outcome = (xs: number[], err: unknown): Outcome<number[]> => (err === undefined ? { ok: true, value: xs } : { ok: false, error: err });
  const both = { crib: outcome(times.crib, errors.crib), containerd: outcome(times.crictl, errors.crictl) };
  const noCa = { crib: outcome(times.cribNoCa, errors.cribNoCa), containerd: both.containerd };
  return [
    row(`9. CLI: crib pods p50 (${n} runs)`, 'ms', 'lower', both, (s) => percentile(s, 50), 'crictl pods, on cribd'),
    row(`9. CLI: crib pods p95 (${n} runs)`, 'ms', 'lower', both, (s) => percentile(s, 95), 'crictl pods, on cribd'),
    ...(extraCaCerts === undefined
      ? []
      : [row('9. CLI: crib pods p50, NODE_EXTRA_CA_CERTS unset', 'ms', 'lower', noCa, (s) => percentile(s, 50), 'crictl pods, on cribd')]),
  ];
}
